"""On Linux, a missing system library for Qt's xcb plugin is a message naming the packages,
and Panel Manager exits cleanly instead of letting Qt abort."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from panelmanager.ui import platform_check as pc

LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffc)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibsomething-new.so.3 => not found
"""


def test_ldd_output_gives_the_missing_libraries_once_each():
    assert pc.missing_from_ldd(LDD_OUTPUT) == [
        "libxcb-cursor.so.0",
        "libxcb-icccm.so.4",
        "libxcb-keysyms.so.1",
        "libsomething-new.so.3",
    ]
    assert pc.packages_for(pc.missing_from_ldd(LDD_OUTPUT)) == ["libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1"]


def test_the_message_names_the_debian_packages(monkeypatch):
    monkeypatch.setattr(pc, "xcb_plugin", lambda: "/venv/libqxcb.so")
    monkeypatch.setattr(pc, "missing_libraries", lambda _plugin: pc.missing_from_ldd(LDD_OUTPUT))
    message = pc.platform_problem({"DISPLAY": ":0"}, "linux")
    assert "libxcb-icccm.so.4" in message
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in message


@pytest.mark.parametrize(
    ("env", "platform"),
    [
        ({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, "linux"),
        ({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}, "linux"),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux"),
        ({}, "win32"),
        ({}, "darwin"),
    ],
)
def test_no_check_where_the_xcb_plugin_is_not_used(monkeypatch, env, platform):
    monkeypatch.setattr(pc, "missing_libraries", lambda _plugin: pytest.fail("xcb was checked"))
    assert pc.platform_problem(env, platform) is None


def test_no_display_at_all_is_a_message_not_an_abort():
    assert "no display" in pc.platform_problem({}, "linux")


def test_readme_lists_the_packages_the_message_suggests():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert pc.README_PACKAGES in readme
    for package in ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1"):
        assert package in pc.README_PACKAGES


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xcb is Linux only")
def test_the_gui_exits_cleanly_with_the_message_when_xcb_cannot_load(tmp_path):
    plugin = pc.xcb_plugin()
    if plugin is None or not pc.missing_libraries(plugin):
        pytest.skip("this machine has every library the xcb plugin needs")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=":99", PANELMANAGER_DB=str(tmp_path / "r.sqlite3"))
    result = subprocess.run([sys.executable, "-m", "panelmanager"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1  # not -6 (SIGABRT)
    assert "sudo apt install" in result.stderr and "Traceback" not in result.stderr
