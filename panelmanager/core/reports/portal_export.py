"""Portal and text-message export: a CSV for the practice's patient-portal or texting tool.

Columns: MRN, last name, first name, email, mobile, language, message. The message is
filled from the patient's language template (``[messages] portal`` or ``text`` in
``resources/letters/<language>.toml``). Portal messages are private and may name the
care that is due; text messages are not, so the shipped text template says only
"time to schedule". A portal export needs an e-mail address, a text export a mobile
number; patients without one are returned in ``skipped``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from typing import IO

from panelmanager.core.documents import DocumentResult, contact_pairs
from panelmanager.core.people import Contact, long_date
from panelmanager.core.reports.common import (
    Letterhead,
)
from panelmanager.core.reports.letters import LetterError, LetterTemplate, letter_language, load_letter_templates
from panelmanager.core.safe_export import write_csv

__all__ = ["EXPORT_COLUMNS", "CHANNELS", "portal_message", "write_portal_export"]

EXPORT_COLUMNS = ["mrn", "last_name", "first_name", "email", "mobile", "language", "message"]
CHANNELS = ("portal", "text")


def portal_message(
    contact: Contact, template: LetterTemplate, *, channel: str, letterhead: Letterhead, on: dt.date
) -> str:
    """The message text for one patient."""
    text = template.messages.get(channel)
    if not text:
        fallback = load_letter_templates()["en"].messages.get(channel)
        if not fallback:
            raise ValueError(f"{template.path}: there is no [messages] {channel} template.")
        text = fallback
    phrases = [template.phrase(g) for g in contact.gaps]
    values = {
        "patient_name": contact.name,
        "first_name": contact.first_name or contact.name,
        "last_name": contact.last_name or "",
        "provider": contact.provider_name or letterhead.practice_name,
        "practice": letterhead.practice_name,
        "phone": letterhead.phone,
        "date": long_date(on, template.language),
        "gaps": "; ".join(phrases),
        "gap": phrases[0] if phrases else "",
        "gap_paragraph": template.paragraph(contact.gaps[0].measure_id) if contact.gaps else "",
        "gap_list": "; ".join(phrases),
    }
    return " ".join(text.format_map(values).split())


def write_portal_export(
    contacts: Sequence[Contact],
    out: str | os.PathLike[str] | IO[str],
    *,
    channel: str = "portal",
    letterhead: Letterhead,
    on: dt.date,
    templates: Mapping[str, LetterTemplate] | None = None,
) -> DocumentResult:
    """Write the export CSV (UTF-8) to ``out``; ``channel`` is ``portal`` (needs e-mail) or ``text`` (needs mobile)."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)} (got {channel!r}).")
    templates = templates or load_letter_templates()
    if not (letterhead.phone or "").strip() and any("{phone}" in tpl.messages.get(channel, "")
                                                    for tpl in templates.values()):
        raise LetterError(
            "the practice phone number is not set (Settings > Practice): messages ask patients to call it."
        )
    kept: list[Contact] = []
    skipped: list[tuple[int, str, str, str]] = []
    rows = []
    for c in contacts:
        email = (c.email or "").strip()
        mobile = (c.phone_mobile or "").strip()
        if channel == "portal" and not email:
            skipped.append((c.patient_id, c.mrn, c.list_name, "no e-mail address"))
            continue
        if channel == "text" and not mobile:
            skipped.append((c.patient_id, c.mrn, c.list_name, "no mobile number"))
            continue
        lang = letter_language(c.preferred_language, templates)
        message = portal_message(c, templates[lang], channel=channel, letterhead=letterhead, on=on)
        rows.append([c.mrn, c.last_name or "", c.first_name or "", email, mobile, lang, message])
        kept.append(c)

    write_csv(out, EXPORT_COLUMNS, rows)
    return DocumentResult(kind=f"{channel}-export", items=len(rows), patients=len(rows), skipped=skipped,
                          pairs=contact_pairs(kept))
