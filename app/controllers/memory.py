"""The memory manager's controller: list, search, add, edit, forget and forget all, on the io lane.

``assistant.memory_store`` opens the memory store (and its embedder) on first use, which can take seconds, so
it is only ever touched inside io-lane jobs; whether memory is on is read from the settings instead. Memory
switched off still lists what was kept, to edit or forget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from app.views.dialogs import show_error
from app.views.memory_dialog import MemoryDialog
from app.workers import Job, Workers
from assistant.events import BackgroundStatus


def learning_text(status: BackgroundStatus) -> str:
    """What memory learning is doing, for the status bar and the memory manager ("" when idle)."""
    if status.learning:
        return "Learning from your conversation…"
    if status.memory_pending:
        n = status.memory_pending
        return f"{n} message{'s' if n != 1 else ''} waiting to be learned from"
    return ""


class MemoryController(QObject):
    def __init__(self, assistant: Any, workers: Workers, window: QWidget) -> None:
        super().__init__()
        self.assistant, self.workers, self.window = assistant, workers, window
        self.dialog: MemoryDialog | None = None
        self.query = ""
        self.status = BackgroundStatus()

    def open(self) -> MemoryDialog:
        dialog = MemoryDialog(self.assistant.settings.memory.enabled, self.window)
        self.dialog = dialog
        dialog.searchChanged.connect(self.search)
        dialog.addRequested.connect(lambda text: self._change(lambda m: m.add(text)))
        dialog.editRequested.connect(lambda item, text: self._change(lambda m: m.edit(item.id, text)))
        dialog.forgetRequested.connect(lambda item: self._change(lambda m: m.forget(item.id)))
        dialog.clearRequested.connect(lambda: self._change(lambda m: m.clear()))
        self.search("")
        dialog.set_learning(learning_text(self.status))
        dialog.open()
        return dialog

    def background(self, status: BackgroundStatus) -> None:
        """The core's background status changed: show it, and list what a finished learning step stored."""
        was_learning, self.status = self.status.learning, status
        if self.dialog is not None:
            self.dialog.set_learning(learning_text(status))
            if was_learning and not status.learning:
                self.search(self.query)

    def search(self, text: str) -> None:
        self.query = query = text.strip()
        assistant = self.assistant
        call = (lambda: assistant.memory_store.find(query)) if query else (lambda: assistant.memory_store.list())
        self.workers.io.submit(Job(call, on_done=lambda items: self._show(query, items), on_failed=self._error))

    def _show(self, query: str, items: list[Any]) -> None:
        if self.dialog is not None and query == self.query:
            self.dialog.set_items(list(items), query)

    def _change(self, change: Callable[[Any], Any]) -> None:
        assistant = self.assistant
        self.workers.io.submit(Job(lambda: change(assistant.memory_store), on_done=lambda _: self.search(self.query),
                                   on_failed=self._error))

    def _error(self, message: str) -> None:
        show_error(self.dialog or self.window, "Memory", message)
