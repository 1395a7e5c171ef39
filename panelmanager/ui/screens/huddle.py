"""Huddle: one clinic day's scheduled patients, for one provider or all, with their open care
gaps, risk tier, last A1c and blood pressure, PCP and whether it is confirmed; and the
printed huddle sheet (previewed, then printed or saved as PDF).

The day defaults to the as-of date. Days with visits are bold in the calendar, and
Alt+Left / Alt+Right jump to the previous / next day with visits. Reading the day and
building the sheet run off the GUI thread (``run_job``)."""

from __future__ import annotations

import datetime as dt
import io

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QKeySequence, QShortcut, QTextCharFormat
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
)

from panelmanager.core.clinic_days import adjacent_visit_day, busiest_visit_day, visit_days
from panelmanager.core.huddle import HuddleSheet, huddle_data
from panelmanager.core.latest_results import latest_a1c_bp
from panelmanager.core.printing import print_huddle_sheet
from panelmanager.core.providers import list_providers
from panelmanager.core.reports.common import long_date
from panelmanager.ui.context import ASSIGNMENTS, GAPS, IMPORT, OUTREACH, SETTINGS
from panelmanager.ui.jobs import run_job
from panelmanager.ui.models.huddle import HuddleTableModel
from panelmanager.ui.print_preview import PrintPreviewDialog, open_preview
from panelmanager.ui.screens.base import Screen, heading
from panelmanager.ui.widgets.day_toolbar import DayProviderBar
from panelmanager.ui.widgets.tables import set_up_table


def _qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


class HuddleScreen(Screen):
    SHOWS = frozenset({ASSIGNMENTS, GAPS, IMPORT, OUTREACH, SETTINGS})  # visits, PCPs, gaps and last contacts
    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, parent)
        self.sheet: HuddleSheet | None = None
        self.preview: PrintPreviewDialog | None = None
        self._loaded_key: tuple | None = None
        self._request = 0
        self._marks_request = 0
        self._date_chosen = False  # until the user picks a day, follow the as-of date

        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.tr("Huddle")))
        intro = QLabel(self.tr(
            "The day's scheduled patients with the care gaps to close at the visit. Flags show patients "
            "whose PCP is another provider, not confirmed, or missing. Enter or double-click opens the patient."
        ))
        intro.setWordWrap(True)
        layout.addWidget(intro)

        controls = DayProviderBar(
            date_label=self.tr("&Date:"), provider_label=self.tr("P&rovider:"), today_label=self.tr("&As-of day"),
            today_tip=self.tr("Back to the as-of date"), prev_tip=self.tr("Previous day with visits (Alt+Left)"),
            next_tip=self.tr("Next day with visits (Alt+Right)"), arrows_around_date=True,
            provider_adjust=QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon,
        )
        self.date_edit, self.previous_day_button, self.next_day_button = controls.date_edit, controls.prev_button, controls.next_button
        self.today_button, self.provider_box = controls.today_button, controls.provider_combo
        self.due_soon_box = QCheckBox(self.tr("Include gaps due &soon"))
        self.due_soon_box.setChecked(True)
        self.due_soon_box.setToolTip(self.tr("Also list care that is met today but falls due within the due-soon period"))
        self.print_button = QPushButton(self.tr("&Preview / print huddle sheet..."))
        self.print_button.setToolTip(self.tr("Build the printed huddle sheet and open it in the preview (Ctrl+P)"))
        controls.add_widget(self.due_soon_box, space_before=16)
        controls.add_stretch()
        controls.add_widget(self.print_button)
        self.print_button.setEnabled(False)  # until a day with visits is shown
        layout.addWidget(controls)

        self.summary = QLabel()
        self.summary.setObjectName("huddleSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        font = self.summary.font()
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.summary.setFont(font)
        layout.addWidget(self.summary)

        self.model = HuddleTableModel(self)
        self.table = QTableView()
        self.table.setObjectName("huddleTable")
        self.table.setModel(self.model)
        set_up_table(self.table, selection=QAbstractItemView.SelectionMode.SingleSelection, word_wrap=True)
        self.table.setTextElideMode(Qt.TextElideMode.ElideNone)  # gap text wraps, never ends in "..."
        # Fitting a column to its contents measures at most this many rows around the view, not
        # all 1,000+ of a busy day (each a wrapped, multi-line cell): that froze the window.
        self.table.verticalHeader().setResizeContentsPrecision(80)
        self.table.horizontalHeader().setResizeContentsPrecision(80)  # fitting a column: 80 rows, not 1,000+
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(self.model.column_index("gaps"), QHeaderView.ResizeMode.Stretch)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.sectionResized.connect(lambda *_: self._size_rows())
        self.table.verticalScrollBar().valueChanged.connect(lambda _v: self._size_visible_rows())
        self._sizing = False
        self._sized_rows: set[int] = set()
        self._set_column_widths()
        layout.addWidget(self.table, 1)

        self.previous_day_button.clicked.connect(lambda: self.step_day(-1))
        self.next_day_button.clicked.connect(lambda: self.step_day(1))
        self.today_button.clicked.connect(self.go_to_as_of)
        self.date_edit.dateChanged.connect(self._date_changed)
        self.provider_box.currentIndexChanged.connect(lambda _i: self._filters_changed())
        self.due_soon_box.toggled.connect(lambda _on: self._filters_changed())
        self.print_button.clicked.connect(self.preview_sheet)
        self.table.activated.connect(
            lambda index: self.open_patient(self.model.data(index, HuddleTableModel.PATIENT_ID_ROLE)))
        calendar = self.date_edit.calendarWidget()
        calendar.currentPageChanged.connect(self._mark_visit_days)
        QShortcut(QKeySequence(Qt.Modifier.ALT | Qt.Key.Key_Left), self, activated=lambda: self.step_day(-1))
        QShortcut(QKeySequence(Qt.Modifier.ALT | Qt.Key.Key_Right), self, activated=lambda: self.step_day(1))
        QShortcut(QKeySequence.StandardKey.Print, self, activated=self.preview_sheet)
        self.setTabOrder(self.date_edit, self.provider_box)
        self.setTabOrder(self.provider_box, self.due_soon_box)
        self.setTabOrder(self.due_soon_box, self.print_button)
        self.setTabOrder(self.print_button, self.table)

    def title(self) -> str:
        return self.tr("Huddle")

    def focus_search(self) -> None:
        self.date_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.date_edit.selectAll()

    def _set_column_widths(self) -> None:
        metrics = self.table.fontMetrics()
        em = metrics.horizontalAdvance("M")
        pad = 2 * em
        samples = {"time": "10:40 AM", "age_sex": "22 mo/F", "risk": "4 Complex", "a1c": "(2025-02-03)",
                   "bp": "(2025-02-03)", "pcp": "⚑ PCP not confirmed"}
        for key, sample in samples.items():
            self.table.setColumnWidth(self.model.column_index(key), metrics.horizontalAdvance(sample) + pad)
        for key, ems in {"patient": 13, "visit_type": 13}.items():
            self.table.setColumnWidth(self.model.column_index(key), int(ems * em))

    def open_patient(self, patient_id: int) -> None:
        """Show the patient on the Patients screen (Enter or double-click on a row)."""
        self.show_patient(patient_id)

    # -- what is chosen
    def day(self) -> dt.date:
        return self.date_edit.date().toPython()

    def provider_id(self) -> int | None:
        return self.provider_box.currentData()

    def set_day(self, day: dt.date) -> None:
        """Show ``day`` (as if the user picked it)."""
        self._date_chosen = True
        if self.day() == day:
            self.load()
        else:
            self.date_edit.setDate(_qdate(day))  # dateChanged loads

    def set_provider(self, provider_id: int | None) -> None:
        index = self.provider_box.findData(provider_id)
        if index >= 0:
            self.provider_box.setCurrentIndex(index)

    def go_to_as_of(self) -> None:
        self.set_day(self.ctx.as_of)

    def step_day(self, step: int) -> None:
        """To the previous (-1) or next (+1) day with visits for the chosen provider."""
        with self.ctx.registry.session() as session:
            day = adjacent_visit_day(session, self.day(), step, self.provider_id())
        if day is None:
            message = self.tr("No earlier day has visits.") if step < 0 else self.tr("No later day has visits.")
            self._status(message)
            return
        self.set_day(day)

    def _status(self, message: str) -> None:
        self.status_message(message, 5000)

    def _date_changed(self, _date: QDate) -> None:
        self._date_chosen = True
        self.load()

    def _filters_changed(self) -> None:
        self._mark_visit_days()
        self.load()

    # -- reading the registry
    def reload(self) -> None:
        with self.ctx.registry.session() as session:
            providers = list_providers(session, active_only=True)
        current = self.provider_id()
        self.provider_box.blockSignals(True)
        self.provider_box.clear()
        self.provider_box.addItem(self.tr("All providers"), None)
        for p in providers:
            self.provider_box.addItem(p.display_name, p.id)
        index = self.provider_box.findData(current)
        self.provider_box.setCurrentIndex(max(index, 0))
        self.provider_box.blockSignals(False)
        if not self._date_chosen:
            self.date_edit.blockSignals(True)
            self.date_edit.setDate(_qdate(self.ctx.as_of))
            self.date_edit.blockSignals(False)
        self._mark_visit_days()
        self._loaded_key = None
        self.load()

    def _mark_visit_days(self, year: int | None = None, month: int | None = None) -> None:
        """Bold the days with visits in the calendar page shown."""
        calendar = self.date_edit.calendarWidget()
        year = year or calendar.yearShown()
        month = month or calendar.monthShown()
        first = dt.date(year, month, 1)
        # The page shows a few days of the neighbouring months too.
        start, end = first - dt.timedelta(days=7), (first + dt.timedelta(days=40))
        registry, provider_id = self.ctx.registry, self.provider_id()
        self._marks_request += 1
        request = self._marks_request

        # Counting a month's visits reads tens of thousands of rows at 100,000 patients (2 s):
        # a background job, so the day's huddle and the calendar stay usable meanwhile.
        def job(progress, cancel):
            with registry.session() as session:
                return visit_days(session, start, end, provider_id)

        def done(days: dict) -> None:
            if request != self._marks_request:
                return  # another page or provider meanwhile
            calendar.setDateTextFormat(QDate(), QTextCharFormat())  # clear earlier marks
            bold = QTextCharFormat()
            bold.setFontWeight(700)
            for day, count in days.items():
                fmt = QTextCharFormat(bold)
                fmt.setToolTip(self.tr("{0} visits").format(count))
                calendar.setDateTextFormat(_qdate(day), fmt)

        run_job(self, self.tr("Marking the days with visits"), job, on_success=done, show_errors=False, background=True)

    def _key(self) -> tuple:
        return (self.day(), self.provider_id(), self.due_soon_box.isChecked())

    def load(self) -> None:
        """Read the chosen day's huddle (off the GUI thread) and show it."""
        key = self._key()
        day, provider_id, due_soon = key
        registry = self.ctx.registry
        self._request += 1
        request = self._request
        reading = self.tr("Reading the schedule")
        results = self.tr("Reading the last A1c and blood pressure")

        def job(progress, cancel):
            progress(0, 2, reading)
            with registry.session() as session:
                sheet = huddle_data(session, day, provider_id, include_due_soon=due_soon)
                cancel.raise_if_cancelled()
                progress(1, 2, results)
                ids = [r.patient_id for s in sheet.sections for r in s.rows]
                latest = latest_a1c_bp(session, ids, day)
            progress(2, 2, "")
            return sheet, latest

        def done(result) -> None:
            if request != self._request:
                return  # the user picked another day meanwhile
            self._show(key, *result)

        def cancelled(_message: str) -> None:
            if request == self._request:
                self.summary.setText(self.tr("Loading the huddle was cancelled. Press Load again to show it."))
                self.load_cancelled(self.tr("Loading the huddle"), self.load)

        run_job(self, self.tr("Loading the huddle"), job, on_success=done, on_cancelled=cancelled)

    def _show(self, key: tuple, sheet: HuddleSheet, latest) -> None:
        self.sheet = sheet
        self._loaded_key = key
        self.model.set_huddle(sheet, latest, show_provider=self.provider_id() is None)
        em = self.table.fontMetrics().horizontalAdvance("M")
        self._sizing = True  # one row sizing after the columns, not one per column resized
        try:
            for key, most in (("patient", 18), ("visit_type", 18)):
                column = self.model.column_index(key)
                self.table.resizeColumnToContents(column)
                self.table.setColumnWidth(column, max(min(self.table.columnWidth(column), most * em), 9 * em))
        finally:
            self._sizing = False
        self._size_rows()
        self.summary.setText(self._summary(sheet))
        self.print_button.setEnabled(sheet.patients > 0)

    # Wrapped gap text needs row heights; measuring 1,000+ rows at once froze the window for
    # seconds, so a long day sizes the rows on show as they scroll into view.
    _SIZE_ALL_ROWS = 200

    def _size_rows(self) -> None:
        if self._sizing:
            return
        self._sized_rows = set()
        if self.model.rowCount() <= self._SIZE_ALL_ROWS:
            self.table.resizeRowsToContents()
        else:
            self._size_visible_rows()

    def _size_visible_rows(self) -> None:
        rows = self.model.rowCount()
        if rows <= self._SIZE_ALL_ROWS:
            return
        first = max(self.table.rowAt(0), 0)
        last = self.table.rowAt(self.table.viewport().height() - 1)
        last = rows - 1 if last < 0 else last
        for row in range(first, min(last + 40, rows - 1) + 1):  # a screenful ahead
            if row not in self._sized_rows:
                self._sized_rows.add(row)
                self.table.resizeRowToContents(row)

    def _summary(self, sheet: HuddleSheet) -> str:
        day_text = long_date(sheet.day, weekday=True)
        who = self.provider_box.currentText() if self.provider_id() is not None else self.tr("all providers")
        rows = [r for s in sheet.sections for r in s.rows]
        if not rows:
            return self.tr("{0}: no visits on the schedule for {1}. Alt+Right: the next day with visits.").format(
                day_text, who)
        flags = [r.pcp_flag for r in rows]
        text = self.tr("{0} · {1}: {2} patients, {3} open gaps").format(day_text, who, len(rows), sheet.open_gaps)
        other, unconfirmed, none = flags.count("other"), flags.count("unconfirmed"), flags.count("none")
        if other or unconfirmed or none:
            text += self.tr(" · PCP to check: {0} another provider's, {1} unconfirmed, {2} without a PCP").format(
                other, unconfirmed, none)
        if not sheet.risk_available:
            text += self.tr(" · risk tiers unavailable")
        return text

    # -- printing
    def preview_sheet(self) -> None:
        """Build the huddle sheet PDF (off the GUI thread) and open it in the preview."""
        if not self.print_button.isEnabled():
            return  # nobody on the schedule (Ctrl+P still arrives here)
        key = self._key()
        day, provider_id, due_soon = key
        registry = self.ctx.registry
        sheet = self.sheet if self._loaded_key == key else None
        reading = self.tr("Reading the schedule")
        laying_out = self.tr("Laying out the huddle sheet")

        def job(progress, cancel):
            data = sheet
            if data is None:
                progress(0, 2, reading)
                with registry.session() as session:
                    data = huddle_data(session, day, provider_id, include_due_soon=due_soon)
            cancel.raise_if_cancelled()
            progress(1, 2, laying_out)
            buffer = io.BytesIO()
            with registry.session() as session:  # issue 14: the print is checked and audited (core.printing)
                data, result = print_huddle_sheet(session, day, buffer, provider_id, include_due_soon=due_soon,
                                                  sheet=data)
            return buffer.getvalue(), result, data

        who = self.provider_box.currentText() if provider_id is not None else self.tr("All providers")
        slug = "all" if provider_id is None else str(provider_id)
        run_job(self, self.tr("Building the huddle sheet"), job,
                on_success=lambda result: self._open_preview(result, who, slug))

    def _open_preview(self, result, who: str, slug: str) -> None:
        data, document, sheet = result
        title = self.tr("Huddle sheet: {0}, {1}").format(who, sheet.day.isoformat())
        note = self.tr("{0} patients on {1} pages. The sheet contains PHI: print it for the huddle and shred it after.")
        self.preview = open_preview(
            self, data, title, file_name=f"huddle-{sheet.day.isoformat()}-{slug}.pdf",
            note=note.format(document.items, document.pages),
        )

    # -- screenshots
    def prepare_screenshot(self) -> None:
        """Show the busiest day of the coming two weeks, every provider, first patient selected."""
        with self.ctx.registry.session() as session:
            day = busiest_visit_day(session, self.ctx.as_of, 14)
        self.set_provider(None)
        if day is not None:
            self.set_day(day)
        if self.model.rowCount():
            self.table.selectRow(0)
