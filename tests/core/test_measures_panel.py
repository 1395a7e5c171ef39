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
    doctor = practice.provider("Dr Family", specialty="Family Medicine")
    seen = practice.patient("seen", dob=dt.date(1980, 1, 1))
    practice.visit(seen, months_before(AS_OF, 12), "ambulatory", provider=doctor)
    outpatient = practice.patient("outpatient", dob=dt.date(1980, 1, 1))
    practice.visit(outpatient, dt.date(2023, 12, 1), "outpatient", provider=doctor)
    # Empanelment does not count virtual visits (resources/panel_specialties.toml): nor does this.
    virtual = practice.patient("virtual", dob=dt.date(1980, 1, 1))
    practice.visit(virtual, dt.date(2023, 12, 1), "virtual", provider=doctor)
    er_only = practice.patient("er-only", dob=dt.date(1980, 1, 1))
    practice.visit(er_only, dt.date(2023, 12, 1), "emergency", provider=doctor)
    lapsed = practice.patient("lapsed", dob=dt.date(1980, 1, 1))
    practice.visit(lapsed, months_before(AS_OF, 12) - dt.timedelta(days=1), "wellness", provider=doctor)
    no_show = practice.patient("no-show", dob=dt.date(1980, 1, 1))
    practice.visit(no_show, dt.date(2023, 12, 1), "wellness", status="no-show", provider=doctor)
    practice.patient("never", dob=dt.date(1980, 1, 1))
    result = statuses(practice.registry, "no-visit-12-months")
    assert {k: v["status"] for k, v in result.items()} == {
        "seen": "due-soon",
        "outpatient": "met",
        "virtual": "open",
        "er-only": "open",
        "lapsed": "open",
        "no-show": "open",
        "never": "open",
    }
    assert result["lapsed"]["last_date"] == months_before(AS_OF, 12) - dt.timedelta(days=1)
    assert result["outpatient"]["due_date"] == dt.date(2024, 12, 1)


def test_no_visit_counts_the_visits_empanelment_counts(practice):
    # Issue 9 item 13: the same visits as the 4-cut rule (primary-care classes, panel providers).
    doctor = practice.provider("Dr Family", specialty="Family Medicine")
    dermatologist = practice.provider("Dr Skin", specialty="Dermatology")
    urgent = practice.provider("Dr Urgent", specialty="Family Medicine")
    with_doctor = practice.patient("with-doctor", dob=dt.date(1980, 1, 1))
    practice.visit(with_doctor, dt.date(2023, 12, 1), "ambulatory", provider=doctor)
    specialist = practice.patient("specialist-only", dob=dt.date(1980, 1, 1))
    practice.visit(specialist, dt.date(2023, 12, 1), "ambulatory", provider=dermatologist)
    urgent_care = practice.patient("urgent-care-only", dob=dt.date(1980, 1, 1))
    practice.visit(urgent_care, dt.date(2023, 12, 1), "urgentcare", provider=urgent)
    no_provider = practice.patient("no-provider", dob=dt.date(1980, 1, 1))
    practice.visit(no_provider, dt.date(2023, 12, 1), "wellness")
    result = statuses(practice.registry, "no-visit-12-months")
    assert result["with-doctor"]["status"] == "met"
    assert result["specialist-only"]["status"] == "open"
    assert result["urgent-care-only"]["status"] == "open"
    assert result["no-provider"]["status"] == "open"


def test_a_newborn_is_not_flagged_for_no_visit_in_a_year(practice):
    practice.patient("newborn", dob=dt.date(2024, 1, 3))
    practice.patient("eleven-months", dob=dt.date(2023, 4, 15))
    practice.patient("one-today", dob=dt.date(2023, 3, 15))
    assert set(statuses(practice.registry, "no-visit-12-months")) == {"one-today"}


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
    practice.visit(man, dt.date(2024, 2, 1), "wellness", provider=practice.provider("Dr Family", specialty="Family Medicine"))
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
