"""First run: no registry yet. Offer to create an empty one, open an existing one, or load
a demo practice to explore."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)


class WelcomeDialog(QDialog):
    CREATE, OPEN, DEMO = "create", "open", "demo"

    def __init__(self, default_location: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Welcome to Panel Manager"))
        self.choice: str | None = None
        self.chosen_path: str | None = None
        layout = QVBoxLayout(self)
        title = QLabel(self.tr("Welcome to Panel Manager"))
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        layout.addWidget(title)
        intro = QLabel(
            self.tr(
                "Panel Manager keeps your practice's patient registry on this computer. "
                "There is no registry yet at:\n{0}"
            ).format(default_location)
        )
        intro.setWordWrap(True)
        intro.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(intro)

        self.create_button = QPushButton(self.tr("&Create an empty registry"))
        self.create_button.setToolTip(self.tr("Start here, then import your PM system's exports."))
        self.open_button = QPushButton(self.tr("&Open an existing registry..."))
        demo_row = QHBoxLayout()
        self.demo_button = QPushButton(self.tr("Load a &demo practice"))
        self.demo_button.setToolTip(self.tr("Synthetic patients to explore every screen; no real data."))
        self.demo_size = QSpinBox()
        self.demo_size.setRange(100, 200_000)
        self.demo_size.setSingleStep(1000)
        self.demo_size.setValue(3000)
        self.demo_size.setSuffix(self.tr(" patients"))
        demo_row.addWidget(self.demo_button, 1)
        demo_row.addWidget(self.demo_size)
        for button in (self.create_button, self.open_button):
            button.setMinimumHeight(36)
            layout.addWidget(button)
        self.demo_button.setMinimumHeight(36)
        layout.addLayout(demo_row)
        self.create_button.setDefault(True)
        self.create_button.clicked.connect(lambda: self._choose(self.CREATE))
        self.demo_button.clicked.connect(lambda: self._choose(self.DEMO))
        self.open_button.clicked.connect(self._open_existing)

    def _choose(self, choice: str) -> None:
        self.choice = choice
        self.accept()

    def _open_existing(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, self.tr("Open a registry"), "", self.tr("Panel Manager registry (*.sqlite3 *.db);;All files (*)")
        )
        if path:
            self.chosen_path = path
            self._choose(self.OPEN)
