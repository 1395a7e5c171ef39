"""One outreach run: the outreach list, then its letters, labels, call list and portal / text exports,
logged as outreach under one batch reference. ``panelmanager letters`` and the Outreach screen both
call ``run_outreach``; they only display the ``OutreachRun`` it returns.

A run writes what it is given a target for (a file name, or a binary buffer for a preview).
With ``log=True`` (the CLI, and a screen's export) the documents that are outreach are logged at
once; a screen that previews letters or labels first passes ``log=False`` and calls
``record_outreach`` when they are printed or saved. Either way the same rules name the batch and
the logged document:

- letters: method ``letter``, document ``letters`` (``letters+labels`` when the run also made
  labels for the same letters, which are then not logged a second time);
- labels alone: method ``letter``, document ``labels``;
- portal / text exports: method ``portal`` / ``text``, document ``portal-export`` / ``text-export``;
- a call list is not outreach by itself: the calls are, as they are recorded (``log_outreach``).

Outreach is logged on the run's as-of day at the current time of day, so a back-dated run is
logged as of that day. The document builders live in ``core/reports`` (reportlab); they are
imported when a run needs them so that reading this module loads no PDF machinery.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any, TypeGuard, Union

from sqlalchemy.orm import Session

from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress
from panelmanager.core.outreach import (
    LoggedOutreach,
    OutreachError,
    OutreachFilters,
    OutreachList,
    build_outreach_list,
    log_outreach_bulk,
    measure_info,
    new_batch_ref,
)
from panelmanager.core.settings import PracticeSettings, effective_as_of, load_settings

__all__ = [
    "OutreachRun",
    "RecordedOutreach",
    "letter_window",
    "mailing_count",
    "outreach_time",
    "record_outreach",
    "run_outreach",
    "write_calibration_page",
]

Target = Union[str, os.PathLike, IO[bytes], IO[str]]
PdfTarget = Union[str, os.PathLike, IO[bytes]]  # a PDF (or a call list file): a path or a binary buffer
TextTarget = Union[str, os.PathLike, IO[str]]  # a portal/text export CSV: a path or a text stream

# What each document is logged as: (method, document name). Call lists are not outreach.
_LOGGED_AS = {
    "letters": ("letter", "letters"),
    "labels": ("letter", "labels"),
    "portal-export": ("portal", "portal-export"),
    "text-export": ("text", "text-export"),
}


@dataclass(frozen=True)
class RecordedOutreach:
    """What one run logged: the batch (None when nothing was logged), rows and patients."""

    batch: str | None
    rows: int = 0
    patients: int = 0
    documents: tuple[str, ...] = ()


@dataclass
class OutreachRun:
    """What a run built: the list, each document it wrote (None when not asked) and what it logged."""

    as_of: dt.date
    outreach: OutreachList
    contacts: list = field(default_factory=list)
    letters: Any = None  # reports.letters.LetterBatch
    labels: Any = None  # reports.common.DocumentResult
    calls: Any = None
    portal: Any = None
    text: Any = None
    label_start: int | None = None
    one_per_gap: bool | None = None
    logged: RecordedOutreach | None = None

    @property
    def patients(self) -> int:
        return self.outreach.patients

    @property
    def gaps(self) -> int:
        return self.outreach.gaps

    @property
    def left_out(self) -> dict:
        return self.outreach.left_out

    def documents(self) -> list:
        """The documents written, in the order a run writes them."""
        return [d for d in (self.letters, self.labels, self.calls, self.portal, self.text) if d is not None]


def outreach_time(as_of: dt.date, now: dt.datetime | None = None) -> dt.datetime:
    """When a run on ``as_of`` is logged: that day, at the current time of day (to the second)."""
    now = now or dt.datetime.now()
    return dt.datetime.combine(as_of, now.time().replace(microsecond=0))


def letter_window(settings: PracticeSettings):
    """The envelope window from the practice settings; ``OutreachError`` naming the setting when it is wrong."""
    from panelmanager.core.letter_templates import EnvelopeWindow

    try:
        return EnvelopeWindow.from_offsets(settings.letter_offsets_in)
    except ValueError as exc:
        raise OutreachError(f"the letter window offsets in Settings are wrong: {exc}") from None


def write_calibration_page(session: Session, out: PdfTarget, *, settings: PracticeSettings | None = None) -> None:
    """The envelope-window check page, with the practice's letterhead and window offsets."""
    from panelmanager.core.reports.common import Letterhead
    from panelmanager.core.reports.letters import build_calibration_page

    settings = settings or load_settings(session)
    build_calibration_page(out, letterhead=Letterhead.from_settings(settings), window=letter_window(settings))


def _check_language(language: str | None) -> None:
    if not language:
        return
    from panelmanager.core.letter_templates import load_letter_templates

    languages = sorted(load_letter_templates())
    if language not in languages:
        raise OutreachError(f"language {language!r}: letters exist in {', '.join(languages)}.")


def mailing_count(outreach: OutreachList, patients, one_per_gap: bool) -> int:
    """How many letters (or labels) a list makes: patients with a usable address, or their gaps.

    ``patients`` is the list's patient table (``outreach_patients``), which says who has no
    usable address.
    """
    if patients is None or patients.empty:
        return 0
    mailable = patients
    if "address_problem" in mailable:
        mailable = mailable[mailable["address_problem"].isna()]
    if not one_per_gap:
        return int(mailable["patient_id"].nunique())
    return int(outreach.rows["patient_id"].isin(set(mailable["patient_id"])).sum())


def record_outreach(
    session: Session,
    documents: Sequence[Any],
    *,
    user: str | None,
    when: dt.datetime,
    batch: str | None = None,
) -> RecordedOutreach:
    """Log what ``documents`` (results of one run) reached, as one batch; call lists are skipped.

    Letters and labels made for the same mailing are logged once, as ``letters+labels``.
    """
    kinds = {d.kind for d in documents}
    batch = batch or new_batch_ref(when)
    rows, logged = 0, []
    patients: set[int] = set()
    for document in documents:
        if document.kind not in _LOGGED_AS or (document.kind == "labels" and "letters" in kinds):
            continue
        method, name = _LOGGED_AS[document.kind]
        if document.kind == "letters" and "labels" in kinds:
            name = "letters+labels"
        done: LoggedOutreach = log_outreach_bulk(session, document.pairs, method=method, document=name, user=user,
                                                 when=when, batch=batch)
        rows += done.rows
        if done.rows:
            patients.update(int(p) for p in document.pairs["patient_id"])
            logged.append(name)
    return RecordedOutreach(batch if rows else None, rows, len(patients), tuple(logged))


def _calls_title(measure_ids: Sequence[str]) -> str:
    known = measure_info()
    titles = ", ".join(known[m].title if m in known else m for m in measure_ids)
    return f"Call list: {titles}" if titles else "Call list"


def _is_path(target: Target) -> TypeGuard[str | os.PathLike]:
    return isinstance(target, (str, os.PathLike))


# Issue 14: the permission each document needs; the run's audit entry names its patients by id.
_AUDITED_AS = {"letters": "letters", "labels": "letters", "calls": "letters", "portal": "export", "texts": "export"}
_DOCUMENT_ATTR = {"letters": "letters", "labels": "labels", "calls": "calls", "portal": "portal", "texts": "text"}


def _audited_run(run_fn):
    """``run_outreach`` checked and audited: one entry per permission its documents need (``letters``
    for letters, labels and call lists; ``export`` for portal and text exports) naming the patients
    each document reached or left out, by id; the file names are not recorded (they may name one)."""
    import functools
    from contextlib import ExitStack

    from panelmanager.core.actions import audited

    @functools.wraps(run_fn)
    def run_audited(session: Session, *args: Any, **kwargs: Any) -> OutreachRun:
        asked = [k for k in _AUDITED_AS if kwargs.get(k) is not None]
        if not asked:
            return run_fn(session, *args, **kwargs)
        with ExitStack() as stack:
            notes = {}
            for action in reversed(dict.fromkeys(_AUDITED_AS[k] for k in asked)):  # entries in document order
                documents = [k for k in asked if _AUDITED_AS[k] == action]
                details = {"documents": documents, "log": bool(kwargs.get("log", True)),
                           "to": {k: "file" if _is_path(kwargs[k]) else "preview" for k in documents}}
                notes[action] = stack.enter_context(audited(session, action, details=details))
            run = run_fn(session, *args, **kwargs)
            for key in asked:
                document = getattr(run, _DOCUMENT_ATTR[key])
                if document is None:
                    continue
                note = notes[_AUDITED_AS[key]]
                note.patients(document.pairs["patient_id"])
                note.patients(skipped[0] for skipped in document.skipped)
                note.details[key] = int(getattr(document, "items", 0) or 0)
        return run

    return run_audited


@_audited_run
def run_outreach(
    session: Session,
    as_of: dt.date | None = None,
    filters: OutreachFilters | None = None,
    *,
    outreach: OutreachList | None = None,
    contacts: list | None = None,
    letters: PdfTarget | None = None,
    labels: PdfTarget | None = None,
    calls: PdfTarget | None = None,
    portal: TextTarget | None = None,
    texts: TextTarget | None = None,
    one_per_gap: bool | None = None,
    label_start: int | None = None,
    calls_title: str | None = None,
    log: bool = True,
    user: str | None = None,
    when: dt.datetime | None = None,
    settings: PracticeSettings | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> OutreachRun:
    """Build the outreach list (or take ``outreach`` already built, and its ``contacts``) and write
    each document given a target; with ``log`` record the outreach under one batch.

    ``as_of`` defaults to the settings' as-of date; ``one_per_gap`` and ``label_start`` to the
    practice settings; ``user`` to the settings' user name. A call list target that is a buffer
    gets the PDF; a file name picks the format by its extension (.csv, .xlsx, .pdf).
    """
    from panelmanager.core.reports.common import Letterhead

    settings = settings or load_settings(session)
    letterhead = Letterhead.from_settings(settings)
    window = letter_window(settings) if letters is not None else None
    if outreach is None:
        if filters is None:
            raise OutreachError("give the filters of the outreach list (at least the measures).")
        _check_language(filters.language)
        as_of = as_of or effective_as_of(settings)
        outreach = build_outreach_list(session, as_of, filters, progress=progress or no_progress,
                                       cancel=cancel or NEVER_CANCELLED)
    as_of = outreach.as_of
    if contacts is None:
        contacts = outreach.contacts()
    if cancel is not None:
        cancel.raise_if_cancelled()
    run = OutreachRun(as_of=as_of, outreach=outreach, contacts=contacts)
    if letters is not None:
        from panelmanager.core.reports.letters import build_letters

        run.one_per_gap = settings.letters_one_per_gap if one_per_gap is None else one_per_gap
        run.letters = build_letters(contacts, letters, letterhead=letterhead, date=as_of, one_per_gap=run.one_per_gap,
                                    window=window, progress=progress or no_progress, cancel=cancel or NEVER_CANCELLED)
    if labels is not None:
        from panelmanager.core.reports.labels import build_labels

        run.label_start = label_start or settings.label_start_position
        try:
            run.labels = build_labels(contacts, labels, on=as_of, start_position=run.label_start,
                                      progress=progress or no_progress, cancel=cancel or NEVER_CANCELLED)
        except ValueError as exc:
            raise OutreachError(f"label start: {exc}") from None
    if calls is not None:
        from panelmanager.core.reports.calllist import build_call_list_pdf, write_call_list

        title = calls_title or _calls_title(outreach.filters.measure_ids)
        if _is_path(calls):
            run.calls = write_call_list(contacts, os.fspath(calls), on=as_of, letterhead=letterhead, title=title)
        else:
            run.calls = build_call_list_pdf(contacts, calls, on=as_of, letterhead=letterhead, title=title)
    for channel, target in (("portal", portal), ("text", texts)):
        if target is None:
            continue
        from panelmanager.core.reports.portal_export import write_portal_export

        setattr(run, channel, write_portal_export(contacts, target, channel=channel, letterhead=letterhead, on=as_of))
    if log:
        user = user or settings.user_name
        run.logged = record_outreach(session, run.documents(), user=user, when=when or outreach_time(as_of))
    return run
