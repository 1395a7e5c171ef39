"""Settings screen: what a manager types is saved in the registry and used by the rest of the app."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pypdf import PdfReader
from PySide6.QtCore import Qt

from panelmanager.core import models
from panelmanager.core.settings import load_settings


def _saved(registry):
    with registry.session() as session:
        return load_settings(session)


def test_practice_dates_goals_and_letters_are_saved(qtbot, window):
    screen = window.show_screen("settings")
    screen.practice_name.setText("Riverside Family Medicine")
    screen.practice_phone.setText("(413) 555-0100")
    screen.as_of_enabled.setChecked(True)
    screen.as_of.setDate(dt.date(2024, 2, 3))
    screen.lookback.setValue(24)
    screen.one_letter_per_gap.setChecked(True)
    screen.window_spins["window_top"].setValue(2.25)
    screen.label_start.setValue(7)
    screen.assigned_threshold.setValue(90)
    rows = {screen.goals.item(r, 0).data(Qt.ItemDataRole.UserRole): r for r in range(screen.goals.rowCount())}
    screen.goals.cellWidget(rows["breast-cancer-screening"], 1).setValue(75)
    qtbot.mouseClick(screen.save_button, Qt.MouseButton.LeftButton)

    saved = _saved(window.registry)
    assert saved.practice_name == "Riverside Family Medicine"
    assert saved.as_of_override == dt.date(2024, 2, 3) and saved.lookback_months == 24
    assert saved.letters_one_per_gap is True and saved.label_start_position == 7
    assert saved.letter_offsets_in == {"window_top": 2.25}  # defaults are not stored
    assert saved.milestone_assigned_threshold == pytest.approx(0.90)
    assert saved.measure_goals["breast-cancer-screening"] == 75
    # The status bar shows the fixed as-of date at once.
    assert "2024-02-03" in window.as_of_label.text()


def test_an_inverse_measure_goal_is_a_ceiling_with_its_own_default(window):
    screen = window.show_screen("settings")
    rows = {screen.goals.item(r, 0).data(Qt.ItemDataRole.UserRole): r for r in range(screen.goals.rowCount())}
    a1c = rows["diabetes-a1c-poor-control"]
    assert "lower is better" in screen.goals.item(a1c, 0).text()
    assert screen.goals.cellWidget(a1c, 1).value() == 20
    assert screen.goals.cellWidget(rows["colorectal-cancer-screening"], 1).value() == 70


def test_a_window_off_the_page_or_a_missing_logo_is_refused_and_nothing_saved(qtbot, window, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: shown.append(text))
    screen = window.show_screen("settings")
    screen.practice_name.setText("Changed")
    screen.window_spins["window_left"].setValue(6.0)  # 6 + 4.5 wide runs off a letter page
    qtbot.mouseClick(screen.save_button, Qt.MouseButton.LeftButton)
    assert shown and "envelope window" in shown[-1]
    screen.window_spins["window_left"].setValue(0.875)
    screen.logo_path.setText(str(tmp_path / "missing.png"))
    qtbot.mouseClick(screen.save_button, Qt.MouseButton.LeftButton)
    assert "no image file" in shown[-1]
    assert _saved(window.registry).practice_name == "Our Practice"


def test_the_calibration_page_opens_in_the_preview(qtbot, window):
    screen = window.show_screen("settings")
    screen.window_spins["window_top"].setValue(2.5)
    qtbot.mouseClick(screen.calibration_button, Qt.MouseButton.LeftButton)
    preview = screen.calibration_preview
    data = bytes(preview._bytes)
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    assert "window" in reader.pages[0].extract_text().lower()
    preview.close()


def test_provider_panel_settings_are_saved_as_they_are_edited(window):
    with window.registry.session() as session:
        session.add(models.Provider(source="pm", external_id="LEE", display_name="Ann Lee, MD", last_name="Lee", first_name="Ann", specialty="Family Medicine"))
        session.commit()
    screen = window.show_screen("settings")
    screen.reload()
    model = screen.provider_model
    fte = model.index(0, model.COLUMNS.index("fte"))
    assert model.setData(fte, 0.5)
    is_open = model.index(0, model.COLUMNS.index("panel_open"))
    assert model.setData(is_open, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    with window.registry.session() as session:
        lee = session.query(models.Provider).one()
        assert (lee.fte, lee.panel_open) == (0.5, False)


def test_settings_changed_elsewhere_are_read_again(qtbot, window):
    """A demo load, a restore or another workstation changes the practice settings behind this
    window's back: once the change is noticed (notify_changed), the screens, the letters and the
    status bar use the new settings, not the ones read at start-up."""
    from panelmanager.core.settings_service import set_setting

    screen = window.show_screen("settings")
    screen.refresh()
    with window.registry.session() as session:  # as another workstation's manager would
        set_setting(session, "practice_name", "Riverside Community Health")
    with qtbot.waitSignal(window.ctx.settings_changed, timeout=1000):
        window.ctx.notify_changed()  # what the change poll and a finished demo load call
    assert window.ctx.settings.practice_name == "Riverside Community Health"
    screen.refresh()
    assert screen.practice_name.text() == "Riverside Community Health"
