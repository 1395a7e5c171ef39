"""Panels screen, Unassigned visitors tab: active patients who visit but are on no panel."""

from __future__ import annotations

from PySide6.QtWidgets import QHeaderView, QVBoxLayout, QWidget

from panelmanager.core.capacity import unassigned_visiting
from panelmanager.core.empanelment import panel_providers
from panelmanager.ui.models.panels import UnassignedVisitorTableModel
from panelmanager.ui.widgets.tables import hint, make_table


class VisitorsTabMixin:
    """The Unassigned visitors tab of ``PanelsScreen``."""

    def _build_visitors_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.visitors_intro = hint("")
        layout.addWidget(self.visitors_intro)
        self.visitors_model = UnassignedVisitorTableModel(self)
        self.visitors_table = make_table(sort_column=-1)
        self.visitors_table.setModel(self.visitors_model)
        self.visitors_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.visitors_table.horizontalHeader().setStretchLastSection(True)
        self.visitors_table.doubleClicked.connect(lambda index: self._open_from(self.visitors_model, index.row()))
        self._enter_opens(self.visitors_table, lambda: self._open_from(self.visitors_model, self.visitors_table.currentIndex().row()))
        layout.addWidget(self.visitors_table, 1)
        return page


    def _reader_visitors(self):
        as_of = self.ctx.as_of

        def read_visitors(session):
            providers = panel_providers(session)
            names = dict(zip(providers["external_id"], providers["display_name"]))
            return unassigned_visiting(session, as_of), names
        return read_visitors

    def _apply_visitors(self, data) -> None:
        visitors, names = data
        self._provider_names.update(names)
        self.visitors_model.set_visitors(visitors, names)
        months = self.ctx.settings.lookback_months
        self.visitors_intro.setText(
            self.tr(
                "{0:,} active patients had primary-care visits in the last {1} months but are on no panel. "
                "Run an assignment review to propose a panel for them; Enter opens a patient."
            ).format(len(visitors), months)
        )
        self.tabs.setTabText(self.tabs.indexOf(self.visitors_tab), self.tr("&Unassigned visitors ({0:,})").format(len(visitors)))

