"""Backups: consistent copies of a live registry, daily with retention, checked restores, kill -9 safety."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from panelmanager.cli import main
from panelmanager.core import encryption
from panelmanager.core import models as m
from panelmanager.core.backup import (
    BackupError,
    auto_backup,
    backup_registry,
    check_backup,
    list_backups,
    restore_registry,
)
from panelmanager.core.db import open_registry

pytestmark = pytest.mark.sqlite_only  # PostgreSQL registries are backed up with pg_dump (core.backup says so)


def _add_patients(registry, n: int, start: int = 0) -> None:
    with registry.session() as session:
        session.add_all(m.Patient(mrn=f"M{start + i}", first_name="Ann", last_name=f"Lee{start + i}", source="t",
                                  status="active") for i in range(n))


def _patients(path) -> int:
    conn = encryption.connect(path, key=encryption.key_for(path))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return conn.execute("SELECT COUNT(*) FROM patients").fetchone()[0]
    finally:
        conn.close()


def test_a_backup_of_a_live_registry_is_consistent_checked_and_owner_only(fresh_registry, registry_path, tmp_path):
    _add_patients(fresh_registry, 5)
    # An open write transaction elsewhere is not in the copy; committed rows are.
    with fresh_registry.engine.connect() as conn:  # SQLAlchemy's autobegin emits a real BEGIN (core.db)
        conn.exec_driver_sql("INSERT INTO patients (mrn, source, status) VALUES ('X', 't', 'active')")
        result = backup_registry(fresh_registry)
        conn.rollback()
    assert result.path.parent == registry_path.parent / "backups" and result.reason == "manual"
    assert result.counts["patients"] == 5 and _patients(result.path) == 5
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(result.path.parent.stat().st_mode) == 0o700
    assert not list(result.path.parent.glob("*.part"))
    check = check_backup(result.path)
    assert check.ok and not check.upgradable and check.counts["patients"] == 5

    chosen = tmp_path / "elsewhere.sqlite3"
    assert backup_registry(fresh_registry, chosen).path == chosen and _patients(chosen) == 5
    with pytest.raises(BackupError, match="cannot overwrite the registry"):
        backup_registry(fresh_registry, registry_path)


def test_daily_backup_once_a_day_with_retention(fresh_registry, registry_path):
    assert auto_backup(fresh_registry, now=dt.datetime(2024, 3, 1, 8)) is None  # empty: nothing to lose
    _add_patients(fresh_registry, 2)
    day = dt.datetime(2024, 3, 1, 9)
    assert auto_backup(fresh_registry, now=day) is not None
    assert auto_backup(fresh_registry, now=day + dt.timedelta(hours=5)) is None  # not due yet
    for n in range(1, 20):
        auto_backup(fresh_registry, now=day + dt.timedelta(days=n))
    kept = list_backups(registry_path)
    assert len(kept) == 15  # today and the 14 days before (the default backup_keep_days)
    assert kept[0][0] == day + dt.timedelta(days=19)

    from panelmanager.core.settings import load_settings, save_settings

    with fresh_registry.session() as session:
        settings = load_settings(session)
        settings.backup_daily = False
        save_settings(session, settings)
    assert auto_backup(fresh_registry, now=day + dt.timedelta(days=30)) is None


def test_restore_checks_first_keeps_the_old_registry_and_replaces_atomically(fresh_registry, registry_path, tmp_path):
    _add_patients(fresh_registry, 3)
    saved = backup_registry(fresh_registry, tmp_path / "three.sqlite3").path
    _add_patients(fresh_registry, 4, start=10)
    fresh_registry.close()

    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(saved.read_bytes()[:4096] + b"\0" * 8192)
    not_a_registry = tmp_path / "other.sqlite3"
    sqlite3.connect(not_a_registry).execute("CREATE TABLE t (x)").connection.close()
    for bad, message in ((broken, "cannot be restored"), (not_a_registry, "no Panel Manager schema version"),
                         (tmp_path / "missing.sqlite3", "does not exist")):
        with pytest.raises(BackupError, match=message):
            restore_registry(bad, registry_path)
        assert _patients(registry_path) == 7  # nothing changed

    result = restore_registry(saved, registry_path)
    assert _patients(registry_path) == 3
    assert result.replaced_kept_at is not None and _patients(result.replaced_kept_at) == 7
    assert stat.S_IMODE(registry_path.stat().st_mode) == 0o600
    again = open_registry(registry_path)
    again.close()


def test_restore_refuses_while_the_registry_is_open_elsewhere(fresh_registry, registry_path, tmp_path):
    _add_patients(fresh_registry, 1)
    saved = backup_registry(fresh_registry, tmp_path / "one.sqlite3").path
    with fresh_registry.engine.connect() as conn:  # autobegin: a real BEGIN (core.db)
        conn.exec_driver_sql("SELECT COUNT(*) FROM patients").scalar()
        with pytest.raises(BackupError, match="open in another"):
            restore_registry(saved, registry_path)
        conn.rollback()


def test_backup_and_restore_commands(fresh_registry, registry_path, tmp_path, capsys):
    _add_patients(fresh_registry, 2)
    fresh_registry.close()
    db = str(registry_path)
    out = tmp_path / "b.sqlite3"
    assert main(["--db", db, "backup", "--to", str(out)]) == 0
    assert "Backed up the registry to" in capsys.readouterr().out
    assert main(["--db", db, "restore", "--check", str(out)]) == 0
    assert "can be restored" in capsys.readouterr().out
    assert main(["--db", db, "restore", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Restored" in printed and "kept at" in printed
    assert main(["--db", db, "backup", "--list"]) == 0
    assert "replaced" in capsys.readouterr().out
    assert main(["--db", db, "restore", str(tmp_path / "nope.sqlite3")]) == 1
    assert "does not exist" in capsys.readouterr().err
    # A PostgreSQL registry is backed up with pg_dump (tests/core/test_pg_backup.py); one that
    # cannot be reached is a message, not a traceback.
    assert main(["--db", "postgresql://u@127.0.0.1:9/x", "backup"]) == 1
    err = capsys.readouterr().err
    assert "Cannot open the registry at postgresql" in err and "Traceback" not in err


# --------------------------------------------------------------------------- kill -9 during backup and restore

_WORKER = textwrap.dedent(
    """
    import sys, pathlib
    from panelmanager.core.backup import backup_database, restore_registry
    db, a, b, mode = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]), sys.argv[4]
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        if mode == "backup":
            made = backup_database(db, db.parent / "backups" / f"b{n % 3}.sqlite3")
        else:
            restore_registry(a if n % 2 else b, db)
            for old in sorted((db.parent / "backups").glob("*-replaced.sqlite3"))[:-2]:
                old.unlink()
    """
)


def test_kill_9_during_backup_and_restore_leaves_the_registry_intact(tmp_path):
    db = tmp_path / "registry.sqlite3"
    registry = open_registry(db, create=True)
    _add_patients(registry, 3000)
    a = backup_registry(registry, tmp_path / "a.sqlite3").path
    _add_patients(registry, 1, start=5000)
    b = backup_registry(registry, tmp_path / "b.sqlite3").path
    registry.close()
    (tmp_path / "backups").mkdir(exist_ok=True)
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    rng = random.Random(15)
    started = time.monotonic()
    for kill in range(30):
        mode = "backup" if kill % 2 == 0 else "restore"
        proc = subprocess.Popen([sys.executable, str(script), str(db), str(a), str(b), mode],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(rng.uniform(0.01, 0.4))
        assert proc.poll() is None, proc.stderr.read()  # still working when killed
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        assert _patients(db) in (3000, 3001), f"kill {kill + 1} ({mode})"
        for made in (tmp_path / "backups").glob("*.sqlite3"):  # a backup under its own name is whole
            assert check_backup(made).ok, made.name
    opened = open_registry(db)
    opened.close()
    assert time.monotonic() - started < 120
