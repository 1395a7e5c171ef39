"""A table model that holds only ids and fetches rows as they are shown (Anki's browser).

A screen gives the model a ``query`` that returns the ordered ids for the current
search/filter/sort (one SQL statement over the whole registry) and a ``fetch`` that turns a
page of ids into display rows. Scrolling through 100,000 patients fetches a few hundred
rows at a time; sorting re-runs the id query with another ORDER BY in SQL.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

PAGE = 200
_CACHE_PAGES = 20


@dataclass(frozen=True)
class Column:
    key: str  # key in the fetched row dict
    title: str  # already translated by the screen
    sort_key: str | None = None  # what the id query orders by; None: not sortable
    align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
    width: int | None = None


Row = dict[str, Any]
IdQuery = Callable[[str | None, bool], Sequence[int]]  # (sort_key, descending) -> ids
RowFetch = Callable[[Sequence[int]], dict[int, Row]]  # ids -> {id: row}


class IdTableModel(QAbstractTableModel):
    """Generic lazy model; subclasses name the entity (``PatientTableModel``...)."""

    ID_ROLE = Qt.ItemDataRole.UserRole + 1
    ROW_ROLE = Qt.ItemDataRole.UserRole + 2

    def __init__(self, columns: Sequence[Column], query: IdQuery, fetch: RowFetch, parent=None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self._query = query
        self._fetch = fetch
        self._ids: list[int] = []
        self._loaded = False
        self._pages: OrderedDict[int, dict[int, Row]] = OrderedDict()
        self._sort_key: str | None = None
        self._descending = False
        # Per-row decorations a screen may compute (colours, tooltips) from the row dict.
        self.foreground: Callable[[Row, Column], Any] | None = None
        self.background: Callable[[Row, Column], Any] | None = None
        self.tooltip: Callable[[Row, Column], str | None] | None = None

    # -- loading
    def set_query(self, query: IdQuery) -> None:
        self._query = query
        self.reload()

    def reload(self) -> None:
        self.beginResetModel()
        self._ids = list(self._query(self._sort_key, self._descending))
        self._loaded = True
        self._pages.clear()
        self.endResetModel()

    def set_ids(self, ids: Sequence[int]) -> None:
        """Show ids the id query returned elsewhere (a job): the same as ``reload`` without the query."""
        self.beginResetModel()
        self._ids = list(ids)
        self._loaded = True
        self._pages.clear()
        self.endResetModel()

    def sort_order(self) -> tuple[str | None, bool]:
        """The sort key and direction the id query uses."""
        return self._sort_key, self._descending

    def invalidate_rows(self) -> None:
        """Re-fetch visible rows (data changed) without re-running the id query."""
        self._pages.clear()
        if self._ids:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._ids) - 1, len(self.columns) - 1))

    def ids(self) -> list[int]:
        return list(self._ids)

    def id_at(self, row: int) -> int | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_of(self, entity_id: int) -> int:
        try:
            return self._ids.index(entity_id)
        except ValueError:
            return -1

    def row_data(self, row: int) -> Row | None:
        if not 0 <= row < len(self._ids):
            return None
        page_no = row // PAGE
        page = self._pages.get(page_no)
        if page is None:
            ids = self._ids[page_no * PAGE : (page_no + 1) * PAGE]
            page = self._fetch(ids)
            self._pages[page_no] = page
            while len(self._pages) > _CACHE_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page_no)
        return page.get(self._ids[row])

    # -- Qt model API
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section].title
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        column = self.columns[index.column()]
        if role == self.ID_ROLE:
            return self._ids[index.row()]
        row = self.row_data(index.row())
        if row is None:
            return None
        if role == self.ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.DisplayRole:
            value = row.get(column.key)
            return "" if value is None else str(value)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(column.align)
        if role == Qt.ItemDataRole.ForegroundRole and self.foreground:
            return self.foreground(row, column)
        if role == Qt.ItemDataRole.BackgroundRole and self.background:
            return self.background(row, column)
        if role == Qt.ItemDataRole.ToolTipRole and self.tooltip:
            return self.tooltip(row, column)
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = self.columns[column].sort_key
        if key is None:
            return
        descending = order == Qt.SortOrder.DescendingOrder
        if self._loaded and (key, descending) == (self._sort_key, self._descending):
            return  # already in this order (QTableView re-applies its sort indicator on set-up)
        self._sort_key = key
        self._descending = descending
        self.reload()
