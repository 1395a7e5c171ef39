"""Screening for depression (CMS2) and tobacco use (CMS138) on hand-built patients, as of 2024-03-15."""

from __future__ import annotations

import datetime as dt

import pytest
from test_measures_support import AS_OF, Practice, months_before, statuses, years_before


@pytest.fixture
def practice(fresh_registry) -> Practice:
    return Practice(fresh_registry)


def test_depression_screening_from_age_12(practice):
    practice.patient("turns-12-today", dob=years_before(AS_OF, 12))
    practice.patient("11", dob=years_before(AS_OF, 12) + dt.timedelta(days=1))
    assert set(statuses(practice.registry, "depression-screening")) == {"turns-12-today"}


@pytest.mark.parametrize(
    ("kind", "code", "value"),
    [
        ("observation", "55757-9", "0"),  # PHQ-2 (demo)
        ("observation", "55758-7", "1"),  # PHQ-2 total score (Synthea)
        ("observation", "44261-6", "3"),  # PHQ-9
        ("observation", "89204-2", "2"),  # PHQ-9 modified for teens (Synthea)
        ("procedure", "454711000124102", None),  # depression screening using PHQ-2 (Synthea)
    ],
)
def test_depression_screening_within_12_months(practice, kind, code, value):
    inside = practice.patient("inside", dob=dt.date(1990, 1, 1))
    outside = practice.patient("outside", dob=dt.date(1990, 1, 1))
    first_day = months_before(AS_OF, 12)
    if kind == "observation":
        practice.observation(inside, first_day, code, value=value)
        practice.observation(outside, first_day - dt.timedelta(days=1), code, value=value)
    else:
        practice.procedure(inside, first_day, code)
        practice.procedure(outside, first_day - dt.timedelta(days=1), code)
    result = statuses(practice.registry, "depression-screening")
    assert result["inside"]["status"] == "due-soon"
    assert result["inside"]["last_value"] == value
    assert result["outside"]["status"] == "open"


def test_depression_diagnosed_before_the_period_excludes_from_screening(practice):
    # CMS2v13 Denominator Exclusions: "diagnosed with depression" before the period, active or
    # not (the v12-era rule here, "active depression only", kept the resolved one open).
    depressed = practice.patient("depressed", dob=dt.date(1990, 1, 1))
    practice.condition(depressed, dt.date(2022, 1, 1), "F33.1", system="ICD10CM")
    recovered = practice.patient("recovered", dob=dt.date(1990, 1, 1))
    practice.condition(recovered, dt.date(2019, 1, 1), "35489007", resolved=dt.date(2020, 1, 1))
    # Found by this year's screening: not a reason to skip the screening.
    new = practice.patient("new", dob=dt.date(1990, 1, 1))
    practice.condition(new, dt.date(2023, 11, 1), "35489007")
    result = statuses(practice.registry, "depression-screening")
    assert result["depressed"]["status"] == "excluded"
    assert result["recovered"]["status"] == "excluded"
    assert result["new"]["status"] == "open"


def test_tobacco_screening_adults_within_12_months(practice):
    asked = practice.patient("asked", dob=dt.date(1980, 1, 1), sex="M")
    practice.observation(asked, dt.date(2023, 8, 1), "72166-2", value="Never smoker")
    stale = practice.patient("stale", dob=dt.date(1980, 1, 1), sex="M")
    practice.observation(stale, months_before(AS_OF, 12) - dt.timedelta(days=1), "72166-2", value="Former smoker")
    practice.patient("never-asked", dob=years_before(AS_OF, 18))
    practice.patient("17", dob=years_before(AS_OF, 18) + dt.timedelta(days=1))
    result = statuses(practice.registry, "tobacco-screening")
    assert set(result) == {"asked", "stale", "never-asked"}
    assert (result["asked"]["status"], result["asked"]["last_value"]) == ("met", "Never smoker")
    assert result["asked"]["due_date"] == dt.date(2024, 8, 1)
    assert (result["stale"]["status"], result["stale"]["last_value"]) == ("open", "Former smoker")
    assert result["never-asked"]["status"] == "open"
