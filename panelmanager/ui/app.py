"""QApplication set-up and the GUI entry point."""

from __future__ import annotations

import sys

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from panelmanager import __version__


def create_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    QCoreApplication.setOrganizationName("PanelManager")
    QCoreApplication.setApplicationName("Panel Manager")
    QCoreApplication.setApplicationVersion(__version__)
    app.setStyle("Fusion")
    return app


def main(db: str | None = None, argv: list[str] | None = None) -> int:
    app = create_application(argv)
    from panelmanager.core.db import RegistryError
    from panelmanager.ui.main_window import MainWindow

    try:
        window = MainWindow(db=db)
    except RegistryError as exc:
        QMessageBox.critical(None, QCoreApplication.translate("app", "Panel Manager"), str(exc))
        return 1
    window.show()
    return app.exec()
