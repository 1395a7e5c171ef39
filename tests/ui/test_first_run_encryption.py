"""Issue 15: the first-run screen can create an encrypted registry (a passphrase typed twice,
a minimum length, and a warning that a lost passphrase means lost data)."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from panelmanager.core import encryption
from panelmanager.ui import app as app_module
from panelmanager.ui.screens import welcome

pytestmark = pytest.mark.skipif(not encryption.available(), reason="the SQLCipher driver is not installed")

PASSPHRASE = "correct horse battery"


def _dialog(qtbot) -> welcome.WelcomeDialog:
    dialog = welcome.WelcomeDialog("/tmp/registry.sqlite3", can_encrypt=True)
    qtbot.addWidget(dialog)
    return dialog


def test_the_passphrase_is_asked_twice_with_a_minimum_length_and_a_warning(qtbot):
    dialog = _dialog(qtbot)
    dialog.show()
    assert dialog.encrypt_box.isVisible() and not dialog.encryption_fields.isVisible()
    dialog.encrypt_box.setChecked(True)
    assert dialog.encryption_fields.isVisible()
    assert "a lost passphrase means the data is lost" in dialog.passphrase_warning.text()

    dialog.passphrase_edit.setText("short")
    dialog.passphrase_again_edit.setText("short")
    dialog.create_button.click()
    assert dialog.result() != welcome.WelcomeDialog.DialogCode.Accepted and dialog.choice is None
    assert "at least 8 characters" in dialog.passphrase_error.text()

    dialog.passphrase_edit.setText(PASSPHRASE)
    dialog.passphrase_again_edit.setText(PASSPHRASE + "!")
    dialog.create_button.click()
    assert dialog.choice is None and "differ" in dialog.passphrase_error.text()

    dialog.passphrase_again_edit.setText(PASSPHRASE)
    dialog.create_button.click()
    assert dialog.result() == welcome.WelcomeDialog.DialogCode.Accepted
    assert (dialog.choice, dialog.passphrase) == (welcome.WelcomeDialog.CREATE, PASSPHRASE)


def test_no_encryption_choice_without_the_driver_or_for_a_server(qtbot):
    dialog = welcome.WelcomeDialog("postgresql://server/clinic", can_encrypt=False)
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.encrypt_box.isVisible()
    dialog.create_button.click()
    assert dialog.choice == welcome.WelcomeDialog.CREATE and dialog.passphrase is None


def test_create_encrypted_on_the_first_run_screen_makes_an_encrypted_registry(qtbot, tmp_path, monkeypatch):
    path = tmp_path / "clinic.sqlite3"

    def fake_exec(self):
        assert not self.encrypt_box.isHidden()  # offered for a new SQLite registry
        self.encrypt_box.setChecked(True)
        self.passphrase_edit.setText(PASSPHRASE)
        self.passphrase_again_edit.setText(PASSPHRASE)
        self.create_button.click()
        return self.result()

    monkeypatch.setattr(welcome.WelcomeDialog, "exec", fake_exec)
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)
    assert app_module.main(db=str(path)) == 0
    for widget in QApplication.topLevelWidgets():
        widget.close()

    data = path.read_bytes()
    assert encryption.is_encrypted(path) and not data.startswith(encryption.SQLITE_HEADER)
    assert PASSPHRASE.encode() not in data
    encryption.forget_key(path)
    assert encryption.needs_unlock(path)  # the next start asks for the passphrase
    with pytest.raises(encryption.EncryptionError):
        encryption.unlock_registry(path, "not the passphrase")
    encryption.unlock_registry(path, PASSPHRASE)
    encryption.forget_key(path)
