"""One message in the chat: Markdown body, notices, numbered source chips, feedback and turn actions.

Rendering is the widget's job, throttling is the controller's: ``set_text`` re-renders the whole body, so
the chat controller calls it at most every ~50 ms while an answer streams.

Tinted drafts (Settings → Appearance): the controller passes the character ranges of the streamed text that
came from accepted speculative drafts. The Markdown is rendered exactly as without them; the tint is laid over
the rendered HTML afterwards (``tint_html``), so it can never change how the answer is structured.
"""

from __future__ import annotations

import html
import itertools
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from app.markdown import TABLE, Rendered, parts, render
from app.sources import Passage
from app.theme import Theme
from app.views.widgets import (
    ElidingButton,
    FlowLayout,
    RichLabel,
    TableStrip,
    isolated,
    ltr,
    scaled_icon,
    tool_button,
)
from assistant.events import section

#: The tint of text from accepted drafts: a quiet teal, apart from the text, link and accent colours.
DRAFT_TINT = {"light": "#2d7466", "dark": "#86c9b8"}
#: A question longer than this shows its start: laying out a pasted 38,000-character text held the GUI thread
#: for 0.3 s (1.4 s on a busy machine) when it was sent, and again each time its chat opened. Copy and Edit
#: still have it whole.
SHOWN_CHARS = 4_000
_TAG = re.compile(r"(<[^>]*>)")
#: How far ahead of the last matched text a rendered text node is looked for in the source, and the jump above
#: which a short node is rather left untinted than trusted (Markdown syntax between text nodes is short).
_LOOK_AHEAD, _SHORT_JUMP, _SHORT_NODE = 4096, 32, 12


def tint_html(rendered: str, source: str, ranges: Sequence[tuple[int, int]], color: str) -> str:
    """``rendered`` (the HTML of ``source``'s Markdown) with the characters of ``ranges`` (sorted, disjoint
    ``[start, end)`` offsets into ``source``) coloured ``color``.

    Each text node of the HTML is found in the source in document order (a cursor moves on; markup between
    nodes is skipped); a node that cannot be found nearby is left as it is, so a mismatch costs some tint and
    never breaks the HTML: spans open and close inside one text node. Linear in the size of the HTML.
    """
    if not ranges:
        return rendered
    ends = [end for _, end in ranges]
    opening = f'<span style="color:{color};">'
    out: list[str] = []
    cursor, skip = 0, False
    for part in _TAG.split(rendered):
        if not part or part[0] == "<":
            if part.startswith('<a href="copy:'):  # a code block's "Copy" link is not in the source
                skip = True
            elif skip and part == "</a>":
                skip = False
            out.append(part)
            continue
        text = html.unescape(part) if not skip else ""
        core = text.strip()  # the source may indent a line the HTML does not (list continuations)
        if not core:
            out.append(part)
            continue
        pos = source.find(core, cursor, cursor + _LOOK_AHEAD + len(core))
        if pos < 0 or (pos - cursor > _SHORT_JUMP and len(core) < _SHORT_NODE):
            out.append(part)
            continue
        cursor = end = pos + len(core)
        i = bisect_right(ends, pos)  # the first range that ends after the node starts
        if i == len(ranges) or ranges[i][0] >= end:
            out.append(part)
            continue
        lead = len(text) - len(text.lstrip())
        out.append(text[:lead])
        at = pos
        while i < len(ranges) and ranges[i][0] < end:
            start, stop = max(ranges[i][0], pos), min(ranges[i][1], end)
            if start > at:
                out.append(html.escape(source[at:start], quote=False))
            out.append(opening + html.escape(source[start:stop], quote=False) + "</span>")
            at, i = stop, i + 1
        if at < end:
            out.append(html.escape(source[at:end], quote=False))
        out.append(text[lead + len(core):])
    return "".join(out)


#: the longest file name a source chip shows whole; a longer one keeps its start and end (the tooltip has all)
CHIP_NAME_CHARS = 36


def chip_label(passage: Passage, with_folder: bool = False, with_section: bool = False) -> str:
    """``with_folder``: another chip of the answer has the same file name (two folders' ``todo.md``): the
    folder holding it tells them apart. ``with_section``: another chip is the same file and page (two passages
    of one DOCX were "2  eastside-allotment-soci…es-2025.docx" and "5  …" alike): its first line tells them apart,
    or without line numbers its section."""
    path = Path(passage.path)
    name = path.name or passage.path
    if with_folder and path.parent.name:
        name = f"{path.parent.name}/{name}"
    if len(name) > CHIP_NAME_CHARS:
        name = f"{name[:CHIP_NAME_CHARS - 13]}…{name[-12:]}"
    where = f" · p.{passage.page}" if passage.page is not None else ""
    if with_section and passage.line_start is not None:  # two passages of one text file were "shiplog.txt" alike
        where += f" · line {passage.line_start}"
    elif with_section and (part := section(passage.heading, 20)):
        where += f" · {isolated(part)}"
    return ltr(f"{passage.n}  {isolated(name, left_to_right=True)}{where}")


#: The words of a message that its action buttons' names give, to tell one message's buttons from another's
_NAMED_WORDS = 6


class MessageWidget(QFrame):
    copyRequested = Signal(str)
    feedbackChanged = Signal(int)
    regenerateRequested = Signal()
    editRequested = Signal()
    sourceRequested = Signal(object)  # Passage

    def __init__(self, role: str, theme: Theme, key_filter: QObject | None = None) -> None:
        """``key_filter``: watches the keys of the message's text (the chat view scrolls to a link Tabbed to)."""
        super().__init__()
        self.role = role
        self.key_filter = key_filter
        self.theme = theme
        self.text = ""
        self.message_id: str | None = None
        self.incognito = False  # a question asked without memory (an edit or regenerate of it stays so)
        self.partial = False  # saved as partial: cut off, or still being written by another process
        self.writing = False  # saved as partial and still being written (by another process: not streamed here)
        self.passages: list[Passage] = []
        self.memories: list[Any] = []
        self.drafted: tuple[tuple[int, int], ...] = ()  # ranges of ``draft_source`` from accepted drafts
        self.draft_source = ""
        self._rendered = Rendered("", ())
        self.setObjectName("UserMessage" if role == "user" else "AssistantMessage")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        heading = QLabel("You" if role == "user" else "Hearth")
        heading.setObjectName("MessageRole")
        #: the text up to its first top-level table (all of it, in most messages); each such table and the text
        #: after it are ``parts`` below it, a table in a strip that scrolls sideways (see ``app.markdown.parts``)
        self.body = self._label()
        self.body.setAccessibleName("Your message" if role == "user" else "Answer")
        self.parts: list[QWidget] = []
        self.notices = QLabel()
        self.notices.setObjectName("Notice")
        self.notices.setWordWrap(True)
        self.notices.hide()
        self.chips = FlowLayout(spacing=6)
        self.chips_row = QFrame()
        self.chips_row.setLayout(self.chips)
        self.chips_row.hide()
        self.meta = QLabel()
        self.meta.setObjectName("MessageMeta")
        self.meta.setWordWrap(True)  # one line, it made every answer at least 280 px wide: cut in a narrow window

        self.copy_button = tool_button("copy", "Copy message")
        self.copy_button.clicked.connect(lambda: self.copyRequested.emit(self.text))
        self.up = tool_button("thumbs-up", "Good answer", checkable=True)
        self.down = tool_button("thumbs-down", "Bad answer", checkable=True)
        self.up.clicked.connect(lambda checked: self._feedback(1 if checked else 0))
        self.down.clicked.connect(lambda checked: self._feedback(-1 if checked else 0))
        self.regenerate = tool_button("regenerate", "Regenerate this answer")
        self.regenerate.clicked.connect(self.regenerateRequested)
        self.edit = tool_button("edit", "Edit and resend")
        self.edit.clicked.connect(self.editRequested)
        actions = QHBoxLayout()
        actions.setSpacing(2)
        for button in (self.copy_button, self.up, self.down, self.regenerate, self.edit):
            scaled_icon(button, 15)
            actions.addWidget(button)
        actions.addSpacing(8)
        actions.addWidget(self.meta, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 8)
        layout.setSpacing(4)
        layout.addWidget(heading)
        self._content = QVBoxLayout()
        self._content.setSpacing(4)
        self._content.addWidget(self.body)
        layout.addLayout(self._content)
        layout.addWidget(self.notices)
        layout.addWidget(self.chips_row)
        layout.addLayout(actions)
        # Only once parented: setVisible(True) on a parentless widget would open it as a window.
        for button in (self.up, self.down):
            button.setVisible(role == "assistant")
        self.regenerate.hide()
        self.edit.hide()

    # --- content ---------------------------------------------------------------------------------
    def set_text(self, text: str, drafted: Sequence[tuple[int, int]] | None = None, source: str | None = None) -> None:
        """Render ``text``. ``drafted``: ranges (of ``source``, by default ``text``) to tint as accepted drafts;
        ``None`` keeps the ones given before (a re-render for a new theme, the final text of an answer)."""
        self.text = text
        if drafted is not None:
            self.drafted, self.draft_source = tuple(drafted), text if source is None else source
        shown = text
        if self.role == "user" and len(text) > SHOWN_CHARS:
            shown = (f"{text[:SHOWN_CHARS]}\n\n*… and {len(text) - SHOWN_CHARS:,} more characters, not shown here "
                     "(Copy copies all of it)*")
        self._rendered = render(shown, self.theme)
        body = self._rendered.html
        if self.drafted and body:
            tint = DRAFT_TINT.get(self.theme.name, DRAFT_TINT["light"])
            body = tint_html(body, self.draft_source, self.drafted, tint)
        self._show(parts(body) or ["&nbsp;"])
        self._name_actions(text)

    def _show(self, pieces: list[str]) -> None:
        """The body's text and tables: widgets kept where a piece keeps its kind (an answer streams in every
        50 ms), made or dropped where the pieces change. A piece holding a table (a table of its own, or text
        with a table in a list or quote) is in a strip that scrolls sideways."""
        first = pieces[0] if TABLE not in pieces[0] else ""
        self.body.setText(first)
        self.body.setVisible(bool(first))
        rest = pieces[1:] if first else pieces
        made = False
        for i, piece in enumerate(rest):
            table = TABLE in piece
            if i < len(self.parts) and isinstance(self.parts[i], TableStrip) == table:
                widget = self.parts[i]
            else:
                made = True
                label = self._label()
                widget = TableStrip(label) if table else label
                label.setAccessibleName("Table" if table else self.body.accessibleName())
                if i < len(self.parts):
                    old = self.parts[i]
                    self._content.replaceWidget(old, widget)
                    old.deleteLater()
                    self.parts[i] = widget
                else:
                    self._content.addWidget(widget)
                    self.parts.append(widget)
            if isinstance(widget, TableStrip):
                widget.set_text(piece)
            else:
                widget.setText(piece)
        for gone in self.parts[len(rest):]:
            self._content.removeWidget(gone)
            gone.deleteLater()
        del self.parts[len(rest):]
        if made:  # Tab goes through the text and tables in order, then the buttons (made after them)
            chain = [*self.labels(), self.copy_button]
            for before, after in pairwise(chain):
                QWidget.setTabOrder(before, after)

    def labels(self) -> list[QLabel]:
        """The labels that show the message's text, in order (a table's inside its strip)."""
        return [self.body] + [w.widget() if isinstance(w, TableStrip) else w for w in self.parts]

    def _label(self) -> RichLabel:
        label = RichLabel()
        label.setObjectName("MessageBody")
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        label.setOpenExternalLinks(False)
        label.linkActivated.connect(self._link)
        if self.key_filter is not None:
            label.installEventFilter(self.key_filter)
        return label

    def _name_actions(self, text: str) -> None:
        """Each action button named with the message it acts on: a screen reader said "Copy message", "Good
        answer" for every message alike, with nothing to tell which."""
        split = text.split(maxsplit=_NAMED_WORDS)
        words = " ".join(split[:_NAMED_WORDS]) + ("…" if len(split) > _NAMED_WORDS else "")
        whose = "your message" if self.role == "user" else "the answer"
        for button in (self.copy_button, self.up, self.down, self.regenerate, self.edit):
            button.setAccessibleName(f"{button.toolTip()}: {whose} “{words}”" if words else button.toolTip())

    def add_notice(self, message: str) -> None:
        lines = [t for t in (self.notices.text(), message) if t]
        self.notices.setText("\n".join(lines))
        self.notices.show()

    def clear_notices(self) -> None:
        """No notice under it: a saved answer shown again as it is now says its own again."""
        self.notices.clear()
        self.notices.hide()

    def set_sources(self, passages: list[Passage], memories: list[Any]) -> None:
        """Numbered chips (file name, page) under the answer, plus one for the memories used; a click opens
        the source panel (``sourceRequested`` carries the passage, or ``None`` for the memories)."""
        self.passages, self.memories = passages, memories
        while (item := self.chips.takeAt(0)) is not None:
            if (old := item.widget()) is not None:  # out of the Tab order now: the final chips (once the answer's
                old.hide()  # citations are checked) came after the streamed ones in it until those were deleted
                old.setParent(None)
                old.deleteLater()
        names = Counter(Path(path).name for path in {p.path for p in passages})  # files, not passages
        places = Counter((p.path, p.page) for p in passages)
        for passage in passages:
            what = {True: "cited in the answer", False: "found but not used in the answer"}.get(passage.cited)
            chip = self._chip(chip_label(passage, names[Path(passage.path).name] > 1,
                                         places[passage.path, passage.page] > 1),
                              f"Source {passage.n}: {passage.location} in {Path(passage.path).parent}"
                              + (f" ({what})" if what else ""), passage)
            if passage.cited is not None:
                chip.setProperty("cited", "true" if passage.cited else "false")
        if memories:
            self._chip(f"{len(memories)} memor{'y' if len(memories) == 1 else 'ies'} used",
                       "Memories used for this answer", None)
        self.chips_row.setVisible(bool(passages or memories))
        # Tab goes through them as they are drawn, above the answer's buttons (it reached Copy, Good, Bad first)
        chips = [self.chips.itemAt(i).widget() for i in range(self.chips.count())]
        order = [*chips, self.copy_button, self.up, self.down, self.regenerate, self.edit]
        for before, after in itertools.pairwise(order if chips else ()):
            QWidget.setTabOrder(before, after)

    def _chip(self, text: str, name: str, passage: Passage | None) -> QPushButton:
        chip = ElidingButton(text)
        chip.setObjectName("Chip")
        chip.setCursor(Qt.CursorShape.PointingHandCursor)
        chip.setToolTip(name)
        chip.setAccessibleName(name)
        chip.setAutoDefault(True)  # Enter opens it too, as it does a link (only Space did)
        chip.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click leaves the focus where it was (the panel's Esc
        # goes back to a chip only if the keyboard chose it: see ChatController._show_source)
        chip.clicked.connect(lambda: self.sourceRequested.emit(passage))
        self.chips.addWidget(chip)
        return chip

    def passage(self, n: int) -> Passage | None:
        return next((p for p in self.passages if p.n == n), None)

    def set_meta(self, text: str, model: str = "") -> None:
        """The line under an answer, and the model that wrote it as its tooltip."""
        self.meta.setText(text)
        self.meta.setToolTip(f"Written by {model}" if model else "")

    def set_feedback(self, value: int) -> None:
        self.up.setChecked(value == 1)
        self.down.setChecked(value == -1)

    def set_last_turn(self, last: bool) -> None:
        """Regenerate applies to the last answer only; any question can be edited and sent again (an earlier one
        with the turns after it, once the user agrees)."""
        self.regenerate.setVisible(last and self.role == "assistant")
        self.edit.setVisible(self.role == "user")
        self.edit.setToolTip("Edit and resend" if last else "Edit and resend (the messages after it are removed)")

    def set_busy(self, busy: bool) -> None:
        for button in (self.up, self.down, self.regenerate, self.edit):
            button.setEnabled(not busy)

    # --- interaction -------------------------------------------------------------------------------
    def _feedback(self, value: int) -> None:
        self.set_feedback(value)
        self.feedbackChanged.emit(value)

    def _link(self, href: str) -> None:
        kind, _, value = href.partition(":")
        if kind == "copy" and value.isdigit() and int(value) < len(self._rendered.code_blocks):
            self.copyRequested.emit(self._rendered.code_blocks[int(value)])
        elif kind == "cite" and value.isdigit() and (passage := self.passage(int(value))) is not None:
            self.sourceRequested.emit(passage)
        elif kind in ("http", "https"):
            QDesktopServices.openUrl(QUrl(href))
