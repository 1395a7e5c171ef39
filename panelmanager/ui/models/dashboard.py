"""Table models of the Dashboard screen.

- ``MeasureGridModel``: measure rates as a grid: a "Practice" row first, one row per
  provider, and "Unassigned" when some patients have no provider; one column per measure.
  Each cell holds rate, numerator and denominator against the practice's goal: green at
  or above the goal, red below (for an inverse measure such as HbA1c poor control, green
  at or below). ``CELL_ROLE`` gives a cell's figures, ``MEETS_ROLE`` True / False / None.
- ``GapPatientTableModel``: the patients behind one cell (``core.panel_lists.gap_patients``),
  as an ``IdTableModel`` over the frame the core returned, sorted in memory.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QCoreApplication, QModelIndex, Qt
from PySide6.QtGui import QBrush

from panelmanager.core.settings import measure_goal
from panelmanager.ui.models.base import Column, IdTableModel
from panelmanager.ui.widgets.charts import GREEN_BG, GREEN_FG, NEUTRAL_BG, NEUTRAL_FG, RED_BG, RED_FG

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def _tr(text: str) -> str:
    return QCoreApplication.translate("DashboardModels", text)


@dataclass(frozen=True)
class GridRow:
    key: str  # "provider:<id>", "unassigned" or "practice"
    label: str
    provider_id: int | None = None
    unassigned: bool = False
    practice: bool = False


@dataclass(frozen=True)
class GridMeasure:
    id: str
    title: str
    goal: float  # percent
    inverse: bool


@dataclass(frozen=True)
class GridCell:
    numerator: int
    denominator: int
    rate: float | None  # 0..1; None without eligible patients
    open: int  # patients with an open gap (what the drill-down lists)
    due_soon: int
    goal: float
    inverse: bool

    @property
    def meets(self) -> bool | None:
        from panelmanager.core.panel_lists import meets_goal  # loaded by the job that read the figures

        return meets_goal(self.rate, self.goal, inverse=self.inverse)


@dataclass(frozen=True)
class CellTarget:
    """What a cell's drill-down lists."""

    measure: str
    measure_title: str
    row_label: str
    provider_id: int | None
    unassigned: bool
    inverse: bool


def _int(value) -> int:
    try:
        return 0 if value is None or pd.isna(value) else int(value)
    except (TypeError, ValueError):
        return 0


def _rate(value) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


@dataclass(frozen=True)
class GridContent:
    """The grid's rows, columns and cells (``grid_content``), built off the GUI thread."""

    rows: list[GridRow]
    measures: list[GridMeasure]
    cells: dict[tuple[str, str], GridCell]


def grid_content(by_provider: pd.DataFrame, practice: pd.DataFrame, goals: dict[str, float]) -> GridContent:
    """The grid from ``core.measures.measure_rates`` (by provider and for the practice): Qt-free."""
    measures: list[GridMeasure] = []
    seen: set[str] = set()
    for frame in (practice, by_provider):
        for record in frame[["measure", "title", "inverse"]].itertuples(index=False):
            if record.measure not in seen:
                seen.add(record.measure)
                measures.append(GridMeasure(record.measure, str(record.title), measure_goal(goals, record.measure, inverse=bool(record.inverse)), bool(record.inverse)))
    info = {m.id: m for m in measures}
    providers: dict[int, str] = {}
    has_unassigned = False
    cells: dict[tuple[str, str], GridCell] = {}

    def cell(record, measure: GridMeasure) -> GridCell:
        return GridCell(
            numerator=_int(record["numerator"]),
            denominator=_int(record["denominator"]),
            rate=_rate(record["rate"]),
            open=_int(record["open"]),
            due_soon=_int(record["due_soon"]),
            goal=measure.goal,
            inverse=measure.inverse,
        )

    for record in by_provider.to_dict("records"):
        measure = info[record["measure"]]
        provider_id = record["provider_id"]
        if provider_id is None or pd.isna(provider_id):
            key = "unassigned"
            has_unassigned = True
        else:
            provider_id = int(provider_id)
            providers[provider_id] = str(record["provider"])
            key = f"provider:{provider_id}"
        cells[(key, measure.id)] = cell(record, measure)
    for record in practice.to_dict("records"):
        cells[("practice", record["measure"])] = cell(record, info[record["measure"]])

    # The practice first: with 70 providers it stays in sight without scrolling.
    rows = [GridRow("practice", _tr("Practice"), practice=True)] if not practice.empty else []
    rows += [GridRow(f"provider:{pid}", name, provider_id=pid) for pid, name in sorted(providers.items(), key=lambda kv: kv[1].casefold())]
    if has_unassigned:
        rows.append(GridRow("unassigned", _tr("Unassigned"), unassigned=True))
    return GridContent(rows, measures, cells)


class MeasureGridModel(QAbstractTableModel):
    CELL_ROLE = Qt.ItemDataRole.UserRole + 1
    MEETS_ROLE = Qt.ItemDataRole.UserRole + 2
    TARGET_ROLE = Qt.ItemDataRole.UserRole + 3

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.grid_rows: list[GridRow] = []
        self.measures: list[GridMeasure] = []
        self.cells: dict[tuple[str, str], GridCell] = {}

    def set_rates(self, by_provider: pd.DataFrame, practice: pd.DataFrame, goals: dict[str, float]) -> None:
        """Fill the grid from ``core.measures.measure_rates`` (by provider and for the practice)."""
        self.set_grid(grid_content(by_provider, practice, goals))

    def set_grid(self, content: GridContent) -> None:
        """Show a grid built by ``grid_content`` (in a job: the GUI thread only swaps it in)."""
        self.beginResetModel()
        self.grid_rows = content.rows
        self.measures = content.measures
        self.cells = content.cells
        self.endResetModel()

    # -- lookups
    def cell(self, row: int, column: int) -> GridCell | None:
        if not (0 <= row < len(self.grid_rows) and 0 <= column < len(self.measures)):
            return None
        return self.cells.get((self.grid_rows[row].key, self.measures[column].id))

    def target(self, row: int, column: int) -> CellTarget | None:
        if not (0 <= row < len(self.grid_rows) and 0 <= column < len(self.measures)):
            return None
        grid_row, measure = self.grid_rows[row], self.measures[column]
        return CellTarget(measure.id, measure.title, grid_row.label, grid_row.provider_id, grid_row.unassigned, measure.inverse)

    def row_of(self, key: str) -> int:
        return next((n for n, r in enumerate(self.grid_rows) if r.key == key), -1)

    def column_of(self, measure_id: str) -> int:
        return next((n for n, m in enumerate(self.measures) if m.id == measure_id), -1)

    @staticmethod
    def goal_text(measure: GridMeasure) -> str:
        return (_tr("goal ≤ {0:g}%") if measure.inverse else _tr("goal ≥ {0:g}%")).format(measure.goal)

    # -- Qt model API
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(self.grid_rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(self.measures)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.measures):
            measure = self.measures[section]
            if role == Qt.ItemDataRole.DisplayRole:
                return f"{measure.title}\n{self.goal_text(measure)}"
            if role == Qt.ItemDataRole.ToolTipRole:
                tip = f"{measure.title} ({self.goal_text(measure)})"
                if measure.inverse:
                    tip += "\n" + _tr("Inverse measure: a lower rate is better.")
                return tip
        if orientation == Qt.Orientation.Vertical and 0 <= section < len(self.grid_rows):
            if role == Qt.ItemDataRole.DisplayRole:
                return self.grid_rows[section].label
            if role == Qt.ItemDataRole.FontRole and self.grid_rows[section].practice:
                from PySide6.QtGui import QFont

                font = QFont()
                font.setBold(True)
                return font
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        cell = self.cell(index.row(), index.column())
        if role == self.TARGET_ROLE:
            return self.target(index.row(), index.column())
        if role == self.CELL_ROLE:
            return cell
        meets = cell.meets if cell is not None else None
        if role == self.MEETS_ROLE:
            return meets
        if role == Qt.ItemDataRole.DisplayRole:
            if cell is None or cell.rate is None:
                return "—\n" + _tr("no patients")
            return f"{100 * cell.rate:.1f}%\n{cell.numerator:,}/{cell.denominator:,}"
        if role == Qt.ItemDataRole.BackgroundRole:
            return QBrush(NEUTRAL_BG if meets is None else (GREEN_BG if meets else RED_BG))
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(NEUTRAL_FG if meets is None else (GREEN_FG if meets else RED_FG))
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(index.row(), index.column())
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self.tooltip(index.row(), index.column())
        return None

    def tooltip(self, row: int, column: int) -> str:
        grid_row, measure = self.grid_rows[row], self.measures[column]
        cell = self.cell(row, column)
        head = f"{grid_row.label} — {measure.title}"
        if cell is None or cell.rate is None:
            return head + "\n" + _tr("No eligible patients.")
        verdict = {True: _tr("meets the goal"), False: _tr("below the goal")}[bool(cell.meets)]
        if measure.inverse:
            verdict = {True: _tr("meets the goal (lower is better)"), False: _tr("above the goal (lower is better)")}[bool(cell.meets)]
        lines = [
            head,
            _tr("{0:,} of {1:,} eligible patients: {2:.1f}% ({3}, {4})").format(
                cell.numerator, cell.denominator, 100 * cell.rate, self.goal_text(measure), verdict
            ),
            _tr("{0:,} with an open gap; {1:,} due soon. Double-click or press Enter to list them.").format(cell.open, cell.due_soon),
        ]
        return "\n".join(lines)


# --------------------------------------------------------------------------- drill-down


def status_label(status: str | None) -> str:
    return {"open": _tr("Open"), "due-soon": _tr("Due soon"), "met": _tr("Met"), "excluded": _tr("Excluded")}.get(
        status or "", status or ""
    )


def gap_columns() -> list[Column]:
    return [
        Column("name", _tr("Patient"), "name"),
        Column("mrn", _tr("MRN"), "mrn"),
        Column("dob", _tr("DOB"), "dob"),
        Column("age", _tr("Age"), "dob", RIGHT),
        Column("status_label", _tr("Status"), "status"),
        Column("due_date", _tr("Due"), "due_date"),
        Column("last_date", _tr("Last done"), "last_date"),
        Column("last_value", _tr("Last result"), "last_value"),
        Column("provider", _tr("Provider"), "provider"),
    ]


class GapPatientTableModel(IdTableModel):
    """The patients with a gap behind one dashboard cell; ids and rows from the core's frame."""

    def __init__(self, parent=None) -> None:
        self.frame = pd.DataFrame(columns=["patient_id", "mrn", "name", "dob", "age", "status", "due_date", "last_date", "last_value", "provider"])
        self._by_id: dict[int, dict] = {}

        def query(sort_key: str | None, descending: bool) -> list[int]:
            if self.frame.empty:
                return []
            key = sort_key or "name"
            ordered = self.frame.sort_values(
                [key, "name", "mrn"] if key not in ("name",) else ["name", "mrn"],
                ascending=not descending,
                na_position="last",
                kind="stable",
                key=lambda s: s.map(_sortable),
            )
            return [int(x) for x in ordered["patient_id"]]

        def fetch(ids) -> dict[int, dict]:
            return {int(i): self._by_id[int(i)] for i in ids if int(i) in self._by_id}

        super().__init__(gap_columns(), query, fetch, parent)
        self.foreground = self._foreground

    def set_patients(self, frame: pd.DataFrame) -> None:
        self.frame = frame.reset_index(drop=True)
        by_id: dict[int, dict] = {}
        for record in self.frame.to_dict("records"):
            for key in ("dob", "due_date", "last_date"):
                value = record.get(key)
                record[key] = value.isoformat() if isinstance(value, dt.date) else ""
            record["age"] = "" if record.get("age") is None or pd.isna(record.get("age")) else int(record["age"])
            for key in ("last_value", "provider", "mrn", "name"):
                value = record.get(key)
                record[key] = value if isinstance(value, str) else ("" if value is None or pd.isna(value) else str(value))
            # Staff words where the core gives them ("A1c above 9"), else the plain status.
            staff = record.get("staff_status")
            record["status_label"] = staff if isinstance(staff, str) and staff else status_label(record.get("status"))
            by_id[int(record["patient_id"])] = record
        self._by_id = by_id
        self.reload()

    def _foreground(self, row: dict, column: Column):
        if column.key == "due_date" and row.get("status") == "open":
            return QBrush(RED_FG)
        return None


def _sortable(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
