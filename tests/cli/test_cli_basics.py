"""--version, --help on every command, and clean errors instead of tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from panelmanager import __version__
from panelmanager.cli import build_parser, main


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"panelmanager {__version__}"


def test_every_command_has_help(capsys):
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 (argparse has no public list)
    assert {"import", "stats", "demo", "gui"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert f"usage: panelmanager {name}" in capsys.readouterr().out


def test_stats_on_an_empty_registry_prints_zero_counts_as_json(tmp_path, capsys):
    import json

    assert main(["--db", str(tmp_path / "r.sqlite3"), "--create", "stats", "--json"]) == 0
    counts = json.loads(capsys.readouterr().out)
    for key in ("patients", "providers", "visits", "observations", "immunizations", "procedures", "conditions"):
        assert counts[key] == 0


def test_a_registry_from_a_newer_version_is_a_message_not_a_traceback(tmp_path):
    from sqlalchemy import text

    from panelmanager.core.db import open_registry

    path = tmp_path / "r.sqlite3"
    registry = open_registry(path, create=True)
    with registry.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'zzzz'"))
    registry.close()
    result = subprocess.run(
        [sys.executable, "-m", "panelmanager", "--db", str(path), "stats"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "newer version of Panel Manager" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_shows_progress_even_in_a_log(tmp_path, capsys):
    from panelmanager.cli import main

    assert main(["--db", str(tmp_path / "demo.sqlite3"), "--create", "demo", "--patients", "30"]) == 0
    err = capsys.readouterr().err
    assert "Making a demo practice of 30 patients" in err
    assert "Generating patients" in err and "100% Demo practice loaded" in err
