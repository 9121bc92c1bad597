"""The side panel opened by a source chip: the passage with its line numbers and the lines the answer restates
highlighted, a button that opens the file in the system viewer (at the page for PDFs), and the memories that
were used for the answer."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMetaMethod, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
)

from app.icons import icon
from app.sources import Passage, memory_text
from app.theme import Theme
from app.views.widgets import isolated, ltr, section_title, tool_button
from assistant.events import LINE_END, file_change

#: After these a title may break inside a long file name (a zero-width space goes there).
_BREAKS = re.compile(r"([_.-])")


class SourcePanel(QFrame):
    closed = Signal(bool)  # whether the keyboard focus was in the panel as it closed
    #: the shown passage's file is gone: whoever can ask the index where it is now answers with moved_to
    fileMissing = Signal(object)

    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.theme = theme
        self.passage: Passage | None = None
        self.setObjectName("SourcePanel")
        self.setMinimumWidth(300)
        self.title = QLabel()
        self.title.setObjectName("PanelTitle")
        self.title.setWordWrap(True)
        close = tool_button("close", "Close the source panel")
        close.clicked.connect(self.close_panel)
        self.where = QLabel()
        self.where.setObjectName("Muted")
        self.where.setWordWrap(True)
        # a long file name is cut at the panel's edge (its tooltip has it whole) rather than widening the panel:
        # one of 80 characters made it 843 px at least, and the sidebar was folded away for it
        self.where.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text = QTextBrowser()
        self.text.setObjectName("Passage")
        self.text.setAccessibleName("Source passage")
        self.open_button = QPushButton(icon("open-file"), "Open file")
        self.open_button.setAccessibleName("Open the file in the system viewer")
        self.open_button.clicked.connect(self.open_file)
        self.memories_title = section_title("Memories used")
        self.memories = QLabel()
        self.memories.setWordWrap(True)
        self.memories.setAccessibleName("Memories used for this answer")
        self.memories.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._layout = layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addLayout(header)
        layout.addWidget(self.where)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.open_button)
        layout.addWidget(self.memories_title)
        layout.addWidget(self.memories)
        self.hide()

    def close_panel(self) -> None:
        """Hide the panel and say so (``closed``, with whether it had the focus): whoever placed it moves the focus
        on when it did, since the close button that had it is hidden with it (Qt passed the focus to a message's
        text); when the focus was elsewhere (the user clicked into the box, then pressed Esc) it stays there."""
        focused = QApplication.focusWidget()
        inside = focused is None or focused is self or self.isAncestorOf(focused)
        self.hide()
        self.closed.emit(inside)

    def show_source(self, passage: Passage | None, memories: list[Any]) -> None:
        """Show one passage (or, with ``None``, only the memories) of an answer."""
        self.passage = passage
        for widget in (self.where, self.text, self.open_button):
            widget.setVisible(passage is not None)
        # without a passage the memories take the room it had, from the top (not spread over the panel)
        self._layout.setStretchFactor(self.memories, 0 if passage is not None else 1)
        if passage is None:
            self.title.setText("What Hearth remembered")
        else:
            # the title may break inside a long file name, after its "_", "-" and "." (it is not copied from)
            breakable = _BREAKS.sub("\\1\u200b", passage.location)
            self.title.setText(ltr(f"[{passage.n}] {isolated(breakable, left_to_right=True)}"))  # as the path below
            self.where.setText(ltr(passage.path))
            self.where.setToolTip(passage.path)
            self.text.setHtml(f'<div style="color:{self.theme["muted"]};">Passage given to the model:</div>'
                              + self._lines_html(passage))
            if passage.focus:
                self.text.scrollToAnchor("focus")
            self.open_button.setText("Open file")
            self.open_button.setEnabled(bool(passage.uri))
            self.open_button.setToolTip(passage.uri)
            change = file_change(passage.path, passage.size, passage.mtime_ns)  # one stat ("" where not recorded)
            if passage.uri and (change == "gone" or (passage.size is None and not Path(passage.path).exists())):
                self._missing()
            elif change == "changed":
                # reloaded from the history, the panel checked only that the file was there: an edited one read
                # as the source of the passage shown
                since = "it was indexed" if passage.stale else "this answer"
                self.where.setText(ltr(f"{passage.path}\nEdited since {since}: the passage above is what the "
                                       "model was given."))
        self._set_memories(memories)
        self.show()

    def _lines_html(self, passage: Passage) -> str:
        """The passage's lines as a table: its line numbers in the file where it has them, and the lines the answer
        restates highlighted (all of them where that is not known), the first with the anchor "focus". The
        whole passage was one highlighted paragraph without numbers: a fact on one line of thirty was not shown."""
        lines = LINE_END.split(passage.text)
        marked = set(passage.focus) or set(range(len(lines)))
        rows = []
        for i, line in enumerate(lines):
            number = "" if passage.line_start is None else str(passage.line_start + i)
            style = f' style="background:{self.theme["highlight"]};"' if i in marked else ""
            anchor = '<a name="focus"></a>' if passage.focus and i == passage.focus[0] else ""
            rows.append(f'<tr><td align="right" style="color:{self.theme["muted"]};">{anchor}{number}</td>'
                        f'<td{style}>{html.escape(line) or "&nbsp;"}</td></tr>')
        return (f'<table cellspacing="0" cellpadding="1" style="color:{self.theme["fg"]};white-space:pre-wrap;">'
                f'{"".join(rows)}</table>')

    def _set_memories(self, memories: list[Any]) -> None:
        items = "".join(f"<li>{html.escape(memory_text(m))}</li>" for m in memories)
        self.memories.setText(f"<ul>{items}</ul>" if items else "No memories were used for this answer.")

    def open_file(self) -> None:
        """The system viewer; a ``#page=N`` fragment makes PDF viewers that honour it open at the page. A file
        deleted or moved since the answer says so (the missing path went to the viewer without a word)."""
        passage = self.passage
        if passage is None or not passage.uri:
            return
        if not Path(passage.path).exists():
            self._missing()
        elif not QDesktopServices.openUrl(QUrl(passage.uri)):
            self.where.setText(f"{passage.path}\nNo program on this computer opened it.")

    def _missing(self) -> None:
        """The file is gone: "Looking for it…" while whoever listens to ``fileMissing`` asks the index where it
        is now (the lookup waited behind the start-up's work for 15 to 30 s, and a moved file's chip said "File
        not found" meanwhile); "File not found" when no one can look."""
        assert self.passage is not None
        looking = self.isSignalConnected(QMetaMethod.fromSignal(self.fileMissing))
        self.open_button.setEnabled(False)
        self.open_button.setText("Looking for it…" if looking else "File not found")
        self.where.setText(f"{self.passage.path}\nThis file is no longer there: it was deleted or moved since "
                           "this answer. The passage above is what the model was given.")
        self.fileMissing.emit(self.passage)

    def moved_to(self, passage: Passage, path: str | None) -> None:
        """``passage``'s file, gone, holds its text under ``path`` now (renamed or moved, found by a re-sync):
        the button opens it there, at the same page; ``None``: the index holds it nowhere else ("File not
        found"). Ignored once another passage is shown."""
        if passage is not self.passage:
            return
        if path is None:
            self.open_button.setText("File not found")
            return
        fragment = passage.uri.partition("#")[2]
        uri = Path(path).as_uri() + (f"#{fragment}" if fragment else "")
        self.passage = replace(passage, path=path, uri=uri)
        self.open_button.setEnabled(True)
        self.open_button.setText("Open file")
        self.open_button.setToolTip(uri)
        self.where.setText(ltr(f"{path}\nMoved or renamed since this answer (it was {passage.path})."))
