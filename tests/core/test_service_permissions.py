"""Issue 14: the core services themselves refuse an action above the acting user's role, whichever
client calls them (the CLI and the GUI set the logged-in user; core.permissions.require_current)."""

from __future__ import annotations

import datetime as dt

import pytest

from panelmanager.core.empanelment import accept_review_items, build_review, confirm_assignment, reassign_patient
from panelmanager.core.permissions import PermissionDenied, acting_as


@pytest.fixture
def actors(fresh_registry, monkeypatch):
    from auth_helpers import fast_hashing, make_users

    fast_hashing(monkeypatch)
    return make_users(fresh_registry)


def test_the_front_desk_confirms_and_reassigns_but_cannot_build_or_accept_a_review(fresh_registry, clinic_ids, actors):
    desk = actors["front_desk"]
    with fresh_registry.session() as session, acting_as(desk):
        confirm_assignment(session, clinic_ids["alice"], by="patient", user=desk.username)
        reassign_patient(session, clinic_ids["carol"], clinic_ids["park"], reason="asked at the desk", user=desk.username)
        with pytest.raises(PermissionDenied, match="front desk"):
            build_review(session, as_of=dt.date(2024, 3, 4), user=desk.username)
        with pytest.raises(PermissionDenied, match="front desk"):
            accept_review_items(session, 1, None, user=desk.username)


def test_a_manager_builds_and_accepts_a_review(fresh_registry, clinic_ids, actors):
    manager = actors["manager"]
    with fresh_registry.session() as session, acting_as(manager):
        review = build_review(session, as_of=dt.date(2024, 3, 4), user=manager.username)
        accept_review_items(session, review.review_id, None, user=manager.username)
