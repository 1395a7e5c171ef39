"""Panels screen, Assignment review tab: run a 4-cut review (a job), pick a review, filter its
proposals by kind and decision, and accept (A) or reject (R) the selected ones.

Loading a review's lists (the reviews, their counts, the ids of the proposals shown) runs in
the screen's load job with the milestone, never on the GUI thread: on a first review of
100,000 new assignments the id query alone takes a noticeable moment."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from panelmanager.core.empanelment import accept_review_items, build_review, list_reviews, reject_review_items
from panelmanager.core.panel_lists import review_counts
from panelmanager.core.providers import panel_holder_problem
from panelmanager.ui.jobs import run_job
from panelmanager.ui.models.panels import ReviewItemTableModel
from panelmanager.ui.widgets.date_edit import DateEdit
from panelmanager.ui.widgets.tables import hint, make_table, selected_rows
from panelmanager.ui.widgets.tables import html_text as _html

ALL_PROPOSALS = ("new", "change", "drop")


def shown_filter(kind: str | None, decisions: tuple[str, ...] | None) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """The kinds and decisions listed for the Show / Decision choices."""
    kinds = ALL_PROPOSALS if kind in (None, "all") else (str(kind),)
    # "Needs assignment" items are for information: their decision is "info".
    return kinds, (None if kind == "unassigned" else decisions)


class ReviewTabMixin:
    """The Assignment review tab of ``PanelsScreen``."""

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


    # -- loading (in the screen's job) and showing
    def _reader_review(self):
        """Read the reviews, the chosen one's counts and the ids of the proposals shown, off the GUI thread."""
        keep = self._review_id
        decisions = self.decision_filter.currentData()
        kind_now = self.kind_filter.currentData() if self.kind_filter.count() else "all"
        model = self.review_model

        def read_reviews(session):
            reviews = list_reviews(session)
            known = [info.id for info in reviews]
            review_id = keep if keep in known else (known[0] if known else None)
            counts = review_counts(session, review_id) if review_id is not None else {}
            kinds, shown = shown_filter(kind_now, decisions)
            ids = model.read_ids(session, review_id, kinds, shown)
            return reviews, review_id, counts, ids, panel_holder_problem(session)
        return read_reviews

    def _apply_review(self, data) -> None:
        reviews, review_id, counts, ids, problem = data
        self._holder_problem = problem
        self.review_picker.blockSignals(True)
        self.review_picker.clear()
        for info in reviews:
            status = {
                "open": self.tr("waiting"), "accepted": self.tr("accepted"), "rejected": self.tr("rejected"),
                "partly": self.tr("partly accepted"), "superseded": self.tr("superseded"),
            }.get(info.status, info.status)
            self.review_picker.addItem(self.tr("#{0} as of {1} ({2})").format(info.id, info.as_of.isoformat(), status), info.id)
        self._reviews = {info.id: info for info in reviews}
        self.review_picker.setCurrentIndex(self.review_picker.findData(review_id) if review_id is not None else -1)
        self.review_picker.blockSignals(False)
        self._review_id = self.review_picker.currentData()
        self._refresh_review_list(counts=counts, ids=ids)

    def _pick_review(self) -> None:
        self._review_id = self.review_picker.currentData()
        self._refresh_review_list()

    def _refresh_review_list(self, counts: dict[str, dict[str, int]] | None = None, ids: list[int] | None = None) -> None:
        """Show the chosen review's proposals from what the load job read (``counts``, ``ids``). Without
        them (another filter or review picked) the job reads them: on a 100,000-item review the
        filtered id list alone takes seconds, never on the GUI thread."""
        if counts is None or ids is None:
            self._generation += 1  # a load under way read the old filter: its result does not count
            self._dirty.add("review")
            self._load_visible()
            return
        review_id = self._review_id
        decisions = self.decision_filter.currentData()

        def count(kind: str) -> int:
            per = counts.get(kind, {})
            if decisions is None:
                return sum(per.values())
            return sum(n for d, n in per.items() if d in decisions)

        current_kind = self.kind_filter.currentData() if self.kind_filter.count() else "all"
        self.kind_filter.blockSignals(True)
        self.kind_filter.clear()
        total = sum(count(k) for k in ALL_PROPOSALS)
        self.kind_filter.addItem(self.tr("All proposals ({0:,})").format(total), "all")
        self.kind_filter.addItem(self.tr("New assignments ({0:,})").format(count("new")), "new")
        self.kind_filter.addItem(self.tr("Changes ({0:,})").format(count("change")), "change")
        self.kind_filter.addItem(self.tr("Drops ({0:,})").format(count("drop")), "drop")
        needs = sum(counts.get("unassigned", {}).values())
        self.kind_filter.addItem(self.tr("Needs assignment ({0:,})").format(needs), "unassigned")
        index = self.kind_filter.findData(current_kind)
        self.kind_filter.setCurrentIndex(max(index, 0))
        self.kind_filter.blockSignals(False)
        kinds, shown_decisions = shown_filter(self.kind_filter.currentData(), decisions)
        self.review_model.set_filter(review_id, kinds, shown_decisions, ids=ids)
        self._update_review_summary(counts)
        self._update_review_buttons()

    def _panel_holder_problem(self) -> str:
        """What stops anyone being assigned (no provider can hold a panel), as a bold line; empty when fine
        (read by the load job)."""
        problem = getattr(self, "_holder_problem", "")
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
        self._decide_all(
            accept_review_items,
            self.tr("Accept all pending proposals"),
            self.tr(
                "Accept all {0:,} proposals still waiting in review #{1}?\n\n"
                "Changes away from a confirmed assignment (held) stay as they are; accept those one by one."
            ),
            self.tr("Accepting the review"),
        )

    def reject_all(self) -> None:
        self._decide_all(
            reject_review_items,
            self.tr("Reject all pending proposals"),
            self.tr("Reject all {0:,} proposals still waiting in review #{1}? Panels stay as they are."),
            self.tr("Rejecting the review"),
        )

    def _decide_all(self, service, title: str, question: str, busy: str) -> None:
        """Decide every pending proposal of the shown review, once the user said yes to
        ``question`` (formatted with the pending count and the review number)."""
        info = self._reviews.get(self._review_id) if self._review_id is not None else None
        if info is None or not info.pending:
            return
        answer = QMessageBox.question(self, title, question.format(info.pending, info.id))
        if answer == QMessageBox.StandardButton.Yes:
            self._decide(service, None, busy)

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

