"""Audit screen (issue 14): who did what, when, on which workstation, to which patients.

For managers and administrators (permission ``audit_view``; reading it is audited too). Filters by
user, patient (MRN or #id), action and dates; emergency (break-glass) entries are flagged in red
and can be shown alone; Export writes the rows shown as CSV; Verify walks the hash chain.
Patients appear by registry id only: the trail never holds names.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
)

from panelmanager.core import audit
from panelmanager.core.actions import read
from panelmanager.core.permissions import ACTIONS, PermissionDenied, current_actor
from panelmanager.ui.context import AppContext
from panelmanager.ui.screens.base import Screen
from panelmanager.ui.widgets.date_edit import parse_typed_date

HEADERS = ("#", "When", "User", "Role", "Workstation", "Action", "Patients", "Outcome", "Emergency reason", "Details")


def details_text(details: dict) -> str:
    """An entry's details on one line: "outcome: changed; moved: yes" (counts, options and ids only)."""
    def shown(value) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, (list, tuple)):
            return ", ".join(shown(v) for v in value[:8]) + (" ..." if len(value) > 8 else "")
        if isinstance(value, dict):
            return ", ".join(f"{k} {shown(v)}" for k, v in value.items())
        return str(value)

    return "; ".join(f"{key.replace('_', ' ')}: {shown(value)}" for key, value in (details or {}).items())
EMERGENCY_BRUSH = QBrush(QColor("#fde2e1"))
LIMIT = 5_000


class AuditTableModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[audit.AuditRow] = []

    def set_rows(self, rows: list[audit.AuditRow]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.BackgroundRole and row.emergency:
            return EMERGENCY_BRUSH
        if role == Qt.ItemDataRole.ToolTipRole and row.emergency:
            return self.tr("Emergency access (break-glass): {0}").format(row.emergency_reason or "")
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        column = index.column()
        if column == 9:
            return details_text(row.details)
        ids = ", ".join(str(p) for p in row.patient_ids[:8]) + (" ..." if len(row.patient_ids) > 8 else "")
        return (
            str(row.seq), f"{row.at:%Y-%m-%d %H:%M:%S}", row.user_name, row.role or "", row.workstation or "",
            ("! " if row.emergency else "") + row.action, ids, row.outcome, row.emergency_reason or "",
        )[column]


class AuditScreen(Screen):
    def __init__(self, ctx: AppContext, parent=None) -> None:
        super().__init__(ctx, parent)
        layout = QVBoxLayout(self)
        heading = QLabel(self.tr("Audit trail"))
        heading.setObjectName("screenHeading")
        font = heading.font()
        font.setPointSize(font.pointSize() + 4)
        heading.setFont(font)
        layout.addWidget(heading)
        bar = QHBoxLayout()
        self.user = QLineEdit()
        self.user.setPlaceholderText(self.tr("user name"))
        self.patient = QLineEdit()
        self.patient.setPlaceholderText(self.tr("patient MRN or #id"))
        self.action = QComboBox()
        self.action.addItem(self.tr("any action"), "")
        for name in (*ACTIONS, *audit.EVENTS):
            self.action.addItem(name, name)
        self.date_from = QLineEdit()
        self.date_from.setPlaceholderText(self.tr("from YYYY-MM-DD"))
        self.date_to = QLineEdit()
        self.date_to.setPlaceholderText(self.tr("to YYYY-MM-DD"))
        self.emergency = QCheckBox(self.tr("&Emergency access only"))
        self.apply_button = QPushButton(self.tr("&Show"))
        self.export_button = QPushButton(self.tr("E&xport CSV..."))
        self.verify_button = QPushButton(self.tr("&Verify chain"))
        for widget in (self.user, self.patient, self.action, self.date_from, self.date_to, self.emergency,
                       self.apply_button, self.export_button, self.verify_button):
            bar.addWidget(widget)
        layout.addLayout(bar)
        self.note = QLabel()
        self.note.setObjectName("auditNote")
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.model = AuditTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        self.apply_button.clicked.connect(self.reload)
        for field in (self.user, self.patient, self.date_from, self.date_to):
            field.returnPressed.connect(self.reload)
        self.emergency.toggled.connect(lambda _on: self.reload())
        self.export_button.clicked.connect(self.export)
        self.verify_button.clicked.connect(self.verify)

    def title(self) -> str:
        return self.tr("Audit")

    def _filters(self) -> dict | None:
        dates = {}
        for key, field in (("date_from", self.date_from), ("date_to", self.date_to)):
            text = field.text().strip()
            if text:
                day = parse_typed_date(text)
                if day is None:
                    self.note.setText(self.tr("'{0}' is not a date; type YYYY-MM-DD.").format(text))
                    return None
                dates[key] = day
        patient = None
        if self.patient.text().strip():
            with self.ctx.registry.session() as session:
                patient = audit.resolve_patient(session, self.patient.text())
            if patient is None:
                self.note.setText(self.tr("No patient has that MRN or id."))
                return None
        return {"user": self.user.text().strip() or None, "patient_id": patient,
                "action": self.action.currentData() or None, "emergency_only": self.emergency.isChecked(), **dates}

    def reload(self) -> None:
        actor = current_actor()
        if actor is None:
            self.model.set_rows([])
            self.note.setText(self.tr("Log in as a manager or administrator to read the audit trail."))
            return
        filters = self._filters()
        if filters is None:
            return
        try:
            rows = read(self.ctx.registry, actor, "audit_view", audit.list_entries, limit=LIMIT,
                        details={"screen": "audit", "filtered": any(v for k, v in filters.items())}, **filters)
        except PermissionDenied as exc:
            self.model.set_rows([])
            self.note.setText(str(exc))
            return
        self.model.set_rows(rows)
        flagged = sum(1 for r in rows if r.emergency)
        text = self.tr("{0} entries, newest first").format(f"{len(rows):,}")
        if len(rows) >= LIMIT:
            text += self.tr(" (the newest {0}: narrow the filters to see older ones)").format(f"{LIMIT:,}")
        if flagged:
            text += self.tr("; {0} emergency access (in red)").format(flagged)
        self.note.setText(text + ".")

    @staticmethod
    def save_path(parent, title: str) -> str:
        path, _filter = QFileDialog.getSaveFileName(parent, title, "audit.csv", "CSV (*.csv)")
        return path

    def export(self) -> None:
        path = self.save_path(self, self.tr("Export the audit entries shown"))
        if not path:
            return
        actor = current_actor()
        rows = self.model.rows
        read(self.ctx.registry, actor, "audit_view", lambda _s: audit.write_entries_csv(rows, path),
             patient_ids=audit.patient_ids_of(rows), details={"export": "csv", "rows": len(rows)})
        self.note.setText(self.tr("Exported {0} entries to {1}.").format(len(rows), path))

    def verify(self) -> None:
        actor = current_actor()
        try:
            result = read(self.ctx.registry, actor, "audit_view", audit.verify, details={"check": "verify"})
        except PermissionDenied as exc:
            self.note.setText(str(exc))
            return
        self.note.setText(result.message())
        self.note.setStyleSheet("" if result.ok else "color: #b00020; font-weight: bold;")
