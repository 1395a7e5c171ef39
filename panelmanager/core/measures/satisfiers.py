"""Eligibility, exclusions and the satisfiers of one measure: candidate rows, then a status per patient."""

from __future__ import annotations

import numpy as np
import pandas as pd

from panelmanager.core.measures.context import _component_of, _Context
from panelmanager.core.measures.definitions import Exclusion, MeasureDefinition, Population, Satisfier
from panelmanager.core.measures.frames import RESULT_COLUMNS

# --------------------------------------------------------------------------- eligibility


def _age_mask(frame: pd.DataFrame, age_min: int | None, age_max: int | None) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    if age_min is not None:
        mask &= frame["age"] >= age_min
    if age_max is not None:
        mask &= frame["age"] <= age_max
    return mask.fillna(False).astype(bool)


def _population_mask(ctx: _Context, frame: pd.DataFrame, population: Population) -> pd.Series:
    mask = _age_mask(frame, population.age_min, population.age_max)
    if population.diagnoses:
        has = pd.Index([])
        for vs in population.diagnoses:
            has = has.union(ctx.active_condition_patients(vs))
        mask &= frame["patient_id"].isin(has)
    if population.diagnoses_ever:
        has = pd.Index([])
        for vs in population.diagnoses_ever:
            has = has.union(pd.Index(ctx.condition_rows(vs)["patient_id"].unique()))
        mask &= frame["patient_id"].isin(has)
    if population.result is not None:
        r = population.result
        mask &= frame["patient_id"].isin(ctx.patients_with_result(r.valueset, r.operator, r.bound))
    return mask


def _eligible(ctx: _Context, measure: MeasureDefinition) -> pd.DataFrame:
    e = measure.eligible
    frame = ctx.patients()
    if e.requires_data and not ctx.has_rows(e.requires_data):
        return frame.iloc[0:0]
    mask = _age_mask(frame, e.age_min, e.age_max)
    if e.age_min_months is not None:
        mask &= (frame["age_months"] >= e.age_min_months).fillna(False).astype(bool)
    if e.turns_age is not None:
        mask &= (frame["dob"].dt.year == ctx.as_of.year - e.turns_age).fillna(False).astype(bool)
    if e.sex:
        mask &= frame["sex"] == e.sex
    if e.diagnoses:
        has = pd.Index([])
        for vs in e.diagnoses:
            has = has.union(ctx.active_condition_patients(vs))
        mask &= frame["patient_id"].isin(has)
    if e.visits is not None:
        visits = ctx.completed_visits(e.visits.classes, ctx.months_before(e.visits.within_months), count=True)
        enough = visits.loc[visits["count"] >= e.visits.min_count, "patient_id"]
        mask &= frame["patient_id"].isin(enough)
    if e.populations:
        any_population = pd.Series(False, index=frame.index)
        for population in e.populations:
            any_population |= _population_mask(ctx, frame, population)
        mask &= any_population
    return frame[mask]


def _excluded(ctx: _Context, exclusion: Exclusion) -> pd.Index:
    since = ctx.months_before(exclusion.within_months) if exclusion.within_months else None
    if exclusion.kind == "condition":
        if exclusion.onset_before_months:
            # Diagnosed before the period (CMS2v13): the onset alone decides, active or not.
            rows = ctx.condition_rows(exclusion.valueset)
            before = ctx.months_before(exclusion.onset_before_months)
            return pd.Index(rows.loc[rows["onset"] < before, "patient_id"].unique())
        if exclusion.active or since is not None:
            return ctx.active_condition_patients(exclusion.valueset, since)
        return pd.Index(ctx.condition_rows(exclusion.valueset)["patient_id"].unique())
    if exclusion.kind == "medication":
        rows = ctx.medication_rows(exclusion.valueset, since if since is not None else pd.Timestamp("1800-01-01"))
        return pd.Index(rows["patient_id"].unique())
    latest = ctx.latest_events(exclusion.kind, exclusion.valueset)
    if since is not None:
        latest = latest[latest["date"] >= since]
    return pd.Index(latest["patient_id"].unique())


# --------------------------------------------------------------------------- satisfiers
#
# Each returns candidate rows: patient_id, met (bool), due (datetime64; NaT with met =
# never expires), last_date, last_code, last_value. Patients with nothing on record have
# no candidate row.

_CANDIDATE_COLUMNS = ["patient_id", "met", "due", "last_date", "last_code", "last_value"]


def _empty_candidates() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": pd.Series(dtype="int64"),
            "met": pd.Series(dtype=bool),
            "due": pd.Series(dtype="datetime64[ns]"),
            "last_date": pd.Series(dtype="datetime64[ns]"),
            "last_code": pd.Series(dtype=object),
            "last_value": pd.Series(dtype=object),
        }
    )


def _format_values(values: pd.Series) -> pd.Series:
    """Numbers as text without a needless ``.0`` (column-wise); missing stays missing."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    finite = np.isfinite(numbers)
    whole = finite & (numbers == np.round(numbers)) & (np.abs(numbers) < 1e15)
    text = numbers.astype(str).astype(object)
    text[whole] = numbers[whole].astype(np.int64).astype(str).astype(object)
    text[~finite] = None
    return pd.Series(text, index=values.index, dtype=object)


def _event_value(latest: pd.DataFrame) -> pd.Series:
    """The event's value as recorded (text), or None."""
    return latest["value"].astype(object).where(latest["value"].notna(), None)


def _season(ctx: _Context) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The influenza season holding the as-of date: August 1 to July 31."""
    year = ctx.as_of.year if ctx.as_of.month >= 8 else ctx.as_of.year - 1
    return pd.Timestamp(year, 8, 1), pd.Timestamp(year + 1, 7, 31)


def _timed(ctx: _Context, s: Satisfier, frame: pd.DataFrame, date_col: str = "last_date") -> pd.DataFrame:
    """Apply a satisfier's look-back / season / ever rule to candidate rows."""
    dates = frame[date_col]
    if s.ever:
        frame["met"] = True
        frame["due"] = pd.NaT
    elif s.season == "influenza":
        start, end = _season(ctx)
        frame["met"] = dates >= start
        frame["due"] = np.where(frame["met"], end, start)
        frame["due"] = pd.to_datetime(frame["due"])
    else:
        due = dates + pd.DateOffset(months=s.lookback_months or 0)
        frame["due"] = due
        frame["met"] = due >= ctx.as_of_ts
    return frame


def _for_ages(s: Satisfier, patients: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    if s.age_min is None and s.age_max is None:
        return frame
    allowed = patients.loc[_age_mask(patients, s.age_min, s.age_max), "patient_id"]
    return frame[frame["patient_id"].isin(allowed)]


def _coded_candidates(ctx: _Context, s: Satisfier, patients: pd.DataFrame) -> pd.DataFrame:
    assert s.valueset is not None
    latest = ctx.latest_events(s.kind, s.valueset)
    latest = latest[latest["patient_id"].isin(patients["patient_id"])]
    frame = pd.DataFrame(
        {
            "patient_id": latest["patient_id"].astype("int64"),
            "last_date": latest["date"],
            "last_code": latest["code"].astype(object),
            "last_value": _event_value(latest),
        }
    )
    return _timed(ctx, s, frame)


def _medication_candidates(ctx: _Context, s: Satisfier, patients: pd.DataFrame) -> pd.DataFrame:
    assert s.valueset is not None
    if s.ever:
        since = pd.Timestamp("1800-01-01")
    elif s.season == "influenza":
        since = _season(ctx)[0]
    else:
        since = ctx.months_before(s.lookback_months or 0)
    rows = ctx.medication_rows(s.valueset, since)
    rows = rows[rows["patient_id"].isin(patients["patient_id"])]
    if rows.empty:
        return _empty_candidates()
    ongoing = rows["stop"].isna() | (rows["stop"] > ctx.as_of_ts)
    per = rows.assign(ongoing=ongoing).sort_values(["patient_id", "start"], kind="stable")
    latest = per.drop_duplicates("patient_id", keep="last").set_index("patient_id")
    any_ongoing = per.groupby("patient_id")["ongoing"].any()
    last_stop = per.groupby("patient_id")["stop"].max()
    frame = pd.DataFrame(
        {
            "patient_id": latest.index.astype("int64"),
            "met": True,
            "last_date": latest["start"].to_numpy(),
            "last_code": latest["code"].astype(object).to_numpy(),
            "last_value": None,
        }
    )
    ongoing_now = any_ongoing.reindex(latest.index).to_numpy()
    stop_due = (last_stop.reindex(latest.index) + pd.DateOffset(months=s.lookback_months or 0)).to_numpy()
    frame["due"] = pd.to_datetime(np.where(ongoing_now | s.ever, np.datetime64("NaT"), stop_due))
    return frame


def _visit_candidates(ctx: _Context, s: Satisfier, patients: pd.DataFrame) -> pd.DataFrame:
    if s.as_empanelment:
        classes, providers = ctx.empanelment_visits()
        visits = ctx.completed_visits(classes, None, provider_ids=providers)
    else:
        visits = ctx.completed_visits(s.classes, None)
    visits = visits[visits["patient_id"].isin(patients["patient_id"])]
    frame = pd.DataFrame(
        {
            "patient_id": visits["patient_id"].astype("int64"),
            "last_date": visits["date"],
            "last_code": None,
            "last_value": None,
        }
    )
    return _timed(ctx, s, frame)


def _appointment_candidates(ctx: _Context, s: Satisfier, patients: pd.DataFrame) -> pd.DataFrame:
    appointments = ctx.upcoming_appointments(s.classes, s.within_days)
    appointments = appointments[appointments["patient_id"].isin(patients["patient_id"])]
    return pd.DataFrame(
        {
            "patient_id": appointments["patient_id"].astype("int64"),
            "met": True,
            "due": pd.Series(pd.NaT, index=appointments.index, dtype="datetime64[ns]"),
            "last_date": appointments["date"],
            "last_code": "appointment",
            "last_value": "scheduled",
        }
    )


def _no_result_days(n_components: int) -> pd.DataFrame:
    out = pd.DataFrame(
        {"date": pd.Series(dtype="datetime64[ns]")}, index=pd.Index([], dtype="int64", name="patient_id")
    )
    for i in range(n_components):
        out[f"value{i}"] = pd.Series(dtype="float64")
        out[f"code{i}"] = pd.Series(dtype=object)
    return out


def _result_days(readings: pd.DataFrame, n_components: int, same_day: str) -> pd.DataFrame:
    """Per patient, the most recent day with a reading of every component, and that day's values.

    Index patient_id; columns date (the day) and per component i: value{i} and code{i}.
    A day counts when each component has a reading that day, even one without a number
    (its value is then missing and fails the bound). ``same_day="lowest"`` (CMS165) takes
    each component's lowest value of the day; ``"latest"`` the value of its last reading
    that day (the highest when several share that moment). The code is the lowest code
    among the readings chosen. Whole-column pandas: sorts and groupbys, no per-patient step.
    """
    if readings.empty:
        return _no_result_days(n_components)
    categories = readings["code"].cat.categories
    rows = pd.DataFrame(
        {
            "patient_id": readings["patient_id"].to_numpy(),
            "date": readings["datetime"].dt.normalize().to_numpy(),
            "component": readings["component"].to_numpy(),
            "datetime": readings["datetime"].to_numpy(),
            "value_num": readings["value_num"].to_numpy(),
            "code_id": readings["code"].cat.codes.to_numpy(),
        }
    )
    keys = ["patient_id", "date", "component"]
    if same_day == "latest":
        last = rows.groupby(keys, sort=False)["datetime"].transform("max")
        rows = rows[rows["datetime"].to_numpy() == last.to_numpy()]
        per = rows.groupby(keys, sort=False).agg(value=("value_num", "max"), code_id=("code_id", "min"))
    else:
        per = rows.groupby(keys, sort=False).agg(value=("value_num", "min"), code_id=("code_id", "min"))
    per = per.reset_index()
    per["code"] = categories.take(per["code_id"].to_numpy()).astype(object)
    # Complete days (every component present), then each patient's most recent one.
    present = per.groupby(["patient_id", "date"], sort=False)["component"].transform("size")
    complete = per[present.to_numpy() == n_components]
    latest = complete.groupby("patient_id", sort=False)["date"].transform("max")
    chosen = complete[complete["date"] == latest]
    if chosen.empty:
        return _no_result_days(n_components)
    wide = chosen.pivot(index="patient_id", columns="component", values=["value", "code"])
    out = pd.DataFrame({"date": chosen.groupby("patient_id")["date"].first()})
    wide = wide.reindex(out.index)
    for i in range(n_components):
        out[f"value{i}"] = pd.to_numeric(wide[("value", i)], errors="coerce").to_numpy(dtype="float64")
        out[f"code{i}"] = wide[("code", i)].astype(object).to_numpy()
    return out


def _outside_settings(
    ctx: _Context, s: Satisfier, readings: pd.DataFrame, since: pd.Timestamp | None, among: pd.Series | None = None
) -> pd.DataFrame:
    """``readings`` without those taken during a visit of ``s.exclude_settings`` (CMS165: ED, inpatient).

    ``among``: the patients ``readings`` were limited to (only their readings are looked up).
    """
    if not s.exclude_settings or readings.empty:
        return readings
    inside = ctx.readings_in_settings([c.valueset for c in s.components], s.exclude_settings, since, among=among)
    if inside.empty:
        return readings
    keys = pd.MultiIndex.from_arrays(
        [readings["patient_id"].to_numpy(), readings["code"].astype(object).to_numpy(), readings["datetime"].to_numpy()]
    )
    drop = pd.MultiIndex.from_arrays([inside["patient_id"].to_numpy(), inside["code"].to_numpy(), inside["datetime"].to_numpy()])
    return readings[~keys.isin(drop)].reset_index(drop=True)


def _result_candidates(ctx: _Context, s: Satisfier, patients: pd.DataFrame) -> pd.DataFrame:
    """The most recent result day in the look-back (every component the same day), or the lapsed last reading.

    Patients whose latest reading of the first component is older than the look-back get
    that reading, overdue since it lapsed; patients with readings in the look-back but no
    complete day there get no candidate (open, due now).
    """
    months = s.lookback_months or 12
    since = ctx.months_before(months)
    valuesets = [c.valueset for c in s.components]
    n = len(valuesets)
    wanted = patients["patient_id"]

    readings = ctx.result_readings(valuesets, since, among=wanted)
    readings = _outside_settings(ctx, s, readings, since, among=wanted)
    days = _result_days(readings[readings["patient_id"].isin(wanted)], n, s.same_day)
    met = pd.Series(True, index=days.index)
    for i, component in enumerate(s.components):
        met &= component.passes(days[f"value{i}"]).fillna(False).astype(bool)
    codes = days["code0"].astype(object)
    values = _format_values(days["value0"])
    if n > 1:
        codes = codes.astype(str)
        values = values.fillna("?")
        for i in range(1, n):
            codes = codes + "/" + days[f"code{i}"].astype(str)
            values = values + "/" + _format_values(days[f"value{i}"]).fillna("?")
    in_window = pd.DataFrame(
        {
            "patient_id": days.index.to_numpy(dtype="int64"),
            "met": met.to_numpy(dtype=bool),
            "last_date": pd.to_datetime(days["date"]).to_numpy(),
            "last_code": codes.astype(object).to_numpy(),
            "last_value": values.astype(object).to_numpy(),
        }
    )
    # A failing result is due now; a passing one is due again a look-back after it.
    passing_due = in_window["last_date"] + pd.DateOffset(months=months)
    in_window["due"] = passing_due.where(in_window["met"], ctx.as_of_ts)

    # Nothing of the first component in the look-back: its last reading, overdue since it lapsed.
    # Not filtered by setting: a lapsed reading leaves the gap open whatever its setting, and
    # reading every emergency/inpatient reading of all years would cost more than it tells.
    before = ctx.last_readings_before(valuesets[0], since, s.same_day, among=wanted)
    old = _result_days(before[before["patient_id"].isin(wanted)], 1, s.same_day)
    lapsed = pd.DataFrame(
        {
            "patient_id": old.index.to_numpy(dtype="int64"),
            "met": False,
            "last_date": pd.to_datetime(old["date"]).to_numpy(),
            "last_code": old["code0"].astype(object).to_numpy(),
            "last_value": _format_values(old["value0"]).to_numpy(),
        }
    )
    lapsed["due"] = lapsed["last_date"] + pd.DateOffset(months=months)
    return pd.concat([in_window, lapsed], ignore_index=True)


def _dose_candidates(ctx: _Context, s: Satisfier, patients: pd.DataFrame) -> pd.DataFrame:
    """CMS117-style series: each antigen's dose count (distinct days) by the age limit."""
    months = s.by_age_months or 24
    index = pd.Index(patients["patient_id"].to_numpy(), name="patient_id")
    deadline = pd.Series((patients["dob"] + pd.DateOffset(months=months)).to_numpy(), index=index)
    # Every immunization of these children, read once through the (patient_id, cvx) index.
    shots = ctx.immunizations_of([int(i) for i in index])
    shots = shots[shots["date"] <= shots["patient_id"].map(deadline)]
    complete = pd.Series(True, index=index)
    shortfalls: list[pd.Series] = []
    latest: list[pd.Series] = []
    for requirement in s.doses:
        enough = pd.Series(False, index=index)
        primary_count = pd.Series(0, index=index)
        eligible_shots = shots
        if requirement.min_age_days or requirement.min_age_months:
            # CMS117 / ACIP minimum ages: a dose given earlier does not count.
            earliest = patients["dob"] + pd.DateOffset(months=requirement.min_age_months, days=requirement.min_age_days)
            earliest = pd.Series(earliest.to_numpy(), index=index)
            eligible_shots = shots[shots["date"] >= shots["patient_id"].map(earliest)]
        for position, (vs, count) in enumerate(requirement.options):
            rows = eligible_shots[eligible_shots["code"].isin(list(_component_of(eligible_shots["code"], [vs])))]
            # Two doses on the same day are one dose.
            per_child = rows.drop_duplicates(["patient_id", "date"]).groupby("patient_id")["date"].agg(["count", "max"])
            got = per_child["count"].reindex(index, fill_value=0)
            enough |= got >= count
            if position == 0:
                primary_count = got
            latest.append(per_child["max"].reindex(index))
        complete &= enough
        needed = requirement.options[0][1]
        text = f"{requirement.label} " + primary_count.astype(str) + f"/{needed}"
        shortfalls.append(text.where(~enough, ""))
    # "DTaP 2/4, MMR 0/1": the shortfalls joined column-wise (no per-child Python).
    missing = pd.Series("", index=index, dtype=object)
    for text in shortfalls:
        missing = missing.where(text == "", missing.where(missing == "", missing + ", ") + text)
    last_dose = pd.concat(latest, axis=1).max(axis=1) if latest else pd.Series(pd.NaT, index=index)
    frame = pd.DataFrame(
        {
            "patient_id": index.astype("int64"),
            "met": complete.to_numpy(),
            "due": deadline.where(~complete).to_numpy(),
            "last_date": pd.to_datetime(last_dose).to_numpy(),
            "last_code": None,
            "last_value": ("missing: " + missing).where(~complete, "complete").to_numpy(),
        }
    )
    return frame


_SATISFIERS = {
    "procedure": _coded_candidates,
    "observation": _coded_candidates,
    "immunization": _coded_candidates,
    "medication": _medication_candidates,
    "visit": _visit_candidates,
    "appointment": _appointment_candidates,
    "result": _result_candidates,
    "doses": _dose_candidates,
}


# --------------------------------------------------------------------------- one measure


def _evaluate_measure(ctx: _Context, measure: MeasureDefinition, eligible: pd.DataFrame) -> pd.DataFrame:
    if eligible.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    candidates = []
    for s in measure.satisfied_by:
        found = _SATISFIERS[s.kind](ctx, s, eligible)
        found = _for_ages(s, eligible, found)
        if not found.empty:
            candidates.append(found[_CANDIDATE_COLUMNS])
    if len(candidates) == 1 and candidates[0]["patient_id"].is_unique:
        # One candidate per patient already (most measures): nothing to choose, no sort.
        best = candidates[0].set_index("patient_id")
    elif candidates:
        pool = pd.concat(candidates, ignore_index=True)
        # Best candidate per patient: met before open; the latest due date (never-expiring first).
        far = pd.Timestamp("2262-01-01")
        pool["_rank"] = pool["due"].where(pool["due"].notna() | ~pool["met"].astype(bool), far)
        pool = pool.sort_values(["patient_id", "met", "_rank", "last_date"], kind="stable", na_position="first")
        best = pool.drop_duplicates("patient_id", keep="last").set_index("patient_id")
    else:
        best = _empty_candidates().set_index("patient_id")

    ids = eligible["patient_id"]
    out = pd.DataFrame({"patient_id": ids.to_numpy(), "mrn": eligible["mrn"].to_numpy()})
    found = best.reindex(ids.to_numpy())
    met = found["met"].fillna(False).astype(bool).to_numpy()
    due = pd.to_datetime(found["due"]).to_numpy()
    as_of = np.datetime64(ctx.as_of_ts)
    soon = np.datetime64(ctx.as_of_ts + pd.Timedelta(days=ctx.due_soon_days))
    status = np.where(met, "met", "open").astype(object)
    status[met & ~pd.isna(due) & (due <= soon)] = "due-soon"
    due = np.where(~met & pd.isna(due), as_of, due)
    excluded = pd.Index([])
    for exclusion in measure.exclusions:
        excluded = excluded.union(_excluded(ctx, exclusion))
    is_excluded = ids.isin(excluded).to_numpy()
    status[is_excluded] = "excluded"
    due = np.where(is_excluded, np.datetime64("NaT"), due)
    out["measure"] = measure.id
    out["status"] = status
    out["due_date"] = pd.to_datetime(due)
    out["last_date"] = pd.to_datetime(found["last_date"]).to_numpy()
    out["last_code"] = found["last_code"].astype(object).to_numpy()
    out["last_value"] = found["last_value"].astype(object).to_numpy()
    return out[RESULT_COLUMNS]
