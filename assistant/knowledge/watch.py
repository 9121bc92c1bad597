"""Keep linked folders in sync: watchdog reports changes, a debounce timer turns bursts into one sync.

Saving a file, unzipping an archive or ``git checkout`` produce dozens of events in a second; syncing on
each would thrash. Every relevant event restarts a short timer, and only when the folder has been quiet
that long does one incremental sync run (which itself only re-reads what changed).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from assistant.errors import HearthError
from assistant.events import Progress
from assistant.knowledge.base import KnowledgeBase
from assistant.knowledge.scan import SKIPPED_DIRS

log = logging.getLogger(__name__)


class FolderWatcher(FileSystemEventHandler):
    """Re-syncs ``folders`` into ``collection`` ``debounce_s`` after the last change; call :meth:`stop`."""

    def __init__(self, kb: KnowledgeBase, folders: list[Path], collection: str = "default",
                 debounce_s: float = 2.0, on_progress: Callable[[Progress], None] | None = None) -> None:
        self.kb, self.collection, self.debounce_s = kb, collection, debounce_s
        self.folders = [Path(f).expanduser().absolute() for f in folders]
        self.on_progress = on_progress or (lambda _p: None)
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._observer = Observer()
        for folder in self.folders:
            self._observer.schedule(self, str(folder), recursive=True)

    def start(self) -> FolderWatcher:
        self._observer.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
        self._observer.stop()
        self._observer.join(timeout=5)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write") or self._ignored(str(event.src_path)):
            return
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce_s, self.sync)
            self._timer.daemon = True
            self._timer.start()

    def sync(self) -> None:
        """One incremental sync; a failure is logged and reported, the watcher keeps running."""
        try:
            for event in self.kb.index(self.folders, self.collection, cancel=self._stopping):
                self.on_progress(event)
        except HearthError as exc:
            log.warning("watched folders: sync of %s failed: %s", self.collection, exc)
            self.on_progress(Progress("index", 0, None, message=f"failed: {exc}"))

    def _ignored(self, path: str) -> bool:
        """Changes inside what a sync skips anyway (``.git``, ``node_modules``...) trigger nothing."""
        changed = Path(path)
        for folder in self.folders:
            if changed.is_relative_to(folder):
                return any(p.startswith(".") or p in SKIPPED_DIRS for p in changed.relative_to(folder).parts)
        return False
