"""A tiny hand-built practice for the care-gap tests (imported by tests/core/test_measures_*.py).

``Practice`` writes patients and their clinical events straight into a fresh registry
with the ORM, one row at a time (tests hold a few dozen rows): no importer involved,
so each test states exactly the record it is about. ``statuses`` evaluates one measure
and returns ``{mrn: row}``.
"""

from __future__ import annotations

import datetime as dt
import itertools

from panelmanager.core import models
from panelmanager.core.measures import evaluate_measures

AS_OF = dt.date(2024, 3, 15)
_keys = itertools.count(1)


def years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` earlier (Feb 29 becomes Feb 28)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def months_before(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _when(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time(10, 0))


class Practice:
    """Writes rows into ``registry``; every method returns the new row's id."""

    def __init__(self, registry):
        self.registry = registry

    def _add(self, row) -> int:
        with self.registry.session() as session:
            session.add(row)
            session.flush()
            return row.id

    def provider(self, name: str = "Dr Test", specialty: str | None = None) -> int:
        n = next(_keys)
        return self._add(models.Provider(source="test", external_id=f"prov{n}", display_name=name, specialty=specialty))

    def patient(self, mrn: str, dob: dt.date, sex: str = "F", status: str = "active") -> int:
        return self._add(models.Patient(mrn=mrn, dob=dob, sex=sex, status=status, source="test"))

    def visit(self, patient: int, start, visit_class: str = "wellness", status: str = "completed", provider: int | None = None) -> int:
        n = next(_keys)
        return self._add(
            models.Visit(
                patient_id=patient,
                provider_id=provider,
                source="test",
                external_id=f"v{n}",
                start=_when(start),
                visit_class=visit_class,
                status=status,
            )
        )

    def observation(self, patient: int, when, code: str, value=None, system: str = "LOINC", visit: int | None = None) -> int:
        number = None
        if value is not None:
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = None
        return self._add(
            models.Observation(
                patient_id=patient,
                source="test",
                natural_key=next(_keys),
                date=_when(when),
                code_system=system,
                code=code,
                value=None if value is None else str(value),
                value_num=number,
                visit_id=visit,
            )
        )

    def procedure(self, patient: int, when, code: str, system: str = "SNOMED") -> int:
        return self._add(
            models.Procedure(
                patient_id=patient, source="test", natural_key=next(_keys), date=_when(when), code_system=system, code=code
            )
        )

    def immunization(self, patient: int, when, cvx: str) -> int:
        return self._add(models.Immunization(patient_id=patient, source="test", natural_key=next(_keys), date=_when(when), cvx=cvx))

    def condition(self, patient: int, onset: dt.date, code: str, system: str = "SNOMED", resolved: dt.date | None = None) -> int:
        return self._add(
            models.Condition(
                patient_id=patient,
                source="test",
                natural_key=next(_keys),
                code_system=system,
                code=code,
                onset=onset,
                resolved=resolved,
            )
        )

    def medication(self, patient: int, start, code: str, stop=None) -> int:
        return self._add(
            models.Medication(
                patient_id=patient,
                source="test",
                natural_key=next(_keys),
                start=_when(start),
                stop=None if stop is None else _when(stop),
                code_system="RxNorm",
                code=code,
            )
        )


def statuses(registry, measure: str, as_of: dt.date = AS_OF, **kwargs) -> dict:
    """``{mrn: {"status", "due_date", "last_date", "last_code", "last_value"}}`` for one measure."""
    with registry.session() as session:
        frame = evaluate_measures(session, as_of, measure_ids=[measure], **kwargs)
    rows = {}
    for row in frame.to_dict(orient="records"):
        rows[row["mrn"]] = {
            "status": row["status"],
            "due_date": None if row["due_date"] is None or row["due_date"] != row["due_date"] else row["due_date"].date(),
            "last_date": None if row["last_date"] is None or row["last_date"] != row["last_date"] else row["last_date"].date(),
            "last_code": row["last_code"],
            "last_value": row["last_value"],
        }
    return rows
