"""Watched folders re-sync on change, once per burst of changes (real watchdog observer)."""

from __future__ import annotations

import time
from pathlib import Path

from assistant.events import Progress
from assistant.knowledge import KnowledgeBase
from assistant.knowledge.watch import FolderWatcher


def _wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_watcher_resyncs_after_a_debounced_burst(kb: KnowledgeBase, sync, tmp_path: Path) -> None:
    root = tmp_path / "watched"
    root.mkdir()
    (root / "first.txt").write_text("The first note mentions penguins.\n")
    sync(root)
    finished: list[Progress] = []
    watcher = FolderWatcher(kb, [root], debounce_s=0.5,
                            on_progress=lambda e: finished.append(e) if e.message == "done" else None).start()
    try:
        for i in range(5):  # a burst: one sync after it, not five
            (root / "second.txt").write_text(f"Draft {i} of the second note about flamingos.\n")
            time.sleep(0.05)
        (root / "first.txt").unlink()
        assert _wait_for(lambda: len(finished) == 1)
        time.sleep(1.0)
        assert len(finished) == 1
        assert [Path(c.path).name for c in kb.search("flamingos", mode="keyword")] == ["second.txt"]
        assert "Draft 4" in kb.search("flamingos", mode="keyword")[0].text
        assert kb.search("penguins", mode="keyword") == []
    finally:
        watcher.stop()
