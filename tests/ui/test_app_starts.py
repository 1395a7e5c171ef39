"""The desktop app starts on a registry and stays up (offscreen)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("pytestqt")


def test_main_window_opens_on_a_fresh_registry_and_shows_where_it_is(qtbot, fresh_registry):
    from panelmanager.ui.main_window import MainWindow

    window = MainWindow(registry=fresh_registry)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    assert window.windowTitle() == "Panel Manager"
    assert fresh_registry.location in window.statusBar().currentMessage()


def test_panelmanager_with_no_command_opens_the_app_and_stays_up(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PANELMANAGER_DB": str(tmp_path / "r.sqlite3")}
    process = subprocess.Popen([sys.executable, "-m", "panelmanager"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=6)  # still running after 6 s: the window is up, not crashed
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert (tmp_path / "r.sqlite3").exists()  # the embedded registry was created on first start
