"""Other processes, as far as Hearth's files need to know: whether one that left something behind still runs."""

from __future__ import annotations

import functools
import os
from typing import Any

import psutil

#: How far two readings of one process's start time may differ and still be that process: psutil gives it on the
#: wall clock (boot time plus the ticks since), which a clock adjustment (NTP) moves by up to about a second. A
#: number given to another process after the first ended goes to one started far later than that.
SAME_START_S = 1.0


def stamp() -> dict[str, Any]:
    """This process as a later one can tell it from another: its number and when it started. The number alone is
    given to another process once this one ends, and what a crashed writer left read as "being written" for as
    long as that unrelated process ran."""
    pid = os.getpid()
    return {"pid": pid, "started": _started(pid)}


@functools.cache
def _started(pid: int) -> float:
    """When process ``pid`` (this one) started: asked once, not at each of an answer's checkpoints (every half
    second). By its number, so a forked child asks for its own."""
    return psutil.Process(pid).create_time()


def alive(pid: int, started: float | None = None) -> bool:
    """Whether process ``pid`` still runs (what a killed process claimed or half-wrote is free to take back); given
    when it started (see :func:`stamp`), whether that very process runs, not another given its number since."""
    # (psutil, not ``os.kill(pid, 0)``: on Windows signal 0 is CTRL_C_EVENT, sent to that process's group)
    if pid <= 0 or not psutil.pid_exists(pid):
        return False
    if started is None:  # (a name kept before start times were: as far as can be told)
        return True
    try:
        return abs(psutil.Process(pid).create_time() - started) < SAME_START_S
    except psutil.NoSuchProcess:  # it ended in between
        return False
    except psutil.AccessDenied:  # (Windows, a process of another user): as far as can be told
        return True
