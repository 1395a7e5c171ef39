"""The empanelment milestone score (levels 1-4), computed from the registry with its reasons."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from panelmanager.core import models as m
from panelmanager.core.capacity import milestone
from panelmanager.core.empanelment import accept_review_items, build_review, confirm_assignment
from panelmanager.core.settings import load_settings, save_settings

AS_OF = dt.date(2024, 11, 1)


@pytest.fixture
def session(fresh_registry):
    with fresh_registry.session() as s:
        yield s


def small_practice(s, patients=4, unseen=0, days=("2024-06-01",)):
    """Dr. Lee and ``patients`` patients seen on ``days``, plus ``unseen`` never seen."""
    ids = itertools.count(1)
    lee = m.Provider(source="pm", external_id="LEE", display_name="Dr. Ann Lee", specialty="FAMILY PRACTICE")
    s.add(lee)
    s.flush()
    seen = []
    for n in range(patients):
        p = m.Patient(mrn=f"S{n}", source="pm")
        s.add(p)
        s.flush()
        for day in days:
            s.add(
                m.Visit(
                    patient_id=p.id, provider_id=lee.id, source="pm", external_id=f"v{next(ids)}",
                    start=dt.datetime.fromisoformat(day + "T09:00"), visit_class="ambulatory", status="completed",
                )
            )
        seen.append(p.id)
    for n in range(unseen):
        s.add(m.Patient(mrn=f"U{n}", source="pm"))
    s.flush()
    return lee.id, seen


def assign_all(s, as_of=AS_OF):
    summary = build_review(s, as_of=as_of, user="mgr")
    accept_review_items(s, summary.review_id, user="mgr")


def test_level_1_without_any_assignment(session):
    small_practice(session)
    report = milestone(session, AS_OF)
    assert report.level == 1
    assert report.label == "No systematic assignment"
    assert "Not met: No patient has been assigned by a defined method yet" in report.reasons
    assert report.missing == ["Run the assignment engine (panelmanager assign) and accept its review"]


def test_level_2_when_not_all_patients_are_assigned(session):
    small_practice(session, patients=4, unseen=1)
    assign_all(session)
    report = milestone(session, AS_OF)
    assert report.level == 2
    assert (report.figures["active_patients"], report.figures["assigned"], report.figures["needs_assignment"]) == (5, 4, 1)
    assert report.figures["assigned_share"] == pytest.approx(0.8)
    assert report.missing[0] == "Assign at least 95.0% of active patients (1 need assignment)"


def test_level_2_when_patients_are_not_asked_as_they_are_seen(session):
    small_practice(session)
    assign_all(session)
    report = milestone(session, AS_OF)
    assert report.level == 2
    assert report.figures["seen_in_review_period"] == 4
    assert report.missing == [
        "Ask patients to confirm their provider at scheduling or check-in (at least 80.0% of those seen)"
    ]


def test_level_3_then_4_with_provider_and_patient_confirmations_and_a_review(session):
    lee, seen = small_practice(session, days=("2023-06-01", "2024-06-01"))
    assign_all(session, as_of=dt.date(2023, 10, 1))  # more than 12 months before AS_OF
    for pid in seen:
        confirm_assignment(session, pid, by="patient", method="check-in", user="desk", as_of=dt.date(2024, 6, 1))
    report = milestone(session, AS_OF)
    assert report.level == 3
    assert "Not met: No review accepted since 2023-11-01 (last accepted as of 2023-10-01)" in report.reasons
    assert report.missing == [
        "Have providers confirm their panel lists (at least 80.0% of assigned patients)",
        "Run and accept a panel review at least every 12 months",
    ]
    for pid in seen:
        confirm_assignment(session, pid, by="provider", method="panel-list", user="drlee", as_of=dt.date(2024, 7, 1))
    assign_all(session)  # a review accepted as of 2024-11-01, nothing to change
    report = milestone(session, AS_OF)
    assert report.level == 4
    assert report.missing == []
    assert report.figures["provider_confirmed_share"] == 1.0
    assert report.figures["seen_confirmed_by_patient_share"] == 1.0
    assert report.figures["last_accepted_review_as_of"] == AS_OF


def test_declined_answers_count_as_asked_but_not_as_confirmed(session):
    lee, seen = small_practice(session)
    assign_all(session)
    for pid in seen:
        confirm_assignment(session, pid, by="patient", outcome="declined", method="phone", user="desk", as_of=dt.date(2024, 6, 2))
        confirm_assignment(session, pid, by="provider", user="drlee", as_of=dt.date(2024, 6, 2))
    report = milestone(session, AS_OF)
    assert report.level == 3
    assert report.figures["seen_with_patient_answer_share"] == 1.0
    assert report.figures["seen_confirmed_by_patient_share"] == 0.0


def test_thresholds_are_settings(session):
    small_practice(session, patients=4, unseen=1)
    assign_all(session)
    for pid in session.query(m.Assignment.patient_id):
        confirm_assignment(session, pid[0], by="patient", user="desk", as_of=dt.date(2024, 6, 2))
    assert milestone(session, AS_OF).level == 2
    settings = load_settings(session)
    settings.milestone_assigned_threshold = 0.75
    save_settings(session, settings)
    report = milestone(session, AS_OF)
    assert report.level == 3
    assert report.thresholds["assigned_share"] == 0.75


def test_a_review_run_but_not_accepted_is_still_level_1(session):
    lee, seen = small_practice(session)
    build_review(session, as_of=AS_OF, user="mgr")  # run, never accepted
    confirm_assignment(session, seen[0], by="patient", outcome="changed", provider_id=lee, as_of=AS_OF)  # by hand
    report = milestone(session, AS_OF)
    assert report.level == 1
    assert report.figures["reviews"] == 1 and report.figures["accepted_reviews"] == 0
    assert any(r.startswith("Not met: No assignment review has been accepted yet (1 run") for r in report.reasons)
