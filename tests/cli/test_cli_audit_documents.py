"""Every print and export from the command line leaves ONE audit entry naming its patients by id
(issue 14): huddle, panel-list, letters (labels, call list -> ``letters``; portal, texts -> ``export``),
export-assignments, gaps and the audit CSV export; the role is checked (a refusal audited), a
``--emergency`` run is flagged, and no entry holds a patient's name or a file name."""

from __future__ import annotations

import datetime as dt

import pytest
from auth_helpers import PASSWORD, fast_hashing, make_users
from sqlalchemy import select

from panelmanager.cli import auth as auth_cli
from panelmanager.cli import main
from panelmanager.core import audit
from panelmanager.core import models as m
from panelmanager.core.db import open_registry
from tests.cli.test_cli_print import COLON, DAY, practice_db  # noqa: F401 (practice_db is a fixture)


@pytest.fixture(autouse=True)
def _setup(monkeypatch):
    fast_hashing(monkeypatch)
    monkeypatch.setattr(auth_cli, "keyring_token", lambda registry: None)
    monkeypatch.delenv(auth_cli.TOKEN_ENV, raising=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": PASSWORD)


@pytest.fixture
def db(practice_db):  # noqa: F811
    """The printing practice with a user per role, Olga and Rosa (ids 1, 2) on Ana's panel."""
    registry = open_registry(practice_db)
    make_users(registry)
    with registry.session() as session:
        for pid in (1, 2):
            session.add(m.Assignment(patient_id=pid, provider_id=1, cut="1", reason="only provider seen",
                                     assigned_on=dt.date(2024, 1, 1), assigned_at=dt.datetime(2024, 1, 1)))
    registry.close()
    return practice_db


def entries(db: str, after: int = 0) -> list[audit.AuditRow]:
    registry = open_registry(db)
    try:
        with registry.session() as session:
            return [r for r in reversed(audit.list_entries(session, limit=None)) if r.seq > after
                    and r.action not in ("login", "logout")]
    finally:
        registry.close()


def last_seq(db: str) -> int:
    registry = open_registry(db)
    try:
        with registry.session() as session:
            return max((r.seq for r in audit.list_entries(session, limit=1)), default=0)
    finally:
        registry.close()


def no_names_in_trail(db: str) -> None:
    """No audit entry holds a patient's first or last name, MRN or the name of a file written."""
    registry = open_registry(db)
    try:
        with registry.session() as session:
            people = session.execute(select(m.Patient.first_name, m.Patient.last_name, m.Patient.mrn)).all()
            rows = session.execute(select(m.AuditEntry.user_name, m.AuditEntry.workstation, m.AuditEntry.details,
                                          m.AuditEntry.emergency_reason)).all()
    finally:
        registry.close()
    text = " ".join(str(v) for row in rows for v in row if v).lower()
    for first, last, mrn in people:
        assert first.lower() not in text and last.lower() not in text and f'"{mrn.lower()}"' not in text
    assert ".pdf" not in text and ".csv" not in text


def run(db: str, *argv: str, login: str = "manager") -> int:
    return main(["--db", db, "--login", login.replace("_", ""), *argv])


def test_huddle_print_is_one_entry_with_its_patients(db, tmp_path, capsys):
    before = last_seq(db)
    assert run(db, "huddle", "--date", DAY, "--provider", "P1", "--out", str(tmp_path / "olga-adams.pdf"),
               login="provider") == 0
    [entry] = entries(db, before)
    assert (entry.action, entry.user_name, entry.outcome, entry.patient_ids) == ("print", "provider", "ok", (1, 2))
    assert entry.details["document"] == "huddle-sheet" and entry.details["to"] == "file"
    assert entry.details["day"] == DAY and entry.details["visits"] == 2
    no_names_in_trail(db)


def test_panel_list_print(db, tmp_path):
    before = last_seq(db)
    assert run(db, "panel-list", "--provider", "Alvarez", "--as-of", DAY, "--out", str(tmp_path / "p.pdf")) == 0
    [entry] = entries(db, before)
    assert (entry.action, entry.user_name, entry.outcome, entry.patient_ids) == ("print", "manager", "ok", (1, 2))
    assert entry.details["document"] == "panel-list" and entry.details["patients"] == 2
    no_names_in_trail(db)


def test_letters_and_exports_name_who_they_reached(db, tmp_path, capsys):
    before = last_seq(db)
    paths = {name: str(tmp_path / f"{name}.{ext}") for name, ext in
             (("letters", "pdf"), ("labels", "pdf"), ("calls", "csv"), ("portal", "csv"), ("texts", "csv"))}
    assert run(db, "letters", "--measure", COLON, "--as-of", "2024-03-01", "--out", paths["letters"],
               "--labels", paths["labels"], "--calls", paths["calls"], "--portal", paths["portal"],
               "--texts", paths["texts"]) == 0
    found = entries(db, before)
    assert [(e.action, e.user_name, e.outcome) for e in found] == [("letters", "manager", "ok"),
                                                                   ("export", "manager", "ok")]
    letters, export = found
    # Ruth (3) has no street address: left off the letters and labels, but on the call list.
    assert letters.patient_ids == (1, 2, 3)
    assert letters.details["documents"] == ["letters", "labels", "calls"]
    assert letters.details["letters"] == 2 and letters.details["calls"] == 3
    assert export.patient_ids == (1, 2, 3) and export.details["documents"] == ["portal", "texts"]
    no_names_in_trail(db)


def test_export_assignments_and_gaps(db, tmp_path, capsys):
    before = last_seq(db)
    assert run(db, "export-assignments", "--out", str(tmp_path / "a.csv")) == 0
    [entry] = entries(db, before)
    assert (entry.action, entry.user_name, entry.outcome) == ("export", "manager", "ok")
    assert entry.patient_ids == (1, 2, 3, 4) and entry.details == {"document": "assignments", "patients": 4}

    capsys.readouterr()
    before = last_seq(db)
    assert run(db, "gaps", "--as-of", "2024-03-01", "--measure", COLON, "--status", "open") == 0
    shown = capsys.readouterr().out
    [entry] = entries(db, before)
    assert (entry.action, entry.user_name, entry.outcome) == ("export", "manager", "ok")
    assert entry.details["document"] == "gaps" and entry.details["rows"] == len(shown.strip().splitlines()) - 1
    assert entry.patient_ids == (1, 2, 3)  # Mia (4) had her colonoscopy
    no_names_in_trail(db)


def test_audit_csv_export_names_the_patients_of_its_entries(db, tmp_path, capsys):
    assert run(db, "huddle", "--date", DAY, "--provider", "P1", "--out", str(tmp_path / "h.pdf")) == 0
    before = last_seq(db)
    assert run(db, "audit", "--action", "print", "--format", "csv", "--output", str(tmp_path / "audit.csv")) == 0
    [entry] = entries(db, before)
    assert (entry.action, entry.outcome, entry.patient_ids) == ("audit_view", "ok", (1, 2))
    assert entry.details["export"] == "csv"
    before = last_seq(db)
    assert run(db, "audit", "--action", "print") == 0  # a listing on the screen is a view, not an export
    [entry] = entries(db, before)
    assert entry.patient_ids == () and "export" not in entry.details


def test_a_refused_print_is_audited_once_and_emergency_access_is_flagged(db, tmp_path, capsys):
    before = last_seq(db)
    out = tmp_path / "h.pdf"
    assert run(db, "huddle", "--date", DAY, "--out", str(out), login="front_desk") == 1
    assert "cannot print huddle sheets" in capsys.readouterr().err and not out.exists()
    [entry] = entries(db, before)
    assert (entry.action, entry.user_name, entry.outcome) == ("print", "frontdesk", "refused")

    before = last_seq(db)
    assert main(["--db", db, "--login", "frontdesk", "--emergency", "no nurse in today", "huddle", "--date", DAY,
                 "--out", str(out)]) == 0
    [entry] = entries(db, before)
    assert (entry.action, entry.outcome, entry.patient_ids) == ("print", "ok", (1, 2, 3, 4))
    assert entry.emergency and entry.emergency_reason == "no nurse in today"


def test_a_failed_export_is_audited_as_an_error(db, tmp_path, capsys):
    before = last_seq(db)
    assert run(db, "export-assignments", "--out", str(tmp_path / "no-such-folder" / "a.csv")) == 1
    assert "Cannot write" in capsys.readouterr().err
    [entry] = entries(db, before)
    assert (entry.action, entry.outcome) == ("export", "error") and entry.details["error"] in (
        "FileNotFoundError", "OSError")


def test_without_accounts_nothing_is_recorded(practice_db, tmp_path):  # noqa: F811
    assert main(["--db", practice_db, "huddle", "--date", DAY, "--out", str(tmp_path / "h.pdf")]) == 0
    assert main(["--db", practice_db, "export-assignments", "--out", str(tmp_path / "a.csv")]) == 0
    assert entries(practice_db) == []
