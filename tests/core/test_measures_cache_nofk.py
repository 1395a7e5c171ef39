"""The care-gap cache without its foreign key (migration 0014_gaps_nofk): an upgrade keeps every
cached row, a downgrade puts the key back, and refreshing the only cached date (SQLite's truncate
path) stores exactly the rows a first refresh stored."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import inspect, text

from panelmanager.core.db import _alembic_config
from panelmanager.core.demo import load_demo
from panelmanager.core.measures import refresh_gaps

AS_OF = dt.date(2025, 1, 15)
COLUMNS = "as_of, patient_id, measure_id, status, due_date, last_date, last_code, last_value"


@pytest.fixture
def demo(fresh_registry):
    load_demo(fresh_registry, patients=120, seed=5, as_of=AS_OF)
    return fresh_registry


def _rows(registry) -> list[tuple]:
    with registry.engine.connect() as conn:
        stmt = text(f"SELECT {COLUMNS} FROM measure_results ORDER BY as_of, measure_id, patient_id")
        return [tuple(str(v) if v is not None else None for v in row) for row in conn.execute(stmt)]


def _patient_keys(registry) -> list[list[str]]:
    with registry.engine.connect() as conn:
        return [fk["referred_columns"] for fk in inspect(conn).get_foreign_keys("measure_results")]


def _migrate(registry, how, revision: str) -> None:
    with registry.engine.begin() as conn:
        cfg = _alembic_config()
        cfg.attributes["connection"] = conn
        how(cfg, revision)


def test_migration_keeps_the_cached_gaps_and_drops_only_the_key(demo):
    with demo.session() as session:
        refresh_gaps(session, AS_OF)
        session.commit()
    cached = _rows(demo)
    assert len(cached) > 120  # several measures per patient
    assert _patient_keys(demo) == []

    _migrate(demo, command.downgrade, "0013_auditlean")
    assert _patient_keys(demo) == [["id"]]
    assert _rows(demo) == cached

    _migrate(demo, command.upgrade, "head")
    assert _patient_keys(demo) == []
    assert _rows(demo) == cached
    with demo.engine.connect() as conn:
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("measure_results")}
    assert indexes == {"ix_measure_results_as_of_measure_id_status", "ix_measure_results_patient_id"}


def test_refreshing_the_only_cached_date_replaces_its_rows_exactly(demo):
    with demo.session() as session:
        first = refresh_gaps(session, AS_OF)
        session.commit()
    stored = _rows(demo)
    assert len(stored) == first.rows
    with demo.session() as session:
        again = refresh_gaps(session, AS_OF)
        session.commit()
    assert again.rows == first.rows
    assert _rows(demo) == stored  # no row left over from the first refresh, none lost
