"""The lists the Panels and Dashboard screens page through, as set-based reads.

- **Review items** as ids (filtered by kind and decision, sorted in SQL) and display
  rows for a page of ids, so a first review of 100,000 "new" assignments scrolls like a
  short one (``review_item_ids`` / ``review_item_rows``), plus the counts per kind and
  decision for the filter labels (``review_counts``).
- **A provider's panel** for the provider confirmation view: each patient with their
  assignment, confirmation dates, the provider's latest answer (mine / not mine, with its
  reason) and the last visit with that provider (``provider_panel``).
- **The patients behind a dashboard cell**: the cached care-gap rows of one measure for
  one provider's panel, the unassigned patients or the practice (``gap_patients``).
- **Goals** for the dashboard: the practice's goal per measure, and whether a rate meets
  it (an inverse measure such as HbA1c poor control meets its goal at or *below* it).

Everything here reads; nothing writes. The services that change panels stay in
``core.empanelment`` and ``core.providers``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.empanelment import ACTIONABLE_KINDS, assignments_frame
from panelmanager.core.people import age_on, sorted_name
from panelmanager.core.settings import DEFAULT_GOAL_PERCENT, measure_goal
from panelmanager.core.visibility import visible

__all__ = [
    "DEFAULT_GOAL",
    "REVIEW_SORTS",
    "REVIEW_KINDS",
    "review_item_ids",
    "review_item_rows",
    "review_counts",
    "provider_panel",
    "gap_patients",
    "practice_rates",
    "gaps_computed_at",
    "DashboardFigures",
    "dashboard_figures",
    "measure_goal",
    "meets_goal",
]

# The goal a measure has until the practice sets one (the Settings screen shows the same).
DEFAULT_GOAL = DEFAULT_GOAL_PERCENT  # measure_goal (re-exported) gives it until a goal is set

REVIEW_KINDS = ACTIONABLE_KINDS + ("unassigned",)
_PAGE = 500  # ids per IN (...) list: well under every database's bound-parameter limit

_old = m.Provider.__table__.alias("old_provider")
_new = m.Provider.__table__.alias("new_provider")
_i = m.PanelReviewItem
_p = m.Patient

REVIEW_SORTS: dict[str, tuple] = {
    "patient": (_p.last_name, _p.first_name, _p.mrn),
    "mrn": (_p.mrn,),
    "kind": (_i.kind, _p.last_name, _p.first_name),
    "from": (_old.c.display_name, _p.last_name, _p.first_name),
    "to": (_new.c.display_name, _p.last_name, _p.first_name),
    "cut": (_i.cut, _p.last_name, _p.first_name),
    "reason": (_i.reason,),
    "decision": (_i.decision, _p.last_name, _p.first_name),
}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# --------------------------------------------------------------------------- review items


def review_item_ids(
    session: Session,
    review_id: int,
    *,
    kinds: Sequence[str] | None = None,
    decisions: Sequence[str] | None = None,
    sort: str | None = "patient",
    descending: bool = False,
) -> list[int]:
    """Ids of a review's items, filtered by ``kinds`` / ``decisions`` and ordered by ``sort``.

    ``sort`` is a key of ``REVIEW_SORTS`` (patient, mrn, kind, from, to, cut, reason,
    decision). Ties are broken by the item id, so the order is stable.
    """
    order = REVIEW_SORTS.get(sort or "patient", REVIEW_SORTS["patient"])
    stmt = (
        select(_i.id)
        .join(_p, _p.id == _i.patient_id)
        .outerjoin(_old, _old.c.id == _i.old_provider_id)
        .outerjoin(_new, _new.c.id == _i.new_provider_id)
        .where(_i.review_id == review_id)
        .order_by(*(c.desc() if descending else c for c in order), _i.id)
    )
    if kinds:
        stmt = stmt.where(_i.kind.in_(list(kinds)))
    if decisions:
        stmt = stmt.where(_i.decision.in_(list(decisions)))
    return list(session.scalars(stmt))


def review_item_rows(session: Session, item_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Display rows for a page of review item ids: {item id: row}.

    Row keys: id, review_id, patient_id, mrn, patient (display name), kind, held,
    old_provider_id, old_provider (display name), new_provider_id, new_provider, cut,
    reason, decision, decided_by, decided_at.
    """
    ids = [int(x) for x in item_ids]
    rows: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), _PAGE):
        chunk = ids[start : start + _PAGE]
        result = session.execute(
            select(
                _i.id, _i.review_id, _i.patient_id, _p.mrn, _p.last_name, _p.first_name, _p.middle_name, _i.kind, _i.held,
                _i.old_provider_id, _old.c.display_name, _i.new_provider_id, _new.c.display_name, _i.cut, _i.reason,
                _i.decision, _i.decided_by, _i.decided_at,
            )
            .join(_p, _p.id == _i.patient_id)
            .outerjoin(_old, _old.c.id == _i.old_provider_id)
            .outerjoin(_new, _new.c.id == _i.new_provider_id)
            .where(_i.id.in_(chunk))
        )
        for r in result:
            rows[r[0]] = {
                "id": r[0],
                "review_id": r[1],
                "patient_id": r[2],
                "mrn": r[3],
                "patient": sorted_name(r[5], r[4], r[6]),
                "kind": r[7],
                "held": bool(r[8]),
                "old_provider_id": r[9],
                "old_provider": r[10],
                "new_provider_id": r[11],
                "new_provider": r[12],
                "cut": r[13],
                "reason": r[14],
                "decision": r[15],
                "decided_by": r[16],
                "decided_at": r[17],
            }
    return rows


def review_counts(session: Session, review_id: int) -> dict[str, dict[str, int]]:
    """How many items of each kind a review has, per decision: {kind: {decision: n}}."""
    out: dict[str, dict[str, int]] = {}
    for kind, decision, n in session.execute(
        select(_i.kind, _i.decision, func.count()).where(_i.review_id == review_id).group_by(_i.kind, _i.decision)
    ):
        out.setdefault(kind, {})[decision] = int(n)
    return out


# --------------------------------------------------------------------------- a provider's panel


def provider_panel(session: Session, provider_id: int) -> pd.DataFrame:
    """The active patients on one provider's panel, for the provider to mark mine / not mine.

    Columns: those of ``core.empanelment.assignments_frame`` plus ``name`` (display name),
    ``answer`` (the provider's latest answer about this patient: "mine", "not-mine" or
    None), ``answer_reason``, ``answered_on`` and ``last_seen`` (the patient's last
    completed visit with this provider, any kind).
    """
    panel = assignments_frame(session, provider_id=provider_id)
    c = m.Confirmation
    latest = (
        select(c.patient_id.label("pid"), func.max(c.id).label("cid"))
        .where(c.party == "provider", c.provider_id == provider_id)
        .group_by(c.patient_id)
        .subquery()
    )
    answers = pd.DataFrame(
        session.execute(
            select(c.patient_id, c.outcome, c.reason, c.recorded_on).join(latest, latest.c.cid == c.id)
        ).all(),
        columns=["patient_id", "answer", "answer_reason", "answered_on"],
    )
    v = m.Visit
    seen = pd.DataFrame(
        session.execute(
            select(v.patient_id, func.max(v.start))
            .where(v.provider_id == provider_id, v.status == m.VisitStatus.COMPLETED.value, visible(v))
            .group_by(v.patient_id)
        ).all(),
        columns=["patient_id", "last_seen"],
    )
    panel = panel.merge(answers, on="patient_id", how="left").merge(seen, on="patient_id", how="left")
    panel["last_seen"] = [v.date() if isinstance(v, dt.datetime) else None for v in panel["last_seen"]]
    panel["name"] = [sorted_name(_text(first), _text(last)) for last, first in zip(panel["last_name"], panel["first_name"])]
    for column in ("answer", "answer_reason", "answered_on"):
        panel[column] = panel[column].astype(object).where(panel[column].notna(), None)
    return panel


# --------------------------------------------------------------------------- dashboard cells


def gap_patients(
    session: Session,
    as_of: dt.date,
    measure: str,
    *,
    provider_id: int | None = None,
    unassigned: bool = False,
    statuses: Sequence[str] = ("open",),
) -> pd.DataFrame:
    """The patients behind one dashboard cell, from the cached care gaps for ``as_of``.

    ``provider_id`` limits the list to that provider's patients (as
    ``core.measures.patient_providers`` counts them), ``unassigned=True`` to patients with
    no provider, neither to the whole practice. The cache is read as it is (never
    recomputed here: the caller refreshes it as a job first).

    Columns: patient_id, mrn, name, dob, age, status, due_date, last_date, last_value,
    provider; sorted by name.
    """
    from panelmanager.core.measures import gaps

    frame = gaps(session, as_of, measure=measure, status=list(statuses), refresh=False)
    if provider_id is not None:
        frame = frame[frame["provider_id"] == int(provider_id)]
    elif unassigned:
        frame = frame[frame["provider_id"].isna()]
    r = m.MeasureResult
    people = pd.DataFrame(
        session.execute(
            select(_p.id, _p.last_name, _p.first_name, _p.middle_name, _p.dob)
            .join(r, r.patient_id == _p.id)
            .where(r.as_of == as_of, r.measure_id == measure, r.status.in_(list(statuses)))
        ).all(),
        columns=["patient_id", "last_name", "first_name", "middle_name", "dob"],
    ).drop_duplicates("patient_id")
    out = frame.merge(people, on="patient_id", how="left")
    out["name"] = [
        sorted_name(_text(b), _text(a), _text(c)) for a, b, c in zip(out["last_name"], out["first_name"], out["middle_name"])
    ]
    out["age"] = [age_on(d, as_of) if isinstance(d, dt.date) else None for d in out["dob"]]
    for column in ("due_date", "last_date"):
        out[column] = [v.date() if pd.notna(v) else None for v in out[column]]
    columns = ["patient_id", "mrn", "name", "dob", "age", "status", "due_date", "last_date", "last_value", "provider"]
    out = out[columns].sort_values(["name", "mrn"], kind="stable").reset_index(drop=True)
    out["patient_id"] = out["patient_id"].astype("int64")
    return out


def practice_rates(by_provider: pd.DataFrame) -> pd.DataFrame:
    """The practice's rates from ``measure_rates(session, as_of, by="provider")``.

    Every patient counts in exactly one provider group (or "Unassigned"), so the
    practice's counts are the groups' sums: the dashboard gets both rows from one pass
    over the cache instead of two. Same columns as ``measure_rates(..., by="practice")``.
    """
    columns = ["measure", "title", "denominator", "numerator", "rate", "goal", "inverse", "higher_is_better",
               "met", "due_soon", "open", "excluded"]
    if by_provider.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    counts = ["denominator", "numerator", "met", "due_soon", "open", "excluded"]
    firsts = {c: (c, "first") for c in ("title", "goal", "inverse", "higher_is_better")}
    sums = {c: (c, "sum") for c in counts}
    out = by_provider.groupby("measure", sort=False).agg(**firsts, **sums).reset_index()
    denominator = out["denominator"].astype("float64")
    out["rate"] = (out["numerator"] / denominator.where(denominator > 0)).astype("float64")
    for column in counts:
        out[column] = out[column].astype("int64")
    return out[columns]


def gaps_computed_at(session: Session, as_of: dt.date) -> dt.datetime | None:
    """When the cached care gaps for ``as_of`` were computed (None: never)."""
    from panelmanager.core.measures.gaps import GAPS_KIND

    run = m.MeasureRun
    return session.scalar(select(run.computed_at).where(run.kind == GAPS_KIND, run.as_of == as_of))


@dataclass
class DashboardFigures:
    """The dashboard's care-gap figures as last computed (``dashboard_figures``)."""

    as_of: dt.date
    computed_at: dt.datetime | None  # None: never computed for this date (the frames are empty)
    stale: bool  # the registry or the measure files changed since: recompute in the background
    by_provider: pd.DataFrame  # measure_rates(..., by="provider")
    practice: pd.DataFrame  # practice_rates(by_provider)
    # The panel chart (core.dashboard.panel_bars) and the measures without source data.
    bars: list[dict[str, Any]] = field(default_factory=list)
    source_data_absent: tuple[str, ...] = ()
    # Not what a recompute would store now (read from the cache, or stored before the care
    # gaps, the panels or the settings changed): show them, then refresh_dashboard.
    outdated: bool = True
    figures_computed_at: dt.datetime | None = None  # when the stored figures were computed


def dashboard_figures(session: Session, as_of: dt.date) -> DashboardFigures:
    """Rates per provider and for the practice, the panel chart and the source-data warnings,
    as ``core.dashboard.refresh_dashboard`` stored them (one read), else from the cached care
    gaps; never recomputing.

    What the Dashboard shows at once when it opens (with "computed at" and whether the
    figures are stale or outdated), while ``refresh_dashboard`` runs as a job when they are.
    The stored figures are one small query; from the cache it takes about 4 s at 100,000
    patients before a first review is accepted (the 4-cut proposal over the registry).
    """
    from panelmanager.core.dashboard import (
        dashboard_fingerprint,
        panel_bars,
        source_data_absent,
        stored_dashboard_figures,
    )
    from panelmanager.core.measures import gaps_are_stale, measure_rates

    computed_at = gaps_computed_at(session, as_of)
    stored = stored_dashboard_figures(session, as_of)
    if stored is not None and computed_at is not None:
        stale = gaps_are_stale(session, as_of)
        outdated = stored.gaps_computed_at != computed_at or stored.fingerprint != dashboard_fingerprint(session)
        return DashboardFigures(as_of, stored.gaps_computed_at, stale, stored.by_provider,
                                practice_rates(stored.by_provider), stored.bars, stored.source_data_absent,
                                outdated, stored.computed_at)
    bars = panel_bars(session, as_of)
    absent = tuple(source_data_absent(session, as_of))
    if computed_at is None:
        by_provider = measure_rates(session, as_of, by="provider", refresh=False).iloc[0:0]
        return DashboardFigures(as_of, None, True, by_provider, practice_rates(by_provider), bars, absent)
    stale = gaps_are_stale(session, as_of)
    by_provider = measure_rates(session, as_of, by="provider", refresh=False)
    return DashboardFigures(as_of, computed_at, stale, by_provider, practice_rates(by_provider), bars, absent)


def meets_goal(rate: float | None, goal: float, *, inverse: bool = False) -> bool | None:
    """Whether a rate (0..1) meets a goal (percent): at or above it, or at or below it for an
    inverse measure (lower is better). None when there is no rate (no eligible patient)."""
    if rate is None or (isinstance(rate, float) and math.isnan(rate)):
        return None
    percent = 100.0 * float(rate)
    # Compare what is shown (one decimal), so a cell never reads "70.0%" in red for a 70% goal.
    percent = round(percent, 1)
    return percent <= goal if inverse else percent >= goal
