"""Indexing killed at random points: the manifest, the keyword index and Chroma always agree, and the next
sync finishes with exactly the chunks an uninterrupted run makes (none missing, none twice)."""

from __future__ import annotations

from pathlib import Path

import pytest
from checks import assert_stores_agree, contents
from fakes import FakeEmbedder
from kill import SEEDS, kill_after_first_line, start_child

from assistant.config import KnowledgeSettings
from assistant.knowledge import KnowledgeBase
from assistant.paths import get_paths

CHILD = """
    import sys, time
    from pathlib import Path
    from fakes import FakeEmbedder
    from assistant.config import KnowledgeSettings
    from assistant.knowledge import KnowledgeBase
    from assistant.paths import get_paths

    class Slow(FakeEmbedder):
        def embed(self, texts):
            time.sleep(0.01)  # a batch takes real time, so kills land inside batches too
            return super().embed(texts)

    kb = KnowledgeBase(get_paths(), KnowledgeSettings(chunk_tokens=32, chunk_overlap=4), embedder=Slow(),
                       batch_size=4)
    print("started", flush=True)
    for event in kb.index([Path(sys.argv[1])], "notes"):
        pass
    print("finished", flush=True)
"""


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_indexing_anywhere_then_resume(seed: int, home: Path, tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(60):
        (folder / f"note-{i:02}.md").write_text(f"# Note {i}\n\n" + f"Walk {i} went past the mill and the ford. " * 6)
    child = start_child(CHILD, home, str(folder))
    kill_after_first_line(child, seed, window_s=1.9)

    monkeypatch.setenv("HEARTH_HOME", str(home))
    kb = KnowledgeBase(get_paths(), KnowledgeSettings(chunk_tokens=32, chunk_overlap=4), embedder=FakeEmbedder())
    try:
        if kb.store.collection("notes") is not None:
            assert_stores_agree(kb.store, "notes")  # right after the kill, before any sync recovers
        events = list(kb.index([folder], "notes"))
        assert events[-1].message == "done" and events[-1].done == 60
        resumed = contents(kb.store, "notes")
        list(kb.index([folder], "clean"))
        assert resumed == contents(kb.store, "clean")
    finally:
        kb.close()
