"""Dashboard: measure rates per provider as a colour-coded grid, the patients behind each
cell, and each provider's panel against their target.

The grid, the panel chart and the warnings are read as they were stored the last time they
were computed (``core.panel_lists.dashboard_figures``: one small query, then a model fill)
and shown at once, saying when they were computed. When the care-gap cache is missing or
out of date (an import since, a measure file changed) it is then recomputed in the
background with the figures (``core.dashboard.refresh_dashboard``, half a minute at 100,000
patients); when only the panels or settings changed, only the figures are (a few seconds).
The screen stays usable; a line under the title shows the progress with a Stop button, and
the grid is refreshed when it is done. The new grid is built in the job; the GUI thread only
swaps it in. F5 / "Refresh
care gaps" recomputes on demand. Cells are green at or above the practice's goal (Settings), red below; an
inverse measure (HbA1c poor control) is green at or below its goal.

Keyboard: arrows move through the grid; Enter (or a double-click) lists the patients
with that gap below; Enter on a patient opens them (``patient_requested(patient_id)``
is emitted, and the main window shows them on the Patients screen).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from panelmanager.core.measures import staff_status_column
from panelmanager.ui.context import ASSIGNMENTS, GAPS, IMPORT, SETTINGS
from panelmanager.ui.jobs import Job, run_job
from panelmanager.ui.models.dashboard import (
    CellTarget,
    GapPatientTableModel,
    GridContent,
    MeasureGridModel,
    grid_content,
)
from panelmanager.ui.screens.base import Screen, heading
from panelmanager.ui.widgets.charts import (
    GREEN_BG,
    NEUTRAL_BG,
    RED_BG,
    PanelBar,
    PanelSizeChart,
    RateCellDelegate,
    TitleHeader,
)
from panelmanager.ui.widgets.tables import hint, make_table, open_patient


@dataclass
class DashboardData:
    as_of: dt.date
    stale: bool  # the cache is missing or out of date (an import or a measure changed since)
    computed_at: dt.datetime | None
    by_provider: pd.DataFrame | None
    practice: pd.DataFrame | None
    bars: list[PanelBar]
    refreshed: bool  # the figures were just recomputed
    source_data_absent: tuple[str, ...] = ()  # one message per measure with no data imported at all
    outdated: bool = False  # stored before the care gaps, panels or settings changed: recomputed next
    grid: GridContent | None = None  # the grid, built in the job from by_provider / practice


def _swatch(colour) -> QLabel:
    label = QLabel()
    size = label.fontMetrics().height() - 2
    label.setFixedSize(int(size * 1.4), size)
    label.setStyleSheet(f"background: {colour.name()}; border: 1px solid #c5ccd3; border-radius: 3px;")
    return label


class DashboardScreen(Screen):
    SHOWS = frozenset({ASSIGNMENTS, GAPS, IMPORT, SETTINGS})  # rates per PCP from the gap cache
    patient_requested = Signal(int)

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, parent)
        self._loading = False
        self._again: bool | None = None  # a load asked for while one ran (its refresh flag)
        self._declined: dt.date | None = None  # the user cancelled the refresh for this date
        self._target: CellTarget | None = None
        self.data: DashboardData | None = None

        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(heading(self.tr("Dashboard")))
        top.addStretch(1)
        self.computed_label = QLabel()
        self.computed_label.setObjectName("hint")
        # While the care gaps are recomputed in the background: what it is doing, and Stop.
        self.recompute_label = QLabel()
        self.recompute_label.setObjectName("recomputing")
        self.recompute_label.setVisible(False)
        self.stop_button = QPushButton(self.tr("S&top"))
        self.stop_button.setToolTip(self.tr("Stop recomputing the care gaps (the figures shown stay as they are)"))
        self.stop_button.setVisible(False)
        self.stop_button.clicked.connect(self.stop_recompute)
        self._recompute = None  # the background job recomputing the care gaps
        self._will_recompute = False  # the figures being shown are about to be recomputed
        self.refresh_button = QPushButton(self.tr("&Refresh care gaps"))
        self.refresh_button.setToolTip(self.tr("Recompute every measure for every patient as of the as-of date (F5)"))
        self.refresh_button.clicked.connect(self.refresh_gaps)
        top.addWidget(self.computed_label)
        top.addWidget(self.recompute_label)
        top.addWidget(self.stop_button)
        top.addWidget(self.refresh_button)
        layout.addLayout(top)
        refresh = QShortcut(QKeySequence(Qt.Key.Key_F5), self)
        refresh.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        refresh.activated.connect(self.refresh_gaps)

        self.banner = QLabel()
        self.banner.setObjectName("staleBanner")
        self.banner.setWordWrap(True)
        self.banner.setVisible(False)
        layout.addWidget(self.banner)
        # Measures whose source data is absent from the registry (issue 9 item 11).
        self.data_warning = QLabel()
        self.data_warning.setObjectName("staleBanner")
        self.data_warning.setWordWrap(True)
        self.data_warning.setVisible(False)
        layout.addWidget(self.data_warning)

        legend = QHBoxLayout()
        legend.setSpacing(6)
        for colour, text in (
            (GREEN_BG, self.tr("meets the goal")),
            (RED_BG, self.tr("below the goal")),
            (NEUTRAL_BG, self.tr("no eligible patients")),
        ):
            legend.addWidget(_swatch(colour))
            legend.addWidget(QLabel(text))
            legend.addSpacing(10)
        legend.addWidget(
            hint(self.tr("Rate and patients meeting / eligible. Goals are set in Settings. Enter or double-click a cell lists the patients with that gap.")),
            1,
        )
        layout.addLayout(legend)

        self.grid_model = MeasureGridModel(self)
        self.grid = QTableView()
        self.grid.setObjectName("measureGrid")
        self.grid.setModel(self.grid_model)
        self.grid.setItemDelegate(RateCellDelegate(self.grid))
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.grid.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.grid.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.grid.setShowGrid(False)
        self.grid.setWordWrap(True)
        line = self.fontMetrics().height()
        header = TitleHeader(self.grid)
        self.grid.setHorizontalHeader(header)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(RateCellDelegate.minimum_width(self.font()))
        header.setFixedHeight(int(line * 4.4))
        vertical = self.grid.verticalHeader()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(int(line * 2.9))
        vertical.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        vertical.setHighlightSections(True)
        self.grid.doubleClicked.connect(lambda index: self.drill_down(index.row(), index.column()))
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shortcut = QShortcut(QKeySequence(key), self.grid)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(lambda: self.drill_down(self.grid.currentIndex().row(), self.grid.currentIndex().column()))

        self.chart = PanelSizeChart()
        chart_scroll = QScrollArea()
        chart_scroll.setWidgetResizable(True)
        chart_scroll.setFrameShape(QFrame.Shape.StyledPanel)
        chart_scroll.setWidget(self.chart)
        chart_scroll.setMinimumWidth(int(line * 22))

        drill = QWidget()
        drill_layout = QVBoxLayout(drill)
        drill_layout.setContentsMargins(0, 0, 0, 0)
        drill_top = QHBoxLayout()
        self.drill_title = QLabel(self.tr("Pick a cell in the grid to list the patients with that gap."))
        self.drill_title.setObjectName("drillTitle")
        self.drill_title.setWordWrap(True)
        self.include_due_soon = QCheckBox(self.tr("Include &due soon"))
        self.include_due_soon.setToolTip(self.tr("Also list patients whose care is met now but falls due soon"))
        self.include_due_soon.toggled.connect(lambda _on: self._redrill())
        drill_top.addWidget(self.drill_title, 1)
        drill_top.addWidget(self.include_due_soon)
        drill_layout.addLayout(drill_top)
        self.gap_model = GapPatientTableModel(self)
        self.gap_table = make_table(sort_column=-1)
        self.gap_table.setModel(self.gap_model)
        self.gap_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.gap_table.horizontalHeader().setStretchLastSection(True)
        samples = ("Hernández, Isabella M.", "D0000000", "0000-00-00", "100", "Due soon", "0000-00-00", "0000-00-00", "140/90 mmHg")
        for column, sample in enumerate(samples):
            self.gap_table.setColumnWidth(column, self.fontMetrics().horizontalAdvance(sample) + 18)
        self.gap_table.doubleClicked.connect(lambda index: self.open_gap_patient(index.row()))
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shortcut = QShortcut(QKeySequence(key), self.gap_table)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(lambda: self.open_gap_patient(self.gap_table.currentIndex().row()))
        drill_layout.addWidget(self.gap_table, 1)
        drill_bottom = QHBoxLayout()
        self.open_button = QPushButton(self.tr("&Open patient"))
        self.open_button.clicked.connect(lambda: self.open_gap_patient(self.gap_table.currentIndex().row()))
        drill_bottom.addWidget(hint(self.tr("Enter or double-click opens the patient.")), 1)
        drill_bottom.addWidget(self.open_button)
        drill_layout.addLayout(drill_bottom)

        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(chart_scroll)
        bottom.addWidget(drill)
        bottom.setStretchFactor(0, 2)
        bottom.setStretchFactor(1, 3)
        bottom.setChildrenCollapsible(False)
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.grid)
        self.split.addWidget(bottom)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 1)
        self.split.setChildrenCollapsible(False)
        layout.addWidget(self.split, 1)
        self.setStyleSheet(_STYLE)
        self._update_open_button()
        self.gap_model.modelReset.connect(self._update_open_button)

    def title(self) -> str:
        return self.tr("Dashboard")

    def focus_search(self) -> None:
        """The rate grid (arrows move, Enter lists the patients): the screen's main input."""
        self.grid.setFocus(Qt.FocusReason.ShortcutFocusReason)
        if not self.grid.currentIndex().isValid() and self.grid_model.rowCount() and self.grid_model.columnCount():
            self.grid.setCurrentIndex(self.grid_model.index(0, 0))

    # ------------------------------------------------------------------ loading
    def reload(self) -> None:
        self._load(refresh=None)

    def refresh_gaps(self) -> None:
        """Recompute the care gaps for the as-of date (a job), then reload the grid."""
        self._declined = None
        self._load(refresh=True)

    def _load(self, refresh: bool | None) -> None:
        """Show the cached figures at once, then recompute them in the background when
        ``refresh`` is True, or None and they are stale (unless the user stopped that for this
        date) and show the new ones. Both steps are jobs; the screen stays usable."""
        if self._loading:
            self._again = bool(self._again) or bool(refresh)
            return
        registry = self.ctx.registry
        as_of = self.ctx.as_of
        allow = refresh is True or (refresh is None and self._declined != as_of)
        goals = dict(self.ctx.settings.measure_goals)

        def read(progress, cancel):
            with registry.session() as session:
                return _read_dashboard(session, as_of, refreshed=False, goals=goals)

        def shown(data: DashboardData) -> None:
            self._will_recompute = refresh is True or ((data.stale or data.outdated) and allow)
            self._show(data)
            if self._will_recompute:
                self._start_recompute(as_of, cached=data, gaps=True if refresh is True else None)
            else:
                self._finish_loading()

        def failed(message: str) -> None:
            self._show_banner(self.tr("The dashboard could not be loaded: {0}").format(message))
            self._finish_loading()

        self._loading = True
        self.computed_label.setText(self.tr("Reading the care gaps..."))
        run_job(self, self.tr("Loading the dashboard"), read, on_success=shown, on_failure=failed,
                on_cancelled=lambda _message: self._finish_loading(), background=True)

    def _start_recompute(self, as_of: dt.date, cached: DashboardData, gaps: bool | None = None) -> None:
        registry = self.ctx.registry
        goals = dict(self.ctx.settings.measure_goals)
        # Only the panels or settings changed (the care gaps are current): only the figures are redone.
        doing = (self.tr("Recomputing the care gaps in the background{0}...") if gaps or cached.stale
                 else self.tr("Updating the dashboard figures in the background{0}..."))

        def job(progress, cancel):
            from panelmanager.core.dashboard import refresh_dashboard
            from panelmanager.core.panel_lists import practice_rates

            # The care gaps (when stale or asked for), then the figures, stored for the next open.
            with registry.session() as session:
                stored = refresh_dashboard(session, as_of, gaps=gaps, progress=progress, cancel=cancel)
            by_provider = stored.by_provider
            practice = practice_rates(by_provider)
            return DashboardData(as_of, False, stored.gaps_computed_at, by_provider, practice, _bars(stored.bars), True,
                                 stored.source_data_absent, False, grid_content(by_provider, practice, goals))

        def progressed(done: int, total: int, message: str) -> None:
            percent = f" {100 * done // total}%" if total > 1 else ""
            self.recompute_label.setText(doing.format(percent))

        def done(data: DashboardData) -> None:
            self._end_recompute()
            self._show(data)
            self._finish_loading()

        def cancelled(_message: str) -> None:
            self._end_recompute()
            self._declined = as_of
            if cached.computed_at is None:
                self._show_banner(
                    self.tr("Computing the care gaps for {0} was cancelled. The grid is empty until they are computed: "
                            "press Refresh care gaps (F5).").format(as_of.isoformat())
                )
                self.grid_model.set_rates(pd.DataFrame(columns=_RATE_COLUMNS), pd.DataFrame(columns=_RATE_COLUMNS), {})
                self._clear_drill()
            else:
                self._show_banner(self._stale_text(cached) + " " + self.tr(
                    "Recomputing them was cancelled: press Refresh care gaps (F5)."))
            self._finish_loading()

        def failed(message: str) -> None:
            self._end_recompute()
            self._show_banner(self.tr("The care gaps could not be recomputed: {0}").format(message))
            self._finish_loading()

        self.recompute_label.setText(doing.format(""))
        self.recompute_label.setVisible(True)
        self.stop_button.setVisible(True)
        running = self._recompute = object()  # until run_job returns (a synchronous job ends inside it)
        started = run_job(self, self.tr("Computing the care gaps"), job, on_success=done, on_cancelled=cancelled,
                          on_failure=failed, on_progress=progressed, background=True)
        if self._recompute is running:
            self._recompute = started

    def stop_recompute(self) -> None:
        """Stop recomputing the care gaps; the figures shown stay (Refresh starts it again)."""
        if isinstance(self._recompute, Job):
            self._recompute.cancel()

    def recomputing(self) -> bool:
        return self._recompute is not None

    def _end_recompute(self) -> None:
        self._recompute = None
        self._will_recompute = False
        self.recompute_label.setVisible(False)
        self.stop_button.setVisible(False)

    def _finish_loading(self) -> None:
        self._loading = False
        again, self._again = self._again, None
        if again is not None:
            self._load(refresh=True if again else None)

    def _stale_text(self, data: DashboardData) -> str:
        when = data.computed_at.strftime("%Y-%m-%d %H:%M") if data.computed_at else ""
        return self.tr("These figures were computed {0}; an import or a measure changed since.").format(when)

    def _show(self, data: DashboardData) -> None:
        self.data = data
        goals = dict(self.ctx.settings.measure_goals)
        if data.by_provider is None or data.computed_at is None:
            self.grid_model.set_rates(pd.DataFrame(columns=_RATE_COLUMNS), pd.DataFrame(columns=_RATE_COLUMNS), {})
            self._clear_drill()
            if self._will_recompute:
                self._show_banner(self.tr("The care gaps for {0} have not been computed yet: computing them in the "
                                          "background.").format(data.as_of.isoformat()))
            else:
                self._show_banner(
                    self.tr("The care gaps for {0} are not computed or out of date. Press Refresh care gaps (F5).").format(data.as_of.isoformat())
                )
        else:
            current = self.grid.currentIndex()
            if data.grid is not None:
                self.grid_model.set_grid(data.grid)
            else:
                self.grid_model.set_rates(data.by_provider, data.practice, goals)
            widest = max((c.numerator, c.denominator) for c in self.grid_model.cells.values()) if self.grid_model.cells else (0, 0)
            sample = f"{widest[1]:,}/{widest[1]:,}".replace("1", "8")
            self.grid.horizontalHeader().setMinimumSectionSize(RateCellDelegate.minimum_width(self.font(), sample))
            if data.stale:
                self._show_banner(self._stale_text(data) + " " + (
                    self.tr("Recomputing them in the background.") if self._will_recompute
                    else self.tr("Press Refresh care gaps (F5) to recompute them.")))
            elif data.outdated and self._will_recompute:
                self._show_banner(self.tr("These figures were computed {0}; the panels or settings changed since. "
                                          "Updating them in the background.").format(_when(data.computed_at)))
            else:
                self.banner.setVisible(False)
            if current.isValid() and current.row() < self.grid_model.rowCount() and current.column() < self.grid_model.columnCount():
                self.grid.setCurrentIndex(self.grid_model.index(current.row(), current.column()))
        self._size_grid()
        when = data.computed_at.strftime("%Y-%m-%d %H:%M") if data.computed_at else self.tr("never")
        self.computed_label.setText(self.tr("As of {0} · care gaps computed {1}").format(data.as_of.isoformat(), when))
        self.chart.set_bars(data.bars)
        self.data_warning.setText("\n".join(data.source_data_absent))
        self.data_warning.setVisible(bool(data.source_data_absent))
        if self._target is not None:
            self._redrill()

    def _size_grid(self) -> None:
        """Give the grid the height its rows need (up to 60% of the screen), the rest to the chart and list."""
        row_h = self.grid.verticalHeader().defaultSectionSize()
        header_h = self.grid.horizontalHeader().height()
        self.grid.setMinimumHeight(header_h + min(max(self.grid_model.rowCount(), 2), 5) * row_h + 6)
        wanted = header_h + max(self.grid_model.rowCount(), 2) * row_h + self.grid.horizontalScrollBar().sizeHint().height() + 6
        total = sum(self.split.sizes()) or self.split.height()
        if total > 0:
            grid_h = min(wanted, int(total * 0.6))
            self.split.setSizes([grid_h, max(total - grid_h, 1)])

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._size_grid()

    def _show_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.setVisible(True)

    # ------------------------------------------------------------------ drill-down
    def drill_down(self, row: int, column: int) -> None:
        """List the patients with the gap of the cell at (row, column)."""
        target = self.grid_model.target(row, column)
        if target is None:
            return
        self._target = target
        self._redrill()

    def _clear_drill(self) -> None:
        self._target = None
        self.gap_model.set_patients(self.gap_model.frame.iloc[0:0])
        self.drill_title.setText(self.tr("Pick a cell in the grid to list the patients with that gap."))

    def _statuses(self) -> tuple[str, ...]:
        return ("open", "due-soon") if self.include_due_soon.isChecked() else ("open",)

    def _redrill(self) -> None:
        target = self._target
        if target is None or self.data is None or self.data.computed_at is None:
            return
        registry, as_of, statuses = self.ctx.registry, self.data.as_of, self._statuses()
        listing = self.tr("Listing the patients")

        def job(progress, cancel):
            progress(0, 1, listing)
            with registry.session() as session:
                return gap_patients(
                    session, as_of, target.measure, provider_id=target.provider_id, unassigned=target.unassigned, statuses=statuses
                )

        def done(frame) -> None:
            frame = frame.assign(staff_status=staff_status_column(frame.assign(measure=target.measure)))
            self.gap_model.set_patients(frame)
            what = self.tr("open gaps") if statuses == ("open",) else self.tr("open or due-soon gaps")
            if target.inverse:
                what = self.tr("a gap (out of range or no result)") if statuses == ("open",) else self.tr("a gap or due soon")
            self.drill_title.setText(
                self.tr("<b>{0}</b> — {1}: {2:,} patients with {3}").format(
                    _html(target.measure_title), _html(target.row_label), len(frame), what
                )
            )
            if self.gap_model.rowCount():
                self.gap_table.setCurrentIndex(self.gap_model.index(0, 0))

        run_job(self, self.tr("Listing patients"), job, on_success=done)

    def gap_patient_ids(self) -> list[int]:
        return self.gap_model.ids()

    def open_gap_patient(self, row: int) -> None:
        patient_id = self.gap_model.id_at(row)
        if patient_id is not None:
            open_patient(self, int(patient_id))

    def _update_open_button(self) -> None:
        self.open_button.setEnabled(self.gap_model.rowCount() > 0)

    # ------------------------------------------------------------------ screenshots
    def prepare_screenshot(self) -> None:
        """Fill the grid and list the patients of the largest panel's first cell below goal."""
        self.refresh()
        model = self.grid_model
        best: tuple[int, int, int] | None = None
        for row, grid_row in enumerate(model.grid_rows):
            if grid_row.provider_id is None:
                continue
            for column in range(model.columnCount()):
                cell = model.cell(row, column)
                if cell is not None and cell.meets is False and cell.open:
                    if best is None or cell.denominator > best[2]:
                        best = (row, column, cell.denominator)
        if best is not None:
            self.grid.setCurrentIndex(model.index(best[0], best[1]))
            self.drill_down(best[0], best[1])


# core.panel_lists and core.dashboard pull in core.empanelment: imported in the jobs that use
# them (a worker thread), not on the GUI thread when the screen is first opened (issue 10).
def dashboard_figures(session, as_of: dt.date):
    from panelmanager.core.panel_lists import dashboard_figures as read

    return read(session, as_of)


def gap_patients(session, as_of: dt.date, measure: str, **options):
    from panelmanager.core.panel_lists import gap_patients as read

    return read(session, as_of, measure, **options)


def _read_dashboard(session, as_of: dt.date, *, refreshed: bool, goals: dict | None = None) -> DashboardData:
    """The dashboard's figures as stored (else from the care-gap cache), never recomputing;
    with ``goals``, the grid is built here too (in the job, not on the GUI thread)."""
    figures = dashboard_figures(session, as_of)
    cached = figures.computed_at is not None
    grid = grid_content(figures.by_provider, figures.practice, goals) if cached and goals is not None else None
    return DashboardData(as_of, figures.stale, figures.computed_at, figures.by_provider if cached else None,
                         figures.practice if cached else None, _bars(figures.bars), refreshed,
                         tuple(figures.source_data_absent), figures.outdated, grid)


def _bars(rows) -> list[PanelBar]:
    """The panel chart's bars from ``core.dashboard.panel_bars`` rows (who holds or can hold a panel)."""
    return [PanelBar(r["name"], r["assigned"], r["weighted"], r["target"], r["open"]) for r in rows]


def _when(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def _html(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_RATE_COLUMNS = ["measure", "title", "provider_id", "provider", "denominator", "numerator", "rate", "goal", "inverse",
                 "higher_is_better", "met", "due_soon", "open", "excluded"]

_STYLE = """
QLabel#hint { color: #5b6770; }
QLabel#staleBanner { background: #fff4d6; border: 1px solid #e9c46a; border-radius: 4px; padding: 6px 10px; color: #5c4300; }
QTableView#measureGrid { background: white; }
QTableView#measureGrid QHeaderView::section { padding: 4px; }
"""
