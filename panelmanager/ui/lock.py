"""The idle lock (issue 14; HIPAA 45 CFR 164.312(a)(2)(iii) automatic logoff).

After the practice setting ``idle_lock_minutes`` without keyboard or mouse input, every window of
the app hides what it shows: the content of each visible top-level window (the main window, an
open dialog, a print preview) is hidden and replaced by a lock panel, window titles are blanked and
the windows' shortcuts are disabled. Nothing is closed: a dialog's ``exec()`` keeps running and a
job keeps running on its thread, so work in progress survives. A window that opens while locked (a
job's "done" message) is covered as it appears.

The main window's lock panel asks for the password: the same user unlocks, or another user logs in,
which logs the first out (both audited). Locking is audited too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFormLayout,
    QFrame,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from panelmanager.core import audit, auth
from panelmanager.core.permissions import Actor, set_logged_in

_INPUT_EVENTS = {
    QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.Wheel,
    QEvent.Type.TouchBegin, QEvent.Type.MouseButtonDblClick,
}


class LockPanel(QFrame):
    """What a locked window shows. On the main window it holds the unlock form."""

    def __init__(self, lock: IdleLock, window: QWidget, *, with_form: bool) -> None:
        super().__init__(window)
        self.setObjectName("lockPanel")
        self.setAutoFillBackground(True)
        self.setStyleSheet("QFrame#lockPanel { background: #1f3b4d; } QLabel { color: #e8eef2; }")
        self.lock = lock
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        title = QLabel(self.tr("Panel Manager is locked"))
        title.setObjectName("lockTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = title.font()
        font.setPointSize(font.pointSize() + 6)
        title.setFont(font)
        layout.addWidget(title)
        self.note = QLabel()
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.username = self.password = self.error = self.unlock_button = None
        if with_form:
            self.note.setText(self.tr("Locked after {0} minutes without use. {1} can unlock with their password, "
                                      "or another user can log in (which logs {1} out).")
                              .format(lock.minutes_text(), lock.actor.display_name))
            box = QWidget()
            form = QFormLayout(box)
            self.username = QLineEdit(lock.actor.username)
            self.username.setObjectName("lockUsername")
            self.password = QLineEdit()
            self.password.setObjectName("lockPassword")
            self.password.setEchoMode(QLineEdit.EchoMode.Password)
            self.password.returnPressed.connect(self._submit)
            form.addRow(self.tr("User name:"), self.username)
            form.addRow(self.tr("Password:"), self.password)
            self.unlock_button = QPushButton(self.tr("Unlock"))
            self.unlock_button.setObjectName("unlockButton")
            self.unlock_button.clicked.connect(self._submit)
            form.addRow("", self.unlock_button)
            self.error = QLabel()
            self.error.setObjectName("lockError")
            self.error.setStyleSheet("color: #ffb4a9;")
            self.error.setVisible(False)
            form.addRow("", self.error)
            box.setMaximumWidth(420)
            layout.addWidget(box, 0, Qt.AlignmentFlag.AlignHCenter)
        else:
            self.note.setText(self.tr("Unlock in the main Panel Manager window."))
        layout.addStretch(2)
        window.installEventFilter(self)
        self.setGeometry(window.rect())

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - keeps covering the window as it resizes
        if watched is self.parent() and event.type() == QEvent.Type.Resize:
            self.setGeometry(watched.rect())
        return False

    def _submit(self) -> None:
        message = self.lock.try_unlock(self.username.text(), self.password.text())
        if message:
            self.error.setText(message)
            self.error.setVisible(True)
            self.password.clear()
            self.password.setFocus()


class IdleLock(QObject):
    """Watches the app's input and locks ``window`` (and every other window) when idle.

    ``timeout_ms`` overrides the minutes (tests); ``on_user_changed(actor)`` is told when another user
    logged in at the lock screen.
    """

    locked = Signal()
    unlocked = Signal()
    user_changed = Signal(object)

    def __init__(self, window: QWidget, registry, actor: Actor, *, minutes: int = 10, timeout_ms: int | None = None,
                 on_user_changed: Callable[[Actor], None] | None = None) -> None:
        super().__init__(window)
        self.window, self.registry, self.actor = window, registry, actor
        self.timeout_ms = timeout_ms if timeout_ms is not None else int(minutes) * 60_000
        self.is_locked = False
        self._last_input = time.monotonic()
        self._hidden: list[QWidget] = []
        self._titles: dict[QWidget, str] = {}
        self._disabled_actions: list = []
        self._panels: dict[QWidget, LockPanel] = {}
        if on_user_changed is not None:
            self.user_changed.connect(on_user_changed)
        self.timer = QTimer(self)
        self.timer.setInterval(self._check_interval())
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        QApplication.instance().installEventFilter(self)

    def _check_interval(self) -> int:
        return max(50, min(self.timeout_ms // 4, 15_000))

    def set_minutes(self, minutes: int) -> None:
        self.timeout_ms = max(1, int(minutes)) * 60_000
        self.timer.setInterval(self._check_interval())

    def minutes_text(self) -> str:
        minutes = self.timeout_ms / 60_000
        return f"{minutes:g}"

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        if event.type() in _INPUT_EVENTS and not self.is_locked:
            self._last_input = time.monotonic()
        return False

    def _tick(self) -> None:
        if self.is_locked:
            self._cover_new_windows()
        elif (time.monotonic() - self._last_input) * 1000 >= self.timeout_ms:
            self.lock()

    # -- locking
    def lock(self) -> None:
        if self.is_locked:
            return
        self.is_locked = True
        QToolTip.hideText()
        popup = QApplication.activePopupWidget()
        if popup is not None:
            popup.close()
        self._cover(self.window, with_form=True)
        self._cover_new_windows()
        self._audit("lock")
        self.locked.emit()
        panel = self._panels.get(self.window)
        if panel is not None and panel.password is not None:
            panel.password.setFocus()

    def _cover_new_windows(self) -> None:
        for top in QApplication.topLevelWidgets():
            if top.isVisible() and top not in self._panels and not isinstance(top, LockPanel):
                self._cover(top, with_form=top is self.window)

    def _cover(self, top: QWidget, *, with_form: bool) -> None:
        for child in top.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if child.isVisible() and child.isWindow() is False:
                child.hide()
                self._hidden.append(child)
        for action in top.actions():
            if action.isEnabled():
                action.setEnabled(False)
                self._disabled_actions.append(action)
        self._titles[top] = top.windowTitle()
        top.setWindowTitle(self.tr("Panel Manager - locked"))
        panel = LockPanel(self, top, with_form=with_form)
        panel.show()
        panel.raise_()
        self._panels[top] = panel

    # -- unlocking
    def try_unlock(self, username: str, password: str) -> str | None:
        """None when unlocked; else the message to show."""
        name = (username or "").strip().lower()
        if not name or name == self.actor.username:
            with self.registry.write_session() as session:
                ok = auth.verify_password(session, self.actor, password)
            if not ok:
                return self.tr("Wrong password.")
            self.unlock()
            return None
        try:
            new_actor = auth.login(self.registry, name, password, self.actor.workstation)
        except auth.AuthError as exc:
            return str(exc)
        with self.registry.write_session() as session:
            auth.logout(session, self.actor, reason="another user logged in at the lock screen")
        self.actor = new_actor
        set_logged_in(new_actor)
        self.unlock()
        self.user_changed.emit(new_actor)
        return None

    def unlock(self) -> None:
        for panel in self._panels.values():
            panel.hide()
            panel.deleteLater()
        self._panels.clear()
        for child in self._hidden:
            try:
                child.show()
            except RuntimeError:  # deleted meanwhile (a dialog closed by its job)
                pass
        self._hidden.clear()
        for action in self._disabled_actions:
            try:
                action.setEnabled(True)
            except RuntimeError:
                pass
        self._disabled_actions.clear()
        for top, title in self._titles.items():
            try:
                top.setWindowTitle(title)
            except RuntimeError:
                pass
        self._titles.clear()
        self.is_locked = False
        self._last_input = time.monotonic()
        self.unlocked.emit()

    def _audit(self, action: str) -> None:
        try:
            with self.registry.write_session() as session:
                audit.record(session, self.actor, action, details={"idle_minutes": self.minutes_text()})
        except Exception:  # noqa: BLE001 - a busy registry must never keep the screen unlocked
            pass

    def stop(self) -> None:
        self.timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
