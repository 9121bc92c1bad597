"""Long-lived worker threads, one per heavy resource, and the single place where threads are wired.

Why lanes instead of a thread pool: the engine, the index and the history each serialise their own work
anyway, so one named ``QThread`` per resource ("hearth-generation", "hearth-indexing", "hearth-model",
"hearth-io", "hearth-download", "hearth-network") keeps jobs for one resource in order, lets chat continue while
indexing runs, lets an old model keep answering while a new one loads, keeps a long download from holding up the
rest, and keeps a "Test connection" that waits for a slow server from holding up the history or the model.
A :class:`Job` carries plain callables: ``call`` runs on the worker thread, the ``on_*`` callbacks run on the
GUI thread. No exception ever crosses a thread:
the worker turns it into a readable message for ``on_failed``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal, Slot

from assistant.errors import HearthError

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Job:
    """One unit of work. With ``on_item`` set, the result of ``call`` is iterated and each item delivered."""

    call: Callable[[], Any]
    on_done: Callable[[Any], None] | None = None
    on_item: Callable[[Any], None] | None = None
    on_failed: Callable[[str], None] | None = None
    #: The window part the callbacks fill in (a dialog): once it is deleted (closed), its results are dropped.
    owner: QObject | None = None

    def delivered(self) -> bool:
        """Whether results still have somewhere to go."""
        return self.owner is None or shiboken6.isValid(self.owner)


def describe(exc: BaseException) -> str:
    """A sentence for the user: core errors already are one; anything else is a bug, said plainly."""
    if isinstance(exc, HearthError):
        return str(exc)
    return f"Something went wrong ({type(exc).__name__}: {exc}). Details are in the log."


class Worker(QObject):
    """Lives on a worker thread; runs jobs one at a time in submission order. Signals carry ``(job, value)``."""

    item = Signal(object)
    done = Signal(object)
    failed = Signal(object)

    @Slot(object)
    def run(self, job: Job) -> None:
        try:
            result = job.call()
            if job.on_item is not None:
                for value in result:
                    self.item.emit((job, value))
                result = None
        except Exception as exc:
            if not isinstance(exc, HearthError):
                log.exception("worker %s: job failed", QThread.currentThread().objectName())
            self.failed.emit((job, describe(exc)))
        else:
            self.done.emit((job, result))


class Lane(QObject):
    """The GUI-thread end of one worker thread: ``submit`` queues a job, results come back as callbacks."""

    submitted = Signal(object)

    def __init__(self, name: str, on_error: Callable[[str], None]) -> None:
        super().__init__()
        self.name = name
        self.on_error = on_error
        self.thread = QThread()
        self.thread.setObjectName(name)
        self.worker = Worker()
        self.worker.moveToThread(self.thread)
        self.pending = 0
        #: Set when the window closes: results still queued for the GUI thread are dropped, not delivered to a
        #: window whose assistant is closed (a load that ended during the close raised in its callbacks).
        self.stopped = False

    def submit(self, job: Job) -> None:
        self.pending += 1
        self.submitted.emit(job)

    @property
    def busy(self) -> bool:
        return self.pending > 0

    @Slot(object)
    def _item(self, delivery: tuple[Job, Any]) -> None:
        job, value = delivery
        assert job.on_item is not None
        if not self.stopped and job.delivered():
            job.on_item(value)

    @Slot(object)
    def _done(self, delivery: tuple[Job, Any]) -> None:
        job, result = delivery
        self.pending -= 1
        if job.on_done is not None and not self.stopped and job.delivered():
            job.on_done(result)

    @Slot(object)
    def _failed(self, delivery: tuple[Job, str]) -> None:
        job, message = delivery
        self.pending -= 1
        if self.stopped or not job.delivered():
            log.info("%s: a job failed after its window closed: %s", self.name, message)
        else:
            (job.on_failed or self.on_error)(message)


#: Lanes whose thread outlived the window's wait at close. They stay referenced: a QThread destroyed while it
#: runs aborts the process ("QThread: Destroyed while thread is still running"); ``run`` exits without them.
_OUTLIVED: list[Lane] = []


class Workers:
    """All worker threads of the window; :meth:`stop` ends them (quit + wait) on exit."""

    def __init__(self, on_error: Callable[[str], None]) -> None:
        self.generation = Lane("hearth-generation", on_error)
        self.indexing = Lane("hearth-indexing", on_error)
        self.model = Lane("hearth-model", on_error)
        self.io = Lane("hearth-io", on_error)
        # quick SQLite reads (milliseconds): the chat history (opening a chat or listing them) and where a cited
        # file moved to (the knowledge manifest) must not queue behind the io lane's seconds-long jobs (the
        # start-up check opening memory, the collections' listing opening Chroma, a model folder's headers)
        self.history = Lane("hearth-history", on_error)
        self.download = Lane("hearth-download", on_error)
        # short jobs that must not queue behind the io lane's file reads: connection tests of remote parts (seconds
        # when a server hangs), making the API token when Settings opens
        self.network = Lane("hearth-network", on_error)
        self.lanes = (self.generation, self.indexing, self.model, self.io, self.history, self.download, self.network)
        wire(self.lanes)

    def stop(self, timeout_ms: int = 10_000) -> None:
        """Ask every thread to finish its current job and exit; callers cancel long jobs first. Results that
        arrive from now on are not delivered."""
        for lane in self.lanes:
            lane.stopped = True
            lane.thread.quit()
        for lane in self.lanes:
            if not lane.thread.wait(timeout_ms):
                log.warning("worker thread %s did not stop within %d ms", lane.name, timeout_ms)
                _OUTLIVED.append(lane)

    @property
    def outlived(self) -> bool:
        """A thread still ran after :meth:`stop` waited for it."""
        return any(lane in _OUTLIVED for lane in self.lanes)


class Relay(QObject):
    """Hands values from a core callback on a worker thread (download or load progress) to a GUI-thread callable.

    Create it on the GUI thread; calling it from any thread queues the value: the signal is connected to a
    slot of this object, which lives on the GUI thread, so Qt delivers it there.
    """

    _item = Signal(object)

    def __init__(self, receiver: Callable[[Any], None]) -> None:
        super().__init__()
        self._receiver = receiver
        self._item.connect(self._deliver)

    def __call__(self, value: Any) -> None:
        self._item.emit(value)

    @Slot(object)
    def _deliver(self, value: Any) -> None:
        self._receiver(value)


def wire(lanes: tuple[Lane, ...]) -> None:
    """Every cross-thread connection, in one place: GUI -> worker (queued jobs) and worker -> GUI (results)."""
    for lane in lanes:
        lane.submitted.connect(lane.worker.run)
        lane.worker.item.connect(lane._item)
        lane.worker.done.connect(lane._done)
        lane.worker.failed.connect(lane._failed)
        lane.thread.finished.connect(lane.worker.deleteLater)
        lane.thread.start()
