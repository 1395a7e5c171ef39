"""The demo practice: deterministic, current relative to as_of, and rich enough to show every feature."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from sqlalchemy import text

from panelmanager.core.db import open_registry
from panelmanager.core.demo import (
    DemoRefused,
    generate_practice,
    is_valid_npi,
    load_demo,
    npi_check_digit,
    write_pm_csvs,
    write_synthea_folder,
)
from panelmanager.core.jobs import Cancelled, CancelToken

AS_OF = dt.date(2025, 3, 12)  # a Wednesday


def _load(tmp_path: Path, name: str, *, patients: int = 300, seed: int = 1, as_of: dt.date = AS_OF):
    registry = open_registry(tmp_path / f"{name}.sqlite3", create=True)
    counts = load_demo(registry, patients=patients, seed=seed, as_of=as_of)
    return registry, counts


def _digest(registry) -> str:
    digest = hashlib.sha256()
    queries = [
        "SELECT mrn, first_name, last_name, dob, sex, address1, phone_mobile, email, preferred_language, status "
        "FROM patients ORDER BY mrn",
        "SELECT external_id, npi, display_name, specialty, fte FROM providers ORDER BY external_id",
        "SELECT external_id, start, visit_class, visit_type, status FROM visits ORDER BY external_id",
        "SELECT p.mrn, o.date, o.code, o.value FROM observations o JOIN patients p ON p.id = o.patient_id "
        "ORDER BY p.mrn, o.date, o.code, o.value",
        "SELECT p.mrn, i.date, i.cvx FROM immunizations i JOIN patients p ON p.id = i.patient_id ORDER BY p.mrn, i.date, i.cvx",
    ]
    with registry.engine.connect() as conn:
        for query in queries:
            for row in conn.execute(text(query)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def demo_registry(tmp_path_factory):
    registry, counts = _load(tmp_path_factory.mktemp("demo"), "demo", patients=400, seed=3)
    yield registry, counts
    registry.close()


def _scalar(registry, query: str, **params):
    with registry.engine.connect() as conn:
        return conn.execute(text(query), params).scalar()


def test_same_seed_gives_the_same_registry_and_another_seed_a_different_one(tmp_path):
    first, _ = _load(tmp_path, "a", seed=5)
    again, _ = _load(tmp_path, "b", seed=5)
    other, _ = _load(tmp_path, "c", seed=6)
    try:
        assert _digest(first) == _digest(again)
        assert _digest(first) != _digest(other)
    finally:
        for registry in (first, again, other):
            registry.close()


def test_counts_scale_with_the_number_of_patients():
    small = generate_practice(200, seed=1, as_of=AS_OF).counts()
    large = generate_practice(800, seed=1, as_of=AS_OF).counts()
    assert small["patients"] == 200 and large["patients"] == 800
    for table in ("visits", "observations", "immunizations", "conditions"):
        assert 2.5 < large[table] / small[table] < 6, table
    # Roughly ten visits and twenty observations per patient.
    assert 7 < large["visits"] / 800 < 14
    assert 14 < large["observations"] / 800 < 30


def test_load_reports_what_was_added_and_loading_again_adds_nothing(tmp_path):
    registry, counts = _load(tmp_path, "twice", patients=250)
    try:
        assert counts["patients"] == 250
        assert counts["visits"] > 1000 and counts["observations"] > 2000
        assert all(counts[k] > 0 for k in ("providers", "immunizations", "procedures", "conditions", "medications"))
        with registry.engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM visits")).scalar() == counts["visits"]
        again = load_demo(registry, patients=250, seed=1, as_of=AS_OF)
        assert set(again.values()) == {0}
    finally:
        registry.close()


def test_the_demo_is_never_mixed_with_real_patients_or_another_demo(tmp_path):
    from panelmanager.core.models import Patient

    real = open_registry(tmp_path / "real.sqlite3", create=True)
    try:
        with real.session() as session:
            session.add(Patient(mrn="A100", last_name="Real", source="athenahealth", status="active"))
        with pytest.raises(DemoRefused, match="registry of its own"):
            load_demo(real, patients=50, seed=1, as_of=AS_OF)
        assert _scalar(real, "SELECT COUNT(*) FROM patients") == 1
    finally:
        real.close()
    demo, _ = _load(tmp_path, "demo-once", patients=60)
    try:
        with pytest.raises(DemoRefused, match="different demo practice"):
            load_demo(demo, patients=60, seed=2, as_of=AS_OF)
        assert _scalar(demo, "SELECT COUNT(*) FROM patients") == 60
    finally:
        demo.close()


def test_appointments_are_booked_on_the_next_working_days(demo_registry):
    registry, _ = demo_registry
    with registry.engine.connect() as conn:
        days = {
            dt.date.fromisoformat(str(row[0])[:10])
            for row in conn.execute(text("SELECT start FROM visits WHERE status = 'scheduled'"))
        }
        latest_past = conn.execute(text("SELECT MAX(start) FROM visits WHERE status = 'completed'")).scalar()
    working = [AS_OF + dt.timedelta(days=i) for i in range(15) if (AS_OF + dt.timedelta(days=i)).weekday() < 5]
    assert days <= set(working)
    assert {AS_OF, AS_OF + dt.timedelta(days=1), AS_OF + dt.timedelta(days=2)} <= days
    assert all(day.weekday() < 5 for day in days)
    assert str(latest_past)[:10] < AS_OF.isoformat()


def test_the_practice_has_the_patients_a_panel_manager_cares_about(demo_registry):
    registry, _ = demo_registry
    q = lambda sql: _scalar(registry, sql)  # noqa: E731
    assert q("SELECT COUNT(DISTINCT patient_id) FROM conditions WHERE code = '44054006'") >= 5
    assert q("SELECT COUNT(DISTINCT patient_id) FROM observations WHERE code = '4548-4' AND value_num > 9") >= 1
    assert q("SELECT COUNT(*) FROM patients WHERE preferred_language = 'es'") >= 20
    assert q("SELECT COUNT(*) FROM patients WHERE status = 'deceased' AND deceased_date IS NOT NULL") >= 1
    assert q("SELECT COUNT(*) FROM patients WHERE status = 'moved'") >= 1
    assert q("SELECT COUNT(*) FROM patients p WHERE NOT EXISTS (SELECT 1 FROM visits v WHERE v.patient_id = p.id)") >= 1
    assert q("SELECT COUNT(*) FROM patients WHERE address1 IS NULL") >= 1
    # Blood pressure pairs on the same date, with some hypertensives above 140/90.
    assert q("SELECT COUNT(*) FROM observations WHERE code = '8480-6'") == q(
        "SELECT COUNT(*) FROM observations WHERE code = '8462-4'"
    )
    assert q("SELECT COUNT(*) FROM observations WHERE code = '8480-6' AND value_num >= 140") >= 1
    assert q("SELECT COUNT(*) FROM observations WHERE code = '72166-2' AND value = 'Never smoker'") >= 1
    assert q("SELECT COUNT(*) FROM visits WHERE status = 'no-show'") >= 1
    assert q("SELECT COUNT(*) FROM visits WHERE visit_class IN ('emergency', 'inpatient', 'urgentcare')") >= 1
    assert q("SELECT COUNT(*) FROM procedures WHERE code_system = 'CPT'") >= 1
    assert q("SELECT COUNT(*) FROM medications WHERE code = '860975'") >= 1


def test_some_children_are_missing_doses_of_the_childhood_series(demo_registry):
    registry, _ = demo_registry
    born_after = (AS_OF - dt.timedelta(days=365 * 7)).isoformat()
    with registry.engine.connect() as conn:
        doses = dict(
            conn.execute(
                text(
                    "SELECT p.id, COUNT(i.id) FROM patients p LEFT JOIN immunizations i "
                    "ON i.patient_id = p.id AND i.cvx IN ('20', '106', '107') "
                    "WHERE p.dob < :born_before AND p.dob > :born_after GROUP BY p.id"
                ),
                {"born_before": (AS_OF - dt.timedelta(days=365 * 5)).isoformat(), "born_after": born_after},
            ).all()
        )
    assert doses, "the demo should have children aged 5-7"
    assert max(doses.values()) == 5  # the full DTaP series
    assert min(doses.values()) < 4  # and children who are behind


def test_providers_have_fte_valid_npis_and_panel_and_non_panel_specialties(demo_registry):
    registry, _ = demo_registry
    with registry.engine.connect() as conn:
        rows = conn.execute(text("SELECT npi, fte, specialty, credentials, clinic_days_per_year FROM providers")).all()
    assert rows
    assert all(fte is not None and 0.5 <= fte <= 1.0 for _, fte, *_ in rows)
    assert all(is_valid_npi(npi) for npi, *_ in rows)
    specialties = {row[2] for row in rows}
    assert {"Pediatrics", "Family Medicine", "Cardiology", "Emergency Medicine"} <= specialties
    assert all(row[3] and row[4] for row in rows)


def test_npi_check_digit_follows_the_luhn_rule_with_the_80840_prefix():
    assert npi_check_digit("123456789") == "3"  # CMS's worked example: 1234567893
    assert is_valid_npi("1234567893")
    assert not is_valid_npi("1234567890")


def test_everything_is_relative_to_as_of(tmp_path):
    early = generate_practice(200, seed=1, as_of=dt.date(2020, 1, 6))
    late = generate_practice(200, seed=1, as_of=dt.date(2030, 1, 7))
    shift = dt.date(2030, 1, 7) - dt.date(2020, 1, 6)
    for practice, as_of in ((early, dt.date(2020, 1, 6)), (late, dt.date(2030, 1, 7))):
        visits = practice.frames["visits"]
        scheduled = visits.loc[visits["status"] == "scheduled", "start"]
        assert scheduled.min().date() >= as_of
        assert visits.loc[visits["status"] == "completed", "start"].max().date() < as_of
    assert (late.frames["patients"]["dob"].min() - early.frames["patients"]["dob"].min()).days == pytest.approx(
        shift.days, abs=3
    )


def test_cancelling_writes_nothing(tmp_path):
    registry = open_registry(tmp_path / "cancel.sqlite3", create=True)
    token = CancelToken()
    token.cancel()
    try:
        with pytest.raises(Cancelled):
            load_demo(registry, patients=100, seed=1, as_of=AS_OF, cancel=token)
        assert _scalar(registry, "SELECT COUNT(*) FROM patients") == 0
    finally:
        registry.close()


def test_demo_command_fills_the_registry(tmp_path, capsys):
    from panelmanager.cli import main

    db = tmp_path / "cli.sqlite3"
    assert main(["--db", str(db), "demo", "--create", "--patients", "300", "--seed", "2"]) == 0
    assert "300 patients" in capsys.readouterr().out
    registry = open_registry(db, create=True)
    try:
        assert _scalar(registry, "SELECT COUNT(*) FROM patients") == 300
        assert _scalar(registry, "SELECT COUNT(*) FROM visits WHERE status = 'scheduled'") > 0
    finally:
        registry.close()


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


def test_synthea_export_uses_synthea_headers_and_imports(tmp_path, synthea_small):
    from panelmanager.core.importers import run_import

    practice = generate_practice(150, seed=1, as_of=AS_OF)
    folder = write_synthea_folder(practice, tmp_path / "synthea")
    for name in ("patients.csv", "organizations.csv", "providers.csv", "encounters.csv", "observations.csv",
                 "immunizations.csv", "procedures.csv", "conditions.csv", "medications.csv"):
        assert _header(folder / name) == _header(synthea_small / name), name
    registry = open_registry(tmp_path / "synthea.sqlite3", create=True)
    try:
        [outcome] = run_import(registry, [folder], write_rejects=False)
        assert outcome.ok, outcome.error
        assert outcome.rejected == 0
        assert outcome.tables["patients"]["new"] == 150
        completed = (practice.frames["visits"]["status"] == "completed").sum()
        assert outcome.tables["visits"]["new"] == completed
        assert outcome.tables["observations"]["new"] == len(practice.frames["observations"])
    finally:
        registry.close()


def test_pm_export_is_in_athenahealth_report_builder_layout(tmp_path):
    practice = generate_practice(120, seed=1, as_of=AS_OF)
    patients_csv, appointments_csv = write_pm_csvs(practice, tmp_path / "pm")
    assert _header(patients_csv)[:4] == ["patientid", "patient firstname", "patient lastname", "patientdob"]
    assert "patient language" in _header(patients_csv)
    assert _header(appointments_csv) == [
        "appointmentid", "patientid", "apptdate", "apptstarttime", "appttype", "apptstatus", "apptcancelleddate",
        "apptcancelreason", "appt schdlng prvdr",
    ]
    with appointments_csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    first = rows[0]
    assert dt.datetime.strptime(first["apptdate"], "%m/%d/%Y")
    assert dt.datetime.strptime(first["apptstarttime"], "%I:%M %p")
    with patients_csv.open(newline="", encoding="utf-8") as handle:
        languages = {row["patient language"] for row in csv.DictReader(handle)}
    assert {"English", "Spanish"} <= languages


_TABLES_AND_KEYS = (("locations", "external_id"), ("providers", "external_id"), ("patients", "mrn"),
                    ("visits", "external_id"), ("observations", "natural_key"), ("immunizations", "natural_key"),
                    ("procedures", "natural_key"), ("conditions", "natural_key"), ("medications", "natural_key"))


def _stored(registry, table: str, key: str) -> list[tuple]:
    """Every row of ``table`` in key order: every column but ``id`` and ``row_hash``, then the
    keys of the rows it points at (the patient's identifier, an event's visit and patient)."""
    from panelmanager.core.importers.writer import TABLES

    compared = [c for c in TABLES[table].c if c.name not in ("id", "row_hash")]
    columns = ", ".join(f'p."{c.name}"' for c in compared)
    refs = {
        "patients": "(SELECT i.identifier FROM patient_identifiers i WHERE i.patient_id = p.id), "
                    "(SELECT d.external_id FROM providers d WHERE d.id = p.pm_provider_id)",
        "visits": "(SELECT m.mrn FROM patients m WHERE m.id = p.patient_id), "
                  "(SELECT d.external_id FROM providers d WHERE d.id = p.provider_id)",
        "providers": "(SELECT l.external_id FROM locations l WHERE l.id = p.location_id)",
        "locations": "NULL",
    }.get(table, "(SELECT v.external_id FROM visits v WHERE v.id = p.visit_id), "
                 "(SELECT m.mrn FROM patients m WHERE m.id = p.patient_id)")
    with registry.engine.connect() as conn:
        # Typed by the model's columns: each backend's dates, times and booleans read alike.
        query = text(f"SELECT {columns}, {refs} FROM {table} p ORDER BY p.{key}").columns(*compared)
        return [tuple(row) for row in conn.execute(query)]


def _hashes(registry, table: str) -> tuple[int, int]:
    """(rows with a row_hash, rows without one) in ``table``."""
    with registry.engine.connect() as conn:
        return tuple(conn.execute(text(
            f"SELECT COUNT(row_hash), COUNT(*) - COUNT(row_hash) FROM {table}")).one())  # type: ignore[return-value]


def _write_parsed(registry, practice):
    from panelmanager.core.importers.writer import ParsedImport, write_parsed

    parsed = ParsedImport(path="demo", format="demo", profile=None, source="demo",
                          rows_read=sum(practice.counts().values()),
                          frames={name: frame.copy() for name, frame in practice.frames.items()})
    with registry.engine.begin() as conn:
        return write_parsed(conn, parsed)


def test_the_direct_load_stores_what_the_importers_writer_stores(fresh_registry, tmp_path):
    """load_demo writes its rows itself (issue 16); a registry filled by the importers' own
    write_parsed from the same practice holds the same rows: every column of every table
    (ids, references, natural keys, search keys), so the demo behaves as imported data.

    Only ``row_hash`` differs, deliberately: the demo stores none (hashing every value of
    every row cost ~10% of its load, and the demo never re-imports itself), where
    write_parsed stores one per row for its change detection."""
    counts = load_demo(fresh_registry, patients=220, seed=9, as_of=AS_OF)
    practice = generate_practice(220, seed=9, as_of=AS_OF)
    reference = open_registry(tmp_path / "writer.sqlite3", create=True)
    try:
        written = _write_parsed(reference, practice)
        assert counts == {name: written.tables[name].new for name in counts}
        for table, key in _TABLES_AND_KEYS:
            assert _stored(fresh_registry, table, key) == _stored(reference, table, key), table
            rows = counts[table]
            assert _hashes(fresh_registry, table) == (0, rows), table
            assert _hashes(reference, table) == (rows, 0), table
    finally:
        reference.close()


def test_an_import_over_the_demo_compares_every_row_although_the_demo_stores_no_hashes(fresh_registry):
    """A row stored without a row_hash is never taken as unchanged: an import of the same
    rows into the demo registry rewrites them all (and stores their hashes), changes
    nothing they hold, and the next import of them finds them unchanged."""
    counts = load_demo(fresh_registry, patients=150, seed=4, as_of=AS_OF)
    practice = generate_practice(150, seed=4, as_of=AS_OF)
    before = {table: _stored(fresh_registry, table, key) for table, key in _TABLES_AND_KEYS}

    first = _write_parsed(fresh_registry, practice)
    for table, key in _TABLES_AND_KEYS:
        done = first.tables[table]
        assert (done.new, done.updated, done.unchanged) == (0, counts[table], 0), table
        assert _stored(fresh_registry, table, key) == before[table], table
        assert _hashes(fresh_registry, table) == (counts[table], 0), table

    second = _write_parsed(fresh_registry, practice)
    for table, _key in _TABLES_AND_KEYS:
        done = second.tables[table]
        assert (done.new, done.updated, done.unchanged) == (0, 0, counts[table]), table


def test_cancelling_during_the_load_writes_nothing_and_keeps_the_indexes(tmp_path):
    registry = open_registry(tmp_path / "cancel-late.sqlite3", create=True)
    token = CancelToken()
    seen: list[str] = []

    def progress(done: int, total: int, message: str = "") -> None:
        seen.append(message)
        if message.startswith("Written"):  # the first chunk of patients is in
            token.cancel()

    indexes = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index'"
    try:
        before = _scalar(registry, indexes)
        with pytest.raises(Cancelled):
            load_demo(registry, patients=12_000, seed=1, as_of=AS_OF, progress=progress, cancel=token)
        assert any(m.startswith("Written 5,000 of 12,000 patients") for m in seen)
        assert _scalar(registry, "SELECT COUNT(*) FROM patients") == 0
        assert _scalar(registry, "SELECT COUNT(*) FROM visits") == 0
        assert _scalar(registry, indexes) == before
        # ...and the same demo loads afterwards.
        assert load_demo(registry, patients=300, seed=1, as_of=AS_OF)["patients"] == 300
    finally:
        registry.close()


def test_progress_goes_forward_to_the_end_and_names_no_patient(tmp_path):
    registry = open_registry(tmp_path / "progress.sqlite3", create=True)
    steps: list[tuple[int, int, str]] = []
    try:
        load_demo(registry, patients=11_000, seed=2, as_of=AS_OF, progress=lambda d, t, m="": steps.append((d, t, m)))
        names = {row[0] for row in registry.engine.connect().execute(text("SELECT last_name FROM patients"))}
    finally:
        registry.close()
    done = [d / t for d, t, _ in steps]
    assert done == sorted(done) and done[-1] == 1.0
    messages = [m for _, _, m in steps]
    assert "Written 5,000 of 11,000 patients" in messages and "Building the indexes" in messages
    assert not any(name in m for m in messages for name in names)


def test_dates_and_times_are_stored_as_the_registrys_other_writes_store_them():
    """The demo formats its dates and times from tables (loading._sqlite_time_text); the
    text must be what db.bulk_insert stores, or date comparisons in SQL would go wrong."""
    import numpy as np
    import pandas as pd

    from panelmanager.core.db import _sqlite_date_text
    from panelmanager.core.demo.loading import _sqlite_time_text

    values = np.array(["1931-02-03T04:05:06", "2025-01-15T23:59:59", "NaT", "1969-12-31T00:00:00",
                       "2000-02-29T12:00:00"], dtype="datetime64[s]")
    for date_only in (True, False):
        assert _sqlite_time_text(pd.Series(values), date_only=date_only) == _sqlite_date_text(
            values, date_only=date_only)
    assert _sqlite_time_text(pd.Series(values[2:3]), date_only=False) == [None]
    # Fractions of a second are left to db's own formatting.
    assert _sqlite_time_text(pd.Series(values.astype("datetime64[us]") + np.timedelta64(5, "us")),
                             date_only=False) is None
