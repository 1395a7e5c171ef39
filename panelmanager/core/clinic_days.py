"""Which days have visits on the schedule: for the huddle screen's calendar and its
"previous / next clinic day" buttons.

A visit counts unless it was cancelled (the same rule as ``core.huddle``). Days are
grouped in pandas rather than with a SQL date function, so the queries stay portable
between SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panelmanager.core import models
from panelmanager.core.visibility import visible

__all__ = ["visit_days", "adjacent_visit_day", "busiest_visit_day"]


def _counted(stmt, provider_id: int | None):
    v = models.Visit
    stmt = stmt.where(v.status != models.VisitStatus.CANCELLED.value, visible(v))
    if provider_id is not None:
        stmt = stmt.where(v.provider_id == provider_id)
    return stmt


def visit_days(session: Session, start: dt.date, end: dt.date, provider_id: int | None = None) -> dict[dt.date, int]:
    """Visits per day from ``start`` to ``end`` (both included), for one provider or all."""
    v = models.Visit
    stmt = _counted(
        select(v.start).where(v.start >= dt.datetime.combine(start, dt.time()),
                              v.start < dt.datetime.combine(end + dt.timedelta(days=1), dt.time())),
        provider_id,
    )
    starts = pd.to_datetime(pd.Series(session.scalars(stmt).all(), dtype="datetime64[ns]"))
    if starts.empty:
        return {}
    counts = starts.dt.date.value_counts()
    return {day: int(n) for day, n in sorted(counts.items())}


def adjacent_visit_day(session: Session, day: dt.date, step: int, provider_id: int | None = None) -> dt.date | None:
    """The nearest day after (``step`` > 0) or before (``step`` < 0) ``day`` with a visit; None if there is none."""
    v = models.Visit
    if step > 0:
        stmt = select(func.min(v.start)).where(v.start >= dt.datetime.combine(day + dt.timedelta(days=1), dt.time()))
    else:
        stmt = select(func.max(v.start)).where(v.start < dt.datetime.combine(day, dt.time()))
    found = session.scalar(_counted(stmt, provider_id))
    if found is None:
        return None
    return pd.Timestamp(found).date()


def busiest_visit_day(session: Session, start: dt.date, days: int, provider_id: int | None = None) -> dt.date | None:
    """The day with the most visits in ``days`` days from ``start`` (the earliest on a tie); None if none."""
    counts = visit_days(session, start, start + dt.timedelta(days=max(days - 1, 0)), provider_id)
    if not counts:
        return None
    most = max(counts.values())
    return min(day for day, n in counts.items() if n == most)
