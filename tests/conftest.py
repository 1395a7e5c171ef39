"""Shared fixtures: a fresh registry per test, and the shared Synthea data when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

if not os.environ.get("QT_QPA_PLATFORM"):
    # No display on CI machines: an unset or empty platform would abort Qt at start.
    os.environ["QT_QPA_PLATFORM"] = "offscreen"

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
SYNTHEA_CSV_SMALL = SHARED_DATA / "synthea-csv-small"
SYNTHEA_FHIR_SMALL = SHARED_DATA / "synthea-fhir-small"


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    return tmp_path / "registry.sqlite3"


# --------------------------------------------------------------------------- two backends
# The core tests run on SQLite and on a real PostgreSQL (a throwaway cluster started from the
# server binaries on the machine, see pg_cluster.py). Other tests use SQLite only.

# PANELMANAGER_TEST_REGISTRY=plain,encrypted,postgresql (the default) chooses which run.
_KIND_TO_BACKEND = {"plain": "sqlite", "encrypted": "sqlite-encrypted", "postgresql": "postgresql"}
BACKENDS = tuple(_KIND_TO_BACKEND[k] for k in os.environ.get("PANELMANAGER_TEST_REGISTRY",
                                                             "plain,encrypted,postgresql").split(",") if k)
KINDS = tuple(k for k in ("plain", "encrypted") if _KIND_TO_BACKEND[k] in BACKENDS) or ("plain",)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    under_core = Path(str(metafunc.definition.fspath)).is_relative_to(PROJECT_ROOT / "tests" / "core")
    if not under_core:
        return
    if "registry_backend" in metafunc.fixturenames:
        if not any(m.name == "sqlite_only" for m in metafunc.definition.iter_markers()):
            metafunc.parametrize("registry_backend", BACKENDS, indirect=True)
    elif "registry_kind" in metafunc.fixturenames:  # a core test that opens its own SQLite files
        metafunc.parametrize("registry_kind", KINDS, indirect=True)


@pytest.fixture
def registry_backend(request: pytest.FixtureRequest) -> str:
    """Which database ``fresh_registry`` is: 'sqlite' unless the test is parametrized."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def registry_kind(request: pytest.FixtureRequest) -> str:
    """"plain", or "encrypted" (SQLCipher) on the sqlite-encrypted backend (or when parametrized)."""
    if hasattr(request, "param"):
        return request.param
    callspec = getattr(request.node, "callspec", None)
    backend = callspec.params.get("registry_backend") if callspec is not None else None
    return "encrypted" if backend == "sqlite-encrypted" else "plain"


@pytest.fixture(scope="session")
def postgres_cluster():
    """One PostgreSQL cluster for the whole run; None (tests skip) when no server binaries exist."""
    from pg_cluster import find_server_binaries, prepare_template, start_cluster

    bindir = find_server_binaries()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("CI must test PostgreSQL, but no server binaries (initdb, pg_ctl) were found")
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    cluster = start_cluster(bindir)
    try:
        prepare_template(cluster)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def registry_url(registry_backend: str, registry_path: Path, request: pytest.FixtureRequest):
    """Where ``fresh_registry`` lives: a SQLite file, or a new database cloned from the migrated template."""
    if registry_backend.startswith("sqlite"):
        yield str(registry_path)
        return
    cluster = request.getfixturevalue("postgres_cluster")
    name = cluster.create_database()
    yield cluster.url(name)
    cluster.drop_database(name)


@pytest.fixture
def fresh_registry(registry_url: str, registry_kind: str, registry_path: Path):
    """An empty, migrated registry: a temporary SQLite file (encrypted on the sqlite-encrypted
    backend), or a fresh PostgreSQL database."""
    from panelmanager.core import encryption
    from panelmanager.core.db import open_registry

    if registry_kind == "encrypted":
        encryption.register_key(registry_path, encryption.new_random_key())
    registry = open_registry(registry_url, create=True)
    yield registry
    registry.close()
    encryption.forget_key(registry_path)


@pytest.fixture
def synthea_small() -> Path:
    if not (SYNTHEA_CSV_SMALL / "patients.csv").exists():
        pytest.skip(f"shared Synthea data not found at {SYNTHEA_CSV_SMALL}")
    return SYNTHEA_CSV_SMALL


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Never touch the user's real registry or settings from a test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PANELMANAGER_DB", str(home / "default-registry.sqlite3"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))


# A tiny clinic (tests/clinic.py) in fresh_registry, shared by several test folders.


@pytest.fixture
def clinic_ids(fresh_registry) -> dict[str, int]:
    """The tiny clinic in ``fresh_registry``: provider and patient ids by first name."""
    with fresh_registry.session() as session:
        from clinic import build_clinic

        return build_clinic(session)
