"""Outreach: who to contact about which care gap, and the log that closes the loop.

``build_outreach_list`` picks patients with open gaps for the chosen measures, filtered
by provider, age, letter language, "no upcoming appointment" and "not contacted in the
last N days", with everything letters, labels, call lists and portal exports need. It
is set-based: the cached care gaps, one query each for patients, appointments and the
log, then pandas.

Every letter printed, label sheet made, call recorded or export written is logged per
patient and gap in ``outreach_log`` (``log_outreach`` for one contact, ``log_document``
/ ``log_outreach_bulk`` for a whole print run in one insert). ``gaps_closed_after_outreach``
reports, per method and measure, how many contacted gaps closed within 90 days.

Services take a ``Session``; the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from panelmanager.core import models
from panelmanager.core.actions import argument, audited_service
from panelmanager.core.alive import alive_and_active_on
from panelmanager.core.concurrency import begin_write
from panelmanager.core.db import bulk_insert
from panelmanager.core.documents import DocumentResult
from panelmanager.core.gap_text import load_gap_labels, short_gap_text
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress
from panelmanager.core.models import OutreachMethod, OutreachOutcome
from panelmanager.core.people import Contact, GapItem
from panelmanager.core.permissions import require_current
from panelmanager.core.visibility import visible

__all__ = [
    "METHODS",
    "OUTCOMES",
    "LoggedOutreach",
    "MeasureInfo",
    "OutreachEntry",
    "OutreachError",
    "OutreachFilters",
    "OutreachList",
    "build_outreach_list",
    "gaps_closed_after_outreach",
    "last_outreach",
    "log_document",
    "log_outreach",
    "log_outreach_bulk",
    "measure_info",
    "new_batch_ref",
    "outreach_history",
    "WithdrawnBatch",
    "withdraw_outreach_batch",
]

METHODS = tuple(m.value for m in OutreachMethod)
OUTCOMES = tuple(o.value for o in OutreachOutcome)
OPEN_STATUSES = ("open",)


class OutreachError(ValueError):
    """Bad input to an outreach service; the message says what is wrong and what is allowed."""


# --------------------------------------------------------------------------- measures


@dataclass(frozen=True)
class MeasureInfo:
    id: str
    title: str
    phrase: str
    order: int = 1000
    panel_gap: bool = False


def measure_info(resources_dir=None) -> dict[str, MeasureInfo]:
    """Title, patient phrase and list order of every measure that loads, by id."""
    try:
        from panelmanager.core.measures import load_measures
    except ImportError:  # the care-gap package is missing: documents still work from ids
        return {}
    measures, _errors = load_measures(resources_dir)
    return {
        m.id: MeasureInfo(m.id, m.title, m.letter_phrase, m.order, bool(getattr(m, "is_panel_gap", False)))
        for m in measures
    }


def _known_measure(measure: str | None, known: dict[str, MeasureInfo]) -> str | None:
    if measure is None:
        return None
    measure = str(measure).strip()
    if not measure:
        return None
    if known and measure not in known:
        raise OutreachError(f"unknown measure {measure!r}; known measures: {', '.join(sorted(known))}.")
    return measure


# --------------------------------------------------------------------------- the log


def _normal(value: str) -> str:
    return "-".join(str(value).strip().lower().replace("_", " ").split())


def _method(value: str) -> str:
    method = _normal(value)
    if method not in METHODS:
        raise OutreachError(f"unknown outreach method {value!r}; use one of: {', '.join(METHODS)}.")
    return method


def _outcome(value: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    outcome = _normal(value)
    if outcome not in OUTCOMES:
        raise OutreachError(f"unknown outcome {value!r}; use one of: {', '.join(OUTCOMES)}.")
    return outcome


@dataclass(frozen=True)
class OutreachEntry:
    """One logged contact."""

    id: int
    patient_id: int
    measure_id: str | None
    method: str
    outcome: str | None
    note: str | None
    user: str | None
    logged_at: dt.datetime
    document: str | None = None
    batch: str | None = None
    withdrawn_at: dt.datetime | None = None  # a batch logged by mistake and withdrawn (still kept)
    withdrawn_by: str | None = None


def _entry(row: models.OutreachLog) -> OutreachEntry:
    return OutreachEntry(
        row.id, row.patient_id, row.measure_id, row.method, row.outcome, row.note, row.user, row.logged_at,
        row.document, row.batch, row.withdrawn_at, row.withdrawn_by,
    )


def _when(when: dt.datetime | dt.date | None) -> dt.datetime:
    if when is None:
        return dt.datetime.now().replace(microsecond=0)
    if isinstance(when, dt.datetime):
        return when
    return dt.datetime.combine(when, dt.time(12, 0))


@audited_service("outreach_log", patients=argument("patient_id", 0),
                 details=lambda _a, _k, r: {"method": r.method, "outcome": r.outcome})
def log_outreach(
    session: Session,
    patient_id: int,
    method: str,
    outcome: str | None = None,
    measure: str | None = None,
    note: str | None = None,
    *,
    user: str | None = None,
    when: dt.datetime | dt.date | None = None,
    document: str | None = None,
    batch: str | None = None,
) -> OutreachEntry:
    """Record one contact with a patient (a call, a conversation at the desk...).

    ``method``: letter, call, portal, text, in-person. ``outcome``: reached,
    left-message, scheduled, declined, wrong-number, no-answer (or None). ``measure``
    is the gap it was about (None: outreach in general). ``when`` defaults to now.
    """
    require_current("outreach_log")  # issue 14: refused unless the acting user's role may do this
    begin_write(session)
    if session.get(models.Patient, patient_id) is None:
        raise OutreachError(f"there is no patient with id {patient_id}.")
    row = models.OutreachLog(
        patient_id=int(patient_id),
        measure_id=_known_measure(measure, measure_info()) if measure else None,
        method=_method(method),
        outcome=_outcome(outcome),
        note=(note or "").strip() or None,
        user=user,
        logged_at=_when(when),
        document=document,
        batch=batch,
    )
    session.add(row)
    session.flush()
    return _entry(row)


def new_batch_ref(now: dt.datetime | None = None) -> str:
    """A reference shared by every row one print run logs: ``20240304-101500-3fa2c1``."""
    now = now or dt.datetime.now()
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class LoggedOutreach:
    """What a bulk log wrote."""

    batch: str
    rows: int
    patients: int
    method: str
    document: str | None


@audited_service("letters", patients=lambda a, k, _r: (a[0] if a else k["pairs"])["patient_id"],
                 details=lambda _a, _k, r: {"logged": r.rows, "method": r.method})
def log_outreach_bulk(
    session: Session,
    pairs: pd.DataFrame,
    *,
    method: str,
    document: str | None = None,
    outcome: str | None = None,
    note: str | None = None,
    user: str | None = None,
    when: dt.datetime | dt.date | None = None,
    batch: str | None = None,
) -> LoggedOutreach:
    """Log one row per ``(patient_id, measure_id)`` of ``pairs`` in a single insert (a print run)."""
    method = _method(method)
    outcome = _outcome(outcome)
    logged_at = _when(when)
    batch = batch or new_batch_ref(logged_at)
    frame = pd.DataFrame(
        {
            "patient_id": pd.Series(pairs["patient_id"].to_numpy(), dtype="int64"),
            "measure_id": pd.Series(pairs["measure_id"].to_numpy(), dtype=object) if "measure_id" in pairs
            else pd.Series([None] * len(pairs), dtype=object),
        }
    ).drop_duplicates()
    if frame.empty:
        return LoggedOutreach(batch, 0, 0, method, document)
    frame["measure_id"] = frame["measure_id"].astype(object).where(frame["measure_id"].notna(), None)
    frame["method"] = method
    frame["outcome"] = outcome
    frame["note"] = (note or "").strip() or None
    frame["user"] = user
    frame["logged_at"] = pd.Timestamp(logged_at)
    frame["document"] = document
    frame["batch"] = batch
    bulk_insert(session.connection(), models.OutreachLog.__table__, frame)
    return LoggedOutreach(batch, len(frame), int(frame["patient_id"].nunique()), method, document)


_DOCUMENT_METHODS = {
    "letters": "letter",
    "labels": "letter",
    "portal-export": "portal",
    "text-export": "text",
}


@audited_service("letters", patients=lambda a, k, _r: (a[0] if a else k["result"]).pairs["patient_id"],
                 details=lambda _a, _k, r: {"logged": r.rows, "method": r.method})
def log_document(
    session: Session,
    result: DocumentResult,
    *,
    user: str | None = None,
    when: dt.datetime | dt.date | None = None,
    method: str | None = None,
    batch: str | None = None,
) -> LoggedOutreach:
    """Log what a document reached (letters printed, labels made, an export written).

    The method follows the document (letters and labels: letter; portal export: portal;
    text export: text) unless given. Call lists are not logged: the calls are, as they
    are made (``log_outreach``).
    """
    require_current("letters")  # issue 14: refused unless the acting user's role may do this
    kind = result.kind
    if method is None:
        if kind not in _DOCUMENT_METHODS:
            raise OutreachError(f"a {kind} document is not outreach by itself; log the contacts it leads to instead.")
        method = _DOCUMENT_METHODS[kind]
    return log_outreach_bulk(session, result.pairs, method=method, document=kind, user=user, when=when, batch=batch)


@dataclass(frozen=True)
class WithdrawnBatch:
    """What ``withdraw_outreach_batch`` marked: the batch, its rows and patients, by whom and when."""

    batch: str
    rows: int
    patients: int
    document: str | None
    logged_at: dt.datetime
    withdrawn_at: dt.datetime
    withdrawn_by: str | None


@audited_service("letters", details=lambda _a, _k, r: {"withdrawn": r.rows, "patients": r.patients})
def withdraw_outreach_batch(
    session: Session,
    batch: str,
    *,
    user: str | None,
    when: dt.datetime | None = None,
) -> WithdrawnBatch:
    """Withdraw a print run logged by mistake: same day, by the user who logged it.

    The rows stay in the log, marked with who withdrew them and when, so the history
    still shows what happened; withdrawn rows no longer count as outreach ("contacted
    in the last N days", the last-outreach column, the effectiveness report).
    """
    require_current("letters")  # issue 14: refused unless the acting user's role may do this
    o = models.OutreachLog
    batch = (batch or "").strip()
    when = when or dt.datetime.now().replace(microsecond=0)
    rows = session.execute(
        select(o.user, o.logged_at, o.document, o.withdrawn_at, o.withdrawn_by,
               func.count(o.id), func.count(func.distinct(o.patient_id)))
        .where(o.batch == batch)
        .group_by(o.user, o.logged_at, o.document, o.withdrawn_at, o.withdrawn_by)
    ).all()
    if not batch or not rows:
        raise OutreachError(f"there is no outreach batch {batch!r}; the batch reference is printed when a mailing "
                            "is logged (e.g. 20240304-101500-3fa2c1).")
    logged_by, logged_at, document = rows[0][0], min(r[1] for r in rows), rows[0][2]
    done = [r for r in rows if r[3] is not None]
    if done:
        raise OutreachError(f"batch {batch} was already withdrawn on {done[0][3]:%Y-%m-%d %H:%M}"
                            f"{' by ' + done[0][4] if done[0][4] else ''}.")
    if (logged_by or "") != (user or ""):
        raise OutreachError(f"batch {batch} was logged by {logged_by or 'an unnamed user'}; only they can "
                            "withdraw it.")
    if logged_at.date() != when.date():
        raise OutreachError(f"batch {batch} was logged on {logged_at:%Y-%m-%d}; a batch can only be withdrawn on "
                            "the day it was logged. Record what happened as a note instead.")
    session.execute(
        o.__table__.update().where(o.batch == batch, o.withdrawn_at.is_(None))
        .values(withdrawn_at=when, withdrawn_by=user)
    )
    total = sum(int(r[5]) for r in rows)
    patients = int(session.scalar(select(func.count(func.distinct(o.patient_id))).where(o.batch == batch)) or 0)
    return WithdrawnBatch(batch, total, patients, document, logged_at, when, user)


def outreach_history(session: Session, patient_id: int, *, limit: int | None = None) -> list[OutreachEntry]:
    """A patient's outreach, newest first."""
    o = models.OutreachLog
    stmt = select(o).where(o.patient_id == patient_id).order_by(o.logged_at.desc(), o.id.desc())
    if limit:
        stmt = stmt.limit(limit)
    return [_entry(row) for row in session.scalars(stmt)]


def _day_end(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time())


def last_outreach(session: Session, as_of: dt.date | None = None) -> pd.DataFrame:
    """Each patient's most recent outreach on or before ``as_of``.

    Columns: patient_id, last_outreach_at, last_method, last_outcome, last_measure.
    """
    o = models.OutreachLog
    where = [o.logged_at < _day_end(as_of)] if as_of else []
    where.append(o.withdrawn_at.is_(None))
    latest = select(o.patient_id, func.max(o.logged_at).label("at")).where(*where).group_by(o.patient_id).subquery()
    stmt = (
        select(o.patient_id, o.logged_at, o.method, o.outcome, o.measure_id, o.id)
        .join(latest, and_(o.patient_id == latest.c.patient_id, o.logged_at == latest.c.at))
        .where(o.withdrawn_at.is_(None))
    )
    frame = pd.DataFrame.from_records(
        session.execute(stmt).all(),
        columns=["patient_id", "last_outreach_at", "last_method", "last_outcome", "last_measure", "id"],
    )
    frame = frame.sort_values(["patient_id", "id"]).drop_duplicates("patient_id", keep="last")
    frame["patient_id"] = frame["patient_id"].astype("int64")
    frame["last_outreach_at"] = pd.to_datetime(frame["last_outreach_at"])
    return frame.drop(columns="id").reset_index(drop=True)


def describe_last_outreach(at, method, outcome) -> str | None:
    """``2024-02-01 call (no answer)``."""
    if at is None or pd.isna(at):
        return None
    text = f"{pd.Timestamp(at).date().isoformat()} {method}"
    if outcome is not None and not pd.isna(outcome):
        text += f" ({str(outcome).replace('-', ' ')})"
    return text


# --------------------------------------------------------------------------- outreach lists


@dataclass(frozen=True)
class OutreachFilters:
    """Who goes on an outreach list."""

    measure_ids: tuple[str, ...] = ()  # empty: every measure
    provider_id: int | None = None  # the patient's provider (panel assignment, else last visit)
    age_min: int | None = None  # whole years on the as-of date, inclusive
    age_max: int | None = None
    language: str | None = None  # letter language code: only patients who get letters in it
    no_upcoming_appointment: bool = False
    quiet_days: int | None = None  # leave out patients contacted in the last N days (None: the setting)
    include_due_soon: bool = False


LIST_COLUMNS = [
    "patient_id", "mrn", "first_name", "middle_name", "last_name", "dob", "age", "sex", "address1", "address2",
    "city", "state", "postal_code", "phone_home", "phone_mobile", "phone_work", "email", "preferred_language",
    "letter_language", "provider_id", "provider_name", "measure", "measure_title", "measure_phrase", "status",
    "due_date", "last_date", "last_value", "gap_text", "next_appointment", "last_outreach_at", "last_method",
    "last_outcome",
]


@dataclass
class OutreachList:
    """Patients and their gaps, one row per patient and gap (``rows``), in name order."""

    as_of: dt.date
    filters: OutreachFilters
    rows: pd.DataFrame
    left_out: dict[str, int] = field(default_factory=dict)  # reason -> patients

    @property
    def patients(self) -> int:
        return int(self.rows["patient_id"].nunique()) if not self.rows.empty else 0

    @property
    def gaps(self) -> int:
        return len(self.rows)

    def contacts(self) -> list[Contact]:
        """One ``Contact`` per patient with their gaps, in list order (for the document builders)."""
        out: list[Contact] = []
        if self.rows.empty:
            return out
        rows = self.rows
        # Column by column, not one dict per row: 250,000 row dicts took seconds to build, and
        # freeing them at the end held the interpreter lock for a quarter of a second, freezing
        # the window while a job built a mailing (issue 10).
        col = {name: rows[name].tolist() for name in _CONTACT_COLUMNS}
        gap_dates = rows["last_date"].map(as_date).tolist()
        due_dates = rows["due_date"].map(as_date).tolist()
        patient_ids, measures, titles, phrases = col["patient_id"], col["measure"], col["measure_title"], col["measure_phrase"]
        shorts, statuses, values = col["gap_text"], col["status"], col["last_value"]
        current: Contact | None = None
        gaps: list[GapItem] = []
        for i in range(len(rows)):
            if current is None or current.patient_id != patient_ids[i]:
                if current is not None:
                    current.gaps = tuple(gaps)
                    out.append(current)
                provider_id = col["provider_id"][i]
                current = Contact(
                    patient_id=int(patient_ids[i]),
                    mrn=str(col["mrn"][i]),
                    first_name=optional_text(col["first_name"][i]),
                    last_name=optional_text(col["last_name"][i]),
                    middle_name=optional_text(col["middle_name"][i]),
                    dob=as_date(col["dob"][i]),
                    sex=optional_text(col["sex"][i]),
                    address1=optional_text(col["address1"][i]),
                    address2=optional_text(col["address2"][i]),
                    city=optional_text(col["city"][i]),
                    state=optional_text(col["state"][i]),
                    postal_code=optional_text(col["postal_code"][i]),
                    phone_home=optional_text(col["phone_home"][i]),
                    phone_mobile=optional_text(col["phone_mobile"][i]),
                    phone_work=optional_text(col["phone_work"][i]),
                    email=optional_text(col["email"][i]),
                    preferred_language=optional_text(col["preferred_language"][i]),
                    provider_id=None if pd.isna(provider_id) else int(provider_id),
                    provider_name=optional_text(col["provider_name"][i]),
                    last_outreach=describe_last_outreach(col["last_outreach_at"][i], col["last_method"][i],
                                                         col["last_outcome"][i]),
                    next_appointment=as_date(col["next_appointment"][i]),
                )
                gaps = []
            gaps.append(
                GapItem(
                    measure_id=str(measures[i]),
                    title=str(titles[i]),
                    phrase=str(phrases[i]),
                    short=str(shorts[i]),
                    status=str(statuses[i]),
                    last_date=gap_dates[i],
                    last_value=optional_text(values[i]),
                    due_date=due_dates[i],
                )
            )
        if current is not None:
            current.gaps = tuple(gaps)
            out.append(current)
        return out


_CONTACT_COLUMNS = (
    "patient_id", "mrn", "first_name", "last_name", "middle_name", "dob", "sex", "address1", "address2", "city",
    "state", "postal_code", "phone_home", "phone_mobile", "phone_work", "email", "preferred_language",
    "provider_id", "provider_name", "last_outreach_at", "last_method", "last_outcome", "next_appointment",
    "measure", "measure_title", "measure_phrase", "gap_text", "status", "last_value",
)


def optional_text(value) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def as_date(value) -> dt.date | None:
    if value is None or (not isinstance(value, (str, dt.date)) and pd.isna(value)):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    return None if pd.isna(stamp) else stamp.date()


_PATIENT_COLUMNS = [
    "patient_id", "mrn", "first_name", "middle_name", "last_name", "dob", "sex", "address1", "address2", "city",
    "state", "postal_code", "phone_home", "phone_mobile", "phone_work", "email", "preferred_language",
]


def read_patients(session: Session, ids: Iterable[int] | None = None, as_of: dt.date | None = None) -> pd.DataFrame:
    """Contact details of active patients (all, or those in ``ids``), one query.

    With ``as_of``: the patients alive and active on that date (a later death does not count yet)."""
    p = models.Patient
    stmt = select(
        p.id, p.mrn, p.first_name, p.middle_name, p.last_name, p.dob, p.sex, p.address1, p.address2, p.city, p.state,
        p.postal_code, p.phone_home, p.phone_mobile, p.phone_work, p.email, p.preferred_language,
    ).where(p.status == models.PatientStatus.ACTIVE.value if as_of is None else alive_and_active_on(as_of, p))
    wanted = None if ids is None else sorted({int(i) for i in ids})
    if wanted is not None and len(wanted) <= 2_000:
        stmt = stmt.where(p.id.in_(wanted))
    rows = session.execute(stmt).all()
    # In slices: pandas builds a frame of 100,000 rows in one call that holds the interpreter lock,
    # and a window waiting for it froze while an outreach list was built in a job (issue 10).
    frame = pd.concat([pd.DataFrame.from_records(rows[start : start + 25_000], columns=_PATIENT_COLUMNS)
                       for start in range(0, max(len(rows), 1), 25_000)], ignore_index=True)
    if wanted is not None and len(wanted) > 2_000:
        frame = frame[frame["patient_id"].isin(wanted)]
    frame["patient_id"] = frame["patient_id"].astype("int64")
    return frame.reset_index(drop=True)


def next_appointments(session: Session, as_of: dt.date) -> pd.DataFrame:
    """Each patient's next scheduled (or arrived) visit from ``as_of`` on: patient_id, next_appointment."""
    v = models.Visit
    stmt = (
        select(v.patient_id, func.min(v.start))
        .where(
            v.status.in_((models.VisitStatus.SCHEDULED.value, models.VisitStatus.ARRIVED.value)),
            v.start >= dt.datetime.combine(as_of, dt.time()),
            visible(v),
        )
        .group_by(v.patient_id)
    )
    frame = pd.DataFrame.from_records(session.execute(stmt).all(), columns=["patient_id", "next_appointment"])
    frame["patient_id"] = frame["patient_id"].astype("int64")
    frame["next_appointment"] = pd.to_datetime(frame["next_appointment"])
    return frame


def _open_gaps(session: Session, as_of: dt.date, measure_ids: Sequence[str], statuses: Sequence[str],
               progress: Progress, cancel: CancelToken) -> pd.DataFrame:
    from panelmanager.core.measures import gaps as cached_gaps

    frame = cached_gaps(
        session, as_of, measure=list(measure_ids) or None, status=list(statuses), progress=progress, cancel=cancel
    )
    return frame


def build_outreach_list(
    session: Session,
    as_of: dt.date,
    filters: OutreachFilters | None = None,
    *,
    gaps: pd.DataFrame | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
    **filter_values,
) -> OutreachList:
    """Patients with open gaps to contact, as of ``as_of``.

    Give ``filters`` or its fields as keywords (``measure_ids=["colorectal-cancer-screening"],
    provider_id=3, quiet_days=30``). ``gaps`` (the columns of ``measures.gaps``) skips
    the care-gap lookup, for tests and for screens that already hold them.
    ``left_out`` counts the patients each filter removed.
    """
    from panelmanager.core.letter_templates import letter_language, load_letter_templates
    from panelmanager.core.settings import load_settings

    progress = progress or no_progress
    cancel = cancel or NEVER_CANCELLED
    if filters is None:
        if isinstance(filter_values.get("measure_ids"), str):
            filter_values["measure_ids"] = (filter_values["measure_ids"],)
        filters = OutreachFilters(**{k: tuple(v) if k == "measure_ids" else v for k, v in filter_values.items()})  # type: ignore[arg-type]  # loose keyword filters (CLI/GUI) become the typed dataclass here
    elif filter_values:
        raise TypeError("give filters or keyword filter values, not both")
    known = measure_info()
    for measure in filters.measure_ids:
        _known_measure(measure, known)
    settings = load_settings(session)
    quiet_days = settings.outreach_quiet_days if filters.quiet_days is None else filters.quiet_days
    statuses = ("open", "due-soon") if filters.include_due_soon else OPEN_STATUSES

    if gaps is None:
        gaps = _open_gaps(session, as_of, filters.measure_ids, statuses, progress, cancel)
    cancel.raise_if_cancelled()
    frame = gaps[gaps["status"].isin(statuses)]
    if filters.measure_ids:
        frame = frame[frame["measure"].isin(filters.measure_ids)]
    frame = frame.copy()
    left_out: dict[str, int] = {}

    def drop(mask: pd.Series, reason: str) -> None:
        nonlocal frame
        mask = mask.fillna(False).astype(bool)
        removed = frame.loc[mask, "patient_id"].nunique()
        if removed:
            left_out[reason] = left_out.get(reason, 0) + int(removed)
        frame = frame[~mask]

    if "provider_id" not in frame.columns:
        from panelmanager.core.measures import patient_providers

        providers, _how = patient_providers(session, as_of)
        frame = frame.merge(providers, on="patient_id", how="left")
    if filters.provider_id is not None:
        frame = frame[frame["provider_id"].eq(int(filters.provider_id)).fillna(False).astype(bool)]

    patients = read_patients(session, frame["patient_id"].unique(), as_of=as_of)
    frame = frame.drop(columns=[c for c in ("mrn",) if c in frame.columns])
    frame = frame.merge(patients, on="patient_id", how="inner")
    dob = pd.to_datetime(frame["dob"])
    as_of_ts = pd.Timestamp(as_of)
    before_birthday = (dob.dt.month > as_of.month) | ((dob.dt.month == as_of.month) & (dob.dt.day > as_of.day))
    age = as_of_ts.year - dob.dt.year - before_birthday.astype(int)
    frame["age"] = age.astype("Int64")
    if filters.age_min is not None:
        drop(frame["age"].isna() | (frame["age"] < filters.age_min), f"younger than {filters.age_min}")
    if filters.age_max is not None:
        drop(frame["age"].isna() | (frame["age"] > filters.age_max), f"older than {filters.age_max}")

    templates = load_letter_templates()
    languages = {value: letter_language(value, templates) for value in frame["preferred_language"].dropna().unique()}
    frame["letter_language"] = frame["preferred_language"].map(languages).astype(object).fillna("en")
    if filters.language:
        drop(frame["letter_language"] != filters.language, f"letters not in {filters.language}")

    appointments = next_appointments(session, as_of)
    frame = frame.merge(appointments, on="patient_id", how="left")
    if filters.no_upcoming_appointment:
        drop(frame["next_appointment"].notna(), "appointment already scheduled")

    recent = last_outreach(session, as_of)
    frame = frame.merge(recent.drop(columns="last_measure"), on="patient_id", how="left")
    if quiet_days and quiet_days > 0:
        since = pd.Timestamp(as_of - dt.timedelta(days=int(quiet_days)))
        drop(frame["last_outreach_at"].notna() & (frame["last_outreach_at"] >= since),
             f"contacted in the last {quiet_days} days")

    names = dict(session.execute(select(models.Provider.id, models.Provider.display_name)).all())
    frame["provider_name"] = frame["provider_id"].map(lambda pid: names.get(int(pid)) if pd.notna(pid) else None)
    frame["measure_title"] = frame["measure"].map(lambda m: known[m].title if m in known else m)
    frame["measure_phrase"] = frame["measure"].map(lambda m: known[m].phrase if m in known else m)
    order = frame["measure"].map(lambda m: known[m].order if m in known else 1000)
    labels = load_gap_labels()
    frame["gap_text"] = [
        short_gap_text(m, t, d, v, s, due, labels, as_of=as_of)
        for m, t, d, v, s, due in zip(frame["measure"], frame["measure_title"], frame["last_date"],
                                      frame["last_value"], frame["status"], frame["due_date"])
    ]
    frame["_order"] = order
    frame["_last"] = name_sort_key(frame["last_name"])
    frame["_first"] = name_sort_key(frame["first_name"])
    frame = frame.sort_values(["_last", "_first", "mrn", "patient_id", "_order", "measure"], kind="stable")
    for column in LIST_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame["provider_id"] = frame["provider_id"].astype("Int64")
    rows = frame[LIST_COLUMNS].reset_index(drop=True)
    return OutreachList(as_of=as_of, filters=filters, rows=rows, left_out=left_out)


# --------------------------------------------------------------------------- effectiveness


EFFECT_COLUMNS = ["method", "measure", "measure_title", "contacted", "closed", "not_closed", "pending", "closed_rate"]


def gaps_closed_after_outreach(
    session: Session,
    as_of: dt.date,
    days: int = 90,
    *,
    since: dt.date | None = None,
    gaps: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """How many gaps closed within ``days`` of outreach, per method and measure.

    The unit is a patient's gap contacted by one method (three calls about the same
    gap count once for "call"). It counts as *closed* when, as of ``as_of``, the gap is
    met (or due soon) by an event dated on or after one of those contacts and within
    ``days`` of it; *pending* when it is not closed yet but the latest contact is less
    than ``days`` old; otherwise *not closed*. ``closed_rate`` is closed / (closed +
    not closed). Outreach without a measure is not counted. ``since`` limits the
    outreach considered; ``gaps`` (the columns of ``measures.gaps``) skips the lookup.
    Rows: one per method and measure, in method order.
    """
    o = models.OutreachLog
    where = [o.logged_at < _day_end(as_of), o.measure_id.is_not(None), o.withdrawn_at.is_(None)]
    if since is not None:
        where.append(o.logged_at >= dt.datetime.combine(since, dt.time()))
    log = pd.DataFrame.from_records(
        session.execute(select(o.patient_id, o.measure_id, o.method, o.logged_at).where(*where)).all(),
        columns=["patient_id", "measure", "method", "logged_at"],
    )
    if log.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EFFECT_COLUMNS})
    log["patient_id"] = log["patient_id"].astype("int64")
    log["day"] = pd.to_datetime(log["logged_at"]).dt.normalize()
    if gaps is None:
        from panelmanager.core.measures import gaps as cached_gaps

        gaps = cached_gaps(session, as_of, measure=sorted(log["measure"].unique()))
    state = gaps[["patient_id", "measure", "status", "last_date"]].copy()
    state["last_date"] = pd.to_datetime(state["last_date"]).dt.normalize()
    merged = log.merge(state, on=["patient_id", "measure"], how="left")
    met = merged["status"].isin(["met", "due-soon"])
    window_end = merged["day"] + pd.Timedelta(days=int(days))
    merged["closed"] = met & merged["last_date"].notna() & (merged["last_date"] >= merged["day"]) & (
        merged["last_date"] <= window_end
    )
    per_gap = merged.groupby(["method", "measure", "patient_id"], sort=False).agg(
        closed=("closed", "any"), latest=("day", "max")
    ).reset_index()
    cutoff = pd.Timestamp(as_of) - pd.Timedelta(days=int(days))
    per_gap["pending"] = ~per_gap["closed"] & (per_gap["latest"] > cutoff)
    per_gap["not_closed"] = ~per_gap["closed"] & ~per_gap["pending"]
    table = per_gap.groupby(["method", "measure"]).agg(
        contacted=("patient_id", "size"), closed=("closed", "sum"), pending=("pending", "sum"),
        not_closed=("not_closed", "sum"),
    ).reset_index()
    decided = table["closed"] + table["not_closed"]
    table["closed_rate"] = np.where(decided > 0, table["closed"] / decided.where(decided > 0, 1), np.nan)
    known = measure_info()
    table["measure_title"] = table["measure"].map(lambda m: known[m].title if m in known else m)
    method_order = {m: i for i, m in enumerate(METHODS)}
    table["_m"] = table["method"].map(lambda m: method_order.get(m, 99))
    table["_o"] = table["measure"].map(lambda m: known[m].order if m in known else 1000)
    table = table.sort_values(["_m", "_o", "measure"]).drop(columns=["_m", "_o"])
    for column in ("contacted", "closed", "pending", "not_closed"):
        table[column] = table[column].astype("int64")
    return table[EFFECT_COLUMNS].reset_index(drop=True)


def name_sort_key(names: pd.Series) -> pd.Series:
    """Lower case without accents, so Álvarez sorts with Alvarez, not after Zhang."""
    text = names.astype(object).where(names.notna(), "").astype(str).str.strip()
    return text.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii").str.lower()
