"""The latest HbA1c and blood pressure of a few patients, for the huddle screen.

``latest_a1c_bp`` reads, for a list of patients (a day's schedule), the most recent
HbA1c result and the most recent blood pressure (a systolic and a diastolic reading
taken at the same time) on or before a date, in one query. Codes come from the value
sets ``hba1c``, ``systolic-blood-pressure`` and ``diastolic-blood-pressure`` in
``resources/valuesets`` (the same ones the care-gap measures use). ``a1c_high`` marks an
HbA1c above 9% (the poor-control measure's cut-off) and ``bp_high`` a blood pressure of
140/90 or more (not controlled by the controlling-blood-pressure measure's rule).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache

import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from panelmanager.core import models
from panelmanager.core.visibility import visible

__all__ = ["A1C_HIGH", "BP_HIGH", "LATEST_COLUMNS", "latest_a1c_bp", "a1c_text", "bp_text"]

A1C_HIGH = 9.0  # percent; above this is "poor control"
BP_HIGH = (140.0, 90.0)  # systolic, diastolic; at or above either is not controlled
LATEST_COLUMNS = ["patient_id", "a1c", "a1c_date", "a1c_high", "systolic", "diastolic", "bp_date", "bp_high"]
_CHUNK = 900  # ids per IN (...) clause, well under SQLite's parameter limit


@lru_cache(maxsize=1)
def _value_sets():
    from panelmanager.core.measures.valuesets import load_valuesets

    sets, _errors = load_valuesets()
    return sets.get("hba1c"), sets.get("systolic-blood-pressure"), sets.get("diastolic-blood-pressure")


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in LATEST_COLUMNS})
    frame["patient_id"] = frame["patient_id"].astype("int64")
    return frame


def latest_a1c_bp(session: Session, patient_ids: Iterable[int], on: dt.date) -> pd.DataFrame:
    """One row per patient of ``patient_ids`` with a result: columns ``LATEST_COLUMNS``.

    Dates are ``datetime.date``; values are floats (None where the patient has an A1c but
    no blood pressure, or the other way round). Patients with neither are left out.
    """
    ids = sorted({int(i) for i in patient_ids})
    a1c_set, sbp_set, dbp_set = _value_sets()
    sets = [vs for vs in (a1c_set, sbp_set, dbp_set) if vs is not None]
    if not ids or not sets:
        return _empty()
    o = models.Observation
    end = dt.datetime.combine(on + dt.timedelta(days=1), dt.time())
    parts: list[Iterable] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        stmt = select(o.patient_id, o.date, o.code, o.value_num).where(
            o.patient_id.in_(chunk), o.date < end, o.value_num.is_not(None), or_(*(vs.sql_filter(o.code) for vs in sets)),
            visible(o),
        )
        parts.extend(session.execute(stmt).all())
    obs = pd.DataFrame.from_records(parts, columns=["patient_id", "date", "code", "value"])
    if obs.empty:
        return _empty()
    obs["date"] = pd.to_datetime(obs["date"])
    obs["value"] = obs["value"].astype(float)

    def kind(vs) -> pd.Series:
        return vs.contains(obs["code"]) if vs is not None else pd.Series(False, index=obs.index)

    a1c = obs[kind(a1c_set)].sort_values(["patient_id", "date"]).drop_duplicates("patient_id", keep="last")
    a1c = a1c.rename(columns={"value": "a1c", "date": "a1c_date"})[["patient_id", "a1c", "a1c_date"]]
    sbp = obs[kind(sbp_set)].groupby(["patient_id", "date"], as_index=False)["value"].max()
    dbp = obs[kind(dbp_set)].groupby(["patient_id", "date"], as_index=False)["value"].max()
    bp = sbp.merge(dbp, on=["patient_id", "date"], suffixes=("_s", "_d"))
    bp = bp.sort_values(["patient_id", "date"]).drop_duplicates("patient_id", keep="last")
    bp = bp.rename(columns={"value_s": "systolic", "value_d": "diastolic", "date": "bp_date"})

    out = a1c.merge(bp, on="patient_id", how="outer")
    out["a1c_high"] = out["a1c"].gt(A1C_HIGH)
    out["bp_high"] = out["systolic"].ge(BP_HIGH[0]) | out["diastolic"].ge(BP_HIGH[1])
    for column in ("a1c_date", "bp_date"):
        out[column] = out[column].map(lambda v: None if pd.isna(v) else v.date())
    out = out.astype(object).where(out.notna(), None)
    out["patient_id"] = out["patient_id"].astype("int64")
    return out[LATEST_COLUMNS].sort_values("patient_id").reset_index(drop=True)


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def a1c_text(value, day) -> str:
    """``9.8% (2023-08-14)``; empty when there is no result."""
    if value is None or day is None:
        return ""
    return f"{_number(float(value))}% ({day.isoformat()})"


def bp_text(systolic, diastolic, day) -> str:
    """``146/95 (2025-03-21)``; empty when there is no reading."""
    if systolic is None or diastolic is None or day is None:
        return ""
    return f"{int(round(float(systolic)))}/{int(round(float(diastolic)))} ({day.isoformat()})"
