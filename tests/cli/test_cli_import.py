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

    assert main(["--db", str(db), "--create", "import", str(synthea_small)]) == 0
    out = capsys.readouterr().out
    assert f"Imported: {synthea_small}" in out
    assert "rejected 0" in out

    counts = stats_json(db, capsys)
    assert {key: counts[key] for key in EXPECTED} == EXPECTED


def test_import_json_reports_the_outcome_and_a_second_import_changes_nothing(tmp_path, synthea_small, capsys):
    db = tmp_path / "registry.sqlite3"
    assert main(["--db", str(db), "--create", "import", "--json", str(synthea_small)]) == 0
    [first] = json.loads(capsys.readouterr().out)
    assert first["ok"] and first["format"] == "synthea-csv"
    assert first["tables"]["visits"]["new"] == 604
    assert first["rejected_rows"] == []

    assert main(["--db", str(db), "--create", "import", "--json", str(synthea_small)]) == 0
    [again] = json.loads(capsys.readouterr().out)
    assert (again["new"], again["updated"]) == (0, 0)
    assert {key: stats_json(db, capsys)[key] for key in EXPECTED} == EXPECTED


def test_dry_run_writes_nothing(tmp_path, synthea_small, capsys):
    db = tmp_path / "registry.sqlite3"

    assert main(["--db", str(db), "--create", "import", "--dry-run", str(synthea_small)]) == 0
    out = capsys.readouterr().out
    assert "Dry run (nothing written)" in out
    assert "observations" in out and "990" in out

    counts = stats_json(db, capsys)
    assert all(counts[key] == 0 for key in EXPECTED)
    assert counts["import_batches"] == 0


def test_a_missing_path_exits_1_with_a_message(tmp_path, capsys):
    missing = tmp_path / "no-such-folder"

    assert main(["--db", str(tmp_path / "r.sqlite3"), "--create", "import", str(missing)]) == 1
    err = capsys.readouterr().err
    assert str(missing) in err and "no such file or folder" in err
    assert "Traceback" not in err


def test_a_folder_without_birthdate_exits_1_naming_the_file_and_column(tmp_path, capsys):
    folder = no_birthdate_folder(tmp_path / "export")

    assert main(["--db", str(tmp_path / "r.sqlite3"), "--create", "import", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "NOT IMPORTED" in err
    assert "patients.csv" in err and "BIRTHDATE" in err and "Columns found: Id, FIRST, LAST, GENDER" in err
    assert "Traceback" not in err
    assert stats_json(tmp_path / "r.sqlite3", capsys)["patients"] == 0


def test_a_folder_without_patients_csv_exits_1(tmp_path, capsys):
    folder = tmp_path / "empty-folder"
    folder.mkdir()

    assert main(["--db", str(tmp_path / "r.sqlite3"), "--create", "import", str(folder)]) == 1
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

    imported = subprocess.run([script, "--create", "import", str(synthea_small)], capture_output=True, text=True, timeout=300, env=env)
    assert imported.returncode == 0, imported.stderr
    assert "Imported" in imported.stdout

    stats = subprocess.run([script, "stats", "--json"], capture_output=True, text=True, timeout=120, env=env)
    assert stats.returncode == 0, stats.stderr
    counts = json.loads(stats.stdout)
    assert {key: counts[key] for key in EXPECTED} == EXPECTED

    bad = subprocess.run([script, "import", str(tmp_path / "nope")], capture_output=True, text=True, timeout=120, env=env)
    assert bad.returncode == 1
    assert "no such file or folder" in bad.stderr and "Traceback" not in bad.stderr


# --------------------------------------------------------------------------- every kind of bad input, through the CLI


def _xlsx(path: Path, rows: list[list]) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.title = "Patients"
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _synthea(folder: Path, patients: bytes, **files: bytes) -> Path:
    folder.mkdir()
    (folder / "patients.csv").write_bytes(patients)
    for name, data in files.items():
        (folder / f"{name}.csv").write_bytes(data)
    return folder


SYNTHEA_PATIENTS = "Id,BIRTHDATE,FIRST,LAST,GENDER\np1,1990-01-01,José,Peña,F\np2,1990-13-45,Bo,Ray,M\n"
PM_PATIENTS = "MRN,Last Name,First Name,DOB\n000123,Peña,José,04/12/1975\n000124,Lee,Ann,13/45/1980\n"
PM_DATE = "DOB '13/45/1980' is not a date; expected MM/DD/YYYY (also M/D/YY, YYYY-MM-DD or YYYYMMDD)"

# (what goes wrong, how to make the input, exit code, lines the user must see, patients imported)
BAD_INPUTS = [
    (
        "pm: a PDF",
        lambda d: _file(d / "report.pdf", b"%PDF-1.4\n"),
        1,
        ["report.pdf: Panel Manager imports .csv and .xlsx PM exports", "Export the report as CSV"],
        0,
    ),
    (
        "pm csv: binary data named .csv",
        lambda d: _file(d / "report.csv", bytes(range(256)) * 40),
        1,
        ["report.csv: this is not a text export", "Export the report from the PM system as CSV or Excel (.xlsx)"],
        0,
    ),
    (
        "pm xlsx: a password-protected workbook",
        lambda d: _file(d / "p.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)),
        1,
        ["p.xlsx: this is an old-format Excel workbook (.xls) or a password-protected one", "save it as .xlsx (or as CSV)"],
        0,
    ),
    (
        "pm csv: UTF-16 without a byte-order mark",
        lambda d: _file(d / "p.csv", PM_PATIENTS.encode("utf-16-le")),
        0,
        ["Imported:", f"rejected p.csv row 3: {PM_DATE}"],
        1,
    ),
    (
        "pm csv: Windows-1252",
        lambda d: _file(d / "p.csv", PM_PATIENTS.encode("cp1252")),
        0,
        ["Imported:", f"rejected p.csv row 3: {PM_DATE}"],
        1,
    ),
    (
        "pm csv: no date-of-birth column",
        lambda d: _file(d / "p.csv", b"MRN,Last Name\n1,Lee\n"),
        1,
        ["p.csv: cannot import this file with the generic profile", "Columns found (line 1): MRN, Last Name",
         "--map dob=COLUMN"],
        0,
    ),
    (
        "pm xlsx: no date-of-birth column",
        lambda d: _xlsx(d / "p.xlsx", [["Patients"], ["MRN", "Last Name"], ["1", "Lee"]]),
        1,
        ["p.xlsx: cannot import this file (sheet 'Patients')", "Columns found (line 2): MRN, Last Name",
         "--map dob=COLUMN"],
        0,
    ),
    (
        "pm xlsx: a bad date",
        lambda d: _xlsx(d / "p.xlsx", [["MRN", "Last Name", "DOB"], ["1", "Lee", "04/12/1975"], ["2", "Ray", "13/45/1980"]]),
        0,
        ["Imported:", f"rejected p.xlsx row 3: {PM_DATE}"],
        1,
    ),
    (
        "synthea: a workbook named patients.csv",
        lambda d: _synthea(d / "export", b"PK\x03\x04" + bytes(range(256))),
        1,
        ["patients.csv: this is an Excel workbook (or another packed file) with a .csv name",
         "save it again as CSV UTF-8"],
        0,
    ),
    (
        "synthea: Windows-1252 bytes",
        lambda d: _synthea(d / "export", SYNTHEA_PATIENTS.encode("cp1252")),
        1,
        ["patients.csv: line 2 is not UTF-8 text (byte 0xE9", "save it again as CSV UTF-8"],
        0,
    ),
    (
        "synthea: UTF-16",
        lambda d: _synthea(d / "export", SYNTHEA_PATIENTS.encode("utf-16")),
        1,
        ["patients.csv: this file holds UTF-16 text, not UTF-8 CSV text", "save it again as CSV UTF-8"],
        0,
    ),
    (
        "synthea: no START column in encounters",
        lambda d: _synthea(d / "export", SYNTHEA_PATIENTS.encode(), encounters=b"Id,BEGIN,PATIENT\ne1,2020-01-01,p1\n"),
        1,
        ["encounters.csv: this Synthea file lacks the column START", "Columns found: Id, BEGIN, PATIENT",
         "exporter.csv.export = true"],
        0,
    ),
    (
        "synthea: a bad date",
        lambda d: _synthea(d / "export", SYNTHEA_PATIENTS.encode()),
        0,
        ["Imported:", "rejected patients.csv row 3: BIRTHDATE '1990-13-45' is not a date (expected e.g. 2023-01-27"],
        1,
    ),
]


@pytest.mark.parametrize(("case", "make", "code", "expected", "patients"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_gives_an_exit_code_and_a_message_naming_file_row_and_fix(
    tmp_path, capsys, case, make, code, expected, patients
):
    source = tmp_path / "input"
    source.mkdir()
    path = make(source)
    db = tmp_path / "r.sqlite3"

    assert main(["--db", str(db), "--create", "import", str(path)]) == code
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    for text in expected:
        assert text in shown, f"{case}: {text!r} not in {shown!r}"
    assert "Traceback" not in shown
    if code:
        assert captured.err.startswith(f"NOT IMPORTED  {path}")
    # All or nothing: a refused input leaves nothing behind.
    assert stats_json(db, capsys)["patients"] == patients


# --------------------------------------------------------------------------- import fidelity (issue 9)

DATA = Path(__file__).resolve().parents[1] / "data"


def test_a_dry_run_of_a_windows_1252_athena_report_shows_rows_tables_encoding_and_sample_names(tmp_path, capsys):
    db = tmp_path / "r.sqlite3"
    assert main(["--db", str(db), "--create", "import", "--dry-run", str(DATA / "athena_appointments_cp1252.csv")]) == 0
    out = capsys.readouterr().out
    assert "(pm-csv, profile athenahealth, read as Windows-1252)" in out
    assert "rows read 12: imported 8, rejected 2, exact duplicates 1, open slots skipped 1" in out
    assert "patients       new        6  updated        0  unchanged        0" in out
    assert "visits         new        8  updated        0  unchanged        0" in out
    assert "sample names (check the accents): María Farías, Raúl Núñez, François Gonçalves, Inês Pereira, Noël Dubois" in out
    assert "rejected athena_appointments_cp1252.csv row 9: patientid is empty; every appointment needs a patient identifier" in out
    assert "exact duplicate athena_appointments_cp1252.csv row 8: exact duplicate of row 7" in out
    assert stats_json(db, capsys)["patients"] == 0


def test_the_encoding_option_reads_a_file_in_the_code_page_named_and_refuses_an_unknown_one(tmp_path, capsys):
    path = tmp_path / "patients.csv"
    path.write_bytes("MRN,First Name,Last Name,DOB\n1,Zoë,Núñez,01/02/1980\n".encode("mac-roman"))
    db = tmp_path / "r.sqlite3"
    assert main(["--db", str(db), "--create", "import", "--dry-run", "--encoding", "mac-roman", str(path)]) == 0
    assert "sample names (check the accents): Zoë Núñez" in capsys.readouterr().out
    assert main(["--db", str(db), "--create", "import", "--encoding", "klingon", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"NOT IMPORTED  {path}: --encoding: 'klingon' is not a text encoding" in err and "Traceback" not in err


def test_json_output_counts_where_every_row_went(tmp_path, capsys):
    db = tmp_path / "r.sqlite3"
    assert main(["--db", str(db), "--create", "import", "--json", str(DATA / "athena_appointments_cp1252.csv")]) == 0
    (outcome,) = json.loads(capsys.readouterr().out)
    assert (outcome["rows_read"], outcome["imported"], outcome["rows_rejected"], outcome["duplicates"], outcome["skipped"]) == (
        12, 8, 2, 1, 1)
    assert outcome["duplicate_rows"] == [
        {"file": str(DATA / "athena_appointments_cp1252.csv"), "row": 8, "reason": "exact duplicate of row 7"}
    ]
    assert [r["row"] for r in outcome["rejected_rows"]] == [9, 11]


def test_the_same_file_again_is_skipped_and_force_reads_it(tmp_path, synthea_small, capsys):
    # Issue 16: an unchanged re-import takes seconds; the user is told it was not read again.
    from panelmanager import cli

    db = str(tmp_path / "r.sqlite3")
    assert cli.main(["--db", db, "--create", "import", str(synthea_small)]) == 0
    capsys.readouterr()
    assert cli.main(["--db", db, "import", str(synthea_small)]) == 0
    assert "Unchanged since its last import" in capsys.readouterr().out
    assert cli.main(["--db", db, "import", str(synthea_small), "--force"]) == 0
    out = capsys.readouterr().out
    assert "Unchanged since its last import" not in out and "Imported:" in out
