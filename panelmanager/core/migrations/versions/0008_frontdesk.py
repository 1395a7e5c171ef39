"""Front desk: an outreach batch logged by mistake can be withdrawn (who and when), never deleted.

Revision ID: 0008_frontdesk
Revises: 0007_registry
Create Date: 2026-12-03

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0008_frontdesk"
down_revision: Union[str, Sequence[str], None] = "0007_registry"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Add the withdrawal columns to the outreach log (issue 10)."""
    with op.batch_alter_table("outreach_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_by", sa.String(length=80), nullable=True))


def downgrade() -> None:
    """Drop the withdrawal columns."""
    with op.batch_alter_table("outreach_log", schema=None) as batch_op:
        batch_op.drop_column("withdrawn_by")
        batch_op.drop_column("withdrawn_at")
