"""Encrypted registries (SQLCipher): opening, keys, and converting a registry either way.

A practice can keep its SQLite registry encrypted with SQLCipher (the ``sqlcipher3``
driver, from the ``sqlcipher3-wheels`` package). The key is never written to a plain
file. It is either

* derived from the practice passphrase (PBKDF2-HMAC-SHA256, 256,000 rounds, salted
  with the 16 random bytes SQLCipher keeps at the start of the file), or
* a random key kept in the operating system's keyring (``keyring`` package: Windows
  Credential Manager, macOS Keychain, Secret Service on Linux).

SQLCipher is handed the derived *raw* key (``x'<key><salt>'``), so opening a connection
costs no key derivation: the passphrase is stretched once per process, not per
connection. Keys found are kept in memory for the process only.

Where the passphrase comes from: ``unlock_registry`` (the GUI's passphrase dialog and
the CLI's prompt call it), or the ``PANELMANAGER_PASSPHRASE`` environment variable for
scripts. ``core.db`` opens an encrypted registry through ``engine_for``; ``core.backup``
copies one with ``copy_database`` (backups of an encrypted registry stay encrypted).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
from pathlib import Path

__all__ = [
    "EncryptionError",
    "available",
    "is_encrypted",
    "key_for",
    "register_key",
    "forget_key",
    "key_from_passphrase",
    "unlock_registry",
    "connect",
    "copy_database",
    "encrypt_registry",
    "decrypt_registry",
    "remember_key_for_copy",
]

PASSPHRASE_ENV = "PANELMANAGER_PASSPHRASE"
KEYRING_SERVICE = "Panel Manager registry"
KDF_ROUNDS = 256_000
SQLITE_HEADER = b"SQLite format 3\x00"
MIN_PASSPHRASE = 8
ENCRYPTED_CACHE_KIB = 65_536  # page cache of an encrypted connection (see ``connect``)
# SQLCipher encrypts, decrypts and authenticates (HMAC) each page on its own, with a fixed
# cost per page on top of the bytes: bigger pages pay it less often (issue 15's cost of
# encryption). New encrypted registries get 16 KiB pages; registries made before keep the
# 4 KiB pages they were written with: the page size is part of the encryption settings,
# cannot change without rewriting the file, and is found again at open (``_open_keyed``).
CIPHER_PAGE_SIZE = 16_384
LEGACY_CIPHER_PAGE_SIZE = 4_096  # SQLCipher 4's default; every registry encrypted before this change

_KEYS: dict[str, str] = {}  # resolved registry path -> raw key pragma value, this process only
_PAGE_SIZES: dict[str, int] = {}  # resolved registry path -> cipher page size that opened it



class EncryptionError(Exception):
    """An encrypted registry cannot be opened or converted; the message says why and what to do."""


def _driver():
    try:
        import sqlcipher3.dbapi2 as driver
    except ImportError:
        raise EncryptionError(
            "Encrypted registries need the sqlcipher3 driver (pip install sqlcipher3-wheels)."
        ) from None
    bind_none_directly(driver)
    return driver


def _none(value: None) -> None:
    return value


def bind_none_directly(driver) -> None:
    """Let ``driver`` bind Python ``None`` (SQL NULL) without searching for an adapter each time.

    The sqlcipher3 driver (pysqlite's C code, older than the standard library's) adapts
    every parameter that is not exactly an int, float, str or bytearray. For ``None`` it
    finds no adapter and then asks by name whether the protocol has ``__adapt__`` and
    ``None`` has ``__conform__`` (``PyObject_HasAttrString``: a failed look-up raises and
    clears an AttributeError each time) before it binds NULL. Bulk inserts bind millions of
    NULLs (empty dates, codes, values): the care-gap cache write took 0.84 s on this
    driver against 0.44 s on the standard library's for the same rows, and that showed as
    most of issue 15's "cost of encryption" on gaps and assign. An adapter registered for
    ``NoneType`` ends the search at the first dictionary look-up; it returns ``None``, which
    is still bound as NULL, so what is stored does not change (0.24 s for those rows).
    The registry of adapters belongs to the driver module, i.e. the process: registering
    it again is harmless.
    """
    driver.register_adapter(type(None), _none)


def available() -> bool:
    try:
        _driver()
        return True
    except EncryptionError:
        return False


def _norm(path: Path | str) -> str:
    return str(Path(path).expanduser().resolve())


def is_encrypted(path: Path | str) -> bool:
    """True when ``path`` is a non-empty file that is not a plain SQLite database."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return False
    return len(head) > 0 and head != SQLITE_HEADER


def _salt_of(path: Path | str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            salt = handle.read(16)
    except OSError:
        return None
    return salt if len(salt) == 16 and salt != SQLITE_HEADER else None


def key_from_passphrase(passphrase: str, salt: bytes) -> str:
    """The raw SQLCipher key (with its salt) for ``passphrase``: ``x'<64 hex><32 hex>'``."""
    derived = hashlib.pbkdf2_hmac("sha256", passphrase.encode("utf-8"), salt, KDF_ROUNDS, dklen=32)
    return f"x'{derived.hex()}{salt.hex()}'"


def new_key_from_passphrase(passphrase: str) -> str:
    """A key for a new encrypted file: a fresh random salt."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise EncryptionError(f"The passphrase must be at least {MIN_PASSPHRASE} characters long.")
    return key_from_passphrase(passphrase, secrets.token_bytes(16))


def passphrase_problem(passphrase: str, again: str) -> str | None:
    """Why a new registry's passphrase (typed twice) cannot be used, or None when it can."""
    if len(passphrase) < MIN_PASSPHRASE:
        return f"The passphrase must be at least {MIN_PASSPHRASE} characters long."
    if passphrase != again:
        return "The two passphrases differ; type the same passphrase twice."
    return None


def start_encrypted_registry(path: Path | str, passphrase: str) -> None:
    """The first-run choice: the new registry file ``path`` is created encrypted with ``passphrase``.

    Only the key derived from the passphrase is kept, in this process's memory; the next
    start asks for the passphrase again.
    """
    path = Path(path)
    if path.exists() and path.stat().st_size > 0:
        raise EncryptionError(f"{path} already exists; use 'panelmanager encrypt' to encrypt an existing registry.")
    _driver()  # a clear message when the SQLCipher driver is missing
    register_key(path, new_key_from_passphrase(passphrase))


def new_random_key() -> str:
    return f"x'{secrets.token_bytes(32).hex()}{secrets.token_bytes(16).hex()}'"


def register_key(path: Path | str, key: str) -> None:
    """Use ``key`` for the registry file ``path`` in this process (a new file is created encrypted)."""
    _KEYS[_norm(path)] = key


def forget_key(path: Path | str) -> None:
    _KEYS.pop(_norm(path), None)


def remember_key_for_copy(source: Path | str, copy: Path | str) -> None:
    """A copy of an encrypted registry (backup, restore) opens with the same key as its source."""
    key = _KEYS.get(_norm(source))
    if key is not None:
        _KEYS[_norm(copy)] = key


# --------------------------------------------------------------------------- the keyring


def _keyring():
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return None
    return keyring


def keyring_available() -> bool:
    return _keyring() is not None


def _key_from_keyring(path: Path | str) -> str | None:
    ring = _keyring()
    if ring is None:
        return None
    try:
        return ring.get_password(KEYRING_SERVICE, _norm(path))
    except Exception:  # noqa: BLE001 - a locked or broken keyring: ask for the passphrase instead
        return None


def store_key_in_keyring(path: Path | str, key: str) -> None:
    ring = _keyring()
    if ring is None:
        raise EncryptionError(
            "This computer has no usable keyring (Credential Manager, Keychain or Secret Service); "
            "use a passphrase instead."
        )
    ring.set_password(KEYRING_SERVICE, _norm(path), key)


# --------------------------------------------------------------------------- opening


def key_for(path: Path | str) -> str | None:
    """The SQLCipher key of registry file ``path``, or None when it is a plain (or new) file.

    Looks in this process's memory, then the keyring, then ``PANELMANAGER_PASSPHRASE``.
    Raises EncryptionError for an encrypted file whose key is not found or is wrong.
    """
    norm = _norm(path)
    if norm in _KEYS:
        return _KEYS[norm]
    if not is_encrypted(path):
        return None
    key = _key_from_keyring(path)
    salt = _salt_of(path)
    if key is None and salt is not None:
        # A backup or a restored copy shares its registry's salt, and so its key.
        key = next((k for k in _KEYS.values() if k.endswith(f"{salt.hex()}'")), None)
    if key is None and os.environ.get(PASSPHRASE_ENV):
        salt = _salt_of(path)
        key = key_from_passphrase(os.environ[PASSPHRASE_ENV], salt) if salt else None
    if key is None:
        raise EncryptionError(
            f"The registry {path} is encrypted. Unlock it with its passphrase "
            f"(the prompt, or the {PASSPHRASE_ENV} environment variable for scripts)."
        )
    _check_key(path, key)
    _KEYS[norm] = key
    return key


def _check_key(path: Path | str, key: str) -> None:
    conn = connect(path, key=key, readonly=True)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except Exception:  # noqa: BLE001 - sqlcipher3.DatabaseError: file is not a database
        raise EncryptionError(f"The passphrase (or key) does not open the registry {path}.") from None
    finally:
        conn.close()


def unlock_registry(path: Path | str, passphrase: str) -> None:
    """Check ``passphrase`` against the encrypted registry ``path`` and remember its key for this process."""
    salt = _salt_of(path)
    if salt is None:
        raise EncryptionError(f"{path} is not an encrypted registry.")
    key = key_from_passphrase(passphrase, salt)
    _check_key(path, key)
    _KEYS[_norm(path)] = key


def needs_unlock(path: Path | str) -> bool:
    """True when ``path`` is encrypted and no key is at hand (the caller must ask for the passphrase)."""
    try:
        key_for(path)
        return False
    except EncryptionError:
        return is_encrypted(path)


def connect(path: Path | str, *, key: str | None = None, readonly: bool = False, timeout: float = 5.0,
            any_thread: bool = False):
    """A DB-API connection to ``path``: sqlite3, or SQLCipher when ``key`` is given.

    ``any_thread``: the connection may be used from another thread than the one that opened it
    (one at a time): the engine's pool hands a connection opened on the GUI thread to a worker
    job, as SQLAlchemy's own pysqlite dialect allows for file databases."""
    if key is None:
        if readonly:
            return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)
        return sqlite3.connect(os.fspath(path), timeout=timeout)
    driver = _driver()

    def open_():
        if readonly:
            return driver.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=timeout,
                                  check_same_thread=not any_thread)
        return driver.connect(os.fspath(path), timeout=timeout, check_same_thread=not any_thread)

    conn = _open_keyed(open_, path, key)
    # SQLCipher decrypts a page each time it is read into SQLite's page cache and encrypts it
    # on the way out: a 64 MB cache (SQLite's default is 2 MB) keeps the working set of a
    # 100,000-patient import decrypted and halves the cost of encryption on writes.
    # Temporary B-trees (sorts, GROUP BY, index builds) stay in memory: never written to a
    # temp file, whatever the build's default (this build's already is memory), so no page
    # of patient data goes to disk outside the encrypted file. The raw key means no key
    # derivation per connection.
    # cipher_memory_security makes SQLCipher zero (and mlock) every allocation SQLite frees:
    # a large cost on every query (zetetic.net/sqlcipher/sqlcipher-api, cipher_memory_security;
    # sqlcipher/sqlcipher#315, android-database-sqlcipher#411), off by default since
    # SQLCipher 4.5. It stays off here whatever a future driver build's default: the key and
    # the decrypted pages of the page cache sit in this process's live memory while the
    # registry is open anyway, so wiping freed blocks protects nothing from anyone who can
    # read this process's memory; what the practice needs protected is the file at rest.
    # (The pragma is process-wide; setting it on each connection costs nothing.)
    try:
        conn.execute(f"PRAGMA cache_size = -{ENCRYPTED_CACHE_KIB}")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cipher_memory_security = OFF")
    except driver.DatabaseError:
        pass  # a wrong key: the caller's first query reports it in its own words (``_check_key``)
    return conn


def _open_keyed(open_, path: Path | str, key: str):
    """A connection from ``open_()`` keyed with ``key`` and the cipher page size of ``path``.

    SQLCipher must be told the page size before the first read; it cannot read it from the
    (encrypted) file. A new or empty file gets ``CIPHER_PAGE_SIZE``; an existing one is read
    with the size that opened it before in this process, else ``CIPHER_PAGE_SIZE``, then the
    older default (a page of the wrong size fails its HMAC check, so a wrong guess is never
    read as data). When neither opens it (a wrong key) the connection is returned keyed
    with the newest size and the caller's first query reports the wrong key as before.
    """
    name = _norm(path)
    sizes = [CIPHER_PAGE_SIZE]
    try:
        fresh = Path(path).stat().st_size == 0
    except OSError:
        fresh = True
    if not fresh:
        # The size that opened this file before first (a restored backup may have the other one).
        sizes = list(dict.fromkeys([_PAGE_SIZES.get(name, CIPHER_PAGE_SIZE), CIPHER_PAGE_SIZE, LEGACY_CIPHER_PAGE_SIZE]))
    for size in sizes:
        conn = open_()
        _quiet(conn)
        conn.execute(f'PRAGMA key = "{key}"')
        conn.execute(f"PRAGMA cipher_page_size = {int(size)}")
        if fresh:
            return conn
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except Exception as exc:  # noqa: BLE001 - sqlcipher3.DatabaseError
            if "not a database" not in str(exc):
                return conn  # busy, unreadable...: not about the size; the caller's query reports it
            conn.close()  # not this size (or not this key)
            continue
        _PAGE_SIZES[name] = size
        return conn
    conn = open_()
    _quiet(conn)
    conn.execute(f'PRAGMA key = "{key}"')
    return conn


def _quiet(conn) -> None:
    """SQLCipher logs a wrong key to stderr itself; our own message says it better."""
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")
    except Exception:  # noqa: BLE001 - older SQLCipher without the pragma
        pass


def engine_for(url, *, timeout: float):
    """A SQLAlchemy engine for an encrypted SQLite registry, or None when the file is plain."""
    path = url.database
    if not path or path == ":memory:":
        return None
    key = key_for(path)
    if key is None:
        return None
    from sqlalchemy import create_engine

    driver = _driver()
    return create_engine(
        url,
        module=driver,
        creator=lambda: connect(path, key=key, timeout=timeout, any_thread=True),
    )


# --------------------------------------------------------------------------- copying and converting


def _counts(conn) -> dict[str, int]:
    from panelmanager.core.backup import _counts as counts

    return counts(conn)


def copy_database(source: Path | str, target: Path | str, *, key: str | None, target_key: str | None) -> dict[str, int]:
    """Copy ``source`` (opened with ``key``) into the new file ``target`` (encrypted with ``target_key``).

    ``sqlcipher_export`` inside one read transaction: a consistent snapshot of a live registry.
    Returns the target's row counts.
    """
    driver = _driver()
    if key is not None:
        conn = _open_keyed(lambda: driver.connect(os.fspath(source), timeout=10), source, key)
    else:
        conn = driver.connect(os.fspath(source), timeout=10)
        _quiet(conn)
    try:
        conn.isolation_level = None
        attach_key = target_key if target_key is not None else ""
        conn.execute(f"ATTACH DATABASE ? AS copy KEY \"{attach_key}\"", (os.fspath(target),))
        if target_key is not None:  # an encrypted copy is a new file: it gets the new page size
            conn.execute(f"PRAGMA copy.cipher_page_size = {CIPHER_PAGE_SIZE}")
        try:
            conn.execute("BEGIN")
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # the read snapshot starts here
            conn.execute("SELECT sqlcipher_export('copy')").fetchall()
            conn.execute("COMMIT")
        finally:
            conn.execute("DETACH DATABASE copy")
    finally:
        conn.close()
    check = connect(target, key=target_key)
    try:
        if check.execute("PRAGMA quick_check").fetchall() != [("ok",)]:
            from panelmanager.core.backup import BackupError

            raise BackupError("The copy failed its check; the registry may be damaged.")
        return _counts(check)
    finally:
        check.close()


def _convert(path: Path, *, key: str | None, target_key: str | None) -> None:
    """Rewrite the registry file with another key (None: plain), atomically; its backups too."""
    from panelmanager.core.backup import _checkpoint_and_close, _new_private_file, list_backups
    from panelmanager.core.safe_export import atomic_replace, make_private

    if not path.exists() or path.stat().st_size == 0:
        raise EncryptionError(f"There is no registry at {path}.")
    _checkpoint_and_close(path, key)
    with atomic_replace(path, suffix=".converting") as part:
        copy_database(path, part, key=key, target_key=target_key)
        for stale in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            try:
                stale.unlink()
            except FileNotFoundError:
                pass
    # Backups follow the registry: a plain copy of an encrypted registry would defeat the point.
    for _when, _reason, backup in list_backups(path):
        try:
            backup_key = key if is_encrypted(backup) else None
            if (backup_key is None) == (target_key is None):
                continue  # already as it should be
            converted = backup.with_name(backup.name + ".converting")
            _new_private_file(converted)
            copy_database(backup, converted, key=backup_key, target_key=target_key)
            os.replace(converted, backup)
            make_private(backup)
        except Exception:  # noqa: BLE001 - a backup that cannot be read with this key is left as it is
            continue


def encrypt_registry(path: Path | str, *, passphrase: str | None = None, use_keyring: bool = False) -> str:
    """Convert the plain registry ``path`` to an encrypted one; returns a sentence saying where the key is."""
    path = Path(path)
    if is_encrypted(path):
        raise EncryptionError(f"The registry {path} is already encrypted.")
    if use_keyring:
        key = new_random_key()
        store_key_in_keyring(path, key)
        kept = "the key is kept in the operating system's keyring"
    else:
        if not passphrase:
            raise EncryptionError("Give a passphrase (or choose the keyring) to encrypt the registry.")
        key = new_key_from_passphrase(passphrase)
        kept = "the key comes from your passphrase, which Panel Manager does not store: keep it safe"
    _convert(path, key=None, target_key=key)
    register_key(path, key)
    return kept


def decrypt_registry(path: Path | str) -> None:
    """Convert the encrypted registry ``path`` (already unlocked) back to a plain SQLite file."""
    path = Path(path)
    if not is_encrypted(path):
        raise EncryptionError(f"The registry {path} is not encrypted.")
    key = key_for(path)
    _convert(path, key=key, target_key=None)
    forget_key(path)
    ring = _keyring()
    if ring is not None:
        try:
            ring.delete_password(KEYRING_SERVICE, _norm(path))
        except Exception:  # noqa: BLE001 - nothing stored there
            pass
