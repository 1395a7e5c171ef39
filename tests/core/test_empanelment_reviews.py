"""Reviews, confirmations, preferences, history and inactivation around the assignment engine."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from panelmanager.core import models as m
from panelmanager.core.empanelment import (
    EmpanelmentError,
    accept_review_items,
    assignment_for,
    assignment_history,
    build_review,
    confirm_assignment,
    inactivate_patients,
    list_reviews,
    reassign_patient,
    reject_review_items,
    review_items,
    suggest_inactivations,
)

FIRST = dt.date(2024, 5, 1)  # window 2022-11-01 .. 2024-05-01
LATER = dt.date(2024, 11, 1)  # window 2023-05-01 .. 2024-11-01


class Practice:
    def __init__(self, session):
        self.s = session
        self._ids = itertools.count(1)

    def provider(self, ext, name, specialty="FAMILY PRACTICE", **kw):
        p = m.Provider(source="pm", external_id=ext, display_name=name, specialty=specialty, **kw)
        self.s.add(p)
        self.s.flush()
        return p.id

    def patient(self, mrn, **kw):
        p = m.Patient(mrn=mrn, source="pm", first_name="Pat", last_name=mrn, **kw)
        self.s.add(p)
        self.s.flush()
        return p.id

    def visit(self, patient, provider, day, visit_class="ambulatory", status="completed"):
        self.s.add(
            m.Visit(
                patient_id=patient, provider_id=provider, source="pm", external_id=f"v{next(self._ids)}",
                start=dt.datetime.fromisoformat(day + "T10:00"), visit_class=visit_class, status=status,
            )
        )
        self.s.flush()


@pytest.fixture
def practice(fresh_registry):
    with fresh_registry.session() as session:
        yield Practice(session)


@pytest.fixture
def two_doctors(practice):
    return practice.provider("LEE", "Dr. Ann Lee"), practice.provider("PARK", "Dr. Bo Park")


def rows_of(summary):
    return {r["patient"]: r for r in summary.rows()}


def assigned(practice, pid):
    return practice.s.query(m.Assignment).filter_by(patient_id=pid).one_or_none()


def first_panel(practice, lee, pid, days=("2024-01-01", "2024-02-01")):
    for day in days:
        practice.visit(pid, lee, day)
    summary = build_review(practice.s, as_of=FIRST, user="mgr")
    accept_review_items(practice.s, summary.review_id, user="mgr")


def test_rerun_with_unchanged_data_proposes_no_change(practice, two_doctors):
    lee, park = two_doctors
    a, b = practice.patient("A"), practice.patient("B")
    practice.visit(a, lee, "2024-01-01")
    practice.visit(b, park, "2024-02-01")
    first = build_review(practice.s, as_of=FIRST, user="mgr")
    accept_review_items(practice.s, first.review_id, user="mgr")
    again = build_review(practice.s, as_of=FIRST, user="mgr")
    assert (again.new, again.changes, again.held, again.drops, again.unassigned) == (0, 0, 0, 0, 0)
    assert again.unchanged == 2
    assert {r["change"] for r in again.rows()} == {"unchanged"}
    assert review_items(practice.s, again.review_id).empty
    # Accepting an empty review records that the review was done.
    assert accept_review_items(practice.s, again.review_id, user="mgr").status == "accepted"


def test_a_change_is_proposed_with_old_and_new_provider_and_applied_only_when_accepted(practice, two_doctors):
    lee, park = two_doctors
    pid = practice.patient("C")
    first_panel(practice, lee, pid)
    for day in ("2024-06-01", "2024-07-01", "2024-08-01", "2024-09-01", "2024-10-01"):
        practice.visit(pid, park, day)
    summary = build_review(practice.s, as_of=LATER, user="mgr")
    row = rows_of(summary)["C"]
    assert (row["change"], row["current_provider"], row["provider"], row["cut"]) == ("change", "LEE", "PARK", 2)
    assert row["reason"] == "5 of 7 visits with Dr. Bo Park since 2023-05-01"
    items = review_items(practice.s, summary.review_id)
    item = items.iloc[0]
    assert (item["kind"], item["old_provider"], item["new_provider"], item["decision"]) == ("change", "LEE", "PARK", "pending")
    assert assigned(practice, pid).provider_id == lee
    accept_review_items(practice.s, summary.review_id, [int(item["id"])], user="boss")
    assert assigned(practice, pid).provider_id == park
    history = assignment_history(practice.s, pid)
    assert [(h.from_provider, h.to_provider, h.user, h.effective_on) for h in history] == [
        (None, "LEE", "mgr", FIRST),
        ("LEE", "PARK", "boss", LATER),
    ]
    assert history[-1].reason == "5 of 7 visits with Dr. Bo Park since 2023-05-01"


def test_a_confirmed_assignment_is_kept_unless_the_manager_accepts_the_change(practice, two_doctors):
    lee, park = two_doctors
    pid = practice.patient("K")
    first_panel(practice, lee, pid)
    confirm_assignment(practice.s, pid, by="patient", method="check-in", user="desk", as_of=dt.date(2024, 5, 10))
    for day in ("2024-06-01", "2024-07-01", "2024-08-01", "2024-09-01", "2024-10-01"):
        practice.visit(pid, park, day)
    summary = build_review(practice.s, as_of=LATER, user="mgr")
    row = rows_of(summary)["K"]
    assert (row["provider"], row["cut"], row["change"], row["proposed_provider"]) == ("LEE", "kept", "kept", "PARK")
    assert row["reason"] == (
        "Kept: confirmed by the patient on 2024-05-10; the visits point to Dr. Bo Park: "
        "5 of 7 visits with Dr. Bo Park since 2023-05-01"
    )
    assert summary.held == 1 and summary.changes == 0
    # "Accept all" keeps the confirmed assignment...
    decision = accept_review_items(practice.s, summary.review_id, user="mgr")
    assert (decision.accepted, decision.kept, decision.status) == (0, 1, "accepted")
    assert assigned(practice, pid).provider_id == lee
    # ...and the kept proposal is not made again by the next run.
    again = build_review(practice.s, as_of=LATER, user="mgr")
    assert rows_of(again)["K"]["change"] == "kept"
    assert rows_of(again)["K"]["reason"].startswith("Kept: the manager rejected a change to Dr. Bo Park on ")
    assert review_items(practice.s, again.review_id).empty


def test_accepting_a_held_item_by_itself_changes_the_confirmed_assignment(practice, two_doctors):
    lee, park = two_doctors
    pid = practice.patient("H")
    first_panel(practice, lee, pid)
    confirm_assignment(practice.s, pid, by="provider", method="panel-list", user="drlee", as_of=dt.date(2024, 5, 2))
    for day in ("2024-06-01", "2024-07-01", "2024-08-01", "2024-09-01", "2024-10-01"):
        practice.visit(pid, park, day)
    summary = build_review(practice.s, as_of=LATER, user="mgr")
    item = review_items(practice.s, summary.review_id).iloc[0]
    assert bool(item["held"]) and item["reason"].endswith("Dr. Ann Lee was confirmed by the provider on 2024-05-02")
    accept_review_items(practice.s, summary.review_id, [int(item["id"])], user="mgr")
    a = assigned(practice, pid)
    assert a.provider_id == park and a.provider_confirmed_on is None  # confirmations were of Dr. Lee


def test_rejected_items_leave_panels_alone_and_are_not_proposed_again(practice, two_doctors):
    lee, park = two_doctors
    pid = practice.patient("J")
    practice.visit(pid, lee, "2024-01-01")
    summary = build_review(practice.s, as_of=FIRST, user="mgr")
    decision = reject_review_items(practice.s, summary.review_id, user="mgr")
    assert (decision.rejected, decision.status) == (1, "rejected")
    assert assigned(practice, pid) is None
    again = build_review(practice.s, as_of=FIRST, user="mgr")
    row = rows_of(again)["J"]
    assert row["change"] == "unassigned" and row["reason"].startswith("Needs assignment: the manager rejected Dr. Ann Lee on ")
    assert again.new == 0


def test_partly_accepted_review_and_stale_items(practice, two_doctors):
    lee, park = two_doctors
    a, b, c = practice.patient("PA"), practice.patient("PB"), practice.patient("PC")
    for pid in (a, b, c):
        practice.visit(pid, lee, "2024-01-01")
    summary = build_review(practice.s, as_of=FIRST, user="mgr")
    items = review_items(practice.s, summary.review_id).set_index("mrn")
    reassign_patient(practice.s, c, park, reason="Family asked for Dr. Park", user="mgr", as_of=FIRST)
    accept_review_items(practice.s, summary.review_id, [int(items.loc["PA", "id"])], user="mgr")
    reject_review_items(practice.s, summary.review_id, [int(items.loc["PB", "id"])], user="mgr")
    decision = accept_review_items(practice.s, summary.review_id, user="mgr")
    assert (decision.accepted, decision.stale, decision.status) == (0, 1, "partly")
    assert assigned(practice, c).provider_id == park  # the manual change stands
    assert list_reviews(practice.s)[0].status == "partly"


def test_a_new_review_supersedes_an_open_one(practice, two_doctors):
    lee, _ = two_doctors
    pid = practice.patient("S")
    practice.visit(pid, lee, "2024-01-01")
    old = build_review(practice.s, as_of=FIRST, user="mgr")
    build_review(practice.s, as_of=FIRST, user="mgr")
    assert [r.status for r in list_reviews(practice.s)] == ["open", "superseded"]
    assert accept_review_items(practice.s, old.review_id, user="mgr").accepted == 0
    assert assigned(practice, pid) is None


def test_deceased_and_moved_patients_are_proposed_for_dropping(practice, two_doctors):
    lee, _ = two_doctors
    died, moved = practice.patient("DD"), practice.patient("DM")
    first_panel(practice, lee, died)
    first_panel(practice, lee, moved)
    practice.s.get(m.Patient, died).deceased_date = dt.date(2024, 7, 4)
    practice.s.get(m.Patient, moved).status = "moved"
    summary = build_review(practice.s, as_of=LATER, user="mgr")
    rows = rows_of(summary)
    assert (rows["DD"]["change"], rows["DD"]["provider"], rows["DD"]["reason"]) == ("drop", None, "Died 2024-07-04")
    assert (rows["DM"]["change"], rows["DM"]["reason"]) == ("drop", "Moved away")
    accept_review_items(practice.s, summary.review_id, user="mgr")
    assert assigned(practice, died) is None and assigned(practice, moved) is None
    assert assignment_history(practice.s, died)[-1].reason == "Died 2024-07-04"


def test_a_patient_not_seen_in_the_window_stays_on_the_panel(practice, two_doctors):
    lee, _ = two_doctors
    pid = practice.patient("Q")
    first_panel(practice, lee, pid, days=("2023-01-10",))
    summary = build_review(practice.s, as_of=dt.date(2025, 2, 1), user="mgr")
    row = rows_of(summary)["Q"]
    assert (row["provider"], row["cut"], row["change"]) == ("LEE", "kept", "kept")
    assert row["reason"] == "Kept: no qualifying visit since 2023-08-01; on Dr. Ann Lee's panel since 2024-05-01"


def test_provider_says_not_mine_and_the_next_review_looks_elsewhere(practice, two_doctors):
    lee, park = two_doctors
    pid, alone = practice.patient("NM"), practice.patient("NA")
    first_panel(practice, lee, pid, days=("2024-01-01", "2024-02-01"))
    practice.visit(pid, park, "2024-03-01")
    first_panel(practice, lee, alone)
    for patient in (pid, alone):
        confirm_assignment(
            practice.s, patient, by="provider", outcome="not-mine", reason="Sees Dr. Park", method="panel-list",
            user="drlee", as_of=dt.date(2024, 5, 3),
        )
    summary = build_review(practice.s, as_of=FIRST, user="mgr")
    rows = rows_of(summary)
    assert (rows["NM"]["change"], rows["NM"]["provider"], rows["NM"]["cut"]) == ("change", "PARK", 1)
    why = "Dr. Ann Lee marked the patient not theirs on 2024-05-03; 1 of 1 visit with Dr. Bo Park since 2022-11-01"
    assert rows["NM"]["reason"] == why
    item = review_items(practice.s, summary.review_id).set_index("mrn")
    assert item.loc["NM", "reason"] == why
    assert rows["NA"]["change"] == "drop"
    assert rows["NA"]["reason"] == (
        "Dr. Ann Lee marked the patient not theirs on 2024-05-03; no qualifying visit points to another provider"
    )


def test_patient_changes_provider_at_check_in(practice, two_doctors):
    lee, park = two_doctors
    pid = practice.patient("PC1")
    first_panel(practice, lee, pid)
    result = confirm_assignment(
        practice.s, pid, by="patient", outcome="changed", provider_id=park, method="check-in", user="desk",
        as_of=dt.date(2024, 6, 1),
    )
    assert result.assignment_changed
    info = assignment_for(practice.s, pid)
    assert (info.provider, info.cut, info.patient_confirmed_on, info.preferred_provider) == (
        "PARK", "preference", dt.date(2024, 6, 1), "PARK",
    )
    assert assignment_history(practice.s, pid)[-1].reason == "Patient's preference, recorded 2024-06-01 (check-in) by desk"
    # The preference holds against the visits on the next run.
    summary = build_review(practice.s, as_of=LATER, user="mgr")
    assert rows_of(summary)["PC1"]["change"] == "unchanged"
    assert rows_of(summary)["PC1"]["cut"] == "preference"


def test_confirmation_rules(practice, two_doctors):
    lee, park = two_doctors
    pid = practice.patient("CR")
    with pytest.raises(EmpanelmentError, match="on no panel"):
        confirm_assignment(practice.s, pid, by="patient")
    first_panel(practice, lee, pid)
    with pytest.raises(EmpanelmentError, match="record --outcome changed"):
        confirm_assignment(practice.s, pid, by="patient", provider_id=park)
    with pytest.raises(EmpanelmentError, match="reassign the patient first"):
        confirm_assignment(practice.s, pid, by="provider", provider_id=park)
    with pytest.raises(EmpanelmentError, match="method is one of"):
        confirm_assignment(practice.s, pid, by="patient", method="telepathy")
    declined = confirm_assignment(practice.s, pid, by="patient", outcome="declined", method="phone", user="desk")
    assert not declined.assignment_changed
    assert assignment_for(practice.s, pid).patient_confirmed_on is None
    confirm_assignment(practice.s, pid, by="provider", user="drlee", as_of=dt.date(2024, 5, 2))
    assert assignment_for(practice.s, pid).provider_confirmed_on == dt.date(2024, 5, 2)
    rows = practice.s.query(m.Confirmation).order_by(m.Confirmation.id).all()
    assert [(c.party, c.outcome, c.method, c.user) for c in rows] == [
        ("patient", "declined", "phone", "desk"),
        ("provider", "mine", None, "drlee"),
    ]


def test_provider_confirms_an_unassigned_patient_onto_their_panel(practice, two_doctors):
    lee, _ = two_doctors
    pid = practice.patient("UN")
    result = confirm_assignment(practice.s, pid, by="provider", provider_id=lee, user="drlee", as_of=dt.date(2024, 5, 2))
    assert result.assignment_changed
    info = assignment_for(practice.s, pid)
    assert (info.provider, info.cut, info.provider_confirmed_on) == ("LEE", "manual", dt.date(2024, 5, 2))


def test_manual_reassignment_needs_a_reason_and_a_panel_provider(practice, two_doctors):
    lee, park = two_doctors
    cardio = practice.provider("CARD", "Dr. Heart", specialty="CARDIOLOGY")
    pid = practice.patient("MR")
    with pytest.raises(EmpanelmentError, match="Say why"):
        reassign_patient(practice.s, pid, lee, reason=" ")
    with pytest.raises(EmpanelmentError, match="does not hold a panel"):
        reassign_patient(practice.s, pid, cardio, reason="asked")
    change = reassign_patient(practice.s, pid, lee, reason="New patient, chose Dr. Lee", user="mgr", as_of=FIRST)
    assert change.changed
    assert not reassign_patient(practice.s, pid, lee, reason="again", user="mgr").changed
    reassign_patient(practice.s, pid, None, reason="Duplicate chart", user="mgr", as_of=FIRST)
    assert [(h.from_provider, h.to_provider, h.reason) for h in assignment_history(practice.s, pid)] == [
        (None, "LEE", "New patient, chose Dr. Lee"),
        ("LEE", None, "Duplicate chart"),
    ]


def test_inactivation_suggestions_and_inactivating(practice, two_doctors):
    lee, _ = two_doctors
    died = practice.patient("I1", deceased_date=dt.date(2024, 2, 2))
    unseen = practice.patient("I2")
    booked = practice.patient("I3")
    recent = practice.patient("I4")
    practice.patient("I5")  # never seen
    moved = practice.patient("I6")
    practice.visit(died, lee, "2023-01-01")
    practice.visit(unseen, lee, "2021-10-31")
    reassign_patient(practice.s, unseen, lee, reason="On Dr. Lee's paper list", user="mgr", as_of=dt.date(2021, 11, 1))
    practice.visit(unseen, lee, "2024-06-01", visit_class="emergency")  # an ER visit is not being seen here
    practice.visit(booked, lee, "2021-01-01")
    practice.visit(booked, lee, "2024-11-20", status="scheduled")
    practice.visit(recent, lee, "2021-11-02")
    first_panel(practice, lee, moved, days=("2024-01-05",))
    practice.s.get(m.Patient, moved).status = "moved"
    suggestions = {s.mrn: s for s in suggest_inactivations(practice.s, as_of=LATER)}
    assert set(suggestions) == {"I1", "I2", "I5", "I6"}
    assert (suggestions["I1"].kind, suggestions["I1"].reason) == ("deceased", "Died 2024-02-02")
    assert (suggestions["I2"].kind, suggestions["I2"].reason) == ("not-seen", "Not seen since 2021-10-31 (more than 3 years)")
    assert suggestions["I2"].provider == "LEE"
    assert suggestions["I5"].reason == "No visit on record"
    assert (suggestions["I6"].kind, suggestions["I6"].reason) == ("moved", "Moved away but still on a panel")
    assert "I4" in {s.mrn for s in suggest_inactivations(practice.s, as_of=LATER, years=2)}

    result = inactivate_patients(practice.s, [s.patient_id for s in suggestions.values()], as_of=LATER, user="mgr")
    assert (result.inactivated, result.dropped_from_panels) == (4, 2)
    statuses = {p.mrn: p.status for p in practice.s.query(m.Patient)}
    assert (statuses["I1"], statuses["I2"], statuses["I5"], statuses["I6"]) == ("deceased", "inactive", "inactive", "moved")
    assert assigned(practice, unseen) is None
    history = assignment_history(practice.s, unseen)
    assert [(h.from_provider, h.to_provider, h.reason) for h in history][-1] == ("LEE", None, "Left the panel: patient inactive")
    assert suggest_inactivations(practice.s, as_of=LATER) == []
