"""Where the data files in ``resources/`` live, and reading them with clear errors.

Measures, value sets, import profiles, panel weights and letter templates are files a
practice manager can read and edit. They are found, in this order:

1. ``PANELMANAGER_RESOURCES``: a practice's own copy of the folder (an override);
2. ``panelmanager/resources`` inside the installed package, found through
   ``importlib.resources`` (the wheel and the desktop bundle: the top-level ``resources/``
   folder is copied there at build time, see ``installers/build_hooks.py``);
3. the top-level ``resources/`` folder of a source checkout (editable install, tests).

A folder that is missing or holds no files is a ``ResourceError`` naming the folder, so a
broken install never reads as "no measures" or an empty gap list.
"""

from __future__ import annotations

import os
import sys
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

ENV_VAR = "PANELMANAGER_RESOURCES"


class ResourceError(Exception):
    """A resource file is missing or malformed; the message names the file and the line or key."""


def resources_dir() -> Path:
    """The resources folder in use; a missing or empty one is a ``ResourceError`` naming it."""
    override = os.environ.get(ENV_VAR)
    if override:
        return _checked(Path(override).expanduser(), f"the folder named by {ENV_VAR}")
    return _installed_dir()


@lru_cache(maxsize=1)
def _installed_dir() -> Path:
    candidates = _candidates()
    for candidate in candidates:
        if _has_files(candidate):
            return candidate
    tried = ", ".join(str(path) for path in candidates) or "(none)"
    raise ResourceError(
        f"The Panel Manager resources folder is missing or empty (looked in: {tried}). "
        f"Reinstall Panel Manager, or set {ENV_VAR} to a copy of its resources folder."
    )


def _candidates() -> list[Path]:
    found: list[Path] = []
    try:
        from importlib.resources import files

        packaged = files("panelmanager") / "resources"
        found.append(Path(str(packaged)))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - unusual loaders
        pass
    frozen = getattr(sys, "_MEIPASS", None)  # PyInstaller bundle
    if frozen:
        found += [Path(frozen) / "panelmanager" / "resources", Path(frozen) / "resources"]
    found.append(Path(__file__).resolve().parents[2] / "resources")  # source checkout
    unique: list[Path] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def _has_files(folder: Path) -> bool:
    try:
        return folder.is_dir() and any(child.is_file() for child in folder.rglob("*.toml"))
    except OSError:
        return False


def _checked(folder: Path, what: str) -> Path:
    if not folder.is_dir():
        raise ResourceError(f"{folder}: {what} does not exist. Create it or unset {ENV_VAR}.")
    if not _has_files(folder):
        raise ResourceError(
            f"{folder}: {what} holds no resource files (measures/*.toml, valuesets/*.toml...). "
            f"Copy Panel Manager's resources folder there or unset {ENV_VAR}."
        )
    return folder


def resource_path(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def load_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML resource; a syntax error names the file and line."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ResourceError(f"{path}: file not found.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ResourceError(f"{path}: {exc}") from None
