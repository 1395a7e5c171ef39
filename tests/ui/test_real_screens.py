"""Every page of the main window is its real screen class, imported statically (so
PyInstaller bundles it), never a "not available in this version" placeholder."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

EXPECTED = {
    "checkin": "panelmanager.ui.screens.checkin.CheckInScreen",
    "patients": "panelmanager.ui.screens.patients.PatientsScreen",
    "panels": "panelmanager.ui.screens.panels.PanelsScreen",
    "dashboard": "panelmanager.ui.screens.dashboard.DashboardScreen",
    "huddle": "panelmanager.ui.screens.huddle.HuddleScreen",
    "outreach": "panelmanager.ui.screens.outreach.OutreachScreen",
    "imports": "panelmanager.ui.screens.imports.ImportScreen",
    "settings": "panelmanager.ui.screens.settings.SettingsScreen",
}


def test_each_of_the_eight_screens_is_its_real_class(qtbot, fresh_registry):
    from panelmanager.ui.main_window import MainWindow
    from panelmanager.ui.screens import base

    window = MainWindow(registry=fresh_registry)
    qtbot.addWidget(window)
    found = {key: f"{type(s).__module__}.{type(s).__name__}" for key, s in window.screens.items()}
    assert found == EXPECTED
    placeholder = getattr(base, "PlaceholderScreen", None)
    assert not any(placeholder and isinstance(s, placeholder) for s in window.screens.values())


def test_main_window_imports_its_screens_statically():
    source = Path(__file__).resolve().parents[2] / "panelmanager" / "ui" / "main_window.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    imported = {
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    assert set(EXPECTED.values()) <= imported
    assert "import_module" not in source.read_text(encoding="utf-8")
