"""Writing the care-gap cache (``measure_results``) fast: what every refresh pays after evaluating.

At 100,000 patients one refresh stores about 570,000 rows. The generic ``db.bulk_insert``
formats every date cell one by one, and the ORM ``DELETE`` of the date's old rows
updates both indexes row by row; together they took longer than evaluating the
measures. Here, on SQLite:

- the constant columns (``as_of``, ``computed_at``) are formatted once and written into
  the statement;
- ``due_date`` / ``last_date`` are formatted per distinct day (a few thousand), and the
  measure, status, code and value texts per distinct text (cut to the column's length,
  missing as None), then taken by position;
- the rows are written in the order of the (as_of, measure_id, status) index, 128 rows
  per INSERT statement, through the driver cursor's ``executemany`` (no SQLAlchemy);
- when the new rows outnumber what stays (other dates), the plain indexes are dropped
  before the old rows are deleted and rebuilt once after the insert with a 64 MB page
  cache, so SQLite sorts them in memory (inside the same transaction, so a failure or a
  cancel restores them);
- when no other date is cached, the old rows go with one ``DELETE FROM measure_results``
  without a WHERE clause: SQLite's truncate optimization frees the pages without visiting
  each row. The table has no foreign key for that reason (migration 0014_gaps_nofk: a
  table in a foreign-key relation is emptied row by row, and each inserted row was
  checked against ``patients``).

Every reader sees exactly the rows and values the generic path wrote (tests prove it:
``tests/core/test_measures_cache_write.py``). PostgreSQL streams the rows with ``COPY``
(``importers.pg_copy``); other databases use ``db.bulk_insert``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import delete
from sqlalchemy.orm import Session

from panelmanager.core import models
from panelmanager.core.db import bulk_insert

__all__ = ["write_results"]

_TEXT_LIMIT = 300  # measure_results.last_value is String(300)
_INDEX_BUILD_CACHE_KB = 64 * 1024
# Rows per INSERT statement: 7 bound values each, 896 in all, under the 999 parameters of
# SQLite builds before 3.32 (SQLITE_MAX_VARIABLE_NUMBER).
_ROWS_PER_STATEMENT = 128


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
        if conn.dialect.name == "postgresql":
            # COPY ... FROM STDIN: one stream instead of 570,000 INSERTs (issue 16).
            from panelmanager.core.importers.pg_copy import bulk_insert as copy_insert

            return copy_insert(conn, table, frame)
        return bulk_insert(conn, table, frame)

    session.flush()
    as_of_text = as_of.isoformat()
    staying = conn.exec_driver_sql(
        "SELECT COUNT(*) FROM measure_results WHERE as_of < ? OR as_of > ?", (as_of_text, as_of_text)
    ).scalar() or 0
    deferred: list[tuple[str, str]] = []
    if len(result) and len(result) * 2 >= staying:
        # Dropped before the DELETE too: when other dates stay, their rows are deleted from
        # the table alone, not row by row from each index as well.
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
    else:  # no WHERE: the truncate optimization (the table is in no foreign-key relation)
        conn.exec_driver_sql("DELETE FROM measure_results")
    if len(result):
        _insert_sqlite(conn, as_of_text, result, computed_at)
    if deferred:
        # A page cache that holds the index being built lets SQLite sort it in memory rather
        # than in temporary files (the connection's default is 2 MB); restored at once.
        previous = int(conn.exec_driver_sql("PRAGMA cache_size").scalar() or -2000)
        conn.exec_driver_sql(f"PRAGMA cache_size = -{_INDEX_BUILD_CACHE_KB}")
        try:
            for _name, sql in deferred:
                conn.exec_driver_sql(sql)
        finally:
            conn.exec_driver_sql(f"PRAGMA cache_size = {previous}")
    return len(result)


def _insert_sqlite(conn, as_of_text: str, result: pd.DataFrame, computed_at: dt.datetime) -> None:
    # Index order: (as_of, measure_id, status) with as_of constant; patients ascending within.
    patient = result["patient_id"].to_numpy(dtype="int64")
    measure_code, measure = _distinct_text(result["measure"], sort=True)
    status_code, status = _distinct_text(result["status"], sort=True)
    order = np.lexsort((patient, status_code, measure_code))
    # One object array, a row per cached row, whose ravel() is the flat list of bound values
    # (numpy turns the int64 ids into Python ints, which the driver needs).
    table = np.empty((len(patient), 7), dtype=object)
    table[:, 0] = patient[order]
    table[:, 1] = measure[measure_code[order]]
    table[:, 2] = status[status_code[order]]
    table[:, 3] = day_text(result["due_date"].to_numpy())[order]
    table[:, 4] = day_text(result["last_date"].to_numpy())[order]
    for column, (name, limit) in enumerate((("last_code", None), ("last_value", _TEXT_LIMIT)), start=5):
        code, text = _distinct_text(result[name], limit=limit)
        table[:, column] = text[code[order]]
    computed_text = computed_at.strftime("%Y-%m-%d %H:%M:%S.%f")
    # The two constants are written into the statement (text this module formatted from a
    # date and a datetime, never user input): two fewer parameters to bind per row.
    head = (
        "INSERT INTO measure_results (as_of, patient_id, measure_id, status, due_date, last_date, last_code, "
        "last_value, computed_at) VALUES "
    )
    row = f"('{as_of_text}', ?, ?, ?, ?, ?, ?, ?, '{computed_text}')"
    n = len(patient)
    full = n // _ROWS_PER_STATEMENT
    # The values flattened row after row: one statement takes _ROWS_PER_STATEMENT rows, so
    # SQLite prepares, binds and steps once per 128 rows instead of once per row (570,000
    # rows: ~0.25 s of CPU less than one INSERT per row through executemany).
    flat = table.ravel().tolist()
    width = table.shape[1] * _ROWS_PER_STATEMENT
    # Straight to the driver's cursor, in this transaction: SQLAlchemy has nothing to look at.
    cursor = conn.connection.driver_connection.cursor()
    try:
        if full:
            cursor.executemany(
                head + ",".join([row] * _ROWS_PER_STATEMENT),
                (flat[i : i + width] for i in range(0, full * width, width)),
            )
        if n > full * _ROWS_PER_STATEMENT:
            cursor.execute(head + ",".join([row] * (n - full * _ROWS_PER_STATEMENT)), flat[full * width :])
    finally:
        cursor.close()


def _distinct_text(values: pd.Series, *, sort: bool = False, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(position of each value in ``text``, ``text``): the distinct values, each handled once.

    ``text`` ends with a None that every missing value points at; with ``limit``, values are
    cut to that many characters. A few hundred distinct codes and values stand for 570,000 rows.
    """
    codes, uniques = pd.factorize(values.to_numpy(dtype=object, na_value=None), sort=sort)
    text = np.empty(len(uniques) + 1, dtype=object)
    text[: len(uniques)] = np.asarray(uniques, dtype=object)
    if limit is not None:
        for i, value in enumerate(text[: len(uniques)]):
            if isinstance(value, str) and len(value) > limit:
                text[i] = value[:limit]
    text[-1] = None
    return np.where(codes < 0, len(uniques), codes), text


def day_text(values: np.ndarray) -> np.ndarray:
    """datetime64 values as "YYYY-MM-DD" text (None for NaT), formatted once per distinct day."""
    days = np.asarray(values).astype("datetime64[D]")
    out = np.empty(len(days), dtype=object)
    if not len(days):
        return out
    # Distinct days by hashing (pd.factorize), not by sorting (np.unique): 570,000 dates are
    # a few thousand days.
    codes, distinct = pd.factorize(days.view("int64"))
    text = np.datetime_as_string(np.asarray(distinct, dtype="int64").view("datetime64[D]"), unit="D").astype(object)
    out[:] = text[codes]
    out[np.isnat(days)] = None
    return out


def clip_text(values: pd.Series, length: int) -> pd.Series:
    """Text cut to the column's length, column-wise; missing values stay missing."""
    text = values.astype(object)
    long = text.notna().to_numpy() & (text.str.len().fillna(0).to_numpy() > length)
    if long.any():
        text = text.copy()
        text[long] = text[long].str.slice(0, length)
    return text
