"""An audit append writes one page fewer: ``ix_audit_log_at`` goes; the date filter reads by seq.

Every append wrote the row's page and a page of ``ix_audit_log_at`` (measured: a WAL page costs a
check-in confirm about 10 us of CPU and more of fsync; tests/benchmarks/bench_audit.py). ``at`` is
the workstation's clock, so it is not in ``seq`` order across workstations or a DST change, and
the index was what made the Audit screen's date filter fast. Now (core.audit.list_entries):

- ``registry_changes.audit_at_max``: the newest ``at`` in the trail, kept with the chain head (the
  row every write service already writes, so no page of its own);
- ``audit_log.late``: TRUE on an entry whose ``at`` is more than ``LATE_AFTER`` (26 hours: a DST
  change or a workstation in another time zone makes no entry late) before that newest time when
  it was appended (a workstation whose clock is a day or more behind); NULL otherwise;
- ``ix_audit_log_late_at``: ``at`` of the late entries only (a partial index: an in-order append
  writes no page of it).

Every other entry's ``at`` is within 26 hours of the trail's running newest time, which only grows
with ``seq``; so a date range is a ``seq`` range found by a binary search on ``at`` (widened by
the 26 hours), plus the late entries from their index. Exact, not approximate.

``late`` is not part of an entry's hash (it is derived from the entries before it): every
existing row and the chain head stay valid. The upgrade marks the existing late entries (the
append-only triggers are lifted for that one UPDATE and put back). Data-preserving both ways.

Revision ID: 0015_audit_late
Revises: 0014_gaps_nofk
Create Date: 2026-12-04

"""
import datetime as dt
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0015_audit_late"
down_revision: Union[str, Sequence[str], None] = "0014_gaps_nofk"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

LATE_AFTER = dt.timedelta(hours=26)  # core.audit.LATE_AFTER when this was written
_LATE_WHERE = sa.text("late IS NOT NULL")


def _mark_late_entries() -> None:
    bind = op.get_bind()
    audit_log = sa.table("audit_log", sa.column("seq", sa.BigInteger()), sa.column("at", sa.DateTime()),
                         sa.column("late", sa.Boolean()))
    newest, late = None, []
    for seq, at in bind.execute(sa.select(audit_log.c.seq, audit_log.c.at).order_by(audit_log.c.seq)):
        if newest is not None and at < newest - LATE_AFTER:
            late.append(seq)
        if newest is None or at > newest:
            newest = at
    if newest is not None:
        changes = sa.table("registry_changes", sa.column("id", sa.Integer()),
                           sa.column("audit_at_max", sa.DateTime()))
        bind.execute(sa.update(changes).where(changes.c.id == 1).values(audit_at_max=newest))
    if not late:
        return
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    else:
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
    for start in range(0, len(late), 500):
        bind.execute(sa.update(audit_log).where(audit_log.c.seq.in_(late[start:start + 500])).values(late=True))
    if sqlite:
        op.execute("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                   "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END")
    else:
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")


def upgrade() -> None:
    op.add_column("registry_changes", sa.Column("audit_at_max", sa.DateTime(), nullable=True))
    op.add_column("audit_log", sa.Column("late", sa.Boolean(), nullable=True))
    _mark_late_entries()
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.create_index("ix_audit_log_late_at", "audit_log", ["at"], sqlite_where=_LATE_WHERE,
                    postgresql_where=_LATE_WHERE)


def downgrade() -> None:
    op.drop_index("ix_audit_log_late_at", table_name="audit_log")
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    # ALTER TABLE DROP COLUMN (SQLite 3.35+) keeps the table and its append-only triggers.
    op.execute("ALTER TABLE audit_log DROP COLUMN late")
    with op.batch_alter_table("registry_changes") as batch:
        batch.drop_column("audit_at_max")
