"""kill -9 during a staged SQLite import (importers.staging) leaves nothing of it behind.

The import is killed while it plans (rows staged in TEMP tables, no write lock) and while it
applies them under the write lock (part of them copied into the registry's tables, not
committed). Either way the registry is intact, holds nothing from the import, and the next
import of the same folder writes it all. Killed after its commit, while it builds the plain
indexes it left out, the import is whole; the next import builds the missing indexes.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from panelmanager.core.db import open_registry
from panelmanager.core.importers import run_import
from panelmanager.core.importers.staging import missing_indexes

_WORKER = textwrap.dedent(
    """
    import sys, time
    from panelmanager.core.db import open_registry
    from panelmanager.core.importers import run_import

    import panelmanager.core.db as registry_db

    db, folder, stage = sys.argv[1:4]
    registry_db.DEFER_INDEXES_MIN_ROWS = 1  # the small folder's inserts leave their indexes to after the commit

    def progress(done, total, message=""):
        if stage in message:
            print("at " + stage, flush=True)
            time.sleep(60)  # killed here

    registry = open_registry(db)
    run_import(registry, [folder], write_rejects=False, user="kill", progress=progress)
    print("finished", flush=True)
    """
)

TABLES = ("patients", "patient_identifiers", "visits", "observations", "conditions", "medications")


def _counts(db) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}


def _kill_at(tmp_path, folder, stage):
    db = tmp_path / "registry.sqlite3"
    open_registry(db, create=True).close()
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(folder), stage],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line == f"at {stage}", proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    return db


def _missing(db) -> list:
    registry = open_registry(db)
    try:
        with registry.engine.connect() as conn:
            return missing_indexes(conn)
    finally:
        registry.close()


@pytest.mark.parametrize("stage", ["Writing observations", "Saving observations"])
def test_kill_9_while_an_import_plans_or_applies_keeps_nothing_of_it(tmp_path, synthea_small, stage):
    db = _kill_at(tmp_path, synthea_small, stage)
    assert _counts(db) == dict.fromkeys(TABLES, 0)
    assert _missing(db) == []  # the indexes the apply dropped came back with its rollback
    registry = open_registry(db)
    try:
        [outcome] = run_import(registry, [synthea_small], write_rejects=False, user="test")
    finally:
        registry.close()
    assert outcome.ok and outcome.updated == 0
    after = _counts(db)
    assert after["patients"] == 27 and after["observations"] == 990


def test_kill_9_while_an_import_builds_its_indexes_keeps_it_whole_and_the_next_import_builds_them(tmp_path, synthea_small):
    db = _kill_at(tmp_path, synthea_small, "Indexing observations")
    assert _counts(db)["observations"] == 990 and _counts(db)["patients"] == 27  # committed: all of it
    assert "observations" in {table for table, _name, _sql in _missing(db)}
    registry = open_registry(db)
    try:
        [outcome] = run_import(registry, [synthea_small], write_rejects=False, user="test")
    finally:
        registry.close()
    assert outcome.ok and outcome.new == 0 and outcome.updated == 0
    assert _missing(db) == []
    assert _counts(db)["observations"] == 990
