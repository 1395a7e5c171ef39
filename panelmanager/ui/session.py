"""What a login adds to the main window (issue 14): who is logged in, the idle lock, Lock now,
and the Audit screen for the roles that may read the trail.

Kept apart from main_window.py so that MainWindow still opens without a login (the GUI tests build
it directly); ``ui.app.main`` calls ``start_session`` after the login dialog.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QListWidgetItem

from panelmanager.core.permissions import Actor, is_allowed, load_permissions, set_logged_in
from panelmanager.ui.lock import IdleLock


def start_session(window, actor: Actor, *, timeout_ms: int | None = None) -> IdleLock:
    set_logged_in(actor)
    window.actor = actor
    window.user_label = QLabel()
    window.user_label.setObjectName("loggedInUser")
    window.statusBar().addPermanentWidget(window.user_label)

    def show_user(who: Actor) -> None:
        window.actor = who
        window.user_label.setText(window.tr("Logged in: {0} ({1})").format(who.display_name,
                                                                           load_permissions().label(who.role)))
        install_audit_screen(window, who)

    lock = IdleLock(window, window.registry, actor, minutes=window.ctx.settings.idle_lock_minutes,
                    timeout_ms=timeout_ms, on_user_changed=show_user)
    window.idle_lock = lock
    if timeout_ms is None:
        window.ctx.settings_changed.connect(lambda: lock.set_minutes(window.ctx.settings.idle_lock_minutes))
    lock_now = QAction(window.tr("Lock now"), window)
    lock_now.setShortcut(QKeySequence("Ctrl+L"))
    lock_now.triggered.connect(lock.lock)
    window.addAction(lock_now)
    show_user(actor)
    return lock


def install_audit_screen(window, actor: Actor):
    """Add the Audit screen to the navigation once, for a role that may read the audit trail."""
    if not is_allowed(actor, "audit_view") or "audit" in window.screens:
        return None
    from panelmanager.ui.screens.audit import AuditScreen

    screen = window.add_screen("audit", AuditScreen(window.ctx), window.tr("Audit"))
    return screen
