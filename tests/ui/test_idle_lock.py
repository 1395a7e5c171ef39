"""The idle lock: after the timeout no patient name is visible in any widget of any window, an open
dialog survives (its exec() keeps running), and the same user or another user unlocks."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from auth_helpers import PASSWORD, fast_hashing, make_users
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QAbstractItemView, QApplication, QComboBox, QDialog, QLabel, QVBoxLayout

from panelmanager.core import audit
from panelmanager.core.permissions import set_logged_in

DAY = dt.date(2024, 3, 4)
NAMES = ("Alice", "Smith", "Jones", "Carol", "Brown", "Garcia")


@pytest.fixture(autouse=True)
def _fast(monkeypatch):
    fast_hashing(monkeypatch)
    yield
    set_logged_in(None)


def visible_text() -> str:
    """Every text a person could read on screen: labels, fields, buttons, titles and table cells."""
    parts: list[str] = []
    for widget in QApplication.allWidgets():
        if not widget.isVisible():
            continue
        if widget.isWindow():
            parts.append(widget.windowTitle())
        for getter in ("text", "toPlainText", "placeholderText", "title"):
            value = getattr(widget, getter, None)
            if callable(value):
                try:
                    got = value()
                except TypeError:
                    continue
                if isinstance(got, str):
                    parts.append(got)
        if isinstance(widget, QComboBox):
            parts.append(widget.currentText())
        if isinstance(widget, QAbstractItemView) and widget.model() is not None:
            model = widget.model()
            try:
                columns = model.columnCount()
            except TypeError:  # a list model: one column (its columnCount is private)
                columns = 1
            for row in range(min(model.rowCount(), 200)):
                for column in range(columns):
                    value = model.data(model.index(row, column))
                    if value is not None:
                        parts.append(str(value))
    return "\n".join(parts)


@pytest.fixture
def locked_window(qtbot, clinic_ids, window):
    from panelmanager.ui.lock import IdleLock

    settings = dataclasses.replace(window.ctx.settings, as_of_override=DAY)
    window.ctx.save_settings(settings)
    screen = window.show_screen("patients")
    qtbot.waitUntil(lambda: screen.model.rowCount() == 5)
    actors = make_users(window.registry)
    set_logged_in(actors["front_desk"])
    lock = IdleLock(window, window.registry, actors["front_desk"], timeout_ms=300)
    yield window, lock, actors
    lock.stop()


def test_after_the_timeout_no_patient_name_is_visible(qtbot, locked_window):
    window, lock, _actors = locked_window
    dialog = QDialog(window)
    dialog.setWindowTitle("Alice Smith - outreach note")
    QVBoxLayout(dialog).addWidget(QLabel("Call Alice Smith about her mammogram"))
    dialog.show()
    qtbot.waitExposed(dialog)
    assert any(name in visible_text() for name in NAMES)  # the test would see them
    qtbot.waitUntil(lambda: lock.is_locked, timeout=5000)
    text = visible_text()
    assert not [name for name in NAMES if name in text], text
    assert "Panel Manager is locked" in text
    assert dialog.isVisible()  # the dialog is covered, not closed
    panel = lock._panels[window]
    panel.password.setText("wrong password!")
    panel.unlock_button.click()
    assert lock.is_locked and "Wrong password" in panel.error.text()
    panel.password.setText(PASSWORD)
    panel.unlock_button.click()
    assert not lock.is_locked
    assert "Alice Smith - outreach note" == dialog.windowTitle()
    assert any(name in visible_text() for name in NAMES)
    with window.registry.session() as session:
        events = [(r.action, r.outcome) for r in audit.list_entries(session, user="frontdesk")]
    assert ("lock", "ok") in events and ("unlock", "failed") in events and ("unlock", "ok") in events


def test_a_running_dialog_survives_the_lock(qtbot, locked_window):
    window, lock, _actors = locked_window
    dialog = QDialog(window)
    QVBoxLayout(dialog).addWidget(QLabel("Dan Garcia"))
    seen: dict[str, object] = {}

    def while_open():
        lock.lock()
        seen["hidden"] = "Garcia" not in visible_text()
        lock.try_unlock("", PASSWORD)
        seen["back"] = "Garcia" in visible_text()
        dialog.accept()

    QTimer.singleShot(50, while_open)
    assert dialog.exec() == QDialog.DialogCode.Accepted
    assert seen == {"hidden": True, "back": True}


def test_another_user_logs_in_at_the_lock_screen(qtbot, locked_window):
    window, lock, actors = locked_window
    changed = []
    lock.user_changed.connect(changed.append)
    lock.lock()
    assert lock.try_unlock("mamanager", PASSWORD) == "Wrong user name or password."
    assert lock.try_unlock("manager", PASSWORD) is None
    assert not lock.is_locked and changed and changed[0].username == "manager"
    assert lock.actor.role == "manager"
    with window.registry.session() as session:
        logout = audit.list_entries(session, user="frontdesk", action="logout")
    assert logout and logout[0].details == {"reason": "another user logged in at the lock screen"}


def test_input_keeps_it_unlocked(qtbot, locked_window):
    _window, lock, _actors = locked_window
    lock.timeout_ms = 60_000
    lock._tick()
    assert not lock.is_locked
