"""What the Patients screen shows: a filtered, sorted patient list and one patient's record.

``patient_list_query`` is one SQL statement returning patient ids for the search box
text (name fragment, DOB in any common format, or MRN: ``core.patients``) and the
filters a manager picks: the patient's PCP (or "on no panel"), patient status, risk
tier in force, and "has an open gap for measure X". Sorting is in SQL too (name, DOB,
MRN, status, PCP, risk tier, number of open gaps), so a list of 100,000 patients scrolls
through the lazy id model page by page. ``patient_list_rows`` adds the columns the list
shows for one page of ids.

Risk tiers and care gaps are read from their caches for the as-of date
(``risk_scores`` / ``measure_results``); ``caches_status`` says whether those are
current and ``refresh_caches`` (a job) recomputes them.

``patient_record`` gathers one patient's demographics, panel assignment with its
history and reasons, confirmations, stated preference, risk tier with its overrides,
recent and upcoming visits, and outreach history. The patient's care gaps with their
evidence are ``core.schedule.patient_gaps``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress
from panelmanager.core.patients import parse_search, search_condition
from panelmanager.core.people import PatientIdentity, identity_of
from panelmanager.core.schedule import visit_type_text
from panelmanager.core.visibility import visible

__all__ = [
    "UNASSIGNED",
    "LIST_SORT_KEYS",
    "PatientFilters",
    "CachesStatus",
    "ConfirmationEntry",
    "RiskInfo",
    "RiskOverrideEntry",
    "VisitEntry",
    "PatientRecord",
    "caches_status",
    "refresh_caches",
    "patient_list_query",
    "patient_list_rows",
    "patient_record",
    "risk_tier_choices",
]

UNASSIGNED = -1  # provider filter: patients on no panel

LIST_SORT_KEYS = ("name", "dob", "mrn", "status", "pcp", "tier", "gaps")


@dataclass(frozen=True)
class PatientFilters:
    """Who the Patients list shows."""

    text: str = ""  # name fragment, DOB or MRN
    provider_id: int | None = None  # the assigned PCP; UNASSIGNED: on no panel; None: anyone
    statuses: tuple[str, ...] | None = (m.PatientStatus.ACTIVE.value,)  # None or (): every status
    tier: int | None = None  # risk tier in force (override, else computed) as of the list's date
    gap_measure: str | None = None  # has an open gap for this measure as of the list's date


def _tier_in_force(as_of: dt.date):
    """(subquery of patient_id, tier) for ``as_of``: an active override, else the computed tier."""
    o, r = m.RiskOverride, m.RiskScore
    overrides = (
        select(o.patient_id.label("patient_id"), func.max(o.tier).label("tier"))
        .where(o.active.is_(True), o.tier.is_not(None))
        .group_by(o.patient_id)
        .subquery("override_tier")
    )
    scores = select(r.patient_id.label("patient_id"), r.computed_tier.label("tier")).where(r.as_of == as_of).subquery("score_tier")
    return overrides, scores


def _open_gap_counts(as_of: dt.date):
    r = m.MeasureResult
    return (
        select(r.patient_id.label("patient_id"), func.count().label("n"))
        .where(r.as_of == as_of, r.status == "open")
        .group_by(r.patient_id)
        .subquery("open_gaps")
    )


def patient_list_query(
    filters: PatientFilters,
    as_of: dt.date,
    *,
    sort: str | None = "name",
    descending: bool = False,
) -> Select:
    """Patient ids matching ``filters``, ordered by ``sort`` (one of ``LIST_SORT_KEYS``)."""
    p, a = m.Patient, m.Assignment
    stmt = select(p.id)
    condition = search_condition(parse_search(filters.text or "", as_of=as_of))
    if condition is not None:
        stmt = stmt.where(condition)
    if filters.statuses:
        stmt = stmt.where(p.status.in_(filters.statuses))
    # IN (subquery) rather than EXISTS: the subqueries run once along their own indexes.
    if filters.provider_id == UNASSIGNED:
        stmt = stmt.where(p.id.not_in(select(a.patient_id)))
    elif filters.provider_id is not None:
        stmt = stmt.where(p.id.in_(select(a.patient_id).where(a.provider_id == int(filters.provider_id))))
    if filters.gap_measure:
        r = m.MeasureResult
        stmt = stmt.where(
            p.id.in_(select(r.patient_id).where(r.as_of == as_of, r.measure_id == filters.gap_measure, r.status == "open"))
        )
    overrides = scores = None
    if filters.tier is not None or sort == "tier":
        overrides, scores = _tier_in_force(as_of)
        stmt = stmt.outerjoin(overrides, overrides.c.patient_id == p.id).outerjoin(scores, scores.c.patient_id == p.id)
        tier = func.coalesce(overrides.c.tier, scores.c.tier)
        if filters.tier is not None:
            stmt = stmt.where(tier == int(filters.tier))
    # Sorting on an expression, not the bare column: otherwise SQLite may walk the whole
    # last-name index row by row for a search without a status filter (3x slower).
    name = (func.coalesce(p.last_name, ""), func.coalesce(p.first_name, ""))
    if sort == "pcp":
        pcp = m.Provider.__table__.alias("pcp")
        stmt = stmt.outerjoin(a, a.patient_id == p.id).outerjoin(pcp, pcp.c.id == a.provider_id)
        keys: list = [func.coalesce(pcp.c.display_name, ""), *name]  # patients on no panel first, on any database
    elif sort == "tier" and overrides is not None and scores is not None:  # (both joined above for "tier")
        keys = [func.coalesce(overrides.c.tier, scores.c.tier, 0), *name]
    elif sort == "gaps":
        counts = _open_gap_counts(as_of)
        stmt = stmt.outerjoin(counts, counts.c.patient_id == p.id)
        keys = [func.coalesce(counts.c.n, 0), *name]
    elif sort == "dob":
        keys = [p.dob, *name]
    elif sort == "mrn":
        keys = [p.mrn]
    elif sort == "status":
        keys = [p.status, *name]
    else:
        keys = list(name)
    # Only the first key follows the direction: ties stay in name order.
    first, rest = keys[0], keys[1:]
    return stmt.order_by(first.desc() if descending else first, *rest, p.id)


def patient_list_rows(session: Session, ids: list[int], as_of: dt.date) -> dict[int, dict]:
    """The list's extra columns for a page of ids: pcp, pcp_id, confirmed, tier, open_gaps.

    ``confirmed`` is "patient and provider", "patient", "provider" or "" (assigned, not
    confirmed) and None for a patient on no panel. ``tier`` is None when no tier is
    stored for ``as_of``; ``open_gaps`` is None when no care gaps are cached for it.
    """
    if not ids:
        return {}
    a, pr = m.Assignment, m.Provider
    rows: dict[int, dict] = {
        int(i): {"pcp": None, "pcp_id": None, "confirmed": None, "tier": None, "tier_overridden": False, "open_gaps": None}
        for i in ids
    }
    for pid, provider_id, name, by_patient, by_provider in session.execute(
        select(a.patient_id, a.provider_id, pr.display_name, a.patient_confirmed_on, a.provider_confirmed_on)
        .join(pr, pr.id == a.provider_id)
        .where(a.patient_id.in_(ids))
    ):
        parts = (["patient"] if by_patient else []) + (["provider"] if by_provider else [])
        rows[pid].update(pcp=name, pcp_id=provider_id, confirmed=" and ".join(parts))
    r, o = m.RiskScore, m.RiskOverride
    for pid, tier in session.execute(select(r.patient_id, r.computed_tier).where(r.as_of == as_of, r.patient_id.in_(ids))):
        rows[pid]["tier"] = tier
    for pid, override in session.execute(
        select(o.patient_id, o.tier).where(o.active.is_(True), o.tier.is_not(None), o.patient_id.in_(ids)).order_by(o.recorded_at, o.id)
    ):
        rows[pid].update(tier=override, tier_overridden=True)
    run = session.scalar(select(m.MeasureRun.id).where(m.MeasureRun.kind == "gaps", m.MeasureRun.as_of == as_of))
    if run is not None:
        for row in rows.values():
            row["open_gaps"] = 0
        res = m.MeasureResult
        # Only patient_id in the WHERE clause so the database walks the patient_id index
        # (200 patients x a few cached dates), not the whole as-of date's results.
        is_open = case((and_(res.as_of == as_of, res.status == "open"), 1), else_=0)
        for pid, n in session.execute(
            select(res.patient_id, func.sum(is_open)).where(res.patient_id.in_(ids)).group_by(res.patient_id)
        ):
            rows[pid]["open_gaps"] = int(n or 0)
    return rows


# --------------------------------------------------------------------------- caches


@dataclass(frozen=True)
class CachesStatus:
    """Whether the care-gap and risk caches hold current figures for ``as_of``."""

    as_of: dt.date
    gaps_current: bool
    risk_current: bool
    gaps_present: bool
    risk_present: bool
    has_patients: bool = True

    @property
    def current(self) -> bool:
        """Nothing to recompute (an empty registry has nothing to compute either)."""
        return (self.gaps_current and self.risk_current) or not self.has_patients


def caches_status(session: Session, as_of: dt.date) -> CachesStatus:
    """Cheap: a couple of index look-ups (see ``core.measures.gaps.data_version``)."""
    from panelmanager.core.measures import data_version, gaps_are_stale

    run = m.MeasureRun
    risk = session.execute(select(run.data_version).where(run.kind == "risk", run.as_of == as_of)).first()
    gaps_present = session.scalar(select(run.id).where(run.kind == "gaps", run.as_of == as_of)) is not None
    return CachesStatus(
        as_of=as_of,
        gaps_current=not gaps_are_stale(session, as_of),
        # The risk rules file changing is caught when the tiers are next computed; here
        # the registry's content is what goes stale day to day.
        risk_current=risk is not None and risk[0] == data_version(session),
        gaps_present=gaps_present,
        risk_present=risk is not None,
        has_patients=session.scalar(select(m.Patient.id).limit(1)) is not None,
    )


def refresh_caches(
    session: Session,
    as_of: dt.date,
    *,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> CachesStatus:
    """Recompute the care gaps and risk tiers for ``as_of`` (a job: progress and cancel)."""
    from panelmanager.core.measures import refresh_gaps
    from panelmanager.core.risk import compute_risk

    def part(low: int, high: int) -> Progress:
        def report(done: int, total: int, message: str = "") -> None:
            progress(low + int((high - low) * done / max(total, 1)), 100, message)

        return report

    progress(0, 100, "Finding care gaps")
    refresh_gaps(session, as_of, progress=part(0, 70), cancel=cancel)
    cancel.raise_if_cancelled()
    progress(70, 100, "Scoring risk tiers")
    compute_risk(session, as_of, progress=part(70, 100), cancel=cancel)
    cancel.raise_if_cancelled()
    progress(100, 100, "Care gaps and risk tiers are up to date")
    return caches_status(session, as_of)


_TIER_LABELS: dict[tuple[str, int], list[tuple[int, str]]] = {}


def risk_tier_choices() -> list[tuple[int, str]]:
    """(tier, label) from ``resources/risk_tiers.toml``, lowest first; plain numbers when it does not load.

    Reads only the ``[[tiers]]`` tables (not the value sets the scoring needs), cached
    until the file changes.
    """
    from panelmanager.core.resources import load_toml, resource_path

    path = resource_path("risk_tiers.toml")
    try:
        key = (str(path), path.stat().st_mtime_ns)
        if key not in _TIER_LABELS:
            tiers = load_toml(path).get("tiers", [])
            _TIER_LABELS.clear()
            _TIER_LABELS[key] = sorted((int(t["tier"]), str(t.get("label", t["tier"]))) for t in tiers)
        return list(_TIER_LABELS[key]) or [(t, str(t)) for t in (1, 2, 3, 4)]
    except Exception:  # a broken rules file is reported where tiers are computed
        return [(t, str(t)) for t in (1, 2, 3, 4)]


# --------------------------------------------------------------------------- one patient


@dataclass(frozen=True)
class ConfirmationEntry:
    recorded_on: dt.date
    recorded_at: dt.datetime
    party: str  # patient, provider
    outcome: str  # confirmed, changed, declined, mine, not-mine
    provider: str | None
    method: str | None
    user: str | None
    reason: str | None


@dataclass(frozen=True)
class RiskOverrideEntry:
    recorded_at: dt.datetime
    tier: int | None  # None: the override was cleared
    reason: str
    user: str | None
    active: bool


@dataclass
class RiskInfo:
    """The patient's tier: the stored score (latest on or before the date) and any override."""

    scored_as_of: dt.date | None
    score: float | None
    computed_tier: int | None
    reasons: str
    override_tier: int | None
    override_reason: str | None
    override_user: str | None
    override_at: dt.datetime | None
    labels: dict[int, str] = field(default_factory=dict)
    overrides: list[RiskOverrideEntry] = field(default_factory=list)

    @property
    def tier(self) -> int | None:
        return self.override_tier if self.override_tier is not None else self.computed_tier

    def label(self, tier: int | None) -> str:
        return "" if tier is None else self.labels.get(tier, str(tier))


@dataclass(frozen=True)
class VisitEntry:
    visit_id: int
    start: dt.datetime
    provider: str | None
    visit_type: str
    visit_class: str
    status: str
    reason: str | None


@dataclass
class PatientRecord(PatientIdentity):
    status: str
    deceased_date: dt.date | None
    address: str
    phones: list[tuple[str, str]]  # (kind, number)
    email: str | None
    language: str | None
    pm_provider: str | None  # the PM system's own PCP field, as imported
    pcp_id: int | None
    pcp: str | None
    cut: str | None
    assignment_reason: str | None
    assigned_on: dt.date | None
    assigned_by: str | None
    patient_confirmed_on: dt.date | None
    provider_confirmed_on: dt.date | None
    preferred_provider: str | None
    preference_recorded_on: dt.date | None
    history: list  # core.empanelment.HistoryEntry, newest first
    confirmations: list[ConfirmationEntry]
    risk: RiskInfo
    visits: list[VisitEntry]  # upcoming first (soonest first), then past (newest first)
    outreach: list  # core.outreach.OutreachEntry, newest first
    version: int = 0  # the assignment version shown: passed back as expected_version (0: unassigned)


def _risk_info(session: Session, patient_id: int, as_of: dt.date) -> RiskInfo:
    r, o = m.RiskScore, m.RiskOverride
    score = session.execute(
        select(r.as_of, r.score, r.computed_tier, r.reasons)
        .where(r.patient_id == patient_id, r.as_of <= as_of)
        .order_by(r.as_of.desc())
        .limit(1)
    ).first()
    overrides = [
        RiskOverrideEntry(at, tier, reason, user, bool(active))
        for at, tier, reason, user, active in session.execute(
            select(o.recorded_at, o.tier, o.reason, o.user, o.active)
            .where(o.patient_id == patient_id)
            .order_by(o.recorded_at.desc(), o.id.desc())
        )
    ]
    current = next((e for e in overrides if e.active and e.tier is not None), None)
    return RiskInfo(
        scored_as_of=score[0] if score else None,
        score=float(score[1]) if score else None,
        computed_tier=int(score[2]) if score else None,
        reasons=(score[3] or "") if score else "",
        override_tier=current.tier if current else None,
        override_reason=current.reason if current else None,
        override_user=current.user if current else None,
        override_at=current.recorded_at if current else None,
        labels=dict(risk_tier_choices()),
        overrides=overrides,
    )


def patient_record(session: Session, patient_id: int, as_of: dt.date, *, visits: int = 15, outreach: int = 50) -> PatientRecord:
    """One patient's record for the patient view (a handful of small queries)."""
    from panelmanager.core.empanelment import EmpanelmentError
    from panelmanager.core.empanelment.assignments import history_rows
    from panelmanager.core.outreach import outreach_history

    patient = session.get(m.Patient, patient_id)
    if patient is None:
        raise EmpanelmentError(f"There is no patient with id {patient_id}.")
    names: dict[int | None, str] = dict(session.execute(select(m.Provider.id, m.Provider.display_name)).all())
    a = session.scalar(select(m.Assignment).where(m.Assignment.patient_id == patient_id))
    pref = session.scalar(select(m.PatientPreference).where(m.PatientPreference.patient_id == patient_id))
    c = m.Confirmation
    confirmations = [
        ConfirmationEntry(on, at, party, outcome, names.get(provider_id), method, user, reason)
        for on, at, party, outcome, provider_id, method, user, reason in session.execute(
            select(c.recorded_on, c.recorded_at, c.party, c.outcome, c.provider_id, c.method, c.user, c.reason)
            .where(c.patient_id == patient_id)
            .order_by(c.recorded_at.desc(), c.id.desc())
        )
    ]
    v = m.Visit
    day_start = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    columns = (v.id, v.start, v.provider_id, v.visit_type, v.visit_class, v.status, v.reason)
    upcoming = session.execute(
        select(*columns)
        .where(v.patient_id == patient_id, v.start >= day_start, v.status != m.VisitStatus.CANCELLED.value, visible(v))
        .order_by(v.start, v.id)
        .limit(5)
    ).all()
    past = session.execute(
        select(*columns).where(v.patient_id == patient_id, v.start < day_start, visible(v)).order_by(v.start.desc(), v.id.desc()).limit(visits)
    ).all()
    visit_rows = [
        VisitEntry(vid, start, names.get(provider_id), visit_type_text(vtype, vclass), vclass or "", status or "", reason)
        for vid, start, provider_id, vtype, vclass, status, reason in [*upcoming, *past]
    ]
    address_parts = [patient.address1, patient.address2]
    city_line = " ".join(x for x in [", ".join(x for x in (patient.city, patient.state) if x), patient.postal_code] if x)
    address = ", ".join(x for x in [*address_parts, city_line] if x)
    phones = [
        (kind, number)
        for kind, number in (("mobile", patient.phone_mobile), ("home", patient.phone_home), ("work", patient.phone_work))
        if number
    ]
    history = list(reversed(history_rows(session, patient_id)))  # the record's own view entry covers it
    return PatientRecord(
        **identity_of(patient, as_of),
        status=patient.status,
        deceased_date=patient.deceased_date,
        address=address,
        phones=phones,
        email=patient.email,
        language=patient.preferred_language,
        pm_provider=names.get(patient.pm_provider_id) if patient.pm_provider_id else None,
        pcp_id=a.provider_id if a else None,
        pcp=names.get(a.provider_id) if a else None,
        cut=a.cut if a else None,
        assignment_reason=a.reason if a else None,
        assigned_on=a.assigned_on if a else None,
        assigned_by=a.assigned_by if a else None,
        patient_confirmed_on=a.patient_confirmed_on if a else None,
        provider_confirmed_on=a.provider_confirmed_on if a else None,
        preferred_provider=names.get(pref.provider_id) if pref else None,
        preference_recorded_on=pref.recorded_on if pref else None,
        history=history,
        confirmations=confirmations,
        risk=_risk_info(session, patient_id, as_of),
        visits=visit_rows,
        outreach=outreach_history(session, patient_id, limit=outreach),
        version=(a.version or 0) if a else 0,
    )


def patient_list_ids(
    session: Session, filters: PatientFilters, as_of: dt.date, *, sort: str | None = "name", descending: bool = False
) -> list[int]:
    """The ids ``patient_list_query`` selects, in order (the Patients list and the check-in search)."""
    return _ids(session, patient_list_query(filters, as_of, sort=sort, descending=descending))


def _ids(session: Session, stmt: Select) -> list[int]:
    """The first column of ``stmt``'s rows as plain ints, read straight from the DB-API cursor:
    tens of thousands of ids ("m" matches a fifth of a registry) without a Row object each
    (the ORM result cost as much as the query itself, issue 9 item 17)."""
    result = session.connection().execute(stmt)
    if result.cursor is None:
        return [int(i) for i in result.scalars()]
    ids = [row[0] for row in result.cursor.fetchall()]
    result.close()
    return ids
