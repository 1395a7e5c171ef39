"""`panelmanager backup` / `restore` on a PostgreSQL registry: pg_dump, then pg_restore into an
empty database with the row counts verified (the test cluster's binaries, tests/pg_cluster.py)."""

from __future__ import annotations

import pytest

from panelmanager.cli import main
from panelmanager.core.pg_backup import BINDIR_ENV


def test_backup_and_restore_a_postgresql_registry_from_the_command_line(postgres_cluster, tmp_path, monkeypatch, capsys):
    from pg_cluster import find_server_binaries

    if not (find_server_binaries() / "pg_dump").exists():
        pytest.skip("the server binaries have no pg_dump")
    monkeypatch.setenv(BINDIR_ENV, str(find_server_binaries()))
    source, empty = postgres_cluster.create_database(), postgres_cluster.create_database(template=None)
    try:
        url = postgres_cluster.url(source)
        assert main(["--db", url, "demo", "--patients", "40"]) == 0
        dump = tmp_path / "clinic.dump"
        assert main(["--db", url, "backup", "--to", str(dump)]) == 0
        out = capsys.readouterr().out
        assert f"Backed up the registry to {dump}" in out and "40 patients" in out
        assert dump.read_bytes()[:5] == b"PGDMP"

        assert main(["--db", postgres_cluster.url(empty), "restore", str(dump)]) == 0
        out = capsys.readouterr().out
        assert "40 patients; row counts match the backup." in out
        assert main(["--db", postgres_cluster.url(empty), "stats"]) == 0

        assert main(["--db", url, "restore", str(dump)]) == 1  # never over a live registry
        assert "is not empty" in capsys.readouterr().err
    finally:
        postgres_cluster.drop_database(source)
        postgres_cluster.drop_database(empty)
