"""Panels screen, Capacity tab: each provider's panel against the target, continuity, and
the panel's open/closed switch (Space)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QHeaderView, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

from panelmanager.core.capacity import continuity, panel_capacity, practice_visits_per_patient_year
from panelmanager.ui.context import ASSIGNMENTS
from panelmanager.ui.models.panels import CapacityTableModel
from panelmanager.ui.widgets.charts import PercentBarDelegate
from panelmanager.ui.widgets.tables import hint, make_table


class CapacityTabMixin:
    """The Capacity tab of ``PanelsScreen``."""

    def _build_capacity_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.capacity_basis = hint("")
        layout.addWidget(self.capacity_basis)
        self.capacity_model = CapacityTableModel(self.ctx, self)
        self.capacity_model.open_changed.connect(self._panel_open_changed)
        self.capacity_table = make_table(multi=False, sort_column=None)
        self.capacity_table.setModel(self.capacity_model)
        self.capacity_table.setItemDelegateForColumn(self.capacity_model.column_of("percent_of_target"), PercentBarDelegate(self.capacity_table))
        header = self.capacity_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(self.capacity_model.column_of("percent_of_target"), QHeaderView.ResizeMode.Fixed)
        self.capacity_table.setColumnWidth(self.capacity_model.column_of("percent_of_target"), self.fontMetrics().horizontalAdvance("888%") + 170)
        layout.addWidget(self.capacity_table, 1)
        bottom = QHBoxLayout()
        self.capacity_totals = QLabel()
        self.capacity_totals.setWordWrap(True)
        self.toggle_open_button = QPushButton(self.tr("Open / &close the selected panel"))
        self.toggle_open_button.clicked.connect(self.toggle_selected_panel)
        bottom.addWidget(self.capacity_totals, 1)
        bottom.addWidget(self.toggle_open_button)
        layout.addLayout(bottom)
        shortcut = QShortcut(QKeySequence(Qt.Key.Key_Space), self.capacity_table)
        shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        shortcut.activated.connect(self.toggle_selected_panel)
        return page


    def _reader_capacity(self):
        as_of = self.ctx.as_of

        def read_capacity(session):
            rows = panel_capacity(session, as_of)
            report = continuity(session, as_of)
            per_visit, basis = practice_visits_per_patient_year(session, as_of)
            return rows, {r.provider_id: r.share for r in report.rows}, per_visit, basis, report.share
        return read_capacity

    def _apply_capacity(self, data) -> None:
        rows, shares, per_visit, basis, practice_share = data
        self.capacity_model.set_rows(rows, shares)
        self.capacity_basis.setText(
            self.tr(
                "Target panel = visits per day x clinic days per year / {0:.2f} visits per patient per year ({1}). "
                "% of target compares the age/sex-weighted panel with the target."
            ).format(per_visit, basis)
        )
        assigned = sum(r.assigned for r in rows)
        target = sum(r.target or 0 for r in rows)
        closed = sum(1 for r in rows if not r.open)
        text = self.tr("{0:,} patients on {1} panels; targets add up to {2:,}.").format(assigned, len(rows), target)
        if practice_share is not None:
            text += " " + self.tr("Continuity: {0:.0f}% of panel patients' primary-care visits were with their own provider.").format(100 * practice_share)
        if closed:
            text += " " + self.tr("{0} panel(s) closed to new patients.").format(closed)
        self.capacity_totals.setText(text)

    def toggle_selected_panel(self) -> None:
        row = self.capacity_table.currentIndex().row()
        if row < 0:
            return
        current = self.capacity_model.rows[row].open
        try:
            self.capacity_model.set_open(row, not current)
        except ValueError as exc:
            QMessageBox.warning(self, self.tr("Panels"), str(exc))

    def _panel_open_changed(self, provider_id: int, is_open: bool) -> None:
        row = self.capacity_model.row_of(provider_id)
        name = self.capacity_model.rows[row].name if row >= 0 else ""
        self._status(self.tr("{0}'s panel is now {1}.").format(name, self.tr("open to new patients") if is_open else self.tr("closed to new patients")))
        self._suppress_reload = True
        try:
            self.ctx.notify_changed(ASSIGNMENTS)  # a panel's open state
        finally:
            self._suppress_reload = False

