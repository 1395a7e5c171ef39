"""One helper for long work: a core job on a QThreadPool with a progress dialog and Cancel.

``run_job(parent, title, fn, on_success=...)`` calls ``fn(progress=..., cancel=...)`` on a
worker thread. The dialog's Cancel sets the job's CancelToken; the core job raises
``Cancelled`` at its next step and rolls back. Results and errors come back on the GUI
thread through queued signals, so screens never touch Qt objects from a worker.

Closing a window calls ``JobRunner.stop_jobs(window)``: its jobs are cancelled, the pool is
waited for, and their callbacks are dropped (the screens they would update are going away).
A worker whose signals were deleted meanwhile (interpreter shutdown) stops quietly.

``background=True`` runs a job without a modal dialog: the screen stays usable and shows the
progress itself (``on_progress``) with its own Stop button (``Job.cancel``), e.g. the
Dashboard recomputing the care gaps behind figures it already shows from the cache.

The first job run freezes the objects the app has made so far (``gc.freeze``): a garbage
collection on a worker holds the interpreter lock, so the GUI thread waits for it, and a full
collection walks every object, most of them the modules, classes and functions loaded at start-up
that live as long as the app (at 100,000 patients: 250 ms frozen windows every few seconds while a
big job runs on a loaded machine). Frozen objects are still freed when their count drops to zero.
While a job runs, full collections wait until no job is running (``_FullCollections``): a job
that builds 16,000 letters makes millions of objects, and each full collection over them held
the window for up to a second. Young objects are still collected as usual meanwhile.

Tests set ``JobRunner.synchronous = True`` (Picard's fake thread pool): the job then runs
inline on the calling thread with the same signals, so a qtbot test is deterministic.
"""

from __future__ import annotations

import gc
import threading
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


class _FullCollections:
    """Defers the garbage collector's full (oldest-generation) collections while any job runs."""

    _lock = threading.Lock()
    _running = 0
    _saved: tuple[int, int, int] | None = None

    def __enter__(self) -> None:
        with self._lock:
            if type(self)._running == 0:
                saved = gc.get_threshold()
                type(self)._saved = saved
                gc.set_threshold(saved[0], saved[1], 1_000_000)
            type(self)._running += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            type(self)._running -= 1
            if type(self)._running == 0 and type(self)._saved is not None:
                gc.set_threshold(*type(self)._saved)
                type(self)._saved = None


class _Runnable(QRunnable):
    def __init__(self, fn: Callable[..., Any], token: CancelToken, signals: _Signals) -> None:
        super().__init__()
        self.fn = fn
        self.token = token
        self.signals = signals
        self.setAutoDelete(True)

    def _emit(self, name: str, *args: Any) -> None:
        """Report to the GUI thread; when the receiver is gone (the window closed, Python is
        shutting down) the job is cancelled instead of raising in the worker thread."""
        try:
            getattr(self.signals, name).emit(*args)
        except RuntimeError:  # "Signal source has been deleted"
            self.token.cancel()

    @Slot()
    def run(self) -> None:
        def progress(done: int, total: int, message: str = "") -> None:
            self._emit("progress", int(done), int(total), str(message))

        try:
            with _FullCollections():
                result = self.fn(progress=progress, cancel=self.token)
        except Cancelled as exc:
            self._emit("cancelled", str(exc))
        except Exception as exc:  # shown to the user as a plain message
            if self.token.cancelled:  # failed because its window closed under it: nobody to tell
                self._emit("cancelled", "")
                return
            self._emit("failed", user_message(exc))
            traceback.print_exc()  # for the developer's console; carries no row data
        else:
            self._emit("succeeded", result)


def user_message(exc: BaseException) -> str:
    """A plain sentence for the user: the core's own messages are written for people."""
    text = str(exc).strip()
    if not text:
        return f"Something went wrong ({type(exc).__name__}). Nothing was changed."
    return text


class Job(QObject):
    """A running job: its dialog, token and callbacks (kept alive until it ends)."""

    finished = Signal()

    progressed = Signal(int, int, str)  # (done, total, message) as the job reports it

    def __init__(self, parent: QWidget | None, title: str, *, background: bool = False) -> None:
        super().__init__(parent)
        self.background = background
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
        # A background job's dialog is never shown (its screen shows the progress): it only
        # keeps the same Cancel path as every other job.
        self.dialog.setMinimumDuration(2**31 - 1 if background else 300)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.setValue(0)
        self.dialog.canceled.connect(self._cancel)
        self.signals.progress.connect(self._on_progress)
        self.result: Any = None
        self.error: str | None = None
        self.was_cancelled = False
        self.abandoned = False  # its window closed: results are dropped, callbacks not called
        self.owner = parent

    def cancel(self) -> None:
        """Stop the job (the screen's own Stop button for a background job)."""
        self._cancel()

    def abandon(self) -> None:
        """Cancel the job and drop its result: the window it reports to is closing (no callback runs)."""
        self.token.cancel()
        self.abandoned = True
        JobRunner._active.discard(self)
        try:
            self.dialog.canceled.disconnect(self._cancel)
            self.dialog.close()
            self.dialog.deleteLater()
        except (RuntimeError, TypeError):  # already closed or deleted with its window
            pass

    def _cancel(self) -> None:
        self.token.cancel()
        self.dialog.setLabelText(self.tr("Cancelling... nothing will be kept"))

    @Slot(int, int, str)
    def _on_progress(self, done: int, total: int, message: str) -> None:
        if self.token.cancelled:
            return
        self.progressed.emit(done, total, message)
        if self.background:
            return
        total = max(total, 1)
        self.dialog.setMaximum(total)
        self.dialog.setValue(min(done, total))
        if message:
            self.dialog.setLabelText(message)

    def close(self) -> None:
        if self.abandoned:
            return
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
    _frozen = False  # the start-up objects are kept out of garbage collections (see the module's notes)

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
        on_progress: Callable[[int, int, str], None] | None = None,
        background: bool = False,
    ) -> Job:
        if not cls._frozen and not cls.synchronous:
            JobRunner._frozen = True
            gc.freeze()
        job = Job(parent, title, background=background)
        if on_progress is not None:
            job.progressed.connect(on_progress)
        cls._active.add(job)

        def finish() -> None:
            job.close()
            cls._active.discard(job)

        def succeeded(result: Any) -> None:
            if job.abandoned:
                return
            job.result = result
            finish()
            if on_success:
                on_success(result)

        def failed(message: str) -> None:
            if job.abandoned:
                return
            job.error = message
            finish()
            if on_failure:
                on_failure(message)
            elif show_errors:
                QMessageBox.warning(parent, title, message)

        def cancelled(message: str) -> None:
            if job.abandoned:
                return
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


    @classmethod
    def running(cls) -> list[Job]:
        return list(cls._active)

    @classmethod
    def stop_jobs(cls, window: QWidget | None = None, timeout_ms: int = 30_000) -> int:
        """Cancel the jobs shown in ``window`` (every job when None), wait for the workers, drop
        their callbacks. Returns how many were stopped."""
        stopped = []
        for job in list(cls._active):
            owner = job.owner
            try:
                mine = window is None or owner is None or owner is window or window.isAncestorOf(owner)
            except RuntimeError:  # the owner is already deleted
                mine = True
            if mine:
                job.token.cancel()
                stopped.append(job)
        if stopped and not cls.synchronous:
            QThreadPool.globalInstance().waitForDone(timeout_ms)
        for job in stopped:
            job.abandon()
        return len(stopped)


def run_job(parent: QWidget | None, title: str, fn: Callable[..., Any], **callbacks: Any) -> Job:
    """Run ``fn(progress=, cancel=)`` off the GUI thread with a cancellable progress dialog."""
    return JobRunner.run(parent, title, fn, **callbacks)
