"""GUI test fixtures: jobs run synchronously (a fake thread pool), a window on a registry."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")


@pytest.fixture(autouse=True)
def synchronous_jobs(monkeypatch):
    from panelmanager.ui.jobs import JobRunner

    monkeypatch.setattr(JobRunner, "synchronous", True)


@pytest.fixture
def window(qtbot, fresh_registry):
    from panelmanager.ui.main_window import MainWindow

    win = MainWindow(registry=fresh_registry)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win
