"""Panel capacity: target panel sizes, weighted panel sizes, continuity, and the milestone score.

- **Target panel** (Murray & Davies, Fam Pract Manag 2007): target = visits per day x
  clinic days per year / average visits per patient per year. A provider's own clinic
  days and visits per day are used when set; otherwise the practice defaults
  (``default_clinic_days_per_fte`` x FTE, ``default_visits_per_day``). The average
  visits per patient per year is the practice's own: completed primary-care visits with
  panel providers in the 12 months before ``as_of``, divided by the assigned active
  patients.
- **Weighted panel**: each assigned patient weighs their age band / sex visit rate
  (``resources/panel_weights.toml``) divided by the practice's average assigned patient's
  rate, so weighted sizes add up to the practice's head count and show which panels
  carry more work than their head count.
- **Risk-weighted panel**: each assigned patient weighs their risk tier's primary-care
  visits per patient over the practice's (the practice's own utilisation by tier), with
  the tiers ``panelmanager.core.risk.current_tiers`` has computed for ``as_of``; null
  when no tiers were computed for that date.
- **Continuity** (NCQA PCMH, Access & Continuity): the share of each panel's primary-care
  visits that were with the panel's own provider.
- **Unassigned visitors**: active patients with primary-care visits in the look-back
  window who are on no panel.
- **Milestone score**: the practice's empanelment level 1-4 (Safety Net Medical Home
  Initiative empanelment milestones), with the figures behind it and what is missing
  for the next level.

All functions are set-based reads (SQL aggregates + pandas) and write nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.alive import alive_and_active_on
from panelmanager.core.empanelment import (
    PanelRules,
    load_panel_rules,
    panel_providers,
    qualifying_visit_pairs,
    window_start_for,
)
from panelmanager.core.empanelment.base import _months_before, _read
from panelmanager.core.resources import ResourceError, load_toml, resource_path
from panelmanager.core.settings import PracticeSettings, load_settings
from panelmanager.core.visibility import visible

__all__ = [
    "PanelWeights",
    "load_panel_weights",
    "age_sex_rates",
    "practice_visits_per_patient_year",
    "PanelCapacityRow",
    "panel_capacity",
    "ContinuityRow",
    "ContinuityReport",
    "continuity",
    "UnassignedVisitor",
    "unassigned_visiting",
    "MilestoneReport",
    "milestone",
    "PanelOverview",
    "panel_overview",
]

_WEIGHTS_FILE = "panel_weights.toml"


# --------------------------------------------------------------------------- weights


@dataclass(frozen=True)
class WeightBand:
    label: str
    min_age: int
    max_age: int
    female: float
    male: float
    both: float


@dataclass(frozen=True)
class PanelWeights:
    """Age band x sex visit rates (any unit: only their ratios matter) and their source."""

    bands: tuple[WeightBand, ...]
    source: str


def load_panel_weights(path: Path | None = None) -> PanelWeights:
    """Read ``resources/panel_weights.toml``; errors name the file and the band."""
    path = path or resource_path(_WEIGHTS_FILE)
    data = load_toml(path)
    raw = data.get("band")
    if not isinstance(raw, list) or not raw:
        raise ResourceError(f"{path}: no [[band]] tables; each band needs label, min_age, max_age, female, male, both.")
    bands = []
    for number, band in enumerate(raw, start=1):
        try:
            item = WeightBand(
                label=str(band["label"]),
                min_age=int(band["min_age"]),
                max_age=int(band["max_age"]),
                female=float(band["female"]),
                male=float(band["male"]),
                both=float(band["both"]),
            )
        except KeyError as exc:
            raise ResourceError(f"{path}: band {number} has no {exc.args[0]}.") from None
        except (TypeError, ValueError) as exc:
            raise ResourceError(f"{path}: band {number}: {exc}.") from None
        if item.min_age > item.max_age or min(item.female, item.male, item.both) <= 0:
            raise ResourceError(f"{path}: band {number} ({item.label}): ages must run low to high and rates be above 0.")
        bands.append(item)
    bands.sort(key=lambda b: b.min_age)
    for before, after in zip(bands, bands[1:]):
        if after.min_age != before.max_age + 1:
            raise ResourceError(f"{path}: bands '{before.label}' and '{after.label}' leave a gap or overlap.")
    return PanelWeights(bands=tuple(bands), source=str(data.get("source", "")))


def age_sex_rates(dob: pd.Series, sex: pd.Series, as_of: dt.date, weights: PanelWeights) -> np.ndarray:
    """Each patient's visit rate for their age (in whole years on ``as_of``) and sex; NaN if no DOB."""
    born = pd.to_datetime(dob, errors="coerce")
    ref = pd.Timestamp(as_of)
    years = ref.year - born.dt.year
    before_birthday = (born.dt.month > ref.month) | ((born.dt.month == ref.month) & (born.dt.day > ref.day))
    age = (years - before_birthday.astype("int64")).to_numpy(dtype="float64")
    sex_code = sex.astype(object).where(sex.notna(), "").astype(str).str.upper().str[:1].to_numpy()
    rate = np.full(len(age), np.nan)
    for band in weights.bands:
        inside = (age >= band.min_age) & (age <= band.max_age)
        rate[inside] = np.select(
            [sex_code[inside] == "F", sex_code[inside] == "M"], [band.female, band.male], band.both
        )
    return rate


def _cached_tiers(session: Session, as_of: dt.date) -> pd.DataFrame | None:
    """Risk tiers already computed for ``as_of`` (patient_id, tier), or None.

    Read from ``panelmanager.core.risk.current_tiers`` without recomputing: panel sizes
    stay a quick read, and the risk-weighted column is null until the risk
    stratification has been run for that date (``panelmanager risk``).
    """
    try:
        from panelmanager.core.risk import current_tiers  # noqa: PLC0415 - optional (the risk issue)
    except ImportError:
        return None
    tiers = current_tiers(session, as_of, refresh=False)
    if isinstance(tiers, pd.Series):
        tiers = tiers.rename("tier").rename_axis("patient_id").reset_index()
    elif isinstance(tiers, dict):
        tiers = pd.DataFrame({"patient_id": list(tiers), "tier": list(tiers.values())})
    if not isinstance(tiers, pd.DataFrame) or tiers.empty or not {"patient_id", "tier"} <= set(tiers.columns):
        return None
    return tiers[["patient_id", "tier"]]


def _risk_weights(tiers: pd.DataFrame, panel: pd.DataFrame, visits_per_patient: pd.Series) -> np.ndarray:
    """Each assigned patient's risk weight: their tier's visits per patient / the practice's.

    No published table weighs panels by these tiers, so the practice's own utilisation
    sets the weights (Murray & Davies' advice to adjust panels by the practice's own
    visit rates): a tier whose patients make twice the average number of primary-care
    visits weighs 2. Patients without a tier weigh 1.
    """
    tier = panel["patient_id"].map(tiers.drop_duplicates("patient_id").set_index("patient_id")["tier"])
    visits = panel["patient_id"].map(visits_per_patient).fillna(0).astype("float64")
    overall = float(visits.mean()) if len(visits) else 0.0
    if overall <= 0:
        return np.ones(len(panel))
    per_tier = visits.groupby(tier).mean() / overall
    return tier.map(per_tier).fillna(1.0).to_numpy(dtype="float64")


# --------------------------------------------------------------------------- targets


def _rules(settings: PracticeSettings) -> PanelRules:
    return load_panel_rules(specialties=settings.panel_specialties or None)


def _assigned_active(session: Session, as_of: dt.date) -> pd.DataFrame:
    """Assigned patients who are active and alive on ``as_of``.

    Columns: patient_id, provider_id, dob (datetime64), sex, provider_confirmed_on,
    patient_confirmed_on (as stored; test them with notna()).
    """
    a, p = m.Assignment, m.Patient
    df = _read(
        session,
        select(a.patient_id, a.provider_id, p.dob, p.sex, a.provider_confirmed_on, a.patient_confirmed_on)
        .join(p, p.id == a.patient_id)
        .where(alive_and_active_on(as_of, p)),
        ["patient_id", "provider_id", "dob", "sex", "provider_confirmed_on", "patient_confirmed_on"],
        raw=True,
    )
    df["dob"] = pd.to_datetime(df["dob"], errors="coerce")
    return df


def _active_living_count(session: Session, as_of: dt.date) -> int:
    p = m.Patient
    return int(
        session.scalar(
            select(func.count())
            .select_from(p)
            .where(alive_and_active_on(as_of, p))
        )
        or 0
    )


def _primary_care_visit_count(session: Session, start: dt.date, end: dt.date, provider_ids: set[int], rules: PanelRules) -> int:
    """Completed primary-care visits with the given providers, from ``start`` through ``end``."""
    if not provider_ids:
        return 0
    v = m.Visit
    stmt = select(v.provider_id, func.count()).where(
        v.status == m.VisitStatus.COMPLETED.value,
        v.start >= dt.datetime.combine(start, dt.time.min),
        v.start < dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min),
        v.visit_class.in_(rules.counted_classes),
        v.provider_id.is_not(None),
        visible(v),
    ).group_by(v.provider_id)
    return sum(int(n) for provider, n in session.connection().execute(stmt).all() if provider in provider_ids)


def practice_visits_per_patient_year(
    session: Session, as_of: dt.date, *, settings: PracticeSettings | None = None, assigned: int | None = None
) -> tuple[float, str]:
    """The practice's average primary-care visits per assigned patient per year, and how it was found.

    Visits: completed primary-care visits with panel providers in the 12 months before
    ``as_of``. Patients: assigned, active, living. With no assigned patient (or no visit)
    yet, the practice setting ``fallback_visits_per_patient_year`` is used.
    """
    settings = settings or load_settings(session)
    rules = _rules(settings)
    providers = panel_providers(session, rules=rules, settings=settings)
    eligible = set(providers.loc[providers["holds_panel"], "id"].astype("int64"))
    if assigned is None:
        assigned = len(_assigned_active(session, as_of))
    visits = _primary_care_visit_count(session, _months_before(as_of, 12) + dt.timedelta(days=1), as_of, eligible, rules)
    if assigned and visits:
        return visits / assigned, f"{visits:,} primary-care visits in the last 12 months / {assigned:,} assigned patients"
    return float(settings.fallback_visits_per_patient_year), "practice default (no assigned patients or visits yet)"


@dataclass
class PanelCapacityRow:
    """One provider's panel against their capacity (``panelmanager panels``)."""

    provider_id: int
    provider: str  # external id
    npi: str | None
    name: str
    specialty: str | None
    holds_panel: bool
    fte: float
    clinic_days_per_year: float
    visits_per_day: float
    visits_per_patient_year: float
    target: int | None
    assigned: int
    weighted: float
    risk_weighted: float | None
    percent_of_target: float | None  # weighted panel / target x 100
    open: bool
    provider_confirmed: int
    patient_confirmed: int


def panel_capacity(session: Session, as_of: dt.date, *, weights: PanelWeights | None = None) -> list[PanelCapacityRow]:
    """Per provider who holds a panel (or still has patients on one): size, weighted size, target.

    ``weighted`` is the age/sex-weighted panel (see the module docstring),
    ``percent_of_target`` compares the weighted panel with the target, and
    ``risk_weighted`` stays None until the risk module provides tiers.
    """
    settings = load_settings(session)
    weights = weights or load_panel_weights()
    providers = panel_providers(session, rules=_rules(settings), settings=settings)
    panel = _assigned_active(session, as_of)
    rate = age_sex_rates(panel["dob"], panel["sex"], as_of, weights)
    known = ~np.isnan(rate)
    mean_rate = float(rate[known].mean()) if known.any() else 1.0
    panel["weight"] = np.where(known, rate / mean_rate, 1.0)
    per_visit, _basis = practice_visits_per_patient_year(session, as_of, settings=settings, assigned=len(panel))
    tiers = _cached_tiers(session, as_of)
    risk = None
    if tiers is not None:
        rules = _rules(settings)
        eligible = set(providers.loc[providers["holds_panel"], "id"].astype("int64"))
        pairs = qualifying_visit_pairs(
            session, start=_months_before(as_of, 12) + dt.timedelta(days=1), end=as_of, rules=rules, provider_ids=eligible
        )
        risk = _risk_weights(tiers, panel, pairs.groupby("patient_id")["visits"].sum())
        panel["risk_weight"] = risk

    grouped = panel.groupby("provider_id").agg(
        assigned=("patient_id", "size"),
        weighted=("weight", "sum"),
        provider_confirmed=("provider_confirmed_on", "count"),
        patient_confirmed=("patient_confirmed_on", "count"),
    )
    if risk is not None:
        grouped["risk_weighted"] = panel.groupby("provider_id")["risk_weight"].sum()
    shown = providers[providers["holds_panel"] | providers["id"].isin(grouped.index)]
    rows = []
    for p in shown.itertuples(index=False):
        fte = float(p.fte) if pd.notna(p.fte) else 1.0
        days = float(p.clinic_days_per_year) if pd.notna(p.clinic_days_per_year) else settings.default_clinic_days_per_fte * fte
        per_day = float(p.visits_per_day) if pd.notna(p.visits_per_day) else settings.default_visits_per_day
        target = int(round(per_day * days / per_visit)) if per_visit > 0 and p.holds_panel else None
        stats = grouped.loc[p.id] if p.id in grouped.index else None
        assigned = int(stats["assigned"]) if stats is not None else 0
        weighted = round(float(stats["weighted"]), 1) if stats is not None else 0.0
        risk_weighted = None
        if risk is not None:
            risk_weighted = round(float(stats["risk_weighted"]), 1) if stats is not None else 0.0
        rows.append(
            PanelCapacityRow(
                provider_id=int(p.id),
                provider=p.external_id,
                npi=p.npi if isinstance(p.npi, str) else None,
                name=p.display_name,
                specialty=p.specialty if isinstance(p.specialty, str) else None,
                holds_panel=bool(p.holds_panel),
                fte=fte,
                clinic_days_per_year=round(days, 1),
                visits_per_day=per_day,
                visits_per_patient_year=round(per_visit, 2),
                target=target,
                assigned=assigned,
                weighted=weighted,
                risk_weighted=risk_weighted,
                percent_of_target=round(100.0 * weighted / target, 1) if target else None,
                open=bool(p.panel_open) if pd.notna(p.panel_open) else True,
                provider_confirmed=int(stats["provider_confirmed"]) if stats is not None else 0,
                patient_confirmed=int(stats["patient_confirmed"]) if stats is not None else 0,
            )
        )
    rows.sort(key=lambda r: (not r.holds_panel, r.name.lower(), r.provider_id))
    return rows


# --------------------------------------------------------------------------- continuity


@dataclass
class ContinuityRow:
    provider_id: int
    provider: str
    name: str
    panel_patients: int
    visits: int  # the panel's primary-care visits with any panel provider
    with_own_provider: int
    share: float | None  # with_own_provider / visits


@dataclass
class ContinuityReport:
    """NCQA PCMH continuity: share of panel patients' primary-care visits with their own provider."""

    start: dt.date
    end: dt.date
    rows: list[ContinuityRow]
    visits: int
    with_own_provider: int
    share: float | None


def continuity(session: Session, as_of: dt.date, *, months: int | None = None) -> ContinuityReport:
    """Continuity per panel over the ``months`` (default: the practice setting, 12) before ``as_of``.

    Counts completed primary-care visits with any provider who holds a panel, by
    patients assigned (now) to a panel; a visit with the patient's own panel provider
    is a continuity visit.
    """
    settings = load_settings(session)
    rules = _rules(settings)
    months = int(months or settings.continuity_months)
    start = window_start_for(as_of, months)
    providers = panel_providers(session, rules=rules, settings=settings)
    eligible = set(providers.loc[providers["holds_panel"], "id"].astype("int64"))
    panel = _assigned_active(session, as_of)[["patient_id", "provider_id"]].rename(columns={"provider_id": "own"})
    pairs = qualifying_visit_pairs(session, start=start, end=as_of, rules=rules, provider_ids=eligible)
    joined = pairs.merge(panel, on="patient_id", how="inner")
    joined["own_visits"] = np.where(joined["provider_id"] == joined["own"], joined["visits"], 0)
    per = joined.groupby("own").agg(visits=("visits", "sum"), with_own=("own_visits", "sum"))
    sizes = panel.groupby("own").size()
    names = providers.set_index("id")
    rows = []
    for pid in sorted(set(sizes.index) | set(per.index)):
        visits = int(per.loc[pid, "visits"]) if pid in per.index else 0
        own = int(per.loc[pid, "with_own"]) if pid in per.index else 0
        rows.append(
            ContinuityRow(
                provider_id=int(pid),
                provider=str(names.loc[pid, "external_id"]),
                name=str(names.loc[pid, "display_name"]),
                panel_patients=int(sizes.get(pid, 0)),
                visits=visits,
                with_own_provider=own,
                share=round(own / visits, 3) if visits else None,
            )
        )
    rows.sort(key=lambda r: r.name.lower())
    total = int(per["visits"].sum()) if not per.empty else 0
    own_total = int(per["with_own"].sum()) if not per.empty else 0
    return ContinuityReport(
        start=start, end=as_of, rows=rows, visits=total, with_own_provider=own_total,
        share=round(own_total / total, 3) if total else None,
    )


# --------------------------------------------------------------------------- unassigned visitors


@dataclass
class UnassignedVisitor:
    patient_id: int
    mrn: str
    name: str
    visits: int
    last_visit: dt.date
    most_seen_provider: str | None  # external id


def unassigned_visiting(session: Session, as_of: dt.date, *, lookback_months: int | None = None) -> list[UnassignedVisitor]:
    """Active, living patients with completed primary-care visits in the look-back window who are on no panel.

    Visits with any provider count here (a patient who sees only a provider without a
    panel still needs one). Most visits first.
    """
    settings = load_settings(session)
    rules = _rules(settings)
    start = window_start_for(as_of, int(lookback_months or settings.lookback_months))
    pairs = qualifying_visit_pairs(session, start=start, end=as_of, rules=rules, provider_ids=None)
    if pairs.empty:
        return []
    p, a = m.Patient, m.Assignment
    patients = _read(
        session,
        select(p.id, p.mrn, p.last_name, p.first_name, p.deceased_date)
        .outerjoin(a, a.patient_id == p.id)
        .where(alive_and_active_on(as_of, p), a.id.is_(None)),
        ["patient_id", "mrn", "last_name", "first_name", "deceased_date"],
    )
    died = pd.to_datetime(patients["deceased_date"])
    patients = patients[~(died.notna() & (died <= pd.Timestamp(as_of)))]
    visiting = pairs[pairs["patient_id"].isin(patients["patient_id"])]
    if visiting.empty:
        return []
    top = visiting.sort_values(["patient_id", "visits", "last_day", "provider_id"], ascending=[True, False, False, True])
    top = top.drop_duplicates("patient_id").set_index("patient_id")["provider_id"]
    per = visiting.groupby("patient_id").agg(visits=("visits", "sum"), last=("last_day", "max"))
    external = dict(
        session.execute(select(m.Provider.id, m.Provider.external_id).where(m.Provider.id.in_(sorted(set(top.astype(int)))))).all()
    )
    info = patients.set_index("patient_id")
    out = []
    for pid, row in per.iterrows():
        last_name = info.at[pid, "last_name"] if pd.notna(info.at[pid, "last_name"]) else ""
        first_name = info.at[pid, "first_name"] if pd.notna(info.at[pid, "first_name"]) else ""
        out.append(
            UnassignedVisitor(
                patient_id=int(pid),
                mrn=str(info.at[pid, "mrn"]),
                name=", ".join(x for x in (last_name, first_name) if x),
                visits=int(row["visits"]),
                last_visit=pd.Timestamp(row["last"]).date(),
                most_seen_provider=external.get(int(top.loc[pid])),
            )
        )
    out.sort(key=lambda v: (-v.visits, v.name, v.mrn))
    return out


# --------------------------------------------------------------------------- milestone


LEVEL_LABELS = {
    1: "No systematic assignment",
    2: "Assignment method in place; not all patients assigned and confirmed",
    3: "All patients assigned by the method; confirmations recorded as patients are seen",
    4: "Assigned, confirmed with providers and patients, and reviewed regularly",
}


@dataclass
class MilestoneReport:
    """The practice's empanelment level with the figures behind it.

    ``reasons`` says why the practice is at ``level``; ``missing`` says what the next
    level needs (empty at level 4).
    """

    level: int
    label: str
    as_of: dt.date
    figures: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def milestone(session: Session, as_of: dt.date) -> MilestoneReport:
    """Score the practice's empanelment (levels 1-4) from the registry as of ``as_of``.

    1. no systematic assignment (no review of the assignment engine accepted: running one
       is not applying it);
    2. a method exists, but patients are not all assigned, or confirmations are not
       recorded as patients are seen;
    3. at least ``milestone_assigned_threshold`` of active patients assigned, and a
       patient confirmation (any answer) recorded for at least
       ``milestone_confirmed_threshold`` of the assigned patients seen in the review
       period, but no accepted review in the period or too few provider confirmations;
    4. as 3, with at least the confirmed threshold of assigned patients confirmed by
       their provider and of those seen confirmed by the patient, and a review accepted
       with an as-of date within the review period (``review_period_months``).
    """
    settings = load_settings(session)
    rules = _rules(settings)
    period_start = _months_before(as_of, settings.review_period_months)
    active = _active_living_count(session, as_of)
    panel = _assigned_active(session, as_of)
    assigned = len(panel)
    provider_confirmed = int(panel["provider_confirmed_on"].notna().sum())

    # Assigned patients seen in the review period, and which of them were asked / confirmed.
    providers = panel_providers(session, rules=rules, settings=settings)
    pairs = qualifying_visit_pairs(session, start=period_start, end=as_of, rules=rules, provider_ids=None)
    seen_ids = set(pairs["patient_id"].unique()) & set(panel["patient_id"])
    c = m.Confirmation
    asked_ids = set(
        session.scalars(
            select(c.patient_id).where(c.party == "patient", c.recorded_on >= period_start, c.recorded_on <= as_of).distinct()
        )
    )
    patient_confirmed_ids = set(panel.loc[panel["patient_confirmed_on"].notna(), "patient_id"])
    seen = len(seen_ids)
    seen_asked = len(seen_ids & asked_ids)
    seen_confirmed = len(seen_ids & patient_confirmed_ids)

    r = m.PanelReview
    reviews_total = int(session.scalar(select(func.count()).select_from(r)) or 0)
    last_run = session.scalar(select(func.max(r.as_of)))
    last_accepted = session.scalar(select(func.max(r.as_of)).where(r.status.in_(("accepted", "partly"))))
    # Reviews whose proposals were (at least partly) accepted: the method applied, not merely run.
    item = m.PanelReviewItem
    accepted_total = int(session.scalar(
        select(func.count(func.distinct(item.review_id))).where(item.decision.in_(("accepted", "kept")))
    ) or 0)
    reviewed_in_period = last_accepted is not None and period_start <= last_accepted <= as_of

    share = lambda part, whole: (part / whole) if whole else None  # noqa: E731
    figures: dict[str, Any] = {  # counts, shares (float or None) and dates, as the report shows them
        "active_patients": active,
        "assigned": assigned,
        "assigned_share": share(assigned, active),
        "needs_assignment": max(active - assigned, 0),
        "provider_confirmed": provider_confirmed,
        "provider_confirmed_share": share(provider_confirmed, assigned),
        "patient_confirmed": len(patient_confirmed_ids),
        "seen_in_review_period": seen,
        "seen_with_patient_answer": seen_asked,
        "seen_with_patient_answer_share": share(seen_asked, seen),
        "seen_confirmed_by_patient": seen_confirmed,
        "seen_confirmed_by_patient_share": share(seen_confirmed, seen),
        "reviews": reviews_total,
        "accepted_reviews": accepted_total,
        "last_review_as_of": last_run,
        "last_accepted_review_as_of": last_accepted,
        "review_period_start": period_start,
        "panel_providers": int(providers["holds_panel"].sum()),
    }
    assigned_min = settings.milestone_assigned_threshold
    confirmed_min = settings.milestone_confirmed_threshold
    thresholds = {
        "assigned_share": assigned_min,
        "confirmed_share": confirmed_min,
        "review_period_months": settings.review_period_months,
    }

    def meets(value: float | None, minimum: float) -> bool:
        return value is not None and value >= minimum

    # A method is in place once it was applied (a review accepted), not when a review was merely run.
    method = accepted_total > 0
    all_assigned = meets(figures["assigned_share"], assigned_min)
    asked_as_seen = meets(figures["seen_with_patient_answer_share"], confirmed_min)
    providers_confirmed = meets(figures["provider_confirmed_share"], confirmed_min)
    patients_confirmed = meets(figures["seen_confirmed_by_patient_share"], confirmed_min)

    checks = {
        "method": (
            method,
            f"Assignment by the 4-cut method has been applied ({accepted_total} review(s) accepted, last as of "
            f"{last_accepted})"
            if method
            else f"No assignment review has been accepted yet ({reviews_total} run, last as of {last_run})"
            if reviews_total
            else "No patient has been assigned by a defined method yet",
            "Run the assignment engine (panelmanager assign) and accept its review",
        ),
        "assigned": (
            all_assigned,
            f"{_pct(figures['assigned_share'])} of {active:,} active patients are assigned "
            f"(needs {_pct(assigned_min)}; {figures['needs_assignment']:,} need assignment)",
            f"Assign at least {_pct(assigned_min)} of active patients ({figures['needs_assignment']:,} need assignment)",
        ),
        "asked": (
            asked_as_seen,
            f"Patients' answers recorded for {_pct(figures['seen_with_patient_answer_share'])} of the {seen:,} "
            f"assigned patients seen since {period_start} (needs {_pct(confirmed_min)})",
            "Ask patients to confirm their provider at scheduling or check-in "
            f"(at least {_pct(confirmed_min)} of those seen)",
        ),
        "providers": (
            providers_confirmed,
            f"Providers confirmed {_pct(figures['provider_confirmed_share'])} of assigned patients "
            f"(needs {_pct(confirmed_min)})",
            f"Have providers confirm their panel lists (at least {_pct(confirmed_min)} of assigned patients)",
        ),
        "patients": (
            patients_confirmed,
            f"Patients confirmed their provider for {_pct(figures['seen_confirmed_by_patient_share'])} of those seen "
            f"(needs {_pct(confirmed_min)})",
            f"Have patients confirm their provider (at least {_pct(confirmed_min)} of those seen)",
        ),
        "review": (
            reviewed_in_period,
            f"A review was accepted as of {last_accepted} (within the {settings.review_period_months}-month review period)"
            if reviewed_in_period
            else f"No review accepted since {period_start}"
            + (f" (last accepted as of {last_accepted})" if last_accepted else ""),
            f"Run and accept a panel review at least every {settings.review_period_months} months",
        ),
    }
    needs = {2: ["method"], 3: ["method", "assigned", "asked"], 4: ["method", "assigned", "asked", "providers", "patients", "review"]}
    level = 1
    for candidate in (2, 3, 4):
        if all(checks[name][0] for name in needs[candidate]):
            level = candidate
        else:
            break
    reasons = [f"{'Met' if checks[name][0] else 'Not met'}: {checks[name][1]}" for name in needs[4]]
    missing = [] if level == 4 else [checks[name][2] for name in needs[level + 1] if not checks[name][0]]
    return MilestoneReport(
        level=level,
        label=LEVEL_LABELS[level],
        as_of=as_of,
        figures=figures,
        thresholds=thresholds,
        reasons=reasons,
        missing=missing,
    )


@dataclass
class PanelOverview:
    """Every panel against its target with continuity, and who visits without a panel: one read."""

    as_of: dt.date
    rows: list[PanelCapacityRow]
    continuity: ContinuityReport
    visits_per_patient_year: float
    basis: str  # where the visits-per-patient figure comes from, in staff words
    unassigned: list[UnassignedVisitor] | None  # None unless asked for

    @property
    def shares(self) -> dict[int, float | None]:
        """Continuity per provider id."""
        return {r.provider_id: r.share for r in self.continuity.rows}


def panel_overview(session: Session, as_of: dt.date, *, with_unassigned: bool = True) -> PanelOverview:
    """The panel overview of ``panelmanager panels`` and the Panels screen's capacity tab."""
    per_visit, basis = practice_visits_per_patient_year(session, as_of)
    return PanelOverview(
        as_of=as_of,
        rows=panel_capacity(session, as_of),
        continuity=continuity(session, as_of),
        visits_per_patient_year=per_visit,
        basis=basis,
        unassigned=unassigned_visiting(session, as_of) if with_unassigned else None,
    )
