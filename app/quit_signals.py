"""Ctrl+C in the terminal, a desktop's logout (SIGTERM) or a closed terminal (SIGHUP) close the window properly.

Python runs a signal handler only between bytecodes of the main thread, and under ``app.exec()`` that thread
sits in Qt's C++ event loop: Ctrl+C did nothing until some Python slot ran (then a ``KeyboardInterrupt``
traceback inside it), and SIGTERM's default action ended the process without ``closeEvent``, so the answer in
flight, queued memory learning and the single-instance socket were never wound up. Here the C-level handler
writes the signal's number to a socket pair (``signal.set_wakeup_fd``), a ``QSocketNotifier`` wakes the event
loop on it (no polling timer waking a laptop four times a second), and the window is closed as if its close
button were pressed.
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Callable

from PySide6.QtCore import QObject, QSocketNotifier

log = logging.getLogger(__name__)

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class QuitOnSignals(QObject):
    """While it lives, SIGINT/SIGTERM/SIGHUP call ``close`` once, from the event loop; ``restore`` undoes it."""

    def __init__(self, close: Callable[[], object]) -> None:
        super().__init__()
        self._close = close
        self._closing = False
        self._read, self._write = socket.socketpair()
        for end in (self._read, self._write):
            end.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._write.fileno(), warn_on_full_buffer=False)
        # A Python-level handler must exist, or SIGTERM/SIGHUP keep their default (end the process) and SIGINT
        # raises KeyboardInterrupt; the work happens in _wake, where Qt is safe to call.
        self._previous = {number: signal.signal(number, lambda *_: None) for number in SIGNALS}
        self._notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._wake)

    def _wake(self) -> None:
        try:
            received = self._read.recv(64)
        except BlockingIOError:
            return
        numbers = [n for n in received if n in {int(s) for s in SIGNALS}]
        if not numbers or self._closing:
            return
        self._closing = True
        log.info("%s received: closing the window", signal.Signals(numbers[0]).name)
        self._close()

    def restore(self) -> None:
        """Put back the handlers and wake-up fd there were before (tests open many windows in one process)."""
        self._notifier.setEnabled(False)
        signal.set_wakeup_fd(self._previous_fd)
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._read.close()
        self._write.close()
