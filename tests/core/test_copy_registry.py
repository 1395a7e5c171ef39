"""copy-registry: SQLite to PostgreSQL and back, verified, into an empty target only."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from panelmanager import cli
from panelmanager.core import models as m
from panelmanager.core.concurrency import run_write
from panelmanager.core.copy_registry import copy_registry, table_checksum
from panelmanager.core.db import RegistryError, open_registry
from panelmanager.core.empanelment import assignment_for, reassign_patient


@pytest.fixture
def other_backend(registry_backend, postgres_cluster, tmp_path):
    """A new registry location on the other backend than ``fresh_registry``."""
    if registry_backend == "sqlite":
        name = postgres_cluster.create_database(template=None)  # migrations from scratch
        yield postgres_cluster.url(name)
        postgres_cluster.drop_database(name)
    else:
        yield str(tmp_path / "copied.sqlite3")


def test_a_registry_is_copied_to_the_other_backend_and_works_there(fresh_registry, clinic_ids, other_backend, capsys):
    code = cli.main(["--db", str(fresh_registry.url.render_as_string(hide_password=False)), "copy-registry",
                     "--to", other_backend])
    out = capsys.readouterr().out
    assert code == 0
    assert "every table's count and checksum match" in out and "--db" in out
    target = open_registry(other_backend)
    try:
        with fresh_registry.engine.connect() as a, target.engine.connect() as b:
            for table in (m.Patient.__table__, m.Visit.__table__, m.AssignmentHistory.__table__, m.Confirmation.__table__):
                assert table_checksum(a, table) == table_checksum(b, table)
        # New rows get new ids (PostgreSQL sequences moved past the copied ones).
        with target.session() as session:
            version = assignment_for(session, clinic_ids["carol"]).version
        run_write(target, reassign_patient, clinic_ids["carol"], clinic_ids["lee"], reason="after the move", user="u",
                  expected_version=version)
        with target.session() as session:
            assert session.scalar(select(func.count()).select_from(m.AssignmentHistory)) == 5
    finally:
        target.close()


def test_a_target_holding_data_is_refused(fresh_registry, clinic_ids, other_backend):
    target = open_registry(other_backend, create=True)
    try:
        copy_registry(fresh_registry, target)
        with pytest.raises(RegistryError, match="already holds data"):
            copy_registry(fresh_registry, target)
    finally:
        target.close()
