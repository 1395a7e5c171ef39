"""What staff read for a care-gap status: plain words instead of met / open where they mislead.

An inverse measure counts the bad outcome (CMS122 "HbA1c poor control"): "met" under
"poor control" reads backwards. A measure file may give ``[staff_terms]`` (``met``,
``failed``, ``missing``); lists, the huddle sheet, letters, the dashboard and the ``gaps``
output then say "A1c under control", "A1c above 9" or "No A1c this year".

``failed`` (the most recent result in the look-back is out of range) and ``missing``
(nothing valid in the look-back) are told apart from the stored row alone: the engine
gives a failing result the as-of date as its due date, which is before the reading's
own lapse date (reading + look-back); a lapsed reading is due exactly at its lapse date.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from panelmanager.core.measures.definitions import MeasureDefinition, StaffTerms, load_measures

__all__ = ["FINDINGS", "MeasureWording", "finding", "measure_wording", "staff_status", "staff_status_column"]

FINDINGS = ("met", "failed", "missing")
_PLAIN = {"open": "open", "due-soon": "due soon", "met": "met", "excluded": "excluded"}


@dataclass(frozen=True)
class MeasureWording:
    terms: StaffTerms
    result_lookback_months: int | None  # the look-back of the measure's result satisfier, if any

    @classmethod
    def of(cls, measure: MeasureDefinition) -> MeasureWording:
        lookback = next((s.lookback_months for s in measure.satisfied_by if s.kind == "result"), None)
        return cls(measure.staff_terms, lookback)

    @property
    def has_terms(self) -> bool:
        return bool(self.terms.met or self.terms.failed or self.terms.missing)


_CACHE: dict[tuple, dict[str, MeasureWording]] = {}
# The measure files are looked at again (one stat per file) at most this often: a huddle
# sheet asks for the wording once per gap line (2,500 times for a busy day at 100,000
# patients), and a stat of every file each time froze the GUI for seconds.
_RECHECK_SECONDS = 2.0
_LAST_CHECK: dict[str, tuple[float, tuple]] = {}


def measure_wording(resources_dir=None) -> dict[str, MeasureWording]:
    """Each measure's staff wording, by id (re-read when a measure file changes)."""
    from panelmanager.core.resources import resources_dir as default_dir

    base = Path(resources_dir) if resources_dir is not None else default_dir()
    folder = base / "measures"
    now = time.monotonic()
    checked = _LAST_CHECK.get(str(base))
    if checked is not None and now - checked[0] < _RECHECK_SECONDS:
        stamp = checked[1]
    else:
        try:
            stamp = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.toml")))
        except OSError:
            stamp = ()
        _LAST_CHECK[str(base)] = (now, stamp)
    key = (str(base), stamp)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = {m.id: MeasureWording.of(m) for m in load_measures(base)[0]}
    return _CACHE[key]


def _day(value: Any) -> dt.date | None:
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None


def finding(wording: MeasureWording | None, status: str, last_date: Any, due_date: Any) -> str | None:
    """``met``, ``failed`` or ``missing`` for a row of a measure with staff terms (else None)."""
    if wording is None or not wording.has_terms:
        return None
    if status in ("met", "due-soon"):
        return "met"
    if status != "open":
        return None
    last, due = _day(last_date), _day(due_date)
    if last is None or wording.result_lookback_months is None or due is None:
        return "missing"
    lapse = (pd.Timestamp(last) + pd.DateOffset(months=wording.result_lookback_months)).date()
    return "failed" if due < lapse else "missing"


def staff_status(measure_id: str, status: str, last_date: Any = None, due_date: Any = None, *, resources_dir=None) -> str:
    """The words staff read for one row: "A1c above 9", or the plain status ("open", "due soon")."""
    wording = measure_wording(resources_dir).get(measure_id)
    found = finding(wording, status, last_date, due_date)
    if found and wording is not None:
        text = getattr(wording.terms, found)
        if text:
            return text
    return _PLAIN.get(status, status)


def staff_status_column(frame: pd.DataFrame, *, resources_dir=None) -> pd.Series:
    """``staff_status`` for every row of a gaps frame (measure, status, last_date, due_date), column-wise."""
    out = frame["status"].map(_PLAIN).fillna(frame["status"]).astype(object)
    if frame.empty:
        return out
    wordings = measure_wording(resources_dir)
    last = pd.to_datetime(frame["last_date"])
    due = pd.to_datetime(frame["due_date"])
    for measure_id, wording in wordings.items():
        if not wording.has_terms:
            continue
        mine = (frame["measure"] == measure_id).to_numpy()
        if not mine.any():
            continue
        status = frame["status"].to_numpy()
        is_met = mine & np.isin(status, ["met", "due-soon"])
        is_open = mine & (status == "open")
        failed = np.zeros(len(frame), dtype=bool)
        if wording.result_lookback_months is not None:
            lapse = last + pd.DateOffset(months=wording.result_lookback_months)
            failed = is_open & last.notna().to_numpy() & due.notna().to_numpy() & (due < lapse).to_numpy()
        missing = is_open & ~failed
        for mask, text in ((is_met, wording.terms.met), (failed, wording.terms.failed), (missing, wording.terms.missing)):
            if text:
                out[mask] = text
    return out
