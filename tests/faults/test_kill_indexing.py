"""Indexing killed at random points: the manifest, the keyword index and Chroma always agree, and the next
sync finishes with exactly the chunks an uninterrupted run makes (none missing, none twice)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import FakeEmbedder
from kill import SEEDS, assert_stores_agree, kill_after_first_line, start_child

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


def state(kb: KnowledgeBase, collection: str) -> dict[str, list[str]]:
    """path -> its chunk texts in order, after checking the three stores agree chunk for chunk."""
    rows, vectors = kb.store.chunk_ids(collection)
    assert rows == vectors, "the manifest and Chroma disagree"
    kb.store.check_keyword_index()
    by_path: dict[str, list[tuple[int, str]]] = {}
    for chunk in kb.store.chunks(sorted(rows)).values():
        by_path.setdefault(Path(chunk.path).name, []).append((chunk.chunk_index, chunk.text))
    for name, pieces in by_path.items():
        assert sorted(i for i, _ in pieces) == list(range(len(pieces))), f"{name}: a chunk is missing or twice"
    return {name: [t for _, t in sorted(pieces)] for name, pieces in by_path.items()}


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
        resumed = state(kb, "notes")
        list(kb.index([folder], "clean"))
        assert resumed == state(kb, "clean")
    finally:
        kb.close()
