"""Rejected rows stay in the import history and are written to a file only when asked."""

from __future__ import annotations

import csv

from panelmanager.cli import main

PATIENTS = "MRN,Last Name,First Name,DOB\n1,Peña,José,04/12/1975\n2,Lee,Ann,13/45/1980\n3,Ray,Bo,01/01/1990\n"


def test_import_writes_no_rejects_file_unless_asked(tmp_path, capsys):
    db = str(tmp_path / "registry.sqlite3")
    source_dir = tmp_path / "shared-drive"
    source_dir.mkdir()
    source = source_dir / "patients.csv"
    source.write_text(PATIENTS, encoding="utf-8")
    assert main(["--db", db, "--create", "import", str(source)]) == 0
    printed = capsys.readouterr().out
    assert "rejected patients.csv row 3" in printed and "written to" not in printed
    assert sorted(p.name for p in source_dir.iterdir()) == ["patients.csv"]  # nothing scattered beside it
    assert not list(tmp_path.rglob("*.rejects.csv"))

    assert main(["--db", db, "rejects"]) == 0
    assert "rejected 1" in capsys.readouterr().out

    out = tmp_path / "mine" / "rejected.csv"
    out.parent.mkdir()
    assert main(["--db", db, "rejects", "export", "--out", str(out)]) == 0
    assert "Wrote 1 rejected rows" in capsys.readouterr().out
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["row"], r["DOB"]) for r in rows] == [("3", "13/45/1980")]
    assert out.stat().st_mode & 0o077 == 0  # owner-only

    chosen = tmp_path / "chosen.csv"
    again = tmp_path / "other.csv"
    again.write_text(PATIENTS.replace("Lee", "Low"), encoding="utf-8")
    assert main(["--db", db, "import", str(again), "--rejects", str(chosen)]) == 0
    assert f"rejected rows written to {chosen}" in capsys.readouterr().out
    assert "13/45/1980" in chosen.read_text(encoding="utf-8")


def test_rejects_export_mistakes_are_messages(tmp_path, capsys):
    db = str(tmp_path / "registry.sqlite3")
    assert main(["--db", db, "rejects", "export"]) == 1
    assert "give --out" in capsys.readouterr().err
    assert main(["--db", db, "--create", "rejects", "export", "--out", str(tmp_path / "r.csv")]) == 1
    assert "no import rejected any rows" in capsys.readouterr().err
