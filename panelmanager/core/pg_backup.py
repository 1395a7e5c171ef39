"""Backups of a PostgreSQL registry with the server's own tools, and a verified restore.

* ``backup_postgres`` runs ``pg_dump`` in its custom format (compressed, restorable table
  by table) from a snapshot that Panel Manager also counts the rows of, so the backup
  carries the exact row count of every table it holds (a small owner-only
  ``<backup>.counts.json`` beside it). The dump is written to a part file and renamed
  into place when complete (``safe_export.atomic_replace``).
* ``restore_postgres`` loads such a backup into an EMPTY database (never over a live
  registry: a practice restores into a new database, then points the workstations at
  it) with ``pg_restore --single-transaction --exit-on-error``, so a restore is all or
  nothing and every key and constraint is checked by the server as it is rebuilt; then
  it verifies the schema version and the row count of every table against the backup.

The password goes to the tools in their environment (``PGPASSWORD``), never on a
command line; no message carries SQL or patient data. Without ``pg_dump`` /
``pg_restore`` the functions say where to get them.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL

from panelmanager.core.backup import BackupError
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress
from panelmanager.core.safe_export import atomic_replace, make_private, make_private_dir

__all__ = ["find_pg_tool", "backup_postgres", "restore_postgres", "empty_restored_database", "PgBackupResult",
           "PgRestoreResult"]

BINDIR_ENV = "PANELMANAGER_PG_BINDIR"
COUNTS_SUFFIX = ".counts.json"


@dataclass
class PgBackupResult:
    path: Path
    size: int
    reason: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class PgRestoreResult:
    restored_from: Path
    database: str
    version: str | None
    counts: dict[str, int]
    verified: bool  # the row counts were compared with the backup's own counts


def find_pg_tool(name: str) -> Path | None:
    """``pg_dump`` / ``pg_restore``: PANELMANAGER_PG_BINDIR, PG_BINDIR, PATH, then the usual install folders."""
    exe = name + (".exe" if os.name == "nt" else "")
    folders = [os.environ.get(BINDIR_ENV), os.environ.get("PG_BINDIR")]
    for folder in folders:
        if folder and (Path(folder) / exe).exists():
            return Path(folder) / exe
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    patterns = ["/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/opt/homebrew/opt/postgresql*/bin",
                "/usr/local/opt/postgresql*/bin", "/Applications/Postgres.app/Contents/Versions/*/bin",
                r"C:\Program Files\PostgreSQL\*\bin"]
    found = [Path(p) / exe for pattern in patterns for p in glob.glob(pattern) if (Path(p) / exe).exists()]

    def version(path: Path) -> tuple[int, ...]:
        digits = [part for part in path.parts if part.replace(".", "").isdigit() or part.split("@")[-1].isdigit()]
        try:
            return tuple(int(x) for x in digits[-1].split("@")[-1].split(".")) if digits else (0,)
        except ValueError:
            return (0,)

    return max(found, key=version) if found else None


def _tool(name: str) -> Path:
    tool = find_pg_tool(name)
    if tool is None:
        raise BackupError(
            f"This registry is a PostgreSQL database and backing it up needs the PostgreSQL client tool "
            f"{name}, which was not found. Install the PostgreSQL client (the same major version as the "
            f"server, e.g. the 'postgresql-client' package), or set {BINDIR_ENV} to the folder holding {name}."
        )
    return tool


def _libpq_env(url: URL) -> dict[str, str]:
    """The connection for the PostgreSQL tools, as libpq environment variables (no password on a command line)."""
    env = dict(os.environ)
    pairs = {"PGHOST": url.host, "PGPORT": url.port, "PGUSER": url.username, "PGPASSWORD": url.password,
             "PGDATABASE": url.database}
    libpq = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
             "connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME"}
    for key, var in libpq.items():
        value = url.query.get(key)
        if value:
            pairs[var] = value if isinstance(value, str) else value[0]
    for key, setting in pairs.items():
        if setting is not None and setting != "":
            env[key] = str(setting)
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    return env


def _engine(url: URL):
    from sqlalchemy.pool import NullPool

    from panelmanager.core.db import postgres_driver_url

    return create_engine(postgres_driver_url(url), poolclass=NullPool)


def _table_counts(conn, tables: list[str]) -> dict[str, int]:
    return {t: int(conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one()) for t in sorted(tables)}


def _user_tables(conn) -> list[str]:
    return list(inspect(conn).get_table_names(schema="public"))


def _run(args: list[str], env: dict[str, str], what: str, cancel: CancelToken) -> None:
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while True:
        try:
            _out, err = process.communicate(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            if cancel.cancelled:
                process.terminate()
                process.wait()
                cancel.raise_if_cancelled()
    if process.returncode:
        # The tools' own message (connection, permission, version mismatch); it carries no row data.
        detail = (err or "").strip().splitlines()
        raise BackupError(f"{what} failed: {detail[-1] if detail else f'exit code {process.returncode}'}")


def default_backup_path(url: URL, when: dt.datetime, reason: str = "manual") -> Path:
    """``<data folder>/backups/<database>-<stamp>-<reason>.dump`` for a server registry."""
    from panelmanager.core.db import default_registry_path

    folder = default_registry_path().parent / "backups"
    return folder / f"{url.database or 'registry'}-{when:%Y%m%d-%H%M%S}-{reason}.dump"


def backup_postgres(url: URL, to: Path | str | None = None, *, reason: str = "manual",
                    progress: Progress = no_progress, cancel: CancelToken = NEVER_CANCELLED,
                    now: dt.datetime | None = None) -> PgBackupResult:
    """``pg_dump --format=custom`` of the registry at ``url`` with the row counts of the same snapshot."""
    pg_dump = _tool("pg_dump")
    target = Path(to) if to else default_backup_path(url, now or dt.datetime.now(), reason)
    if to is None:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        make_private_dir(target.parent)
    elif not target.parent.exists():
        raise BackupError(f"The folder {target.parent} does not exist.")
    progress(0, 3, "Counting the rows")
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            # One snapshot for the counts and the dump: the counts describe exactly what is dumped.
            conn.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            counts = _table_counts(conn, _user_tables(conn))
            if "alembic_version" not in counts:
                raise BackupError(f"{_describe(url)} is not a Panel Manager registry; nothing was backed up.")
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            progress(1, 3, "Writing the backup (pg_dump)")
            with atomic_replace(target) as part:
                _run([str(pg_dump), "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                      f"--file={part}"], _libpq_env(url), "pg_dump", cancel)
            conn.exec_driver_sql("COMMIT")
    finally:
        engine.dispose()
    progress(2, 3, "Recording the row counts")
    sidecar = Path(str(target) + COUNTS_SUFFIX)
    with atomic_replace(sidecar) as part:
        part.write_text(json.dumps({"schema_version": version, "counts": counts, "made_at": dt.datetime.now().isoformat(
            timespec="seconds")}, indent=1))
    make_private(target)
    progress(3, 3, "Done")
    return PgBackupResult(path=target, size=target.stat().st_size, reason=reason, counts=counts)


def empty_restored_database(url: URL, tables: dict[str, int] | list[str]) -> None:
    """Undo a ``restore_postgres`` that may not stand (the restorer could not log in as one of the
    restored registry's administrators): drop what it created, so the database is empty again, as it
    was before (``restore_postgres`` only loads into an empty one) and a later restore can use it."""
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            for table in sorted(set(tables) & set(_user_tables(conn))):
                conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{table}" CASCADE')
            conn.exec_driver_sql("DROP FUNCTION IF EXISTS audit_log_append_only() CASCADE")
    finally:
        engine.dispose()


def _describe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def restore_postgres(backup: Path | str, url: URL, *, progress: Progress = no_progress,
                     cancel: CancelToken = NEVER_CANCELLED) -> PgRestoreResult:
    """Load a ``backup_postgres`` file into the EMPTY database at ``url`` and verify it."""
    from panelmanager.core.db import schema_revisions

    backup = Path(backup)
    if not backup.is_file():
        raise BackupError(f"There is no backup file {backup}.")
    pg_restore = _tool("pg_restore")
    expected = None
    sidecar = Path(str(backup) + COUNTS_SUFFIX)
    if sidecar.exists():
        try:
            expected = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            raise BackupError(f"{sidecar} cannot be read; it should hold the backup's row counts.") from None
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            if _user_tables(conn):
                raise BackupError(
                    f"The database {_describe(url)} is not empty. Restore into a new, empty database "
                    "(createdb, owned by the registry's owner role), then point the workstations at it."
                )
    finally:
        engine.dispose()
    progress(0, 2, "Restoring (pg_restore)")
    env = _libpq_env(url)
    _run([str(pg_restore), "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges",
          f"--dbname={env['PGDATABASE']}", str(backup)], env, "pg_restore", cancel)
    progress(1, 2, "Checking the restored registry")
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            tables = _user_tables(conn)
            counts = _table_counts(conn, tables)
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar() if "alembic_version" in tables else None
    finally:
        engine.dispose()
    problems = []
    if version is None or version not in schema_revisions():
        problems.append(f"schema version {version!r} is not one this Panel Manager knows")
    if expected is not None:
        if expected.get("schema_version") != version:
            problems.append(f"schema version {version} differs from the backup's {expected.get('schema_version')}")
        for table, n in expected["counts"].items():
            if counts.get(table) != n:
                problems.append(f"{table}: {counts.get(table, 0):,} rows restored, the backup held {n:,}")
    if problems:
        raise BackupError(
            f"The restored database {_describe(url)} does not match the backup ({'; '.join(problems)}). "
            "Do not point the workstations at it; drop it and try again."
        )
    progress(2, 2, "Done")
    return PgRestoreResult(restored_from=backup, database=_describe(url), version=version, counts=counts,
                           verified=expected is not None)
