"""Portal and text-message exports: one row per reachable patient, message in their language."""

from __future__ import annotations

import csv
import datetime as dt
import io

from panelmanager.core.people import Contact, GapItem
from panelmanager.core.reports.common import Letterhead
from panelmanager.core.reports.portal_export import EXPORT_COLUMNS, write_portal_export

DAY = dt.date(2024, 3, 4)
HEAD = Letterhead("Riverside Community Health", phone="(413) 555-0100")
COLON = GapItem("colorectal-cancer-screening", "Colorectal cancer screening", "a colon cancer screening")
FLU = GapItem("influenza-immunization", "Influenza immunization", "this season's flu shot")


def people() -> list[Contact]:
    return [
        Contact(1, "M1", "Rosa", "Díaz", email="rosa@example.org", phone_mobile="(413) 555-0101",
                preferred_language="es", gaps=(COLON, FLU)),
        Contact(2, "M2", "John", "Smith", email="john@example.com", preferred_language="en", gaps=(COLON,)),
        Contact(3, "M3", "Ann", "Lee", phone_mobile="(413) 555-0103", gaps=(FLU,)),
    ]


def read(out: io.StringIO) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_portal_export_names_the_care_due_in_the_patients_language():
    out = io.StringIO()
    result = write_portal_export(people(), out, channel="portal", letterhead=HEAD, on=DAY)
    rows = read(out)
    assert list(rows[0]) == EXPORT_COLUMNS
    assert [r["mrn"] for r in rows] == ["M1", "M2"]
    assert [(mrn, reason) for _p, mrn, _n, reason in result.skipped] == [("M3", "no e-mail address")]
    rosa, john = rows
    assert rosa["language"] == "es" and rosa["email"] == "rosa@example.org"
    assert rosa["message"].startswith("Hola Rosa, le escribe Riverside Community Health.")
    assert "una prueba de detección del cáncer de colon; la vacuna contra la gripe" in rosa["message"]
    assert "(413) 555-0100" in rosa["message"]
    assert john["message"].startswith("Hello John") and "a colon cancer screening" in john["message"]
    assert sorted(map(tuple, result.pairs.to_numpy().tolist())) == [
        (1, "colorectal-cancer-screening"), (1, "influenza-immunization"), (2, "colorectal-cancer-screening")]


def test_text_export_needs_a_mobile_and_keeps_health_details_out(tmp_path):
    path = tmp_path / "texts.csv"
    result = write_portal_export(people(), path, channel="text", letterhead=HEAD, on=DAY)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["mrn"] for r in rows] == ["M1", "M3"]
    assert result.kind == "text-export" and [s[1] for s in result.skipped] == ["M2"]
    for r in rows:
        assert "colon" not in r["message"].lower() and "gripe" not in r["message"].lower()
        assert "(413) 555-0100" in r["message"]
