"""One helper for long work: a core job on a QThreadPool with a progress dialog and Cancel.

``run_job(parent, title, fn, on_success=...)`` calls ``fn(progress=..., cancel=...)`` on a
worker thread. The dialog's Cancel sets the job's CancelToken; the core job raises
``Cancelled`` at its next step and rolls back. Results and errors come back on the GUI
thread through queued signals, so screens never touch Qt objects from a worker.

Tests set ``JobRunner.synchronous = True`` (Picard's fake thread pool): the job then runs
inline on the calling thread with the same signals, so a qtbot test is deterministic.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog, QPushButton, QWidget

from panelmanager.core.jobs import Cancelled, CancelToken


class _Signals(QObject):
    progress = Signal(int, int, str)
    succeeded = Signal(object)
    cancelled = Signal(str)
    failed = Signal(str)


class _Runnable(QRunnable):
    def __init__(self, fn: Callable[..., Any], token: CancelToken, signals: _Signals) -> None:
        super().__init__()
        self.fn = fn
        self.token = token
        self.signals = signals
        self.setAutoDelete(True)

    @Slot()
    def run(self) -> None:
        def progress(done: int, total: int, message: str = "") -> None:
            self.signals.progress.emit(int(done), int(total), str(message))

        try:
            result = self.fn(progress=progress, cancel=self.token)
        except Cancelled as exc:
            self.signals.cancelled.emit(str(exc))
        except Exception as exc:  # shown to the user as a plain message
            self.signals.failed.emit(user_message(exc))
            traceback.print_exc()  # for the developer's console; carries no row data
        else:
            self.signals.succeeded.emit(result)


def user_message(exc: BaseException) -> str:
    """A plain sentence for the user: the core's own messages are written for people."""
    text = str(exc).strip()
    if not text:
        return f"Something went wrong ({type(exc).__name__}). Nothing was changed."
    return text


class Job(QObject):
    """A running job: its dialog, token and callbacks (kept alive until it ends)."""

    finished = Signal()

    def __init__(self, parent: QWidget | None, title: str) -> None:
        super().__init__(parent)
        self.token = CancelToken()
        self.signals = _Signals()
        self.dialog = QProgressDialog(title, self.tr("Cancel"), 0, 100, parent)
        # Cancel is clicked (or Esc), never pressed by a space typed into the search box meanwhile.
        cancel_button = QPushButton(self.tr("Cancel"))
        cancel_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        cancel_button.setAutoDefault(False)
        self.dialog.setCancelButton(cancel_button)
        self.cancel_button = cancel_button
        self.dialog.setWindowTitle(title)
        # Wide enough for the whole title (window managers cut a title that does not fit).
        self.dialog.setMinimumWidth(min(self.dialog.fontMetrics().horizontalAdvance(title) * 3 // 2 + 160, 720))
        self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.dialog.setMinimumDuration(300)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.setValue(0)
        self.dialog.canceled.connect(self._cancel)
        self.signals.progress.connect(self._on_progress)
        self.result: Any = None
        self.error: str | None = None
        self.was_cancelled = False

    def _cancel(self) -> None:
        self.token.cancel()
        self.dialog.setLabelText(self.tr("Cancelling... nothing will be kept"))

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, message: str) -> None:
        if self.token.cancelled:
            return
        total = max(total, 1)
        self.dialog.setMaximum(total)
        self.dialog.setValue(min(done, total))
        if message:
            self.dialog.setLabelText(message)

    def close(self) -> None:
        shown = self.dialog.isVisible()
        self.dialog.canceled.disconnect(self._cancel)
        self.dialog.close()
        self.dialog.deleteLater()
        owner = self.dialog.parentWidget()
        if shown and owner is not None:
            owner.window().activateWindow()  # the keyboard goes back where it was (the dialog took no focus)
        self.finished.emit()


class JobRunner:
    """Runs core jobs off the GUI thread. ``synchronous`` is for tests only."""

    synchronous = False
    _active: set[Job] = set()

    @classmethod
    def run(
        cls,
        parent: QWidget | None,
        title: str,
        fn: Callable[..., Any],
        *,
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
        on_cancelled: Callable[[str], None] | None = None,
        show_errors: bool = True,
    ) -> Job:
        job = Job(parent, title)
        cls._active.add(job)

        def finish() -> None:
            job.close()
            cls._active.discard(job)

        def succeeded(result: Any) -> None:
            job.result = result
            finish()
            if on_success:
                on_success(result)

        def failed(message: str) -> None:
            job.error = message
            finish()
            if on_failure:
                on_failure(message)
            elif show_errors:
                QMessageBox.warning(parent, title, message)

        def cancelled(message: str) -> None:
            job.was_cancelled = True
            finish()
            if on_cancelled:
                on_cancelled(message)

        job.signals.succeeded.connect(succeeded)
        job.signals.failed.connect(failed)
        job.signals.cancelled.connect(cancelled)
        runnable = _Runnable(fn, job.token, job.signals)
        if cls.synchronous:
            runnable.run()
            QApplication.processEvents()
        else:
            QThreadPool.globalInstance().start(runnable)
        return job


def run_job(parent: QWidget | None, title: str, fn: Callable[..., Any], **callbacks: Any) -> Job:
    """Run ``fn(progress=, cancel=)`` off the GUI thread with a cancellable progress dialog."""
    return JobRunner.run(parent, title, fn, **callbacks)
