"""Before Qt starts on Linux: can its X11 (xcb) platform plugin load?

When a system library the xcb plugin needs is missing, Qt prints a message that names the
wrong library and aborts the process (signal 6). A fresh Debian or Ubuntu lacks
libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1 and friends. This module looks at the
plugin's dependencies with ``ldd`` (or, without ``ldd``, asks the dynamic loader about the
usual suspects) before any Qt GUI library is loaded, so Panel Manager can say which
packages to install and exit cleanly. It imports no Qt GUI module itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

# Library file name -> the Debian/Ubuntu package that provides it.
DEBIAN_PACKAGES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libGLX.so.0": "libglx0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}

# What the README's set-up line installs: everything Qt 6's xcb plugin needs.
README_PACKAGES = (
    "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 "
    "libxcb-xkb1 libxcb-randr0 libxcb-shape0 libxcb-xfixes0 libxkbcommon-x11-0 libegl1 "
    "libfontconfig1 libdbus-1-3"
)

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.M)


def missing_from_ldd(output: str) -> list[str]:
    """The library names ``ldd`` reports as ``not found``, in order, without repeats."""
    missing: list[str] = []
    for name in _NOT_FOUND.findall(output):
        if name not in missing:
            missing.append(name)
    return missing


def packages_for(libraries: list[str]) -> list[str]:
    packages: list[str] = []
    for library in libraries:
        package = DEBIAN_PACKAGES.get(library)
        if package and package not in packages:
            packages.append(package)
    return packages


def xcb_plugin() -> Path | None:
    """The xcb platform plugin shipped with PySide6 (in a venv or a PyInstaller bundle)."""
    # Found, not imported: importing PySide6 installs its import hook, which then reads the source
    # of every module the app imports after it (ui.app imports SQLAlchemy first for that reason).
    from importlib.util import find_spec

    try:
        spec = find_spec("PySide6")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None
    roots = [Path(location).resolve() for location in spec.submodule_search_locations]
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        roots.append(Path(frozen) / "PySide6")
    for root in roots:
        for candidate in (root / "Qt" / "plugins" / "platforms" / "libqxcb.so", root / "plugins" / "platforms" / "libqxcb.so"):
            if candidate.is_file():
                return candidate
    return None


def missing_libraries(plugin: Path) -> list[str]:
    """Libraries the plugin needs that the dynamic loader cannot find."""
    try:
        result = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return _missing_by_loader()
    return missing_from_ldd(result.stdout + result.stderr)


def _missing_by_loader() -> list[str]:
    import ctypes

    missing = []
    for library in ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0", "libEGL.so.1"):
        try:
            ctypes.CDLL(library)
        except OSError:
            missing.append(library)
    return missing


def platform_problem(env: Mapping[str, str] | None = None, platform: str | None = None) -> str | None:
    """A message for the user when Qt's window system cannot start here; None when it can."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return None
    requested = env.get("QT_QPA_PLATFORM", "").split(":", 1)[0].strip()
    if requested and requested != "xcb":
        return None  # offscreen, wayland, vnc...: not the xcb plugin
    if not requested and env.get("WAYLAND_DISPLAY") and not env.get("DISPLAY"):
        return None  # a Wayland session without X11: Qt uses its wayland plugin
    if not env.get("DISPLAY"):
        return (
            "Panel Manager cannot open its window: no display was found (DISPLAY is not set). "
            "Start it from a desktop session, or use the command-line commands (panelmanager --help)."
        )
    plugin = xcb_plugin()
    if plugin is None:
        return None  # let Qt report it
    missing = missing_libraries(plugin)
    if not missing:
        return None
    packages = packages_for(missing)
    lines = [
        "Panel Manager cannot open its window: Qt's X11 (xcb) platform plugin needs system libraries "
        f"that are not installed: {', '.join(missing)}.",
    ]
    if packages:
        lines.append(f"On Debian or Ubuntu install them with:\n    sudo apt install {' '.join(packages)}")
    lines.append(f"(The full list Qt's xcb plugin uses: sudo apt install {README_PACKAGES})")
    return "\n".join(lines)


def exit_unless_qt_can_start() -> None:
    """Print what to install and exit with status 1 when the platform plugin cannot load."""
    message = platform_problem()
    if message:
        print(message, file=sys.stderr)
        raise SystemExit(1)
