"""The front desk's day: who is on the schedule, whose panel they are on, and what to ask.

``day_schedule`` reads one day's visits (every provider, or one) in a single query with
each patient's assigned PCP and an *assignment status* the check-in screen colours:

- ``unassigned``: the patient is on no panel;
- ``other``: the patient is seeing a provider other than their assigned PCP;
- ``confirmed``: the patient has confirmed their assigned PCP (at check-in, scheduling...);
- ``unconfirmed``: assigned, but the patient has not confirmed it yet.

It also carries the patient's last answer to "is Dr. X your PCP?" (confirmed, changed,
declined, and when), so the desk does not ask twice on the same day.

``visit_gaps`` gives the care gaps to mention at the visit (open first, then due soon)
for a set of patients, each with a short text ("A1c 9.8% (2023-08-14)"). It reads the
care-gap cache when it is fresh for that day and otherwise evaluates the measures for
those patients only, as the huddle sheet does, so the check-in screen and the huddle
agree. ``patient_gaps`` is the same for one patient with every status (met and
excluded too), for the patient view.

``checkin_subject`` gathers what the confirm panel shows for one patient. Recording the
answer is ``core.empanelment.confirm_assignment(..., by="patient", method="check-in")``.

Everything is set-based: one query for the day, one for the confirmations, one
evaluation of the measures for the day's patients.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress
from panelmanager.core.people import PatientIdentity, age_on, identity_of, sorted_name
from panelmanager.core.visibility import visible

if TYPE_CHECKING:
    # pandas is imported where a frame is built: the check-in screen's first paint
    # (``day_schedule_rows``) must not wait ~2 s for it (start-up, issue 16).
    import pandas as pd

__all__ = [
    "ASSIGNMENT_STATUSES",
    "SCHEDULE_COLUMNS",
    "GAP_COLUMNS",
    "CheckInSubject",
    "PanelProvider",
    "assignment_status",
    "checkin_subject",
    "count_gaps",
    "day_schedule",
    "day_schedule_rows",
    "latest_patient_answers",
    "next_schedule_day",
    "panel_provider_choices",
    "patient_gaps",
    "schedule_providers",
    "visit_gaps",
    "visit_type_text",
]

ASSIGNMENT_STATUSES = ("confirmed", "unconfirmed", "unassigned", "other")

SCHEDULE_COLUMNS = [
    "visit_id", "start", "patient_id", "mrn", "name", "dob", "age", "sex", "visit_provider_id", "visit_provider",
    "visit_type", "visit_status", "pcp_id", "pcp", "status", "patient_confirmed_on", "provider_confirmed_on",
    "last_answer", "last_answer_on",
]

GAP_COLUMNS = [
    "patient_id", "measure", "title", "status", "due_date", "last_date", "last_code", "last_value", "text",
]

# Gap statuses in the order a list shows them.
_STATUS_ORDER = {"open": 0, "due-soon": 1, "met": 2, "excluded": 3}


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time())
    return start, start + dt.timedelta(days=1)


def _none(value):
    """pandas' missing values (NaN, NaT, NA) as None, anything else unchanged."""
    if value is None:
        return None
    pd = sys.modules.get("pandas")
    if pd is None:  # pandas never loaded: no NaT or NA can exist, only a float NaN
        return None if isinstance(value, float) and value != value else value
    try:
        return None if pd.isna(value) else value
    except (TypeError, ValueError):
        return value


def _date(value) -> dt.date | None:
    value = _none(value)
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    import pandas as pd

    return pd.Timestamp(value).date()


# --------------------------------------------------------------------------- the day's schedule


def assignment_status(pcp_id, visit_provider_id, patient_confirmed_on) -> str:
    """One of ``ASSIGNMENT_STATUSES`` for a patient at a visit (``visit_provider_id`` may be None)."""
    pcp_id = _none(pcp_id)
    visit_provider_id = _none(visit_provider_id)
    if pcp_id is None:
        return "unassigned"
    if visit_provider_id is not None and int(pcp_id) != int(visit_provider_id):
        return "other"
    return "confirmed" if _none(patient_confirmed_on) is not None else "unconfirmed"


def latest_patient_answers(session: Session, patient_ids: Iterable[int]) -> pd.DataFrame:
    """Each patient's most recent answer as a patient: patient_id, last_answer, last_answer_on, last_answer_by."""
    import pandas as pd

    ids = sorted({int(i) for i in patient_ids})
    columns = ["patient_id", "last_answer", "last_answer_on", "last_answer_by"]
    if not ids:
        return pd.DataFrame(columns=columns)
    c = m.Confirmation
    rows = session.execute(
        select(c.patient_id, c.outcome, c.recorded_on, c.user, c.recorded_at, c.id)
        .where(c.party == "patient", c.patient_id.in_(ids))
    ).all()
    frame = pd.DataFrame.from_records(rows, columns=columns + ["at", "id"])
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame = frame.sort_values(["patient_id", "at", "id"]).drop_duplicates("patient_id", keep="last")
    return frame[columns].reset_index(drop=True)


def _latest_answers(session: Session, patient_ids: Sequence[int]) -> dict[int, tuple[Any, Any]]:
    """``latest_patient_answers`` as {patient_id: (last_answer, last_answer_on)}, without pandas."""
    ids = sorted({int(i) for i in patient_ids})
    if not ids:
        return {}
    c = m.Confirmation
    rows = session.execute(
        select(c.patient_id, c.outcome, c.recorded_on, c.recorded_at, c.id).where(c.party == "patient", c.patient_id.in_(ids))
    ).all()
    latest: dict[int, tuple[Any, Any, Any, Any]] = {}
    for pid, outcome, on, at, cid in rows:
        seen = latest.get(pid)
        if seen is None or (at, cid) >= (seen[2], seen[3]):  # as latest_patient_answers: the last by (recorded_at, id)
            latest[pid] = (outcome, on, at, cid)
    return {pid: (answer, on) for pid, (answer, on, _at, _id) in latest.items()}


def day_schedule(session: Session, day: dt.date, provider_id: int | None = None) -> pd.DataFrame:
    """The day's visits that were not cancelled, in time order, with PCP and assignment status.

    Columns: ``SCHEDULE_COLUMNS``. ``start`` is a datetime, dates are ``datetime.date``
    or None, ids are ints or None. ``provider_id`` keeps one provider's visits.
    """
    import pandas as pd

    records = day_schedule_rows(session, day, provider_id)
    # object columns: ids stay ints (or None) instead of turning into floats around a gap
    return pd.DataFrame({c: pd.Series([rec[c] for rec in records], dtype=object) for c in SCHEDULE_COLUMNS})


def day_schedule_rows(session: Session, day: dt.date, provider_id: int | None = None) -> list[dict[str, Any]]:
    """``day_schedule`` as a list of dicts (keys ``SCHEDULE_COLUMNS``), built without pandas:
    the check-in screen's first paint at start-up reads it."""
    v, p, pr, a = m.Visit, m.Patient, m.Provider, m.Assignment
    pcp = m.Provider.__table__.alias("pcp")
    start, end = _day_bounds(day)
    stmt = (
        select(
            v.id, v.start, v.patient_id, p.mrn, p.last_name, p.first_name, p.middle_name, p.dob, p.sex,
            v.provider_id, pr.display_name, v.visit_type, v.visit_class, v.status,
            a.provider_id, pcp.c.display_name, a.patient_confirmed_on, a.provider_confirmed_on,
        )
        .join(p, p.id == v.patient_id)
        .outerjoin(pr, pr.id == v.provider_id)
        .outerjoin(a, a.patient_id == v.patient_id)
        .outerjoin(pcp, pcp.c.id == a.provider_id)
        .where(v.start >= start, v.start < end, v.status != m.VisitStatus.CANCELLED.value, visible(v))
        .order_by(v.start, pr.display_name, p.last_name, p.first_name, v.id)
    )
    if provider_id is not None:
        stmt = stmt.where(v.provider_id == provider_id)
    rows = session.execute(stmt).all()
    answer_of = _latest_answers(session, [r[2] for r in rows])
    records = []
    for r in rows:
        last_answer, last_answer_on = answer_of.get(r[2], (None, None))
        records.append(
            {
                "visit_id": r[0],
                "start": r[1],
                "patient_id": r[2],
                "mrn": r[3],
                "name": sorted_name(r[5], r[4], r[6]),
                "dob": r[7],
                "age": age_on(r[7], day),
                "sex": r[8] or "",
                "visit_provider_id": r[9],
                "visit_provider": r[10],
                "visit_type": visit_type_text(r[11], r[12]),
                "visit_status": r[13],
                "pcp_id": r[14],
                "pcp": r[15],
                "status": assignment_status(r[14], r[9], r[16]),
                "patient_confirmed_on": r[16],
                "provider_confirmed_on": r[17],
                "last_answer": last_answer,
                "last_answer_on": _date(last_answer_on),
            }
        )
    return records


def visit_type_text(visit_type, visit_class) -> str:
    text = (visit_type or "").strip()
    for suffix in (" (procedure)", " (environment)", " (finding)", " (regime/therapy)"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
    return text or (visit_class or "")


def schedule_providers(session: Session, day: dt.date) -> list[tuple[int, str, int]]:
    """Providers with visits on ``day`` (not cancelled): (id, name, number of visits), by name."""
    v, pr = m.Visit, m.Provider
    start, end = _day_bounds(day)
    rows = session.execute(
        select(pr.id, pr.display_name, func.count(v.id))
        .join(v, v.provider_id == pr.id)
        .where(v.start >= start, v.start < end, v.status != m.VisitStatus.CANCELLED.value, visible(v))
        .group_by(pr.id, pr.display_name)
        .order_by(pr.display_name, pr.id)
    ).all()
    return [(int(i), str(n), int(c)) for i, n, c in rows]


def next_schedule_day(session: Session, day: dt.date, *, within_days: int = 31) -> dt.date | None:
    """The first day on or after ``day`` (within ``within_days``) with a visit that was not cancelled."""
    v = m.Visit
    start, _end = _day_bounds(day)
    first = session.scalar(
        select(func.min(v.start)).where(
            v.start >= start,
            v.start < start + dt.timedelta(days=within_days),
            v.status != m.VisitStatus.CANCELLED.value,
            visible(v),
        )
    )
    return _date(first)


# --------------------------------------------------------------------------- care gaps to mention


def _empty_gaps() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=GAP_COLUMNS)


def _cached_gaps(session: Session, day: dt.date, ids: list[int]) -> pd.DataFrame | None:
    """The cached results for ``day`` when the cache is fresh, else None."""
    from panelmanager.core.measures import gaps_are_stale

    if gaps_are_stale(session, day):
        return None
    import pandas as pd

    r = m.MeasureResult
    rows = session.execute(
        select(r.patient_id, r.measure_id, r.status, r.due_date, r.last_date, r.last_code, r.last_value)
        .where(r.as_of == day, r.patient_id.in_(ids))
    ).all()
    return pd.DataFrame.from_records(
        rows, columns=["patient_id", "measure", "status", "due_date", "last_date", "last_code", "last_value"]
    )


def _evaluate(
    session: Session, day: dt.date, ids: list[int], measure_ids: list[str], progress: Progress, cancel: CancelToken
) -> pd.DataFrame:
    from panelmanager.core.measures import evaluate_measures

    frame = evaluate_measures(session, day, measure_ids=measure_ids, patient_ids=ids, progress=progress, cancel=cancel)
    return frame[["patient_id", "measure", "status", "due_date", "last_date", "last_code", "last_value"]]


def _gap_rows(
    session: Session,
    day: dt.date,
    patient_ids: Iterable[int],
    statuses: Sequence[str],
    clinical_only: bool,
    use_cache: bool,
    progress: Progress,
    cancel: CancelToken,
) -> pd.DataFrame:
    from panelmanager.core.gap_text import load_gap_labels, short_gap_text
    from panelmanager.core.outreach import measure_info

    ids = sorted({int(i) for i in patient_ids})
    known = measure_info()
    measure_ids = [mid for mid, info in known.items() if not (clinical_only and info.panel_gap)]
    if not ids or not measure_ids:
        return _empty_gaps()
    frame = _cached_gaps(session, day, ids) if use_cache else None
    if frame is None:
        frame = _evaluate(session, day, ids, measure_ids, progress, cancel)
    frame = frame[frame["measure"].isin(measure_ids) & frame["status"].isin(list(statuses))].copy()
    if frame.empty:
        return _empty_gaps()
    frame["patient_id"] = frame["patient_id"].astype("int64")
    frame["title"] = frame["measure"].map(lambda mid: known[mid].title if mid in known else mid)
    frame["_order"] = frame["measure"].map(lambda mid: known[mid].order if mid in known else 1000)
    frame["_status"] = frame["status"].map(_STATUS_ORDER).fillna(9)
    frame = frame.sort_values(["patient_id", "_status", "_order", "measure"], kind="stable")
    labels = load_gap_labels()
    for column in ("due_date", "last_date"):
        frame[column] = [_date(value) for value in frame[column]]
    for column in ("last_code", "last_value"):
        frame[column] = [None if _none(value) is None else str(value) for value in frame[column]]
    frame["text"] = [
        short_gap_text(mid, title, last_date, last_value, status, due, labels, as_of=day)
        for mid, title, last_date, last_value, status, due in zip(
            frame["measure"], frame["title"], frame["last_date"], frame["last_value"], frame["status"], frame["due_date"]
        )
    ]
    frame = frame[GAP_COLUMNS].reset_index(drop=True)
    return frame.astype(object).where(frame.notna(), None)


def visit_gaps(
    session: Session,
    day: dt.date,
    patient_ids: Iterable[int],
    *,
    include_due_soon: bool = True,
    use_cache: bool = True,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> pd.DataFrame:
    """Clinical care gaps to mention at a visit on ``day`` for ``patient_ids``.

    Columns: ``GAP_COLUMNS``; open gaps first, then due-soon ones, each in the measures'
    own order. Panel gaps (no upcoming appointment, no visit in 12 months) are left
    out: the patient is at the desk. Reads the cache when it is fresh for ``day``.
    """
    statuses = ("open", "due-soon") if include_due_soon else ("open",)
    return _gap_rows(session, day, patient_ids, statuses, True, use_cache, progress, cancel)


def patient_gaps(
    session: Session,
    patient_id: int,
    as_of: dt.date,
    *,
    use_cache: bool = True,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> pd.DataFrame:
    """Every measure one patient is eligible for as of ``as_of``, open first, with its evidence.

    Columns: ``GAP_COLUMNS`` (status open, due-soon, met or excluded; ``last_date``,
    ``last_code`` and ``last_value`` are the deciding event).
    """
    return _gap_rows(session, as_of, [patient_id], tuple(_STATUS_ORDER), False, use_cache, progress, cancel)


def count_gaps(gaps: pd.DataFrame) -> dict[int, tuple[int, int]]:
    """(open, due soon) per patient id from a ``visit_gaps`` frame."""
    if gaps is None or gaps.empty:
        return {}
    counts = gaps.groupby(["patient_id", "status"]).size()
    result: dict[int, tuple[int, int]] = {}
    for (pid, status), n in counts.items():
        open_, soon = result.get(int(pid), (0, 0))
        if status == "open":
            open_ += int(n)
        elif status == "due-soon":
            soon += int(n)
        result[int(pid)] = (open_, soon)
    return result


# --------------------------------------------------------------------------- the confirm panel


@dataclass(frozen=True)
class PanelProvider:
    """A provider a patient can be assigned to (holds a panel)."""

    id: int
    name: str
    panel_open: bool
    specialty: str | None = None  # decides which patients the panel fits (core.panel_fit)


def panel_provider_choices(session: Session) -> list[PanelProvider]:
    """Every provider who holds a panel, by name (for "Change to..." and "Assign to")."""
    from panelmanager.core.empanelment import panel_providers

    frame = panel_providers(session)
    frame = frame[frame["holds_panel"]].sort_values(["display_name", "id"])
    return [
        PanelProvider(int(i), str(n), bool(o) if _none(o) is not None else True, _none(s))
        for i, n, o, s in zip(frame["id"], frame["display_name"], frame["panel_open"], frame["specialty"])
    ]


@dataclass
class CheckInSubject(PatientIdentity):
    """What the confirm panel shows for one patient (at a visit, or found by a search)."""

    day: dt.date
    status: str  # ASSIGNMENT_STATUSES
    pcp_id: int | None
    pcp: str | None
    cut: str | None
    assignment_reason: str | None
    assigned_on: dt.date | None
    patient_confirmed_on: dt.date | None
    provider_confirmed_on: dt.date | None
    preferred_provider_id: int | None
    preferred_provider: str | None
    last_answer: str | None
    last_answer_on: dt.date | None
    last_answer_by: str | None
    visit_id: int | None = None
    visit_start: dt.datetime | None = None
    visit_provider_id: int | None = None
    visit_provider: str | None = None
    visit_type: str | None = None
    # Who "Assign to" / "Change to" should preselect: the 4-cut proposal, else the visit's
    # provider, only when that panel is open and fits the patient (core.panel_fit); else
    # nobody: the desk picks.
    suggested_provider_id: int | None = None
    choices: list[PanelProvider] = field(default_factory=list)
    version: int = 0  # the assignment version shown: passed back as expected_version (0: unassigned)

    @property
    def answered_today(self) -> bool:
        """The patient already answered on ``day`` (the desk need not ask again)."""
        return self.last_answer_on is not None and self.last_answer_on == self.day


def checkin_subject(session: Session, patient_id: int, day: dt.date, *, visit_id: int | None = None) -> CheckInSubject:
    """Everything the confirm panel needs for ``patient_id`` on ``day``.

    ``visit_id`` names the visit the patient is here for; without it the patient's
    first visit of ``day`` (if any) is used.
    """
    from panelmanager.core.empanelment import EmpanelmentError

    p, a, pref, pr, v = m.Patient, m.Assignment, m.PatientPreference, m.Provider, m.Visit
    patient = session.get(p, patient_id)
    if patient is None:
        raise EmpanelmentError(f"There is no patient with id {patient_id}.")
    assignment = session.scalar(select(a).where(a.patient_id == patient_id))
    preference = session.scalar(select(pref).where(pref.patient_id == patient_id))
    names = dict(session.execute(select(pr.id, pr.display_name)).all())
    start, end = _day_bounds(day)
    visit_stmt = select(v.id, v.start, v.provider_id, v.visit_type, v.visit_class).where(
        v.patient_id == patient_id, visible(v))
    if visit_id is not None:
        visit_stmt = visit_stmt.where(v.id == visit_id)
    else:
        visit_stmt = visit_stmt.where(
            v.start >= start, v.start < end, v.status != m.VisitStatus.CANCELLED.value
        ).order_by(v.start, v.id)
    visit = session.execute(visit_stmt.limit(1)).first()
    answers = latest_patient_answers(session, [patient_id])
    answer = answers.iloc[0] if not answers.empty else None
    pcp_id = assignment.provider_id if assignment else None
    visit_provider_id = visit[2] if visit else None
    from panelmanager.core.panel_fit import default_pcp, proposed_provider

    choices = panel_provider_choices(session)
    age = age_on(patient.dob, day)
    suggested = default_pcp(choices, [proposed_provider(session, patient_id), visit_provider_id], age, exclude=pcp_id)
    return CheckInSubject(
        **identity_of(patient, day),
        day=day,
        status=assignment_status(pcp_id, visit_provider_id, assignment.patient_confirmed_on if assignment else None),
        pcp_id=pcp_id,
        pcp=names.get(pcp_id) if pcp_id is not None else None,
        cut=assignment.cut if assignment else None,
        assignment_reason=assignment.reason if assignment else None,
        assigned_on=assignment.assigned_on if assignment else None,
        patient_confirmed_on=assignment.patient_confirmed_on if assignment else None,
        provider_confirmed_on=assignment.provider_confirmed_on if assignment else None,
        preferred_provider_id=preference.provider_id if preference else None,
        preferred_provider=names.get(preference.provider_id) if preference else None,
        last_answer=str(answer["last_answer"]) if answer is not None else None,
        last_answer_on=_date(answer["last_answer_on"]) if answer is not None else None,
        last_answer_by=_none(answer["last_answer_by"]) if answer is not None else None,
        visit_id=visit[0] if visit else None,
        visit_start=visit[1] if visit else None,
        visit_provider_id=visit_provider_id,
        visit_provider=names.get(visit_provider_id) if visit_provider_id is not None else None,
        visit_type=visit_type_text(visit[3], visit[4]) if visit else None,
        suggested_provider_id=suggested,
        choices=choices,
        version=(assignment.version or 0) if assignment else 0,
    )
