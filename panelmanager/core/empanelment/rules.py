"""Who can hold a panel, which visits count, and the look-back window.

The rules are ``resources/panel_specialties.toml`` (Safety Net Medical Home
Initiative empanelment guide, Part 2), overridden by the practice setting
``panel_specialties``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.empanelment.base import (
    EmpanelmentError,
    _months_before,
    _read,
)
from panelmanager.core.resources import ResourceError, load_toml, resource_path
from panelmanager.core.settings import PracticeSettings, load_settings

_SPECIALTIES_FILE = "panel_specialties.toml"


def _norm(text: object) -> str:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    return re.sub(r"[^a-z0-9]+", " ", str(text).lower()).strip()


@dataclass(frozen=True)
class PanelRules:
    """Who can hold a panel and which visits count, from ``resources/panel_specialties.toml``.

    Visits are judged by their class alone: Synthea's ENCOUNTERCLASS, or the class the PM
    importer gave the appointment type (``resources/import_profiles/visit_types.toml``).
    """

    specialties: frozenset[str]
    credentials_without_specialty: frozenset[str]
    primary_care_classes: frozenset[str]
    excluded_classes: frozenset[str]
    well_classes: frozenset[str]

    @property
    def counted_classes(self) -> list[str]:
        """The visit classes the engine counts, sorted (for SQL ``IN``)."""
        return sorted(self.primary_care_classes - self.excluded_classes)

    @property
    def counted_well_classes(self) -> list[str]:
        return sorted(self.well_classes & set(self.counted_classes))

    def holds_panel_by_default(self, specialty: object, credentials: object) -> bool:
        """True when a provider's specialty (or, lacking one, credentials) is a panel-holding one."""
        spec = _norm(specialty)
        if spec:
            return spec in self.specialties
        creds = {_norm(c) for c in re.split(r"[,;/ ]+", str(credentials or "")) if c}
        return bool(creds & self.credentials_without_specialty)

    def classify(self, visit_class: object) -> tuple[bool, bool]:
        """(counts as primary care, is a well visit) for a visit class."""
        klass = _norm(visit_class).replace(" ", "")
        primary = klass in self.counted_classes
        return primary, primary and klass in self.well_classes


_RULES_CACHE: dict[tuple[str, float, tuple[str, ...]], PanelRules] = {}


def load_panel_rules(path: Path | None = None, *, specialties: Sequence[str] | None = None) -> PanelRules:
    """Read the panel rules; ``specialties`` (the practice setting) replaces the file's list.

    Raises ``ResourceError`` naming the file and the key when the file is malformed.
    """
    path = path or resource_path(_SPECIALTIES_FILE)
    override = tuple(specialties or ())
    try:
        key = (str(path), path.stat().st_mtime, override)
    except OSError:
        raise ResourceError(f"{path}: file not found.") from None
    cached = _RULES_CACHE.get(key)
    if cached is not None:
        return cached
    data = load_toml(path)

    def strings(section: str, name: str) -> list[str]:
        value = data.get(section, {}).get(name)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ResourceError(f"{path}: [{section}] {name} must be a list of strings.")
        return value

    def classes(name: str) -> frozenset[str]:
        return frozenset(_norm(v).replace(" ", "") for v in strings("visits", name))

    rules = PanelRules(
        specialties=frozenset(_norm(s) for s in (override or strings("panel", "specialties"))),
        credentials_without_specialty=frozenset(_norm(c) for c in strings("panel", "credentials_without_specialty")),
        primary_care_classes=classes("primary_care_classes"),
        excluded_classes=classes("excluded_classes"),
        well_classes=classes("well_classes"),
    )
    if not rules.counted_classes:
        raise ResourceError(f"{path}: [visits] primary_care_classes names no class that counts.")
    _RULES_CACHE[key] = rules
    return rules


def _rules_for(settings: PracticeSettings, rules: PanelRules | None) -> PanelRules:
    return rules or load_panel_rules(specialties=settings.panel_specialties or None)


def panel_providers(session: Session, *, rules: PanelRules | None = None, settings: PracticeSettings | None = None) -> pd.DataFrame:
    """Every provider with ``holds_panel``: active and (own setting, else specialty) a panel holder.

    Columns: id, external_id, npi, display_name, specialty, credentials, active,
    can_hold_panel, holds_panel, panel_open, fte, clinic_days_per_year, visits_per_day.
    """
    settings = settings or load_settings(session)
    rules = _rules_for(settings, rules)
    p = m.Provider
    frame = _read(
        session,
        select(
            p.id, p.external_id, p.npi, p.display_name, p.specialty, p.credentials, p.active,
            p.can_hold_panel, p.panel_open, p.fte, p.clinic_days_per_year, p.visits_per_day,
        ).order_by(p.id),
        [
            "id", "external_id", "npi", "display_name", "specialty", "credentials", "active",
            "can_hold_panel", "panel_open", "fte", "clinic_days_per_year", "visits_per_day",
        ],
    )
    holds = []
    for spec, creds, own, active in zip(frame["specialty"], frame["credentials"], frame["can_hold_panel"], frame["active"]):
        default = rules.holds_panel_by_default(spec, creds)
        decided = default if own is None or pd.isna(own) else bool(own)
        holds.append(bool(decided) and (active is None or pd.isna(active) or bool(active)))
    frame["holds_panel"] = pd.Series(holds, index=frame.index, dtype=bool)
    return frame


# --------------------------------------------------------------------------- the window


def window_start_for(as_of: dt.date, lookback_months: int) -> dt.date:
    """First day of the look-back window: ``lookback_months`` calendar months before ``as_of``.

    The window runs from this day through ``as_of``, both included.
    """
    if lookback_months < 1:
        raise EmpanelmentError("The look-back must be at least one month.")
    return _months_before(as_of, lookback_months)
