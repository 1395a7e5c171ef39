"""Taking patients off the panels: suggestions (died, moved, inactive, not seen) and inactivation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.actions import audited_service
from panelmanager.core.alive import died_after
from panelmanager.core.db import bulk_update
from panelmanager.core.empanelment.base import (
    NO_PROVIDER,
    EmpanelmentError,
    _day_start,
    _full_name,
    _load_current,
    _months_before,
    _plural,
    _read,
)
from panelmanager.core.empanelment.changes import (
    _apply_changes,
    _expire,
)
from panelmanager.core.empanelment.rules import (
    _rules_for,
)
from panelmanager.core.permissions import require_current
from panelmanager.core.settings import load_settings
from panelmanager.core.visibility import visible


@dataclass
class InactivationSuggestion:
    patient_id: int
    mrn: str
    name: str
    kind: str  # deceased, moved, inactive, not-seen
    reason: str
    last_visit: dt.date | None
    provider: str | None  # the panel the patient is on (external id)


def suggest_inactivations(session: Session, *, as_of: dt.date, years: int | None = None) -> list[InactivationSuggestion]:
    """Patients to take off the panels: died, moved, marked inactive, or not seen for years.

    - active patients with a deceased date on or before ``as_of``;
    - deceased, moved or inactive patients still on a panel;
    - active patients whose last completed visit (not emergency, inpatient or urgent
      care) is more than ``years`` (default: the practice setting, 3) before ``as_of``,
      or who have no visit at all, unless they have an appointment booked from ``as_of`` on.
    """
    settings = load_settings(session)
    rules = _rules_for(settings, None)
    years = int(years if years is not None else settings.inactive_after_years)
    cutoff = _months_before(as_of, 12 * years)
    p, a, v = m.Patient, m.Assignment, m.Visit
    patients = _read(
        session,
        select(p.id, p.mrn, p.last_name, p.first_name, p.status, p.deceased_date, m.Provider.external_id)
        .outerjoin(a, a.patient_id == p.id)
        .outerjoin(m.Provider, m.Provider.id == a.provider_id),
        ["patient_id", "mrn", "last_name", "first_name", "status", "deceased_date", "provider"],
    )
    if patients.empty:
        return []
    seen_stmt = (
        select(v.patient_id, func.max(v.start))
        .where(v.status == m.VisitStatus.COMPLETED.value, v.start < _day_start(as_of + dt.timedelta(days=1)), visible(v))
        .group_by(v.patient_id)
    )
    if rules.excluded_classes:
        seen_stmt = seen_stmt.where(v.visit_class.not_in(sorted(rules.excluded_classes)))
    seen = _read(session, seen_stmt, ["patient_id", "last_visit"])
    booked = set(
        session.scalars(
            select(v.patient_id)
            .where(v.status.in_((m.VisitStatus.SCHEDULED.value, m.VisitStatus.ARRIVED.value)), v.start >= _day_start(as_of),
                   visible(v))
            .distinct()
        )
    )
    df = patients.merge(seen, on="patient_id", how="left")
    df["deceased_date"] = pd.to_datetime(df["deceased_date"])
    df["last_visit"] = pd.to_datetime(df["last_visit"], format="ISO8601")
    df["name"] = _full_name(df["last_name"], df["first_name"])
    active = df["status"] == m.PatientStatus.ACTIVE.value
    on_panel = df["provider"].notna()
    died = active & df["deceased_date"].notna() & (df["deceased_date"] <= pd.Timestamp(as_of))
    flagged = ~active & on_panel & ~died_after(df["status"], df["deceased_date"], as_of)
    unseen = (
        active
        & ~died
        & (df["last_visit"].isna() | (df["last_visit"] < pd.Timestamp(cutoff)))
        & ~df["patient_id"].isin(booked)
    )
    out: list[InactivationSuggestion] = []
    for row in df[died | flagged | unseen].itertuples(index=False):
        last = row.last_visit.date() if pd.notna(row.last_visit) else None
        if row.status == m.PatientStatus.ACTIVE.value and pd.notna(row.deceased_date) and row.deceased_date <= pd.Timestamp(as_of):
            kind, reason = "deceased", f"Died {row.deceased_date.date().isoformat()}"
        elif row.status != m.PatientStatus.ACTIVE.value:
            kind = row.status
            label = {"deceased": "Deceased", "moved": "Moved away", "inactive": "Inactive"}.get(row.status, row.status)
            reason = f"{label} but still on a panel"
        elif last is None:
            kind, reason = "not-seen", "No visit on record"
        else:
            kind, reason = "not-seen", f"Not seen since {last.isoformat()} (more than {_plural(years, 'year')})"
        out.append(
            InactivationSuggestion(
                patient_id=int(row.patient_id), mrn=row.mrn, name=row.name, kind=kind, reason=reason,
                last_visit=last, provider=row.provider if isinstance(row.provider, str) else None,
            )
        )
    out.sort(key=lambda s: (s.kind, s.name, s.mrn))
    return out


@dataclass
class InactivationResult:
    inactivated: int
    dropped_from_panels: int


@audited_service("assign", patients=lambda a, k, _r: a[0] if a else k.get("patient_ids"),
                 details=lambda _a, _k, r: {"inactivated": r.inactivated})
def inactivate_patients(
    session: Session,
    patient_ids: Iterable[int],
    *,
    as_of: dt.date,
    user: str | None = None,
    reason: str | None = None,
) -> InactivationResult:
    """Mark patients inactive and take them off their panels; their history stays.

    A patient with a deceased date (or already deceased) becomes "deceased", a moved
    patient stays "moved", anyone else becomes "inactive". Each panel removal is written
    to the history with ``reason`` (default: the new status).
    """
    require_current("assign")  # issue 14: refused unless the acting user's role may do this
    ids = sorted({int(i) for i in patient_ids})
    if not ids:
        return InactivationResult(0, 0)
    p = m.Patient
    rows: list[tuple] = []
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        rows += session.execute(select(p.id, p.status, p.deceased_date).where(p.id.in_(chunk))).all()
    df = pd.DataFrame(rows, columns=["id", "status", "deceased_date"])
    if len(df) != len(ids):
        missing = sorted(set(ids) - set(df["id"]))
        raise EmpanelmentError(f"There is no patient with id {', '.join(map(str, missing[:5]))}.")
    new_status = np.where(
        df["deceased_date"].notna() | (df["status"] == m.PatientStatus.DECEASED.value),
        m.PatientStatus.DECEASED.value,
        np.where(df["status"] == m.PatientStatus.MOVED.value, m.PatientStatus.MOVED.value, m.PatientStatus.INACTIVE.value),
    )
    now = dt.datetime.now()
    changed = df.assign(status=new_status, updated_at=now)
    session.flush()
    bulk_update(session.connection(), p.__table__, changed[["id", "status", "updated_at"]])
    current = _load_current(session)
    on_panel = current[current["patient_id"].isin(ids)].merge(
        changed.rename(columns={"id": "patient_id"})[["patient_id", "status"]], on="patient_id"
    )
    if not on_panel.empty:
        reasons = [reason or f"Left the panel: patient {s}" for s in on_panel["status"]]
        _apply_changes(
            session,
            patient_ids=on_panel["patient_id"].to_numpy(),
            old=on_panel["cur"].to_numpy(),
            new=np.full(len(on_panel), NO_PROVIDER),
            cuts=[None] * len(on_panel),
            reasons=reasons,
            effective_on=as_of,
            user=user,
            review_id=None,
            now=now,
        )
    _expire(session, m.Patient, m.Assignment)
    return InactivationResult(inactivated=len(df), dropped_from_panels=len(on_panel))
