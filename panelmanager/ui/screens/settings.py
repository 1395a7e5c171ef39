"""Settings: the practice (letterhead details), the user, the as-of date, empanelment periods and
measure goals on the Practice tab; the Providers tab edits providers and merges PM user names."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QDate, QModelIndex, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from panelmanager.core.permissions import current_actor
from panelmanager.core.providers import (
    ProviderRow,
    list_providers,
    merge_providers,
    panel_holder_problem,
    update_provider,
)
from panelmanager.core.reports.common import Letterhead
from panelmanager.core.reports.letters import DEFAULT_WINDOW, EnvelopeWindow, build_calibration_page
from panelmanager.core.settings import measure_goal
from panelmanager.ui.context import ASSIGNMENTS, IMPORT, SETTINGS
from panelmanager.ui.screens.base import Screen, heading
from panelmanager.ui.widgets.date_edit import DateEdit


def _spin_box(low: int, high: int, suffix: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSuffix(suffix)
    return spin


class ProviderSettingsTableModel(QAbstractTableModel):
    """Editable providers (Settings > Providers); each edit is saved at once through core.providers.

    "Can hold a panel" is a plain two-state box showing the effective answer; the text
    beside it says whether the specialty decides it or the practice set it. Ticking it to
    what the specialty would decide anyway returns the provider to the specialty default.
    """

    COLUMNS = (
        "display_name", "external_id", "npi", "specialty", "fte", "clinic_days_per_year", "visits_per_day",
        "panel_open", "can_hold_panel", "also_known_as",
    )
    TEXT_EDITABLE = ("display_name", "npi", "specialty")

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.rows: list[ProviderRow] = []
        self.titles = [
            self.tr("Provider"),
            self.tr("PM id"),
            self.tr("NPI"),
            self.tr("Specialty"),
            self.tr("FTE"),
            self.tr("Clinic days / year"),
            self.tr("Visits / day"),
            self.tr("Panel open"),
            self.tr("Can hold a panel"),
            self.tr("Also imported as"),
        ]

    def reload(self) -> None:
        self.beginResetModel()
        with self.ctx.registry.session() as session:
            self.rows = list_providers(session)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.titles[section]
        return None

    def flags(self, index):
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        key = self.COLUMNS[index.column()]
        if key in ("panel_open", "can_hold_panel"):
            return base | Qt.ItemFlag.ItemIsUserCheckable
        if key in ("fte", "clinic_days_per_year", "visits_per_day") or key in self.TEXT_EDITABLE:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    @staticmethod
    def _can_hold(row: ProviderRow) -> bool:
        return row.holds_panel_by_default if row.can_hold_panel is None else bool(row.can_hold_panel)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        key = self.COLUMNS[index.column()]
        if key == "can_hold_panel":
            can = self._can_hold(row)
            if role == Qt.ItemDataRole.CheckStateRole:
                return Qt.CheckState.Checked if can else Qt.CheckState.Unchecked
            if role == Qt.ItemDataRole.DisplayRole:
                if row.can_hold_panel is None:
                    return self.tr("Yes (specialty)") if can else self.tr("No (specialty)")
                return self.tr("Yes") if can else self.tr("No")
            if role == Qt.ItemDataRole.ToolTipRole:
                if row.can_hold_panel is None:
                    return self.tr("Decided by the specialty or credentials; tick or untick to decide it yourself")
                return self.tr("Set by the practice; set it back to what the specialty says to use the default again")
            return None
        if key == "panel_open":
            if role == Qt.ItemDataRole.CheckStateRole:
                return Qt.CheckState.Checked if row.panel_open else Qt.CheckState.Unchecked
            return None
        value = getattr(row, key)
        if key == "also_known_as":
            value = ", ".join(value)
        if role == Qt.ItemDataRole.ToolTipRole and key == "external_id":
            return self.tr("The provider's id in the imported file (for PM exports, often the scheduler's user name)")
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if value is None:
                return "" if role == Qt.ItemDataRole.DisplayRole or key in self.TEXT_EDITABLE else 0.0
            return value
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        row = self.rows[index.row()]
        key = self.COLUMNS[index.column()]
        if role == Qt.ItemDataRole.CheckStateRole:
            checked = Qt.CheckState(value) == Qt.CheckState.Checked
            if key == "can_hold_panel":
                new_value = None if checked == row.holds_panel_by_default else checked
            else:
                new_value = checked
        elif role == Qt.ItemDataRole.EditRole and key in self.TEXT_EDITABLE:
            new_value = str(value or "").strip()
        elif role == Qt.ItemDataRole.EditRole:
            try:
                new_value = float(value) if value not in ("", None) else None
            except (TypeError, ValueError):
                return False
        else:
            return False
        try:
            with self.ctx.registry.session() as session:
                self.rows[index.row()] = update_provider(session, row.id, **{key: new_value})
        except ValueError as exc:
            QMessageBox.warning(None, self.tr("Provider settings"), str(exc))
            return False
        self.dataChanged.emit(self.index(index.row(), 0), self.index(index.row(), len(self.COLUMNS) - 1))
        self.ctx.notify_changed(SETTINGS)
        return True


class ProvidersPage(QWidget):
    """Settings > Providers: the provider table, what is missing for empanelment, and merging."""

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.screen_ = parent  # the Settings screen (for its status messages)
        layout = QVBoxLayout(self)
        intro = QLabel(
            self.tr(
                "Changes are saved at once. PM appointment exports often name the scheduler's user "
                "(GC_Klein_S) rather than the clinician: select such user names and merge them into the "
                "clinician they stand for; later imports remember it. A provider holds a panel when its "
                "specialty is a primary-care one or 'Can hold a panel' is ticked."
            )
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.problem_label = QLabel()
        self.problem_label.setObjectName("providersProblem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("QLabel#providersProblem { color: #9a3412; font-weight: bold; }")
        layout.addWidget(self.problem_label)
        self.model = ProviderSettingsTableModel(ctx, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setMinimumHeight(240)
        layout.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.merge_button = QPushButton(self.tr("&Merge selected into..."))
        self.merge_button.setToolTip(self.tr("Move the selected providers' visits and panels to the provider you choose"))
        self.merge_button.clicked.connect(self.choose_and_merge)
        buttons.addWidget(self.merge_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.model.dataChanged.connect(lambda *_: self._show_problem())

    def reload(self) -> None:
        self.model.reload()
        self._show_problem()

    def _show_problem(self) -> None:
        with self.ctx.registry.session() as session:
            problem = panel_holder_problem(session)
        self.problem_label.setText(problem or "")
        self.problem_label.setVisible(bool(problem))

    def selected_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedIndexes()})
        return [self.model.rows[r].id for r in rows]

    def choose_and_merge(self) -> None:
        chosen = self.selected_ids()
        if not chosen:
            QMessageBox.information(self, self.tr("Merge providers"), self.tr("Select the providers (user names) to merge first."))
            return
        others = [r for r in self.model.rows if r.id not in chosen]
        if not others:
            QMessageBox.information(self, self.tr("Merge providers"), self.tr("Leave the provider to keep unselected."))
            return
        labels = [f"{r.display_name} ({r.external_id})" for r in others]
        label, ok = QInputDialog.getItem(self, self.tr("Merge providers"), self.tr("Merge the {0} selected into:").format(len(chosen)), labels, 0, False)
        if not ok:
            return
        self.merge_into(others[labels.index(label)].id, chosen)

    def merge_into(self, keep_id: int, merge_ids: list[int]) -> None:
        try:
            with self.ctx.registry.session() as session:
                result = merge_providers(session, keep_id, merge_ids, user=self.ctx.user)
        except ValueError as exc:
            QMessageBox.warning(self, self.tr("Merge providers"), str(exc))
            return
        self.reload()
        self.ctx.notify_changed(SETTINGS, ASSIGNMENTS)  # merged providers' panels and visits moved
        names = ", ".join(name for _id, name in result.merged)
        if hasattr(self.screen_, "status_message"):
            self.screen_.status_message(self.tr("Merged {0} into {1}; later imports will use {1}.").format(names, result.kept_name), 6000)


class SettingsScreen(Screen):
    SHOWS = frozenset({IMPORT, SETTINGS})  # settings and the providers an import brings
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, parent)
        outer = QVBoxLayout(self)
        outer.addWidget(heading(self.tr("Settings")))
        self.tabs = QTabWidget()
        outer.addWidget(self.tabs, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        self.tabs.addTab(scroll, self.tr("Practice"))
        body = QWidget()
        scroll.setWidget(body)
        layout = QVBoxLayout(body)

        practice = QGroupBox(self.tr("Practice"))
        form = QFormLayout(practice)
        self.practice_name = QLineEdit()
        self.practice_address = QPlainTextEdit()
        self.practice_address.setFixedHeight(70)
        self.practice_address.setTabChangesFocus(True)
        self.practice_phone = QLineEdit()
        self.user_name = QLineEdit()
        self.user_name.setPlaceholderText(self.tr("(your computer login: {0})").format(ctx.user))
        form.addRow(self.tr("Practice &name"), self.practice_name)
        form.addRow(self.tr("&Address"), self.practice_address)
        form.addRow(self.tr("&Phone"), self.practice_phone)
        form.addRow(self.tr("&User name"), self.user_name)
        self._practice_form = form
        layout.addWidget(practice)

        dates = QGroupBox(self.tr("Dates and periods"))
        form = QFormLayout(dates)
        as_of_row = QHBoxLayout()
        self.as_of_enabled = QCheckBox(self.tr("Work as of a fixed date"))
        self.as_of = DateEdit()
        self.as_of.setCalendarPopup(True)
        self.as_of.setDisplayFormat("yyyy-MM-dd")
        self.as_of_enabled.toggled.connect(self.as_of.setEnabled)
        as_of_row.addWidget(self.as_of_enabled)
        as_of_row.addWidget(self.as_of)
        as_of_row.addStretch(1)
        form.addRow(self.tr("As-of date"), as_of_row)
        self.lookback = _spin_box(6, 60, self.tr(" months"))
        self.review_period = _spin_box(1, 36, self.tr(" months"))
        self.inactive_after = _spin_box(1, 10, self.tr(" years"))
        self.due_soon = _spin_box(0, 365, self.tr(" days"))
        for spin in (self.lookback, self.review_period, self.inactive_after, self.due_soon):
            spin.setMaximumWidth(160)
        form.addRow(self.tr("Assignment &look-back"), self.lookback)
        form.addRow(self.tr("Panel &review period"), self.review_period)
        form.addRow(self.tr("Suggest inactivating after no visit for"), self.inactive_after)
        form.addRow(self.tr("Gap is 'due soon' within"), self.due_soon)
        layout.addWidget(dates)

        empanel = QGroupBox(self.tr("Empanelment milestone"))
        form = QFormLayout(empanel)
        self.assigned_threshold = _spin_box(50, 100, self.tr(" % of active patients"))
        self.confirmed_threshold = _spin_box(10, 100, self.tr(" % of active patients"))
        for spin in (self.assigned_threshold, self.confirmed_threshold):
            spin.setMaximumWidth(220)
        form.addRow(self.tr("Counts as 'all assigned' from"), self.assigned_threshold)
        form.addRow(self.tr("Counts as 'confirmed' from"), self.confirmed_threshold)
        layout.addWidget(empanel)

        letters = QGroupBox(self.tr("Letters and labels"))
        form = QFormLayout(letters)
        self.one_letter_per_gap = QCheckBox(self.tr("One letter per care gap (single-topic letters get more response)"))
        form.addRow(self.one_letter_per_gap)
        self.logo_path = _FileField(self.tr("Choose the letterhead logo"), self)
        self.signature_path = _FileField(self.tr("Choose the signature image"), self)
        self.signer_name = QLineEdit()
        self.signer_name.setPlaceholderText(self.tr("(empty: the patient's provider signs)"))
        self.signer_title = QLineEdit()
        form.addRow(self.tr("Letterhead &logo"), self.logo_path)
        form.addRow(self.tr("Si&gnature image"), self.signature_path)
        form.addRow(self.tr("Signed by"), self.signer_name)
        form.addRow(self.tr("Signer's title"), self.signer_title)
        window_row = QHBoxLayout()
        self.window_spins: dict[str, QDoubleSpinBox] = {}
        for key, label in (
            ("window_left", self.tr("left")),
            ("window_top", self.tr("top")),
            ("window_width", self.tr("width")),
            ("window_height", self.tr("height")),
        ):
            spin = QDoubleSpinBox()
            spin.setRange(0.0, 11.0)
            spin.setDecimals(3)
            spin.setSingleStep(0.0625)
            spin.setSuffix(' in')
            spin.setPrefix(label + " ")
            spin.setToolTip(self.tr("Envelope window {0}, in inches from the page's top-left corner").format(label))
            self.window_spins[key] = spin
            window_row.addWidget(spin)
        self.calibration_button = QPushButton(self.tr("Print &calibration page..."))
        self.calibration_button.setToolTip(
            self.tr("Print it on plain paper, fold it in thirds and slide it into a #10 window envelope")
        )
        self.calibration_button.clicked.connect(self.print_calibration_page)
        window_row.addWidget(self.calibration_button)
        window_row.addStretch(1)
        form.addRow(self.tr("#10 envelope window"), window_row)
        self.label_start = QSpinBox()
        self.label_start.setRange(1, 30)
        self.label_start.setToolTip(self.tr("First free label on a partly used Avery 5160 sheet (1-30, across then down)"))
        self.label_start.setMaximumWidth(120)
        form.addRow(self.tr("Labels start at position"), self.label_start)
        layout.addWidget(letters)

        goals = QGroupBox(self.tr("Measure goals (dashboard: green when a goal is met, red when not)"))
        goals_layout = QVBoxLayout(goals)
        self.goals = QTableWidget(0, 2)
        self.goals.setHorizontalHeaderLabels([self.tr("Measure"), self.tr("Goal %")])
        self.goals.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.goals.verticalHeader().setVisible(False)
        self.goals.setMinimumHeight(200)
        goals_layout.addWidget(self.goals)
        layout.addWidget(goals)

        layout.addStretch(1)
        self.providers_page = ProvidersPage(ctx, self)
        self.provider_model = self.providers_page.model
        self.provider_table = self.providers_page.table
        self.tabs.addTab(self.providers_page, self.tr("Providers"))
        from panelmanager.ui.screens.registry_page import RegistryPage

        self.registry_page = RegistryPage(ctx)
        self.tabs.addTab(self.registry_page, self.tr("Registry"))

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.revert_button = QPushButton(self.tr("&Revert"))
        self.save_button = QPushButton(self.tr("&Save settings"))
        self.save_button.setDefault(True)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)
        outer.addLayout(buttons)
        self.save_button.clicked.connect(self.save)
        self.revert_button.clicked.connect(self.reload)
        # Providers are saved as they are edited: Save / Revert belong to the Practice tab.
        self.tabs.currentChanged.connect(
            lambda i: [b.setVisible(self.tabs.widget(i) is not self.providers_page) for b in (self.save_button, self.revert_button)]
        )

    def show_providers(self) -> None:
        """Open Settings > Providers (where the check-in and panel messages send the user)."""
        self.tabs.setCurrentWidget(self.providers_page)

    def title(self) -> str:
        return self.tr("Settings")

    def _measure_titles(self) -> list[tuple[str, str, bool]]:
        try:
            from panelmanager.core.measures import load_measures
        except ImportError:
            return []
        definitions, _errors = load_measures()
        return [(m.id, m.title, m.inverse) for m in definitions]

    def reload(self) -> None:
        s = self.ctx.settings
        self.practice_name.setText(s.practice_name)
        self.practice_address.setPlainText(s.practice_address)
        self.practice_phone.setText(s.practice_phone)
        self.user_name.setText(s.user_name)
        # Logged in, who acts is that person (issue 14, permissions.acting_name): a typed name would mislead
        actor = current_actor()
        self._practice_form.setRowVisible(self.user_name, actor is None or actor.is_system)
        self.as_of_enabled.setChecked(s.as_of_override is not None)
        self.as_of.setEnabled(s.as_of_override is not None)
        day = s.as_of_override or dt.date.today()
        self.as_of.setDate(QDate(day.year, day.month, day.day))
        self.lookback.setValue(s.lookback_months)
        self.review_period.setValue(s.review_period_months)
        self.inactive_after.setValue(s.inactive_after_years)
        self.due_soon.setValue(s.due_soon_days)
        self.assigned_threshold.setValue(round(s.milestone_assigned_threshold * 100))
        self.confirmed_threshold.setValue(round(s.milestone_confirmed_threshold * 100))
        self.one_letter_per_gap.setChecked(s.letters_one_per_gap)
        self.logo_path.setText(s.letter_logo_path)
        self.signature_path.setText(s.letter_signature_path)
        self.signer_name.setText(s.letter_signer_name)
        self.signer_title.setText(s.letter_signer_title)
        window = {**DEFAULT_WINDOW, **s.letter_offsets_in}
        for key, spin in self.window_spins.items():
            spin.setValue(float(window[key]))
        self.label_start.setValue(s.label_start_position)
        measures = self._measure_titles()
        self.goals.setRowCount(len(measures))
        for row, (measure_id, title, inverse) in enumerate(measures):
            item = QTableWidgetItem(
                self.tr("{0} (lower is better: the goal is a ceiling)").format(title) if inverse else title
            )
            item.setData(Qt.ItemDataRole.UserRole, measure_id)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            self.goals.setItem(row, 0, item)
            spin = QDoubleSpinBox()
            spin.setRange(0, 100)
            spin.setDecimals(0)
            spin.setSuffix(" %")
            spin.setPrefix(self.tr("at most ") if inverse else self.tr("at least "))
            spin.setValue(measure_goal(s.measure_goals, measure_id, inverse=inverse))
            self.goals.setCellWidget(row, 1, spin)
        self.providers_page.reload()

    def save(self) -> None:
        goals = {}
        for row in range(self.goals.rowCount()):
            measure_id = self.goals.item(row, 0).data(Qt.ItemDataRole.UserRole)
            goals[measure_id] = self.goals.cellWidget(row, 1).value()
        as_of = self.as_of.date().toPython() if self.as_of_enabled.isChecked() else None
        updated = dataclasses.replace(
            self.ctx.settings,
            practice_name=self.practice_name.text().strip() or "Our Practice",
            practice_address=self.practice_address.toPlainText().strip(),
            practice_phone=self.practice_phone.text().strip(),
            user_name=self.user_name.text().strip(),
            as_of_override=as_of,
            lookback_months=self.lookback.value(),
            review_period_months=self.review_period.value(),
            inactive_after_years=self.inactive_after.value(),
            due_soon_days=self.due_soon.value(),
            measure_goals=goals,
            milestone_assigned_threshold=self.assigned_threshold.value() / 100,
            milestone_confirmed_threshold=self.confirmed_threshold.value() / 100,
            letters_one_per_gap=self.one_letter_per_gap.isChecked(),
            letter_logo_path=self.logo_path.text(),
            letter_signature_path=self.signature_path.text(),
            letter_signer_name=self.signer_name.text().strip(),
            letter_signer_title=self.signer_title.text().strip(),
            letter_offsets_in=self._window_offsets(),
            label_start_position=self.label_start.value(),
        )
        try:
            EnvelopeWindow.from_offsets(updated.letter_offsets_in)
        except ValueError as exc:
            QMessageBox.warning(self, self.tr("Settings"), self.tr("Not saved: {0}").format(exc))
            return
        for path in (updated.letter_logo_path, updated.letter_signature_path):
            if path and not Path(path).is_file():
                QMessageBox.warning(self, self.tr("Settings"), self.tr("Not saved: there is no image file at {0}.").format(path))
                return
        self.ctx.save_settings(updated)
        self.status_message(self.tr("Settings saved."), 4000)

    def _window_offsets(self) -> dict[str, float]:
        """Only the offsets that differ from the defaults are stored."""
        return {
            key: round(spin.value(), 4)
            for key, spin in self.window_spins.items()
            if abs(spin.value() - DEFAULT_WINDOW[key]) > 1e-9
        }

    def print_calibration_page(self) -> None:
        """A one-page PDF to check the window position on the practice's printer (unsaved values count)."""
        try:
            window = EnvelopeWindow.from_offsets(self._window_offsets())
        except ValueError as exc:
            QMessageBox.warning(self, self.tr("Calibration page"), str(exc))
            return
        letterhead = Letterhead.from_settings(self.ctx.settings)
        buffer = io.BytesIO()
        build_calibration_page(buffer, letterhead=letterhead, window=window)
        from panelmanager.ui.print_preview import open_preview

        self.calibration_preview = open_preview(
            self, buffer.getvalue(), self.tr("Envelope calibration page"), file_name="calibration.pdf"
        )


class _FileField(QWidget):
    """A path box with a Browse button (images for the letterhead)."""

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._caption = caption
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(self.tr("(none)"))
        browse = QPushButton(self.tr("Browse..."))
        browse.clicked.connect(self._browse)
        row.addWidget(self.edit, 1)
        row.addWidget(browse)

    def text(self) -> str:
        return self.edit.text().strip()

    def setText(self, text: str) -> None:  # noqa: N802
        self.edit.setText(text)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, self._caption, self.text(), self.tr("Images (*.png *.jpg *.jpeg)"))
        if path:
            self.edit.setText(path)
