"""Panel lists and the PM export of every active patient's panel; provider and patient lookups.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.alive import alive_and_active_on
from panelmanager.core.empanelment.base import (
    _iso,
    _read,
)


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
    from panelmanager.core.actions import audited  # issue 14: the export is checked and audited, by patient id
    from panelmanager.core.safe_export import write_csv

    with audited(session, "export", details={"document": "assignments"}) as note:
        df = assignments_frame(session)
        out = df.rename(columns={"provider": "provider_external_id"})
        columns = [c if c != "provider_id" else "provider_external_id" for c in EXPORT_COLUMNS]
        out = out[columns]
        for column in ("dob", "assigned_on", "provider_confirmed_on", "patient_confirmed_on"):
            out[column] = [_iso(v) for v in out[column]]
        write_csv(path, columns, out.itertuples(index=False, name=None))
        note.patients(df["patient_id"])
        note.details["patients"] = len(out)
    return len(out)
