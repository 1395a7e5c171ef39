"""Every change a user makes is audited by the core service that makes it (issue 14), whichever
client calls it: one entry per action, naming the patients changed (ids), its outcome, in the
change's own transaction. A refusal or an error keeps its entry while the change is rolled back;
a service called by another adds no entry of its own; with no one logged in nothing is recorded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from auth_helpers import fast_hashing, make_users
from sqlalchemy import func, select

from panelmanager.core import audit
from panelmanager.core import models as m
from panelmanager.core.concurrency import run_write
from panelmanager.core.empanelment import EmpanelmentError, confirm_assignment, reassign_patient
from panelmanager.core.permissions import PermissionDenied, acting_as, set_logged_in

DAY = dt.date(2024, 3, 4)
HEADER = ("patientid,patient firstname,patient lastname,patientdob,patientsex,appointmentid,apptdate,apptstarttime,"
          "appttype,apptstatus,appt schdlng prvdr\n")  # an athenaOne appointments report
ROWS = ("1001,MARIA,GARCIA,04/12/1975,F,50002,06/20/2024,02:15 PM,FOLLOW UP,4,KLEINS\n"
        "1002,JOHN,OBRIEN,01/02/1950,M,50003,03/01/2024,10:00 AM,FOLLOW UP,4,KLEINS\n")


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    fast_hashing(monkeypatch)
    yield
    set_logged_in(None)


def entries(registry, *actions: str) -> list[audit.AuditRow]:
    with registry.session() as session:
        return list(reversed(audit.list_entries(session, action=list(actions) if actions else None, limit=None)))


def changes_of(registry) -> list[tuple]:
    """The entries after the accounts were made: (user, action, outcome, patient ids)."""
    skip = {"first_admin", "user_created", "login"}
    return [(r.user_name, r.action, r.outcome, r.patient_ids) for r in entries(registry) if r.action not in skip]


def confirmations(registry, patient_id: int) -> int:
    with registry.session() as session:
        return session.scalar(select(func.count()).select_from(m.Confirmation).where(m.Confirmation.patient_id == patient_id))


def test_a_check_in_confirm_is_one_entry_naming_the_patient(fresh_registry, clinic_ids):
    actors = make_users(fresh_registry)
    alice, lee, park = clinic_ids["alice"], clinic_ids["lee"], clinic_ids["park"]
    set_logged_in(actors["front_desk"])  # as the desktop app does at login
    # What the Check-in screen runs (ui/widgets/confirm_panel): the service in a write transaction.
    run_write(fresh_registry, confirm_assignment, alice, by="patient", outcome="confirmed", method="check-in",
              user="frontdesk", as_of=DAY)
    # "changed" also records the preference and moves the patient (two services inside): one entry.
    run_write(fresh_registry, confirm_assignment, alice, by="patient", outcome="changed", provider_id=park,
              method="check-in", user="frontdesk", as_of=DAY)
    run_write(fresh_registry, reassign_patient, alice, lee, reason="back to Dr. Lee", user="frontdesk", as_of=DAY)
    assert changes_of(fresh_registry) == [
        ("frontdesk", "confirm", "ok", (alice,)),
        ("frontdesk", "confirm", "ok", (alice,)),
        ("frontdesk", "reassign", "ok", (alice,)),
    ]
    plain, changed, _moved = entries(fresh_registry, "confirm", "reassign")
    assert not plain.details  # the everyday "yes" stays a small row (no details stored)
    assert changed.details == {"by": "patient", "outcome": "changed", "moved": True}
    assert plain.workstation and plain.role == "front_desk"
    with fresh_registry.session() as session:
        assert audit.verify(session).ok


def test_an_error_keeps_its_entry_and_loses_the_change(fresh_registry, clinic_ids):
    actors = make_users(fresh_registry)
    carol = clinic_ids["carol"]  # on no panel: "confirmed" is refused by the service
    set_logged_in(actors["front_desk"])
    with pytest.raises(EmpanelmentError, match="on no panel"):
        run_write(fresh_registry, confirm_assignment, carol, by="patient", outcome="confirmed", user="frontdesk")
    assert changes_of(fresh_registry) == [("frontdesk", "confirm", "error", (carol,))]
    assert entries(fresh_registry, "confirm")[0].details == {"error": "EmpanelmentError"}
    assert confirmations(fresh_registry, carol) == 0


def test_a_refusal_keeps_its_entry_and_changes_nothing(fresh_registry, clinic_ids):
    from panelmanager.core.empanelment import accept_review_items, build_review

    actors = make_users(fresh_registry)
    carol, park = clinic_ids["carol"], clinic_ids["park"]
    with fresh_registry.write_session() as session:  # Carol, on no panel, was seen by Dr. Park: cut 2 proposes him
        session.add(m.Visit(patient_id=carol, provider_id=park, source="pm", external_id="v-carol", start=dt.datetime(2024, 1, 5, 9),
                            visit_class="ambulatory", visit_type="Follow-up", status="completed"))
    with fresh_registry.write_session() as session, acting_as(actors["manager"]):
        review = build_review(session, as_of=DAY, user="manager")
    set_logged_in(actors["front_desk"])
    with pytest.raises(PermissionDenied, match="Ask a manager"):
        run_write(fresh_registry, accept_review_items, review.review_id, user="frontdesk")
    with fresh_registry.session() as session:
        assert session.get(m.PanelReview, review.review_id).status == "open"
    assert changes_of(fresh_registry) == [("manager", "assign", "ok", ()), ("frontdesk", "review_accept", "refused", ())]
    set_logged_in(actors["manager"])
    decision = run_write(fresh_registry, accept_review_items, review.review_id, user="manager")
    accepted = entries(fresh_registry, "review_accept")[-1]
    assert (accepted.user_name, accepted.outcome) == ("manager", "ok")
    assert carol in decision.patient_ids and accepted.patient_ids == tuple(sorted(decision.patient_ids))
    assert accepted.details["accepted"] == decision.accepted


def test_an_error_the_caller_handles_is_kept_with_its_transaction(fresh_registry, clinic_ids):
    actors = make_users(fresh_registry)
    carol, alice = clinic_ids["carol"], clinic_ids["alice"]
    with fresh_registry.write_session() as session, acting_as(actors["front_desk"]):
        for pid in (carol, alice):  # a batch that skips the patient it cannot confirm
            try:
                with session.begin_nested():
                    confirm_assignment(session, pid, by="patient", outcome="confirmed", user="frontdesk")
            except EmpanelmentError:
                continue
    assert changes_of(fresh_registry) == [("frontdesk", "confirm", "ok", (alice,)),
                                          ("frontdesk", "confirm", "error", (carol,))]


def test_nothing_is_recorded_without_a_login(fresh_registry, clinic_ids):
    run_write(fresh_registry, confirm_assignment, clinic_ids["alice"], by="patient", outcome="confirmed", user="x")
    assert entries(fresh_registry) == []


def test_outreach_risk_settings_and_providers_are_audited(fresh_registry, clinic_ids):
    from panelmanager.core.outreach import log_outreach
    from panelmanager.core.providers import update_provider
    from panelmanager.core.risk import override_risk_tier
    from panelmanager.core.settings import load_settings, save_settings

    actors = make_users(fresh_registry)
    alice, lee = clinic_ids["alice"], clinic_ids["lee"]
    set_logged_in(actors["ma_nurse"])
    run_write(fresh_registry, log_outreach, alice, "call", "reached", user="manurse")
    run_write(fresh_registry, override_risk_tier, alice, 3, "frail after a fall", "manurse")
    with pytest.raises(PermissionDenied):
        run_write(fresh_registry, update_provider, lee, panel_open=False)
    set_logged_in(actors["manager"])
    run_write(fresh_registry, update_provider, lee, panel_open=False)
    with fresh_registry.write_session() as session:
        settings = load_settings(session)
        settings.practice_phone = "(413) 555-0199"
        save_settings(session, settings)
    got = [(r.user_name, r.action, r.outcome, r.patient_ids, r.details) for r in entries(fresh_registry)
           if r.action not in ("first_admin", "user_created", "login")]
    assert got == [
        ("manurse", "outreach_log", "ok", (alice,), {"method": "call", "outcome": "reached"}),
        ("manurse", "risk_override", "ok", (alice,), {"tier": 3}),
        ("manurse", "settings", "refused", (), {}),
        ("manager", "settings", "ok", (), {"provider": lee, "changed": ["panel_open"]}),
        ("manager", "settings", "ok", (), {"changed": ["practice_phone"]}),  # names, never values
    ]


def test_an_import_is_one_entry_with_counts_and_no_file_name(fresh_registry, tmp_path: Path):
    from panelmanager.core.importers import run_import

    actors = make_users(fresh_registry)
    path = tmp_path / "garcia-appointments.csv"
    path.write_text(HEADER + ROWS, encoding="utf-8")
    set_logged_in(actors["front_desk"])
    with pytest.raises(PermissionDenied, match="import"):
        run_import(fresh_registry, [path], write_rejects=False)
    with fresh_registry.session() as session:
        assert session.scalar(select(func.count()).select_from(m.Patient)) == 0
    set_logged_in(actors["manager"])
    [outcome] = run_import(fresh_registry, [path], write_rejects=False)
    assert outcome.ok
    refused, done = entries(fresh_registry, "import")
    assert (refused.user_name, refused.outcome) == ("frontdesk", "refused")
    assert (done.user_name, done.outcome) == ("manager", "ok")
    assert done.details["files"] == 1 and done.details["new"] == outcome.new > 0 and done.details["dry_run"] is False
    assert "garcia" not in str(done.details).lower() and ".csv" not in str(done.details)


def test_the_chain_stays_whole_when_one_write_appends_twice_or_rolls_a_savepoint_back(fresh_registry, clinic_ids):
    """On SQLite a write transaction's counter bump reads the chain head for its first append
    (core.concurrency._bump_sqlite): a second append in the same transaction, or one after a
    savepoint that appended was rolled back, must read the head again, or the chain would break."""
    from panelmanager.core.concurrency import begin_write

    actors = make_users(fresh_registry)
    desk = actors["front_desk"]
    before = len(entries(fresh_registry))
    with fresh_registry.write_session() as session:
        begin_write(session)
        audit.record(session, desk, "search", details={"n": 1})
        audit.record(session, desk, "search", details={"n": 2})  # the head moved: read again
        with pytest.raises(RuntimeError), session.begin_nested():
            audit.record(session, desk, "search", details={"n": 3})
            raise RuntimeError("rolled back with its savepoint")
        audit.record(session, desk, "search", details={"n": 4})
    with fresh_registry.write_session() as session:  # a transaction that appends nothing...
        begin_write(session)
    with fresh_registry.write_session() as session:  # ...leaves no head behind for the next one
        begin_write(session)
        audit.record(session, desk, "search", details={"n": 5})
    got = entries(fresh_registry)[before:]
    assert [e.details["n"] for e in got] == [1, 2, 4, 5]
    assert [e.seq for e in got] == list(range(got[0].seq, got[0].seq + 4))
    with fresh_registry.session() as session:
        assert audit.verify(session).ok
