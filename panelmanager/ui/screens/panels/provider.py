"""Panels screen, Provider confirmation tab: one provider's panel; M marks the selected
patients "mine", N "not mine" (with a reason); recorded as one job."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from panelmanager.core.empanelment import confirm_assignment, panel_providers
from panelmanager.core.panel_lists import provider_panel
from panelmanager.core.providers import panel_holder_problem
from panelmanager.ui.jobs import run_job
from panelmanager.ui.models.panels import ProviderPanelTableModel
from panelmanager.ui.widgets.tables import hint, make_table, selected_rows
from panelmanager.ui.widgets.tables import html_text as _html


class ProviderTabMixin:
    """The Provider confirmation tab of ``PanelsScreen``."""

    def _build_provider_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        row = QHBoxLayout()
        provider_label = QLabel(self.tr("P&rovider"))
        self.provider_picker = QComboBox()
        self.provider_picker.setMinimumContentsLength(24)
        provider_label.setBuddy(self.provider_picker)
        self.provider_picker.activated.connect(lambda _i: self._provider_changed())
        show_label = QLabel(self.tr("S&how"))
        self.panel_filter = QComboBox()
        show_label.setBuddy(self.panel_filter)
        self.panel_filter.addItem(self.tr("Everyone on the panel"), "all")
        self.panel_filter.addItem(self.tr("Not yet confirmed by the provider"), "unconfirmed")
        self.panel_filter.addItem(self.tr("Marked not mine"), "not-mine")
        self.panel_filter.currentIndexChanged.connect(lambda _i: self._show_panel())
        self.panel_search = QLineEdit()
        self.panel_search.setPlaceholderText(self.tr("Find by name or MRN (Ctrl+F)"))
        self.panel_search.setClearButtonEnabled(True)
        self.panel_search.textChanged.connect(lambda _t: self._show_panel())
        row.addWidget(provider_label)
        row.addWidget(self.provider_picker)
        row.addSpacing(12)
        row.addWidget(show_label)
        row.addWidget(self.panel_filter)
        row.addSpacing(12)
        row.addWidget(self.panel_search, 1)
        layout.addLayout(row)
        self.panel_summary = QLabel()
        self.panel_summary.setObjectName("reviewSummary")
        self.panel_summary.setWordWrap(True)
        layout.addWidget(self.panel_summary)
        self.panel_model = ProviderPanelTableModel(self)
        self.panel_table = make_table(sort_column=-1)
        self.panel_table.setModel(self.panel_model)
        header = self.panel_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(7, QHeaderView.ResizeMode.Stretch)
        self.panel_table.doubleClicked.connect(lambda index: self._open_from(self.panel_model, index.row()))
        self._enter_opens(self.panel_table, lambda: self._open_from(self.panel_model, self.panel_table.currentIndex().row()))
        self.panel_table.selectionModel().selectionChanged.connect(lambda *_: self._update_panel_buttons())
        layout.addWidget(self.panel_table, 1)
        buttons = QHBoxLayout()
        self.mine_button = QPushButton(self.tr("&Mine"))
        self.mine_button.setObjectName("primary")
        self.mine_button.setToolTip(self.tr("The selected patients are this provider's (M)"))
        self.not_mine_button = QPushButton(self.tr("&Not mine..."))
        self.not_mine_button.setToolTip(self.tr("The selected patients are not this provider's; you will be asked why (N)"))
        self.mine_button.clicked.connect(self.mark_mine)
        self.not_mine_button.clicked.connect(self.mark_not_mine)
        buttons.addWidget(self.mine_button)
        buttons.addWidget(self.not_mine_button)
        buttons.addWidget(hint(self.tr("Select patients, then press M (mine) or N (not mine). Enter opens the patient.")), 1)
        layout.addLayout(buttons)
        for key, slot in (("M", self.mark_mine), ("N", self.mark_not_mine)):
            shortcut = QShortcut(QKeySequence(key), self.panel_table)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(slot)
        self._update_panel_buttons()
        return page


    def _reader_provider(self):
        chosen = self.provider_picker.currentData()

        def read_panel(session):
            providers = panel_providers(session)
            holders = providers[providers["holds_panel"]].sort_values("display_name")
            choices = [(int(pid), str(name)) for pid, name in zip(holders["id"], holders["display_name"])]
            provider_id = chosen if chosen in {pid for pid, _ in choices} else (choices[0][0] if choices else None)
            frame = provider_panel(session, provider_id) if provider_id is not None else None
            return choices, provider_id, frame, panel_holder_problem(session)
        return read_panel

    def _apply_provider(self, data) -> None:
        choices, provider_id, frame, problem = data
        self._holder_problem = problem
        self.provider_picker.blockSignals(True)
        self.provider_picker.clear()
        for pid, name in choices:
            self.provider_picker.addItem(name, pid)
        index = self.provider_picker.findData(provider_id)
        self.provider_picker.setCurrentIndex(index)
        self.provider_picker.blockSignals(False)
        self._panel_rows = []
        if frame is not None:
            self.panel_model.set_panel(frame)
            self._panel_rows = self.panel_model.rows()
        self._show_panel()

    def _provider_changed(self) -> None:
        self._dirty.add("provider")
        self._load_visible()

    def select_provider(self, provider_id: int) -> None:
        """Show ``provider_id``'s panel in the confirmation view."""
        self.tabs.setCurrentWidget(self.provider_tab)
        index = self.provider_picker.findData(provider_id)
        if index >= 0 and index != self.provider_picker.currentIndex():
            self.provider_picker.setCurrentIndex(index)
            self._provider_changed()

    def _show_panel(self) -> None:
        which = self.panel_filter.currentData()
        text = self.panel_search.text().strip().casefold()
        rows = self._panel_rows
        if which == "unconfirmed":
            rows = [r for r in rows if not r.get("provider_confirmed_on")]
        elif which == "not-mine":
            rows = [r for r in rows if r.get("answer") == "not-mine"]
        if text:
            rows = [r for r in rows if text in (r.get("name") or "").casefold() or text in (r.get("mrn") or "").casefold()]
        self.panel_model.set_rows(rows)
        if self._next_patient is not None:
            row = self.panel_model.row_of(self._next_patient)
            self._next_patient = None
            if row >= 0:
                self.panel_table.selectRow(row)
        total = len(self._panel_rows)
        confirmed = sum(1 for r in self._panel_rows if r.get("provider_confirmed_on"))
        not_mine = sum(1 for r in self._panel_rows if r.get("answer") == "not-mine")
        name = self.provider_picker.currentText()
        if self.provider_picker.count() == 0:
            self.panel_summary.setText(self._panel_holder_problem().removeprefix("<br>")
                                       or self.tr("No provider holds a panel yet (see Settings > Providers)."))
        else:
            self.panel_summary.setText(
                self.tr("{0}: {1:,} patients on the panel; <b>{2:,}</b> confirmed as theirs ({3:.0f}%), {4:,} marked not mine. {5:,} shown.").format(
                    _html(name), total, confirmed, (100 * confirmed / total) if total else 0, not_mine, len(rows)
                )
            )
        self._update_panel_buttons()

    def _update_panel_buttons(self) -> None:
        selected = len(selected_rows(self.panel_table))
        self.mine_button.setEnabled(selected > 0)
        self.not_mine_button.setEnabled(selected > 0)

    def _selected_panel_patients(self) -> list[int]:
        ids = [self.panel_model.id_at(r) for r in selected_rows(self.panel_table)]
        return [int(i) for i in ids if i is not None]

    def mark_mine(self) -> None:
        self._confirm(self._selected_panel_patients(), "mine", None)

    def mark_not_mine(self) -> None:
        ids = self._selected_panel_patients()
        if not ids:
            return
        reason, ok = QInputDialog.getText(
            self,
            self.tr("Not mine"),
            self.tr("Why are these {0:,} patient(s) not this provider's? (goes in the record)").format(len(ids)),
        )
        if ok and not reason.strip():
            QMessageBox.information(self, self.tr("Not mine"), self.tr("Say why, so the next review can place the patient well."))
        if ok and reason.strip():
            self._confirm(ids, "not-mine", reason.strip())
        self.panel_table.setFocus()

    def _confirm(self, patient_ids: list[int], outcome: str, reason: str | None) -> None:
        """Record the provider's answer for each patient: one transaction, as a job (a provider
        may confirm a whole panel of 2,000 at once); Cancel keeps none of them."""
        provider_id = self.provider_picker.currentData()
        if not patient_ids or provider_id is None:
            return
        registry, as_of, user = self.ctx.registry, self.ctx.as_of, self.ctx.user
        provider_name = self.provider_picker.currentText()
        # Keyboard flow: after the answer, the patient below the last selected one is next.
        rows = selected_rows(self.panel_table)
        self._next_patient = self.panel_model.id_at(rows[-1] + 1) if rows else None
        title = self.tr("Recording the provider's answers")
        step = self.tr("Patient {0:,} of {1:,}")

        def job(progress, cancel):
            total = len(patient_ids)
            with registry.session() as session:
                for number, patient_id in enumerate(patient_ids):
                    if number % 25 == 0:
                        cancel.raise_if_cancelled()
                        progress(number, total, step.format(number + 1, total))
                    confirm_assignment(
                        session, patient_id, by="provider", outcome=outcome, provider_id=provider_id,
                        method="panel-list", reason=reason, user=user, as_of=as_of,
                    )
                progress(total, total, "")
            return total

        def done(count: int) -> None:
            label = self.tr("mine") if outcome == "mine" else self.tr("not mine")
            self._status(self.tr("{0:,} patient(s) marked {1} for {2}.").format(count, label, provider_name))
            self._changed_here("provider", "capacity")
            self.panel_table.setFocus()  # ready for the next M / N

        run_job(self, title, job, on_success=done)

