"""What every screen shares: the open registry, the settings, the as-of date, and one
``changed`` signal that says what changed in the registry (like Anki's OpChanges), so a
screen refreshes only when something it shows changed.

``changed`` carries a frozenset of kinds: ``ASSIGNMENTS`` (panels, reviews, confirmations,
inactivation), ``GAPS`` (the care-gap cache), ``OUTREACH`` (contacts logged), ``SETTINGS``
(practice settings, the as-of date, providers) and ``IMPORT`` (patients and their data).
``notify_changed()`` with no kind means everything (a restore, a demo load)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from PySide6.QtCore import QObject, Signal

from panelmanager.core.db import Registry
from panelmanager.core.settings import PracticeSettings, effective_as_of, load_settings, save_settings

ASSIGNMENTS = "assignments"
GAPS = "gaps"
OUTREACH = "outreach"
SETTINGS = "settings"
IMPORT = "import"
ALL_KINDS: frozenset[str] = frozenset({ASSIGNMENTS, GAPS, OUTREACH, SETTINGS, IMPORT})


class AppContext(QObject):
    changed = Signal(object)  # frozenset of kinds: data in the registry changed, screens reload what they show
    settings_changed = Signal()

    def __init__(self, registry: Registry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        with registry.session() as session:
            self.settings: PracticeSettings = load_settings(session)

    @property
    def as_of(self) -> dt.date:
        return effective_as_of(self.settings)

    @property
    def user(self) -> str:
        """The logged-in user (issue 14); before any account exists, the settings' name or the computer login."""
        from panelmanager.core.permissions import acting_name

        return acting_name(self.settings.user_name)

    def read(self, action: str, fn, /, *args, patient_ids=None, details=None, **kwargs):
        """``fn(session, *args, **kwargs)`` for a screen: as the logged-in user through
        ``core.actions.read`` (permission checked, the view audited with the patients' ids);
        on a registry without accounts (no one logged in) a plain read."""
        from panelmanager.core.permissions import current_actor

        actor = current_actor()
        if actor is None or actor.is_system:
            with self.registry.session() as session:
                return fn(session, *args, **kwargs)
        from panelmanager.core.actions import read

        return read(self.registry, actor, action, fn, *args, patient_ids=patient_ids, details=details, **kwargs)

    def save_settings(self, settings: PracticeSettings) -> None:
        with self.registry.session() as session:
            save_settings(session, settings)
        self.settings = settings
        self.settings_changed.emit()
        self.changed.emit(frozenset({SETTINGS}))

    def notify_changed(self, *kinds: str | Iterable[str]) -> None:
        """Tell every screen what changed: ``notify_changed(ASSIGNMENTS)``; no kind: everything.
        When the settings may have changed outside ``save_settings`` (a demo load, a restore, another
        workstation), they are read again first, so screens, letters and the idle lock use the new ones."""
        changed = change_kinds(*kinds)
        if SETTINGS in changed:
            with self.registry.session() as session:
                settings = load_settings(session)
            if settings != self.settings:
                self.settings = settings
                self.settings_changed.emit()
        self.changed.emit(changed)


def change_kinds(*kinds: str | Iterable[str]) -> frozenset[str]:
    """The kinds named (strings or sets of strings); none named: every kind."""
    out: set[str] = set()
    for kind in kinds:
        out.update({kind} if isinstance(kind, str) else kind)
    unknown = out - ALL_KINDS
    if unknown:
        raise ValueError(f"Unknown change kind(s): {', '.join(sorted(unknown))}")
    return frozenset(out) if out else ALL_KINDS
