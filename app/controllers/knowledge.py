"""Knowledge collections: the sidebar list and composer selector, dropped folders, background indexing.

Indexing runs on its own lane ("hearth-indexing"), so chat keeps streaming while files are embedded; the
cancel flag (``Cancel``) is checked by the core between files and batches: a run the user stops is left stopped,
one cut off by closing the window is finished by the core at the next start.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QStatusBar, QWidget

from app.qt_models import ListModel
from app.views.collection_dialog import CollectionDialog, ErrorListDialog
from app.views.composer import Composer
from app.views.dialogs import ask_text, confirm, show_error
from app.views.indexing_panel import IndexingPanel
from app.workers import Job, Workers
from assistant.errors import HearthError
from assistant.events import Cancel, CollectionSynced, Progress, changes_text, counted

#: the details said in brackets (the types left out, the names .gitignore gave), for the tooltip alone
_PARENTHESES = re.compile(r" \([^;]*\)(?=;|$)")
log = logging.getLogger(__name__)

#: How often the list is read again while this window's run fills a collection (its counts grow).
_LIST_EVERY_S = 5.0
#: How long the status bar says that a ticked collection was removed elsewhere.
UNTICKED_MS = 15_000


def _sync_ended(collection: str, p: Progress) -> str:
    """How a background update ended. A cancelled one said only "cancelled", and the list then looked up to date
    while the files it had not reached kept their old text in the index."""
    if p.message == "done":
        return f"“{collection}” is up to date."
    left = int(p.total or 0) - int(p.done)
    if p.message == "cancelled" and left > 0:
        return (f"Updating “{collection}” cancelled: {counted(left, 'changed file')} "
                f"{'keeps its' if left == 1 else 'keep their'} old text until the "
                "folder changes again or Hearth starts again.")
    return f"Updating “{collection}” {p.message.rstrip('.')}."  # "failed: … (folder).." ended twice


def collection_status(info: Any) -> str:
    # "16 files · never synced" after a first run was stopped read as if the 16 were not there
    running = getattr(info, "unfinished", "") == "running"
    synced = time.strftime("%d %b %H:%M", time.localtime(info.last_sync)) if info.last_sync else \
        "being indexed now" if running else "first sync not finished" if info.files else "never synced"
    status = f"{counted(info.files, 'file')} · {counted(info.chunks, 'chunk')} · {synced}"
    if running and info.last_sync:
        status += " · being indexed now"
    if info.errors:  # "skipped", as the indexing panel says: an empty file is no error
        status += f" · {info.errors:,} skipped"
    if getattr(info, "watched", False):
        status += " · watched"
    if getattr(info, "needs_reindex", False):
        status += " · needs re-index"
    elif getattr(info, "needs_rechunk", 0):
        status += " · re-chunks at next sync"
    if missing := getattr(info, "missing_sources", ()):
        every = len(missing) == len(info.sources)
        gone = ("its folder is gone" if len(missing) == 1 else "all its folders are gone") if every else \
            f"{len(missing)} of its folders {'is' if len(missing) == 1 else 'are'} gone"
        status += f" · {gone} (its passages stay searchable)"
    if getattr(info, "unfinished", "") == "stopped":
        status += (" · its last update was stopped: the rest is read when the folder changes or Hearth starts again"
                   if getattr(info, "watched", False) else  # its watcher catches up (see the scheduler)
                   " · indexing was stopped before the end: add its folder or file again to finish")
    elif getattr(info, "unfinished", "") == "interrupted":
        status += " · indexing not finished: it goes on in the background"
    if getattr(info, "problem", None) and getattr(info, "resync_repairs", True):
        status += f" · needs repair: {info.problem}; add its folder again to re-sync it"
    elif getattr(info, "problem", None):  # the Chroma server down: nothing is damaged, and a re-sync would fail
        status += f" · cannot be checked now: {info.problem}"
    return status


def collection_model() -> ListModel[Any]:
    return ListModel(lambda c: f"{c.name}\n{collection_status(c)}", collection_status)


class KnowledgeController(QObject):
    def __init__(self, assistant: Any, workers: Workers, window: QWidget, model: ListModel[Any],
                 panel: IndexingPanel, composer: Composer, status: QStatusBar) -> None:
        super().__init__()
        self.assistant, self.workers, self.window = assistant, workers, window
        self.model, self.panel, self.composer, self.status = model, panel, composer, status
        self._renamed: dict[str, str] = {}  # this window's renames (old name: new), until the list shows them
        self.cancel: Cancel | None = None
        self.errors: list[tuple[str, str]] = []
        self.last: Progress | None = None
        self.syncing: str | None = None  # a background re-sync shown in the panel
        self.running: str | None = None  # the collection this window's indexing run adds to
        self._remove_after: str | None = None  # removed once that run has stopped (see remove)
        self._queue: list[tuple[list[Path], str]] = []  # dropped while a run went on: each runs after it
        self._listed = 0.0  # when the list was last read for the run going on (see _progress)
        #: ((watched, every) collection as the core last saw them, the same as the rows say) that the list is being
        #: read for
        self._reread_for: tuple[Any, Any] | None = None
        panel.cancelRequested.connect(self._cancel_or_close)
        panel.errorsRequested.connect(lambda: ErrorListDialog(self.errors, self.window).open())

    @property
    def indexing(self) -> bool:
        return self.cancel is not None

    def refresh(self, select: str | None = None, summary: tuple[str, bool] | None = None) -> None:
        """Reload the collections; ``select`` ticks one (a freshly indexed one) for the next question, and
        ``summary`` (a collection, whether its run completed) has the panel give that run's counts."""
        self.workers.io.submit(Job(self.assistant.collections,
                                   on_done=lambda infos: self._show(infos, select, summary)))

    def _show(self, infos: list[Any], select: str | None, summary: tuple[str, bool] | None = None) -> None:
        name, complete = summary or ("", True)
        info = next((c for c in infos if c.name == name), None)
        if info is not None and not self.indexing:  # the counts `hearth index` prints: files held, files skipped
            files, skipped = counted(info.files, "file"), f", {len(self.errors)} skipped" if self.errors else ""
            changes = f" ({changes_text(self.last)})" if self.last is not None and self.last.changes else ""
            # files it cannot read, beside those it read: said apart from the skipped ones (they were "1 skipped")
            # (their types in the tooltip: the sidebar is narrow)
            said = self.last.left_out if self.last is not None else ""
            left_out = f" Left out: {_PARENTHESES.sub('', said)}." if said else ""
            self.panel.title.setToolTip(said)
            self.panel.finish(f"“{name}” is ready: {files} indexed{skipped}{changes}.{left_out}" if complete else
                              f"Stopped: “{name}” has {files} so far{skipped}.", complete=complete)
        gone = {c.name for c in self.model.items()} - {c.name for c in infos}
        if self.panel.collection in gone and not self.indexing and self.syncing is None:
            self.panel.hide()  # "“notes” is up to date." stayed about a collection a terminal had removed
        ticked = self._ticks_in(infos)
        self.model.set_items(infos)
        self._reread_for = None
        self.composer.set_collections([c.name for c in infos])
        self.composer.select_collections(ticked + ([select] if select is not None else []))

    def _ticks_in(self, infos: list[Any]) -> list[str]:
        """The collections ticked in the message box, named as ``infos`` (the list read again) names them: one
        renamed (here, or elsewhere: the same store id under another name) stays ticked under its new name, and
        one removed elsewhere is said. A terminal's `hearth collections rename notes work-notes` left nothing
        ticked, without a word, and the next question was answered from no collection."""
        names = {c.name for c in infos}
        now_named = {c.store_id: c.name for c in infos if c.store_id}
        ids = {c.name: c.store_id for c in self.model.items()}
        ticked, gone = [], []
        for name in self.composer.selected_collections():
            new = name if name in names else now_named.get(ids.get(name)) or self._renamed.get(name)
            if new is None:
                gone.append(name)
            else:
                ticked.append(new)
        self._renamed = {old: new for old, new in self._renamed.items() if old in names}  # not listed so yet
        if gone:
            quoted = ", ".join(f"“{name}”" for name in gone)
            self.status.showMessage(f"{quoted} {'was' if len(gone) == 1 else 'were'} removed elsewhere: the next "
                                    "question is not answered from "
                                    f"{'it' if len(gone) == 1 else 'them'}.", UNTICKED_MS)
        return ticked

    # --- adding --------------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Add a folder to your knowledge")
        if folder:
            self.add([Path(folder)])

    def add(self, paths: list[Path]) -> CollectionDialog:
        """Ask which collection ``paths`` go to, then index them in the background."""
        infos = self.model.items()
        dialog = CollectionDialog(paths, [c.name for c in infos], self.assistant.collection_name_problem, self.window,
                                  lambda into: self.assistant.overlaps(paths, into, infos))
        dialog.chosen.connect(lambda name: self.index(paths, name))
        dialog.open()
        return dialog

    def index(self, paths: list[Path], collection: str) -> None:
        """Index dropped or chosen ``paths``; their collection is watched for changes from then on. Dropped
        while a run goes on, they wait for it (the panel says so): they were refused with "Wait for the current
        indexing run to finish", after the collection had been named, and the drop was lost."""
        if self.indexing:
            self._queue.append((paths, collection))
            self.panel.set_queued([name for _, name in self._queue])
            return
        self.panel.set_queued([name for _, name in self._queue])
        self.cancel = cancel = Cancel()
        self.errors, self.last, self.syncing, self.running = [], None, None, collection
        self._listed = -_LIST_EVERY_S
        self.panel.start(collection)
        self.workers.indexing.submit(Job(lambda: self.assistant.index(paths, collection, cancel, watch=True),
                                         on_item=self._progress, on_done=lambda _: self._finished(collection),
                                         on_failed=self._failed))

    def _progress(self, progress: Progress) -> None:
        self.last = progress
        self.errors = list(progress.errors)
        self.panel.update_progress(progress)
        # the collection's row while it fills (a new one had none until its first run ended, minutes for a
        # large folder, and could not be ticked to ask about what was indexed so far)
        if progress.total and time.monotonic() - self._listed >= _LIST_EVERY_S:
            self._listed = time.monotonic()
            self.refresh()

    def _finished(self, collection: str) -> None:
        self.cancel = self.running = None
        if self._remove_after == collection:
            self._remove(collection)
        else:
            complete = self.last is None or self.last.message != "cancelled"
            # said at once, with the counts once they are read (a stopped run's "files so far" counted skipped
            # ones)
            self.panel.finish(f"“{collection}” is ready." if complete else f"Stopped: “{collection}”.",
                              complete=complete)
            self.refresh(select=collection if complete else None, summary=(collection, complete))
        self._next()

    def _next(self) -> None:
        """Start the run that waited longest for the one that ended (see index)."""
        if self._queue:
            self.index(*self._queue.pop(0))

    def _failed(self, message: str) -> None:
        collection, self.cancel, self.running = self.running, None, None
        if collection is not None and self._remove_after == collection:
            self._remove(collection)
        else:
            self.panel.finish("Indexing failed.", complete=False)
            show_error(self.window, "Indexing failed", message)
            self.refresh()
        self._next()

    def _cancel_or_close(self) -> None:
        if self.cancel is not None:
            self.cancel.set()
            self.panel.stopping()
        elif self.syncing is not None:
            self.assistant.cancel_sync(self.syncing)
            self.panel.stopping()
        else:
            self.panel.hide()

    def background(self, status: Any) -> None:
        """The core's background status: the list is read again when its rows say otherwise about which
        collections there are or which are watched than the core's last look at the index, as when a terminal
        unwatched, renamed or removed a collection (the row still said "watched", or was still listed, 30 s
        later: an unwatched one removed stayed listed and ticked for good), or turned watching off and on again
        between two of the core's looks while a re-sync's end read the list (the row said "not watched" for
        good). Once for a disagreement until the list is read: one that cannot be read is not read again at
        every status."""
        items = self.model.items()
        seen = (status.watched, status.collections)
        shown = (tuple(sorted(c.name for c in items if c.watched)),
                 tuple(sorted(c.name for c in items)) if status.collections is not None else None)
        if seen != shown and (seen, shown) != self._reread_for:
            self._reread_for = (seen, shown)
            self.refresh()

    # --- watched folders ------------------------------------------------------------------------------
    def set_watch(self, info: Any, on: bool) -> None:
        self.workers.io.submit(Job(lambda: self.assistant.watch(info.name, on), on_done=lambda _: self.refresh(),
                                   on_failed=lambda message: show_error(self.window, "Watching", message)))

    def synced(self, event: CollectionSynced) -> None:
        """A background re-sync (a watched folder changed, or catch-up at start) made progress.

        The panel shows it only when there is work to do (a no-op sync of an unchanged folder is silent)
        and no indexing run the user started owns the panel; the list is refreshed when it ends.
        """
        p = event.progress
        if p.message == "done" or p.message == "cancelled" or p.message.startswith("failed"):
            if self.syncing == event.collection:
                self.syncing = None
                self.panel.update_progress(p)
                self.panel.finish(_sync_ended(event.collection, p), complete=p.message == "done")
            elif p.message == "done" and not self.indexing and self.panel.collection == event.collection \
                    and not self.panel.isHidden() and self.panel.counts_differ(p):
                # a sync with nothing to embed (a file deleted) is not shown as it runs, but the summary on
                # screen still counted what it changed (one that changed nothing leaves the summary as it is)
                self.errors = list(p.errors)
                self.panel.update_progress(p)
                self.panel.finish(_sync_ended(event.collection, p))
            elif p.message.startswith("failed") and not self.indexing \
                    and self.panel.collection == event.collection and not self.panel.isHidden():
                # the folder deleted: "“w1” is up to date." stayed on screen beside the row "its folder is gone"
                self.panel.finish(_sync_ended(event.collection, p), complete=False)
            self.refresh()
            return
        if self.indexing:
            return
        if self.syncing is None and p.total and p.done < p.total:
            self.syncing = event.collection
            why = "re-embedding missing vectors" if p.message == "repairing" else "files changed"
            self.panel.start(event.collection, f"Updating “{event.collection}”: {why}…")
        if self.syncing == event.collection:
            self.errors = list(p.errors)
            self.panel.update_progress(p)

    def show_file_errors(self, info: Any) -> None:
        """List the files ``info``'s collection skipped when it was last indexed, with the reasons."""
        self.workers.io.submit(Job(lambda: self.assistant.file_errors(info.name),
                                   on_done=lambda errors: ErrorListDialog(errors, self.window).open()))

    def remove(self, info: Any) -> None:
        """Remove ``info``'s collection once confirmed. While this window indexes into it, the run is cancelled
        first and the collection removed when it has stopped (its write lock made the removal fail with "being
        indexed by another job", and the run went on)."""
        def confirmed() -> None:
            if self.running == info.name and self.cancel is not None:
                self._remove_after = info.name
                self.cancel.set()
                self.panel.cancel_button.setEnabled(False)
                self.panel.title.setText(f"Removing “{info.name}”…")
            else:
                self._remove(info.name)

        confirm(self.window, "Remove collection?", f"Remove “{info.name}” from Hearth's index? Your files are "
                "not touched.", "Remove", confirmed)

    def rename(self, info: Any) -> None:
        """Ask for a new name and rename ``info``'s collection; its tick in the message box goes with it (see
        _ticks_in)."""
        if self.running == info.name:
            show_error(self.window, "Rename collection", f"“{info.name}” is being indexed: rename it when the run "
                       "has ended (or after Cancel).")
            return

        def chosen(new: str) -> None:
            self.workers.io.submit(Job(lambda: self.assistant.rename_collection(info.name, new),
                                       on_done=lambda renamed: renamed_to(renamed.name),
                                       on_failed=lambda message: show_error(self.window, "Rename collection",
                                                                            message)))

        def renamed_to(name: str) -> None:
            # a folder dropped into it and waiting for the run going on goes in under its new name (it brought
            # back a collection of the old name)
            self._queue = [(paths, name if into == info.name else into) for paths, into in self._queue]
            if self._queue:
                self.panel.set_queued([into for _, into in self._queue])
            self._renamed[info.name] = name  # (a collection from before store ids has none to follow)
            self.refresh()

        ask_text(self.window, "Rename collection", "Name (letters a-z, digits, - and _):", info.name, chosen)

    def _remove(self, name: str) -> None:
        self._remove_after = None

        def removed(_: object) -> None:  # unticked here: removed elsewhere is what a tick gone says (see _ticks_in)
            self.composer.select_collections([n for n in self.composer.selected_collections() if n != name])
            if self.panel.collection == name and not self.indexing:
                self.panel.hide()  # its summary was about a collection that is gone
            self.refresh()

        self.workers.io.submit(Job(lambda: self.assistant.remove_collection(name), on_done=removed,
                                   on_failed=lambda message: show_error(self.window, "Remove collection", message)))

    def shutdown(self) -> None:
        if self.cancel is not None:
            self.cancel.quit()  # not the user's stop: the next start finishes the run
        for paths, collection in self._queue:  # dropped and waiting: run at the next start, as the cut-off one
            try:
                self.assistant.index_later(paths, collection, watch=True)
            except HearthError as exc:  # closing goes on; the drop is what is lost, and the log says so
                log.warning("the folders waiting to be added to %r could not be kept for the next start: %s",
                            collection, exc)
        self._queue = []
