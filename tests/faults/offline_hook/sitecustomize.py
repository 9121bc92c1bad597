"""Loaded by every child interpreter of test_offline.py (it is first on PYTHONPATH): records each socket
connection the process attempts, through Python's audit hooks, into the file $HEARTH_SOCKET_LOG."""

import os
import sys

_log = os.environ.get("HEARTH_SOCKET_LOG")


def _hook(event: str, args: tuple) -> None:
    if event in ("socket.connect", "socket.sendto") and _log:
        address = args[1] if event == "socket.connect" else args[-1]
        with open(_log, "a", encoding="utf-8") as fh:
            fh.write(f"{event} {address!r}\n")


if _log:
    sys.addaudithook(_hook)
