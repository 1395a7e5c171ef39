"""Measures follow the eCQM versions their files cite (issue 9, items 8-10), on hand-built patients.

CMS165v12: dialysis and kidney transplant exclude (as procedures or on the problem list),
and readings from an ED visit or an inpatient stay do not count. CMS2v13: bipolar
disorder excludes. CMS122v12: a GMI counts like an HbA1c. As of 2024-03-15.
"""

from __future__ import annotations

import datetime as dt

import pytest
from test_measures_support import Practice, statuses

HYPERTENSION = "59621000"
DIABETES = "44054006"
SYSTOLIC = "8480-6"
DIASTOLIC = "8462-4"


@pytest.fixture
def practice(fresh_registry) -> Practice:
    return Practice(fresh_registry)


def _hypertensive(practice: Practice, mrn: str) -> int:
    patient = practice.patient(mrn, dob=dt.date(1960, 1, 1), sex="M")
    practice.condition(patient, dt.date(2010, 1, 1), HYPERTENSION)
    return patient


def _bp(practice: Practice, patient: int, when, systolic, diastolic, visit: int | None = None) -> None:
    practice.observation(patient, when, SYSTOLIC, value=systolic, visit=visit)
    practice.observation(patient, when, DIASTOLIC, value=diastolic, visit=visit)


# --------------------------------------------------------------------------- item 8: CMS165


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("procedure", "265764009"),  # renal dialysis (Synthea procedures.csv)
        ("procedure", "302497006"),  # hemodialysis
        ("procedure", "90935"),  # hemodialysis billed (CPT)
        ("procedure", "70536003"),  # kidney transplant
        ("procedure", "711446003"),  # transplantation of kidney (regime/therapy)
        ("condition", "161665007"),  # history of renal transplant (Synthea conditions.csv)
        ("condition", "Z94.0"),  # kidney transplant status
        ("condition", "Z99.2"),  # dependence on dialysis
    ],
)
def test_dialysis_or_kidney_transplant_excludes_from_blood_pressure_control(practice, kind, code):
    patient = _hypertensive(practice, "on-dialysis")
    _bp(practice, patient, dt.date(2024, 1, 10), 162, 95)  # uncontrolled: would be an open gap
    control = _hypertensive(practice, "control")
    _bp(practice, control, dt.date(2024, 1, 10), 162, 95)
    if kind == "procedure":
        for day in range(0, 60, 3):  # thrice-weekly treatments, as Synthea writes them
            practice.procedure(patient, dt.date(2023, 6, 1) + dt.timedelta(days=day), code)
    else:
        practice.condition(patient, dt.date(2015, 5, 1), code, system="ICD10CM" if "." in code else "SNOMED")
    result = statuses(practice.registry, "controlling-bp")
    assert result["on-dialysis"]["status"] == "excluded"
    assert result["control"]["status"] == "open"


def test_readings_taken_in_the_ed_or_hospital_do_not_count(practice):
    clinic_then_ed = _hypertensive(practice, "clinic-then-ed")
    _bp(practice, clinic_then_ed, dt.date(2023, 11, 1), 128, 78)  # controlled in the office
    ed = practice.visit(clinic_then_ed, dt.date(2024, 2, 1), "emergency")
    _bp(practice, clinic_then_ed, dt.date(2024, 2, 1), 182, 104, visit=ed)  # high in the ED: not counted
    only_inpatient = _hypertensive(practice, "only-inpatient")
    stay = practice.visit(only_inpatient, dt.date(2024, 1, 5), "inpatient")
    _bp(practice, only_inpatient, dt.date(2024, 1, 5), 118, 70, visit=stay)  # low in hospital: not counted
    office = _hypertensive(practice, "office")
    visit = practice.visit(office, dt.date(2024, 2, 1), "ambulatory")
    _bp(practice, office, dt.date(2024, 2, 1), 150, 80, visit=visit)
    result = statuses(practice.registry, "controlling-bp")
    assert result["clinic-then-ed"]["status"] == "met"
    assert result["clinic-then-ed"]["last_date"] == dt.date(2023, 11, 1)
    assert result["clinic-then-ed"]["last_value"] == "128/78"
    assert result["only-inpatient"]["status"] == "open"
    assert result["only-inpatient"]["last_date"] is None
    assert result["office"]["status"] == "open"
    assert result["office"]["last_value"] == "150/80"


def test_ed_and_hospital_readings_do_not_count_when_few_patients_are_hypertensive(practice):
    """The same rule when the hypertensive are a minority: only their readings are then read."""
    for i in range(6):  # not hypertensive: they make the measure's patients a small share
        other = practice.patient(f"other-{i}", dob=dt.date(1970, 1, 1), sex="F")
        er = practice.visit(other, dt.date(2024, 1, 20), "emergency")
        _bp(practice, other, dt.date(2024, 1, 20), 190, 110, visit=er)
    clinic_then_ed = _hypertensive(practice, "clinic-then-ed")
    _bp(practice, clinic_then_ed, dt.date(2023, 11, 1), 128, 78)
    ed = practice.visit(clinic_then_ed, dt.date(2024, 2, 1), "emergency")
    _bp(practice, clinic_then_ed, dt.date(2024, 2, 1), 182, 104, visit=ed)
    only_inpatient = _hypertensive(practice, "only-inpatient")
    stay = practice.visit(only_inpatient, dt.date(2024, 1, 5), "inpatient")
    _bp(practice, only_inpatient, dt.date(2024, 1, 5), 118, 70, visit=stay)
    result = statuses(practice.registry, "controlling-bp")
    assert set(result) == {"clinic-then-ed", "only-inpatient"}
    assert result["clinic-then-ed"]["status"] == "met"
    assert result["clinic-then-ed"]["last_value"] == "128/78"
    assert result["only-inpatient"]["status"] == "open"
    assert result["only-inpatient"]["last_date"] is None


# --------------------------------------------------------------------------- item 9: CMS2v13


@pytest.mark.parametrize(("code", "system"), [("F31.81", "ICD10CM"), ("13746004", "SNOMED"), ("371596008", "SNOMED")])
def test_bipolar_disorder_excludes_from_depression_screening(practice, code, system):
    bipolar = practice.patient("bipolar", dob=dt.date(1990, 1, 1))
    practice.condition(bipolar, dt.date(2023, 6, 1), code, system=system)
    practice.patient("unscreened", dob=dt.date(1990, 1, 1))
    result = statuses(practice.registry, "depression-screening")
    assert result["bipolar"]["status"] == "excluded"
    assert result["unscreened"]["status"] == "open"


# --------------------------------------------------------------------------- item 10: CMS122v12 GMI


def test_a_gmi_counts_as_the_most_recent_a1c(practice):
    cgm = practice.patient("cgm", dob=dt.date(1970, 1, 1), sex="M")
    practice.condition(cgm, dt.date(2015, 1, 1), DIABETES)
    practice.observation(cgm, dt.date(2023, 5, 1), "4548-4", value=10.2)
    practice.observation(cgm, dt.date(2024, 1, 20), "97506-0", value=7.4)  # GMI from the sensor
    result = statuses(practice.registry, "diabetes-a1c-poor-control")
    assert result["cgm"]["status"] == "met"
    assert result["cgm"]["last_code"] == "97506-0"
    assert result["cgm"]["last_value"] == "7.4"
