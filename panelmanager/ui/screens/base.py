"""What every screen has: the shared context, a title, and a refresh when data changed."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QLabel, QTableWidgetItem, QVBoxLayout, QWidget

from panelmanager.ui.context import ALL_KINDS, AppContext


class Screen(QWidget):
    """A page of the main window. Subclasses implement ``reload()`` and name in ``SHOWS`` the
    kinds of change (``ui.context``) that alter what they show; other changes leave them be."""

    SHOWS: frozenset[str] = ALL_KINDS

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._stale = True
        self.cancelled_note = ""
        ctx.changed.connect(self._mark_stale)

    def title(self) -> str:
        raise NotImplementedError

    def _mark_stale(self, kinds: frozenset[str] = ALL_KINDS) -> None:
        if not self.SHOWS & kinds:
            return  # nothing this screen shows changed
        self._stale = True
        if self.isVisible():
            self.refresh()

    def refresh(self) -> None:
        """Reload if the registry changed since this screen last looked."""
        if self._stale:
            self._stale = False
            self.reload()

    def reload(self) -> None:
        """Re-read what the screen shows from the registry (set-based, quick)."""

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.refresh()

    def focus_search(self) -> None:
        """Ctrl+F: put the cursor where the user searches on this screen; by default its first input."""
        self.focus_first_input()

    def focus_main(self) -> None:
        """On show (start-up, Ctrl+1..Ctrl+8): the screen's main input, never the navigation sidebar."""
        self.focus_search()

    def focus_first_input(self) -> bool:
        """The first visible, enabled field in tab order (buttons are skipped: a space must not press one)."""
        widget = self.nextInFocusChain()
        while widget is not None and widget is not self:
            if (self.isAncestorOf(widget) and widget.isVisible() and widget.isEnabled()
                    and widget.focusPolicy() & Qt.FocusPolicy.TabFocus and not isinstance(widget, QAbstractButton)):
                widget.setFocus(Qt.FocusReason.ShortcutFocusReason)
                return True
            widget = widget.nextInFocusChain()
        return False

    def load_cancelled(self, what: str, retry: Callable[[], None]) -> None:
        """A load was cancelled: say so, and offer to load again (the status bar's Load again button)."""
        self._stale = True  # showing the screen again loads it
        self.cancelled_note = self.tr("{0} was cancelled; nothing was changed.").format(what)
        offer = getattr(self.window(), "offer_load_again", None)
        if offer is not None:
            offer(self.cancelled_note, retry)

    def status_message(self, text: str, msecs: int = 8000) -> None:
        """A passing note in the main window's status bar (nothing when shown alone)."""
        bar = getattr(self.window(), "statusBar", None)
        if callable(bar):
            bar().showMessage(text, msecs)

    def show_patient(self, patient_id: int) -> None:
        """Open the patient's record on the Patients screen (the main window navigates)."""
        opener = getattr(self.window(), "open_patient", None)  # absent when a screen is shown alone
        if opener is not None:
            opener(int(patient_id))


def heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("screenHeading")
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 1.5)
    font.setBold(True)
    label.setFont(font)
    return label


def table_item(value, align_right: bool = False) -> QTableWidgetItem:
    """A read-only cell for the small QTableWidget lists (results, reports)."""
    item = QTableWidgetItem("" if value is None else str(value))
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


class PlaceholderScreen(Screen):
    """Shown for a screen whose module is not installed in this build."""

    def __init__(self, ctx: AppContext, name: str, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self._name = name
        layout = QVBoxLayout(self)
        layout.addWidget(heading(name))
        layout.addWidget(QLabel(self.tr("This screen is not available in this version.")))
        layout.addStretch(1)

    def title(self) -> str:
        return self._name
