"""Import history remembers what each import was given, so an unchanged file can be skipped.

``import_key``: a digest of the file's bytes and of everything else that decides what the
import writes (format, profile, column mapping, encoding, the profile definitions, the
importer's version); ``change_counter``: the registry's change counter when the import
committed; ``summary``: the outcome's row accounting as JSON, shown again when a later
import of the same file is skipped (core.importers.skip).

Revision ID: 0011_importperf
Revises: 0009_concurrency
Create Date: 2026-12-03

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = "0011_importperf"
down_revision: Union[str, Sequence[str], None] = "0010_auth"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("import_batches") as batch:
        batch.add_column(sa.Column("import_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("change_counter", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("summary", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_batches") as batch:
        batch.drop_column("summary")
        batch.drop_column("change_counter")
        batch.drop_column("import_key")
