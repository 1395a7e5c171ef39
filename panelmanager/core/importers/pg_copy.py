"""The import's bulk writes on PostgreSQL: COPY instead of executemany (issue 13).

On PostgreSQL ``db.bulk_insert``/``db.bulk_update`` send one INSERT/UPDATE per row (psycopg's
pipelined executemany) after building a Python dict per row: a 25,000-patient Synthea import
took 22x as long as on SQLite, nine tenths of it in those two functions. Here the rows go
to the server as one ``COPY ... FROM STDIN`` stream in PostgreSQL's text format, built
column by column with pandas/numpy (no Python object per value for numbers and dates):

- new rows: ``COPY table (columns) FROM STDIN`` straight into the target table. Ids come
  from the table's sequence in stream order, as with the INSERTs, so the writer's
  "ids in insertion order" look-up (``writer._inserted_ids``) still holds; constraints,
  indexes and foreign keys are checked as for any INSERT;
- changed rows: COPY into a temporary staging table shaped like the target's columns, then
  one ``UPDATE table SET ... FROM staging WHERE table.id = staging.id``; the staging table
  is dropped at once (and ``ON COMMIT DROP`` besides).

Everything runs on the caller's connection inside its open transaction, so an import stays
all or nothing: a failure anywhere rolls the COPYs back with the rest. Temporary tables need
the database's TEMP privilege, which PostgreSQL grants to every role by default (the daily
least-privilege role of the README keeps it).

Values are written as the other paths store them: missing values (None, NaN, NaT, pd.NA)
as NULL, timestamps without a time zone (a zoned one as UTC), numbers exact, text escaped
for the COPY text format. SQLite and dry runs keep ``db.bulk_insert``/``db.bulk_update``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import numpy as np
import pandas as pd
from sqlalchemy import BigInteger, Boolean, Date, DateTime, Float, Integer, Numeric, SmallInteger, Table

from panelmanager.core import db

COPY_CHUNK_ROWS = 50_000  # rows turned into text at once (bounds the text held in memory)
NULL = "\\N"
_stage_numbers = itertools.count(1)


def uses_copy(conn) -> bool:
    return conn.dialect.name == "postgresql"


def bulk_insert(conn, table: Table, frame) -> int:
    """``db.bulk_insert``, by COPY on PostgreSQL."""
    if frame.empty or not uses_copy(conn):
        return db.bulk_insert(conn, table, frame)
    columns = [table.c[name] for name in frame.columns]
    defaults = db.scalar_defaults(table, frame.columns)  # server defaults fill themselves
    names = [c.name for c in columns] + list(defaults)
    constants = [_scalar_text(value, table.c[name]) for name, value in defaults.items()]
    _copy_frame(conn, table.name, names, frame, columns, constants)
    return len(frame)


def bulk_update(conn, table: Table, frame, key: str = "id") -> int:
    """``db.bulk_update`` (``UPDATE table SET <other columns> WHERE <key> = ...``), on
    PostgreSQL by COPY into a staging table and one UPDATE ... FROM."""
    if frame.empty or not uses_copy(conn):
        return db.bulk_update(conn, table, frame, key)
    names = list(frame.columns)
    columns = [table.c[name] for name in names]
    stage = f"pm_stage_{table.name}_{next(_stage_numbers)}"
    quoted = ", ".join(_quote(n) for n in names)
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {_quote(stage)} ON COMMIT DROP AS "
        f"SELECT {quoted} FROM {_quote(table.name)} WITH NO DATA"
    )
    _copy_frame(conn, stage, names, frame, columns, [])
    assignments = ", ".join(f"{_quote(n)} = s.{_quote(n)}" for n in names if n != key)
    conn.exec_driver_sql(
        f"UPDATE {_quote(table.name)} AS t SET {assignments} FROM {_quote(stage)} AS s "
        f"WHERE t.{_quote(key)} = s.{_quote(key)}"
    )
    # On a failure the transaction rolls back, taking the staging table with it.
    conn.exec_driver_sql(f"DROP TABLE {_quote(stage)}")
    return len(frame)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy_frame(conn, target: str, names: list[str], frame, columns, constants: list[str]) -> None:
    """Stream ``frame``'s ``columns`` (then the constant texts) into ``target`` with COPY."""
    driver = conn.connection.driver_connection
    sql = f"COPY {_quote(target)} ({', '.join(_quote(n) for n in names)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(sql) as copy:
        for start in range(0, len(frame), COPY_CHUNK_ROWS):
            part = frame.iloc[start : start + COPY_CHUNK_ROWS]
            texts: list[Iterable[str]] = [_column_text(part[c.name], c) for c in columns]
            texts += [itertools.repeat(value, len(part)) for value in constants]
            # map/zip/join run in C: no Python bytecode per row.
            copy.write("\n".join(map("\t".join, zip(*texts))) + "\n")
            del texts


def _column_text(series: pd.Series, column) -> np.ndarray:
    """One column as COPY text values (object array of str, NULL as ``\\N``)."""
    type_ = column.type
    if isinstance(type_, (DateTime, Date)):
        stamps = pd.to_datetime(series)
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
        unit = "us" if isinstance(type_, DateTime) else "D"
        values = stamps.to_numpy(dtype=f"datetime64[{unit}]")
        text = np.datetime_as_string(values, unit=unit).astype(object)  # type: ignore[call-overload]  # unit is "us" or "D"
        text[np.isnat(values)] = NULL
        return text
    if isinstance(type_, Boolean):
        values = series.to_numpy(dtype=object)
        missing = pd.isna(values)
        return np.array([NULL if m else ("t" if v else "f") for v, m in zip(values, missing)], dtype=object)
    if isinstance(type_, (Integer, BigInteger, SmallInteger)):
        ints = series.astype("Int64")
        text = np.array(ints.astype(str).to_numpy(dtype=object), dtype=object)  # writable copy
        text[ints.isna().to_numpy()] = NULL
        return text
    if isinstance(type_, (Float, Numeric)):
        floats = pd.to_numeric(series).astype("float64").to_numpy(dtype="float64", na_value=np.nan)
        missing = np.isnan(floats)  # NaN is stored as NULL, as on SQLite
        text = np.array([repr(v) for v in floats.tolist()], dtype=object)
        text[missing] = NULL
        return text
    return _text_values(series)


def _text_values(series: pd.Series) -> np.ndarray:
    values = series.to_numpy(dtype=object)
    missing = pd.isna(values)
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        values = np.array([v if isinstance(v, str) else str(v) for v in values], dtype=object)
    text = pd.Series(values, dtype=object)
    if missing.any():
        text[missing] = ""
    joined = "".join(text.tolist())  # one C-speed scan instead of a regex per value
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        text = (
            text.str.replace("\\", "\\\\", regex=False)
            .str.replace("\t", "\\t", regex=False)
            .str.replace("\n", "\\n", regex=False)
            .str.replace("\r", "\\r", regex=False)
        )
    out = np.array(text.to_numpy(dtype=object), dtype=object)  # writable copy
    out[missing] = NULL
    return out


def _scalar_text(value, column) -> str:
    return str(_column_text(pd.Series([value], dtype=object), column)[0])
