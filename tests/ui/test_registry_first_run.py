"""Issue 9 item 6 in the desktop app: the first-run screen creates the registry; an opened
file that is not a registry is a message, and is left unchanged."""

from __future__ import annotations

import sqlite3

from PySide6.QtWidgets import QApplication, QMessageBox

from panelmanager.ui import app as app_module
from panelmanager.ui.screens import welcome


def _answer(monkeypatch, choice, path=None):
    def fake_exec(self):
        self.choice = choice
        self.chosen_path = path
        return welcome.WelcomeDialog.DialogCode.Accepted

    monkeypatch.setattr(welcome.WelcomeDialog, "exec", fake_exec)
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)


def test_create_on_the_first_run_screen_makes_the_registry(qtbot, tmp_path, monkeypatch):
    path = tmp_path / "first.sqlite3"
    _answer(monkeypatch, welcome.WelcomeDialog.CREATE)
    assert app_module.main(db=str(path)) == 0
    assert path.exists()
    for widget in QApplication.topLevelWidgets():
        widget.close()


def test_opening_a_foreign_file_from_the_first_run_screen_is_refused(qtbot, tmp_path, monkeypatch):
    foreign = tmp_path / "crm.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE clients (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    before = foreign.read_bytes()
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    _answer(monkeypatch, welcome.WelcomeDialog.OPEN, str(foreign))
    assert app_module.main(db=str(tmp_path / "missing.sqlite3")) == 1
    assert "is not a Panel Manager registry" in shown[0]
    assert foreign.read_bytes() == before
    assert not (tmp_path / "missing.sqlite3").exists()
