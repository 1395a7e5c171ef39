"""The printed documents a user asks for by name: the huddle sheet and a provider's panel list.

Each is one service that reads what goes on the paper, draws it (``core/reports``) and audits the
print (issue 14: action ``print``, the patients on it by id, the document kind in ``details``;
a role that may not print is refused, and the refusal audited). ``panelmanager huddle`` /
``panel-list`` and the Huddle screen call these, so both clients leave the same audit entries.

The audit entry is written at the end of the caller's session (``core.actions.audited``): give a
session the caller commits, as ``Registry.session()`` does.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import IO, Any, Union

from sqlalchemy.orm import Session

from panelmanager.core.actions import audited
from panelmanager.core.huddle import HuddleSheet, huddle_data

__all__ = ["print_huddle_sheet", "print_panel_list"]

Output = Union[str, os.PathLike, IO[bytes]]


def _to(out: Output) -> str:
    # What the audit says about the target, never its name (a file name can be a patient's name).
    return "file" if isinstance(out, (str, os.PathLike)) else "preview"


def print_huddle_sheet(
    session: Session,
    day: dt.date,
    out: Output,
    provider_id: int | None = None,
    *,
    include_due_soon: bool = True,
    sheet: HuddleSheet | None = None,
) -> tuple[HuddleSheet, Any]:
    """Write the huddle sheet for ``day`` (one provider, or every provider with visits) to ``out``;
    returns the sheet and the ``DocumentResult``. ``sheet``: the day's huddle already read (a screen
    showing it), so it is not read again."""
    from panelmanager.core.reports.huddle import build_huddle_sheet

    details = {"document": "huddle-sheet", "day": day.isoformat(), "provider_id": provider_id, "to": _to(out)}
    with audited(session, "print", details=details) as note:
        if sheet is None:
            sheet = huddle_data(session, day, provider_id, include_due_soon=include_due_soon)
        result = build_huddle_sheet(sheet, out)
        note.patients(r.patient_id for s in sheet.sections for r in s.rows)
        note.details.update(visits=sum(len(s.rows) for s in sheet.sections), pages=result.pages)
    return sheet, result


def print_panel_list(
    session: Session,
    provider_id: int,
    as_of: dt.date,
    out: Output,
    *,
    letterhead: Any = None,
) -> tuple[Any, Any]:
    """Write ``provider_id``'s panel list (tick Mine / Not mine) as of ``as_of`` to ``out``; returns
    the ``PanelReviewList`` and the ``DocumentResult``."""
    from panelmanager.core.reports.panel_review import build_panel_review_pdf, load_panel_review

    details = {"document": "panel-list", "provider_id": provider_id, "as_of": as_of.isoformat(), "to": _to(out)}
    with audited(session, "print", details=details) as note:
        panel = load_panel_review(session, provider_id, as_of)
        result = build_panel_review_pdf(panel, out, letterhead=letterhead)
        note.patients(r.patient_id for r in panel.rows)
        note.details.update(patients=len(panel.rows), pages=result.pages)
    return panel, result
