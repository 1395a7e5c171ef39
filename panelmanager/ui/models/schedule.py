"""ScheduleTableModel: one day's visits for the check-in screen.

A day's schedule is bounded (a few dozen visits per provider), so the model holds the
rows ``core.schedule.day_schedule`` returned and sorts them in memory; the open-gap
counts arrive later (they come from a job) through ``set_gap_counts``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont

from panelmanager.ui.models.base import Column, ColumnTableModel

if TYPE_CHECKING:  # the check-in screen's first paint passes plain rows: no pandas at start-up
    import pandas as pd


def _tr(text: str) -> str:
    return QCoreApplication.translate("ScheduleTableModel", text)


# Colours of the assignment status (dark enough to read on white and on the alternate row).
STATUS_COLOURS = {
    "confirmed": "#1b7a3a",
    "unconfirmed": "#9a5b00",
    "unassigned": "#b3261e",
    "other": "#6a2c9e",
}


def status_texts() -> dict[str, str]:
    return {
        "confirmed": _tr("Confirmed"),
        "unconfirmed": _tr("Not confirmed"),
        "unassigned": _tr("No PCP"),
        "other": _tr("Other PCP"),
    }


def answer_texts() -> dict[str, str]:
    return {
        "confirmed": _tr("confirmed"),
        "changed": _tr("chose a new PCP"),
        "declined": _tr("declined"),
    }


def schedule_columns() -> list[Column]:
    centre = Qt.AlignmentFlag.AlignCenter
    return [
        Column("time", _tr("Time"), "start"),
        Column("name", _tr("Patient"), "name"),
        Column("dob_age", _tr("DOB (age)"), "dob"),
        Column("visit_provider", _tr("Visit with"), "visit_provider"),
        Column("visit_type", _tr("Visit type"), "visit_type"),
        Column("pcp", _tr("Assigned PCP"), "pcp"),
        Column("status_text", _tr("PCP status"), "status_rank"),
        Column("gaps", _tr("Open gaps"), "open_gaps", centre),
    ]


_STATUS_RANK = {"unassigned": 0, "other": 1, "unconfirmed": 2, "confirmed": 3}


class ScheduleTableModel(ColumnTableModel):
    """Rows of ``core.schedule.day_schedule``; ``ID_ROLE`` is the patient id, ``VISIT_ROLE`` the visit id."""

    VISIT_ROLE = Qt.ItemDataRole.UserRole + 3

    def __init__(self, parent=None) -> None:
        super().__init__(schedule_columns(), parent)
        self.day: dt.date | None = None
        self._rows: list[dict[str, Any]] = []
        self._gaps: dict[int, tuple[int, int]] | None = None
        self._sort: tuple[str, bool] | None = None
        self._status_texts = status_texts()
        self._answers = answer_texts()
        self._bold = QFont()
        self._bold.setBold(True)

    # -- loading
    def set_schedule(self, frame: pd.DataFrame | Sequence[dict[str, Any]], day: dt.date) -> None:
        """The rows of ``day_schedule`` (a frame) or ``day_schedule_rows`` (dicts)."""
        self.beginResetModel()
        self.day = day
        if hasattr(frame, "itertuples"):
            rows = [dict(zip(frame.columns, values)) for values in frame.itertuples(index=False, name=None)]
        else:
            rows = [dict(row) for row in frame]
        self._rows = [self._decorate(row) for row in rows]
        if self._gaps is not None:
            self._apply_gaps()
        self._sort_rows()
        self.endResetModel()

    def set_gap_counts(self, counts: dict[int, tuple[int, int]] | None) -> None:
        """(open, due soon) per patient id; a patient not in ``counts`` is not known yet ("…")."""
        self._gaps = counts
        self._apply_gaps()
        if self._sort and self._sort[0] == "open_gaps":
            self.beginResetModel()
            self._sort_rows()
            self.endResetModel()
        elif self._rows:
            column = next(i for i, c in enumerate(self.columns) if c.key == "gaps")
            self.dataChanged.emit(self.index(0, column), self.index(len(self._rows) - 1, column))

    def _apply_gaps(self) -> None:
        for row in self._rows:
            if self._gaps is None or row["patient_id"] not in self._gaps:
                row["open_gaps"], row["due_soon"], row["gaps"] = -1, 0, "…"
            else:
                open_, soon = self._gaps[row["patient_id"]]
                row["open_gaps"], row["due_soon"] = open_, soon
                row["gaps"] = str(open_) + (f" +{soon}" if soon else "")

    def _decorate(self, row: dict[str, Any]) -> dict[str, Any]:
        start = row["start"]
        row["time"] = start.strftime("%H:%M") if start is not None else ""
        dob, age = row.get("dob"), row.get("age")
        row["dob_age"] = f"{dob.isoformat()} ({age})" if dob is not None and age is not None else ""
        row["visit_provider"] = row.get("visit_provider") or _tr("(no provider)")
        row["pcp"] = row.get("pcp") or "—"
        text = self._status_texts.get(row["status"], row["status"])
        answered_today = row.get("last_answer") and row.get("last_answer_on") == self.day
        if answered_today and not (row["status"] == "confirmed" and row["last_answer"] in ("confirmed", "changed")):
            text += " · " + _tr("{0} today").format(self._answers.get(row["last_answer"], row["last_answer"]))
        row["status_text"] = text
        row["status_rank"] = _STATUS_RANK.get(row["status"], 9)
        row.setdefault("open_gaps", -1)
        row.setdefault("gaps", "…")
        return row

    # -- access
    def rows(self) -> list[dict[str, Any]]:
        return list(self._rows)

    def row_data(self, row: int) -> dict[str, Any] | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of_visit(self, visit_id: int) -> int:
        return next((i for i, r in enumerate(self._rows) if r["visit_id"] == visit_id), -1)

    def row_of_patient(self, patient_id: int) -> int:
        return next((i for i, r in enumerate(self._rows) if r["patient_id"] == patient_id), -1)

    def patient_ids(self) -> list[int]:
        return sorted({int(r["patient_id"]) for r in self._rows})

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self._rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        return counts

    # -- Qt model API (rowCount, columnCount and headerData: ColumnTableModel)
    def _count(self) -> int:
        return len(self._rows)

    def id_at(self, row: int) -> int | None:
        data = self.row_data(row)
        return None if data is None else data["patient_id"]

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            value = row.get(column.key)
            return "" if value is None else str(value)
        if role == self.ID_ROLE:
            return row["patient_id"]
        if role == self.VISIT_ROLE:
            return row["visit_id"]
        if role == self.ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(column.align)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column.key == "status_text":
                return QColor(STATUS_COLOURS.get(row["status"], "#000000"))
            if column.key == "gaps" and row.get("open_gaps", 0) > 0:
                return QColor("#b3261e")
        if role == Qt.ItemDataRole.FontRole:
            if (column.key == "status_text" and row["status"] != "confirmed") or (column.key == "gaps" and row.get("open_gaps", 0) > 0):
                return self._bold
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, column.key)
        return None

    def _tooltip(self, row: dict[str, Any], key: str) -> str | None:
        if key == "status_text":
            status = row["status"]
            if status == "unassigned":
                return _tr("On no provider's panel: ask who they see as their PCP.")
            if status == "other":
                return _tr("Assigned to {0}; this visit is with {1}.").format(row["pcp"], row["visit_provider"])
            if status == "confirmed" and row.get("patient_confirmed_on"):
                return _tr("The patient confirmed {0} on {1}.").format(row["pcp"], row["patient_confirmed_on"].isoformat())
            return _tr("Assigned to {0}; the patient has not confirmed it yet.").format(row["pcp"])
        if key == "gaps" and row.get("due_soon"):
            return _tr("{0} open, {1} due soon").format(row["open_gaps"], row["due_soon"])
        if key == "name":
            return _tr("MRN {0}").format(row["mrn"])
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = self.columns[column].sort_key
        if key is None:
            return
        self.layoutAboutToBeChanged.emit()
        self._sort = (key, order == Qt.SortOrder.DescendingOrder)
        self._sort_rows()
        self.layoutChanged.emit()

    def _sort_rows(self) -> None:
        if not self._sort:
            return
        key, descending = self._sort

        def value(row: dict[str, Any]):
            v = row.get(key)
            if v is None:
                return (1, "")
            return (0, v.lower() if isinstance(v, str) else v)

        # Ties in time order, whatever the direction of the chosen column.
        self._rows.sort(key=lambda r: (r["start"], r["name"]))
        self._rows.sort(key=value, reverse=descending)

