"""Settings > Registry: connect this workstation to the practice's server (password in the keyring)."""

from __future__ import annotations

import keyring
from keyring.backend import KeyringBackend
from PySide6.QtCore import Qt

from panelmanager.core import registry_connection as rc


class _Ring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.store = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        self.store.pop((service, username), None)


def test_test_and_save_a_server_connection(qtbot, window, monkeypatch, tmp_path):
    page = window.show_screen("settings").registry_page
    assert window.registry.location in page.current.text()
    seen = {}

    def fake_check(conn, password):
        seen["conn"], seen["password"] = conn, password
        return "Connected to PostgreSQL 15.4 on server.clinic.lan (TLS on): registry found."

    monkeypatch.setattr("panelmanager.ui.screens.registry_page.check_connection", fake_check)
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    page.host.setText("server.clinic.lan")
    page.user.setText("pm_user")
    page.password.setText("s3cret")
    page.ca_file.setText(str(ca))
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    assert page.status.text().startswith("Connected to PostgreSQL 15.4")
    assert seen["conn"].sslmode == "verify-full" and seen["password"] == "s3cret"

    ring = _Ring()
    previous = keyring.get_keyring()
    keyring.set_keyring(ring)
    try:
        qtbot.mouseClick(page.save_button, Qt.MouseButton.LeftButton)
    finally:
        keyring.set_keyring(previous)
    assert "next start" in page.status.text() and page.password.text() == ""
    assert rc.load_connection().host == "server.clinic.lan"
    assert list(ring.store.values()) == ["s3cret"]
