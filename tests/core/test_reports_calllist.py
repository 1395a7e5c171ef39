"""Call lists as PDF (to work from on paper), CSV and XLSX."""

from __future__ import annotations

import csv
import datetime as dt

import pandas as pd
import pytest
from pypdf import PdfReader

from panelmanager.core.people import Contact, GapItem
from panelmanager.core.reports.calllist import CALL_LIST_COLUMNS, write_call_list
from panelmanager.core.reports.common import Letterhead

DAY = dt.date(2024, 3, 4)
COLON = GapItem("colorectal-cancer-screening", "Colorectal cancer screening", "a colon cancer screening",
                short="Colorectal screen (none on record)")
A1C = GapItem("diabetes-a1c-poor-control", "Diabetes: HbA1c poor control", "an A1c test",
              short="A1c 9.8% (2023-08-14)")


def people() -> list[Contact]:
    return [
        Contact(1, "M1", "María", "Núñez", dob=dt.date(1960, 5, 1), sex="F", phone_mobile="(413) 555-0101",
                phone_home="(413) 555-0102", preferred_language="es", provider_name="Ana Alvarez, MD",
                gaps=(COLON, A1C), last_outreach="2024-02-01 letter", best_time="mornings"),
        Contact(2, "M2", "John", "Smith", dob=dt.date(1955, 1, 1), sex="M", phone_home="(413) 555-0199",
                preferred_language="English", provider_name="Ben Brown, NP", gaps=(COLON,)),
        Contact(3, "M3", "No", "Phone", dob=dt.date(1950, 1, 1), gaps=(COLON,)),
    ]


def test_the_pdf_call_list_has_phones_gaps_and_outcome_codes(tmp_path):
    out = tmp_path / "calls.pdf"
    result = write_call_list(people(), out, on=DAY, title="Call list: colorectal", letterhead=Letterhead("Riverside"))
    assert result.items == 2 and result.pages == 1
    assert [(mrn, reason) for _p, mrn, _n, reason in result.skipped] == [("M3", "no phone number")]
    reader = PdfReader(str(out))
    assert float(reader.pages[0].mediabox.width) == pytest.approx(792)
    text = " ".join(reader.pages[0].extract_text().split())  # cells wrap; compare words
    for expected in ("Call list: colorectal", "Núñez, María", "mobile (413) 555-0101", "home (413) 555-0102",
                     "Spanish", "mornings", "A1c 9.8% (2023-08-14)", "Colorectal screen (none on record)",
                     "2024-02-01 letter", "Ana Alvarez, MD", "Smith, John", "English", "LM left message",
                     "Confidential: contains PHI", "Page 1 of 1"):
        assert expected in text, expected
    assert "Phone, No" not in text


def test_the_csv_call_list_opens_in_excel_with_accents(tmp_path):
    out = tmp_path / "calls.csv"
    result = write_call_list(people(), out, on=DAY)
    assert result.items == 2
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel shows "Núñez" correctly
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == CALL_LIST_COLUMNS
    assert rows[0]["Name"] == "Núñez, María" and rows[0]["Age"] == "63" and rows[0]["Language"] == "Spanish"
    assert rows[0]["Open gaps"] == "Colorectal screen (none on record); A1c 9.8% (2023-08-14)"
    assert rows[1]["Mobile phone"] == "" and rows[1]["Home phone"] == "(413) 555-0199"


def test_the_xlsx_call_list(tmp_path):
    out = tmp_path / "calls.xlsx"
    write_call_list(people(), out, on=DAY)
    frame = pd.read_excel(out, dtype=str)
    assert list(frame.columns) == CALL_LIST_COLUMNS
    assert list(frame["MRN"]) == ["M1", "M2"] and frame["PCP"].iloc[1] == "Ben Brown, NP"


def test_other_file_kinds_are_refused(tmp_path):
    with pytest.raises(ValueError, match=".csv, .xlsx or .pdf"):
        write_call_list(people(), tmp_path / "calls.docx", on=DAY)
