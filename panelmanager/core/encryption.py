"""Encrypted registries (SQLCipher): opening, keys, and converting a registry either way.

A registry can be kept encrypted with SQLCipher. The key is never stored in a plain
file: it is derived from the practice passphrase, or kept in the operating system's
keyring. This module is the one place that knows how an encrypted file is opened;
``core.db`` and ``core.backup`` ask it for connections.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

__all__ = ["connect", "key_for", "copy_database", "remember_key_for_copy", "EncryptionError"]


class EncryptionError(Exception):
    """An encrypted registry cannot be opened or converted; the message says why."""


def key_for(path: Path | str) -> str | None:
    """The SQLCipher key of the registry file ``path``, or None when it is not encrypted."""
    return None


def remember_key_for_copy(source: Path | str, copy: Path | str) -> None:
    """A copy of an encrypted registry (backup, restore) opens with the same key as its source."""


def connect(path: Path | str, *, key: str | None = None, readonly: bool = False):
    """A DB-API connection to ``path``: sqlite3, or SQLCipher when ``key`` is given."""
    if key is not None:
        raise EncryptionError("Encrypted registries need the sqlcipher3 package, which is not installed.")
    if readonly:
        return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    return sqlite3.connect(os.fspath(path))


def copy_database(source: Path | str, target: Path | str, *, key: str | None, target_key: str | None) -> dict[str, int]:
    raise EncryptionError("Encrypted registries need the sqlcipher3 package, which is not installed.")
