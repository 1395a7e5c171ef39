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


def test_preview_of_an_athena_report_shows_counts_per_table_and_sample_names(qtbot, window):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "data" / "athena_appointments_cp1252.csv"
    screen = window.show_screen("imports")
    screen.add_paths([str(path)])
    assert "Read as Windows-1252." in screen.summary.text()  # the mapping preview says how it reads the file
    qtbot.mouseClick(screen.preview_button, Qt.MouseButton.LeftButton)
    text = screen.summary.text()
    assert "rows read 12: imported 8, rejected 2, exact duplicates 1, open slots skipped 1" in text
    assert "patients 6 new, 0 updated, 0 unchanged" in text
    assert "appointments/visits 8 new, 0 updated, 0 unchanged" in text
    assert "providers 2 new, 0 updated, 0 unchanged" in text
    assert "Sample names: María Farías, Raúl Núñez" in text
    assert "16 new" not in text  # never one figure adding patients, visits and providers together
    table = screen.results_table
    rows = [[table.item(r, c).text() if table.item(r, c) else "" for c in range(table.columnCount())] for r in range(table.rowCount())]
    assert rows[0][3:9] == ["rows of the file", "12", "8", "2", "1", "1"]
    assert {r[3]: r[9:12] for r in rows[1:]} == {
        "providers": ["2", "0", "0"], "patients": ["6", "0", "0"], "appointments/visits": ["8", "0", "0"]
    }
    assert _counts(window.registry)["patients"] == 0


def test_the_encoding_choice_is_used_by_the_preview(qtbot, window, tmp_path):
    path = tmp_path / "patients.csv"
    path.write_bytes("MRN,First Name,Last Name,DOB\n1,Zoë,Núñez,01/02/1980\n".encode("mac-roman"))
    screen = window.show_screen("imports")
    screen.add_paths([str(path)])
    screen.encoding.setCurrentIndex(screen.encoding.findData("mac-roman"))
    qtbot.mouseClick(screen.preview_button, Qt.MouseButton.LeftButton)
    assert "Sample names: Zoë Núñez." in screen.summary.text()
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
