"""The patient view: demographics, PCP and its history, confirmations, care gaps with their
evidence, risk tier with override, recent visits and outreach, and the two things a manager
changes here: a manual reassignment (reason required) and a risk-tier override (reason
required)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from panelmanager.core.concurrency import ConcurrencyError, Conflict, run_write
from panelmanager.core.empanelment import EmpanelmentError, reassign_patient
from panelmanager.core.patient_view import PatientRecord, patient_record, risk_tier_choices
from panelmanager.core.risk import override_risk_tier
from panelmanager.core.schedule import PanelProvider, panel_provider_choices, patient_gaps
from panelmanager.ui.jobs import run_job
from panelmanager.ui.widgets.patient_header import PatientHeader, patient_facts
from panelmanager.ui.widgets.tables import set_up_table

GAP_STATUS_COLOURS = {"open": "#b3261e", "due-soon": "#9a5b00", "met": "#1b7a3a", "excluded": "#5a6670"}
TIER_COLOURS = {1: "#1b7a3a", 2: "#6b6b00", 3: "#b35c00", 4: "#b3261e"}

_STYLE = """
QLabel#detailName { color: #1f3b4d; }
QLabel#detailMuted { color: #5a6670; }
QLabel#detailSection { color: #1f3b4d; font-weight: bold; }
QFrame#detailBox { background: #ffffff; border: 1px solid #c9d3da; border-radius: 6px; }
QFrame#detailBox QLabel { background: transparent; }
"""


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    set_up_table(table, word_wrap=False)
    # resizeColumnsToContents sized the last column too: let it take the rest of the width again.
    table.horizontalHeader().setStretchLastSection(False)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: list[list], colours: list[dict[int, str]] | None = None, empty: str = "") -> None:
    table.setRowCount(0)
    table.clearSpans()
    if not rows and empty:
        table.setRowCount(1)
        item = QTableWidgetItem(empty)
        item.setForeground(QColor("#5a6670"))
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        table.setItem(0, 0, item)
        table.setSpan(0, 0, 1, table.columnCount())
        return
    table.setRowCount(len(rows))
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            item = QTableWidgetItem("" if value is None else str(value))
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            colour = (colours[r] if colours else {}).get(c)
            if colour:
                item.setForeground(QColor(colour))
            if value is not None and len(str(value)) > 40:
                item.setToolTip(str(value))
            table.setItem(r, c, item)
    table.resizeColumnsToContents()
    for c in range(table.columnCount() - 1):
        if table.columnWidth(c) > 320:
            table.setColumnWidth(c, 320)
    # resizeColumnsToContents sized the last column too: let it take the rest of the width again.
    table.horizontalHeader().setStretchLastSection(False)
    table.horizontalHeader().setStretchLastSection(True)


def _date(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _muted(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("detailMuted")
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class PatientDetail(QWidget):
    """One patient's record. ``changed`` is emitted after a reassignment or a risk override."""

    changed = Signal()

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.patient_id: int | None = None
        self.record: PatientRecord | None = None
        self.reassign_dialog: ReassignDialog | None = None
        self.override_dialog: RiskOverrideDialog | None = None
        self._gap_request = 0
        self.setStyleSheet(_STYLE)

        # The summary on the left, the lists on the right: the view sits under the patient list.
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        box = QFrame()
        box.setObjectName("detailBox")
        inner = QVBoxLayout(box)
        inner.setContentsMargins(14, 12, 14, 12)
        inner.setSpacing(4)

        self.header = PatientHeader("detailName", "detailMuted", spacing=4)
        self.name_label, self.facts_label = self.header.name_label, self.header.facts_label
        self.contact_label = _muted()
        inner.addWidget(self.header)
        inner.addWidget(self.contact_label)
        inner.addSpacing(6)

        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(4)
        pcp_title = QLabel(self.tr("PCP"))
        pcp_title.setObjectName("detailSection")
        self.pcp_label = QLabel()
        self.pcp_label.setWordWrap(True)
        self.pcp_label.setTextFormat(Qt.TextFormat.RichText)
        self.assignment_label = _muted()
        self.confirmation_label = _muted()
        risk_title = QLabel(self.tr("Risk"))
        risk_title.setObjectName("detailSection")
        self.tier_label = QLabel()
        self.tier_label.setWordWrap(True)
        self.tier_label.setTextFormat(Qt.TextFormat.RichText)
        self.risk_reasons_label = _muted()
        grid.addWidget(pcp_title, 0, 0, Qt.AlignmentFlag.AlignTop)
        pcp_box = QVBoxLayout()
        pcp_box.setSpacing(2)
        pcp_box.addWidget(self.pcp_label)
        pcp_box.addWidget(self.assignment_label)
        pcp_box.addWidget(self.confirmation_label)
        grid.addLayout(pcp_box, 0, 1)
        grid.addWidget(risk_title, 1, 0, Qt.AlignmentFlag.AlignTop)
        risk_box = QVBoxLayout()
        risk_box.setSpacing(2)
        risk_box.addWidget(self.tier_label)
        risk_box.addWidget(self.risk_reasons_label)
        grid.addLayout(risk_box, 1, 1)
        grid.setColumnStretch(1, 1)
        inner.addLayout(grid)

        buttons = QHBoxLayout()
        self.reassign_button = QPushButton(self.tr("&Reassign..."))
        self.reassign_button.setToolTip(self.tr("Put the patient on another provider's panel, with a reason (Alt+R)"))
        self.override_button = QPushButton(self.tr("&Override risk tier..."))
        self.override_button.setToolTip(self.tr("Set the risk tier by hand, with a reason (Alt+O)"))
        buttons.addWidget(self.reassign_button)
        buttons.addWidget(self.override_button)
        buttons.addStretch(1)
        inner.addSpacing(4)
        inner.addLayout(buttons)
        inner.addStretch(1)
        box.setMinimumWidth(400)
        layout.addWidget(box, 2)

        self.tabs = QTabWidget()
        self.gaps_table = _table([self.tr("Measure"), self.tr("Status"), self.tr("Due"), self.tr("Last"), self.tr("Code"), self.tr("Value")])
        self.history_table = _table([self.tr("When"), self.tr("From"), self.tr("To"), self.tr("Why"), self.tr("By")])
        self.confirmations_table = _table(
            [self.tr("Date"), self.tr("Who"), self.tr("Answer"), self.tr("Provider"), self.tr("How"), self.tr("Recorded by"), self.tr("Reason")]
        )
        self.visits_table = _table([self.tr("Date"), self.tr("Provider"), self.tr("Type"), self.tr("Status"), self.tr("Reason")])
        self.outreach_table = _table([self.tr("When"), self.tr("How"), self.tr("Outcome"), self.tr("About"), self.tr("Note"), self.tr("By")])
        self.overrides_table = _table([self.tr("When"), self.tr("Tier"), self.tr("Reason"), self.tr("By"), self.tr("In force")])
        self.tabs.addTab(self.gaps_table, self.tr("Care gaps"))
        self.tabs.addTab(self.history_table, self.tr("Assignment history"))
        self.tabs.addTab(self.confirmations_table, self.tr("Confirmations"))
        self.tabs.addTab(self.visits_table, self.tr("Visits"))
        self.tabs.addTab(self.outreach_table, self.tr("Outreach"))
        self.tabs.addTab(self.overrides_table, self.tr("Risk overrides"))
        layout.addWidget(self.tabs, 3)

        self.reassign_button.clicked.connect(self.open_reassign_dialog)
        self.override_button.clicked.connect(self.open_override_dialog)
        self.set_patient(None)

    # -- showing
    def set_patient(self, patient_id: int | None) -> None:
        self.patient_id = patient_id
        self.refresh()

    def refresh(self) -> None:
        """Re-read the record (and look up the care gaps, a short job)."""
        if self.patient_id is None:
            self.record = None
            self.name_label.setText(self.tr("No patient selected"))
            self.facts_label.setText(self.tr("Pick a patient in the list to see their record."))
            for label in (self.contact_label, self.pcp_label, self.assignment_label, self.confirmation_label,
                          self.tier_label, self.risk_reasons_label):
                label.clear()
            self.reassign_button.setEnabled(False)
            self.override_button.setEnabled(False)
            for table in (self.gaps_table, self.history_table, self.confirmations_table, self.visits_table,
                          self.outreach_table, self.overrides_table):
                table.setRowCount(0)
            return
        try:
            if self.patient_id != getattr(self, "_audited_id", None):  # a record opened: audited once (issue 14)
                record = self.ctx.read("view_patient", patient_record, self.patient_id, self.ctx.as_of,
                                       patient_ids=[self.patient_id])
                self._audited_id = self.patient_id
            else:  # the same record refreshed after a change
                with self.ctx.registry.session() as session:
                    record = patient_record(session, self.patient_id, self.ctx.as_of)
        except EmpanelmentError:
            self.set_patient(None)
            return
        self.record = record
        self.reassign_button.setEnabled(True)
        self.override_button.setEnabled(True)
        self._show_header(record)
        self._show_lists(record)
        self._load_gaps()

    def _show_header(self, r: PatientRecord) -> None:
        self.name_label.setText(r.name)
        status = r.status
        if r.deceased_date:
            status += " " + r.deceased_date.isoformat()
        self.facts_label.setText(patient_facts(r.mrn, r.dob, r.age, r.sex, status, r.language))
        contact = []
        if r.address:
            contact.append(r.address)
        contact.extend(f"{number} ({self._phone_kind(kind)})" for kind, number in r.phones)
        if r.email:
            contact.append(r.email)
        self.contact_label.setText("\n".join([contact[0], "  ·  ".join(contact[1:])] if len(contact) > 1 else contact))

        if r.pcp_id is None:
            nobody = _esc(self.tr("On no provider's panel"))
            self.pcp_label.setText(f'<b style="color:#b3261e">{nobody}</b>')
            self.assignment_label.setText(
                self.tr("The PM system lists {0}.").format(r.pm_provider) if r.pm_provider else ""
            )
        else:
            self.pcp_label.setText(f"<b>{_esc(r.pcp)}</b>")
            how = self._cut_text(r.cut)
            text = self.tr("Since {0} ({1})").format(_date(r.assigned_on), how)
            if r.assignment_reason:
                text += ": " + r.assignment_reason
            self.assignment_label.setText(text)
        confirmed = []
        if r.pcp_id is not None:
            confirmed.append(
                self.tr("Patient confirmed {0}").format(r.patient_confirmed_on.isoformat())
                if r.patient_confirmed_on else self.tr("Not confirmed by the patient")
            )
            confirmed.append(
                self.tr("provider confirmed {0}").format(r.provider_confirmed_on.isoformat())
                if r.provider_confirmed_on else self.tr("not by the provider")
            )
        if r.preferred_provider:
            confirmed.append(self.tr("prefers {0} (since {1})").format(r.preferred_provider, _date(r.preference_recorded_on)))
        self.confirmation_label.setText("  ·  ".join(confirmed))

        risk = r.risk
        if risk.tier is None:
            self.tier_label.setText(_esc(self.tr("No risk tier computed yet (Update now above computes it).")))
            self.risk_reasons_label.clear()
        else:
            colour = TIER_COLOURS.get(risk.tier, "#000000")
            main = self.tr("Tier {0} · {1}").format(risk.tier, risk.label(risk.tier))
            html = f'<b style="color:{colour}">{_esc(main)}</b>'
            if risk.override_tier is not None:
                computed = (
                    self.tr("computed {0} · {1}").format(risk.computed_tier, risk.label(risk.computed_tier))
                    if risk.computed_tier is not None else self.tr("not computed")
                )
                by = self.tr("set by {0} on {1}: {2}").format(risk.override_user or self.tr("someone"), _date(risk.override_at), risk.override_reason)
                html += f' <span style="color:#5a6670">({_esc(computed)}; {_esc(by)})</span>'
            self.tier_label.setText(html)
            reasons = risk.reasons
            if risk.score is not None:
                reasons = self.tr("{0} points as of {1}: {2}").format(f"{risk.score:g}", _date(risk.scored_as_of), reasons)
            self.risk_reasons_label.setText(reasons)

    def _phone_kind(self, kind: str) -> str:
        return {"mobile": self.tr("mobile"), "home": self.tr("home"), "work": self.tr("work")}.get(kind, kind)

    def _cut_text(self, cut: str | None) -> str:
        if cut in ("1", "2", "3", "4"):
            return self.tr("cut {0}").format(cut)
        return {
            "preference": self.tr("patient's choice"),
            "manual": self.tr("by hand"),
            "kept": self.tr("kept"),
            None: self.tr("unknown"),
        }.get(cut, cut or "")

    def _show_lists(self, r: PatientRecord) -> None:
        _fill(
            self.history_table,
            [[_date(h.changed_at), h.from_provider_name or self.tr("(none)"), h.to_provider_name or self.tr("(none)"), h.reason, h.user or ""]
             for h in r.history],
            empty=self.tr("No change of PCP on record."),
        )
        parties = {"patient": self.tr("patient"), "provider": self.tr("provider")}
        answers = {
            "confirmed": self.tr("confirmed"), "changed": self.tr("chose another"), "declined": self.tr("declined"),
            "mine": self.tr("mine"), "not-mine": self.tr("not mine"),
        }
        answer_colours = {"confirmed": "#1b7a3a", "mine": "#1b7a3a", "declined": "#9a5b00", "not-mine": "#b3261e", "changed": "#6a2c9e"}
        _fill(
            self.confirmations_table,
            [[_date(c.recorded_on), parties.get(c.party, c.party), answers.get(c.outcome, c.outcome), c.provider or "",
              c.method or "", c.user or "", c.reason or ""] for c in r.confirmations],
            [{2: answer_colours.get(c.outcome, "")} for c in r.confirmations],
            empty=self.tr("Nobody has confirmed this assignment yet."),
        )
        today = dt.datetime.combine(self.ctx.as_of + dt.timedelta(days=1), dt.time())
        _fill(
            self.visits_table,
            [[_date(v.start), v.provider or "", v.visit_type, v.status, v.reason or ""] for v in r.visits],
            [{0: "#1f3b4d", 3: "#1f3b4d"} if v.start >= today else {} for v in r.visits],
            empty=self.tr("No visits on record."),
        )
        titles = _measure_titles()
        _fill(
            self.outreach_table,
            [[_date(o.logged_at), o.method, (o.outcome or "").replace("-", " "), titles.get(o.measure_id, o.measure_id or self.tr("general")),
              _outreach_note(o, self.tr("withdrawn {0} by {1}")), o.user or ""] for o in r.outreach],
            empty=self.tr("No outreach on record."),
        )
        labels = dict(risk_tier_choices())
        _fill(
            self.overrides_table,
            [[_date(o.recorded_at), f"{o.tier} {labels.get(o.tier, '')}" if o.tier is not None else self.tr("cleared"), o.reason,
              o.user or "", self.tr("yes") if o.active else ""] for o in r.risk.overrides],
            empty=self.tr("The tier has never been set by hand."),
        )

    def _load_gaps(self) -> None:
        """Care gaps with their evidence (the cache when current, else evaluated for this patient)."""
        self._gap_request += 1
        request, patient_id, registry, as_of = self._gap_request, self.patient_id, self.ctx.registry, self.ctx.as_of
        _fill(self.gaps_table, [], empty=self.tr("Looking up care gaps..."))

        def job(progress, cancel):
            with registry.session() as session:
                return patient_gaps(session, patient_id, as_of, progress=progress, cancel=cancel)

        def done(frame) -> None:
            if request == self._gap_request:
                self._show_gaps(frame)

        def failed(message: str) -> None:
            if request == self._gap_request:
                _fill(self.gaps_table, [], empty=self.tr("Care gaps could not be looked up: {0}").format(message))

        run_job(self, self.tr("Looking up care gaps"), job, on_success=done, on_failure=failed,
                on_cancelled=lambda _m: failed(self.tr("cancelled")))

    def _show_gaps(self, frame) -> None:
        statuses = {"open": self.tr("open"), "due-soon": self.tr("due soon"), "met": self.tr("met"), "excluded": self.tr("excluded")}
        rows, colours = [], []
        for g in frame.to_dict("records"):
            rows.append([g["title"], statuses.get(g["status"], g["status"]), _date(g["due_date"]), _date(g["last_date"]),
                         g["last_code"] or "", g["last_value"] or ""])
            colours.append({1: GAP_STATUS_COLOURS.get(g["status"], "")})
        _fill(self.gaps_table, rows, colours, empty=self.tr("No measure applies to this patient."))
        self.gap_rows = frame

    # -- changing
    def open_reassign_dialog(self) -> ReassignDialog | None:
        if self.record is None:
            return None
        from panelmanager.core.panel_fit import default_pcp, proposed_provider

        with self.ctx.registry.session() as session:
            choices = panel_provider_choices(session)
            proposal = proposed_provider(session, self.record.patient_id)
        preselect = default_pcp(choices, [proposal], self.record.age, exclude=self.record.pcp_id)
        dialog = ReassignDialog(self.record, choices, self, preselect=preselect)
        dialog.accepted.connect(lambda: self.reassign(dialog.provider_id(), dialog.reason()))
        self.reassign_dialog = dialog
        dialog.open()
        return dialog

    def reassign(self, provider_id: int | None, reason: str) -> bool:
        """Put the patient on ``provider_id``'s panel (None: off any panel) with ``reason``."""
        if self.patient_id is None:
            return False
        expected = self.record.version if self.record is not None and self.record.patient_id == self.patient_id else None
        try:
            change = run_write(self.ctx.registry, reassign_patient, self.patient_id, provider_id, reason=reason,
                               user=self.ctx.user, as_of=self.ctx.as_of, expected_version=expected)
        except ConcurrencyError as exc:
            QMessageBox.warning(self, self.tr("Reassign"), str(exc))  # who changed the panel and when
            if isinstance(exc, Conflict):
                self.refresh()  # show the panel as it is now
                self.changed.emit()
            return False
        except EmpanelmentError as exc:
            QMessageBox.warning(self, self.tr("Reassign"), str(exc))
            return False
        if not change.changed:
            QMessageBox.information(self, self.tr("Reassign"), self.tr("The patient is already on that panel; nothing changed."))
            return False
        self.changed.emit()
        return True

    def open_override_dialog(self) -> RiskOverrideDialog | None:
        if self.record is None:
            return None
        dialog = RiskOverrideDialog(self.record, self)
        dialog.accepted.connect(lambda: self.override_tier(dialog.tier(), dialog.reason()))
        self.override_dialog = dialog
        dialog.open()
        return dialog

    def override_tier(self, tier: int | None, reason: str) -> bool:
        """Set the risk tier by hand (None: clear the override) with ``reason``."""
        if self.patient_id is None:
            return False
        try:
            with self.ctx.registry.session() as session:
                override_risk_tier(session, self.patient_id, tier, reason, self.ctx.user)
        except ValueError as exc:
            QMessageBox.warning(self, self.tr("Risk tier"), str(exc).capitalize())
            return False
        self.changed.emit()
        return True


class _ReasonDialog(QDialog):
    """A change to the patient's record whose form ends with a required reason and OK / Cancel."""

    def _add_reason_and_buttons(self, form: QFormLayout, placeholder: str, ok_text: str) -> None:
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText(placeholder)
        form.addRow(self.tr("&Reason:"), self.reason_edit)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText(ok_text)
        self.ok_button.setEnabled(False)
        form.addRow(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

    def reason(self) -> str:
        return self.reason_edit.text().strip()


class ReassignDialog(_ReasonDialog):
    """New PCP and a reason (required: it goes in the assignment history)."""

    NOBODY = -1

    def __init__(self, record: PatientRecord, choices: list[PanelProvider], parent: QWidget | None = None, *,
                 preselect: int | None = None) -> None:
        from panelmanager.core.panel_fit import panel_fit

        super().__init__(parent)
        self.setWindowTitle(self.tr("Reassign {0}").format(record.name))
        self._fits = {c.id: panel_fit(c.panel_open, c.specialty, record.age) for c in choices}
        self.setMinimumWidth(460)
        form = QFormLayout(self)
        form.addRow(self.tr("Patient:"), QLabel(f"{record.name}  ·  {record.mrn}"))
        form.addRow(self.tr("Current PCP:"), QLabel(record.pcp or self.tr("(on no panel)")))
        self.provider_combo = QComboBox()
        # Only a fitting 4-cut proposal is preselected (core.panel_fit); otherwise the user picks.
        self.provider_combo.addItem(self.tr("Choose a provider..."), None)
        for choice in choices:
            if choice.id == record.pcp_id:
                continue
            if not choice.panel_open:
                label = choice.name + "  " + self.tr("(panel closed)")
            elif not self._fits[choice.id].fits:
                label = choice.name + "  " + self.tr("(does not fit the patient's age)")
            else:
                label = choice.name
            self.provider_combo.addItem(label, choice.id)
        if record.pcp_id is not None:
            self.provider_combo.addItem(self.tr("Nobody: take the patient off any panel"), self.NOBODY)
        self.provider_combo.setCurrentIndex(max(self.provider_combo.findData(preselect), 0) if preselect else 0)
        form.addRow(self.tr("&New PCP:"), self.provider_combo)
        self.fit_label = QLabel()
        self.fit_label.setWordWrap(True)
        self.fit_label.setStyleSheet("color: #b23b3b;")
        form.addRow(self.fit_label)
        self._add_reason_and_buttons(form, self.tr("Why? It goes in the assignment history."), self.tr("Reassign"))
        self.reason_edit.textChanged.connect(lambda _text: self._update())
        self.provider_combo.currentIndexChanged.connect(lambda _i: self._update())
        self._update()
        self.provider_combo.setFocus()

    def _update(self) -> None:
        chosen = self.provider_combo.currentData()
        fit = self._fits.get(chosen)
        self.fit_label.setText(self.tr("Check first: {0}. The reason below explains why.").format(fit.reason)
                               if fit is not None and not fit.fits else "")
        self.fit_label.setVisible(bool(self.fit_label.text()))
        self.ok_button.setEnabled(chosen is not None and bool(self.reason_edit.text().strip()))

    def provider_id(self) -> int | None:
        value = self.provider_combo.currentData()
        return None if value in (None, self.NOBODY) else int(value)


class RiskOverrideDialog(_ReasonDialog):
    """A tier by hand, or clearing the override; the reason is required."""

    CLEAR = 0

    def __init__(self, record: PatientRecord, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        risk = record.risk
        self.setWindowTitle(self.tr("Risk tier for {0}").format(record.name))
        self.setMinimumWidth(460)
        form = QFormLayout(self)
        computed = (
            self.tr("{0} · {1}").format(risk.computed_tier, risk.label(risk.computed_tier))
            if risk.computed_tier is not None else self.tr("not computed yet")
        )
        form.addRow(self.tr("Computed tier:"), QLabel(computed))
        if risk.override_tier is not None:
            form.addRow(self.tr("Set by hand:"), QLabel(self.tr("{0} · {1} ({2})").format(
                risk.override_tier, risk.label(risk.override_tier), risk.override_reason)))
        self.tier_combo = QComboBox()
        for tier, label in risk_tier_choices():
            self.tier_combo.addItem(self.tr("{0} · {1}").format(tier, label), tier)
        if risk.override_tier is not None:
            self.tier_combo.addItem(self.tr("Clear the override (use the computed tier)"), self.CLEAR)
        current = risk.tier if risk.tier is not None else 1
        self.tier_combo.setCurrentIndex(max(self.tier_combo.findData(current), 0))
        form.addRow(self.tr("&Tier:"), self.tier_combo)
        self._add_reason_and_buttons(form, self.tr("Why? e.g. recent hospital stay, lives alone"), self.tr("Save"))
        self.reason_edit.textChanged.connect(lambda text: self.ok_button.setEnabled(bool(text.strip())))
        self.tier_combo.setFocus()

    def tier(self) -> int | None:
        value = self.tier_combo.currentData()
        return None if value in (None, self.CLEAR) else int(value)


_TITLES: dict[str, str] = {}


def _measure_titles() -> dict[str, str]:
    if not _TITLES:
        from panelmanager.core.outreach import measure_info

        _TITLES.update({mid: info.title for mid, info in measure_info().items()})
    return _TITLES


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _outreach_note(entry, withdrawn: str) -> str:
    """The note, plus the withdrawal of a batch logged by mistake (it stays on record)."""
    if getattr(entry, "withdrawn_at", None) is None:
        return entry.note or ""
    mark = withdrawn.format(f"{entry.withdrawn_at:%Y-%m-%d %H:%M}", entry.withdrawn_by or "-")
    return f"{entry.note}; {mark}" if entry.note else mark
