"""What one care-gap evaluation reads: patients, coded events, results, visits (each read once).

``EvaluationContext`` holds the session, the as-of date and a cache of everything read
so far; the satisfiers (``satisfiers.py``) and risk stratification ask it for frames.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, exists, func, literal, literal_column, or_, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnClause

from panelmanager.core import models
from panelmanager.core.alive import alive_and_active_on
from panelmanager.core.measures.frames import _raw, _to_datetime, read_frame
from panelmanager.core.measures.valuesets import ValueSet
from panelmanager.core.visibility import PENDING_TABLES, visible

__all__ = ["EvaluationContext"]

# Above this many patient ids, filter after reading instead of binding an IN list.
_MAX_SQL_IDS = 5_000
# A measure's eligible patients are passed to SQL (as literal ids) when they are fewer
# than this share of the active patients: seeking their rows beats reading everyone's.
_AMONG_SHARE = 0.8
# Visit statuses that mean an appointment is still ahead of the patient.
_UPCOMING_STATUSES = (models.VisitStatus.SCHEDULED.value, models.VisitStatus.ARRIVED.value)

_EVENT_TABLES: dict[str, tuple[type[Any], str, str, str | None]] = {
    "procedure": (models.Procedure, "date", "code", "code_system"),
    "observation": (models.Observation, "date", "code", "code_system"),
    "immunization": (models.Immunization, "date", "cvx", None),
    "condition": (models.Condition, "onset", "code", "code_system"),
    "medication": (models.Medication, "start", "code", "code_system"),
}



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
        # Integers from numpy, joined once: rendering each as a SQLAlchemy literal cost
        # 0.6 s of CPU per run at 100,000 patients.
        values: ColumnClause[Any] = literal_column("(" + ",".join(map(str, ids.tolist())) + ")")
        return [column.op("IN")(values)], key

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
            sex = frame["sex"].astype(object).where(frame["sex"].notna(), "").astype(str)
            # Upper-cased once per distinct spelling (.str.upper() calls Python per patient).
            codes, spellings = pd.factorize(sex)
            frame["sex"] = pd.Series(spellings.str.upper().take(codes), index=frame.index)
            self.cache["patients"] = frame.set_index("patient_id", drop=False)
        return self.cache["patients"]

    def has_rows(self, table_name: str) -> bool:
        key = ("has", table_name)
        if key not in self.cache:
            table = models.Base.metadata.tables[table_name]
            hidden = [visible(table)] if table_name in PENDING_TABLES else []
            self.cache[key] = bool(self.session.scalar(select(exists().where(table.c.id.isnot(None), *hidden))))
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
                    select(literal(code).label("code")).where(exists().where(code_col == code, visible(model)))
                    for code in sorted(literals)
                ]
                found = self.frame(union_all(*probes), ["code"])["code"] if probes else []
                self.cache[key] = sorted(str(c) for c in found)
            else:
                table_key = ("distinct-codes", kind)
                if table_key not in self.cache:
                    distinct = self.frame(select(code_col).where(visible(model)).distinct(), ["code"])["code"]
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
                    code_col == code, visible(model), *where
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
                    anchor.outerjoin(o, and_(o.patient_id == anchor.c.pid, o.code.in_(codes), o.date == anchor.c.latest,
                                            visible(o)))
                )
                frame = self.frame(stmt, columns).dropna(subset=["patient_id"])
        else:
            parts = self._per_code_max(kind, vs, _raw(date_col), [date_col < upper])
            if not parts:
                frame = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
            else:
                frame = self.frame(union_all(*parts) if len(parts) > 1 else parts[0], ["patient_id", "code", "date"])
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
        if kind == "observation":
            result["value_num"] = pd.to_numeric(result["value"], errors="coerce")
        else:  # no value column: nothing to parse (to_numeric on 100,000 Nones is not free)
            result["value_num"] = np.full(len(result), np.nan)
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
                o.code.in_(codes), o.date >= since.to_pydatetime(), o.date < self.end, visible(o), *only
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
            joined = anchor.outerjoin(o, and_(o.patient_id == anchor.c.pid, o.code.in_(codes), when, visible(o)))
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
                self.restrict(select(o.patient_id, extreme).where(o.code == code, o.date < self.end, visible(o)), o.patient_id).group_by(
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
            stmt = select(i.patient_id, i.cvx, _raw(i.date)).where(i.patient_id.in_(chunk), i.date < self.end, visible(i))
            frames.append(self.frame(stmt, ["patient_id", "code", "date"]))
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["patient_id", "code", "date"])
        return frame.assign(patient_id=frame["patient_id"].astype("int64"), date=_to_datetime(frame["date"]).dt.normalize())

    def all_conditions(self) -> pd.DataFrame:
        """Every condition with onset on or before the as-of date: patient, code, onset, resolved.

        One read of the (small) conditions table serves every value set.
        """
        if "conditions" not in self.cache:
            c = models.Condition
            stmt = select(c.patient_id, c.code, _raw(c.onset), _raw(c.resolved)).where(c.onset < self.end_date, visible(c))
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
            vs.sql_filter(m.code), m.start < self.end, or_(m.stop.is_(None), m.stop >= since.to_pydatetime()), visible(m)
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
        where = [v.status == models.VisitStatus.COMPLETED.value, v.start < self.end, visible(v)]
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
        self,
        components: Sequence[ValueSet],
        classes: Sequence[str],
        since: pd.Timestamp | None,
        among: pd.Series | None = None,
    ) -> pd.DataFrame:
        """Readings of ``components`` recorded during a visit of ``classes`` (patient_id, code, datetime).

        Seeks the observations of those visits only (by ``visit_id``), so it stays cheap
        when emergency and inpatient visits are a small share of all visits. With
        ``among`` (see ``among()``), only those patients' readings: the database then
        seeks their readings in the covering index and each one's visit by its id.
        """
        o, v = models.Observation, models.Visit
        only, only_key = self.among(o.patient_id, among)
        key = ("readings-in", tuple(vs.id for vs in components), tuple(classes), since, only_key)
        if key in self.cache:
            return self.cache[key]
        codes = sorted({c for vs in components for c in self.present_codes("observation", vs)})
        names = ["patient_id", "code", "datetime"]
        if codes and classes:
            # Completed visits only: SQLite then reads a covering (status, start, ...) index.
            visits = select(v.id).where(
                v.status == models.VisitStatus.COMPLETED.value, v.visit_class.in_(list(classes)), v.start < self.end,
                visible(v),
            )
            if only:
                # Those patients' visits of the classes first (they lead the covering
                # ix_visits_gap_lookup: a few per patient), then each visit's observations by
                # visit_id; the code through coalesce() keeps SQLite on that plan. Seeking every
                # reading of the patients and its visit by primary key instead (a correlated
                # EXISTS) read ten times more rows: 0.9 s of CPU vs 0.25 s at 100,000 patients.
                visits_of, _key = self.among(v.patient_id, among)
                where = [
                    o.visit_id.in_(visits.where(*visits_of)),
                    func.coalesce(o.code, "").in_(codes),
                    *only,
                    o.date < self.end,
                    visible(o),
                ]
            else:
                # The code goes through coalesce() so that SQLite seeks the few emergency/inpatient
                # visits' observations by visit_id instead of every reading of the codes (20x faster).
                where = [o.visit_id.in_(visits), func.coalesce(o.code, "").in_(codes), o.date < self.end, visible(o)]
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
        where = [v.status.in_(_UPCOMING_STATUSES), v.start >= start, visible(v)]
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
