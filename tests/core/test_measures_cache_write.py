"""The fast care-gap cache writer stores exactly what the generic bulk insert stored, and every
reader of the cache (gaps, measure_rates, gap_patients, patient lists) gets the same answers."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import delete, func, inspect, select, text

from panelmanager.core import models
from panelmanager.core.db import bulk_insert
from panelmanager.core.demo import load_demo
from panelmanager.core.measures import evaluate_measures, gaps, measure_rates, refresh_gaps
from panelmanager.core.measures.cache import clip_text, day_text, write_results
from panelmanager.core.panel_lists import gap_patients, gaps_computed_at

AS_OF = dt.date(2025, 1, 15)
COLUMNS = "as_of, patient_id, measure_id, status, due_date, last_date, last_code, last_value, computed_at"


@pytest.fixture
def demo(fresh_registry):
    load_demo(fresh_registry, patients=300, seed=4, as_of=AS_OF)
    return fresh_registry


def _rows(session, as_of: dt.date | None = None) -> list[tuple]:
    where = "" if as_of is None else f" WHERE as_of = '{as_of.isoformat()}'"
    stmt = text(f"SELECT {COLUMNS} FROM measure_results{where} ORDER BY as_of, measure_id, patient_id")
    return [tuple(str(v) if v is not None else None for v in row) for row in session.execute(stmt)]


def _generic_write(session, as_of: dt.date, result: pd.DataFrame, computed_at: dt.datetime) -> None:
    """What refresh_gaps wrote before the fast writer: ORM delete plus db.bulk_insert."""
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
            "last_value": clip_text(result["last_value"], 300),
            "computed_at": pd.Series(pd.Timestamp(computed_at), index=result.index),
        }
    )
    bulk_insert(session.connection(), models.MeasureResult.__table__, frame)


def _indexes(session) -> set[str]:
    return {ix["name"] for ix in inspect(session.connection()).get_indexes("measure_results")}


def test_fast_writer_stores_the_same_rows_as_the_generic_insert(demo):
    computed_at = dt.datetime(2025, 1, 15, 9, 30, 5)
    with demo.session() as session:
        result = evaluate_measures(session, AS_OF)
        assert len(result) > 1000 and result["last_value"].notna().any() and result["due_date"].isna().any()
        indexes = _indexes(session)
        _generic_write(session, AS_OF, result, computed_at)
        expected = _rows(session)
        write_results(session, AS_OF, result, computed_at)  # replaces the rows it finds
        assert _rows(session) == expected
        assert _indexes(session) == indexes
        session.execute(delete(models.MeasureResult))
        write_results(session, AS_OF, result, computed_at)  # into an empty table
        assert _rows(session) == expected


def test_other_dates_stay_and_small_writes_keep_the_indexes(demo):
    computed_at = dt.datetime(2025, 1, 15, 9, 30, 5)
    earlier = AS_OF - dt.timedelta(days=1)
    with demo.session() as session:
        indexes = _indexes(session)
        result = evaluate_measures(session, AS_OF)
        before = evaluate_measures(session, earlier)
        _generic_write(session, earlier, before, computed_at)
        _generic_write(session, AS_OF, result, computed_at)
        expected_earlier, expected = _rows(session, earlier), _rows(session, AS_OF)
        # Many rows while another date stays: indexes dropped and rebuilt.
        write_results(session, AS_OF, result, computed_at)
        assert _rows(session, earlier) == expected_earlier and _rows(session, AS_OF) == expected
        # A few rows while many stay: written through the indexes.
        write_results(session, AS_OF, result.iloc[:7], computed_at)
        assert len(_rows(session, AS_OF)) == 7 and _rows(session, earlier) == expected_earlier
        # No rows at all.
        write_results(session, AS_OF, result.iloc[0:0], computed_at)
        assert _rows(session, AS_OF) == [] and _rows(session, earlier) == expected_earlier
        assert _indexes(session) == indexes


def test_readers_get_the_same_answers_from_both_writers(demo):
    with demo.session() as session:
        refresh_gaps(session, AS_OF)
    answers = []
    for writer in ("fast", "generic"):
        with demo.session() as session:
            if writer == "generic":
                computed = gaps_computed_at(session, AS_OF)
                _generic_write(session, AS_OF, evaluate_measures(session, AS_OF), computed)
            every = gaps(session, AS_OF, refresh=False)
            rates = measure_rates(session, AS_OF, by="provider")
            practice = measure_rates(session, AS_OF, by="practice")
            measure = every.loc[every["status"] == "open", "measure"].iloc[0]
            cell = gap_patients(session, AS_OF, measure)
            answers.append((every, rates, practice, cell))
            assert session.scalar(select(func.count()).select_from(models.MeasureResult)) == len(every)
    for fast, generic in zip(*answers):
        pd.testing.assert_frame_equal(fast, generic)


def test_day_text_formats_each_distinct_day_once():
    values = pd.to_datetime(pd.Series(["2024-02-29 13:45", None, "1999-12-31 00:00", "2024-02-29 00:00"])).to_numpy()
    assert day_text(values).tolist() == ["2024-02-29", None, "1999-12-31", "2024-02-29"]
    assert day_text(values[:0]).tolist() == []


def test_long_missing_and_odd_text_is_stored_as_the_generic_insert_stores_it(demo):
    # Each distinct code and value is handled once (issue 16): a value over the column's
    # 300 characters is cut, missing ones (None, NaN) are NULL, equal texts stay equal.
    computed_at = dt.datetime(2025, 1, 15, 9, 30, 5)
    with demo.session() as session:
        result = evaluate_measures(session, AS_OF).head(40).copy()
        values = result["last_value"].astype(object).to_numpy(copy=True)
        codes = result["last_code"].astype(object).to_numpy(copy=True)
        values[0], values[1], values[2], values[3] = "x" * 400, "x" * 300, float("nan"), "é" * 301
        values[4], values[5] = "x" * 400, "x" * 401
        codes[0], codes[1], codes[2] = None, float("nan"), "O'Brien"
        result["last_value"], result["last_code"] = values, codes
        _generic_write(session, AS_OF, result, computed_at)
        expected = _rows(session)
        write_results(session, AS_OF, result, computed_at)
        assert _rows(session) == expected
        stored = {row[7] for row in expected}
        assert "x" * 300 in stored and "é" * 300 in stored and None in stored


@pytest.mark.parametrize("count", [1, 127, 128, 129, 256, 300])
def test_every_row_is_stored_whatever_the_batch_of_rows_per_statement(demo, count):
    # The SQLite writer sends 128 rows per INSERT statement and the rest in one more: no
    # row may be lost or doubled at either edge.
    computed_at = dt.datetime(2025, 1, 15, 9, 30, 5)
    with demo.session() as session:
        result = evaluate_measures(session, AS_OF).head(count).copy()
        _generic_write(session, AS_OF, result, computed_at)
        expected = _rows(session)
        session.execute(delete(models.MeasureResult))
        assert write_results(session, AS_OF, result, computed_at) == count
        assert len(expected) == count
        assert _rows(session) == expected
