"""Thread counts follow the cores a process may use, not the cores the machine has."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from checks import run_python


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is a Linux API")
@pytest.mark.slow
def test_a_process_kept_to_one_core_loads_the_model_with_one_thread(chat_model_path: Path) -> None:
    """Under ``taskset -c 0`` (or in a one-core cpuset) llama.cpp got one thread per physical core of the
    machine, whose threads then spun against each other on the one core they had."""
    done = run_python(
        "import os\n"
        "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
        "from assistant.engine import Engine\n"
        "engine = Engine()\n"
        f"engine.load({str(chat_model_path)!r})\n"
        "print(engine.settings.n_threads)\n", timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["1"]
