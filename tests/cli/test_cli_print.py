"""The printing and outreach commands: huddle, letters (labels, call list, exports), outreach-log, reports."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from panelmanager.cli import main
from panelmanager.core import models as m
from panelmanager.core.db import open_registry

DAY = "2024-03-04"
COLON = "colorectal-cancer-screening"


@pytest.fixture
def practice_db(tmp_path):
    """A registry file: two providers, four patients of screening age (one without an address), last seen in
    June 2023 and booked on DAY."""
    path = tmp_path / "practice.sqlite3"
    registry = open_registry(path, create=True)
    with registry.session() as session:
        from panelmanager.core.settings import load_settings, save_settings

        settings = load_settings(session)
        settings.practice_name = "Riverside Community Health"
        settings.practice_address = "1 Main St, Springfield, MA 01103"
        settings.practice_phone = "(413) 555-0100"
        save_settings(session, settings)
        # Panel holders: before a review is accepted, lists name the 4-cut proposal among them.
        ana = m.Provider(source="t", external_id="P1", display_name="Ana Alvarez, MD", npi="1000000004",
                         specialty="Family Medicine")
        ben = m.Provider(source="t", external_id="P2", display_name="Ben Brown, NP", npi="1000000012",
                         specialty="Family Medicine")
        session.add_all([ana, ben])
        session.flush()
        people = [
            ("A1", "Olga", "Adams", "en", "1 Elm St", ana),
            ("A2", "Rosa", "Díaz", "es", "2 Oak St", ana),
            ("A3", "Ruth", "Baker", "en", None, ben),
            ("A4", "Mia", "Clark", "en", "4 Pine St", ben),
        ]
        for i, (mrn, first, last, language, street, provider) in enumerate(people, start=1):
            p = m.Patient(mrn=mrn, first_name=first, last_name=last, dob=dt.date(1965, 1, i), sex="F", source="t",
                          status="active", address1=street, city="Springfield", state="MA", postal_code="01103",
                          phone_mobile=f"(413) 555-010{i}", email=f"p{i}@example.org", preferred_language=language)
            session.add(p)
            session.flush()
            session.add(m.Visit(patient_id=p.id, provider_id=provider.id, source="t", external_id=f"V{i}",
                                start=dt.datetime(2024, 3, 4, 8 + i), visit_class="ambulatory",
                                visit_type="Follow-up", status="scheduled"))
            session.add(m.Visit(patient_id=p.id, provider_id=provider.id, source="t", external_id=f"W{i}",
                                start=dt.datetime(2023, 6, 1, 8 + i), visit_class="wellness",
                                visit_type="Annual physical", status="completed"))
        session.add(m.Procedure(patient_id=4, source="t", natural_key=1, date=dt.datetime(2020, 5, 1),
                                code_system="SNOMED", code="73761001", description="Colonoscopy"))
    registry.close()
    return str(path)


def _log_rows(db: str):
    registry = open_registry(db, create=True)
    try:
        with registry.session() as session:
            return session.execute(
                select(m.OutreachLog.patient_id, m.OutreachLog.measure_id, m.OutreachLog.method,
                       m.OutreachLog.outcome, m.OutreachLog.document, m.OutreachLog.logged_at, m.OutreachLog.note)
                .order_by(m.OutreachLog.id)
            ).all()
    finally:
        registry.close()


def test_huddle_for_one_provider_and_for_everyone(practice_db, tmp_path, capsys):
    out = tmp_path / "huddle.pdf"
    assert main(["--db", practice_db, "huddle", "--date", DAY, "--provider", "P1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Ana Alvarez, MD: 2 visits" in printed
    text = " ".join(PdfReader(str(out)).pages[0].extract_text().split())
    assert "Adams, Olga" in text and "Díaz, Rosa" in text and "Baker, Ruth" not in text
    assert "Colorectal screen: none on record, due now" in text and "Page 1 of 1" in text

    everyone = tmp_path / "everyone.pdf"
    assert main(["--db", practice_db, "huddle", "--date", DAY, "--out", str(everyone), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [(s["provider"], s["patients"]) for s in summary["sections"]] == [("Ana Alvarez, MD", 2),
                                                                             ("Ben Brown, NP", 2)]
    assert summary["pages"] == len(PdfReader(str(everyone)).pages) == 2


def test_letters_with_labels_call_list_and_portal_export_are_logged(practice_db, tmp_path, capsys):
    letters, labels, calls, portal = (tmp_path / n for n in ("letters.pdf", "labels.pdf", "calls.csv", "portal.csv"))
    code = main(["--db", practice_db, "letters", "--measure", COLON, "--as-of", "2024-03-01", "--out", str(letters),
                 "--labels", str(labels), "--calls", str(calls), "--portal", str(portal)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "Outreach list as of 2024-03-01: 3 patients, 3 open gaps." in printed
    assert "Letters: 2 (1 en, 1 es) in 2 pages" in printed
    assert "1 patient got no letter:" in printed and "A3" in printed and "no street address" in printed

    pages = [" ".join(p.extract_text().split()) for p in PdfReader(str(letters)).pages]
    assert len(pages) == 2
    assert "Dear Olga Adams," in pages[0] and "a colon cancer screening" in pages[0]
    assert "Estimado(a) Rosa Díaz:" in pages[1] and "detección del cáncer de colon" in pages[1]
    assert "llámenos al (413) 555-0100" in pages[1] and "Riverside Community Health" in pages[1]
    label_text = PdfReader(str(labels)).pages[0].extract_text()
    assert "Olga Adams" in label_text and "Rosa Díaz" in label_text and "Ruth Baker" not in label_text
    with calls.open(encoding="utf-8-sig", newline="") as handle:
        assert [r["MRN"] for r in csv.DictReader(handle)] == ["A1", "A3", "A2"]  # Ruth can be called
    with portal.open(encoding="utf-8", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 3

    rows = _log_rows(practice_db)
    letter_rows = [r for r in rows if r.method == "letter"]
    assert sorted(r.patient_id for r in letter_rows) == [1, 2]
    assert {(r.measure_id, r.document) for r in letter_rows} == {(COLON, "letters+labels")}
    assert all(r.logged_at.date() == dt.date(2024, 3, 1) for r in rows)
    assert sorted(r.patient_id for r in rows if r.method == "portal") == [1, 2, 3]

    # A second run the same week leaves out everyone just contacted (the 30-day setting).
    again = tmp_path / "again.pdf"
    assert main(["--db", practice_db, "letters", "--measure", COLON, "--as-of", "2024-03-05", "--out", str(again)]) == 0
    printed = capsys.readouterr().out
    assert "left out: 3 (contacted in the last 30 days)" in printed and "0 patients" in printed
    assert "No letters" in PdfReader(str(again)).pages[0].extract_text()


def test_letters_filters_and_no_log(practice_db, tmp_path, capsys):
    out = tmp_path / "letters.pdf"
    code = main(["--db", practice_db, "letters", "--measure", COLON, "--as-of", "2024-03-01", "--language", "es",
                 "--out", str(out), "--no-log", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["letters"]["letters"] == 1 and summary["letters"]["languages"] == {"es": 1}
    assert summary["left_out"] == {"letters not in es": 2} and summary["logged"] == 0
    assert _log_rows(practice_db) == []
    code = main(["--db", practice_db, "letters", "--measure", COLON, "--as-of", "2024-03-01", "--provider", "P2",
                 "--one-per-gap", "--out", str(out), "--no-log", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["patients"] == 1 and summary["letters"]["no_address"][0][1] == "A3"


def test_calibration_page_on_its_own(practice_db, tmp_path, capsys):
    out = tmp_path / "calibration.pdf"
    assert main(["--db", practice_db, "letters", "--calibration-page", str(out)]) == 0
    assert "Envelope window check" in PdfReader(str(out)).pages[0].extract_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["letters", "--out", "x.pdf"], "give --measure ID"),
        (["letters", "--measure", COLON], "give --out FILE.pdf"),
        (["letters", "--measure", "flossing", "--out", "x.pdf"], "unknown measure 'flossing'"),
        (["letters", "--measure", COLON, "--out", "x.docx"], "give a .pdf file name"),
        (["letters", "--measure", COLON, "--language", "fr", "--out", "x.pdf"], "letters exist in en, es"),
        (["huddle", "--date", DAY, "--provider", "Nobody", "--out", "x.pdf"], "no provider"),
        (["outreach-log", "ZZZ", "--method", "call"], "no patient with MRN 'ZZZ'"),
        (["outreach-log", "A1", "--method", "call", "--measure", "flossing"], "unknown measure"),
        (["outreach-log", "A1", "--method", "call", "--when", "yesterday"], "--when 'yesterday'"),
    ],
)
def test_mistakes_are_messages_not_tracebacks(practice_db, tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(["--db", practice_db, *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_outreach_log_and_the_effectiveness_report(practice_db, capsys):
    code = main(["--db", practice_db, "outreach-log", "A1", "--method", "call", "--outcome", "scheduled",
                 "--measure", COLON, "--note", "booked FIT kit", "--when", "2024-01-10T10:30"])
    assert code == 0
    assert "Logged call about colorectal-cancer-screening: scheduled for MRN A1" in capsys.readouterr().out
    [row] = _log_rows(practice_db)
    assert (row.method, row.outcome, row.note, row.logged_at) == ("call", "scheduled", "booked FIT kit",
                                                                  dt.datetime(2024, 1, 10, 10, 30))
    registry = open_registry(practice_db, create=True)
    with registry.session() as session:
        session.add(m.Procedure(patient_id=1, source="t", natural_key=2, date=dt.datetime(2024, 2, 1),
                                code_system="SNOMED", code="73761001", description="Colonoscopy"))
    registry.close()
    assert main(["--db", practice_db, "outreach-report", "--as-of", "2024-06-01", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == [{"method": "call", "measure": COLON, "measure_title": "Colorectal cancer screening",
                               "contacted": 1, "closed": 1, "not_closed": 0, "pending": 0, "closed_rate": 1.0}]
    assert main(["--db", practice_db, "outreach-report", "--as-of", "2024-06-01"]) == 0
    assert "100%" in capsys.readouterr().out


def test_panel_list_prints_a_providers_panel(practice_db, tmp_path, capsys):
    registry = open_registry(practice_db, create=True)
    with registry.session() as session:
        now = dt.datetime(2024, 1, 1)
        for pid in (1, 2):
            session.add(m.Assignment(patient_id=pid, provider_id=1, cut="1", reason="only provider seen",
                                     assigned_on=now.date(), assigned_at=now))
        assert session.scalar(select(func.count()).select_from(m.Assignment)) == 2
    registry.close()
    out = tmp_path / "panel.pdf"
    assert main(["--db", practice_db, "panel-list", "--provider", "Alvarez", "--as-of", DAY, "--out", str(out)]) == 0
    assert "Ana Alvarez, MD: 2 patients" in capsys.readouterr().out
    text = PdfReader(str(out)).pages[0].extract_text()
    assert "Adams, Olga" in text and "Díaz, Rosa" in text and "Not mine" in text


def test_outreach_log_withdraws_a_mailing_logged_by_mistake(practice_db, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LOGNAME", "maria")  # no accounts on this registry: the computer login acts
    letters = tmp_path / "letters.pdf"
    assert main(["--db", practice_db, "letters", "--measure", COLON, "--as-of", "2024-03-01", "--out", str(letters)]) == 0
    batch = capsys.readouterr().out.split("(batch ")[1].split(")")[0]
    monkeypatch.setenv("LOGNAME", "joe")
    assert main(["--db", practice_db, "outreach-log", "--withdraw", batch,
                 "--when", "2024-03-01T15:00"]) != 0
    assert "only they can withdraw it" in capsys.readouterr().err
    monkeypatch.setenv("LOGNAME", "maria")
    assert main(["--db", practice_db, "outreach-log", "--withdraw", batch,
                 "--when", "2024-03-01T15:00"]) == 0
    assert f"Withdrew batch {batch}: 2 outreach entries for 2 patients" in capsys.readouterr().out
    assert len(_log_rows(practice_db)) == 2  # kept, marked withdrawn
    again = tmp_path / "again.pdf"
    assert main(["--db", practice_db, "letters", "--measure", COLON, "--as-of", "2024-03-01", "--out", str(again)]) == 0
    assert "contacted in the last" not in capsys.readouterr().out
