"""A schema upgrade completes or leaves the registry exactly as it was.

For every older schema version and every migration step after it, the upgrade is
interrupted right after that step: the registry must still be at its old version with
its old tables and rows, a pre-upgrade backup must exist, and a later upgrade must work.
"""

from __future__ import annotations

import sqlite3

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from panelmanager.core.backup import check_backup, list_backups
from panelmanager.core.db import (
    _alembic_config,
    make_engine,
    migrate,
    open_registry,
    resolve_registry_url,
    schema_heads,
)

REVISIONS = [r.revision for r in reversed(list(ScriptDirectory.from_config(_alembic_config()).walk_revisions()))]


class Interrupted(Exception):
    pass


def _registry_at(path, version: str) -> None:
    """A registry file at an older schema version holding one patient."""
    engine = make_engine(resolve_registry_url(path))
    try:
        with engine.begin() as conn:
            cfg = _alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, version)
            conn.exec_driver_sql(
                "INSERT INTO patients (mrn, first_name, last_name, source, status) VALUES ('M1', 'Ann', 'Lee', 't', 'active')"
            )
    finally:
        engine.dispose()


def _snapshot(path) -> tuple:
    conn = sqlite3.connect(path)
    try:
        schema = sorted(conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall(), key=repr)
        version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        patients = conn.execute("SELECT mrn, first_name, last_name FROM patients").fetchall()
        return schema, version, patients
    finally:
        conn.close()


CASES = [(start, stop) for i, start in enumerate(REVISIONS[:-1]) for stop in REVISIONS[i + 1:]]


@pytest.mark.parametrize(("start", "stop"), CASES, ids=[f"{a}-then-fail-after-{b}" for a, b in CASES])
def test_an_upgrade_interrupted_after_any_step_leaves_the_old_registry(tmp_path, start, stop):
    path = tmp_path / "registry.sqlite3"
    _registry_at(path, start)
    before = _snapshot(path)
    assert before[1] == [(start,)]

    def fail_after(revision: str) -> None:
        if revision == stop:
            raise Interrupted(revision)

    engine = make_engine(resolve_registry_url(path))
    try:
        with pytest.raises(Interrupted):
            migrate(engine, on_step=fail_after)
    finally:
        engine.dispose()
    assert _snapshot(path) == before  # same tables, same version, same rows

    backups = list_backups(path)
    assert [reason for _when, reason, _p in backups] == ["before-upgrade"]
    check = check_backup(backups[0][2])
    assert check.ok and check.version == start and check.upgradable and check.counts["patients"] == 1

    registry = open_registry(path)  # opens, and this time upgrades fully
    try:
        with registry.engine.connect() as conn:
            assert {r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")} == schema_heads()
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM patients").scalar() == 1
    finally:
        registry.close()


def test_a_new_registry_is_not_backed_up_and_an_up_to_date_one_is_not_upgraded(tmp_path):
    path = tmp_path / "registry.sqlite3"
    open_registry(path, create=True).close()
    open_registry(path).close()
    assert list_backups(path) == []


def test_where_ddl_cannot_be_rolled_back_the_pre_upgrade_backup_is_put_back(tmp_path, monkeypatch):
    """Without the real BEGIN, pysqlite autocommits each CREATE TABLE: the backup must undo it."""
    import panelmanager.core.db as db

    monkeypatch.setattr(db, "begin_for_savepoints", lambda conn: None)
    monkeypatch.setattr(db, "_sqlite_begin", lambda conn: None)  # nor the engine's own BEGIN
    path = tmp_path / "registry.sqlite3"
    _registry_at(path, REVISIONS[0])
    before = _snapshot(path)

    def fail_after(revision: str) -> None:
        if revision == REVISIONS[-1]:
            raise Interrupted(revision)

    engine = make_engine(resolve_registry_url(path))
    try:
        with pytest.raises(Interrupted):
            migrate(engine, on_step=fail_after)
    finally:
        engine.dispose()
    assert _snapshot(path) == before
    assert sorted(reason for _w, reason, _p in list_backups(path)) == ["before-upgrade", "replaced"]
    monkeypatch.undo()
    open_registry(path).close()
