"""Concurrency: a version on what users edit (assignments, review items, risk overrides, settings),
and the registry's change counter.

A service given the version its user saw refuses to overwrite a newer one (core.concurrency).

Revision ID: 0009_concurrency
Revises: 0008_frontdesk
Create Date: 2026-12-03

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0009_concurrency"
down_revision: Union[str, Sequence[str], None] = "0008_frontdesk"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ("assignments", "panel_review_items", "risk_overrides", "settings")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    # One row: bumped by every write service (which also serializes them) and read by
    # screens on other workstations to notice a change within seconds.
    changes = op.create_table(
        "registry_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("counter", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(changes, [{"id": 1, "counter": 0, "changed_at": None}])


def downgrade() -> None:
    op.drop_table("registry_changes")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("version")
