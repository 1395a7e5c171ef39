"""Alembic environment: runs against the connection that core.db hands it.

``panelmanager.core.db.open_registry`` migrates every registry when it opens, so this
file is only reached through that function (or ``alembic`` pointed at the ini file
beside it, for developers writing a new revision).
"""

from alembic import context
from sqlalchemy import engine_from_config, pool

from panelmanager.core.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    on_step = config.attributes.get("on_version_apply")

    def report_step(ctx, step, heads, run_args) -> None:  # Alembic passes these by keyword
        if on_step is not None:
            on_step(step.up_revision_id)

    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # One transaction for the whole upgrade: it completes or leaves the registry as it was.
        transaction_per_migration=False,
        on_version_apply=report_step if on_step else None,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # developer use: alembic -c panelmanager/core/migrations/alembic.ini ...
    engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
