"""Background work the core owns, so every front end (window, CLI, API server) gets it without asking.

Two named threads, one per resource, mirror the GUI's lanes:

* ``hearth-learning`` learns memories from queued turns while the engine is idle. An answer always wins:
  :meth:`Scheduler.engine_in_use` (entered by every ``Assistant.ask``) cancels the extraction in progress
  within one decode step (its turn stays queued) and the thread waits until no answer is running. Turns
  whose extraction failed are retried with back-off (the queue keeps their due time on disk).
* ``hearth-sync`` re-syncs collections: watched folders (watchdog, debounced) and catch-up at start for
  what changed while no Hearth process ran. One collection at a time; a collection busy in another job
  is tried again a little later.

What is going on is observable: listeners receive :class:`~assistant.events.BackgroundStatus` whenever it
changes and :class:`~assistant.events.CollectionSynced` progress for every sync.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from assistant.errors import HearthError
from assistant.events import (
    BackgroundEvent,
    BackgroundStatus,
    Cancel,
    CollectionSynced,
    MemoriesLearned,
    Progress,
    changes_text,
    counted,
)

log = logging.getLogger(__name__)

Listener = Callable[[BackgroundEvent], None]
#: A collection that was busy (indexed by another job) is tried again after this long.
BUSY_RETRY_S = 5.0
#: Longest single wait of the learning thread: it re-checks for retries that fell due.
POLL_S = 30.0
#: How often the sync thread looks at the watched folders themselves and at which collections are watched: a
#: folder deleted and made again (a drive unplugged and plugged back, a re-clone) left its watch on what was
#: gone, so nothing it held later was indexed until a restart; a folder renamed away was never noticed (search
#: went on citing paths that no longer existed); and a collection removed, or watched, from a terminal kept (or
#: never got) its watcher in the window. Each look ends with the status told to the front ends, changed or
#: not, so a list whose rows say otherwise about watching reads itself again (see ``BackgroundStatus.watched``).
WATCH_CHECK_S = 5.0


class Learner(Protocol):
    """What the learning thread needs of memory (``MemoryService`` satisfies it)."""

    def due_count(self) -> int: ...
    def pending_count(self) -> int: ...
    def failed_count(self) -> int: ...
    def process_pending(self, cancel: threading.Event | None = None, limit: int | None = None) -> int: ...
    def take_learned(self) -> MemoriesLearned: ...


@dataclass
class Hooks:
    """The parts of the assistant the scheduler drives, as callables (fakes in tests)."""

    learner: Callable[[bool], Learner | None]  # None: memory is off (or not open yet, when False is passed)
    engine_ready: Callable[[], bool]
    sync: Callable[[str, threading.Event], Iterator[Progress]]  # re-sync one collection
    watched: Callable[[], dict[str, list[str]]]  # watched collection -> its folders
    collections: Callable[[], list[str]] = list  # every collection's name


class Scheduler:
    def __init__(self, hooks: Hooks, debounce_s: float = 2.0) -> None:
        self.hooks = hooks
        self.debounce_s = debounce_s
        self._cv = threading.Condition()
        self._listeners: list[Listener] = []
        self._stopping = False
        self._draining = False
        self._foreground = 0
        self._learn_cancel = threading.Event()
        self._learning = False
        self._wake_learning = False  # turn_queued() wakes it: after a turn, a model load, or a start's catch-up
        self._wake_check = False  # the same, for a store this process already opened only
        self._sync_queue: dict[str, float] = {}  # collection -> not before (monotonic)
        self._syncing: str | None = None
        self._sync_cancel = Cancel()
        self._watchers: dict[str, Any] = {}
        #: what each watched collection's folders were when it was last (re)watched: see _check_watches
        self._watched_as: dict[str, tuple[tuple[int, int] | None, ...]] = {}
        self._collections: tuple[str, ...] | None = None  # every collection, as _check_watches last read them
        self._watch_lock = threading.RLock()
        self._last_error = ""
        self._watch_trouble = ""  # why the last check of the watched folders could not read them
        self._threads: list[threading.Thread] = []

    # ---- life cycle ----------------------------------------------------------------------------------
    def start(self) -> Scheduler:
        if not self._threads:
            for name, target in (("hearth-learning", self._learning_loop), ("hearth-sync", self._sync_loop)):
                thread = threading.Thread(target=target, name=name, daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    @property
    def running(self) -> bool:
        return bool(self._threads)

    def stop(self, drain_s: float = 0.0) -> None:
        """Stop both threads. With ``drain_s`` > 0, first let learning finish the due turns for up to that
        long (a one-shot command learns from its turn before exiting); what is left stays queued on disk."""
        self.stop_watching()
        if drain_s > 0 and self._threads:
            deadline = time.monotonic() + drain_s
            with self._cv:
                self._draining = True
                self._cv.notify_all()
                while (self._learning or self._learning_due()) and time.monotonic() < deadline:
                    self._cv.wait(0.05)
        with self._cv:
            self._stopping = True
            self._learn_cancel.set()
            self._sync_cancel.quit()  # a sync cut off by closing is finished at the next start
            self._cv.notify_all()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads = []

    # ---- observing -----------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` (from a background thread) on every change; returns the unsubscribe function."""
        with self._cv:
            self._listeners.append(listener)
        listener(self.status())
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def status(self) -> BackgroundStatus:
        learner = self._learner(open_it=False)  # a status query never pays for opening the memory store
        pending = failed = 0
        if learner is not None:
            try:
                pending, failed = learner.pending_count(), learner.failed_count()
            except Exception as exc:  # a store closed or failing under us: report it, keep the thread alive
                self._last_error = f"Memory queue unavailable: {exc}"
        queued = tuple(sorted(self._sync_queue))
        return BackgroundStatus(learning=self._learning, memory_pending=pending, memory_failed=failed,
                                syncing=self._syncing, sync_queued=queued, watching=tuple(sorted(self._watchers)),
                                watched=tuple(sorted(self._watched_as)), collections=self._collections,
                                last_error=self._last_error)

    def publish(self, event: BackgroundEvent | None = None) -> None:
        """Tell every listener ``event`` (default: the current status)."""
        event = event if event is not None else self.status()
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception as exc:  # a front end's bug must not stop background work
                log.warning("background listener failed: %r", exc, exc_info=log.isEnabledFor(logging.INFO))

    # ---- memory learning -----------------------------------------------------------------------------
    def turn_queued(self, open_store: bool = True) -> None:
        """A finished turn was queued for learning (or the model just loaded): look at the queue.

        ``open_store=False`` looks only if this process already opened the memory store (a one-shot
        incognito command must not open it just because its model loaded)."""
        with self._cv:
            if open_store:
                self._wake_learning = True
            else:
                self._wake_check = True
            self._cv.notify_all()

    @contextmanager
    def engine_in_use(self) -> Iterator[None]:
        """Held while an answer runs: learning yields the engine at once and resumes afterwards."""
        with self._cv:
            self._foreground += 1
            interrupted = self._learning
            self._learn_cancel.set()
        try:
            yield
        finally:
            with self._cv:
                self._foreground -= 1
                self._wake_learning = self._wake_learning or interrupted
                self._cv.notify_all()

    def _learner(self, open_it: bool = True) -> Learner | None:
        try:
            return self.hooks.learner(open_it)
        except HearthError as exc:
            self._last_error = str(exc)
            return None

    def _learning_due(self) -> bool:
        """Turns ready to learn from, in a memory store this process opened (none opened: nothing to do)."""
        learner = self._learner(open_it=False)
        return learner is not None and self.hooks.engine_ready() and learner.due_count() > 0

    def _learning_loop(self) -> None:
        while True:
            with self._cv:
                timed_out = False
                while not self._stopping and (self._foreground or not (self._wake_learning or self._wake_check
                                                                       or self._draining)):
                    if not self._cv.wait(POLL_S) and not self._foreground:
                        timed_out = True  # re-check now and then: failed turns fall due for a retry
                        break
                if self._stopping:
                    return
                # Only a queued turn or a long-lived process's catch-up opens the memory store; the periodic
                # retry check, a model load and a closing drain look only at a store this process opened.
                open_it = self._wake_learning and not timed_out
                self._wake_learning = self._wake_check = False
                self._learn_cancel = cancel = threading.Event()
            try:
                self._learn_once(cancel, open_it)
            except Exception as exc:  # opening the store failed (a full disk...): say so, keep the thread
                log.warning("memory learning: %s", exc)
                self._last_error = f"Memory learning is paused: {exc}"
                self.publish()

    def _learn_once(self, cancel: threading.Event, open_it: bool) -> None:
        """Learn from the due turns, one at a time, until none is due or an answer wants the engine."""
        learner = self._learner(open_it)
        if learner is None or not self.hooks.engine_ready():
            return
        while not cancel.is_set():
            try:
                if not learner.due_count():
                    break
                with self._cv:
                    self._learning = True
                self.publish()
                learner.process_pending(cancel, limit=1)
                if (learned := learner.take_learned()).facts or learned.withheld:
                    self.publish(learned)
            except HearthError as exc:  # the store failed: the turn stays queued; say so and try later
                log.warning("memory learning: %s", exc)
                self._last_error = str(exc)
                break
            except Exception as exc:  # a bug: logged (with the traceback under -v), never a crash
                log.warning("memory learning failed: %r", exc, exc_info=log.isEnabledFor(logging.INFO))
                self._last_error = f"Memory learning failed unexpectedly ({type(exc).__name__}: {exc})."
                break
            finally:
                with self._cv:
                    self._learning = False
                    self._cv.notify_all()
            self.publish()
        self.publish()

    # ---- collections: watching and re-syncing -------------------------------------------------------
    def request_sync(self, collection: str, delay_s: float = 0.0) -> None:
        """Re-sync ``collection`` (once, however often it is asked) after ``delay_s``."""
        with self._cv:
            due = time.monotonic() + delay_s
            self._sync_queue[collection] = min(self._sync_queue.get(collection, due), due)
            self._cv.notify_all()
        self.publish()

    def cancel_sync(self, collection: str, wait_s: float = 0.0) -> None:
        """Drop ``collection``'s queued re-sync and stop a running one; ``wait_s``: wait that long at most for it
        to stop (what comes next needs its write lock)."""
        with self._cv:
            self._sync_queue.pop(collection, None)
            if self._syncing == collection:
                self._sync_cancel.set()
                self._cv.wait_for(lambda: self._syncing != collection, timeout=wait_s)

    def watch_all(self) -> None:
        """(Re)start a watcher for every watched collection and catch up with changes made meanwhile."""
        with self._watch_lock:
            self.stop_watching()
            for collection, folders in self.hooks.watched().items():
                if self._watch(collection, folders):
                    self.request_sync(collection)
        self.publish()

    def _watch(self, collection: str, folders: list[str]) -> bool:
        """Start watching ``collection``'s folders; False (and why, logged) when none can be watched."""
        from assistant.knowledge.watch import FolderWatcher

        with self._watch_lock:
            self._watched_as[collection] = _identities(folders)
            existing = [f for f in folders if Path(f).is_dir()]
            if not existing:
                log.warning("watched collection %s: none of its folders exist any more", collection)
                return False
            try:
                watcher = FolderWatcher(existing, lambda c=collection: self.request_sync(c), self.debounce_s)
                self._watchers[collection] = watcher.start()
            except OSError as exc:  # inotify limits, a folder that vanished meanwhile
                self._last_error = f"Cannot watch {collection}: {exc}"
                log.warning("%s", self._last_error)
                return False
            return True

    def _check_watches(self) -> None:
        """Bring the watchers in line with the collections watched now and their folders as they are now (see
        WATCH_CHECK_S): a collection no longer watched (or removed) stops being watched, and one whose folders
        appeared, went or were replaced is watched again and synced, so the change reaches search and the
        collection's row says it."""
        try:
            wanted = self.hooks.watched()
            self._collections = tuple(sorted(self.hooks.collections()))
        except Exception as exc:  # a damaged index (said by whatever reads it next), or one closed as Hearth
            # closes: the check tries again later, and never ends the sync thread; said once, not every 5 s
            if str(exc) != self._watch_trouble:
                log.info("checking the watched folders: %s", exc)
            self._watch_trouble = str(exc)
            return
        self._watch_trouble = ""
        with self._watch_lock:
            for collection in [c for c in self._watched_as if c not in wanted]:
                self._watched_as.pop(collection)
                if (watcher := self._watchers.pop(collection, None)) is not None:
                    watcher.stop()
            for collection, folders in wanted.items():
                watcher = self._watchers.get(collection)
                if self._watched_as.get(collection) == _identities(folders) and not (watcher and watcher.lost):
                    continue
                if (watcher := self._watchers.pop(collection, None)) is not None:
                    watcher.stop()
                log.info("watched collection %s: its folders changed; watching them again", collection)
                self._watch(collection, folders)
                self.request_sync(collection)
        self.publish()

    def stop_watching(self) -> None:
        with self._watch_lock:
            watchers, self._watchers, self._watched_as = self._watchers, {}, {}
        for watcher in watchers.values():
            watcher.stop()

    def _next_sync(self) -> str | None:
        """Under the lock: the collection whose sync is due, else None after waiting a little."""
        now = time.monotonic()
        due = [c for c, t in self._sync_queue.items() if t <= now]
        if due:
            collection = min(due, key=self._sync_queue.__getitem__)
            del self._sync_queue[collection]
            return collection
        soonest = min(self._sync_queue.values(), default=now + WATCH_CHECK_S)
        self._cv.wait(max(0.01, min(soonest - now, WATCH_CHECK_S)))
        return None

    def _sync_loop(self) -> None:
        next_check = time.monotonic() + WATCH_CHECK_S
        while True:
            if time.monotonic() >= next_check and not self._stopping:
                self._check_watches()
                next_check = time.monotonic() + WATCH_CHECK_S
            with self._cv:
                if self._stopping:
                    return
                collection = self._next_sync()
                if collection is None:
                    continue
                self._syncing = collection
                self._sync_cancel = cancel = Cancel()
            self.publish()
            try:
                self._sync_once(collection, cancel)
            finally:
                with self._cv:
                    self._syncing = None
                    self._cv.notify_all()
                self.publish()

    def _sync_once(self, collection: str, cancel: threading.Event) -> None:
        from assistant.knowledge.errors import IndexBusyError

        started = time.monotonic()
        try:
            for progress in self.hooks.sync(collection, cancel):
                _log_sync(collection, progress, started)
                self.publish(CollectionSynced(collection, progress))
            # a run finished here that was asked to watch (one cut off by closing, finished at this start); the
            # collections are read only then, not after every re-sync of a folder already watched
            if collection not in self._watchers and not self._stopping \
                    and (folders := self.hooks.watched().get(collection)):
                self._watch(collection, folders)
        except IndexBusyError:
            self.request_sync(collection, BUSY_RETRY_S)
        except HearthError as exc:
            self._last_error = f"Sync of {collection} failed: {exc}"
            log.warning("%s", self._last_error)
            self.publish(CollectionSynced(collection, Progress("sync", 0, message=f"failed: {exc}")))
        except Exception as exc:  # a bug or a failing disk: logged, reported, and the next change tries again
            log.warning("sync of %s failed: %r", collection, exc, exc_info=log.isEnabledFor(logging.INFO))
            self._last_error = f"Sync of {collection} failed ({type(exc).__name__}: {exc})."
            self.publish(CollectionSynced(collection, Progress("sync", 0, message=f"failed: {exc}")))


def _log_sync(collection: str, progress: Progress, started: float) -> None:
    """A re-sync's start (when it has files to read) and its end, in the log (`hearth serve -v`): a server's log
    said nothing of its re-syncs, nor of the catch-up at its start, while a 5 MB file took minutes of them."""
    if progress.message == "scanning done" and progress.total and progress.done < progress.total:
        log.info("re-syncing %s: %s to read", collection, counted(int(progress.total - progress.done),
                                                                  "new or changed file"))
    elif progress.message in ("done", "cancelled"):
        ended = "re-synced" if progress.message == "done" else "re-sync stopped"
        said = changes_text(progress) or f"{int(progress.done)} of {int(progress.total or 0)} files done"
        skipped = f", {len(progress.errors):,} skipped" if progress.errors else ""
        log.info("%s %s in %.1f s: %s%s", collection, ended, time.monotonic() - started, said, skipped)


def _identities(folders: list[str]) -> tuple[tuple[int, int] | None, ...]:
    """Each folder's (device, inode), None where there is no folder: a folder made again under its old name is
    another folder to watch."""
    found: list[tuple[int, int] | None] = []
    for folder in folders:
        try:
            st = Path(folder).stat()
        except OSError:
            found.append(None)
            continue
        found.append((st.st_dev, st.st_ino) if Path(folder).is_dir() else None)
    return tuple(found)
