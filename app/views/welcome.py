"""The first-run / empty-chat panel: what Hearth is, how to get a better model, how to add your files."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

INTRO = """
<p>Hearth runs <b>fully offline</b> on this computer. Nothing you type or drop in ever leaves it.</p>
<p>It starts with a <b>small bundled model</b> (SmolLM2, 135M parameters): quick, but its answers are
simple. For better answers, get a bigger chat model: <b>Get models</b> shows which ones fit this computer
and downloads them (the only time Hearth goes online, and only when you ask).</p>
"""
FILES = """
<p><b>Drop a folder or files</b> anywhere on this window to add them to your knowledge. Hearth indexes
them in the background; then choose the collection under “Answer from” and ask about them. Answers
cite their sources; click a number to see the passage.</p>
<p style="color:gray">Enter sends · Shift+Enter adds a line · Esc stops · Ctrl+N new chat · Ctrl+K search</p>
"""


def _text(html: str) -> QLabel:
    label = QLabel(html)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class WelcomePanel(QFrame):
    getModelsRequested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("Welcome")
        self.setMaximumWidth(720)
        title = QLabel("Welcome to Hearth")
        title.setObjectName("WelcomeTitle")
        self.get_models = QPushButton("Get models")
        self.get_models.setObjectName("Primary")
        self.get_models.setAccessibleName("Get models")
        self.get_models.clicked.connect(self.getModelsRequested)
        button_row = QHBoxLayout()
        button_row.addWidget(self.get_models)
        button_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title)
        layout.addWidget(_text(INTRO))
        layout.addLayout(button_row)
        layout.addWidget(_text(FILES))
        self.setAccessibleName("Welcome to Hearth")
