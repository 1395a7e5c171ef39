"""An empty registry's Check-in points to Import and the demo; a demo loaded from the app has its
care gaps computed, so the patients list does not say they are out of date."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication


def test_empty_check_in_points_to_import_and_the_demo(qtbot, window, monkeypatch):
    screen = window.show_screen("checkin")
    assert screen.stack.currentIndex() == 2
    text = screen.empty_label.text()
    assert "registry is empty" in text and "href='import'" in text and "href='demo'" in text
    screen.empty_label.linkActivated.emit("import")
    assert window.current_screen() is window.screens["imports"]
    asked = []
    monkeypatch.setattr(window, "load_demo", asked.append)
    window.screens["checkin"].empty_label.linkActivated.emit("demo")
    assert asked == [3000]


def test_a_demo_loaded_from_the_app_has_current_care_gaps(qtbot, window):
    from panelmanager.ui.app import start_demo_load

    start_demo_load(window, 40)
    QApplication.processEvents()
    screen = window.show_screen("patients")
    screen.refresh()
    assert screen.model.rowCount() > 0
    assert not screen.banner.isVisibleTo(screen)  # no "care gaps ... not up to date" right after the demo
    checkin = window.screens["checkin"]
    assert "registry is empty" not in checkin.empty_label.text() or checkin.stack.currentIndex() != 2
