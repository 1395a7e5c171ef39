"""Writing the care-gap cache (``measure_results``) fast: what every refresh pays after evaluating.

At 100,000 patients one refresh stores about 570,000 rows. The generic ``db.bulk_insert``
formats every date cell one by one, and the ORM ``DELETE`` of the date's old rows
updates both indexes row by row; together they took longer than evaluating the
measures. Here, on SQLite:

- the constant columns (``as_of``, ``computed_at``) are formatted once and repeated;
- ``due_date`` / ``last_date`` are formatted per distinct day (a few thousand), then
  taken by position;
- the rows are written in the order of the (as_of, measure_id, status) index;
- when the new rows outnumber what stays (other dates), the plain indexes are dropped
  before the old rows are deleted and rebuilt once after the insert (inside the same
  transaction, so a failure or a cancel restores them).

Every reader sees exactly the rows and values the generic path wrote (tests prove it:
``tests/core/test_measures_cache_write.py``). Other databases use ``db.bulk_insert``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import delete
from sqlalchemy.orm import Session

from panelmanager.core import models
from panelmanager.core.db import BULK_CHUNK_ROWS, bulk_insert

__all__ = ["write_results"]

_TEXT_LIMIT = 300  # measure_results.last_value is String(300)
_STATUS_ORDER = {"open": 0, "due-soon": 1, "excluded": 2, "met": 3}  # sorted as text: the index's order


def write_results(session: Session, as_of: dt.date, result: pd.DataFrame, computed_at: dt.datetime) -> int:
    """Replace the cached rows for ``as_of`` with ``result`` (``evaluate_definitions``' frame)."""
    conn = session.connection()
    table = models.MeasureResult.__table__
    if conn.dialect.name != "sqlite":
        session.execute(delete(models.MeasureResult).where(models.MeasureResult.as_of == as_of))
        frame = pd.DataFrame(
            {
                "as_of": pd.Series(pd.Timestamp(as_of), index=result.index),
                "patient_id": result["patient_id"],
                "measure_id": result["measure"],
                "status": result["status"],
                "due_date": result["due_date"],
                "last_date": result["last_date"],
                "last_code": result["last_code"],
                "last_value": clip_text(result["last_value"], _TEXT_LIMIT),
                "computed_at": pd.Series(pd.Timestamp(computed_at), index=result.index),
            }
        )
        return bulk_insert(conn, table, frame)

    session.flush()
    as_of_text = as_of.isoformat()
    staying = conn.exec_driver_sql(
        "SELECT COUNT(*) FROM measure_results WHERE as_of < ? OR as_of > ?", (as_of_text, as_of_text)
    ).scalar() or 0
    deferred: list[tuple[str, str]] = []
    if len(result) and len(result) * 2 >= staying:
        # Dropped before the DELETE too: the old rows then leave the table alone, not row
        # by row from each index (SQLite cannot truncate while foreign keys are on).
        deferred = [
            (name, sql)
            for name, sql in conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'measure_results' AND sql IS NOT NULL"
            ).fetchall()
            if not sql.lstrip().upper().startswith("CREATE UNIQUE")
        ]
        for name, _sql in deferred:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    if staying:
        conn.exec_driver_sql("DELETE FROM measure_results WHERE as_of = ?", (as_of_text,))
    else:
        conn.exec_driver_sql("DELETE FROM measure_results")
    if len(result):
        _insert_sqlite(conn, as_of_text, result, computed_at)
    for _name, sql in deferred:
        conn.exec_driver_sql(sql)
    return len(result)


def _insert_sqlite(conn, as_of_text: str, result: pd.DataFrame, computed_at: dt.datetime) -> None:
    # Index order: (as_of, measure_id, status) with as_of constant; patients ascending within.
    measure = result["measure"].astype(object).to_numpy()
    status = result["status"].astype(object).to_numpy()
    order = np.lexsort(
        (
            result["patient_id"].to_numpy(dtype="int64"),
            pd.Series(status).map(_STATUS_ORDER).fillna(9).to_numpy(),
            pd.factorize(measure, sort=True)[0],
        )
    )
    patient_id = result["patient_id"].to_numpy(dtype="int64")[order].tolist()
    measure = measure[order].tolist()
    status = status[order].tolist()
    due = day_text(result["due_date"].to_numpy())[order].tolist()
    last = day_text(result["last_date"].to_numpy())[order].tolist()
    code = _none_for_missing(result["last_code"])[order].tolist()
    value = _none_for_missing(clip_text(result["last_value"], _TEXT_LIMIT))[order].tolist()
    computed_text = computed_at.strftime("%Y-%m-%d %H:%M:%S.%f")
    # The two constants are written into the statement (text this module formatted from a
    # date and a datetime, never user input): two fewer parameters to bind per row.
    sql = (
        "INSERT INTO measure_results (as_of, patient_id, measure_id, status, due_date, last_date, last_code, "
        f"last_value, computed_at) VALUES ('{as_of_text}', ?, ?, ?, ?, ?, ?, ?, '{computed_text}')"
    )
    total = len(patient_id)
    for start in range(0, total, BULK_CHUNK_ROWS):
        stop = min(start + BULK_CHUNK_ROWS, total)
        rows = zip(
            patient_id[start:stop],
            measure[start:stop],
            status[start:stop],
            due[start:stop],
            last[start:stop],
            code[start:stop],
            value[start:stop],
        )
        conn.exec_driver_sql(sql, list(rows))


def day_text(values: np.ndarray) -> np.ndarray:
    """datetime64 values as "YYYY-MM-DD" text (None for NaT), formatted once per distinct day."""
    days = np.asarray(values).astype("datetime64[D]")
    out = np.empty(len(days), dtype=object)
    if not len(days):
        return out
    as_int = days.view("int64")
    missing = np.isnat(days)
    distinct, inverse = np.unique(as_int, return_inverse=True)
    text = np.datetime_as_string(distinct.view("datetime64[D]"), unit="D").astype(object)
    text[np.isnat(distinct.view("datetime64[D]"))] = None
    out[:] = text[inverse.reshape(-1)]
    out[missing] = None
    return out


def clip_text(values: pd.Series, length: int) -> pd.Series:
    """Text cut to the column's length, column-wise; missing values stay missing."""
    text = values.astype(object)
    long = text.notna().to_numpy() & (text.str.len().fillna(0).to_numpy() > length)
    if long.any():
        text = text.copy()
        text[long] = text[long].str.slice(0, length)
    return text


def _none_for_missing(values: pd.Series) -> np.ndarray:
    array = values.astype(object).to_numpy(copy=True)
    array[pd.isna(array)] = None
    return array
