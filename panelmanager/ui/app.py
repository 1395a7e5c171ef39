"""QApplication set-up and the GUI entry point (first-run welcome, then the main window).

Start-up order (issue 16): the registry's libraries (SQLAlchemy, ~250 modules) are imported
BEFORE PySide6. Importing PySide6 installs an import hook (shiboken's ``__feature__`` support)
that reads the source file of every module imported after it, to see whether it mentions
PySide6; SQLAlchemy imported first is never read (0.1-0.15 s of CPU at start-up). The
installed version (a look-up in the installed packages' metadata) is read after the first
paint, and the daily backup (seconds at 100,000 patients) runs as a background job once the
window has painted.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

from panelmanager.core.db import RegistryError, describe_url, open_registry, registry_exists, resolve_registry_url

# isort: split
from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    QCoreApplication.setOrganizationName("PanelManager")
    QCoreApplication.setApplicationName("Panel Manager")
    QTimer.singleShot(0, _set_application_version)  # nothing on screen shows it; read it off the start-up path
    app.setStyle("Fusion")
    from panelmanager.core.resources import resource_path

    app.setWindowIcon(QIcon(str(resource_path("icons", "panelmanager.png"))))
    return app  # type: ignore[return-value]


def _set_application_version() -> None:
    from panelmanager import __version__

    QCoreApplication.setApplicationVersion(__version__)


def main(db: str | None = None, argv: list[str] | None = None) -> int:
    from panelmanager.ui.platform_check import exit_unless_qt_can_start

    exit_unless_qt_can_start()
    app = create_application(argv)
    from panelmanager.ui.main_window import MainWindow

    load_demo_patients = 0
    create = False  # only the first-run screen's Create / Demo choices make a new registry
    try:
        if not registry_exists(db):
            from panelmanager.ui.screens.welcome import WelcomeDialog

            welcome = WelcomeDialog(describe_url(resolve_registry_url(db)), can_encrypt=_can_encrypt(db))
            if welcome.exec() != WelcomeDialog.DialogCode.Accepted:
                return 0
            if welcome.choice == WelcomeDialog.OPEN:
                db = welcome.chosen_path
            else:
                create = True
                if welcome.passphrase:  # the first-run choice: a new registry encrypted with it
                    from panelmanager.core.encryption import EncryptionError, start_encrypted_registry

                    try:
                        start_encrypted_registry(resolve_registry_url(db).database, welcome.passphrase)
                    except EncryptionError as exc:
                        raise RegistryError(str(exc)) from None
                if welcome.choice == WelcomeDialog.DEMO:
                    load_demo_patients = welcome.demo_size.value()
        if not unlock_if_encrypted(db):
            return 0
        registry = open_registry(db, create=create)
    except RegistryError as exc:
        QMessageBox.critical(None, QCoreApplication.translate("app", "Panel Manager"), str(exc))
        return 1
    if os.environ.get(SELF_CHECK_VAR):  # the installed-program check: offscreen, closed at once, no login
        window = MainWindow(registry=registry)
        window._owns_registry = True
        window.show()
        return _self_check(app, window)

    # Issue 14: the login dialog first (a registry with no users creates its administrator); the
    # main window opens once someone logged in. Shown by the event loop, not a nested exec().
    show_login(app, registry, lambda actor: open_main_window(app, registry, actor, load_demo_patients))
    return app.exec()


def open_main_window(app: QApplication, registry, actor, load_demo_patients: int = 0):
    """After the login: the main window, the session (idle lock, Audit screen), then, once the
    window has painted, the daily backup as a background job and the demo load if one was chosen."""
    from panelmanager.ui.main_window import MainWindow

    window = MainWindow(registry=registry)
    window._owns_registry = True
    app._main_window = window  # kept alive after this callback returns
    window.show()
    app.setQuitOnLastWindowClosed(True)
    start_session(window, actor)
    window.after_first_paint(lambda: start_daily_backup(window))
    if load_demo_patients:
        start_demo_load(window, load_demo_patients)
    return window


def start_daily_backup(window):
    """The daily backup (core.backup.auto_backup) as a background job: a copy of the whole registry,
    seconds at 100,000 patients (7.8 s for 1.2 GB), made while the window is already usable. A
    failure never stops the app: the status bar says so."""
    from panelmanager.ui.jobs import run_job

    registry = window.registry

    def job(progress, cancel):
        from panelmanager.core.backup import auto_backup

        try:
            auto_backup(registry)
        except Exception as exc:  # noqa: BLE001 - disk full, read-only folder...
            return getattr(exc, "strerror", None) or type(exc).__name__
        return None

    def done(problem: str | None) -> None:
        if problem:
            window.statusBar().showMessage(window.tr("The daily backup could not be made: {0}").format(problem), 15_000)

    return run_job(window, window.tr("Daily backup"), job, on_success=done, background=True,
                   on_failure=lambda message: done(message))


SELF_CHECK_VAR = "PANELMANAGER_SELF_CHECK"


def show_login(app, registry, on_logged_in) -> None:
    """The login dialog, modeless: ``on_logged_in(actor)`` after a login (the actor is then the
    process's logged-in user); Cancel closes the registry and quits."""
    from panelmanager.core.permissions import set_logged_in
    from panelmanager.ui.login import LoginDialog

    dialog = LoginDialog(registry)
    app.setQuitOnLastWindowClosed(False)  # the dialog closing before the window opens must not quit

    def accepted() -> None:
        set_logged_in(dialog.actor)
        on_logged_in(dialog.actor)

    def rejected() -> None:
        registry.close()
        app.setQuitOnLastWindowClosed(True)
        app.quit()

    dialog.accepted.connect(accepted)
    dialog.rejected.connect(rejected)
    app._login_dialog = dialog  # kept alive while it is shown
    dialog.show()


def log_in_or_quit(registry):
    """The login dialog as a blocking step (scripts, tests); the Actor, also made the process's
    logged-in user, or None on Cancel."""
    from panelmanager.core.permissions import set_logged_in
    from panelmanager.ui import login

    actor = login.log_in(registry)
    if actor is not None:
        set_logged_in(actor)
    return actor


def start_session(window, actor) -> None:
    """After the login: the idle lock and the Audit screen (ui.session)."""
    from panelmanager.ui.session import start_session as start

    start(window, actor)


def _self_check(app: QApplication, window) -> int:
    """Installed-program smoke test: print each screen's class, then close (no event loop)."""
    app.processEvents()
    for key, screen in window.screens.items():
        print(f"screen {key} {type(screen).__module__}.{type(screen).__name__}")
    window.close()
    return 0


def _can_encrypt(db: str | None) -> bool:
    """A new SQLite registry can be created encrypted when the SQLCipher driver is installed."""
    from panelmanager.core import encryption
    from panelmanager.core.db import is_sqlite, resolve_registry_url

    return is_sqlite(resolve_registry_url(db)) and encryption.available()


def unlock_if_encrypted(db: str | None) -> bool:
    """An encrypted registry without its key at hand: ask for the passphrase. False if the user gives up."""
    from PySide6.QtWidgets import QInputDialog, QLineEdit

    from panelmanager.core.db import is_sqlite, resolve_registry_url
    from panelmanager.core.encryption import EncryptionError, needs_unlock, unlock_registry

    url = resolve_registry_url(db)
    if not is_sqlite(url) or not url.database or not needs_unlock(url.database):
        return True
    title = QCoreApplication.translate("app", "Encrypted registry")
    prompt = QCoreApplication.translate("app", "Passphrase for the registry {0}:").format(url.database)
    while True:
        text, ok = QInputDialog.getText(None, title, prompt, QLineEdit.EchoMode.Password)
        if not ok:
            return False
        try:
            unlock_registry(url.database, text)
            return True
        except EncryptionError as exc:
            prompt = f"{exc}\n\n" + QCoreApplication.translate("app", "Passphrase:")


def start_demo_load(window, patients: int) -> None:
    """Load a demo practice as a job with progress and Cancel; refresh every screen after."""
    from panelmanager.core.demo import load_demo
    from panelmanager.core.patient_view import refresh_caches
    from panelmanager.ui.jobs import run_job

    registry, as_of = window.registry, window.ctx.as_of

    def job(progress, cancel):
        # The demo, then its care gaps and risk tiers: the lists are up to date when it opens.
        summary = load_demo(registry, patients=patients, seed=1, as_of=dt.date.today(), cancel=cancel,
                            progress=lambda done, total, message="": progress(int(70 * done / max(total, 1)), 100,
                                                                               message))
        with registry.session() as session:
            refresh_caches(session, as_of, cancel=cancel,
                           progress=lambda done, total, message="": progress(70 + int(30 * done / max(total, 1)),
                                                                              100, message))
        return summary

    run_job(window, window.tr("Loading a demo practice"), job, on_success=lambda _summary: window.ctx.notify_changed())
