"""Small painted widgets for the Panels and Dashboard screens.

- ``PercentBarDelegate``: a table cell showing a percent of target as a bar with a tick
  at 100% (green with room, amber near, red over).
- ``RateCellDelegate``: a dashboard grid cell: the rate large, "numerator / denominator"
  small, on the colour the model gives (red below goal, green at or above).
- ``PanelSizeChart``: a horizontal bar chart of each provider's panel against their
  target, with axis labels, grid lines, a legend and a tooltip per bar. Horizontal bars
  keep provider names readable from 3 providers to 70.

All sizes derive from the font's metrics, so they follow 150% scaling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionHeader,
    QStyleOptionViewItem,
    QToolTip,
    QWidget,
)

TEAL = QColor("#2a9d8f")
NAVY = QColor("#1f3b4d")
AMBER = QColor("#e9c46a")
ORANGE = QColor("#e76f51")
RED = QColor("#c0392b")
GREEN_BG = QColor("#d4edda")
GREEN_FG = QColor("#14532d")
RED_BG = QColor("#f8d7da")
RED_FG = QColor("#7f1d1d")
NEUTRAL_BG = QColor("#eef1f4")
NEUTRAL_FG = QColor("#5b6770")
GRID = QColor("#dde3e8")
CLOSED = QColor("#9cc9c3")
AXIS = QColor("#5b6770")

PERCENT_ROLE = Qt.ItemDataRole.UserRole + 10  # a float percent (or None) for PercentBarDelegate


def percent_colour(percent: float) -> QColor:
    """Green while a panel has room, amber from 90% of target, red above 110%."""
    if percent > 110:
        return ORANGE
    if percent >= 90:
        return AMBER
    return TEAL


class PercentBarDelegate(QStyledItemDelegate):
    """Paints ``index.data(PERCENT_ROLE)`` as a bar (full width = ``scale_max`` percent)."""

    def __init__(self, parent=None, scale_max: float = 150.0) -> None:
        super().__init__(parent)
        self.scale_max = scale_max

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        percent = index.data(PERCENT_ROLE)
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        if percent is None:
            painter.save()
            painter.setPen(NEUTRAL_FG)
            painter.drawText(option.rect.adjusted(6, 0, -6, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, "—")
            painter.restore()
            return
        fm = QFontMetrics(option.font)
        text = f"{percent:.0f}%"
        text_width = fm.horizontalAdvance("888%") + 8
        rect = option.rect.adjusted(6, 5, -6, -5)
        bar_area = QRectF(rect.left(), rect.top(), max(10, rect.width() - text_width), rect.height())
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(NEUTRAL_BG)
        painter.drawRoundedRect(bar_area, 3, 3)
        filled = bar_area.adjusted(0, 0, 0, 0)
        filled.setWidth(bar_area.width() * min(percent, self.scale_max) / self.scale_max)
        painter.setBrush(percent_colour(percent))
        painter.drawRoundedRect(filled, 3, 3)
        tick_x = bar_area.left() + bar_area.width() * 100.0 / self.scale_max
        painter.setPen(QPen(NAVY, 1.5))
        painter.drawLine(QPointF(tick_x, bar_area.top() - 2), QPointF(tick_x, bar_area.bottom() + 2))
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setPen(option.palette.color(QPalette.ColorRole.HighlightedText) if selected else option.palette.color(QPalette.ColorRole.Text))
        text_rect = QRectF(bar_area.right() + 4, rect.top(), text_width, rect.height())
        painter.drawText(text_rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight), text)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:  # noqa: N802
        fm = QFontMetrics(option.font)
        return QSize(fm.horizontalAdvance("888%") + 150, fm.height() + 12)


class RateCellDelegate(QStyledItemDelegate):
    """A grid cell: the model's DisplayRole is "rate\\nnumerator/denominator"."""

    @staticmethod
    def fonts(base: QFont) -> tuple[QFont, QFont]:
        big = QFont(base)
        big.setBold(True)
        big.setPointSizeF(base.pointSizeF() * 1.1)
        small = QFont(base)
        small.setPointSizeF(base.pointSizeF() * 0.85)
        return big, small

    @classmethod
    def minimum_width(cls, base: QFont, counts: str = "8,888/8,888") -> int:
        """The narrowest column that shows "100.0%" and ``counts`` (the widest n/d) unclipped."""
        big, small = cls.fonts(base)
        return max(QFontMetrics(big).horizontalAdvance("100.0%"), QFontMetrics(small).horizontalAdvance(counts)) + 14

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index) -> None:
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        background = index.data(Qt.ItemDataRole.BackgroundRole)
        foreground = index.data(Qt.ItemDataRole.ForegroundRole)
        bg = background.color() if isinstance(background, QBrush) else (background if isinstance(background, QColor) else NEUTRAL_BG)
        fg = foreground.color() if isinstance(foreground, QBrush) else (foreground if isinstance(foreground, QColor) else NEUTRAL_FG)
        rate, _, counts = text.partition("\n")
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        tile = QRectF(option.rect).adjusted(2, 2, -2, -2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(bg)
        painter.drawRoundedRect(tile, 4, 4)
        if option.state & QStyle.StateFlag.State_Selected or option.state & QStyle.StateFlag.State_HasFocus:
            painter.setPen(QPen(NAVY, 2.5))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(tile.adjusted(1, 1, -1, -1), 4, 4)
        big, small = self.fonts(option.font)
        big_h = QFontMetrics(big).height()
        small_h = QFontMetrics(small).height()
        top = tile.top() + (tile.height() - big_h - small_h) / 2
        painter.setPen(fg)
        painter.setFont(big)
        painter.drawText(QRectF(tile.left(), top, tile.width(), big_h), int(Qt.AlignmentFlag.AlignCenter), rate)
        painter.setFont(small)
        painter.drawText(QRectF(tile.left(), top + big_h, tile.width(), small_h), int(Qt.AlignmentFlag.AlignCenter), counts)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:  # noqa: N802
        fm = QFontMetrics(option.font)
        return QSize(self.minimum_width(option.font), int(fm.height() * 2.6) + 8)


class TitleHeader(QHeaderView):
    """A horizontal header whose sections read "title\\nsubtitle": the title wraps onto as many
    lines as the height allows (shrinking its font a little when a long word needs it),
    the subtitle sits on the last line in a smaller grey font."""

    def __init__(self, parent=None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setDefaultAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setHighlightSections(False)

    FACTORS = (1.0, 0.92, 0.85, 0.78, 0.72, 0.66)

    def _title_factor(self, height: float) -> float:
        """One font size for every title: the largest at which all of them fit their sections."""
        model = self.model()
        if model is None:
            return 1.0
        titles = []
        for section in range(self.count()):
            text = str(model.headerData(section, self.orientation(), Qt.ItemDataRole.DisplayRole) or "")
            # A few pixels to spare: hinting at 150% draws a little wider than the metrics say.
            titles.append((text.partition("\n")[0], max(self.sectionSize(section) - 14, 1)))
        key = (tuple(titles), int(height), self.font().pointSizeF())
        if getattr(self, "_factor_key", None) == key:
            return self._factor
        flags = int(Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap)
        chosen = self.FACTORS[-1]
        for factor in self.FACTORS:
            font = QFont(self.font())
            font.setBold(True)
            font.setPointSizeF(self.font().pointSizeF() * factor)
            fm = QFontMetrics(font)
            fits = True
            for title, width in titles:
                longest = max((fm.horizontalAdvance(word) for word in title.split()), default=0)
                needed = fm.boundingRect(QRect(0, 0, int(width), 10_000), flags, title)
                if longest > width or needed.height() > height:
                    fits = False
                    break
            if fits:
                chosen = factor
                break
        self._factor_key, self._factor = key, chosen
        return chosen

    def paintSection(self, painter: QPainter, rect: QRect, logical_index: int) -> None:  # noqa: N802
        if not rect.isValid():
            return
        option = QStyleOptionHeader()
        self.initStyleOption(option)
        option.rect = rect
        option.section = logical_index
        option.text = ""
        option.textAlignment = Qt.AlignmentFlag.AlignCenter
        painter.save()
        self.style().drawControl(QStyle.ControlElement.CE_Header, option, painter, self)
        painter.restore()
        model = self.model()
        text = str(model.headerData(logical_index, self.orientation(), Qt.ItemDataRole.DisplayRole) or "") if model else ""
        title, _, subtitle = text.partition("\n")
        inner = QRectF(rect).adjusted(4, 3, -4, -3)
        small = QFont(self.font())
        small.setPointSizeF(self.font().pointSizeF() * 0.85)
        sub_h = QFontMetrics(small).height() if subtitle else 0
        title_rect = inner.adjusted(0, 0, 0, -sub_h)
        flags = int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom | Qt.TextFlag.TextWordWrap)
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(self.font().pointSizeF() * self._title_factor(title_rect.height()))
        painter.save()
        painter.setClipRect(rect)
        painter.setFont(font)
        painter.setPen(QColor("#24323c"))
        painter.drawText(title_rect, flags, title)
        if subtitle:
            painter.setFont(small)
            painter.setPen(NEUTRAL_FG)
            painter.drawText(QRectF(inner.left(), inner.bottom() - sub_h, inner.width(), sub_h), int(Qt.AlignmentFlag.AlignCenter), subtitle)
        painter.restore()


@dataclass(frozen=True)
class PanelBar:
    label: str  # provider name
    assigned: int  # patients on the panel (head count)
    weighted: float  # age/sex-weighted panel
    target: int | None  # target panel size (None: not set / cannot hold a panel)
    open: bool = True


def nice_step(span: float, ticks: int = 5) -> float:
    """A round tick step (1, 2, 2.5 or 5 x 10^n) giving about ``ticks`` intervals over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


class PanelSizeChart(QWidget):
    """Horizontal bars: each provider's assigned panel, weighted panel, and target marker."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bars: list[PanelBar] = []
        self._hit: list[tuple[QRectF, PanelBar]] = []
        self.setMouseTracking(True)
        self.setMinimumHeight(self._row_height() * 3 + 120)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor("white"))
        self.setPalette(palette)
        self.title = self.tr("Panel size vs target")
        self.x_label = self.tr("Patients")
        self.empty_text = self.tr("No provider holds a panel yet.")

    # -- data
    def set_bars(self, bars: list[PanelBar]) -> None:
        self.bars = list(bars)
        self.setMinimumHeight(self._layout_height())
        self.updateGeometry()
        self.update()

    # -- geometry
    def _row_height(self) -> int:
        return int(self.fontMetrics().height() * 1.9)

    def _header_height(self) -> int:
        line = self.fontMetrics().height()
        legend_lines = 1 + max(y for _x, y, _item in self._legend_layout(self.width())) if self.width() > 0 else 1
        top_scale = 1.2 if len(self.bars) > 8 else 0.0
        return int(line * (2.4 + 1.3 * legend_lines + top_scale))

    def _footer_height(self) -> int:
        return int(self.fontMetrics().height() * 3.0)

    def _layout_height(self) -> int:
        return self._header_height() + max(len(self.bars), 3) * self._row_height() + self._footer_height()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(520, self._layout_height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(360, self._layout_height())

    def _label_width(self) -> int:
        fm = self.fontMetrics()
        widest = max((fm.horizontalAdvance(b.label) for b in self.bars), default=80)
        return min(max(widest + 16, 90), int(self.width() * 0.34))

    def _scale_max(self) -> float:
        top = max([max(b.assigned, b.weighted, b.target or 0) for b in self.bars] + [1])
        step = nice_step(top * 1.08)
        return step * math.ceil(top * 1.08 / step)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        height = self._layout_height()
        if height != self.minimumHeight():
            self.setMinimumHeight(height)

    # -- painting
    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        fm = self.fontMetrics()
        line = fm.height()
        width = self.width()
        margin = int(line * 0.8)

        title_font = QFont(self.font())
        title_font.setBold(True)
        title_font.setPointSizeF(self.font().pointSizeF() * 1.15)
        painter.setFont(title_font)
        painter.setPen(NAVY)
        painter.drawText(QRect(margin, int(line * 0.4), width - 2 * margin, int(line * 1.5)), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.title)
        painter.setFont(self.font())
        self._draw_legend(painter, int(line * 2.0))

        self._hit = []
        if not self.bars:
            painter.setPen(NEUTRAL_FG)
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
            return

        label_w = self._label_width()
        plot_left = margin + label_w
        plot_right = width - margin - fm.horizontalAdvance("888%") - 8
        plot_top = self._header_height()
        # Few providers: taller rows fill the space (up to 3.2 lines each); many: the minimum.
        spare = self.height() - plot_top - self._footer_height()
        row_h = max(self._row_height(), min(int(spare / len(self.bars)), int(line * 4)))
        plot_bottom = plot_top + len(self.bars) * row_h
        plot_w = max(40, plot_right - plot_left)
        scale = self._scale_max()
        step = nice_step(scale)

        def x_of(value: float) -> float:
            return plot_left + plot_w * value / scale

        # Grid and x axis ticks.
        painter.setPen(QPen(GRID, 1))
        tick = 0.0
        while tick <= scale + 1e-9:
            x = x_of(tick)
            painter.drawLine(QPointF(x, plot_top), QPointF(x, plot_bottom))
            tick += step
        painter.setPen(QPen(AXIS, 1))
        painter.drawLine(QPointF(plot_left, plot_top), QPointF(plot_left, plot_bottom))
        painter.drawLine(QPointF(plot_left, plot_bottom), QPointF(plot_right, plot_bottom))
        tick = 0.0
        while tick <= scale + 1e-9:
            x = x_of(tick)
            painter.drawLine(QPointF(x, plot_bottom), QPointF(x, plot_bottom + 4))
            text = f"{tick:,.0f}"
            tw = fm.horizontalAdvance(text)
            painter.drawText(QRectF(x - tw / 2 - 2, plot_bottom + 5, tw + 4, line), int(Qt.AlignmentFlag.AlignCenter), text)
            tick += step
        painter.drawText(
            QRectF(plot_left, plot_bottom + line + 8, plot_w, line), int(Qt.AlignmentFlag.AlignCenter), self.x_label
        )
        if len(self.bars) > 8:
            # A tall chart scrolls: repeat the scale above the first row.
            tick = 0.0
            while tick <= scale + 1e-9:
                x = x_of(tick)
                text = f"{tick:,.0f}"
                tw = fm.horizontalAdvance(text)
                painter.drawText(QRectF(x - tw / 2 - 2, plot_top - line - 2, tw + 4, line), int(Qt.AlignmentFlag.AlignCenter), text)
                tick += step

        # One row per provider: assigned bar, weighted bar beneath, target marker across both.
        for row, bar in enumerate(self.bars):
            top = plot_top + row * row_h
            band = row_h * 0.72
            y0 = top + (row_h - band) / 2
            assigned_h = band * 0.58
            weighted_h = band * 0.30
            label_rect = QRectF(margin, top, label_w - 8, row_h)
            painter.setPen(QColor("#24323c") if bar.open else NEUTRAL_FG)
            label = fm.elidedText(bar.label, Qt.TextElideMode.ElideRight, int(label_rect.width()))
            painter.drawText(label_rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight), label)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(TEAL if bar.open else CLOSED)
            assigned_rect = QRectF(plot_left, y0, max(0.0, x_of(bar.assigned) - plot_left), assigned_h)
            painter.drawRect(assigned_rect)
            painter.setBrush(NAVY)
            weighted_rect = QRectF(plot_left, y0 + assigned_h + band * 0.06, max(0.0, x_of(bar.weighted) - plot_left), weighted_h)
            painter.drawRect(weighted_rect)
            if bar.target:
                tx = x_of(bar.target)
                painter.setPen(QPen(ORANGE, 3))
                painter.drawLine(QPointF(tx, y0 - 3), QPointF(tx, y0 + band + 3))
                percent = 100.0 * bar.weighted / bar.target
                painter.setPen(QColor("#24323c"))
                painter.drawText(
                    QRectF(plot_right + 4, top, width - plot_right - 4 - margin / 2, row_h),
                    int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight),
                    f"{percent:.0f}%",
                )
            self._hit.append((QRectF(margin, top, width - 2 * margin, row_h), bar))
        painter.end()

    def _legend_items(self) -> list[tuple[QColor | None, str, str]]:
        items = [
            (TEAL, "bar", self.tr("Assigned patients")),
            (NAVY, "bar", self.tr("Weighted panel (age/sex)")),
            (ORANGE, "line", self.tr("Target panel")),
        ]
        if any(not b.open for b in self.bars):
            items.append((CLOSED, "bar", self.tr("Closed to new patients")))
        items.append((None, "text", self.tr("% = weighted panel / target")))
        return items

    def _legend_layout(self, width: int) -> list[tuple[int, int, tuple]]:
        """(x, line number, item) for each legend entry, flowing onto more lines when narrow."""
        fm = self.fontMetrics()
        box = int(fm.height() * 0.75)
        margin = int(fm.height() * 0.8)
        out = []
        x, line = margin, 0
        for item in self._legend_items():
            colour, kind, text = item
            mark = int(box * 1.4) + 6 if kind == "bar" else (box + 6 if kind == "line" else 0)
            needed = mark + fm.horizontalAdvance(text)
            if x > margin and x + needed > width - margin:
                x, line = margin, line + 1
            out.append((x, line, item))
            x += needed + int(fm.height() * 1.2)
        return out

    def _draw_legend(self, painter: QPainter, y: int) -> None:
        fm = self.fontMetrics()
        box = int(fm.height() * 0.75)
        for x, line, (colour, kind, text) in self._legend_layout(self.width()):
            top = y + int(line * fm.height() * 1.3)
            cx = x
            if kind == "bar":
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(colour)
                painter.drawRect(QRectF(cx, top + (fm.height() - box) / 2, box * 1.4, box))
                cx += int(box * 1.4) + 6
            elif kind == "line":
                painter.setPen(QPen(colour, 3))
                mid = cx + box * 0.5
                painter.drawLine(QPointF(mid, top), QPointF(mid, top + fm.height()))
                cx += box + 6
            painter.setPen(NEUTRAL_FG if kind == "text" else QColor("#24323c"))
            painter.drawText(QRect(cx, top, fm.horizontalAdvance(text) + 4, fm.height()), Qt.AlignmentFlag.AlignVCenter, text)

    def bar_at(self, pos) -> PanelBar | None:
        for rect, bar in self._hit:
            if rect.contains(QPointF(pos)):
                return bar
        return None

    def event(self, event) -> bool:
        if event.type() == event.Type.ToolTip:
            bar = self.bar_at(event.pos())
            if bar is None:
                QToolTip.hideText()
                event.ignore()
                return True
            QToolTip.showText(event.globalPos(), self.tooltip_for(bar), self)
            return True
        return super().event(event)

    def tooltip_for(self, bar: PanelBar) -> str:
        lines = [
            bar.label,
            self.tr("Assigned: {0:,} patients").format(bar.assigned),
            self.tr("Weighted panel: {0:,.1f}").format(bar.weighted),
        ]
        if bar.target:
            lines.append(self.tr("Target: {0:,} ({1:.0f}% of target)").format(bar.target, 100.0 * bar.weighted / bar.target))
        else:
            lines.append(self.tr("No target (cannot hold a panel)"))
        if not bar.open:
            lines.append(self.tr("Closed to new patients"))
        return "\n".join(lines)
