"""Icons from ``resources/icons``: stroke SVGs drawn in the current theme's text colour.

The SVGs use ``currentColor``; Qt's SVG renderer has no notion of it, so the colour is substituted before
rendering, which keeps icons legible in both light and dark themes from one set of files.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from app.theme import RESOURCES

ICONS = RESOURCES / "icons"
_SIZE = 48  # rendered once at 48 px; Qt scales down crisply for 16-24 px buttons


@cache
def icon(name: str, color: str = "#7a726a") -> QIcon:
    svg = (ICONS / f"{name}.svg").read_text(encoding="utf-8").replace("currentColor", color)
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    pixmap = QPixmap(_SIZE, _SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    renderer.render(painter, QRectF(0, 0, _SIZE, _SIZE))
    painter.end()
    return QIcon(pixmap)


def app_icon() -> QIcon:
    return QIcon(str(ICONS / "hearth.svg"))
