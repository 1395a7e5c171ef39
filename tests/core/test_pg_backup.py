"""PostgreSQL registry backups (issue 15): pg_dump in custom format with the row counts of the
same snapshot, and a restore with pg_restore into an empty database, verified (schema version,
every table's row count). Runs on the test cluster's own binaries (tests/pg_cluster.py)."""

from __future__ import annotations

import datetime as dt
import json
import stat

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from panelmanager.core import models as m
from panelmanager.core.backup import BackupError
from panelmanager.core.db import open_registry
from panelmanager.core.demo import generate_practice, write_pm_csvs
from panelmanager.core.importers import run_import
from panelmanager.core.pg_backup import BINDIR_ENV, backup_postgres, find_pg_tool, restore_postgres


@pytest.fixture
def pg(postgres_cluster, monkeypatch):
    from pg_cluster import find_server_binaries

    if not (find_server_binaries() / "pg_dump").exists():
        pytest.skip("the server binaries have no pg_dump")
    monkeypatch.setenv(BINDIR_ENV, str(find_server_binaries()))
    created = []

    def database(template="registry_template"):
        name = postgres_cluster.create_database(template)
        created.append(name)
        return make_url(postgres_cluster.url(name))

    yield database
    for name in created:
        postgres_cluster.drop_database(name)


def _counts(url):
    registry = open_registry(url)
    try:
        with registry.session() as session:
            return {t: session.scalar(select(func.count()).select_from(getattr(m, t)))
                    for t in ("Patient", "Visit", "Provider", "ImportBatch")}
    finally:
        registry.close()


def test_backup_and_restore_into_an_empty_database_verified(pg, tmp_path):
    source = pg()
    registry = open_registry(source)
    paths = [str(p) for p in write_pm_csvs(generate_practice(60, seed=2, as_of=dt.date(2025, 3, 12)), tmp_path / "pm")]
    assert all(o.ok for o in run_import(registry, paths, write_rejects=False, user="test"))
    registry.close()
    target_file = tmp_path / "clinic.dump"

    result = backup_postgres(source, target_file)
    assert result.path == target_file and target_file.read_bytes()[:5] == b"PGDMP"  # the custom format
    assert stat.S_IMODE(target_file.stat().st_mode) == 0o600
    sidecar = json.loads((tmp_path / "clinic.dump.counts.json").read_text())
    assert sidecar["counts"]["patients"] == 60 and result.counts == sidecar["counts"]
    assert not list(tmp_path.glob("*.part"))

    empty = pg(template=None)
    restored = restore_postgres(target_file, empty)
    assert restored.verified and restored.counts == result.counts
    assert _counts(empty) == _counts(source)

    # Never over a live registry: a database with tables is refused, unchanged.
    with pytest.raises(BackupError, match="is not empty"):
        restore_postgres(target_file, source)


def test_a_restore_that_does_not_match_the_backup_is_refused(pg, tmp_path):
    source = pg()
    backup_postgres(source, tmp_path / "b.dump")
    sidecar = tmp_path / "b.dump.counts.json"
    data = json.loads(sidecar.read_text())
    data["counts"]["providers"] = 5  # as if rows were lost on the way
    sidecar.write_text(json.dumps(data))
    with pytest.raises(BackupError, match="providers: 0 rows restored, the backup held 5"):
        restore_postgres(tmp_path / "b.dump", pg(template=None))


def test_without_pg_dump_the_message_says_what_to_install(pg, tmp_path, monkeypatch):
    source = pg()
    monkeypatch.setenv(BINDIR_ENV, str(tmp_path))
    monkeypatch.delenv("PG_BINDIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("glob.glob", lambda pattern: [])
    assert find_pg_tool("pg_dump") is None
    with pytest.raises(BackupError, match="needs the PostgreSQL client tool pg_dump"):
        backup_postgres(source, tmp_path / "x.dump")
    assert not list(tmp_path.iterdir())
