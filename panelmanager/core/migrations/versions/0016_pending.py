"""Rows of an import still being written are hidden behind a marker (issue 13).

On SQLite a first import used to write all its rows (1.7M at 30,000 patients) in one
transaction that held the registry's only write lock, so a check-in on another
workstation waited for it. The import now commits its event rows in short batches; the
``import_pending`` row of a table says from which id its rows are not yet part of the
registry, and every reader hides them (``core.visibility``). The import's last, short
transaction deletes the marker: all its rows appear at once, or (failure, cancel) none.

Revision ID: 0016_pending
Revises: 0015_audit_late
Create Date: 2026-12-04

"""
from collections.abc import Sequence
from typing import Union

import sqlalchemy as sa
from alembic import op

revision: str = "0016_pending"
down_revision: Union[str, Sequence[str], None] = "0015_audit_late"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "import_pending",
        sa.Column("table_name", sa.String(length=40), nullable=False),
        sa.Column("from_id", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", name=op.f("pk_import_pending")),
    )


def downgrade() -> None:
    # Rows an interrupted import left hidden must not appear when the marker goes.
    bind = op.get_bind()
    for table_name, from_id in bind.execute(sa.text("SELECT table_name, from_id FROM import_pending")).fetchall():
        bind.execute(sa.text(f'DELETE FROM "{table_name}" WHERE id >= :f'), {"f": from_id})
    op.drop_table("import_pending")
