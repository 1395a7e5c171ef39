"""The 4-cut method: completed primary-care visits per (patient, provider), the cuts, and their reasons.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd
from sqlalchemy import String, case, literal, select, type_coerce
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.empanelment.base import (
    _columns,
    _day_start,
    _days,
    _driver_rows,
    _iso_series,
)
from panelmanager.core.empanelment.rules import (
    PanelRules,
)
from panelmanager.core.visibility import visible


def qualifying_visit_pairs(
    session: Session,
    *,
    start: dt.date,
    end: dt.date,
    rules: PanelRules,
    provider_ids: Iterable[int] | None = None,
    patient_ids: Iterable[int] | None = None,
) -> pd.DataFrame:
    """Completed primary-care visits from ``start`` through ``end``, per (patient, provider).

    One SQL pass over the window's visits (answered from the covering index
    ``ix_visits_empanelment``, integers and timestamps only), aggregated with pandas.
    ``provider_ids`` limits the providers counted (``None``: every provider);
    ``patient_ids`` the patients (``None``: everyone; a huddle needs only the day's). Columns:
    patient_id, provider_id, visits, last_day, last_well_day (datetime64 days; NaT when
    no well visit).
    """
    v = m.Visit
    wanted: set[int] | None = None
    if provider_ids is not None:
        wanted = {int(i) for i in provider_ids}
        if not wanted:
            return _empty_pairs()
    well_classes = rules.counted_well_classes
    well = case((v.visit_class.in_(well_classes), 1), else_=0) if well_classes else literal(0)
    stmt = select(v.patient_id, v.provider_id, type_coerce(v.start, String), well).where(
        v.status == m.VisitStatus.COMPLETED.value,
        v.start >= _day_start(start),
        v.start < _day_start(end + dt.timedelta(days=1)),
        v.visit_class.in_(rules.counted_classes),
        v.provider_id.is_not(None),
        visible(v),
    )
    if patient_ids is not None:
        patients = sorted({int(i) for i in patient_ids})
        if not patients:
            return _empty_pairs()
        stmt = stmt.where(v.patient_id.in_(patients))
    # The providers are filtered below, not in SQL: an IN list would lead the planner to the
    # (provider_id, start) index and a row lookup per visit instead of the covering index.
    rows = _driver_rows(session, stmt)
    if not rows:
        return _empty_pairs()
    table = _columns(rows, 4)
    frame = pd.DataFrame(
        {
            "patient_id": table[0].astype("int64"),
            "provider_id": table[1].astype("int64"),
            "day": _days(table[2]),
            "well": table[3].astype(bool),
        }
    )
    if wanted is not None:
        frame = frame[frame["provider_id"].isin(np.fromiter(wanted, dtype="int64"))]
    frame["well_day"] = frame["day"].where(frame["well"])
    pairs = (
        frame.groupby(["patient_id", "provider_id"], sort=False)
        .agg(visits=("day", "size"), last_day=("day", "max"), last_well_day=("well_day", "max"))
        .reset_index()
    )
    pairs["visits"] = pairs["visits"].astype("int64")
    return pairs


def _empty_pairs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": pd.Series(dtype="int64"),
            "provider_id": pd.Series(dtype="int64"),
            "visits": pd.Series(dtype="int64"),
            "last_day": pd.Series(dtype="datetime64[ns]"),
            "last_well_day": pd.Series(dtype="datetime64[ns]"),
        }
    )


def four_cut(pairs: pd.DataFrame) -> pd.DataFrame:
    """The 4-cut assignment over (patient, provider) visit counts.

    ``pairs`` has patient_id, provider_id, visits, last_day, last_well_day (one row per
    pair with at least one qualifying visit). Returns one row per patient: patient_id,
    provider_id, cut (1-4), visits (with that provider), total (all counted visits),
    providers (how many seen), day (the deciding visit's day for cuts 3 and 4, else the
    last visit with that provider) and tie ("visits" or "id" when a same-day tie was
    broken by more visits or by the lower provider id; else None).
    """
    cols = ["patient_id", "provider_id", "cut", "visits", "total", "providers", "day", "tie"]
    if pairs.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    p = pairs[["patient_id", "provider_id", "visits", "last_day", "last_well_day"]].copy()
    grouped = p.groupby("patient_id", sort=False)["visits"]
    p["total"] = grouped.transform("sum")
    p["providers"] = grouped.transform("size")

    top = p.sort_values(["patient_id", "visits", "provider_id"], ascending=[True, False, True]).drop_duplicates("patient_id")
    decided12 = top[(top["providers"] == 1) | (2 * top["visits"] > top["total"])].copy()
    decided12["cut"] = np.where(decided12["providers"] == 1, 1, 2)
    decided12["day"] = decided12["last_day"]
    decided12["tie"] = None

    rest = p[~p["patient_id"].isin(decided12["patient_id"])]
    wells = rest[rest["last_well_day"].notna()]
    decided3 = _latest(wells, "last_well_day")
    decided3["cut"] = 3
    rest4 = rest[~rest["patient_id"].isin(decided3["patient_id"])]
    decided4 = _latest(rest4, "last_day")
    decided4["cut"] = 4
    out = pd.concat([decided12[cols], decided3[cols], decided4[cols]], ignore_index=True)
    return out.sort_values("patient_id", ignore_index=True)


def _latest(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per patient, the provider of the latest ``column`` day; same-day ties: more visits, lower id."""
    if frame.empty:
        empty = frame.assign(day=pd.Series(dtype="datetime64[ns]"), tie=pd.Series(dtype=object))
        return empty
    latest = frame.groupby("patient_id", sort=False)[column].transform("max")
    same_day = frame[frame[column] == latest].sort_values(
        ["patient_id", "visits", "provider_id"], ascending=[True, False, True]
    )
    rank = same_day.groupby("patient_id", sort=False).cumcount()
    first = same_day[rank == 0].copy()
    second = same_day[rank == 1].set_index("patient_id")["visits"]
    runner_up = first["patient_id"].map(second)
    first["day"] = first[column]
    first["tie"] = np.where(runner_up.isna(), None, np.where(first["visits"] > runner_up, "visits", "id"))  # type: ignore[call-overload]  # None is a fine scalar; numpy's stubs do not list it
    return first


def cut_reasons(cuts: pd.DataFrame, names: dict[int, str], since: dt.date) -> pd.Series:
    """The sentence a manager reads for each assignment by the cuts.

    - cuts 1 and 2: "5 of 7 visits with Dr. Ann Lee since 2023-05-01"
    - cut 3: "Most recent well visit with Dr. Ann Lee on 2024-01-10 (no provider had
      more than half of 6 visits since 2023-05-01)"
    - cut 4: "Most recent visit with Dr. Ann Lee on 2024-03-02 (no provider had more
      than half of 6 visits since 2023-05-01 and there was no well visit)"
    A same-day tie adds "; same-day tie broken by more visits" or "...by lower provider id"
    inside the brackets.
    """
    if cuts.empty:
        return pd.Series([], dtype=object, index=cuts.index)
    since_text = since.isoformat()
    cut = cuts["cut"].to_numpy(dtype="int64")
    late = cut >= 3
    # Sentences repeat (same provider, counts and day): write each distinct one once.
    day = np.where(late, _iso_series(cuts["day"]).to_numpy(dtype=object), "")
    tie = np.where(late, cuts["tie"].astype(object).where(cuts["tie"].notna(), "").to_numpy(dtype=object), "")
    keys = pd.MultiIndex.from_arrays(
        [cut, cuts["provider_id"].to_numpy(dtype="int64"), cuts["visits"].to_numpy(dtype="int64"),
         cuts["total"].to_numpy(dtype="int64"), day, tie]
    )
    codes, distinct = keys.factorize()
    ties = {"visits": "; same-day tie broken by more visits", "id": "; same-day tie broken by lower provider id"}
    texts = []
    for k_cut, pid, visits, total, k_day, k_tie in distinct:
        name = names.get(int(pid), f"provider {pid}")
        of_total = "1 visit" if total == 1 else f"{total} visits"
        if k_cut <= 2:
            texts.append(f"{visits} of {of_total} with {name} since {since_text}")
            continue
        half = f"no provider had more than half of {of_total} since {since_text}"
        tie_text = ties.get(k_tie, "")
        if k_cut == 3:
            texts.append(f"Most recent well visit with {name} on {k_day} ({half}{tie_text})")
        else:
            texts.append(f"Most recent visit with {name} on {k_day} ({half} and there was no well visit{tie_text})")
    return pd.Series(np.array(texts, dtype=object)[codes], index=cuts.index, dtype=object)
