"""Which reading counts for controlling blood pressure (CMS165) and HbA1c (CMS122).

CMS165: the most recent day in the 12 months with both a systolic and a diastolic
reading; of that day, the lowest systolic and the lowest diastolic (they may come
from different readings). A day with only one of the two is skipped, and a reading
from another day is never combined with it. CMS122 takes the most recent HbA1c.
As of 2024-03-15, on hand-built patients.
"""

from __future__ import annotations

import datetime as dt

import pytest
from test_measures_support import AS_OF, Practice, months_before, statuses

from panelmanager.core.measures import evaluate_measures

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


def _bp(practice: Practice, patient: int, when, systolic, diastolic) -> None:
    if systolic is not None:
        practice.observation(patient, when, SYSTOLIC, value=systolic)
    if diastolic is not None:
        practice.observation(patient, when, DIASTOLIC, value=diastolic)


def _row(practice: Practice, mrn: str = "p", measure: str = "controlling-bp") -> tuple:
    row = statuses(practice.registry, measure)[mrn]
    return row["status"], row["last_date"], row["last_value"]


def test_a_day_with_only_a_diastolic_reading_is_skipped(practice):
    patient = _hypertensive(practice, "p")
    _bp(practice, patient, dt.date(2024, 1, 10), 130, 85)
    _bp(practice, patient, dt.date(2024, 2, 1), None, 70)  # diastolic only: not a reading
    assert _row(practice) == ("met", dt.date(2024, 1, 10), "130/85")


def test_halves_from_different_days_are_never_combined(practice):
    patient = _hypertensive(practice, "p")
    _bp(practice, patient, dt.date(2023, 12, 1), 128, 78)
    _bp(practice, patient, dt.date(2024, 1, 10), 150, None)
    _bp(practice, patient, dt.date(2024, 2, 1), None, 95)
    # 150 (Jan 10) and 95 (Feb 1) are no reading: the last complete day is Dec 1.
    assert _row(practice) == ("met", dt.date(2023, 12, 1), "128/78")


def test_the_latest_complete_day_wins_over_an_older_better_one(practice):
    patient = _hypertensive(practice, "p")
    _bp(practice, patient, dt.date(2023, 10, 1), 118, 72)
    _bp(practice, patient, dt.date(2024, 1, 20), 146, 88)
    _bp(practice, patient, dt.date(2024, 3, 1), 120, None)  # later, but systolic only
    assert _row(practice) == ("open", dt.date(2024, 1, 20), "146/88")


def test_lowest_systolic_and_lowest_diastolic_of_the_day_may_come_from_different_readings(practice):
    patient = _hypertensive(practice, "p")
    _bp(practice, patient, dt.datetime(2024, 2, 1, 8, 30), 144, 82)
    _bp(practice, patient, dt.datetime(2024, 2, 1, 8, 45), 138, 92)
    assert _row(practice) == ("met", dt.date(2024, 2, 1), "138/82")


def test_two_readings_at_the_same_moment_take_the_lowest_of_each(practice):
    patient = _hypertensive(practice, "p")
    moment = dt.datetime(2024, 2, 1, 9, 0)
    _bp(practice, patient, moment, 152, 96)
    _bp(practice, patient, moment, 139, 89)
    assert _row(practice) == ("met", dt.date(2024, 2, 1), "139/89")


def test_systolic_and_diastolic_at_different_times_of_the_same_day_count(practice):
    patient = _hypertensive(practice, "p")
    _bp(practice, patient, dt.datetime(2024, 2, 1, 0, 5), 132, None)
    _bp(practice, patient, dt.datetime(2024, 2, 1, 23, 55), None, 84)
    assert _row(practice) == ("met", dt.date(2024, 2, 1), "132/84")


def test_a_reading_without_a_number_does_not_hide_a_number_the_same_day(practice):
    patient = _hypertensive(practice, "p")
    practice.observation(patient, dt.datetime(2024, 2, 1, 9, 0), SYSTOLIC, value="refused")
    _bp(practice, patient, dt.datetime(2024, 2, 1, 9, 30), 134, 86)
    assert _row(practice) == ("met", dt.date(2024, 2, 1), "134/86")


def test_positional_systolic_codes_pair_with_the_plain_diastolic(practice):
    patient = _hypertensive(practice, "p")
    practice.observation(patient, dt.date(2024, 2, 1), "8459-0", value=128)  # systolic, sitting
    practice.observation(patient, dt.date(2024, 2, 1), DIASTOLIC, value=80)
    row = statuses(practice.registry, "controlling-bp")["p"]
    assert (row["status"], row["last_code"], row["last_value"]) == ("met", "8459-0/8462-4", "128/80")


def test_only_incomplete_days_in_the_look_back_is_open_and_due_now(practice):
    patient = _hypertensive(practice, "p")
    _bp(practice, patient, months_before(AS_OF, 14), 120, 70)  # complete, but too old
    _bp(practice, patient, dt.date(2024, 2, 1), 124, None)
    row = statuses(practice.registry, "controlling-bp")["p"]
    assert (row["status"], row["due_date"], row["last_date"]) == ("open", AS_OF, None)


def test_lapsed_reading_shows_the_lowest_systolic_of_its_day(practice):
    patient = _hypertensive(practice, "p")
    day = months_before(AS_OF, 13)
    _bp(practice, patient, dt.datetime.combine(day, dt.time(9, 0)), 150, 90)
    _bp(practice, patient, dt.datetime.combine(day, dt.time(9, 30)), 142, 94)
    row = statuses(practice.registry, "controlling-bp")["p"]
    assert (row["status"], row["last_date"], row["last_code"], row["last_value"]) == ("open", day, SYSTOLIC, "142")
    assert row["due_date"] == months_before(AS_OF, 1)


def test_a_huddle_subset_sees_the_same_reading_as_the_whole_practice(practice, fresh_registry):
    first = _hypertensive(practice, "first")
    second = _hypertensive(practice, "second")
    _bp(practice, first, dt.date(2023, 12, 1), 128, 78)
    _bp(practice, first, dt.date(2024, 1, 10), 150, None)
    _bp(practice, second, dt.date(2024, 2, 1), 150, 95)
    whole = statuses(fresh_registry, "controlling-bp")
    with fresh_registry.session() as session:
        subset = evaluate_measures(session, AS_OF, measure_ids=["controlling-bp"], patient_ids=[first])
    assert subset["mrn"].tolist() == ["first"]
    assert subset["last_value"].tolist() == [whole["first"]["last_value"]] == ["128/78"]
    assert whole["second"]["status"] == "open"


# --------------------------------------------------------------------------- HbA1c: the latest result


def _diabetic(practice: Practice, mrn: str) -> int:
    patient = practice.patient(mrn, dob=dt.date(1970, 1, 1))
    practice.condition(patient, dt.date(2015, 1, 1), DIABETES)
    return patient


def test_a1c_later_the_same_day_wins_over_a_lower_earlier_one(practice):
    patient = _diabetic(practice, "p")
    practice.observation(patient, dt.datetime(2024, 2, 1, 8, 0), "4548-4", value="8.1")
    practice.observation(patient, dt.datetime(2024, 2, 1, 15, 0), "4548-4", value="9.4")
    assert _row(practice, measure="diabetes-a1c-poor-control") == ("open", dt.date(2024, 2, 1), "9.4")


def test_a1c_two_results_at_the_same_moment_take_the_higher(practice):
    patient = _diabetic(practice, "p")
    moment = dt.datetime(2024, 2, 1, 8, 0)
    practice.observation(patient, moment, "4548-4", value="8.5")
    practice.observation(patient, moment, "4548-4", value="9.5")
    assert _row(practice, measure="diabetes-a1c-poor-control") == ("open", dt.date(2024, 2, 1), "9.5")
