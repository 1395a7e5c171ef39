"""Empanelment: every active patient on one provider's panel, confirmed and reviewed.

The assignment engine is the "4-cut" method of the Safety Net Medical Home Initiative
empanelment guide (Part 2) and Murray, Davies & Boushon (Fam Pract Manag 2007). Over the
look-back window (default 18 months ending on ``as_of``) it counts each active, living
patient's *completed primary-care visits* with *providers who can hold a panel* (both
defined in ``resources/panel_specialties.toml``) and picks:

1. the only such provider seen;
2. else the provider with more than half of the visits;
3. else the provider of the most recent well visit / physical;
4. else the provider of the most recent visit.

Ties on the same day (cuts 3 and 4) go to the provider with more visits, then to the
lower provider id. A recorded patient preference wins over the cuts; a confirmed
assignment is kept unless the manager accepts a change; patients with no qualifying
visit are listed as "needs assignment".

Running the engine never rewrites panels: ``build_review`` stores a review whose items a
manager accepts or rejects (``accept_review_items`` / ``reject_review_items``), one by
one or all at once. For each patient the run decides:

- *new*: on no panel, and a preference or the cuts name a provider;
- *unassigned* ("needs assignment"): on no panel and nothing names a provider;
- *unchanged*: the cuts (or the preference) name the current provider;
- *change*: they name another provider. When the current assignment was confirmed (by
  the patient or the provider) the change is *held*: the patient is *kept* on the
  current panel unless the manager accepts that item by itself;
- *kept*: no qualifying visit in the window, the current panel stands (patients leave
  panels through inactivation, not by being unseen for 18 months);
- *drop*: the patient died, moved or is inactive, or the current provider no longer
  holds a panel / said "not mine" and no visit points elsewhere.

A proposal the manager rejected (or kept) is not made again while nothing changes.
Every change of a patient's assignment - by a review, a manual reassignment, a
patient's stated preference or an inactivation - is written to ``assignment_history``
with when, from, to, why and by whom.

The engine is set-based: one SQL pass over the window's completed visits, answered from
a covering index (``ix_visits_empanelment``), aggregated per (patient, provider) with
pandas; the decision table is a handful of numpy masks. It never loads ORM objects per
patient. Single-patient services (confirmations, preferences, manual reassignment) use
the ORM.

Services take a ``Session`` and return small dataclasses; the CLI and the GUI call the
same functions. The caller owns the transaction (nothing here commits).
"""

from __future__ import annotations

import calendar
import datetime as dt
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import String, bindparam, case, delete, func, literal, select, type_coerce, update
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.alive import alive_and_active_mask, alive_and_active_on, died_after
from panelmanager.core.concurrency import Conflict, begin_write, changed_by_text, check_assignment_version
from panelmanager.core.db import bulk_insert, bulk_update
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, StepProgress
from panelmanager.core.resources import ResourceError, load_toml, resource_path
from panelmanager.core.settings import PracticeSettings, load_settings

__all__ = [
    "EmpanelmentError",
    "PanelRules",
    "load_panel_rules",
    "panel_providers",
    "window_start_for",
    "qualifying_visit_pairs",
    "four_cut",
    "cut_reasons",
    "propose_assignments",
    "ReviewSummary",
    "build_review",
    "ReviewDecision",
    "accept_review_items",
    "reject_review_items",
    "list_reviews",
    "review_items",
    "AssignmentChange",
    "reassign_patient",
    "ConfirmationResult",
    "confirm_assignment",
    "set_preference",
    "clear_preference",
    "AssignmentInfo",
    "assignment_for",
    "HistoryEntry",
    "assignment_history",
    "InactivationSuggestion",
    "suggest_inactivations",
    "InactivationResult",
    "inactivate_patients",
    "assignments_frame",
    "export_assignments",
    "find_provider",
    "find_patient",
]

NO_PROVIDER = -1  # "no provider" inside the engine's integer frames

PARTIES = ("patient", "provider")
PATIENT_OUTCOMES = ("confirmed", "changed", "declined")
PROVIDER_OUTCOMES = ("mine", "not-mine")
METHODS = ("check-in", "scheduling", "phone", "portal", "mail", "visit", "panel-list", "paper", "other")
ACTIONABLE_KINDS = ("new", "change", "drop")
CUT_PREFERENCE = "preference"
CUT_KEPT = "kept"
CUT_MANUAL = "manual"

_SPECIALTIES_FILE = "panel_specialties.toml"


class EmpanelmentError(Exception):
    """A request the registry cannot honour; the message says why and what to do."""


# --------------------------------------------------------------------------- rules


def _norm(text: object) -> str:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    return re.sub(r"[^a-z0-9]+", " ", str(text).lower()).strip()


@dataclass(frozen=True)
class PanelRules:
    """Who can hold a panel and which visits count, from ``resources/panel_specialties.toml``.

    Visits are judged by their class alone: Synthea's ENCOUNTERCLASS, or the class the PM
    importer gave the appointment type (``resources/import_profiles/visit_types.toml``).
    """

    specialties: frozenset[str]
    credentials_without_specialty: frozenset[str]
    primary_care_classes: frozenset[str]
    excluded_classes: frozenset[str]
    well_classes: frozenset[str]

    @property
    def counted_classes(self) -> list[str]:
        """The visit classes the engine counts, sorted (for SQL ``IN``)."""
        return sorted(self.primary_care_classes - self.excluded_classes)

    @property
    def counted_well_classes(self) -> list[str]:
        return sorted(self.well_classes & set(self.counted_classes))

    def holds_panel_by_default(self, specialty: object, credentials: object) -> bool:
        """True when a provider's specialty (or, lacking one, credentials) is a panel-holding one."""
        spec = _norm(specialty)
        if spec:
            return spec in self.specialties
        creds = {_norm(c) for c in re.split(r"[,;/ ]+", str(credentials or "")) if c}
        return bool(creds & self.credentials_without_specialty)

    def classify(self, visit_class: object) -> tuple[bool, bool]:
        """(counts as primary care, is a well visit) for a visit class."""
        klass = _norm(visit_class).replace(" ", "")
        primary = klass in self.counted_classes
        return primary, primary and klass in self.well_classes


_RULES_CACHE: dict[tuple[str, float, tuple[str, ...]], PanelRules] = {}


def load_panel_rules(path: Path | None = None, *, specialties: Sequence[str] | None = None) -> PanelRules:
    """Read the panel rules; ``specialties`` (the practice setting) replaces the file's list.

    Raises ``ResourceError`` naming the file and the key when the file is malformed.
    """
    path = path or resource_path(_SPECIALTIES_FILE)
    override = tuple(specialties or ())
    try:
        key = (str(path), path.stat().st_mtime, override)
    except OSError:
        raise ResourceError(f"{path}: file not found.") from None
    cached = _RULES_CACHE.get(key)
    if cached is not None:
        return cached
    data = load_toml(path)

    def strings(section: str, name: str) -> list[str]:
        value = data.get(section, {}).get(name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ResourceError(f"{path}: [{section}] {name} must be a list of strings.")
        return value

    def classes(name: str) -> frozenset[str]:
        return frozenset(_norm(v).replace(" ", "") for v in strings("visits", name))

    rules = PanelRules(
        specialties=frozenset(_norm(s) for s in (override or strings("panel", "specialties"))),
        credentials_without_specialty=frozenset(_norm(c) for c in strings("panel", "credentials_without_specialty")),
        primary_care_classes=classes("primary_care_classes"),
        excluded_classes=classes("excluded_classes"),
        well_classes=classes("well_classes"),
    )
    if not rules.counted_classes:
        raise ResourceError(f"{path}: [visits] primary_care_classes names no class that counts.")
    _RULES_CACHE[key] = rules
    return rules


def _rules_for(settings: PracticeSettings, rules: PanelRules | None) -> PanelRules:
    return rules or load_panel_rules(specialties=settings.panel_specialties or None)


def panel_providers(session: Session, *, rules: PanelRules | None = None, settings: PracticeSettings | None = None) -> pd.DataFrame:
    """Every provider with ``holds_panel``: active and (own setting, else specialty) a panel holder.

    Columns: id, external_id, npi, display_name, specialty, credentials, active,
    can_hold_panel, holds_panel, panel_open, fte, clinic_days_per_year, visits_per_day.
    """
    settings = settings or load_settings(session)
    rules = _rules_for(settings, rules)
    p = m.Provider
    frame = _read(
        session,
        select(
            p.id, p.external_id, p.npi, p.display_name, p.specialty, p.credentials, p.active,
            p.can_hold_panel, p.panel_open, p.fte, p.clinic_days_per_year, p.visits_per_day,
        ).order_by(p.id),
        [
            "id", "external_id", "npi", "display_name", "specialty", "credentials", "active",
            "can_hold_panel", "panel_open", "fte", "clinic_days_per_year", "visits_per_day",
        ],
    )
    holds = []
    for spec, creds, own, active in zip(frame["specialty"], frame["credentials"], frame["can_hold_panel"], frame["active"]):
        default = rules.holds_panel_by_default(spec, creds)
        decided = default if own is None or pd.isna(own) else bool(own)
        holds.append(bool(decided) and (active is None or pd.isna(active) or bool(active)))
    frame["holds_panel"] = pd.Series(holds, index=frame.index, dtype=bool)
    return frame


# --------------------------------------------------------------------------- the window


def _months_before(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def window_start_for(as_of: dt.date, lookback_months: int) -> dt.date:
    """First day of the look-back window: ``lookback_months`` calendar months before ``as_of``.

    The window runs from this day through ``as_of``, both included.
    """
    if lookback_months < 1:
        raise EmpanelmentError("The look-back must be at least one month.")
    return _months_before(as_of, lookback_months)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min)


# --------------------------------------------------------------------------- visits -> pairs


def qualifying_visit_pairs(
    session: Session,
    *,
    start: dt.date,
    end: dt.date,
    rules: PanelRules,
    provider_ids: Iterable[int] | None = None,
) -> pd.DataFrame:
    """Completed primary-care visits from ``start`` through ``end``, per (patient, provider).

    One SQL pass over the window's visits (answered from the covering index
    ``ix_visits_empanelment``, integers and timestamps only), aggregated with pandas.
    ``provider_ids`` limits the providers counted (``None``: every provider). Columns:
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
    )
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


def _columns(rows: list[tuple], width: int) -> list[np.ndarray]:
    """Driver rows as one object array per column (far quicker than ``zip(*rows)``)."""
    if rows and type(rows[0]) is not tuple:
        rows = [tuple(r) for r in rows]  # SQLAlchemy Rows: numpy would probe each for array attributes
    table = np.empty((len(rows), width), dtype=object)
    table[:] = rows
    return [table[:, i] for i in range(width)]


def _days(stamps: np.ndarray) -> np.ndarray:
    """Timestamps (ISO text from SQLite, datetimes elsewhere) as datetime64 days."""
    if len(stamps) and isinstance(stamps[0], str):
        return stamps.astype("U10").astype("datetime64[D]").astype("datetime64[ns]")
    return pd.to_datetime(pd.Series(stamps)).dt.normalize().to_numpy(dtype="datetime64[ns]")


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


def _driver_rows(session: Session, stmt) -> list[tuple]:
    """The rows exactly as the database driver returns them, without SQLAlchemy Row objects.

    Only for statements whose columns need no type conversion (integers, and timestamps
    that ``_days`` parses): on a 400,000-row visit scan this saves about a second.
    """
    result = session.connection().execute(stmt)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _read(session: Session, stmt, columns: Sequence[str], *, raw: bool = False) -> pd.DataFrame:
    """A Core select as a frame, column-wise (no per-row ORM or pandas record handling).

    ``raw=True`` keeps the driver's values (``_driver_rows``): dates then arrive as ISO
    text on SQLite and must be read with ``pd.to_datetime`` or ``_iso``.
    """
    rows = _driver_rows(session, stmt) if raw else session.connection().execute(stmt).fetchall()
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    data = {}
    for name, values in zip(columns, _columns(rows, len(columns))):
        first = next((v for v in values if v is not None), None)
        if isinstance(first, (int, float)) and not isinstance(first, bool):
            data[name] = pd.Series(values.tolist())  # int64, or float64 with NaN for NULLs
        else:
            # Text and dates stay plain Python objects (pandas' own string type is slow here).
            data[name] = pd.Series(values, dtype=object)
    return pd.DataFrame(data)


# --------------------------------------------------------------------------- the four cuts


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
    first["tie"] = np.where(runner_up.isna(), None, np.where(first["visits"] > runner_up, "visits", "id"))
    return first


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _iso(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, str):
        return value[:10]
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return pd.Timestamp(value).date().isoformat()


def _iso_series(values: pd.Series) -> pd.Series:
    """Dates as ISO day strings ("" where missing), vectorised for datetime64 columns."""
    values = values.reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        text = np.datetime_as_string(values.to_numpy(dtype="datetime64[D]"), unit="D").astype(object)
        return pd.Series(np.where(values.isna().to_numpy(), "", text), dtype=object)
    return pd.Series([_iso(v) for v in values], dtype=object)


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


# --------------------------------------------------------------------------- the engine


@dataclass
class ReviewSummary:
    """What ``build_review`` proposed. ``results`` has one row per patient the run looked at.

    results columns: patient_id, mrn, provider_id (proposed or kept; None when
    unassigned), provider (external id), provider_name, cut ("1"-"4", "preference",
    "kept" or None), reason, change (new, change, unchanged, kept, drop, unassigned),
    current_provider_id, current_provider, held (a confirmed assignment kept while the
    visits point elsewhere), proposed_provider (the held change's provider).
    """

    review_id: int
    as_of: dt.date
    lookback_months: int
    window_start: dt.date
    status: str
    new: int
    changes: int
    held: int
    drops: int
    unassigned: int
    unchanged: int
    kept: int
    results: pd.DataFrame = field(repr=False)

    def rows(self) -> list[dict[str, Any]]:
        """``results`` as JSON-ready dicts (the CLI's ``assign --json``)."""
        def plain(value: Any) -> Any:
            return None if _missing(value) else value

        out = []
        for r in self.results.sort_values("mrn").itertuples(index=False):
            cut = plain(r.cut)
            out.append(
                {
                    "patient": r.mrn,
                    "provider": plain(r.provider),
                    "provider_name": plain(r.provider_name),
                    "cut": int(cut) if isinstance(cut, str) and cut.isdigit() else cut,
                    "reason": r.reason,
                    "change": r.change,
                    "current_provider": plain(r.current_provider),
                    "proposed_provider": plain(r.proposed_provider),
                }
            )
        return out


def _status_reasons(status: pd.Series, deceased: pd.Series, as_of: dt.date) -> pd.Series:
    dead_by_date = deceased.notna() & (deceased <= pd.Timestamp(as_of))
    reason = pd.Series("Inactive patient", index=status.index, dtype=object)
    reason[status == m.PatientStatus.MOVED.value] = "Moved away"
    reason[status == m.PatientStatus.DECEASED.value] = "Deceased"
    died = "Died " + deceased.dt.strftime("%Y-%m-%d")
    reason[dead_by_date] = died[dead_by_date]
    return reason


def _load_patients(session: Session) -> pd.DataFrame:
    p = m.Patient
    df = _read(session, select(p.id, p.mrn, p.status, p.deceased_date), ["patient_id", "mrn", "status", "deceased_date"], raw=True)
    df["deceased_date"] = pd.to_datetime(df["deceased_date"])
    return df


def _load_current(session: Session) -> pd.DataFrame:
    a = m.Assignment
    df = _read(
        session,
        select(a.patient_id, a.provider_id, a.cut, a.assigned_on, a.provider_confirmed_on, a.patient_confirmed_on),
        ["patient_id", "cur", "cur_cut", "assigned_on", "provider_confirmed_on", "patient_confirmed_on"],
        raw=True,
    )
    df["patient_id"] = df["patient_id"].astype("int64")
    df["cur"] = df["cur"].astype("int64")
    return df


def _disputed_pairs(session: Session) -> pd.DataFrame:
    """(patient, provider) pairs whose latest provider confirmation is "not-mine"."""
    c = m.Confirmation
    df = _read(
        session,
        select(c.patient_id, c.provider_id, c.outcome, c.recorded_on, c.recorded_at, c.id).where(
            c.party == "provider", c.provider_id.is_not(None)
        ),
        ["patient_id", "provider_id", "outcome", "recorded_on", "recorded_at", "id"],
    )
    if df.empty:
        return pd.DataFrame(
            {"patient_id": pd.Series(dtype="int64"), "provider_id": pd.Series(dtype="int64"), "recorded_on": pd.Series(dtype=object)}
        )
    df = df.sort_values(["recorded_at", "id"]).drop_duplicates(["patient_id", "provider_id"], keep="last")
    df = df[df["outcome"] == "not-mine"]
    return df[["patient_id", "provider_id", "recorded_on"]].astype({"patient_id": "int64", "provider_id": "int64"})


def _load_preferences(session: Session) -> pd.DataFrame:
    pp = m.PatientPreference
    df = _read(
        session, select(pp.patient_id, pp.provider_id, pp.recorded_on, pp.user), ["patient_id", "pref", "pref_on", "pref_user"]
    )
    return df.astype({"patient_id": "int64"}) if not df.empty else df


def _previous_refusals(session: Session) -> pd.DataFrame:
    """The latest rejected (or kept) proposal per patient: the same proposal is not made again."""
    i = m.PanelReviewItem
    df = _read(
        session,
        select(i.patient_id, i.kind, i.old_provider_id, i.new_provider_id, i.decided_at, i.id).where(
            i.decision.in_(("rejected", "kept")), i.kind.in_(ACTIONABLE_KINDS)
        ),
        ["patient_id", "kind", "old", "new", "decided_at", "id"],
    )
    if df.empty:
        return df
    df = df.sort_values("id").drop_duplicates("patient_id", keep="last")
    df["patient_id"] = df["patient_id"].astype("int64")
    df["old"] = df["old"].fillna(NO_PROVIDER).astype("int64")
    df["new"] = df["new"].fillna(NO_PROVIDER).astype("int64")
    return df


def propose_assignments(
    session: Session,
    *,
    as_of: dt.date,
    lookback_months: int | None = None,
    rules: PanelRules | None = None,
    settings: PracticeSettings | None = None,
    progress: Progress | None = None,
    cancel: CancelToken = NEVER_CANCELLED,
) -> tuple[pd.DataFrame, dt.date]:
    """Run the engine without writing anything: (results frame, window start).

    The frame has the ``ReviewSummary.results`` columns plus the item to store:
    item_kind (new, change, drop, unassigned or None), item_provider_id, item_cut,
    item_reason, held.
    """
    settings = settings or load_settings(session)
    rules = _rules_for(settings, rules)
    months = int(lookback_months or settings.lookback_months)
    start = window_start_for(as_of, months)
    steps = StepProgress(progress, 5, cancel)

    steps.step("Reading providers and patients")
    providers = panel_providers(session, rules=rules, settings=settings)
    names = dict(zip(providers["id"].astype("int64"), providers["display_name"]))
    external = dict(zip(providers["id"].astype("int64"), providers["external_id"]))
    eligible = set(providers.loc[providers["holds_panel"], "id"].astype("int64"))
    patients = _load_patients(session)
    current = _load_current(session)
    prefs = _load_preferences(session)
    disputed = _disputed_pairs(session)
    refusals = _previous_refusals(session)

    steps.step("Counting visits in the look-back window")
    pairs = qualifying_visit_pairs(session, start=start, end=as_of, rules=rules, provider_ids=eligible)
    if not disputed.empty and not pairs.empty:
        # A provider who said "not mine" is not proposed again for that patient.
        marked = pairs.merge(disputed[["patient_id", "provider_id"]], how="left", indicator=True)
        pairs = pairs[(marked["_merge"] == "left_only").to_numpy()]

    steps.step("Applying the four cuts")
    cuts = four_cut(pairs)

    steps.step("Comparing with the current panels")
    cuts = cuts.assign(alg_reason=cut_reasons(cuts, names, start))
    df = patients.merge(current, on="patient_id", how="left").merge(prefs, on="patient_id", how="left")
    df = df.merge(
        cuts[["patient_id", "provider_id", "cut", "alg_reason"]].rename(columns={"provider_id": "alg", "cut": "alg_cut"}),
        on="patient_id",
        how="left",
    )
    # A death recorded after as_of: the patient was alive then (core.alive).
    df["in_scope"] = alive_and_active_mask(df["status"], df["deceased_date"], as_of)
    df["cur"] = df["cur"].fillna(NO_PROVIDER).astype("int64")
    df["alg"] = df["alg"].fillna(NO_PROVIDER).astype("int64")
    active_ids = set(providers.loc[providers["active"].fillna(True).astype(bool), "id"].astype("int64"))
    pref = df["pref"].fillna(NO_PROVIDER).astype("int64")
    df["pref"] = pref.where(pref.isin(active_ids), NO_PROVIDER)
    # Out of scope and on no panel: nothing to say about them.
    df = df[df["in_scope"] | (df["cur"] != NO_PROVIDER)].reset_index(drop=True)
    df = df.merge(
        disputed.rename(columns={"provider_id": "cur", "recorded_on": "disputed_on"}), on=["patient_id", "cur"], how="left"
    )
    if not refusals.empty:
        df = df.merge(
            refusals[["patient_id", "kind", "old", "new", "decided_at"]].rename(
                columns={"kind": "prior_kind", "old": "prior_old", "new": "prior_new", "decided_at": "prior_at"}
            ),
            on="patient_id",
            how="left",
        )
    else:
        df = df.assign(prior_kind=None, prior_old=NO_PROVIDER, prior_new=NO_PROVIDER, prior_at=pd.NaT)

    steps.step("Writing reasons")
    n = len(df)
    since = start.isoformat()
    cur = df["cur"].to_numpy()
    in_scope = df["in_scope"].to_numpy(dtype=bool)
    has_cur = cur != NO_PROVIDER
    has_pref = df["pref"].to_numpy() != NO_PROVIDER
    tgt = np.where(has_pref, df["pref"].to_numpy(), df["alg"].to_numpy()).astype("int64")
    has_tgt = tgt != NO_PROVIDER
    cur_ok = np.isin(cur, np.fromiter(eligible, dtype="int64")) if eligible else np.zeros(n, dtype=bool)
    disputed_cur = df["disputed_on"].notna().to_numpy()
    patient_confirmed = df["patient_confirmed_on"].notna().to_numpy()
    confirmed = has_cur & (patient_confirmed | df["provider_confirmed_on"].notna().to_numpy())
    cur_holds = cur_ok & ~disputed_cur
    alg_cut_num = pd.to_numeric(df["alg_cut"], errors="coerce").to_numpy(dtype="float64")
    tgt_cut = np.full(n, None, dtype=object)
    known_cut = ~np.isnan(alg_cut_num)
    tgt_cut[known_cut] = alg_cut_num[known_cut].astype("int64").astype(str).astype(object)
    tgt_cut[has_pref] = CUT_PREFERENCE
    tgt_cut[~has_tgt] = None

    tgt_reason = df["alg_reason"].to_numpy(dtype=object).copy()
    if has_pref.any():
        by = [f" by {u}" if isinstance(u, str) and u else "" for u in df.loc[has_pref, "pref_user"]]
        tgt_reason[has_pref] = [
            f"Patient's preference, recorded {_iso(d)}{b}" for d, b in zip(df.loc[has_pref, "pref_on"], by)
        ]

    # The decision table (see the module docstring): one mask per outcome.
    drop_status = ~in_scope
    new = in_scope & ~has_cur & has_tgt
    unassigned = in_scope & ~has_cur & ~has_tgt
    same = in_scope & has_cur & has_tgt & (tgt == cur)
    kept_no_visit = in_scope & has_cur & ~has_tgt & cur_holds
    drop_provider = in_scope & has_cur & ~has_tgt & ~cur_holds
    change = in_scope & has_cur & has_tgt & (tgt != cur)
    held = change & (tgt_cut != CUT_PREFERENCE) & confirmed & cur_holds
    leaving = change & ~cur_holds  # the current provider said "not mine" or holds no panel any more

    def name(ids: np.ndarray) -> list[str]:
        return [names.get(int(i), f"provider {i}") for i in ids]

    def why_current_goes(mask: np.ndarray) -> list[str]:
        out = []
        for pid, disputed_on in zip(cur[mask], df.loc[mask, "disputed_on"]):
            if not _missing(disputed_on):
                out.append(f"{names.get(int(pid))} marked the patient not theirs on {_iso(disputed_on)}")
            else:
                out.append(f"{names.get(int(pid))} no longer holds a panel")
        return out

    def confirmed_text(mask: np.ndarray) -> list[str]:
        out = []
        for by_patient, pc, vc in zip(
            patient_confirmed[mask], df.loc[mask, "patient_confirmed_on"], df.loc[mask, "provider_confirmed_on"]
        ):
            out.append(f"confirmed by the patient on {_iso(pc)}" if by_patient else f"confirmed by the provider on {_iso(vc)}")
        return out

    kind = np.select([drop_status | drop_provider, new, unassigned, change], ["drop", "new", "unassigned", "change"], None)
    kind = kind.astype(object)
    item_provider = np.where(new | change, tgt, NO_PROVIDER).astype("int64")
    item_cut = np.where(new | change, tgt_cut, None).astype(object)
    item_reason = np.full(n, "", dtype=object)
    item_reason[new | change] = tgt_reason[new | change]
    if drop_status.any():
        item_reason[drop_status] = _status_reasons(
            df.loc[drop_status, "status"], df.loc[drop_status, "deceased_date"], as_of
        ).to_numpy(dtype=object)
    if drop_provider.any():
        item_reason[drop_provider] = [
            f"{why}; no qualifying visit points to another provider" for why in why_current_goes(drop_provider)
        ]
    item_reason[unassigned] = f"Needs assignment: no completed primary-care visit with a panel provider since {since}"
    if leaving.any():
        item_reason[leaving] = [f"{why}; {r}" for why, r in zip(why_current_goes(leaving), tgt_reason[leaving])]
    closed = set(providers.loc[~providers["panel_open"].fillna(True).astype(bool), "id"].astype("int64"))
    to_closed = (new | (change & ~held)) & np.isin(tgt, np.fromiter(closed, dtype="int64")) if closed else np.zeros(n, bool)
    if to_closed.any():
        item_reason[to_closed] = [
            f"{r}; {tname}'s panel is closed to new patients" for r, tname in zip(item_reason[to_closed], name(tgt[to_closed]))
        ]
    if held.any():
        item_reason[held] = [
            f"{r}; {cname} was {text}" for r, cname, text in zip(tgt_reason[held], name(cur[held]), confirmed_text(held))
        ]

    # What the run decides for each patient (kept and held rows keep the current panel).
    result_kind = kind.copy()
    result_kind[same] = "unchanged"
    result_kind[kept_no_visit | held] = "kept"
    result_provider = np.where(same | kept_no_visit | held, cur, item_provider).astype("int64")
    result_cut = item_cut.copy()
    result_cut[same] = tgt_cut[same]
    result_cut[kept_no_visit | held] = CUT_KEPT
    result_reason = item_reason.copy()
    result_reason[same] = tgt_reason[same]
    if kept_no_visit.any():
        result_reason[kept_no_visit] = [
            f"Kept: no qualifying visit since {since}; on {cname}'s panel since {_iso(d)}"
            for cname, d in zip(name(cur[kept_no_visit]), df.loc[kept_no_visit, "assigned_on"])
        ]
    if held.any():
        result_reason[held] = [
            f"Kept: {text}; the visits point to {tname}: {r}"
            for text, tname, r in zip(confirmed_text(held), name(tgt[held]), tgt_reason[held])
        ]
    proposed = np.where(held, tgt, NO_PROVIDER)
    kind[same | kept_no_visit] = None

    # An identical proposal the manager already rejected (or kept) is not made again.
    prior_old = df["prior_old"].fillna(NO_PROVIDER).astype("int64").to_numpy()
    prior_new = df["prior_new"].fillna(NO_PROVIDER).astype("int64").to_numpy()
    refused = (
        np.isin(kind, ACTIONABLE_KINDS)
        & (df["prior_kind"].to_numpy(dtype=object) == kind)
        & (prior_old == cur)
        & (prior_new == item_provider)
    )
    if refused.any():
        refused_new = refused & (kind == "new")
        refused_other = refused & (kind != "new")
        decided_on = np.array([_iso(d) for d in df["prior_at"]], dtype=object)
        if refused_other.any():
            result_reason[refused_other] = [
                f"Kept: the manager rejected {'a change to ' + names.get(int(p), '') if p != NO_PROVIDER else 'dropping the patient'} on {d}"
                for p, d in zip(item_provider[refused_other], decided_on[refused_other])
            ]
            result_kind[refused_other] = "kept"
            result_provider[refused_other] = cur[refused_other]
            result_cut[refused_other] = CUT_KEPT
            proposed[refused_other] = NO_PROVIDER
            held = held & ~refused_other
            kind[refused_other] = None
        if refused_new.any():
            text = [
                f"Needs assignment: the manager rejected {tname} on {d}"
                for tname, d in zip(name(tgt[refused_new]), decided_on[refused_new])
            ]
            kind[refused_new] = "unassigned"
            item_reason[refused_new] = text
            result_reason[refused_new] = text
            result_kind[refused_new] = "unassigned"
            result_provider[refused_new] = NO_PROVIDER
            result_cut[refused_new] = None
            item_provider[refused_new] = NO_PROVIDER
            item_cut[refused_new] = None

    def lookup(ids: np.ndarray, mapping: dict[int, str]) -> pd.Series:
        return pd.Series(ids).map(mapping).astype(object).where(pd.Series(ids) != NO_PROVIDER, None)

    def nullable(ids: np.ndarray) -> pd.Series:
        return pd.Series(ids, dtype="int64").where(pd.Series(ids) != NO_PROVIDER).astype("Int64")

    results = pd.DataFrame(
        {
            "patient_id": df["patient_id"].astype("int64"),
            "mrn": df["mrn"],
            "provider_id": nullable(result_provider),
            "provider": lookup(result_provider, external),
            "provider_name": lookup(result_provider, names),
            "cut": pd.Series(result_cut, dtype=object),
            "reason": pd.Series(result_reason, dtype=object),
            "change": pd.Series(result_kind, dtype=object),
            "current_provider_id": nullable(cur),
            "current_provider": lookup(cur, external),
            "held": held,
            "proposed_provider": lookup(proposed, external),
            "item_kind": pd.Series(kind, dtype=object),
            "item_provider_id": item_provider,
            "item_cut": pd.Series(item_cut, dtype=object),
            "item_reason": pd.Series(item_reason, dtype=object),
        }
    )
    steps.finish("Proposals ready")
    return results, start


def build_review(
    session: Session,
    *,
    as_of: dt.date,
    lookback_months: int | None = None,
    user: str | None = None,
    rules: PanelRules | None = None,
    progress: Progress | None = None,
    cancel: CancelToken = NEVER_CANCELLED,
) -> ReviewSummary:
    """Run the assignment engine and store its proposals as a new review (panels unchanged).

    Open reviews from earlier runs are superseded: their pending items are closed as
    "superseded". Unassigned patients are stored as "unassigned" items for the record
    (decision "info"). Accept the review with ``accept_review_items``.
    """
    settings = load_settings(session)
    months = int(lookback_months or settings.lookback_months)
    results, start = propose_assignments(
        session, as_of=as_of, lookback_months=months, rules=rules, settings=settings, progress=progress, cancel=cancel
    )
    cancel.raise_if_cancelled()
    now = dt.datetime.now()
    _supersede_open_reviews(session, now)

    items = results[results["item_kind"].notna()]
    change = results["change"]
    counts = {
        "n_new": int((items["item_kind"] == "new").sum()),
        "n_change": int((items["item_kind"] == "change").sum()),
        "n_drop": int((items["item_kind"] == "drop").sum()),
        "n_unassigned": int((items["item_kind"] == "unassigned").sum()),
        "n_unchanged": int((change == "unchanged").sum()),
        "n_kept": int((change == "kept").sum()),
    }
    review = m.PanelReview(
        as_of=as_of,
        lookback_months=months,
        window_start=start,
        created_at=now,
        created_by=user,
        status="open",
        **counts,
    )
    session.add(review)
    session.flush()
    if not items.empty:
        frame = pd.DataFrame(
            {
                "review_id": review.id,
                "patient_id": items["patient_id"].astype("int64"),
                "kind": items["item_kind"],
                "old_provider_id": items["current_provider_id"].astype("Int64"),
                "new_provider_id": items["item_provider_id"].where(items["item_provider_id"] != NO_PROVIDER).astype("Int64"),
                "cut": items["item_cut"],
                "reason": items["item_reason"],
                "held": items["held"].astype(bool),
                "decision": np.where(items["item_kind"] == "unassigned", "info", "pending"),
            }
        )
        bulk_insert(session.connection(), m.PanelReviewItem.__table__, frame)
    return ReviewSummary(
        review_id=review.id,
        as_of=as_of,
        lookback_months=months,
        window_start=start,
        status=review.status,
        new=counts["n_new"],
        changes=int(((items["item_kind"] == "change") & ~items["held"]).sum()),
        held=int(items["held"].sum()),
        drops=counts["n_drop"],
        unassigned=counts["n_unassigned"],
        unchanged=counts["n_unchanged"],
        kept=counts["n_kept"],
        results=results.drop(columns=["item_kind", "item_provider_id", "item_cut", "item_reason"]),
    )


def _supersede_open_reviews(session: Session, now: dt.datetime) -> None:
    open_ids = list(session.scalars(select(m.PanelReview.id).where(m.PanelReview.status == "open")))
    if not open_ids:
        return
    i = m.PanelReviewItem
    session.execute(
        update(i)
        .where(i.review_id.in_(open_ids), i.decision == "pending")
        .values(decision="superseded", decided_at=now)
    )
    for review_id in open_ids:
        _refresh_status(session, review_id, now, None, superseding=True)


def _refresh_status(
    session: Session, review_id: int, now: dt.datetime, user: str | None, *, superseding: bool = False, closing: str | None = None
) -> str:
    """Recompute a review's status from its items' decisions.

    open: items pending; accepted: only accepted/kept items; rejected: only rejected;
    partly: a mix (or some superseded); superseded: a newer review replaced it before any
    decision. ``closing`` ("accepted"/"rejected") settles a review with no item to decide.
    """
    i = m.PanelReviewItem
    counts = dict(
        session.execute(
            select(i.decision, func.count()).where(i.review_id == review_id, i.kind.in_(ACTIONABLE_KINDS)).group_by(i.decision)
        ).all()
    )
    review = session.get(m.PanelReview, review_id)
    agreed = counts.get("accepted", 0) + counts.get("kept", 0)
    refused = counts.get("rejected", 0)
    superseded = counts.get("superseded", 0)
    if counts.get("pending", 0):
        status = "open"
    elif agreed and not refused and not superseded:
        status = "accepted"
    elif refused and not agreed and not superseded:
        status = "rejected"
    elif not agreed and not refused:
        status = "superseded" if superseding else (closing or review.status)
    else:
        status = "partly"
    if status != review.status:
        review.status = status
        if status != "open":
            review.decided_at = now
            review.decided_by = user
    session.flush()
    return status


# --------------------------------------------------------------------------- decisions


@dataclass
class ReviewDecision:
    """What accepting or rejecting review items did."""

    review_id: int
    accepted: int = 0
    rejected: int = 0
    kept: int = 0  # held changes left as they were by an "accept all"
    stale: int = 0  # items whose patient's panel had changed since the review: skipped
    status: str = "open"


def _review_or_error(session: Session, review_id: int) -> m.PanelReview:
    review = session.get(m.PanelReview, review_id)
    if review is None:
        raise EmpanelmentError(f"There is no review {review_id}.")
    return review


def _pending_items(session: Session, review_id: int, item_ids: Sequence[int] | None) -> pd.DataFrame:
    i = m.PanelReviewItem
    stmt = select(i.id, i.patient_id, i.kind, i.old_provider_id, i.new_provider_id, i.cut, i.reason, i.held).where(
        i.review_id == review_id, i.decision == "pending", i.kind.in_(ACTIONABLE_KINDS)
    )
    df = _read(session, stmt, ["id", "patient_id", "kind", "old", "new", "cut", "reason", "held"])
    if item_ids is not None:
        wanted = {int(x) for x in item_ids}
        known = set(
            session.scalars(select(i.id).where(i.review_id == review_id, i.id.in_(sorted(wanted))))
        ) if len(wanted) <= 900 else wanted
        unknown = wanted - known
        if unknown:
            raise EmpanelmentError(
                f"Review {review_id} has no item {', '.join(str(u) for u in sorted(unknown)[:5])}."
            )
        df = df[df["id"].isin(wanted)]
    df["old"] = df["old"].fillna(NO_PROVIDER).astype("int64")
    df["new"] = df["new"].fillna(NO_PROVIDER).astype("int64")
    df["held"] = df["held"].astype(bool)
    return df


def accept_review_items(
    session: Session,
    review_id: int,
    item_ids: Sequence[int] | None = None,
    *,
    user: str | None = None,
) -> ReviewDecision:
    """Accept review items: ``item_ids`` one by one, or ``None`` for every pending item.

    Accepting all leaves held items (changes away from a confirmed assignment) as they
    are, marked "kept"; naming a held item's id accepts its change. An item whose
    patient's panel changed since the review (another review, a manual change) is
    skipped as "stale". Every applied change goes to the history, by ``user``.
    Accepting a review with nothing pending closes it as accepted (a review done).
    """
    begin_write(session)
    review = _review_or_error(session, review_id)
    now = dt.datetime.now()
    _refuse_decided(session, review_id, item_ids)
    items = _pending_items(session, review_id, item_ids)
    decision = ReviewDecision(review_id=review_id)
    if item_ids is None:
        keep = items[items["held"]]
        items = items[~items["held"]]
    else:
        keep = items.iloc[0:0]
    current = _load_current(session)[["patient_id", "cur"]]
    merged = items.merge(current, on="patient_id", how="left")
    merged["cur"] = merged["cur"].fillna(NO_PROVIDER).astype("int64")
    fresh = merged["cur"] == merged["old"]
    valid = merged[fresh]
    stale = merged[~fresh]
    if not valid.empty:
        _apply_changes(
            session,
            patient_ids=valid["patient_id"].to_numpy(),
            old=valid["old"].to_numpy(),
            new=valid["new"].to_numpy(),
            cuts=valid["cut"].tolist(),
            reasons=valid["reason"].tolist(),
            effective_on=review.as_of,
            user=user,
            review_id=review_id,
            now=now,
        )
    _decide(session, stale["id"], "stale", user, now)
    if item_ids is None:
        # Everything still pending is decided: two set-wise updates instead of one per item.
        i = m.PanelReviewItem
        pending = (i.review_id == review_id) & (i.decision == "pending") & i.kind.in_(ACTIONABLE_KINDS)
        session.execute(update(i).where(pending, i.held.is_(False)).values(decision="accepted", decided_by=user, decided_at=now))
        session.execute(update(i).where(pending, i.held.is_(True)).values(decision="kept", decided_by=user, decided_at=now))
    else:
        _decide(session, valid["id"], "accepted", user, now)
    decision.accepted, decision.stale, decision.kept = len(valid), len(stale), len(keep)
    decision.status = _refresh_status(session, review_id, now, user, closing="accepted" if item_ids is None else None)
    return decision


def reject_review_items(
    session: Session,
    review_id: int,
    item_ids: Sequence[int] | None = None,
    *,
    user: str | None = None,
) -> ReviewDecision:
    """Reject review items (``None``: every pending one); panels stay as they are.

    A rejected proposal is not proposed again by later reviews while the patient's
    panel and the engine's answer stay the same.
    """
    begin_write(session)
    _review_or_error(session, review_id)
    now = dt.datetime.now()
    _refuse_decided(session, review_id, item_ids)
    items = _pending_items(session, review_id, item_ids)
    if item_ids is None:
        i = m.PanelReviewItem
        session.execute(
            update(i)
            .where(i.review_id == review_id, i.decision == "pending", i.kind.in_(ACTIONABLE_KINDS))
            .values(decision="rejected", decided_by=user, decided_at=now)
        )
    else:
        _decide(session, items["id"], "rejected", user, now)
    status = _refresh_status(session, review_id, now, user, closing="rejected" if item_ids is None else None)
    return ReviewDecision(review_id=review_id, rejected=len(items), status=status)


def _refuse_decided(session: Session, review_id: int, item_ids: Sequence[int] | None) -> None:
    """Named items that another user decided meanwhile: a conflict, not a silent no-op."""
    if not item_ids or len(item_ids) > 900:
        return
    i = m.PanelReviewItem
    row = session.execute(
        select(i.decision, i.decided_by, i.decided_at)
        .where(i.review_id == review_id, i.id.in_([int(x) for x in item_ids]), i.kind.in_(ACTIONABLE_KINDS),
               i.decision != "pending", i.decided_at.is_not(None))
        .order_by(i.decided_at.desc())
        .limit(1)
    ).first()
    if row is not None:
        raise Conflict(
            f"This review item was already {row.decision} by {changed_by_text(row.decided_by, row.decided_at)}"
            " - reload and try again."
        )


def _decide(session: Session, ids: pd.Series, decision: str, user: str | None, now: dt.datetime) -> None:
    if len(ids) == 0:
        return
    frame = pd.DataFrame(
        {"id": ids.astype("int64").to_numpy(), "decision": decision, "decided_by": user, "decided_at": now}
    )
    bulk_update(session.connection(), m.PanelReviewItem.__table__, frame)


def _apply_changes(
    session: Session,
    *,
    patient_ids: np.ndarray,
    old: np.ndarray,
    new: np.ndarray,
    cuts: list[str | None],
    reasons: list[str],
    effective_on: dt.date,
    user: str | None,
    review_id: int | None,
    now: dt.datetime,
) -> None:
    """Set-wise: replace the patients' assignments (new == NO_PROVIDER: unassign) and log history."""
    session.flush()
    conn = session.connection()
    pids = [int(p) for p in patient_ids]
    if not pids:
        return
    a = m.Assignment.__table__
    had = [p for p, o in zip(pids, old) if int(o) != NO_PROVIDER]
    if had:
        conn.execute(delete(a).where(a.c.patient_id == bindparam("pid")), [{"pid": p} for p in had])
    new = np.asarray(new, dtype="int64")
    to_assign = new != NO_PROVIDER
    if to_assign.any():
        frame = pd.DataFrame(
            {
                "patient_id": np.asarray(pids, dtype="int64")[to_assign],
                "provider_id": new[to_assign],
                "cut": [c for c, keep in zip(cuts, to_assign) if keep],
                "reason": [r for r, keep in zip(reasons, to_assign) if keep],
                "assigned_on": pd.Timestamp(effective_on),
                "assigned_at": now,
                "assigned_by": user,
                "review_id": review_id,
                "version": 0,  # set below from the patient's history (never reused, see _set_versions)
            }
        )
        frame["review_id"] = frame["review_id"].astype("Int64")
        frame["cut"] = frame["cut"].astype(object).where(frame["cut"].notna(), CUT_MANUAL)
        bulk_insert(conn, a, frame)
    old = np.asarray(old, dtype="int64")
    history = pd.DataFrame(
        {
            "patient_id": np.asarray(pids, dtype="int64"),
            "from_provider_id": pd.array(np.where(old == NO_PROVIDER, None, old), dtype="Int64"),
            "to_provider_id": pd.array(np.where(new == NO_PROVIDER, None, new), dtype="Int64"),
            "changed_at": now,
            "effective_on": pd.Timestamp(effective_on),
            "cut": pd.Series(cuts, dtype=object),
            "reason": reasons,
            "user": user,
            "review_id": pd.array([review_id] * len(pids), dtype="Int64"),
        }
    )
    bulk_insert(conn, m.AssignmentHistory.__table__, history)
    if to_assign.any():
        _set_versions(conn, pids[0] if len(pids) == 1 else None)
    _expire(session, m.Assignment)


def _set_versions(conn, patient_id: int | None) -> None:
    """New assignment rows get version = the patient's history rows + confirmations.

    Every change adds one of those rows, so a patient's version only ever grows, even
    across an unassignment (its row is deleted): a screen that saw an old version is
    always refused (``concurrency.check_assignment_version``).
    """
    a = m.Assignment.__table__
    h = m.AssignmentHistory.__table__
    c = m.Confirmation.__table__
    changes = (
        select(func.count()).select_from(h).where(h.c.patient_id == a.c.patient_id).scalar_subquery()
        + select(func.count()).select_from(c).where(c.c.patient_id == a.c.patient_id).scalar_subquery()
    )
    stmt = update(a).where(a.c.version == 0).values(version=changes)
    if patient_id is not None:
        stmt = stmt.where(a.c.patient_id == patient_id)
    conn.execute(stmt)


def _expire(session: Session, *classes: type) -> None:
    """Forget loaded objects of these classes: Core writes above changed their rows."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, classes):
            session.expire(obj)


# --------------------------------------------------------------------------- reviews for screens


@dataclass
class ReviewInfo:
    id: int
    as_of: dt.date
    lookback_months: int
    window_start: dt.date
    created_at: dt.datetime
    created_by: str | None
    status: str
    decided_at: dt.datetime | None
    decided_by: str | None
    new: int
    changes: int
    drops: int
    unassigned: int
    unchanged: int
    kept: int
    pending: int


def list_reviews(session: Session, *, limit: int = 50) -> list[ReviewInfo]:
    """The latest reviews first, with their counts and how many items are still pending."""
    r, i = m.PanelReview, m.PanelReviewItem
    pending = (
        select(i.review_id, func.count().label("pending"))
        .where(i.decision == "pending")
        .group_by(i.review_id)
        .subquery()
    )
    rows = session.execute(
        select(r, func.coalesce(pending.c.pending, 0))
        .outerjoin(pending, pending.c.review_id == r.id)
        .order_by(r.id.desc())
        .limit(limit)
    ).all()
    return [
        ReviewInfo(
            id=rv.id, as_of=rv.as_of, lookback_months=rv.lookback_months, window_start=rv.window_start,
            created_at=rv.created_at, created_by=rv.created_by, status=rv.status, decided_at=rv.decided_at,
            decided_by=rv.decided_by, new=rv.n_new, changes=rv.n_change, drops=rv.n_drop,
            unassigned=rv.n_unassigned, unchanged=rv.n_unchanged, kept=rv.n_kept, pending=int(n),
        )
        for rv, n in rows
    ]


def review_items(session: Session, review_id: int, *, kinds: Sequence[str] | None = None, decision: str | None = None) -> pd.DataFrame:
    """A review's items with patient and provider names, for a review screen or a listing.

    Columns: id, patient_id, mrn, patient_name, kind, old_provider, old_provider_name,
    new_provider, new_provider_name, cut, reason, held, decision, decided_by, decided_at.
    """
    i, p = m.PanelReviewItem, m.Patient
    old = m.Provider.__table__.alias("old")
    new = m.Provider.__table__.alias("new")
    stmt = (
        select(
            i.id, i.patient_id, p.mrn, p.last_name, p.first_name, i.kind,
            old.c.external_id, old.c.display_name, new.c.external_id, new.c.display_name,
            i.cut, i.reason, i.held, i.decision, i.decided_by, i.decided_at,
        )
        .join(p, p.id == i.patient_id)
        .outerjoin(old, old.c.id == i.old_provider_id)
        .outerjoin(new, new.c.id == i.new_provider_id)
        .where(i.review_id == review_id)
        .order_by(i.kind, p.last_name, p.first_name, p.mrn)
    )
    if kinds:
        stmt = stmt.where(i.kind.in_(list(kinds)))
    if decision:
        stmt = stmt.where(i.decision == decision)
    df = _read(
        session,
        stmt,
        [
            "id", "patient_id", "mrn", "last_name", "first_name", "kind", "old_provider", "old_provider_name",
            "new_provider", "new_provider_name", "cut", "reason", "held", "decision", "decided_by", "decided_at",
        ],
    )
    df.insert(3, "patient_name", _full_name(df["last_name"], df["first_name"]))
    return df.drop(columns=["last_name", "first_name"])


def _full_name(last: pd.Series, first: pd.Series) -> pd.Series:
    last = last.astype(object).where(last.notna(), "")
    first = first.astype(object).where(first.notna(), "")
    return (last + ", " + first).str.strip(", ")


# --------------------------------------------------------------------------- one patient


@dataclass
class AssignmentChange:
    """One patient's assignment changed (or not, when it was already so)."""

    patient_id: int
    from_provider_id: int | None
    to_provider_id: int | None
    changed: bool
    reason: str


def _today(as_of: dt.date | None) -> dt.date:
    return as_of or dt.date.today()


def _patient_or_error(session: Session, patient_id: int) -> m.Patient:
    patient = session.get(m.Patient, patient_id)
    if patient is None:
        raise EmpanelmentError(f"There is no patient with id {patient_id}.")
    return patient


def _provider_or_error(session: Session, provider_id: int) -> m.Provider:
    provider = session.get(m.Provider, provider_id)
    if provider is None:
        raise EmpanelmentError(f"There is no provider with id {provider_id}.")
    return provider


def _check_version(session: Session, patient_id: int, expected: int | None) -> None:
    """Refuse a change based on an older view of the patient's assignment (names the panel, not the patient)."""
    if expected is None:
        return
    current = _current_provider_id(session, patient_id)
    what = f"{_provider_or_error(session, current).display_name}'s panel" if current else "The patient's panel"
    check_assignment_version(session, patient_id, expected, what=what)


def _current_provider_id(session: Session, patient_id: int) -> int | None:
    return session.scalar(select(m.Assignment.provider_id).where(m.Assignment.patient_id == patient_id))


def reassign_patient(
    session: Session,
    patient_id: int,
    provider_id: int | None,
    *,
    reason: str,
    user: str | None = None,
    as_of: dt.date | None = None,
    cut: str = CUT_MANUAL,
    expected_version: int | None = None,
) -> AssignmentChange:
    """Put a patient on ``provider_id``'s panel by hand (``None``: take them off any panel).

    The reason is required and goes to the history with ``user``. Assigning to a
    provider who cannot hold a panel is refused. Confirmations of the old assignment
    do not carry over. ``expected_version`` is the assignment version the user saw
    (``assignment_for(...).version``, 0 when unassigned): a newer one raises
    ``concurrency.Conflict`` naming who changed it, and nothing is written.
    """
    if not reason or not reason.strip():
        raise EmpanelmentError("Say why the patient is reassigned (it goes in the history).")
    begin_write(session)
    _patient_or_error(session, patient_id)
    _check_version(session, patient_id, expected_version)
    if provider_id is not None:
        provider = _provider_or_error(session, provider_id)
        settings = load_settings(session)
        holders = panel_providers(session, settings=settings)
        if not bool(holders.loc[holders["id"] == provider_id, "holds_panel"].any()):
            raise EmpanelmentError(
                f"{provider.display_name} does not hold a panel (inactive, or specialty "
                f"'{provider.specialty or 'none'}'); set 'can hold a panel' for them first."
            )
    current = _current_provider_id(session, patient_id)
    if current == provider_id:
        return AssignmentChange(patient_id, current, provider_id, False, reason)
    _apply_changes(
        session,
        patient_ids=np.array([patient_id]),
        old=np.array([current if current is not None else NO_PROVIDER]),
        new=np.array([provider_id if provider_id is not None else NO_PROVIDER]),
        cuts=[cut if provider_id is not None else None],
        reasons=[reason.strip()],
        effective_on=_today(as_of),
        user=user,
        review_id=None,
        now=dt.datetime.now(),
    )
    return AssignmentChange(patient_id, current, provider_id, True, reason.strip())


@dataclass
class ConfirmationResult:
    """A recorded confirmation and what it did to the patient's assignment."""

    confirmation_id: int
    patient_id: int
    provider_id: int | None
    party: str
    outcome: str
    assignment_changed: bool
    message: str


def confirm_assignment(
    session: Session,
    patient_id: int,
    *,
    by: str,
    outcome: str | None = None,
    provider_id: int | None = None,
    method: str | None = None,
    reason: str | None = None,
    user: str | None = None,
    as_of: dt.date | None = None,
    recorded_at: dt.datetime | None = None,
    expected_version: int | None = None,
) -> ConfirmationResult:
    """Record what a provider or a patient said about the patient's assignment.

    ``by="provider"`` (reviewing their panel list): outcome "mine" (default) confirms the
    assignment to ``provider_id`` (default: the current provider; an unassigned patient is
    put on that provider's panel); "not-mine" (with a reason) takes away the provider's
    confirmation, and the next review proposes another provider or a drop.

    ``by="patient"`` (at scheduling or check-in): "confirmed" (default) confirms the
    current provider; "changed" records ``provider_id`` as the patient's preference and
    moves the patient to that panel at once (history: the patient's choice);
    "declined" records that the patient was asked and did not answer.

    ``as_of`` is the date recorded (default today), ``method`` one of ``METHODS``.
    ``expected_version``: as for ``reassign_patient``.
    """
    if by not in PARTIES:
        raise EmpanelmentError(f"--by must be 'patient' or 'provider', not {by!r}.")
    outcomes = PATIENT_OUTCOMES if by == "patient" else PROVIDER_OUTCOMES
    outcome = outcome or outcomes[0]
    if outcome not in outcomes:
        raise EmpanelmentError(f"A {by} confirmation is one of {', '.join(outcomes)}, not {outcome!r}.")
    if method is not None and method not in METHODS:
        raise EmpanelmentError(f"The method is one of {', '.join(METHODS)}, not {method!r}.")
    begin_write(session)
    patient = _patient_or_error(session, patient_id)
    if provider_id is not None:
        _provider_or_error(session, provider_id)
    _check_version(session, patient_id, expected_version)
    day = _today(as_of)
    now = recorded_at or dt.datetime.now()
    current = _current_provider_id(session, patient_id)
    provider_id = provider_id if provider_id is not None else current
    changed = False
    name_of = lambda pid: _provider_or_error(session, pid).display_name  # noqa: E731

    if outcome in ("confirmed", "mine", "not-mine") and provider_id is None:
        raise EmpanelmentError(
            f"Patient {patient.mrn} is on no panel; name the provider"
            + (" (or record --outcome changed with the provider the patient chose)." if by == "patient" else ".")
        )
    if outcome == "changed" and provider_id is None:
        raise EmpanelmentError("Name the provider the patient chose.")

    if outcome == "confirmed" and provider_id != current:
        raise EmpanelmentError(
            f"Patient {patient.mrn} is on {name_of(current) + chr(39) + 's' if current else 'no'} panel, not {name_of(provider_id)}'s; "
            "record --outcome changed if the patient chose that provider."
        )
    if outcome == "mine" and current is not None and provider_id != current:
        raise EmpanelmentError(
            f"Patient {patient.mrn} is on {name_of(current)}'s panel, not {name_of(provider_id)}'s; "
            "reassign the patient first, or record this from the current provider's list."
        )
    if outcome == "mine" and current is None:
        reassign_patient(
            session, patient_id, provider_id,
            reason=f"Confirmed as theirs by {name_of(provider_id)} on {day.isoformat()}",
            user=user, as_of=day,
        )
        changed = True
    if outcome == "changed":
        set_preference(session, patient_id, provider_id, user=user, method=method, as_of=day, recorded_at=now)
        if provider_id != current:
            how = f" ({method})" if method else ""
            reassign_patient(
                session, patient_id, provider_id,
                reason=f"Patient's preference, recorded {day.isoformat()}{how}" + (f" by {user}" if user else ""),
                user=user, as_of=day, cut=CUT_PREFERENCE,
            )
            changed = True

    confirmation = m.Confirmation(
        patient_id=patient_id,
        provider_id=provider_id,
        party=by,
        outcome=outcome,
        reason=(reason or None),
        method=method,
        user=user,
        recorded_on=day,
        recorded_at=now,
    )
    session.add(confirmation)
    session.flush()
    assignment = session.scalar(select(m.Assignment).where(m.Assignment.patient_id == patient_id))
    if assignment is not None and assignment.provider_id == provider_id:
        if outcome == "mine":
            assignment.provider_confirmed_on = day
        elif outcome == "not-mine":
            assignment.provider_confirmed_on = None
        elif outcome in ("confirmed", "changed"):
            assignment.patient_confirmed_on = day
        if outcome in ("mine", "not-mine", "confirmed", "changed"):
            assignment.version = (assignment.version or 0) + 1
    session.flush()
    messages = {
        "mine": "confirmed by the provider",
        "not-mine": "marked not theirs by the provider; the next review will propose another provider or a drop",
        "confirmed": "confirmed by the patient",
        "changed": "moved to the provider the patient chose" if changed else "the patient chose their current provider",
        "declined": "the patient declined to answer",
    }
    return ConfirmationResult(
        confirmation_id=confirmation.id,
        patient_id=patient_id,
        provider_id=provider_id,
        party=by,
        outcome=outcome,
        assignment_changed=changed,
        message=f"Patient {patient.mrn}: {messages[outcome]}.",
    )


def set_preference(
    session: Session,
    patient_id: int,
    provider_id: int,
    *,
    user: str | None = None,
    method: str | None = None,
    as_of: dt.date | None = None,
    recorded_at: dt.datetime | None = None,
) -> None:
    """Record the provider a patient asked for (replacing an earlier preference).

    It does not move the patient by itself: the next review assigns the preferred
    provider over the four cuts (``confirm_assignment(..., outcome="changed")`` also moves
    the patient at once).
    """
    _patient_or_error(session, patient_id)
    _provider_or_error(session, provider_id)
    existing = session.scalar(select(m.PatientPreference).where(m.PatientPreference.patient_id == patient_id))
    values = dict(
        provider_id=provider_id,
        recorded_on=_today(as_of),
        recorded_at=recorded_at or dt.datetime.now(),
        user=user,
        method=method,
    )
    if existing is None:
        session.add(m.PatientPreference(patient_id=patient_id, **values))
    else:
        for key, value in values.items():
            setattr(existing, key, value)
    session.flush()


def clear_preference(session: Session, patient_id: int) -> bool:
    """Forget a patient's recorded preference; True when there was one."""
    result = session.execute(delete(m.PatientPreference).where(m.PatientPreference.patient_id == patient_id))
    return bool(result.rowcount)


@dataclass
class AssignmentInfo:
    """A patient's panel as a check-in or patient screen shows it."""

    patient_id: int
    mrn: str
    provider_id: int | None
    provider: str | None
    provider_name: str | None
    cut: str | None
    reason: str | None
    assigned_on: dt.date | None
    provider_confirmed_on: dt.date | None
    patient_confirmed_on: dt.date | None
    preferred_provider: str | None
    version: int = 0  # pass back as expected_version when changing or confirming (0: unassigned)


def assignment_for(session: Session, patient_id: int) -> AssignmentInfo:
    """The patient's current assignment (all None when unassigned) and any preference."""
    patient = _patient_or_error(session, patient_id)
    a = session.scalar(select(m.Assignment).where(m.Assignment.patient_id == patient_id))
    pref = session.scalar(select(m.PatientPreference).where(m.PatientPreference.patient_id == patient_id))
    provider = session.get(m.Provider, a.provider_id) if a else None
    pref_provider = session.get(m.Provider, pref.provider_id) if pref else None
    return AssignmentInfo(
        patient_id=patient_id,
        mrn=patient.mrn,
        provider_id=a.provider_id if a else None,
        provider=provider.external_id if provider else None,
        provider_name=provider.display_name if provider else None,
        cut=a.cut if a else None,
        reason=a.reason if a else None,
        assigned_on=a.assigned_on if a else None,
        provider_confirmed_on=a.provider_confirmed_on if a else None,
        patient_confirmed_on=a.patient_confirmed_on if a else None,
        preferred_provider=pref_provider.external_id if pref_provider else None,
        version=(a.version or 0) if a else 0,
    )


@dataclass
class HistoryEntry:
    changed_at: dt.datetime
    effective_on: dt.date
    from_provider: str | None
    from_provider_name: str | None
    to_provider: str | None
    to_provider_name: str | None
    cut: str | None
    reason: str
    user: str | None
    review_id: int | None


def assignment_history(session: Session, patient_id: int) -> list[HistoryEntry]:
    """Every change of the patient's assignment, oldest first."""
    h = m.AssignmentHistory
    old = m.Provider.__table__.alias("old")
    new = m.Provider.__table__.alias("new")
    rows = session.execute(
        select(
            h.changed_at, h.effective_on, old.c.external_id, old.c.display_name, new.c.external_id,
            new.c.display_name, h.cut, h.reason, h.user, h.review_id,
        )
        .outerjoin(old, old.c.id == h.from_provider_id)
        .outerjoin(new, new.c.id == h.to_provider_id)
        .where(h.patient_id == patient_id)
        .order_by(h.changed_at, h.id)
    ).all()
    return [HistoryEntry(*row) for row in rows]


# --------------------------------------------------------------------------- inactivation


@dataclass
class InactivationSuggestion:
    patient_id: int
    mrn: str
    name: str
    kind: str  # deceased, moved, inactive, not-seen
    reason: str
    last_visit: dt.date | None
    provider: str | None  # the panel the patient is on (external id)


def suggest_inactivations(session: Session, *, as_of: dt.date, years: int | None = None) -> list[InactivationSuggestion]:
    """Patients to take off the panels: died, moved, marked inactive, or not seen for years.

    - active patients with a deceased date on or before ``as_of``;
    - deceased, moved or inactive patients still on a panel;
    - active patients whose last completed visit (not emergency, inpatient or urgent
      care) is more than ``years`` (default: the practice setting, 3) before ``as_of``,
      or who have no visit at all, unless they have an appointment booked from ``as_of`` on.
    """
    settings = load_settings(session)
    rules = _rules_for(settings, None)
    years = int(years if years is not None else settings.inactive_after_years)
    cutoff = _months_before(as_of, 12 * years)
    p, a, v = m.Patient, m.Assignment, m.Visit
    patients = _read(
        session,
        select(p.id, p.mrn, p.last_name, p.first_name, p.status, p.deceased_date, m.Provider.external_id)
        .outerjoin(a, a.patient_id == p.id)
        .outerjoin(m.Provider, m.Provider.id == a.provider_id),
        ["patient_id", "mrn", "last_name", "first_name", "status", "deceased_date", "provider"],
    )
    if patients.empty:
        return []
    seen_stmt = (
        select(v.patient_id, func.max(v.start))
        .where(v.status == m.VisitStatus.COMPLETED.value, v.start < _day_start(as_of + dt.timedelta(days=1)))
        .group_by(v.patient_id)
    )
    if rules.excluded_classes:
        seen_stmt = seen_stmt.where(v.visit_class.not_in(sorted(rules.excluded_classes)))
    seen = _read(session, seen_stmt, ["patient_id", "last_visit"])
    booked = set(
        session.scalars(
            select(v.patient_id)
            .where(v.status.in_((m.VisitStatus.SCHEDULED.value, m.VisitStatus.ARRIVED.value)), v.start >= _day_start(as_of))
            .distinct()
        )
    )
    df = patients.merge(seen, on="patient_id", how="left")
    df["deceased_date"] = pd.to_datetime(df["deceased_date"])
    df["last_visit"] = pd.to_datetime(df["last_visit"], format="ISO8601")
    df["name"] = _full_name(df["last_name"], df["first_name"])
    active = df["status"] == m.PatientStatus.ACTIVE.value
    on_panel = df["provider"].notna()
    died = active & df["deceased_date"].notna() & (df["deceased_date"] <= pd.Timestamp(as_of))
    flagged = ~active & on_panel & ~died_after(df["status"], df["deceased_date"], as_of)
    unseen = (
        active
        & ~died
        & (df["last_visit"].isna() | (df["last_visit"] < pd.Timestamp(cutoff)))
        & ~df["patient_id"].isin(booked)
    )
    out: list[InactivationSuggestion] = []
    for row in df[died | flagged | unseen].itertuples(index=False):
        last = row.last_visit.date() if pd.notna(row.last_visit) else None
        if row.status == m.PatientStatus.ACTIVE.value and pd.notna(row.deceased_date) and row.deceased_date <= pd.Timestamp(as_of):
            kind, reason = "deceased", f"Died {row.deceased_date.date().isoformat()}"
        elif row.status != m.PatientStatus.ACTIVE.value:
            kind = row.status
            label = {"deceased": "Deceased", "moved": "Moved away", "inactive": "Inactive"}.get(row.status, row.status)
            reason = f"{label} but still on a panel"
        elif last is None:
            kind, reason = "not-seen", "No visit on record"
        else:
            kind, reason = "not-seen", f"Not seen since {last.isoformat()} (more than {_plural(years, 'year')})"
        out.append(
            InactivationSuggestion(
                patient_id=int(row.patient_id), mrn=row.mrn, name=row.name, kind=kind, reason=reason,
                last_visit=last, provider=row.provider if isinstance(row.provider, str) else None,
            )
        )
    out.sort(key=lambda s: (s.kind, s.name, s.mrn))
    return out


@dataclass
class InactivationResult:
    inactivated: int
    dropped_from_panels: int


def inactivate_patients(
    session: Session,
    patient_ids: Iterable[int],
    *,
    as_of: dt.date,
    user: str | None = None,
    reason: str | None = None,
) -> InactivationResult:
    """Mark patients inactive and take them off their panels; their history stays.

    A patient with a deceased date (or already deceased) becomes "deceased", a moved
    patient stays "moved", anyone else becomes "inactive". Each panel removal is written
    to the history with ``reason`` (default: the new status).
    """
    ids = sorted({int(i) for i in patient_ids})
    if not ids:
        return InactivationResult(0, 0)
    p = m.Patient
    rows: list[tuple] = []
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        rows += session.execute(select(p.id, p.status, p.deceased_date).where(p.id.in_(chunk))).all()
    df = pd.DataFrame(rows, columns=["id", "status", "deceased_date"])
    if len(df) != len(ids):
        missing = sorted(set(ids) - set(df["id"]))
        raise EmpanelmentError(f"There is no patient with id {', '.join(map(str, missing[:5]))}.")
    new_status = np.where(
        df["deceased_date"].notna() | (df["status"] == m.PatientStatus.DECEASED.value),
        m.PatientStatus.DECEASED.value,
        np.where(df["status"] == m.PatientStatus.MOVED.value, m.PatientStatus.MOVED.value, m.PatientStatus.INACTIVE.value),
    )
    now = dt.datetime.now()
    changed = df.assign(status=new_status, updated_at=now)
    session.flush()
    bulk_update(session.connection(), p.__table__, changed[["id", "status", "updated_at"]])
    current = _load_current(session)
    on_panel = current[current["patient_id"].isin(ids)].merge(
        changed.rename(columns={"id": "patient_id"})[["patient_id", "status"]], on="patient_id"
    )
    if not on_panel.empty:
        reasons = [reason or f"Left the panel: patient {s}" for s in on_panel["status"]]
        _apply_changes(
            session,
            patient_ids=on_panel["patient_id"].to_numpy(),
            old=on_panel["cur"].to_numpy(),
            new=np.full(len(on_panel), NO_PROVIDER),
            cuts=[None] * len(on_panel),
            reasons=reasons,
            effective_on=as_of,
            user=user,
            review_id=None,
            now=now,
        )
    _expire(session, m.Patient, m.Assignment)
    return InactivationResult(inactivated=len(df), dropped_from_panels=len(on_panel))


# --------------------------------------------------------------------------- lists and export


def assignments_frame(
    session: Session, *, provider_id: int | None = None, include_unassigned: bool = True, as_of: dt.date | None = None
) -> pd.DataFrame:
    """Active patients with their panel: the panel list and the PM export, in one query.

    Columns: patient_id, mrn, last_name, first_name, dob, sex, provider_id, provider,
    provider_npi, provider_name, status (confirmed, provider-confirmed, patient-confirmed,
    assigned, unassigned), cut, reason, assigned_on, provider_confirmed_on,
    patient_confirmed_on. ``provider_id`` limits it to one panel.
    """
    p, a, pr = m.Patient, m.Assignment, m.Provider
    stmt = (
        select(
            p.id, p.mrn, p.last_name, p.first_name, p.dob, p.sex, a.provider_id, pr.external_id, pr.npi,
            pr.display_name, a.cut, a.reason, a.assigned_on, a.provider_confirmed_on, a.patient_confirmed_on,
        )
        .outerjoin(a, a.patient_id == p.id)
        .outerjoin(pr, pr.id == a.provider_id)
        # With as_of: the patients alive and active then (a later death does not count yet).
        .where(p.status == m.PatientStatus.ACTIVE.value if as_of is None else alive_and_active_on(as_of, p))
        .order_by(p.last_name, p.first_name, p.mrn)
    )
    if provider_id is not None:
        stmt = stmt.where(a.provider_id == provider_id)
    elif not include_unassigned:
        stmt = stmt.where(a.provider_id.is_not(None))
    df = _read(
        session,
        stmt,
        [
            "patient_id", "mrn", "last_name", "first_name", "dob", "sex", "provider_id", "provider", "provider_npi",
            "provider_name", "cut", "reason", "assigned_on", "provider_confirmed_on", "patient_confirmed_on",
        ],
    )
    both = df["provider_confirmed_on"].notna() & df["patient_confirmed_on"].notna()
    status = np.select(
        [df["provider_id"].isna(), both, df["provider_confirmed_on"].notna(), df["patient_confirmed_on"].notna()],
        ["unassigned", "confirmed", "provider-confirmed", "patient-confirmed"],
        default="assigned",
    )
    df.insert(10, "status", status)
    return df


EXPORT_COLUMNS = (
    "mrn", "last_name", "first_name", "dob", "provider_npi", "provider_name", "provider_id", "status", "cut",
    "assigned_on", "provider_confirmed_on", "patient_confirmed_on",
)


def export_assignments(session: Session, path: str | os.PathLike[str]) -> int:
    """Write every active patient's panel to a CSV for loading back into the PM system.

    Columns: MRN, name, DOB, provider NPI and name, the provider's external id, status,
    cut and the assigned / confirmed dates (ISO). Unassigned patients have empty provider
    columns and status "unassigned". Returns the number of patients written. This file
    holds patient data: it is written only where the user asked.
    """
    df = assignments_frame(session)
    out = df.rename(columns={"provider": "provider_external_id"})
    columns = [c if c != "provider_id" else "provider_external_id" for c in EXPORT_COLUMNS]
    out = out[columns]
    for column in ("dob", "assigned_on", "provider_confirmed_on", "patient_confirmed_on"):
        out[column] = [_iso(v) for v in out[column]]
    from panelmanager.core.safe_export import write_csv

    write_csv(path, columns, out.itertuples(index=False, name=None))
    return len(out)


def find_provider(session: Session, key: str) -> m.Provider:
    """A provider by external id, NPI, or registry id (in that order)."""
    key = str(key).strip()
    pr = m.Provider
    found = list(session.scalars(select(pr).where(pr.external_id == key)))
    if not found:
        found = list(session.scalars(select(pr).where(pr.npi == key)))
    if not found and key.isdigit():
        one = session.get(pr, int(key))
        found = [one] if one is not None else []
    if not found:
        raise EmpanelmentError(f"There is no provider with id or NPI {key!r}.")
    if len(found) > 1:
        raise EmpanelmentError(f"{len(found)} providers have the id {key!r}; use the NPI or the registry id.")
    return found[0]


def find_patient(session: Session, mrn: str) -> m.Patient:
    """A patient by MRN."""
    patient = session.scalar(select(m.Patient).where(m.Patient.mrn == str(mrn).strip()))
    if patient is None:
        raise EmpanelmentError(f"There is no patient with MRN {mrn!r}.")
    return patient
