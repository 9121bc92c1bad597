"""The memory manager's controller: list, search, add, edit, forget and forget all, export and import, on the io
lane (an import shows its progress in the dialog and can be cancelled).

``assistant.memory_store`` opens the memory store (and its embedder) on first use, which can take seconds, so
it is only ever touched inside io-lane jobs; whether memory is on is read from the settings instead. Memory
switched off still lists what was kept, to edit or forget.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget

from app.views.dialogs import deleted_on_close, show_error
from app.views.memory_dialog import MemoryDialog
from app.workers import Job, Relay, Workers
from assistant.events import BackgroundStatus, MemoriesLearned, Progress, counted, time_left

#: Problems of an import named in the dialog; the rest are counted.
SHOWN_PROBLEMS = 5
#: How often the open manager reads the memories again (another process may change them)
REREAD_S = 5.0


def learning_text(status: BackgroundStatus) -> str:
    """What memory learning is doing, for the status bar and the memory manager ("" when idle)."""
    if status.learning:
        return "Learning from your conversation…"
    if status.memory_pending:
        n = status.memory_pending
        return f"{n} message{'s' if n != 1 else ''} waiting to be learned from"
    return ""


def remembered_text(learned: MemoriesLearned) -> str:
    """What learning just stored, for the status bar ("Remembered: User's dog is called Pretzel"): nothing said
    it, so the user had to open the memory manager and compare lists; then why it left a fact out ("Not
    remembered: it looks like a password, …"): a password typed in chat was kept without a word."""
    facts = learned.facts
    said = ([] if not facts else [f"Remembered: {facts[0]}"] if len(facts) == 1
            else [f"Remembered {len(facts)} things: {'; '.join(facts)}"])
    said += [why[0].upper() + why[1:] for why in dict.fromkeys(learned.withheld)]
    return ". ".join(said)


class MemoryController(QObject):
    def __init__(self, assistant: Any, workers: Workers, window: QWidget) -> None:
        super().__init__()
        self.assistant, self.workers, self.window = assistant, workers, window
        self.dialog: MemoryDialog | None = None
        self.query = ""
        self.status = BackgroundStatus()
        self.import_cancel: threading.Event | None = None  # set while an import runs
        self._import_progress: Relay | None = None
        # the list is read again while the manager is open: `hearth memory add/forget/clear` in a terminal (or
        # the API) never reached it, and Forget on a memory gone meanwhile said "There is no memory with id …"
        self._reread = QTimer(self, interval=int(REREAD_S * 1000), timeout=lambda: self.search(self.query))

    def open(self) -> MemoryDialog:
        dialog = MemoryDialog(self.assistant.settings.memory.enabled, self.window)
        self.dialog = dialog
        deleted_on_close(dialog, self)
        dialog.searchChanged.connect(self.search)
        dialog.addRequested.connect(self._add)
        dialog.editRequested.connect(lambda item, text: self._change(lambda m: m.edit(item.id, text)))
        dialog.forgetRequested.connect(lambda item: self._change(lambda m: m.forget(item.id)))
        dialog.clearRequested.connect(lambda: self._change(lambda m: m.clear()))
        dialog.exportRequested.connect(self.export)
        dialog.importRequested.connect(self.import_file)
        dialog.transfer.cancelRequested.connect(self.cancel_import)
        self.search("", retry=True)
        dialog.set_learning(learning_text(self.status))
        dialog.finished.connect(self._reread.stop)
        self._reread.start()
        dialog.open()
        return dialog

    def background(self, status: BackgroundStatus) -> None:
        """The core's background status changed: show it, and list what a finished learning step stored."""
        was_learning, self.status = self.status.learning, status
        if self.dialog is not None:
            self.dialog.set_learning(learning_text(status))
            if was_learning and not status.learning:
                self.search(self.query)

    def search(self, text: str, retry: bool = False) -> None:
        """List the memories ``text`` finds. Where the store cannot open now (a full disk, a read-only folder),
        those read from its file and why, as `hearth memory list` says it (the manager said only that it could
        not be opened); opening it is tried again only with ``retry`` (as the manager opens), not at each key."""
        self.query = query = text.strip()
        assistant = self.assistant
        self.workers.io.submit(Job(lambda: assistant.memories(query, retry=retry),
                                   on_done=lambda found: self._show(query, *found), on_failed=self._error))

    def _show(self, query: str, items: list[Any], why: str = "") -> None:
        if self.dialog is None or query != self.query:
            return
        if why:
            self.dialog.set_notice(why)
        shown = [(m.id, m.text) for m in self.dialog.model.items()]
        if [(m.id, m.text) for m in items] != shown or not shown:  # unchanged: the row chosen stays chosen
            self.dialog.set_items(list(items), query)

    def _change(self, change: Callable[[Any], Any]) -> None:
        def failed(message: str) -> None:  # a memory changed elsewhere meanwhile: the list shows what is now
            self._error(message)
            self.search(self.query)

        assistant = self.assistant
        self.workers.io.submit(Job(lambda: change(assistant.memory_store), on_done=lambda _: self.search(self.query),
                                   on_failed=failed))

    def _add(self, text: str) -> None:
        """Add a memory; one kept already is said so (Add… closed without a word, as if a second was made)."""
        def added(result: tuple[Any, bool]) -> None:
            item, new = result
            if not new and self.dialog is not None:
                ends = "" if item.text.rstrip().endswith((".", "!", "?")) else "."  # not “… Felix.”.
                self.dialog.set_notice(f"Already remembered: “{item.text}”{ends} Nothing was added.")
            self.search(self.query)

        assistant = self.assistant
        self.workers.io.submit(Job(lambda: assistant.memory_store.add_new(text), on_done=added,
                                   on_failed=self._error))

    def _error(self, message: str) -> None:
        show_error(self.dialog or self.window, "Memory", message)

    # --- export and import ---------------------------------------------------------------------------
    def export(self, path: Path) -> None:
        def done(count: int) -> None:
            if self.dialog is not None:
                self.dialog.transfer.finished(f"Exported {counted(count, 'memory', 'memories')} to {path}.")

        assistant = self.assistant
        self.workers.io.submit(Job(lambda: assistant.export_memories(path), on_done=done, on_failed=self._error))

    def import_file(self, path: Path) -> None:
        """Import ``path`` on the io lane; its progress (with an ETA) and Cancel show in the dialog. One at a time:
        the panel shows the import that runs."""
        if self.import_cancel is not None or self.dialog is None:
            return
        cancel = self.import_cancel = threading.Event()
        self.dialog.import_button.setEnabled(False)
        self.dialog.transfer.running(f"Reading {path.name}…", None)
        progress = self._import_progress = Relay(lambda p: self._importing(path, p))
        assistant = self.assistant
        self.workers.io.submit(Job(lambda: assistant.import_memories(path, progress, cancel),
                                   on_done=lambda report: self._imported(path, report),
                                   on_failed=self._import_failed))

    def cancel_import(self) -> None:
        if self.import_cancel is not None:
            self.import_cancel.set()
            if self.dialog is not None:
                self.dialog.transfer.running("Stopping after the memories being stored…", None)

    def _importing(self, path: Path, p: Progress) -> None:
        if self.dialog is None or self.import_cancel is None or self.import_cancel.is_set():
            return
        total = int(p.total or 0)
        eta = f", {time_left(p.eta_s)}" if p.eta_s is not None else ""
        text = f"Importing {path.name}: {p.done:,.0f} of {counted(total, 'memory', 'memories')}{eta}"
        self.dialog.transfer.running(text, int(100 * p.done / total) if total else None)

    def _import_ended(self) -> None:
        self.import_cancel = self._import_progress = None
        if self.dialog is not None:
            self.dialog.import_button.setEnabled(True)

    def _imported(self, path: Path, report: Any) -> None:
        self._import_ended()
        problems = report.problems[:SHOWN_PROBLEMS]
        more = f"; and {len(report.problems) - len(problems)} more" if len(report.problems) > len(problems) else ""
        named = f" Skipped: {'; '.join(problems)}{more}." if problems else ""
        if self.dialog is not None:
            self.dialog.transfer.finished(report.summary(path.name) + named)
        self.search(self.query)

    def _import_failed(self, message: str) -> None:
        self._import_ended()
        if self.dialog is not None:
            self.dialog.transfer.hide()
        self._error(message)
        self.search(self.query)  # what batches it stored before it failed is listed

    def shutdown(self) -> None:
        if self.import_cancel is not None:
            self.import_cancel.set()
