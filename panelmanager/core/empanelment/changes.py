"""The one writer of assignment changes: set-wise, each change logged to ``assignment_history``.

Reviews, manual reassignment, preferences and inactivation all change panels through
``_apply_changes``, so the history and the concurrency version rules live in one place.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.db import bulk_insert
from panelmanager.core.empanelment.base import (
    CUT_MANUAL,
    NO_PROVIDER,
)


def _apply_changes(
    session: Session,
    *,
    patient_ids: np.ndarray,
    old: np.ndarray,
    new: np.ndarray,
    cuts: list[str | None],
    reasons: list[str],
    effective_on: dt.date,
    user: str | None,
    review_id: int | None,
    now: dt.datetime,
) -> None:
    """Set-wise: replace the patients' assignments (new == NO_PROVIDER: unassign) and log history."""
    session.flush()
    conn = session.connection()
    pids = [int(p) for p in patient_ids]
    if not pids:
        return
    a = m.Assignment.__table__
    had = [p for p, o in zip(pids, old) if int(o) != NO_PROVIDER]
    if had:
        conn.execute(delete(a).where(a.c.patient_id == bindparam("pid")), [{"pid": p} for p in had])
    new = np.asarray(new, dtype="int64")
    to_assign = new != NO_PROVIDER
    if to_assign.any():
        frame = pd.DataFrame(
            {
                "patient_id": np.asarray(pids, dtype="int64")[to_assign],
                "provider_id": new[to_assign],
                "cut": [c for c, keep in zip(cuts, to_assign) if keep],
                "reason": [r for r, keep in zip(reasons, to_assign) if keep],
                "assigned_on": pd.Timestamp(effective_on),
                "assigned_at": now,
                "assigned_by": user,
                "review_id": review_id,
                "version": 0,  # set below from the patient's history (never reused, see _set_versions)
            }
        )
        frame["review_id"] = frame["review_id"].astype("Int64")
        frame["cut"] = frame["cut"].astype(object).where(frame["cut"].notna(), CUT_MANUAL)
        bulk_insert(conn, a, frame)
    old = np.asarray(old, dtype="int64")
    history = pd.DataFrame(
        {
            "patient_id": np.asarray(pids, dtype="int64"),
            "from_provider_id": pd.array(np.where(old == NO_PROVIDER, None, old), dtype="Int64"),  # type: ignore[call-overload]  # None is a fine scalar; numpy's stubs do not list it
            "to_provider_id": pd.array(np.where(new == NO_PROVIDER, None, new), dtype="Int64"),  # type: ignore[call-overload]  # None is a fine scalar; numpy's stubs do not list it
            "changed_at": now,
            "effective_on": pd.Timestamp(effective_on),
            "cut": pd.Series(cuts, dtype=object),
            "reason": reasons,
            "user": user,
            "review_id": pd.array([review_id] * len(pids), dtype="Int64"),
        }
    )
    bulk_insert(conn, m.AssignmentHistory.__table__, history)
    if to_assign.any():
        _set_versions(conn, pids[0] if len(pids) == 1 else None)
    _expire(session, m.Assignment)


def _set_versions(conn, patient_id: int | None) -> None:
    """New assignment rows get version = the patient's history rows + confirmations.

    Every change adds one of those rows, so a patient's version only ever grows, even
    across an unassignment (its row is deleted): a screen that saw an old version is
    always refused (``concurrency.check_assignment_version``).
    """
    a = m.Assignment.__table__
    h = m.AssignmentHistory.__table__
    c = m.Confirmation.__table__
    changes = (
        select(func.count()).select_from(h).where(h.c.patient_id == a.c.patient_id).scalar_subquery()
        + select(func.count()).select_from(c).where(c.c.patient_id == a.c.patient_id).scalar_subquery()
    )
    stmt = update(a).where(a.c.version == 0).values(version=changes)
    if patient_id is not None:
        stmt = stmt.where(a.c.patient_id == patient_id)
    conn.execute(stmt)


def _expire(session: Session, *classes: type) -> None:
    """Forget loaded objects of these classes: Core writes above changed their rows."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, classes):
            session.expire(obj)
