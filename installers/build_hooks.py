"""setuptools hooks (named in pyproject.toml) that put ``resources/`` inside the package.

Practices read and edit the top-level ``resources/`` folder, so it stays where it is in
the repository. A wheel must carry it, though: ``build_py`` copies it to
``panelmanager/resources`` in the build tree (the README screenshots stay out), and
``sdist`` adds it and this file to the source archive so a wheel built from the sdist has
it too. An editable install needs no copy: the package finds the checkout's folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools.command.build_py import build_py as _build_py
from setuptools.command.sdist import sdist as _sdist

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "resources"
TARGET = ("panelmanager", "resources")
LEFT_OUT = {"screenshots"}  # README pictures, not application data


def resource_files() -> list[Path]:
    """Every file of ``resources/`` that ships, relative to it (screenshots left out)."""
    if not SOURCE.is_dir():
        raise SystemExit(f"{SOURCE}: the resources folder is missing; it must ship inside the package.")
    files = [
        path.relative_to(SOURCE)
        for path in sorted(SOURCE.rglob("*"))
        if path.is_file() and path.relative_to(SOURCE).parts[0] not in LEFT_OUT and "__pycache__" not in path.parts
    ]
    if not files:
        raise SystemExit(f"{SOURCE}: the resources folder is empty; it must ship inside the package.")
    return files


class build_py(_build_py):  # noqa: N801 - setuptools command name
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib).joinpath(*TARGET)
        if target.exists():
            shutil.rmtree(target)
        for relative in resource_files():
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SOURCE / relative, destination)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            target = Path(self.build_lib).joinpath(*TARGET)
            outputs += [str(target / relative) for relative in resource_files()]
        return outputs


class sdist(_sdist):  # noqa: N801 - setuptools command name
    def make_distribution(self) -> None:
        extra = [f"resources/{relative.as_posix()}" for relative in resource_files()]
        extra.append("installers/build_hooks.py")
        self.filelist.extend(name for name in extra if name not in self.filelist.files)
        super().make_distribution()
