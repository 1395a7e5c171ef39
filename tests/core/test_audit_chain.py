"""The audit trail is append-only and hash-chained: the database refuses UPDATE and DELETE, and with
those triggers dropped ``verify`` still names the first altered, deleted or inserted row."""

from __future__ import annotations

import datetime as dt
import importlib
import io

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from panelmanager.core import audit
from panelmanager.core.permissions import Actor

ALICE = Actor(user_id=7, username="alice", display_name="Alice", role="manager", workstation="desk-2")


def fill(registry, rows: int = 6) -> None:
    start = dt.datetime(2026, 1, 5, 9, 0)
    with registry.write_session() as session:
        for n in range(rows):
            audit.record(session, ALICE, "view_patient", patient_ids=[n + 1, 40], at=start + dt.timedelta(minutes=n),
                         details={"screen": "patients"})


def drop_triggers(registry) -> None:
    migration = importlib.import_module("panelmanager.core.migrations.versions.0010_auth")
    with registry.engine.begin() as conn:
        for statement in migration.drop_trigger_sql(conn.dialect.name):
            conn.execute(text(statement))


def verify(registry) -> audit.VerifyResult:
    with registry.session() as session:
        return audit.verify(session)


def test_an_intact_chain_verifies(fresh_registry):
    assert verify(fresh_registry).ok and verify(fresh_registry).rows == 0
    fill(fresh_registry)
    result = verify(fresh_registry)
    assert result.ok and result.rows == 6
    assert "intact: 6 entries" in result.message()


def test_the_database_refuses_changes(fresh_registry):
    fill(fresh_registry)
    for statement in ("UPDATE audit_log SET outcome = 'error' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 2"):
        with pytest.raises(DBAPIError, match="append-only"), fresh_registry.engine.begin() as conn:
            conn.execute(text(statement))
    assert verify(fresh_registry).ok


def test_an_altered_row_is_named(fresh_registry):
    fill(fresh_registry)
    drop_triggers(fresh_registry)
    with fresh_registry.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET patient_ids = ',99,' WHERE seq = 3"))
    result = verify(fresh_registry)
    assert not result.ok and result.seq == 3
    assert result.problem.startswith("Audit row #3 (id 3) was altered")


def test_a_deleted_row_is_named(fresh_registry):
    fill(fresh_registry)
    drop_triggers(fresh_registry)
    with fresh_registry.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 4"))
    result = verify(fresh_registry)
    assert not result.ok and result.seq == 4
    assert result.problem.startswith("Audit row #4 was deleted: the trail jumps from #3 to #5")


def test_a_deleted_tail_is_named(fresh_registry):
    fill(fresh_registry)
    drop_triggers(fresh_registry)
    with fresh_registry.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq >= 5"))
    result = verify(fresh_registry)
    assert not result.ok and result.problem.startswith("Audit row #5-#6 was deleted: the trail ends at #4")


def test_an_inserted_row_is_named(fresh_registry):
    fill(fresh_registry)
    drop_triggers(fresh_registry)
    with fresh_registry.engine.begin() as conn:
        # A copy of row 2 renumbered to sit after the last one, with row 2's hashes.
        conn.execute(text(
            "INSERT INTO audit_log (seq, at, user_id, user_name, role, workstation, action, patient_ids, outcome, "
            "emergency, emergency_reason, details, prev_hash, hash) "
            "SELECT 7, at, user_id, user_name, role, workstation, action, patient_ids, outcome, emergency, "
            "emergency_reason, details, prev_hash, hash FROM audit_log WHERE seq = 2"))
    result = verify(fresh_registry)
    assert not result.ok and result.seq == 7
    assert result.problem.startswith("Audit row #7 (id 7) was inserted")


def test_an_inserted_row_with_a_forged_chain_is_named(fresh_registry):
    """Even with a correct hash and the head moved along: a row before #1 is out of sequence."""
    fill(fresh_registry, rows=2)
    drop_triggers(fresh_registry)
    values = {"seq": 0, "at": dt.datetime(2026, 1, 1), "user_id": None, "user_name": "mallory", "role": "admin",
              "workstation": "x", "action": "login", "patient_ids": None, "outcome": "ok", "emergency": False,
              "emergency_reason": None, "details": None}
    forged = audit.row_hash(values, audit.GENESIS)
    with fresh_registry.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO audit_log (seq, at, user_id, user_name, role, workstation, action, patient_ids, outcome, "
            "emergency, emergency_reason, details, prev_hash, hash) VALUES (0, :at, NULL, 'mallory', 'admin', 'x', "
            "'login', NULL, 'ok', :f, NULL, NULL, :g, :h)"),
            {"at": values["at"], "f": False, "g": audit.GENESIS, "h": forged})
    result = verify(fresh_registry)
    assert not result.ok and result.seq == 0 and "was inserted" in result.problem


def test_appending_continues_the_chain_and_filters_work(fresh_registry):
    fill(fresh_registry, rows=3)
    bob = Actor(user_id=8, username="bob", display_name="Bob", role="front_desk", workstation="desk-1")
    with fresh_registry.write_session() as session:
        audit.record(session, bob, "confirm", patient_ids=[2], at=dt.datetime(2026, 1, 6, 8, 0))
    with fresh_registry.session() as session:
        assert audit.verify(session).rows == 4
        assert [r.action for r in audit.list_entries(session, user="BOB")] == ["confirm"]
        assert len(audit.list_entries(session, patient_id=40)) == 3
        assert [r.seq for r in audit.list_entries(session, patient_id=2)] == [4, 2]
        assert len(audit.list_entries(session, date_from=dt.date(2026, 1, 6))) == 1
        assert len(audit.list_entries(session, date_to=dt.date(2026, 1, 5))) == 3
        rows = audit.list_entries(session)
    out = io.StringIO()
    assert audit.write_entries_csv(rows, out) == 4
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("seq,when,user,role,workstation,action,patient_ids,outcome")
    assert lines[1].startswith("4,2026-01-06 08:00:00,bob,front_desk,desk-1,confirm,2,ok")


@pytest.mark.sqlite_only
def test_a_backup_whose_audit_trail_was_altered_is_not_restored(registry_path, tmp_path):
    # Issue 15 with issue 14: restoring checks the backup's audit chain before replacing anything.
    from panelmanager.core.backup import backup_registry, check_backup, restore_registry
    from panelmanager.core.db import open_registry

    registry = open_registry(registry_path, create=True)
    try:
        fill(registry)
        good = backup_registry(registry, tmp_path / "good.sqlite3").path
        drop_triggers(registry)
        with registry.engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET action = 'search' WHERE seq = 3"))
        bad = backup_registry(registry, tmp_path / "bad.sqlite3").path
    finally:
        registry.close()
    assert check_backup(good).ok
    check = check_backup(bad)
    assert not check.ok and "audit trail fails verification" in check.problems[0] and "#3" in check.problems[0]
    with pytest.raises(Exception, match="audit trail"):
        restore_registry(bad, registry_path)
