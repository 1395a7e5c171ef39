"""Import screen: dry-run preview writes nothing, import writes and lists history, Cancel keeps nothing."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from panelmanager.core.stats import registry_stats


def _counts(registry):
    with registry.session() as session:
        return registry_stats(session)


def test_preview_then_import_a_synthea_folder(qtbot, window, synthea_small):
    screen = window.show_screen("imports")
    screen.add_paths([str(synthea_small)])
    qtbot.mouseClick(screen.preview_button, Qt.MouseButton.LeftButton)
    assert "Dry run, nothing written: " in screen.summary.text()
    assert _counts(window.registry)["patients"] == 0
    assert screen.results_table.item(0, 1).text() == "ready"

    qtbot.mouseClick(screen.import_button, Qt.MouseButton.LeftButton)
    assert _counts(window.registry)["patients"] == 27
    assert screen.results_table.item(0, 1).text() == "imported"
    assert screen.history_table.rowCount() == 1
    assert screen.history_table.item(0, 2).text() == "committed"


def test_cancel_during_import_keeps_nothing(qtbot, window, synthea_small, monkeypatch):
    from panelmanager.ui import jobs

    original = jobs.Job._on_progress
    state = {"calls": 0}

    def click_cancel_after_a_while(self, done, total, message):
        state["calls"] += 1
        if state["calls"] == 3:
            self.dialog.findChild(QPushButton).click()  # the dialog's Cancel button
        original(self, done, total, message)

    monkeypatch.setattr(jobs.Job, "_on_progress", click_cancel_after_a_while)
    screen = window.show_screen("imports")
    screen.add_paths([str(synthea_small)])
    qtbot.mouseClick(screen.import_button, Qt.MouseButton.LeftButton)
    assert "cancelled" in screen.summary.text()
    assert _counts(window.registry)["patients"] == 0
    assert _counts(window.registry)["visits"] == 0
    assert screen.history_table.item(0, 2).text() == "cancelled"
