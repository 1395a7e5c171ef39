"""The Dashboard's figures, stored when they are computed so the next open only reads them.

Computing the figures from the care-gap cache is not cheap at 100,000 patients: the
rates per provider need every patient's provider, which before the first accepted
review is the 4-cut proposal over the whole registry (2.5-4 s), and the panel chart
needs the panel sizes. The Dashboard opened that way took about 4 s before anything
was on screen. So ``refresh_dashboard`` (the Dashboard's background job) computes
everything the first paint needs - rates per provider, the practice's rates, the
panel chart's bars and the "no source data" warnings - and stores it as one JSON
document per as-of date (a ``settings`` row named ``dashboard_figures/<as-of>``, no
new table); ``stored_dashboard_figures`` reads it back in one query.

Stored figures say what they were computed from: the care-gap run (its
``computed_at``) and a fingerprint of what the per-provider split and the panel sizes
depend on besides the clinical data (assignments, providers, practice settings, risk
tiers, panel weights). ``panel_lists.dashboard_figures`` marks them ``outdated`` when
either differs; the Dashboard then shows them at once anyway, saying when they were
computed, and recomputes in the background. No patient data is stored: counts and
rates per measure and provider, provider names and panel sizes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress
from panelmanager.core.measures import gaps_are_stale, refresh_gaps

__all__ = [
    "StoredDashboard",
    "compute_dashboard_figures",
    "dashboard_fingerprint",
    "panel_bars",
    "refresh_dashboard",
    "source_data_absent",
    "stored_dashboard_figures",
]

_KEY_PREFIX = "dashboard_figures/"
_FORMAT = 1  # bump when the stored document changes shape: older documents are ignored


class StoredDashboard:
    """What ``stored_dashboard_figures`` read: the figures and what they were computed from."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.gaps_computed_at = dt.datetime.fromisoformat(payload["gaps_computed_at"])
        self.computed_at = dt.datetime.fromisoformat(payload["computed_at"])
        self.fingerprint: str = payload["fingerprint"]
        self.by_provider = _frame_from_json(payload["by_provider"])
        self.bars: list[dict[str, Any]] = list(payload["bars"])
        self.source_data_absent: tuple[str, ...] = tuple(payload["source_data_absent"])


def _key(as_of: dt.date) -> str:
    return f"{_KEY_PREFIX}{as_of.isoformat()}"


# --------------------------------------------------------------------------- fingerprint


def dashboard_fingerprint(session: Session) -> str:
    """What the per-provider split and the panel chart depend on besides the clinical data
    (which ``gaps_are_stale`` already watches): assignments, providers, the practice's
    settings (not the as-of date), risk tiers and the panel weights. Index reads and a
    few hundred provider rows: milliseconds."""
    from panelmanager.core.settings import load_settings

    a = m.Assignment
    h = m.AssignmentHistory
    assignments = session.execute(
        select(func.count(), func.max(a.id), func.sum(a.version), func.max(a.assigned_at))
    ).one()
    history = session.scalar(select(func.max(h.id)))
    p = m.Provider
    providers = session.execute(
        select(p.id, p.display_name, p.specialty, p.can_hold_panel, p.fte, p.clinic_days_per_year, p.visits_per_day,
               p.panel_open, p.active, p.merged_into_id).order_by(p.id)
    ).all()
    settings = load_settings(session)
    settings.as_of_override = None  # the as-of date is the key, not part of the figures
    risk = session.scalar(select(func.max(m.MeasureRun.computed_at)).where(m.MeasureRun.kind == "risk"))
    parts = [repr(tuple(assignments)), repr(history), repr([tuple(r) for r in providers]), repr(settings), repr(risk),
             _weights_fingerprint()]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def _weights_fingerprint() -> str:
    from panelmanager.core.capacity import load_panel_weights

    try:
        return repr(load_panel_weights())
    except Exception:  # a broken weights file: the capacity read reports it, not this
        return "?"


# --------------------------------------------------------------------------- compute and store


def panel_bars(session: Session, as_of: dt.date) -> list[dict[str, Any]]:
    """The panel chart's bars: name, assigned, weighted, target, open per provider who holds
    or can hold a panel (not every specialist at 0%)."""
    from panelmanager.core.capacity import panel_capacity

    return [
        {"name": r.name, "assigned": int(r.assigned), "weighted": float(r.weighted),
         "target": None if r.target is None else int(r.target), "open": bool(r.open)}
        for r in panel_capacity(session, as_of)
        if r.holds_panel
    ]


def source_data_absent(session: Session, as_of: dt.date) -> list[str]:
    """One message per measure whose source data is absent from the registry."""
    from panelmanager.core.measures import absent_source_data

    return [info.message for info in absent_source_data(session, as_of=as_of).values()]


def compute_dashboard_figures(session: Session, as_of: dt.date) -> dict[str, Any]:
    """Everything the Dashboard's first paint needs, from the care-gap cache as it is (never
    recomputing it): the stored document (see the module docstring)."""
    from panelmanager.core.measures import measure_rates
    from panelmanager.core.panel_lists import gaps_computed_at

    gaps_at = gaps_computed_at(session, as_of)
    if gaps_at is None:
        raise ValueError(f"The care gaps for {as_of.isoformat()} have not been computed yet.")
    fingerprint = dashboard_fingerprint(session)
    by_provider = measure_rates(session, as_of, by="provider", refresh=False)
    bars = panel_bars(session, as_of)
    absent = source_data_absent(session, as_of)
    return {
        "format": _FORMAT,
        "as_of": as_of.isoformat(),
        "gaps_computed_at": gaps_at.isoformat(),
        "computed_at": dt.datetime.now().replace(microsecond=0).isoformat(),
        "fingerprint": fingerprint,
        "by_provider": _frame_to_json(by_provider),
        "bars": bars,
        "source_data_absent": absent,
    }


def refresh_dashboard(
    session: Session,
    as_of: dt.date,
    *,
    gaps: bool | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> StoredDashboard:
    """Recompute the care gaps (``gaps=True``; ``None``: when stale; ``False``: never), then
    the Dashboard's figures, and store them for the next open. A job: the caller commits."""
    if gaps or (gaps is None and gaps_are_stale(session, as_of)):
        refresh_gaps(session, as_of, progress=progress, cancel=cancel)
    cancel.raise_if_cancelled()
    progress(0, 1, "Reading measure rates and panels")
    payload = compute_dashboard_figures(session, as_of)
    cancel.raise_if_cancelled()
    try:
        with session.begin_nested():  # a registry busy with another writer: shown, stored next time
            _store(session, as_of, payload)
    except (OperationalError, IntegrityError):
        pass
    progress(1, 1, "Dashboard figures saved")
    return StoredDashboard(payload)


def _store(session: Session, as_of: dt.date, payload: dict[str, Any]) -> None:
    text = json.dumps(payload, separators=(",", ":"))
    key = _key(as_of)
    row = session.get(m.Setting, key)
    if row is None:
        session.add(m.Setting(key=key, value=text, version=1))
    else:
        row.value = text
        row.version = (row.version or 0) + 1
    # Figures of dates whose care gaps were pruned go too (the cache keeps a few dates).
    kept = [f"{_KEY_PREFIX}{d.isoformat()}" for d in session.scalars(
        select(m.MeasureRun.as_of).where(m.MeasureRun.kind == "gaps"))]
    session.execute(
        delete(m.Setting).where(m.Setting.key.like(f"{_KEY_PREFIX}%"), m.Setting.key.notin_(kept + [key]))
    )
    session.flush()


def stored_dashboard_figures(session: Session, as_of: dt.date) -> StoredDashboard | None:
    """The figures ``refresh_dashboard`` stored for ``as_of`` (None: none, or an older format)."""
    text = session.scalar(select(m.Setting.value).where(m.Setting.key == _key(as_of)))
    if not text:
        return None
    try:
        payload = json.loads(text)
        if payload.get("format") != _FORMAT:
            return None
        return StoredDashboard(payload)
    except (ValueError, KeyError, TypeError):  # unreadable: recomputed as if never stored
        return None


# --------------------------------------------------------------------------- frames as JSON


def _frame_to_json(frame: pd.DataFrame) -> dict[str, Any]:
    columns = list(frame.columns)
    rows = [[_plain(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return {"columns": columns, "dtypes": [str(frame[c].dtype) for c in columns], "rows": rows}


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and value != value:  # NaN
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _frame_from_json(data: dict[str, Any]) -> pd.DataFrame:
    columns, dtypes = data["columns"], data["dtypes"]
    frame = pd.DataFrame.from_records(data["rows"], columns=columns) if data["rows"] else pd.DataFrame(
        {c: pd.Series(dtype=object) for c in columns})
    for column, dtype in zip(columns, dtypes):
        frame[column] = _as_dtype(frame[column], dtype)
    return frame


def _as_dtype(values: pd.Series, dtype: str) -> pd.Series:
    if dtype in ("float64", "float32"):
        return pd.to_numeric(values.astype(object).where(values.notna(), None), errors="coerce").astype(dtype)
    if dtype == "object":
        return values.astype(object).where(values.notna(), None)
    return values.astype(dtype)
