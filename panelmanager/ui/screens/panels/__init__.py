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

The screen is this shell (the milestone on top, the tabs, loading the visible part as a
job; kept in the package's ``__init__`` so ``panelmanager.ui.screens.panels.PanelsScreen``
is its path as before the split) and one module per tab (``review``, ``capacity``, ``visitors``, ``inactivation``,
``provider``, plus ``milestone``). Each tab module is a mixin of ``PanelsScreen``, so the
widgets stay attributes of the screen (``screen.review_table``...) as tests and the
main window know them; each defines ``_build_<tab>_tab``, ``_reader_<part>`` (what the
load job reads) and ``_apply_<part>`` (showing it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import QMessageBox, QTableView, QTabWidget, QVBoxLayout

from panelmanager.ui.context import ASSIGNMENTS, IMPORT, SETTINGS
from panelmanager.ui.jobs import run_job
from panelmanager.ui.screens.base import Screen, heading
from panelmanager.ui.screens.panels.capacity import CapacityTabMixin
from panelmanager.ui.screens.panels.inactivation import InactivationTabMixin
from panelmanager.ui.screens.panels.milestone import MilestoneMixin
from panelmanager.ui.screens.panels.provider import ProviderTabMixin
from panelmanager.ui.screens.panels.review import ReviewTabMixin
from panelmanager.ui.screens.panels.visitors import VisitorsTabMixin
from panelmanager.ui.widgets.tables import enter_opens, hint, make_table, open_patient, selected_rows

__all__ = ["PARTS", "PanelsScreen", "hint", "make_table", "open_patient", "selected_rows"]

PARTS = ("milestone", "review", "capacity", "visitors", "inactivation", "provider")


class PanelsScreen(
    MilestoneMixin, ReviewTabMixin, CapacityTabMixin, VisitorsTabMixin, InactivationTabMixin, ProviderTabMixin, Screen
):
    SHOWS = frozenset({ASSIGNMENTS, IMPORT, SETTINGS})  # panels, reviews, capacity
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
        self._holder_problem = ""

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
            self.ctx.notify_changed(ASSIGNMENTS)
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
        if not wanted:
            return
        readers = {part: self._reader(part) for part in wanted}
        registry = self.ctx.registry
        generation = self._generation
        labels = {
            "milestone": self.tr("Scoring the empanelment milestone"),
            "review": self.tr("Reading the assignment reviews"),
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
        """The part's read (``_reader_<part>`` in its tab module): widget values are taken here, on the
        GUI thread; the returned function runs in the job with a session."""
        return getattr(self, f"_reader_{part}")()

    def _apply(self, part: str, data: Any) -> None:
        getattr(self, f"_apply_{part}")(data)


    # ================================================================== helpers
    def _enter_opens(self, table: QTableView, slot: Callable[[], None]) -> None:
        enter_opens(table, slot)


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
