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


def test_rejected_rows_are_saved_only_where_the_user_chooses(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    source = tmp_path / "drive" / "patients.csv"
    source.parent.mkdir()
    source.write_text("MRN,Last Name,First Name,DOB\n1,Peña,José,04/12/1975\n2,Lee,Ann,13/45/1980\n", encoding="utf-8")
    screen = window.show_screen("imports")
    screen.add_paths([str(source)])
    qtbot.mouseClick(screen.import_button, Qt.MouseButton.LeftButton)
    assert screen.rejects_table.rowCount() == 1
    assert sorted(p.name for p in source.parent.iterdir()) == ["patients.csv"]  # nothing written beside it

    chosen = tmp_path / "kept" / "my-rejects"
    chosen.parent.mkdir()
    asked = []

    def save_dialog(*args, **kwargs):
        asked.append(args)
        return str(chosen), "CSV file (*.csv)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_dialog))
    qtbot.mouseClick(screen.save_rejects_button, Qt.MouseButton.LeftButton)
    assert asked
    written = chosen.with_suffix(".csv")
    assert "13/45/1980" in written.read_text(encoding="utf-8")
    assert "1 rejected rows saved to" in screen.summary.text()
