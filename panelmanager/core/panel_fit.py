"""Does a panel fit a patient? The one rule behind every preselected PCP (check-in, Reassign).

A panel fits when it is open and the patient's age is within the panel's age limits
(``resources/panel_age_limits.toml``: a pediatric panel up to 21, internal medicine from 18).
``default_pcp`` preselects the first candidate (the 4-cut proposal, then the provider
being seen) that fits; otherwise nobody, and the user must pick. Choosing a closed or
unfitting panel is allowed, with a reason (``panel_fit(...).reason`` says what is wrong).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.resources import ResourceError, load_toml, resource_path

__all__ = ["AgeLimit", "PanelFit", "default_pcp", "load_age_limits", "panel_fit", "proposed_provider"]

_FILE = "panel_age_limits.toml"


class _Choice(Protocol):
    # Read-only, so frozen dataclasses (schedule.PanelProvider) and ORM rows both fit.
    @property
    def id(self) -> int: ...
    @property
    def panel_open(self) -> bool: ...
    @property
    def specialty(self) -> str | None: ...


@dataclass(frozen=True)
class AgeLimit:
    specialties: frozenset[str]
    min_age: int | None = None
    max_age: int | None = None


@dataclass(frozen=True)
class PanelFit:
    fits: bool
    reason: str | None = None  # "the panel is closed", "the panel is Pediatrics (up to age 21); the patient is 33"


def _norm(text: object) -> str:
    return re.sub(r"[^a-z0-9]+", " ", str(text or "").lower()).strip()


_CACHE: dict[tuple[str, float], tuple[AgeLimit, ...]] = {}


def load_age_limits(path: Path | None = None) -> tuple[AgeLimit, ...]:
    """The age limits per specialty; a malformed file is a ``ResourceError`` naming it."""
    path = path or resource_path(_FILE)
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError:
        raise ResourceError(f"{path}: file not found.") from None
    if key in _CACHE:
        return _CACHE[key]
    limits = []
    for n, entry in enumerate(load_toml(path).get("limit", []), start=1):
        names = entry.get("specialties")
        low, high = entry.get("min_age"), entry.get("max_age")
        if not isinstance(names, list) or not all(isinstance(s, str) for s in names):
            raise ResourceError(f"{path}: [[limit]] number {n}: specialties must be a list of strings.")
        for value, name in ((low, "min_age"), (high, "max_age")):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ResourceError(f"{path}: [[limit]] number {n}: {name} must be a whole number of years.")
        limits.append(AgeLimit(frozenset(_norm(s) for s in names), low, high))
    _CACHE[key] = tuple(limits)
    return _CACHE[key]


def panel_fit(panel_open: bool, specialty: str | None, age: int | None,
              limits: Sequence[AgeLimit] | None = None) -> PanelFit:
    """Whether a panel (open or closed, its specialty) fits a patient of ``age`` (None: unknown)."""
    if not panel_open:
        return PanelFit(False, "the panel is closed")
    spec = _norm(specialty)
    for limit in load_age_limits() if limits is None else limits:
        if spec not in limit.specialties:
            continue
        if age is None:
            return PanelFit(False, f"the panel is {specialty}, and the patient's age is not known")
        if limit.max_age is not None and age > limit.max_age:
            return PanelFit(False, f"the panel is {specialty} (up to age {limit.max_age}); the patient is {age}")
        if limit.min_age is not None and age < limit.min_age:
            return PanelFit(False, f"the panel is {specialty} (from age {limit.min_age}); the patient is {age}")
    return PanelFit(True)


def default_pcp(choices: Sequence[_Choice], candidates: Iterable[int | None], age: int | None, *,
                exclude: int | None = None) -> int | None:
    """The first of ``candidates`` that holds a panel, is not ``exclude`` and fits; else None (user picks)."""
    by_id = {c.id: c for c in choices}
    for candidate in candidates:
        choice = by_id.get(candidate) if candidate is not None else None
        if choice is None or choice.id == exclude:
            continue
        if panel_fit(choice.panel_open, choice.specialty, age).fits:
            return choice.id
    return None


def proposed_provider(session: Session, patient_id: int) -> int | None:
    """The 4-cut proposal still waiting for a decision in the latest review that has one for the patient."""
    item = m.PanelReviewItem
    return session.scalar(
        select(item.new_provider_id)
        .where(item.patient_id == patient_id, item.decision == "pending", item.new_provider_id.is_not(None))
        .order_by(item.review_id.desc())
        .limit(1)
    )
