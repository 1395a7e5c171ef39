"""Shared fixtures: a fresh registry per test, and the shared Synthea data when present."""

from __future__ import annotations

import datetime as dt
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


# --------------------------------------------------------------------------- a tiny clinic
# One front-desk day (Monday 2024-03-04) built on purpose, shared by the schedule, patient
# view, check-in and Patients screen tests: each patient's assignment status is known.

CLINIC_DAY = dt.date(2024, 3, 4)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


def _build_clinic(session) -> dict[str, int]:
    """Dr. Lee and Dr. Park (family practice), a cardiologist, and patients whose status is known."""
    from panelmanager.core import models as m
    from panelmanager.core.empanelment import confirm_assignment, reassign_patient

    ids: dict[str, int] = {}
    for key, name, specialty in (("lee", "Dr. Ann Lee", "FAMILY PRACTICE"), ("park", "Dr. Bo Park", "FAMILY PRACTICE"),
                                 ("heart", "Dr. Cy Heart", "CARDIOLOGY")):
        provider = m.Provider(source="pm", external_id=key.upper(), display_name=name, specialty=specialty)
        session.add(provider)
        session.flush()
        ids[key] = provider.id
    people = (
        ("alice", "P1", "Alice", "Smith", dt.date(1950, 2, 1), "F", "active"),
        ("bob", "P2", "Bob", "Jones", dt.date(1980, 5, 5), "M", "active"),
        ("carol", "P3", "Carol", "Brown", dt.date(1990, 7, 7), "F", "active"),
        ("dan", "P4", "Dan", "Garcia", dt.date(1960, 1, 1), "M", "active"),
        ("eve", "P5", "Eve", "Smithers", dt.date(1945, 3, 3), "F", "active"),
        ("fay", "P6", "Fay", "Smith", dt.date(1970, 8, 8), "F", "inactive"),
    )
    for key, mrn, first, last, dob, sex, status in people:
        patient = m.Patient(mrn=mrn, first_name=first, last_name=last, dob=dob, sex=sex, status=status, source="pm")
        session.add(patient)
        session.flush()
        ids[key] = patient.id
    for n, (patient, provider, when, status) in enumerate(
        (
            ("alice", "lee", _at(CLINIC_DAY, 9), "scheduled"),
            ("bob", "lee", _at(CLINIC_DAY, 9, 20), "scheduled"),
            ("carol", "park", _at(CLINIC_DAY, 9, 40), "scheduled"),
            ("dan", "park", _at(CLINIC_DAY, 10), "scheduled"),
            ("eve", "park", _at(CLINIC_DAY, 10, 20), "cancelled"),
            ("bob", "park", _at(CLINIC_DAY + dt.timedelta(days=1), 8), "scheduled"),
            ("alice", "lee", _at(CLINIC_DAY - dt.timedelta(days=200), 11), "completed"),
        ),
        start=1,
    ):
        session.add(m.Visit(patient_id=ids[patient], provider_id=ids[provider], source="pm", external_id=f"v{n}",
                            start=when, visit_class="ambulatory", visit_type="Follow-up", status=status))
    session.add(m.Immunization(patient_id=ids["eve"], source="pm", natural_key=1, date=_at(dt.date(2020, 1, 15), 10),
                               cvx="33", description="pneumococcal polysaccharide vaccine"))
    session.flush()
    for patient, provider in (("alice", "lee"), ("bob", "lee"), ("dan", "lee"), ("eve", "park")):
        reassign_patient(session, ids[patient], ids[provider], reason="Set up for the test", user="tester", as_of=CLINIC_DAY)
    confirm_assignment(session, ids["bob"], by="patient", method="scheduling", user="tester", as_of=dt.date(2024, 1, 2))
    return ids


@pytest.fixture
def clinic_ids(fresh_registry) -> dict[str, int]:
    """The tiny clinic in ``fresh_registry``: provider and patient ids by first name."""
    with fresh_registry.session() as session:
        return _build_clinic(session)
