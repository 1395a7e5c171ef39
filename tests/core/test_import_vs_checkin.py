"""A long import on one workstation and a check-in confirm on another (issue 13).

On PostgreSQL (MVCC, row locks) a confirm goes through at once while an import is in the
middle of writing: the import touches no row the confirm needs until its last statement
(the change counter). The test holds the import open mid-write (its progress callback
waits) and times a confirm from a second connection. SQLite has one writer at a time: the
import holds the write lock while it writes, which tests/benchmarks/bench_concurrency.py
measures (see the issue note for the figures).
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
    """SQLite: the import takes the write lock before it reads what it decides on
    (BEGIN IMMEDIATE), so a confirm committed by another workstation after the import has
    read the registry but before its first insert waits for the import instead of making
    it fail with "database is locked" and keep nothing."""
    if registry_backend == "postgresql":
        pytest.skip("PostgreSQL writes concurrently: the test above")
    from panelmanager.core.concurrency import begin_write
    from panelmanager.core.importers import writer

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

    real_insert = writer.bulk_insert
    desk = threading.Thread(target=desk_writes)

    def insert_after_a_desk_write(conn, table, frame):
        if not desk.is_alive() and not desk_results:  # the import has read the registry, not written yet
            desk.start()
            desk.join(3)  # the desk's write goes first if it can
        return real_insert(conn, table, frame)

    monkeypatch.setattr(writer, "bulk_insert", insert_after_a_desk_write)
    outcomes = run_import(registry, files, write_rejects=False, user="import")
    desk.join(60)
    assert outcomes and all(o.ok for o in outcomes), [o.error for o in outcomes if not o.ok]
    assert desk_results == ["written"]  # the desk's write went through too, once the import committed
    with registry.session() as session:
        assert session.scalar(select(func.count()).select_from(m.Patient)) >= 200
