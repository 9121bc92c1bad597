"""Where benchmark results go: one JSON file per benchmark in ``bench/results/`` (the README table's source)."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from assistant.config import atomic_write_text
from assistant.paths import RESOURCES

RESULTS = RESOURCES.parent / "bench" / "results"


def save_result(name: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / f"{name}.json", json.dumps(result, indent=2) + "\n")


def cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what ``platform`` knows: results from two machines
    must say which is which ("x86_64" does not)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
