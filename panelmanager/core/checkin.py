"""Reads the Check-in screen needs besides ``core.schedule``: whether the registry holds any
patient yet (the empty registry points to Import and the demo), and a day's schedule read
together with the data version that keys the screen's care-gap cache.

Clients never run SQL themselves (issue 11): what a screen asks of the registry is a core
function, callable from the GUI, the CLI and tests alike."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.schedule import day_schedule

if TYPE_CHECKING:  # pandas and the measures load after the first paint (start-up, issue 16)
    import pandas as pd


def registry_is_empty(session: Session) -> bool:
    """True while no patient has been imported (or generated) yet."""
    return session.scalar(select(m.Patient.id).limit(1)) is None


def schedule_with_version(session: Session, day: dt.date, provider_id: int | None = None) -> tuple[pd.DataFrame, str]:
    """``day_schedule`` for ``day`` (every provider, or one) and the registry's data version,
    read in one session so the two agree."""
    return day_schedule(session, day, provider_id), registry_data_version(session)


def registry_data_version(session: Session) -> str:
    """The registry's data version (``core.measures.data_version``) that keys the screen's
    care-gap cache; the measures package (and pandas) is imported on first use."""
    from panelmanager.core.measures import data_version

    return data_version(session)
