"""Empanelment (being split into modules; see proposals.py)."""

from panelmanager.core.empanelment.proposals import *  # noqa: F401,F403
from panelmanager.core.empanelment.proposals import (  # noqa: F401
    ACTIONABLE_KINDS,
    METHODS,
    PATIENT_OUTCOMES,
    PROVIDER_OUTCOMES,
    _months_before,
    _read,
)
