"""The sidebar's conversation list: refresh, search as you type (debounced, on the history lane), rename, export,
delete."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QStatusBar

from app.qt_models import ListModel
from app.views.dialogs import ask_text, confirm, confirm_with_option
from app.views.sidebar import Sidebar
from app.workers import Job, Workers
from assistant.events import counted, short_title

SEARCH_DELAY_MS = 150
#: Matching chats listed at most; beyond, the sidebar says more match (it stopped at 50 without a word).
SEARCH_LIMIT = 200
EXPORT_FILTERS = "Markdown (*.md);;JSON (*.json)"
#: How long "Exported … to …" stays in the status bar.
EXPORTED_MESSAGE_MS = 8000
#: A row's second line while an answer is being written in its chat (another chat on screen).
ANSWERING = "Writing an answer…"
_UNSAFE_IN_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


@dataclass(frozen=True)
class Entry:
    """One sidebar row: a conversation, or a search hit inside one."""

    conversation_id: str
    title: str
    detail: str
    message_id: str = ""  # a search hit's message: the chat opens at it


def when(timestamp: float, now: float | None = None) -> str:
    age = (now or time.time()) - timestamp
    if age < 60:
        return "just now"
    if age < 3600:
        return f"{int(age // 60)} min ago"
    if age < 86400:
        return f"{int(age // 3600)} h ago"
    return time.strftime("%d %b %Y", time.localtime(timestamp))


def entries_from_conversations(conversations: list[Any]) -> list[Entry]:
    return [Entry(c.id, c.title, f"{when(c.updated_at)} · {counted(c.message_count, 'message')}")
            for c in conversations]


def entries_from_hits(hits: list[Any]) -> list[Entry]:
    """One row per hit (the search gives each conversation's best), with the matching snippet as the detail; a
    hit on the title says so (the row showed the title twice, "Report one / Report one")."""
    return [Entry(hit.conversation_id, hit.title, "The title matches." if hit.message_id is None
                  else " ".join(hit.snippet.replace("**", "").split()), hit.message_id or hit.also_in or "")
            for hit in hits]


def search_note(found: int) -> str:
    """What the list under the search box holds (``found`` is at most :data:`SEARCH_LIMIT` + 1)."""
    if not found:
        return "No chat matches."
    if found > SEARCH_LIMIT:
        return f"The best {SEARCH_LIMIT} of more matching chats: add words to narrow it."
    return f"{counted(found, 'chat')} {'matches' if found == 1 else 'match'}."


def export_file_name(title: str) -> str:
    """A file name from a chat's title: characters no file system accepts become "-", at most 80 characters."""
    name = _UNSAFE_IN_NAMES.sub("-", title).strip(" .-")[:80].rstrip(" .-")
    return name or "chat"


def conversation_model() -> ListModel[Entry]:
    return ListModel(lambda e: f"{short_title(e.title)}\n{e.detail}", lambda e: e.title)  # the whole one: a tooltip


class ConversationsController(QObject):
    openRequested = Signal(str, str)  # a chat, and the message to show in it ("": its newest)
    deleted = Signal(str)

    def __init__(self, assistant: Any, workers: Workers, sidebar: Sidebar, model: ListModel[Entry],
                 status: QStatusBar, show_error: Callable[[str], None]) -> None:
        super().__init__()
        self.assistant, self.workers, self.sidebar, self.model = assistant, workers, sidebar, model
        self.status, self.show_error = status, show_error
        self.export_folder = Path.home()  # the next export is offered where the last one went
        self.current: str | None = None
        self.answering: str | None = None  # the chat an answer is being written in while another is shown
        self._query = ""
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DELAY_MS)
        self._debounce.timeout.connect(self.refresh)
        sidebar.searchChanged.connect(self._typed)
        sidebar.conversationActivated.connect(
            lambda entry: self.openRequested.emit(entry.conversation_id, entry.message_id))
        sidebar.renameRequested.connect(self.rename)
        sidebar.deleteRequested.connect(self.delete)
        sidebar.exportRequested.connect(self.export)

    def _typed(self, text: str) -> None:
        self._query = text.strip()
        self._debounce.start()

    def refresh(self) -> None:
        """Reload the list (or the search results) off the GUI thread; stale answers are dropped."""
        query, history = self._query, self.assistant.history
        if query:
            job = Job(lambda: entries_from_hits(history.search(query, SEARCH_LIMIT + 1, per_conversation=True)))
        else:
            job = Job(lambda: entries_from_conversations(history.list_conversations()))
        job.on_done = lambda entries: self._show(query, entries)
        self.workers.history.submit(job)

    def _show(self, query: str, entries: list[Entry]) -> None:
        if query != self._query:
            return
        entries = [replace(e, detail=ANSWERING) if e.conversation_id == self.answering else e
                   for e in entries]
        self.sidebar.set_search_note(search_note(len(entries)) if query else "")
        self.sidebar.show_conversations(entries[:SEARCH_LIMIT] if query else entries, self.current)

    def set_answering(self, conversation_id: str | None) -> None:
        """Its row says an answer is being written there (it goes on while another chat is on screen)."""
        self.answering = conversation_id
        self.refresh()

    def set_current(self, conversation_id: str | None) -> None:
        """The chat on screen; a new one clears the search, so it is listed (and selected) once it is asked in:
        a search left on hid it, and the list's Delete then named a chat of the search's hits."""
        self.current = conversation_id
        if conversation_id is None and self.sidebar.search.text():
            self.sidebar.search.clear()  # (its refresh follows, see _typed)
            return
        self.refresh()

    def rename(self, entry: Entry) -> None:
        history = self.assistant.history

        def renamed(title: str) -> None:
            self.workers.history.submit(Job(lambda: history.rename(entry.conversation_id, title),
                                            on_done=lambda _: self.refresh()))

        ask_text(self.sidebar, "Rename chat", "Title:", entry.title, renamed)

    def export(self, entry: Entry) -> None:
        """Ask where to save the chat (Markdown or JSON, as ``hearth history export`` prints it), then write it
        on the history lane; the status bar says where it went, the banner why it could not."""
        suggested = self.export_folder / f"{export_file_name(entry.title)}.md"
        path, chosen = QFileDialog.getSaveFileName(self.sidebar, "Export chat", str(suggested), EXPORT_FILTERS)
        if not path:
            return
        target = Path(path)
        if not target.suffix:  # a name typed without one gets the chosen filter's
            target = target.with_name(target.name + (".json" if chosen.startswith("JSON") else ".md"))
        self.export_folder = target.parent
        history = self.assistant.history

        def saved(_: None) -> None:
            self.status.showMessage(f"Exported “{entry.title}” to {target}", EXPORTED_MESSAGE_MS)

        self.workers.history.submit(Job(lambda: history.save_export(entry.conversation_id, target),
                                        on_done=saved, on_failed=self.show_error))

    def delete(self, entry: Entry) -> None:
        """Ask first; when memory learned from the chat, the question offers to forget that too (unticked: the
        user said those things, and deleting a chat is often tidying). Nothing said what became of them."""
        assistant, question = self.assistant, f"Delete “{entry.title}” and all its messages?"

        def gone(forgot: int) -> None:
            self.deleted.emit(entry.conversation_id)
            self.refresh()
            if forgot:
                what = counted(forgot, "memory", "memories")
                self.status.showMessage(f"Deleted “{entry.title}” and forgot the {what} learned from it.",
                                        EXPORTED_MESSAGE_MS)

        def delete_it(forget: bool) -> None:  # forgetting is memory work: the io lane, as the memory manager's
            lane = self.workers.io if forget else self.workers.history
            lane.submit(Job(lambda: assistant.delete_chat(entry.conversation_id, forget), on_done=gone))

        def ask(learned: int, note: str = "") -> None:
            if learned:
                confirm_with_option(self.sidebar, "Delete chat?", question, "Delete",
                                    f"Also forget the {counted(learned, 'memory', 'memories')} learned from it",
                                    delete_it)
            else:
                confirm(self.sidebar, "Delete chat?", question + note, "Delete", lambda: delete_it(False))

        def unread(error: str) -> None:
            ask(0, f"\n\nWhat memory learned from it could not be read ({error}); it is kept.")

        self.workers.io.submit(Job(lambda: assistant.chat_memories(entry.conversation_id), on_done=ask,
                                   on_failed=unread))
