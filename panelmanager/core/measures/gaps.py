"""The care-gap cache, provider panels and measure rates.

``refresh_gaps`` evaluates every measure as of a date and stores the rows in
``measure_results`` with a ``measure_runs`` row recording what they were computed
from. ``gaps`` and ``measure_rates`` read that cache and recompute it first when it is
stale: when the registry changed since (an import, a demo load, patients made
inactive), when a measure or value-set file changed, or when the due-soon window
setting changed. So results are refreshed after an import without the importer
having to know about care gaps.

A patient's provider is their panel assignment (``assignments``, written by
``core.empanelment``). When the practice has not accepted a review yet, the 4-cut
proposal stands in (gap lists mark it "proposed"; patients it cannot place are
"Unassigned"), so per-provider rates work from the first import and never credit the
provider of an emergency or urgent-care visit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from panelmanager.core import models
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress
from panelmanager.core.measures.cache import clip_text, write_results
from panelmanager.core.measures.definitions import MeasureDefinition, definitions_fingerprint, load_measures
from panelmanager.core.measures.engine import (
    RESULT_COLUMNS,
    STATUSES,
    _raw,
    _to_datetime,
    evaluate_definitions,
    read_frame,
)
from panelmanager.core.visibility import PENDING_TABLES, visible

__all__ = [
    "GapRefresh",
    "data_version",
    "gaps",
    "gaps_are_stale",
    "measure_rates",
    "patient_providers",
    "proposed_providers",
    "prune_runs",
    "refresh_gaps",
]

GAPS_KIND = "gaps"
UNASSIGNED = "Unassigned"
PROPOSED_SUFFIX = " (proposed)"
# Cached results are kept for this many as-of dates (the most recently computed);
# older ones are dropped at the next refresh so the table does not grow day by day.
KEEP_AS_OF_DATES = 3


@dataclass
class GapRefresh:
    """What ``refresh_gaps`` wrote."""

    as_of: dt.date
    rows: int
    patients: int
    computed_at: dt.datetime
    measures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- versions


_VERSIONED = (
    ("b", models.ImportBatch),
    ("p", models.Patient),
    ("v", models.Visit),
    ("o", models.Observation),
    ("i", models.Immunization),
    ("x", models.Procedure),
    ("c", models.Condition),
    ("m", models.Medication),
)


def data_version(session: Session) -> str:
    """A short fingerprint of the registry's clinical content.

    Built from the highest id of every clinical table and of import batches (every
    import, even one that only updates rows, adds a batch) plus the count of active
    patients (inactivation and deaths change it). Cheap: index lookups only.
    """
    parts = [
        f"{tag}{session.scalar(select(func.max(model.id)).where(*_shown(model))) or 0}" for tag, model in _VERSIONED
    ]
    active = session.scalar(
        select(func.count()).select_from(models.Patient).where(models.Patient.status == models.PatientStatus.ACTIVE.value)
    )
    parts.append(f"a{active or 0}")
    return "-".join(parts)


def _shown(model) -> list:
    """An import's rows are part of the fingerprint once they are shown (core.visibility)."""
    return [visible(model, seek=True)] if model.__tablename__ in PENDING_TABLES else []


def _definitions_version(resources_dir, due_soon_days: int) -> str:
    digest = hashlib.sha256(f"{definitions_fingerprint(resources_dir)}|{due_soon_days}".encode())
    return digest.hexdigest()[:16]


def _due_soon_days(session: Session, due_soon_days: int | None) -> int:
    if due_soon_days is not None:
        return int(due_soon_days)
    from panelmanager.core.settings import load_settings

    return load_settings(session).due_soon_days


def gaps_are_stale(session: Session, as_of: dt.date, *, resources_dir=None, due_soon_days: int | None = None) -> bool:
    """True when the cached care gaps for ``as_of`` are missing or out of date."""
    run = session.scalar(select(models.MeasureRun).where(models.MeasureRun.kind == GAPS_KIND, models.MeasureRun.as_of == as_of))
    if run is None:
        return True
    days = _due_soon_days(session, due_soon_days)
    return run.data_version != data_version(session) or run.definitions_version != _definitions_version(resources_dir, days)


# --------------------------------------------------------------------------- refresh


def refresh_gaps(
    session: Session,
    as_of: dt.date,
    *,
    resources_dir=None,
    due_soon_days: int | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> GapRefresh:
    """Evaluate every measure as of ``as_of`` and replace the cached rows for that date.

    Runs in the caller's transaction: cancelling (``Cancelled``) leaves the old cache.
    """
    days = _due_soon_days(session, due_soon_days)
    measures, errors = load_measures(resources_dir)
    version = data_version(session)
    result = evaluate_definitions(session, as_of, measures, due_soon_days=days, progress=progress, cancel=cancel)
    cancel.raise_if_cancelled()
    computed_at = dt.datetime.now().replace(microsecond=0)
    progress(0, 1, "Saving care gaps")
    write_results(session, as_of, result, computed_at)
    run = session.scalar(select(models.MeasureRun).where(models.MeasureRun.kind == GAPS_KIND, models.MeasureRun.as_of == as_of))
    if run is None:
        run = models.MeasureRun(kind=GAPS_KIND, as_of=as_of)
        session.add(run)
    run.computed_at = computed_at
    run.data_version = version
    run.definitions_version = _definitions_version(resources_dir, days)
    run.patients = int(result["patient_id"].nunique())
    run.rows = len(result)
    session.flush()
    prune_runs(session, GAPS_KIND, models.MeasureResult)
    progress(1, 1, "Care gaps saved")
    return GapRefresh(
        as_of=as_of,
        rows=len(result),
        patients=run.patients,
        computed_at=computed_at,
        measures=[m.id for m in measures],
        errors=errors,
    )


_clip = clip_text  # moved to measures.cache


def prune_runs(session: Session, kind: str, model, keep: int = KEEP_AS_OF_DATES) -> list[dt.date]:
    """Drop the cached rows (and run records) of all but the ``keep`` most recent runs of ``kind``."""
    run = models.MeasureRun
    old = session.scalars(
        select(run.as_of).where(run.kind == kind).order_by(run.computed_at.desc(), run.id.desc()).offset(keep)
    ).all()
    if old:
        session.execute(delete(model).where(model.as_of.in_(old)))
        session.execute(delete(run).where(run.kind == kind, run.as_of.in_(old)))
    return list(old)


# --------------------------------------------------------------------------- providers


def patient_providers(
    session: Session, as_of: dt.date, patient_ids: Iterable[int] | None = None
) -> tuple[pd.DataFrame, str]:
    """Each patient's provider: (frame of patient_id, provider_id; "assignment" or "proposal").

    The panel assignment when the practice has assigned anyone. Before the first review
    is accepted, the 4-cut proposal of ``core.empanelment`` as of ``as_of`` (the same
    primary-care visits with panel-holding providers over the practice's look-back), so a
    list never names the provider of an emergency or urgent-care visit. Patients with
    neither are absent from the frame (unassigned). ``patient_ids`` limits the answer to
    those patients (a huddle's day), which spares computing everyone's proposal.
    """
    assignment = getattr(models, "Assignment", None)
    if assignment is not None and session.scalar(select(exists().where(assignment.id.isnot(None)))):
        frame = read_frame(session, select(assignment.patient_id, assignment.provider_id), ["patient_id", "provider_id"])
        frame = frame.astype({"patient_id": "int64", "provider_id": "int64"})
        if patient_ids is not None:
            frame = frame[frame["patient_id"].isin(list(patient_ids))].reset_index(drop=True)
        return frame, "assignment"
    return proposed_providers(session, as_of, patient_ids=patient_ids), "proposal"


def proposed_providers(session: Session, as_of: dt.date, patient_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """The 4-cut proposal per patient (patient_id, provider_id), as an empanelment review would make it.

    The 4-cut decides each patient from that patient's own visits, so ``patient_ids``
    (``None``: everyone) gives the same answer for them as the whole registry's run.
    """
    from panelmanager.core.empanelment import (
        four_cut,
        load_panel_rules,
        panel_providers,
        qualifying_visit_pairs,
        window_start_for,
    )
    from panelmanager.core.settings import load_settings

    settings = load_settings(session)
    rules = load_panel_rules(specialties=settings.panel_specialties or None)
    holders = panel_providers(session, rules=rules, settings=settings)
    ids = holders.loc[holders["holds_panel"], "id"].astype("int64").tolist()
    pairs = qualifying_visit_pairs(
        session,
        start=window_start_for(as_of, settings.lookback_months),
        end=as_of,
        rules=rules,
        provider_ids=ids,
        patient_ids=patient_ids,
    )
    cuts = four_cut(pairs)
    frame = pd.DataFrame(
        {
            "patient_id": cuts["patient_id"].to_numpy(dtype="int64"),
            "provider_id": cuts["provider_id"].to_numpy(dtype="int64"),
        }
    )
    return frame.reset_index(drop=True)


def _provider_labels(session: Session, provider_ids: pd.Series) -> pd.Series:
    """Display names for a column of provider ids ("Unassigned" where there is none)."""
    p = models.Provider
    names = read_frame(session, select(p.id, p.display_name), ["id", "name"])
    lookup = pd.Series(names["name"].astype(object).to_numpy(), index=names["id"].astype("int64").to_numpy())
    labels = provider_ids.astype("float64").map(lookup)
    return labels.astype(object).where(labels.notna(), UNASSIGNED)


# --------------------------------------------------------------------------- reading


def _as_list(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def gaps(
    session: Session,
    as_of: dt.date,
    measure: str | Iterable[str] | None = None,
    provider: int | None = None,
    status: str | Iterable[str] | None = None,
    *,
    refresh: bool | None = None,
    resources_dir=None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> pd.DataFrame:
    """Cached care gaps as of ``as_of``, refreshed first when stale (``refresh=None``).

    ``measure`` and ``status`` take one value or several (a list, or comma-separated
    text); ``provider`` is a provider id (see ``patient_providers``). Returns the
    columns of ``evaluate_measures`` plus ``provider_id`` and ``provider`` (display
    name, "Unassigned" when none), sorted by measure (in the measures' order), status
    (open, due-soon, met, excluded), due date and MRN.
    """
    if refresh or (refresh is None and gaps_are_stale(session, as_of, resources_dir=resources_dir)):
        refresh_gaps(session, as_of, resources_dir=resources_dir, progress=progress, cancel=cancel)
    r = models.MeasureResult
    p = models.Patient
    stmt = select(
        r.patient_id, p.mrn, r.measure_id, r.status, _raw(r.due_date), _raw(r.last_date), r.last_code, r.last_value
    ).join(p, p.id == r.patient_id).where(r.as_of == as_of)
    measures = _as_list(measure)
    if measures:
        stmt = stmt.where(r.measure_id.in_(measures))
    statuses = _as_list(status)
    if statuses:
        stmt = stmt.where(r.status.in_(statuses))
    frame = read_frame(session, stmt, RESULT_COLUMNS)
    frame["patient_id"] = frame["patient_id"].astype("int64")
    for column in ("due_date", "last_date"):
        frame[column] = _to_datetime(frame[column])
    for column in ("last_code", "last_value"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    providers, how = patient_providers(session, as_of)
    frame = frame.merge(providers, on="patient_id", how="left")
    if provider is not None:
        frame = frame[frame["provider_id"] == int(provider)]
    frame["provider_id"] = frame["provider_id"].astype("Int64")
    frame["provider"] = _provider_labels(session, frame["provider_id"])
    if how == "proposal":
        # No panel accepted yet: the 4-cut proposal, marked as such (never an ED visit's provider).
        named = frame["provider_id"].notna().to_numpy()
        frame.loc[named, "provider"] = frame.loc[named, "provider"] + PROPOSED_SUFFIX
    # Measures in their own order; open gaps first, then due-soon, met, excluded; oldest due first.
    order = {m.id: i for i, m in enumerate(load_measures(resources_dir)[0])}
    frame["_measure"] = frame["measure"].map(order).fillna(len(order))
    frame["_status"] = frame["status"].map({s: i for i, s in enumerate(STATUSES)}).fillna(len(STATUSES))
    frame = frame.sort_values(["_measure", "_status", "due_date", "mrn"], kind="stable", na_position="last")
    return frame.drop(columns=["_measure", "_status"]).reset_index(drop=True)


def measure_rates(
    session: Session,
    as_of: dt.date,
    by: str = "provider",
    *,
    refresh: bool | None = None,
    resources_dir=None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> pd.DataFrame:
    """Numerator, denominator and rate per measure, for the practice or per provider panel.

    ``refresh=None`` recomputes the cache first when it is stale, ``True`` always,
    ``False`` never (the figures as they were last computed: see ``gaps_computed_at``).

    Denominator: eligible patients not excluded (met + due-soon + open). Numerator: the
    eCQM's numerator, i.e. met + due-soon, or for an inverse measure (HbA1c poor
    control) the open gaps, where a lower rate is better (``higher_is_better``).
    ``goal`` is the practice's goal from settings (``measure_goals``), when set.
    """
    if by not in ("provider", "practice"):
        raise ValueError("by must be 'provider' or 'practice'")
    from panelmanager.core.settings import load_settings

    if refresh or (refresh is None and gaps_are_stale(session, as_of, resources_dir=resources_dir)):
        refresh_gaps(session, as_of, resources_dir=resources_dir, progress=progress, cancel=cancel)
    frame = _cached_statuses(session, as_of)
    if by == "provider":
        providers, _how = patient_providers(session, as_of)
        frame = frame.merge(providers, on="patient_id", how="left")
        frame["provider_id"] = frame["provider_id"].astype("Int64")
        frame["provider"] = _provider_labels(session, frame["provider_id"])
    measures, _errors = load_measures(resources_dir)
    keys = ["measure"] if by == "practice" else ["measure", "provider_id", "provider"]
    grouped = frame[keys + ["status"]].copy()
    if by == "provider":
        # Unassigned patients form a group of their own.
        grouped["provider_id"] = grouped["provider_id"].fillna(-1).astype("int64")
    if grouped.empty:
        counts = pd.DataFrame(columns=keys)
    else:
        counts = grouped.groupby(keys + ["status"]).size().unstack("status", fill_value=0).reset_index()
    if by == "provider":
        counts["provider_id"] = counts["provider_id"].astype("Int64").mask(counts["provider_id"] == -1)
    counts.columns.name = None
    for status_name in ("met", "due-soon", "open", "excluded"):
        if status_name not in counts:
            counts[status_name] = 0
    counts = counts.rename(columns={"due-soon": "due_soon"})
    goals = load_settings(session).measure_goals
    inverse = counts["measure"].map({m.id: m.inverse for m in measures}).fillna(False).astype(bool)
    counts["title"] = counts["measure"].map({m.id: m.title for m in measures}).fillna(counts["measure"])
    counts["inverse"] = inverse
    counts["higher_is_better"] = ~inverse
    counts["denominator"] = counts["met"] + counts["due_soon"] + counts["open"]
    counts["numerator"] = np.where(inverse, counts["open"], counts["met"] + counts["due_soon"])
    with np.errstate(divide="ignore", invalid="ignore"):
        counts["rate"] = np.where(counts["denominator"] > 0, counts["numerator"] / counts["denominator"].where(counts["denominator"] > 0, 1), np.nan)
    counts["goal"] = counts["measure"].map(dict(goals)).astype(float)
    order = {m.id: i for i, m in enumerate(measures)}
    counts["_order"] = counts["measure"].map(order).fillna(len(order))
    sort = ["_order"] + (["provider"] if by == "provider" else [])
    counts = counts.sort_values(sort, kind="stable").drop(columns="_order")
    columns = ["measure", "title"]
    if by == "provider":
        columns += ["provider_id", "provider"]
    columns += ["denominator", "numerator", "rate", "goal", "inverse", "higher_is_better", "met", "due_soon", "open", "excluded"]
    return counts[columns].reset_index(drop=True)


def _cached_statuses(session: Session, as_of: dt.date) -> pd.DataFrame:
    """(patient_id, measure, status) of every cached row for ``as_of``.

    On SQLite the ids come grouped per measure and status as one comma-separated text
    each (about 50 rows instead of 570,000 at 100,000 patients) and are parsed by numpy:
    no Python object per row. Elsewhere, one row per result.
    """
    r = models.MeasureResult
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        frame = read_frame(
            session, select(r.patient_id, r.measure_id, r.status).where(r.as_of == as_of), ["patient_id", "measure", "status"]
        )
        frame["patient_id"] = frame["patient_id"].astype("int64")
        return frame
    groups = conn.exec_driver_sql(
        "SELECT measure_id, status, COUNT(*), group_concat(patient_id) FROM measure_results "
        "WHERE as_of = ? GROUP BY measure_id, status",
        (as_of.isoformat(),),
    ).fetchall()
    ids = [np.fromstring(text, dtype="int64", sep=",") if text else np.empty(0, dtype="int64") for *_k, _n, text in groups]
    counts = [len(part) for part in ids]
    if any(count != n for count, (_m, _s, n, _t) in zip(counts, groups)):  # never expected: read row by row
        frame = read_frame(
            session, select(r.patient_id, r.measure_id, r.status).where(r.as_of == as_of), ["patient_id", "measure", "status"]
        )
        frame["patient_id"] = frame["patient_id"].astype("int64")
        return frame
    return pd.DataFrame(
        {
            "patient_id": np.concatenate(ids) if ids else np.empty(0, dtype="int64"),
            "measure": np.repeat(np.array([g[0] for g in groups], dtype=object), counts),
            "status": np.repeat(np.array([g[1] for g in groups], dtype=object), counts),
        }
    )


def measure_definitions(resources_dir=None) -> list[MeasureDefinition]:
    """The measures that load (for lists); use ``load_measures`` to see the errors too."""
    return load_measures(resources_dir)[0]
