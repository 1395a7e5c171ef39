"""Is this target a Panel Manager registry? Checked before anything is written to it.

Opening a registry migrates it, and migrating writes tables. Pointed by mistake at
another program's SQLite file, that would turn the file into a registry (or, when a
table name clashes, leave it half converted and unusable by either program); pointed at
a mistyped path, it would silently start a new, empty registry and the practice would
wonder where its patients went. So a registry is created only when asked for
(``create=True``: the desktop app's first-run screen, or the CLI's ``--create``), and
anything that already holds tables but is not a registry is refused, unchanged.

The checks read only: a SQLite file is opened read-only through its URI, a server
database is inspected with a plain connection.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL

SQLITE_HEADER = b"SQLite format 3\x00"
# Tables every registry has had since the first schema (0001); with alembic_version they
# mark a Panel Manager registry.
REGISTRY_TABLES = frozenset({"alembic_version", "patients", "providers", "visits"})
CREATE_HINT = (
    "To start a new registry there, run the command again with --create "
    "(or open the desktop app, whose first-run screen creates one)."
)


class NotARegistry(Exception):
    """Raised with the user-facing message; ``core.db`` turns it into a RegistryError."""


def check_registry_target(url: URL, *, create: bool) -> None:
    """Refuse a target that is not a Panel Manager registry (or is missing, unless ``create``)."""
    if url.get_backend_name() == "sqlite":
        _check_sqlite_file(url.database, create=create)
    else:
        _check_server_database(url, create=create)


def _check_sqlite_file(database: str | None, *, create: bool) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.is_dir():
        raise NotARegistry(f"{path} is a folder, not a registry file. Give the path of the registry file (.sqlite3).")
    if not path.exists() or path.stat().st_size == 0:
        if create:
            return
        where = "" if path.parent.is_dir() else f" (the folder {path.parent} does not exist either)"
        raise NotARegistry(f"There is no registry at {path}{where}. Check the path for a typing mistake. {CREATE_HINT}")
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise NotARegistry(f"Cannot read {path}: {exc.strerror}.") from None
    key = None
    if header != SQLITE_HEADER:
        key = _encryption_key(path)
        if key is None:
            raise NotARegistry(
                f"{path} is not a Panel Manager registry (it is not a SQLite database at all), unless it is "
                "encrypted: an encrypted registry opens with its passphrase (the prompt, or the "
                "PANELMANAGER_PASSPHRASE environment variable for scripts). It was left unchanged."
            )
    try:
        if key is None:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        else:
            from panelmanager.core import encryption

            conn = encryption.connect(path, key=key, readonly=True)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except Exception as exc:  # noqa: BLE001 - sqlite3 or sqlcipher3 DatabaseError
        raise NotARegistry(f"{path} is not a readable SQLite database ({exc}). It was left unchanged.") from None
    _check_tables(str(path), tables, create=create)


def _encryption_key(path: Path) -> str | None:
    """The SQLCipher key of an encrypted registry when one is at hand (memory, keyring, environment)."""
    from panelmanager.core import encryption

    try:
        return encryption.key_for(path)
    except encryption.EncryptionError as exc:
        # A passphrase was given but does not open it: say so. No passphrase at all: the file
        # may as well be something else, and the caller says both.
        if os.environ.get(encryption.PASSPHRASE_ENV) and encryption.is_encrypted(path):
            raise NotARegistry(str(exc)) from None
        return None


def _check_server_database(url: URL, *, create: bool) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
    except Exception as exc:  # cannot connect: the migration step reports it the usual way
        del exc
        return
    finally:
        engine.dispose()
    _check_tables(url.render_as_string(hide_password=True), tables, create=create)


def _check_tables(where: str, tables: set[str], *, create: bool) -> None:
    user_tables = {t for t in tables if not t.startswith("sqlite_")}
    if not user_tables:
        if create:
            return
        raise NotARegistry(f"{where} is an empty database, not yet a Panel Manager registry. {CREATE_HINT}")
    if REGISTRY_TABLES <= user_tables:
        return
    sample = ", ".join(sorted(user_tables)[:5]) + (", ..." if len(user_tables) > 5 else "")
    raise NotARegistry(
        f"{where} is not a Panel Manager registry: it holds other tables ({sample}). "
        "It was left unchanged. Give the location of your registry, or a new, empty one with --create."
    )
