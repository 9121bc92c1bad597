"""Icons from ``resources/icons``: stroke SVGs drawn in the current theme's muted text colour.

The SVGs use ``currentColor``; Qt's SVG renderer has no notion of it, so the colour is substituted before
rendering (once per colour), which keeps icons legible in both light and dark themes from one set of files.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QByteArray, QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QIcon, QIconEngine, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from app.theme import RESOURCES

ICONS = RESOURCES / "icons"
_SIZE = 48  # rendered once at 48 px; Qt scales down crisply for 16-24 px buttons


@cache
def _pixmap(name: str, color: str) -> QPixmap:
    svg = (ICONS / f"{name}.svg").read_text(encoding="utf-8").replace("currentColor", color)
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    pixmap = QPixmap(_SIZE, _SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    renderer.render(painter, QRectF(0, 0, _SIZE, _SIZE))
    painter.end()
    return pixmap


class _ThemedIcon(QIconEngine):
    """Draws the icon, when it is painted, in the colour of the application's palette (the theme's muted text
    colour): one drawn once in the light theme's grey stayed that grey on the dark theme's near-black, and
    a switch of theme would have had to find and replace every icon."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        color = QApplication.palette().color(QPalette.ColorRole.PlaceholderText).name()
        if mode == QIcon.Mode.Disabled:
            painter.setOpacity(0.45)
        painter.drawPixmap(rect, _pixmap(self.name, color))

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        pixmap = QPixmap(size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        self.paint(painter, QRect(QPoint(0, 0), size), mode, state)
        painter.end()
        return pixmap

    def clone(self) -> QIconEngine:
        return _ThemedIcon(self.name)


@cache
def icon(name: str, color: str | None = None) -> QIcon:
    """The icon ``name``: in ``color``, or (None) in the theme's muted colour, following a switch of theme."""
    return QIcon(_pixmap(name, color)) if color is not None else QIcon(_ThemedIcon(name))


def app_icon() -> QIcon:
    return QIcon(str(ICONS / "hearth.svg"))
