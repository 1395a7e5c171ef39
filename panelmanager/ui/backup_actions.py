"""File > Back up registry... and Restore from backup...: dialogs over core.backup.

The backup runs as a job (progress, Cancel); the restore asks for confirmation, shows
what the backup holds (core.backup.check_backup), closes the registry's connections,
replaces the file and refreshes every screen.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox

from panelmanager.core.backup import (
    BackupError,
    audit_restore,
    backup_folder,
    backup_registry,
    check_backup,
    restore_registry,
    sqlite_path,
)
from panelmanager.core.permissions import PermissionDenied
from panelmanager.ui.jobs import run_job


class BackupActions(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window

    def _db_path(self) -> Path | None:
        try:
            return sqlite_path(self.window.registry)
        except BackupError as exc:
            QMessageBox.information(self.window, self.tr("Back up registry"), str(exc))
            return None

    def back_up(self) -> None:
        db = self._db_path()
        if db is None:
            return
        folder = backup_folder(db)
        suggested = str((folder if folder.is_dir() else db.parent) / f"{db.stem}-{dt.datetime.now():%Y%m%d-%H%M}.sqlite3")
        path, _filter = QFileDialog.getSaveFileName(
            self.window, self.tr("Back up registry"), suggested, self.tr("Registry backup (*.sqlite3);;All files (*)")
        )
        if not path:
            return
        registry = self.window.registry
        run_job(
            self.window,
            self.tr("Backing up the registry"),
            lambda progress, cancel: backup_registry(registry, path, progress=progress, cancel=cancel),
            on_success=self._backed_up,
            on_failure=lambda message: QMessageBox.warning(self.window, self.tr("Back up registry"), message),
        )

    def _backed_up(self, result) -> None:
        self.last_result = result
        self.window.statusBar().showMessage(
            self.tr("Backed up the registry to {0} ({1:.1f} MB).").format(result.path, result.size / 1e6), 10_000
        )

    def restore(self) -> None:
        db = self._db_path()
        if db is None:
            return
        folder = backup_folder(db)
        path, _filter = QFileDialog.getOpenFileName(
            self.window, self.tr("Restore from backup"), str(folder if folder.is_dir() else db.parent),
            self.tr("Registry backup (*.sqlite3);;All files (*)"),
        )
        if not path:
            return
        check = check_backup(path)
        if not check.ok:
            QMessageBox.warning(self.window, self.tr("Restore from backup"),
                                self.tr("{0} cannot be restored: {1}. Nothing was changed.").format(
                                    Path(path).name, "; ".join(check.problems)))
            return
        held = ", ".join(f"{n:,} {t.replace('_', ' ')}" for t, n in check.counts.items())
        answer = QMessageBox.question(
            self.window, self.tr("Restore from backup"),
            self.tr("Replace the registry with {0}?\n\nThe backup holds {1}.\nThe current registry is kept in {2}.")
            .format(Path(path).name, held, folder),
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        registry = self.window.registry
        registry.engine.dispose()  # our pooled connections would hold the old file open
        try:
            result = restore_registry(path, db)
        except (BackupError, OSError, PermissionDenied) as exc:
            QMessageBox.warning(self.window, self.tr("Restore from backup"), str(exc))
            return
        from panelmanager.core.db import migrate

        migrate(registry.engine)  # an older backup is upgraded now
        audit_restore(registry, result)  # into the restored registry's own trail
        self.last_result = result
        self.window.ctx.notify_changed()
        self.window.statusBar().showMessage(self.tr("Restored {0}; the replaced registry is kept at {1}.").format(
            result.restored_from, result.replaced_kept_at), 10_000)
