"""Counts of what the registry holds (``panelmanager stats``)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from panelmanager.core import models

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
    counts["active_patients"] = session.scalar(
        select(func.count()).select_from(models.Patient).where(models.Patient.status == models.PatientStatus.ACTIVE.value)
    ) or 0
    counts["scheduled_visits"] = session.scalar(
        select(func.count()).select_from(models.Visit).where(models.Visit.status == models.VisitStatus.SCHEDULED.value)
    ) or 0
    return counts
