"""Thread counts follow the cores a process may use, not the cores the machine has."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is a Linux API")
@pytest.mark.slow
def test_a_process_kept_to_one_core_loads_the_model_with_one_thread_and_says_so(
        chat_model_path: Path, hearth_home: Path) -> None:
    """Under ``taskset -c 0`` (or in a one-core cpuset) llama.cpp got one thread per physical core of the
    machine, whose threads then spun against each other on the one core they had. The answer's device line
    says how many threads the automatic setting chose."""
    core = min(os.sched_getaffinity(0))
    done = subprocess.run(
        [sys.executable, "-m", "app", "ask", "--no-memory", "--max-tokens", "2", "--json", "-m",
         str(chat_model_path), "Hi"],
        capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.sched_setaffinity(0, {core}))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["stats"]["device"] == "CPU, 1 thread (GPU layers set to 0)"
