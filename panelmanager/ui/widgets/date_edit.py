"""A date field that takes a whole typed date: select all, type "2023-05-06" or "5/6/2023".

Qt's QDateEdit edits one section at a time, so typing a full date over a selection lands
digits in the wrong sections (Ctrl+A then "2023-05-06" gave 2024-05-06). Here, typing a
digit while the whole text is selected starts a free-text entry: the typed characters are
shown as they are, and Enter, Tab, leaving the field or a complete date commits them.
ISO (2023-05-06, 20230506) and US (05/06/2023, 5/6/2023, 5-6-2023) dates are understood;
anything else puts the previous date back. Arrow keys and section editing work as before.
"""

from __future__ import annotations

import datetime as dt
import re

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QDateEdit

__all__ = ["DateEdit", "parse_typed_date"]

_ISO = re.compile(r"^(\d{4})[-./](\d{1,2})[-./](\d{1,2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_US = re.compile(r"^(\d{1,2})[-./](\d{1,2})[-./](\d{4})$")


def parse_typed_date(text: str) -> dt.date | None:
    """A typed ISO or US date, or None."""
    text = text.strip()
    for pattern, order in ((_ISO, (0, 1, 2)), (_COMPACT, (0, 1, 2)), (_US, (2, 0, 1))):
        match = pattern.match(text)
        if match:
            parts = [int(g) for g in match.groups()]
            try:
                return dt.date(parts[order[0]], parts[order[1]], parts[order[2]])
            except ValueError:
                return None
    return None


class DateEdit(QDateEdit):
    """QDateEdit that also accepts a whole date typed over a full selection."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._typed: str | None = None

    def typing(self) -> bool:
        return self._typed is not None

    def keyPressEvent(self, event) -> None:  # noqa: N802
        text, key, line = event.text(), event.key(), self.lineEdit()
        whole = line.hasSelectedText() and len(line.selectedText()) == len(line.text())
        if self._typed is None and text.isdigit() and whole:
            self._typed = ""
        if self._typed is None:
            super().keyPressEvent(event)
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
            self.commit_typed()
            super().keyPressEvent(event)
            return
        if key == Qt.Key.Key_Escape:
            self._typed = None
            self._show_date()
            return
        if key == Qt.Key.Key_Backspace:
            self._typed = self._typed[:-1]
        elif text and (text.isdigit() or text in "-/."):
            self._typed += text
        else:
            return  # other keys are ignored while a date is being typed
        self._show_typed()
        if len(self._typed) >= 10 and parse_typed_date(self._typed) is not None:
            self.commit_typed()

    def _show_typed(self) -> None:
        line = self.lineEdit()
        line.blockSignals(True)  # the spin box must not reinterpret half a date
        line.setText(self._typed or "")
        line.setCursorPosition(len(self._typed or ""))
        line.blockSignals(False)

    def _show_date(self) -> None:
        line = self.lineEdit()
        line.blockSignals(True)
        line.setText(self.textFromDateTime(self.dateTime()))
        line.blockSignals(False)

    def commit_typed(self) -> bool:
        """Apply the typed date (True), or put the previous date back (False)."""
        typed, self._typed = self._typed, None
        if typed is None:
            return False
        day = parse_typed_date(typed)
        if day is None or not (self.minimumDate() <= QDate(day.year, day.month, day.day) <= self.maximumDate()):
            self._show_date()
            return False
        self.setDate(QDate(day.year, day.month, day.day))
        self._show_date()
        return True

    def focusOutEvent(self, event) -> None:  # noqa: N802
        self.commit_typed()
        super().focusOutEvent(event)
