"""What a login adds to the main window (issue 14): who is logged in, the idle lock, Lock now,
the Audit screen for the roles that may read the trail, and the audit entry of a search a screen
runs (``audit_search``).

Kept apart from main_window.py so that MainWindow still opens without a login (the GUI tests build
it directly); ``ui.app.main`` calls ``start_session`` after the login dialog.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel

from panelmanager.core.permissions import Actor, current_actor, is_allowed, load_permissions, set_logged_in
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


SEARCH_PAGE = 200  # the first page of a search's results: what a lazy list model fetches first (models.base.PAGE)


def audit_search(owner, screen: str, model, *, used, key) -> bool:
    """One audit entry (action ``search``) for a search ``owner`` (a screen) just ran into ``model``:
    the ids of the patients on the first page of results and the result count, never the text typed.

    Called when a search runs (after the pause in typing, on Enter or a filter change), not per
    keystroke; ``key`` says which search it was (the text and filters): the same search shown
    again (a refresh after a change elsewhere) is not recorded again. ``used``: the names of the
    filters given (e.g. ["text", "provider"]). Nothing is recorded with no one logged in. A
    registry too busy to take the entry is not a reason to hide the results: the next search
    tries again. Returns True when an entry was written.
    """
    from panelmanager.core.actions import record_shown
    from panelmanager.core.concurrency import ConcurrencyError

    if current_actor() is None or getattr(owner, "_audited_search", None) == key:
        return False
    count = model.rowCount()
    ids = [model.id_at(row) for row in range(min(count, SEARCH_PAGE))]
    try:
        done = record_shown(owner.ctx.registry, "search", [i for i in ids if i is not None],
                            details={"screen": screen, "results": count, "shown": len(ids), "by": sorted(used)})
    except ConcurrencyError:
        owner._audited_search = None
        return False
    owner._audited_search = key
    return done


def forget_search(owner) -> None:
    """The search box was cleared: the next search is recorded even if it is the same as the last."""
    owner._audited_search = None
