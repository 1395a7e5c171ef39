"""Moving a registry: SQLite to PostgreSQL (a practice growing to several workstations) and back.

``copy_registry(source, target)`` copies every table of the schema in foreign-key order,
in chunks, inside one transaction on the target; it refuses a target that already holds
data, and verifies each table's row count and a checksum of its rows (read back through
the same column types, so a date is a date on both sides). PostgreSQL's id sequences are
moved past the copied ids so new rows do not collide.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from sqlalchemy import func, select, text

from panelmanager.core.db import Registry, RegistryError
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress

CHUNK_ROWS = 20_000
# Bookkeeping rows that a freshly migrated registry already has: not data, not copied.
SKIPPED_TABLES = ("registry_changes",)


@dataclass
class TableCopy:
    name: str
    rows: int
    checksum: str


@dataclass
class CopyResult:
    tables: list[TableCopy] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


def _tables():
    from panelmanager.core.models import Base

    return [t for t in Base.metadata.sorted_tables if t.name not in SKIPPED_TABLES]


def _normal(value) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(round(value, 9))
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _ordered(table):
    keys = list(table.primary_key.columns) or list(table.c)
    return select(*table.c).order_by(*keys)


def table_checksum(conn, table) -> tuple[int, str]:
    """Row count and sha256 of a table's rows in primary-key order."""
    digest = hashlib.sha256()
    rows = 0
    for row in conn.execute(_ordered(table)).yield_per(CHUNK_ROWS):
        digest.update("\x1f".join(_normal(v) for v in row).encode())
        digest.update(b"\x1e")
        rows += 1
    return rows, digest.hexdigest()


def _non_empty(conn) -> list[str]:
    return [t.name for t in _tables() if conn.execute(select(func.count()).select_from(t)).scalar()]


def _copy_audit_head(src, dst) -> None:
    """The audit chain's head (issue 14) lives in the registry_changes row, which is not copied."""
    from panelmanager.core.models import RegistryChange

    c = RegistryChange.__table__
    head = src.execute(select(c.c.audit_seq, c.c.audit_hash).where(c.c.id == 1)).first()
    if head is None or head.audit_seq is None:
        return
    values = {"audit_seq": head.audit_seq, "audit_hash": head.audit_hash}
    if not dst.execute(c.update().where(c.c.id == 1).values(**values)).rowcount:
        dst.execute(c.insert().values(id=1, counter=0, **values))


def copy_registry(
    source: Registry, target: Registry, *, progress: Progress = no_progress, cancel: CancelToken = NEVER_CANCELLED
) -> CopyResult:
    """Copy ``source`` into the empty, migrated ``target`` and verify it; raises RegistryError."""
    progress = progress or no_progress
    tables = _tables()
    result = CopyResult()
    with source.engine.connect() as src, target.engine.begin() as dst:
        busy = _non_empty(dst)
        if busy:
            raise RegistryError(
                f"The target registry {target.location} already holds data ({', '.join(busy[:4])}"
                f"{'...' if len(busy) > 4 else ''}); copy only into a new, empty database."
            )
        for n, table in enumerate(tables):
            progress(n, len(tables), f"Copying {table.name}")
            (cancel or NEVER_CANCELLED).raise_if_cancelled()
            names = [c.name for c in table.c]
            result_rows = src.execute(_ordered(table)).yield_per(CHUNK_ROWS)
            for chunk in result_rows.partitions(CHUNK_ROWS):
                dst.execute(table.insert(), [dict(zip(names, row)) for row in chunk])
        _copy_audit_head(src, dst)
        if dst.dialect.name == "postgresql":
            for table in tables:
                pk = list(table.primary_key.columns)
                if len(pk) == 1 and pk[0].autoincrement is not False and pk[0].type.python_type is int:
                    dst.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'), "
                        f"COALESCE((SELECT MAX({pk[0].name}) FROM {table.name}), 0) + 1, false) "
                        f"WHERE pg_get_serial_sequence('{table.name}', '{pk[0].name}') IS NOT NULL"
                    ))
        for n, table in enumerate(tables):
            progress(n, len(tables), f"Verifying {table.name}")
            want = table_checksum(src, table)
            got = table_checksum(dst, table)
            if want != got:
                raise RegistryError(
                    f"The copy of table {table.name} does not match ({got[0]:,} rows copied of {want[0]:,}); "
                    "nothing was kept in the target."
                )
            result.tables.append(TableCopy(table.name, want[0], want[1]))
    return result
