"""The care-gap cache loses its foreign key to patients, so a refresh can truncate it.

``measure_results`` is a cache: every refresh replaces a date's rows wholesale (~570,000
rows at 100,000 patients) with rows for patients it has just read. Its foreign key to
``patients`` (ON DELETE CASCADE) cost that refresh twice on SQLite: every inserted row
was looked up in ``patients``, and ``DELETE FROM measure_results`` could not use SQLite's
truncate optimization (a table in a foreign-key relation is emptied row by row, each page
read). The application never deletes a patient, so the cascade never fired; without the
key the cache write's DELETE of the only cached date frees the pages at once
(tests/benchmarks/bench_gaps.py, README "Care gaps").

SQLite cannot drop a constraint in place: Alembic's batch mode rebuilds the table (rows
and both indexes kept). PostgreSQL drops the constraint. The downgrade deletes cached
rows of patients that no longer exist, then adds the key back.

Revision ID: 0014_gaps_nofk
Revises: 0013_auditlean
Create Date: 2026-12-04

"""
from collections.abc import Sequence
from typing import Union

from alembic import op

revision: str = "0014_gaps_nofk"
down_revision: Union[str, Sequence[str], None] = "0013_auditlean"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_FK = "fk_measure_results_patient_id_patients"


def upgrade() -> None:
    with op.batch_alter_table("measure_results", schema=None) as batch_op:
        batch_op.drop_constraint(_FK, type_="foreignkey")


def downgrade() -> None:
    op.execute("DELETE FROM measure_results WHERE patient_id NOT IN (SELECT id FROM patients)")
    with op.batch_alter_table("measure_results", schema=None) as batch_op:
        batch_op.create_foreign_key(_FK, "patients", ["patient_id"], ["id"], ondelete="CASCADE")
