"""The login dialog the desktop app starts with (issue 14).

It shows which registry is being opened (read-only: changing the registry is an administrator's
task on the Registry page, after logging in). A registry with no users yet asks for its
administrator instead: user name, display name and a password typed twice. Logging in and creating
the administrator are core services (``core.auth``); both are audited there.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)

from panelmanager.core import auth
from panelmanager.core.db import Registry


class LoginDialog(QDialog):
    """Log in to ``registry``; ``actor`` holds who logged in once accepted."""

    def __init__(self, registry: Registry, parent=None, *, first_run: bool | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.actor = None
        if first_run is None:
            with registry.session() as session:
                first_run = not auth.has_users(session)
        self.first_run = first_run
        self.setObjectName("loginDialog")
        self.setWindowTitle(self.tr("Panel Manager - create the administrator") if first_run
                            else self.tr("Panel Manager - log in"))
        layout = QVBoxLayout(self)
        if first_run:
            intro = QLabel(self.tr(
                "This registry has no users yet. Create its administrator: the person who adds the other "
                "users and gives them their roles. Keep this password safe."))
            intro.setWordWrap(True)
            layout.addWidget(intro)
        form = QFormLayout()
        self.location = QLineEdit(registry.location)
        self.location.setObjectName("registryLocation")
        self.location.setReadOnly(True)  # changed by an administrator on the Registry page
        self.location.setToolTip(self.tr("The registry being opened. An administrator can change it after logging in."))
        form.addRow(self.tr("Registry:"), self.location)
        self.username = QLineEdit()
        self.username.setObjectName("username")
        form.addRow(self.tr("&User name:"), self.username)
        self.display_name = QLineEdit()
        self.display_name.setObjectName("displayName")
        self.password = QLineEdit()
        self.password.setObjectName("password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat = QLineEdit()
        self.repeat.setObjectName("repeatPassword")
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        if first_run:
            form.addRow(self.tr("&Display name:"), self.display_name)
            form.addRow(self.tr("&Password:"), self.password)
            form.addRow(self.tr("&Repeat password:"), self.repeat)
            hint = QLabel(self.tr("At least {0} characters.").format(auth.MIN_PASSWORD_LENGTH))
            form.addRow("", hint)
        else:
            form.addRow(self.tr("&Password:"), self.password)
            self.display_name.hide()
            self.repeat.hide()
        layout.addLayout(form)
        self.error = QLabel()
        self.error.setObjectName("loginError")
        self.error.setStyleSheet("color: #b00020;")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(self.tr("Create administrator") if first_run else self.tr("Log in"))
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.username.setFocus(Qt.FocusReason.OtherFocusReason)
        self.resize(460, self.sizeHint().height())

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(True)
        self.password.clear()
        self.repeat.clear()
        self.password.setFocus()

    def submit(self) -> None:
        name, password = self.username.text().strip(), self.password.text()
        if not name:
            self.show_error(self.tr("Type your user name."))
            self.username.setFocus()
            return
        try:
            if self.first_run:
                if password != self.repeat.text():
                    self.show_error(self.tr("The two passwords differ."))
                    return
                with self.registry.write_session() as session:
                    self.actor = auth.create_first_admin(session, name, self.display_name.text().strip() or name,
                                                         password)
            else:
                self.actor = auth.login(self.registry, name, password)
        except auth.AuthError as exc:
            self.show_error(str(exc))
            return
        self.accept()


def log_in(registry: Registry, parent=None):
    """Show the login dialog; the Actor, or None when the user cancelled."""
    dialog = LoginDialog(registry, parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.actor
