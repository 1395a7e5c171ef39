"""The job protocol shared by the CLI and the GUI: progress callbacks and cancel tokens.

Every long task is ``fn(session_or_registry, ..., progress=cb, cancel=token)``. The
CLI passes a terminal progress bar, the GUI a callback that forwards to a
QProgressDialog through a signal, tests pass nothing. A job calls
``cancel.raise_if_cancelled()`` between steps; raising ``Cancelled`` inside the
job's transaction rolls everything back.
"""

from __future__ import annotations

import threading
from typing import Protocol


class Cancelled(Exception):
    """The user cancelled a job; whatever it had written was rolled back."""

    def __init__(self, message: str = "Cancelled by the user; nothing was changed.") -> None:
        super().__init__(message)


class Progress(Protocol):
    def __call__(self, done: int, total: int, message: str = "") -> None: ...


def no_progress(done: int, total: int, message: str = "") -> None:
    """The default progress callback: report nothing."""


class CancelToken:
    """Set from any thread (a Cancel button, Ctrl+C); checked by the job between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


NEVER_CANCELLED = CancelToken()


class StepProgress:
    """Maps a job's named steps onto one 0..total range for a single progress bar."""

    def __init__(self, progress: Progress | None, steps: int, cancel: CancelToken | None = None) -> None:
        self._progress = progress or no_progress
        self._cancel = cancel or NEVER_CANCELLED
        self.total = max(1, steps)
        self.done = 0

    def step(self, message: str) -> None:
        self._cancel.raise_if_cancelled()
        self._progress(self.done, self.total, message)
        self.done = min(self.total, self.done + 1)

    def finish(self, message: str = "Done") -> None:
        self._progress(self.total, self.total, message)
