"""Every CSV and XLSX export writes formula-like cells as text (OWASP CSV injection).

A PM export with hostile patient names is imported through the CLI, then every export
the program can write is produced and read back: no text cell may start with ``=``,
``+``, ``-``, ``@``, tab or carriage return unless it is quoted, and no XLSX cell is a
formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from panelmanager.cli import main
from panelmanager.core import models as m
from panelmanager.core.db import open_registry
from panelmanager.core.safe_export import FORMULA_TRIGGERS, neutralise, safe_row, write_xlsx

COLON = "colorectal-cancer-screening"
HOSTILE = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(1)", "\tTab", "=1+2"]


def _hostile_csv(path) -> None:
    lines = ["MRN,Last Name,First Name,DOB,Sex,Address,City,State,Zip,Mobile,Email"]
    for i, name in enumerate(HOSTILE, start=1):
        quoted = '"' + name.replace('"', '""') + '"'
        lines.append(f"H{i},{quoted},{quoted},01/0{i}/1965,F,{i} Elm St,Springfield,MA,01103,"
                     f"(413) 555-010{i},p{i}@example.org")
    # A rejected row carrying a formula in its raw values.
    lines.append('H9,"=cmd|\' /C calc\'!A0",Eve,13/45/1980,F,9 Elm St,Springfield,MA,01103,,')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _bad_cells(values) -> list[str]:
    return [v for v in values if isinstance(v, str) and v.startswith(FORMULA_TRIGGERS)]


def _csv_cells(path_or_text, encoding="utf-8") -> list[str]:
    text = path_or_text if isinstance(path_or_text, str) else path_or_text.read_text(encoding=encoding)
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


@pytest.fixture
def hostile_db(tmp_path, capsys):
    db = str(tmp_path / "registry.sqlite3")
    source = tmp_path / "patients.csv"
    _hostile_csv(source)
    assert main(["--db", db, "--create", "import", str(source), "--rejects", str(tmp_path / "rejects.csv")]) == 0
    capsys.readouterr()
    registry = open_registry(db)
    with registry.session() as session:
        from panelmanager.core.settings import load_settings, save_settings

        settings = load_settings(session)
        settings.practice_name = "Riverside"
        settings.practice_phone = "(413) 555-0100"
        save_settings(session, settings)
        provider = m.Provider(source="t", external_id="P1", display_name="=Dr Evil", npi="1000000004")
        session.add(provider)
        session.flush()
        for i, patient in enumerate(session.query(m.Patient).order_by(m.Patient.id), start=1):
            session.add(m.Visit(patient_id=patient.id, provider_id=provider.id, source="t", external_id=f"W{i}",
                                start=dt.datetime(2023, 6, 1, 9), visit_class="wellness",
                                visit_type="Annual physical", status="completed"))
    registry.close()
    return db


def test_neutralise_only_touches_formula_like_text():
    assert neutralise("=1+2") == "'=1+2"
    assert neutralise("-2") == "'-2" and neutralise("+1") == "'+1" and neutralise("@x") == "'@x"
    assert neutralise("\tx") == "'\tx" and neutralise("\rx") == "'\rx"
    assert neutralise("Smith") == "Smith" and neutralise("") == ""
    assert neutralise(-2) == -2 and neutralise(1.5) == 1.5  # numbers stay numbers
    assert safe_row([None, float("nan"), "=x", 3]) == ["", "", "'=x", 3]


def test_xlsx_cells_are_strings_never_formulas(tmp_path):
    out = tmp_path / "x.xlsx"
    write_xlsx(out, ["name", "n"], [[h, -1] for h in HOSTILE])
    sheet = load_workbook(out).active
    names = [sheet.cell(row=r, column=1) for r in range(2, len(HOSTILE) + 2)]
    assert [c.value for c in names] == HOSTILE  # the text is kept as typed...
    assert all(c.data_type == "s" for c in names)  # ...as a string cell, never "f"
    assert all(c.quotePrefix for c in names if c.value.startswith(FORMULA_TRIGGERS))
    assert sheet.cell(row=2, column=2).value == -1 and sheet.cell(row=2, column=2).data_type == "n"
    assert "<f>" not in _sheet_xml(out)


def _sheet_xml(path) -> str:
    import zipfile

    with zipfile.ZipFile(path) as z:
        return "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))


def test_every_export_neutralises_hostile_names(hostile_db, tmp_path, capsys):
    rejects = tmp_path / "rejects.csv"
    rejected = _csv_cells(rejects)
    assert "'=cmd|' /C calc'!A0" in rejected and not _bad_cells(rejected)

    calls_csv, calls_xlsx, portal, texts = (tmp_path / n for n in ("c.csv", "c.xlsx", "portal.csv", "texts.csv"))
    assert main(["--db", hostile_db, "letters", "--measure", COLON, "--as-of", "2024-03-01", "--no-log",
                 "--calls", str(calls_csv), "--portal", str(portal), "--texts", str(texts)]) == 0
    assert main(["--db", hostile_db, "letters", "--measure", COLON, "--as-of", "2024-03-01", "--no-log",
                 "--calls", str(calls_xlsx)]) == 0
    for path, encoding in ((calls_csv, "utf-8-sig"), (portal, "utf-8"), (texts, "utf-8")):
        cells = _csv_cells(path, encoding)
        assert """'=HYPERLINK("http://x","y")""" in " ".join(cells), path.name
        assert not _bad_cells(cells), (path.name, _bad_cells(cells))

    sheet = load_workbook(calls_xlsx).active
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert any(str(c.value).startswith('=HYPERLINK("http://x","y")') for c in cells)
    assert all(c.data_type != "f" for c in cells) and "<f>" not in _sheet_xml(calls_xlsx)

    assignments = tmp_path / "assignments.csv"
    assert main(["--db", hostile_db, "export-assignments", "--out", str(assignments)]) == 0
    cells = _csv_cells(assignments)
    assert "'+1" in cells and "'-2" in cells and "'@Sum(1)" in cells and not _bad_cells(cells)

    capsys.readouterr()
    assert main(["--db", hostile_db, "gaps", "--measure", COLON, "--as-of", "2024-03-01"]) == 0
    cells = _csv_cells(capsys.readouterr().out)
    assert not _bad_cells(cells)
