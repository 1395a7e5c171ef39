"""Outreach: the outreach log (letters, labels, calls, portal and text exports per patient and gap).

Revision ID: 0004_outreach
Revises: 0003_measures
Create Date: 2026-11-22

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0004_outreach"
down_revision: Union[str, Sequence[str], None] = "0003_measures"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create the outreach log (issue 6)."""
    op.create_table('outreach_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('measure_id', sa.String(length=80), nullable=True),
    sa.Column('method', sa.String(length=12), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('user', sa.String(length=80), nullable=True),
    sa.Column('logged_at', sa.DateTime(), nullable=False),
    sa.Column('document', sa.String(length=40), nullable=True),
    sa.Column('batch', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_outreach_log_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outreach_log'))
    )
    with op.batch_alter_table('outreach_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outreach_log_batch'), ['batch'], unique=False)
        batch_op.create_index('ix_outreach_log_measure_id_logged_at', ['measure_id', 'logged_at'], unique=False)
        batch_op.create_index('ix_outreach_log_patient_id_logged_at', ['patient_id', 'logged_at'], unique=False)


def downgrade() -> None:
    """Drop the outreach log."""
    with op.batch_alter_table('outreach_log', schema=None) as batch_op:
        batch_op.drop_index('ix_outreach_log_patient_id_logged_at')
        batch_op.drop_index('ix_outreach_log_measure_id_logged_at')
        batch_op.drop_index(batch_op.f('ix_outreach_log_batch'))

    op.drop_table('outreach_log')
