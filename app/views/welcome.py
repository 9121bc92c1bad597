"""The first-run / empty-chat panel: what Hearth is, how to get a better model, how to add your files."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout

WELCOME = """
<p>Hearth runs <b>fully offline</b> on this computer. Nothing you type or drop in ever leaves it.</p>
<p>It starts with a <b>small bundled model</b> (SmolLM2, 135M parameters): quick, but its answers are
simple. For better answers, download any chat model in <b>GGUF</b> format (for example a 1–8B
“Instruct” model, Q4_K_M), put it in <code>{models_dir}</code>, and pick it in
<b>Settings → Model</b> (Ctrl+,).</p>
<p><b>Drop a folder or files</b> anywhere on this window to add them to your knowledge. Hearth indexes
them in the background; then choose the collection under “Answer from” and ask about them. Answers
cite their sources; click a number to see the passage.</p>
<p style="color:gray">Enter sends · Shift+Enter adds a line · Esc stops · Ctrl+N new chat · Ctrl+K search</p>
"""


class WelcomePanel(QFrame):
    def __init__(self, models_dir: str = "the models folder") -> None:
        super().__init__()
        self.setObjectName("Welcome")
        self.setMaximumWidth(720)
        title = QLabel("Welcome to Hearth")
        title.setObjectName("WelcomeTitle")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.set_models_dir(models_dir)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(title)
        layout.addWidget(self.text)
        self.setAccessibleName("Welcome to Hearth")

    def set_models_dir(self, models_dir: str) -> None:
        self.text.setText(WELCOME.format(models_dir=models_dir))
