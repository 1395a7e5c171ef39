"""Chronic disease gaps on hand-built patients: HbA1c poor control (CMS122, inverse),
controlling blood pressure (CMS165) and statin therapy (CMS347). As of 2024-03-15."""

from __future__ import annotations

import datetime as dt

import pytest
from test_measures_support import AS_OF, Practice, months_before, statuses, years_before

from panelmanager.core.measures import measure_rates

DIABETES = "44054006"
HYPERTENSION = "59621000"


@pytest.fixture
def practice(fresh_registry) -> Practice:
    return Practice(fresh_registry)


def _diabetic(practice: Practice, mrn: str, dob=dt.date(1970, 1, 1)) -> int:
    patient = practice.patient(mrn, dob=dob)
    practice.condition(patient, dt.date(2015, 1, 1), DIABETES)
    return patient


# --------------------------------------------------------------------------- HbA1c


def test_a1c_measure_needs_an_active_diabetes_diagnosis_and_ages_18_to_75(practice):
    _diabetic(practice, "diabetic")
    _diabetic(practice, "turns-18-today", dob=years_before(AS_OF, 18))
    _diabetic(practice, "17", dob=years_before(AS_OF, 18) + dt.timedelta(days=1))
    _diabetic(practice, "76", dob=years_before(AS_OF, 76))
    practice.patient("no-diabetes", dob=dt.date(1970, 1, 1))
    resolved = practice.patient("resolved", dob=dt.date(1970, 1, 1))
    practice.condition(resolved, dt.date(2015, 1, 1), DIABETES, resolved=dt.date(2020, 1, 1))
    icd = practice.patient("icd-e11", dob=dt.date(1970, 1, 1))
    practice.condition(icd, dt.date(2015, 1, 1), "E11.65", system="ICD10CM")
    gestational = practice.patient("gestational", dob=dt.date(1990, 1, 1))
    practice.condition(gestational, dt.date(2024, 1, 1), "O24.410", system="ICD10CM")
    assert set(statuses(practice.registry, "diabetes-a1c-poor-control")) == {"diabetic", "turns-18-today", "icd-e11"}


@pytest.mark.parametrize(
    ("value", "expected", "shown"),
    [("7.2", "met", "7.2"), ("9.0", "met", "9"), ("9.1", "open", "9.1"), ("12", "open", "12")],
)
def test_a1c_above_9_percent_is_poor_control(practice, value, expected, shown):
    patient = _diabetic(practice, "p")
    practice.observation(patient, dt.date(2024, 1, 5), "4548-4", value=value)
    row = statuses(practice.registry, "diabetes-a1c-poor-control")["p"]
    assert row["status"] == expected
    assert row["last_value"] == shown
    assert row["due_date"] == (dt.date(2025, 1, 5) if expected == "met" else AS_OF)


def test_a1c_missing_or_without_a_result_is_poor_control(practice):
    _diabetic(practice, "never-tested")
    pending = _diabetic(practice, "no-result")
    practice.observation(pending, dt.date(2024, 2, 1), "4548-4", value="pending")
    result = statuses(practice.registry, "diabetes-a1c-poor-control")
    assert result["never-tested"]["status"] == "open"
    assert result["never-tested"]["last_date"] is None
    assert result["no-result"]["status"] == "open"
    assert result["no-result"]["last_date"] == dt.date(2024, 2, 1)


def test_only_the_most_recent_a1c_counts(practice):
    improved = _diabetic(practice, "improved")
    worse = _diabetic(practice, "worse")
    practice.observation(improved, dt.date(2023, 6, 1), "4548-4", value="10.5")
    practice.observation(improved, dt.date(2024, 1, 1), "4548-4", value="8.0")
    practice.observation(worse, dt.date(2023, 6, 1), "4548-4", value="7.0")
    practice.observation(worse, dt.date(2024, 1, 1), "4548-4", value="9.6")
    result = statuses(practice.registry, "diabetes-a1c-poor-control")
    assert (result["improved"]["status"], result["improved"]["last_value"]) == ("met", "8")
    assert (result["worse"]["status"], result["worse"]["last_value"]) == ("open", "9.6")


def test_a1c_look_back_is_12_months(practice):
    inside = _diabetic(practice, "inside")
    outside = _diabetic(practice, "outside")
    practice.observation(inside, months_before(AS_OF, 12), "4548-4", value="6.5")
    practice.observation(outside, months_before(AS_OF, 12) - dt.timedelta(days=1), "4548-4", value="6.5")
    result = statuses(practice.registry, "diabetes-a1c-poor-control")
    assert result["inside"]["status"] == "due-soon"
    assert result["outside"]["status"] == "open"
    # The lapsed result still shows, with the day the gap opened.
    assert result["outside"]["last_value"] == "6.5"
    assert result["outside"]["due_date"] == AS_OF - dt.timedelta(days=1)


def test_a1c_due_soon_when_the_next_test_is_due_within_60_days(practice):
    patient = _diabetic(practice, "p")
    practice.observation(patient, dt.date(2023, 4, 20), "4548-4", value="6.9")
    row = statuses(practice.registry, "diabetes-a1c-poor-control")["p"]
    assert (row["status"], row["due_date"]) == ("due-soon", dt.date(2024, 4, 20))


def test_inverse_measure_rate_counts_poor_control(practice, fresh_registry):
    good = _diabetic(practice, "good")
    practice.observation(good, dt.date(2023, 12, 1), "4548-4", value="7.0")
    poor = _diabetic(practice, "poor")
    practice.observation(poor, dt.date(2023, 12, 1), "4548-4", value="10.0")
    _diabetic(practice, "untested")
    with fresh_registry.session() as session:
        rates = measure_rates(session, AS_OF, by="practice").set_index("measure")
    a1c = rates.loc["diabetes-a1c-poor-control"]
    assert (a1c["numerator"], a1c["denominator"]) == (2, 3)
    assert a1c["rate"] == pytest.approx(2 / 3)
    assert bool(a1c["inverse"]) and not bool(a1c["higher_is_better"])


# --------------------------------------------------------------------------- blood pressure


def _hypertensive(practice: Practice, mrn: str, dob=dt.date(1960, 1, 1)) -> int:
    patient = practice.patient(mrn, dob=dob, sex="M")
    practice.condition(patient, dt.date(2010, 1, 1), HYPERTENSION)
    return patient


def _bp(practice: Practice, patient: int, when, systolic, diastolic) -> None:
    if systolic is not None:
        practice.observation(patient, when, "8480-6", value=systolic)
    if diastolic is not None:
        practice.observation(patient, when, "8462-4", value=diastolic)


def test_bp_measure_needs_hypertension_and_ages_18_to_85(practice):
    _hypertensive(practice, "htn")
    _hypertensive(practice, "85", dob=years_before(AS_OF, 86) + dt.timedelta(days=1))
    _hypertensive(practice, "turns-86-today", dob=years_before(AS_OF, 86))
    demo_code = practice.patient("demo-code", dob=dt.date(1960, 1, 1))
    practice.condition(demo_code, dt.date(2010, 1, 1), "38341003")
    practice.patient("normotensive", dob=dt.date(1960, 1, 1))
    assert set(statuses(practice.registry, "controlling-bp")) == {"htn", "85", "demo-code"}


@pytest.mark.parametrize(
    ("systolic", "diastolic", "expected"),
    [(139, 89, "met"), (140, 80, "open"), (130, 90, "open"), (118, 76, "met")],
)
def test_bp_below_140_over_90_is_controlled(practice, systolic, diastolic, expected):
    patient = _hypertensive(practice, "p")
    _bp(practice, patient, dt.date(2024, 2, 1), systolic, diastolic)
    row = statuses(practice.registry, "controlling-bp")["p"]
    assert row["status"] == expected
    assert row["last_value"] == f"{systolic}/{diastolic}"
    assert row["last_code"] == "8480-6/8462-4"


def test_bp_uses_the_lowest_reading_of_the_most_recent_day(practice):
    patient = _hypertensive(practice, "p")
    _bp(practice, patient, dt.datetime(2023, 11, 1, 9, 0), 120, 70)  # an older good day does not count
    _bp(practice, patient, dt.datetime(2024, 2, 1, 9, 0), 152, 95)
    _bp(practice, patient, dt.datetime(2024, 2, 1, 9, 20), 136, 91)
    _bp(practice, patient, dt.datetime(2024, 2, 1, 9, 40), 142, 84)
    row = statuses(practice.registry, "controlling-bp")["p"]
    assert (row["status"], row["last_value"], row["last_date"]) == ("met", "136/84", dt.date(2024, 2, 1))


def test_bp_most_recent_day_wins_even_if_worse(practice):
    patient = _hypertensive(practice, "p")
    _bp(practice, patient, dt.date(2023, 11, 1), 120, 70)
    _bp(practice, patient, dt.date(2024, 2, 1), 150, 96)
    assert statuses(practice.registry, "controlling-bp")["p"]["status"] == "open"


def test_bp_needs_systolic_and_diastolic_from_the_same_day(practice):
    patient = _hypertensive(practice, "p")
    _bp(practice, patient, dt.date(2023, 12, 1), 128, 78)
    _bp(practice, patient, dt.date(2024, 2, 1), 150, None)  # systolic only: not a complete reading
    row = statuses(practice.registry, "controlling-bp")["p"]
    assert (row["status"], row["last_date"], row["last_value"]) == ("met", dt.date(2023, 12, 1), "128/78")


def test_bp_with_no_reading_in_12_months_is_open(practice):
    _hypertensive(practice, "never")
    lapsed = _hypertensive(practice, "lapsed")
    _bp(practice, lapsed, months_before(AS_OF, 12) - dt.timedelta(days=1), 120, 70)
    recent = _hypertensive(practice, "first-day")
    _bp(practice, recent, months_before(AS_OF, 12), 120, 70)
    result = statuses(practice.registry, "controlling-bp")
    assert result["never"]["status"] == "open"
    assert result["lapsed"]["status"] == "open"
    assert result["lapsed"]["last_date"] == months_before(AS_OF, 12) - dt.timedelta(days=1)
    assert result["first-day"]["status"] == "due-soon"


def test_bp_reading_without_a_value_fails(practice):
    patient = _hypertensive(practice, "p")
    practice.observation(patient, dt.date(2024, 2, 1), "8480-6", value="refused")
    practice.observation(patient, dt.date(2024, 2, 1), "8462-4", value=80)
    row = statuses(practice.registry, "controlling-bp")["p"]
    assert (row["status"], row["last_value"]) == ("open", "?/80")


def test_pregnancy_or_kidney_failure_excludes_from_bp(practice):
    pregnant = _hypertensive(practice, "pregnant")
    practice.condition(pregnant, dt.date(2023, 9, 1), "72892002", resolved=dt.date(2024, 2, 1))
    long_ago = _hypertensive(practice, "pregnant-long-ago")
    practice.condition(long_ago, dt.date(2015, 1, 1), "72892002", resolved=dt.date(2015, 9, 1))
    esrd = _hypertensive(practice, "esrd")
    practice.condition(esrd, dt.date(2022, 1, 1), "N18.6", system="ICD10CM")
    result = statuses(practice.registry, "controlling-bp")
    assert result["pregnant"]["status"] == "excluded"
    assert result["pregnant-long-ago"]["status"] == "open"
    assert result["esrd"]["status"] == "excluded"


# --------------------------------------------------------------------------- statins


def test_statin_measure_is_skipped_without_medication_data(practice):
    patient = practice.patient("ascvd", dob=dt.date(1955, 1, 1), sex="M")
    practice.condition(patient, dt.date(2019, 1, 1), "22298006")  # myocardial infarction
    assert statuses(practice.registry, "statin-therapy") == {}


def test_statin_populations_and_therapy(practice):
    ascvd = practice.patient("ascvd-on-statin", dob=dt.date(1955, 1, 1), sex="M")
    practice.condition(ascvd, dt.date(2019, 1, 1), "22298006")
    practice.medication(ascvd, dt.date(2019, 2, 1), "617310")  # atorvastatin 20 mg, ongoing
    untreated = practice.patient("ascvd-untreated", dob=dt.date(1955, 1, 1), sex="M")
    practice.condition(untreated, dt.date(2019, 1, 1), "I25.10", system="ICD10CM")
    stopped = practice.patient("stopped-long-ago", dob=dt.date(1955, 1, 1), sex="M")
    practice.condition(stopped, dt.date(2019, 1, 1), "53741008")
    practice.medication(stopped, dt.date(2019, 2, 1), "312961", stop=dt.date(2022, 6, 1))
    ldl = practice.patient("ldl-190", dob=dt.date(1990, 1, 1))
    practice.observation(ldl, dt.date(2021, 5, 1), "18262-6", value=195)
    practice.medication(ldl, dt.date(2023, 3, 1), "859749", stop=dt.date(2023, 9, 1))  # stopped within 12 months
    practice.patient("ldl-170", dob=dt.date(1990, 1, 1))
    diabetic = _diabetic(practice, "diabetes-45", dob=dt.date(1979, 1, 1))
    _diabetic(practice, "diabetes-35", dob=dt.date(1989, 1, 1))
    practice.medication(diabetic, dt.date(2020, 1, 1), "314231")  # simvastatin 10 mg (Synthea)
    result = statuses(practice.registry, "statin-therapy")
    assert set(result) == {"ascvd-on-statin", "ascvd-untreated", "stopped-long-ago", "ldl-190", "diabetes-45"}
    assert result["ascvd-on-statin"]["status"] == "met"
    assert result["ascvd-on-statin"]["due_date"] is None  # ongoing therapy does not lapse
    assert result["ascvd-untreated"]["status"] == "open"
    assert result["stopped-long-ago"]["status"] == "open"
    assert result["ldl-190"]["status"] == "met"
    assert result["ldl-190"]["due_date"] == dt.date(2024, 9, 1)
    assert result["diabetes-45"]["status"] == "met"


def test_kidney_failure_excludes_from_statin_therapy(practice):
    patient = practice.patient("p", dob=dt.date(1955, 1, 1), sex="M")
    practice.condition(patient, dt.date(2019, 1, 1), "22298006")
    practice.condition(patient, dt.date(2021, 1, 1), "46177005")
    practice.medication(patient, dt.date(2019, 2, 1), "617310")
    assert statuses(practice.registry, "statin-therapy")["p"]["status"] == "excluded"
