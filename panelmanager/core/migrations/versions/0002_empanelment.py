"""Empanelment: assignments, their history, reviews and review items, confirmations, preferences,
and a covering index on visits for the assignment engine.

Revision ID: 0002_empanelment
Revises: 0001
Create Date: 2026-11-22

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0002_empanelment"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create the empanelment tables (issue 3)."""
    op.create_table('panel_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('lookback_months', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decided_by', sa.String(length=80), nullable=True),
    sa.Column('n_new', sa.Integer(), nullable=False),
    sa.Column('n_change', sa.Integer(), nullable=False),
    sa.Column('n_drop', sa.Integer(), nullable=False),
    sa.Column('n_unassigned', sa.Integer(), nullable=False),
    sa.Column('n_unchanged', sa.Integer(), nullable=False),
    sa.Column('n_kept', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_panel_reviews'))
    )
    with op.batch_alter_table('panel_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_panel_reviews_status'), ['status'], unique=False)

    op.create_table('assignment_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('from_provider_id', sa.Integer(), nullable=True),
    sa.Column('to_provider_id', sa.Integer(), nullable=True),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.Column('effective_on', sa.Date(), nullable=False),
    sa.Column('cut', sa.String(length=12), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('user', sa.String(length=80), nullable=True),
    sa.Column('review_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['from_provider_id'], ['providers.id'], name=op.f('fk_assignment_history_from_provider_id_providers')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_assignment_history_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['review_id'], ['panel_reviews.id'], name=op.f('fk_assignment_history_review_id_panel_reviews'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['to_provider_id'], ['providers.id'], name=op.f('fk_assignment_history_to_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment_history'))
    )
    with op.batch_alter_table('assignment_history', schema=None) as batch_op:
        batch_op.create_index('ix_assignment_history_patient_id_changed_at', ['patient_id', 'changed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignment_history_review_id'), ['review_id'], unique=False)

    op.create_table('assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('cut', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('assigned_on', sa.Date(), nullable=False),
    sa.Column('assigned_at', sa.DateTime(), nullable=False),
    sa.Column('assigned_by', sa.String(length=80), nullable=True),
    sa.Column('review_id', sa.Integer(), nullable=True),
    sa.Column('provider_confirmed_on', sa.Date(), nullable=True),
    sa.Column('patient_confirmed_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_assignments_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_assignments_provider_id_providers')),
    sa.ForeignKeyConstraint(['review_id'], ['panel_reviews.id'], name=op.f('fk_assignments_review_id_panel_reviews'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments')),
    sa.UniqueConstraint('patient_id', name=op.f('uq_assignments_patient_id'))
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignments_provider_id'), ['provider_id'], unique=False)

    op.create_table('confirmations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('party', sa.String(length=10), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('method', sa.String(length=20), nullable=True),
    sa.Column('user', sa.String(length=80), nullable=True),
    sa.Column('recorded_on', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_confirmations_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_confirmations_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_confirmations'))
    )
    with op.batch_alter_table('confirmations', schema=None) as batch_op:
        batch_op.create_index('ix_confirmations_patient_id_recorded_at', ['patient_id', 'recorded_at'], unique=False)

    op.create_table('panel_review_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('old_provider_id', sa.Integer(), nullable=True),
    sa.Column('new_provider_id', sa.Integer(), nullable=True),
    sa.Column('cut', sa.String(length=12), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('held', sa.Boolean(), nullable=False),
    sa.Column('decision', sa.String(length=12), nullable=False),
    sa.Column('decided_by', sa.String(length=80), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['new_provider_id'], ['providers.id'], name=op.f('fk_panel_review_items_new_provider_id_providers')),
    sa.ForeignKeyConstraint(['old_provider_id'], ['providers.id'], name=op.f('fk_panel_review_items_old_provider_id_providers')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_panel_review_items_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['review_id'], ['panel_reviews.id'], name=op.f('fk_panel_review_items_review_id_panel_reviews'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_panel_review_items'))
    )
    with op.batch_alter_table('panel_review_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_panel_review_items_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index('ix_panel_review_items_decision_review_id', ['decision', 'review_id'], unique=False)

    op.create_table('patient_preferences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('recorded_on', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('user', sa.String(length=80), nullable=True),
    sa.Column('method', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_patient_preferences_patient_id_patients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_id'], ['providers.id'], name=op.f('fk_patient_preferences_provider_id_providers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_preferences')),
    sa.UniqueConstraint('patient_id', name=op.f('uq_patient_preferences_patient_id'))
    )
    with op.batch_alter_table('patient_preferences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_preferences_provider_id'), ['provider_id'], unique=False)

    # A covering index for the assignment engine's scan of the look-back window.
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.create_index('ix_visits_empanelment', ['status', 'start', 'visit_class', 'provider_id', 'patient_id'], unique=False)


def downgrade() -> None:
    """Drop the empanelment tables."""
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index('ix_visits_empanelment')

    with op.batch_alter_table('patient_preferences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_preferences_provider_id'))

    op.drop_table('patient_preferences')
    with op.batch_alter_table('panel_review_items', schema=None) as batch_op:
        batch_op.drop_index('ix_panel_review_items_decision_review_id')
        batch_op.drop_index(batch_op.f('ix_panel_review_items_patient_id'))

    op.drop_table('panel_review_items')
    with op.batch_alter_table('confirmations', schema=None) as batch_op:
        batch_op.drop_index('ix_confirmations_patient_id_recorded_at')

    op.drop_table('confirmations')
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignments_provider_id'))

    op.drop_table('assignments')
    with op.batch_alter_table('assignment_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignment_history_review_id'))
        batch_op.drop_index('ix_assignment_history_patient_id_changed_at')

    op.drop_table('assignment_history')
    with op.batch_alter_table('panel_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_panel_reviews_status'))

    op.drop_table('panel_reviews')
