"""The chat controller: sends turns to the generation lane, streams them into the view, and handles stop,
regenerate, edit-and-resend, feedback, copy and the source panel.

Why the render throttle: tokens arrive every few milliseconds and a Markdown re-render of a long answer
costs a few; re-rendering at most every ``RENDER_INTERVAL_MS`` keeps the event loop free (see bench_ui).
The per-token work is an append (and, with tinted drafts on, extending a range of offsets).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget
from shiboken6 import isValid

from app.sources import Passage
from app.views.chat_view import PAGE, ChatView, ErrorBanner
from app.views.composer import Composer
from app.views.dialogs import confirm
from app.views.message import MessageWidget
from app.views.source_panel import SourcePanel
from app.views.status_bar import StatusBar
from app.views.widgets import restyle
from app.workers import Job, Workers
from assistant.errors import ChatMovedOnError, CollectionNotFoundError, ConversationNotFoundError
from assistant.events import (
    Done,
    Failed,
    MemoriesUsed,
    Notice,
    Progress,
    Saved,
    Sources,
    Tally,
    Token,
    context_cut,
    context_full,
    counted,
    prompt_read_text,
)

log = logging.getLogger(__name__)

RENDER_INTERVAL_MS = 50
#: The characters of a page of messages (at most :data:`PAGE` of them): fewer messages where their text is long:
#: laying text out costs by the character, code or not, and a page of 40 answers with a 60-line code block each
#: (6,600 characters) froze the window for 3 s.
PAGE_CHARS = 24_000
#: What the line under an answer says before its first word (its prompt being prepared), and while it streams.
THINKING, WRITING = "Thinking…", "Writing…"
#: What the line under an answer says while another process writes it (see ``Message.being_written``).
WRITTEN_ELSEWHERE = "Being written in another Hearth window or terminal…"
#: How often a chat showing an answer being written elsewhere asks whether its writer still writes it: one
#: killed (`kill -9`) writes nothing more, and nothing else would say it was cut off.
WRITER_CHECK_MS = 2000
#: Said of the open chat when another process deleted it.
DELETED_ELSEWHERE = "This chat was deleted elsewhere (`hearth history delete` in a terminal, or the API)"
#: What the history read for a catch-up gives when the open chat no longer exists (see ``catch_up``).
_GONE = "gone"
#: How long the status bar says a question stopped before its answer began was taken back.
TAKEN_BACK_MS = 8000
#: How long the status bar says that a search's message is no longer in its chat.
GONE_MS = 8000
#: How long the status bar says "Copied to the clipboard."
COPIED_MS = 3000
#: How long the status bar says that an action waits for the answer being written in another chat.
BUSY_ELSEWHERE_MS = 8000


def _last_page(messages: list[Any]) -> tuple[list[Any], list[Any]]:
    """``messages`` split into those before the last page and the last page: at most :data:`PAGE` messages of
    :data:`PAGE_CHARS` characters in all, and at least one."""
    start, chars = len(messages), 0
    while start > 0 and len(messages) - start < PAGE:
        chars += len(messages[start - 1].content)
        if chars > PAGE_CHARS and start < len(messages):
            break
        start -= 1
    return messages[:start], messages[start:]


def answer_meta(stats: dict[str, Any] | None, chat_model: str = "") -> str:
    """One muted line under an answer: length, speed, time to first token, and why it stopped early; first the
    model that wrote it, if not ``chat_model`` (the chat's first answer's): after a switch mid-chat nothing told
    one model's answers from the other's."""
    if not stats:
        return ""
    if not stats.get("completion_tokens") and stats.get("stop_reason") == "cancelled":
        return "stopped before the answer began"  # its speed and first-token time were made-up zeros
    model = stats.get("model") or ""
    parts = [model] if model and chat_model and model != chat_model else []
    parts.append(counted(stats.get("completion_tokens", 0), "token"))  # (it read "1 tokens")
    if stats.get("decode_tps"):
        parts.append(f"{stats['decode_tps']:.1f} tok/s")
    if stats.get("ttft_s"):
        parts.append(f"TTFT {stats['ttft_s'] * 1000:.0f} ms")
    reason = {"cancelled": "stopped", "length": "hit the answer length limit",
              "context_full": "context full"}.get(stats.get("stop_reason", ""))
    return " · ".join(parts + ([reason] if reason else []))


def _first_model(messages: list[Any]) -> str:
    """The model that wrote the first of ``messages``' answers that says so ("" if none does)."""
    return next(((m.stats or {}).get("model") or "" for m in messages if m.role == "assistant"
                 and (m.stats or {}).get("model")), "")


class ChatController(QObject):
    conversationChanged = Signal(object)  # the open conversation id (None: a new chat)
    #: the chat an answer is being written in while another is on screen (None: none, or it is on screen)
    answeringElsewhere = Signal(object)
    historyChanged = Signal()  # a turn was stored: the sidebar should refresh
    collectionsChanged = Signal()  # a question named a collection that is gone: the list should be read again

    def __init__(self, assistant: Any, workers: Workers, view: ChatView, composer: Composer, panel: SourcePanel,
                 status: StatusBar, banner: ErrorBanner) -> None:
        super().__init__()
        self.assistant, self.workers = assistant, workers
        self.view, self.composer, self.panel, self.status, self.banner = view, composer, panel, status, banner
        self.conversation_id: str | None = None
        self.cancel: threading.Event | None = None
        self.answer: MessageWidget | None = None
        #: the answer in flight goes on while its chat is not on screen (see _detach): its chat's id once saved
        self._away = False
        self._away_chat: str | None = None
        self._asked_id: str | None = None  # the question of the answer in flight, once saved
        self._opening: str | None = None  # the chat being read to be shown (a read of another is stale)
        self._kept: list[Any] = []  # its notices, sources and memories, shown again when its chat is opened
        self.editing: MessageWidget | None = None
        #: the memory chip's choice for this chat: True, or False when the user chose incognito (it stays for the
        #: chat: it applied to one message, and the next, typed in the same private mood, was learned)
        self.chat_memory = True
        self._chat_model = ""  # the model of the open chat's first answer (see answer_meta)
        self._queued: str | None = None  # a message sent while a stopped answer was ending
        self._queued_note = ""  # what the banner says once the queued message has started (why it moved)
        self._reloading = False  # the open chat is being read again (a replaced turn was kept)
        #: the chat, and the question of it, edited again once it is shown again (its replacement failed)
        self._edit_again: tuple[str, str] | None = None
        self._later = 0  # the questions after the one being edited, which sending the edit removes
        #: the saved question the running turn replaces (regenerate, edit and resend), or None
        self._replaced_id: str | None = None
        self._older: list[Any] = []  # the open chat's messages above the first one shown, oldest first
        self._going_to = ""  # a message the chat being opened is to show (a search hit, see open_conversation)
        #: where the reader was in each chat left or read again (ChatView.place), by its id: a chat shown again
        #: opened at its newest messages, and one caught up with another process jumped there too
        self._places: dict[str, tuple[str, int]] = {}
        self._drafts: dict[str, str] = {}  # what the box held in each chat left, by its id ("": a new chat)
        self._before_edit = ""  # what the box held when an edit began (see edit)
        self._streamed: list[str] = []
        self._closing = False  # the window closes (see shutdown)
        self._length = 0  # characters streamed so far in this answer
        self._tint = False  # Settings → Appearance: tint text from accepted drafts (read when an answer starts)
        self._reading = False  # the answer's meta says how far its prompt is read (until its first word)
        self._reading_text = ""  # how far, in words (kept while its chat is not on screen)
        self._drafted: list[list[int]] = []  # [start, end) offsets of the streamed text from accepted drafts
        self._opened_from: QWidget | None = None  # the chip Enter opened the source panel from (see _show_source)
        panel.closed.connect(self._panel_closed)
        panel.fileMissing.connect(self._find_moved)
        self._render = QTimer(self)
        self._render.setSingleShot(True)
        self._render.setInterval(RENDER_INTERVAL_MS)
        self._render.timeout.connect(self._flush)
        self._writer_check = QTimer(self)
        self._writer_check.setSingleShot(True)
        self._writer_check.setInterval(WRITER_CHECK_MS)
        self._writer_check.timeout.connect(self.catch_up)
        composer.sendRequested.connect(self.send)
        composer.stopRequested.connect(self.stop)
        composer.memoryChosen.connect(self._memory_chosen)
        composer.editCancelled.connect(self.cancel_edit)
        view.olderRequested.connect(self._show_older)

    @property
    def generating(self) -> bool:
        return self.cancel is not None

    # --- conversations -------------------------------------------------------------------------------
    def _memory_chosen(self, on: bool) -> None:
        """The user clicked the memory chip: the chat's choice from now on (not while an edit shows the edited
        question's own)."""
        if self.editing is None:
            self.chat_memory = on

    def new_chat(self, stop: bool = False) -> None:
        """An empty chat on screen; ``stop``: the one leaving was deleted, and an answer it is given stops."""
        self.cancel_edit()  # an edit left by going elsewhere ends as Esc ends it (its text was sent there)
        self._detach(stop)
        self._swap_draft(None)
        self._opening = None  # a chat clicked just before is not shown over the new one
        self.conversation_id = None
        self._chat_model = ""
        self.chat_memory = True  # a new chat remembers, until the chip says otherwise
        self._set_editing(None)
        self._older = []
        self._keep_place()
        self.view.clear()
        self.panel.hide()
        self.status.set_context(0)
        self.status.clear_answer_stats()  # the last chat's speed stood beside "context 0"
        self.composer.edit.setFocus()
        self.conversationChanged.emit(None)

    def open_conversation(self, conversation_id: str, at: str = "") -> None:
        """Show another chat; an answer still streaming goes on in its own chat (see _detach). While an answer
        streamed, a click on another chat moved the highlight and did nothing else. ``at``: a message to show
        (a search hit): the chat opens there, not at its newest messages, where the hit was not."""
        self._going_to = at
        if conversation_id == (self._opening or self.conversation_id):  # (B then A quickly: A is shown)
            if at and not self._opening:
                self._go_to(conversation_id, at)
            return
        self.cancel_edit()
        self._detach()
        self._swap_draft(conversation_id)
        self._load(conversation_id)

    def _swap_draft(self, coming: str | None) -> None:
        """Each chat keeps what its box holds: the text typed in the chat leaving is kept for it, and the box
        shows the coming chat's ("" for a new chat). A message typed in one chat (refused while an answer was
        written in another) went with the box to the next chat opened, and was sent there."""
        leaving = self._opening or self.conversation_id or ""
        typed = self.composer.edit.toPlainText()
        if typed.strip():
            self._drafts[leaving] = typed
        else:
            self._drafts.pop(leaving, None)
        self.composer.edit.setPlainText(self._drafts.pop(coming or "", ""))
        self.composer.edit.moveCursor(self.composer.edit.textCursor().MoveOperation.End)

    def _go_to(self, conversation_id: str, message_id: str) -> None:
        """Scroll to ``message_id`` and mark it; older pages are shown first, one per turn of the event loop
        (the window answers between them), until it is among them. Another chat opened meanwhile ends it."""
        if conversation_id != self.conversation_id or message_id != self._going_to:
            return
        found = next((w for w in self.view.messages if w.message_id == message_id), None)
        if found is not None:
            self._going_to = ""
            self.view.go_to(found)
        elif any(m.id == message_id for m in self._older):
            self._show_older()
            QTimer.singleShot(0, self.view, lambda: self._go_to(conversation_id, message_id))
        else:  # edited or answered again since the search listed it: the chat opened at its newest, unexplained
            self._going_to = ""
            self.status.showMessage("The message found is no longer in this chat (it was edited or answered again "
                                    "since): the chat is shown at its newest messages.", GONE_MS)

    def _detach(self, stop: bool = False) -> None:
        """The chat on screen is leaving it (a new chat, another chat): an answer it is being given goes on and
        is saved in its chat, shown there still streaming when the chat is opened again (a click on another chat
        stopped it: "This answer was interrupted."); ``stop``: the chat was deleted, and the answer stops. Its
        later events touch none of the widgets, which are deleted ("Internal C++ object already deleted"), nor
        bring the old chat's id back."""
        if self._queued is not None:  # typed for the chat that is leaving: back to the box, not sent elsewhere,
            typed = self.composer.edit.toPlainText().strip()  # above what was typed after it (that was lost)
            self.composer.set_draft(f"{self._queued}\n\n{typed}" if typed and typed != self._queued else self._queued)
            self._queued = None
        if stop:
            self.stop()
        self._answer_off_screen()

    def _answer_off_screen(self) -> None:
        """An answer streaming on screen goes on off it, in its own chat: the messages shown are about to go."""
        if not self.generating or self._away:
            return
        self._render.stop()
        self.answer, self._away, self._away_chat = None, True, self.conversation_id
        self.composer.set_generating(False)  # this chat's box sends (once that answer has ended)
        self.answeringElsewhere.emit(self._away_chat)

    def chat_deleted(self, conversation_id: str) -> None:
        """A chat was deleted from the list: shown, a new chat takes its place; an answer it was being given
        stops, on screen or not."""
        self._drafts.pop(conversation_id, None)
        self._places.pop(conversation_id, None)
        if conversation_id == self.conversation_id:
            self.new_chat(stop=True)
        elif self._away and conversation_id == self._away_chat:
            self.stop()

    def _gone_elsewhere(self, chat: str) -> None:
        """The open chat was deleted by another process (`hearth history delete`, the API): a new chat takes its
        place, with what the box holds, and the banner says why. Its messages stayed on screen with no word, and
        Regenerate on them failed with "Conversation … was not found in the chat history."."""
        draft = self.composer.edit.toPlainText()
        self.chat_deleted(chat)
        self.composer.set_draft(draft)
        self.banner.show_message(f"{DELETED_ELSEWHERE}.")

    def _busy_elsewhere(self, doing: str) -> bool:
        """Whether an answer is being written in a chat not on screen (one answer at a time), said if so."""
        if self._away:
            self.status.showMessage(f"{doing} once the answer being written in another chat ends (its row says "
                                    "“Writing an answer…”: open it and press Esc to stop it).", BUSY_ELSEWHERE_MS)
        return self._away

    def _load(self, conversation_id: str) -> None:
        """Read ``conversation_id`` from the history on its lane and show it, unless another chat is asked for
        before it is read (clicked B, then A at once: B's read came last and B stayed on screen)."""
        history = self.assistant.history
        self._opening = conversation_id

        def read(messages: list[Any]) -> None:
            if conversation_id == self._opening:
                self._opening = None
                self._show(conversation_id, messages)

        self.workers.history.submit(Job(lambda: history.messages(conversation_id), on_done=read,
                                        on_failed=self.banner.show_message))

    def _show(self, conversation_id: str, messages: list[Any]) -> None:
        self._reloading = False
        # the widgets shown are deleted below: an answer still streaming into one goes on off screen (and is shown
        # again as it streams, see `live`). A CI run once had an answer write into its deleted widget ("Internal C++
        # object (RichLabel) already deleted") after a question went to a new chat
        self._answer_off_screen()
        if conversation_id != self.conversation_id:  # another chat (not this one shown again): its folders
            # are ticked, so a follow-up is answered as the chat was asked; it was answered from whatever the box
            # had ticked for another chat (often nothing: a follow-up in a chat about a folder got no sources)
            self.composer.select_collections(list(self.assistant.history.asked_from(messages)))
            # and it goes on incognito if its last question was asked so
            asked = next((m for m in reversed(messages) if m.role == "user"), None)
            self.chat_memory = not (asked is not None and asked.incognito)
        self._keep_place()
        self.conversation_id = conversation_id
        self._set_editing(None)
        self.view.clear()
        self.panel.hide()
        self._chat_model = _first_model(messages)
        self._older, page = _last_page(messages)  # the older ones shown as the user scrolls up (see ChatView)
        # the chat an answer is being written in off screen, opened again: that answer goes on streaming here
        # (not yet saved there, it is shown when it is: see _event_away)
        live = (self._away and conversation_id == self._away_chat and len(messages) >= 2 and messages[-1].partial
                and messages[-1].role == "assistant" and messages[-2].id == self._asked_id)
        if live and len(page) < 2:  # a question longer than a page (a long paste): shown with its answer, which
            self._older, page = messages[:-2], messages[-2:]  # was not found, and could not be stopped
        ids = [m.id for m in page]
        if live and self._replaced_id in ids:  # a regenerated or edited turn: the core drops the old one at the
            page = page[:ids.index(self._replaced_id)] + page[-2:]  # first word (or keeps it: then read again)
        for message in page[:-1] if live else page:
            self._add_saved(message)
        if live:
            self._attach(page[-1])
        self.view.has_older = bool(self._older)
        self._last_turn_shown(messages, live)
        if conversation_id != self.conversation_id:
            self.status.clear_answer_stats()  # another chat's last answer's speed stood beside this one's
        if self._edit_again and self._edit_again[0] == conversation_id:  # the draft in the box still replaces
            # this question when sent
            edited = next((m for m in self.view.messages if m.message_id == self._edit_again[1]), None)
            self._set_editing(edited, self._questions_after(edited) if edited is not None else 0)
        self._edit_again = None
        if self._going_to:  # a search hit's message (after the layout has taken the page in)
            QTimer.singleShot(0, self.view, lambda: self._go_to(conversation_id, self._going_to))
        else:
            self._back_to_place(conversation_id)
        self.conversationChanged.emit(conversation_id)
        self._send_queued()  # typed while the old turn was being shown again

    def _last_turn_shown(self, messages: list[Any], answering: bool) -> None:
        """The last turn's buttons, the context meter and the check on an answer being written elsewhere, as
        ``messages`` (the open chat, shown) have them."""
        writing = bool(self.view.messages) and self.view.messages[-1].writing
        self.view.mark_last_turn(answering=answering or writing)
        # what the chat's last answer left in the context (the meter read 0 for a long chat opened again)
        last = next((m.stats for m in reversed(messages) if m.role == "assistant" and m.stats), None) or {}
        self.status.set_context(int(last.get("context_used") or 0))
        if any(w.writing for w in self.view.messages):  # the newest or not (the window asked after a terminal)
            self._writer_check.start()

    def _keep_place(self) -> None:
        """Where the reader is in the chat on screen, kept for when it is shown again (none: at its newest)."""
        place = self.view.place() if self.conversation_id else None
        if place is not None:
            self._places[self.conversation_id] = place
        elif self.conversation_id:
            self._places.pop(self.conversation_id, None)

    def _back_to_place(self, conversation_id: str) -> None:
        """The chat just shown at the reader's kept place, its older pages shown down to it; a message no longer
        saved leaves the chat at its newest. On the next turn of the event loop: the view, following the newest
        messages as the page was built, scrolls to the end then."""
        message_id, offset = self._places.pop(conversation_id, ("", 0))
        while message_id and not any(w.message_id == message_id for w in self.view.messages) \
                and any(m.id == message_id for m in self._older):
            self._show_older()
        found = next((w for w in self.view.messages if message_id and w.message_id == message_id), None)
        if found is not None:
            QTimer.singleShot(0, found, lambda: self.view.scroll_to(found, offset))

    def _attach(self, reply: Any) -> None:
        """Show the answer in flight as the reply being written, with what it streamed and was given so far."""
        self.answer = self._add("assistant", "")
        self.answer.message_id = reply.id
        self.answer.set_busy(True)
        # how far its prompt is read, if it still is (the line under it was empty until the next batch)
        self.answer.set_meta(self._reading_text or (WRITING if self._length else THINKING))
        self._reading = bool(self._reading_text)
        self._away, self._away_chat = False, None
        kept, self._kept = self._kept, []
        for event in kept:  # its notices, sources and memories (kept again as they are shown)
            self._event(event)
        self._flush()
        self.composer.set_generating(self.cancel is not None and not self.cancel.is_set())
        self.answeringElsewhere.emit(None)

    def _show_older(self) -> None:
        """The next page of older messages, above the first one shown."""
        self._older, page = _last_page(self._older)
        with self.view.keeping_position():
            for message in reversed(page):
                self._add_saved(message, older=True)
        self.view.has_older = bool(self._older)

    def _add_saved(self, message: Any, older: bool = False, follow: bool = True) -> None:
        self._fill(self._add(message.role, message.content, older, follow), message)

    def _fill(self, widget: MessageWidget, message: Any) -> None:
        """Show saved ``message`` in ``widget``: a new one, or the one showing it as it was (another process wrote
        more of it, or finished it)."""
        if widget.text != message.content:
            widget.set_text(message.content)
        widget.message_id = message.id
        widget.incognito = message.incognito
        widget.partial, widget.writing = message.partial, message.being_written
        if message.role == "assistant":
            widget.set_busy(widget.writing)  # (Regenerate, feedback on a half-written answer)
            widget.clear_notices()
            widget.set_sources([Passage.of(s) for s in message.sources or []], list(message.memories or []))
            if widget.writing:  # not "This answer was interrupted.", nor "0 tokens" under it
                widget.set_meta(WRITTEN_ELSEWHERE)
                return
            widget.set_meta(answer_meta(message.stats, self._chat_model), (message.stats or {}).get("model", ""))
            widget.set_feedback(message.feedback)
            stats = message.stats or {}
            if stats.get("dropped_turns"):  # said as it streamed, and gone when the chat was opened again
                widget.add_notice(context_cut(stats["dropped_turns"], stats.get("context_size") or 0))
            if stats.get("stop_reason") == "context_full":
                widget.add_notice(context_full(stats.get("completion_tokens") or 0, stats.get("context_size") or 0))
            if message.partial:
                error = stats.get("error")
                widget.add_notice(f"This answer failed: {error}" if error else "This answer was interrupted.")

    # --- turns ---------------------------------------------------------------------------------------
    def send(self, text: str) -> None:
        if self._busy_elsewhere("Send it"):  # one answer at a time: the message stays in the box, to send then (a
            self.composer.set_draft(text)  # queue of one lost the first of two messages sent meanwhile)
            return
        if self.generating:  # sent right after Stop, while the stopped answer ends: sent once it has
            self._queued = text
            return
        replace, use_memory = self.editing, self.composer.use_memory()  # as the chip shows it, edit or not
        later = self._later
        self._set_editing(None)
        if replace is not None and replace.message_id is not None:
            self.view.remove_from(replace)
        self._start(text, replace.message_id if replace is not None else None, use_memory,
                    tuple(self.composer.selected_collections()), later)
        if replace is not None and self._before_edit:  # the message typed before the edit, back in the box
            self.composer.edit.setPlainText(self._before_edit)
        self._before_edit = ""

    def catch_up(self) -> None:
        """Show the open chat as the history has it now when it went on elsewhere (`hearth ask -c`, the API,
        another window): read when the window is activated and after each of its own answers. Not while an answer
        streams or an edit is open. What is shown is compared with what is saved by count as well as by newest
        message: a turn the API added before the window's own question was never shown (the window's answer was
        the newest message, as it had shown it), though that answer was written with the turn in its context."""
        chat = self.conversation_id
        if chat is None or self.generating or self.editing is not None or self._reloading:
            return
        shown = self._shown()
        history = self.assistant.history

        def newer() -> list[Any] | str | None:  # the whole chat only when it differs from what is shown
            saved = history.tally(chat)
            if saved.last_id is None:  # no message: the chat is gone, or a new one not yet asked in
                try:
                    history.get_conversation(chat)
                except ConversationNotFoundError:
                    return _GONE
                return None
            return None if saved == shown else history.messages(chat)

        self.workers.history.submit(Job(newer, on_done=lambda messages: self._caught_up(chat, shown, messages),
                                        on_failed=lambda message: log.info("chat not read again: %s", message)))

    def _shown(self) -> Tally:
        """The open chat as the window has it: the messages on screen and those above them not yet shown."""
        last = self.view.messages[-1] if self.view.messages else None
        count = len(self._older) + len(self.view.messages)
        if last is None:
            return Tally(count, None)
        partials = [(len(m.content), m.being_written) for m in self._older if m.partial] + \
            [(len(w.text), w.writing) for w in self.view.messages if w.partial]
        return Tally(count, last.message_id, last.partial, len(last.text), sum(writing for _, writing in partials),
                     len(partials), sum(size for size, _ in partials))

    def _caught_up(self, chat: str, shown: Tally, messages: list[Any] | str | None) -> None:
        if messages == _GONE:
            if chat == self.conversation_id and not self.generating:
                self._gone_elsewhere(chat)
            return
        if messages and chat == self.conversation_id and not self.generating and self.editing is None \
                and self._shown() == shown and not self._went_on(messages):
            self._show(chat, messages)

    def _went_on(self, messages: list[Any]) -> bool:
        """Show the open chat as ``messages`` (saved now) have it by changing what is shown, if only its newest
        message shown, its partial ones and those after them differ: those shown as they are now, the new ones
        added below, the reader left where they read (or at the end, following it). Said False where an earlier
        one differs (deleted, answered again elsewhere): the chat is then shown anew. Each catch-up built the whole
        chat again: a turn added in a terminal made its messages blink out and back, 112 ms of the window's thread
        for a chat of 400 (13 ms added below)."""
        shown = [m.id for m in self._older] + [w.message_id for w in self.view.messages]
        if not self.view.messages or [m.id for m in messages[:len(shown)]] != shown:
            return False
        first = len(self._older)  # the messages on screen, each with its saved self; the partial ones and the
        # newest are shown as they are now (an answer a terminal finished while the window answered in the same chat)
        self._older = list(messages[:first])  # (one finished above the page too: its count of partials is right)
        newest = self.view.messages[-1]
        for widget, saved in zip(self.view.messages, messages[first:len(shown)], strict=True):
            now = (saved.content, saved.partial, saved.being_written)
            if (widget.partial or widget is newest) and (widget.text, widget.partial, widget.writing) != now:
                self._fill(widget, saved)  # (unchanged, the newest keeps what its own stream said under it)
        for message in messages[len(shown):]:
            self._add_saved(message, follow=False)
        self._last_turn_shown(messages, answering=False)
        return True

    def regenerate(self) -> None:
        question = self.view.last("user")
        if self._busy_elsewhere("Regenerate works") or self.generating or question is None \
                or question.message_id is None:
            return
        # as the chip says (a chat opened again sets it as its last question was asked): with the chip switched
        # back to "Memory on", a question asked incognito was regenerated incognito all the same
        use_memory = self.composer.use_memory()
        self._set_editing(None)  # an edit of this question ends here; its draft stays in the box to send anew
        self.composer.edit.setFocus()  # the Regenerate button pressed from the keyboard goes with its message
        self.view.remove_from(question)
        # asked again as it was asked: from the collections it was answered from (the core keeps them), not from
        # what the composer has selected since; an edit is sent with the composer's selection, which it shows
        self._start(question.text, question.message_id, use_memory, None)

    def edit_last(self) -> None:
        self.edit(self.view.last("user"))

    def edit(self, question: MessageWidget | None) -> None:
        """Put ``question`` in the box to edit and send again. Sent, it replaces the question and all after it,
        so an earlier question is edited once the user has agreed to that (only the last could be edited)."""
        if self._busy_elsewhere("Edit works") or self.generating or question is None or question.message_id is None:
            return
        later = self._questions_after(question)

        def begin() -> None:
            if question in self.view.messages and not self.generating:
                if self.editing is None:  # what the box held comes back after the edit (it was lost)
                    self._before_edit = self.composer.edit.toPlainText()
                self._set_editing(question, later)
                self.composer.set_draft(question.text)

        if not later:
            begin()
            return
        after = len(self.view.messages) - self.view.messages.index(question) - 1
        confirm(self.view, "Edit an earlier question",
                f"Sending the edited question removes the {counted(after, 'message')} after it: its answer, and "
                f"{counted(later, 'later question')} with theirs.", "Edit", begin)

    def _questions_after(self, question: MessageWidget) -> int:
        return sum(m.role == "user" for m in self.view.messages[self.view.messages.index(question) + 1:])

    def cancel_edit(self) -> None:
        """Leave the edit: the last question stays as it was, and the box holds again what it held before it."""
        if self.editing is not None:
            self._set_editing(None)
            self.composer.edit.setPlainText(self._before_edit)
            self._before_edit = ""

    def _set_editing(self, question: MessageWidget | None, later: int = 0) -> None:
        for widget, on in ((self.editing, False), (question, True)):  # the question edited is outlined
            if widget is not None:
                restyle(widget, "editing", on)
        self.editing, self._later = question, later
        self.composer.set_editing(later if question is not None else None)
        # the chip shows how the edit will be sent (one asked incognito stays so), then the chat's choice again
        self.composer.set_use_memory(not question.incognito if question is not None else self.chat_memory)

    def escape(self) -> None:
        """Esc undoes the nearest thing: stops the answer, else leaves an edit, else closes the source panel (not an
        answer being written in a chat not on screen)."""
        if self.generating and not self._away:
            self.stop()
        elif self.editing is not None:
            self.cancel_edit()
        elif self.panel.isVisible():
            self.panel.close_panel()

    def shutdown(self) -> None:
        """The window closes: its answer stops, and what that answer still sends draws nothing. The tokens already
        on their way were drawn after the close, into message widgets Qt may have deleted by then ("Internal C++
        object (RichLabel) already deleted"), and a message queued behind the answer was sent."""
        self._closing = True
        self.stop()
        self._render.stop()
        self.answer, self._queued = None, None

    def stop(self) -> None:
        if self.cancel is not None:
            self.cancel.set()
            self.composer.set_generating(False)  # the next message can be typed and sent at once (see send)

    def _start(self, text: str, replace_from: str | None, use_memory: bool,
               collections: tuple[str, ...] | None, later: int = 0) -> None:
        self.banner.clear_passing()
        if self._queued_note:
            self.banner.show_message(self._queued_note)
            self._queued_note = ""
        self._replaced_id, self._away, self._asked_id, self._kept = replace_from, False, None, []
        self._add("user", text).incognito = not use_memory
        self.answer = self._add("assistant", "")
        self.answer.set_busy(True)
        self.answer.set_meta(THINKING)
        self._reading, self._reading_text = False, ""
        self.view.mark_last_turn(answering=True)
        self._streamed, self._length, self._drafted = [], 0, []
        self._tint = self.assistant.settings.appearance.tint_drafts
        self.cancel = cancel = threading.Event()
        self.composer.set_generating(True)
        assistant, conversation_id = self.assistant, self.conversation_id
        self.workers.generation.submit(Job(
            lambda: assistant.ask(text, conversation_id, cancel=cancel, collections=collections,
                                  use_memory=use_memory, replace_from=replace_from, later_questions=later),
            on_item=self._event, on_done=self._ended, on_failed=self._failed))

    def _find_moved(self, passage: Passage) -> None:
        """Ask the index where a cited file that is gone holds the passage now (off the GUI thread): one read of
        the manifest, on the lane of quick SQLite reads. On the io lane it queued behind the start-up's listing of
        the collections (which opens Chroma), and the chip said "Looking for it…" until that was done."""
        self.workers.history.submit(Job(lambda: self.assistant.moved_source(passage.path, passage.text),
                                   on_done=lambda path: self.panel.moved_to(passage, path or None),
                                   on_failed=lambda _: self.panel.moved_to(passage, None)))

    def _add(self, role: str, text: str, older: bool = False, follow: bool = True) -> MessageWidget:
        widget = self.view.add_message(role, text, older, follow)
        widget.copyRequested.connect(self.copy)
        widget.sourceRequested.connect(lambda passage, w=widget: self._show_source(passage, w))
        widget.feedbackChanged.connect(lambda value, w=widget: self._feedback(w, value))
        widget.regenerateRequested.connect(self.regenerate)
        widget.editRequested.connect(lambda w=widget: self.edit(w))
        return widget

    def _show_source(self, passage: Passage | None, widget: MessageWidget) -> None:
        """The panel shows a chip's passage. A chip has the focus only when the keyboard gave it (a click does not
        take it): that chip is where the panel's Esc goes back to, so the next chip is a Tab away (Esc sent a
        keyboard user to the message box, Shift+Tab by Shift+Tab back up through the chat)."""
        focused = QApplication.focusWidget()
        self._opened_from = focused if focused is not None and focused.objectName() == "Chip" else None
        self.panel.show_source(passage, widget.memories)

    def _panel_closed(self, had_focus: bool) -> None:
        """By Esc or its close button: the next key goes to the chip Enter opened it from, else to the box; or
        stays in the box when the user clicked into it meanwhile (Esc sent the typing back to the chip)."""
        chip, self._opened_from = self._opened_from, None
        if not had_focus and self.composer.edit.hasFocus():
            return
        if chip is not None and isValid(chip) and chip.isVisible():
            chip.setFocus(Qt.FocusReason.OtherFocusReason)
        else:
            self.composer.edit.setFocus()

    def _event(self, event: Any) -> None:
        if self._closing:
            return
        if isinstance(event, Notice | Sources | MemoriesUsed):
            self._kept.append(event)  # shown again if its chat is opened while the answer goes on off screen
        if isinstance(event, Saved):
            self._asked_id = event.user_message_id
        if isinstance(event, Progress):  # shown again if its chat is opened while the prompt is still read
            self._reading_text = prompt_read_text(event)
        if self._away and not isinstance(event, Token):
            self._event_away(event)
            return
        answer = self.answer
        if answer is None and not isinstance(event, Token):  # its turn already taken off the screen
            return
        if isinstance(event, Token):
            self._reading_text = ""
            if (self._reading or not self._length) and answer is not None:  # the answer begins (it said "Thinking…"
                self._reading = False  # while it streamed)
                answer.set_meta(WRITING)
            text, start = event.text, self._length
            self._streamed.append(text)
            self._length = start + len(text)
            if self._tint and event.drafted:
                if self._drafted and self._drafted[-1][1] == start:
                    self._drafted[-1][1] = self._length
                else:
                    self._drafted.append([start, self._length])
            if not self._render.isActive():
                self._render.start()
        elif isinstance(event, Progress):  # a long prompt (a paste, a long chat read anew): how far, with an ETA,
            self._reading = True  # where it said "Thinking…" for a minute
            answer.set_meta(self._reading_text)
        elif isinstance(event, Notice):
            answer.add_notice(event.message)
        elif isinstance(event, Sources):
            cited = set(event.cited)
            passages = [replace(Passage.of(c, i), cited=i in cited) for i, c in enumerate(event.citations, start=1)]
            shown = self.panel.passage if self.panel.isVisible() else None
            answer.set_sources(passages, answer.memories)
            if shown is not None and 0 < shown.n <= len(passages) and passages[shown.n - 1].path == shown.path:
                # opened while the answer was written: shown again as the answer ended it, with the lines it
                # restates (it stayed whole, every line highlighted, until opened again)
                self.panel.show_source(passages[shown.n - 1], answer.memories)
        elif isinstance(event, MemoriesUsed):
            answer.set_sources(answer.passages, list(event.memories))
        elif isinstance(event, Saved):  # the chat exists now: the sidebar lists and selects a new one at once
            question = self.view.last("user")
            if question is not None:
                question.message_id = event.user_message_id
            if event.conversation_id != self.conversation_id:
                self.conversation_id = event.conversation_id
                self.conversationChanged.emit(self.conversation_id)
        elif isinstance(event, Done):
            if self._replaced_id is not None and event.message_id is None and self.conversation_id:
                # a regenerated or edited answer stopped before its first word: the core kept the old turn
                self._render.stop()
                self.answer, self._reloading = None, True
                self._load(self.conversation_id)
                return
            if event.withdrawn:
                self._take_back(event.conversation_id)
                return
            self._finish_text(event.text)
            self._chat_model = self._chat_model or event.stats.model
            answer.set_meta(answer_meta(event.stats.to_dict(), self._chat_model), event.stats.model)
            self.status.set_context(event.stats.context_used, event.stats.context_size)
            if event.stats.completion_tokens:  # an answer stopped before its first token has no speed to show
                self.status.set_speed(event.stats.decode_tps, event.stats.ttft_s)
            self.status.set_speculation(event.stats, self.assistant.settings.model.speculative)
            question = self.view.last("user")
            if question is not None:
                question.message_id = event.user_message_id
            answer.message_id = event.message_id
            answer.partial = event.stats.stop_reason == "cancelled"  # as the core saved it
            if event.conversation_id and event.conversation_id != self.conversation_id:
                self.conversation_id = event.conversation_id
                self.conversationChanged.emit(self.conversation_id)
        elif isinstance(event, Failed):
            question = self.view.last("user")
            if (event.error_type == ConversationNotFoundError.__name__ and self._replaced_id is None
                    and question is not None):
                # deleted elsewhere (`hearth history delete`, the API): the question goes to a new chat, as in
                # `hearth chat`; it came back to the box and every send failed the same way until New chat
                self.new_chat()  # lets this turn end off screen (see _detach)
                self._queued = question.text  # sent as soon as this turn has ended (see _ended)
                self._queued_note = f"{DELETED_ELSEWHERE}: your question went to a new chat."
                return
            self.banner.show_message(event.message)
            if event.error_type == CollectionNotFoundError.__name__:  # removed elsewhere since the list was read:
                self.collectionsChanged.emit()  # it stayed listed and ticked, and every question failed the same
            if not event.saved and not event.text and question is not None:
                # nothing was saved (too long for the context): the question goes back to the composer to be
                # shortened, instead of a turn on screen that Edit and Regenerate could not find in the history
                self._unshow(question)
                self.composer.set_draft(question.text)
                # the turn it was to replace is still saved: show it, and the shortened text replaces it, unless the
                # chat went on elsewhere (then it is shown as it is now, and the text is asked anew)
                if self._replaced_id is not None and self.conversation_id:
                    self._reloading = True
                    if event.error_type != ChatMovedOnError.__name__:
                        self._edit_again = (self.conversation_id, self._replaced_id)
                    self._load(self.conversation_id)
                return
            self._finish_text(event.text)
            answer.set_meta("")
            answer.add_notice("The answer could not be completed.")
            answer.partial = True  # as the core saved it

    def _event_away(self, event: Any) -> None:
        """An event of the answer being written in a chat not on screen: nothing on screen is about it."""
        if isinstance(event, Saved):
            if event.conversation_id != self._away_chat:  # a new chat, saved now
                self._away_chat = event.conversation_id
                self.answeringElsewhere.emit(self._away_chat)
                self.historyChanged.emit()  # listed at once
            if event.conversation_id == self.conversation_id and self.editing is None:  # opened again before
                self._load(event.conversation_id)  # its question was saved: shown now, the answer streaming
        elif isinstance(event, Failed):
            log.warning("an answer written off screen failed: %s", event.message)

    def _take_back(self, conversation_id: str | None) -> None:
        """The question was stopped before its first word and the core took it back: it leaves the chat, and its
        text goes back to the box (unless another message was sent meanwhile: that one goes on)."""
        question = self.view.last("user")
        self._unshow(question)
        if question is None:
            return
        typed = self.composer.edit.toPlainText().strip()
        held = typed if typed and typed != question.text else ""
        if self._queued is None:  # (a message sent after Stop goes on in its place)
            # above what the box holds (typed in another chat meanwhile): a long paste was lost when it was not empty
            self.composer.set_draft(f"{question.text}\n\n{held}" if held else question.text)
            told = "your message is back in the box" + (", above what it held" if held else "")
        else:
            told = "it was not kept"
        self.status.showMessage(f"Stopped before the answer began: {told}.", TAKEN_BACK_MS)
        if conversation_id is None and self.conversation_id is not None:  # the chat made for it went with it
            self.conversation_id = None
            self.conversationChanged.emit(None)

    def _unshow(self, question: Any | None) -> None:
        """The turn of ``question`` leaves the screen (it was never saved, or the core took it back)."""
        self._render.stop()
        self.answer = None
        if question is not None:
            self.view.remove_from(question)

    def _flush(self) -> None:
        if self.answer is not None:
            if self._drafted:
                self.answer.set_text("".join(self._streamed), [(a, b) for a, b in self._drafted])
            else:
                self.answer.set_text("".join(self._streamed))

    def _finish_text(self, text: str) -> None:
        """The final text (citations checked: it may differ a little from what streamed). Tinted ranges stay
        tied to the streamed text, which the message keeps as their source."""
        self._render.stop()
        if self.answer is not None:
            if self._drafted:
                self.answer.set_text(text, [(a, b) for a, b in self._drafted], "".join(self._streamed))
            else:
                self.answer.set_text(text)
        self._streamed, self._drafted = [text], []

    def _ended(self, _result: object = None) -> None:
        self.cancel = None
        if self._closing:
            return
        if self._away:  # written off screen: its chat shows it when opened (read again if it is on screen now,
            # opened before the answer was saved there)
            self._render.stop()
            chat, self._away, self._away_chat = self._away_chat, False, None
            self._streamed, self._drafted, self._kept = [], [], []
            self.answeringElsewhere.emit(None)
            self.historyChanged.emit()
            if chat is not None and chat == self.conversation_id and self.editing is None:
                self._reloading = True  # a message sent meanwhile waits for the chat as it is now
                self._load(chat)
            self._send_queued()
            return
        self.composer.set_generating(False)
        if self.answer is not None:
            self.answer.set_busy(False)
            if not self.answer.text:
                self._flush()
        self.answer = None
        self.view.mark_last_turn()
        self.historyChanged.emit()
        self.catch_up()  # a turn added elsewhere while this one was asked is shown in its place
        self._send_queued()

    def _send_queued(self) -> None:
        if self._queued is not None and not self.generating and not self._reloading:
            text, self._queued = self._queued, None
            self.send(text)

    def _failed(self, message: str) -> None:
        if self._away:  # e.g. its chat was deleted under it: nothing on screen is about it any more
            log.warning("an answer stopped off screen failed: %s", message)
        else:
            self.banner.show_message(message)
        self._ended()

    # --- small actions -------------------------------------------------------------------------------
    def _feedback(self, widget: MessageWidget, value: int) -> None:
        if widget.message_id is None:
            return
        history, mid = self.assistant.history, widget.message_id
        self.workers.history.submit(Job(lambda: history.set_feedback(mid, value), on_failed=self.banner.show_message))

    def copy_last_answer(self) -> None:
        answer = self.view.last("assistant")
        if answer is not None and answer.text:
            self.copy(answer.text)

    def copy(self, text: str) -> None:
        """Put ``text`` (a message, a code block) on the clipboard and say so: nothing showed it had worked."""
        QGuiApplication.clipboard().setText(text)
        self.status.showMessage("Copied to the clipboard.", COPIED_MS)
