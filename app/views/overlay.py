"""The drop target hint drawn over the window while files are dragged onto it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget


class DropOverlay(QLabel):
    def __init__(self, parent: QWidget) -> None:
        super().__init__("Drop folders or files to add them to your knowledge", parent)
        self.setObjectName("DropOverlay")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()

    def cover(self) -> None:
        self.setGeometry(self.parentWidget().rect().adjusted(16, 16, -16, -16))
        self.raise_()
        self.show()
