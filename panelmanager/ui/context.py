"""What every screen shares: the open registry, the settings, the as-of date, and one
"registry changed" signal that tells every screen to refresh after an import, a review
or a confirmation."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QObject, Signal

from panelmanager.core.db import Registry
from panelmanager.core.importers import default_user
from panelmanager.core.settings import PracticeSettings, effective_as_of, load_settings, save_settings


class AppContext(QObject):
    changed = Signal()  # data in the registry changed: screens reload what they show
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
        return self.settings.user_name or default_user()

    def save_settings(self, settings: PracticeSettings) -> None:
        with self.registry.session() as session:
            save_settings(session, settings)
        self.settings = settings
        self.settings_changed.emit()
        self.changed.emit()

    def notify_changed(self) -> None:
        self.changed.emit()
