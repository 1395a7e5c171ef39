"""The huddle sheet: one page (or more) per provider for the morning huddle.

Landscape Letter. Each provider's section starts on a new page with the provider and
date; the table lists the day's patients in time order (time, name and MRN, age/sex,
visit type, PCP with a flag when it is another provider, unconfirmed or missing, risk
tier, and each open gap with a tick box for "addressed"), with room for notes. The
column headings repeat on every page; every page says "Page x of y" (counted per
provider) and "Confidential: contains PHI".
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import (
    Flowable,
    PageBreak,
    Paragraph,
    Spacer,
)

from panelmanager.core.documents import DocumentResult
from panelmanager.core.huddle import PCP_FLAGS, HuddleSheet
from panelmanager.core.people import long_date
from panelmanager.core.reports.common import (
    FontSet,
    Output,
    build_list_pdf,
    fonts,
    list_table,
    pdf_text,
    section_marker,
)

__all__ = ["build_huddle_sheet", "TickItem", "clock"]

# Column widths in points; they add up to the landscape frame width (792 - 2 x 28.8).
_COLUMNS = (
    ("Time", 50),
    ("Patient", 122),
    ("Age/Sex", 48),
    ("Visit type", 76),
    ("PCP", 96),
    ("Risk", 44),
    ("Open gaps (tick when addressed)", 202),
    ("Notes", 96.4),
)
_FLAG_COLOURS = {"other": "#b00020", "none": "#b00020", "unconfirmed": "#a85a00"}


def clock(when) -> str:
    """``8:30 AM``."""
    hour = when.hour % 12 or 12
    return f"{hour}:{when.minute:02d} {'AM' if when.hour < 12 else 'PM'}"


class TickItem(Flowable):
    """A tick box followed by wrapped text (one open gap)."""

    def __init__(self, paragraph: Paragraph, box: float = 7.0, gap: float = 4.0) -> None:
        super().__init__()
        self.paragraph = paragraph
        self.box = box
        self.indent = box + gap
        self._text_height = 0.0

    def wrap(self, availWidth, availHeight):  # noqa: N803 (reportlab's names)
        _w, h = self.paragraph.wrap(availWidth - self.indent, availHeight)
        self._text_height = h
        self.height = max(h, self.box + 1)
        self.width = availWidth
        return availWidth, self.height + 2

    def draw(self) -> None:
        c = self.canv
        top = self.height + 2
        c.saveState()
        c.setLineWidth(0.7)
        c.setStrokeColorRGB(0.2, 0.2, 0.2)
        c.rect(0, top - self.box - 2.5, self.box, self.box)
        c.restoreState()
        self.paragraph.drawOn(c, self.indent, top - self._text_height)


def _styles(f: FontSet) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("cell", fontName=f.regular, fontSize=8.5, leading=10.2, textColor=colors.HexColor("#1f1f1f"))
    return {
        "cell": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9, textColor=colors.HexColor("#555555")),
        "head": ParagraphStyle("head", parent=base, fontName=f.bold, textColor=colors.white),
        "title": ParagraphStyle("title", parent=base, fontName=f.bold, fontSize=15, leading=18, spaceAfter=2),
        "summary": ParagraphStyle("summary", parent=base, fontSize=9, leading=12, spaceAfter=8,
                                  textColor=colors.HexColor("#444444")),
        "gap": ParagraphStyle("gap", parent=base, fontSize=8.3, leading=9.8),
        "none": ParagraphStyle("none", parent=base, textColor=colors.HexColor("#777777")),
        "absent": ParagraphStyle("absent", parent=base, fontSize=8.5, leading=10.5, spaceAfter=4,
                                 textColor=colors.HexColor("#8a4b00")),
    }


def _x(text, f: FontSet) -> str:
    return escape(pdf_text(text, f))


def age_text(dob, day) -> str:
    """Whole years, or months under two (``8 mo``), as clinicians say it."""
    if dob is None:
        return ""
    months = (day.year - dob.year) * 12 + day.month - dob.month - (day.day < dob.day)
    if months < 24:
        return f"{max(months, 0)} mo"
    return str(months // 12)


def _section_story(section, day, f: FontSet, st: dict[str, ParagraphStyle], absent: tuple[str, ...] = ()) -> list:
    sheet_day = day
    story: list = [section_marker(section.provider_name)]
    story.append(Paragraph(_x(f"{section.provider_name}", f), st["title"]))
    flags = [r.pcp_flag for r in section.rows]
    gaps = sum(len(r.gaps) for r in section.rows)
    summary = f"{long_date(day, weekday=True)} · {len(section.rows)} patient{'s' if len(section.rows) != 1 else ''}"
    summary += f" · {gaps} open gap{'s' if gaps != 1 else ''}"
    other, unconfirmed, none = flags.count("other"), flags.count("unconfirmed"), flags.count("none")
    if other or unconfirmed or none:
        summary += f" · PCP to check: {other} other, {unconfirmed} unconfirmed, {none} none"
    story.append(Paragraph(_x(summary, f), st["summary"]))
    for message in absent:  # a measure with no data imported at all: not the patients' gaps
        story.append(Paragraph(f"<b>{_x('Not listed', f)}:</b> {_x(message, f)}", st["absent"]))
    if not section.rows:
        story.append(Paragraph(_x("No visits on the schedule for this day.", f), st["cell"]))
        return story

    data: list[list] = [[Paragraph(_x(title, f), st["head"]) for title, _w in _COLUMNS]]
    for r in section.rows:
        patient = Paragraph(f"<b>{_x(r.name, f)}</b><br/><font size=7.5 color='#555555'>MRN {_x(r.mrn, f)}</font>",
                            st["cell"])
        age_sex = f"{age_text(r.dob, sheet_day)}{'/' if r.sex else ''}{r.sex}"
        pcp_text = _x(r.pcp_name or "", f)
        if r.pcp_flag:
            colour = _FLAG_COLOURS.get(r.pcp_flag, "#b00020")
            label = _x(PCP_FLAGS[r.pcp_flag], f)
            pcp_text = f"{pcp_text}<br/>" if pcp_text else ""
            pcp_text += f"<font color='{colour}'><b>&#9873; {label}</b></font>" if f.unicode else \
                f"<font color='{colour}'><b>! {label}</b></font>"
        risk = ""
        if r.risk_tier is not None:
            risk = f"<b>{r.risk_tier}</b><br/><font size=7>{_x(r.risk_label or '', f)}</font>"
        if r.gaps:
            gap_cell = [TickItem(Paragraph(_x(g.text, f), st["gap"])) for g in r.gaps]
        else:
            gap_cell = Paragraph(_x("No open gaps", f), st["none"])
        data.append(
            [
                pdf_text(clock(r.start), f),
                patient,
                pdf_text(age_sex, f),
                Paragraph(_x(r.visit_type, f), st["cell"]),
                Paragraph(pcp_text, st["cell"]),
                Paragraph(risk, st["cell"]) if risk else "-",
                gap_cell,
                Spacer(1, 26),
            ]
        )
    story.append(
        list_table(data, [w for _t, w in _COLUMNS], bottom_padding=3, extra_style=[("FONT", (0, 0), (-1, -1), f.regular, 8.5)])
    )
    return story


def build_huddle_sheet(sheet: HuddleSheet, out: Output, *, fontset: FontSet | None = None) -> DocumentResult:
    """Write the huddle sheet PDF to ``out`` (a path or a binary file object)."""
    f = fontset or fonts()
    st = _styles(f)
    day_text = long_date(sheet.day, weekday=True)
    practice = sheet.practice_name or ""
    story: list = []
    sections = sheet.sections or []
    if not sections:
        story.append(section_marker("No visits"))
        story.append(Paragraph(_x(f"No visits on the schedule for {day_text}.", f), st["title"]))
    for index, section in enumerate(sections):
        if index:
            story.append(PageBreak())
        story.extend(_section_story(section, sheet.day, f, st, tuple(getattr(sheet, "source_data_absent", ()) or ())))
    pages = build_list_pdf(out, story, title=f"Huddle sheet {sheet.day.isoformat()}", practice=practice, fontset=f,
                           right_title=lambda section: f"Huddle sheet · {section or ''} · {day_text}",
                           template_id="huddle", frame_id="body")
    result = DocumentResult(kind="huddle", pages=pages, items=sheet.patients,
                            patients=len({r.patient_id for s in sections for r in s.rows}))
    return result
