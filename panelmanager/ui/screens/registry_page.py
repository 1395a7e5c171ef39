"""Settings > Registry: connect this workstation to the practice's PostgreSQL server.

Host, database, user, TLS mode and CA file are saved for this computer's user; the
password goes to the operating system's keyring. Test connects (off the GUI thread) and
says what it found. The new registry is used from the next start of Panel Manager.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from panelmanager.core.registry_connection import (
    SSL_MODES,
    ConnectionSettingsError,
    ServerConnection,
    check_connection,
    load_connection,
    save_connection,
)
from panelmanager.ui.jobs import run_job


class RegistryPage(QGroupBox):
    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(self.tr("Registry (this workstation)"), parent)
        self.ctx = ctx
        form = QFormLayout(self)
        self.current = QLabel(self.tr("Now open: {0}").format(ctx.registry.location))
        self.current.setWordWrap(True)
        form.addRow(self.current)
        self.host = QLineEdit()
        self.host.setPlaceholderText(self.tr("server name, e.g. server.clinic.lan"))
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(5432)
        self.port.setMaximumWidth(120)
        self.database = QLineEdit("panelmanager")
        self.user = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(self.tr("(kept in this computer's keyring)"))
        self.sslmode = QComboBox()
        self.sslmode.addItems(SSL_MODES)
        ca_row = QHBoxLayout()
        self.ca_file = QLineEdit()
        browse = QPushButton(self.tr("Browse..."))
        browse.clicked.connect(self._browse_ca)
        ca_row.addWidget(self.ca_file, 1)
        ca_row.addWidget(browse)
        form.addRow(self.tr("Server &host"), self.host)
        form.addRow(self.tr("P&ort"), self.port)
        form.addRow(self.tr("&Database"), self.database)
        form.addRow(self.tr("User"), self.user)
        form.addRow(self.tr("Pass&word"), self.password)
        form.addRow(self.tr("&TLS mode"), self.sslmode)
        form.addRow(self.tr("CA certificate file"), ca_row)
        buttons = QHBoxLayout()
        self.test_button = QPushButton(self.tr("&Test connection"))
        self.save_button = QPushButton(self.tr("Use this server"))
        buttons.addStretch(1)
        buttons.addWidget(self.test_button)
        buttons.addWidget(self.save_button)
        form.addRow(buttons)
        self.status = QLabel()
        self.status.setWordWrap(True)
        form.addRow(self.status)
        self.test_button.clicked.connect(self.test)
        self.save_button.clicked.connect(self.save)
        self._load()

    def _load(self) -> None:
        try:
            conn = load_connection()
        except ConnectionSettingsError as exc:
            self.status.setText(str(exc))
            return
        if conn is None:
            return
        self.host.setText(conn.host)
        self.port.setValue(int(conn.port))
        self.database.setText(conn.database)
        self.user.setText(conn.user)
        self.sslmode.setCurrentText(conn.sslmode)
        self.ca_file.setText(conn.ca_file)

    def connection(self) -> ServerConnection:
        return ServerConnection(host=self.host.text().strip(), port=self.port.value(), database=self.database.text().strip(),
                                user=self.user.text().strip(), sslmode=self.sslmode.currentText(),
                                ca_file=self.ca_file.text().strip())

    def _browse_ca(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self.tr("CA certificate"), self.ca_file.text(),
                                              self.tr("Certificates (*.crt *.pem *.cer);;All files (*)"))
        if path:
            self.ca_file.setText(path)

    def test(self) -> None:
        conn, password = self.connection(), self.password.text() or None
        self.status.setText(self.tr("Connecting..."))
        run_job(self, self.tr("Test connection"), lambda progress, cancel: check_connection(conn, password),
                on_success=self.status.setText, on_failure=self.status.setText)

    def save(self) -> None:
        try:
            path = save_connection(self.connection(), self.password.text() or None)
        except ConnectionSettingsError as exc:
            self.status.setText(str(exc))
            return
        self.password.clear()
        self.status.setText(self.tr("Saved in {0} (the password in the keyring). Panel Manager uses this server "
                                    "from its next start.").format(path))
