"""What every empanelment module shares: the vocabulary, the error, and column-wise reads.

``_read`` and ``_driver_rows`` turn a Core select into a pandas frame without ORM or
per-row record handling; the engine and the lists read through them.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.people import iso as _iso  # the core's one date-as-text rule

NO_PROVIDER = -1  # "no provider" inside the engine's integer frames

PARTIES = ("patient", "provider")
PATIENT_OUTCOMES = ("confirmed", "changed", "declined")
PROVIDER_OUTCOMES = ("mine", "not-mine")
METHODS = ("check-in", "scheduling", "phone", "portal", "mail", "visit", "panel-list", "paper", "other")
ACTIONABLE_KINDS = ("new", "change", "drop")
CUT_PREFERENCE = "preference"
CUT_KEPT = "kept"
CUT_MANUAL = "manual"


class EmpanelmentError(Exception):
    """A request the registry cannot honour; the message says why and what to do."""


def _months_before(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min)


# numpy converts a big array in one call that holds the interpreter lock all along: 400,000 visit
# rows froze the window for a quarter second while a review or outreach list ran in a job. In
# slices of this many rows the GUI thread gets the lock between slices (issue 10).
_SLICE = 50_000


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[np.ndarray]:
    """Driver rows as one object array per column (far quicker than ``zip(*rows)``)."""
    if rows and type(rows[0]) is not tuple:
        rows = [tuple(r) for r in rows]  # SQLAlchemy Rows: numpy would probe each for array attributes
    table = np.empty((len(rows), width), dtype=object)
    for start in range(0, len(rows), _SLICE):
        table[start : start + _SLICE] = rows[start : start + _SLICE]
    return [table[:, i] for i in range(width)]


def _days(stamps: np.ndarray) -> np.ndarray:
    """Timestamps (ISO text from SQLite, datetimes elsewhere) as datetime64 days."""
    if len(stamps) and isinstance(stamps[0], str):
        days = np.empty(len(stamps), dtype="datetime64[D]")
        for start in range(0, len(stamps), _SLICE):
            days[start : start + _SLICE] = stamps[start : start + _SLICE].astype("U10").astype("datetime64[D]")
        return days.astype("datetime64[ns]")
    return pd.to_datetime(pd.Series(stamps)).dt.normalize().to_numpy(dtype="datetime64[ns]")


def _driver_rows(session: Session, stmt) -> Sequence[tuple]:
    """The rows exactly as the database driver returns them, without SQLAlchemy Row objects.

    Only for statements whose columns need no type conversion (integers, and timestamps
    that ``_days`` parses): on a 400,000-row visit scan this saves about a second.
    """
    result = session.connection().execute(stmt)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _read(session: Session, stmt, columns: Sequence[str], *, raw: bool = False) -> pd.DataFrame:
    """A Core select as a frame, column-wise (no per-row ORM or pandas record handling).

    ``raw=True`` keeps the driver's values (``_driver_rows``): dates then arrive as ISO
    text on SQLite and must be read with ``pd.to_datetime`` or ``_iso``.
    """
    rows = _driver_rows(session, stmt) if raw else session.connection().execute(stmt).fetchall()
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    data = {}
    for name, values in zip(columns, _columns(rows, len(columns))):
        first = next((v for v in values if v is not None), None)
        if isinstance(first, (int, float)) and not isinstance(first, bool):
            data[name] = pd.Series(values.tolist())  # int64, or float64 with NaN for NULLs
        else:
            # Text and dates stay plain Python objects (pandas' own string type is slow here).
            data[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(data)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _iso_series(values: pd.Series) -> pd.Series:
    """Dates as ISO day strings ("" where missing), vectorised for datetime64 columns."""
    values = values.reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        text = np.datetime_as_string(values.to_numpy(dtype="datetime64[D]"), unit="D").astype(object)
        return pd.Series(np.where(values.isna().to_numpy(), "", text), dtype=object)
    return pd.Series([_iso(v) for v in values], dtype=object)


def _load_current(session: Session) -> pd.DataFrame:
    a = m.Assignment
    df = _read(
        session,
        select(a.patient_id, a.provider_id, a.cut, a.assigned_on, a.provider_confirmed_on, a.patient_confirmed_on),
        ["patient_id", "cur", "cur_cut", "assigned_on", "provider_confirmed_on", "patient_confirmed_on"],
        raw=True,
    )
    df["patient_id"] = df["patient_id"].astype("int64")
    df["cur"] = df["cur"].astype("int64")
    return df


def _full_name(last: pd.Series, first: pd.Series) -> pd.Series:
    last = last.astype(object).where(last.notna(), "")
    first = first.astype(object).where(first.notna(), "")
    return (last + ", " + first).str.strip(", ")
