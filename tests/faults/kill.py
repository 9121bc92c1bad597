"""Fault injection helpers: a real child process does the work and is killed (SIGKILL) at a random moment.

Each test repeats that over several seeds, then reopens the stores in this process and checks the
invariants the README promises. The children use the fast fakes (tests/fakes.py) so a seed costs about a
second; the real parts have their own kill tests (tests/assistant/knowledge/test_sync.py,
tests/assistant/test_core.py).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
SEEDS = range(6)


def start_child(code: str, home: Path, *args: str, limit_bytes: int | None = None) -> subprocess.Popen[str]:
    """Run ``code`` (dedented) in a fresh interpreter with HEARTH_HOME=home and the fakes importable.

    ``limit_bytes``: RLIMIT_FSIZE for the child, with SIGXFSZ ignored, so a write past it fails with EFBIG
    the way a full disk fails with ENOSPC.
    """
    env = {**os.environ, "HEARTH_HOME": str(home), "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)]),
           "HF_HUB_OFFLINE": "1"}

    def limit() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=limit if limit_bytes is not None else None)


def kill_after_first_line(child: subprocess.Popen[str], seed: int, window_s: float) -> bool:
    """Wait for the child's first line ("started"), then SIGKILL it after a seeded random delay.

    Returns False when the child finished first (the delay fell after the end): still a valid run.
    """
    assert child.stdout is not None
    first = child.stdout.readline()
    assert first.strip() == "started", child.stderr.read() if child.stderr else first
    time.sleep(random.Random(seed).uniform(0.0, window_s))
    if child.poll() is not None:
        return False
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    return True

