"""This workstation's server connection: saved without the password, password in the keyring, tested."""

from __future__ import annotations

import os
import stat

import keyring
import pytest
from keyring.backend import KeyringBackend

from panelmanager.core import registry_connection as rc
from panelmanager.core.db import resolve_registry_url


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        self.store.pop((service, username), None)


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(previous)


@pytest.mark.sqlite_only
def test_the_connection_is_saved_owner_only_without_its_password(memory_keyring, tmp_path, monkeypatch):
    ca = tmp_path / "clinic-ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    conn = rc.ServerConnection(host="server.clinic.lan", database="panelmanager", user="pm_user", ca_file=str(ca))
    path = rc.save_connection(conn, "s3cret")
    assert "s3cret" not in path.read_text()
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert memory_keyring.store == {(rc.KEYRING_SERVICE, "pm_user@server.clinic.lan:5432/panelmanager"): "s3cret"}
    monkeypatch.delenv("PANELMANAGER_DB")
    url = resolve_registry_url(None)
    assert url.drivername == "postgresql+psycopg" and url.host == "server.clinic.lan" and url.password == "s3cret"
    assert url.query["sslmode"] == "verify-full" and url.query["sslrootcert"] == str(ca)
    rc.forget_connection()
    assert resolve_registry_url(None).get_backend_name() == "sqlite"


@pytest.mark.sqlite_only
def test_incomplete_settings_are_refused_with_what_is_missing():
    with pytest.raises(rc.ConnectionSettingsError, match="host, user"):
        rc.ServerConnection(host="", user="").check()
    with pytest.raises(rc.ConnectionSettingsError, match="CA certificate"):
        rc.ServerConnection(host="h", user="u", sslmode="verify-full").check()


def test_the_test_button_connects_and_says_what_it_found(registry_backend, fresh_registry):
    if registry_backend != "postgresql":
        pytest.skip("needs the PostgreSQL server")
    url = fresh_registry.url
    conn = rc.ServerConnection(host=url.host, port=url.port, database=url.database, user=url.username, sslmode="disable")
    message = rc.check_connection(conn, password="")
    assert message.startswith("Connected to PostgreSQL ") and "registry found" in message
    bad = rc.ServerConnection(host=url.host, port=url.port, database="nosuchdb", user=url.username, sslmode="disable")
    with pytest.raises(rc.ConnectionSettingsError, match="Cannot connect"):
        rc.check_connection(bad, password="")
