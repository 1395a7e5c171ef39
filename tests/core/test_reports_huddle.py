"""The huddle sheet PDF: what a provider sees at the morning huddle."""

from __future__ import annotations

import datetime as dt

import pytest
from pypdf import PdfReader

from panelmanager.core.huddle import HuddleGap, HuddleRow, HuddleSection, HuddleSheet
from panelmanager.core.reports.huddle import age_text, build_huddle_sheet, clock

DAY = dt.date(2024, 3, 4)


def row(i: int, hour: int, minute: int, name: str, *, flag: str = "", gaps=(), pcp="Ana Alvarez, MD",
        dob=dt.date(1960, 1, 1), tier: int | None = 2) -> HuddleRow:
    return HuddleRow(
        visit_id=i, start=dt.datetime(2024, 3, 4, hour, minute), patient_id=i, mrn=f"M{i:04d}", name=name, dob=dob,
        age=None, sex="F", visit_type="Follow-up", visit_status="scheduled", pcp_id=1 if pcp else None, pcp_name=pcp,
        pcp_flag=flag, risk_tier=tier, risk_label={1: "Low", 2: "Rising", 3: "High", 4: "Complex"}.get(tier),
        gaps=tuple(HuddleGap(m, m, text, "open") for m, text in gaps),
    )


def test_one_provider_sheet_lists_patients_in_time_order_with_gaps_and_flags(tmp_path):
    rows = [
        row(1, 8, 0, "García, María", gaps=[("diabetes-a1c-poor-control", "A1c 9.8% (2023-08-14)"),
                                           ("colorectal-cancer-screening", "Colorectal screen (none on record)")]),
        row(2, 8, 20, "Smith, John", flag="other", pcp="Ben Brown, NP"),
        row(3, 9, 40, "Lee, Ann", flag="unconfirmed", tier=4),
        row(4, 13, 0, "Kim, Jun", flag="none", pcp=None, dob=dt.date(2023, 7, 1), tier=None),
    ]
    sheet = HuddleSheet(DAY, [HuddleSection(1, "Ana Alvarez, MD", rows)], practice_name="Riverside Health")
    out = tmp_path / "huddle.pdf"
    result = build_huddle_sheet(sheet, out)
    reader = PdfReader(str(out))
    assert result.pages == len(reader.pages) == 1
    page = reader.pages[0]
    assert float(page.mediabox.width) == pytest.approx(792) and float(page.mediabox.height) == pytest.approx(612)
    text = page.extract_text()
    for expected in ("Riverside Health", "Ana Alvarez, MD", "Monday, March 4, 2024", "Confidential: contains PHI",
                     "Page 1 of 1", "Time", "Open gaps (tick when addressed)", "Notes", "A1c 9.8% (2023-08-14)",
                     "Colorectal screen (none on record)", "Other PCP", "Ben Brown, NP", "Unconfirmed", "No PCP",
                     "Complex", "8 mo/F", "64/F", "1:00 PM", "MRN M0002", "No open gaps"):
        assert expected in text, expected
    order = [text.index(name) for name in ("García, María", "Smith, John", "Lee, Ann", "Kim, Jun")]
    assert order == sorted(order)


def test_a_long_day_repeats_the_column_headings_and_numbers_pages(tmp_path):
    rows = [row(i, 7 + i // 6, (i % 6) * 10, f"Patient{i:03d}, Test",
                gaps=[("m1", f"Gap one for {i}"), ("m2", "Gap two")]) for i in range(40)]
    sheet = HuddleSheet(DAY, [HuddleSection(1, "Ana Alvarez, MD", rows)], practice_name="Riverside")
    out = tmp_path / "huddle.pdf"
    build_huddle_sheet(sheet, out)
    pages = [p.extract_text() for p in PdfReader(str(out)).pages]
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert "Open gaps (tick when addressed)" in text  # the heading row repeats
        assert f"Page {number} of {len(pages)}" in text
        assert "Confidential: contains PHI" in text
    everyone = "".join(pages)
    assert all(f"Patient{i:03d}, Test" in everyone for i in range(40))


def test_all_providers_each_start_on_a_new_page_with_their_own_page_count(tmp_path):
    many = [row(i, 8, i, f"Alpha{i:02d}, Pat") for i in range(30)]
    few = [row(100, 9, 0, "Beta, Pat")]
    sheet = HuddleSheet(DAY, [HuddleSection(1, "Ana Alvarez, MD", many), HuddleSection(2, "Ben Brown, NP", few)],
                        practice_name="Riverside")
    out = tmp_path / "huddle.pdf"
    build_huddle_sheet(sheet, out)
    pages = [p.extract_text() for p in PdfReader(str(out)).pages]
    ana = [t for t in pages if "Huddle sheet · Ana Alvarez, MD" in t]
    ben = [t for t in pages if "Huddle sheet · Ben Brown, NP" in t]
    assert len(ana) + len(ben) == len(pages) and len(ben) == 1 and len(ana) >= 2
    assert f"Page {len(ana)} of {len(ana)}" in ana[-1]
    assert "Page 1 of 1" in ben[0] and "Beta, Pat" in ben[0] and "Alpha" not in ben[0]
    assert pages.index(ben[0]) == len(pages) - 1


def test_a_day_without_visits_still_prints_a_page(tmp_path):
    out = tmp_path / "huddle.pdf"
    build_huddle_sheet(HuddleSheet(DAY, [HuddleSection(1, "Ana Alvarez, MD", [])], practice_name="R"), out)
    text = PdfReader(str(out)).pages[0].extract_text()
    assert "No visits on the schedule" in text and "Page 1 of 1" in text


def test_times_and_ages_read_the_way_staff_say_them():
    assert clock(dt.datetime(2024, 3, 4, 8, 5)) == "8:05 AM"
    assert clock(dt.datetime(2024, 3, 4, 12, 30)) == "12:30 PM"
    assert clock(dt.datetime(2024, 3, 4, 0, 15)) == "12:15 AM"
    assert age_text(dt.date(2023, 7, 15), DAY) == "7 mo"
    assert age_text(dt.date(2022, 3, 4), DAY) == "2"
    assert age_text(None, DAY) == ""
