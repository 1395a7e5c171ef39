"""Where the data files in ``resources/`` live, and reading them with clear errors.

Measures, value sets, import profiles, panel weights and letter templates are files a
practice manager can read and edit. ``PANELMANAGER_RESOURCES`` points elsewhere (a
practice's own copy); otherwise the folder beside the package (source checkout or
editable install) or inside a frozen bundle is used.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Any

ENV_VAR = "PANELMANAGER_RESOURCES"


class ResourceError(Exception):
    """A resource file is missing or malformed; the message names the file and the line or key."""


def resources_dir() -> Path:
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override)
    frozen = getattr(sys, "_MEIPASS", None)  # PyInstaller bundle
    if frozen:
        return Path(frozen) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


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
