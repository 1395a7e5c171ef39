"""OutreachTableModel: the patients on an outreach list, one row per patient.

The list is computed by the core in pandas (``core.outreach.build_outreach_list`` folded
per patient by ``core.outreach_patients``); this model is the lazy id model over it: the
id "query" sorts that frame (in pandas, whole columns) and rows are fetched a page at a
time as they are shown, so a 50,000-patient list scrolls like a short one.
"""

from __future__ import annotations

import pandas as pd
from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QBrush, QColor

from panelmanager.core.outreach_patients import outreach_patient_order
from panelmanager.ui.models.base import Column, IdTableModel, Row


def _tr(text: str) -> str:
    return QCoreApplication.translate("OutreachTableModel", text)


RED = QColor("#b00020")


def outreach_columns() -> list[Column]:
    right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    return [
        Column("name", _tr("Name"), "name"),
        Column("mrn", _tr("MRN"), "mrn"),
        Column("age", _tr("Age"), "age", right),
        Column("language_name", _tr("Letters in"), "language"),
        Column("phone", _tr("Phone")),
        Column("gaps_line", _tr("Open gaps"), "gaps"),
        Column("address_line", _tr("Mailing address"), "address"),
        Column("last_outreach", _tr("Last outreach"), "last_outreach"),
        Column("next_appointment", _tr("Next appointment"), "next_appointment"),
        Column("provider_name", _tr("PCP"), "provider"),
    ]


def _missing(value) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)


def _display(record: dict) -> Row:
    row = {key: None if _missing(value) else value for key, value in record.items()}
    record = row
    row["gaps_line"] = "; ".join(str(record.get("gaps") or "").split("\n"))
    problem = record.get("address_problem")
    row["address_line"] = "⚠ " + _tr("No letter: {0}").format(_tr(problem)) if problem else record.get("address") or ""
    appointment = record.get("next_appointment")
    row["next_appointment"] = appointment.isoformat()[:10] if appointment is not None else ""
    return row


class OutreachTableModel(IdTableModel):
    """Rows come from ``set_patients(frame)`` (the columns of ``outreach_patients``)."""

    def __init__(self, parent=None) -> None:
        self.patients = pd.DataFrame()
        self._by_id: pd.DataFrame = pd.DataFrame()
        super().__init__(outreach_columns(), self._order, self._fetch_rows, parent)
        self.foreground = self._colour
        self.tooltip = self._tip

    def set_patients(self, patients: pd.DataFrame, ids: list[int] | None = None) -> None:
        """Show ``patients``; ``ids``: their order for the current sort, computed off the GUI thread
        (``sorted_ids``): sorting 50,000 names by their accent-free keys is a noticeable moment."""
        self.patients = patients
        self._by_id = patients.set_index("patient_id", drop=False) if not patients.empty else pd.DataFrame()
        if ids is None:
            self.reload()
        else:
            self.set_ids(ids)

    @staticmethod
    def sorted_ids(patients: pd.DataFrame, sort_order: tuple[str | None, bool]) -> list[int]:
        """The order ``set_patients`` shows ``patients`` in, for ``sort_order`` (the model's ``sort_order()``)."""
        return outreach_patient_order(patients, *sort_order) if not patients.empty else []

    def update_patients(self, patients: pd.DataFrame) -> None:
        """The same patients with fresh details (e.g. last outreach): rows re-fetched, order and selection kept."""
        self.patients = patients
        self._by_id = patients.set_index("patient_id", drop=False) if not patients.empty else pd.DataFrame()
        self.invalidate_rows()

    def _order(self, sort_key: str | None, descending: bool) -> list[int]:
        if self.patients.empty:
            return []
        return outreach_patient_order(self.patients, sort_key, descending)

    def _fetch_rows(self, ids) -> dict[int, Row]:
        if self._by_id.empty:
            return {}
        page = self._by_id.loc[list(ids)]
        return {int(r["patient_id"]): _display(r) for r in page.to_dict("records")}

    def _colour(self, row: Row, column: Column):
        if column.key == "address_line" and row.get("address_problem"):
            return QBrush(RED)
        return None

    def _tip(self, row: Row, column: Column) -> str | None:
        if column.key == "gaps_line":
            return row.get("gaps") or None
        if column.key == "phone":
            return row.get("phones") or None
        if column.key == "address_line" and row.get("address_problem"):
            return _tr("No letter or label can be printed for this patient: {0}. Call instead, or fix the address "
                       "in the practice management system.").format(_tr(row["address_problem"]))
        return None
