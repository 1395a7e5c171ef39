"""Reading query results into pandas for the care-gap engine (no per-row conversion)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import String, type_coerce
from sqlalchemy.orm import Session

__all__ = ["DEFAULT_DUE_SOON_DAYS", "RESULT_COLUMNS", "STATUSES", "read_frame"]

STATUSES = ("open", "due-soon", "met", "excluded")
RESULT_COLUMNS = ["patient_id", "mrn", "measure", "status", "due_date", "last_date", "last_code", "last_value"]
DEFAULT_DUE_SOON_DAYS = 60


def _to_datetime(series: pd.Series) -> pd.Series:
    """Dates/datetimes as read from SQLite (ISO text) or PostgreSQL (objects) -> datetime64."""
    if series.empty:
        return pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.astype("datetime64[ns]")
    sample = series.dropna()
    if not sample.empty and isinstance(sample.iloc[0], str):
        return pd.to_datetime(series, format="ISO8601", errors="coerce").astype("datetime64[ns]")
    return pd.to_datetime(series, errors="coerce").astype("datetime64[ns]")


def _raw(column):
    """Select a Date/DateTime column without per-row Python conversion (parsed column-wise)."""
    return type_coerce(column, String)


def read_frame(session: Session, stmt, columns: Sequence[str]) -> pd.DataFrame:
    """Run ``stmt`` and return its rows as a DataFrame named ``columns``.

    Rows are read straight from the driver cursor, so the statement must select only
    integers, floats and text (dates through ``_raw``, parsed afterwards with
    ``_to_datetime``): there is then nothing for SQLAlchemy to convert, and skipping
    its Row objects matters at 100,000 patients.
    """
    result = session.connection().execute(stmt)
    try:
        rows = result.cursor.fetchall() if result.cursor is not None else []
    finally:
        result.close()
    if rows:
        return pd.DataFrame.from_records(rows, columns=list(columns))
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
