"""The check-in confirm panel: "Is Dr. X your primary care provider?", answered in a keystroke.

Enter confirms the assigned PCP, Alt+C opens "Change to..." (the patient names another
provider: recorded as their preference and they move to that panel at once; Enter
records it, Esc goes back), Alt+D records that the patient declined to answer. A
patient on no panel is offered a provider instead (the visit's provider preselected):
Enter assigns them, as the patient's preference. Every answer goes through
``core.empanelment.confirm_assignment(by="patient", method="check-in")`` with the
current user; the care gaps to mention at this visit are listed beside the question.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from panelmanager.core.concurrency import ConcurrencyError, Conflict, run_write
from panelmanager.core.panel_fit import panel_fit
from panelmanager.core.schedule import CheckInSubject
from panelmanager.ui.models.schedule import STATUS_COLOURS
from panelmanager.ui.widgets.patient_header import PatientHeader, patient_facts

METHOD = "check-in"

_STYLE = """
QFrame#confirmPanel { background: #ffffff; border: 1px solid #c9d3da; border-radius: 6px; }
QFrame#confirmPanel QLabel { background: transparent; }
QLabel#confirmName { color: #1f3b4d; }
QLabel#confirmQuestion { color: #1f3b4d; }
QLabel#confirmMuted, QLabel#confirmHint { color: #5a6670; }
QLabel#confirmMessage { color: #1b7a3a; font-weight: bold; }
QLabel#gapsHeading { color: #1f3b4d; font-weight: bold; }
QListWidget#gapsList { border: none; background: #f6f8f9; }
QListWidget#gapsList::item { padding: 3px 2px; }
QPushButton#confirmButton { background: #2a9d8f; color: white; font-weight: bold; border: 1px solid #21867a;
  border-radius: 4px; padding: 6px 14px; }
QPushButton#confirmButton:focus { border: 2px solid #1f3b4d; }
QPushButton#confirmButton:disabled { background: #a9cfc9; }
"""


class ConfirmPanel(QFrame):
    """Shows one ``CheckInSubject`` and records the patient's answer."""

    # Tests replace this so no real input box opens: (parent, title, label) -> (text, ok).
    ask_reason = staticmethod(lambda parent, title, label: QInputDialog.getText(parent, title, label))

    recorded = Signal(object)  # core.empanelment.ConfirmationResult
    focus_back = Signal()  # done with the provider choice: the screen puts the cursor back
    content_changed = Signal()  # lines came or went: the screen may give the panel more height

    def __init__(self, ctx, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.subject: CheckInSubject | None = None
        self.mode = "none"  # none, assigned, unassigned
        self.setObjectName("confirmPanel")
        self.setStyleSheet(_STYLE)
        self.setFrameShape(QFrame.Shape.StyledPanel)

        outer = QHBoxLayout(self)
        outer.setContentsMargins(14, 12, 14, 12)
        outer.setSpacing(18)

        left = QVBoxLayout()
        left.setSpacing(6)
        self.header = PatientHeader("confirmName", "confirmMuted", spacing=6, selectable_facts=False)
        self.name_label, self.info_label = self.header.name_label, self.header.facts_label
        self.question_label = QLabel()
        self.question_label.setObjectName("confirmQuestion")
        self.question_label.setWordWrap(True)
        qfont = self.question_label.font()
        qfont.setPointSizeF(qfont.pointSizeF() * 1.2)
        qfont.setBold(True)
        self.question_label.setFont(qfont)
        self.detail_label = QLabel()
        self.detail_label.setObjectName("confirmMuted")
        self.detail_label.setWordWrap(True)
        self.state_label = QLabel()
        self.state_label.setWordWrap(True)

        self.buttons_row = QWidget()
        buttons = QHBoxLayout(self.buttons_row)
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setSpacing(8)
        # The keys are part of the labels: explicit shortcuts (install_shortcuts), not mnemonics,
        # so they work the same on every platform and never move the focus off the list.
        self.confirm_button = QPushButton(self.tr("Yes, confirm   Enter"))
        self.confirm_button.setObjectName("confirmButton")
        self.confirm_button.setToolTip(self.tr("The patient confirms this provider as their PCP"))
        self.change_button = QPushButton(self.tr("Change to...   Alt+C"))
        self.change_button.setToolTip(self.tr("The patient names another provider: pick them, then Enter"))
        self.declined_button = QPushButton(self.tr("Declined   Alt+D"))
        self.declined_button.setToolTip(self.tr("The patient was asked and did not answer"))
        for button in (self.confirm_button, self.change_button, self.declined_button):
            buttons.addWidget(button)
        buttons.addStretch(1)

        self.change_row = QWidget()
        change = QHBoxLayout(self.change_row)
        change.setContentsMargins(0, 0, 0, 0)
        self.change_label = QLabel(self.tr("Their choice:"))  # no mnemonic: Alt+C is "Change to..."
        self.provider_combo = QComboBox()
        self.provider_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.provider_combo.setMinimumContentsLength(18)
        self.change_label.setBuddy(self.provider_combo)
        self.record_button = QPushButton(self.tr("Record choice   Enter"))
        self.record_button.setObjectName("confirmButton")
        self.cancel_change_button = QPushButton(self.tr("Back   Esc"))
        self.cancel_change_button.setToolTip(self.tr("Back to the question"))
        change.addWidget(self.change_label)
        change.addWidget(self.provider_combo, 1)
        change.addWidget(self.record_button)
        change.addWidget(self.cancel_change_button)

        self.hint_label = QLabel()
        self.hint_label.setObjectName("confirmHint")
        self.message_label = QLabel()
        self.message_label.setObjectName("confirmMessage")
        self.message_label.setWordWrap(True)

        left.addWidget(self.header)
        left.addSpacing(4)
        left.addWidget(self.question_label)
        left.addWidget(self.detail_label)
        left.addWidget(self.state_label)
        left.addSpacing(2)
        left.addWidget(self.buttons_row)
        left.addWidget(self.change_row)
        self.left_layout = left
        left.addWidget(self.hint_label)
        left.addWidget(self.message_label)
        left.addStretch(1)

        right = QVBoxLayout()
        right.setSpacing(4)
        self.gaps_heading = QLabel(self.tr("Care gaps to mention"))
        self.gaps_heading.setObjectName("gapsHeading")
        self.gaps_list = QListWidget()
        self.gaps_list.setObjectName("gapsList")
        self.gaps_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.gaps_list.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.gaps_list.setWordWrap(True)
        right.addWidget(self.gaps_heading)
        right.addWidget(self.gaps_list, 1)

        self.left_box = QWidget()
        self.left_box.setLayout(left)
        self.left_box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.right_box = QWidget()
        self.right_box.setLayout(right)
        outer.addWidget(self.left_box, 3)
        outer.addWidget(self.right_box, 2)

        self.confirm_button.clicked.connect(self.confirm)
        self.change_button.clicked.connect(self.start_change)
        self.declined_button.clicked.connect(self.decline)
        self.record_button.clicked.connect(lambda: self.record_change())
        self.cancel_change_button.clicked.connect(self.cancel_change)
        self.provider_combo.installEventFilter(self)
        self.set_subject(None)

    # -- showing
    def set_subject(self, subject: CheckInSubject | None, *, keep_message: bool = False) -> None:
        same_patient = subject is not None and self.subject is not None and subject.patient_id == self.subject.patient_id
        self.subject = subject
        if not (keep_message and same_patient):
            self.message_label.clear()
        if subject is None:
            self.mode = "none"
            self.name_label.setText(self.tr("No patient selected"))
            self.info_label.setText(
                self.tr("Select a patient on the schedule, or find one with the search box (Ctrl+F), to confirm their primary care provider.")
            )
            for widget in (self.question_label, self.detail_label, self.state_label, self.hint_label):
                widget.clear()
            for widget in (self.confirm_button, self.change_button, self.declined_button, self.change_row):
                widget.hide()
            self.right_box.hide()
            self.content_changed.emit()
            return
        self.right_box.show()
        self.name_label.setText(subject.name)
        self.info_label.setText(self._info_text(subject))
        self.declined_button.show()
        self._place_change_row(first=subject.pcp_id is None)
        if subject.pcp_id is None:
            self.mode = "unassigned"
            first = subject.name.split(", ", 1)[-1] if ", " in subject.name else subject.name
            self.question_label.setText(
                self.tr("{0} has no primary care provider on record. Who would they like as their PCP?").format(first)
            )
            self.detail_label.setText(
                self.tr("Their choice is recorded as the patient's preference and puts them on that provider's panel.")
            )
            self.confirm_button.hide()
            self.change_button.hide()
            self.record_button.setText(self.tr("Assign as PCP   Enter"))
            self.record_button.setToolTip(self.tr("Put the patient on this provider's panel, as their choice"))
            self.cancel_change_button.hide()
            self._fill_providers(subject.suggested_provider_id)
            self.change_row.show()
            self.hint_label.setText(
                self._no_panel_holders() if not subject.choices
                else self.tr("Pick their choice with the arrow keys or by typing a name.")
            )
        else:
            self.mode = "assigned"
            self.question_label.setText(self.tr("Is {0} your primary care provider?").format(subject.pcp))
            self.detail_label.setText(self._assignment_text(subject))
            self.confirm_button.show()
            self.change_button.show()
            self.record_button.setText(self.tr("Record choice   Enter"))
            self.record_button.setToolTip(self.tr("Record the patient's choice and move them to that panel"))
            self.cancel_change_button.show()
            self.change_row.hide()
            self.hint_label.clear()
        self.state_label.setText(self._state_text(subject))
        self.content_changed.emit()

    def _place_change_row(self, first: bool) -> None:
        """For a patient on no panel the provider choice is the question: it comes before "Declined"."""
        layout = self.left_layout
        layout.removeWidget(self.change_row)
        at = layout.indexOf(self.buttons_row)
        layout.insertWidget(at if first else at + 1, self.change_row)

    def needed_height(self) -> int:
        """The height the panel needs at its current width (wrapped labels included)."""
        layout = self.layout()
        width = max(self.width(), 600)
        if layout.hasHeightForWidth():
            return layout.totalHeightForWidth(width)
        return layout.totalSizeHint().height()

    def _info_text(self, s: CheckInSubject) -> str:
        text = patient_facts(s.mrn, s.dob, s.age, s.sex)
        if s.visit_start is not None:
            visit = self.tr("{0} {1} with {2}").format(
                s.visit_start.strftime("%H:%M"), s.visit_type or self.tr("visit"), s.visit_provider or self.tr("no provider")
            )
            if s.visit_start.date() != s.day:
                visit = s.visit_start.date().isoformat() + " " + visit
            text += "\n" + visit
        else:
            text += "\n" + self.tr("Not on the schedule for {0}.").format(s.day.isoformat())
        return text

    def _assignment_text(self, s: CheckInSubject) -> str:
        lines = []
        if s.status == "other" and s.visit_provider:
            lines.append(self.tr("Today's visit is with {0}, not their assigned PCP.").format(s.visit_provider))
        if s.assigned_on is not None:
            why = f": {s.assignment_reason}" if s.assignment_reason else ""
            lines.append(self.tr("On this panel since {0}{1}").format(s.assigned_on.isoformat(), why))
        if s.preferred_provider and s.preferred_provider_id != s.pcp_id:
            lines.append(self.tr("Stated preference: {0}").format(s.preferred_provider))
        return "\n".join(lines)

    def _state_text(self, s: CheckInSubject) -> str:
        colour = STATUS_COLOURS.get(s.status if s.status != "other" else ("confirmed" if s.patient_confirmed_on else "unconfirmed"))
        if s.answered_today and s.last_answer == "declined":
            text = self.tr("Asked today: the patient declined to answer.")
            colour = STATUS_COLOURS["unconfirmed"]
        elif s.patient_confirmed_on is not None:
            text = self.tr("Confirmed by the patient on {0}.").format(s.patient_confirmed_on.isoformat())
        elif s.pcp_id is not None:
            text = self.tr("Not confirmed by the patient yet.")
            if s.last_answer == "declined" and s.last_answer_on is not None:
                text += " " + self.tr("Declined to answer on {0}.").format(s.last_answer_on.isoformat())
        else:
            text = self.tr("On no provider's panel.")
            colour = STATUS_COLOURS["unassigned"]
        return f'<span style="color:{colour}; font-weight:bold">{_escape(text)}</span>'

    def _no_panel_holders(self) -> str:
        """No one to choose from: say what is missing and where to fix it (core.providers)."""
        from panelmanager.core.providers import panel_holder_problem

        self.hint_label.setWordWrap(True)
        with self.ctx.registry.session() as session:
            problem = panel_holder_problem(session)
        return problem or self.tr("No provider holds a panel yet: see Settings > Providers.")

    def _fill_providers(self, preselect: int | None) -> None:
        s = self.subject
        self.provider_combo.clear()
        if s is None:
            return
        # No fitting default (core.panel_fit): the desk must pick; Enter alone records nothing.
        self.provider_combo.addItem(self.tr("Choose a provider..."), None)
        for choice in s.choices:
            if self.mode == "assigned" and choice.id == s.pcp_id:
                continue
            label = choice.name
            notes = []
            if choice.id == s.visit_provider_id:
                notes.append(self.tr("this visit"))
            if not choice.panel_open:
                notes.append(self.tr("panel closed"))
            elif not panel_fit(True, choice.specialty, s.age).fits:
                notes.append(self.tr("does not fit the patient's age"))
            if notes:
                label += "  (" + ", ".join(notes) + ")"
            self.provider_combo.addItem(label, choice.id)
        index = self.provider_combo.findData(preselect) if preselect is not None else -1
        self.provider_combo.setCurrentIndex(max(index, 0))

    def set_gaps(self, gaps: list[dict] | None, *, failed: str | None = None) -> None:
        """The care gaps to mention (rows of ``core.schedule.visit_gaps``); None: still looking."""
        self.gaps_list.clear()
        if failed:
            self.gaps_heading.setText(self.tr("Care gaps to mention"))
            self._gap_item(self.tr("Care gaps could not be looked up: {0}").format(failed), "#5a6670")
            return
        if gaps is None:
            self.gaps_heading.setText(self.tr("Care gaps to mention"))
            self._gap_item(self.tr("Looking up care gaps..."), "#5a6670")
            return
        open_count = sum(1 for g in gaps if g["status"] == "open")
        self.gaps_heading.setText(self.tr("Care gaps to mention ({0})").format(open_count) if gaps else self.tr("Care gaps to mention"))
        if not gaps:
            self._gap_item(self.tr("No open care gaps."), "#1b7a3a")
            return
        for gap in gaps:
            soon = gap["status"] == "due-soon"
            text = gap["text"] + ("  " + self.tr("(due soon)") if soon and ", due " not in gap["text"] else "")
            item = self._gap_item("●  " + text, "#9a5b00" if soon else "#b3261e")
            item.setToolTip(gap.get("title") or "")

    def _gap_item(self, text: str, colour: str) -> QListWidgetItem:
        item = QListWidgetItem(text)
        item.setForeground(QColor(colour))
        font = QFont(self.gaps_list.font())
        font.setPointSizeF(font.pointSizeF() * 1.1)
        item.setFont(font)
        self.gaps_list.addItem(item)
        return item

    def install_shortcuts(self, scope: QWidget) -> None:
        """Alt+C and Alt+D while the cursor is anywhere in ``scope`` (Enter confirms: see ``primary_action``)."""
        for keys, slot in (("Alt+C", self.start_change), ("Alt+D", self.decline)):
            shortcut = QShortcut(QKeySequence(keys), scope)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

    # -- answering
    def primary_action(self) -> None:
        """Enter: record the choice when choosing, else confirm (or assign a patient on no panel)."""
        if self.mode == "none":
            return
        if self.change_row.isVisible() or self.mode == "unassigned":
            self.record_change()
        else:
            self.confirm()

    def confirm(self) -> None:
        if self.mode != "assigned":
            return
        self._record("confirmed")

    def start_change(self) -> None:
        if self.mode == "unassigned":
            self.provider_combo.setFocus()
        if self.mode != "assigned":
            return
        s = self.subject
        preselect = s.suggested_provider_id if s is not None else None
        self._fill_providers(preselect)
        self.change_row.show()
        self.provider_combo.setFocus()
        self.content_changed.emit()

    def cancel_change(self) -> None:
        if self.mode == "assigned":
            self.change_row.hide()
            self.focus_back.emit()

    def record_change(self, provider_id: int | None = None) -> None:
        if self.mode == "none":
            return
        provider_id = provider_id if provider_id is not None else self.provider_combo.currentData()
        if provider_id is None:
            if self.subject is not None and not self.subject.choices:
                QMessageBox.information(self, self.tr("Check-in"), self._no_panel_holders())
                return
            self.message_label.setText(self.tr("Choose the provider the patient wants as their PCP first."))
            self.provider_combo.setFocus()
            return
        reason = self.unfit_reason(int(provider_id))
        if reason is False:
            return
        self._record("changed", int(provider_id), reason=reason or None)

    def unfit_reason(self, provider_id: int) -> str | None | bool:
        """A closed or unfitting panel needs a reason: the reason, None when it fits, False when not given."""
        s = self.subject
        choice = next((c for c in s.choices if c.id == provider_id), None) if s is not None else None
        if choice is None:
            return None
        fit = panel_fit(choice.panel_open, choice.specialty, s.age)
        if fit.fits:
            return None
        text, ok = type(self).ask_reason(
            self, self.tr("Check-in"),
            self.tr("{0}: {1}. Why put {2} on this panel?").format(choice.name, fit.reason, s.name),
        )
        if not ok or not text.strip():
            self.message_label.setText(self.tr("Not recorded: {0} needs a reason ({1}).").format(choice.name, fit.reason))
            return False
        return text.strip()

    def decline(self) -> None:
        if self.mode == "none":
            return
        self._record("declined")

    def _record(self, outcome: str, provider_id: int | None = None, *, reason: str | None = None) -> None:
        s = self.subject
        if s is None:
            return
        # Imported on first use: the empanelment services pull in pandas (not on the start-up path).
        from panelmanager.core.empanelment import EmpanelmentError, confirm_assignment

        try:
            # One write transaction (retried briefly while another workstation writes), refused
            # when someone changed the patient's panel since this panel showed it.
            result = run_write(
                self.ctx.registry,
                confirm_assignment,
                s.patient_id,
                by="patient",
                outcome=outcome,
                provider_id=provider_id,
                method=METHOD,
                reason=reason,
                user=self.ctx.user,
                as_of=self.ctx.as_of,
                expected_version=s.version,
            )
        except ConcurrencyError as exc:
            self.show_conflict(exc)
            return
        except EmpanelmentError as exc:
            QMessageBox.warning(self, self.tr("Check-in"), str(exc))
            return
        name = next((c.name for c in s.choices if c.id == provider_id), None) if provider_id else s.pcp
        when = dt.datetime.now().strftime("%H:%M")
        if outcome == "confirmed":
            text = self.tr("Recorded at {0}: confirmed {1} as their PCP.").format(when, s.pcp)
        elif outcome == "declined":
            text = self.tr("Recorded at {0}: the patient declined to answer.").format(when)
        elif s.pcp_id is None:
            text = self.tr("Recorded at {0}: now on {1}'s panel, as the patient's choice.").format(when, name)
        else:
            text = self.tr("Recorded at {0}: the patient chose {1}; moved to that panel.").format(when, name)
        was_choosing = self.change_row.isVisible() and self.mode == "assigned"
        self.change_row.setVisible(self.mode == "unassigned")
        self.message_label.setText("✓ " + text)
        self.recorded.emit(result)
        if was_choosing or self.provider_combo.hasFocus():
            self.focus_back.emit()

    def show_conflict(self, exc: ConcurrencyError) -> None:
        """Another workstation got there first (or is busy): say so, and show what is there now."""
        text = str(exc)  # core's message for the user: who changed the panel and when, never patient data
        QMessageBox.warning(self, self.tr("Check-in"), text)
        if isinstance(exc, Conflict):
            self.ctx.notify_changed()  # every screen re-reads; the check-in screen shows the new panel
        self.message_label.setText(text)

    # -- keys inside the provider choice
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.provider_combo and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not self.provider_combo.view().isVisible():
                self.record_change()
                return True
            if key == Qt.Key.Key_Escape and self.mode == "assigned":
                self.cancel_change()
                return True
        return super().eventFilter(watched, event)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
