"""Outreach letters: one per patient (or per patient and gap), from templates a manager can edit.

Templates live in ``resources/letters/<language>.toml`` (``en``, ``es``; any other
language code a practice adds works the same way). A patient gets the template of their
preferred language, or English when there is none. Placeholders ({patient_name},
{provider}, {gaps}...) are checked when the file is loaded; a mistake names the file
and the line.

The address block sits where a #10 window envelope shows it (``EnvelopeWindow``; the
practice can move it in Settings after printing ``build_calibration_page``). Patients
without a usable mailing address get no letter and are returned in ``skipped`` with the
reason, so the caller can list them.

Every letter of a run is a page (or two) of one PDF drawn straight onto one canvas, the
letterhead drawn once and reused as a form: 5,000 letters take seconds.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
from reportlab.lib.units import inch
from reportlab.pdfgen import canvas as rl_canvas

from panelmanager.core.documents import DocumentResult
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress
from panelmanager.core.letter_templates import (
    ADULT_AGE,
    DEFAULT_WINDOW,
    WINDOW_PADDING_IN,
    EnvelopeWindow,
    LetterError,
    LetterTemplate,
    letter_language,
    load_letter_templates,
)
from panelmanager.core.people import Contact, GapItem, age_on, long_date, mailing_problem
from panelmanager.core.people import clean_text as _text
from panelmanager.core.reports.common import (
    GREY,
    INK,
    LETTER_PORTRAIT,
    RULE,
    FontSet,
    Letterhead,
    Output,
    TextMeasurer,
    fit_image,
    fonts,
    image_reader,
    pdf_text,
    target,
)

__all__ = [
    "DEFAULT_WINDOW",
    "EnvelopeWindow",
    "LetterBatch",
    "LetterError",
    "LetterTemplate",
    "build_calibration_page",
    "build_letters",
    "letter_language",
    "load_letter_templates",
    "mailing_lines",
    "mailing_problem",
]

def is_minor(contact: Contact, on: dt.date) -> bool:
    age = age_on(contact.dob, on) if contact.dob is not None and not pd.isna(contact.dob) else None
    return age is not None and age < ADULT_AGE


def mailing_lines(contact: Contact, on: dt.date, template: LetterTemplate | None = None) -> list[str]:
    """The address block: (parent line for a child), name, street, (second line), city state ZIP."""
    lines = []
    if template is not None and is_minor(contact, on) and template.letter.get("address_minor"):
        lines.append(template.letter["address_minor"])
    lines.append(contact.name)
    lines.append(_text(contact.address1))
    if _text(contact.address2):
        lines.append(_text(contact.address2))
    lines.append(f"{_text(contact.city)}, {_text(contact.state)} {_text(contact.postal_code)}".strip())
    return lines


# --------------------------------------------------------------------------- drawing

_MARGIN_X = 1.0 * inch
_PAGE_W, _PAGE_H = LETTER_PORTRAIT
_TEXT_W = _PAGE_W - 2 * _MARGIN_X
_BOTTOM = 0.9 * inch
_BODY_SIZE, _BODY_LEADING = 11.0, 14.5
_PARA_GAP = 7.0
_CONTINUED_TOP = _PAGE_H - 1.0 * inch


@dataclass
class LetterBatch(DocumentResult):
    """A run of letters: how many, in which languages; ``pairs`` are the (patient, measure) pairs mailed."""

    letters: int = 0
    languages: Counter = field(default_factory=Counter)


class _LetterWriter:
    """Draws letters onto one canvas.

    Each letter is laid out first as a list of drawing operations. The part after the
    greeting is the same for every patient with the same language, gaps and signer, so
    it is drawn once into a PDF form and reused: a run of 5,000 letters draws a few
    dozen distinct bodies, not 5,000.
    """

    def __init__(self, canv, letterhead: Letterhead, window: EnvelopeWindow, fontset: FontSet) -> None:
        self.c = canv
        self.head = letterhead
        self.window = window
        self.f = fontset
        self.m = TextMeasurer()
        self.signature = image_reader(letterhead.signature_path) if letterhead.signer_name else None
        self._font: tuple[str, float] | None = None
        self._forms: dict[tuple, str] = {}
        self._letterhead_form = self._make_letterhead_form()

    # -- primitives
    def font(self, name: str, size: float) -> None:
        if self._font != (name, size):
            self.c.setFont(name, size)
            self._font = (name, size)

    def new_page(self) -> None:
        self.c.showPage()
        self._font = None

    def _make_letterhead_form(self) -> str:
        c, f, head = self.c, self.f, self.head
        name = "letterhead"
        c.beginForm(name)
        top = _PAGE_H - 0.55 * inch
        logo = image_reader(head.logo_path)
        right = _PAGE_W - _MARGIN_X
        c.setFillColorRGB(*INK)
        if logo is not None:
            w, h = fit_image(logo, 2.2 * inch, 0.85 * inch)
            c.drawImage(logo, _MARGIN_X, top - h, w, h, mask="auto")
            align_right = True
        else:
            align_right = False
        y = top - 14
        size = self.m.fit(pdf_text(head.practice_name, f), f.bold, 15, _TEXT_W * (0.6 if logo else 1.0))
        c.setFont(f.bold, size)
        draw = c.drawRightString if align_right else c.drawString
        x = right if align_right else _MARGIN_X
        draw(x, y, pdf_text(head.practice_name, f))
        c.setFont(f.regular, 9)
        c.setFillColorRGB(*GREY)
        y -= 13
        for line in head.address_lines:
            draw(x, y, pdf_text(line, f))
            y -= 11
        if head.phone:
            draw(x, y, pdf_text(f"Phone {head.phone}", f))
        c.setStrokeColorRGB(*RULE)
        c.setLineWidth(0.6)
        rule_y = _PAGE_H - 1.62 * inch
        c.line(_MARGIN_X, rule_y, right, rule_y)
        c.endForm()
        return name

    # -- layout: ("text", font, size, x, y, line) / ("image", x, y, w, h) / ("page",)
    def _wrap_ops(self, ops: list, text: str, x: float, y: float, width: float, font: str, size: float,
                  leading: float) -> float:
        for line in self.m.wrap(text, font, size, width):
            if y < _BOTTOM:
                ops.append(("page",))
                y = _CONTINUED_TOP
            ops.append(("text", font, size, x, y, line))
            y -= leading
        return y

    def _draw_ops(self, ops: Sequence[tuple]) -> None:
        c = self.c
        for op in ops:
            kind = op[0]
            if kind == "text":
                _, font, size, x, y, line = op
                self.font(font, size)
                c.drawString(x, y, line)
            elif kind == "image":
                _, x, y, w, h = op
                c.drawImage(self.signature, x, y, w, h, mask="auto")
            else:
                self.continuation_page()

    def continuation_page(self) -> None:
        self.new_page()
        self.font(self.f.regular, 9)
        self.c.setFillColorRGB(*GREY)
        self.c.drawString(_MARGIN_X, _PAGE_H - 0.6 * inch, self._continued)
        self.c.setFillColorRGB(*INK)

    # -- one letter
    def letter(
        self,
        contact: Contact,
        gaps: Sequence[GapItem],
        template: LetterTemplate,
        day: dt.date,
        single: bool,
    ) -> int:
        c, f = self.c, self.f
        minor = is_minor(contact, day)
        values = {
            "patient_name": contact.name,
            "first_name": _text(contact.first_name) or contact.name,
            "last_name": _text(contact.last_name),
            "provider": _text(contact.provider_name) or self.head.practice_name,
            "practice": self.head.practice_name,
            "phone": self.head.phone or "",
            "date": long_date(day, template.language),
            "gaps": "{gaps}",
            "gap": template.phrase(gaps[0]) if gaps else "",
            "gap_paragraph": "",
            "gap_list": "; ".join(template.phrase(g) for g in gaps),
        }
        if gaps:
            values["gap_paragraph"] = template.paragraph(gaps[0].measure_id).format_map(values)
        self._continued = pdf_text(f"{contact.name} - {values['date']} (2)", f)
        start_page = c.getPageNumber()
        c.doForm(self._letterhead_form)
        c.setFillColorRGB(*INK)
        self._font = None

        # Address block inside the envelope window.
        x0, y0, x1, y1 = self.window.rect(_PAGE_H)
        pad = WINDOW_PADDING_IN * inch
        block = [pdf_text(line, f) for line in mailing_lines(contact, day, template)]
        size = 10.5 if len(block) <= 4 else 10.0
        leading = size + 2
        y = y1 - pad - size
        self.font(f.regular, size)
        for line in block:
            c.drawString(x0 + pad, y, self.m.clip(line, f.regular, size, x1 - x0 - 2 * pad))
            y -= leading

        # Date and reference on the right, outside the window.
        self.font(f.regular, 10.5)
        date_y = y1 - pad - 10.5
        c.drawRightString(_PAGE_W - _MARGIN_X, date_y, pdf_text(values["date"], f))
        self.font(f.regular, 8)
        c.setFillColorRGB(*GREY)
        c.drawRightString(_PAGE_W - _MARGIN_X, date_y - 13, pdf_text(f"Ref. {contact.mrn}", f))
        c.setFillColorRGB(*INK)

        # Subject and greeting (they name the patient), then the body (often shared).
        head_ops: list = []
        y = y0 - 0.42 * inch
        subject = template.text("subject").format_map(values)
        y = self._wrap_ops(head_ops, pdf_text(subject, f), _MARGIN_X, y, _TEXT_W, f.bold, _BODY_SIZE, _BODY_LEADING)
        y -= _PARA_GAP + 2
        greeting = template.text("greeting", minor).format_map(values)
        y = self._wrap_ops(head_ops, pdf_text(greeting, f), _MARGIN_X, y, _TEXT_W, f.regular, _BODY_SIZE,
                           _BODY_LEADING)
        y -= _PARA_GAP
        self._draw_ops(head_ops)

        body_ops = self._body_ops(contact, gaps, template, values, minor, single, y)
        if any(op[0] == "page" for op in body_ops):
            self._draw_ops(body_ops)  # a long letter: drawn as it is, over two pages
        else:
            key = tuple(body_ops)
            name = self._forms.get(key)
            if name is None:
                name = f"body{len(self._forms)}"
                c.beginForm(name)
                self._font = None
                c.setFillColorRGB(*INK)
                self._draw_ops(body_ops)
                c.endForm()
                self._forms[key] = name
            c.doForm(name)
        self.new_page()
        return c.getPageNumber() - start_page

    def _body_ops(self, contact: Contact, gaps: Sequence[GapItem], template: LetterTemplate, values: dict,
                  minor: bool, single: bool, y: float) -> list:
        f = self.f
        ops: list = []
        body_key = "single_body" if single and template.letter.get("single_body") else "body"
        body = template.text(body_key, minor).format_map(values)
        for paragraph in re.split(r"\n\s*\n", body.strip()):
            paragraph = " ".join(paragraph.split())
            if not paragraph:
                continue
            if paragraph == "{gaps}":
                y = self._gap_ops(ops, gaps, template, values, y)
                continue
            y = self._wrap_ops(ops, pdf_text(paragraph, f), _MARGIN_X, y, _TEXT_W, f.regular, _BODY_SIZE,
                               _BODY_LEADING)
            y -= _PARA_GAP

        # Closing and signature, kept together.
        if y - 1.0 * inch < _BOTTOM:
            ops.append(("page",))
            y = _CONTINUED_TOP
        y -= 4
        y = self._wrap_ops(ops, pdf_text(template.text("closing"), f), _MARGIN_X, y, _TEXT_W, f.regular,
                           _BODY_SIZE, _BODY_LEADING)
        if self.signature is not None:
            w, h = fit_image(self.signature, 2.2 * inch, 0.55 * inch)
            ops.append(("image", _MARGIN_X, y - h + 8, w, h))
            y -= h + 2
        else:
            y -= 0.35 * inch
        signer = self.head.signer_name or _text(contact.provider_name)
        if not signer:
            signer = template.text("signer_fallback").format_map(values) or self.head.practice_name
        y = self._wrap_ops(ops, pdf_text(signer, f), _MARGIN_X, y, _TEXT_W, f.regular, _BODY_SIZE, _BODY_LEADING)
        if self.head.signer_name and self.head.signer_title:
            self._wrap_ops(ops, pdf_text(self.head.signer_title, f), _MARGIN_X, y, _TEXT_W, f.regular, 10, 13)
        return ops

    def _gap_ops(self, ops: list, gaps: Sequence[GapItem], template: LetterTemplate, values: dict, y: float) -> float:
        f = self.f
        indent = _MARGIN_X + 0.22 * inch
        text_x = _MARGIN_X + 0.42 * inch
        width = _PAGE_W - _MARGIN_X - text_x
        for gap in gaps:
            if y - _BODY_LEADING < _BOTTOM:
                ops.append(("page",))
                y = _CONTINUED_TOP
            ops.append(("text", f.bold, _BODY_SIZE, indent, y, "•"))
            phrase = template.phrase(gap)
            phrase = phrase[:1].upper() + phrase[1:]
            y = self._wrap_ops(ops, pdf_text(phrase, f), text_x, y, width, f.bold, _BODY_SIZE, _BODY_LEADING)
            why = template.paragraph(gap.measure_id).format_map(values)
            if why:
                y = self._wrap_ops(ops, pdf_text(why, f), text_x, y, width, f.regular, 10, 13)
            y -= 4
        return y - _PARA_GAP + 4


def _gaps_for(contact: Contact, measure_ids: set[str] | None) -> list[GapItem]:
    return [g for g in contact.gaps if measure_ids is None or g.measure_id in measure_ids]


def build_letters(
    contacts: Sequence[Contact],
    out: Output,
    *,
    letterhead: Letterhead,
    date: dt.date,
    one_per_gap: bool = False,
    window: EnvelopeWindow | None = None,
    templates: Mapping[str, LetterTemplate] | None = None,
    language: str | None = None,
    measure_ids: Sequence[str] | None = None,
    fontset: FontSet | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> LetterBatch:
    """Write one PDF with a letter for each contact (or each contact and gap with ``one_per_gap``).

    ``language`` forces every letter into one template language (default: each
    patient's preferred language, English when there is no template for it);
    ``measure_ids`` limits the gaps a letter names. Contacts without a usable address or
    without a gap get no letter and are listed in ``skipped``. The PDF is written only
    to ``out`` (a path or a binary file object), never to a temporary file.
    """
    progress = progress or no_progress
    cancel = cancel or NEVER_CANCELLED
    templates = templates or load_letter_templates()
    if language is not None and language not in templates:
        raise LetterError(f"there is no letter template for language {language!r} ({', '.join(sorted(templates))}).")
    if not (letterhead.phone or "").strip() and any("{phone}" in text for tpl in templates.values()
                                                    for text in tpl.letter.values()):
        raise LetterError(
            "the practice phone number is not set: letters ask patients to call it. Set it in Settings > Practice, "
            "or with: panelmanager settings set practice_phone '(555) 555-0100'"
        )
    window = window or EnvelopeWindow()
    f = fontset or fonts()
    wanted = set(measure_ids) if measure_ids else None
    canv = rl_canvas.Canvas(target(out), pagesize=LETTER_PORTRAIT, pageCompression=1, invariant=1)
    canv.setTitle("Patient letters")
    canv.setAuthor(pdf_text(letterhead.practice_name, f))
    canv.setSubject("Contains protected health information")
    writer = _LetterWriter(canv, letterhead, window, f)
    result = LetterBatch(kind="letters")
    mailed_ids: list[int] = []
    mailed_measures: list[str | None] = []
    total = len(contacts)
    step = max(1, total // 100)
    for index, contact in enumerate(contacts):
        if index % step == 0:
            cancel.raise_if_cancelled()
            progress(index, total, "Writing letters")
        gaps = _gaps_for(contact, wanted)
        problem = mailing_problem(contact)
        if problem is None and not gaps:
            problem = "no open gap to write about"
        if problem is not None:
            result.skipped.append((contact.patient_id, contact.mrn, contact.list_name, problem))
            continue
        lang = language or letter_language(contact.preferred_language, templates)
        template = templates[lang]
        if one_per_gap:
            for gap in gaps:
                result.pages += writer.letter(contact, [gap], template, date, single=True)
                result.letters += 1
                result.languages[lang] += 1
                mailed_ids.append(contact.patient_id)
                mailed_measures.append(gap.measure_id)
        else:
            result.pages += writer.letter(contact, gaps, template, date, single=len(gaps) == 1)
            result.letters += 1
            result.languages[lang] += 1
            for gap in gaps:
                mailed_ids.append(contact.patient_id)
                mailed_measures.append(gap.measure_id)
        result.patients += 1
    if result.letters == 0:
        _empty_page(canv, f, "No letters: no patient on this list has a usable mailing address and an open gap.")
    cancel.raise_if_cancelled()
    progress(total, total, "Saving letters")
    canv.save()
    result.items = result.letters
    result.pairs = pd.DataFrame(
        {"patient_id": pd.Series(mailed_ids, dtype="int64"), "measure_id": pd.Series(mailed_measures, dtype=object)}
    )
    return result


def _empty_page(canv, f: FontSet, message: str) -> None:
    canv.setFont(f.regular, 12)
    canv.drawString(_MARGIN_X, _PAGE_H - 2 * inch, pdf_text(message, f))
    canv.showPage()


def build_calibration_page(
    out: Output,
    *,
    letterhead: Letterhead,
    window: EnvelopeWindow | None = None,
    fontset: FontSet | None = None,
) -> None:
    """One page to check the envelope window on the practice's own printer.

    It shows the window area as a dashed box with a sample address, the tri-fold lines
    and inch rulers. Print it on plain paper, fold it in thirds, slide it into a #10
    window envelope: the sample address must show whole through the window. If it does
    not, measure how far off it is and change the window offsets in Settings.
    """
    window = window or EnvelopeWindow()
    f = fontset or fonts()
    c = rl_canvas.Canvas(target(out), pagesize=LETTER_PORTRAIT, invariant=1)
    c.setTitle("Envelope window calibration")
    x0, y0, x1, y1 = window.rect(_PAGE_H)
    # Rulers: ticks every 1/4 inch on the left and top edges, numbered every inch.
    c.setStrokeColorRGB(0.3, 0.3, 0.3)
    c.setFont(f.regular, 7)
    for q in range(0, 44 + 1):
        y = _PAGE_H - q * inch / 4
        length = 0.25 * inch if q % 4 == 0 else 0.1 * inch
        c.line(0, y, length, y)
        if q % 4 == 0 and 0 < q < 44:
            c.drawString(0.3 * inch, y - 2.5, f"{q // 4}\"")
    for q in range(0, 34 + 1):
        x = q * inch / 4
        length = 0.25 * inch if q % 4 == 0 else 0.1 * inch
        c.line(x, _PAGE_H, x, _PAGE_H - length)
        if q % 4 == 0 and 0 < q < 34:
            c.drawCentredString(x, _PAGE_H - 0.38 * inch, f"{q // 4}\"")
    # Tri-fold lines.
    c.setDash(2, 3)
    c.setStrokeColorRGB(0.55, 0.55, 0.55)
    for k in (1, 2):
        y = _PAGE_H - k * 11 * inch / 3
        c.line(0.5 * inch, y, _PAGE_W - 0.5 * inch, y)
        c.drawRightString(_PAGE_W - 0.55 * inch, y + 3, "fold")
    # The window.
    c.setDash(6, 3)
    c.setStrokeColorRGB(0.1, 0.3, 0.7)
    c.setLineWidth(1.2)
    c.rect(x0, y0, x1 - x0, y1 - y0)
    c.setDash()
    pad = WINDOW_PADDING_IN * inch
    c.setFillColorRGB(*INK)
    c.setFont(f.regular, 10.5)
    y = y1 - pad - 10.5
    for line in ("To the parent or guardian of", "SAMPLE PATIENT NAME", "123 ANY STREET APT 4",
                 "SECOND ADDRESS LINE", "ANYTOWN, ST 00000-0000"):
        c.drawString(x0 + pad, y, line)
        y -= 12
    # Instructions below the fold zone.
    c.setFont(f.bold, 14)
    c.drawString(_MARGIN_X, _PAGE_H - 4.4 * inch, pdf_text(f"Envelope window check - {letterhead.practice_name}", f))
    text = [
        "1. Print this page on plain paper with the same printer and tray you use for letters.",
        "2. Fold it in thirds on the dotted lines so that the sample address is on the outside.",
        "3. Slide it into a #10 window envelope and tap the envelope so the letter rests at the bottom.",
        "4. The whole dashed box and all five lines of the sample address must show through the window.",
        "5. If they do not, measure (with the rulers) where the window falls on the page and enter it in",
        "    Settings > Letters: window left, top, width and height, in inches from the top-left corner.",
        "",
        f"Current window: left {window.left:.3f}\", top {window.top:.3f}\", "
        f"width {window.width:.3f}\", height {window.height:.3f}\".",
    ]
    c.setFont(f.regular, 10.5)
    y = _PAGE_H - 4.8 * inch
    for line in text:
        c.drawString(_MARGIN_X, y, pdf_text(line, f))
        y -= 15
    c.showPage()
    c.save()
