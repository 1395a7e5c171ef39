"""Provider merges (PM scheduler user names mapped to real providers) and folded patient
search keys (accent- and case-insensitive search).

Revision ID: 0007_registry
Revises: 0004_outreach
Create Date: 2026-12-03

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = "0007_registry"
down_revision: Union[str, Sequence[str], None] = "0004_outreach"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """providers.merged_into_id, patients.search_name (filled for the patients already there)."""
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_providers_merged_into_id_providers'), 'providers', ['merged_into_id'], ['id']
        )
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_name', sa.String(length=400), nullable=True))
        batch_op.create_index('ix_patients_search', ['status', 'search_name', 'mrn', 'last_name', 'first_name'], unique=False)
    from panelmanager.core.search_keys import refresh_search_keys

    refresh_search_keys(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index('ix_patients_search')
        batch_op.drop_column('search_name')
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_providers_merged_into_id_providers'), type_='foreignkey')
        batch_op.drop_column('merged_into_id')
