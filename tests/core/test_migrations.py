"""The Alembic migrations build exactly the schema that models.py describes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from panelmanager.core.models import Base


def test_migrations_and_models_agree(fresh_registry):
    with fresh_registry.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models.py and migrations/versions disagree: {differences}"
