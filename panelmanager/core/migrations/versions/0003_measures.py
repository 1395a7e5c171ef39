"""Care gaps and risk: measure runs and results (the care-gap cache), risk scores and overrides,
and covering indexes on observations, immunizations and visits for the care-gap engine.

Revision ID: 0003_measures
Revises: 0002_empanelment
Create Date: 2026-11-22

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0003_measures"
down_revision: Union[str, Sequence[str], None] = "0002_empanelment"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create the care-gap and risk tables (issue 4)."""
    op.create_table('measure_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.Column('data_version', sa.String(length=200), nullable=False),
    sa.Column('definitions_version', sa.String(length=64), nullable=False),
    sa.Column('patients', sa.Integer(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_measure_runs')),
    sa.UniqueConstraint('kind', 'as_of', name=op.f('uq_measure_runs_kind_as_of'))
    )
    op.create_table('measure_results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('measure_id', sa.String(length=80), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('last_date', sa.Date(), nullable=True),
    sa.Column('last_code', sa.String(length=80), nullable=True),
    sa.Column('last_value', sa.String(length=300), nullable=True),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_measure_results_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_measure_results'))
    )
    with op.batch_alter_table('measure_results', schema=None) as batch_op:
        batch_op.create_index('ix_measure_results_as_of_measure_id_status', ['as_of', 'measure_id', 'status'], unique=False)
        batch_op.create_index('ix_measure_results_patient_id', ['patient_id'], unique=False)

    op.create_table('risk_scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('computed_tier', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.Text(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_risk_scores_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_scores')),
    sa.UniqueConstraint('as_of', 'patient_id', name=op.f('uq_risk_scores_as_of_patient_id'))
    )
    with op.batch_alter_table('risk_scores', schema=None) as batch_op:
        batch_op.create_index('ix_risk_scores_patient_id', ['patient_id'], unique=False)

    op.create_table('risk_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('tier', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('user', sa.String(length=80), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_risk_overrides_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_overrides'))
    )
    with op.batch_alter_table('risk_overrides', schema=None) as batch_op:
        batch_op.create_index('ix_risk_overrides_patient_id_active', ['patient_id', 'active'], unique=False)

    # Covering indexes for the care-gap engine's grouped look-ups.
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.create_index('ix_observations_gap_lookup', ['code', 'patient_id', 'date', 'value_num', 'value'], unique=False)
    with op.batch_alter_table('immunizations', schema=None) as batch_op:
        batch_op.create_index('ix_immunizations_gap_lookup', ['cvx', 'patient_id', 'date'], unique=False)
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index('ix_visits_gap_lookup', ['status', 'patient_id', 'visit_class', 'start'], unique=False)


def downgrade() -> None:
    """Drop the care-gap and risk tables."""
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('ix_visits_gap_lookup')
    with op.batch_alter_table('immunizations', schema=None) as batch_op:
        batch_op.drop_index('ix_immunizations_gap_lookup')
    with op.batch_alter_table('observations', schema=None) as batch_op:
        batch_op.drop_index('ix_observations_gap_lookup')
    with op.batch_alter_table('risk_overrides', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_overrides_patient_id_active')
    op.drop_table('risk_overrides')
    with op.batch_alter_table('risk_scores', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_scores_patient_id')
    op.drop_table('risk_scores')
    with op.batch_alter_table('measure_results', schema=None) as batch_op:
        batch_op.drop_index('ix_measure_results_patient_id')
        batch_op.drop_index('ix_measure_results_as_of_measure_id_status')
    op.drop_table('measure_results')
    op.drop_table('measure_runs')
