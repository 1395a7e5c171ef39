"""Backups of the registry and restoring one, so a crash, a bad upgrade or a lost disk loses nothing.

* ``backup_registry`` copies a live SQLite registry with SQLite's online backup API (a
  consistent snapshot even while another window writes), checks the copy, and moves it
  into place only when complete: a backup file that exists is a whole backup. The copy
  is owner-only, and encrypted with the registry's key when the registry is encrypted.
* ``auto_backup`` makes the daily backup (at most one a day, when a registry is opened)
  and removes automatic backups older than the practice's retention setting.
* ``backup_before_upgrade`` is taken by ``core.db.migrate`` before a schema upgrade.
* ``check_backup`` reads a backup without changing it: integrity check, schema version
  (this version's or an older one it can upgrade), and row counts.
* ``restore_registry`` checks the backup first, keeps the registry it replaces aside in
  the backups folder, and swaps the files with one atomic rename, so a crash at any
  moment leaves either the old registry or the restored one, never a mixture.

PostgreSQL registries are backed up with the server's own tools: ``backup_registry`` hands
them to ``core.pg_backup`` (pg_dump, and a verified pg_restore into an empty database).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from panelmanager.core.actions import audited_job
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress
from panelmanager.core.permissions import require_current
from panelmanager.core.safe_export import (
    atomic_replace,
    fsync_dir,
    fsync_file,
    make_private,
    make_private_dir,
    new_private_file,
)

if TYPE_CHECKING:
    from panelmanager.core.pg_backup import PgRestoreResult

__all__ = [
    "BackupError",
    "BackupResult",
    "BackupCheck",
    "RestoreResult",
    "backup_folder",
    "backup_database",
    "backup_registry",
    "auto_backup",
    "backup_before_upgrade",
    "check_backup",
    "restore_registry",
    "list_backups",
]

BACKUP_DIR_NAME = "backups"
_NAME = re.compile(r"^(?P<stem>.+)-(?P<stamp>\d{8}-\d{6})(?:-(?P<n>\d+))?-(?P<reason>[a-z0-9-]+)\.sqlite3$")
AUTOMATIC_REASONS = ("daily", "before-upgrade", "replaced")
# Tables whose row counts a check reports (the ones a practice would miss).
COUNTED_TABLES = ("patients", "providers", "visits", "observations", "assignments", "import_batches", "outreach_log")


class BackupError(Exception):
    """A backup or a restore cannot be done; the message says why and what to do."""


@dataclass
class BackupResult:
    path: Path
    size: int
    reason: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class BackupCheck:
    path: Path
    ok: bool
    version: str | None
    upgradable: bool
    counts: dict[str, int]
    problems: list[str]


@dataclass
class RestoreResult:
    restored_from: Path
    replaced_kept_at: Path | None
    version: str | None
    counts: dict[str, int]


# --------------------------------------------------------------------------- connections


def _connect(path: Path | str, *, key: str | None = None, readonly: bool = False):
    """A DB-API connection to a registry file (SQLCipher when ``key`` is given)."""
    from panelmanager.core import encryption

    return encryption.connect(path, key=key, readonly=readonly)


def _registry_key(path: Path) -> str | None:
    from panelmanager.core import encryption

    return encryption.key_for(path)


# One implementation of the durable-write steps, shared with core.encryption (core.safe_export).
_fsync_dir = fsync_dir
_fsync_file = fsync_file
_new_private_file = new_private_file


# --------------------------------------------------------------------------- where backups live


def sqlite_path(registry_or_url) -> Path:
    """The file of a SQLite registry (a Registry, a URL or a path); BackupError for PostgreSQL."""
    from panelmanager.core.db import is_sqlite

    url = getattr(registry_or_url, "url", registry_or_url)
    if isinstance(url, (str, os.PathLike)):
        return Path(url)
    if not is_sqlite(url):
        raise BackupError(
            "This registry is a PostgreSQL database: it has no registry file. 'panelmanager backup' writes a "
            "pg_dump backup of it, and 'panelmanager restore FILE' loads one into an empty database."
        )
    if not url.database or url.database == ":memory:":
        raise BackupError("An in-memory registry has no file to back up.")
    return Path(url.database)


def backup_folder(db_path: Path) -> Path:
    """``backups/`` beside the registry file."""
    return Path(db_path).parent / BACKUP_DIR_NAME


def _ensure_folder(folder: Path) -> None:
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
        make_private_dir(folder)


def _backup_name(db_path: Path, when: dt.datetime, reason: str, folder: Path) -> Path:
    stem = Path(db_path).stem
    base = f"{stem}-{when:%Y%m%d-%H%M%S}"
    candidate = folder / f"{base}-{reason}.sqlite3"
    n = 1
    while candidate.exists():
        n += 1
        candidate = folder / f"{base}-{n}-{reason}.sqlite3"
    return candidate


def list_backups(db_path: Path) -> list[tuple[dt.datetime, str, Path]]:
    """The backups in the registry's backups folder, newest first: (made at, reason, path)."""
    folder = backup_folder(db_path)
    if not folder.is_dir():
        return []
    found = []
    for item in folder.iterdir():
        match = _NAME.match(item.name)
        if not match or match["stem"] != Path(db_path).stem:
            continue
        found.append((dt.datetime.strptime(match["stamp"], "%Y%m%d-%H%M%S"), match["reason"], item))
    return sorted(found, key=lambda t: (t[0], t[2].name), reverse=True)


# --------------------------------------------------------------------------- making a backup


def _counts(conn) -> dict[str, int]:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in COUNTED_TABLES if t in tables}


def _copy(source: Path, target: Path, *, key: str | None, target_key: str | None, progress: Progress,
          cancel: CancelToken) -> dict[str, int]:
    """Copy ``source`` into the new file ``target`` page by page (online backup API); returns row counts.

    SQLCipher databases cannot be copied with the backup API across keys, so an encrypted
    source is exported with ``sqlcipher_export`` into a target with ``target_key``.
    """
    if key is not None or target_key is not None:
        from panelmanager.core import encryption

        return encryption.copy_database(source, target, key=key, target_key=target_key)
    src = _connect(source, readonly=True)
    try:
        dst = sqlite3.connect(target)
        try:
            def step(_status, remaining, total) -> None:
                progress(total - remaining, max(total, 1), "Copying the registry")
                cancel.raise_if_cancelled()

            # pages=-1: the whole database in one step under one read lock, so the copy is a
            # consistent snapshot even if another window commits meanwhile.
            src.backup(dst, pages=-1, progress=step)
            dst.execute("PRAGMA journal_mode=DELETE")  # a backup is one self-contained file
            problems = dst.execute("PRAGMA quick_check").fetchall()
            if problems != [("ok",)]:
                raise BackupError(f"The copy failed its check ({problems[0][0]}); the registry may be damaged.")
            counts = _counts(dst)
        finally:
            dst.close()
    finally:
        src.close()
    return counts


def backup_database(
    db_path: Path,
    to: Path | None = None,
    *,
    reason: str = "manual",
    now: dt.datetime | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> BackupResult:
    """Back up the registry file ``db_path`` to ``to`` (default: a dated file in ``backups/``)."""
    db_path = Path(db_path)
    if not db_path.exists() or db_path.stat().st_size == 0:
        raise BackupError(f"There is no registry at {db_path} to back up.")
    if to is None:
        folder = backup_folder(db_path)
        _ensure_folder(folder)
        target = _backup_name(db_path, now or dt.datetime.now(), reason, folder)
    else:
        target = Path(to)
        if target.resolve() == db_path.resolve():
            raise BackupError("A backup cannot overwrite the registry itself; choose another file.")
        if not target.parent.exists():
            raise BackupError(f"The folder {target.parent} does not exist.")
    key = _registry_key(db_path)
    with atomic_replace(target) as part:  # a backup under its final name is always complete
        counts = _copy(db_path, part, key=key, target_key=key, progress=progress, cancel=cancel)
    if key is not None:
        from panelmanager.core import encryption

        encryption.remember_key_for_copy(db_path, target)
    return BackupResult(path=target, size=target.stat().st_size, reason=reason, counts=counts)


@audited_job("backup", details=lambda _a, kwargs, _r: {"reason": kwargs.get("reason", "manual")})
def backup_registry(registry_or_url, to: Path | str | None = None, *, reason: str = "manual",
                    progress: Progress = no_progress, cancel: CancelToken = NEVER_CANCELLED) -> BackupResult:
    """The ``panelmanager backup`` / File > Back up registry service (PostgreSQL: core.pg_backup, pg_dump)."""
    require_current("backup")  # issue 14: refused unless the acting user's role may do this
    from panelmanager.core.db import is_sqlite

    url = getattr(registry_or_url, "url", registry_or_url)
    if not isinstance(url, (str, os.PathLike)) and not is_sqlite(url):
        from panelmanager.core.pg_backup import backup_postgres

        return backup_postgres(url, to, reason=reason, progress=progress, cancel=cancel)  # type: ignore[return-value]
    return backup_database(sqlite_path(registry_or_url), Path(to) if to else None, reason=reason,
                           progress=progress, cancel=cancel)


def backup_before_upgrade(db_path: Path, from_version: str) -> BackupResult:
    return backup_database(db_path, reason="before-upgrade")


def auto_backup(registry, *, now: dt.datetime | None = None) -> BackupResult | None:
    """The daily backup: made when the newest backup is a day old or more; old automatic ones pruned.

    Reads the practice settings ``backup_daily`` and ``backup_keep_days``. Returns the
    backup made, or None (not due, turned off, or a PostgreSQL registry).
    """
    from panelmanager.core.db import is_sqlite
    from panelmanager.core.settings import load_settings

    if not is_sqlite(registry.url) or not registry.url.database or registry.url.database == ":memory:":
        return None
    now = now or dt.datetime.now()
    with registry.session() as session:
        settings = load_settings(session)
    if not getattr(settings, "backup_daily", True):
        return None
    db_path = Path(registry.url.database)
    backups = list_backups(db_path)
    made = None
    with registry.engine.connect() as conn:
        empty = not conn.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM patients)").scalar()
    if empty:  # a new registry: nothing to lose yet
        return None
    if not backups or now - backups[0][0] >= dt.timedelta(days=1):
        made = backup_database(db_path, reason="daily", now=now)
    prune_backups(db_path, keep_days=int(getattr(settings, "backup_keep_days", 14)), now=now)
    return made


def audit_restore(registry, result: RestoreResult | PgRestoreResult) -> None:
    """The restore's audit entry, appended to the restored registry's own trail (the replaced
    registry, kept aside, keeps the trail it had): who restored, the backup's schema and size."""
    from panelmanager.core.actions import _audit_alone
    from panelmanager.core.permissions import current_actor

    actor = current_actor()
    if actor is None or actor.is_system:
        return
    _audit_alone(registry, actor, "restore", details={"schema": result.version,
                                                      "patients": int(result.counts.get("patients", 0)),
                                                      "replaced_kept": getattr(result, "replaced_kept_at", None)
                                                      is not None})


def prune_backups(db_path: Path, *, keep_days: int, now: dt.datetime | None = None) -> list[Path]:
    """Remove automatic backups older than ``keep_days`` (the newest one always stays). Manual ones stay."""
    now = now or dt.datetime.now()
    backups = list_backups(db_path)
    removed = []
    for made, reason, path in backups[1:]:
        if reason in AUTOMATIC_REASONS and now - made > dt.timedelta(days=max(keep_days, 1)):
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


# --------------------------------------------------------------------------- checking and restoring


def check_backup(path: Path | str, *, key: str | None = None) -> BackupCheck:
    """Read ``path`` without changing it and say whether it can be restored."""
    from panelmanager.core.db import schema_heads, schema_revisions

    path = Path(path)
    problems: list[str] = []
    version = None
    counts: dict[str, int] = {}
    upgradable = False
    if not path.is_file():
        return BackupCheck(path, False, None, False, {}, [f"{path} does not exist."])
    if key is None:
        from panelmanager.core.encryption import EncryptionError

        try:
            key = _registry_key(path)
        except EncryptionError as exc:
            return BackupCheck(path, False, None, False, {}, [str(exc).rstrip(".")])
    try:
        conn = _connect(path, key=key, readonly=True)
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file
        return BackupCheck(path, False, None, False, {}, [f"{path.name} cannot be opened as a registry ({exc})."])
    try:
        try:
            result = conn.execute("PRAGMA integrity_check").fetchall()
        except sqlite3.DatabaseError as exc:
            return BackupCheck(path, False, None, False, {},
                               [f"{path.name} is not a Panel Manager registry or is encrypted with another key ({exc})."])
        if result != [("ok",)]:
            problems.append(f"the integrity check failed: {result[0][0]}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "alembic_version" not in tables:
            problems.append("it holds no Panel Manager schema version (not a registry backup)")
        else:
            rows = [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
            version = rows[0] if len(rows) == 1 else None
            if version is None:
                problems.append("its schema version is missing")
            elif version not in schema_revisions():
                problems.append(f"it was written by a newer Panel Manager (schema {version}); install that version")
            else:
                upgradable = version not in schema_heads()
        if not problems:
            counts = _counts(conn)
            if "audit_log" in tables:  # issue 14: a backup whose audit trail was altered is not restored
                chain = _verify_audit_trail(conn)
                if not chain.ok:
                    problems.append(f"its audit trail fails verification: {chain.message().rstrip('.')}")
    finally:
        conn.close()
    return BackupCheck(path, not problems, version, upgradable, counts, problems)


def _verify_audit_trail(conn):
    """``core.audit.verify`` on an open backup connection (read-only; the connection stays open)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session
    from sqlalchemy.pool import StaticPool

    from panelmanager.core import audit

    engine = create_engine("sqlite://", creator=lambda: conn, poolclass=StaticPool)
    try:
        with Session(engine) as session:
            return audit.verify(session)
    finally:
        engine.dispose(close=False)


def _checkpoint_and_close(db_path: Path, key: str | None) -> None:
    """Fold the -wal file into the registry and make sure no other program has it open."""
    conn = _connect(db_path, key=key)
    try:
        busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    wal = Path(f"{db_path}-wal")
    if busy or (wal.exists() and wal.stat().st_size > 0):
        raise BackupError(
            "The registry is open in another Panel Manager window or command. Close it there, then restore."
        )


def restore_registry(
    backup: Path | str,
    db_path: Path,
    *,
    key: str | None = None,
    now: dt.datetime | None = None,
    before_replace: Callable[[], None] | None = None,
) -> RestoreResult:
    """Replace the registry ``db_path`` with ``backup`` after checking it; the old one is kept aside.

    ``key`` is the backup's SQLCipher key when it is encrypted and not known already. Only a role
    allowed ``restore`` may do it; the caller appends the audit entry to the restored registry once
    it is open (``audit_restore``).
    """
    require_current("restore")  # issue 14: refused unless the acting user's role may do this
    backup = Path(backup)
    db_path = Path(db_path)
    live_key = _registry_key(db_path) if db_path.exists() else None
    check = check_backup(backup, key=key)
    if not check.ok:
        raise BackupError(f"{backup.name} cannot be restored: {'; '.join(check.problems)}. Nothing was changed.")
    if backup.resolve() == db_path.resolve():
        raise BackupError("That file is the registry itself; choose a backup.")
    backup_key = key if key is not None else _registry_key(backup)
    now = now or dt.datetime.now()
    folder = backup_folder(db_path)
    _ensure_folder(folder)

    incoming = db_path.with_name(db_path.name + ".restoring")
    _new_private_file(incoming)
    try:
        # The registry keeps its own encryption: the restored copy takes the live registry's key.
        target_key = live_key if live_key is not None else backup_key
        _copy(backup, incoming, key=backup_key, target_key=target_key, progress=no_progress, cancel=NEVER_CANCELLED)
        _fsync_file(incoming)
        kept = None
        if db_path.exists() and db_path.stat().st_size > 0:
            _checkpoint_and_close(db_path, live_key)
            kept = _backup_name(db_path, now, "replaced", folder)
            with atomic_replace(kept) as part:  # a restore killed part-way leaves no half copy under a backup's name
                try:
                    _copy(db_path, part, key=live_key, target_key=live_key, progress=no_progress,
                          cancel=NEVER_CANCELLED)
                except Exception:  # noqa: BLE001 - a damaged registry is kept as it is, byte for byte
                    shutil.copyfile(db_path, part)
            if live_key is not None:
                from panelmanager.core import encryption

                encryption.remember_key_for_copy(db_path, kept)
        for stale in (Path(f"{db_path}-wal"), Path(f"{db_path}-shm"), Path(f"{db_path}-journal")):
            # Empty after the checkpoint; a leftover would be replayed into the restored file.
            try:
                stale.unlink()
            except FileNotFoundError:
                pass
        if before_replace is not None:
            before_replace()
        os.replace(incoming, db_path)  # the one moment the registry changes: atomic
        _fsync_dir(db_path.parent)
    except BaseException:
        try:
            incoming.unlink()
        except OSError:
            pass
        raise
    make_private(db_path)
    if target_key is not None and live_key is None:
        from panelmanager.core import encryption

        encryption.remember_key_for_copy(backup, db_path)
    return RestoreResult(restored_from=backup, replaced_kept_at=kept, version=check.version, counts=check.counts)
