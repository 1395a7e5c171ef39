"""Drop ix_observations_code_date: the covering gap-lookup index serves every code-led query.

``ix_observations_gap_lookup`` (code, patient_id, date, value_num, value) starts with the code
too, and the care-gap engine reads it alone (``measures.context``: per code, the latest
reading per patient; the readings of a look-back window in index order). The (code, date)
index was read by nothing any more, and it was one of the two largest indexes a first import
or the demo practice builds (4.5 s of CPU at 100,000 patients, issue 16) and the longest
write lock a first import takes after its commit (issue 13).

Revision ID: 0017_obs_code_date
Revises: 0016_pending
Create Date: 2026-12-04

"""
from collections.abc import Sequence
from typing import Union

from alembic import op

revision: str = "0017_obs_code_date"
down_revision: Union[str, Sequence[str], None] = "0016_pending"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.drop_index("ix_observations_code_date", table_name="observations", if_exists=True)


def downgrade() -> None:
    op.create_index("ix_observations_code_date", "observations", ["code", "date"], unique=False)
