"""panelmanager measures, gaps and risk: what a manager types and what comes back."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil

import pytest

from panelmanager.cli import main
from panelmanager.core import models
from panelmanager.core.db import open_registry


@pytest.fixture
def db(tmp_path):
    """A registry with two women of screening age (one screened) and a provider for each."""
    path = tmp_path / "r.sqlite3"
    registry = open_registry(path, create=True)
    with registry.session() as session:
        ann = models.Provider(source="test", external_id="p1", npi="1234567893", display_name="Ann Adams",
                              specialty="Family Medicine")
        bob = models.Provider(source="test", external_id="p2", display_name="Bob Brown", specialty="Family Medicine")
        screened = models.Patient(mrn="MRN-1", dob=dt.date(1960, 1, 1), sex="F", source="test")
        unscreened = models.Patient(mrn="MRN-2", dob=dt.date(1962, 1, 1), sex="F", source="test")
        session.add_all([ann, bob, screened, unscreened])
        session.flush()
        session.add_all(
            [
                models.Visit(patient_id=screened.id, provider_id=ann.id, source="test", external_id="v1",
                             start=dt.datetime(2023, 11, 1, 9), visit_class="wellness", status="completed"),
                models.Visit(patient_id=unscreened.id, provider_id=bob.id, source="test", external_id="v2",
                             start=dt.datetime(2023, 12, 1, 9), visit_class="ambulatory", status="completed"),
                models.Procedure(patient_id=screened.id, source="test", natural_key=1,
                                 date=dt.datetime(2023, 11, 1, 9), code_system="CPT", code="77067"),
                models.Observation(patient_id=unscreened.id, source="test", natural_key=2,
                                   date=dt.datetime(2023, 12, 1, 9), code_system="LOINC", code="4548-4",
                                   value="6.1", value_num=6.1),
            ]
        )
    registry.close()
    return str(path)


def _csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_measures_lists_ids_and_sources(capsys):
    assert main(["measures"]) == 0
    out = capsys.readouterr().out
    assert "colorectal-cancer-screening" in out and "CMS130v12" in out
    assert "diabetes-a1c-poor-control" in out and "inverse" in out


def test_measures_json(capsys):
    assert main(["measures", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_id = {m["id"]: m for m in data["measures"]}
    assert by_id["controlling-bp"]["ecqm"] == "CMS165"
    assert by_id["pneumococcal-65"]["guideline"]
    assert data["errors"] == []


def test_measures_reports_a_broken_file_and_lists_the_rest(tmp_path, monkeypatch, capsys):
    from panelmanager.core.resources import resources_dir

    target = tmp_path / "resources"
    for folder in ("measures", "valuesets"):
        shutil.copytree(resources_dir() / folder, target / folder)
    path = target / "measures" / "tobacco-screening.toml"
    path.write_text(path.read_text().replace("age_min = 18", "age_minimum = 18"))
    monkeypatch.setenv("PANELMANAGER_RESOURCES", str(target))
    assert main(["measures"]) == 1
    captured = capsys.readouterr()
    assert "tobacco-screening.toml" in captured.err and "eligible.age_minimum" in captured.err
    assert "colorectal-cancer-screening" in captured.out and "tobacco-screening" not in captured.out


def test_gaps_csv_has_one_row_per_patient_and_measure(db, capsys):
    assert main(["--db", db, "gaps", "--as-of", "2024-03-15", "--measure", "breast-cancer-screening"]) == 0
    rows = _csv(capsys.readouterr().out)
    assert [r["patient"] for r in rows] == ["MRN-2", "MRN-1"]  # open before met
    assert set(rows[0]) >= {"patient", "measure", "status", "due_date", "last_date", "last_value"}
    assert (rows[0]["status"], rows[0]["due_date"], rows[0]["last_date"]) == ("open", "2024-03-15", "")
    assert (rows[1]["status"], rows[1]["due_date"], rows[1]["last_date"]) == ("met", "2026-02-01", "2023-11-01")
    assert rows[1]["provider"] == "Ann Adams (proposed)"  # no panel review accepted yet: the 4-cut proposal


def test_gaps_filters_status_and_provider(db, capsys):
    assert main(["--db", db, "gaps", "--as-of", "2024-03-15", "--status", "open,due-soon", "--provider", "Bob"]) == 0
    rows = _csv(capsys.readouterr().out)
    assert rows and {r["patient"] for r in rows} == {"MRN-2"}
    assert {r["status"] for r in rows} <= {"open", "due-soon"}
    assert main(["--db", db, "gaps", "--as-of", "2024-03-15", "--provider", "1234567893", "--status", "met"]) == 0
    assert {r["patient"] for r in _csv(capsys.readouterr().out)} == {"MRN-1"}


def test_gaps_json(db, capsys):
    assert main(["--db", db, "gaps", "--as-of", "2024-03-15", "--format", "json", "--measure", "breast-cancer-screening"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["as_of"] == "2024-03-15"
    by_patient = {r["patient"]: r for r in data["rows"]}
    assert by_patient["MRN-1"]["last_code"] == "77067"
    assert by_patient["MRN-2"]["last_date"] is None


def test_gaps_refuses_unknown_measure_and_status(db, capsys):
    assert main(["--db", db, "gaps", "--measure", "colon"]) == 1
    assert "--measure 'colon': no such measure" in capsys.readouterr().err
    assert main(["--db", db, "gaps", "--status", "late"]) == 1
    assert "--status 'late'" in capsys.readouterr().err
    assert main(["--db", db, "gaps", "--provider", "Zed"]) == 1
    assert "no provider" in capsys.readouterr().err


def test_risk_summary_list_and_override(db, capsys):
    assert main(["--db", db, "risk", "--as-of", "2024-03-15"]) == 0
    out = capsys.readouterr().out
    assert "2 active patients" in out and "tier 1" in out
    assert main(["--db", db, "risk", "--override", "MRN-2", "3", "--reason", "Caregiver crisis"]) == 0
    assert "MRN-2 now uses tier 3" in capsys.readouterr().out
    assert main(["--db", db, "risk", "--as-of", "2024-03-15", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["overrides"] == 1 and data["tiers"]["3"] == 1
    row = next(r for r in data["rows"] if r["patient"] == "MRN-2")
    assert (row["computed_tier"], row["tier"], row["override_reason"]) == (1, 3, "Caregiver crisis")
    assert main(["--db", db, "risk", "--as-of", "2024-03-15", "--list", "--tier", "3"]) == 0
    listed = capsys.readouterr().out
    assert "MRN-2" in listed and "override of 1: Caregiver crisis" in listed and "MRN-1" not in listed


def test_risk_override_needs_a_reason_and_a_known_patient(db, capsys):
    assert main(["--db", db, "risk", "--override", "MRN-2", "3"]) == 1
    assert "--reason" in capsys.readouterr().err
    assert main(["--db", db, "risk", "--override", "NOPE", "3", "--reason", "x"]) == 1
    assert "no patient with MRN 'NOPE'" in capsys.readouterr().err


@pytest.mark.shared_data
def test_gaps_on_the_synthea_sample(synthea_small, tmp_path, capsys):
    db = str(tmp_path / "s.sqlite3")
    from panelmanager.core.importers import run_import

    registry = open_registry(db, create=True)
    assert run_import(registry, [synthea_small], write_rejects=False)[0].ok
    registry.close()
    assert main(["--db", db, "gaps", "--as-of", "2024-02-03", "--measure", "controlling-bp", "--status", "open"]) == 0
    rows = _csv(capsys.readouterr().out)
    assert [(r["patient"], r["last_value"]) for r in rows] == [("5a595dfb-9ecf-d4ac-2893-b3e1ced04951", "148/113")]


def test_gaps_say_when_a_measures_source_data_is_absent(db, capsys):
    # Issue 9 item 11: no tobacco screening observations were imported at all.
    assert main(["--db", db, "gaps", "--as-of", "2024-03-15", "--measure", "tobacco-screening"]) == 0
    captured = capsys.readouterr()
    rows = _csv(captured.out)
    assert rows and {r["finding"] for r in rows} == {"source data absent"}
    assert "Tobacco use screening: source data absent" in captured.err
    assert main(["--db", db, "gaps", "--as-of", "2024-03-15", "--measure", "breast-cancer-screening", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {r["finding"] for r in data["rows"]} == {"open", "met"}
    assert "tobacco-screening" in data["source_data_absent"]


def test_gaps_speak_staff_terms_for_a1c(db, capsys):
    # Issue 9 item 10: MRN-2's A1c of 6.1 is "A1c under control", not "met" under "poor control".
    from panelmanager.core.db import open_registry

    registry = open_registry(db)
    with registry.session() as session:
        patient_id = session.query(models.Patient.id).filter(models.Patient.mrn == "MRN-2").scalar()
        session.add(models.Condition(patient_id=patient_id, source="test", natural_key=9, code_system="SNOMED",
                                     code="44054006", onset=dt.date(2015, 1, 1)))
    registry.close()
    assert main(["--db", db, "gaps", "--as-of", "2024-03-15", "--measure", "diabetes-a1c-poor-control"]) == 0
    rows = _csv(capsys.readouterr().out)
    assert [(r["patient"], r["status"], r["finding"]) for r in rows] == [("MRN-2", "met", "A1c under control")]
