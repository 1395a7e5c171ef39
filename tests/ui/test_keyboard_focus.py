"""The keyboard goes where the hands are: focus at start-up and after every Ctrl+1..Ctrl+8 is in the
screen's main input (never the sidebar), Ctrl+F works on every screen, a space never presses Cancel
on a running load, and a cancelled load leaves a message and a way to load again."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QAbstractButton, QApplication

from panelmanager.ui.main_window import SCREENS


def _focus(window):
    return QApplication.focusWidget() or window.focusWidget()


def _in_screen(window, key) -> bool:
    widget = _focus(window)
    return widget is not None and window.screens[key].isAncestorOf(widget) and not isinstance(widget, QAbstractButton)


def _action(window, keys: str):
    return next(a for a in window.actions() if a.shortcut() == QKeySequence(keys))


def test_start_up_focus_is_in_check_in_search(qtbot, window):
    with qtbot.waitActive(window):
        window.activateWindow()
    qtbot.waitUntil(lambda: _focus(window) is window.screens["checkin"].search)
    assert window.nav.focusPolicy() == Qt.FocusPolicy.NoFocus


@pytest.mark.parametrize("number", range(1, len(SCREENS) + 1))
def test_every_ctrl_number_puts_focus_in_the_screens_main_input(qtbot, window, number):
    with qtbot.waitActive(window):
        window.activateWindow()
    key = SCREENS[number - 1].key
    _action(window, f"Ctrl+{number}").trigger()
    qtbot.waitUntil(lambda: window.current_screen() is window.screens[key])
    qtbot.waitUntil(lambda: _in_screen(window, key))
    assert not window.nav.hasFocus()
    qtbot.keyClicks(_focus(window), "hernandez")  # typing stays on this screen
    assert window.current_screen() is window.screens[key]


@pytest.mark.parametrize("key", [spec.key for spec in SCREENS])
def test_ctrl_f_works_on_every_screen(qtbot, window, key):
    with qtbot.waitActive(window):
        window.activateWindow()
    window.show_screen(key)
    window.nav.setFocus()
    _action(window, QKeySequence(QKeySequence.StandardKey.Find).toString()).trigger()
    qtbot.waitUntil(lambda: _in_screen(window, key))


def test_a_space_does_not_cancel_a_running_load(qtbot):
    from panelmanager.ui.jobs import Job

    job = Job(None, "Loading")
    assert job.cancel_button.focusPolicy() == Qt.FocusPolicy.NoFocus and not job.cancel_button.autoDefault()
    job.close()


def test_a_cancelled_load_says_so_and_loads_again(qtbot, window):
    screen = window.show_screen("huddle")
    calls = []
    screen.load_cancelled("Loading the huddle", lambda: calls.append("again"))
    assert window.load_again_button.isVisibleTo(window)
    assert "Loading the huddle was cancelled" in window.statusBar().currentMessage()
    qtbot.mouseClick(window.load_again_button, Qt.MouseButton.LeftButton)
    assert calls == ["again"] and not window.load_again_button.isVisibleTo(window)


def test_a_cancelled_panels_load_offers_load_again(qtbot, window, monkeypatch):
    from panelmanager.core.jobs import Cancelled

    screen = window.screens["panels"]

    def cancelled_reader(part):
        def read(session):
            raise Cancelled("cancelled")
        return read

    monkeypatch.setattr(screen, "_reader", cancelled_reader)
    window.show_screen("panels")
    assert window.load_again_button.isVisibleTo(window)
    monkeypatch.undo()
    qtbot.mouseClick(window.load_again_button, Qt.MouseButton.LeftButton)
    assert not window.load_again_button.isVisibleTo(window)
