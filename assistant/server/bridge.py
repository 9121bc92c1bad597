"""A facade ``Response`` iterated on a thread of its own; its events are awaited on the event loop.

One thread per request: requests never wait for each other here (how they share the engine is the engine's
business: continuous batching decodes them together), a blocking engine call never stalls the event loop,
and tokens reach the client as they are made. ``cancel`` stops the answer at the engine's next check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Any

from assistant.errors import HearthError
from assistant.events import Event, Failed
from assistant.server.errors import INTERNAL, internal_message

log = logging.getLogger(__name__)

_END = object()


class Interrupted(Exception):
    """The server is stopping (or restarting): the answer was cancelled, and its client is told so now, not
    when the engine gets to the cancel (a step over a long prompt can take seconds; past uvicorn's grace
    period the client got a plain-text 500 and the log a traceback)."""


class EventStream:
    def __init__(self, response: Any, active: set[Any]) -> None:
        self.response = response
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._active = active
        self.checked = time.monotonic()  # when the client was last seen connected (see respond.py)
        active.add(self)
        self._thread = threading.Thread(target=self._run, name="hearth-api-request", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for event in self.response:
                self._put(event)
        except HearthError as exc:
            self._put(Failed(str(exc), error_type=type(exc).__name__))
        except Exception as exc:  # a bug: one line to the client and the log, the details at -v
            log.error("an API request failed: %s: %s", type(exc).__name__, exc)
            log.info("the failure in detail:", exc_info=True)
            self._put(Failed(internal_message(exc), error_type=INTERNAL))
        finally:
            self._active.discard(self)
            self._put(_END)

    def _put(self, item: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the event loop is gone (the server stopped): nobody reads this answer any more
            self.response.cancel()

    async def next(self, timeout_s: float | None = None) -> Event | None:
        """The next event, None after the last; TimeoutError when none came within ``timeout_s``; Interrupted
        once :meth:`interrupt` was called."""
        item = await asyncio.wait_for(self._queue.get(), timeout_s)
        if item is Interrupted:
            raise Interrupted
        return None if item is _END else item

    def cancel(self) -> None:
        self.response.cancel()

    def interrupt(self) -> None:
        """Cancel the answer and end its events now (from any thread): the server is stopping."""
        self.response.cancel()
        with contextlib.suppress(RuntimeError):  # the event loop is gone already
            self._loop.call_soon_threadsafe(self._queue.put_nowait, Interrupted)
