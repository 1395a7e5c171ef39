"""Outreach: build a list of patients to contact about open care gaps (measures, provider, age,
letter language, no upcoming appointment, not contacted lately), then reach them: letters in
each patient's language and mailing labels (previewed, then printed or saved), a call list
(PDF, CSV or Excel), a portal or text-message export; record each call's outcome; and see
which outreach closed gaps within 90 days.

Every document is written by ``core.outreach_run.run_outreach``, the service ``panelmanager
letters`` calls too; this screen only displays its result. Letters and labels are logged as
outreach (``outreach_run.record_outreach``) when they are printed or saved from the preview (a
preview alone logs nothing; one mailing is logged once), exports when the file is written;
calls as they are recorded. Building lists and documents and logging run off the GUI thread
(``run_job``).

Why one module of about 900 lines: it is one screen whose four parts (the list and its filters,
the documents, the call outcomes, the report) share one list, one selection and one set of jobs;
every rule they apply lives in ``core.outreach`` / ``core.outreach_run``, and what is here is
widget wiring. The latest growth is the big-mailing preview (``_partial_letters``: the first
letters shown, the whole mailing built on Print / Save), which needs the same list, contacts and
jobs as the other documents. Split it along those parts (the documents first) when it grows further."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pandas as pd
from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableView,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from panelmanager.core import outreach_run
from panelmanager.core.outreach import (
    METHODS,
    OUTCOMES,
    OutreachError,
    OutreachFilters,
    OutreachList,
    build_outreach_list,
    gaps_closed_after_outreach,
    log_outreach,
    measure_info,
    withdraw_outreach_batch,
)
from panelmanager.core.outreach_patients import outreach_patients, with_last_outreach
from panelmanager.core.people import mailing_problem
from panelmanager.core.providers import list_providers
from panelmanager.core.reports.calllist import language_name
from panelmanager.core.reports.common import DocumentResult
from panelmanager.core.reports.letters import load_letter_templates
from panelmanager.ui.jobs import JobRunner, run_job
from panelmanager.ui.models.outreach import OutreachTableModel
from panelmanager.ui.print_preview import PrintPreviewDialog, open_preview
from panelmanager.ui.screens.base import Screen, heading, table_item
from panelmanager.ui.widgets.tables import set_up_table


class OutreachScreen(Screen):
    # Tests replace these so no real file dialog or question box opens.
    save_file_name = staticmethod(QFileDialog.getSaveFileName)
    question = staticmethod(QMessageBox.question)
    BIG_DOCUMENT = 500  # letters or labels above this: say how many pages and sheets first
    # Letters above this are previewed in part (the first PREVIEW_LETTERS patients' letters, built
    # in a moment); Print and Save build all of them in a job. Tests lower both.
    PARTIAL_PREVIEW_ABOVE = 200
    PREVIEW_LETTERS = 50

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(ctx, parent)
        self.outreach: OutreachList | None = None
        self.patients = pd.DataFrame()
        self.preview: PrintPreviewDialog | None = None
        self.last_logged = 0
        self._contacts = None
        self._mailing_logged = False
        self.last_batch: str | None = None  # the mailing logged last, which its sender may withdraw today
        self._measures: dict = {}
        self._report_stale = True
        self._list_key = 0  # changes with every list built

        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.tr("Outreach")))
        body = QHBoxLayout()
        layout.addLayout(body, 1)

        # -- who to contact
        filters = QGroupBox(self.tr("Who to contact"))
        filters.setObjectName("outreachFilters")
        filters.setFixedWidth(self.fontMetrics().horizontalAdvance("M") * 25)
        form = QVBoxLayout(filters)
        measures_label = QLabel(self.tr("&Measures with an open gap (none ticked: all):"))
        measures_label.setWordWrap(True)
        self.measure_list = QListWidget()
        self.measure_list.setObjectName("measureList")
        self.measure_list.setWordWrap(True)
        self.measure_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        measures_label.setBuddy(self.measure_list)
        form.addWidget(measures_label)
        form.addWidget(self.measure_list, 1)

        grid = QFormLayout()
        grid.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.provider_box = QComboBox()
        self.provider_box.setMinimumContentsLength(14)
        self.provider_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        grid.addRow(self.tr("P&rovider:"), self.provider_box)
        ages = QHBoxLayout()
        self.age_min = QSpinBox()
        self.age_max = QSpinBox()
        for spin in (self.age_min, self.age_max):
            spin.setRange(0, 120)
            spin.setSpecialValueText(self.tr("any"))
            spin.setMinimumWidth(spin.fontMetrics().horizontalAdvance("1200") + 36)
        age_label = QLabel(self.tr("A&ge:"))
        age_label.setBuddy(self.age_min)
        ages.addWidget(age_label)
        ages.addStretch(1)
        ages.addWidget(self.age_min)
        ages.addWidget(QLabel(self.tr("to")))
        ages.addWidget(self.age_max)
        self.language_box = QComboBox()
        grid.addRow(self.tr("Letter &language:"), self.language_box)
        self.quiet_days = QSpinBox()
        self.quiet_days.setRange(0, 730)
        self.quiet_days.setSuffix(self.tr(" days"))
        self.quiet_days.setSpecialValueText(self.tr("no limit"))
        self.quiet_days.setToolTip(self.tr("Leave out patients contacted in the last N days"))
        grid.addRow(self.tr("Not contacted &in:"), self.quiet_days)
        form.addLayout(grid)
        form.addLayout(ages)
        self.no_appointment_box = QCheckBox(self.tr("No &upcoming appointment"))
        form.addWidget(self.no_appointment_box)
        self.due_soon_box = QCheckBox(self.tr("Include gaps &due soon"))
        form.addWidget(self.due_soon_box)
        self.build_button = QPushButton(self.tr("&Build list"))
        self.build_button.setToolTip(self.tr("Build the outreach list (Ctrl+Enter)"))
        self.build_button.setDefault(True)
        form.addWidget(self.build_button)
        body.addWidget(filters)

        # -- the list and what to do with it
        self.tabs = QTabWidget()
        body.addWidget(self.tabs, 1)
        page = QWidget()
        page_layout = QVBoxLayout(page)
        self.summary = QLabel(self.tr("Choose who to contact, then Build list."))
        self.summary.setObjectName("outreachSummary")
        self.summary.setWordWrap(True)
        page_layout.addWidget(self.summary)

        self.model = OutreachTableModel(self)
        self.table = QTableView()
        self.table.setObjectName("outreachTable")
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        set_up_table(self.table, selection=QAbstractItemView.SelectionMode.SingleSelection, word_wrap=False,
                     row_height=self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self._set_column_widths()
        page_layout.addWidget(self.table, 1)

        actions = QHBoxLayout()
        self.letters_button = QPushButton(self.tr("&Letters..."))
        self.letters_button.setToolTip(self.tr("Letters in each patient's language, previewed before printing"))
        self.one_per_gap_box = QCheckBox(self.tr("One letter per &gap"))
        self.one_per_gap_box.setToolTip(self.tr("Single-topic letters get more response; unticked: one letter per "
                                                "patient listing every gap"))
        self.labels_button = QPushButton(self.tr("Lab&els..."))
        self.labels_button.setToolTip(self.tr("Avery 5160 mailing labels"))
        start_label = QLabel(self.tr("from label"))
        self.label_start = QSpinBox()
        self.label_start.setRange(1, 30)
        self.label_start.setToolTip(self.tr("The first unused label on a partly used sheet (1-30, across then down)"))
        start_label.setBuddy(self.label_start)
        self.calls_button = QPushButton(self.tr("&Call list"))
        calls_menu = QMenu(self.calls_button)
        self.call_pdf_action = calls_menu.addAction(self.tr("Preview and print (PDF)..."))
        self.call_csv_action = calls_menu.addAction(self.tr("Save as CSV..."))
        self.call_xlsx_action = calls_menu.addAction(self.tr("Save as Excel..."))
        self.calls_button.setMenu(calls_menu)
        self.export_button = QPushButton(self.tr("E&xport"))
        export_menu = QMenu(self.export_button)
        self.portal_action = export_menu.addAction(self.tr("Patient portal messages (CSV)..."))
        self.text_action = export_menu.addAction(self.tr("Text messages (CSV)..."))
        self.export_button.setMenu(export_menu)
        for widget in (self.letters_button, self.one_per_gap_box):
            actions.addWidget(widget)
        actions.addSpacing(12)
        for widget in (self.labels_button, start_label, self.label_start):
            actions.addWidget(widget)
        actions.addSpacing(12)
        actions.addWidget(self.calls_button)
        actions.addWidget(self.export_button)
        actions.addStretch(1)
        page_layout.addLayout(actions)
        self.result_label = QLabel()
        self.result_label.setObjectName("outreachResult")
        self.result_label.setWordWrap(True)
        self.withdraw_button = QPushButton(self.tr("&Withdraw this mailing..."))
        self.withdraw_button.setToolTip(self.tr("Logged by mistake? Withdraw it today: it stays in the log as "
                                                "withdrawn and no longer counts as outreach."))
        self.withdraw_button.setVisible(False)
        result_row = QHBoxLayout()
        result_row.addWidget(self.result_label, 1)
        result_row.addWidget(self.withdraw_button)
        page_layout.addLayout(result_row)

        record = QGroupBox(self.tr("Record a contact"))
        record.setObjectName("recordContact")
        record_layout = QVBoxLayout(record)
        self.record_label = QLabel(self.tr("Select a patient in the list."))
        record_layout.addWidget(self.record_label)
        fields = QHBoxLayout()
        self.method_box = QComboBox()
        for method in METHODS:
            self.method_box.addItem(self._method_text(method), method)
        self.method_box.setCurrentIndex(max(self.method_box.findData("call"), 0))
        self.outcome_box = QComboBox()
        self.outcome_box.addItem(self.tr("(no outcome)"), None)
        for outcome in OUTCOMES:
            self.outcome_box.addItem(self._outcome_text(outcome), outcome)
        self.about_box = QComboBox()
        self.about_box.setMinimumContentsLength(18)
        self.about_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText(self.tr("Note (optional)"))
        self.record_button = QPushButton(self.tr("Rec&ord"))
        for text, widget in ((self.tr("&How:"), self.method_box), (self.tr("O&utcome:"), self.outcome_box),
                             (self.tr("&About:"), self.about_box)):
            label = QLabel(text)
            label.setBuddy(widget)
            fields.addWidget(label)
            fields.addWidget(widget)
        fields.addWidget(self.note_edit, 1)
        fields.addWidget(self.record_button)
        record_layout.addLayout(fields)
        page_layout.addWidget(record)
        self.tabs.addTab(page, self.tr("&Patients to contact"))

        # -- did it work?
        report = QWidget()
        report_layout = QVBoxLayout(report)
        explain = QLabel(self.tr(
            "Each patient's gap contacted by a method counts once. Closed: met by care dated within 90 days after "
            "a contact. Pending: not closed yet, last contact less than 90 days ago."
        ))
        explain.setWordWrap(True)
        report_layout.addWidget(explain)
        self.report_table = set_up_table(QTableWidget())
        self.report_table.setObjectName("outreachReport")
        report_layout.addWidget(self.report_table, 1)
        report_buttons = QHBoxLayout()
        self.report_summary = QLabel()
        self.report_refresh = QPushButton(self.tr("&Refresh"))
        report_buttons.addWidget(self.report_summary, 1)
        report_buttons.addWidget(self.report_refresh)
        report_layout.addLayout(report_buttons)
        self.tabs.addTab(report, self.tr("Did outreach &work?"))

        self.build_button.clicked.connect(self.build_list)
        self.letters_button.clicked.connect(self.letters)
        self.labels_button.clicked.connect(self.labels)
        self.call_pdf_action.triggered.connect(self.call_list_pdf)
        self.call_csv_action.triggered.connect(lambda: self.save_call_list(".csv"))
        self.call_xlsx_action.triggered.connect(lambda: self.save_call_list(".xlsx"))
        self.portal_action.triggered.connect(lambda: self.export_messages("portal"))
        self.text_action.triggered.connect(lambda: self.export_messages("text"))
        self.record_button.clicked.connect(self.record_contact)
        self.withdraw_button.clicked.connect(self.withdraw_last_mailing)
        self.table.activated.connect(lambda index: self.show_patient(self.model.id_at(index.row())))
        self.note_edit.returnPressed.connect(self.record_contact)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._selection_changed())
        self.model.modelReset.connect(self._selection_changed)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.report_refresh.clicked.connect(self.load_report)
        for keys in (QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Return), QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Enter)):
            QShortcut(keys, self, activated=self.build_list)
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):  # Enter anywhere among the filters builds the list
            QShortcut(QKeySequence(key), filters, activated=self.build_list,
                      context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        chain = [self.measure_list, self.provider_box, self.language_box, self.quiet_days, self.age_min, self.age_max,
                 self.no_appointment_box, self.due_soon_box, self.build_button, self.table, self.letters_button,
                 self.one_per_gap_box, self.labels_button, self.label_start, self.calls_button, self.export_button,
                 self.method_box, self.outcome_box, self.about_box, self.note_edit, self.record_button]
        for first, second in zip(chain, chain[1:]):
            self.setTabOrder(first, second)
        self._update_actions()

    def title(self) -> str:
        return self.tr("Outreach")

    def focus_search(self) -> None:
        self.measure_list.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _set_column_widths(self) -> None:
        metrics = self.table.fontMetrics()
        em, pad = metrics.horizontalAdvance("M"), 2 * metrics.horizontalAdvance("M")
        samples = {"mrn": "D0000000", "age": "Age", "language_name": "Letters in", "phone": "(508) 555-0000",
                   "last_outreach": "2025-06-02 call (left message)", "next_appointment": "Next appointment"}
        keys = [c.key for c in self.model.columns]
        for key, sample in samples.items():
            self.table.setColumnWidth(keys.index(key), metrics.horizontalAdvance(sample) + pad)
        for key, ems in {"name": 13, "gaps_line": 20, "address_line": 18}.items():
            self.table.setColumnWidth(keys.index(key), int(ems * em))

    # -- translated names of the log's codes
    def _method_text(self, method: str) -> str:
        return {
            "letter": self.tr("Letter"),
            "call": self.tr("Call"),
            "portal": self.tr("Portal message"),
            "text": self.tr("Text message"),
            "in-person": self.tr("In person"),
        }.get(method, method)

    def _outcome_text(self, outcome: str) -> str:
        return {
            "reached": self.tr("Reached"),
            "left-message": self.tr("Left message"),
            "scheduled": self.tr("Scheduled"),
            "declined": self.tr("Declined"),
            "wrong-number": self.tr("Wrong number"),
            "no-answer": self.tr("No answer"),
        }.get(outcome, outcome)

    # -- reading the registry
    def reload(self) -> None:
        """Refresh the choices, the list's "last outreach" column and (when shown) the report."""
        settings = self.ctx.settings
        if not self._measures:
            self._measures = measure_info()
            for measure_id, info in sorted(self._measures.items(), key=lambda kv: (kv[1].order, kv[0])):
                item = QListWidgetItem(info.title)
                item.setData(Qt.ItemDataRole.UserRole, measure_id)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
                item.setToolTip(measure_id)
                self.measure_list.addItem(item)
            self.quiet_days.setValue(int(settings.outreach_quiet_days or 0))
            self.one_per_gap_box.setChecked(bool(settings.letters_one_per_gap))
            self.label_start.setValue(min(max(int(settings.label_start_position or 1), 1), 30))
            self.language_box.addItem(self.tr("Any"), None)
            for code in sorted(load_letter_templates()):
                self.language_box.addItem(language_name(code), code)
        registry, patients, list_key = self.ctx.registry, self.patients, self._list_key
        as_of = self.outreach.as_of if self.outreach is not None else None

        def job(progress, cancel):  # the outreach log can be long: read it off the GUI thread
            with registry.session() as session:
                fresh = patients if patients.empty else with_last_outreach(session, patients, as_of)
                return list_providers(session, active_only=True), fresh

        run_job(self, self.tr("Reading the outreach log"), job, on_success=lambda got: self._reloaded(list_key, *got))

    def _reloaded(self, list_key: int, providers, patients: pd.DataFrame) -> None:
        current = self.provider_box.currentData()
        self.provider_box.blockSignals(True)
        self.provider_box.clear()
        self.provider_box.addItem(self.tr("All providers"), None)
        for p in providers:
            self.provider_box.addItem(p.display_name, p.id)
        self.provider_box.setCurrentIndex(max(self.provider_box.findData(current), 0))
        self.provider_box.blockSignals(False)
        if list_key == self._list_key and not patients.empty:  # not a list built meanwhile
            self.patients = patients
            self.model.update_patients(self.patients)
        self._report_stale = True
        if self.tabs.currentIndex() == 1:
            self.load_report()

    # -- the filters
    def set_measures(self, measure_ids) -> None:
        wanted = set(measure_ids)
        for i in range(self.measure_list.count()):
            item = self.measure_list.item(i)
            checked = item.data(Qt.ItemDataRole.UserRole) in wanted
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def chosen_measures(self) -> tuple[str, ...]:
        return tuple(
            self.measure_list.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.measure_list.count())
            if self.measure_list.item(i).checkState() == Qt.CheckState.Checked
        )

    def set_language(self, code: str | None) -> None:
        self.language_box.setCurrentIndex(max(self.language_box.findData(code), 0))

    def set_provider(self, provider_id: int | None) -> None:
        self.provider_box.setCurrentIndex(max(self.provider_box.findData(provider_id), 0))

    def filters(self) -> OutreachFilters:
        return OutreachFilters(
            measure_ids=self.chosen_measures(),
            provider_id=self.provider_box.currentData(),
            age_min=self.age_min.value() or None,
            age_max=self.age_max.value() or None,
            language=self.language_box.currentData(),
            no_upcoming_appointment=self.no_appointment_box.isChecked(),
            quiet_days=self.quiet_days.value(),
            include_due_soon=self.due_soon_box.isChecked(),
        )

    # -- building the list
    def build_list(self) -> None:
        filters = self.filters()
        if filters.age_min and filters.age_max and filters.age_min > filters.age_max:
            QMessageBox.warning(self, self.tr("Outreach"), self.tr("The lowest age is above the highest age."))
            return
        registry = self.ctx.registry
        as_of = self.ctx.as_of
        sort_order = self.model.sort_order()

        def job(progress, cancel):
            with registry.session() as session:
                outreach = build_outreach_list(session, as_of, filters, progress=progress, cancel=cancel)
            patients = outreach_patients(outreach)
            # Sorted here, not on the GUI thread (the table's current sort).
            return outreach, patients, (sort_order, OutreachTableModel.sorted_ids(patients, sort_order))

        run_job(self, self.tr("Building the outreach list"), job, on_success=self._list_built)

    def _list_built(self, result) -> None:
        self.outreach, self.patients, (sort_order, ids) = result
        self._contacts = None
        self._mailing_logged = False
        self._list_key += 1
        self.model.set_patients(self.patients, ids if sort_order == self.model.sort_order() else None)
        self.result_label.clear()
        self._update_summary()
        self._update_actions()
        if self.model.rowCount():
            self.table.selectRow(0)

    def _update_summary(self) -> None:
        if self.outreach is None:
            return
        patients, gaps = self.outreach.patients, self.outreach.gaps
        text = self.tr("{0} patients with {1} open gaps, as of {2}.").format(
            f"{patients:,}", f"{gaps:,}", self.outreach.as_of.isoformat())
        if not self.patients.empty:
            no_address = int(self.patients["address_problem"].notna().sum())
            if no_address:
                text += " " + self.tr("{0} without a usable mailing address (no letter or label: call them).").format(
                    f"{no_address:,}")
        if self.outreach.left_out:
            reasons = "; ".join(f"{n:,} {reason}" for reason, n in self.outreach.left_out.items())
            text += " " + self.tr("Left out: {0}.").format(reasons)
        self.summary.setText(text)

    def _update_actions(self) -> None:
        has = self.outreach is not None and not self.patients.empty
        for widget in (self.letters_button, self.labels_button, self.calls_button, self.export_button):
            widget.setEnabled(has)
        self._selection_changed()

    def patient_count(self) -> int:
        return self.model.rowCount()

    def patient_names(self) -> list[str]:
        return [self.model.row_data(i)["name"] for i in range(self.model.rowCount())]

    # -- documents
    def _run(self, title: str, done, *, log: bool = False, first: int | None = None, parent=None,
             on_failure=None, on_cancelled=None, **targets):
        """Write documents of the current list with ``outreach_run.run_outreach`` off the GUI thread,
        then ``done(run)`` on it. The list's contacts are kept for the next document. ``first``: only
        the first patients' documents (a partial preview); the run still carries every contact."""
        registry, outreach, contacts, list_key = self.ctx.registry, self.outreach, self._contacts, self._list_key
        settings, user = self.ctx.settings, self.ctx.user

        def job(progress, cancel):
            every = contacts if contacts is not None or first is None else outreach.contacts()
            if first is not None:  # the first patients who get a letter (not those who get none)
                some = list(itertools.islice((c for c in every if mailing_problem(c) is None), first))
            with registry.session() as session:
                run = outreach_run.run_outreach(
                    session, outreach=outreach, contacts=every if first is None else some, log=log,
                    user=user, settings=settings, progress=progress, cancel=cancel, **targets)
            if first is not None:
                run.contacts = every
            return run

        def finished(run) -> None:
            if list_key == self._list_key:
                self._contacts = run.contacts
            done(run)

        return run_job(self if parent is None else parent, title, job, on_success=finished, on_failure=on_failure,
                       on_cancelled=on_cancelled)

    def letters(self) -> None:
        if self.outreach is None:
            return
        try:
            outreach_run.letter_window(self.ctx.settings)
        except OutreachError as exc:
            QMessageBox.warning(self, self.tr("Letters"), str(exc)[:1].upper() + str(exc)[1:])
            return
        as_of, one_per_gap, list_key = self.outreach.as_of, self.one_per_gap_box.isChecked(), self._list_key
        count = self.mailing_count(one_per_gap)
        if count > self.PARTIAL_PREVIEW_ABOVE:
            self._partial_letters(count, one_per_gap)
            return
        if count > self.BIG_DOCUMENT and not self._ask(self.tr("Letters"), self.tr(
                "This makes {0} letters: at least {0} pages, {0} sheets of paper printed one-sided. Building "
                "the preview takes a while. Go ahead?").format(f"{count:,}")):
            return
        buffer = io.BytesIO()

        def done(run) -> None:
            result = run.letters
            self._open_document(
                buffer.getvalue(), result, list_key, self.tr("Outreach letters"), f"letters-{as_of.isoformat()}.pdf",
                self._letters_note(result), self.tr("No letter: no usable address ({0})").format(len(result.skipped)),
                mailing=True,
                record_question=self.tr("Record {0} letters to {1} patients as sent today ({2})?").format(
                    f"{result.letters:,}", f"{result.patients:,}", as_of.isoformat()),
            )

        self._run(self.tr("Writing letters"), done, letters=buffer, one_per_gap=one_per_gap)

    def _letters_note(self, result) -> str:
        languages = ", ".join(f"{n} {language_name(code)}" for code, n in sorted(result.languages.items()))
        return self.tr("{0} letters ({1}) on {2} pages for {3} patients. Printing or saving them records them "
                       "as outreach.").format(result.letters, languages or "-", result.pages, result.patients)

    def _partial_note(self, result, count: int) -> str:
        languages = ", ".join(f"{n} {language_name(code)}" for code, n in sorted(result.languages.items()))
        return self.tr("Shown: {0} letters ({1}) for {2} patients. Printing or saving all {3} letters records them "
                       "as outreach.").format(result.letters, languages or "-", result.patients, f"{count:,}")

    def _partial_letters(self, count: int, one_per_gap: bool) -> None:
        """A big mailing: the preview shows the first ``PREVIEW_LETTERS`` patients' letters at once; Print
        and Save build all ``count`` letters in a job and print or save (and log) all of them."""
        as_of, list_key = self.outreach.as_of, self._list_key
        patients = self.mailing_count(False)
        unmailable = self.patients[self.patients["address_problem"].notna()]
        left_out = [f"{name} ({mrn}): {why}" for name, mrn, why in
                    zip(unmailable["name"], unmailable["mrn"], unmailable["address_problem"])]
        full: dict = {}  # the whole mailing once built: what a print or save logs
        buffer = io.BytesIO()

        def build_full(deliver) -> None:
            dialog, whole = self.preview, io.BytesIO()

            def built(run) -> None:
                full["result"] = run.letters
                deliver(whole.getvalue(), self._letters_note(run.letters))

            def failed(message: str) -> None:
                QMessageBox.warning(dialog, self.tr("Letters"), message)
                deliver(None)

            job = self._run(self.tr("Writing all {0} letters").format(f"{count:,}"), built, parent=dialog,
                            on_failure=failed, on_cancelled=lambda _message: deliver(None), letters=whole,
                            one_per_gap=one_per_gap)
            if job in JobRunner.running():  # still building (not a test's synchronous job): closing drops it
                dialog.finished.connect(lambda _result: job.abandon() if job in JobRunner.running() else None)

        def done(run) -> None:
            result = run.letters
            question = self.tr(
                "Print and Save as PDF produce all {0} letters: at least {0} pages, {0} sheets of paper printed "
                "one-sided, built first (this takes a while).\n\nRecord {0} letters to {1} patients as sent today "
                "({2})?").format(f"{count:,}", f"{patients:,}", as_of.isoformat())
            if list_key != self._list_key or self._mailing_logged:
                question = ""
            self.preview = open_preview(
                self, buffer.getvalue(), self.tr("Outreach letters"), file_name=f"letters-{as_of.isoformat()}.pdf",
                note=self._partial_note(result, count), left_out=left_out,
                left_out_title=self.tr("No letter: no usable address ({0})").format(len(left_out)),
                record_question=question, partial_of=count, partial_shown=result.letters,
                build_full=build_full)
            self.preview.delivered.connect(lambda _how: self._mailing_delivered(full.get("result", result), list_key))

        self._run(self.tr("Writing letters"), done, first=self.PREVIEW_LETTERS, letters=buffer,
                  one_per_gap=one_per_gap)

    def labels(self) -> None:
        if self.outreach is None:
            return
        as_of, start, list_key = self.outreach.as_of, self.label_start.value(), self._list_key
        count = self.mailing_count(False)
        if count > self.BIG_DOCUMENT and not self._ask(self.tr("Labels"), self.tr(
                "This makes {0} labels on {1} pages ({1} Avery 5160 sheets). Go ahead?").format(
                f"{count:,}", f"{-(-(count + start - 1) // 30):,}")):
            return
        buffer = io.BytesIO()

        def done(run) -> None:
            result = run.labels
            note = self.tr("{0} labels on {1} Avery 5160 sheets, starting at label {2}. Print at 100% (no "
                           "scaling).").format(result.items, result.pages, start)
            self._open_document(
                buffer.getvalue(), result, list_key, self.tr("Mailing labels"), f"labels-{as_of.isoformat()}.pdf",
                note, self.tr("No label: no usable address ({0})").format(len(result.skipped)), mailing=True,
                record_question=self.tr("Record {0} labelled letters as sent today ({1})?").format(
                    f"{result.items:,}", as_of.isoformat()),
            )

        self._run(self.tr("Making labels"), done, labels=buffer, label_start=start)

    def call_list_pdf(self) -> None:
        if self.outreach is None:
            return
        as_of, title, list_key = self.outreach.as_of, self._call_list_title(), self._list_key
        buffer = io.BytesIO()

        def done(run) -> None:
            result = run.calls
            note = self.tr("{0} patients to call on {1} pages. Record each call's outcome on this screen as you go.")
            self._open_document(buffer.getvalue(), result, list_key, title, f"call-list-{as_of.isoformat()}.pdf",
                                note.format(result.items, result.pages),
                                self.tr("Not on the list: no phone number ({0})").format(len(result.skipped)))

        self._run(self.tr("Writing the call list"), done, calls=buffer, calls_title=title)

    def _call_list_title(self) -> str:
        titles = [self._measures[m].title if m in self._measures else m for m in self.outreach.filters.measure_ids]
        return self.tr("Call list: {0}").format(", ".join(titles)) if titles else self.tr("Call list")

    def _open_document(self, data: bytes, result: DocumentResult, list_key: int, title: str, file_name: str,
                       note: str, left_out_title: str, *, mailing: bool = False, record_question: str = "") -> None:
        if mailing and (list_key != self._list_key or self._mailing_logged):
            record_question = ""  # already recorded: printing again logs nothing, so nothing to ask
        self.preview = open_preview(self, data, title, file_name=file_name, note=note,
                                    left_out=[f"{name} ({mrn}): {why}" for _pid, mrn, name, why in result.skipped],
                                    left_out_title=left_out_title,
                                    record_question=record_question)
        if mailing:
            self.preview.delivered.connect(lambda _how: self._mailing_delivered(result, list_key))

    def _mailing_delivered(self, result: DocumentResult, list_key: int) -> None:
        """Letters or labels were printed or saved: log the mailing once per list."""
        if list_key != self._list_key or self._mailing_logged:
            self._status(self.tr("This mailing is already recorded as outreach."))
            return
        self._mailing_logged = True
        self._log(result)

    def _log(self, result: DocumentResult) -> None:
        """Record the mailing as outreach (off the GUI thread: a big mailing is thousands of rows)."""
        registry, user, when = self.ctx.registry, self.ctx.user, outreach_run.outreach_time(self.ctx.as_of)

        def job(progress, cancel):
            with registry.session() as session:
                return outreach_run.record_outreach(session, [result], user=user, when=when)

        run_job(self, self.tr("Recording outreach"), job, on_success=self._show_logged)

    def _show_logged(self, logged: outreach_run.RecordedOutreach) -> None:
        self.last_logged = logged.rows
        self.last_batch = logged.batch if logged.rows else None
        message = self.tr("Recorded {0} outreach entries for {1} patients (batch {2}).").format(
            logged.rows, logged.patients, logged.batch or "-")
        self.result_label.setText(message)
        self.withdraw_button.setVisible(self.last_batch is not None)
        self._status(message)
        self.ctx.notify_changed()

    def mailing_count(self, one_per_gap: bool) -> int:
        """How many letters (or labels) the list makes (``outreach_run.mailing_count``)."""
        return 0 if self.outreach is None else outreach_run.mailing_count(self.outreach, self.patients, one_per_gap)

    def _ask(self, title: str, text: str) -> bool:
        answer = type(self).question(self, title, text,
                                     QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                     QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def withdraw_last_mailing(self) -> None:
        """Withdraw the batch just logged (same day, same user); the log keeps it as withdrawn."""
        batch = self.last_batch
        if not batch or not self._ask(self.tr("Withdraw this mailing"), self.tr(
                "Withdraw the {0} outreach entries of batch {1}? They stay in the log as withdrawn by you and no "
                "longer count as outreach.").format(self.last_logged, batch)):
            return
        registry, user, when = self.ctx.registry, self.ctx.user, outreach_run.outreach_time(self.ctx.as_of)
        caption = self.tr("Withdraw this mailing")

        def job(progress, cancel):  # a write: off the GUI thread like every other outreach write
            with registry.session() as session:
                return withdraw_outreach_batch(session, batch, user=user, when=when)

        run_job(self, self.tr("Withdrawing the mailing"), job, on_success=self._withdrawn,
                on_failure=lambda message: QMessageBox.warning(self, caption, message))

    def _withdrawn(self, done) -> None:
        self.last_batch = None
        self._mailing_logged = False
        self.withdraw_button.setVisible(False)
        message = self.tr("Withdrew batch {0}: {1} outreach entries for {2} patients no longer count.").format(
            done.batch, done.rows, done.patients)
        self.result_label.setText(message)
        self._status(message)
        self.ctx.notify_changed()

    def _ask_save(self, caption: str, file_name: str, filters: str) -> str | None:
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        suggested = str(Path(folder) / file_name) if folder else file_name
        path, _chosen = type(self).save_file_name(self, caption, suggested, filters)
        return path or None

    def save_call_list(self, suffix: str) -> None:
        if self.outreach is None:
            return
        kind = self.tr("Excel workbook (*.xlsx)") if suffix == ".xlsx" else self.tr("CSV file (*.csv)")
        path = self._ask_save(self.tr("Save the call list"), f"call-list-{self.outreach.as_of.isoformat()}{suffix}", kind)
        if not path:
            return
        if not path.lower().endswith(suffix):
            path += suffix
        def done(run) -> None:
            result = run.calls
            message = self.tr("Call list saved: {0} patients in {1}.").format(result.items, path)
            if result.skipped:
                message += " " + self.tr("{0} have no phone number.").format(len(result.skipped))
            self.result_label.setText(message)
            self._status(message)

        self._run(self.tr("Writing the call list"), done, calls=path, calls_title=self._call_list_title())

    def export_messages(self, channel: str) -> None:
        if self.outreach is None:
            return
        caption = self.tr("Save the portal messages") if channel == "portal" else self.tr("Save the text messages")
        path = self._ask_save(caption, f"{channel}-messages-{self.outreach.as_of.isoformat()}.csv",
                              self.tr("CSV file (*.csv)"))
        if not path:
            return
        if not self._ask(caption, self.tr("Saving the messages records them as sent today ({0}) for up to {1} "
                                          "patients. Go ahead?").format(self.outreach.as_of.isoformat(),
                                                                        f"{self.outreach.patients:,}")):
            return
        if not path.lower().endswith(".csv"):
            path += ".csv"

        def done(run) -> None:
            result = run.portal if channel == "portal" else run.text
            self._show_logged(run.logged)
            reason = self.tr("no e-mail address") if channel == "portal" else self.tr("no mobile number")
            message = self.tr("{0} messages saved to {1}.").format(result.items, path)
            if result.skipped:
                message += " " + self.tr("{0} patients left out: {1}.").format(len(result.skipped), reason)
            self.result_label.setText(message)
            self._status(message)

        target = {"portal": path} if channel == "portal" else {"texts": path}
        self._run(self.tr("Writing the export"), done, log=True, **target)

    def _status(self, message: str) -> None:
        self.status_message(message)

    # -- recording a contact
    def selected_patient(self) -> dict | None:
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        return self.model.row_data(index.row())

    def select_patient(self, patient_id: int) -> None:
        row = self.model.row_of(patient_id)
        if row >= 0:
            self.table.selectRow(row)

    def _selection_changed(self) -> None:
        patient = self.selected_patient()
        enabled = patient is not None
        for widget in (self.method_box, self.outcome_box, self.about_box, self.note_edit, self.record_button):
            widget.setEnabled(enabled)
        self.about_box.clear()
        if patient is None:
            self.record_label.setText(self.tr("Select a patient in the list."))
            return
        phones = (patient.get("phones") or "").replace("\n", ", ")
        self.record_label.setText(self.tr("Contact with {0} ({1}){2}").format(
            patient["name"], patient["mrn"], f": {phones}" if phones else ""))
        for measure, title in zip(patient.get("measures") or (), patient.get("measure_titles") or ()):
            self.about_box.addItem(title, measure)
        self.about_box.addItem(self.tr("(no particular gap)"), None)

    def record_contact(self) -> None:
        patient = self.selected_patient()
        if patient is None:
            return
        method, outcome = self.method_box.currentData(), self.outcome_box.currentData()
        measure, note = self.about_box.currentData(), self.note_edit.text().strip() or None
        registry, user, when = self.ctx.registry, self.ctx.user, outreach_run.outreach_time(self.ctx.as_of)
        patient_id, name, caption = int(patient["patient_id"]), patient["name"], self.tr("Record a contact")

        def job(progress, cancel):  # a write: off the GUI thread like every other outreach write
            with registry.session() as session:
                return log_outreach(session, patient_id, method, outcome, measure=measure, note=note,
                                    user=user, when=when)

        def done(entry) -> None:
            finished()
            if self.note_edit.text().strip() == (note or ""):
                self.note_edit.clear()  # not a note typed for the next call meanwhile
            result = self._outcome_text(entry.outcome) if entry.outcome else self.tr("no outcome")
            self._status(self.tr("Recorded: {0} with {1}, {2}.").format(self._method_text(entry.method), name,
                                                                        result.lower()))
            self.ctx.notify_changed()

        def finished() -> None:
            self.record_button.setEnabled(self.selected_patient() is not None)

        def failed(message: str) -> None:
            finished()
            QMessageBox.warning(self, caption, message)

        self.record_button.setEnabled(False)  # one click, one entry (a second click waits for this one)
        run_job(self, self.tr("Recording the contact"), job, on_success=done, on_failure=failed,
                on_cancelled=lambda _message: finished())

    # -- the report
    def _tab_changed(self, index: int) -> None:
        if index == 1 and self._report_stale:
            self.load_report()

    def load_report(self) -> None:
        registry, as_of = self.ctx.registry, self.ctx.as_of

        def job(progress, cancel):
            progress(0, 1, "")
            with registry.session() as session:
                return gaps_closed_after_outreach(session, as_of)

        run_job(self, self.tr("Counting closed gaps"), job, on_success=self._show_report)

    def _show_report(self, table: pd.DataFrame) -> None:
        self._report_stale = False
        headers = [self.tr("Method"), self.tr("Measure"), self.tr("Gaps contacted"), self.tr("Closed"),
                   self.tr("Not closed"), self.tr("Pending"), self.tr("Closed rate")]
        self.report_table.clear()
        self.report_table.setColumnCount(len(headers))
        self.report_table.setHorizontalHeaderLabels(headers)
        self.report_table.setRowCount(len(table))
        for r, row in enumerate(table.to_dict("records")):
            rate = row["closed_rate"]
            values = [self._method_text(row["method"]), row["measure_title"], row["contacted"], row["closed"],
                      row["not_closed"], row["pending"], "-" if rate is None or pd.isna(rate) else f"{100 * rate:.0f}%"]
            for c, value in enumerate(values):
                self.report_table.setItem(r, c, table_item(value, align_right=c >= 2))
        self.report_table.resizeColumnsToContents()
        self.report_table.horizontalHeader().setStretchLastSection(False)
        self.report_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        if table.empty:
            self.report_summary.setText(self.tr("No outreach about a measure has been recorded yet."))
        else:
            closed, decided = int(table["closed"].sum()), int((table["closed"] + table["not_closed"]).sum())
            rate = f"{100 * closed / decided:.0f}%" if decided else "-"
            self.report_summary.setText(self.tr("As of {0}: {1} of {2} decided gaps closed ({3}); {4} pending.").format(
                self.ctx.as_of.isoformat(), closed, decided, rate, int(table["pending"].sum())))

    # -- screenshots
    def prepare_screenshot(self) -> None:
        """A list for colorectal cancer screening, first patient selected."""
        self.set_measures(["colorectal-cancer-screening"])
        self.build_list()
        if self.model.rowCount():
            self.table.selectRow(0)
