"""Reads the Check-in screen needs besides ``core.schedule``: whether the registry holds any
patient yet (the empty registry points to Import and the demo), and a day's schedule read
together with the data version that keys the screen's care-gap cache.

Clients never run SQL themselves (issue 11): what a screen asks of the registry is a core
function, callable from the GUI, the CLI and tests alike."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.measures import data_version
from panelmanager.core.schedule import day_schedule


def registry_is_empty(session: Session) -> bool:
    """True while no patient has been imported (or generated) yet."""
    return session.scalar(select(m.Patient.id).limit(1)) is None


def schedule_with_version(session: Session, day: dt.date, provider_id: int | None = None) -> tuple[pd.DataFrame, str]:
    """``day_schedule`` for ``day`` (every provider, or one) and the registry's data version,
    read in one session so the two agree."""
    return day_schedule(session, day, provider_id), data_version(session)
