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


def test_main_shows_the_login_then_the_window(qtbot, tmp_path, monkeypatch):
    """ui.app.main: the login dialog first; the main window (with the idle lock) once logged in."""
    from PySide6.QtWidgets import QApplication

    from panelmanager.core.db import open_registry
    from panelmanager.core.permissions import set_logged_in
    from panelmanager.ui import app as app_module

    path = tmp_path / "r.sqlite3"
    registry = open_registry(path, create=True)
    make_users(registry)
    registry.close()
    opened = {}

    def fake_exec(self):
        dialog = self._login_dialog
        opened["location"] = dialog.location.text()
        dialog.username.setText("manager")
        dialog.password.setText(PASSWORD)
        dialog.ok_button.click()
        opened["window"] = getattr(self, "_main_window", None)
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    try:
        assert app_module.main(db=str(path)) == 0
        window = opened["window"]
        assert window is not None and window.actor.username == "manager"
        assert opened["location"].endswith("r.sqlite3") and window.idle_lock.timeout_ms == 10 * 60_000
        window.idle_lock.stop()
        window.close()
    finally:
        set_logged_in(None)
        QApplication.instance().setQuitOnLastWindowClosed(True)


def test_the_screens_act_as_the_logged_in_user_not_the_settings_name(qtbot, tmp_path, monkeypatch):
    """Issue 14: once someone is logged in, what the GUI records carries their user name."""
    from panelmanager.core.db import open_registry
    from panelmanager.core.permissions import set_logged_in
    from panelmanager.core.settings_service import set_setting
    from panelmanager.ui.main_window import MainWindow

    registry = open_registry(tmp_path / "r.sqlite3", create=True)
    actors = make_users(registry)
    with registry.session() as session:
        set_setting(session, "user_name", "Dr. Bob (not me)")
    window = MainWindow(registry=registry)
    qtbot.addWidget(window)
    try:
        set_logged_in(actors["front_desk"])
        assert window.ctx.user == actors["front_desk"].username
        screen = window.show_screen("settings")  # nor does Settings offer a name to type any more
        screen.refresh()  # what showing it does (the window is not on screen here)
        assert not screen._practice_form.isRowVisible(screen.user_name)
    finally:
        set_logged_in(None)
        window.close()
        registry.close()
