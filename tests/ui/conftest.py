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


@pytest.fixture(autouse=True)
def questions(monkeypatch):
    """Question boxes answer Yes without opening (tests set ``answer`` to say Cancel); ``asked`` keeps the texts."""
    from PySide6.QtWidgets import QMessageBox

    from panelmanager.ui.print_preview import PrintPreviewDialog
    from panelmanager.ui.screens.outreach import OutreachScreen

    class Questions:
        answer = QMessageBox.StandardButton.Yes
        asked: list[str] = []

        def __call__(self, parent, title, text, *args, **kwargs):
            self.asked.append(text)
            return self.answer

    recorder = Questions()
    recorder.asked = []
    for owner in (PrintPreviewDialog, OutreachScreen):
        monkeypatch.setattr(owner, "question", staticmethod(recorder))
    return recorder
