"""The first-run / empty-chat panel: what Hearth is, where answers come from, how to add your files.

What it says about privacy follows the settings: "nothing leaves this computer" is only said while it is
true, i.e. while the local model answers and collections are stored here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent, QTextDocument
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

GET_MODELS = ("<b>Get models</b> shows which ones fit this computer and downloads them (the only time Hearth "
              "goes online, and only when you ask).")
FILES = """
<p><b>Drop a folder or files</b> anywhere on this window to add them to your knowledge. Hearth indexes
them in the background; then choose the collection under “Answer from” and ask about them. Answers
cite their sources; click a number to see the passage.</p>
<p style="color:gray">Enter sends · Shift+Enter adds a line · Esc stops · Ctrl+N new chat · Ctrl+K search ·
F1&nbsp;all&nbsp;shortcuts</p>
"""


@dataclass(frozen=True)
class Setup:
    """What the intro describes: the local model's name (its file name until it is loaded) and whether it is the
    bundled one, and the remote parts in use (empty: none)."""

    model: str
    bundled: bool
    llm_url: str = ""
    chroma_url: str = ""
    missing: bool = False  # the model file set is not there (deleted, or on a drive not plugged in)
    unloaded: str = ""  # why the model set could not be loaded, with none loaded instead ("": it is, or is loading)


def intro(setup: Setup) -> str:
    """The intro's HTML for ``setup``."""
    if not setup.llm_url and not setup.chroma_url:
        where = "<p>Hearth runs <b>fully offline</b> on this computer. Nothing you type or drop in ever leaves it.</p>"
    else:
        sent = []
        if setup.llm_url:
            sent.append(f"<p>Answers come from the <b>remote model at {escape(setup.llm_url)}</b>: what you type is "
                        "sent there, with the passages of your files and the memories each answer uses.</p>")
        if setup.chroma_url:
            sent.append(f"<p>Your collections are stored on the <b>Chroma server at {escape(setup.chroma_url)}</b>: "
                        "the text of the files you drop in is sent there.</p>")
        where = "".join(sent) + "<p>Chats and memories are stored on this computer (Settings → Remote).</p>"
    if setup.llm_url:
        model = (f"<p>The local model, <b>{escape(setup.model)}</b>, answers once the remote model is switched "
                 f"off. {GET_MODELS}</p>")
    elif setup.missing:  # it said "Answers come from X.gguf" of a file that is gone, and nothing answered
        model = (f"<p>The model set to answer, <b>{escape(setup.model)}</b>, is not on this computer any more "
                 f"(deleted, or on a drive that is not plugged in): choose another with Models → Use. {GET_MODELS}</p>")
    elif setup.unloaded:  # it said "Answers come from truncated.gguf" while nothing could answer
        model = (f"<p>The model set to answer, <b>{escape(setup.model)}</b>, could not be loaded "
                 f"({escape(setup.unloaded.rstrip('.'))}): choose another with Models → Use. {GET_MODELS}</p>")
    elif setup.bundled:
        model = ("<p>It starts with a <b>small bundled model</b> (SmolLM2, 135M parameters): quick, but its answers "
                 f"are simple. For better answers, get a bigger chat model: {GET_MODELS}</p>")
    else:
        model = f"<p>Answers come from <b>{escape(setup.model)}</b>, on this computer. {GET_MODELS}</p>"
    return where + model


class _Paragraphs(QLabel):
    """Rich text that wraps, as tall as it really is: at large fonts the panel's first paragraph lost its last
    line (24 pt); QLabel's own height for a width comes out a line short, so it is measured as a document."""

    def heightForWidth(self, width: int) -> int:
        document = QTextDocument()
        document.setDefaultFont(self.font())
        document.setDocumentMargin(0)
        document.setHtml(self.text())
        margins = self.contentsMargins()
        document.setTextWidth(width - margins.left() - margins.right())
        return math.ceil(document.size().height()) + margins.top() + margins.bottom()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """The scroll area lays the panel out at its size hint, not its height for the width it gets: the label
        asks for that height itself once it knows its width."""
        super().resizeEvent(event)
        needed = self.heightForWidth(self.width())
        if needed != self.minimumHeight():
            self.setMinimumHeight(needed)


def _text(html: str) -> QLabel:
    label = _Paragraphs(html)
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
        title.setWordWrap(True)  # one line, it held the window wider than a laptop's screen at large fonts
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
        self.intro = _text("")  # said by describe() once the settings are read: never a claim they contradict
        self.intro.setAccessibleName("About this setup")
        layout.addWidget(self.intro)
        layout.addLayout(button_row)
        layout.addWidget(_text(FILES))
        self.setAccessibleName("Welcome to Hearth")

    def describe(self, setup: Setup) -> None:
        """Say where answers come from and where the user's text goes, for the settings now."""
        self.intro.setText(intro(setup))
