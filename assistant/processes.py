"""Other processes, as far as Hearth's files need to know: whether one that left something behind still runs."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (what a killed process claimed or half-wrote is free to take back)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True
