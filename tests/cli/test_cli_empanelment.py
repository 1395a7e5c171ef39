"""The empanelment commands: assign, review, confirm, reassign, history, panels, milestone,
inactivate and export-assignments, run in-process against a small registry."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest

from panelmanager.cli import main
from panelmanager.core import models as m
from panelmanager.core.db import open_registry


@pytest.fixture
def db(tmp_path):
    """Dr. Lee (NPI 1234567893) and Dr. Park; patients A (Lee), B (Park, cut 2), C (no visit), D (died)."""
    path = tmp_path / "registry.sqlite3"
    registry = open_registry(path, create=True)
    with registry.session() as s:
        lee = m.Provider(source="pm", external_id="LEE", npi="1234567893", display_name="Dr. Ann Lee", specialty="Family Medicine")
        park = m.Provider(source="pm", external_id="PARK", display_name="Dr. Bo Park", specialty="Pediatrics")
        s.add_all([lee, park])
        s.flush()
        patients = {}
        for mrn, dob, sex in (("A", "1990-03-01", "F"), ("B", "2015-06-01", "M"), ("C", "1980-01-01", "F"), ("D", "1940-01-01", "M")):
            p = m.Patient(mrn=mrn, source="pm", first_name="Pat", last_name=f"Person{mrn}", dob=dt.date.fromisoformat(dob), sex=sex)
            s.add(p)
            s.flush()
            patients[mrn] = p.id
        s.get(m.Patient, patients["D"]).deceased_date = dt.date(2024, 1, 1)
        visits = [
            ("A", lee, "2024-01-10", "ambulatory"),
            ("A", lee, "2024-05-10", "wellness"),
            ("B", park, "2024-02-01", "wellness"),
            ("B", park, "2024-04-01", "ambulatory"),
            ("B", lee, "2024-06-01", "ambulatory"),
            ("D", lee, "2023-06-01", "ambulatory"),
        ]
        for n, (mrn, provider, day, klass) in enumerate(visits):
            s.add(
                m.Visit(
                    patient_id=patients[mrn], provider_id=provider.id, source="pm", external_id=f"v{n}",
                    start=dt.datetime.fromisoformat(day + "T09:30"), visit_class=klass, status="completed",
                )
            )
    registry.close()
    return str(path)


def run_json(capsys, *args):
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_assign_json_lists_every_patient_with_provider_cut_and_reason(db, capsys):
    rows = run_json(capsys, "--db", db, "assign", "--as-of", "2024-11-01", "--json")
    by_mrn = {r["patient"]: r for r in rows}
    assert set(by_mrn) == {"A", "B", "C"}
    assert by_mrn["A"] == {
        "patient": "A", "provider": "LEE", "provider_name": "Dr. Ann Lee", "cut": 1,
        "reason": "2 of 2 visits with Dr. Ann Lee since 2023-05-01", "change": "new",
        "current_provider": None, "proposed_provider": None,
    }
    assert (by_mrn["B"]["provider"], by_mrn["B"]["cut"], by_mrn["B"]["reason"]) == (
        "PARK", 2, "2 of 3 visits with Dr. Bo Park since 2023-05-01",
    )
    assert (by_mrn["C"]["provider"], by_mrn["C"]["cut"], by_mrn["C"]["change"]) == (None, None, "unassigned")


def test_assign_without_apply_changes_nothing_and_apply_accepts_all(db, capsys, monkeypatch):
    monkeypatch.setenv("LOGNAME", "mgr")  # no accounts on this registry: the computer login acts
    assert main(["--db", db, "assign", "--as-of", "2024-11-01"]) == 0
    out = capsys.readouterr().out
    assert "new assignments          2" in out
    assert "Nothing changed yet. Accept with: panelmanager review 1 --accept-all" in out
    assert run_json(capsys, "--db", db, "panels", "--as-of", "2024-11-01", "--json")[0]["assigned"] == 0

    assert main(["--db", db, "assign", "--as-of", "2024-11-01", "--apply"]) == 0
    assert "Accepted: 2 applied" in capsys.readouterr().out
    again = run_json(capsys, "--db", db, "assign", "--as-of", "2024-11-01", "--json")
    assert {r["patient"]: r["change"] for r in again} == {"A": "unchanged", "B": "unchanged", "C": "unassigned"}
    history = run_json(capsys, "--db", db, "history", "A", "--json")
    assert [(h["from_provider"], h["to_provider"], h["user"]) for h in history] == [(None, "LEE", "mgr")]


def test_review_command_accepts_items_one_by_one(db, capsys):
    main(["--db", db, "assign", "--as-of", "2024-11-01"])
    capsys.readouterr()
    listing = run_json(capsys, "--db", db, "review", "--json")
    items = {i["mrn"]: i for i in listing["items"]}
    assert listing["review"]["status"] == "open"
    assert (items["A"]["kind"], items["A"]["new_provider"], items["C"]["kind"]) == ("new", "LEE", "unassigned")
    result = run_json(capsys, "--db", db, "review", "1", "--accept", str(items["A"]["id"]), "--json")
    assert result["decision"]["accepted"] == 1
    assert result["review"]["status"] == "open"  # B is still pending
    result = run_json(capsys, "--db", db, "review", "1", "--reject-all", "--json")
    assert (result["decision"]["rejected"], result["review"]["status"]) == (1, "partly")


def test_confirm_by_patient_and_provider_and_milestone(db, capsys):
    main(["--db", db, "assign", "--as-of", "2024-11-01", "--apply"])
    capsys.readouterr()
    assert main(["--db", db, "confirm", "A", "--by", "patient", "--method", "check-in", "--as-of", "2024-10-01"]) == 0
    assert capsys.readouterr().out.strip() == "Patient A: confirmed by the patient."
    assert main(["--db", db, "confirm", "A", "--by", "provider", "--provider", "1234567893", "--method", "panel-list"]) == 0
    assert "confirmed by the provider" in capsys.readouterr().out
    changed = run_json(
        capsys, "--db", db, "confirm", "B", "--by", "patient", "--outcome", "changed", "--provider", "LEE",
        "--method", "phone", "--as-of", "2024-10-02", "--json",
    )
    assert changed["assignment_changed"] is True
    history = run_json(capsys, "--db", db, "history", "B", "--json")
    assert history[-1]["to_provider"] == "LEE" and history[-1]["reason"].startswith("Patient's preference, recorded 2024-10-02 (phone)")

    report = run_json(capsys, "--db", db, "milestone", "--as-of", "2024-11-01", "--json")
    assert report["level"] == 2  # C is active and on no panel
    assert report["figures"]["active_patients"] == 3 and report["figures"]["assigned"] == 2
    assert report["missing"][0].startswith("Assign at least 95.0% of active patients")


def test_confirm_errors_are_messages(db, capsys):
    assert main(["--db", db, "confirm", "ZZZ", "--by", "patient"]) == 1
    assert "There is no patient with MRN 'ZZZ'" in capsys.readouterr().err
    assert main(["--db", db, "confirm", "C", "--by", "patient"]) == 1
    assert "is on no panel" in capsys.readouterr().err
    assert main(["--db", db, "reassign", "C", "--provider", "NOBODY", "--reason", "x"]) == 1
    assert "There is no provider with id or NPI 'NOBODY'" in capsys.readouterr().err


def test_panels_json_has_sizes_targets_and_open_flag(db, capsys):
    main(["--db", db, "assign", "--as-of", "2024-11-01", "--apply"])
    capsys.readouterr()
    rows = {r["provider"]: r for r in run_json(capsys, "--db", db, "panels", "--as-of", "2024-11-01", "--json")}
    lee = rows["LEE"]
    for key in ("provider", "assigned", "weighted", "target", "percent_of_target", "open", "risk_weighted", "continuity"):
        assert key in lee
    # 5 primary-care visits by 2 assigned patients in the last 12 months: 2.5 a year; 20/day x 184 days / 2.5
    assert (lee["assigned"], lee["target"], lee["open"]) == (1, 1472, True)
    assert lee["percent_of_target"] == round(100 * lee["weighted"] / 1472, 1)
    assert rows["PARK"]["continuity"] == pytest.approx(2 / 3, abs=0.001)
    visitors = run_json(capsys, "--db", db, "panels", "--as-of", "2024-11-01", "--unassigned", "--json")
    assert visitors == []
    assert main(["--db", db, "panels", "--as-of", "2024-11-01"]) == 0
    assert "Dr. Ann Lee" in capsys.readouterr().out


def test_reassign_inactivate_and_export(db, tmp_path, capsys):
    main(["--db", db, "assign", "--as-of", "2024-11-01", "--apply"])
    capsys.readouterr()
    assert main(["--db", db, "reassign", "C", "--provider", "PARK", "--reason", "New patient chose Dr. Park", "--as-of", "2024-11-01"]) == 0
    assert capsys.readouterr().out.strip() == "Patient C: moved to Dr. Bo Park."
    suggestions = run_json(capsys, "--db", db, "inactivate", "--as-of", "2024-11-01", "--json")["suggestions"]
    assert [(s["mrn"], s["kind"]) for s in suggestions] == [("D", "deceased"), ("C", "not-seen")]
    result = run_json(capsys, "--db", db, "inactivate", "--as-of", "2024-11-01", "--apply", "--json")["result"]
    assert result == {"inactivated": 2, "dropped_from_panels": 1}

    confirm = ["--db", db, "confirm", "A", "--by", "patient", "--as-of", "2024-10-01"]
    assert main(confirm) == 0
    out = tmp_path / "assignments.csv"
    assert main(["--db", db, "export-assignments", "--out", str(out)]) == 0
    assert f"Wrote 2 patients to {out}" in capsys.readouterr().out
    with out.open(newline="", encoding="utf-8") as handle:
        rows = {r["mrn"]: r for r in csv.DictReader(handle)}
    assert rows["A"]["provider_npi"] == "1234567893"
    assert rows["A"]["provider_name"] == "Dr. Ann Lee"
    assert rows["A"]["status"] == "patient-confirmed"
    assert rows["A"]["patient_confirmed_on"] == "2024-10-01"
    assert rows["A"]["assigned_on"] == "2024-11-01"
    assert rows["B"]["provider_external_id"] == "PARK" and rows["B"]["provider_npi"] == ""
