"""The import's COPY path on PostgreSQL stores exactly what the executemany path stores (issue 13).

The same awkward values (tabs, newlines, backslashes, quotes, accents, missing values of
every kind, NaN, pre-1970 dates, microseconds, booleans, defaults left out) go in once through
``importers.pg_copy`` and once through ``db.bulk_insert``/``db.bulk_update``; what is read
back must be the same. On SQLite both are the same function, so the test holds trivially.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import select

from panelmanager.core import db, models
from panelmanager.core.importers import pg_copy

TRICKY = ["plain", "tab\there", "new\nline", "back\\slash", 'quote"s', "Zoë Ñúñez", "", "\\N", "cr\rx"]


def _providers(prefix: str) -> pd.DataFrame:
    n = len(TRICKY)
    return pd.DataFrame({
        "source": "test",
        "external_id": [f"{prefix}{i}" for i in range(n)],
        "display_name": TRICKY,
        "specialty": [None, np.nan, pd.NA, "x", None, "y", None, "z", None],
        "clinic_days_per_year": [1.5, np.nan, 0.1, 1e20, -0.0, 3.0, None, 2.25, 7.0],
        "can_hold_panel": [True, False, None, True, False, True, True, False, True],
        "row_hash": pd.array([2**63 - 1, -(2**63), None, 0, 5, -5, 1, 2, 3], dtype="Int64"),
    })


def _patients(prefix: str) -> pd.DataFrame:
    n = len(TRICKY)
    return pd.DataFrame({
        "mrn": [f"{prefix}{i}" for i in range(n)],
        "first_name": TRICKY,
        "last_name": [f"Last{i}" for i in range(n)],
        "dob": pd.to_datetime(["1931-02-28", "1969-12-31", "2000-01-01", None, "1970-01-01", "2024-02-29",
                               "1900-01-01", "1999-12-31", "2010-06-15"]),
        "updated_at": pd.to_datetime(["2024-01-02 03:04:05.123456", None, "1965-05-05 23:59:59.999999",
                                      "2024-01-01", "2024-01-01 00:00:01", None, "2023-12-31 12:00", None,
                                      "2020-02-02 02:02:02.5"], format="ISO8601"),
        "source": "test",
    })


def _read(conn, table, keys: list[str], key_column: str, drop: tuple[str, ...]) -> list[dict]:
    rows = conn.execute(select(table).where(table.c[key_column].in_(keys))).mappings()
    by_key = {row[key_column]: {k: v for k, v in row.items() if k not in drop} for row in rows}
    return [by_key[key] for key in keys]


def test_copy_stores_what_executemany_stores(fresh_registry):
    providers, patients = models.Provider.__table__, models.Patient.__table__
    with fresh_registry.engine.begin() as conn:
        pg_copy.bulk_insert(conn, providers, _providers("c"))
        db.bulk_insert(conn, providers, _providers("e"))
        pg_copy.bulk_insert(conn, patients, _patients("c"))
        db.bulk_insert(conn, patients, _patients("e"))
    n = len(TRICKY)
    with fresh_registry.engine.connect() as conn:
        copied = _read(conn, providers, [f"c{i}" for i in range(n)], "external_id", ("id", "external_id"))
        plain = _read(conn, providers, [f"e{i}" for i in range(n)], "external_id", ("id", "external_id"))
        assert copied == plain
        assert [r["display_name"] for r in copied] == TRICKY  # text as given
        assert (copied[0]["fte"], copied[0]["panel_open"], copied[0]["active"]) == (1.0, True, True)  # defaults
        copied = _read(conn, patients, [f"c{i}" for i in range(n)], "mrn", ("id", "mrn"))
        plain = _read(conn, patients, [f"e{i}" for i in range(n)], "mrn", ("id", "mrn"))
        assert copied == plain
        assert copied[0]["dob"] == dt.date(1931, 2, 28)
        assert copied[0]["updated_at"] == dt.datetime(2024, 1, 2, 3, 4, 5, 123456)


def test_copy_update_changes_exactly_the_rows_given(fresh_registry):
    patients = models.Patient.__table__
    with fresh_registry.engine.begin() as conn:
        db.bulk_insert(conn, patients, _patients("c"))
        db.bulk_insert(conn, patients, _patients("e"))
    with fresh_registry.engine.connect() as conn:
        ids = dict(conn.execute(select(patients.c.mrn, patients.c.id)).all())
    changes = _patients("x")[["first_name", "dob", "updated_at"]].iloc[::-1].reset_index(drop=True)
    with fresh_registry.engine.begin() as conn:
        pg_copy.bulk_update(conn, patients, changes.assign(id=[ids[f"c{i}"] for i in range(len(changes))]))
        db.bulk_update(conn, patients, changes.assign(id=[ids[f"e{i}"] for i in range(len(changes))]))
        pg_copy.bulk_update(conn, patients, changes.iloc[:0].assign(id=[]))  # nothing to do: no error
    n = len(TRICKY)
    with fresh_registry.engine.connect() as conn:
        copied = _read(conn, patients, [f"c{i}" for i in range(n)], "mrn", ("id", "mrn"))
        plain = _read(conn, patients, [f"e{i}" for i in range(n)], "mrn", ("id", "mrn"))
    assert copied == plain
    assert [r["first_name"] for r in copied] == TRICKY[::-1]
