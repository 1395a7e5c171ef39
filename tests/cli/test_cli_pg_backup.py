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


def test_a_postgresql_restore_with_accounts_is_kept_only_by_an_administrator(postgres_cluster, tmp_path, monkeypatch,
                                                                               capsys):
    """Restoring into an empty database, no one can log in before the restore: the person logs in to
    the restored registry. The front desk's restore is undone (the database is empty again, so a later
    restore can use it); an administrator's is kept, its last audit entry the restore, the chain intact."""
    from auth_helpers import PASSWORD, fast_hashing
    from pg_cluster import find_server_binaries

    from panelmanager.cli import auth as auth_cli
    from panelmanager.core import audit, auth
    from panelmanager.core.db import open_registry

    if not (find_server_binaries() / "pg_dump").exists():
        pytest.skip("the server binaries have no pg_dump")
    monkeypatch.setenv(BINDIR_ENV, str(find_server_binaries()))
    fast_hashing(monkeypatch)
    monkeypatch.setattr(auth_cli, "keyring_token", lambda registry: None)
    monkeypatch.delenv(auth_cli.TOKEN_ENV, raising=False)
    monkeypatch.setattr(auth_cli, "_ask_password", lambda prompt: PASSWORD)
    source, empty = postgres_cluster.create_database(), postgres_cluster.create_database(template=None)
    try:
        url, target = postgres_cluster.url(source), postgres_cluster.url(empty)
        registry = open_registry(url)
        try:
            with registry.write_session() as session:
                admin = auth.create_first_admin(session, "boss", "The Boss", PASSWORD)
                auth.create_user(session, admin, "desk", "Front Desk", "front_desk", PASSWORD)
        finally:
            registry.close()
        dump = tmp_path / "clinic.dump"
        assert main(["--db", url, "--login", "boss", "backup", "--to", str(dump)]) == 0
        capsys.readouterr()

        assert main(["--db", target, "--login", "desk", "restore", str(dump)]) == 1
        err = capsys.readouterr().err
        assert "front desk" in err and "emptied again: nothing was restored" in err and "Traceback" not in err
        from sqlalchemy import create_engine, inspect

        from panelmanager.core.db import postgres_driver_url

        engine = create_engine(postgres_driver_url(open_url(target)))
        try:
            with engine.connect() as conn:
                assert inspect(conn).get_table_names(schema="public") == []
        finally:
            engine.dispose()

        assert main(["--db", target, "--login", "boss", "restore", str(dump)]) == 0
        assert "row counts match the backup" in capsys.readouterr().out
        restored = open_registry(target)
        try:
            with restored.session() as session:
                last = audit.list_entries(session, limit=1)[0]
                assert audit.verify(session).ok
                assert not [e for e in audit.list_entries(session, limit=None) if e.user_name == "desk"]
        finally:
            restored.close()
        assert (last.user_name, last.action, last.outcome) == ("boss", "restore", "ok")
        assert last.details["patients"] == 0 and last.details["replaced_kept"] is False
    finally:
        postgres_cluster.drop_database(source)
        postgres_cluster.drop_database(empty)


def open_url(text):
    from sqlalchemy.engine import make_url

    return make_url(text)
