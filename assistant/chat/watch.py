"""Notice that another process changed the chat history: a thread reads a cheap version number once per interval.

SQLite says nothing to other processes when it commits, and a file watch on the data folder also fires for this
process's own writes (every few tokens of an answer) and for the indexes beside the history. ``PRAGMA
data_version`` (:meth:`History.version`) changes for other connections' commits only and costs microseconds,
so polling it once a second keeps an idle process idle. The version read may be any value that compares: the core
adds a count of its own API server's saves, which come through its own connection (see ``Assistant._counted``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from assistant.errors import HearthError

log = logging.getLogger(__name__)

#: Seconds between two looks: a chat asked in a terminal shows in the window within about this long.
CHECK_S = 1.0


class ChangePoll:
    """Calls ``on_change`` (on its own thread) each time ``version()`` differs from its last value; :meth:`stop`
    ends it. A failing read is passed over: the next look tries again."""

    def __init__(self, version: Callable[[], object], on_change: Callable[[], None],
                 interval_s: float = CHECK_S) -> None:
        self.version, self.on_change, self.interval_s = version, on_change, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hearth-chats", daemon=True)

    def start(self) -> ChangePoll:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        last = self._read()
        while not self._stop.wait(self.interval_s):
            now = self._read()
            if now is not None and now != last:
                last = now
                self.on_change()

    def _read(self) -> object | None:
        try:
            return self.version()
        except HearthError as exc:  # the history closed under it, or failing: the next look tries again
            log.debug("chat history not checked for changes: %s", exc)
            return None
