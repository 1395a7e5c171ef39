"""Gap wording staff can read (issue 9, items 10 and 15).

Every date says what it is ("last" or "due"), and HbA1c poor control (CMS122, an inverse
measure) is said in staff terms: "A1c above 9", "No A1c this year", "A1c under control".
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from test_measures_support import Practice

from panelmanager.core.gap_text import load_gap_labels, short_gap_text
from panelmanager.core.measures import evaluate_measures
from panelmanager.core.measures.wording import staff_status, staff_status_column

AS_OF = dt.date(2024, 3, 15)
A1C = "diabetes-a1c-poor-control"


def _text(measure, title, last_date, last_value, status, due, as_of=AS_OF):
    return short_gap_text(measure, title, last_date, last_value, status, due, load_gap_labels(), as_of=as_of)


def test_a_flu_shot_says_when_it_was_given_and_when_the_next_is_due():
    assert _text("influenza-immunization", "Influenza", dt.date(2023, 12, 30), None, "due-soon", dt.date(2024, 7, 31)) == (
        "Flu shot: last 2023-12-30, due 2024-07-31"
    )
    assert _text("influenza-immunization", "Influenza", None, None, "open", AS_OF) == "Flu shot: none on record, due now"


def test_a_depression_screen_score_is_the_last_screen_not_a_finding():
    text = _text("depression-screening", "Depression screening", dt.date(2023, 3, 14), "0", "open", dt.date(2024, 3, 14))
    assert text == "Depression screen: last 2023-03-14 (score 0), due now"


def test_a_childs_series_is_due_by_the_second_birthday():
    text = _text("childhood-immunization", "Child", dt.date(2023, 5, 1), "missing: DTaP 3/4", "open", dt.date(2024, 11, 1))
    assert text == "Child imms: last 2023-05-01 (missing: DTaP 3/4), due 2024-11-01"


def test_a1c_is_said_in_staff_terms():
    # A reading of 9.8 in the look-back: failing; its due date is the as-of date.
    high = _text(A1C, "x", dt.date(2023, 8, 14), "9.8", "open", AS_OF)
    assert high == "A1c above 9: last 2023-08-14 (9.8%), due now"
    # Nothing in the last 12 months: the last reading lapsed on 2023-07-01.
    lapsed = _text(A1C, "x", dt.date(2022, 7, 1), "6.9", "open", dt.date(2023, 7, 1))
    assert lapsed == "No A1c this year: last 2022-07-01 (6.9%), due now"
    assert _text(A1C, "x", None, None, "open", AS_OF) == "No A1c this year, due now"
    good = _text(A1C, "x", dt.date(2024, 1, 5), "7.1", "due-soon", dt.date(2025, 1, 5))
    assert good == "A1c under control: last 2024-01-05 (7.1%), due 2025-01-05"
    assert staff_status(A1C, "met", dt.date(2024, 1, 5), dt.date(2025, 1, 5)) == "A1c under control"
    assert staff_status("colorectal-cancer-screening", "open") == "open"


@pytest.fixture
def practice(fresh_registry) -> Practice:
    return Practice(fresh_registry)


def test_staff_status_column_on_evaluated_patients(practice):
    for mrn, reading in (("high", ("2023-08-14", 9.8)), ("controlled", ("2024-01-05", 7.1)), ("lapsed", ("2022-07-01", 6.9)), ("none", None)):
        patient = practice.patient(mrn, dob=dt.date(1970, 1, 1), sex="M")
        practice.condition(patient, dt.date(2015, 1, 1), "44054006")
        if reading:
            practice.observation(patient, dt.date.fromisoformat(reading[0]), "4548-4", value=reading[1])
    with practice.registry.session() as session:
        frame = evaluate_measures(session, AS_OF, measure_ids=[A1C])
    words = dict(zip(frame["mrn"], staff_status_column(frame)))
    assert words == {
        "high": "A1c above 9",
        "controlled": "A1c under control",
        "lapsed": "No A1c this year",
        "none": "No A1c this year",
    }
    plain = staff_status_column(pd.DataFrame({"measure": ["x"], "status": ["due-soon"], "last_date": [None], "due_date": [None]}))
    assert plain.tolist() == ["due soon"]
