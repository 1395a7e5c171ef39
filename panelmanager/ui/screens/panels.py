"""Panels (manager): the empanelment milestone, assignment reviews, capacity, unassigned
visitors, inactivation suggestions and the provider confirmation view.

The milestone level and what the next level needs stay at the top of the screen; the
rest is in tabs. Every read that can take seconds on a 100,000-patient registry (capacity,
milestone, suggestions, a provider's panel) and the review build itself run as jobs
(``run_job``), so the window never freezes. Only the tab on show is loaded; the others
load when opened. Reviews are lists of ids (``ReviewItemTableModel``) filtered and sorted
in SQL.

Keyboard: Alt+V / P / U / I / O open the tabs; in the review list A accepts and R rejects
the selected proposals (Ctrl+A selects all); in a provider's panel M marks the selected
patients "mine" and N "not mine"; Enter (or a double-click) on a patient row opens the
patient. ``patient_requested(patient_id)`` is emitted for every patient the user opens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableView,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from panelmanager.core.capacity import continuity, milestone, panel_capacity, practice_visits_per_patient_year, unassigned_visiting
from panelmanager.core.empanelment import (
    accept_review_items,
    build_review,
    confirm_assignment,
    inactivate_patients,
    list_reviews,
    panel_providers,
    reject_review_items,
    suggest_inactivations,
)
from panelmanager.core.panel_lists import provider_panel, review_counts
from panelmanager.ui.jobs import run_job
from panelmanager.ui.models.panels import (
    CapacityTableModel,
    InactivationTableModel,
    ProviderPanelTableModel,
    ReviewItemTableModel,
    UnassignedVisitorTableModel,
    inactivation_kind_label,
)
from panelmanager.ui.screens.base import Screen, heading
from panelmanager.ui.widgets.charts import PercentBarDelegate
from panelmanager.ui.widgets.date_edit import DateEdit

PARTS = ("milestone", "review", "capacity", "visitors", "inactivation", "provider")


def open_patient(screen: Screen, patient_id: int) -> None:
    """Show a patient: emit the screen's ``patient_requested`` and open the Patients screen."""
    screen.patient_requested.emit(int(patient_id))
    screen.show_patient(int(patient_id))


def make_table(multi: bool = True, sort_column: int | None = 0) -> QTableView:
    table = QTableView()
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(
        QAbstractItemView.SelectionMode.ExtendedSelection if multi else QAbstractItemView.SelectionMode.SingleSelection
    )
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    if sort_column is not None:
        # The indicator first: enabling sorting sorts by it at once (-1: keep the core's order).
        table.horizontalHeader().setSortIndicator(sort_column, Qt.SortOrder.AscendingOrder)
        table.setSortingEnabled(True)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(int(table.fontMetrics().height() * 1.7))
    table.horizontalHeader().setHighlightSections(False)
    table.setWordWrap(False)
    return table


def hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


def selected_rows(table: QTableView) -> list[int]:
    """Selected row numbers, from the selection's ranges (Ctrl+A on 100,000 rows is one range)."""
    model = table.selectionModel()
    if model is None:
        return []
    rows: set[int] = set()
    for part in model.selection():
        rows.update(range(part.top(), part.bottom() + 1))
    return sorted(rows)


class PanelsScreen(Screen):
    patient_requested = Signal(int)

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, parent)
        self._dirty: set[str] = set(PARTS)
        self._loading = False
        self._generation = 0
        self._suppress_reload = False
        self._as_of_shown: dt.date | None = None
        self._review_id: int | None = None
        self._reviews: dict[int, Any] = {}
        self.milestone_report = None
        self.last_message = ""
        self._panel_rows: list[dict] = []
        self._next_patient: int | None = None
        self._suggestion_rows: list[Any] = []
        self._provider_names: dict[str, str] = {}

        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.tr("Panels")))
        layout.addWidget(self._build_milestone())
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(False)
        self.review_tab = self._build_review_tab()
        self.capacity_tab = self._build_capacity_tab()
        self.visitors_tab = self._build_visitors_tab()
        self.inactivation_tab = self._build_inactivation_tab()
        self.provider_tab = self._build_provider_tab()
        self.tabs.addTab(self.review_tab, self.tr("Assignment re&view"))
        self.tabs.addTab(self.capacity_tab, self.tr("Ca&pacity"))
        self.tabs.addTab(self.visitors_tab, self.tr("&Unassigned visitors"))
        self.tabs.addTab(self.inactivation_tab, self.tr("&Inactivation"))
        self.tabs.addTab(self.provider_tab, self.tr("Provider c&onfirmation"))
        self._tab_parts = {
            self.review_tab: "review",
            self.capacity_tab: "capacity",
            self.visitors_tab: "visitors",
            self.inactivation_tab: "inactivation",
            self.provider_tab: "provider",
        }
        layout.addWidget(self.tabs, 1)
        self.tabs.currentChanged.connect(lambda _i: self._load_visible())
        self.setStyleSheet(_STYLE)

    def title(self) -> str:
        return self.tr("Panels")

    # ================================================================== building
    def _build_milestone(self) -> QWidget:
        box = QFrame()
        box.setObjectName("milestoneBox")
        grid = QGridLayout(box)
        grid.setContentsMargins(14, 10, 14, 10)
        grid.setHorizontalSpacing(16)
        self.level_badge = QLabel("–")
        self.level_badge.setObjectName("levelBadge")
        self.level_badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.level_badge.font()
        font.setPointSizeF(font.pointSizeF() * 2.4)
        font.setBold(True)
        self.level_badge.setFont(font)
        self.level_badge.setMinimumWidth(self.fontMetrics().horizontalAdvance("Level 4") + 24)
        self.level_caption = QLabel(self.tr("of 4"))
        self.level_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.level_caption.setObjectName("levelCaption")
        self.level_badge.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        badge = QVBoxLayout()
        badge.setSpacing(0)
        badge.addWidget(self.level_badge)
        badge.addWidget(self.level_caption)
        badge.addStretch(1)
        grid.addLayout(badge, 0, 0, 3, 1)
        self.milestone_title = QLabel()
        self.milestone_title.setObjectName("milestoneTitle")
        self.milestone_title.setWordWrap(True)
        title_font = self.milestone_title.font()
        title_font.setBold(True)
        title_font.setPointSizeF(title_font.pointSizeF() * 1.1)
        self.milestone_title.setFont(title_font)
        self.milestone_next = QLabel()
        self.milestone_next.setWordWrap(True)
        self.milestone_next.setTextFormat(Qt.TextFormat.RichText)
        self.milestone_details = QLabel()
        self.milestone_details.setWordWrap(True)
        self.milestone_details.setTextFormat(Qt.TextFormat.RichText)
        self.milestone_details.setVisible(False)
        self.details_button = QToolButton()
        self.details_button.setText(self.tr("Show the &figures"))
        self.details_button.setCheckable(True)
        self.details_button.toggled.connect(self._toggle_details)
        grid.addWidget(self.milestone_title, 0, 1)
        grid.addWidget(self.details_button, 0, 2, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.milestone_next, 1, 1, 1, 2)
        grid.addWidget(self.milestone_details, 2, 1, 1, 2)
        grid.setColumnStretch(1, 1)
        return box

    def _toggle_details(self, shown: bool) -> None:
        self.milestone_details.setVisible(shown)
        self.details_button.setText(self.tr("Hide the &figures") if shown else self.tr("Show the &figures"))

    def _build_review_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        run_row = QHBoxLayout()
        as_of_label = QLabel(self.tr("A&s of"))
        self.review_as_of = DateEdit()
        self.review_as_of.setCalendarPopup(True)
        self.review_as_of.setDisplayFormat("yyyy-MM-dd")
        as_of_label.setBuddy(self.review_as_of)
        lookback_label = QLabel(self.tr("&Look-back"))
        self.review_lookback = QSpinBox()
        self.review_lookback.setRange(6, 60)
        self.review_lookback.setSuffix(self.tr(" months"))
        lookback_label.setBuddy(self.review_lookback)
        self.run_review_button = QPushButton(self.tr("&Run assignment review"))
        self.run_review_button.setToolTip(
            self.tr("Assign every active patient by the 4-cut method; nothing changes until you accept the proposals.")
        )
        self.run_review_button.clicked.connect(self.run_review)
        review_label = QLabel(self.tr("Revie&w"))
        self.review_picker = QComboBox()
        self.review_picker.setMinimumContentsLength(28)
        self.review_picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        review_label.setBuddy(self.review_picker)
        self.review_picker.activated.connect(lambda _i: self._pick_review())
        for widget in (as_of_label, self.review_as_of, lookback_label, self.review_lookback, self.run_review_button):
            run_row.addWidget(widget)
        run_row.addStretch(1)
        run_row.addWidget(review_label)
        run_row.addWidget(self.review_picker)
        layout.addLayout(run_row)

        self.review_summary = QLabel(self.tr("No review yet. Run one to see who would go on which panel."))
        self.review_summary.setObjectName("reviewSummary")
        self.review_summary.setWordWrap(True)
        layout.addWidget(self.review_summary)

        filter_row = QHBoxLayout()
        show_label = QLabel(self.tr("S&how"))
        self.kind_filter = QComboBox()
        self.kind_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        show_label.setBuddy(self.kind_filter)
        decision_label = QLabel(self.tr("&Decision"))
        self.decision_filter = QComboBox()
        decision_label.setBuddy(self.decision_filter)
        self.decision_filter.addItem(self.tr("Waiting for a decision"), ("pending",))
        self.decision_filter.addItem(self.tr("Decided"), ("accepted", "rejected", "kept", "stale", "superseded"))
        self.decision_filter.addItem(self.tr("All"), None)
        self.kind_filter.currentIndexChanged.connect(lambda _i: self._refresh_review_list())
        self.decision_filter.currentIndexChanged.connect(lambda _i: self._refresh_review_list())
        filter_row.addWidget(show_label)
        filter_row.addWidget(self.kind_filter)
        filter_row.addSpacing(12)
        filter_row.addWidget(decision_label)
        filter_row.addWidget(self.decision_filter)
        filter_row.addSpacing(12)
        filter_row.addWidget(hint(self.tr("Select proposals (Shift/Ctrl+click, Ctrl+A for all), then press A to accept or R to reject.")), 1)
        layout.addLayout(filter_row)

        self.review_model = ReviewItemTableModel(self.ctx, self)
        self.review_table = make_table(sort_column=1)
        self.review_table.setModel(self.review_model)
        header = self.review_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        widths = (100, 180, 90, 150, 150, 165, 380, 110)
        for column, width in enumerate(widths):
            self.review_table.setColumnWidth(column, int(width * self.fontMetrics().averageCharWidth() / 7))
        header.setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        self.review_table.doubleClicked.connect(lambda index: self._open_from(self.review_model, index.row()))
        self.review_table.selectionModel().selectionChanged.connect(lambda *_: self._update_review_buttons())
        layout.addWidget(self.review_table, 1)

        buttons = QHBoxLayout()
        self.accept_button = QPushButton(self.tr("&Accept selected"))
        self.reject_button = QPushButton(self.tr("Re&ject selected"))
        self.accept_all_button = QPushButton(self.tr("Accept all pendin&g..."))
        self.reject_all_button = QPushButton(self.tr("Reject all pe&nding..."))
        self.accept_button.setObjectName("primary")
        self.accept_button.clicked.connect(self.accept_selected)
        self.reject_button.clicked.connect(self.reject_selected)
        self.accept_all_button.clicked.connect(self.accept_all)
        self.reject_all_button.clicked.connect(self.reject_all)
        self.selection_label = QLabel()
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.reject_button)
        buttons.addWidget(self.selection_label)
        buttons.addStretch(1)
        buttons.addWidget(self.accept_all_button)
        buttons.addWidget(self.reject_all_button)
        layout.addLayout(buttons)

        for key, slot in (("A", self.accept_selected), ("R", self.reject_selected)):
            shortcut = QShortcut(QKeySequence(key), self.review_table)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(slot)
        self._enter_opens(self.review_table, lambda: self._open_from(self.review_model, self.review_table.currentIndex().row()))
        self._update_review_buttons()
        return page

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

    def _enter_opens(self, table: QTableView, slot: Callable[[], None]) -> None:
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shortcut = QShortcut(QKeySequence(key), table)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(slot)

    # ================================================================== loading
    def reload(self) -> None:
        """The registry changed: everything is stale; load the milestone and the tab on show."""
        if self._suppress_reload:
            return
        self._generation += 1
        self._dirty = set(PARTS)
        if self._as_of_shown != self.ctx.as_of:
            self._as_of_shown = self.ctx.as_of
            day = self.ctx.as_of
            self.review_as_of.setDate(QDate(day.year, day.month, day.day))
            self.review_lookback.setValue(int(self.ctx.settings.lookback_months))
        self._load_visible()

    def focus_search(self) -> None:
        if self.tabs.currentWidget() is self.provider_tab:
            self.panel_search.setFocus()
            self.panel_search.selectAll()
            return
        table = {
            self.review_tab: self.review_table,
            self.capacity_tab: self.capacity_table,
            self.visitors_tab: self.visitors_table,
            self.inactivation_tab: self.inactivation_table,
        }.get(self.tabs.currentWidget())
        if table is not None:
            table.setFocus()
        else:  # a tab without a list: Ctrl+F finds a patient on the panels
            self.tabs.setCurrentWidget(self.provider_tab)
            self.panel_search.setFocus()
            self.panel_search.selectAll()

    def _changed_here(self, *parts: str) -> None:
        """This screen changed the registry: tell the others, refresh only what is affected here."""
        self._suppress_reload = True
        try:
            self.ctx.notify_changed()
        finally:
            self._suppress_reload = False
        self._generation += 1
        self._dirty |= {"milestone", *parts}
        self._load_visible()

    def _current_part(self) -> str:
        return self._tab_parts.get(self.tabs.currentWidget(), "review")

    def _load_visible(self) -> None:
        if self._loading:
            return
        wanted = [p for p in ("milestone", self._current_part()) if p in self._dirty]
        if "review" in wanted:
            self._dirty.discard("review")
            wanted.remove("review")
            self._load_reviews()
        if not wanted:
            return
        readers = {part: self._reader(part) for part in wanted}
        registry = self.ctx.registry
        generation = self._generation
        labels = {
            "milestone": self.tr("Scoring the empanelment milestone"),
            "capacity": self.tr("Counting panels and targets"),
            "visitors": self.tr("Finding patients who visit but are on no panel"),
            "inactivation": self.tr("Finding patients to inactivate"),
            "provider": self.tr("Reading the provider's panel"),
        }

        def job(progress, cancel):
            out = {}
            with registry.session() as session:
                for number, (part, reader) in enumerate(readers.items()):
                    cancel.raise_if_cancelled()
                    progress(number, len(readers), labels[part])
                    out[part] = reader(session)
                progress(len(readers), len(readers), "")
            return out

        def done(out: dict) -> None:
            self._loading = False
            for part, data in out.items():
                if generation == self._generation:
                    self._dirty.discard(part)
                self._apply(part, data)
            if any(p in self._dirty for p in ("milestone", self._current_part())):
                self._load_visible()

        def failed(message: str) -> None:
            self._loading = False
            QMessageBox.warning(self, self.tr("Panels"), message)

        def cancelled(_message: str) -> None:
            self._loading = False
            self.load_cancelled(self.tr("Loading panels"), self._load_visible)

        self._loading = True
        run_job(self, self.tr("Loading panels"), job, on_success=done, on_failure=failed, on_cancelled=cancelled)

    def _reader(self, part: str) -> Callable[[Any], Any]:
        as_of = self.ctx.as_of
        if part == "milestone":
            return lambda session: milestone(session, as_of)
        if part == "capacity":
            def read_capacity(session):
                rows = panel_capacity(session, as_of)
                report = continuity(session, as_of)
                per_visit, basis = practice_visits_per_patient_year(session, as_of)
                return rows, {r.provider_id: r.share for r in report.rows}, per_visit, basis, report.share
            return read_capacity
        if part == "visitors":
            def read_visitors(session):
                providers = panel_providers(session)
                names = dict(zip(providers["external_id"], providers["display_name"]))
                return unassigned_visiting(session, as_of), names
            return read_visitors
        if part == "inactivation":
            def read_suggestions(session):
                providers = panel_providers(session)
                names = dict(zip(providers["external_id"], providers["display_name"]))
                return suggest_inactivations(session, as_of=as_of), names
            return read_suggestions
        if part == "provider":
            chosen = self.provider_picker.currentData()

            def read_panel(session):
                providers = panel_providers(session)
                holders = providers[providers["holds_panel"]].sort_values("display_name")
                choices = [(int(pid), str(name)) for pid, name in zip(holders["id"], holders["display_name"])]
                provider_id = chosen if chosen in {pid for pid, _ in choices} else (choices[0][0] if choices else None)
                frame = provider_panel(session, provider_id) if provider_id is not None else None
                return choices, provider_id, frame
            return read_panel
        raise KeyError(part)

    def _apply(self, part: str, data: Any) -> None:
        getattr(self, f"_apply_{part}")(data)

    # ================================================================== milestone
    def _apply_milestone(self, report) -> None:
        self.level_badge.setText(str(report.level))
        self.level_badge.setProperty("level", report.level)
        self.level_badge.style().unpolish(self.level_badge)
        self.level_badge.style().polish(self.level_badge)
        self.milestone_title.setText(
            self.tr("Empanelment milestone: level {0} of 4, {1}").format(report.level, report.label[0].lower() + report.label[1:])
        )
        if report.missing:
            items = "".join(f"<li>{_html(text)}</li>" for text in report.missing)
            self.milestone_next.setText(
                self.tr("<b>To reach level {0}:</b>").format(report.level + 1) + f"<ul style='margin:2px 0 0 -20px'>{items}</ul>"
            )
        else:
            self.milestone_next.setText(self.tr("<b>Top level reached.</b> Keep reviewing panels within the review period to stay here."))
        lines = []
        for reason in report.reasons:
            met = reason.startswith("Met")
            mark = "<span style='color:#1e7b45'>&#10003;</span>" if met else "<span style='color:#b42318'>&#10007;</span>"
            lines.append(f"{mark} {_html(reason.split(': ', 1)[-1])}")
        figures = report.figures
        lines.append(
            self.tr("{0:,} active patients, {1:,} assigned, {2:,} confirmed by their provider, {3:,} by the patient.").format(
                figures.get("active_patients", 0), figures.get("assigned", 0), figures.get("provider_confirmed", 0),
                figures.get("patient_confirmed", 0),
            )
        )
        self.milestone_details.setText("<br>".join(lines))
        self.milestone_report = report

    # ================================================================== reviews
    def _load_reviews(self, select_id: int | None = None) -> None:
        with self.ctx.registry.session() as session:
            reviews = list_reviews(session)
        keep = select_id or self._review_id
        self.review_picker.blockSignals(True)
        self.review_picker.clear()
        for info in reviews:
            status = {
                "open": self.tr("waiting"), "accepted": self.tr("accepted"), "rejected": self.tr("rejected"),
                "partly": self.tr("partly accepted"), "superseded": self.tr("superseded"),
            }.get(info.status, info.status)
            self.review_picker.addItem(self.tr("#{0} as of {1} ({2})").format(info.id, info.as_of.isoformat(), status), info.id)
        self._reviews = {info.id: info for info in reviews}
        index = self.review_picker.findData(keep) if keep is not None else -1
        self.review_picker.setCurrentIndex(index if index >= 0 else (0 if reviews else -1))
        self.review_picker.blockSignals(False)
        self._review_id = self.review_picker.currentData()
        self._refresh_review_list()

    def _pick_review(self) -> None:
        self._review_id = self.review_picker.currentData()
        self._refresh_review_list()

    def _refresh_review_list(self) -> None:
        review_id = self._review_id
        counts: dict[str, dict[str, int]] = {}
        if review_id is not None:
            with self.ctx.registry.session() as session:
                counts = review_counts(session, review_id)
        decisions = self.decision_filter.currentData()

        def count(kind: str) -> int:
            per = counts.get(kind, {})
            if decisions is None:
                return sum(per.values())
            return sum(n for d, n in per.items() if d in decisions)

        current_kind = self.kind_filter.currentData() if self.kind_filter.count() else "all"
        self.kind_filter.blockSignals(True)
        self.kind_filter.clear()
        total = sum(count(k) for k in ("new", "change", "drop"))
        self.kind_filter.addItem(self.tr("All proposals ({0:,})").format(total), "all")
        self.kind_filter.addItem(self.tr("New assignments ({0:,})").format(count("new")), "new")
        self.kind_filter.addItem(self.tr("Changes ({0:,})").format(count("change")), "change")
        self.kind_filter.addItem(self.tr("Drops ({0:,})").format(count("drop")), "drop")
        needs = sum(counts.get("unassigned", {}).values())
        self.kind_filter.addItem(self.tr("Needs assignment ({0:,})").format(needs), "unassigned")
        index = self.kind_filter.findData(current_kind)
        self.kind_filter.setCurrentIndex(max(index, 0))
        self.kind_filter.blockSignals(False)
        kind = self.kind_filter.currentData()
        kinds = ("new", "change", "drop") if kind == "all" else (kind,)
        # "Needs assignment" items are for information: their decision is "info".
        shown_decisions = None if kind == "unassigned" else decisions
        self.review_model.set_filter(review_id, kinds, shown_decisions)
        self._update_review_summary(counts)
        self._update_review_buttons()

    def _panel_holder_problem(self) -> str:
        """What stops anyone being assigned (no provider can hold a panel), as a bold line; empty when fine."""
        from panelmanager.core.providers import panel_holder_problem

        with self.ctx.registry.session() as session:
            problem = panel_holder_problem(session)
        return f"<br><b>{_html(problem)}</b>" if problem else ""

    def _update_review_summary(self, counts: dict[str, dict[str, int]]) -> None:
        info = self._reviews.get(self._review_id)
        if info is None:
            self.review_summary.setText(
                self.tr("No review yet. Run one to see who would go on which panel.") + self._panel_holder_problem()
            )
            return
        pending = sum(counts.get(k, {}).get("pending", 0) for k in ("new", "change", "drop"))
        text = self.tr(
            "Review #{0} as of {1} (visits since {2}): <b>{3:,}</b> new, <b>{4:,}</b> changes, <b>{5:,}</b> drops; "
            "{6:,} need assignment (no qualifying visit); {7:,} unchanged; {8:,} kept."
        ).format(
            info.id, info.as_of.isoformat(), info.window_start.isoformat(), info.new, info.changes, info.drops,
            info.unassigned, info.unchanged, info.kept,
        )
        if pending:
            text += " " + self.tr("<b>{0:,} waiting for a decision.</b>").format(pending)
        elif info.decided_at is not None:
            text += " " + self.tr("Decided {0} by {1}.").format(
                info.decided_at.strftime("%Y-%m-%d %H:%M"), info.decided_by or self.tr("(unknown)")
            )
        self.review_summary.setText(text + self._panel_holder_problem())

    def _update_review_buttons(self) -> None:
        has_review = self._review_id is not None
        info = self._reviews.get(self._review_id) if has_review else None
        pending = bool(info and info.pending)
        rows = selected_rows(self.review_table)
        selected = len(rows)
        deciding = self.kind_filter.currentData() != "unassigned" and selected > 0
        if deciding and self.decision_filter.currentData() != ("pending",):
            # Decided items cannot be decided again; look (at a screenful or so) whether any selected one waits.
            deciding = len(rows) > 2000 or any(
                (self.review_model.row_data(r) or {}).get("decision") == "pending" for r in rows
            )
        self.accept_button.setEnabled(deciding)
        self.reject_button.setEnabled(deciding)
        self.accept_all_button.setEnabled(pending)
        self.reject_all_button.setEnabled(pending)
        self.selection_label.setText(self.tr("{0:,} selected").format(selected) if selected else "")

    def run_review(self) -> None:
        waiting = [info for info in self._reviews.values() if info.status == "open" and info.pending]
        if waiting:
            answer = QMessageBox.question(
                self,
                self.tr("Run a new review"),
                self.tr("Review #{0} still has {1:,} proposals waiting for a decision. A new review replaces them. Run it?").format(
                    waiting[0].id, waiting[0].pending
                ),
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        registry = self.ctx.registry
        as_of = self.review_as_of.date().toPython()
        months = self.review_lookback.value()
        user = self.ctx.user

        def job(progress, cancel):
            with registry.session() as session:
                return build_review(session, as_of=as_of, lookback_months=months, user=user, progress=progress, cancel=cancel)

        def done(summary) -> None:
            self._review_id = summary.review_id
            self.tabs.setCurrentWidget(self.review_tab)
            self.decision_filter.setCurrentIndex(0)
            self.kind_filter.setCurrentIndex(0)
            self._status(
                self.tr("Review #{0}: {1:,} new, {2:,} changes ({3:,} held), {4:,} drops, {5:,} need assignment.").format(
                    summary.review_id, summary.new, summary.changes, summary.held, summary.drops, summary.unassigned
                )
            )
            self._changed_here("review")

        run_job(self, self.tr("Running the assignment review"), job, on_success=done)

    def selected_item_ids(self) -> list[int]:
        """The selected review items (ids only, no row fetch: the core decides only pending ones)."""
        if not self.accept_button.isEnabled():
            return []
        ids = (self.review_model.id_at(row) for row in selected_rows(self.review_table))
        return [int(i) for i in ids if i is not None]

    def accept_selected(self) -> None:
        ids = self.selected_item_ids()
        if ids:
            self._decide(accept_review_items, ids, self.tr("Accepting proposals"))

    def reject_selected(self) -> None:
        ids = self.selected_item_ids()
        if ids:
            self._decide(reject_review_items, ids, self.tr("Rejecting proposals"))

    def accept_all(self) -> None:
        info = self._reviews.get(self._review_id) if self._review_id is not None else None
        if info is None or not info.pending:
            return
        answer = QMessageBox.question(
            self,
            self.tr("Accept all pending proposals"),
            self.tr(
                "Accept all {0:,} proposals still waiting in review #{1}?\n\n"
                "Changes away from a confirmed assignment (held) stay as they are; accept those one by one."
            ).format(info.pending, info.id),
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._decide(accept_review_items, None, self.tr("Accepting the review"))

    def reject_all(self) -> None:
        info = self._reviews.get(self._review_id) if self._review_id is not None else None
        if info is None or not info.pending:
            return
        answer = QMessageBox.question(
            self,
            self.tr("Reject all pending proposals"),
            self.tr("Reject all {0:,} proposals still waiting in review #{1}? Panels stay as they are.").format(info.pending, info.id),
        )
        if answer == QMessageBox.StandardButton.Yes:
            self._decide(reject_review_items, None, self.tr("Rejecting the review"))

    def _decide(self, service, item_ids: list[int] | None, title: str) -> None:
        rows = selected_rows(self.review_table)
        resume_at = rows[0] if rows else 0
        registry = self.ctx.registry
        review_id = self._review_id
        user = self.ctx.user

        def job(progress, cancel):
            progress(0, 1, title)
            with registry.session() as session:
                return service(session, review_id, item_ids, user=user)

        def done(decision) -> None:
            parts = []
            if decision.accepted:
                parts.append(self.tr("{0:,} accepted").format(decision.accepted))
            if decision.rejected:
                parts.append(self.tr("{0:,} rejected").format(decision.rejected))
            if decision.kept:
                parts.append(self.tr("{0:,} held changes kept as they were").format(decision.kept))
            if decision.stale:
                parts.append(self.tr("{0:,} skipped because the patient's panel changed since the review").format(decision.stale))
            self._status(self.tr("Review #{0}: {1}.").format(review_id, ", ".join(parts) or self.tr("nothing to decide")))
            self._changed_here("review", "capacity", "visitors", "provider")
            self.review_table.setFocus()  # ready for the next A / R, on the row that moved up
            if self.review_model.rowCount():
                self.review_table.setCurrentIndex(self.review_model.index(min(resume_at, self.review_model.rowCount() - 1), 0))

        run_job(self, title, job, on_success=done)

    # ================================================================== capacity
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
            self.ctx.notify_changed()
        finally:
            self._suppress_reload = False

    # ================================================================== unassigned visitors
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

    # ================================================================== inactivation
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

    # ================================================================== provider confirmation
    def _apply_provider(self, data) -> None:
        choices, provider_id, frame = data
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

    # ================================================================== helpers
    def _open_from(self, model, row: int) -> None:
        if row < 0:
            return
        data = model.row_data(row) if hasattr(model, "row_data") else None
        patient_id = (data or {}).get("patient_id")
        if patient_id is not None:
            open_patient(self, int(patient_id))

    def _status(self, text: str) -> None:
        self.last_message = text
        self.status_message(text)

    # ================================================================== screenshots
    def prepare_screenshot(self) -> None:
        """On a demo registry, show a review with its rows: with no review yet, a manager
        part-way through the first one (built, all but the first screenful accepted); when
        the review was already decided (another screen's screenshot empanelled the demo),
        that review's proposals with their decisions."""
        self.tabs.setCurrentWidget(self.review_tab)
        self.refresh()
        if not self._reviews:
            self.run_review()
            pending = [i for i in (self.review_model.id_at(r) for r in range(self.review_model.rowCount())) if i is not None]
            if len(pending) > 60:
                self._decide(accept_review_items, pending[40:], self.tr("Accepting proposals"))
        if self.review_model.rowCount() == 0:
            self.decision_filter.setCurrentIndex(self.decision_filter.findData(None))
        if self.review_model.rowCount():
            self.review_table.selectRow(1 if self.review_model.rowCount() > 1 else 0)


def _html(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_STYLE = """
QFrame#milestoneBox { background: #eef6f5; border: 1px solid #b7dcd7; border-left: 6px solid #2a9d8f; border-radius: 6px; }
QLabel#levelBadge { color: white; background: #2a9d8f; border-radius: 8px; padding: 4px 10px; }
QLabel#levelBadge[level="1"] { background: #b42318; }
QLabel#levelBadge[level="2"] { background: #c27803; }
QLabel#levelBadge[level="3"] { background: #2a7f9d; }
QLabel#levelBadge[level="4"] { background: #1e7b45; }
QLabel#levelCaption { color: #5b6770; }
QLabel#milestoneTitle { color: #1f3b4d; }
QLabel#hint { color: #5b6770; }
QLabel#reviewSummary { padding: 4px 0; }
QPushButton#primary { font-weight: bold; }
"""
