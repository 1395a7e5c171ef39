"""Several workstations, one registry: versions, conflicts named to the user, a busy registry."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from panelmanager.core import models as m
from panelmanager.core.concurrency import BUSY_MESSAGE, Conflict, RegistryBusy, change_counter, run_write
from panelmanager.core.empanelment import (
    accept_review_items,
    assignment_for,
    assignment_history,
    confirm_assignment,
    reassign_patient,
)
from panelmanager.core.risk import override_risk_tier, risk_override_version
from panelmanager.core.settings import load_settings, save_settings, settings_version


def _version(registry, patient_id: int) -> int:
    with registry.session() as session:
        return assignment_for(session, patient_id).version


def test_a_stale_reassign_is_refused_naming_who_changed_the_panel_and_when(fresh_registry, clinic_ids):
    seen = _version(fresh_registry, clinic_ids["alice"])
    run_write(fresh_registry, reassign_patient, clinic_ids["alice"], clinic_ids["park"], reason="asked", user="jsmith",
              expected_version=seen)
    with pytest.raises(Conflict) as caught:
        run_write(fresh_registry, reassign_patient, clinic_ids["alice"], clinic_ids["lee"], reason="mine", user="mlee",
                  expected_version=seen)
    message = str(caught.value)
    assert message.startswith("Dr. Bo Park's panel was changed by jsmith at ")
    assert message.endswith(" - reload and try again.")
    assert "Alice" not in message and "P1" not in message
    with fresh_registry.session() as session:
        assert assignment_for(session, clinic_ids["alice"]).provider_name == "Dr. Bo Park"
        assert [h.user for h in assignment_history(session, clinic_ids["alice"])].count("mlee") == 0


def test_versions_only_grow_even_across_an_unassignment(fresh_registry, clinic_ids):
    alice = clinic_ids["alice"]
    first = _version(fresh_registry, alice)
    run_write(fresh_registry, reassign_patient, alice, None, reason="left", user="a", expected_version=first)
    assert _version(fresh_registry, alice) == 0
    run_write(fresh_registry, reassign_patient, alice, clinic_ids["lee"], reason="back", user="a", expected_version=0)
    again = _version(fresh_registry, alice)
    assert again > first
    with pytest.raises(Conflict):
        run_write(fresh_registry, confirm_assignment, alice, by="patient", user="b", expected_version=first)
    run_write(fresh_registry, confirm_assignment, alice, by="patient", user="b", expected_version=again)
    assert _version(fresh_registry, alice) == again + 1


def test_two_users_assigning_one_unassigned_patient_one_wins_the_other_is_told(fresh_registry, clinic_ids):
    carol = clinic_ids["carol"]
    assert _version(fresh_registry, carol) == 0
    run_write(fresh_registry, reassign_patient, carol, clinic_ids["lee"], reason="new", user="desk1", expected_version=0)
    with pytest.raises(Conflict, match="Dr. Ann Lee's panel was changed by desk1 at"):
        run_write(fresh_registry, reassign_patient, carol, clinic_ids["park"], reason="new", user="desk2",
                  expected_version=0)
    with fresh_registry.session() as session:
        assert len(assignment_history(session, carol)) == 1


def test_a_review_item_decided_by_someone_else_is_a_conflict(fresh_registry):
    from concurrency_workload import build_practice

    practice = build_practice(fresh_registry, n_patients=3)
    with fresh_registry.session() as session:
        item = session.scalar(select(m.PanelReviewItem.id).order_by(m.PanelReviewItem.id))
    run_write(fresh_registry, accept_review_items, practice["review_id"], [item], user="manager1")
    with pytest.raises(Conflict, match="already accepted by manager1 at"):
        run_write(fresh_registry, accept_review_items, practice["review_id"], [item], user="manager2")


def test_risk_overrides_and_settings_carry_a_version(fresh_registry, clinic_ids):
    dan = clinic_ids["dan"]
    with fresh_registry.session() as session:
        seen = risk_override_version(session, dan)
        seen_settings = settings_version(session)
        settings = load_settings(session)
    run_write(fresh_registry, override_risk_tier, dan, 3, "frail", "nurse1", expected_version=seen)
    with pytest.raises(Conflict, match="risk tier was changed by nurse1 at"):
        run_write(fresh_registry, override_risk_tier, dan, 1, "fine", "nurse2", expected_version=seen)
    run_write(fresh_registry, save_settings, settings, expected_version=seen_settings)
    with pytest.raises(Conflict, match="settings were changed on another workstation"):
        run_write(fresh_registry, save_settings, settings, expected_version=seen_settings)
    with fresh_registry.session() as session:
        assert session.scalar(select(func.count()).select_from(m.RiskOverride)) == 1


def test_every_write_bumps_the_change_counter(fresh_registry, clinic_ids):
    with fresh_registry.session() as session:
        before = change_counter(session)
    run_write(fresh_registry, confirm_assignment, clinic_ids["alice"], by="patient", user="desk")
    with fresh_registry.session() as session:
        assert change_counter(session) == before + 1


@pytest.mark.sqlite_only
def test_a_registry_locked_by_an_import_elsewhere_says_so_without_patient_data(registry_path, monkeypatch, capsys):
    import sqlite3

    from panelmanager import cli
    from panelmanager.core import db

    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 50)
    registry = db.open_registry(registry_path, create=True)
    with registry.session() as session:
        from clinic import build_clinic

        ids = build_clinic(session)
    other = sqlite3.connect(registry_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another workstation's import holds the write lock
    try:
        with pytest.raises(RegistryBusy) as caught:
            run_write(registry, confirm_assignment, ids["alice"], by="patient", user="desk")
        assert str(caught.value) == BUSY_MESSAGE
        code = cli.main(["--db", str(registry_path), "confirm", "P1", "--by", "patient"])
    finally:
        other.rollback()
        other.close()
        registry.close()
    err = capsys.readouterr().err
    assert code != 0
    assert "another workstation is importing; try again in a minute" in err
    assert "Traceback" not in err and "P1" not in err and "SELECT" not in err and "INSERT" not in err


def test_four_workstations_doing_mixed_actions_lose_nothing(fresh_registry, registry_url):
    from concurrency_workload import build_practice, check_final_state, run_workers

    practice = build_practice(fresh_registry)
    actions = int(os.environ.get("PANELMANAGER_CONCURRENCY_ACTIONS", "40"))
    results = run_workers(str(registry_url), practice, processes=4, actions=actions)
    counts = check_final_state(fresh_registry, practice, results)
    assert sum(counts.values()) == 4 * actions
    assert counts["confirmed"] and counts["reassigned"] and counts["outreach"] and counts["accepted"]


def test_another_workstation_sees_a_change_at_its_next_poll(fresh_registry, clinic_ids, registry_url):
    from panelmanager.core.concurrency import ChangeWatcher
    from panelmanager.core.db import open_registry

    other = open_registry(registry_url)  # the MA's workstation
    try:
        watcher = ChangeWatcher(other)
        assert watcher.poll() is False
        run_write(fresh_registry, confirm_assignment, clinic_ids["alice"], by="patient", user="desk")
        assert watcher.poll() is True
        assert watcher.poll() is False
    finally:
        other.close()
