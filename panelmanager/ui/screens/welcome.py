"""First run: no registry yet. Offer to create an empty one (optionally encrypted with a
passphrase), open an existing one, or load a demo practice to explore."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)


class WelcomeDialog(QDialog):
    CREATE, OPEN, DEMO = "create", "open", "demo"

    def __init__(self, default_location: str, parent=None, *, can_encrypt: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Welcome to Panel Manager"))
        self.choice: str | None = None
        self.chosen_path: str | None = None
        self.passphrase: str | None = None  # set when the new registry is to be encrypted
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

        self._build_encryption(layout, can_encrypt)

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

    def _build_encryption(self, layout: QVBoxLayout, can_encrypt: bool) -> None:
        """"Encrypt with a passphrase": typed twice, a minimum length, and what losing it means."""
        from panelmanager.core.encryption import MIN_PASSPHRASE

        self.encrypt_box = QCheckBox(self.tr("&Encrypt the registry with a passphrase"))
        self.encrypt_box.setToolTip(self.tr("Patient data on disk can only be read with the passphrase (SQLCipher)."))
        self.encryption_fields = QWidget()
        form = QFormLayout(self.encryption_fields)
        form.setContentsMargins(20, 0, 0, 0)
        self.passphrase_edit = QLineEdit()
        self.passphrase_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.passphrase_edit.setPlaceholderText(self.tr("{0} characters or more").format(MIN_PASSPHRASE))
        self.passphrase_again_edit = QLineEdit()
        self.passphrase_again_edit.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(self.tr("&Passphrase:"), self.passphrase_edit)
        form.addRow(self.tr("&Again:"), self.passphrase_again_edit)
        self.passphrase_warning = QLabel(
            self.tr(
                "Write the passphrase down and keep it somewhere safe. Panel Manager does not store it: "
                "without it the registry cannot be opened, and a lost passphrase means the data is lost."
            )
        )
        self.passphrase_warning.setObjectName("passphraseWarning")
        self.passphrase_warning.setWordWrap(True)
        self.passphrase_warning.setStyleSheet("color: #9a3412; font-weight: bold;")
        self.passphrase_error = QLabel()
        self.passphrase_error.setStyleSheet("color: #b91c1c;")
        self.passphrase_error.setWordWrap(True)
        form.addRow(self.passphrase_warning)
        form.addRow(self.passphrase_error)
        layout.addWidget(self.encrypt_box)
        layout.addWidget(self.encryption_fields)
        self.encryption_fields.setVisible(False)
        self.encrypt_box.toggled.connect(self._encrypt_toggled)
        self.encrypt_box.setVisible(can_encrypt)

    def _encrypt_toggled(self, on: bool) -> None:
        self.encryption_fields.setVisible(on)
        self.passphrase_error.clear()
        if on:
            self.passphrase_edit.setFocus()

    def _choose(self, choice: str) -> None:
        self.passphrase = None
        if choice != self.OPEN and not self.encrypt_box.isHidden() and self.encrypt_box.isChecked():
            from panelmanager.core.encryption import passphrase_problem

            problem = passphrase_problem(self.passphrase_edit.text(), self.passphrase_again_edit.text())
            if problem:
                self.passphrase_error.setText(problem)
                self.passphrase_edit.setFocus()
                return
            self.passphrase = self.passphrase_edit.text()
        self.choice = choice
        self.accept()

    def _open_existing(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, self.tr("Open a registry"), "", self.tr("Panel Manager registry (*.sqlite3 *.db);;All files (*)")
        )
        if path:
            self.chosen_path = path
            self._choose(self.OPEN)
