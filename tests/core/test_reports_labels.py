"""Mailing labels land on the Avery 5160 grid, from the chosen start position."""

from __future__ import annotations

import datetime as dt

import pytest
from pypdf import PdfReader
from reportlab.lib.units import inch
from reportlab.pdfbase.pdfmetrics import stringWidth

from panelmanager.core.people import Contact, GapItem
from panelmanager.core.reports.common import fonts
from panelmanager.core.reports.labels import AVERY_5160, build_labels

DAY = dt.date(2024, 3, 4)
FLU = GapItem("influenza-immunization", "Influenza immunization", "this season's flu shot")


def contact(i: int, **extra) -> Contact:
    values = dict(patient_id=i, mrn=f"M{i:04d}", first_name=f"Pat{i}", last_name="Peña", dob=dt.date(1970, 1, 1),
                  address1=f"{i} Main St", city="Springfield", state="MA", postal_code="01103", gaps=(FLU,))
    values.update(extra)
    return Contact(**values)


def label_lines(page) -> list[tuple[str, float, float, float]]:
    found = []

    def visit(text, cm, tm, _font, size):
        if text.strip():
            found.append((text.strip(), tm[4] + cm[4], tm[5] + cm[5], size * tm[0]))

    page.extract_text(visitor_text=visit)
    return found


def avery_rect(position: int) -> tuple[float, float, float, float]:
    """The published Avery 5160 geometry, computed independently of the code under test."""
    row, column = divmod(position - 1, 3)
    left = (0.1875 + column * (2.625 + 0.125)) * inch
    top = 11 * inch - (0.5 + row * 1.0) * inch
    return left, top - 1.0 * inch, left + 2.625 * inch, top


def test_the_layout_matches_the_avery_5160_specification():
    assert AVERY_5160.per_sheet == 30
    for position in (1, 2, 3, 4, 16, 28, 30):
        assert AVERY_5160.rect(position) == pytest.approx(avery_rect(position))
    # The grid fills the sheet symmetrically: 3/16" margins left and right, 1/2" top and bottom.
    assert AVERY_5160.rect(3)[2] == pytest.approx(8.5 * inch - 0.1875 * inch)
    assert AVERY_5160.rect(30)[1] == pytest.approx(0.5 * inch)


def test_each_label_is_printed_inside_its_label(tmp_path):
    out = tmp_path / "labels.pdf"
    people = [contact(i) for i in range(1, 36)]
    result = build_labels(people, out, on=DAY)
    assert result.items == 35 and result.pages == 2
    reader = PdfReader(str(out))
    assert len(reader.pages) == 2
    assert float(reader.pages[0].mediabox.width) == pytest.approx(612)
    f = fonts()
    for page_number, page in enumerate(reader.pages):
        lines = label_lines(page)
        names = [t for t in lines if t[0].startswith("Pat")]
        assert len(names) == (30 if page_number == 0 else 5)
        for index, (name, x, y, size) in enumerate(names, start=1):
            left, bottom, right, top = avery_rect(index)
            assert left < x and x + stringWidth(name, f.regular, size) < right, name
            assert bottom < y < top, name
            block = [t for t in lines if left <= t[1] <= right and bottom <= t[2] <= top]
            number = name[3:].split()[0]
            assert [t[0] for t in block] == [name, f"{number} Main St", "Springfield, MA 01103"]
            for text, bx, by, bsize in block:
                assert bx + stringWidth(text, f.regular, bsize) <= right - 0.1 * inch
                assert bottom + 0.05 * inch <= by - 0.25 * bsize and by + 0.8 * bsize <= top - 0.05 * inch


def test_a_partly_used_sheet_starts_at_the_given_position(tmp_path):
    out = tmp_path / "labels.pdf"
    result = build_labels([contact(i) for i in range(1, 8)], out, on=DAY, start_position=25)
    assert result.pages == 2
    first, second = (label_lines(p) for p in PdfReader(str(out)).pages)
    names = [t for t in first if t[0].startswith("Pat")]
    assert [t[0] for t in names] == [f"Pat{i} Peña" for i in range(1, 7)]
    left, bottom, right, top = avery_rect(25)
    assert left < names[0][1] < right and bottom < names[0][2] < top
    left, bottom, right, top = avery_rect(1)
    assert [t[0] for t in second][0] == "Pat7 Peña" and left < second[0][1] < right and bottom < second[0][2] < top


def test_long_names_shrink_to_fit_and_children_are_addressed_to_a_parent(tmp_path):
    out = tmp_path / "labels.pdf"
    long_name = contact(1, first_name="Maximiliano Alejandro", last_name="Hernández-Castellanos de la Vega")
    child = contact(2, dob=dt.date(2018, 6, 1), address2="Apartment 4B")
    build_labels([long_name, child], out, on=DAY)
    lines = label_lines(PdfReader(str(out)).pages[0])
    f = fonts()
    for text, x, _y, size in lines:
        column = 0 if x < 2.8 * inch else 1
        right = avery_rect(1 + column)[2]
        assert x + stringWidth(text, f.regular, size) <= right, text
    child_lines = [t[0] for t in lines if t[1] > 2.8 * inch]
    assert child_lines == ["To the parent or guardian of", "Pat2 Peña", "2 Main St", "Apartment 4B",
                           "Springfield, MA 01103"]


def test_patients_without_an_address_get_no_label(tmp_path):
    out = tmp_path / "labels.pdf"
    result = build_labels([contact(1), contact(2, address1=None), contact(3, postal_code="x")], out, on=DAY)
    assert result.items == 1
    assert [(mrn, reason) for _p, mrn, _n, reason in result.skipped] == [
        ("M0002", "no street address"), ("M0003", "ZIP code 'x' is not valid")
    ]
    assert list(result.pairs["patient_id"]) == [1]


def test_the_start_position_must_be_on_the_sheet(tmp_path):
    with pytest.raises(ValueError, match="1-30"):
        build_labels([contact(1)], tmp_path / "labels.pdf", on=DAY, start_position=31)


@pytest.mark.parametrize(("count", "start", "sheets"), [(540, 1, 18), (30, 1, 1), (31, 1, 2), (6, 25, 1), (7, 25, 2)])
def test_full_sheets_make_exactly_that_many_pages(tmp_path, count, start, sheets):
    out = tmp_path / "labels.pdf"
    result = build_labels([contact(i) for i in range(1, count + 1)], out, on=DAY, start_position=start)
    assert result.items == count and result.pages == sheets
    assert len(PdfReader(str(out)).pages) == sheets  # "540 labels on 18 sheets": no blank 19th page
