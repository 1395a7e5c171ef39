"""The daily huddle: who is on a provider's schedule for a day, and what to do for them.

``huddle_data`` gathers, for one date (and one provider, or every provider with a
visit that day), each scheduled visit in time order with the patient's age and sex,
the visit type, their PCP (flagged when it is another provider, unconfirmed, or
missing), risk tier, and every open care gap with its last date and value in short
form ("A1c 9.8% (2023-08-14)"). ``core.reports.huddle.build_huddle_sheet`` prints it.

A visit counts unless it was cancelled: on a past date the sheet lists the visits that
happened (or were missed), on a future date the appointments booked. Gaps are evaluated
as of the huddle date for that day's patients only. Risk tiers are the most recent ones
on record (the risk screen and its nightly refresh compute and store them); in a registry
never scored, the day's patients are scored in memory. Building a sheet is a read: it
never writes to the registry (no cached scores either), and never rescores the whole
registry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from panelmanager.core import models
from panelmanager.core.gap_text import load_gap_labels, short_gap_text
from panelmanager.core.people import age_on, iso, sorted_name
from panelmanager.core.visibility import visible

__all__ = ["HuddleGap", "HuddleRow", "HuddleSection", "HuddleSheet", "huddle_data", "PCP_FLAGS"]

# pcp_flag values and what the sheet prints for them.
PCP_FLAGS = {
    "": "",
    "other": "Other PCP",
    "unconfirmed": "Unconfirmed",
    "none": "No PCP",
}
NO_PROVIDER = "No provider on the visit"


@dataclass(frozen=True)
class HuddleGap:
    measure_id: str
    title: str
    text: str  # "A1c 9.8% (2023-08-14)"
    status: str  # open, due-soon


@dataclass
class HuddleRow:
    visit_id: int
    start: dt.datetime
    patient_id: int
    mrn: str
    name: str  # "García, María"
    dob: dt.date | None
    age: int | None
    sex: str
    visit_type: str
    visit_status: str
    pcp_id: int | None
    pcp_name: str | None
    pcp_flag: str  # "", "other", "unconfirmed", "none"
    risk_tier: int | None = None
    risk_label: str | None = None
    gaps: tuple[HuddleGap, ...] = ()


@dataclass
class HuddleSection:
    provider_id: int | None
    provider_name: str
    rows: list[HuddleRow] = field(default_factory=list)


@dataclass
class HuddleSheet:
    day: dt.date
    sections: list[HuddleSection]
    practice_name: str = ""
    risk_available: bool = True
    # One message per measure whose source data is absent from the registry (no lab results
    # imported at all...): its gaps are left off the rows, they are not the patients' failure.
    source_data_absent: tuple[str, ...] = ()

    @property
    def patients(self) -> int:
        return sum(len(s.rows) for s in self.sections)

    @property
    def open_gaps(self) -> int:
        return sum(len(r.gaps) for s in self.sections for r in s.rows)


def _visits(session: Session, day: dt.date, provider_id: int | None) -> pd.DataFrame:
    v, p, pr = models.Visit, models.Patient, models.Provider
    start = dt.datetime.combine(day, dt.time())
    stmt = (
        select(
            v.id, v.start, v.patient_id, v.provider_id, pr.display_name, v.visit_type, v.visit_class, v.status,
            p.mrn, p.first_name, p.last_name, p.dob, p.sex,
        )
        .join(p, p.id == v.patient_id)
        .outerjoin(pr, pr.id == v.provider_id)
        .where(v.start >= start, v.start < start + dt.timedelta(days=1),
               v.status != models.VisitStatus.CANCELLED.value, visible(v))
    )
    if provider_id is not None:
        stmt = stmt.where(v.provider_id == provider_id)
    return pd.DataFrame.from_records(
        session.execute(stmt).all(),
        columns=["visit_id", "start", "patient_id", "provider_id", "provider_name", "visit_type", "visit_class",
                 "visit_status", "mrn", "first_name", "last_name", "dob", "sex"],
    )


def _pcps(session: Session, day: dt.date, ids: list[int]) -> tuple[pd.DataFrame, bool]:
    """patient_id, pcp_id, confirmed; and whether these come from panel assignments."""
    a = models.Assignment
    rows = session.execute(
        select(a.patient_id, a.provider_id, a.provider_confirmed_on, a.patient_confirmed_on)
        .where(a.patient_id.in_(ids))
    ).all()
    frame = pd.DataFrame.from_records(
        rows, columns=["patient_id", "pcp_id", "provider_confirmed_on", "patient_confirmed_on"]
    )
    any_assignment = bool(frame.shape[0]) or session.scalar(select(a.id).limit(1)) is not None
    if any_assignment:
        frame["confirmed"] = frame["provider_confirmed_on"].notna() | frame["patient_confirmed_on"].notna()
        return frame[["patient_id", "pcp_id", "confirmed"]], True
    # No panels yet: the provider of the last completed visit before the day stands in (unconfirmed).
    from panelmanager.core.measures import patient_providers

    fallback, _how = patient_providers(session, day - dt.timedelta(days=1), patient_ids=ids)
    fallback = fallback[fallback["patient_id"].isin(ids)].rename(columns={"provider_id": "pcp_id"})
    fallback["confirmed"] = False
    return fallback, False


def _gaps(session: Session, day: dt.date, ids: list[int], include_due_soon: bool) -> pd.DataFrame:
    from panelmanager.core.measures import evaluate_measures
    from panelmanager.core.outreach import measure_info

    known = measure_info()
    clinical = [m for m, info in known.items() if not info.panel_gap]
    if not clinical:
        return pd.DataFrame(columns=["patient_id", "measure", "status", "due_date", "last_date", "last_value"])
    frame = evaluate_measures(session, day, measure_ids=clinical, patient_ids=ids)
    statuses = ("open", "due-soon") if include_due_soon else ("open",)
    frame = frame[frame["status"].isin(statuses)].copy()
    frame["_order"] = frame["measure"].map(lambda m: known[m].order if m in known else 1000)
    frame["title"] = frame["measure"].map(lambda m: known[m].title if m in known else m)
    # Open gaps first, then those due soon; each in the measures' own order.
    frame["_open"] = (frame["status"] != "open").astype(int)
    return frame.sort_values(["patient_id", "_open", "_order", "measure"], kind="stable")


def _stored_tiers(session: Session, day: dt.date, ids: list[int]) -> pd.DataFrame | None:
    """The most recent stored risk tier on or before ``day`` for each of ``ids`` (None: nothing stored yet)."""
    r, o = models.RiskScore, models.RiskOverride
    latest = (
        select(r.patient_id, func.max(r.as_of).label("as_of"))
        .where(r.as_of <= day, r.patient_id.in_(ids))
        .group_by(r.patient_id)
        .subquery()
    )
    rows = session.execute(
        select(r.patient_id, r.computed_tier).join(
            latest, and_(r.patient_id == latest.c.patient_id, r.as_of == latest.c.as_of)
        )
    ).all()
    if not rows and session.scalar(select(r.id).where(r.as_of <= day).limit(1)) is None:
        return None
    tiers = pd.DataFrame.from_records(rows, columns=["patient_id", "tier"])
    overrides = pd.DataFrame.from_records(
        session.execute(
            select(o.patient_id, o.tier, o.recorded_at).where(
                o.active.is_(True), o.tier.is_not(None), o.patient_id.in_(ids)
            )
        ).all(),
        columns=["patient_id", "override", "at"],
    )
    if not overrides.empty:
        overrides = overrides.sort_values("at").drop_duplicates("patient_id", keep="last")
        tiers = tiers.merge(overrides[["patient_id", "override"]], on="patient_id", how="outer")
        tiers["tier"] = tiers["override"].fillna(tiers["tier"])
    return tiers[["patient_id", "tier"]].dropna()


def _risk(session: Session, day: dt.date, ids: list[int]) -> tuple[dict[int, tuple[int, str]], bool]:
    """Tier and label per patient: the latest scores on record (none stored: the day's patients scored in memory)."""
    try:
        from panelmanager.core.risk import load_risk_rules, score_tiers

        rules = load_risk_rules()
        tiers = _stored_tiers(session, day, ids)
        if tiers is None:  # never scored: score these patients without storing anything (reads never write)
            tiers = score_tiers(session, day, ids)
    except Exception:  # no rules file, or a broken one: the sheet still prints, without tiers
        return {}, False
    tiers = tiers[tiers["patient_id"].isin(ids)]
    return {int(pid): (int(t), rules.tier_label(int(t))) for pid, t in zip(tiers["patient_id"], tiers["tier"])}, True


def huddle_data(
    session: Session,
    day: dt.date,
    provider_id: int | None = None,
    *,
    include_due_soon: bool = True,
    with_risk: bool = True,
) -> HuddleSheet:
    """The huddle for ``day``: one section per provider with visits (or just ``provider_id``'s)."""
    from panelmanager.core.settings import load_settings

    settings = load_settings(session)
    visits = _visits(session, day, provider_id)
    sheet = HuddleSheet(day=day, sections=[], practice_name=settings.practice_name)
    if provider_id is not None:
        provider = session.get(models.Provider, provider_id)
        name = provider.display_name if provider is not None else f"Provider {provider_id}"
        sheet.sections.append(HuddleSection(provider_id, name))
    if visits.empty:
        return sheet
    ids = sorted({int(i) for i in visits["patient_id"]})

    pcps, _from_panels = _pcps(session, day, ids)
    visits = visits.merge(pcps, on="patient_id", how="left")
    names = dict(session.execute(select(models.Provider.id, models.Provider.display_name)).all())

    gap_rows = _gaps(session, day, ids, include_due_soon)
    from panelmanager.core.measures import absent_source_data

    absent = absent_source_data(session, as_of=day)
    sheet.source_data_absent = tuple(info.message for info in absent.values())
    gap_rows = gap_rows[~gap_rows["measure"].isin(list(absent))]
    labels = load_gap_labels()
    gaps_by_patient: dict[int, list[HuddleGap]] = {}
    for pid, measure, title, status, last_date, last_value, due in zip(
        gap_rows["patient_id"], gap_rows["measure"], gap_rows["title"], gap_rows["status"], gap_rows["last_date"],
        gap_rows["last_value"], gap_rows["due_date"],
    ):
        text = short_gap_text(measure, title, last_date, last_value, status, due, labels, as_of=day)
        gaps_by_patient.setdefault(int(pid), []).append(HuddleGap(measure, title, text, status))

    risk, sheet.risk_available = _risk(session, day, ids) if with_risk else ({}, False)

    visits["_provider"] = visits["provider_name"].fillna("~")  # visits without a provider last
    visits = visits.sort_values(["_provider", "provider_id", "start", "last_name", "first_name"], kind="stable",
                                na_position="last")
    sections: dict[object, HuddleSection] = {s.provider_id: s for s in sheet.sections}
    for r in visits.itertuples(index=False):
        visit_provider = None if pd.isna(r.provider_id) else int(r.provider_id)
        section = sections.get(visit_provider)
        if section is None:
            section = HuddleSection(visit_provider, r.provider_name if visit_provider is not None else NO_PROVIDER)
            sections[visit_provider] = section
            sheet.sections.append(section)
        pcp_id = None if pd.isna(r.pcp_id) else int(r.pcp_id)
        if pcp_id is None:
            flag = "none"
        elif visit_provider is not None and pcp_id != visit_provider:
            flag = "other"
        elif pd.isna(r.confirmed) or not bool(r.confirmed):
            flag = "unconfirmed"
        else:
            flag = ""
        tier = risk.get(int(r.patient_id))
        dob = None if pd.isna(r.dob) else r.dob
        start = pd.Timestamp(r.start).to_pydatetime()
        section.rows.append(
            HuddleRow(
                visit_id=int(r.visit_id),
                start=start,
                patient_id=int(r.patient_id),
                mrn=str(r.mrn),
                name=sorted_name(r.first_name, r.last_name),
                dob=dob,
                age=age_on(dob, day) if dob is not None else None,
                sex="" if pd.isna(r.sex) else str(r.sex),
                visit_type=_visit_type(r.visit_type, r.visit_class),
                visit_status=str(r.visit_status),
                pcp_id=pcp_id,
                pcp_name=names.get(pcp_id) if pcp_id is not None else None,
                pcp_flag=flag,
                risk_tier=tier[0] if tier else None,
                risk_label=tier[1] if tier else None,
                gaps=tuple(gaps_by_patient.get(int(r.patient_id), ())),
            )
        )
    return sheet


def _visit_type(visit_type, visit_class) -> str:
    text = "" if visit_type is None or pd.isna(visit_type) else str(visit_type).strip()
    if text:
        # Synthea's SNOMED descriptions end in "(procedure)" / "(environment)": noise on a sheet.
        for suffix in (" (procedure)", " (environment)", " (finding)", " (regime/therapy)"):
            if text.endswith(suffix):
                text = text[: -len(suffix)]
        return text
    return "" if visit_class is None or pd.isna(visit_class) else str(visit_class)


def describe_sheet(sheet: HuddleSheet) -> str:
    """One line for the CLI: ``2024-03-04: 2 providers, 31 patients, 57 open gaps``."""
    providers = len(sheet.sections)
    return (
        f"{iso(sheet.day)}: {providers} provider{'s' if providers != 1 else ''}, "
        f"{sheet.patients} patient visit{'s' if sheet.patients != 1 else ''}, {sheet.open_gaps} open gaps"
    )
