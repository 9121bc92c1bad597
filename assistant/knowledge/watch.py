"""Notice changes in linked folders: watchdog reports them, a debounce timer turns a burst into one call.

Saving a file, unzipping an archive or ``git checkout`` produce dozens of events in a second; syncing on
each would thrash. Every relevant event restarts a short timer, and only when the folder has been quiet
that long is ``on_change`` called once. What to do then (one incremental sync, on the scheduler's sync
thread) is not this module's business.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from assistant.knowledge.scan import IGNORE_FILES, ignored, leads_around, reaches, skipped, source_path


class FolderWatcher(FileSystemEventHandler):
    """Calls ``on_change`` ``debounce_s`` after the last change under ``folders``; call :meth:`stop`."""

    def __init__(self, folders: list[Path] | list[str], on_change: Callable[[], None], debounce_s: float = 2.0) -> None:
        self.on_change, self.debounce_s = on_change, debounce_s
        self.folders = [source_path(f) for f in folders]
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._handling = threading.Lock()  # held while on_change runs (see _handle)
        self._handler: threading.Thread | None = None
        self._stopped = False
        #: a watched folder itself was deleted: its watch ended with it, and one made again under its name (as
        #: soon as that, often with the same inode number) is not watched (see ``Scheduler._check_watches``)
        self.lost = False
        self._observer = Observer()
        self._scheduled: set[Path] = set()
        self._targets: set[Path] = set()  # files outside every watched folder that links in them lead to
        self._target_folders: set[Path] = set()  # their folders, each watched alone (see _watch_target)
        for folder in self.folders:
            self._schedule(folder)

    def _schedule(self, folder: Path) -> None:
        """Watch ``folder`` and the targets of the links below it (a sync follows links; watchdog's recursive
        watch does not, so an edit behind a link to another disk reached search only on a restart)."""
        pending, top, files = [folder], folder in self.folders, []
        while pending:
            here = pending.pop()
            try:
                real = here.resolve()
            except (OSError, RuntimeError):
                continue
            if real in self._scheduled or any(real.is_relative_to(w) for w in self._scheduled):
                continue
            self._scheduled.add(real)
            self._observer.schedule(self, str(here if top and here == folder else real), recursive=True)
            folders, linked = self._links(real)
            pending += folders
            files += linked
        for link in files:
            self._watch_target(link)

    def _watch_target(self, link: Path) -> None:
        """Watch the file ``link`` leads to, where no watch of a folder sees it: its folder alone, not below it,
        and only its own changes count (see _ignored). ``notes/linked.md -> ~/elsewhere/ext.md``: editing ext.md
        was never re-indexed while Hearth ran."""
        try:
            target = link.resolve()
        except (OSError, RuntimeError):
            return
        if any(target.is_relative_to(w) for w in self._scheduled) or not target.parent.is_dir():
            return
        self._targets.add(target)
        if target.parent not in self._target_folders:
            self._target_folders.add(target.parent)
            self._observer.schedule(self, str(target.parent), recursive=False)

    @staticmethod
    def _links(folder: Path) -> tuple[list[Path], list[Path]]:
        """Links to folders, and links to files, anywhere below ``folder``, in the folders a sync enters."""
        folders: list[Path] = []
        files: list[Path] = []
        below = [str(folder)]
        while below:  # scandir's entries know whether they are links: os.walk's names cost a stat each to ask
            try:
                with os.scandir(below.pop()) as listing:
                    entries = list(listing)
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir() and not skipped(entry.name):
                    if not entry.is_symlink():
                        below.append(entry.path)
                    elif not leads_around(Path(entry.path), folder):
                        folders.append(Path(entry.path))
                elif not entry.is_dir() and entry.is_symlink() and not skipped(entry.name, folder=False):
                    files.append(Path(entry.path))
        return folders, files

    def start(self) -> FolderWatcher:
        self._observer.start()
        return self

    def stop(self) -> None:
        """Stop watching; a change being handled (``on_change`` running) is waited for: the settings watcher's
        can be loading a model, and a process that went on to exit crashed under it (llama.cpp logging into
        an interpreter being torn down: `hearth serve` stopped right after its settings file changed)."""
        self._observer.stop()
        self._observer.join(timeout=5)
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()
        if self._handler is not threading.current_thread():
            with self._handling:  # the change being handled, if any, ends first
                pass

    def _handle(self) -> None:
        """A debounce timer's end: one change at a time, none after stop (a later timer may fire while an earlier
        one's change is still being handled)."""
        with self._handling:
            if self._stopped:
                return
            self._handler = threading.current_thread()
            try:
                self.on_change()
            finally:
                self._handler = None

    def on_any_event(self, event: FileSystemEvent) -> None:
        # a move counts where it ends too: a file saved as a hidden temporary renamed over it (editors, the
        # settings file) is a change of the file, not of the temporary
        paths = [event.src_path, *([event.dest_path] if event.event_type == "moved" else [])]
        if event.event_type in ("opened", "closed_no_write") or all(self._ignored(str(p)) for p in paths):
            return
        if event.is_directory and event.event_type == "modified":
            return  # "something in it changed": the change itself comes as its own event, and is judged there
            # (a log written into src/, left out by "*.log", modified src/, which is not left out)
        if event.event_type == "deleted" and Path(str(event.src_path)) in {*self.folders, *self._scheduled}:
            self.lost = True
        if event.event_type == "created" and os.path.islink(event.src_path):
            with self._lock:  # a link made while watching
                if os.path.isdir(event.src_path):
                    self._schedule(Path(str(event.src_path)))
                else:
                    self._watch_target(Path(str(event.src_path)))
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce_s, self._handle)
            self._timer.daemon = True
            self._timer.start()

    def _ignored(self, path: str) -> bool:
        """Changes inside what a sync skips anyway (``.git``, ``node_modules``, what ``.gitignore`` names...)
        trigger nothing, unless a watched folder is itself in such a place (a hidden folder indexed on its own
        beside its parent: its edits were ignored as the parent's hidden ones)."""
        changed = Path(path)
        holders = [folder for folder in [*self.folders, *self._scheduled] if changed.is_relative_to(folder)]
        if not holders:  # in the folder of a linked file's target: only that file counts
            return changed not in self._targets
        if changed.name in IGNORE_FILES:  # hidden, but what it names leaves the index or comes in
            return bool(holders) and not any(reaches(folder, changed.parent) for folder in holders)
        # nor inside what an ignore file leaves out (a build writing into build/ started a sync for each file)
        return bool(holders) and not any(reaches(folder, changed) and not ignored(folder, changed)
                                         for folder in holders)
