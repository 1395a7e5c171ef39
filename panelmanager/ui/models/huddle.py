"""HuddleTableModel: one clinic day's scheduled visits with what to do for each patient.

A day's schedule is small (tens to a few hundred visits), so the model holds the rows
``core.huddle.huddle_data`` returned, plus each patient's last HbA1c and blood pressure
(``core.latest_results``). Rows stay in the sheet's order: provider, then time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from PySide6.QtCore import QCoreApplication, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from panelmanager.core.huddle import HuddleRow, HuddleSheet
from panelmanager.core.latest_results import a1c_text, bp_text
from panelmanager.core.reports.huddle import age_text, clock
from panelmanager.ui.models.base import Column, ColumnTableModel


def _tr(text: str) -> str:
    return QCoreApplication.translate("HuddleTableModel", text)


RED = QColor("#b00020")
AMBER = QColor("#9a5200")
MUTED = QColor("#5f6b75")


def huddle_columns() -> list[Column]:
    return [
        Column("time", _tr("Time")),
        Column("patient", _tr("Patient")),
        Column("age_sex", _tr("Age/Sex")),
        Column("visit_type", _tr("Visit")),
        Column("pcp", _tr("PCP")),
        Column("risk", _tr("Risk")),
        Column("gaps", _tr("Open gaps")),
        Column("a1c", _tr("Last A1c")),
        Column("bp", _tr("Last BP")),
    ]


def pcp_flag_text(flag: str) -> str:
    """What the PCP cell says about a patient's PCP (translated)."""
    return {
        "other": _tr("Other PCP"),
        "unconfirmed": _tr("PCP not confirmed"),
        "none": _tr("No PCP"),
    }.get(flag, "")


def _two_lines(text: str) -> str:
    """``9.8% (2023-08-14)`` -> value, then the date under it (narrow columns)."""
    return text.replace(" (", "\n(", 1)


@dataclass
class HuddleLine:
    """One visit as the screen shows it."""

    provider_id: int | None
    provider_name: str
    row: HuddleRow
    latest: dict


class HuddleTableModel(ColumnTableModel):
    PATIENT_ID_ROLE = ColumnTableModel.ID_ROLE
    LINE_ROLE = ColumnTableModel.ROW_ROLE

    def __init__(self, parent=None) -> None:
        super().__init__(huddle_columns(), parent)
        self.lines: list[HuddleLine] = []
        self.day: dt.date | None = None
        self.show_provider = True  # who the patient sees, under the visit type (when showing every provider)
        self._bold = QFont()
        self._bold.setBold(True)

    # -- loading
    def set_huddle(self, sheet: HuddleSheet | None, latest: pd.DataFrame | None = None, *,
                   show_provider: bool = True) -> None:
        """Show ``sheet`` (None: nothing); ``latest`` is ``core.latest_results.latest_a1c_bp`` output."""
        by_patient: dict[int, dict] = {}
        if latest is not None and not latest.empty:
            by_patient = {int(r["patient_id"]): r for r in latest.to_dict("records")}
        self.beginResetModel()
        self.show_provider = show_provider
        self.day = sheet.day if sheet is not None else None
        self.lines = [
            HuddleLine(section.provider_id, section.provider_name, row, by_patient.get(row.patient_id, {}))
            for section in (sheet.sections if sheet is not None else [])
            for row in section.rows
        ]
        self.endResetModel()

    def column_index(self, key: str) -> int:
        return [c.key for c in self.columns].index(key)

    def patient_ids(self) -> list[int]:
        return [line.row.patient_id for line in self.lines]

    def names(self) -> list[str]:
        return [line.row.name for line in self.lines]

    def line(self, row: int) -> HuddleLine | None:
        return self.lines[row] if 0 <= row < len(self.lines) else None

    # -- Qt model API (rowCount, columnCount and headerData: ColumnTableModel)
    def _count(self) -> int:
        return len(self.lines)

    def display(self, line: HuddleLine, key: str) -> str:
        r = line.row
        if key == "time":
            text = clock(r.start)
            if r.visit_status not in ("scheduled", "arrived", "completed"):
                text += "\n" + _tr(r.visit_status.replace("-", " "))
            return text
        if key == "patient":
            return f"{r.name}\n" + _tr("MRN {0}").format(r.mrn)
        if key == "age_sex":
            age = age_text(r.dob, self.day) if self.day is not None else ""
            return f"{age}{'/' if age and r.sex else ''}{r.sex}"
        if key == "visit_type":
            if self.show_provider:
                return f"{r.visit_type}\n" + _tr("with {0}").format(line.provider_name)
            return r.visit_type
        if key == "pcp":
            flag = pcp_flag_text(r.pcp_flag)
            name = r.pcp_name or ""
            if flag:
                return f"{name}\n⚑ {flag}" if name else f"⚑ {flag}"
            return name
        if key == "risk":
            if r.risk_tier is None:
                return ""
            return f"{r.risk_tier} {r.risk_label or ''}".strip()
        if key == "gaps":
            if not r.gaps:
                return _tr("No open gaps")
            return "\n".join(f"☐ {g.text}" for g in r.gaps)
        if key == "a1c":
            return _two_lines(a1c_text(line.latest.get("a1c"), line.latest.get("a1c_date")))
        if key == "bp":
            return _two_lines(bp_text(line.latest.get("systolic"), line.latest.get("diastolic"),
                                      line.latest.get("bp_date")))
        return ""

    def _foreground(self, line: HuddleLine, key: str):
        r = line.row
        if key == "pcp" and r.pcp_flag:
            return QBrush(AMBER if r.pcp_flag == "unconfirmed" else RED)
        if key == "risk" and r.risk_tier is not None and r.risk_tier >= 3:
            return QBrush(RED)
        if key == "a1c" and line.latest.get("a1c_high"):
            return QBrush(RED)
        if key == "bp" and line.latest.get("bp_high"):
            return QBrush(RED)
        if key == "gaps" and not r.gaps:
            return QBrush(MUTED)
        return None

    def _tooltip(self, line: HuddleLine, key: str) -> str | None:
        r = line.row
        if key == "pcp":
            if r.pcp_flag == "other":
                return _tr("{0}'s PCP is {1}, not the provider they are seeing today: confirm or update the PCP.").format(
                    r.name, r.pcp_name or "")
            if r.pcp_flag == "unconfirmed":
                return _tr("Nobody has confirmed {0} as this patient's PCP yet: ask at check-in.").format(r.pcp_name or "")
            if r.pcp_flag == "none":
                return _tr("This patient has no PCP on record: ask who they see.")
            return _tr("Confirmed PCP.")
        if key == "gaps" and r.gaps:
            return "\n".join(f"{g.title}: {g.text}" + (_tr(" (due soon)") if g.status == "due-soon" else "")
                             for g in r.gaps)
        if key == "a1c" and line.latest.get("a1c_high"):
            return _tr("Last A1c above 9%: not at goal.")
        if key == "bp" and line.latest.get("bp_high"):
            return _tr("140/90 or higher: not controlled.")
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        line = self.lines[index.row()]
        key = self.columns[index.column()].key
        if role == Qt.ItemDataRole.DisplayRole:
            return self.display(line, key)
        if role == self.PATIENT_ID_ROLE:
            return line.row.patient_id
        if role == self.LINE_ROLE:
            return line
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(line, key)
        if role == Qt.ItemDataRole.FontRole and key == "pcp" and line.row.pcp_flag in ("other", "none"):
            return self._bold
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(line, key)
        return None
