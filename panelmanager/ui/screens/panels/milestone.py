"""Panels screen, top: the empanelment milestone box (level badge, what the next level
needs, the figures behind it)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from panelmanager.core.capacity import milestone
from panelmanager.ui.widgets.tables import html_text as _html


class MilestoneMixin:
    """The milestone box of ``PanelsScreen`` (a mixin: the screen holds the widgets)."""

    def _build_milestone(self) -> QWidget:
        box = QFrame()
        box.setObjectName("milestoneBox")
        grid = QGridLayout(box)
        grid.setContentsMargins(14, 10, 14, 10)
        grid.setHorizontalSpacing(16)
        self.level_badge = QLabel("–")
        self.level_badge.setObjectName("levelBadge")
        self.level_badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.level_badge.font()
        font.setPointSizeF(font.pointSizeF() * 2.4)
        font.setBold(True)
        self.level_badge.setFont(font)
        self.level_badge.setMinimumWidth(self.fontMetrics().horizontalAdvance("Level 4") + 24)
        self.level_caption = QLabel(self.tr("of 4"))
        self.level_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.level_caption.setObjectName("levelCaption")
        self.level_badge.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        badge = QVBoxLayout()
        badge.setSpacing(0)
        badge.addWidget(self.level_badge)
        badge.addWidget(self.level_caption)
        badge.addStretch(1)
        grid.addLayout(badge, 0, 0, 3, 1)
        self.milestone_title = QLabel()
        self.milestone_title.setObjectName("milestoneTitle")
        self.milestone_title.setWordWrap(True)
        title_font = self.milestone_title.font()
        title_font.setBold(True)
        title_font.setPointSizeF(title_font.pointSizeF() * 1.1)
        self.milestone_title.setFont(title_font)
        self.milestone_next = QLabel()
        self.milestone_next.setWordWrap(True)
        self.milestone_next.setTextFormat(Qt.TextFormat.RichText)
        self.milestone_details = QLabel()
        self.milestone_details.setWordWrap(True)
        self.milestone_details.setTextFormat(Qt.TextFormat.RichText)
        self.milestone_details.setVisible(False)
        self.details_button = QToolButton()
        self.details_button.setText(self.tr("Show the &figures"))
        self.details_button.setCheckable(True)
        self.details_button.toggled.connect(self._toggle_details)
        grid.addWidget(self.milestone_title, 0, 1)
        grid.addWidget(self.details_button, 0, 2, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.milestone_next, 1, 1, 1, 2)
        grid.addWidget(self.milestone_details, 2, 1, 1, 2)
        grid.setColumnStretch(1, 1)
        return box

    def _toggle_details(self, shown: bool) -> None:
        self.milestone_details.setVisible(shown)
        self.details_button.setText(self.tr("Hide the &figures") if shown else self.tr("Show the &figures"))


    def _reader_milestone(self):
        as_of = self.ctx.as_of
        return lambda session: milestone(session, as_of)


    def _apply_milestone(self, report) -> None:
        self.level_badge.setText(str(report.level))
        self.level_badge.setProperty("level", report.level)
        self.level_badge.style().unpolish(self.level_badge)
        self.level_badge.style().polish(self.level_badge)
        self.milestone_title.setText(
            self.tr("Empanelment milestone: level {0} of 4, {1}").format(report.level, report.label[0].lower() + report.label[1:])
        )
        if report.missing:
            items = "".join(f"<li>{_html(text)}</li>" for text in report.missing)
            self.milestone_next.setText(
                self.tr("<b>To reach level {0}:</b>").format(report.level + 1) + f"<ul style='margin:2px 0 0 -20px'>{items}</ul>"
            )
        else:
            self.milestone_next.setText(self.tr("<b>Top level reached.</b> Keep reviewing panels within the review period to stay here."))
        lines = []
        for reason in report.reasons:
            met = reason.startswith("Met")
            mark = "<span style='color:#1e7b45'>&#10003;</span>" if met else "<span style='color:#b42318'>&#10007;</span>"
            lines.append(f"{mark} {_html(reason.split(': ', 1)[-1])}")
        figures = report.figures
        lines.append(
            self.tr("{0:,} active patients, {1:,} assigned, {2:,} confirmed by their provider, {3:,} by the patient.").format(
                figures.get("active_patients", 0), figures.get("assigned", 0), figures.get("provider_confirmed", 0),
                figures.get("patient_confirmed", 0),
            )
        )
        self.milestone_details.setText("<br>".join(lines))
        self.milestone_report = report

