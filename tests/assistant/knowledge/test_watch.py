"""A watched folder reports a burst of changes once, after it goes quiet (real watchdog observer)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from assistant.knowledge.watch import FolderWatcher


def test_a_burst_of_changes_is_reported_once_after_the_debounce(tmp_path: Path) -> None:
    root = tmp_path / "watched"
    (root / ".git").mkdir(parents=True)
    calls: list[float] = []
    changed = threading.Event()
    watcher = FolderWatcher([root], lambda: (calls.append(time.monotonic()), changed.set()), debounce_s=0.4).start()
    try:
        (root / ".git" / "index").write_text("ignored: inside a folder a sync skips")
        time.sleep(0.8)
        assert calls == []
        started = time.monotonic()
        for i in range(5):  # a burst: one call after it, not five
            (root / "note.txt").write_text(f"Draft {i}.\n")
            time.sleep(0.05)
        assert changed.wait(10)
        time.sleep(0.8)
        assert len(calls) == 1 and calls[0] - started >= 0.4
    finally:
        watcher.stop()
