"""Immunization gaps on hand-built patients: influenza this season (CMS147), pneumococcal
at 65+, and the childhood series by the second birthday (CMS117)."""

from __future__ import annotations

import datetime as dt

import pytest
from test_measures_support import Practice, statuses, years_before

AS_OF = dt.date(2024, 1, 15)  # the 2023-24 influenza season began 2023-08-01


@pytest.fixture
def practice(fresh_registry) -> Practice:
    return Practice(fresh_registry)


# --------------------------------------------------------------------------- influenza


def test_influenza_from_six_months_of_age(practice):
    practice.patient("six-months-today", dob=dt.date(2023, 7, 15))
    practice.patient("five-months", dob=dt.date(2023, 7, 16))
    practice.patient("adult", dob=dt.date(1980, 1, 1), sex="M")
    assert set(statuses(practice.registry, "influenza-immunization", as_of=AS_OF)) == {"six-months-today", "adult"}


def test_influenza_vaccine_counts_from_august_1_of_the_season(practice):
    first_day = practice.patient("august-1", dob=dt.date(1980, 1, 1))
    last_season = practice.patient("july-31", dob=dt.date(1980, 1, 1))
    practice.immunization(first_day, dt.date(2023, 8, 1), "150")
    practice.immunization(last_season, dt.date(2023, 7, 31), "140")
    result = statuses(practice.registry, "influenza-immunization", as_of=AS_OF)
    assert result["august-1"]["status"] == "met"
    assert result["august-1"]["due_date"] == dt.date(2024, 7, 31)  # good for the whole season
    assert result["july-31"]["status"] == "open"
    assert result["july-31"]["last_date"] == dt.date(2023, 7, 31)
    assert result["july-31"]["due_date"] == dt.date(2023, 8, 1)


@pytest.mark.parametrize("cvx", ["140", "141", "150", "158", "185", "197", "88", "111", "205", "171"])
def test_every_influenza_cvx_counts(practice, cvx):
    patient = practice.patient("p", dob=dt.date(1980, 1, 1))
    practice.immunization(patient, dt.date(2023, 10, 1), cvx)
    assert statuses(practice.registry, "influenza-immunization", as_of=AS_OF)["p"]["status"] == "met"


def test_influenza_billed_as_a_procedure_counts(practice):
    patient = practice.patient("p", dob=dt.date(1980, 1, 1))
    practice.procedure(patient, dt.date(2023, 10, 1), "90686", system="CPT")
    assert statuses(practice.registry, "influenza-immunization", as_of=AS_OF)["p"]["status"] == "met"


def test_a_new_season_opens_every_gap_on_august_1(practice):
    patient = practice.patient("p", dob=dt.date(1980, 1, 1))
    practice.immunization(patient, dt.date(2023, 10, 1), "140")
    july = statuses(practice.registry, "influenza-immunization", as_of=dt.date(2024, 7, 31))["p"]
    august = statuses(practice.registry, "influenza-immunization", as_of=dt.date(2024, 8, 1))["p"]
    assert (july["status"], august["status"]) == ("due-soon", "open")


def test_a_pneumococcal_vaccine_is_not_a_flu_shot(practice):
    patient = practice.patient("p", dob=dt.date(1950, 1, 1))
    practice.immunization(patient, dt.date(2023, 10, 1), "33")
    assert statuses(practice.registry, "influenza-immunization", as_of=AS_OF)["p"]["status"] == "open"


# --------------------------------------------------------------------------- pneumococcal


def test_pneumococcal_from_65_any_vaccine_ever(practice):
    ppsv = practice.patient("ppsv23-long-ago", dob=years_before(AS_OF, 70))
    practice.immunization(ppsv, dt.date(2012, 5, 1), "33")
    pcv20 = practice.patient("pcv20", dob=years_before(AS_OF, 65))
    practice.immunization(pcv20, dt.date(2023, 5, 1), "216")
    practice.patient("never", dob=years_before(AS_OF, 80))
    practice.patient("64", dob=years_before(AS_OF, 65) + dt.timedelta(days=1))
    result = statuses(practice.registry, "pneumococcal-65", as_of=AS_OF)
    assert set(result) == {"ppsv23-long-ago", "pcv20", "never"}
    assert result["ppsv23-long-ago"]["status"] == "met"
    assert result["ppsv23-long-ago"]["due_date"] is None  # never lapses
    assert result["pcv20"]["last_code"] == "216"
    assert result["never"]["status"] == "open"


# --------------------------------------------------------------------------- childhood series

COMPLETE_SERIES = {
    "20": 4,  # DTaP
    "10": 3,  # IPV
    "03": 1,  # MMR
    "49": 3,  # Hib
    "08": 3,  # HepB
    "21": 1,  # varicella
    "133": 4,  # PCV13
    "83": 1,  # HepA
    "116": 3,  # rotavirus, 3-dose schedule
}


# Given from the first birthday on (ACIP / CMS117v12 minimum age); the others from 2 months.
AFTER_FIRST_BIRTHDAY = {"03", "21", "83"}


def _give_series(practice: Practice, patient: int, dob: dt.date, series: dict[str, int], flu_doses: int = 2) -> None:
    for cvx, doses in series.items():
        first = 366 if cvx in AFTER_FIRST_BIRTHDAY else 0
        for n in range(doses):
            practice.immunization(patient, dob + dt.timedelta(days=first + 60 * (n + 1)), cvx)
    for n in range(flu_doses):
        practice.immunization(patient, dob + dt.timedelta(days=200 + 30 * n), "150")


def test_childhood_series_is_for_children_turning_two_this_year(practice):
    practice.patient("turns-2-in-december", dob=dt.date(2022, 12, 31))
    practice.patient("turns-2-in-january", dob=dt.date(2022, 1, 1))
    practice.patient("turned-2-last-year", dob=dt.date(2021, 12, 31))
    practice.patient("baby", dob=dt.date(2023, 1, 1))
    assert set(statuses(practice.registry, "childhood-immunization", as_of=AS_OF)) == {
        "turns-2-in-december",
        "turns-2-in-january",
    }


def test_complete_childhood_series_is_met(practice):
    dob = dt.date(2022, 1, 10)
    child = practice.patient("complete", dob=dob)
    _give_series(practice, child, dob, COMPLETE_SERIES)
    row = statuses(practice.registry, "childhood-immunization", as_of=AS_OF)["complete"]
    assert row["status"] == "met"
    assert row["last_value"] == "complete"


def test_missing_doses_leave_the_series_open_and_say_which(practice):
    dob = dt.date(2022, 1, 10)
    child = practice.patient("short", dob=dob)
    series = dict(COMPLETE_SERIES, **{"20": 3, "133": 2})
    _give_series(practice, child, dob, series)
    row = statuses(practice.registry, "childhood-immunization", as_of=AS_OF)["short"]
    assert row["status"] == "open"
    assert row["due_date"] == dt.date(2024, 1, 10)  # the second birthday
    assert row["last_value"] == "missing: DTaP 3/4, PCV 2/4"


def test_doses_after_the_second_birthday_do_not_count(practice):
    dob = dt.date(2022, 1, 10)
    child = practice.patient("late", dob=dob)
    _give_series(practice, child, dob, dict(COMPLETE_SERIES, **{"03": 0}))
    practice.immunization(child, dt.date(2024, 1, 11), "03")  # MMR a day after the birthday
    row = statuses(practice.registry, "childhood-immunization", as_of=AS_OF)["late"]
    assert (row["status"], row["last_value"]) == ("open", "missing: MMR 0/1")


def test_two_doses_on_one_day_are_one_dose(practice):
    dob = dt.date(2022, 1, 10)
    child = practice.patient("same-day", dob=dob)
    _give_series(practice, child, dob, dict(COMPLETE_SERIES, **{"20": 3}))
    practice.immunization(child, dob + dt.timedelta(days=60), "106")  # a second DTaP on the first dose's day
    row = statuses(practice.registry, "childhood-immunization", as_of=AS_OF)["same-day"]
    assert row["last_value"] == "missing: DTaP 3/4"


def test_two_doses_of_the_two_dose_rotavirus_vaccine_complete_it(practice):
    dob = dt.date(2022, 1, 10)
    child = practice.patient("rv1", dob=dob)
    series = dict(COMPLETE_SERIES)
    series.pop("116")
    series["119"] = 2
    _give_series(practice, child, dob, series)
    assert statuses(practice.registry, "childhood-immunization", as_of=AS_OF)["rv1"]["status"] == "met"


def test_combination_vaccines_count_for_each_antigen(practice):
    dob = dt.date(2022, 1, 10)
    child = practice.patient("combo", dob=dob)
    series = {k: v for k, v in COMPLETE_SERIES.items() if k not in ("20", "10", "08")}
    series["110"] = 3  # DTaP-HepB-IPV: three DTaP, three HepB, three IPV
    _give_series(practice, child, dob, series)
    practice.immunization(child, dob + dt.timedelta(days=450), "20")  # the fourth DTaP
    assert statuses(practice.registry, "childhood-immunization", as_of=AS_OF)["combo"]["status"] == "met"


def test_a_child_who_turns_two_later_this_year_is_still_open_until_complete(practice):
    dob = dt.date(2022, 11, 1)
    child = practice.patient("young", dob=dob)
    _give_series(practice, child, dob, dict(COMPLETE_SERIES, **{"03": 0, "21": 0, "83": 0}), flu_doses=1)
    row = statuses(practice.registry, "childhood-immunization", as_of=AS_OF)["young"]
    assert row["status"] == "open"
    assert row["due_date"] == dt.date(2024, 11, 1)
    assert row["last_value"] == "missing: MMR 0/1, VZV 0/1, HepA 0/1, Influenza 1/2"


def test_doses_before_the_acip_minimum_age_do_not_count(practice):
    # CMS117v12: MMR on or after the first birthday, DTaP from 42 days, influenza from 180 days.
    dob = dt.date(2022, 1, 10)
    early = practice.patient("early", dob=dob)
    _give_series(practice, early, dob, dict(COMPLETE_SERIES, **{"03": 0, "20": 3}), flu_doses=1)
    practice.immunization(early, dt.date(2023, 1, 9), "03")  # MMR the day before the first birthday
    practice.immunization(early, dob + dt.timedelta(days=41), "20")  # DTaP at 41 days
    practice.immunization(early, dob + dt.timedelta(days=179), "150")  # flu at 179 days
    on_time = practice.patient("on-time", dob=dob)
    _give_series(practice, on_time, dob, dict(COMPLETE_SERIES, **{"03": 0, "20": 3}), flu_doses=1)
    practice.immunization(on_time, dt.date(2023, 1, 10), "03")  # MMR on the first birthday
    practice.immunization(on_time, dob + dt.timedelta(days=42), "20")
    practice.immunization(on_time, dob + dt.timedelta(days=180), "150")
    result = statuses(practice.registry, "childhood-immunization", as_of=AS_OF)
    assert result["early"]["status"] == "open"
    assert result["early"]["last_value"] == "missing: DTaP 3/4, MMR 0/1, Influenza 1/2"
    assert result["on-time"]["status"] == "met"
