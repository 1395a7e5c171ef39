"""Installable for real: one version, declared dependencies, a LICENSE and CHANGELOG that
match, resources inside the wheel (not the screenshots), a fast --help, and installer
scripts that name only files the build produces."""

from __future__ import annotations

import ast
import configparser
import importlib.metadata as md
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]
SPEC = (ROOT / "installers" / "panelmanager.spec").read_text(encoding="utf-8")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- hygiene


def test_the_program_reports_the_version_written_in_pyproject():
    import panelmanager

    assert panelmanager.__version__ == VERSION == md.version("panelmanager")


def test_the_version_is_written_nowhere_else():
    for path in [*ROOT.joinpath("panelmanager").rglob("*.py"), *ROOT.joinpath("installers").iterdir()]:
        if path.is_file() and path.suffix in {".py", ".iss", ".spec", ".sh", ".ps1", ".desktop"}:
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"""__version__\s*=\s*["']\d""", text), path
            assert not re.search(r"AppVersion=\d", text), path


def test_changelog_starts_with_this_release():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    first = re.search(r"^## (.+)$", text, flags=re.M)
    assert first and first.group(1).split()[0] == VERSION


def test_license_matches_the_license_field():
    field = PYPROJECT["project"]["license"]["text"]
    assert field.lower() in (ROOT / "LICENSE").read_text(encoding="utf-8").lower()


def _third_party_imports() -> set[str]:
    names: set[str] = set()
    for path in ROOT.joinpath("panelmanager").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in {"panelmanager", "__future__"}}


def test_every_imported_package_is_a_declared_dependency():
    declared = {_normalise(re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0]) for req in PYPROJECT["project"]["dependencies"]}
    providers = md.packages_distributions()
    for module in sorted(_third_party_imports()):
        distributions = {_normalise(d) for d in providers.get(module, [])}
        assert distributions, f"{module} is imported but not installed"
        assert distributions & declared, f"{module} (from {sorted(distributions)}) is imported but not declared in pyproject.toml"


def _modules_loaded_by(*argv: str) -> set[str]:
    code = (
        "import sys, contextlib, io\n"
        "from panelmanager.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        main({list(argv)!r})\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_load_no_heavy_libraries(flag):
    loaded = _modules_loaded_by(flag)
    assert not loaded & {"pandas", "numpy", "sqlalchemy", "alembic", "PySide6", "reportlab", "openpyxl"}


def test_version_prints_the_installed_version():
    result = subprocess.run([sys.executable, "-m", "panelmanager", "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"panelmanager {VERSION}"


# --------------------------------------------------------------------------- resources


def test_a_missing_or_empty_resources_folder_is_an_error_naming_it(tmp_path, monkeypatch):
    from panelmanager.core import resources

    monkeypatch.setenv(resources.ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(resources.ResourceError, match="nowhere"):
        resources.resources_dir()
    (tmp_path / "empty" / "measures").mkdir(parents=True)
    monkeypatch.setenv(resources.ENV_VAR, str(tmp_path / "empty"))
    with pytest.raises(resources.ResourceError, match="empty"):
        resources.resources_dir()


def test_a_broken_install_is_an_error_not_an_empty_list(tmp_path, monkeypatch):
    from panelmanager.cli import main
    from panelmanager.core import resources

    monkeypatch.delenv(resources.ENV_VAR, raising=False)
    monkeypatch.setattr(resources, "_candidates", lambda: [tmp_path / "site-packages" / "panelmanager" / "resources"])
    resources._installed_dir.cache_clear()
    try:
        with pytest.raises(resources.ResourceError, match="resources folder is missing or empty.*site-packages"):
            resources.resources_dir()
        assert main(["measures"]) == 1
    finally:
        resources._installed_dir.cache_clear()


def test_a_practice_override_folder_is_used(tmp_path, monkeypatch):
    import shutil

    from panelmanager.core import resources

    shutil.copytree(resources.resources_dir() / "measures", tmp_path / "mine" / "measures")
    monkeypatch.setenv(resources.ENV_VAR, str(tmp_path / "mine"))
    assert resources.resource_path("measures") == tmp_path / "mine" / "measures"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, text=True, timeout=600,
    )
    (path,) = out.glob("panelmanager-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_carries_the_resources_but_not_the_screenshots(wheel):
    names = set(wheel.namelist())
    shipped = {n.removeprefix("panelmanager/resources/") for n in names if n.startswith("panelmanager/resources/")}
    expected = {
        p.relative_to(ROOT / "resources").as_posix()
        for p in (ROOT / "resources").rglob("*")
        if p.is_file() and p.relative_to(ROOT / "resources").parts[0] != "screenshots"
    }
    assert shipped == expected
    assert len([n for n in shipped if n.startswith("measures/")]) == 13
    assert not any("screenshots" in n or n.startswith(("installers/", "tests/", "resources/")) for n in names)
    assert "panelmanager/core/migrations/alembic.ini" in names
    assert any(n.startswith("panelmanager/core/migrations/versions/0001") for n in names)
    metadata = wheel.read(f"panelmanager-{VERSION}.dist-info/METADATA").decode()
    assert f"Version: {VERSION}" in metadata and "Requires-Dist: numpy" in metadata


# --------------------------------------------------------------------------- installers


def _spec_names() -> tuple[set[str], str]:
    exes = set(re.findall(r"EXE\([^)]*name=\"([^\"]+)\"", SPEC))
    (collect,) = re.findall(r"COLLECT\([^)]*name=\"([^\"]+)\"", SPEC)
    return exes, collect


def test_the_spec_builds_a_windowed_app_and_a_console_command_in_one_folder():
    exes, collect = _spec_names()
    assert exes == {"PanelManager", "panelmanager-cli"}
    assert re.search(r'name="PanelManager", console=False', SPEC)
    assert re.search(r'name="panelmanager-cli", console=True', SPEC)
    assert collect == "PanelManager"
    for excluded in ("QtQuick", "QtQml", "QtWebEngineCore", "QtWebEngineWidgets"):
        assert f" {excluded} " in SPEC or f'"{excluded} ' in SPEC or f" {excluded}\"" in SPEC
    assert 'LEFT_OUT = {"screenshots"}' in SPEC


def _iss() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = ""
    for line in (ROOT / "installers" / "panelmanager.iss").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith((";", "#")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            continue
        sections.setdefault(current, []).append(line)
    return sections


def _iss_field(line: str, key: str) -> str | None:
    match = re.search(rf'(?:^|;\s*){key}:\s*"((?:[^"]|"")*)"', line)
    return match.group(1).replace('""', '"') if match else None


def test_the_inno_setup_script_uses_only_files_the_build_produces():
    exes, collect = _spec_names()
    produced = {f"{name}.exe" for name in exes} | {"_internal\\*"}
    sections = _iss()
    sources = [_iss_field(line, "Source") for line in sections["Files"]]
    assert sources and all(sources)
    for source in sources:
        prefix = f"..\\dist\\{collect}\\"
        assert source.startswith(prefix), source
        assert source.removeprefix(prefix) in produced, source
    installed = {s.removeprefix(f"..\\dist\\{collect}\\") for s in sources}
    shortcuts = [_iss_field(line, "Filename") for line in sections["Icons"]]
    assert "{app}\\PanelManager.exe" in shortcuts
    for target in shortcuts:
        if target.startswith("{app}\\"):
            assert target.removeprefix("{app}\\") in installed, target
    names = [_iss_field(line, "Name") for line in sections["Icons"]]
    assert "{group}\\Panel Manager" in names  # a Start-menu entry for the app
    setup = dict(line.split("=", 1) for line in sections["Setup"])
    icon = setup["SetupIconFile"].replace("\\", "/")
    assert (ROOT / "installers" / icon).resolve().is_file()
    assert setup["AppVersion"] == "{#AppVersion}" and setup["AppId"].startswith("{{")
    assert "{app}" not in " ".join(sections.get("UninstallDelete", []))


def test_the_linux_desktop_entry_points_at_the_bundle():
    exes, collect = _spec_names()
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(ROOT / "installers" / "panelmanager.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    exec_path = Path(desktop["Exec"].split()[0])
    assert exec_path.parent.name == collect and exec_path.name in exes and exec_path.name == "PanelManager"
    icon = Path(desktop["Icon"])
    assert icon.parts[-4:] == ("panelmanager", "resources", "icons", "panelmanager.png")
    assert (ROOT / "resources" / "icons" / "panelmanager.png").is_file()


BUNDLE = ROOT / "dist" / "PanelManager"


@pytest.mark.skipif(not BUNDLE.is_dir(), reason="no bundle built (installers/build.sh)")
def test_a_built_bundle_has_both_programs_the_resources_and_no_qml_webengine_or_screenshots():
    exes, _collect = _spec_names()
    suffix = ".exe" if sys.platform == "win32" else ""
    for name in exes:
        assert (BUNDLE / f"{name}{suffix}").is_file()
    files = [p.relative_to(BUNDLE).as_posix() for p in BUNDLE.rglob("*") if p.is_file()]
    assert len([f for f in files if "/panelmanager/resources/measures/" in f]) == 13
    assert not [f for f in files if "screenshots" in f]
    assert not [f for f in files if re.search(r"Qt6?(Quick|Qml|WebEngine)|QtQuick|QtQml|QtWebEngine", f)]
