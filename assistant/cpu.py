"""The CPU cores Hearth may use: what the thread counts of llama.cpp, the embedder and quantizing start from."""

from __future__ import annotations

import os

import psutil


def usable_cores() -> int:
    """The logical CPUs this process may run on: a process confined by ``taskset``, a container's cpuset or a
    test worker pinned to one core gets fewer than the machine has."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """Physical cores, at most the usable ones: llama.cpp's threads wait for each other by spinning, so a thread
    more than there are cores to run it costs more than it brings (under ``taskset -c 0`` two threads decoded
    SmolLM2 at 53-56 tok/s, one at 75-77)."""
    physical = psutil.cpu_count(logical=False) or psutil.cpu_count() or 1
    return max(1, min(physical, usable_cores()))
