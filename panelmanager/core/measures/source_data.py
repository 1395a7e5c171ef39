"""Whether the registry holds the data a measure reads at all (issue 9, item 11).

A registry whose exports carried no lab results shows every diabetic as "no A1c"; one
without vital signs shows every hypertensive as uncontrolled. Those open gaps are a
missing import, not the patients' care. ``measure_source_data`` says, per measure,
whether any record of the kind it needs exists in the registry (any patient, any date).
Observations mix kinds (lab results, vital signs, screening questionnaires), so an
observation satisfier needs at least one observation coded in its value set (a result
needs every component: systolic *and* diastolic); procedures, immunizations and
medications are judged by their table (a practice may have done no colonoscopy yet, but
an export with no procedures at all is missing them); a visit satisfier needs a
completed visit. A measure is "absent" when none of its ways of
closing the gap has any data. The dashboard, the ``gaps`` output and the huddle sheet
show the message instead of presenting those gaps as the patients' failure.

Cheap: one EXISTS probe per code for the big tables (covering indexes), one DISTINCT
read of the small ones; nothing per patient.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from panelmanager.core import models
from panelmanager.core.measures.definitions import MeasureDefinition, Satisfier, load_measures
from panelmanager.core.visibility import visible

__all__ = ["SourceData", "absent_source_data", "measure_source_data"]

@dataclass(frozen=True)
class SourceData:
    """For one measure: is its source data in the registry, and if not, what is missing."""

    measure: str
    title: str
    present: bool
    missing: str = ""  # "blood pressure readings (Systolic ..., Diastolic ...)"

    @property
    def message(self) -> str:
        if self.present:
            return ""
        return (
            f"{self.title}: source data absent - the registry holds no {self.missing}. "
            "Its open gaps show what was not imported, not the patients' care; import the data "
            "(lab results, vital signs, screenings) to evaluate it."
        )


_TABLES = {"procedure": "procedures", "immunization": "immunizations", "medication": "medications"}


def _satisfier_has_data(ctx, s: Satisfier) -> tuple[bool, str]:
    if s.kind == "observation" and s.valueset is not None:
        # Observations mix kinds (labs, vital signs, screenings): the value set's own codes decide.
        return bool(ctx.present_codes("observation", s.valueset)), f"{s.valueset.title} observations"
    if s.kind in _TABLES:
        # A practice may simply have done none of these yet: only an empty table is "absent".
        return ctx.has_rows(_TABLES[s.kind]), _TABLES[s.kind]
    if s.kind == "result":
        titles = [c.valueset.title for c in s.components]
        found = all(ctx.present_codes("observation", c.valueset) for c in s.components)
        return found, f"{' and '.join(titles)} results"
    if s.kind == "doses":
        return ctx.has_rows("immunizations"), "immunizations"
    if s.kind == "visit":
        v = models.Visit
        found = bool(ctx.session.scalar(select(exists().where(v.status == models.VisitStatus.COMPLETED.value, visible(v)))))
        return found, "completed visits"
    return True, ""  # appointments: having none booked is the finding itself


def measure_source_data(
    session: Session,
    measures: Sequence[MeasureDefinition] | None = None,
    *,
    as_of: dt.date | None = None,
    resources_dir=None,
) -> dict[str, SourceData]:
    """Per measure id: whether the registry holds any of the data the measure reads.

    ``measures`` defaults to every measure that loads. A read: nothing is written.
    """
    from panelmanager.core.measures.engine import EvaluationContext

    if measures is None:
        measures = load_measures(resources_dir)[0]
    ctx = EvaluationContext(session, as_of or dt.date.today(), None, 0)
    out: dict[str, SourceData] = {}
    for measure in measures:
        if measure.eligible.requires_open_gap:
            out[measure.id] = SourceData(measure.id, measure.title, True)
            continue
        present = False
        missing: list[str] = []
        for s in measure.satisfied_by:
            found, what = _satisfier_has_data(ctx, s)
            if found:
                present = True
                break
            if what and what not in missing:
                missing.append(what)
        out[measure.id] = SourceData(measure.id, measure.title, present, "" if present else ", ".join(missing))
    return out


def absent_source_data(session: Session, measures: Sequence[MeasureDefinition] | None = None, **kwargs) -> dict[str, SourceData]:
    """Only the measures whose source data is absent (what clients warn about)."""
    return {k: v for k, v in measure_source_data(session, measures, **kwargs).items() if not v.present}
