"""Mailing labels on Avery 5160 sheets (and any other grid of labels described by a ``LabelLayout``).

Avery 5160 / 8160 / 5260: 30 labels a sheet, 3 across and 10 down, each 2 5/8" x 1",
0.5" top margin, 3/16" side margins and a 1/8" gap between columns (Avery's template
specification). ``start_position`` (1-30, counted across then down) skips the labels
already peeled off a partly used first sheet.

The name and address on a label are the same lines the letter shows through the window
(a child's label says "To the parent or guardian of"), shrunk to fit rather than cut.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reportlab.lib.units import inch
from reportlab.pdfgen import canvas as rl_canvas

from panelmanager.core.documents import DocumentResult, contact_pairs
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress
from panelmanager.core.people import Contact
from panelmanager.core.reports.common import (
    INK,
    FontSet,
    Output,
    TextMeasurer,
    fonts,
    pdf_text,
    target,
)
from panelmanager.core.reports.letters import LetterTemplate, letter_language, mailing_lines, mailing_problem

__all__ = ["AVERY_5160", "LabelLayout", "build_labels"]


@dataclass(frozen=True)
class LabelLayout:
    """A sheet of equal labels; all lengths in inches."""

    name: str = "Avery 5160"
    page_width: float = 8.5
    page_height: float = 11.0
    columns: int = 3
    rows: int = 10
    label_width: float = 2.625
    label_height: float = 1.0
    top_margin: float = 0.5
    side_margin: float = 0.1875
    column_gap: float = 0.125
    row_gap: float = 0.0
    padding: float = 0.12  # kept clear inside each label edge

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows

    def rect(self, position: int) -> tuple[float, float, float, float]:
        """Label ``position`` (1-based, across then down) as PDF points (x0, y0, x1, y1), origin bottom-left."""
        if not 1 <= position <= self.per_sheet:
            raise ValueError(f"label position must be 1-{self.per_sheet} on a {self.name} sheet (got {position}).")
        row, column = divmod(position - 1, self.columns)
        x0 = (self.side_margin + column * (self.label_width + self.column_gap)) * inch
        top = (self.top_margin + row * (self.label_height + self.row_gap)) * inch
        y1 = self.page_height * inch - top
        return x0, y1 - self.label_height * inch, x0 + self.label_width * inch, y1


AVERY_5160 = LabelLayout()


def build_labels(
    contacts: Sequence[Contact],
    out: Output,
    *,
    on: dt.date,
    start_position: int = 1,
    layout: LabelLayout = AVERY_5160,
    templates: Mapping[str, LetterTemplate] | None = None,
    language: str | None = None,
    fontset: FontSet | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> DocumentResult:
    """One label per contact with a usable address, from ``start_position`` on the first sheet.

    ``on`` is the mailing date (it decides who is a child). Contacts without a usable
    address are returned in ``skipped`` with the reason.
    """
    progress = progress or no_progress
    cancel = cancel or NEVER_CANCELLED
    if not 1 <= start_position <= layout.per_sheet:
        raise ValueError(
            f"the start position must be 1-{layout.per_sheet} on a {layout.name} sheet (got {start_position})."
        )
    if templates is None:
        from panelmanager.core.reports.letters import load_letter_templates

        templates = load_letter_templates()
    f = fontset or fonts()
    m = TextMeasurer()
    c = rl_canvas.Canvas(target(out), pagesize=(layout.page_width * inch, layout.page_height * inch), pageCompression=1,
                         invariant=1)
    c.setTitle(f"Mailing labels ({layout.name})")
    c.setSubject("Contains protected health information")
    result = DocumentResult(kind="labels")
    position = start_position
    pad = layout.padding * inch
    total = len(contacts)
    step = max(1, total // 100)
    page_used = False
    labelled: list[Contact] = []
    for index, contact in enumerate(contacts):
        if index % step == 0:
            cancel.raise_if_cancelled()
            progress(index, total, "Writing labels")
        problem = mailing_problem(contact)
        if problem is not None:
            result.skipped.append((contact.patient_id, contact.mrn, contact.list_name, problem))
            continue
        lang = language or letter_language(contact.preferred_language, templates)
        lines = [pdf_text(line, f) for line in mailing_lines(contact, on, templates.get(lang))]
        x0, y0, x1, y1 = layout.rect(position)
        width = x1 - x0 - 2 * pad
        height = y1 - y0 - 2 * pad
        leading = min(12.0, height / (len(lines) + 0.15))
        size = min(10.0, leading * 0.86)
        # Center the block vertically so small misfeeds do not cut a line.
        block = (len(lines) - 1) * leading + size
        y = y1 - pad - (height - block) / 2 - size * 0.8
        if not page_used:
            # Set per used page, never right after showPage: reportlab's save() would add a blank page.
            c.setFillColorRGB(*INK)
        for line in lines:
            fitted = m.fit(line, f.regular, size, width, min_size=6.0)
            c.setFont(f.regular, fitted)
            c.drawString(x0 + pad, y, m.clip(line, f.regular, fitted, width))
            y -= leading
        page_used = True
        labelled.append(contact)
        result.items += 1
        result.patients += 1
        position += 1
        if position > layout.per_sheet:
            c.showPage()
            result.pages += 1
            position = 1
            page_used = False
    if page_used or result.items == 0:
        if result.items == 0:
            c.setFillColorRGB(*INK)
            c.setFont(f.regular, 11)
            c.drawString(inch, layout.page_height * inch - 2 * inch,
                         "No labels: no patient on this list has a usable mailing address.")
        c.showPage()
        result.pages += 1
    progress(total, total, "Saving labels")
    c.save()
    result.pairs = contact_pairs(labelled)
    return result
