"""Issue 9 item 6 from the command line: clear messages, no tracebacks, ``--create`` to start one."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from panelmanager.cli import main


def test_a_mistyped_db_path_is_a_message_and_creates_nothing(tmp_path, capsys):
    path = tmp_path / "regsitry.sqlite3"
    assert main(["--db", str(path), "stats"]) == 1
    err = capsys.readouterr().err
    assert "There is no registry at" in err and "--create" in err and "Traceback" not in err
    assert not path.exists()


def test_create_before_or_after_the_command(tmp_path, capsys):
    assert main(["--db", str(tmp_path / "a.sqlite3"), "--create", "stats"]) == 0
    assert main(["--db", str(tmp_path / "b.sqlite3"), "stats", "--create"]) == 0
    assert (tmp_path / "a.sqlite3").exists() and (tmp_path / "b.sqlite3").exists()


def test_the_default_registry_is_not_created_by_a_command_either(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PANELMANAGER_DB", str(tmp_path / "default.sqlite3"))
    assert main(["stats"]) == 1
    assert "There is no registry at" in capsys.readouterr().err
    assert not (tmp_path / "default.sqlite3").exists()


def test_a_foreign_sqlite_file_is_refused_without_a_traceback(tmp_path):
    path = tmp_path / "crm.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE visits (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "panelmanager", "--db", str(path), "--create", "stats"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "is not a Panel Manager registry" in result.stderr and "Traceback" not in result.stderr
    assert path.read_bytes() == before
