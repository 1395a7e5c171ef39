"""The list models' base: ``ColumnTableModel`` (columns, row dicts, decorations, the id and
row roles) under the two kinds of list.

``IdTableModel`` holds only ids and fetches rows as they are shown (Anki's browser). A screen gives the model a ``query`` that returns the ordered ids for the current
search/filter/sort (one SQL statement over the whole registry) and a ``fetch`` that turns a
page of ids into display rows. Scrolling through 100,000 patients fetches a few hundred
rows at a time; sorting re-runs the id query with another ORDER BY in SQL.

``RecordTableModel`` holds rows the core returned whole, sorted in memory.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QCoreApplication, QModelIndex, QPersistentModelIndex, Qt

PAGE = 200


def _tr(text: str) -> str:
    return QCoreApplication.translate("PanelModels", text)

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


_ANSWERED_ROLES = frozenset(
    int(role)
    for role in (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.TextAlignmentRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.BackgroundRole,
        Qt.ItemDataRole.ToolTipRole,
    )
)
_USER_ROLE = int(Qt.ItemDataRole.UserRole)
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)


class ColumnTableModel(QAbstractTableModel):
    """What every list model shares: ``Column``s, a row dict per row, per-row decorations
    (colours, tooltips) a screen computes from the row, and the id and row roles. Subclasses say
    how many rows there are (``_count``), where a row comes from (``row_data``), its id
    (``id_at``) and, when codes need words, a cell's text (``text``). A model that answers
    ``data`` itself (the huddle, the check-in schedule) still takes its row and column counts and
    its header titles from here."""

    ID_ROLE = Qt.ItemDataRole.UserRole + 1
    ROW_ROLE = Qt.ItemDataRole.UserRole + 2
    ALIGN_HEADERS = False  # header titles aligned like their column

    def __init__(self, columns: Sequence[Column], parent=None) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        # Per-row decorations a screen may compute (colours, tooltips) from the row dict.
        self.foreground: Callable[[Row, Column], Any] | None = None
        self.background: Callable[[Row, Column], Any] | None = None
        self.tooltip: Callable[[Row, Column], str | None] | None = None

    # -- what subclasses provide
    def _count(self) -> int:
        raise NotImplementedError

    def row_data(self, row: int) -> Row | None:
        raise NotImplementedError

    def id_at(self, row: int) -> int | None:
        raise NotImplementedError

    def text(self, row: Row, column: Column) -> str:
        """The cell's text; subclasses translate codes (kinds, statuses) here."""
        value = row.get(column.key)
        return "" if value is None else str(value)

    # -- Qt model API
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else self._count()

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.columns):
            if role == Qt.ItemDataRole.DisplayRole:
                return self.columns[section].title
            if role == Qt.ItemDataRole.TextAlignmentRole and self.ALIGN_HEADERS:
                return int(self.columns[section].align)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        # A view asks each cell for a dozen roles per paint (font, decoration, check state...),
        # so this runs thousands of times a paint: roles no list answers cost no row look-up,
        # and roles are compared as plain ints (an enum member is looked up on every use).
        if role not in _ANSWERED_ROLES and role < _USER_ROLE:
            return None
        number = index.row()  # -1 for an invalid index
        if not 0 <= number < self._count():
            return None
        column = self.columns[index.column()]
        if role == self.ID_ROLE:
            return self.id_at(number)
        row = self.row_data(number)
        if row is None:
            return None
        if role == _DISPLAY:
            return self.text(row, column)
        if role == self.ROW_ROLE:
            return row
        if role == _ALIGNMENT:
            return int(column.align)
        if role == _FOREGROUND:
            return self.foreground(row, column) if self.foreground else None
        if role == _BACKGROUND:
            return self.background(row, column) if self.background else None
        if role == _TOOLTIP and self.tooltip:
            return self.tooltip(row, column)
        return None


class IdTableModel(ColumnTableModel):
    """Generic lazy model; subclasses name the entity (``PatientTableModel``...).

    ``FETCH_ROWS`` caps a page below ``PAGE`` for a model whose rows are dear to fetch: what a
    view shows first is then all that is fetched before it paints."""

    FETCH_ROWS: int | None = None

    def __init__(self, columns: Sequence[Column], query: IdQuery, fetch: RowFetch, parent=None) -> None:
        super().__init__(columns, parent)
        self._query = query
        self._fetch = fetch
        self._ids: list[int] = []
        self._loaded = False
        self._pages: OrderedDict[int, dict[int, Row]] = OrderedDict()
        self._sort_key: str | None = None
        self._descending = False

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
        size = PAGE if self.FETCH_ROWS is None else min(PAGE, self.FETCH_ROWS)
        page_no = row // size
        page = self._pages.get(page_no)
        if page is None:
            ids = self._ids[page_no * size : (page_no + 1) * size]
            page = self._fetch(ids)
            self._pages[page_no] = page
            while len(self._pages) > _CACHE_PAGES:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page_no)
        return page.get(self._ids[row])

    # -- rows
    def _count(self) -> int:
        return len(self._ids)

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


def display_value(value: Any) -> str:
    """How a plain value reads in a table cell."""
    if value is None or (isinstance(value, dt.date) and value != value):  # None, or pandas' NaT
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return f"{value:,.1f}"
    if isinstance(value, bool):
        return _tr("yes") if value else _tr("no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def sort_value(value: Any) -> tuple:
    """A key that sorts None last and mixes nothing incomparable."""
    if value is None or (isinstance(value, (float, dt.date)) and value != value):
        return (1, "")
    if isinstance(value, str):
        return (0, value.casefold())
    if isinstance(value, dt.datetime):
        return (0, value.isoformat())
    if isinstance(value, dt.date):
        return (0, value.isoformat())
    return (0, value)


class RecordTableModel(ColumnTableModel):
    """In-memory rows (dicts) shown through ``Column``s; sortable by each column's sort key.
    For rows the core returned whole (a provider's panel, suggestions): lists of that size stay small."""

    ALIGN_HEADERS = True

    def __init__(self, columns: Sequence[Column], id_key: str = "patient_id", parent=None) -> None:
        super().__init__(columns, parent)
        self.id_key = id_key
        self._rows: list[Row] = []
        self._sorted: tuple[int, Qt.SortOrder] | None = None

    # -- data
    def set_rows(self, rows: Sequence[Row]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()
        if self._sorted is not None:
            self.sort(*self._sorted)

    def rows(self) -> list[Row]:
        return list(self._rows)

    def row_data(self, row: int) -> Row | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def id_at(self, row: int) -> int | None:
        data = self.row_data(row)
        return None if data is None else data.get(self.id_key)

    def ids(self) -> list[int]:
        return [r.get(self.id_key) for r in self._rows]

    def row_of(self, entity_id: int) -> int:
        for number, row in enumerate(self._rows):
            if row.get(self.id_key) == entity_id:
                return number
        return -1

    def text(self, row: Row, column: Column) -> str:
        """The cell's text; subclasses translate codes (kinds, statuses) here."""
        return display_value(row.get(column.key))

    def _count(self) -> int:
        return len(self._rows)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not (0 <= column < len(self.columns)):
            return
        key = self.columns[column].sort_key
        if key is None:
            return
        self._sorted = (column, order)
        self.layoutAboutToBeChanged.emit()
        self._rows.sort(key=lambda r: sort_value(r.get(key)), reverse=order == Qt.SortOrder.DescendingOrder)
        self.layoutChanged.emit()
