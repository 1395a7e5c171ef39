"""The audit trail writes fewer pages per entry: ``seq`` is its key, and the chain head moves.

``audit_log`` had a surrogate ``id`` primary key and a unique index on ``seq``; every append wrote
both (and ``ix_audit_log_at``). ``seq`` is unique, never null and never changes, so it is the key
itself: on SQLite an ``INTEGER PRIMARY KEY`` (the table's rowid, no index of its own), on
PostgreSQL a ``BIGINT`` primary key. The ``id`` column goes. ``id`` was never part of a row's
hash, so every existing row and the chain head stay valid: ``audit verify`` passes after the
upgrade as before (tests/core/test_audit_lean.py).

The chain head (last seq and hash, so a removed tail shows) leaves its one-row table
``audit_chain_head`` for two columns of the one ``registry_changes`` row: every write service
updates that row first (``concurrency.begin_write``), so on SQLite the head's move writes no page
of its own, and on PostgreSQL the row lock that serializes write services also serializes appends.

SQLite cannot change a primary key in place: the table is rebuilt (rows copied in ``seq`` order)
and the append-only triggers are created again; PostgreSQL swaps the constraints. Data-preserving
both ways; the downgrade numbers ``id`` by ``seq``.

Revision ID: 0013_auditlean
Revises: 0012_gapsindex
Create Date: 2026-12-03

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0013_auditlean"
down_revision: Union[str, Sequence[str], None] = "0012_gapsindex"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_CONTENT = ("seq, at, user_id, user_name, role, workstation, action, patient_ids, outcome, emergency, "
            "emergency_reason, details, prev_hash, hash")


def _content_columns() -> list[sa.Column]:
    return [
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_name", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("workstation", sa.String(length=120), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("patient_ids", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("emergency_reason", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
    ]


def _rebuild_sqlite(*, seq_is_key: bool) -> None:
    for statement in _drop_trigger_sql("sqlite"):
        op.execute(statement)
    if seq_is_key:
        op.create_table(
            "audit_log_rebuilt",
            sa.Column("seq", sa.Integer(), nullable=False, autoincrement=False),  # INTEGER: the rowid
            *_content_columns(),
            sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
        )
        op.execute(f"INSERT INTO audit_log_rebuilt ({_CONTENT}) SELECT {_CONTENT} FROM audit_log ORDER BY seq")
    else:
        op.create_table(
            "audit_log_rebuilt",
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            *_content_columns(),
            sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
            sa.UniqueConstraint("seq", name="uq_audit_log_seq"),
        )
        op.execute(f"INSERT INTO audit_log_rebuilt (id, {_CONTENT}) SELECT seq, {_CONTENT} FROM audit_log ORDER BY seq")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.rename_table("audit_log_rebuilt", "audit_log")
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    for statement in _append_only_trigger_sql("sqlite"):
        op.execute(statement)


def _head_into_registry_changes() -> None:
    op.add_column("registry_changes", sa.Column("audit_seq", sa.BigInteger(), nullable=True))
    op.add_column("registry_changes", sa.Column("audit_hash", sa.String(length=64), nullable=True))
    op.execute("INSERT INTO registry_changes (id, counter) SELECT 1, 0 WHERE NOT EXISTS "
               "(SELECT 1 FROM registry_changes WHERE id = 1)")
    op.execute("UPDATE registry_changes SET audit_seq = (SELECT seq FROM audit_chain_head WHERE id = 1), "
               "audit_hash = (SELECT hash FROM audit_chain_head WHERE id = 1) WHERE id = 1")
    op.drop_table("audit_chain_head")


def _head_into_its_own_table() -> None:
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.execute("INSERT INTO audit_chain_head (id, seq, hash) SELECT 1, audit_seq, audit_hash FROM registry_changes "
               "WHERE id = 1 AND audit_seq IS NOT NULL")
    with op.batch_alter_table("registry_changes") as batch:
        batch.drop_column("audit_hash")
        batch.drop_column("audit_seq")


def upgrade() -> None:
    _head_into_registry_changes()
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _rebuild_sqlite(seq_is_key=True)
        return
    # ALTER TABLE fires no row triggers: the append-only triggers stay as they are.
    op.drop_constraint("uq_audit_log_seq", "audit_log", type_="unique")
    op.drop_constraint("pk_audit_log", "audit_log", type_="primary")
    op.drop_column("audit_log", "id")
    op.create_primary_key("pk_audit_log", "audit_log", ["seq"])


def downgrade() -> None:
    _head_into_its_own_table()
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _rebuild_sqlite(seq_is_key=False)
        return
    op.drop_constraint("pk_audit_log", "audit_log", type_="primary")
    op.add_column("audit_log", sa.Column("id", sa.Integer(), nullable=True))
    op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
    op.execute("UPDATE audit_log SET id = seq")
    op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")
    op.execute("CREATE SEQUENCE audit_log_id_seq OWNED BY audit_log.id")
    op.execute("SELECT setval('audit_log_id_seq', COALESCE((SELECT max(id) FROM audit_log), 0) + 1, false)")
    op.execute("ALTER TABLE audit_log ALTER COLUMN id SET DEFAULT nextval('audit_log_id_seq')")
    op.alter_column("audit_log", "id", nullable=False)
    op.create_primary_key("pk_audit_log", "audit_log", ["id"])
    op.create_unique_constraint("uq_audit_log_seq", "audit_log", ["seq"])


# The append-only triggers as 0010_auth made them (copied, so this migration stays what it was).
def _append_only_trigger_sql(dialect: str) -> list[str]:
    assert dialect == "sqlite"
    return [
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    ]


def _drop_trigger_sql(dialect: str) -> list[str]:
    assert dialect == "sqlite"
    return ["DROP TRIGGER IF EXISTS audit_log_no_delete", "DROP TRIGGER IF EXISTS audit_log_no_update"]
