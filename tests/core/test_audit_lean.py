"""The leaner audit append (migration 0013_auditlean, bench_audit.py) keeps every guarantee: a trail
written before the upgrade still verifies after it, tampering is still named by row, the canonical
text hashed is exactly the json.dumps definition, and concurrent appenders build one unbroken chain."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import threading

import pytest
from alembic import command
from sqlalchemy import inspect, text

from panelmanager.core import audit
from panelmanager.core.db import _alembic_config, open_registry
from panelmanager.core.permissions import Actor

ALICE = Actor(user_id=7, username="alice", display_name="Alice", role="manager", workstation="desk-2")


def _migrate(registry, how, revision: str) -> None:
    with registry.engine.begin() as conn:
        cfg = _alembic_config()
        cfg.attributes["connection"] = conn
        how(cfg, revision)


def _fill(registry, first: int, rows: int) -> None:
    start = dt.datetime(2026, 1, 5, 9, 0)
    with registry.write_session() as session:
        for n in range(first, first + rows):
            audit.record(session, ALICE, "view_patient", patient_ids=[n, 40], at=start + dt.timedelta(minutes=n),
                         details={"screen": "patients", "n": n})


def _fill_0012(registry, rows: int) -> None:
    """Entries as the code at 0012 wrote them: a surrogate id, the head in audit_chain_head."""
    start = dt.datetime(2026, 1, 5, 9, 0)
    prev = audit.GENESIS
    with registry.engine.begin() as conn:
        for n in range(1, rows + 1):
            values = {"seq": n, "at": start + dt.timedelta(minutes=n), "user_id": 7, "user_name": "alice",
                      "role": "manager", "workstation": "desk-2", "action": "view_patient",
                      "patient_ids": f",{n},40,", "outcome": "ok", "emergency": False, "emergency_reason": None,
                      "details": json.dumps({"n": n})}
            values["prev_hash"], values["hash"] = prev, audit.row_hash(values, prev)
            conn.execute(text(
                "INSERT INTO audit_log (seq, at, user_id, user_name, role, workstation, action, patient_ids, outcome, "
                "emergency, emergency_reason, details, prev_hash, hash) VALUES (:seq, :at, :user_id, :user_name, "
                ":role, :workstation, :action, :patient_ids, :outcome, :emergency, :emergency_reason, :details, "
                ":prev_hash, :hash)"), values)
            prev = values["hash"]
        conn.execute(text("INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, :seq, :hash)"),
                     {"seq": rows, "hash": prev})


def _verify(registry) -> audit.VerifyResult:
    with registry.session() as session:
        return audit.verify(session)


def _rows(registry) -> list[tuple]:
    with registry.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT seq, prev_hash, hash FROM audit_log ORDER BY seq"))]


def test_a_trail_written_before_the_upgrade_verifies_after_it(fresh_registry):
    """Down to 0012 (which also tests the downgrade), entries written there, then up again."""
    _migrate(fresh_registry, command.downgrade, "0012_gapsindex")
    columns = {c["name"] for c in inspect(fresh_registry.engine).get_columns("audit_log")}
    assert "id" in columns  # the 0012 schema: a surrogate id beside seq
    _fill_0012(fresh_registry, 5)
    before = _rows(fresh_registry)
    assert _verify(fresh_registry).ok  # a backup at 0012 is verified before it is restored
    with fresh_registry.engine.begin() as conn:
        conn.execute(text("UPDATE audit_chain_head SET seq = 6 WHERE id = 1"))
    assert _verify(fresh_registry).problem.startswith("Audit row #6 was deleted")
    with fresh_registry.engine.begin() as conn:
        conn.execute(text("UPDATE audit_chain_head SET seq = 5 WHERE id = 1"))

    _migrate(fresh_registry, command.upgrade, "head")
    assert "id" not in {c["name"] for c in inspect(fresh_registry.engine).get_columns("audit_log")}
    assert _rows(fresh_registry) == before  # every row and its hashes kept
    result = _verify(fresh_registry)
    assert result.ok and result.rows == 5
    with fresh_registry.engine.begin() as conn:  # the head moved into registry_changes
        conn.execute(text("UPDATE registry_changes SET audit_hash = :h WHERE id = 1"), {"h": "0" * 64})
    assert not _verify(fresh_registry).ok
    with fresh_registry.engine.begin() as conn:
        conn.execute(text("UPDATE registry_changes SET audit_hash = :h WHERE id = 1"), {"h": before[-1][2]})

    _fill(fresh_registry, 6, 2)  # the chain goes on from the old head
    assert _verify(fresh_registry).ok and _verify(fresh_registry).rows == 7
    with pytest.raises(Exception, match="append-only"), fresh_registry.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET outcome = 'error' WHERE seq = 2"))  # the triggers came back


def test_after_the_upgrade_tampering_is_still_named(fresh_registry):
    _migrate(fresh_registry, command.downgrade, "0012_gapsindex")
    _fill_0012(fresh_registry, 6)
    _migrate(fresh_registry, command.upgrade, "head")
    drop = importlib.import_module("panelmanager.core.migrations.versions.0010_auth").drop_trigger_sql
    with fresh_registry.engine.begin() as conn:
        for statement in drop(conn.dialect.name):
            conn.execute(text(statement))
        conn.execute(text("UPDATE audit_log SET patient_ids = ',99,' WHERE seq = 3"))
    result = _verify(fresh_registry)
    assert not result.ok and result.seq == 3 and result.problem.startswith("Audit row #3 (id 3) was altered")
    with fresh_registry.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    result = _verify(fresh_registry)
    assert not result.ok and result.problem.startswith("Audit row #3 was deleted: the trail jumps from #2 to #4")


@pytest.mark.parametrize("value", [
    "alice", "", "O'Brien \"Bob\"", "back\\slash", "tab\tnew\nline", "Zoë Ünal", "名前", "emoji \U0001f600",
    "\x00\x1f\x7f", None, 0, -1, 2**62, True, False,
])
def test_the_canonical_text_is_json_dumps_of_the_fields(value):
    text_value = value if isinstance(value, str) or value is None else str(value)
    values = {"seq": 12, "at": dt.datetime(2026, 3, 1, 8, 5, 7, 123), "user_id": value if not isinstance(value, str)
              else 3, "user_name": text_value or "x", "role": text_value, "workstation": text_value,
              "action": text_value or "login", "patient_ids": text_value, "outcome": "ok",
              "emergency": bool(value), "emergency_reason": text_value, "details": text_value}
    assert audit.canonical(values) == audit.canonical_reference(values)


def test_record_hashes_what_verify_recomputes(fresh_registry):
    odd = Actor(user_id=None, username="Zoë \"q\" \\ 名", display_name="Z", role="provider", workstation="ws ü")
    with fresh_registry.write_session() as session:
        audit.record(session, odd, "view_patient", patient_ids=[3, 1, 3], details={"note": "ä\"b"},
                     emergency_reason="  chest pain  ")
        audit.record(session, None, "login_failed", user_name="nobody", outcome="failed")
    result = _verify(fresh_registry)
    assert result.ok and result.rows == 2
    with fresh_registry.session() as session:
        rows = audit.list_entries(session)
    assert rows[1].emergency and rows[1].emergency_reason == "chest pain" and rows[1].patient_ids == (1, 3)


def test_concurrent_appenders_build_one_chain(fresh_registry, registry_backend):
    """Writers on several connections at once (SQLite: write transactions; PostgreSQL: plain
    transactions too, where only the chain head's lock orders them, from the very first entry)."""
    errors: list[BaseException] = []
    per_thread, threads = 15, 4
    start = threading.Barrier(threads)

    def work(k: int) -> None:
        registry = open_registry(fresh_registry.url)  # a workstation of its own (SQLCipher: one thread each)
        try:
            start.wait()
            for n in range(per_thread):
                plain = registry_backend == "postgresql" and n % 2 == 0
                with (registry.session() if plain else registry.write_session()) as session:
                    audit.record(session, ALICE, "search", patient_ids=[k * 100 + n])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            registry.close()

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors
    result = _verify(fresh_registry)
    assert result.ok and result.rows == per_thread * threads
    assert [r[0] for r in _rows(fresh_registry)] == list(range(1, per_thread * threads + 1))


def test_the_head_moves_with_the_trail_and_a_copied_registry_verifies(fresh_registry, tmp_path):
    from panelmanager.core.copy_registry import copy_registry

    _fill(fresh_registry, 1, 4)
    with fresh_registry.engine.connect() as conn:
        head = conn.execute(text("SELECT audit_seq, audit_hash FROM registry_changes WHERE id = 1")).one()
    assert head[0] == 4 and head[1] == _rows(fresh_registry)[-1][2]
    target = open_registry(tmp_path / "copy.sqlite3", create=True)
    try:
        copy_registry(fresh_registry, target)
        result = _verify(target)
        assert result.ok and result.rows == 4
    finally:
        target.close()


def test_a_removed_head_is_named(fresh_registry):
    _fill(fresh_registry, 1, 3)
    with fresh_registry.engine.begin() as conn:
        conn.execute(text("UPDATE registry_changes SET audit_seq = NULL, audit_hash = NULL WHERE id = 1"))
    result = _verify(fresh_registry)
    assert not result.ok and "head record is missing" in result.problem
