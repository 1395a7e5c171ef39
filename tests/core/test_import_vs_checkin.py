"""A long import on one workstation and a check-in confirm on another (issue 13).

On PostgreSQL (MVCC, row locks) a confirm goes through at once while an import is in the
middle of writing: the import touches no row the confirm needs until its last statement
(the change counter). The test holds the import open mid-write (its progress callback
waits) and times a confirm from a second connection. SQLite has one writer at a time: an
import there reads, decides and stages its rows without the write lock and holds it only
to apply them (importers.staging); tests/benchmarks/bench_concurrency.py measures it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import func, select

from panelmanager.core import models as m
from panelmanager.core.concurrency import run_write
from panelmanager.core.db import open_registry
from panelmanager.core.demo import generate_practice, write_pm_csvs
from panelmanager.core.empanelment import confirm_assignment, reassign_patient
from panelmanager.core.importers import run_import


def test_check_in_is_not_blocked_by_an_import_in_progress_on_postgresql(fresh_registry, registry_backend, tmp_path):
    if registry_backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: measured by bench_concurrency, not asserted")
    registry = fresh_registry
    with registry.session() as session:
        provider = m.Provider(source="pm", external_id="DESK", display_name="Dr. Desk", specialty="FAMILY PRACTICE")
        patient = m.Patient(mrn="DESK-1", first_name="Ann", last_name="Desk", dob=dt.date(1970, 1, 1), sex="F",
                            status="active", source="pm")
        session.add_all([provider, patient])
        session.flush()
        provider_id, patient_id = provider.id, patient.id
    run_write(registry, reassign_patient, patient_id, provider_id, reason="set up", user="test")
    files = [str(p) for p in write_pm_csvs(generate_practice(200, seed=4, as_of=dt.date(2025, 3, 12)), tmp_path / "pm")]

    writing, release = threading.Event(), threading.Event()

    def hold_mid_write(_done: int, _total: int, message: str = "") -> None:
        if message.endswith(": Written") and not writing.is_set():
            writing.set()  # the patients file's rows are all written, its transaction not yet committed
            release.wait(30)

    outcome: list = []
    importer = threading.Thread(target=lambda: outcome.extend(
        run_import(registry, files, write_rejects=False, user="import", progress=hold_mid_write)))
    importer.start()
    try:
        assert writing.wait(60), "the import never reported progress while writing"
        desk = open_registry(registry.url)  # the front desk's workstation
        try:
            start = time.perf_counter()
            run_write(desk, confirm_assignment, patient_id, by="patient", user="desk", expected_version=1)
            latency = time.perf_counter() - start
        finally:
            desk.close()
        assert importer.is_alive()  # the import was still open while the desk confirmed
    finally:
        release.set()
        importer.join(120)
    assert latency < 2.0, f"a confirm waited {latency:.1f} s for an import"
    assert outcome and all(o.ok for o in outcome)
    with registry.session() as session:
        assert session.scalar(select(func.count()).select_from(m.Confirmation).where(m.Confirmation.patient_id == patient_id)) == 1
        assert session.scalar(select(func.count()).select_from(m.Patient)) > 200


def test_a_check_in_during_an_sqlite_import_never_makes_the_import_fail(fresh_registry, registry_backend, tmp_path, monkeypatch):
    """SQLite: a confirm committed by another workstation after the import has read the
    registry but before it writes goes through at once (the import plans without the write
    lock, importers.staging), and the import still commits everything: the confirm touched
    nothing the import decided on, so its plan stands."""
    if registry_backend == "postgresql":
        pytest.skip("PostgreSQL writes concurrently: the test above")
    from panelmanager.core.concurrency import begin_write
    from panelmanager.core.importers import staging

    registry = fresh_registry
    files = [str(p) for p in write_pm_csvs(generate_practice(200, seed=4, as_of=dt.date(2025, 3, 12)), tmp_path / "pm")]
    desk_results: list[str] = []

    def desk_writes() -> None:  # another workstation's short write (a confirm bumps the change counter)
        desk = open_registry(registry.url)
        try:
            with desk.write_session() as session:
                begin_write(session)
            desk_results.append("written")
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            desk_results.append(type(exc).__name__)
        finally:
            desk.close()

    real_insert = staging.Stage.insert
    desk = threading.Thread(target=desk_writes)

    def insert_after_a_desk_write(self, conn, table, frame):
        if not desk.is_alive() and not desk_results:  # the import has read the registry, not written yet
            desk.start()
            desk.join(3)  # the desk's write goes first if it can
        return real_insert(self, conn, table, frame)

    monkeypatch.setattr(staging.Stage, "insert", insert_after_a_desk_write)
    outcomes = run_import(registry, files, write_rejects=False, user="import")
    desk.join(60)
    assert outcomes and all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    assert desk_results == ["written"]  # the desk's write went through too
    with registry.session() as session:
        assert session.scalar(select(func.count()).select_from(m.Patient)) >= 200


def _desk_patient(registry) -> int:
    with registry.session() as session:
        provider = m.Provider(source="pm", external_id="DESK", display_name="Dr. Desk", specialty="FAMILY PRACTICE")
        patient = m.Patient(mrn="DESK-1", first_name="Ann", last_name="Desk", dob=dt.date(1970, 1, 1), sex="F",
                            status="active", source="pm")
        session.add_all([provider, patient])
        session.flush()
        provider_id, patient_id = provider.id, patient.id
    run_write(registry, reassign_patient, patient_id, provider_id, reason="set up", user="test")
    return patient_id


def test_check_in_commits_at_once_while_an_sqlite_import_parses_and_stages(fresh_registry, registry_backend, tmp_path):
    """Issue 13: a long import on one workstation does not block check-in on another. The
    import is slowed while it reads and stages its rows; a confirm issued meanwhile commits
    at once, and the import still ends with everything written, once."""
    if registry_backend == "postgresql":
        pytest.skip("PostgreSQL: test_check_in_is_not_blocked_by_an_import_in_progress_on_postgresql")
    registry = fresh_registry
    patient_id = _desk_patient(registry)
    files = [str(p) for p in write_pm_csvs(generate_practice(200, seed=4, as_of=dt.date(2025, 3, 12)), tmp_path / "pm")]
    staging, release = threading.Event(), threading.Event()

    def slow_staging(_done: int, _total: int, message: str = "") -> None:
        if "Writing patients" in message and not staging.is_set():  # read, not yet decided: slowed down here
            staging.set()
            release.wait(30)

    outcome: list = []

    def import_elsewhere() -> None:  # the importing workstation (its own connections, made in its thread)
        workstation = open_registry(registry.url)
        try:
            outcome.extend(run_import(workstation, files, write_rejects=False, user="import", progress=slow_staging))
        finally:
            workstation.close()

    importer = threading.Thread(target=import_elsewhere)
    importer.start()
    try:
        assert staging.wait(60), "the import never reached its planning phase"
        desk = open_registry(registry.url)  # the front desk's workstation
        try:
            start = time.perf_counter()
            run_write(desk, confirm_assignment, patient_id, by="patient", user="desk", expected_version=1)
            latency = time.perf_counter() - start
        finally:
            desk.close()
        assert importer.is_alive()  # the import was still planning while the desk confirmed
    finally:
        release.set()
        importer.join(120)
    assert latency < 1.0, f"a confirm waited {latency:.1f} s for an import that was only reading"
    assert outcome and all(o.ok for o in outcome), [o.error for o in outcome]
    with registry.session() as session:
        assert session.scalar(select(func.count()).select_from(m.Confirmation).where(m.Confirmation.patient_id == patient_id)) == 1
        patients = session.scalar(select(func.count()).select_from(m.Patient))
        appointments = session.scalar(select(func.count()).select_from(m.Visit))
    assert patients == 201 and appointments > 0
    # Imported once: a forced re-import finds every row unchanged.
    again = run_import(registry, files, write_rejects=False, user="import", force=True)
    assert all(o.ok and o.new == 0 and o.updated == 0 for o in again), [(o.new, o.updated) for o in again]


def test_an_sqlite_import_redoes_its_plan_when_what_it_decided_on_changed(fresh_registry, registry_backend, tmp_path,
                                                                          monkeypatch):
    """A patient edited by another workstation while the import planned (here: marked
    inactive, which an export listing them as active must not undo) makes the import
    decide again under the write lock: the edit is respected, nothing is written twice."""
    if registry_backend == "postgresql":
        pytest.skip("the staged plan is SQLite's")
    from sqlalchemy import update

    from panelmanager.core.importers import staging

    registry = fresh_registry
    practice = generate_practice(200, seed=4, as_of=dt.date(2025, 3, 12))
    files = [str(p) for p in write_pm_csvs(practice, tmp_path / "pm")]
    [first, *_] = run_import(registry, files, write_rejects=False, user="import")
    assert first.ok
    with registry.session() as session:
        before = session.scalar(select(func.count()).select_from(m.Patient))
        target = session.scalar(select(m.Patient.id).where(m.Patient.status == "active").order_by(m.Patient.id).limit(1))
        # Its stored hash no longer matches the export: the plan updates this patient.
        session.execute(update(m.Patient).where(m.Patient.id == target).values(row_hash=None))
    edited: list[bool] = []
    checks: list[bool] = []
    real_check = staging.Stage.still_valid
    monkeypatch.setattr(staging.Stage, "still_valid", lambda self: checks.append(real_check(self)) or checks[-1])

    def edit_while_planning(_done: int, _total: int, message: str = "") -> None:
        if "Writing patients" in message and not edited:
            desk = open_registry(registry.url)
            try:
                with desk.write_session() as session:
                    session.execute(update(m.Patient).where(m.Patient.id == target).values(status="inactive"))
            finally:
                desk.close()
            edited.append(True)

    outcomes = run_import(registry, files, write_rejects=False, user="import", progress=edit_while_planning, force=True)
    assert edited and all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert checks[0] is False  # the patients file's plan was dropped and decided again under the lock
    assert outcomes[0].updated == 1
    with registry.session() as session:
        # Without the redo the plan (made while the patient was active) would have set them active again.
        assert session.scalar(select(m.Patient.status).where(m.Patient.id == target)) == "inactive"
        assert session.scalar(select(m.Patient.row_hash).where(m.Patient.id == target)) is not None
        assert session.scalar(select(func.count()).select_from(m.Patient)) == before


def test_an_mrn_taken_while_an_sqlite_import_planned_is_decided_again_under_the_lock(fresh_registry, registry_backend,
                                                                                    synthea_small):
    """Another workstation gives a registry patient the MRN of a patient the import plans to add:
    the planned insert would break the unique MRN, so the apply is undone and the file decided
    again under the lock, which rejects that one row (another person holds the MRN) and keeps the rest."""
    if registry_backend == "postgresql":
        pytest.skip("the staged plan is SQLite's")
    from sqlalchemy import update

    maynard = "3edac2e3-d223-6fae-d515-daf96ef6bc76"  # a patient of the small Synthea export (MRN = its id)
    registry = fresh_registry
    with registry.session() as session:
        other = m.Patient(mrn="HAND-1", first_name="Zed", last_name="Other", dob=dt.date(1901, 1, 1), sex="M",
                          status="active", source="pm")
        session.add(other)
        session.flush()
        other_id = other.id
    edited: list[bool] = []

    def take_the_mrn(_done: int, _total: int, message: str = "") -> None:
        if "Writing visits" in message and not edited:  # the patients are planned, not applied
            desk = open_registry(registry.url)
            try:
                with desk.write_session() as session:
                    session.execute(update(m.Patient).where(m.Patient.id == other_id).values(mrn=maynard))
            finally:
                desk.close()
            edited.append(True)

    [outcome] = run_import(registry, [synthea_small], write_rejects=False, user="import", progress=take_the_mrn)
    assert edited and outcome.ok, outcome.error
    assert outcome.rows_rejected >= 1 and any("already belongs to another patient" in r.reason for r in outcome.rejections)
    with registry.session() as session:
        assert session.scalar(select(func.count()).select_from(m.Patient)) == 27  # 26 imported + the other one
        assert session.scalar(select(m.Patient.mrn).where(m.Patient.id == other_id)) == maynard


def test_check_in_goes_through_while_an_sqlite_import_builds_its_indexes(fresh_registry, registry_backend, tmp_path,
                                                                         monkeypatch):
    """A first import's plain indexes are built after its commit, each in its own short
    transaction: the import is held between two of them, and a confirm from another
    workstation commits meanwhile (were the lock still held it would end "registry busy").
    The import ends with its rows and every index of the schema."""
    if registry_backend == "postgresql":
        pytest.skip("SQLite's one writer; PostgreSQL builds nothing after its commit")
    from panelmanager.core import db
    from panelmanager.core.importers.staging import missing_indexes

    monkeypatch.setattr(db, "DEFER_INDEXES_MIN_ROWS", 1)  # every insert rebuilds its plain indexes (as at 100,000)
    registry = fresh_registry
    patient_id = _desk_patient(registry)
    files = [str(p) for p in write_pm_csvs(generate_practice(200, seed=4, as_of=dt.date(2025, 3, 12)), tmp_path / "pm")]
    indexing, release = threading.Event(), threading.Event()
    seen: list[list] = []

    def hold_between_indexes(_done: int, _total: int, message: str = "") -> None:
        if "Indexing visits" in message and not indexing.is_set():
            other = open_registry(registry.url)  # what another workstation sees at this moment
            try:
                with other.engine.connect() as conn:
                    visits = conn.execute(select(func.count()).select_from(m.Visit)).scalar()
                    seen.append([missing_indexes(conn), visits])
            finally:
                other.close()
            indexing.set()
            release.wait(30)

    outcome: list = []

    def import_elsewhere() -> None:
        workstation = open_registry(registry.url)
        try:
            outcome.extend(run_import(workstation, files, write_rejects=False, user="import",
                                      progress=hold_between_indexes))
        finally:
            workstation.close()

    importer = threading.Thread(target=import_elsewhere)
    importer.start()
    try:
        assert indexing.wait(60), "the import never built an index after its commit"
        desk = open_registry(registry.url)
        try:
            run_write(desk, confirm_assignment, patient_id, by="patient", user="desk", expected_version=1)
        finally:
            desk.close()
        assert importer.is_alive()  # the import was between two index builds while the desk confirmed
    finally:
        release.set()
        importer.join(120)
    assert outcome and all(o.ok for o in outcome), [o.error for o in outcome]
    [(missing, visits)] = seen
    assert visits > 0 and "visits" in {table for table, _name, _sql in missing}  # rows committed, indexes not yet
    with registry.session() as session:
        assert session.scalar(select(func.count()).select_from(m.Confirmation).where(m.Confirmation.patient_id == patient_id)) == 1
        assert session.scalar(select(func.count()).select_from(m.Patient)) == 201
        assert missing_indexes(session.connection()) == []
