"""The one thread that runs llama.cpp's compute in this process.

Why: llama.cpp's CPU backend parallelises with OpenMP, and OpenMP keeps a team of worker threads for each
thread that starts parallel work. Once one long-lived thread has its team, decoding from any *other*
thread runs beside that idle team and was measured 2.7x slower here (36 vs 99 tok/s on the bundled model,
2 cores): in the window, answers (the model lane) and memory learning (the scheduler) would each decode
on a thread of their own, and whichever came second paid for it for the rest of the session. So every
``llama_decode`` (prompts, answer tokens, verify batches, draft steps, batched steps) is handed to this
one thread, whoever asks for it; the rest of the loop (sampling, stop strings, events) stays where it was.
One decode is milliseconds and the hand-over tens of microseconds.
"""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: How often a caller waiting for a decode looks at whether it was cancelled (see DecodeThread.call).
WATCH_S = 0.03
#: The signals that may have a Python handler that ends a command: Ctrl+C, and SIGTERM and SIGHUP under
#: ``hearth serve`` (SIGHUP does not exist on Windows).
QUIT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
_lock = threading.Lock()
_instance: DecodeThread | None = None


class DecodeThread:
    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="hearth-decode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # Ctrl+C and the quit signals go to the main thread, which handles them, not to this one or the compute
        # threads it starts (they share its mask): one delivered here left `hearth chat`'s prompt unwoken, and a
        # second Ctrl+C pressed as an answer stopped was raised at the next line typed, which it threw away
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, QUIT_SIGNALS)
        while True:
            self._jobs.get()()

    @property
    def here(self) -> bool:
        return threading.current_thread() is self._thread

    def call(self, fn: Callable[[], T], watch: Callable[[], bool] | None = None,
             stop: Callable[[], None] | None = None) -> T:
        """Run ``fn()`` on the decode thread and return its result (or raise its exception). Meanwhile, ``stop()``
        is called once ``watch()`` says so (looked at every :data:`WATCH_S`) or, with a ``watch``, Ctrl+C comes: it
        asks ``fn`` to end early (llama.cpp's abort flag). A prompt's batch is watched; one answer step is not (it
        is milliseconds, and its caller keeps its record of the cache as if it ended)."""
        if self.here:
            return fn()
        done = threading.Event()
        result: list[Any] = [None, None]

        def job() -> None:
            try:
                result[0] = fn()
            except BaseException as exc:  # handed to the caller, raised there
                result[1] = exc
            finally:
                done.set()

        self._jobs.put(job)
        # Ctrl+C in the waiting thread must not end the wait: the job still runs on memory that the caller frees
        # next (a model closed on the way out, which was a segmentation fault), so it is raised once the job ends.
        interrupted: BaseException | None = None
        watched = watch is not None
        while True:
            try:
                if done.wait(WATCH_S if watch is not None else None):
                    break
                if watch is not None and watch():
                    watch = None
                    if stop is not None:
                        stop()
            except BaseException as exc:
                interrupted = interrupted or exc
                if watched and stop is not None:
                    stop()
        if interrupted is not None:
            raise interrupted
        if result[1] is not None:
            raise result[1]
        return result[0]


def decode_thread() -> DecodeThread:
    """The process's decode thread (started on first use)."""
    global _instance
    with _lock:
        if _instance is None:
            _instance = DecodeThread()
        return _instance
