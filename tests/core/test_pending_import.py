"""Rows of an unfinished import are hidden from every reader (core.visibility, issue 13).

A SQLite first import commits its event rows in short batches so a check-in on another
workstation writes between them (importers.staging); until its last transaction deletes
the ``import_pending`` marker those rows are not part of the registry. The first test
copies every event row of a demo practice as such hidden rows (a week later, so latest
readings, visit counts and the schedule would all change) and checks that every reader
answers exactly as before, and differently once the marker is gone. The others run real
imports: held between two batches (a check-in commits, readers see nothing), cancelled,
killed, and refused while another live import has rows pending.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pandas as pd
import pytest
from sqlalchemy import delete, func, insert, select

from panelmanager.core import models as m
from panelmanager.core.capacity import practice_visits_per_patient_year
from panelmanager.core.clinic_days import adjacent_visit_day, visit_days
from panelmanager.core.concurrency import run_write
from panelmanager.core.db import open_registry
from panelmanager.core.demo import load_demo
from panelmanager.core.empanelment import confirm_assignment, load_panel_rules, reassign_patient
from panelmanager.core.empanelment.cuts import qualifying_visit_pairs
from panelmanager.core.empanelment.inactivation import suggest_inactivations
from panelmanager.core.huddle import describe_sheet, huddle_data
from panelmanager.core.importers import run_import, staging
from panelmanager.core.jobs import Cancelled, CancelToken
from panelmanager.core.latest_results import latest_a1c_bp
from panelmanager.core.measures.gaps import data_version, gaps
from panelmanager.core.outreach import next_appointments
from panelmanager.core.patient_view import patient_record
from panelmanager.core.reports.panel_review import load_panel_review
from panelmanager.core.risk import score_patients
from panelmanager.core.schedule import day_schedule_rows, next_schedule_day, schedule_providers
from panelmanager.core.stats import registry_stats
from panelmanager.core.visibility import PENDING_TABLES

AS_OF = dt.date(2025, 3, 12)  # a Wednesday
SHIFT = dt.timedelta(days=7)
EVENT_TABLES = {name: m.Base.metadata.tables[name] for name in PENDING_TABLES}


def _hide_copies(registry) -> None:
    """Every event row again, a week later, as rows of an import still being written."""
    with registry.session() as session:
        for name, table in EVENT_TABLES.items():
            top = session.scalar(select(func.max(table.c.id))) or 0
            rows = [dict(r) for r in session.execute(select(table)).mappings()]
            assert rows, name
            first = top + 1
            for offset, row in enumerate(rows):
                row["id"] = first + offset
                row["source"] = "hidden-test"  # the natural keys are unique per source
                for column, value in row.items():
                    if isinstance(value, dt.datetime | dt.date) and column not in ("cancelled_date",):
                        row[column] = value + SHIFT
            session.execute(insert(table), rows)
            session.add(m.ImportPending(table_name=name, from_id=first, owner="elsewhere:1",
                                        started_at=dt.datetime(2025, 3, 12, 9, 0)))
        session.commit()


def _show_copies(registry) -> None:
    with registry.session() as session:
        session.execute(delete(m.ImportPending))
        session.commit()


def _frame_rows(frame: pd.DataFrame) -> list:
    frame = frame.astype(object).where(frame.notna(), None)
    return sorted(map(repr, frame.itertuples(index=False)))


def _readers(registry) -> dict[str, object]:
    """What each reader of the event tables answers (comparable values)."""
    out: dict[str, object] = {}
    days = [AS_OF + dt.timedelta(days=d) for d in range(0, 15)]
    with registry.session() as session:
        patient_ids = sorted(session.scalars(select(m.Patient.id)))
        provider_id = session.scalar(select(m.Assignment.provider_id).limit(1))
        rules = load_panel_rules()
        out["registry_stats"] = registry_stats(session)
        out["visit_days"] = visit_days(session, AS_OF - dt.timedelta(days=60), AS_OF + dt.timedelta(days=30))
        out["adjacent_visit_day"] = [adjacent_visit_day(session, AS_OF + dt.timedelta(days=20), step) for step in (1, -1)]
        out["day_schedule_rows"] = [day_schedule_rows(session, d) for d in days]
        out["schedule_providers"] = [schedule_providers(session, d) for d in days]
        out["next_schedule_day"] = next_schedule_day(session, AS_OF + dt.timedelta(days=12))
        out["huddle"] = [describe_sheet(huddle_data(session, d, with_risk=False)) for d in days[:3]]
        out["patient_record"] = [patient_record(session, pid, AS_OF).visits for pid in patient_ids[:25]]
        out["latest_a1c_bp"] = _frame_rows(latest_a1c_bp(session, patient_ids, AS_OF + dt.timedelta(days=30)))
        out["visit_pairs"] = _frame_rows(qualifying_visit_pairs(
            session, start=AS_OF - dt.timedelta(days=3 * 365), end=AS_OF + dt.timedelta(days=30), rules=rules))
        out["inactivations"] = sorted(map(repr, suggest_inactivations(session, as_of=AS_OF + dt.timedelta(days=30))))
        out["visits_per_patient_year"] = practice_visits_per_patient_year(session, AS_OF + dt.timedelta(days=30))
        out["next_appointments"] = _frame_rows(next_appointments(session, AS_OF))
        out["risk"] = _frame_rows(score_patients(session, AS_OF + dt.timedelta(days=30)))
        out["data_version"] = data_version(session)
        out["gaps"] = _frame_rows(gaps(session, AS_OF + dt.timedelta(days=30)).drop(columns=["computed_at"], errors="ignore"))
        if provider_id is not None:
            review = load_panel_review(session, provider_id, AS_OF + dt.timedelta(days=30))
            out["panel_review"] = [repr(r) for r in review.rows]
    return out


def test_every_reader_ignores_the_rows_of_an_unfinished_import(fresh_registry):
    load_demo(fresh_registry, patients=160, seed=5, as_of=AS_OF)
    with fresh_registry.session() as session:  # some patients on a panel, for the panel readers
        provider = session.scalar(select(m.Provider.id).where(m.Provider.specialty == "Family Medicine").limit(1))
        ids = list(session.scalars(select(m.Patient.id).order_by(m.Patient.id).limit(40)))
    assert provider is not None
    for pid in ids:
        run_write(fresh_registry, reassign_patient, pid, provider, reason="set up", user="test")
    before = _readers(fresh_registry)
    _hide_copies(fresh_registry)
    hidden = _readers(fresh_registry)
    for name in before:
        assert hidden[name] == before[name], f"{name} shows rows of an unfinished import"
    _show_copies(fresh_registry)
    shown = _readers(fresh_registry)
    changed = {name for name in before if shown[name] != before[name]}
    # The copies do change what these readers answer once they are part of the registry (each
    # patient's next appointment stays the earlier one; the rest depend on the day chosen).
    expected = set(before) - {"next_schedule_day", "inactivations", "huddle", "next_appointments"}
    assert expected <= changed, sorted(expected - changed)


# --------------------------------------------------------------------------- real imports (SQLite)


@pytest.fixture
def small_batches(monkeypatch):
    """The small Synthea folder's inserts are committed as pending rows, a few hundred at a time."""
    monkeypatch.setattr(staging, "PENDING_MIN_ROWS", 1)
    monkeypatch.setattr(staging, "PENDING_BATCH_ROWS", 300)
    monkeypatch.setattr("panelmanager.core.db.DEFER_INDEXES_MIN_ROWS", 1)


def _sqlite_only(registry_backend: str) -> None:
    if registry_backend == "postgresql":
        pytest.skip("PostgreSQL imports in one MVCC transaction: nothing is pending")


def _counts(registry) -> dict[str, int]:
    with registry.session() as session:
        stats = registry_stats(session)
        raw = {name: session.scalar(select(func.count()).select_from(t)) for name, t in EVENT_TABLES.items()}
        markers = session.scalar(select(func.count()).select_from(m.ImportPending))
    return {"patients": stats["patients"], "observations": stats["observations"], "visits": stats["visits"],
            "raw_observations": raw["observations"], "markers": markers}


def test_a_check_in_commits_between_two_batches_and_readers_see_none_of_the_import_until_it_ends(
        fresh_registry, registry_backend, synthea_small, small_batches):
    _sqlite_only(registry_backend)
    registry = fresh_registry
    with registry.session() as session:
        provider = m.Provider(source="pm", external_id="DESK", display_name="Dr. Desk", specialty="FAMILY PRACTICE")
        patient = m.Patient(mrn="DESK-1", first_name="Ann", last_name="Desk", dob=dt.date(1970, 1, 1), sex="F",
                            status="active", source="pm")
        session.add_all([provider, patient])
        session.flush()
        provider_id, patient_id = provider.id, patient.id
        session.commit()
    run_write(registry, reassign_patient, patient_id, provider_id, reason="set up", user="test")

    holding, release = threading.Event(), threading.Event()
    seen: dict = {}

    def hold_between_batches(_done: int, _total: int, message: str = "") -> None:
        if "Saving observations (" in message and "(0 of" not in message and not holding.is_set():
            holding.set()  # some observation batches committed, hidden
            release.wait(60)

    outcome: list = []
    importer = threading.Thread(target=lambda: outcome.extend(
        run_import(registry, [synthea_small], write_rejects=False, user="import", progress=hold_between_batches)))
    importer.start()
    try:
        assert holding.wait(120), "the import never committed a batch"
        desk = open_registry(registry.url)  # the front desk's workstation
        try:
            started = time.perf_counter()
            run_write(desk, confirm_assignment, patient_id, by="patient", user="desk", expected_version=1)
            seen["latency"] = time.perf_counter() - started
            seen["counts"] = _counts(desk)
        finally:
            desk.close()
        assert importer.is_alive()
    finally:
        release.set()
        importer.join(180)
    assert seen["latency"] < 5.0, f"a confirm waited {seen['latency']:.1f} s between two batches"
    counts = seen["counts"]
    assert counts["raw_observations"] > 0 and counts["markers"] >= 1  # committed, pending
    assert counts["patients"] == 1 and counts["observations"] == 0 and counts["visits"] == 0  # and hidden
    [result] = outcome
    assert result.ok, result.error
    after = _counts(registry)
    assert after["markers"] == 0 and after["patients"] == 28 and after["observations"] == 990
    assert after["raw_observations"] == 990
    with registry.engine.connect() as conn:
        assert staging.missing_indexes(conn) == []
    with registry.session() as session:
        assert session.scalar(select(func.count()).select_from(m.Confirmation)) == 1


def test_a_cancel_between_batches_deletes_what_was_committed_and_brings_the_indexes_back(
        fresh_registry, registry_backend, synthea_small, small_batches):
    _sqlite_only(registry_backend)
    token = CancelToken()

    def cancel_mid_batches(_done: int, _total: int, message: str = "") -> None:
        if "Saving observations (" in message and "(0 of" not in message:
            token.cancel()

    with pytest.raises(Cancelled):
        run_import(fresh_registry, [synthea_small], write_rejects=False, user="import",
                   progress=cancel_mid_batches, cancel=token)
    with fresh_registry.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        for name in ("patients", *PENDING_TABLES, "import_pending"):
            assert conn.exec_driver_sql(f"SELECT COUNT(*) FROM {name}").scalar() == 0, name
        assert staging.missing_indexes(conn) == []


_WORKER = textwrap.dedent(
    """
    import sys, time
    from panelmanager.core.db import open_registry
    from panelmanager.core.importers import run_import, staging
    import panelmanager.core.db as registry_db

    db, folder = sys.argv[1:3]
    staging.PENDING_MIN_ROWS, staging.PENDING_BATCH_ROWS = 1, 300
    registry_db.DEFER_INDEXES_MIN_ROWS = 1

    def progress(done, total, message=""):
        if "Saving observations (" in message and "(0 of" not in message:
            print("pending", flush=True)
            time.sleep(120)  # killed here

    run_import(open_registry(db), [folder], write_rejects=False, user="kill", progress=progress)
    """
)


def test_an_import_killed_between_batches_stays_hidden_and_the_next_import_replaces_it(tmp_path, synthea_small):
    db = tmp_path / "registry.sqlite3"
    open_registry(db, create=True).close()
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(synthea_small)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "pending", proc.stderr.read()
        registry = open_registry(db)
        try:  # while it is alive, a second import is refused: it could not see the first one's rows
            [refused] = run_import(registry, [synthea_small], write_rejects=False, user="second")
            assert not refused.ok and "Another import into this registry is still being written" in (refused.error or "")
            assert synthea_small.name in (refused.error or "")  # which file it refused
        finally:
            registry.close()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    registry = open_registry(db)
    try:
        left = _counts(registry)
        assert left["raw_observations"] > 0 and left["markers"] >= 1  # written, never shown
        assert left["observations"] == 0 and left["visits"] == 0 and left["patients"] == 0
        [outcome] = run_import(registry, [synthea_small], write_rejects=False, user="test")
        assert outcome.ok and outcome.updated == 0
        after = _counts(registry)
        assert after == {"patients": 27, "observations": 990, "visits": after["visits"], "raw_observations": 990,
                         "markers": 0}
        with registry.engine.connect() as conn:
            assert staging.missing_indexes(conn) == []
    finally:
        registry.close()


def test_the_progress_of_a_staged_import_never_goes_back(fresh_registry, registry_backend, synthea_small,
                                                         small_batches):
    """Plan, pending batches and apply each count from 0 to their own total; the user's progress
    bar must still only move forward (it jumped from 96% back to 50% at the apply)."""
    _sqlite_only(registry_backend)
    seen: list[tuple[float, str]] = []

    def note(done: int, total: int, message: str = "") -> None:
        seen.append((done / total if total else 0.0, message))

    [outcome] = run_import(fresh_registry, [synthea_small], write_rejects=False, user="import", progress=note)
    assert outcome.ok
    assert any("Saving observations (" in m for _f, m in seen)  # the pending batches reported
    backwards = [(a, b) for a, b in zip(seen, seen[1:]) if b[0] < a[0]]
    assert not backwards, backwards[:3]
    assert seen[-1][0] == 1.0
