"""File > Back up registry... and Restore from backup... on the main window."""

from __future__ import annotations

import sqlite3

from PySide6.QtWidgets import QFileDialog, QMessageBox

from panelmanager.core import models as m


def _count(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM patients").fetchone()[0]
    finally:
        conn.close()


def test_back_up_then_restore_from_the_file_menu(qtbot, window, registry_path, tmp_path, monkeypatch):
    with window.registry.session() as session:
        session.add(m.Patient(mrn="1", first_name="Ann", last_name="Lee", source="t", status="active"))
    target = tmp_path / "copy.sqlite3"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    window.backup_action.trigger()
    assert _count(target) == 1 and "Backed up the registry" in window.statusBar().currentMessage()

    with window.registry.session() as session:
        session.add(m.Patient(mrn="2", first_name="Bo", last_name="Ray", source="t", status="active"))
    changed = []
    window.ctx.changed.connect(lambda: changed.append(True))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(target), "")))
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    window.restore_action.trigger()
    assert changed and "Restored" in window.statusBar().currentMessage()
    with window.registry.session() as session:  # the same Registry object reads the restored file
        assert session.query(m.Patient).count() == 1
    assert window.backup_actions.last_result.replaced_kept_at.exists()


def test_a_bad_backup_is_refused_before_anything_changes(qtbot, window, tmp_path, monkeypatch):
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database at all" * 100)
    warned = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(bad), "")))
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: warned.append(a[2])))
    window.restore_action.trigger()
    assert warned and "cannot be restored" in warned[0]


def test_the_app_asks_for_the_passphrase_of_an_encrypted_registry(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    from panelmanager.core import encryption
    from panelmanager.core.db import open_registry
    from panelmanager.ui.app import unlock_if_encrypted

    path = tmp_path / "secret.sqlite3"
    encryption.register_key(path, encryption.new_key_from_passphrase("the right passphrase"))
    open_registry(path, create=True).close()
    encryption.forget_key(path)
    answers = iter([("wrong passphrase", True), ("the right passphrase", True)])
    prompts = []

    def ask(_parent, _title, prompt, *_a, **_k):
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr(QInputDialog, "getText", staticmethod(ask))
    assert unlock_if_encrypted(str(path))
    assert len(prompts) == 2 and "does not open" in prompts[1]
    open_registry(path).close()  # unlocked for this process
    encryption.forget_key(path)
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("", False)))
    assert not unlock_if_encrypted(str(path))


def test_only_an_administrator_restores_and_the_restored_trail_says_who(qtbot, window, tmp_path, monkeypatch):
    """A manager may back up but not restore (refused with a message, nothing replaced); the
    administrator's restore is the last entry of the restored registry's own audit trail."""
    from auth_helpers import fast_hashing, make_users

    from panelmanager.core import audit
    from panelmanager.core.permissions import set_logged_in

    fast_hashing(monkeypatch)
    actors = make_users(window.registry)
    with window.registry.session() as session:
        session.add(m.Patient(mrn="1", first_name="Ann", last_name="Lee", source="t", status="active"))
    target = tmp_path / "copy.sqlite3"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(target), "")))
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: warned.append(a[2])))
    try:
        set_logged_in(actors["manager"])
        window.backup_action.trigger()
        with window.registry.session() as session:
            session.add(m.Patient(mrn="2", first_name="Bo", last_name="Ray", source="t", status="active"))
        window.restore_action.trigger()
        assert warned and "Your role (manager) cannot" in warned[0]
        with window.registry.session() as session:
            assert session.query(m.Patient).count() == 2  # nothing was replaced
        set_logged_in(actors["admin"])
        window.restore_action.trigger()
        assert "Restored" in window.statusBar().currentMessage()
        with window.registry.session() as session:
            assert session.query(m.Patient).count() == 1
            last = audit.list_entries(session, limit=1)[0]
            assert audit.verify(session).ok
        assert (last.user_name, last.action, last.outcome) == ("admin", "restore", "ok")
        assert last.details["patients"] == 1 and last.details["replaced_kept"] is True
    finally:
        set_logged_in(None)
