"""Opening a registry: engine, session factory, connection pragmas, migrations.

A registry is a SQLite file (the embedded default, in the user data folder) or any
SQLAlchemy URL (``postgresql://...``). Opening one applies every pending Alembic
migration; a registry written by a newer Panel Manager is refused rather than
damaged. SQLite-only SQL lives in this module and nowhere else.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnDefault, Engine, Table, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

ENV_VAR = "PANELMANAGER_DB"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 10_000


class RegistryError(Exception):
    """A registry cannot be opened; the message says why and what to do."""


def default_registry_path() -> Path:
    """The embedded registry in the user data folder (platformdirs)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("PanelManager", appauthor=False)) / "registry.sqlite3"


def resolve_registry_url(db: str | os.PathLike[str] | None = None) -> URL:
    """``--db`` beats ``PANELMANAGER_DB`` beats the default file; paths and URLs both work."""
    target = db if db is not None else os.environ.get(ENV_VAR) or _workstation_url() or default_registry_path()
    if isinstance(target, URL):
        return target
    text = os.fspath(target)
    if "://" in text:
        try:
            url = postgres_driver_url(make_url(text))
            url.get_dialect()  # an unknown database kind fails here, not at first use
            return url
        except Exception as exc:  # ArgumentError, NoSuchModuleError
            raise RegistryError(
                f"'{describe_text_url(text)}' is not a database URL Panel Manager understands ({exc}). "
                "Give a file path, or a URL such as postgresql://user@host/dbname."
            ) from None
    from panelmanager.core.registry_location import refuse_network_share

    refuse_network_share(text)  # before resolve(): a UNC path is not one on Linux/macOS
    path = Path(text).expanduser().resolve()
    return URL.create("sqlite+pysqlite", database=str(path))


def _workstation_url() -> URL | None:
    """The practice server set up in Settings > Registry (core.registry_connection), if any."""
    from panelmanager.core.registry_connection import ConnectionSettingsError, configured_url

    try:
        return configured_url()
    except ConnectionSettingsError as exc:
        raise RegistryError(str(exc)) from None


def postgres_driver_url(url: URL) -> URL:
    """``postgresql://`` (and ``postgres://``) mean PostgreSQL through psycopg 3, the declared driver."""
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    return url


def describe_text_url(text: str) -> str:
    """A URL as typed, with any password replaced, for error messages."""
    scheme, sep, rest = text.partition("://")
    if sep and "@" in rest:
        creds, _, host = rest.rpartition("@")
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else text
    return text


def is_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite"


def describe_url(url: URL) -> str:
    """A display form of the registry location with any password hidden."""
    if is_sqlite(url):
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()
    # The driver's own lazy BEGIN is switched off; _sqlite_begin emits BEGIN [IMMEDIATE].
    dbapi_connection.isolation_level = None


def begin_for_savepoints(conn) -> None:
    """Make the transaction just begun on ``conn`` real before savepoints are nested in it.

    The sqlite3 driver starts its transaction lazily, before the first INSERT/UPDATE/DELETE;
    a SAVEPOINT issued first would open a transaction of its own whose RELEASE commits, so
    the outer rollback would undo nothing. On SQLite this emits BEGIN now; other databases
    begin at once and need nothing.
    """
    if conn.dialect.name == "sqlite" and not conn.connection.dbapi_connection.in_transaction:
        conn.exec_driver_sql("BEGIN")


def make_engine(url: URL) -> Engine:
    if is_sqlite(url):
        if url.database and url.database != ":memory:":
            from panelmanager.core.registry_location import refuse_network_share
            from panelmanager.core.safe_export import prepare_private_database

            refuse_network_share(url.database)  # before anything is created there

            try:
                prepare_private_database(Path(url.database))
            except OSError as exc:
                folder = Path(url.database).parent
                raise RegistryError(f"Cannot create the registry folder {folder}: {exc.strerror}.") from None
        from panelmanager.core.encryption import EncryptionError, engine_for

        try:  # an encrypted (SQLCipher) registry gets an engine that keys each connection
            engine = engine_for(url, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        except EncryptionError as exc:
            raise RegistryError(str(exc)) from None
        if engine is None:
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_begin(conn) -> None:
    """SQLAlchemy's pysqlite recipe: we emit BEGIN ourselves (the driver's is off, see
    ``_sqlite_pragmas``). A write session (``Registry.write_session``) begins IMMEDIATE: it
    takes the write lock first, so what it reads is what it decides on, and two writers
    never deadlock upgrading read locks."""
    immediate = conn.get_execution_options().get(WRITE_OPTION)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


WRITE_OPTION = "panelmanager_write"


def _alembic_config():
    from alembic.config import Config  # Alembic (~0.3 s to import) only when a schema changes

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def schema_heads() -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(_alembic_config()).get_heads())


def schema_revisions() -> set[str]:
    """Every schema version this Panel Manager knows (so can open, upgrading if older)."""
    from alembic.script import ScriptDirectory

    return {rev.revision for rev in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def migrate(engine: Engine, *, on_step=None) -> None:
    """Bring the schema up to date, refusing a registry from a newer version.

    The upgrade is all or nothing: every pending migration runs in ONE transaction (SQLite
    and PostgreSQL both roll DDL back), and an existing SQLite registry is backed up first
    (``backups/...-before-upgrade.sqlite3``). ``on_step`` is called after each revision
    (tests use it to interrupt an upgrade part-way).
    """
    if _at_head_without_alembic(engine):
        return
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = _alembic_config()
    script = ScriptDirectory.from_config(cfg)
    known = {rev.revision for rev in script.walk_revisions()}
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    unknown = current - known
    if unknown:
        raise RegistryError(
            "This registry was written by a newer version of Panel Manager "
            f"(schema {', '.join(sorted(unknown))}). Install the newer version to open it; "
            "this version will not change it."
        )
    if current == set(script.get_heads()):
        return
    saved = shape = None
    if current and is_sqlite(engine.url) and engine.url.database not in (None, "", ":memory:"):
        from panelmanager.core.backup import backup_before_upgrade

        saved = backup_before_upgrade(Path(engine.url.database), ", ".join(sorted(current)))
        shape = _schema_shape(engine)
    try:
        with engine.begin() as conn:
            # pysqlite opens its transaction only before INSERT/UPDATE/DELETE, so CREATE TABLE
            # would otherwise autocommit one statement at a time: begin for real, now.
            begin_for_savepoints(conn)
            cfg.attributes["connection"] = conn
            cfg.attributes["on_version_apply"] = on_step
            command.upgrade(cfg, "heads")
    except BaseException:
        if saved is not None:
            _restore_if_changed(engine, shape, saved.path)
        raise


_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)


def _declared_heads() -> set[str] | None:
    """The heads of the migration files, read as text (None when any file is not plain).

    Opening a registry that is already up to date (every start of the app) then needs
    no Alembic import. Each versions/*.py must declare one quoted ``revision`` and a
    quoted (or tuple of quoted, or None) ``down_revision``; otherwise Alembic decides.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        if path.name == "__init__.py":
            continue
        found = dict((key, value) for key, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        revision = re.fullmatch(r"[\"']([\w.-]+)[\"']", found.get("revision", ""))
        down = found.get("down_revision")
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        if down != "None":
            names = re.findall(r"[\"']([\w.-]+)[\"']", down)
            if not names or re.sub(r"[\"'][\w.-]+[\"']|[\s,()\[\]]", "", down):
                return None
            parents.update(names)
    return (revisions - parents) or None


def _at_head_without_alembic(engine: Engine) -> bool:
    """True when the registry's alembic_version rows are exactly the migration files' heads."""
    heads = _declared_heads()
    if not heads:
        return False
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return False
            current = {row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version").fetchall()}
    except Exception:  # noqa: BLE001 - let Alembic look and report
        return False
    return current == heads


def _schema_shape(engine: Engine):
    """The SQLite schema and version, to tell whether a failed upgrade left anything behind."""
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version ORDER BY 1").fetchall()
    return [tuple(r) for r in rows], [tuple(r) for r in version]


def _restore_if_changed(engine: Engine, shape, backup: Path) -> None:
    """The rollback should have undone a failed upgrade; if anything is left, put the backup back."""
    try:
        now = _schema_shape(engine)
    except Exception:  # noqa: BLE001 - unreadable: restore
        now = None
    if now == shape:
        return
    from panelmanager.core.backup import restore_registry
    from panelmanager.core.permissions import SYSTEM, acting_as

    engine.dispose()
    assert engine.url.database, "backups are taken of SQLite files only"
    with acting_as(SYSTEM):  # undoing a failed upgrade is the program's own work, whoever opened the registry
        restore_registry(backup, Path(engine.url.database))


# session.info key: the refusals and errors the audited services of a session noted (core.actions):
# appended in the transaction when the caller handled them and commits, else after its rollback.
AUDIT_NOTED = "panelmanager_audit_noted"


def _append_noted(session: Session, bind: Engine | None = None) -> None:
    from panelmanager.core.actions import append_noted

    append_noted(session, bind)


@contextmanager
def _noted_appended(session: Session, engine: Engine) -> Iterator[None]:
    """On an error leaving the transaction, append what its audited services noted (refusals,
    errors) in transactions of their own once it has rolled back."""
    try:
        yield
    except BaseException:
        if session.info.get(AUDIT_NOTED):
            _append_noted(session, engine)
        raise


@dataclass
class Registry:
    """An open registry: where it is, its engine and a session factory."""

    url: URL
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def location(self) -> str:
        return describe_url(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        session = self.sessions()
        with _noted_appended(session, self.engine), session, session.begin():
            yield session
            if session.info.get(AUDIT_NOTED):
                _append_noted(session)

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """One short write transaction holding the write lock from its start (SQLite: BEGIN
        IMMEDIATE); a busy registry or a conflicting change raises ``concurrency.RegistryBusy``
        / ``Conflict`` with a message for the user. See ``core.concurrency.run_write`` to retry."""
        from panelmanager.core.concurrency import translate_errors

        session = Session(self.engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False)
        with translate_errors(), _noted_appended(session, self.engine), session, session.begin():
            yield session
            if session.info.get(AUDIT_NOTED):
                _append_noted(session)

    def close(self) -> None:
        self.engine.dispose()


def open_registry(db: str | os.PathLike[str] | URL | None = None, *, create: bool = False) -> Registry:
    """Open (and migrate) the registry at ``db``, the env var, or the default location.

    A missing or empty target becomes a new registry only with ``create``; anything that
    is not a Panel Manager registry is refused unchanged (core.registry_guard).
    """
    from panelmanager.core.registry_guard import NotARegistry, check_registry_target

    url = postgres_driver_url(db) if isinstance(db, URL) else resolve_registry_url(db)
    try:
        check_registry_target(url, create=create)
    except NotARegistry as exc:
        raise RegistryError(str(exc)) from None
    engine = make_engine(url)
    try:
        migrate(engine)
    except RegistryError:
        engine.dispose()
        raise
    except Exception as exc:
        engine.dispose()
        raise RegistryError(f"Cannot open the registry at {describe_url(url)}: {exc}") from None
    return Registry(url=url, engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


def registry_exists(db: str | os.PathLike[str] | None = None) -> bool:
    """True when the registry already has a schema (used by the GUI's first-run welcome)."""
    url = resolve_registry_url(db)
    if is_sqlite(url):
        return bool(url.database and Path(url.database).exists() and Path(url.database).stat().st_size > 0)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("alembic_version")
    finally:
        engine.dispose()


def insert_ignore_duplicates(table: Table, dialect_name: str):
    """An INSERT that skips rows whose unique key already exists (SQLite / PostgreSQL)."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert

    return insert(table).on_conflict_do_nothing()


# --------------------------------------------------------------------------- bulk writes
#
# Importers hand over whole pandas columns. On SQLite the rows go straight to the
# driver's executemany as tuples, with dates pre-formatted in SQLAlchemy's own SQLite
# storage format (so ORM reads and Core comparisons see exactly what they would have
# written); elsewhere they go through Core ``insert()``/``update()`` executemany.

BULK_CHUNK_ROWS = 100_000
DEFER_INDEXES_MIN_ROWS = 50_000
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
_SQLITE_DATE = "%Y-%m-%d"


def _python_values(series, column) -> list:
    """One column as a list of driver-ready Python values, missing values as None."""
    import pandas as pd
    from sqlalchemy import Date as SADate
    from sqlalchemy import DateTime as SADateTime

    type_ = column.type
    if isinstance(type_, (SADateTime, SADate)):
        stamps = pd.to_datetime(series)
        if isinstance(type_, SADateTime):
            values = stamps.dt.to_pydatetime()
        else:
            values = stamps.dt.date
        return [None if pd.isna(v) else v for v in values]
    values = series.astype(object).where(series.notna(), None)
    return values.tolist()


def _sqlite_values(series, column) -> list:
    import pandas as pd
    from sqlalchemy import Date as SADate
    from sqlalchemy import DateTime as SADateTime

    type_ = column.type
    if isinstance(type_, (SADateTime, SADate)):
        stamps = pd.to_datetime(series)
        fmt = _SQLITE_DATETIME if isinstance(type_, SADateTime) else _SQLITE_DATE
        if getattr(stamps.dt, "tz", None) is not None:
            text = stamps.dt.strftime(fmt)
            return text.astype(object).where(stamps.notna(), None).tolist()
        return _sqlite_date_text(stamps.to_numpy(), date_only=not isinstance(type_, SADateTime))
    if not pd.api.types.is_extension_array_dtype(series.dtype) and series.dtype.kind in "fiub":
        # sqlite3 binds NaN as NULL; numpy scalars convert through tolist().
        return series.tolist()
    # Object, string and nullable (Int64: pd.NA) columns: missing values become None.
    return series.astype(object).where(series.notna(), None).tolist()


def _sqlite_date_text(values, *, date_only: bool) -> list:
    """datetime64 values in SQLAlchemy's SQLite text format, vectorised (strftime is per row)."""
    import numpy as np

    missing = np.isnat(values)
    if date_only:
        text = np.datetime_as_string(values.astype("datetime64[D]"), unit="D")
    else:
        text = np.datetime_as_string(values.astype("datetime64[us]"), unit="us")
        if len(text):  # ISO "2023-01-27T16:17:47.000000" -> "2023-01-27 16:17:47.000000"
            chars = text.view("U1").reshape(len(text), -1)
            if chars.shape[1] > 10:
                chars[:, 10] = np.where(chars[:, 10] == "T", " ", chars[:, 10])
    out = text.astype(object)
    out[missing] = None
    return out.tolist()


def _indexes_to_defer(conn, table: Table, incoming: int) -> list[tuple[str, str]]:
    """Plain (non-unique) indexes worth rebuilding once rather than updating row by row.

    Adding many rows to a table whose indexes are larger than SQLite's page cache turns
    every insert into random page reads; dropping the plain indexes and creating them
    again after the insert (inside the same transaction, so a failure restores them)
    is several times faster. Unique indexes stay: they enforce the natural keys.
    """
    if incoming < DEFER_INDEXES_MIN_ROWS:
        return []
    present = conn.exec_driver_sql(f'SELECT COUNT(*) FROM "{table.name}"').scalar() or 0
    if incoming * 2 < present:
        return []
    rows = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        (table.name,),
    ).fetchall()
    return [(name, sql) for name, sql in rows if not sql.lstrip().upper().startswith("CREATE UNIQUE")]


def scalar_defaults(table: Table, present) -> dict[str, object]:
    """The models' Python-side scalar defaults (fte=1.0, status=...) of ``table``'s columns not in
    ``present``: Core ``insert()`` fills them in, so must every raw bulk write (executemany, COPY,
    the import's staged rows, the demo's direct load)."""
    return {
        c.name: c.default.arg
        for c in table.c
        if c.name not in present and isinstance(c.default, ColumnDefault) and c.default.is_scalar
    }


def bulk_insert(conn, table: Table, frame) -> int:
    """Insert every row of ``frame`` (columns named after ``table``'s) in one executemany."""
    if frame.empty:
        return 0
    columns = [table.c[name] for name in frame.columns]
    if conn.dialect.name == "sqlite":
        deferred = _indexes_to_defer(conn, table, len(frame))
        for name, _sql in deferred:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
        defaults = scalar_defaults(table, frame.columns)
        names = ", ".join(f'"{c.name}"' for c in columns) + "".join(f', "{n}"' for n in defaults)
        marks = ", ".join("?" for _ in range(len(columns) + len(defaults)))
        sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
        constants = tuple(defaults.values())
        # Chunks bound the Python row tuples held at once (2M observations would need ~1 GB).
        for start in range(0, len(frame), BULK_CHUNK_ROWS):
            part = frame.iloc[start : start + BULK_CHUNK_ROWS]
            values = [_sqlite_values(part[c.name], c) for c in columns]
            rows = list(zip(*values, *([v] * len(part) for v in constants)))
            conn.exec_driver_sql(sql, rows)
            del rows, values
        for _name, create in deferred:
            conn.exec_driver_sql(create)
    else:
        values = [_python_values(frame[c.name], c) for c in columns]
        records = [dict(zip(frame.columns, row)) for row in zip(*values)]
        conn.execute(table.insert(), records)
    return len(frame)


def bulk_update(conn, table: Table, frame, key: str = "id") -> int:
    """``UPDATE table SET <other columns> WHERE <key> = ...`` for every row of ``frame``."""
    if frame.empty:
        return 0
    from sqlalchemy import bindparam

    set_columns = [name for name in frame.columns if name != key]
    columns = [table.c[name] for name in frame.columns]
    if conn.dialect.name == "sqlite":
        values = {c.name: _sqlite_values(frame[c.name], c) for c in columns}
        rows = list(zip(*(values[name] for name in set_columns), values[key]))
        assignments = ", ".join(f'"{name}" = ?' for name in set_columns)
        conn.exec_driver_sql(f'UPDATE "{table.name}" SET {assignments} WHERE "{key}" = ?', rows)
    else:
        values = {c.name: _python_values(frame[c.name], c) for c in columns}
        records = [
            {**{f"new_{n}": values[n][i] for n in set_columns}, "match_key": values[key][i]}
            for i in range(len(frame))
        ]
        stmt = (
            table.update()
            .where(table.c[key] == bindparam("match_key"))
            .values({n: bindparam(f"new_{n}") for n in set_columns})
        )
        conn.execute(stmt, records)
    return len(frame)
