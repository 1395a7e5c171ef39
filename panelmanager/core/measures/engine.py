"""The care-gap engine: every measure for every active patient as of a date, set-wise.

Nothing here loops over patients, in Python or in pandas (no per-row ``apply`` or
per-group lambda). Each value set is looked up once per run, with SQL that does the
grouping and returns about one row per patient: the latest event per patient,
grouped one code at a time along the covering indexes that migration 0003_measures
adds (``ix_observations_gap_lookup`` and friends). Results (HbA1c, blood pressure)
are read as every reading of the value sets inside the look-back, for the measure's
eligible patients, and pandas finds each patient's most recent complete day (sort,
groupby min/max, pivot). Only the children due for the childhood series have their
immunizations read row by row. Codes that pandas groups on are categoricals (text
would be reduced group by group in Python). At 100,000 patients a run takes about
3 s of CPU and 400 MB (tests/benchmarks/bench_gaps.py).

Status of an eligible patient for a measure:

``excluded``  an exclusion applies (it wins over everything else);
``met``       something that closes the gap is on record and stays valid past the
              due-soon window (or never expires: "ever" measures, completed series);
``due-soon``  met now, but it lapses within ``due_soon_days`` of the as-of date;
``open``      nothing valid on record (or the most recent result is out of range).

``due_date`` is the last day the current event keeps the measure met (event date +
look-back; for influenza the end of the season, July 31); for an open gap it is the
day the gap opened (the lapse date) or, when nothing was ever recorded or the most
recent result failed, the as-of date itself: due now. ``last_date``/``last_code``/
``last_value`` describe the event that sets the due date; for ``no-upcoming-appointment``
``last_date`` is the next appointment's date. Look-backs are inclusive: an event
exactly ``lookback`` before the as-of date still counts (its due date is the as-of date).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import String, and_, bindparam, exists, func, literal, or_, select, type_coerce, union_all
from sqlalchemy.orm import Session

from panelmanager.core import models
from panelmanager.core.alive import alive_and_active_on
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, StepProgress, no_progress
from panelmanager.core.measures.definitions import (
    Exclusion,
    MeasureDefinition,
    Population,
    Satisfier,
    load_measures,
)
from panelmanager.core.measures.valuesets import ValueSet

__all__ = [
    "RESULT_COLUMNS",
    "STATUSES",
    "EvaluationContext",
    "evaluate_definitions",
    "evaluate_in_context",
    "evaluate_measures",
    "select_measures",
]

STATUSES = ("open", "due-soon", "met", "excluded")
RESULT_COLUMNS = ["patient_id", "mrn", "measure", "status", "due_date", "last_date", "last_code", "last_value"]
DEFAULT_DUE_SOON_DAYS = 60
# Above this many patient ids, filter after reading instead of binding an IN list.
_MAX_SQL_IDS = 5_000
# A measure's eligible patients are passed to SQL (as literal ids) when they are fewer
# than this share of the active patients: seeking their rows beats reading everyone's.
_AMONG_SHARE = 0.8
# Visit statuses that mean an appointment is still ahead of the patient.
_UPCOMING_STATUSES = (models.VisitStatus.SCHEDULED.value, models.VisitStatus.ARRIVED.value)

_EVENT_TABLES = {
    "procedure": (models.Procedure, "date", "code", "code_system"),
    "observation": (models.Observation, "date", "code", "code_system"),
    "immunization": (models.Immunization, "date", "cvx", None),
    "condition": (models.Condition, "onset", "code", "code_system"),
    "medication": (models.Medication, "start", "code", "code_system"),
}


# --------------------------------------------------------------------------- reading


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


@dataclass
class _Context:
    """One evaluation: the session, the as-of date and everything read so far."""

    session: Session
    as_of: dt.date
    patient_ids: list[int] | None
    due_soon_days: int
    cache: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.as_of_ts = pd.Timestamp(self.as_of)
        # Events are counted up to the end of the as-of day.
        self.end = dt.datetime.combine(self.as_of + dt.timedelta(days=1), dt.time())
        self.end_date = self.as_of + dt.timedelta(days=1)

    # ------------------------------------------------------------------ helpers

    def restrict(self, stmt, column):
        if self.patient_ids is not None and len(self.patient_ids) <= _MAX_SQL_IDS:
            return stmt.where(column.in_(self.patient_ids))
        return stmt

    def among(self, column, patient_ids: pd.Series | None) -> tuple[list, str | None]:
        """A WHERE clause limiting ``column`` to ``patient_ids``, and a cache key for it.

        Only when the ids are clearly fewer than the active patients (hypertension, a
        fifth of a practice): the database then seeks their rows in the covering index
        instead of reading everyone's. The ids are written into the statement as
        literal integers, so there is no limit on bound parameters (SQLite: 32,766).
        """
        if patient_ids is None or self.patient_ids is not None:
            return [], None
        ids = np.unique(np.asarray(patient_ids, dtype="int64"))
        if len(ids) >= _AMONG_SHARE * len(self.patients()):
            return [], None
        key = hashlib.blake2b(ids.tobytes(), digest_size=16).hexdigest()
        values = bindparam(f"among_{key[:8]}", value=ids.tolist(), expanding=True, literal_execute=True)
        return [column.in_(values)], key

    def frame(self, stmt, columns: Sequence[str]) -> pd.DataFrame:
        """Run ``stmt`` and return its rows as a DataFrame named ``columns``."""
        frame = read_frame(self.session, stmt, columns)
        if self.patient_ids is not None and len(self.patient_ids) > _MAX_SQL_IDS and "patient_id" in frame:
            frame = frame[frame["patient_id"].isin(self.patient_ids)]
        return frame.reset_index(drop=True)

    def months_before(self, months: int) -> pd.Timestamp:
        return self.as_of_ts - pd.DateOffset(months=months)

    # ------------------------------------------------------------------ patients

    def patients(self) -> pd.DataFrame:
        if "patients" not in self.cache:
            p = models.Patient
            stmt = select(p.id, p.mrn, _raw(p.dob), p.sex).where(alive_and_active_on(self.as_of, p))  # deaths after as_of count
            stmt = self.restrict(stmt, p.id)
            frame = self.frame(stmt, ["patient_id", "mrn", "dob", "sex"])
            frame["patient_id"] = frame["patient_id"].astype("int64")
            dob = _to_datetime(frame["dob"])
            frame["dob"] = dob
            a = self.as_of
            key = a.year * 10000 + a.month * 100 + a.day
            dob_key = dob.dt.year * 10000 + dob.dt.month * 100 + dob.dt.day
            frame["age"] = (key - dob_key) // 10000
            frame["age_months"] = (a.year - dob.dt.year) * 12 + (a.month - dob.dt.month) - (a.day < dob.dt.day).astype(int)
            frame["sex"] = frame["sex"].astype(object).where(frame["sex"].notna(), "").astype(str).str.upper()
            self.cache["patients"] = frame.set_index("patient_id", drop=False)
        return self.cache["patients"]

    def has_rows(self, table_name: str) -> bool:
        key = ("has", table_name)
        if key not in self.cache:
            table = models.Base.metadata.tables[table_name]
            self.cache[key] = bool(self.session.scalar(select(exists().where(table.c.id.isnot(None)))))
        return self.cache[key]

    # ------------------------------------------------------------------ coded events

    def present_codes(self, kind: str, vs: ValueSet) -> list[str]:
        """The spellings of ``vs``'s codes that occur in the event table (usually one or two).

        Big tables (observations, immunizations) have an index that starts with the
        code: one EXISTS probe per spelling. The small ones are read once for their
        distinct codes.
        """
        key = ("codes", kind, vs.id)
        if key not in self.cache:
            model, _date, code_name, _system = _EVENT_TABLES[kind]
            code_col = getattr(model, code_name)
            literals, likes = vs.spellings("CVX" if kind == "immunization" else None)
            if kind in ("observation", "immunization") and not likes:
                probes = [
                    select(literal(code).label("code")).where(exists().where(code_col == code)) for code in sorted(literals)
                ]
                found = self.frame(union_all(*probes), ["code"])["code"] if probes else []
                self.cache[key] = sorted(str(c) for c in found)
            else:
                table_key = ("distinct-codes", kind)
                if table_key not in self.cache:
                    distinct = self.frame(select(code_col).distinct(), ["code"])["code"]
                    self.cache[table_key] = set(str(c) for c in distinct)
                present = self.cache[table_key]
                self.cache[key] = sorted(c for c in present if c in literals or any(c.startswith(p) for p in likes))
        return self.cache[key]

    def _per_patient_max(self, kind: str, vs: ValueSet, value, where: Sequence = (), label: str = "latest"):
        """A subquery (pid, <label>): the largest ``value`` per patient over ``vs``'s events.

        One grouped SELECT per code present, joined by UNION ALL: grouping a single
        code walks the (code, patient_id, ...) index in order, while an IN list would
        sort every row first (several times slower at 100,000 patients).
        """
        parts = self._per_code_max(kind, vs, value, where, label)
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0].subquery()
        united = union_all(*parts).subquery()
        return select(united.c.pid, func.max(united.c[label]).label(label)).group_by(united.c.pid).subquery()

    def _per_code_max(self, kind: str, vs: ValueSet, value, where: Sequence = (), label: str = "latest") -> list:
        """One grouped SELECT (pid, code, <label>) per code of ``vs`` present in the table."""
        model, _date, code_name, _system = _EVENT_TABLES[kind]
        code_col = getattr(model, code_name)
        return [
            self.restrict(
                select(model.patient_id.label("pid"), literal(code).label("code"), func.max(value).label(label)).where(
                    code_col == code, *where
                ),
                model.patient_id,
            ).group_by(model.patient_id)
            for code in self.present_codes(kind, vs)
        ]

    def latest_events(self, kind: str, vs: ValueSet) -> pd.DataFrame:
        """The most recent event per patient (on or before the as-of date) coded in ``vs``.

        Columns: patient_id, date (datetime64, the day), code, value (text or None),
        value_num. Grouped in the database (per code, then the latest per patient here);
        observations fetch their value with one index seek per patient.
        """
        key = ("latest", kind, vs.id)
        if key in self.cache:
            return self.cache[key]
        model, date_name, code_name, _system = _EVENT_TABLES[kind]
        date_col = getattr(model, date_name)
        upper = self.end_date if kind == "condition" else self.end
        columns = ["patient_id", "code", "date", "value"]
        if kind == "observation":
            o = models.Observation
            anchor = self._per_patient_max(kind, vs, o.date, [o.date < upper])
            codes = self.present_codes(kind, vs)
            if anchor is None:
                frame = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
            else:
                # LEFT JOIN from the per-patient subquery keeps SQLite seeking by patient.
                stmt = select(o.patient_id, o.code, _raw(o.date), o.value).select_from(
                    anchor.outerjoin(o, and_(o.patient_id == anchor.c.pid, o.code.in_(codes), o.date == anchor.c.latest))
                )
                frame = self.frame(stmt, columns).dropna(subset=["patient_id"])
        else:
            parts = self._per_code_max(kind, vs, _raw(date_col), [date_col < upper])
            if not parts:
                frame = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
            else:
                stmt = union_all(*parts) if len(parts) > 1 else parts[0]
                frame = self.frame(stmt, ["patient_id", "code", "date"])
                frame["value"] = None
        frame = frame.assign(patient_id=frame["patient_id"].astype("int64"), datetime=_to_datetime(frame["date"]))
        if frame["patient_id"].duplicated().any():  # several codes: keep each patient's latest
            frame = frame.sort_values(["patient_id", "datetime", "code"], kind="stable").drop_duplicates("patient_id", keep="last")
        result = pd.DataFrame(
            {
                "patient_id": frame["patient_id"].to_numpy(),
                "date": frame["datetime"].dt.normalize().to_numpy(),
                "code": frame["code"].astype(object).to_numpy(),
                "value": frame["value"].astype(object).where(frame["value"].notna(), None).to_numpy(),
            }
        )
        result["value_num"] = pd.to_numeric(result["value"], errors="coerce")
        self.cache[key] = result
        return result

    def result_readings(
        self, components: Sequence[ValueSet], since: pd.Timestamp, among: pd.Series | None = None
    ) -> pd.DataFrame:
        """Every reading of ``components`` from ``since`` to the end of the as-of day.

        One read of the observations table, filtered to the value sets' codes and the
        look-back window (and to the patients ``among``, see ``among()``) in SQL.
        Columns: patient_id (int64), component (int8: which value set), code (a
        categorical), datetime, value_num (NaN: no number, e.g. "refused").
        """
        o = models.Observation
        only, only_key = self.among(o.patient_id, among)
        key = ("readings", tuple(vs.id for vs in components), since, only_key)
        if key in self.cache:
            return self.cache[key]
        codes = sorted({c for vs in components for c in self.present_codes("observation", vs)})
        names = ["patient_id", "code", "datetime", "value_num"]
        if codes:
            stmt = select(o.patient_id, o.code, _raw(o.date), o.value_num).where(
                o.code.in_(codes), o.date >= since.to_pydatetime(), o.date < self.end, *only
            )
            # In the order of the (code, patient_id, date, value_num, value) covering index:
            # SQLite then reads that index alone, rather than the (code, date) index plus
            # one table lookup per reading (three times slower at 100,000 patients).
            stmt = self.restrict(stmt, o.patient_id).order_by(o.code, o.patient_id)
            frame = self.frame(stmt, names)
        else:
            frame = pd.DataFrame({c: pd.Series(dtype=object) for c in names})
        result = self._readings(frame, components)
        self.cache[key] = result
        return result

    def last_readings_before(
        self, vs: ValueSet, since: pd.Timestamp, same_day: str, among: pd.Series | None = None
    ) -> pd.DataFrame:
        """For patients whose most recent reading in ``vs`` is older than ``since``: that reading.

        With ``same_day="lowest"`` every reading of that day, else the readings at that
        very moment. Same columns as ``result_readings`` (component 0). The database
        finds each patient's latest reading along the covering index, keeps only those
        before ``since`` and seeks that day's rows: one row or two per lapsed patient.
        """
        o = models.Observation
        only, only_key = self.among(o.patient_id, among)
        key = ("readings-before", vs.id, since, same_day, only_key)
        if key in self.cache:
            return self.cache[key]
        names = ["patient_id", "code", "datetime", "value_num"]
        codes = self.present_codes("observation", vs)
        parts = self._per_code_max("observation", vs, o.date, [o.date < self.end, *only])
        if not parts:
            frame = pd.DataFrame({c: pd.Series(dtype=object) for c in names})
        else:
            if len(parts) == 1:
                anchor = parts[0].having(func.max(o.date) < since.to_pydatetime()).subquery()
            else:
                united = union_all(*parts).subquery()
                latest = func.max(united.c.latest)
                anchor = (
                    select(united.c.pid, latest.label("latest"))
                    .group_by(united.c.pid)
                    .having(latest < since.to_pydatetime())
                    .subquery()
                )
            if same_day == "latest":
                when = o.date == anchor.c.latest
            else:
                when = and_(o.date >= func.date(anchor.c.latest), o.date < since.to_pydatetime())
            # A LEFT JOIN from the per-patient subquery: SQLite keeps that order and seeks
            # each lapsed patient's day in the covering index.
            joined = anchor.outerjoin(o, and_(o.patient_id == anchor.c.pid, o.code.in_(codes), when))
            stmt = select(o.patient_id, o.code, _raw(o.date), o.value_num).select_from(joined)
            frame = self.frame(stmt, names).dropna(subset=["patient_id"])
        result = self._readings(frame, [vs])
        self.cache[key] = result
        return result

    @staticmethod
    def _readings(frame: pd.DataFrame, components: Sequence[ValueSet]) -> pd.DataFrame:
        # Codes as a categorical with sorted categories: each distinct code is matched to
        # its value set once, and "the lowest code" of a group is the lowest integer
        # (pandas would reduce text group by group in Python).
        codes = pd.Categorical(frame["code"].astype(object).to_numpy())
        lookup = _component_of(pd.Series(codes.categories.astype(object)), components)
        per_category = np.array([lookup.get(c, -1) for c in codes.categories], dtype="int8")
        component = per_category[codes.codes] if len(codes) else np.array([], dtype="int8")
        keep = component >= 0
        return pd.DataFrame(
            {
                "patient_id": frame["patient_id"].to_numpy(dtype="int64")[keep],
                "component": component[keep],
                "code": codes[keep],
                "datetime": _to_datetime(frame["datetime"]).to_numpy()[keep],
                "value_num": pd.to_numeric(frame["value_num"], errors="coerce").to_numpy(dtype="float64")[keep],
            }
        )

    def patients_with_result(self, vs: ValueSet, operator: str, bound: float) -> pd.Index:
        """Patients with any result in ``vs`` (on or before the as-of date) meeting the bound."""
        key = ("result-ever", vs.id, operator, bound)
        if key not in self.cache:
            o = models.Observation
            # The highest (or lowest) result per patient, grouped per code along the index.
            extreme = func.max(o.value_num) if operator in ("greater_than", "at_least") else func.min(o.value_num)
            parts = [
                self.restrict(select(o.patient_id, extreme).where(o.code == code, o.date < self.end), o.patient_id).group_by(
                    o.patient_id
                )
                for code in self.present_codes("observation", vs)
            ]
            if not parts:
                self.cache[key] = pd.Index([], dtype="int64")
            else:
                frame = self.frame(union_all(*parts) if len(parts) > 1 else parts[0], ["patient_id", "value"])
                values = pd.to_numeric(frame["value"], errors="coerce")
                hit = {
                    "less_than": values < bound,
                    "at_most": values <= bound,
                    "greater_than": values > bound,
                    "at_least": values >= bound,
                }[operator]
                self.cache[key] = pd.Index(frame.loc[hit, "patient_id"].astype("int64").unique())
        return self.cache[key]

    def immunizations_of(self, patient_ids: Sequence[int]) -> pd.DataFrame:
        """Every immunization (patient_id, code, date as the day) of a few patients, up to the as-of date."""
        i = models.Immunization
        frames = []
        for first in range(0, len(patient_ids), _MAX_SQL_IDS):
            chunk = list(patient_ids[first : first + _MAX_SQL_IDS])
            stmt = select(i.patient_id, i.cvx, _raw(i.date)).where(i.patient_id.in_(chunk), i.date < self.end)
            frames.append(self.frame(stmt, ["patient_id", "code", "date"]))
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["patient_id", "code", "date"])
        return frame.assign(patient_id=frame["patient_id"].astype("int64"), date=_to_datetime(frame["date"]).dt.normalize())

    def all_conditions(self) -> pd.DataFrame:
        """Every condition with onset on or before the as-of date: patient, code, onset, resolved.

        One read of the (small) conditions table serves every value set.
        """
        if "conditions" not in self.cache:
            c = models.Condition
            stmt = select(c.patient_id, c.code, _raw(c.onset), _raw(c.resolved)).where(c.onset < self.end_date)
            frame = self.frame(self.restrict(stmt, c.patient_id), ["patient_id", "code", "onset", "resolved"])
            # Codes as a categorical: each value set is then matched against the distinct codes.
            self.cache["conditions"] = pd.DataFrame(
                {
                    "patient_id": frame["patient_id"].to_numpy(dtype="int64"),
                    "code": pd.Categorical(frame["code"].astype(object).to_numpy()),
                    "onset": _to_datetime(frame["onset"]).to_numpy(),
                    "resolved": _to_datetime(frame["resolved"]).to_numpy(),
                }
            )
        return self.cache["conditions"]

    def condition_rows(self, vs: ValueSet) -> pd.DataFrame:
        """Conditions coded in ``vs`` with onset on or before the as-of date: patient, onset, resolved."""
        key = ("conditions", vs.id)
        if key not in self.cache:
            rows = self.all_conditions()
            categories = rows["code"].cat.categories
            member = vs.contains(pd.Series(categories.astype(object))).to_numpy(dtype=bool)
            wanted = np.flatnonzero(member)
            self.cache[key] = rows[np.isin(rows["code"].cat.codes.to_numpy(), wanted)].reset_index(drop=True)
        return self.cache[key]

    def active_condition_patients(self, vs: ValueSet, since: pd.Timestamp | None = None) -> pd.Index:
        """Patients with a condition in ``vs`` active on the as-of date (or at any time since ``since``)."""
        rows = self.condition_rows(vs)
        if since is None:
            still = rows["resolved"].isna() | (rows["resolved"] > self.as_of_ts)
        else:
            still = rows["resolved"].isna() | (rows["resolved"] >= since)
        return pd.Index(rows.loc[still, "patient_id"].unique())

    def medication_rows(self, vs: ValueSet, since: pd.Timestamp) -> pd.DataFrame:
        """Medications in ``vs`` started by the as-of date and not stopped before ``since``."""
        key = ("medications", vs.id, since)
        if key in self.cache:
            return self.cache[key]
        m = models.Medication
        stmt = select(m.patient_id, m.code, _raw(m.start), _raw(m.stop)).where(
            vs.sql_filter(m.code), m.start < self.end, or_(m.stop.is_(None), m.stop >= since.to_pydatetime())
        )
        frame = self.frame(self.restrict(stmt, m.patient_id), ["patient_id", "code", "start", "stop"])
        result = frame.assign(
            patient_id=frame["patient_id"].astype("int64"),
            start=_to_datetime(frame["start"]).dt.normalize(),
            stop=_to_datetime(frame["stop"]).dt.normalize(),
        )
        self.cache[key] = result
        return result

    # ------------------------------------------------------------------ visits

    def completed_visits(
        self, classes: Sequence[str], since: pd.Timestamp | None, count: bool = False, provider_ids: Sequence[int] | None = None
    ) -> pd.DataFrame:
        """Per patient: the latest completed visit of ``classes`` (since ``since``); with ``count``, how many.

        ``provider_ids`` limits the visits to those providers (None: any provider).
        """
        key = ("visits", tuple(classes), since, count, None if provider_ids is None else tuple(provider_ids))
        if key in self.cache:
            return self.cache[key]
        v = models.Visit
        where = [v.status == models.VisitStatus.COMPLETED.value, v.start < self.end]
        if classes:
            where.append(v.visit_class.in_(list(classes)))
        if provider_ids is not None:
            where.append(v.provider_id.in_(list(provider_ids)))
        if since is not None:
            where.append(v.start >= since.to_pydatetime())
        columns = [v.patient_id, _raw(func.max(v.start))] + ([func.count()] if count else [])
        names = ["patient_id", "date"] + (["count"] if count else [])
        stmt = self.restrict(select(*columns).where(*where), v.patient_id).group_by(v.patient_id)
        frame = self.frame(stmt, names)
        result = frame.assign(patient_id=frame["patient_id"].astype("int64"), date=_to_datetime(frame["date"]).dt.normalize())
        self.cache[key] = result
        return result

    def empanelment_visits(self) -> tuple[list[str], list[int]]:
        """The visit classes and panel-holding providers that empanelment counts (core.empanelment)."""
        if "empanelment" not in self.cache:
            from panelmanager.core.empanelment import load_panel_rules, panel_providers
            from panelmanager.core.settings import load_settings

            settings = load_settings(self.session)
            rules = load_panel_rules(specialties=settings.panel_specialties or None)
            providers = panel_providers(self.session, rules=rules, settings=settings)
            ids = sorted(int(i) for i in providers.loc[providers["holds_panel"], "id"])
            self.cache["empanelment"] = (rules.counted_classes, ids)
        return self.cache["empanelment"]

    def readings_in_settings(
        self, components: Sequence[ValueSet], classes: Sequence[str], since: pd.Timestamp | None
    ) -> pd.DataFrame:
        """Readings of ``components`` recorded during a visit of ``classes`` (patient_id, code, datetime).

        Seeks the observations of those visits only (by ``visit_id``), so it stays cheap
        when emergency and inpatient visits are a small share of all visits.
        """
        key = ("readings-in", tuple(vs.id for vs in components), tuple(classes), since)
        if key in self.cache:
            return self.cache[key]
        o, v = models.Observation, models.Visit
        codes = sorted({c for vs in components for c in self.present_codes("observation", vs)})
        names = ["patient_id", "code", "datetime"]
        if codes and classes:
            # Completed visits only: SQLite then reads a covering (status, start, ...) index.
            visits = select(v.id).where(
                v.status == models.VisitStatus.COMPLETED.value, v.visit_class.in_(list(classes)), v.start < self.end
            )
            # The code goes through coalesce() so that SQLite seeks the few emergency/inpatient
            # visits' observations by visit_id instead of every reading of the codes (20x faster).
            where = [o.visit_id.in_(visits), func.coalesce(o.code, "").in_(codes), o.date < self.end]
            if since is not None:
                where.append(o.date >= since.to_pydatetime())
            frame = self.frame(self.restrict(select(o.patient_id, o.code, _raw(o.date)).where(*where), o.patient_id), names)
        else:
            frame = pd.DataFrame({c: pd.Series(dtype=object) for c in names})
        result = pd.DataFrame(
            {
                "patient_id": frame["patient_id"].to_numpy(dtype="int64"),
                "code": frame["code"].astype(object).to_numpy(),
                "datetime": _to_datetime(frame["datetime"]).to_numpy(),
            }
        )
        self.cache[key] = result
        return result

    def upcoming_appointments(self, classes: Sequence[str], within_days: int | None) -> pd.DataFrame:
        """Per patient: the next appointment still ahead (scheduled/arrived, from the as-of day on)."""
        key = ("appointments", tuple(classes), within_days)
        if key in self.cache:
            return self.cache[key]
        v = models.Visit
        start = dt.datetime.combine(self.as_of, dt.time())
        where = [v.status.in_(_UPCOMING_STATUSES), v.start >= start]
        if classes:
            where.append(v.visit_class.in_(list(classes)))
        if within_days is not None:
            where.append(v.start < start + dt.timedelta(days=within_days + 1))
        stmt = self.restrict(select(v.patient_id, _raw(func.min(v.start))).where(*where), v.patient_id).group_by(v.patient_id)
        frame = self.frame(stmt, ["patient_id", "date"])
        frame = frame.assign(date=_to_datetime(frame["date"]).dt.normalize())
        self.cache[key] = frame
        return frame


def _component_of(codes: pd.Series, valuesets: Sequence[ValueSet]) -> dict:
    """{code: index of the first value set holding it}, worked out on the distinct codes only."""
    if isinstance(codes.dtype, pd.CategoricalDtype):
        distinct = pd.Series(codes.cat.categories.astype(object))
    else:
        distinct = pd.Series(codes.dropna().unique())
    lookup: dict = {}
    for i in reversed(range(len(valuesets))):
        for code in distinct[valuesets[i].contains(distinct)]:
            lookup[code] = i
    return lookup


# Risk stratification reads patients and conditions through the same context.
EvaluationContext = _Context


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


def _outside_settings(ctx: _Context, s: Satisfier, readings: pd.DataFrame, since: pd.Timestamp | None) -> pd.DataFrame:
    """``readings`` without those taken during a visit of ``s.exclude_settings`` (CMS165: ED, inpatient)."""
    if not s.exclude_settings or readings.empty:
        return readings
    inside = ctx.readings_in_settings([c.valueset for c in s.components], s.exclude_settings, since)
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
    readings = _outside_settings(ctx, s, readings, since)
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
    if candidates:
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


# --------------------------------------------------------------------------- the service


def evaluate_definitions(
    session: Session,
    as_of: dt.date,
    measures: Sequence[MeasureDefinition],
    *,
    patient_ids: Iterable[int] | None = None,
    due_soon_days: int | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> pd.DataFrame:
    """``evaluate_measures`` over definitions already loaded (tests and the cache use this)."""
    if due_soon_days is None:
        from panelmanager.core.settings import load_settings

        due_soon_days = load_settings(session).due_soon_days
    ids = None if patient_ids is None else sorted({int(i) for i in patient_ids})
    ctx = _Context(session, as_of, ids, int(due_soon_days))
    return evaluate_in_context(ctx, measures, progress=progress, cancel=cancel)


def evaluate_in_context(
    ctx: _Context,
    measures: Sequence[MeasureDefinition],
    *,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> pd.DataFrame:
    """``evaluate_definitions`` on a context that may already hold what was read.

    Risk stratification scores patients and conditions through one context and then
    evaluates the control measures on it, so each table is read once.
    """
    clinical = [m for m in measures if not m.eligible.requires_open_gap]
    panel = [m for m in measures if m.eligible.requires_open_gap]
    steps = StepProgress(progress, len(measures) + 1, cancel)
    steps.step("Reading patients")
    ctx.patients()
    frames = []
    for measure in clinical:
        steps.step(f"Evaluating {measure.title}")
        frames.append(_evaluate_measure(ctx, measure, _eligible(ctx, measure)))
    if panel:
        clinical_results = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RESULT_COLUMNS)
        with_gap = clinical_results.loc[clinical_results["status"] == "open", "patient_id"].unique()
        for measure in panel:
            steps.step(f"Evaluating {measure.title}")
            eligible = _eligible(ctx, measure)
            eligible = eligible[eligible["patient_id"].isin(with_gap)]
            frames.append(_evaluate_measure(ctx, measure, eligible))
    steps.finish("Care gaps evaluated")
    frames = [f for f in frames if not f.empty]
    if not frames:
        result = pd.DataFrame({c: pd.Series(dtype=object) for c in RESULT_COLUMNS})
        result["patient_id"] = result["patient_id"].astype("int64")
        for c in ("due_date", "last_date"):
            result[c] = result[c].astype("datetime64[ns]")
        return result
    result = pd.concat(frames, ignore_index=True)
    result["patient_id"] = result["patient_id"].astype("int64")
    return result


def select_measures(measures: Sequence[MeasureDefinition], measure_ids: Iterable[str] | None) -> list[MeasureDefinition]:
    """The measures to evaluate for ``measure_ids`` (all when None), in the measures' order.

    A panel gap such as no-upcoming-appointment brings every clinical measure along: it
    depends on their open gaps. An unknown id raises ``ValueError``.
    """
    if measure_ids is None:
        return list(measures)
    wanted = list(dict.fromkeys(measure_ids))
    known = {m.id for m in measures}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise ValueError(f"unknown measure {unknown[0]!r}; known measures: {', '.join(sorted(known))}")
    selected = [m for m in measures if m.id in wanted]
    if any(m.eligible.requires_open_gap for m in selected):
        selected = [m for m in measures if m.id in wanted or not m.eligible.requires_open_gap]
    return selected


def evaluate_measures(
    session: Session,
    as_of: dt.date,
    *,
    measure_ids: Iterable[str] | None = None,
    patient_ids: Iterable[int] | None = None,
    due_soon_days: int | None = None,
    resources_dir=None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> pd.DataFrame:
    """Evaluate care-gap measures for active patients as of ``as_of``.

    Returns a DataFrame with one row per eligible patient and measure: ``patient_id``,
    ``mrn``, ``measure`` (the measure id), ``status`` (open, due-soon, met, excluded),
    ``due_date`` and ``last_date`` (datetime64, NaT when there is none), ``last_code``
    and ``last_value`` (text or missing). ``measure_ids`` limits the measures (a panel
    gap such as no-upcoming-appointment still looks at every clinical measure to find
    patients with an open gap); ``patient_ids`` limits the patients (the huddle passes
    today's); ``due_soon_days`` defaults to the practice setting. Measure files that fail
    to load are skipped here; ``load_measures`` reports them.
    """
    measures, _errors = load_measures(resources_dir)
    wanted = None if measure_ids is None else list(dict.fromkeys(measure_ids))
    selected = select_measures(measures, wanted)
    result = evaluate_definitions(
        session,
        as_of,
        selected,
        patient_ids=patient_ids,
        due_soon_days=due_soon_days,
        progress=progress,
        cancel=cancel,
    )
    if wanted is not None:
        result = result[result["measure"].isin(wanted)].reset_index(drop=True)
    return result
