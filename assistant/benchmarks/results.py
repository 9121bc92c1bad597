"""Where benchmark results go: one JSON file per benchmark in ``bench/results/`` (the README table's source)."""

from __future__ import annotations

import json
from typing import Any

from assistant.config import atomic_write_text
from assistant.paths import RESOURCES

RESULTS = RESOURCES.parent / "bench" / "results"


def save_result(name: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / f"{name}.json", json.dumps(result, indent=2) + "\n")
