"""SQLite imports that hold the write lock only while they apply what they decided (issue 13).

SQLite has one writer at a time. An import used to take the write lock (BEGIN IMMEDIATE)
and then parse, normalise, hash and compare every row inside it: a check-in confirm on
another workstation waited for all of it (3.5 s at 5,000 patients, refused "busy" at
100,000). Here an import runs in two phases on one connection:

1. **Plan**, without the write lock: in an ordinary read transaction (WAL readers never
   block writers, and writers never block them) the writer parses, resolves references,
   hashes and compares every row against the registry exactly as before, but every row it
   would insert or update goes into a TEMP table of the import's connection instead
   (``Stage``). New rows get their ids here, counting on from each table's highest id in
   the plan's snapshot, so rows that point at them (visits at new patients, observations
   at new visits) are planned too.
2. **Apply**, under the write lock: BEGIN IMMEDIATE, check that nothing the plan was
   decided on changed since its snapshot (``Snapshot``), then copy the staged rows with one
   ``INSERT ... SELECT`` / ``UPDATE ... FROM`` per staged frame (SQLite copies them in C).
   If something did change, the staged rows are dropped and the file is imported again
   the old way, inside the same locked transaction: correctness first.

3. **Indexes**, after the commit: a big insert (a first import: every event table) drops
   its table's plain, non-unique indexes before it copies its rows and does not build them
   again under the apply's lock (building them was 70% of it: 10 of 14 s at 30,000
   patients). They are built after the commit, one ``BEGIN IMMEDIATE; CREATE INDEX;
   COMMIT`` each with a pause between, so another workstation's check-in goes through
   between two of them instead of waiting for all.

The import stays all or nothing: nothing reaches the registry's own tables before the
apply's single transaction commits; a failure, a cancel or a kill -9 at any point before
it leaves the registry as it was (TEMP tables belong to the connection and vanish with
it; the dropped indexes come back with the rollback). Between the commit and the last
index, readers see the whole import; a query that would use a missing plain index scans
instead (same answer, slower). An import stopped there (kill -9, power cut) is whole; the
indexes it had not built yet are built at the next import (``restore_missing_indexes``,
the models' definitions). Unique indexes (the natural keys) are never dropped: SQLite
makes them from the tables' UNIQUE constraints, and they keep checking every row.

**Pending rows.** Writing all of a first import's rows in the apply's one transaction held
the lock for 4 s at 30,000 patients on a quiet machine and 82 s at 100,000 on a loaded one.
So before the apply, the big inserts into the event tables (visits, observations...; more
than ``PENDING_MIN_ROWS``) are copied into the registry's tables in batches of
``PENDING_BATCH_ROWS``, each its own short write transaction with a pause after it, so a
check-in gets in between two batches. They are not part of the registry yet: the first
batch transaction writes an ``import_pending`` row per table (the first id the import
writes there), and every reader hides rows at or above it (``core.visibility``). The
apply then writes the rest (patients, updates, small inserts) and deletes the markers in
its one transaction: all of the import appears at once. A failure or a cancel deletes the
pending rows again (in batches, each its own transaction); a kill leaves them hidden until
the next import deletes them (``clear_abandoned``). While one import has rows pending,
another is refused with a message (its plan could not see them).

What the plan is checked against, under the lock:

- ``PRAGMA data_version`` of the import's connection, read before the plan's snapshot:
  unchanged means no other connection committed anything since, and the plan stands;
- otherwise (a check-in, usually) the imported tables' row counts and highest ids; a digest
  of the patient, provider and location columns the writer decides on (MRN, status, names,
  birth date, row hash, merges); and a digest of every stored row the plan updates. A
  check-in touches none of them, so the plan still stands.

Staged rows live where SQLite keeps temporary tables: a temporary file that SQLite deletes
itself for a plain registry (so a first import's rows do not all sit in memory), memory
for an encrypted one (``core.encryption`` sets ``temp_store=MEMORY`` so that no row is ever
written unencrypted).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import logging
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Table

from panelmanager.core import db
from panelmanager.core.importers.errors import ImportFileError
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken
from panelmanager.core.visibility import PENDING_TABLES

# Tables whose rows the writer reads to decide what it writes (as importers.skip watches).
WATCHED = ("locations", "providers", "patients", "patient_identifiers", "visits", "observations",
           "immunizations", "procedures", "conditions", "medications")
# Small tables whose rows are counted (the big ones: their highest id, one index probe).
COUNTED = ("locations", "providers", "patients", "patient_identifiers")
# Columns of small tables that decide matching and merging (digested whole).
DECIDING_COLUMNS = {
    "providers": ("id", "external_id", "source", "merged_into_id", "row_hash"),
    "locations": ("id", "external_id", "source", "row_hash"),
}
STAGE_CHUNK_ROWS = 50_000
# Between two index builds after the commit the import lets go of the write lock this long:
# SQLite has no queue, a writer waiting on the lock retries every few to 100 ms.
INDEX_PAUSE_S = 0.1
# Inserts this big into an event table are committed in batches before the apply (pending rows).
PENDING_MIN_ROWS = 20_000
PENDING_BATCH_ROWS = 250_000
STAGE_SCHEMA = "pm_stage"
STAGE_FOLDER_PREFIX = "pm-import-stage-"
_stage_numbers = itertools.count(1)
log = logging.getLogger(__name__)


def uses_staging(conn) -> bool:
    return conn.dialect.name == "sqlite"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _dbapi(conn):
    return conn.connection.dbapi_connection


def _digest(rows) -> str:
    digest = hashlib.sha256()
    for start in range(0, len(rows), 20_000):
        digest.update(repr(rows[start : start + 20_000]).encode())
    return digest.hexdigest()


@dataclass
class Snapshot:
    """What the plan was decided on (read inside the plan's read transaction)."""

    data_version: int
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, conn, data_version: int) -> Snapshot:
        snap = cls(data_version)
        snap.sizes = _sizes(conn)
        snap.digests = _table_digests(conn)
        return snap


def _sizes(conn, below: dict[str, int] | None = None) -> dict[str, tuple[int, int]]:
    """Row count (small tables) and highest id of each watched table; ``below`` leaves out
    the rows this import has already committed as pending (ids from ``below[name]`` on)."""
    below = below or {}
    cursor = _dbapi(conn).cursor()
    try:
        # COUNT(*) of a big table reads its smallest index (~1 s at 100,000 patients); no service
        # deletes imported rows, so their highest id (one probe) shows any row added meanwhile.
        return {
            name: tuple(cursor.execute(
                f"SELECT {'COUNT(*)' if name in COUNTED else '0'}, COALESCE(MAX(id), 0) FROM main.{_q(name)}"
                + (f" WHERE id < {int(below[name])}" if name in below else "")
            ).fetchone())
            for name in WATCHED
        }
    finally:
        cursor.close()


def _table_digests(conn) -> dict[str, str]:
    cursor = _dbapi(conn).cursor()
    try:
        out = {}
        for name, columns in DECIDING_COLUMNS.items():
            cols = ", ".join(_q(c) for c in columns)
            out[name] = _digest(cursor.execute(f"SELECT {cols} FROM main.{_q(name)} ORDER BY id").fetchall())
        return out
    finally:
        cursor.close()


def drop_leftovers(dbapi_connection) -> None:
    """Drop staging tables still on a connection and let go of an encrypted scratch file
    (``stage_schema``); run with no transaction open, before the connection goes back to the pool."""
    schemas = {row[1]: row[2] for row in dbapi_connection.execute("PRAGMA database_list").fetchall()}
    names = [row[0] for row in dbapi_connection.execute(
        "SELECT name FROM temp.sqlite_master WHERE type = 'table' AND name LIKE 'pm_import_stage_%'").fetchall()]
    for name in names:
        dbapi_connection.execute(f"DROP TABLE temp.{_q(name)}")
    if STAGE_SCHEMA in schemas:
        dbapi_connection.execute(f"DETACH DATABASE {STAGE_SCHEMA}")
        if schemas[STAGE_SCHEMA]:
            shutil.rmtree(os.path.dirname(schemas[STAGE_SCHEMA]), ignore_errors=True)


def stage_schema(conn) -> str:
    """Where the staged rows go: ``temp`` (SQLite's temporary file, deleted by SQLite), or, when
    temporary tables are kept in memory (an encrypted registry: ``core.encryption`` sets
    ``temp_store=MEMORY`` so that no row is ever written unencrypted), a scratch database
    attached as ``pm_stage``, encrypted with a random key that only this connection ever holds,
    in a private folder removed after the import. 5.7M staged rows at 100,000 patients took
    ~1.4 GB in memory; on disk they take none. Run with no transaction open (ATTACH)."""
    dbapi = _dbapi(conn)
    if int(dbapi.execute("PRAGMA temp_store").fetchone()[0]) != 2:  # 2: MEMORY
        return "temp"
    _remove_stale_stage_folders()
    folder = tempfile.mkdtemp(prefix=f"{STAGE_FOLDER_PREFIX}{os.getpid()}-")  # mode 0700
    key = "x'" + secrets.token_hex(32) + "'"  # a raw 256-bit key: never stored, lost with the process
    dbapi.execute(f"ATTACH DATABASE ? AS {STAGE_SCHEMA} KEY ?", (os.path.join(folder, "stage.db"), key))
    dbapi.execute(f"PRAGMA {STAGE_SCHEMA}.journal_mode=MEMORY")  # scratch rows: no journal file
    dbapi.execute(f"PRAGMA {STAGE_SCHEMA}.synchronous=OFF")
    return STAGE_SCHEMA


def _remove_stale_stage_folders() -> None:
    """Scratch folders of imports killed before they removed them (unreadable: their key is gone)."""
    base = tempfile.gettempdir()
    try:
        entries = os.listdir(base)
    except OSError:
        return
    for entry in entries:
        if not entry.startswith(STAGE_FOLDER_PREFIX):
            continue
        try:
            pid = int(entry[len(STAGE_FOLDER_PREFIX):].split("-", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(base, entry), ignore_errors=True)
        except (ValueError, OSError):
            continue


def data_version(conn) -> int:
    """SQLite's count of commits by other connections, as this connection has seen them."""
    return int(_dbapi(conn).execute("PRAGMA data_version").fetchone()[0])


@dataclass
class _Op:
    kind: str  # "insert" or "update"
    table: Table
    stage: str
    columns: list[str]
    rows: int
    applied: bool = False  # committed before the apply, as pending rows
    before: str = ""  # digest of the stored rows the plan decided on (updated rows; patients given an identifier)


class Stage:
    """Collects the writer's inserts and updates in TEMP tables; ``apply`` writes them."""

    def __init__(self, conn, snapshot: Snapshot, schema: str = "temp") -> None:
        self.conn = conn
        self.schema = schema  # "temp", or an attached encrypted scratch file (stage_schema)
        self.snapshot = snapshot
        self.ops: list[_Op] = []
        # Plain indexes the apply dropped, (table, index, CREATE INDEX sql), built after the commit.
        self.deferred: list[tuple[str, str, str]] = []
        self._next_id = {name: top + 1 for name, (_count, top) in snapshot.sizes.items()}
        # Tables with rows committed as pending: the first id written there (import_pending).
        self.pending: dict[str, int] = {}
        self._pending_dropped: list[tuple[str, str, str]] = []  # plain indexes dropped then (committed)

    # ------------------------------------------------------------------ plan

    def _with_ids(self, table: Table, frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        """The ids new rows of ``table`` will have, and the rows with them and with the models'
        Python-side defaults (fte=1.0, status=...) for absent columns: Core insert() and
        db.bulk_insert fill those, so must the staged rows."""
        start = self._next_id[table.name]
        ids = np.arange(start, start + len(frame), dtype=np.int64)
        self._next_id[table.name] = start + len(frame)
        staged = frame.assign(id=ids)
        return ids, staged.assign(**db.scalar_defaults(table, staged.columns))

    def insert(self, conn, table: Table, frame: pd.DataFrame) -> np.ndarray:
        """Stage new rows; returns the ids they will have (in the frame's order)."""
        if frame.empty:
            return np.zeros(0, dtype=np.int64)
        ids, staged = self._with_ids(table, frame)
        name = self._stage(table, staged)
        op = _Op("insert", table, name, list(staged.columns), len(staged))
        if table.name == "patient_identifiers":  # an existing patient matched by MRN: their row decided it
            op.before = self._stored_digest(op)
        self.ops.append(op)
        return ids

    def insert_more(self, conn, table: Table, frame: pd.DataFrame) -> np.ndarray:
        """Stage more new rows for ``table`` into its last staged insert (the next part of a file
        read in chunks, issue 16), so the apply inserts them all at once (one decision about
        deferring the plain indexes, as for a whole file); ``insert`` when there is none."""
        last = next((op for op in reversed(self.ops) if op.kind == "insert" and op.table is table), None)
        if last is None or frame.empty or table.name == "patient_identifiers":
            return self.insert(conn, table, frame)
        ids, staged = self._with_ids(table, frame)
        columns = [table.c[c] for c in last.columns]
        sql = f"INSERT INTO {self.schema}.{_q(last.stage)} VALUES ({', '.join('?' for _ in columns)})"
        cursor = _dbapi(self.conn).cursor()
        try:
            for begin in range(0, len(staged), STAGE_CHUNK_ROWS):
                part = staged.iloc[begin : begin + STAGE_CHUNK_ROWS]
                cursor.executemany(sql, zip(*[db._sqlite_values(part[c.name], c) for c in columns]))
        finally:
            cursor.close()
        last.rows += len(staged)
        return ids

    def update(self, conn, table: Table, frame: pd.DataFrame, key: str = "id") -> int:
        """Stage ``UPDATE table SET <other columns> WHERE id = ...`` for every row of ``frame``."""
        if frame.empty:
            return 0
        assert key == "id"
        name = self._stage(table, frame)
        op = _Op("update", table, name, list(frame.columns), len(frame))
        op.before = self._stored_digest(op)
        self.ops.append(op)
        return len(frame)

    def _stage(self, table: Table, frame: pd.DataFrame) -> str:
        name = f"pm_import_stage_{next(_stage_numbers)}"
        columns = [table.c[c] for c in frame.columns]
        cursor = _dbapi(self.conn).cursor()
        try:
            cursor.execute(f"CREATE TABLE {self.schema}.{_q(name)} ({', '.join(_q(c.name) for c in columns)})")
            sql = f"INSERT INTO {self.schema}.{_q(name)} VALUES ({', '.join('?' for _ in columns)})"
            for start in range(0, len(frame), STAGE_CHUNK_ROWS):
                part = frame.iloc[start : start + STAGE_CHUNK_ROWS]
                values = [db._sqlite_values(part[c.name], c) for c in columns]
                cursor.executemany(sql, zip(*values))
                del values
        finally:
            cursor.close()
        return name

    def _stored_digest(self, op: _Op) -> str:
        if op.table.name == "patient_identifiers":
            target, key = "patients", "patient_id"
        else:
            target, key = op.table.name, "id"
        rows = _dbapi(self.conn).execute(
            f"SELECT t.* FROM main.{_q(target)} AS t WHERE t.id IN (SELECT {_q(key)} FROM {self.schema}.{_q(op.stage)}) "
            "ORDER BY t.id"
        ).fetchall()
        return _digest(rows)

    # ------------------------------------------------------------------ pending rows

    def commit_pending(self, progress=None, cancel: CancelToken = NEVER_CANCELLED) -> None:
        """Copy the big event-table inserts into the registry in short committed batches, hidden
        behind ``import_pending`` until the apply (module docstring). Does nothing, leaving them
        all to the apply, when another import has rows pending or a table grew since the plan."""
        from panelmanager.core.db import WRITE_OPTION

        ops = [op for op in self.ops
               if op.kind == "insert" and op.table.name in PENDING_TABLES and op.rows >= PENDING_MIN_ROWS]
        if not ops:
            return
        self.conn.execution_options(**{WRITE_OPTION: True})
        dbapi = _dbapi(self.conn)
        tables = list(dict.fromkeys(op.table.name for op in ops))
        with self.conn.begin():
            if dbapi.execute("SELECT 1 FROM main.import_pending LIMIT 1").fetchone() is not None:
                return  # another import's rows: the apply decides (still_valid refuses)
            for name in tables:
                top = dbapi.execute(f"SELECT COALESCE(MAX(id), 0) FROM main.{_q(name)}").fetchone()[0]
                if top != self.snapshot.sizes[name][1]:
                    return  # rows added since the plan: the apply finds it and decides again
            for name in tables:
                first = self.snapshot.sizes[name][1] + 1
                dbapi.execute("INSERT INTO main.import_pending (table_name, from_id, owner, started_at) "
                              "VALUES (?, ?, ?, ?)", (name, first, _owner(), _now_text()))
                self.pending[name] = first
            for op in ops:
                for index_name, create in db._indexes_to_defer(self.conn, op.table, op.rows):
                    dbapi.execute(f"DROP INDEX main.{_q(index_name)}")
                    self._pending_dropped.append((op.table.name, index_name, create))
        self.deferred.extend(self._pending_dropped)
        total = sum(op.rows for op in ops)
        done = 0
        for op in ops:
            cols = ", ".join(_q(c) for c in op.columns)
            sql = (f"INSERT INTO main.{_q(op.table.name)} ({cols}) SELECT {cols} "
                   f"FROM {self.schema}.{_q(op.stage)} WHERE rowid > ? AND rowid <= ?")
            for start in range(0, op.rows, PENDING_BATCH_ROWS):
                cancel.raise_if_cancelled()
                if progress:
                    progress(done, total, f"Saving {op.table.name} ({start:,} of {op.rows:,} rows)")
                with self.conn.begin():  # BEGIN IMMEDIATE ... COMMIT: one short lock
                    dbapi.execute(sql, (start, start + PENDING_BATCH_ROWS))
                done += min(PENDING_BATCH_ROWS, op.rows - start)
                time.sleep(INDEX_PAUSE_S)  # a waiting check-in polls, and gets in here
            op.applied = True

    def discard_pending(self) -> None:
        """Delete the rows committed as pending (a failure or a cancel after ``commit_pending``),
        in batches that each commit, then the markers; then build the indexes dropped for them.
        If that fails too, the rows stay hidden and the next import deletes them."""
        if not self.pending:
            return
        try:
            _delete_pending(self.conn, dict(self.pending))
        except Exception as exc:  # noqa: BLE001 - hidden rows are harmless; the next import deletes them
            log.warning("rows of a failed import were left hidden (%s): the next import deletes them",
                        type(exc).__name__)
        finally:
            self.pending = {}
        dropped, self._pending_dropped = self._pending_dropped, []
        self.deferred = [d for d in self.deferred if d not in dropped]
        build_indexes(self.conn, dropped)

    def _discard_pending_locked(self) -> None:
        """Inside the apply's locked transaction: delete the pending rows and markers with it."""
        dbapi = _dbapi(self.conn)
        for name, first in self.pending.items():
            dbapi.execute(f"DELETE FROM main.{_q(name)} WHERE id >= ?", (first,))
            dbapi.execute("DELETE FROM main.import_pending WHERE table_name = ?", (name,))
        # ``self.pending`` stays: if this transaction rolls back, the rows are back and
        # ``discard_pending`` deletes them.

    # ------------------------------------------------------------------ apply

    def still_valid(self) -> bool:
        """Under the write lock: is every input the plan was decided on as it was?"""
        _refuse_if_other_pending(self.conn, self.pending)
        if data_version(self.conn) == self.snapshot.data_version:
            return True  # no other connection committed anything since the plan's snapshot
        if _sizes(self.conn, self.pending) != self.snapshot.sizes:
            return False
        if _table_digests(self.conn) != self.snapshot.digests:
            return False
        return all(self._stored_digest(op) == op.before for op in self.ops if op.before)

    def apply(self, progress: Callable[[int, int, str], None] | None = None) -> None:
        """Write the staged rows into the registry (inside the caller's locked transaction).

        A big insert drops its table's plain indexes first and does not build them again
        here: ``self.deferred`` lists them for ``build_indexes`` to create after the commit,
        one short transaction each (module docstring). The staged TEMP tables are dropped
        after the commit too (``drop``): dropping them here would lengthen the lock."""
        cursor = _dbapi(self.conn).cursor()
        try:
            for index, op in enumerate(self.ops):
                if op.applied:
                    continue  # committed before, as pending rows (commit_pending)
                op_started = time.perf_counter()
                if progress:
                    progress(index, len(self.ops), f"Saving {op.table.name}")
                cols = ", ".join(_q(c) for c in op.columns)
                target = f"main.{_q(op.table.name)}"
                if op.kind == "insert":
                    for index_name, create in db._indexes_to_defer(self.conn, op.table, op.rows):
                        cursor.execute(f"DROP INDEX main.{_q(index_name)}")
                        self.deferred.append((op.table.name, index_name, create))
                    cursor.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {self.schema}.{_q(op.stage)}")
                else:
                    sets = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in op.columns if c != "id")
                    cursor.execute(f"UPDATE {target} AS t SET {sets} FROM {self.schema}.{_q(op.stage)} AS s WHERE t.id = s.id")
                log.debug("applied %s %s: %d rows in %.2f s", op.kind, op.table.name, op.rows,
                          time.perf_counter() - op_started)
            for name in self.pending:  # the pending rows become part of the registry with this commit
                cursor.execute("DELETE FROM main.import_pending WHERE table_name = ?", (name,))
        finally:
            cursor.close()

    def drop(self) -> None:
        """Forget the staged rows (also after a failure: the connection goes back to the pool)."""
        dbapi = _dbapi(self.conn)
        for op in self.ops:
            try:
                dbapi.execute(f"DROP TABLE IF EXISTS {self.schema}.{_q(op.stage)}")
            except Exception:  # a connection in a failed state is discarded by the pool anyway
                pass
        self.ops = []


def _apply_or_undo(conn, stage: Stage, progress) -> bool:
    """Apply inside a savepoint: a unique key taken meanwhile (an MRN another workstation just
    gave a patient) undoes the apply, and the file is decided again under the lock."""
    dbapi = _dbapi(conn)
    dbapi.execute("SAVEPOINT pm_import_apply")
    try:
        stage.apply(progress)
    except sqlite_integrity_errors():
        dbapi.execute("ROLLBACK TO pm_import_apply")  # the indexes the apply dropped are back too
        stage.deferred = list(stage._pending_dropped)  # those dropped before it are not
        dbapi.execute("RELEASE pm_import_apply")
        return False
    dbapi.execute("RELEASE pm_import_apply")
    return True


def sqlite_integrity_errors() -> tuple[type[BaseException], ...]:
    """The drivers' IntegrityError classes (sqlite3 and, when installed, SQLCipher's)."""
    import sqlite3

    classes: list[type[BaseException]] = [sqlite3.IntegrityError]
    try:
        import sqlcipher3

        classes.append(sqlcipher3.dbapi2.IntegrityError)
    except ImportError:
        pass
    return tuple(classes)


def _part(progress, start: int, end: int):
    """``progress`` for one phase of a staged import, as ``start``-``end`` of 100: the plan, the
    pending batches and the apply each report from 0 to their own total, and one progress bar
    must not go back (a bar at 96% jumping to 50% looks like a restart)."""
    if progress is None:
        return None

    def report(done: int, total: int, message: str = "") -> None:
        fraction = min(max(done / total, 0.0), 1.0) if total else 0.0
        progress(start + int((end - start) * fraction), 100, message)

    return report


def write_staged(
    conn,
    parsed,
    reparse: Callable[[], object],
    *,
    progress=None,
    cancel: CancelToken = NEVER_CANCELLED,
):
    """Plan ``parsed`` without the write lock, then apply it under it (module docstring).

    ``conn`` is a SQLite connection with no transaction open. Returns ``(transaction,
    result, parsed)``: the write transaction (BEGIN IMMEDIATE), still open, holding the
    applied rows, for the caller to record its batch in and commit; ``parsed`` is the
    import as finally written (read again by ``reparse`` if the plan had to be redone).
    """
    from panelmanager.core.db import WRITE_OPTION
    from panelmanager.core.importers.writer import write_parsed

    started = time.perf_counter()
    version = data_version(conn)  # before the snapshot: anything committed after it shows
    conn.execution_options(**{WRITE_OPTION: False})
    schema = stage_schema(conn)
    plan = conn.begin()  # BEGIN (deferred): a read snapshot, no write lock on the registry
    stage = None
    try:
        stage = Stage(conn, Snapshot.read(conn, version), schema)
        result = write_parsed(conn, parsed, progress=_part(progress, 0, 60), cancel=cancel, release_frames=True,
                              stage=stage)
        plan.commit()  # ends the snapshot; the TEMP tables keep the staged rows
    except BaseException:
        plan.rollback()
        if stage is not None:
            stage.drop()
        raise
    conn.execution_options(**{WRITE_OPTION: True})
    planned = time.perf_counter()
    try:
        cancel.raise_if_cancelled()
        stage.commit_pending(_part(progress, 60, 90), cancel)
        pended = time.perf_counter()
        transaction = conn.begin()  # BEGIN IMMEDIATE: the write lock from here to the caller's commit
    except BaseException:
        stage.discard_pending()
        stage.drop()
        raise
    try:
        locked = time.perf_counter()
        valid = stage.still_valid()
        checked = time.perf_counter()
        if valid:
            valid = _apply_or_undo(conn, stage, _part(progress, 90, 100))
        if valid:
            # Timings only (no patient data): where a long import spends its time, and how long it locks.
            log.info("import planned in %.2f s; committed pending rows in %.2f s; waited %.2f s for the write "
                     "lock, checked the plan in %.2f s, applied it in %.2f s", planned - started, pended - planned,
                     locked - pended, checked - locked, time.perf_counter() - checked)
        else:  # another workstation changed what the plan was decided on: decide again, under the lock
            stage._discard_pending_locked()
            stage.drop()
            log.info("the registry changed while the import planned: deciding again under the write lock")
            parsed = reparse()
            result = write_parsed(conn, parsed, progress=_part(progress, 90, 100), cancel=cancel, release_frames=True)
    except BaseException:
        transaction.rollback()
        stage.discard_pending()
        stage.drop()
        raise
    return transaction, result, parsed, stage


def finish_staged(conn, stage: Stage, progress=None) -> None:
    """After the caller committed the apply: drop the staged TEMP tables, then build the plain
    indexes the apply dropped, each in its own short write transaction (module docstring)."""
    stage.drop()
    drop_leftovers(_dbapi(conn))  # and the encrypted scratch file, if any
    deferred, stage.deferred = stage.deferred, []
    build_indexes(conn, deferred, progress)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _now_text() -> str:
    return dt.datetime.now().isoformat(sep=" ", timespec="seconds")


def _owner_alive(owner: str) -> bool:
    """Is the process that wrote a marker still running? SQLite registries are local (network
    shares are refused, core.registry_location): another host's marker is a copied file's."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False  # this process's own import ended without clearing it (it would have run here)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by another user
    return True


def _markers(conn) -> list[tuple[str, int, str, str]]:
    return [tuple(row) for row in _dbapi(conn).execute(
        "SELECT table_name, from_id, owner, started_at FROM main.import_pending ORDER BY table_name").fetchall()]


def _refuse_if_other_pending(conn, own: dict[str, int]) -> None:
    others = [row for row in _markers(conn) if own.get(row[0]) != row[1]]
    if others:
        started = str(others[0][3])[11:16]
        raise ImportFileError(
            f"Another import into this registry is still being written (started at {started}). "
            "Nothing from this file was kept; import it again when that import has finished.")


def _delete_pending(conn, pending: dict[str, int]) -> None:
    """Delete the pending rows of ``pending`` (table -> first id) in batches that each commit,
    then their markers (the rows stay hidden until the last one is gone)."""
    from panelmanager.core.db import WRITE_OPTION

    conn.execution_options(**{WRITE_OPTION: True})
    dbapi = _dbapi(conn)
    for name, first in pending.items():
        top = dbapi.execute(f"SELECT COALESCE(MAX(id), 0) FROM main.{_q(name)}").fetchone()[0]
        for start in range(int(first), int(top) + 1, PENDING_BATCH_ROWS):
            with conn.begin():
                dbapi.execute(f"DELETE FROM main.{_q(name)} WHERE id >= ? AND id < ?",
                              (start, start + PENDING_BATCH_ROWS))
            time.sleep(INDEX_PAUSE_S)
        with conn.begin():
            dbapi.execute("DELETE FROM main.import_pending WHERE table_name = ? AND from_id = ?", (name, first))


def clear_abandoned(engine) -> None:
    """Before an import: delete the rows an import killed part-way left pending (hidden), or
    refuse while another running import has rows pending (its plan cannot see ours)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        markers = _markers(conn)
        conn.rollback()
        if not markers:
            return
        if any(_owner_alive(owner) for _name, _first, owner, _at in markers):
            _refuse_if_other_pending(conn, {})
        log.info("deleting the hidden rows of %d tables an interrupted import left", len(markers))
        _delete_pending(conn, {name: first for name, first, _owner_, _at in markers})


def build_indexes(conn, deferred: list[tuple[str, str, str]], progress=None) -> None:
    """Create each of ``deferred`` (table, index, sql) that does not exist, one BEGIN IMMEDIATE ...
    COMMIT each, so that other workstations' writes go through between them.

    The import is committed by then: a failure here (another workstation holding the write lock
    past the busy timeout) leaves the index for ``restore_missing_indexes`` at the next import,
    and is logged; readers are right without a plain index, only slower."""
    from panelmanager.core.db import WRITE_OPTION

    if not deferred:
        return
    conn.execution_options(**{WRITE_OPTION: True})
    longest, started = 0.0, time.perf_counter()
    for index, (table, name, create) in enumerate(deferred):
        if progress:
            try:
                progress(index, len(deferred), f"Indexing {table}")
            except Exception:  # noqa: BLE001 - the import is committed: a progress display's fault cannot undo it
                log.warning("progress display failed while indexes were built", exc_info=True)
        begun = time.perf_counter()
        try:
            with conn.begin():
                _create_index(conn, name, create)
        except Exception as exc:  # noqa: BLE001 - the import stands; the index is built next time
            log.warning("index %s not built after the import (%s): it is built at the next import",
                        name, type(exc).__name__)
            continue
        longest = max(longest, time.perf_counter() - begun)
        time.sleep(INDEX_PAUSE_S)  # SQLite queues no one: a waiting check-in polls, and gets in here
    log.info("built %d indexes after the commit in %.2f s, each in its own transaction (longest %.2f s)",
             len(deferred), time.perf_counter() - started, longest)


def _create_index(conn, name: str, create: str) -> None:
    dbapi = _dbapi(conn)
    present = dbapi.execute("SELECT 1 FROM main.sqlite_master WHERE type = 'index' AND name = ?", (name,)).fetchone()
    if present is None:
        dbapi.execute(create)


def missing_indexes(conn) -> list[tuple[str, str, str]]:
    """Plain indexes of the imported tables that the models define and the registry lacks
    (an import killed after its commit, before ``build_indexes`` finished)."""
    from sqlalchemy.schema import CreateIndex

    from panelmanager.core import models

    present = {row[0] for row in _dbapi(conn).execute(
        "SELECT name FROM main.sqlite_master WHERE type = 'index'").fetchall()}
    out = []
    for name in WATCHED:
        for index in models.Base.metadata.tables[name].indexes:
            if index.name not in present and not index.unique:
                out.append((name, str(index.name), str(CreateIndex(index).compile(dialect=conn.dialect))))
    return out


def restore_missing_indexes(engine) -> None:
    """Build the plain indexes an interrupted import left out (a read when none is missing)."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        missing = missing_indexes(conn)
        conn.rollback()
        if missing:
            log.info("building %d indexes an interrupted import left out", len(missing))
            build_indexes(conn, missing)


__all__ = ["Snapshot", "Stage", "clear_abandoned", "finish_staged", "restore_missing_indexes", "uses_staging", "write_staged"]
