"""Panels screen, Inactivation tab: patients who died, moved, are marked inactive or have not
been seen for years; inactivating them takes them off their panel (a job)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from panelmanager.core.empanelment import inactivate_patients, panel_providers, suggest_inactivations
from panelmanager.ui.jobs import run_job
from panelmanager.ui.models.panels import InactivationTableModel, inactivation_kind_label
from panelmanager.ui.widgets.tables import hint, make_table, selected_rows


class InactivationTabMixin:
    """The Inactivation tab of ``PanelsScreen``."""

    def _build_inactivation_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        row = QHBoxLayout()
        show_label = QLabel(self.tr("S&how"))
        self.inactivation_filter = QComboBox()
        show_label.setBuddy(self.inactivation_filter)
        self.inactivation_filter.addItem(self.tr("All suggestions"), None)
        for kind in ("deceased", "moved", "inactive", "not-seen"):
            self.inactivation_filter.addItem(inactivation_kind_label(kind), kind)
        self.inactivation_filter.currentIndexChanged.connect(lambda _i: self._show_suggestions())
        self.inactivation_intro = hint("")
        row.addWidget(show_label)
        row.addWidget(self.inactivation_filter)
        row.addSpacing(12)
        row.addWidget(self.inactivation_intro, 1)
        layout.addLayout(row)
        self.inactivation_model = InactivationTableModel(self)
        self.inactivation_table = make_table(sort_column=-1)
        self.inactivation_table.setModel(self.inactivation_model)
        header = self.inactivation_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.inactivation_table.doubleClicked.connect(lambda index: self._open_from(self.inactivation_model, index.row()))
        self._enter_opens(
            self.inactivation_table, lambda: self._open_from(self.inactivation_model, self.inactivation_table.currentIndex().row())
        )
        self.inactivation_table.selectionModel().selectionChanged.connect(lambda *_: self._update_inactivation_buttons())
        layout.addWidget(self.inactivation_table, 1)
        buttons = QHBoxLayout()
        self.select_all_suggestions = QPushButton(self.tr("Select &all shown"))
        self.select_all_suggestions.clicked.connect(self.inactivation_table.selectAll)
        self.inactivate_button = QPushButton(self.tr("Inactivate &selected..."))
        self.inactivate_button.setObjectName("danger")
        self.inactivate_button.clicked.connect(self.inactivate_selected)
        self.inactivation_selection = QLabel()
        buttons.addWidget(self.select_all_suggestions)
        buttons.addWidget(self.inactivation_selection)
        buttons.addStretch(1)
        buttons.addWidget(self.inactivate_button)
        layout.addLayout(buttons)
        self._update_inactivation_buttons()
        return page


    def _reader_inactivation(self):
        as_of = self.ctx.as_of

        def read_suggestions(session):
            providers = panel_providers(session)
            names = dict(zip(providers["external_id"], providers["display_name"]))
            return suggest_inactivations(session, as_of=as_of), names
        return read_suggestions

    def _apply_inactivation(self, data) -> None:
        suggestions, names = data
        self._provider_names.update(names)
        self._suggestion_rows = list(suggestions)
        self.tabs.setTabText(self.tabs.indexOf(self.inactivation_tab), self.tr("&Inactivation ({0:,})").format(len(suggestions)))
        self._show_suggestions()

    def _show_suggestions(self) -> None:
        kind = self.inactivation_filter.currentData()
        shown = [s for s in self._suggestion_rows if kind is None or s.kind == kind]
        self.inactivation_model.set_suggestions(shown, self._provider_names)
        years = self.ctx.settings.inactive_after_years
        self.inactivation_intro.setText(
            self.tr("{0:,} shown. Patients who died, moved, are marked inactive, or have not been seen for {1} years "
                    "(unless they have an appointment booked). Inactive patients leave their panel; their history stays.").format(len(shown), years)
        )
        self._update_inactivation_buttons()

    def _update_inactivation_buttons(self) -> None:
        selected = len(selected_rows(self.inactivation_table))
        self.inactivate_button.setEnabled(selected > 0)
        self.inactivation_selection.setText(self.tr("{0:,} selected").format(selected) if selected else "")

    def inactivate_selected(self) -> None:
        rows = selected_rows(self.inactivation_table)
        ids = [self.inactivation_model.id_at(r) for r in rows]
        ids = [int(i) for i in ids if i is not None]
        if not ids:
            return
        answer = QMessageBox.question(
            self,
            self.tr("Inactivate patients"),
            self.tr("Mark {0:,} patient(s) inactive and take them off their panels? Their history is kept.").format(len(ids)),
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        registry, as_of, user = self.ctx.registry, self.ctx.as_of, self.ctx.user
        title = self.tr("Inactivating patients")

        def job(progress, cancel):
            progress(0, 1, title)
            with registry.session() as session:
                return inactivate_patients(session, ids, as_of=as_of, user=user)

        def done(result) -> None:
            self._status(
                self.tr("{0:,} patient(s) inactivated; {1:,} taken off a panel.").format(result.inactivated, result.dropped_from_panels)
            )
            self._changed_here("inactivation", "capacity", "visitors", "provider")

        run_job(self, title, job, on_success=done)

