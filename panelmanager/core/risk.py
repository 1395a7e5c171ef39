"""Risk stratification: tiers 1 (low) to 4 (complex) for every active patient, set-wise.

The rules are data (``resources/risk_tiers.toml``): points for each active chronic
condition group, a multimorbidity bonus, emergency visits and hospital stays in the
last 12 months, an uncontrolled HbA1c or blood pressure (read from the care-gap
measures), and age. The tier is the highest whose minimum the points reach.

A provider or nurse can override a patient's tier with a reason
(``override_risk_tier``); the computed tier is still computed and kept, and
``current_tiers`` shows both with the tier in force. Computed scores are cached per
as-of date (``risk_scores``) and recomputed when the registry or the rules change.
The empanelment issue's panel weighting can read ``current_tiers``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from panelmanager.core import models
from panelmanager.core.actions import argument, audited_service
from panelmanager.core.alive import alive_and_active_on
from panelmanager.core.concurrency import Conflict, begin_write, changed_by_text
from panelmanager.core.db import bulk_insert
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, StepProgress, no_progress
from panelmanager.core.measures.definitions import definitions_fingerprint, load_measures
from panelmanager.core.measures.engine import EvaluationContext, evaluate_in_context, read_frame, select_measures
from panelmanager.core.measures.gaps import data_version, prune_runs
from panelmanager.core.measures.valuesets import ValueSet, load_valuesets
from panelmanager.core.permissions import require_current
from panelmanager.core.resources import ResourceError, load_toml, resources_dir
from panelmanager.core.visibility import visible

__all__ = [
    "RISK_KIND",
    "RiskOverrideResult",
    "RiskRules",
    "compute_risk",
    "current_tiers",
    "score_tiers",
    "load_risk_rules",
    "override_risk_tier",
]

RISK_KIND = "risk"
TIERS = (1, 2, 3, 4)
TIER_COLUMNS = [
    "patient_id",
    "mrn",
    "score",
    "computed_tier",
    "override_tier",
    "tier",
    "reasons",
    "override_reason",
    "override_user",
    "override_at",
]


# --------------------------------------------------------------------------- the rules


@dataclass(frozen=True)
class ConditionGroup:
    label: str
    valueset: ValueSet
    points: float


@dataclass(frozen=True)
class RiskRules:
    path: Path
    lookback_months: int
    conditions: tuple[ConditionGroup, ...]
    condition_count: tuple[tuple[int, float], ...]  # (at_least, points), highest band applies
    emergency_points: float
    emergency_max: float
    inpatient_points: float
    inpatient_max: float
    control: tuple[tuple[str, str, float], ...]  # (label, measure id, points)
    age: tuple[tuple[int, float], ...]
    tiers: tuple[tuple[int, str, float], ...]  # (tier, label, min_points), ascending

    def tier_label(self, tier: int) -> str:
        return next((label for t, label, _ in self.tiers if t == tier), str(tier))


def _fail(path: Path, key: str, message: str) -> ResourceError:
    return ResourceError(f"{path}: key '{key}': {message}")


def _refuse_unknown_keys(path: Path, where: str, table: dict[str, Any], known: tuple[str, ...]) -> None:
    """A misspelt key in one entry is an error naming it and the keys that entry takes."""
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise _fail(path, where + unknown[0], f"unknown key (known keys here: {', '.join(known)}).")


def _number(path: Path, table: dict[str, Any], key: str, where: str, default: float | None = None) -> float:
    value = table.get(key, default)
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, f"{where}{key}", "must be a number.")
    return float(value)


def _bands(path: Path, data: dict[str, Any], key: str) -> tuple[tuple[int, float], ...]:
    items = data.get(key, [])
    if not isinstance(items, list):
        raise _fail(path, key, "must be a list of tables ([[...]]).")
    bands = []
    for i, item in enumerate(items, start=1):
        where = f"{key}[{i}]."
        _refuse_unknown_keys(path, where, item, ("at_least", "points"))
        bands.append((int(_number(path, item, "at_least", where)), _number(path, item, "points", where)))
    return tuple(sorted(bands))


def load_risk_rules(resources: Path | str | None = None) -> RiskRules:
    """Read and check ``resources/risk_tiers.toml``; errors name the file and key."""
    base = Path(resources) if resources is not None else resources_dir()
    path = base / "risk_tiers.toml"
    data = load_toml(path)
    known = {"source", "lookback_months", "conditions", "condition_count", "utilization", "control", "age", "tiers"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise _fail(path, unknown[0], f"unknown key (known keys: {', '.join(sorted(known))}).")
    source = data.get("source", {})
    if not isinstance(source, dict) or not source.get("approach"):
        raise _fail(path, "source.approach", "cite the approach these rules follow.")
    valuesets, _errors = load_valuesets(base)
    groups = []
    for i, item in enumerate(data.get("conditions", []), start=1):
        where = f"conditions[{i}]."
        _refuse_unknown_keys(path, where, item, ("label", "valueset", "points"))
        vs = valuesets.get(item.get("valueset", ""))
        if vs is None:
            raise _fail(path, where + "valueset", f"no value set named '{item.get('valueset')}' in resources/valuesets.")
        groups.append(ConditionGroup(str(item.get("label") or vs.title), vs, _number(path, item, "points", where)))
    utilization = data.get("utilization", {})
    unknown = sorted(set(utilization) - {"emergency_points", "emergency_max", "inpatient_points", "inpatient_max"})
    if unknown:
        raise _fail(path, f"utilization.{unknown[0]}", "unknown key.")
    control = []
    for i, item in enumerate(data.get("control", []), start=1):
        where = f"control[{i}]."
        _refuse_unknown_keys(path, where, item, ("label", "measure", "points"))
        if not isinstance(item.get("measure"), str):
            raise _fail(path, where + "measure", "name the measure id whose open gap means uncontrolled.")
        control.append((str(item.get("label") or item["measure"]), item["measure"], _number(path, item, "points", where)))
    tiers = []
    for i, item in enumerate(data.get("tiers", []), start=1):
        where = f"tiers[{i}]."
        tier = item.get("tier")
        if tier not in TIERS:
            raise _fail(path, where + "tier", "must be 1, 2, 3 or 4.")
        tiers.append((int(tier), str(item.get("label") or tier), _number(path, item, "min_points", where)))
    if sorted(t for t, _, _ in tiers) != list(TIERS):
        raise _fail(path, "tiers", "define each of the tiers 1, 2, 3 and 4 once.")
    tiers.sort()
    if [m for _, _, m in tiers] != sorted(m for _, _, m in tiers):
        raise _fail(path, "tiers", "min_points must rise with the tier.")
    lookback = data.get("lookback_months", 12)
    if not isinstance(lookback, int) or isinstance(lookback, bool) or lookback < 1:
        raise _fail(path, "lookback_months", "must be a whole number of months.")
    return RiskRules(
        path=path,
        lookback_months=lookback,
        conditions=tuple(groups),
        condition_count=_bands(path, data, "condition_count"),
        emergency_points=_number(path, utilization, "emergency_points", "utilization.", 0),
        emergency_max=_number(path, utilization, "emergency_max", "utilization.", 0),
        inpatient_points=_number(path, utilization, "inpatient_points", "utilization.", 0),
        inpatient_max=_number(path, utilization, "inpatient_max", "utilization.", 0),
        control=tuple(control),
        age=_bands(path, data, "age"),
        tiers=tuple(tiers),
    )


def _rules_version(resources) -> str:
    base = Path(resources) if resources is not None else resources_dir()
    digest = hashlib.sha256(definitions_fingerprint(base).encode())
    digest.update((base / "risk_tiers.toml").read_bytes())
    return digest.hexdigest()[:16]


# --------------------------------------------------------------------------- computing


def _band_points(values: pd.Series, bands: tuple[tuple[int, float], ...]) -> pd.Series:
    points = pd.Series(0.0, index=values.index)
    for at_least, band_points in bands:  # ascending: later bands overwrite
        points = points.mask(values >= at_least, band_points)
    return points


def _append(reasons: pd.Series, mask: pd.Series, text: pd.Series | str) -> pd.Series:
    """Add ``text`` to the reasons of the rows in ``mask``, separated by "; "."""
    piece = text if isinstance(text, pd.Series) else pd.Series(text, index=reasons.index)
    joined = reasons.where(reasons == "", reasons + "; ") + piece
    return reasons.where(~mask, joined)


def score_patients(
    session: Session,
    as_of: dt.date,
    *,
    resources_dir=None,
    patient_ids: Sequence[int] | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> pd.DataFrame:
    """Points, computed tier and reasons for every active patient, or just ``patient_ids`` (not stored)."""
    rules = load_risk_rules(resources_dir)
    steps = StepProgress(progress, 5, cancel)
    steps.step("Reading patients")
    ctx = EvaluationContext(session, as_of, sorted({int(i) for i in patient_ids}) if patient_ids is not None else None, 0)
    patients = ctx.patients()
    frame = pd.DataFrame({"patient_id": patients["patient_id"].to_numpy(), "mrn": patients["mrn"].to_numpy()})
    frame.index = frame["patient_id"].to_numpy()
    score = pd.Series(0.0, index=frame.index)
    reasons = pd.Series("", index=frame.index, dtype=object)

    steps.step("Chronic conditions")
    count = pd.Series(0, index=frame.index)
    names = pd.Series("", index=frame.index, dtype=object)
    for group in rules.conditions:
        has = frame.index.isin(ctx.active_condition_patients(group.valueset))
        has = pd.Series(has, index=frame.index)
        score += np.where(has, group.points, 0.0)
        count += has.astype(int)
        names = names.where(~has, names.where(names == "", names + ", ") + group.label)
    reasons = _append(reasons, count > 0, "chronic conditions: " + names)
    bonus = _band_points(count, rules.condition_count)
    score += bonus

    steps.step("Emergency and hospital use")
    since = ctx.months_before(rules.lookback_months)
    v = models.Visit
    use = read_frame(
        session,
        select(v.patient_id, v.visit_class, func.count())
        .where(
            v.status == models.VisitStatus.COMPLETED.value,
            v.visit_class.in_(["emergency", "inpatient"]),
            v.start >= since.to_pydatetime(),
            v.start < ctx.end,
            visible(v),
        )
        .group_by(v.patient_id, v.visit_class),
        ["patient_id", "visit_class", "n"],
    )
    use = use.astype({"patient_id": "int64", "n": "int64"})
    use = use.pivot_table(index="patient_id", columns="visit_class", values="n", aggfunc="sum", fill_value=0)
    er = use["emergency"].reindex(frame.index, fill_value=0) if "emergency" in use else pd.Series(0, index=frame.index)
    ip = use["inpatient"].reindex(frame.index, fill_value=0) if "inpatient" in use else pd.Series(0, index=frame.index)
    score += np.minimum(er * rules.emergency_points, rules.emergency_max)
    score += np.minimum(ip * rules.inpatient_points, rules.inpatient_max)
    reasons = _append(reasons, er > 0, er.astype(str) + " emergency visit(s)")
    reasons = _append(reasons, ip > 0, ip.astype(str) + " hospital stay(s)")

    steps.step("Blood sugar and blood pressure control")
    measure_ids = [measure for _label, measure, _points in rules.control]
    if measure_ids:
        # On the same context: patients and conditions are not read a second time.
        measures, _errors = load_measures(resources_dir)
        results = evaluate_in_context(ctx, select_measures(measures, measure_ids))
        for label, measure, points in rules.control:
            rows_m = results[results["measure"] == measure]
            uncontrolled = rows_m[
                (rows_m["status"] == "open") & rows_m["last_value"].notna() & (rows_m["last_date"] >= since)
            ]
            value = uncontrolled.set_index("patient_id")["last_value"].astype(str)
            hit = pd.Series(frame.index.isin(value.index), index=frame.index)
            score += np.where(hit, points, 0.0)
            text = pd.Series(label, index=frame.index) + " (" + value.reindex(frame.index).fillna("") + ")"
            reasons = _append(reasons, hit, text)

    steps.step("Age")
    age = patients.set_index("patient_id")["age"].reindex(frame.index)
    age_points = _band_points(age.fillna(-1), rules.age)
    score += age_points
    reasons = _append(reasons, age_points > 0, "age " + age.fillna(0).astype(int).astype(str))

    tier = pd.Series(rules.tiers[0][0], index=frame.index)
    for t, _label, minimum in rules.tiers:
        tier = tier.mask(score >= minimum, t)
    frame["score"] = score.to_numpy()
    frame["computed_tier"] = tier.astype(int).to_numpy()
    frame["reasons"] = reasons.where(reasons != "", "no risk factors on record").to_numpy()
    steps.finish("Risk scored")
    return frame.reset_index(drop=True)


def _risk_is_stale(session: Session, as_of: dt.date, resources) -> bool:
    run = session.scalar(select(models.MeasureRun).where(models.MeasureRun.kind == RISK_KIND, models.MeasureRun.as_of == as_of))
    return run is None or run.data_version != data_version(session) or run.definitions_version != _rules_version(resources)


def compute_risk(
    session: Session,
    as_of: dt.date,
    *,
    resources_dir=None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> pd.DataFrame:
    """Score every active patient as of ``as_of``, store the scores, return ``current_tiers``.

    Columns: patient_id, mrn, score, computed_tier, override_tier (NA when none), tier
    (the override when there is one, else the computed tier), reasons, override_reason,
    override_user, override_at.
    """
    version = data_version(session)
    frame = score_patients(session, as_of, resources_dir=resources_dir, progress=progress, cancel=cancel)
    cancel.raise_if_cancelled()
    computed_at = dt.datetime.now().replace(microsecond=0)
    session.execute(delete(models.RiskScore).where(models.RiskScore.as_of == as_of))
    bulk_insert(
        session.connection(),
        models.RiskScore.__table__,
        pd.DataFrame(
            {
                "as_of": pd.Series(pd.Timestamp(as_of), index=frame.index),
                "patient_id": frame["patient_id"],
                "score": frame["score"],
                "computed_tier": frame["computed_tier"],
                "reasons": frame["reasons"],
                "computed_at": pd.Series(pd.Timestamp(computed_at), index=frame.index),
            }
        ),
    )
    run = session.scalar(select(models.MeasureRun).where(models.MeasureRun.kind == RISK_KIND, models.MeasureRun.as_of == as_of))
    if run is None:
        run = models.MeasureRun(kind=RISK_KIND, as_of=as_of)
        session.add(run)
    run.computed_at = computed_at
    run.data_version = version
    run.definitions_version = _rules_version(resources_dir)
    run.patients = len(frame)
    run.rows = len(frame)
    session.flush()
    prune_runs(session, RISK_KIND, models.RiskScore)
    return _with_overrides(session, frame)


def score_tiers(
    session: Session, as_of: dt.date, patient_ids: Sequence[int] | None = None, *, resources_dir=None
) -> pd.DataFrame:
    """The ``current_tiers`` columns computed in memory and stored nowhere: a read, for sheets and screens.

    ``patient_ids`` limits the scoring to those patients (a day's huddle: a few dozen).
    Reads never write: storing scores is ``compute_risk``'s job, a deliberate refresh.
    """
    frame = score_patients(session, as_of, resources_dir=resources_dir, patient_ids=patient_ids)
    if patient_ids is not None:
        frame = frame[frame["patient_id"].isin([int(i) for i in patient_ids])]
    return _with_overrides(session, frame)


def _with_overrides(session: Session, scores: pd.DataFrame) -> pd.DataFrame:
    o = models.RiskOverride
    rows = session.execute(
        select(o.patient_id, o.tier, o.reason, o.user, o.recorded_at).where(o.active.is_(True), o.tier.isnot(None))
    ).all()
    overrides = pd.DataFrame.from_records(
        rows, columns=["patient_id", "override_tier", "override_reason", "override_user", "override_at"]
    )
    overrides = overrides.astype({"patient_id": "int64"}).sort_values("override_at").drop_duplicates("patient_id", keep="last")
    frame = scores.merge(overrides, on="patient_id", how="left")
    frame["override_tier"] = frame["override_tier"].astype("Int64")
    frame["tier"] = frame["override_tier"].fillna(frame["computed_tier"]).astype(int)
    for column in ("override_reason", "override_user"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame[TIER_COLUMNS]


def current_tiers(
    session: Session,
    as_of: dt.date,
    *,
    resources_dir=None,
    refresh: bool | None = None,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> pd.DataFrame:
    """Every active patient's tier as of ``as_of`` (scores recomputed when stale).

    Same columns as ``compute_risk``; ``tier`` is what the panel should use.
    """
    if refresh or (refresh is None and _risk_is_stale(session, as_of, resources_dir)):
        return compute_risk(session, as_of, resources_dir=resources_dir, progress=progress, cancel=cancel)
    r = models.RiskScore
    p = models.Patient
    scores = read_frame(
        session,
        select(r.patient_id, p.mrn, r.score, r.computed_tier, r.reasons)
        .join(p, p.id == r.patient_id)
        .where(r.as_of == as_of, alive_and_active_on(as_of, p)),
        ["patient_id", "mrn", "score", "computed_tier", "reasons"],
    )
    scores = scores.astype({"patient_id": "int64", "score": "float64", "computed_tier": "int64"})
    return _with_overrides(session, scores)


# --------------------------------------------------------------------------- overrides


@dataclass
class RiskOverrideResult:
    """What ``override_risk_tier`` recorded: the new tier (None: override cleared) and the one it replaced."""

    patient_id: int
    tier: int | None
    previous_override: int | None
    recorded_at: dt.datetime


@audited_service("risk_override", patients=argument("patient_id", 0), details=lambda _a, _k, r: {"tier": r.tier})
def override_risk_tier(
    session: Session,
    patient_id: int,
    tier: int | None,
    reason: str,
    user: str | None,
    *,
    now: dt.datetime | None = None,
    expected_version: int | None = None,
) -> RiskOverrideResult:
    """Set a patient's tier by hand (``tier`` 1-4) or clear the override (``tier=None``).

    The reason is required. Earlier overrides stay in the table, inactive, so the
    history of who decided what is kept; the computed tier is never changed.
    ``expected_version`` is ``risk_override_version`` as the user saw it: a newer
    override by someone else raises ``concurrency.Conflict`` and nothing is written.
    """
    require_current("risk_override")  # issue 14: refused unless the acting user's role may do this
    if tier is not None and tier not in TIERS:
        raise ValueError(f"a risk tier is 1, 2, 3 or 4, not {tier!r}")
    if not reason or not reason.strip():
        raise ValueError("give a reason for the risk tier override")
    begin_write(session)
    if session.get(models.Patient, patient_id) is None:
        raise ValueError(f"there is no patient with id {patient_id}")
    o = models.RiskOverride
    latest = session.execute(
        select(o.version, o.user, o.recorded_at).where(o.patient_id == patient_id).order_by(o.id.desc()).limit(1)
    ).first()
    version = latest.version if latest else 0
    if expected_version is not None and expected_version != version:
        raise Conflict(
            f"This patient's risk tier was changed by {changed_by_text(latest.user if latest else None, latest.recorded_at if latest else None)}"
            " - reload and try again."
        )
    previous = session.scalar(
        select(o.tier).where(o.patient_id == patient_id, o.active.is_(True)).order_by(o.recorded_at.desc(), o.id.desc())
    )
    session.execute(update(o).where(o.patient_id == patient_id, o.active.is_(True)).values(active=False))
    recorded_at = (now or dt.datetime.now()).replace(microsecond=0)
    session.add(
        models.RiskOverride(
            patient_id=patient_id, tier=tier, reason=reason.strip(), user=user, recorded_at=recorded_at, active=tier is not None,
            version=version + 1,
        )
    )
    session.flush()
    return RiskOverrideResult(patient_id=patient_id, tier=tier, previous_override=previous, recorded_at=recorded_at)


def risk_override_version(session: Session, patient_id: int) -> int:
    """The version of a patient's risk override as a screen shows it (0: never overridden)."""
    o = models.RiskOverride
    return session.scalar(select(o.version).where(o.patient_id == patient_id).order_by(o.id.desc()).limit(1)) or 0
