"""Table helpers every list screen shares: a read-only row-selecting ``QTableView``, a grey
hint label, the selected rows of a (possibly huge) selection, Enter opening a row, and
opening a patient from a list."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractItemView, QLabel, QTableView, QWidget


def open_patient(screen: QWidget, patient_id: int) -> None:
    """Show a patient: emit the screen's ``patient_requested`` and open the Patients screen."""
    screen.patient_requested.emit(int(patient_id))  # type: ignore[attr-defined]
    screen.show_patient(int(patient_id))  # type: ignore[attr-defined]


def make_table(multi: bool = True, sort_column: int | None = 0) -> QTableView:
    table = QTableView()
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(
        QAbstractItemView.SelectionMode.ExtendedSelection if multi else QAbstractItemView.SelectionMode.SingleSelection
    )
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    if sort_column is not None:
        # The indicator first: enabling sorting sorts by it at once (-1: keep the core's order).
        table.horizontalHeader().setSortIndicator(sort_column, Qt.SortOrder.AscendingOrder)
        table.setSortingEnabled(True)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(int(table.fontMetrics().height() * 1.7))
    table.horizontalHeader().setHighlightSections(False)
    table.setWordWrap(False)
    return table


def hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


def selected_rows(table: QTableView) -> list[int]:
    """Selected row numbers, from the selection's ranges (Ctrl+A on 100,000 rows is one range)."""
    model = table.selectionModel()
    if model is None:
        return []
    rows: set[int] = set()
    for part in model.selection():
        rows.update(range(part.top(), part.bottom() + 1))
    return sorted(rows)


def enter_opens(table: QTableView, slot: Callable[[], None]) -> None:
    """Enter (or keypad Enter) on the table calls ``slot`` (opens the current row)."""
    for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
        shortcut = QShortcut(QKeySequence(key), table)
        shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        shortcut.activated.connect(slot)


def html_text(text: str) -> str:
    """Plain text made safe inside a rich-text label."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
