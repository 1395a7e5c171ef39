"""The main window: navigation between screens, registry and as-of date in the status bar."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMainWindow, QVBoxLayout, QWidget

from panelmanager.core.db import Registry, open_registry


class MainWindow(QMainWindow):
    def __init__(self, db: str | None = None, registry: Registry | None = None) -> None:
        super().__init__()
        self.registry = registry or open_registry(db)
        self.setWindowTitle(self.tr("Panel Manager"))
        self.resize(1200, 800)
        placeholder = QWidget()
        layout = QVBoxLayout(placeholder)
        title = QLabel(self.tr("Panel Manager"))
        title.setObjectName("placeholderTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title.setStyleSheet("font-size: 24pt; font-weight: 600;")
        body = QLabel(self.tr("The registry is ready. Import your practice's exports with 'panelmanager import'."))
        body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(1)
        layout.addWidget(title)
        layout.addWidget(body)
        layout.addStretch(2)
        self.setCentralWidget(placeholder)
        self.statusBar().showMessage(
            self.tr("Registry: {0}    As of: {1}").format(self.registry.location, dt.date.today().isoformat())
        )

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        self.registry.close()
        super().closeEvent(event)
