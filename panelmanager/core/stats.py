"""Counts of what the registry holds (``panelmanager stats``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panelmanager.core import models
from panelmanager.core.visibility import PENDING_TABLES, hidden, visible

_COUNTED = {
    "patients": models.Patient,
    "providers": models.Provider,
    "locations": models.Location,
    "visits": models.Visit,
    "observations": models.Observation,
    "immunizations": models.Immunization,
    "procedures": models.Procedure,
    "conditions": models.Condition,
    "medications": models.Medication,
    "import_batches": models.ImportBatch,
    "rejected_rows": models.RejectedRow,
}


def registry_stats(session: Session) -> dict[str, int]:
    """One COUNT(*) per table, plus active patients and scheduled appointments."""
    counts = {name: session.scalar(select(func.count()).select_from(model)) or 0 for name, model in _COUNTED.items()}
    for name in PENDING_TABLES:  # an unfinished import's rows are not counted (a range of ids: usually empty)
        model = _COUNTED[name]
        counts[name] -= session.scalar(select(func.count()).select_from(model).where(hidden(model))) or 0
    counts["active_patients"] = session.scalar(
        select(func.count()).select_from(models.Patient).where(models.Patient.status == models.PatientStatus.ACTIVE.value)
    ) or 0
    counts["scheduled_visits"] = session.scalar(
        select(func.count()).select_from(models.Visit).where(
            models.Visit.status == models.VisitStatus.SCHEDULED.value, visible(models.Visit))
    ) or 0
    return counts
