"""Risk stratification: tiers from conditions, hospital use, control and age; overrides with reasons."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from test_measures_support import AS_OF, Practice, years_before

from panelmanager.core import models
from panelmanager.core.resources import ResourceError, resources_dir
from panelmanager.core.risk import compute_risk, current_tiers, load_risk_rules, override_risk_tier


@pytest.fixture
def practice(fresh_registry) -> Practice:
    return Practice(fresh_registry)


def _tiers(registry, **kwargs) -> dict[str, dict]:
    with registry.session() as session:
        frame = compute_risk(session, AS_OF, **kwargs)
    return {row["mrn"]: row for row in frame.to_dict(orient="records")}


def test_rules_load_and_cite_their_approach():
    rules = load_risk_rules()
    assert [t for t, _label, _min in rules.tiers] == [1, 2, 3, 4]
    assert rules.tier_label(4) == "Complex"
    assert {g.label for g in rules.conditions} >= {"diabetes", "hypertension", "heart failure"}


def test_healthy_patient_is_tier_1(practice):
    practice.patient("healthy", dob=dt.date(1990, 1, 1))
    row = _tiers(practice.registry)["healthy"]
    assert (row["score"], row["computed_tier"], row["tier"]) == (0, 1, 1)
    assert row["reasons"] == "no risk factors on record"


def test_several_chronic_conditions_make_a_complex_patient(practice):
    patient = practice.patient("complex", dob=dt.date(1960, 1, 1))
    for code in ("44054006", "59621000", "431857002", "88805009"):  # diabetes, HTN, CKD 4, heart failure
        practice.condition(patient, dt.date(2015, 1, 1), code)
    row = _tiers(practice.registry)["complex"]
    # 2 + 1 + 2 + 3 points, plus 2 for four condition groups.
    assert row["score"] == 10
    assert row["computed_tier"] == 4
    assert row["reasons"].startswith("chronic conditions: diabetes, hypertension, heart failure, kidney disease")


def test_resolved_conditions_do_not_count(practice):
    patient = practice.patient("recovered", dob=dt.date(1960, 1, 1))
    practice.condition(patient, dt.date(2015, 1, 1), "35489007", resolved=dt.date(2019, 1, 1))
    assert _tiers(practice.registry)["recovered"]["score"] == 0


def test_emergency_and_hospital_use_in_the_last_12_months(practice):
    patient = practice.patient("frequent", dob=dt.date(1980, 1, 1))
    for day in (dt.date(2023, 6, 1), dt.date(2023, 9, 1), dt.date(2024, 1, 1), dt.date(2024, 2, 1)):
        practice.visit(patient, day, "emergency")
    practice.visit(patient, dt.date(2022, 1, 1), "emergency")  # too long ago
    practice.visit(patient, dt.date(2023, 10, 1), "inpatient")
    row = _tiers(practice.registry)["frequent"]
    assert row["score"] == 3 + 2  # four ED visits capped at 3 points, one stay
    assert row["computed_tier"] == 3
    assert "4 emergency visit(s)" in row["reasons"] and "1 hospital stay(s)" in row["reasons"]


def test_uncontrolled_a1c_and_blood_pressure_add_points(practice):
    patient = practice.patient("uncontrolled", dob=dt.date(1970, 1, 1))
    practice.condition(patient, dt.date(2015, 1, 1), "44054006")
    practice.condition(patient, dt.date(2015, 1, 1), "59621000")
    practice.observation(patient, dt.date(2024, 1, 10), "4548-4", value="10.4")
    practice.observation(patient, dt.date(2024, 1, 10), "8480-6", value=162)
    practice.observation(patient, dt.date(2024, 1, 10), "8462-4", value=94)
    untested = practice.patient("untested", dob=dt.date(1970, 1, 1))
    practice.condition(untested, dt.date(2015, 1, 1), "44054006")
    result = _tiers(practice.registry)
    row = result["uncontrolled"]
    assert row["score"] == 2 + 1 + 2 + 1
    assert "HbA1c above 9% (10.4)" in row["reasons"]
    assert "blood pressure not below 140/90 (162/94)" in row["reasons"]
    assert result["untested"]["score"] == 2  # no result is a care gap, not uncontrolled disease


@pytest.mark.parametrize(("age", "points"), [(64, 0), (65, 1), (79, 1), (80, 2)])
def test_age_bands(practice, age, points):
    practice.patient("p", dob=years_before(AS_OF, age))
    assert _tiers(practice.registry)["p"]["score"] == points


def test_override_keeps_the_computed_tier_and_the_reason(practice, fresh_registry):
    patient = practice.patient("p", dob=dt.date(1990, 1, 1))
    with fresh_registry.session() as session:
        done = override_risk_tier(session, patient, 3, "Recent hospital discharge, lives alone", "nurse.kim")
    assert (done.tier, done.previous_override) == (3, None)
    with fresh_registry.session() as session:
        row = current_tiers(session, AS_OF).set_index("mrn").loc["p"]
    assert (row["computed_tier"], row["override_tier"], row["tier"]) == (1, 3, 3)
    assert (row["override_reason"], row["override_user"]) == ("Recent hospital discharge, lives alone", "nurse.kim")
    # A second override replaces the first; both stay on record.
    with fresh_registry.session() as session:
        again = override_risk_tier(session, patient, 2, "Stable after follow-up", "dr.lee")
        assert again.previous_override == 3
        history = session.execute(select(models.RiskOverride.tier, models.RiskOverride.active)).all()
    assert sorted(history) == [(2, True), (3, False)]


def test_clearing_an_override_returns_to_the_computed_tier(practice, fresh_registry):
    patient = practice.patient("p", dob=dt.date(1990, 1, 1))
    with fresh_registry.session() as session:
        override_risk_tier(session, patient, 4, "Complex social needs", "dr.lee")
        override_risk_tier(session, patient, None, "Resolved", "dr.lee")
        row = current_tiers(session, AS_OF).set_index("mrn").loc["p"]
    assert row["tier"] == 1 and row["override_tier"] is pd.NA


@pytest.mark.parametrize(("tier", "reason", "message"), [(5, "x", "1, 2, 3 or 4"), (2, "  ", "reason")])
def test_override_needs_a_tier_and_a_reason(practice, fresh_registry, tier, reason, message):
    patient = practice.patient("p", dob=dt.date(1990, 1, 1))
    with fresh_registry.session() as session, pytest.raises(ValueError, match=message):
        override_risk_tier(session, patient, tier, reason, "u")


def test_scores_are_cached_and_recomputed_when_the_registry_changes(practice, fresh_registry):
    patient = practice.patient("p", dob=dt.date(1960, 1, 1))
    with fresh_registry.session() as session:
        assert current_tiers(session, AS_OF, refresh=False).empty  # nothing computed yet
        assert current_tiers(session, AS_OF).set_index("mrn").loc["p", "score"] == 0
        assert len(current_tiers(session, AS_OF, refresh=False)) == 1
    practice.condition(patient, dt.date(2020, 1, 1), "88805009")
    with fresh_registry.session() as session:
        assert current_tiers(session, AS_OF).set_index("mrn").loc["p", "score"] == 3


def test_broken_rules_name_the_file_and_key(tmp_path: Path):
    target = tmp_path / "resources"
    shutil.copytree(resources_dir() / "valuesets", target / "valuesets")
    shutil.copytree(resources_dir() / "measures", target / "measures")
    text = (resources_dir() / "risk_tiers.toml").read_text().replace('valueset = "heart-failure"', 'valueset = "hf"')
    (target / "risk_tiers.toml").write_text(text)
    with pytest.raises(ResourceError, match=r"risk_tiers.toml: key 'conditions\[4\].valueset'"):
        load_risk_rules(target)


def test_rules_are_data(practice, tmp_path: Path):
    target = tmp_path / "resources"
    shutil.copytree(resources_dir() / "valuesets", target / "valuesets")
    shutil.copytree(resources_dir() / "measures", target / "measures")
    text = (resources_dir() / "risk_tiers.toml").read_text().replace("at_least = 65\npoints = 1", "at_least = 65\npoints = 5")
    (target / "risk_tiers.toml").write_text(text)
    practice.patient("p", dob=years_before(AS_OF, 70))
    row = _tiers(practice.registry, resources_dir=target)["p"]
    assert (row["score"], row["computed_tier"]) == (5, 3)
