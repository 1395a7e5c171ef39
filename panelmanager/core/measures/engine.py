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
4-5 s of CPU on a quiet 2-core machine and 370 MB, two thirds of it in SQLite
(tests/benchmarks/bench_gaps.py and its README say where the rest goes).

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
from collections.abc import Iterable, Sequence

import pandas as pd
from sqlalchemy.orm import Session

from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, StepProgress, no_progress
from panelmanager.core.measures.context import EvaluationContext, _Context
from panelmanager.core.measures.definitions import MeasureDefinition, load_measures
from panelmanager.core.measures.frames import (
    DEFAULT_DUE_SOON_DAYS,
    RESULT_COLUMNS,
    STATUSES,
    _raw,
    _to_datetime,
    read_frame,
)
from panelmanager.core.measures.satisfiers import _eligible, _evaluate_measure

__all__ = [
    "DEFAULT_DUE_SOON_DAYS",
    "RESULT_COLUMNS",
    "STATUSES",
    "EvaluationContext",
    "evaluate_definitions",
    "evaluate_in_context",
    "evaluate_measures",
    "read_frame",
    "select_measures",
]

# The engine is split into modules (frames: reading; context: what is read; satisfiers:
# one measure); these names stay importable from here.
_REEXPORTED = (_raw, _to_datetime)


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
