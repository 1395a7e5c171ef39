"""This workstation's connection to the practice's PostgreSQL registry.

Host, port, database, user, TLS mode and CA file are kept in the user's config folder
(``registry-connection.json``, owner-only); the password is kept in the operating
system's keyring (Windows Credential Manager, macOS Keychain, Secret Service), never in a
file. ``resolve_registry_url`` uses this connection when neither ``--db`` nor
``PANELMANAGER_DB`` names a registry.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy.engine import URL

KEYRING_SERVICE = "PanelManager registry"
SSL_MODES = ("verify-full", "verify-ca", "require", "prefer", "disable")


class ConnectionSettingsError(Exception):
    """The connection settings or the keyring cannot be used; the message says why."""


@dataclass
class ServerConnection:
    host: str = ""
    port: int = 5432
    database: str = "panelmanager"
    user: str = ""
    sslmode: str = "verify-full"
    ca_file: str = ""

    @property
    def keyring_account(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.database}"

    def check(self) -> None:
        missing = [name for name in ("host", "database", "user") if not getattr(self, name).strip()]
        if missing:
            raise ConnectionSettingsError(f"Fill in the server's {', '.join(missing)}.")
        if self.sslmode not in SSL_MODES:
            raise ConnectionSettingsError(f"TLS mode is one of {', '.join(SSL_MODES)}, not {self.sslmode!r}.")
        if self.ca_file and not Path(self.ca_file).is_file():
            raise ConnectionSettingsError(f"The CA file {self.ca_file} does not exist.")
        if self.sslmode.startswith("verify") and not self.ca_file:
            raise ConnectionSettingsError("TLS mode verify-full/verify-ca needs the practice's CA certificate file.")

    def url(self, password: str | None = None) -> URL:
        query = {"sslmode": self.sslmode, "connect_timeout": "10"}
        if self.ca_file:
            query["sslrootcert"] = self.ca_file
        return URL.create("postgresql+psycopg", username=self.user.strip(), password=password or None,
                          host=self.host.strip(), port=int(self.port), database=self.database.strip(), query=query)


def connection_file() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("PanelManager", appauthor=False)) / "registry-connection.json"


def load_connection() -> ServerConnection | None:
    path = connection_file()
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ServerConnection(**{k: v for k, v in data.items() if k in ServerConnection.__dataclass_fields__})
    except (OSError, ValueError, TypeError) as exc:
        raise ConnectionSettingsError(f"Cannot read the registry connection in {path}: {exc}") from None


def save_connection(conn: ServerConnection, password: str | None = None) -> Path:
    """Save the connection (and the password, when given, in the keyring)."""
    conn.check()
    if password:
        set_password(conn, password)
    path = connection_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(asdict(conn), out, indent=2)
    return path


def forget_connection() -> None:
    """Back to the SQLite registry on this computer (the keyring entry stays for a later reconnect)."""
    connection_file().unlink(missing_ok=True)


def set_password(conn: ServerConnection, password: str) -> None:
    import keyring
    from keyring.errors import KeyringError

    try:
        keyring.set_password(KEYRING_SERVICE, conn.keyring_account, password)
    except KeyringError as exc:
        raise ConnectionSettingsError(
            f"The password cannot be kept in this computer's keyring ({exc.__class__.__name__}); "
            "use a ~/.pgpass file instead."
        ) from None


def get_password(conn: ServerConnection) -> str | None:
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(KEYRING_SERVICE, conn.keyring_account)
    except KeyringError:
        return None


def configured_url() -> URL | None:
    """The saved server connection with its keyring password, or None when there is none."""
    conn = load_connection()
    if conn is None:
        return None
    return conn.url(get_password(conn))


def check_connection(conn: ServerConnection, password: str | None = None) -> str:
    """Connect and say what was found; raises ConnectionSettingsError with the reason (no password shown)."""
    from sqlalchemy import create_engine, inspect, text

    conn.check()
    engine = create_engine(conn.url(password if password is not None else get_password(conn)))
    try:
        with engine.connect() as c:
            version = c.execute(text("SHOW server_version")).scalar()
            ssl = c.execute(text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).scalar()
            has_schema = inspect(c).has_table("alembic_version")
    except Exception as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(getattr(exc, "orig", exc)).strip() else type(exc).__name__
        raise ConnectionSettingsError(f"Cannot connect to {conn.host}: {reason}") from None
    finally:
        engine.dispose()
    tls = "TLS on" if ssl else "no TLS"
    schema = "registry found" if has_schema else "empty database (opening it as the owner role creates the registry)"
    return f"Connected to PostgreSQL {version} on {conn.host} ({tls}): {schema}."
