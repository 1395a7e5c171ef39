"""Who was a living, active patient on a given date.

A registry imported today records a death that may lie after the date a list is worked
"as of": a patient who died on 2025-06-01 was alive on 2025-03-01 and belongs on that
date's panels, measure denominators and outreach lists. Importers mark such a patient
``status = "deceased"`` with the ``deceased_date``; this module is the one place that
turns (status, deceased_date, as_of) into "alive and active then", in SQL and in pandas.

A patient counts when either
- the status is active and there is no death on or before ``as_of``, or
- the status is deceased and the recorded death is after ``as_of``.
A deceased patient without a date, a moved or an inactive patient never counts.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import and_, or_

from panelmanager.core.models import Patient, PatientStatus

ACTIVE = PatientStatus.ACTIVE.value
DECEASED = PatientStatus.DECEASED.value


def alive_and_active_on(as_of: dt.date, patient=Patient):
    """SQL condition on ``patient`` (the model or an aliased table) for "alive and active on ``as_of``"."""
    status, died = patient.status, patient.deceased_date
    return or_(
        and_(status == ACTIVE, or_(died.is_(None), died > as_of)),
        and_(status == DECEASED, died.is_not(None), died > as_of),
    )


def alive_and_active_mask(status: pd.Series, deceased_date: pd.Series, as_of: dt.date) -> pd.Series:
    """The same rule over columns (``deceased_date`` as datetimes or dates)."""
    died = pd.to_datetime(deceased_date)
    later = died.notna() & (died > pd.Timestamp(as_of))
    return ((status == ACTIVE) & (died.isna() | later)) | ((status == DECEASED) & later)


def died_after(status: pd.Series, deceased_date: pd.Series, as_of: dt.date) -> pd.Series:
    """Marked deceased, but the death is after ``as_of``: alive on that date."""
    died = pd.to_datetime(deceased_date)
    return (status == DECEASED) & died.notna() & (died > pd.Timestamp(as_of))
