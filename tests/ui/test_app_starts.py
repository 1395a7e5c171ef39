"""The desktop app starts on a registry and stays up (offscreen)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt

pytest.importorskip("pytestqt")


def test_main_window_opens_on_a_fresh_registry_and_shows_where_it_is(qtbot, fresh_registry):
    from panelmanager.ui.main_window import MainWindow

    window = MainWindow(registry=fresh_registry)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.windowTitle() == "Panel Manager"
    assert fresh_registry.location in window.registry_label.text()
    assert window.as_of_label.text().startswith("As of ")


@pytest.mark.parametrize("first_run", [True, False], ids=["first-run-welcome", "existing-registry"])
def test_panelmanager_with_no_command_opens_the_app_and_stays_up(tmp_path, first_run):
    if not first_run:
        from panelmanager.core.db import open_registry

        open_registry(tmp_path / "r.sqlite3", create=True).close()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PANELMANAGER_DB": str(tmp_path / "r.sqlite3")}
    process = subprocess.Popen([sys.executable, "-m", "panelmanager"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=6)  # still running after 6 s: the window is up, not crashed
    finally:
        process.terminate()
        process.wait(timeout=10)
    # On first run the welcome screen waits for a choice and creates nothing by itself.
    assert (tmp_path / "r.sqlite3").exists() is not first_run


def test_welcome_offers_create_open_and_demo(qtbot):
    from panelmanager.ui.screens.welcome import WelcomeDialog

    dialog = WelcomeDialog("/somewhere/registry.sqlite3")
    qtbot.addWidget(dialog)
    assert dialog.create_button.isDefault()
    qtbot.mouseClick(dialog.demo_button, Qt.MouseButton.LeftButton)
    assert dialog.choice == WelcomeDialog.DEMO
    assert dialog.result() == WelcomeDialog.DialogCode.Accepted
