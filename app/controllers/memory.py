"""The memory manager's controller: list, search, edit, forget and forget all, on the io lane.

``assistant.memory`` is ``None`` until the memory store exists; the dialog then says memory is off.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from app.views.dialogs import show_error
from app.views.memory_dialog import MemoryDialog
from app.workers import Job, Workers


class MemoryController(QObject):
    def __init__(self, assistant: Any, workers: Workers, window: QWidget) -> None:
        super().__init__()
        self.assistant, self.workers, self.window = assistant, workers, window
        self.dialog: MemoryDialog | None = None
        self.query = ""

    @property
    def store(self) -> Any:
        return getattr(self.assistant, "memory", None)

    def open(self) -> MemoryDialog:
        dialog = MemoryDialog(self.store is not None, self.window)
        self.dialog = dialog
        if self.store is not None:
            dialog.searchChanged.connect(self.search)
            dialog.editRequested.connect(lambda item, text: self._run(lambda: self.store.edit(item.id, text)))
            dialog.forgetRequested.connect(lambda item: self._run(lambda: self.store.forget(item.id)))
            dialog.clearRequested.connect(lambda: self._run(self.store.clear))
            self.search("")
        dialog.open()
        return dialog

    def search(self, text: str) -> None:
        self.query = query = text.strip()
        store = self.store
        call = (lambda: store.search(query)) if query else store.list
        self.workers.io.submit(Job(call, on_done=lambda items: self._show(query, items), on_failed=self._error))

    def _show(self, query: str, items: list[Any]) -> None:
        if self.dialog is not None and query == self.query:
            self.dialog.set_items(list(items))

    def _run(self, change: Any) -> None:
        self.workers.io.submit(Job(change, on_done=lambda _: self.search(self.query), on_failed=self._error))

    def _error(self, message: str) -> None:
        show_error(self.dialog or self.window, "Memory", message)
