"""Panel gaps: no visit in 12 months, and an open gap with no appointment booked. As of 2024-03-15."""

from __future__ import annotations

import datetime as dt

import pytest
from test_measures_support import AS_OF, Practice, months_before, statuses

from panelmanager.core.measures import evaluate_measures


@pytest.fixture
def practice(fresh_registry) -> Practice:
    return Practice(fresh_registry)


def test_no_visit_in_12_months_counts_primary_care_visits_only(practice):
    seen = practice.patient("seen", dob=dt.date(1980, 1, 1))
    practice.visit(seen, months_before(AS_OF, 12), "ambulatory")
    virtual = practice.patient("virtual", dob=dt.date(1980, 1, 1))
    practice.visit(virtual, dt.date(2023, 12, 1), "virtual")
    er_only = practice.patient("er-only", dob=dt.date(1980, 1, 1))
    practice.visit(er_only, dt.date(2023, 12, 1), "emergency")
    lapsed = practice.patient("lapsed", dob=dt.date(1980, 1, 1))
    practice.visit(lapsed, months_before(AS_OF, 12) - dt.timedelta(days=1), "wellness")
    no_show = practice.patient("no-show", dob=dt.date(1980, 1, 1))
    practice.visit(no_show, dt.date(2023, 12, 1), "wellness", status="no-show")
    practice.patient("never", dob=dt.date(1980, 1, 1))
    result = statuses(practice.registry, "no-visit-12-months")
    assert {k: v["status"] for k, v in result.items()} == {
        "seen": "due-soon",
        "virtual": "met",
        "er-only": "open",
        "lapsed": "open",
        "no-show": "open",
        "never": "open",
    }
    assert result["lapsed"]["last_date"] == months_before(AS_OF, 12) - dt.timedelta(days=1)
    assert result["virtual"]["due_date"] == dt.date(2024, 12, 1)


def test_no_upcoming_appointment_lists_patients_with_an_open_gap_and_nothing_booked(practice):
    # Everyone is 40 and was seen recently, so their only possible open gaps are screenings.
    booked = practice.patient("booked", dob=dt.date(1984, 1, 1))
    practice.visit(booked, dt.date(2024, 3, 20), "wellness", status="scheduled")
    today = practice.patient("booked-today", dob=dt.date(1984, 1, 1))
    practice.visit(today, dt.datetime(2024, 3, 15, 16, 0), "ambulatory", status="scheduled")
    cancelled = practice.patient("cancelled", dob=dt.date(1984, 1, 1))
    practice.visit(cancelled, dt.date(2024, 3, 20), "wellness", status="cancelled")
    er = practice.patient("er-booked", dob=dt.date(1984, 1, 1))
    practice.visit(er, dt.date(2024, 3, 20), "emergency", status="scheduled")
    practice.patient("nothing", dob=dt.date(1984, 1, 1))
    result = statuses(practice.registry, "no-upcoming-appointment")
    assert {k: v["status"] for k, v in result.items()} == {
        "booked": "met",
        "booked-today": "met",
        "cancelled": "open",
        "er-booked": "open",
        "nothing": "open",
    }
    assert result["booked"]["last_date"] == dt.date(2024, 3, 20)  # the next appointment


def test_patients_without_an_open_gap_need_no_appointment(practice):
    # A 30-year-old man with every screening done has no open gap.
    man = practice.patient("all-done", dob=dt.date(1994, 1, 1), sex="M")
    practice.visit(man, dt.date(2024, 2, 1), "wellness")
    practice.immunization(man, dt.date(2023, 10, 1), "140")
    practice.observation(man, dt.date(2024, 2, 1), "72166-2", value="Never smoker")
    practice.observation(man, dt.date(2024, 2, 1), "44261-6", value=2)
    with practice.registry.session() as session:
        frame = evaluate_measures(session, AS_OF)
    mine = frame[frame["mrn"] == "all-done"].set_index("measure")["status"].to_dict()
    assert "open" not in mine.values()
    assert "no-upcoming-appointment" not in mine


def test_evaluating_only_the_panel_gap_still_uses_every_clinical_measure(practice):
    practice.patient("flu-due", dob=dt.date(1994, 1, 1), sex="M")
    with practice.registry.session() as session:
        frame = evaluate_measures(session, AS_OF, measure_ids=["no-upcoming-appointment"])
    assert frame["measure"].unique().tolist() == ["no-upcoming-appointment"]
    assert frame["status"].tolist() == ["open"]
