"""The front desk's day: schedule rows with PCP and assignment status, care gaps to mention,
and what the confirm panel shows, on a tiny clinic built on purpose (as of Monday 2024-03-04)."""

from __future__ import annotations

import datetime as dt

import pytest

from panelmanager.core.empanelment import confirm_assignment
from panelmanager.core.schedule import (
    ASSIGNMENT_STATUSES,
    assignment_status,
    checkin_subject,
    count_gaps,
    day_schedule,
    latest_patient_answers,
    next_schedule_day,
    panel_provider_choices,
    patient_gaps,
    schedule_providers,
    visit_gaps,
)

DAY = dt.date(2024, 3, 4)  # the clinic_ids fixture's day (tests/conftest.py)


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute))


@pytest.fixture
def clinic(fresh_registry, clinic_ids):
    return fresh_registry, clinic_ids


def test_assignment_status_rules():
    assert assignment_status(None, 1, None) == "unassigned"
    assert assignment_status(2, 1, dt.date(2024, 1, 1)) == "other"  # seeing another provider wins over confirmed
    assert assignment_status(1, 1, dt.date(2024, 1, 1)) == "confirmed"
    assert assignment_status(1, 1, None) == "unconfirmed"
    assert assignment_status(1, None, None) == "unconfirmed"  # a visit with no provider
    assert set(ASSIGNMENT_STATUSES) == {"confirmed", "unconfirmed", "unassigned", "other"}


def test_day_schedule_lists_the_days_visits_with_pcp_and_status(clinic):
    registry, ids = clinic
    with registry.session() as session:
        frame = day_schedule(session, DAY)
    rows = frame.to_dict("records")
    assert [r["mrn"] for r in rows] == ["P1", "P2", "P3", "P4"]  # time order; Eve's cancelled visit is left out
    assert [r["status"] for r in rows] == ["unconfirmed", "confirmed", "unassigned", "other"]
    assert [r["pcp"] for r in rows] == ["Dr. Ann Lee", "Dr. Ann Lee", None, "Dr. Ann Lee"]
    assert [r["visit_provider"] for r in rows] == ["Dr. Ann Lee", "Dr. Ann Lee", "Dr. Bo Park", "Dr. Bo Park"]
    first = rows[0]
    assert first["name"] == "Smith, Alice"
    assert first["age"] == 74
    assert first["start"] == _at(DAY, 9)
    assert first["pcp_id"] == ids["lee"] and isinstance(first["pcp_id"], int)
    assert rows[1]["patient_confirmed_on"] == dt.date(2024, 1, 2)
    assert rows[1]["last_answer"] == "confirmed" and rows[1]["last_answer_on"] == dt.date(2024, 1, 2)
    assert rows[2]["pcp_id"] is None and rows[2]["last_answer"] is None


def test_day_schedule_for_one_provider_and_the_providers_of_the_day(clinic):
    registry, ids = clinic
    with registry.session() as session:
        park_only = day_schedule(session, DAY, ids["park"])
        providers = schedule_providers(session, DAY)
    assert list(park_only["mrn"]) == ["P3", "P4"]
    assert providers == [(ids["lee"], "Dr. Ann Lee", 2), (ids["park"], "Dr. Bo Park", 2)]


def test_next_schedule_day(clinic):
    registry, _ids = clinic
    with registry.session() as session:
        assert next_schedule_day(session, dt.date(2024, 3, 2)) == DAY
        assert next_schedule_day(session, DAY + dt.timedelta(days=1)) == DAY + dt.timedelta(days=1)
        assert next_schedule_day(session, DAY + dt.timedelta(days=2)) is None
        empty = day_schedule(session, DAY + dt.timedelta(days=2))
    assert empty.empty and list(empty.columns)[:3] == ["visit_id", "start", "patient_id"]


def test_visit_gaps_lists_open_clinical_gaps_with_short_text(clinic):
    registry, ids = clinic
    with registry.session() as session:
        gaps = visit_gaps(session, DAY, [ids["alice"], ids["eve"], ids["bob"]])
    alice = gaps[gaps["patient_id"] == ids["alice"]]
    pneumo = alice[alice["measure"] == "pneumococcal-65"].iloc[0]
    assert pneumo["status"] == "open"
    assert pneumo["text"] == "Pneumococcal: none on record, due now"
    assert set(gaps["status"]) <= {"open", "due-soon"}
    # Eve (79) had her pneumococcal vaccine: not a gap to mention.
    assert "pneumococcal-65" not in set(gaps.loc[gaps["patient_id"] == ids["eve"], "measure"])
    # Panel gaps (no visit in 12 months, no appointment) are not mentioned at the desk.
    assert not set(gaps["measure"]) & {"no-visit-12-months", "no-upcoming-appointment"}
    counts = count_gaps(gaps)
    assert counts[ids["alice"]][0] == int((alice["status"] == "open").sum()) >= 1


def test_patient_gaps_shows_met_gaps_with_their_evidence(clinic):
    registry, ids = clinic
    with registry.session() as session:
        gaps = patient_gaps(session, ids["eve"], DAY)
    met = gaps[gaps["measure"] == "pneumococcal-65"].iloc[0]
    assert (met["status"], met["last_code"], met["last_date"]) == ("met", "33", dt.date(2020, 1, 15))
    order = {"open": 0, "due-soon": 1, "met": 2, "excluded": 3}
    assert list(gaps["status"].map(order)) == sorted(gaps["status"].map(order))  # open first


def test_visit_gaps_reads_the_cache_when_it_is_current(clinic, monkeypatch):
    from panelmanager.core import schedule
    from panelmanager.core.measures import refresh_gaps

    registry, ids = clinic
    with registry.session() as session:
        live = visit_gaps(session, DAY, [ids["alice"]])
        refresh_gaps(session, DAY)

    def must_not_evaluate(*_args, **_kwargs):
        raise AssertionError("evaluated although the cache is current")

    monkeypatch.setattr(schedule, "_evaluate", must_not_evaluate)
    with registry.session() as session:
        cached = visit_gaps(session, DAY, [ids["alice"]])
    assert list(cached["measure"]) == list(live["measure"])
    assert list(cached["text"]) == list(live["text"])


def test_checkin_subject_for_each_kind_of_patient(clinic):
    registry, ids = clinic
    with registry.session() as session:
        alice = checkin_subject(session, ids["alice"], DAY)
        carol = checkin_subject(session, ids["carol"], DAY)
        dan = checkin_subject(session, ids["dan"], DAY)
        eve = checkin_subject(session, ids["eve"], DAY)
        choices = panel_provider_choices(session)
    assert (alice.status, alice.pcp, alice.visit_provider, alice.suggested_provider_id) == ("unconfirmed", "Dr. Ann Lee", "Dr. Ann Lee", None)
    assert alice.visit_start == _at(DAY, 9) and alice.cut == "manual"
    assert (carol.status, carol.pcp_id, carol.suggested_provider_id) == ("unassigned", None, ids["park"])
    assert (dan.status, dan.suggested_provider_id) == ("other", ids["park"])
    assert eve.visit_id is None and eve.status == "unconfirmed"  # her visit was cancelled: not here today
    # The cardiologist does not hold a panel: never offered.
    assert [c.name for c in choices] == ["Dr. Ann Lee", "Dr. Bo Park"]
    assert [c.name for c in alice.choices] == ["Dr. Ann Lee", "Dr. Bo Park"]


def test_latest_answer_and_answered_today(clinic):
    registry, ids = clinic
    with registry.session() as session:
        confirm_assignment(session, ids["alice"], by="patient", outcome="declined", method="check-in", user="desk", as_of=DAY)
        answers = latest_patient_answers(session, [ids["alice"], ids["bob"], ids["carol"]])
        subject = checkin_subject(session, ids["alice"], DAY)
        rows = day_schedule(session, DAY).set_index("mrn")
    assert dict(zip(answers["patient_id"], answers["last_answer"])) == {ids["alice"]: "declined", ids["bob"]: "confirmed"}
    assert subject.answered_today and subject.last_answer == "declined" and subject.last_answer_by == "desk"
    assert rows.loc["P1", "status"] == "unconfirmed"  # declining confirms nothing
    assert rows.loc["P1", "last_answer_on"] == DAY
