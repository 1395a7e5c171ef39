"""Practice settings: typed, versioned, stored in the registry's ``settings`` table.

One ``PracticeSettings`` dataclass holds everything a manager can change. It is saved
as JSON under the key ``practice`` with a schema version; ``_UPGRADES`` turns an
older saved form into the current one (Picard's habit), so settings survive upgrades.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmanager.core.actions import audited_service
from panelmanager.core.models import Setting
from panelmanager.core.permissions import require_current

SETTINGS_VERSION = 1
_KEY = "practice"


@dataclass
class PracticeSettings:
    practice_name: str = "Our Practice"
    practice_address: str = ""
    practice_phone: str = ""
    user_name: str = ""  # empty: the operating-system user
    as_of_override: dt.date | None = None
    lookback_months: int = 18
    review_period_months: int = 12
    inactive_after_years: int = 3
    due_soon_days: int = 60
    outreach_quiet_days: int = 30
    # Share of active patients that must be assigned / confirmed for milestone levels.
    milestone_assigned_threshold: float = 0.95
    milestone_confirmed_threshold: float = 0.80
    measure_goals: dict[str, float] = field(default_factory=dict)
    letters_one_per_gap: bool = False
    # Where the #10 envelope window falls on the unfolded letter, in inches from the
    # page's top-left corner (keys window_left, window_top, window_width, window_height;
    # missing keys take core.reports.letters.DEFAULT_WINDOW). Checked with the calibration page.
    letter_offsets_in: dict[str, float] = field(default_factory=dict)
    # Printing and outreach (issue 6). Image paths are files on this computer (PNG/JPG);
    # empty means none. An empty signer signs letters with the patient's provider's name.
    letter_logo_path: str = ""
    letter_signature_path: str = ""
    letter_signer_name: str = ""
    letter_signer_title: str = ""
    label_start_position: int = 1  # 1-30: first free label on a partly used Avery 5160 sheet
    # Empanelment (issue 3). Empty panel_specialties: the list in
    # resources/panel_specialties.toml; a provider's own can_hold_panel beats both.
    panel_specialties: list[str] = field(default_factory=list)
    # Capacity defaults for providers without their own figures (Murray & Davies 2007):
    # 4 clinic days a week x 46 weeks for 1.0 FTE, 20 visits a day; the visits per patient
    # per year fallback is used only while the registry has no assigned patient to measure.
    default_clinic_days_per_fte: float = 184.0
    default_visits_per_day: float = 20.0
    fallback_visits_per_patient_year: float = 3.0
    continuity_months: int = 12
    # Backups (issue 15): a daily copy in backups/ beside the registry when it is opened;
    # automatic copies older than backup_keep_days are removed (the newest always stays).
    backup_daily: bool = True
    backup_keep_days: int = 14
    # Idle lock (issue 14): after this many minutes without input the window hides patient data
    # until the user re-enters their password (HIPAA 164.312(a)(2)(iii) automatic logoff).
    idle_lock_minutes: int = 10


# A measure without a goal of its own in settings: most practices start from the HRSA UDS
# national averages, rounded (screenings and control around 70%); an inverse measure (HbA1c
# poor control) counts the patients doing badly, so its goal is a ceiling (about 20%).
DEFAULT_GOAL_PERCENT = 70.0
DEFAULT_INVERSE_GOAL_PERCENT = 20.0


def measure_goal(goals: Mapping[str, float], measure_id: str, *, inverse: bool = False) -> float:
    """The practice's goal for a measure in percent (a ceiling when ``inverse``), from
    ``PracticeSettings.measure_goals``; the defaults above until one is set."""
    value = goals.get(measure_id)
    if value is None or math.isnan(float(value)):
        return DEFAULT_INVERSE_GOAL_PERCENT if inverse else DEFAULT_GOAL_PERCENT
    return float(value)


def _upgrade(data: dict[str, Any], version: int) -> dict[str, Any]:
    # version -> function that returns the next version's dict. None yet: v1 is the first.
    _UPGRADES: dict[int, Any] = {}
    while version < SETTINGS_VERSION:
        data = _UPGRADES[version](data)
        version += 1
    return data


def load_settings(session: Session) -> PracticeSettings:
    row = session.scalar(select(Setting).where(Setting.key == _KEY))
    if row is None:
        return PracticeSettings()
    stored = json.loads(row.value)
    data = _upgrade(stored.get("data", {}), int(stored.get("version", 1)))
    known = {f.name: f for f in dataclasses.fields(PracticeSettings)}
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name not in known:
            continue  # a setting from a newer version: ignored here, kept in the row
        if name == "as_of_override" and value:
            value = dt.date.fromisoformat(value)
        values[name] = value
    return PracticeSettings(**values)


def settings_version(session: Session) -> int:
    """The version of the saved settings as a screen shows them (0: never saved)."""
    return session.scalar(select(Setting.version).where(Setting.key == _KEY)) or 0


@audited_service("settings", details=lambda _a, _k, changed: {"changed": list(changed)})
def save_settings(session: Session, settings: PracticeSettings, *, expected_version: int | None = None) -> tuple[str, ...]:
    """Save the practice settings; ``expected_version`` (``settings_version`` when the user
    opened them) refuses to overwrite settings another workstation saved meanwhile. Returns the
    names of the settings that changed (the audit entry lists them, not their values)."""
    require_current("settings")  # issue 14: refused unless the acting user's role may do this
    from panelmanager.core.concurrency import Conflict, begin_write

    begin_write(session)
    if expected_version is not None and settings_version(session) != expected_version:
        raise Conflict("The practice settings were changed on another workstation - reload and try again.")
    before = dataclasses.asdict(load_settings(session))
    data = dataclasses.asdict(settings)
    changed = tuple(k for k in data if data[k] != before.get(k))
    if settings.as_of_override:
        data["as_of_override"] = settings.as_of_override.isoformat()
    payload = json.dumps({"version": SETTINGS_VERSION, "data": data}, sort_keys=True)
    row = session.get(Setting, _KEY)
    if row is None:
        session.add(Setting(key=_KEY, value=payload, version=1))
    else:
        row.value = payload
        row.version = (row.version or 0) + 1
    return changed


def effective_as_of(settings: PracticeSettings, today: dt.date | None = None) -> dt.date:
    return settings.as_of_override or today or dt.date.today()
