"""The day-and-provider toolbar of the day screens (Check-in, Huddle): a date field with a
calendar, previous/next day buttons, a back-to-the-as-of-date button and a provider picker.
Each screen passes its own labels (the mnemonics must not clash with the screen's others)
and adds its own widgets after the provider (``add_widget``); it wires the signals itself."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QWidget

from panelmanager.ui.widgets.date_edit import DateEdit


class DayProviderBar(QWidget):
    """``date_edit``, ``prev_button``, ``next_button``, ``today_button``, ``provider_combo``."""

    def __init__(
        self,
        *,
        date_label: str,
        provider_label: str,
        today_label: str,
        today_tip: str,
        prev_tip: str,
        next_tip: str,
        arrows_around_date: bool = False,
        date_min_width: int | None = None,
        provider_min_chars: int = 22,
        provider_adjust: QComboBox.SizeAdjustPolicy = QComboBox.SizeAdjustPolicy.AdjustToContents,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.date_label = QLabel(date_label)
        self.date_edit = DateEdit()
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("ddd yyyy-MM-dd")
        self.date_edit.setMinimumWidth(
            date_min_width if date_min_width is not None
            else self.date_edit.fontMetrics().horizontalAdvance("Wed 2000-00-00") + 48
        )
        self.date_label.setBuddy(self.date_edit)
        self.prev_button = QPushButton("◀")
        self.prev_button.setToolTip(prev_tip)
        self.prev_button.setAccessibleName(prev_tip.split(" (")[0])
        self.next_button = QPushButton("▶")
        self.next_button.setToolTip(next_tip)
        self.next_button.setAccessibleName(next_tip.split(" (")[0])
        for button in (self.prev_button, self.next_button):
            button.setFixedWidth(button.fontMetrics().horizontalAdvance("▶") * 2 + 24)
            button.setAutoDefault(False)
        self.today_button = QPushButton(today_label)
        self.today_button.setToolTip(today_tip)
        self.provider_label = QLabel(provider_label)
        self.provider_combo = QComboBox()
        self.provider_combo.setMinimumContentsLength(provider_min_chars)
        self.provider_combo.setSizeAdjustPolicy(provider_adjust)
        self.provider_label.setBuddy(self.provider_combo)

        self.row.addWidget(self.date_label)
        if arrows_around_date:
            self.row.addWidget(self.prev_button)
            self.row.addWidget(self.date_edit)
        else:
            self.row.addWidget(self.date_edit)
            self.row.addWidget(self.prev_button)
        self.row.addWidget(self.next_button)
        self.row.addWidget(self.today_button)
        self.row.addSpacing(16)
        self.row.addWidget(self.provider_label)
        self.row.addWidget(self.provider_combo)

    def add_widget(self, widget: QWidget, stretch: int = 0, *, space_before: int = 0) -> None:
        if space_before:
            self.row.addSpacing(space_before)
        self.row.addWidget(widget, stretch)

    def add_stretch(self) -> None:
        self.row.addStretch(1)
