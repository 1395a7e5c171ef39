"""The login dialog: the registry location shown read-only, the first start creates the administrator,
a wrong password is a message, and a good one gives the Actor."""

from __future__ import annotations

import pytest

from auth_helpers import PASSWORD, fast_hashing, make_users
from panelmanager.core import audit, auth


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    fast_hashing(monkeypatch)


def test_first_start_creates_the_administrator(qtbot, fresh_registry):
    from panelmanager.ui.login import LoginDialog

    dialog = LoginDialog(fresh_registry)
    qtbot.addWidget(dialog)
    assert dialog.first_run and dialog.location.isReadOnly()
    assert dialog.location.text() == fresh_registry.location
    dialog.username.setText("boss")
    dialog.display_name.setText("Bea Boss")
    dialog.password.setText(PASSWORD)
    dialog.repeat.setText(PASSWORD + "x")
    dialog.ok_button.click()
    assert dialog.actor is None and "differ" in dialog.error.text()
    dialog.password.setText("short")
    dialog.repeat.setText("short")
    dialog.ok_button.click()
    assert "at least 10 characters" in dialog.error.text()
    dialog.password.setText(PASSWORD)
    dialog.repeat.setText(PASSWORD)
    dialog.ok_button.click()
    assert dialog.result() == dialog.DialogCode.Accepted
    assert dialog.actor.role == "admin" and dialog.actor.display_name == "Bea Boss"


def test_log_in(qtbot, fresh_registry):
    from panelmanager.ui.login import LoginDialog

    make_users(fresh_registry)
    dialog = LoginDialog(fresh_registry)
    qtbot.addWidget(dialog)
    assert not dialog.first_run and not dialog.repeat.isVisibleTo(dialog)
    dialog.username.setText("provider")
    dialog.password.setText("not my password")
    dialog.ok_button.click()
    assert dialog.actor is None and dialog.error.text() == "Wrong user name or password."
    dialog.password.setText(PASSWORD)
    dialog.ok_button.click()
    assert dialog.actor.username == "provider" and dialog.actor.role == "provider"
    with fresh_registry.session() as session:
        assert [r.outcome for r in audit.list_entries(session, user="provider", action=["login", "login_failed"])][:2] \
            == ["ok", "failed"]


def test_app_start_logs_in_before_the_main_window(qtbot, fresh_registry, monkeypatch):
    """ui.app's login step: the actor becomes the process's logged-in user; Cancel stops the app."""
    from panelmanager.core.permissions import current_actor, set_logged_in
    from panelmanager.ui import app, login

    make_users(fresh_registry)
    monkeypatch.setattr(login, "log_in", lambda registry, parent=None: None)
    assert app.log_in_or_quit(fresh_registry) is None
    actor = auth.login(fresh_registry, "manager", PASSWORD)
    monkeypatch.setattr(login, "log_in", lambda registry, parent=None: actor)
    try:
        assert app.log_in_or_quit(fresh_registry) is actor
        assert current_actor() is actor
    finally:
        set_logged_in(None)
