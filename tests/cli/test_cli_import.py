"""`panelmanager import` and `stats` on the shared Synthea export and on folders that cannot be imported."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from panelmanager.cli import main

EXPECTED = {
    "patients": 27,
    "providers": 166,
    "visits": 604,
    "observations": 990,
    "immunizations": 29,
    "procedures": 249,
    "conditions": 438,
}


def stats_json(db: Path, capsys) -> dict[str, int]:
    capsys.readouterr()
    assert main(["--db", str(db), "stats", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def no_birthdate_folder(folder: Path) -> Path:
    folder.mkdir()
    with (folder / "patients.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Id", "FIRST", "LAST", "GENDER"])
        writer.writerow(["p1", "Ann", "Lee", "F"])
    return folder


def test_import_then_stats_json_gives_the_exact_counts(tmp_path, synthea_small, capsys):
    db = tmp_path / "registry.sqlite3"

    assert main(["--db", str(db), "import", str(synthea_small)]) == 0
    out = capsys.readouterr().out
    assert f"Imported: {synthea_small}" in out
    assert "rejected 0" in out

    counts = stats_json(db, capsys)
    assert {key: counts[key] for key in EXPECTED} == EXPECTED


def test_import_json_reports_the_outcome_and_a_second_import_changes_nothing(tmp_path, synthea_small, capsys):
    db = tmp_path / "registry.sqlite3"
    assert main(["--db", str(db), "import", "--json", str(synthea_small)]) == 0
    [first] = json.loads(capsys.readouterr().out)
    assert first["ok"] and first["format"] == "synthea-csv"
    assert first["tables"]["visits"]["new"] == 604
    assert first["rejected_rows"] == []

    assert main(["--db", str(db), "import", "--json", str(synthea_small)]) == 0
    [again] = json.loads(capsys.readouterr().out)
    assert (again["new"], again["updated"]) == (0, 0)
    assert {key: stats_json(db, capsys)[key] for key in EXPECTED} == EXPECTED


def test_dry_run_writes_nothing(tmp_path, synthea_small, capsys):
    db = tmp_path / "registry.sqlite3"

    assert main(["--db", str(db), "import", "--dry-run", str(synthea_small)]) == 0
    out = capsys.readouterr().out
    assert "Dry run (nothing written)" in out
    assert "observations" in out and "990" in out

    counts = stats_json(db, capsys)
    assert all(counts[key] == 0 for key in EXPECTED)
    assert counts["import_batches"] == 0


def test_a_missing_path_exits_1_with_a_message(tmp_path, capsys):
    missing = tmp_path / "no-such-folder"

    assert main(["--db", str(tmp_path / "r.sqlite3"), "import", str(missing)]) == 1
    err = capsys.readouterr().err
    assert str(missing) in err and "no such file or folder" in err
    assert "Traceback" not in err


def test_a_folder_without_birthdate_exits_1_naming_the_file_and_column(tmp_path, capsys):
    folder = no_birthdate_folder(tmp_path / "export")

    assert main(["--db", str(tmp_path / "r.sqlite3"), "import", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "NOT IMPORTED" in err
    assert "patients.csv" in err and "BIRTHDATE" in err and "Columns found: Id, FIRST, LAST, GENDER" in err
    assert "Traceback" not in err
    assert stats_json(tmp_path / "r.sqlite3", capsys)["patients"] == 0


def test_a_folder_without_patients_csv_exits_1(tmp_path, capsys):
    folder = tmp_path / "empty-folder"
    folder.mkdir()

    assert main(["--db", str(tmp_path / "r.sqlite3"), "import", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "no patients.csv" in err and "Traceback" not in err


def console_script() -> str:
    found = shutil.which("panelmanager", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if not found:
        pytest.skip("the panelmanager console script is not installed in this environment")
    return found


def test_the_console_script_imports_and_reports_stats(tmp_path, synthea_small):
    script = console_script()
    db = tmp_path / "registry.sqlite3"
    env = {**os.environ, "PANELMANAGER_DB": str(db)}

    imported = subprocess.run([script, "import", str(synthea_small)], capture_output=True, text=True, timeout=300, env=env)
    assert imported.returncode == 0, imported.stderr
    assert "Imported" in imported.stdout

    stats = subprocess.run([script, "stats", "--json"], capture_output=True, text=True, timeout=120, env=env)
    assert stats.returncode == 0, stats.stderr
    counts = json.loads(stats.stdout)
    assert {key: counts[key] for key in EXPECTED} == EXPECTED

    bad = subprocess.run([script, "import", str(tmp_path / "nope")], capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode == 1
    assert "no such file or folder" in bad.stderr and "Traceback" not in bad.stderr
