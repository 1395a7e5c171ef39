"""Patients: search and filter every patient (PCP, status, risk tier, open gap for a measure),
sorted in SQL over a lazy id list, with the patient view beside it: demographics, PCP and its
history, confirmations, care gaps with evidence, risk tier with override, visits, outreach,
and a manual reassignment with a reason."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QLocale, QSignalBlocker, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from panelmanager.core.models import PatientStatus
from panelmanager.core.patient_view import UNASSIGNED, PatientFilters, caches_status, refresh_caches, risk_tier_choices
from panelmanager.core.schedule import panel_provider_choices
from panelmanager.ui.context import ASSIGNMENTS, GAPS, IMPORT, OUTREACH, SETTINGS
from panelmanager.ui.jobs import run_job
from panelmanager.ui.models.patients import PatientTableModel, list_columns
from panelmanager.ui.screens.base import Screen, heading
from panelmanager.ui.session import audit_search
from panelmanager.ui.widgets.patient_detail import PatientDetail
from panelmanager.ui.widgets.tables import set_up_table

SEARCH_DELAY_MS = 150

_ANY = None


class PatientsScreen(Screen):
    SHOWS = frozenset({ASSIGNMENTS, GAPS, IMPORT, OUTREACH, SETTINGS})  # the whole record
    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self._selected: int | None = None
        self._splitter_sized = False
        self._refresh_offered_for = None

        layout = QVBoxLayout(self)
        layout.addWidget(heading(self.tr("Patients")))

        search_row = QHBoxLayout()
        search_label = QLabel(self.tr("&Search:"))
        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Name, date of birth or MRN  (Ctrl+F)"))
        self.search.setClearButtonEnabled(True)
        search_label.setBuddy(self.search)
        self.count_label = QLabel()
        self.count_label.setObjectName("patientCount")
        search_row.addWidget(search_label)
        search_row.addWidget(self.search, 1)
        search_row.addSpacing(12)
        search_row.addWidget(self.count_label)
        layout.addLayout(search_row)

        filters = QHBoxLayout()
        self.provider_combo = QComboBox()
        self.provider_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.status_combo = QComboBox()
        for label, value in (
            (self.tr("Active"), (PatientStatus.ACTIVE.value,)),
            (self.tr("Inactive"), (PatientStatus.INACTIVE.value,)),
            (self.tr("Moved"), (PatientStatus.MOVED.value,)),
            (self.tr("Deceased"), (PatientStatus.DECEASED.value,)),
            (self.tr("Any status"), None),
        ):
            self.status_combo.addItem(label, value)
        self.tier_combo = QComboBox()
        self.tier_combo.addItem(self.tr("Any tier"), _ANY)
        for tier, label in risk_tier_choices():
            self.tier_combo.addItem(self.tr("{0} · {1}").format(tier, label), tier)
        self.gap_combo = QComboBox()
        self.gap_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.gap_combo.addItem(self.tr("Any (no gap filter)"), _ANY)
        for measure_id, title in _measure_choices():
            self.gap_combo.addItem(title, measure_id)
        self.clear_button = QPushButton(self.tr("Clear &filters"))
        for text, combo in (
            (self.tr("&Provider:"), self.provider_combo),
            (self.tr("Stat&us:"), self.status_combo),
            (self.tr("Ris&k tier:"), self.tier_combo),
            (self.tr("Open &gap:"), self.gap_combo),
        ):
            label = QLabel(text)
            label.setBuddy(combo)
            filters.addWidget(label)
            filters.addWidget(combo)
            filters.addSpacing(8)
        filters.addWidget(self.clear_button)
        filters.addStretch(1)
        layout.addLayout(filters)

        self.banner = QFrame()
        self.banner.setObjectName("cacheBanner")
        self.banner.setStyleSheet(
            "QFrame#cacheBanner { background: #fff4d6; border: 1px solid #e0c36a; border-radius: 4px; }"
            "QFrame#cacheBanner QLabel { background: transparent; color: #5c4400; }"
        )
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.setContentsMargins(10, 4, 6, 4)
        self.banner_label = QLabel()
        self.banner_label.setWordWrap(True)
        self.update_button = QPushButton(self.tr("Update &now"))
        banner_layout.addWidget(self.banner_label, 1)
        banner_layout.addWidget(self.update_button)
        self.banner.hide()
        layout.addWidget(self.banner)

        self.model = PatientTableModel(ctx, columns=list_columns(), parent=self)
        self.table = QTableView()
        self.table.setObjectName("patientTable")
        self.table.setModel(self.model)
        set_up_table(self.table, selection=QAbstractItemView.SelectionMode.SingleSelection, word_wrap=False,
                     row_height=self.table.fontMetrics().height() + 10)
        self.table.horizontalHeader().setHighlightSections(False)
        self.table.setSortingEnabled(True)
        self.detail = PatientDetail(ctx)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        layout.addWidget(self.splitter, 1)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.search.returnPressed.connect(self._search_enter)
        for combo in (self.provider_combo, self.status_combo, self.tier_combo, self.gap_combo):
            combo.currentIndexChanged.connect(lambda _i: self.apply_filters())
        self.clear_button.clicked.connect(self.clear_filters)
        self.update_button.clicked.connect(lambda: self.update_caches())
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.detail.changed.connect(lambda: self.ctx.notify_changed(ASSIGNMENTS))  # a reassignment or a risk override

        self.setTabOrder(self.search, self.provider_combo)
        self.setTabOrder(self.provider_combo, self.status_combo)
        self.setTabOrder(self.status_combo, self.tier_combo)
        self.setTabOrder(self.tier_combo, self.gap_combo)
        self.setTabOrder(self.gap_combo, self.clear_button)
        self.setTabOrder(self.clear_button, self.table)
        self._fill_providers()
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)

    def title(self) -> str:
        return self.tr("Patients")

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    # -- filters
    def filters(self) -> PatientFilters:
        return PatientFilters(
            text=self.search.text().strip(),
            provider_id=self.provider_combo.currentData(),
            statuses=self.status_combo.currentData(),
            tier=self.tier_combo.currentData(),
            gap_measure=self.gap_combo.currentData(),
        )

    def _fill_providers(self) -> None:
        with self.ctx.registry.session() as session:
            choices = panel_provider_choices(session)
        current = self.provider_combo.currentData()
        with QSignalBlocker(self.provider_combo):
            self.provider_combo.clear()
            self.provider_combo.addItem(self.tr("Any PCP"), _ANY)
            self.provider_combo.addItem(self.tr("No PCP (unassigned)"), UNASSIGNED)
            for choice in choices:
                self.provider_combo.addItem(choice.name, choice.id)
            index = self.provider_combo.findData(current) if current is not None else 0
            self.provider_combo.setCurrentIndex(max(index, 0))

    def set_filter(self, **values) -> None:
        """Pick filters by value: provider_id, statuses, tier, gap_measure, text (tests, drill-downs)."""
        combos = {
            "provider_id": self.provider_combo,
            "statuses": self.status_combo,
            "tier": self.tier_combo,
            "gap_measure": self.gap_combo,
        }
        for key, value in values.items():
            if key == "text":
                with QSignalBlocker(self.search):
                    self.search.setText(value)
                continue
            combo = combos[key]
            with QSignalBlocker(combo):
                combo.setCurrentIndex(max(combo.findData(value), 0))
        self.apply_filters()

    def clear_filters(self) -> None:
        for combo in (self.provider_combo, self.status_combo, self.tier_combo, self.gap_combo):
            with QSignalBlocker(combo):
                combo.setCurrentIndex(0)
        with QSignalBlocker(self.search):
            self.search.clear()
        self.apply_filters()

    def apply_filters(self) -> None:
        """Re-run the list's SQL query for the search text and filters (keeps the selected patient)."""
        self._search_timer.stop()
        filters = self.filters()
        needs_cache = filters.tier is not None or filters.gap_measure is not None
        if needs_cache and self._offer_refresh():
            return  # the list is shown again when the update finishes
        # The banner says whether the care-gap and risk caches are current: typing in the search
        # box cannot change that, so a keystroke does not ask again (it cost a third of it at 100k).
        typed_only = dataclasses.replace(self.model.filters, text=filters.text) == filters
        self.model.set_filters(filters)
        self._after_reload(banner=not typed_only)

    def _after_reload(self, *, banner: bool = True) -> None:
        filters = self.model.filters  # issue 14: each search run is audited (its first page of ids, never the text)
        audit_search(self, "patients", self.model, key=(filters, self.ctx.as_of),
                     used=[name for name, value in dataclasses.asdict(filters).items() if value not in (None, "", ())])
        n = self.model.rowCount()
        self.count_label.setText(self.tr("1 patient") if n == 1 else self.tr("{0} patients").format(QLocale().toString(n)))
        self._size_columns()
        row = self.model.row_of(self._selected) if self._selected is not None else -1
        if row >= 0:
            with QSignalBlocker(self.table.selectionModel()):
                self.table.selectRow(row)
            self.table.scrollTo(self.model.index(row, 0))
        else:
            self.table.scrollToTop()
        if banner:
            self._update_banner()

    def _search_enter(self) -> None:
        if self._search_timer.isActive():
            self.apply_filters()
        if self.model.rowCount():
            self.table.setFocus()
            if not self.table.currentIndex().isValid() or self.model.row_of(self._selected or -1) < 0:
                self.table.selectRow(0)

    # -- caches (risk tiers and care gaps for the as-of date)
    def _update_banner(self) -> None:
        with self.ctx.registry.session() as session:
            status = caches_status(session, self.ctx.as_of)
        if status.current:
            self.banner.hide()
            return
        what = []
        if not status.gaps_current:
            what.append(self.tr("care gaps"))
        if not status.risk_current:
            what.append(self.tr("risk tiers"))
        self.banner_label.setText(
            self.tr("The {0} for {1} are not up to date: the Risk and Open gaps columns and their filters may be "
                    "missing or out of date. Updating takes a moment for a large registry.").format(
                self.tr(" and ").join(what), self.ctx.as_of.isoformat())
        )
        self.banner.show()

    def _offer_refresh(self) -> bool:
        """Before a tier or gap filter: bring the caches up to date (a job). True when one started."""
        with self.ctx.registry.session() as session:
            status = caches_status(session, self.ctx.as_of)
        if status.current:
            return False
        key = (self.ctx.as_of, status)
        if self._refresh_offered_for == key:
            return False  # cancelled once for this state: filter with what is cached
        self._refresh_offered_for = key
        self.update_caches()
        return True

    def update_caches(self) -> None:
        """Recompute care gaps and risk tiers for the as-of date, then show the list again."""
        registry, as_of = self.ctx.registry, self.ctx.as_of

        def job(progress, cancel):
            with registry.session() as session:
                return refresh_caches(session, as_of, progress=progress, cancel=cancel)

        def done(_status) -> None:
            self.ctx.notify_changed(GAPS)  # this screen (shown) reloads; the others when next shown
            if not self.isVisible():
                self.model.set_filters(self.filters())
                self._after_reload()

        def stopped(_message: str) -> None:
            self.model.set_filters(self.filters())
            self._after_reload()

        run_job(self, self.tr("Updating care gaps and risk tiers"), job, on_success=done, on_cancelled=stopped,
                on_failure=lambda message: (self._show_error(message), stopped(message)))

    def _show_error(self, message: str) -> None:
        QMessageBox.warning(self, self.tr("Patients"), message)

    # -- list and detail
    def reload(self) -> None:
        self._fill_providers()
        self.model.set_filters(self.filters())
        self._after_reload()
        self.detail.set_patient(self._selected if self._selected is not None else None)

    def _row_changed(self, current, _previous) -> None:
        if not current.isValid():
            return
        pid = self.model.id_at(current.row())
        if pid is not None and pid != self._selected:
            self.select_patient(int(pid))

    def select_patient(self, patient_id: int) -> None:
        """Show ``patient_id`` in the patient view, selecting their row when the list holds them.

        Other screens drill down here (dashboard cells, huddle and outreach rows): a patient
        the current filters leave out is still shown in the patient view.
        """
        self.refresh()  # first time shown, or the registry changed: the list is current first
        self._selected = int(patient_id)
        row = self.model.row_of(self._selected)
        if row >= 0:
            if self.table.currentIndex().row() != row:
                with QSignalBlocker(self.table.selectionModel()):
                    self.table.selectRow(row)
            self.table.scrollTo(self.model.index(row, 0))
        else:  # not in the list: no row stays highlighted (nor current) for the previous patient
            with QSignalBlocker(self.table.selectionModel()):
                self.table.selectionModel().clear()
            self.table.viewport().update()
        self.detail.set_patient(self._selected)

    open_patient = select_patient

    def _size_columns(self) -> None:
        header = self.table.horizontalHeader()
        metrics = self.table.fontMetrics()
        widths = {"name": "Hernández-Gutiérrez, María G.", "dob": "0000-00-00", "age": "Age", "sex": "Sex", "mrn": "D0000000 ",
                  "pcp": "Andrzej Kuznetsov, FNP", "confirmed_text": "patient and provider", "tier_text": "4 Complex*",
                  "gaps_text": "Open gaps", "status": "deceased"}
        for i, column in enumerate(self.model.columns):
            sample = widths.get(column.key, column.title)
            width = max(metrics.horizontalAdvance(sample), metrics.horizontalAdvance(column.title) + 18) + 16
            header.resizeSection(i, width)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(self._column("name"), QHeaderView.ResizeMode.Stretch)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._splitter_sized and self.splitter.height() > 0:
            self._splitter_sized = True
            total = self.splitter.height()
            detail = max(int(total * 0.5), self.detail.minimumSizeHint().height())
            self.splitter.setSizes([max(total - detail, 160), detail])

    def prepare_screenshot(self) -> None:
        """Current care gaps and risk tiers, the list by risk (highest first), one patient open."""
        with self.ctx.registry.session() as session:
            status = caches_status(session, self.ctx.as_of)
        if not status.current:
            self.update_caches()
        self.table.sortByColumn(self._column("tier_text"), Qt.SortOrder.DescendingOrder)
        self._after_reload()
        for row in range(min(self.model.rowCount(), 200)):
            data = self.model.row_data(row)
            if data and data.get("pcp_id") is not None and (data.get("open_gaps") or 0) >= 2:
                self.table.selectRow(row)
                break
        else:
            if self.model.rowCount():
                self.table.selectRow(0)
        self.detail.tabs.setCurrentIndex(0)

    def _column(self, key: str) -> int:
        return next(i for i, c in enumerate(self.model.columns) if c.key == key)


def _measure_choices() -> list[tuple[str, str]]:
    """(measure id, title) of every measure that loads, in the measures' own order."""
    from panelmanager.core.outreach import measure_info

    infos = sorted(measure_info().values(), key=lambda i: (i.order, i.title))
    return [(i.id, i.title) for i in infos]
