"""Call lists: who to phone about which gaps, as a PDF to work from on paper, or CSV / XLSX.

One row per patient: name, MRN, age, phone numbers, language, best time to call if
known, the open gaps in short form, the last outreach, the next appointment and the
PCP. The PDF adds an outcome column with the outreach log's outcome codes to circle and
room for notes, so results can be keyed back in with ``panelmanager outreach-log``.
Patients without any phone number are left off and returned in ``skipped``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd
from reportlab.platypus import Paragraph

from panelmanager.core.documents import DocumentResult, contact_pairs
from panelmanager.core.people import Contact, age_on, iso, language_name, long_date
from panelmanager.core.reports.common import (
    FontSet,
    Letterhead,
    Output,
    build_list_pdf,
    fonts,
    list_styles,
    list_table,
    pdf_text,
    section_marker,
)
from panelmanager.core.safe_export import write_csv, write_xlsx

__all__ = ["CALL_LIST_COLUMNS", "build_call_list_pdf", "call_list_frame", "write_call_list"]

CALL_LIST_COLUMNS = [
    "Name", "MRN", "DOB", "Age", "Mobile phone", "Home phone", "Work phone", "Language", "Best time", "Open gaps",
    "Last outreach", "Next appointment", "PCP",
]
OUTCOME_CODES = (("R", "reached"), ("LM", "left message"), ("S", "scheduled"), ("D", "declined"),
                 ("WN", "wrong number"), ("NA", "no answer"))


def _reachable(contacts: Sequence[Contact]) -> tuple[list[Contact], list[tuple[int, str, str, str]]]:
    keep, skipped = [], []
    for c in contacts:
        if c.phones():
            keep.append(c)
        else:
            skipped.append((c.patient_id, c.mrn, c.list_name, "no phone number"))
    return keep, skipped


def call_list_frame(contacts: Sequence[Contact], *, on: dt.date) -> pd.DataFrame:
    """The call list as a table (columns ``CALL_LIST_COLUMNS``), one row per patient with a phone."""
    keep, _skipped = _reachable(contacts)
    rows = []
    for c in keep:
        rows.append(
            {
                "Name": c.list_name,
                "MRN": c.mrn,
                "DOB": iso(c.dob),
                "Age": age_on(c.dob, on) if c.dob else None,
                "Mobile phone": c.phone_mobile or "",
                "Home phone": c.phone_home or "",
                "Work phone": c.phone_work or "",
                "Language": language_name(c.preferred_language),
                "Best time": c.best_time or "",
                "Open gaps": "; ".join(g.short or g.title for g in c.gaps),
                "Last outreach": c.last_outreach or "",
                "Next appointment": iso(c.next_appointment),
                "PCP": c.provider_name or "",
            }
        )
    frame = pd.DataFrame(rows, columns=CALL_LIST_COLUMNS)
    frame["Age"] = frame["Age"].astype("Int64")
    return frame


def write_call_list(
    contacts: Sequence[Contact],
    out: str | Path,
    *,
    on: dt.date,
    title: str = "Call list",
    letterhead: Letterhead | None = None,
) -> DocumentResult:
    """Write the call list to ``out``: ``.csv``, ``.xlsx`` or ``.pdf`` by its extension."""
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return build_call_list_pdf(contacts, path, on=on, title=title, letterhead=letterhead)
    if suffix not in (".csv", ".xlsx"):
        raise ValueError(f"{path.name}: a call list is written as .csv, .xlsx or .pdf.")
    keep, skipped = _reachable(contacts)
    frame = call_list_frame(keep, on=on)
    if suffix == ".csv":
        # utf-8-sig so Excel shows accented names correctly when the file is opened directly.
        write_csv(path, CALL_LIST_COLUMNS, frame.itertuples(index=False, name=None), encoding="utf-8-sig")
    else:
        write_xlsx(path, CALL_LIST_COLUMNS, frame.itertuples(index=False, name=None), sheet_name="Call list",
                   widths=(24, 12, 11, 5, 15, 15, 15, 10, 10, 60, 28, 16, 24))
    return DocumentResult(kind="call-list", pages=0, items=len(frame), patients=len(frame), skipped=skipped,
                          pairs=contact_pairs(keep))


def build_call_list_pdf(
    contacts: Sequence[Contact],
    out: Output,
    *,
    on: dt.date,
    title: str = "Call list",
    letterhead: Letterhead | None = None,
    fontset: FontSet | None = None,
) -> DocumentResult:
    """The call list as a landscape PDF with outcome codes to circle and room for notes."""
    f = fontset or fonts()
    keep, skipped = _reachable(contacts)
    practice = letterhead.practice_name if letterhead else ""
    st = list_styles(f)
    base, head, big, note = st.base, st.head, st.big, st.note

    def x(text) -> str:
        return escape(pdf_text(text, f))

    legend = " · ".join(f"<b>{code}</b> {x(meaning)}" for code, meaning in OUTCOME_CODES)
    story: list = [
        section_marker(title),
        Paragraph(x(title), big),
        Paragraph(
            x(f"{long_date(on)} · {len(keep)} patient{'s' if len(keep) != 1 else ''} to call")
            + f"<br/>Outcome: {legend}",
            note,
        ),
    ]
    columns = (("Patient", 112), ("Phone", 106), ("Language", 56), ("Best time", 52), ("Open gaps", 134),
               ("Last outreach", 84), ("PCP", 72), ("Outcome (circle)", 56), ("Notes", 62.4))
    data: list[list] = [[Paragraph(x(name), head) for name, _w in columns]]
    codes = " ".join(code for code, _m in OUTCOME_CODES)
    for c in keep:
        age = age_on(c.dob, on) if c.dob else None
        who = f"<b>{x(c.list_name)}</b><br/><font size=7.5 color='#555555'>MRN {x(c.mrn)}"
        who += f" · {age}" if age is not None else ""
        who += f"/{x(c.sex)}" if c.sex else ""
        who += "</font>"
        phones = "<br/>".join(x(p) for p in c.phones())
        gaps = "<br/>".join(x(g.short or g.title) for g in c.gaps)
        data.append(
            [
                Paragraph(who, base),
                Paragraph(phones, base),
                Paragraph(x(language_name(c.preferred_language)), base),
                Paragraph(x(c.best_time or ""), base),
                Paragraph(gaps, base),
                Paragraph(x(c.last_outreach or ""), base),
                Paragraph(x(c.provider_name or ""), base),
                Paragraph(f"<font size=7.5>{codes}</font>", base),
                "",
            ]
        )
    if len(data) == 1:
        story.append(Paragraph(x("Nobody on this list has a phone number."), base))
    else:
        story.append(list_table(data, [w for _n, w in columns], bottom_padding=5))
    pages = build_list_pdf(out, story, title=title, practice=practice, fontset=f,
                           right_title=lambda _section: f"{title} · {iso(on)}")
    return DocumentResult(kind="call-list", pages=pages, items=len(keep), patients=len(keep), skipped=skipped,
                          pairs=contact_pairs(keep))
