"""Accounts and logging in: first administrator, argon2id, lockout (audited), disabled users, tokens,
and the services refusing a role through ``core.actions.perform``."""

from __future__ import annotations

import datetime as dt

import pytest
from auth_helpers import PASSWORD, fast_hashing, make_users
from sqlalchemy import select

from panelmanager.core import audit, auth
from panelmanager.core import models as m
from panelmanager.core.actions import perform, perform_job, read
from panelmanager.core.permissions import PermissionDenied


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    fast_hashing(monkeypatch)


def actions_of(registry) -> list[tuple[str, str, str]]:
    with registry.session() as session:
        return [(r.user_name, r.action, r.outcome) for r in reversed(audit.list_entries(session))]


def test_first_admin_only_on_an_empty_registry(fresh_registry):
    with fresh_registry.write_session() as session:
        assert not auth.has_users(session)
        admin = auth.create_first_admin(session, "Boss", "Bea Boss", PASSWORD)
    assert admin.role == "admin" and admin.username == "boss"
    with fresh_registry.write_session() as session, pytest.raises(auth.AuthError, match="already has an administrator"):
        auth.create_first_admin(session, "other", "Other", PASSWORD)
    with fresh_registry.session() as session:
        stored = session.scalar(select(m.User.password_hash))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert ("boss", "first_admin", "ok") in actions_of(fresh_registry)


def test_password_rules_and_unique_names(fresh_registry):
    with fresh_registry.write_session() as session:
        admin = auth.create_first_admin(session, "admin", "Admin", PASSWORD)
        with pytest.raises(auth.AuthError, match="at least 10 characters"):
            auth.create_user(session, admin, "shorty", "Short", "provider", "abc")
        with pytest.raises(auth.AuthError, match="is taken"):
            auth.create_user(session, admin, "ADMIN", "Again", "provider", PASSWORD)
        with pytest.raises(auth.AuthError, match="not a role"):
            auth.create_user(session, admin, "x", "X", "janitor", PASSWORD)


def test_login_and_wrong_password(fresh_registry):
    actors = make_users(fresh_registry)
    assert actors["provider"].role == "provider"
    with pytest.raises(auth.AuthError, match="Wrong user name or password"):
        auth.login(fresh_registry, "provider", "not the password")
    with pytest.raises(auth.AuthError, match="Wrong user name or password"):
        auth.login(fresh_registry, "nobody", PASSWORD)
    events = actions_of(fresh_registry)
    assert ("provider", "login", "ok") in events
    assert ("provider", "login_failed", "failed") in events
    assert ("nobody", "login_failed", "failed") in events


def test_lockout_after_five_failures_is_audited(fresh_registry):
    make_users(fresh_registry)
    start = dt.datetime(2026, 1, 5, 9, 0)
    for _attempt in range(auth.MAX_FAILURES - 1):
        with pytest.raises(auth.AuthError) as failed:
            auth.login(fresh_registry, "manager", "wrong password!", now=start)
        assert not isinstance(failed.value, auth.LockedOut)
    with pytest.raises(auth.LockedOut, match="locked for 15 minutes"):
        auth.login(fresh_registry, "manager", "wrong password!", now=start)
    # Even the right password is refused while locked, and that is audited too.
    with pytest.raises(auth.LockedOut, match="try again after 09:15"):
        auth.login(fresh_registry, "manager", PASSWORD, now=start + dt.timedelta(minutes=14))
    assert auth.login(fresh_registry, "manager", PASSWORD, now=start + dt.timedelta(minutes=16)).role == "manager"
    events = actions_of(fresh_registry)
    assert events.count(("manager", "login_failed", "failed")) == auth.MAX_FAILURES - 1 + 1
    assert ("manager", "lockout", "failed") in events
    with fresh_registry.session() as session:
        assert audit.verify(session).ok


def test_admin_reset_lifts_a_lockout(fresh_registry):
    actors = make_users(fresh_registry)
    for _ in range(auth.MAX_FAILURES):
        with pytest.raises(auth.AuthError):
            auth.login(fresh_registry, "provider", "wrong password!")
    with fresh_registry.write_session() as session:
        auth.reset_password(session, actors["admin"], "provider", "a brand new password")
    assert auth.login(fresh_registry, "provider", "a brand new password").role == "provider"


def test_disabled_user_cannot_log_in_and_keeps_history(fresh_registry):
    actors = make_users(fresh_registry)
    with fresh_registry.write_session() as session:
        auth.disable_user(session, actors["admin"], "frontdesk")
    with pytest.raises(auth.AuthError, match="disabled"):
        auth.login(fresh_registry, "frontdesk", PASSWORD)
    with fresh_registry.session() as session:
        assert [e.action for e in audit.list_entries(session, user="frontdesk")][-1] == "login"  # history stays
        assert not next(u for u in auth.list_users(session) if u.username == "frontdesk").active
    with fresh_registry.write_session() as session:
        auth.enable_user(session, actors["admin"], "frontdesk")
    assert auth.login(fresh_registry, "frontdesk", PASSWORD).role == "front_desk"


def test_only_admin_manages_users(fresh_registry):
    actors = make_users(fresh_registry)
    with fresh_registry.write_session() as session:
        with pytest.raises(PermissionDenied, match=r"Your role \(manager\) cannot manage user accounts"):
            auth.create_user(session, actors["manager"], "new", "New", "provider", PASSWORD)
        with pytest.raises(auth.AuthError, match="last active administrator"):
            auth.change_role(session, actors["admin"], "admin", "manager")
        with pytest.raises(auth.AuthError, match="your own account"):
            auth.disable_user(session, actors["admin"], "admin")
        auth.change_role(session, actors["admin"], "manager", "provider")
    assert auth.login(fresh_registry, "manager", PASSWORD).role == "provider"


def test_tokens(fresh_registry):
    actors = make_users(fresh_registry)
    with fresh_registry.write_session() as session:
        with pytest.raises(PermissionDenied):
            auth.create_token(session, actors["manager"], "manager", "nightly import")
        token = auth.create_token(session, actors["admin"], "manager", "nightly import")
    with fresh_registry.session() as session:
        stored = session.scalar(select(m.ApiToken.token_hash))
    assert token not in stored and len(stored) == 64
    assert auth.login_with_token(fresh_registry, token).username == "manager"
    with pytest.raises(auth.AuthError, match="not accepted"):
        auth.login_with_token(fresh_registry, token + "x")
    with fresh_registry.write_session() as session:
        assert auth.revoke_token(session, actors["admin"], "nightly import") == 1
    with pytest.raises(auth.AuthError, match="not accepted"):
        auth.login_with_token(fresh_registry, token)
    events = actions_of(fresh_registry)
    assert ("admin", "token_created", "ok") in events and ("admin", "token_revoked", "ok") in events


# --------------------------------------------------------------------------- through perform()


def test_perform_audits_ok_refused_and_error(fresh_registry, clinic_ids):
    from panelmanager.core.empanelment import confirm_assignment

    actors = make_users(fresh_registry)
    alice = clinic_ids["alice"]
    perform(fresh_registry, actors["front_desk"], "confirm", confirm_assignment, alice, patient_ids=[alice],
            by="patient", user=actors["front_desk"].username, outcome="confirmed")

    def boom(session):
        session.add(m.Setting(key="half-done", value="x", version=1))
        session.flush()
        raise RuntimeError("went wrong")

    with pytest.raises(RuntimeError):
        perform(fresh_registry, actors["manager"], "settings", boom)
    with pytest.raises(PermissionDenied):
        perform(fresh_registry, actors["front_desk"], "review_accept", lambda s: None, patient_ids=[alice])
    with fresh_registry.session() as session:
        rows = audit.list_entries(session, action=["confirm", "settings", "review_accept"])
        assert session.get(m.Setting, "half-done") is None  # the failed service's writes are gone
        assert audit.verify(session).ok
    got = {(r.action, r.outcome, r.patient_ids) for r in rows}
    assert got == {("confirm", "ok", (alice,)), ("settings", "error", ()), ("review_accept", "refused", (alice,))}
    assert next(r for r in rows if r.action == "settings").details == {"error": "RuntimeError"}


def test_services_check_the_acting_user(fresh_registry, clinic_ids):
    from panelmanager.core.outreach import log_outreach
    from panelmanager.core.risk import override_risk_tier
    from panelmanager.core.settings_service import set_setting

    actors = make_users(fresh_registry)
    alice = clinic_ids["alice"]
    # perform() with a broad action: the service checks (and audits) its own, narrower one.
    with pytest.raises(PermissionDenied, match="override a patient's risk tier"):
        perform(fresh_registry, actors["front_desk"], "view_patient", override_risk_tier, alice, 1, "frail", "x")
    with pytest.raises(PermissionDenied, match="change the practice settings"):
        perform(fresh_registry, actors["provider"], "search", set_setting, "idle_lock_minutes", "5")
    perform(fresh_registry, actors["manager"], "settings", set_setting, "idle_lock_minutes", "5")
    perform(fresh_registry, actors["front_desk"], "outreach_log", log_outreach, alice, "in-person", "reached",
            patient_ids=[alice])
    with fresh_registry.session() as session:
        rows = audit.list_entries(session, action=["risk_override", "settings", "outreach_log"])
    assert sorted((r.action, r.user_name, r.outcome, r.patient_ids) for r in rows) == [
        ("outreach_log", "frontdesk", "ok", (alice,)), ("risk_override", "frontdesk", "refused", (alice,)),
        ("settings", "manager", "ok", ()), ("settings", "provider", "refused", ())]
    assert next(r for r in rows if r.outcome == "ok" and r.action == "settings").details == {"changed": ["idle_lock_minutes"]}


def test_break_glass_is_flagged(fresh_registry, clinic_ids):
    from panelmanager.core.risk import override_risk_tier

    actors = make_users(fresh_registry)
    alice = clinic_ids["alice"]
    with pytest.raises(PermissionDenied):
        perform(fresh_registry, actors["manager"], "risk_override", override_risk_tier, alice, 1, "frail", "x")
    perform(fresh_registry, actors["manager"], "risk_override", override_risk_tier, alice, 1, "frail", "mgr",
            patient_ids=[alice], emergency_reason="on-call provider asked by phone")
    with fresh_registry.session() as session:
        flagged = audit.list_entries(session, emergency_only=True)
    assert [(r.user_name, r.action, r.outcome, r.patient_ids) for r in flagged] == [
        ("manager", "risk_override", "ok", (alice,))]
    assert flagged[0].emergency_reason == "on-call provider asked by phone"


def test_read_audits_the_patients_a_search_found(fresh_registry, clinic_ids):
    from panelmanager.core.patients import search_patient_ids

    actors = make_users(fresh_registry)
    found = read(fresh_registry, actors["front_desk"], "search", search_patient_ids, "smith",
                 patient_ids=lambda ids: ids, details={"kind": "name"})
    assert found
    with pytest.raises(PermissionDenied):
        read(fresh_registry, actors["front_desk"], "export", lambda s: None)
    with pytest.raises(PermissionDenied):
        perform_job(fresh_registry, actors["manager"], "restore", lambda: None)
    with fresh_registry.session() as session:
        search = audit.list_entries(session, action="search")[0]
        assert set(search.patient_ids) == set(found) and search.details == {"kind": "name"}
        assert audit.list_entries(session, patient_id=found[0], action="search")
        assert [r.outcome for r in audit.list_entries(session, action=["export", "restore"])] == ["refused", "refused"]
