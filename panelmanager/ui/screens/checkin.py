"""Check-in (front desk): the day's schedule, a patient finder, and the PCP question.

The schedule (date picker, provider filter) lists each visit with the patient's
assigned PCP, whether the patient has confirmed it (or is on no panel, or is seeing
another provider's patient) and their open care gaps. Typing in the search box finds a
patient by name fragment, date of birth or MRN as you type (one SQL query per pause
in typing, results held as ids). Selecting a patient opens the confirm panel: Enter
confirms, Alt+C changes to another provider, Alt+D records "declined", each in one or
two keystrokes, with the gaps to mention at this visit beside it.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, QEvent, QLocale, QObject, QSignalBlocker, Qt, QTimer
from PySide6.QtGui import QFontMetrics, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from panelmanager.core.checkin import registry_data_version, registry_is_empty
from panelmanager.core.models import PatientStatus
from panelmanager.core.patient_view import PatientFilters
from panelmanager.core.schedule import (
    checkin_subject,
    day_schedule_rows,
    next_schedule_day,
    schedule_providers,
    visit_gaps,
)
from panelmanager.ui.context import ASSIGNMENTS, GAPS, IMPORT, SETTINGS
from panelmanager.ui.jobs import run_job
from panelmanager.ui.models.patients import PatientTableModel, search_columns
from panelmanager.ui.models.schedule import ScheduleTableModel
from panelmanager.ui.screens.base import Screen, heading
from panelmanager.ui.session import audit_search, forget_search
from panelmanager.ui.widgets.confirm_panel import ConfirmPanel
from panelmanager.ui.widgets.day_toolbar import DayProviderBar
from panelmanager.ui.widgets.tables import set_up_table

SEARCH_DELAY_MS = 150  # wait for a pause in typing before querying
# Who can be at the desk: anyone but the deceased (an inactive patient may come back).
SEARCH_STATUSES = (PatientStatus.ACTIVE.value, PatientStatus.INACTIVE.value, PatientStatus.MOVED.value)


def _table() -> QTableView:
    table = set_up_table(QTableView(), selection=QAbstractItemView.SelectionMode.SingleSelection, word_wrap=False)
    table.setSortingEnabled(True)
    table.horizontalHeader().setHighlightSections(False)
    return table


class _GapCache:
    """Care gaps already looked up for one day and one state of the registry's data."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.looked_up: set[int] = set()
        self.by_patient: dict[int, list[dict]] = {}

    def for_key(self, key: tuple) -> _GapCache:
        if key != self.key:
            self.key = key
            self.looked_up = set()
            self.by_patient = {}
        return self

    def add(self, ids, frame) -> None:
        self.looked_up.update(int(i) for i in ids)
        for record in frame.to_dict("records"):
            self.by_patient.setdefault(int(record["patient_id"]), []).append(record)

    def counts(self) -> dict[int, tuple[int, int]]:
        result = {}
        for pid in self.looked_up:
            gaps = self.by_patient.get(pid, [])
            result[pid] = (sum(g["status"] == "open" for g in gaps), sum(g["status"] == "due-soon" for g in gaps))
        return result


class CheckInScreen(Screen):
    SHOWS = frozenset({ASSIGNMENTS, GAPS, IMPORT, SETTINGS})  # the schedule, PCPs and the gaps to mention
    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self._day: dt.date = ctx.as_of
        self._day_follows_as_of = True
        self._selection: tuple[int, int | None] | None = None  # (patient_id, visit_id)
        self._audited_id: int | None = None  # the patient whose opening here was last audited
        self._gaps = _GapCache()
        self._pending_key: tuple | None = None  # gap look-ups running for this day...
        self._pending_ids: set[int] = set()  # ...and these patients
        self._loading = False
        self._splitter_sized = False

        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.tr("Check-in")))

        find_row = QHBoxLayout()
        find_label = QLabel(self.tr("&Find a patient:"))
        self.search = QLineEdit()
        self.search.setObjectName("checkinSearch")
        self.search.setPlaceholderText(self.tr("Name, date of birth or MRN  (Ctrl+F)"))
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(360)
        find_label.setBuddy(self.search)
        find_row.addWidget(find_label)
        find_row.addWidget(self.search, 1)
        self.search_hint = QLabel(self.tr("Enter picks the first match · Esc goes back to the schedule"))
        self.search_hint.setObjectName("checkinHint")
        self.search_hint.setStyleSheet("color: #5a6670;")
        self.search_hint.setWordWrap(True)  # wraps rather than widen the window past a 1,280-pixel display
        find_row.addWidget(self.search_hint)
        layout.addLayout(find_row)

        bar = DayProviderBar(
            date_label=self.tr("Da&te:"), provider_label=self.tr("&Provider:"), today_label=self.tr("Toda&y"),
            today_tip=self.tr("Back to the as-of date"), prev_tip=self.tr("Previous day (Alt+Left)"),
            next_tip=self.tr("Next day (Alt+Right)"), date_min_width=150,
        )
        self.date_edit, self.prev_button, self.next_button = bar.date_edit, bar.prev_button, bar.next_button
        self.today_button, self.provider_combo = bar.today_button, bar.provider_combo
        self.summary = QLabel()
        self.summary.setObjectName("checkinSummary")
        self.summary.setWordWrap(True)  # the day's counts: without wrapping they set the window's minimum width
        bar.add_widget(self.summary, 1, space_before=16)
        layout.addWidget(bar)

        # The schedule, or the search results while there is search text.
        self.schedule_model = ScheduleTableModel(self)
        self.schedule_view = _table()
        self.schedule_view.setObjectName("scheduleTable")
        self.schedule_view.setModel(self.schedule_model)
        self.schedule_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.results_model = PatientTableModel(ctx, lambda _key, _desc: [], columns=search_columns(), parent=self)
        self.results_view = _table()
        self.results_view.setObjectName("searchResults")
        self.results_view.setModel(self.results_model)
        self.results_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        results_page = QWidget()
        results_layout = QVBoxLayout(results_page)
        results_layout.setContentsMargins(0, 0, 0, 0)
        self.results_label = QLabel()
        self.results_label.setObjectName("searchCount")
        results_layout.addWidget(self.results_label)
        results_layout.addWidget(self.results_view, 1)
        self.empty_label = QLabel()
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: #5a6670; font-size: 12pt;")
        self.empty_label.linkActivated.connect(self._empty_link)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.schedule_view)
        self.stack.addWidget(results_page)
        self.stack.addWidget(self.empty_label)

        self.panel = ConfirmPanel(ctx)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.stack)
        splitter.addWidget(self.panel)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout.addWidget(splitter, 1)
        self.splitter = splitter

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.run_search)
        self.search.textChanged.connect(self._search_text_changed)
        self.search.returnPressed.connect(self._search_enter)
        self.search.installEventFilter(self)
        self.schedule_view.installEventFilter(self)
        self.results_view.installEventFilter(self)
        self.schedule_view.selectionModel().currentRowChanged.connect(self._schedule_row_changed)
        self.results_view.selectionModel().currentRowChanged.connect(self._result_row_changed)
        self.date_edit.dateChanged.connect(self._date_changed)
        self.prev_button.clicked.connect(lambda: self.set_day(self._day - dt.timedelta(days=1)))
        self.next_button.clicked.connect(lambda: self.set_day(self._day + dt.timedelta(days=1)))
        self.today_button.clicked.connect(self._back_to_as_of)
        self.provider_combo.currentIndexChanged.connect(lambda _i: self.load_schedule())
        self.panel.install_shortcuts(self)
        self.panel.recorded.connect(self._recorded)
        self.panel.focus_back.connect(self._focus_list)
        self.panel.content_changed.connect(self._fit_panel)
        for keys, slot in (("Alt+Left", lambda: self.prev_button.click()), ("Alt+Right", lambda: self.next_button.click())):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

        self.setTabOrder(self.search, self.date_edit)
        self.setTabOrder(self.date_edit, self.provider_combo)
        self.setTabOrder(self.provider_combo, self.schedule_view)
        self._set_date_widget(self._day)

    def title(self) -> str:
        return self.tr("Check-in")

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    # -- the day
    @property
    def day(self) -> dt.date:
        return self._day

    def set_day(self, day: dt.date) -> None:
        """Show the schedule of ``day`` (the date picker follows)."""
        self._day_follows_as_of = day == self.ctx.as_of
        if day == self._day:
            return
        self._day = day
        self._set_date_widget(day)
        self._selection = None
        self.load_schedule(providers=True)

    def _set_date_widget(self, day: dt.date) -> None:
        with QSignalBlocker(self.date_edit):
            self.date_edit.setDate(QDate(day.year, day.month, day.day))

    def _date_changed(self, qdate: QDate) -> None:
        self.set_day(dt.date(qdate.year(), qdate.month(), qdate.day()))

    def _back_to_as_of(self) -> None:
        self.set_day(self.ctx.as_of)

    # -- loading
    def reload(self) -> None:
        if self._day_follows_as_of and self._day != self.ctx.as_of:
            self._day = self.ctx.as_of
            self._set_date_widget(self._day)
            self._selection = None
        self.load_schedule(providers=True)
        if self.search.text().strip():
            self.results_model.invalidate_rows()

    def _fill_providers(self) -> None:
        with self.ctx.registry.session() as session:
            providers = schedule_providers(session, self._day)
        current = self.provider_combo.currentData()
        with QSignalBlocker(self.provider_combo):
            self.provider_combo.clear()
            self.provider_combo.addItem(self.tr("All providers"), None)
            for provider_id, name, visits in providers:
                self.provider_combo.addItem(self.tr("{0} ({1})").format(name, visits), provider_id)
            index = self.provider_combo.findData(current) if current is not None else 0
            self.provider_combo.setCurrentIndex(max(index, 0))

    def load_schedule(self, providers: bool = False) -> None:
        """Re-read the day's schedule (one query) and show it, keeping the selection; the care
        gaps follow in jobs (``_refresh_gaps``)."""
        if self._loading:
            return
        self._loading = True
        try:
            if providers:
                self._fill_providers()
            provider_id = self.provider_combo.currentData()
            with self.ctx.registry.session() as session:
                rows = day_schedule_rows(session, self._day, provider_id)
            self.schedule_model.set_schedule(rows, self._day)
            self._update_summary()
            self._size_columns()
            self._restore_selection()
        finally:
            self._loading = False
        self._update_page()
        self._refresh_gaps()

    def _refresh_gaps(self) -> None:
        """Read the registry's data version in a job (it keys the gap cache; reading it imports
        the measures package and pandas, seconds at start-up without bytecode, so the schedule
        is painted first), then show the cached counts and look up the patients not known yet."""
        registry, day = self.ctx.registry, self._day

        def job(progress, cancel):
            with registry.session() as session:
                return registry_data_version(session)

        def done(version: str) -> None:
            if day != self._day:
                return  # another day is shown meanwhile; its own load reads the version again
            cache = self._gaps.for_key((day, version))
            self.schedule_model.set_gap_counts(cache.counts())
            missing = [pid for pid in self.schedule_model.patient_ids() if pid not in cache.looked_up]
            if missing:
                self._look_up_gaps(missing)
            self._show_panel_gaps()

        def start() -> None:
            run_job(self, self.tr("Looking up care gaps for {0}").format(day.isoformat()), job, on_success=done)

        after_first_paint = getattr(self.window(), "after_first_paint", None)
        if after_first_paint is None:
            start()
        else:  # at start-up, once the window (the schedule) is painted: the job imports pandas
            after_first_paint(start)

    def _update_summary(self) -> None:
        counts = self.schedule_model.status_counts()
        total = self.schedule_model.rowCount()
        if not total:
            self.summary.setText(self.tr("No visits on this day."))
            return
        self.summary.setText(
            self.tr("{0} visits  ·  {1} not confirmed  ·  {2} no PCP  ·  {3} other PCP  ·  {4} confirmed").format(
                total, counts.get("unconfirmed", 0), counts.get("unassigned", 0), counts.get("other", 0), counts.get("confirmed", 0)
            )
        )

    def _update_page(self) -> None:
        if self.search.text().strip():
            self.stack.setCurrentIndex(1)
        elif self.schedule_model.rowCount():
            self.stack.setCurrentIndex(0)
        elif self._registry_empty():
            self.empty_label.setText(self.tr(
                "<p>The registry is empty: no patients yet.</p>"
                "<p><a href='import'>Import your practice's exports</a> (Import screen, Ctrl+7),<br>"
                "or <a href='demo'>load a demo practice</a> (3,000 made-up patients) to try Panel Manager.</p>"))
            self.stack.setCurrentIndex(2)
        else:
            following = None
            with self.ctx.registry.session() as session:
                following = next_schedule_day(session, self._day + dt.timedelta(days=1))
            text = self.tr("No visits are scheduled on {0}.").format(_long_day(self._day))
            if following is not None:
                text += "\n" + self.tr("Next visits: {0} (Alt+Right moves a day on).").format(_long_day(following))
            text += "\n\n" + self.tr("Use the search box above to find any patient.")
            self.empty_label.setText(text)
            self.stack.setCurrentIndex(2)

    def _registry_empty(self) -> bool:
        with self.ctx.registry.session() as session:
            return registry_is_empty(session)

    def _empty_link(self, link: str) -> None:
        """The empty registry's links: the Import screen, or a demo practice loaded as a job."""
        window = self.window()
        if link == "import" and hasattr(window, "show_screen"):
            window.show_screen("imports")
        elif link == "demo" and hasattr(window, "load_demo"):
            window.load_demo(3000)

    # -- care gaps (a job: evaluating the measures for a full day takes a moment)
    def _look_up_gaps(self, patient_ids: list[int]) -> None:
        key = self._gaps.key
        if key is None:
            return
        if self._pending_key != key:
            self._pending_key, self._pending_ids = key, set()
        ids = [pid for pid in patient_ids if pid not in self._pending_ids]
        if not ids:
            return
        self._pending_ids.update(ids)
        registry = self.ctx.registry
        day = self._day

        def job(progress, cancel):
            with registry.session() as session:
                return visit_gaps(session, day, ids, progress=progress, cancel=cancel)

        def finished() -> bool:
            if self._pending_key == key:
                self._pending_ids.difference_update(ids)
            return self._gaps.key == key  # False: the day (or the data) changed meanwhile

        def done(frame) -> None:
            if finished():
                self._gaps.add(ids, frame)
                self._apply_gaps()

        def failed(message: str) -> None:
            if finished():
                self.panel.set_gaps([], failed=message)

        def cancelled(_message: str) -> None:
            if finished():
                self.panel.set_gaps([], failed=self.tr("cancelled"))

        run_job(
            self,
            self.tr("Looking up care gaps for {0}").format(day.isoformat()),
            job,
            on_success=done,
            on_failure=failed,
            on_cancelled=cancelled,
        )

    def _apply_gaps(self) -> None:
        self.schedule_model.set_gap_counts(self._gaps.counts())
        self._show_panel_gaps()

    def _show_panel_gaps(self) -> None:
        if self._selection is None:
            return
        pid = self._selection[0]
        if pid in self._gaps.looked_up:
            self.panel.set_gaps(self._gaps.by_patient.get(pid, []))
        else:
            self.panel.set_gaps(None)

    # -- selecting
    def _schedule_row_changed(self, current, _previous) -> None:
        if self._loading or not current.isValid():
            return
        row = self.schedule_model.row_data(current.row())
        if row is not None:
            self.select_patient(int(row["patient_id"]), int(row["visit_id"]))

    def _result_row_changed(self, current, _previous) -> None:
        if not current.isValid():
            return
        pid = self.results_model.id_at(current.row())
        if pid is not None:
            self.select_patient(int(pid), None)

    def select_patient(self, patient_id: int, visit_id: int | None = None) -> None:
        """Open the confirm panel for a patient (at a visit on the schedule, or found by the search)."""
        if visit_id is None:
            row = self.schedule_model.row_of_patient(patient_id)
            if row >= 0:
                visit_id = self.schedule_model.row_data(row)["visit_id"]
        self._selection = (patient_id, visit_id)
        self._refresh_panel(keep_message=False)

    def _refresh_panel(self, keep_message: bool) -> None:
        if self._selection is None:
            self._audited_id = None
            self.panel.set_subject(None)
            return
        patient_id, visit_id = self._selection
        from panelmanager.core.empanelment import EmpanelmentError  # pandas: not on the start-up path

        try:
            if patient_id != self._audited_id:  # a patient opened at the desk: one record view (issue 14)
                subject = self.ctx.read("view_patient", checkin_subject, patient_id, self._day, visit_id=visit_id,
                                        patient_ids=[patient_id], details={"screen": "checkin"})
                self._audited_id = patient_id
            else:  # the same patient re-read after a confirm or a change elsewhere
                with self.ctx.registry.session() as session:
                    subject = checkin_subject(session, patient_id, self._day, visit_id=visit_id)
        except EmpanelmentError:  # the patient is gone (a re-import); nothing to confirm
            self._selection = None
            self.panel.set_subject(None)
            return
        self.panel.set_subject(subject, keep_message=keep_message)
        if patient_id in self._gaps.looked_up:
            self._show_panel_gaps()
        else:
            self.panel.set_gaps(None)
            self._look_up_gaps([patient_id])

    def _restore_selection(self) -> None:
        if self._selection is None:
            self.panel.set_subject(None)
            return
        patient_id, visit_id = self._selection
        row = self.schedule_model.row_of_visit(visit_id) if visit_id is not None else -1
        if row >= 0:
            self.schedule_view.selectRow(row)
        self._refresh_panel(keep_message=True)

    def _recorded(self, _result) -> None:
        self.ctx.notify_changed(ASSIGNMENTS)  # every screen re-reads; this one keeps the selection

    def _focus_list(self) -> None:
        view = self.results_view if self.stack.currentIndex() == 1 else self.schedule_view
        view.setFocus()

    # -- search
    def _search_text_changed(self, _text: str) -> None:
        self._search_timer.start()

    def run_search(self) -> None:
        """Run the search box's query now (the timer calls this after a pause in typing)."""
        self._search_timer.stop()
        text = self.search.text().strip()
        if not text:
            self.results_model.set_query(lambda _key, _desc: [])
            forget_search(self)
            self._update_page()
            return
        self.results_model.set_filters(PatientFilters(text=text, statuses=SEARCH_STATUSES))
        audit_search(self, "checkin", self.results_model, used=["text"], key=(text, self.ctx.as_of))  # issue 14
        n = self.results_model.rowCount()
        if n == 0:
            self.results_label.setText(self.tr("No patient matches “{0}”.").format(text))
        elif n == 1:
            self.results_label.setText(self.tr("1 patient matches “{0}”. Enter picks them.").format(text))
        else:
            self.results_label.setText(self.tr("{0} patients match “{1}”. Enter picks the first; arrow keys move.").format(n, text))
        self._size_result_columns()
        self._update_page()

    def _size_result_columns(self) -> None:
        """Widths from sample text: measuring the rows would make the lazy model fetch them all."""
        header = self.results_view.horizontalHeader()
        metrics = self.results_view.fontMetrics()
        samples = {"dob": "0000-00-00", "age": "100", "sex": "Sex", "mrn": "D0000000000", "phone": "(000) 000-0000",
                   "pcp": "Katarzyna Wiśniewski, MD", "status": "inactive"}
        for i, column in enumerate(self.results_model.columns):
            sample = samples.get(column.key, column.title)
            header.resizeSection(i, max(metrics.horizontalAdvance(sample), metrics.horizontalAdvance(column.title) + 18) + 16)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the name takes the rest

    def _search_enter(self) -> None:
        if self._search_timer.isActive():
            self.run_search()
        if self.results_model.rowCount():
            self.results_view.setFocus()
            self.results_view.selectRow(0)

    def clear_search(self) -> None:
        self.search.clear()
        self.run_search()
        self.schedule_view.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if watched is self.search:
                if key == Qt.Key.Key_Escape and self.search.text():
                    self.clear_search()
                    return True
                if key == Qt.Key.Key_Down:
                    if self._search_timer.isActive():
                        self.run_search()
                    view = self.results_view if self.stack.currentIndex() == 1 else self.schedule_view
                    view.setFocus()
                    if view.model().rowCount() and not view.currentIndex().isValid():
                        view.selectRow(0)
                    return True
            elif watched in (self.schedule_view, self.results_view):
                if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                    self.panel.primary_action()
                    return True
                if key == Qt.Key.Key_Escape and watched is self.results_view and self.search.text():
                    self.clear_search()
                    return True
        return super().eventFilter(watched, event)

    # -- look
    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._splitter_sized:
            self._splitter_sized = True
            self._fit_panel()
        self._size_columns()

    def _fit_panel(self) -> None:
        """The panel as tall as its text needs (at least 230 px); the schedule gets the rest."""
        total = self.splitter.height()
        if total <= 0:
            return
        panel = max(self.panel.needed_height(), 230)
        panel = min(panel, max(total - 160, 230))
        if abs(self.splitter.sizes()[1] - panel) > 4:
            self.splitter.setSizes([total - panel, panel])

    def _size_columns(self) -> None:
        """Each column as wide as its longest text (measured on the few longest strings: a
        full day at a large practice is a thousand rows); the patient's name takes the rest."""
        header = self.schedule_view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        plain = self.schedule_view.fontMetrics()
        bold_font = self.schedule_view.font()
        bold_font.setBold(True)
        bold = QFontMetrics(bold_font)
        rows = self.schedule_model.rows()
        for i, column in enumerate(self.schedule_model.columns):
            texts = sorted({str(r.get(column.key) or "") for r in rows}, key=len, reverse=True)[:12]
            metrics = bold if column.key in ("status_text", "gaps") else plain
            width = max([metrics.horizontalAdvance(t) for t in texts] + [plain.horizontalAdvance(column.title) + 18])
            header.resizeSection(i, width + 16)
        header.setStretchLastSection(False)
        name_column = next(i for i, c in enumerate(self.schedule_model.columns) if c.key == "name")
        header.setSectionResizeMode(name_column, QHeaderView.ResizeMode.Stretch)


def _long_day(day: dt.date) -> str:
    """"Monday 2024-03-04", the weekday in the user's language."""
    return QLocale().toString(QDate(day.year, day.month, day.day), "dddd yyyy-MM-dd")
