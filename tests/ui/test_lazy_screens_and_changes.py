"""Issue 11 (UI): screens are built when first shown; the change signal says what changed and a
screen refreshes only for what it shows. Issue 10: the Dashboard loads in a worker (the GUI
thread never waits for it), and closing the window stops the jobs still running."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtWidgets import QApplication

from panelmanager.ui.context import ALL_KINDS, ASSIGNMENTS, GAPS, IMPORT, OUTREACH, SETTINGS
from panelmanager.ui.jobs import JobRunner, run_job

pytest.importorskip("pytestqt")


def test_only_the_first_screen_is_built_at_start(window):
    assert window.built_screens() == ["checkin"]
    assert window.current_screen() is window.screens["checkin"]


def test_a_screen_is_built_when_first_shown_and_kept(window):
    huddle = window.show_screen("huddle")
    assert window.built_screens() == ["checkin", "huddle"]
    assert window.current_screen() is huddle and huddle.isVisible()
    assert window.show_screen("huddle") is huddle  # built once
    window.show_screen("checkin")
    assert window.show_screen("huddle") is huddle


def test_asking_for_a_screen_builds_it_without_showing_it(window):
    settings = window.screens["settings"]
    assert "settings" in window.built_screens()
    assert window.current_screen() is window.screens["checkin"] and not settings.isVisible()
    assert window.stack.indexOf(settings) == list(window.screens).index("settings") == 7  # in its place
    assert len(window.screens) == 8 and set(window.screens) >= {"checkin", "panels", "dashboard"}


def test_ctrl_n_builds_and_shows_the_screen(window, qtbot):
    from PySide6.QtCore import Qt

    qtbot.keyClick(window, Qt.Key.Key_8, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "settings" in window.built_screens())
    assert window.current_screen() is window.screens["settings"]


def test_the_change_signal_names_the_kinds(window, qtbot):
    with qtbot.waitSignal(window.ctx.changed) as blocker:
        window.ctx.notify_changed(OUTREACH)
    assert blocker.args == [frozenset({OUTREACH})]
    with qtbot.waitSignal(window.ctx.changed) as blocker:
        window.ctx.notify_changed(ASSIGNMENTS, {GAPS})
    assert blocker.args == [frozenset({ASSIGNMENTS, GAPS})]
    with qtbot.waitSignal(window.ctx.changed) as blocker:
        window.ctx.notify_changed()  # a restore, a demo load: everything
    assert blocker.args == [ALL_KINDS]
    with qtbot.waitSignal(window.ctx.changed) as blocker:
        window.ctx.save_settings(window.ctx.settings)
    assert blocker.args == [frozenset({SETTINGS})]
    with pytest.raises(ValueError, match="Unknown change kind"):
        window.ctx.notify_changed("everything")


def test_a_screen_reloads_only_for_what_it_shows(window):
    imports = window.show_screen("imports")
    calls = []
    imports.reload = lambda: calls.append("reload")
    window.ctx.notify_changed(OUTREACH)
    window.ctx.notify_changed(ASSIGNMENTS)
    assert calls == []  # the import history shows neither
    window.ctx.notify_changed(IMPORT)
    assert calls == ["reload"]


def test_a_hidden_screen_goes_stale_only_for_what_it_shows(window):
    panels = window.screens["panels"]
    panels._stale = False
    window.ctx.notify_changed(OUTREACH)
    assert not panels._stale
    window.ctx.notify_changed(ASSIGNMENTS)
    assert panels._stale  # reloads when next shown


def test_the_dashboard_opens_without_waiting_for_its_job(window, qtbot, monkeypatch):
    """The dashboard's reads run in a worker thread: showing the screen returns at once."""
    import panelmanager.ui.screens.dashboard as dashboard

    monkeypatch.setattr(JobRunner, "synchronous", False)
    threads = []
    real = dashboard.dashboard_figures  # the cached figures it shows first (issue 10)

    def slow_stale(session, as_of):
        threads.append(threading.current_thread())
        time.sleep(1.0)  # a large registry
        return real(session, as_of)

    monkeypatch.setattr(dashboard, "dashboard_figures", slow_stale)
    start = time.perf_counter()
    screen = window.show_screen("dashboard")
    opened = time.perf_counter() - start
    assert opened < 0.9  # the 1 s read did not run on the GUI thread
    assert screen.isVisible() and JobRunner.running()
    # Shown from the cache first; a registry never computed is then computed in the background.
    qtbot.waitUntil(lambda: screen.data is not None and not screen.recomputing(), timeout=120_000)
    assert threads and all(t is not threading.main_thread() for t in threads)
    assert not JobRunner.running()


def test_closing_the_window_stops_its_running_jobs(window, monkeypatch):
    monkeypatch.setattr(JobRunner, "synchronous", False)
    screen = window.show_screen("checkin")
    seen = {}
    reached = threading.Event()

    def long_job(progress, cancel):
        reached.set()
        for _ in range(2000):  # 20 s unless cancelled
            progress(1, 2, "working")
            cancel.raise_if_cancelled()
            time.sleep(0.01)
        return "finished"

    job = run_job(screen, "A long job", long_job, on_success=lambda r: seen.setdefault("success", r),
                  on_cancelled=lambda m: seen.setdefault("cancelled", m))
    assert reached.wait(30)
    start = time.perf_counter()
    window.close()
    assert time.perf_counter() - start < 10  # cancelled and joined, not run to the end
    assert job.token.cancelled and job.abandoned
    assert job not in JobRunner.running()
    QApplication.processEvents()
    assert seen == {}  # no callback reaches the closed window's screens
