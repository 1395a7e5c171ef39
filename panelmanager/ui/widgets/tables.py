"""Table helpers every list screen shares: a read-only row-selecting ``QTableView``, a grey
hint label, the selected rows of a (possibly huge) selection, Enter opening a row, and
opening a patient from a list."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QAbstractItemView, QLabel, QTableView, QWidget


def open_patient(screen: QWidget, patient_id: int) -> None:
    """Show a patient: emit the screen's ``patient_requested`` and open the Patients screen."""
    screen.patient_requested.emit(int(patient_id))  # type: ignore[attr-defined]
    screen.show_patient(int(patient_id))  # type: ignore[attr-defined]


TableT = TypeVar("TableT", bound=QTableView)


def set_up_table(
    table: TableT,
    *,
    selection: QAbstractItemView.SelectionMode | None = None,
    word_wrap: bool | None = None,
    row_height: int | None = None,
) -> TableT:
    """Configure a list table the house way: read-only, whole rows selected, alternating row
    colours, no row numbers. ``selection``, ``word_wrap`` and ``row_height`` (the default row
    height in pixels) are set when given; None keeps Qt's default. Returns ``table``."""
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    if selection is not None:
        table.setSelectionMode(selection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    if word_wrap is not None:
        table.setWordWrap(word_wrap)
    table.verticalHeader().setVisible(False)
    if row_height is not None:
        table.verticalHeader().setDefaultSectionSize(row_height)
    return table


def make_table(multi: bool = True, sort_column: int | None = 0) -> QTableView:
    table = QTableView()
    set_up_table(
        table,
        selection=QAbstractItemView.SelectionMode.ExtendedSelection if multi else QAbstractItemView.SelectionMode.SingleSelection,
        word_wrap=False,
        row_height=int(table.fontMetrics().height() * 1.7),
    )
    if sort_column is not None:
        # The indicator first: enabling sorting sorts by it at once (-1: keep the core's order).
        table.horizontalHeader().setSortIndicator(sort_column, Qt.SortOrder.AscendingOrder)
        table.setSortingEnabled(True)
    table.horizontalHeader().setHighlightSections(False)
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
