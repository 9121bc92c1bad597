"""Light and dark themes: one palette feeds the QPalette, the stylesheet, the icons and the Markdown CSS.

Why one palette for everything: rich-text message bodies and SVG icons are not styled by QSS, so they
read their colours from the same :class:`Theme` the stylesheet was built from, and a theme switch
re-renders them with matching colours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleOption, QWidget

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
STYLESHEET = RESOURCES / "style.qss"

# ``field_border`` outlines what takes input (line and text edits, combo and spin boxes, the composer): at least
# 3:1 on the backgrounds they sit on, as WCAG 1.4.11 asks. They had the panels' ``border``, 1.4:1 on the dark
# theme's background, and the spin boxes Fusion's frame, darker still: a field was hard to tell from the page.
LIGHT = {
    "bg": "#fbfaf8", "surface": "#f3f1ed", "surface2": "#ebe8e3", "input": "#ffffff", "border": "#dcd7cf",
    "fg": "#26221f", "muted": "#676058", "accent": "#b8531c", "accent_hover": "#a1481a", "accent_fg": "#ffffff",
    "selection": "#f2dccb", "hover": "#e9e4dd", "user_bubble": "#efe7df", "chip": "#f6efe8",
    "code_bg": "#f1eee9", "code_fg": "#2f2a26", "highlight": "#ffe58a", "danger": "#c0392b",
    "error_bg": "#fbe3df", "error_fg": "#7b1e14", "overlay": "rgba(251, 250, 248, 225)", "scroll": "#cfc8bf",
    "link": "#a34817", "pygments": "friendly", "success": "#2e7d32", "field_border": "#8a8279",
}
DARK = {
    "bg": "#1c1a19", "surface": "#242220", "surface2": "#2d2a28", "input": "#1f1d1c", "border": "#3a3633",
    "fg": "#ece7e2", "muted": "#b0a8a0", "accent": "#ee8a4a", "accent_hover": "#f39b60", "accent_fg": "#1c1a19",
    "selection": "#4a3526", "hover": "#34302d", "user_bubble": "#2e2a27", "chip": "#2d2926",
    "code_bg": "#141312", "code_fg": "#e6e1dc", "highlight": "#6b5416", "danger": "#e0574a",
    "error_bg": "#4a1f1b", "error_fg": "#ffd9d3", "overlay": "rgba(28, 26, 25, 225)", "scroll": "#4a4540",
    "link": "#f2a266", "pygments": "monokai", "success": "#7cc47f", "field_border": "#807870",
}


@dataclass(frozen=True)
class Theme:
    name: str  # "light" or "dark": what "system" resolved to
    colors: dict[str, str]
    font_size: int

    def __getitem__(self, key: str) -> str:
        return self.colors[key]


#: WCAG AA's least contrast for text
TEXT_CONTRAST = 4.5


def contrast(a: str, b: str) -> float:
    """WCAG's contrast ratio of two colours (1 to 21)."""
    def luminance(colour: str) -> float:
        c = QColor(colour)
        channels = (c.redF(), c.greenF(), c.blueF())
        r, g, b = (v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def readable(colour: str, background: str) -> str:
    """``colour``, darkened on a light background or lightened on a dark one until it reads as text on it: the
    light theme's code comments (Pygments' "friendly") were 2.5:1 on the code block's grey."""
    c, dark = QColor(colour), QColor(background).lightnessF() < 0.5
    while contrast(c.name(), background) < TEXT_CONTRAST and 0.0 < c.lightnessF() < 1.0:
        c = c.lighter(108) if dark else c.darker(108)
    return c.name()


def system_is_dark() -> bool:
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def resolve(theme: str, font_size: int) -> Theme:
    dark = theme == "dark" or (theme not in ("light", "dark") and system_is_dark())
    return Theme("dark" if dark else "light", DARK if dark else LIGHT, max(8, min(font_size, 24)))


def stylesheet(theme: Theme) -> str:
    sizes = {"font_pt": f"{theme.font_size}pt", "small_pt": f"{max(theme.font_size - 2, 7)}pt",
             "title_pt": f"{theme.font_size + 6}pt"}
    values = theme.colors | sizes
    return re.sub(r"@(\w+)", lambda m: values.get(m.group(1), m.group(0)), STYLESHEET.read_text(encoding="utf-8"))


def palette(theme: Theme) -> QPalette:
    """A Fusion palette so native-drawn parts (checkboxes, menus, dialogs) match the stylesheet."""
    p, r = QPalette(), QPalette.ColorRole
    roles = {
        r.Window: "bg", r.WindowText: "fg", r.Base: "input", r.AlternateBase: "surface", r.Text: "fg",
        r.Button: "surface2", r.ButtonText: "fg", r.Highlight: "accent", r.HighlightedText: "accent_fg",
        r.ToolTipBase: "surface", r.ToolTipText: "fg", r.Link: "link", r.PlaceholderText: "muted",
    }
    for role, key in roles.items():
        p.setColor(role, QColor(theme[key]))
    p.setColor(QPalette.ColorGroup.Disabled, r.Text, QColor(theme["muted"]))
    p.setColor(QPalette.ColorGroup.Disabled, r.ButtonText, QColor(theme["muted"]))
    return p


class _Style(QProxyStyle):
    """Fusion, with check boxes and the arrows of combo and spin boxes drawn in the theme's colours. Fusion
    outlines a check box with the window colour darkened, so on the dark theme an unchecked box was nearly
    invisible and a checked one a bare tick; a stylesheet rule for the box would drop the tick unless it came from
    an image file. Fusion's arrows are at most 8 px wide at any font: at 22 pt a combo box's was a speck."""

    _BOXES = (QStyle.PrimitiveElement.PE_IndicatorCheckBox, QStyle.PrimitiveElement.PE_IndicatorItemViewItemCheck)
    #: the arrows drawn here, each pointing down (True) or up
    _ARROWS: ClassVar[dict[QStyle.PrimitiveElement, bool]] = {
        QStyle.PrimitiveElement.PE_IndicatorArrowDown: True, QStyle.PrimitiveElement.PE_IndicatorSpinDown: True,
        QStyle.PrimitiveElement.PE_IndicatorArrowUp: False, QStyle.PrimitiveElement.PE_IndicatorSpinUp: False}

    def __init__(self, theme: Theme) -> None:
        super().__init__("Fusion")
        self.theme = theme

    def pixelMetric(self, metric: QStyle.PixelMetric, option: QStyleOption | None = None,
                    widget: QWidget | None = None) -> int:
        if metric in (QStyle.PixelMetric.PM_IndicatorWidth, QStyle.PixelMetric.PM_IndicatorHeight):
            return round(self.theme.font_size * 1.3)  # the box grows with the font (Fusion's stays 14 px)
        return super().pixelMetric(metric, option, widget)

    def drawPrimitive(self, element: QStyle.PrimitiveElement, option: QStyleOption, painter: QPainter,
                      widget: QWidget | None = None) -> None:
        if element in self._ARROWS:
            self._draw_arrow(self._ARROWS[element], option, painter)
            return
        if element not in self._BOXES:
            super().drawPrimitive(element, option, painter, widget)
            return
        state, t = option.state, self.theme
        enabled, on = bool(state & QStyle.StateFlag.State_Enabled), bool(state & QStyle.StateFlag.State_On)
        partly = bool(state & QStyle.StateFlag.State_NoChange)
        side = min(option.rect.width(), option.rect.height()) - 1.0
        box = QRectF(0, 0, side, side)
        box.moveCenter(QRectF(option.rect).center())
        filled = on or partly
        edge = t["accent"] if filled and enabled else t["muted"] if enabled else t["border"]
        fill = (t["accent"] if enabled else t["muted"]) if filled else t["input"] if enabled else t["surface2"]
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(edge), 1.0))
        painter.setBrush(QColor(fill))
        painter.drawRoundedRect(box, side / 5, side / 5)
        if filled:
            pen = QPen(QColor(t["accent_fg"] if enabled else t["surface2"]), max(1.5, side / 8))
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            painter.setPen(pen)
            at = lambda fx, fy: QPointF(box.left() + side * fx, box.top() + side * fy)  # noqa: E731
            if on:  # a tick
                painter.drawPolyline([at(0.24, 0.52), at(0.43, 0.7), at(0.76, 0.3)])
            else:  # partly checked: a dash
                painter.drawLine(at(0.27, 0.5), at(0.73, 0.5))
        painter.restore()

    def _draw_arrow(self, down: bool, option: QStyleOption, painter: QPainter) -> None:
        """A chevron half as wide as a line of the control's font is high, so it grows with the font and the
        screen's scale, kept inside the room the style sheet gives it."""
        rect = QRectF(option.rect)
        width = min(option.fontMetrics.height() * 0.5, rect.width() - 2.0, (rect.height() - 2.0) * 2)
        if width < 2.0:
            return
        enabled = bool(option.state & QStyle.StateFlag.State_Enabled)
        pen = QPen(QColor(self.theme["fg" if enabled else "muted"]), max(1.2, width / 6))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        centre, half, rise = rect.center(), width / 2, (width / 4 if down else -width / 4)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(pen)
        painter.drawPolyline([QPointF(centre.x() - half, centre.y() - rise), QPointF(centre.x(), centre.y() + rise),
                              QPointF(centre.x() + half, centre.y() - rise)])
        painter.restore()


def apply(app: QApplication, theme_name: str, font_size: int) -> Theme:
    """Style the whole application; returns the resolved theme for rich text and icons."""
    theme = resolve(theme_name, font_size)
    app.setStyle(_Style(theme))
    app.setPalette(palette(theme))
    font = QFont(app.font())
    font.setPointSize(theme.font_size)
    app.setFont(font)
    app.setStyleSheet(stylesheet(theme))
    return theme
