"""The stores check each other: lost vectors, a foreign vector store and a drifted keyword index are reported,
refused by search by meaning (a hybrid search searches by keyword and says why), and repaired by the next sync
re-embedding only what is missing.

Real Chroma and SQLite; a fake embedder (tests/fakes.py) that records what it embeds keeps these fast.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeEmbedder

from assistant.config import KnowledgeSettings
from assistant.events import Progress
from assistant.knowledge import KnowledgeBase
from assistant.knowledge.errors import DamagedIndexError
from assistant.knowledge.store import STORE_ID_KEY
from assistant.paths import get_paths

REPO_ROOT = Path(__file__).resolve().parents[3]
TOPICS = ["volcano", "glacier", "desert", "forest", "ocean", "river", "canyon", "meadow"]


@dataclass
class RecordingEmbedder(FakeEmbedder):
    """The fake embedder, keeping every text it was asked to embed."""

    texts: list[str] = field(default_factory=list)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += texts
        return super().embed(texts)


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    """24 one-chunk files, each text unique (so no vector can be reused from an identical passage)."""
    root = tmp_path / "notes"
    root.mkdir()
    for i in range(24):
        (root / f"note{i:02}.txt").write_text(f"Trip {i} to the {TOPICS[i % 8]}: we walked {i + 3} kilometres "
                                              f"and saw {i * 7 % 13} birds.\n")
    return root


@pytest.fixture
def open_kb(hearth_home: Path) -> Iterator:
    """Open knowledge bases on this test's HEARTH_HOME, each with its own recording embedder."""
    opened: list[KnowledgeBase] = []

    def open_one() -> KnowledgeBase:
        base = KnowledgeBase(get_paths(), KnowledgeSettings(chunk_tokens=64, chunk_overlap=8),
                             embedder=RecordingEmbedder(), batch_size=4)
        opened.append(base)
        return base

    yield open_one
    for base in opened:
        base.close()


def sync(kb: KnowledgeBase, folder: Path) -> list[Progress]:
    events = list(kb.index([folder]))
    assert events[-1].message == "done"
    return events


def assert_consistent(kb: KnowledgeBase, collection: str = "default") -> None:
    rows, vectors = kb.store.chunk_ids(collection)
    assert rows == vectors and rows, "SQLite and Chroma disagree"
    kb.store.check_keyword_index()
    assert kb.collections()[0].problem is None


def chunk_texts(kb: KnowledgeBase) -> list[str]:
    rows, _ = kb.store.chunk_ids("default")
    return sorted(c.text for c in kb.store.chunks(sorted(rows)).values())


def test_a_deleted_vector_store_is_reported_refused_and_rebuilt(open_kb, notes: Path) -> None:
    kb = open_kb()
    sync(kb, notes)
    kb.close()
    shutil.rmtree(get_paths().chroma_dir)  # what a user deleting data/chroma/ does; the manifest stays

    kb = open_kb()
    (info,) = kb.collections()
    assert (info.files, info.chunks) == (24, 24)
    assert info.problem == "24 of its 24 chunks have no vector (the vector store is missing)"
    with pytest.raises(DamagedIndexError) as raised:
        kb.search("volcano trip", mode="dense")
    why = str(raised.value)
    assert why.startswith("Collection 'default' cannot be searched by meaning: 24 of its 24")
    assert f"hearth index {notes} --collection default" in why
    assert kb.search("volcano", k=30, mode="keyword")  # the keyword index is intact and still answers
    hits = kb.search("volcano trip")  # and a search by words and meaning searches by words, saying why
    assert hits and (hits.only, hits.why) == ("keyword", why) and hits == kb.search("volcano trip", mode="keyword")

    events = sync(kb, notes)
    repairing = [e for e in events if e.message == "repairing"]
    assert repairing and all(e.unit == "chunks" and e.total == 24 for e in repairing)
    assert sorted(kb.embedder.texts) == chunk_texts(kb)  # every chunk embedded exactly once, from its text
    assert_consistent(kb)
    assert [Path(h.path).name for h in kb.search("Trip 6 to the canyon: we walked 9 kilometres", k=1)] == [
        "note06.txt"]


def test_partly_lost_vectors_are_the_only_ones_embedded_again(open_kb, notes: Path) -> None:
    kb = open_kb()
    sync(kb, notes)
    rows, _ = kb.store.chunk_ids("default")
    lost = sorted(rows)[:3]
    lost_texts = sorted(c.text for c in kb.store.chunks(lost).values())
    kb.store.chroma.get_collection("hearth-default").delete(ids=lost)

    assert kb.collections()[0].problem == "3 of its 24 chunks have no vector (vectors were deleted)"
    with pytest.raises(DamagedIndexError, match="3 of its 24 chunks have no vector"):
        kb.search("volcano trip", mode="dense")
    assert "3 of its 24 chunks have no vector" in kb.search("volcano trip").why
    kb.embedder.texts.clear()
    sync(kb, notes)
    assert sorted(kb.embedder.texts) == lost_texts
    assert_consistent(kb)
    kb.embedder.texts.clear()
    events = sync(kb, notes)  # in step again: nothing to repair
    assert kb.embedder.texts == [] and not [e for e in events if e.message == "repairing"]


def test_a_vector_store_of_another_index_is_rebuilt_from_the_manifest(open_kb, notes: Path) -> None:
    kb = open_kb()
    sync(kb, notes)
    vectors = kb.store.chroma.get_collection("hearth-default")
    vectors.modify(metadata={STORE_ID_KEY: "0123456789abcdef"})  # as after restoring one store from a backup

    assert "belongs to another index" in kb.collections()[0].problem
    with pytest.raises(DamagedIndexError, match="belongs to another index"):
        kb.search("volcano trip", mode="dense")
    kb.embedder.texts.clear()
    sync(kb, notes)
    assert sorted(kb.embedder.texts) == chunk_texts(kb)
    assert_consistent(kb)
    stamp = kb.store.chroma.get_collection("hearth-default").metadata[STORE_ID_KEY]
    assert stamp == kb.store.store_id("default") != "0123456789abcdef"


def test_a_drifted_keyword_index_is_reported_and_rebuilt(open_kb, notes: Path) -> None:
    kb = open_kb()
    sync(kb, notes)
    kb.store._db.execute("INSERT INTO chunks_fts (chunks_fts) VALUES ('delete-all')")

    assert kb.collections()[0].problem == "the keyword index holds 0 of its 24 chunks"
    kb.embedder.texts.clear()
    sync(kb, notes)
    assert kb.embedder.texts == []  # the vectors were fine: nothing embedded
    assert_consistent(kb)
    assert [Path(h.path).name for h in kb.search("canyon", k=10, mode="keyword")] == [
        "note06.txt", "note14.txt", "note22.txt"]


CHILD = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from fakes import FakeEmbedder
    from assistant.config import KnowledgeSettings
    from assistant.knowledge import KnowledgeBase
    from assistant.paths import get_paths

    class Slow(FakeEmbedder):
        def embed(self, texts):
            time.sleep(0.05)
            return super().embed(texts)

    kb = KnowledgeBase(get_paths(), KnowledgeSettings(chunk_tokens=64, chunk_overlap=8), embedder=Slow(),
                       batch_size=1)
    for event in kb.index([Path(sys.argv[1])]):
        print(json.dumps({"done": event.done, "total": event.total, "message": event.message}), flush=True)
""")


def test_kill_mid_repair_and_resume(open_kb, notes: Path) -> None:
    kb = open_kb()
    sync(kb, notes)
    kb.close()
    shutil.rmtree(get_paths().chroma_dir)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "tests")])}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(notes)], stdout=subprocess.PIPE, text=True,
                             cwd=REPO_ROOT, env=env)
    assert child.stdout is not None
    killed_at = None
    for line in child.stdout:
        event = json.loads(line)
        if event["message"] == "repairing" and event["done"] >= 8:
            killed_at = event["done"]
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert killed_at is not None and child.returncode == -signal.SIGKILL

    kb = open_kb()  # the OS released the killed child's lock on the collection
    sync(kb, notes)
    assert 0 < len(kb.embedder.texts) <= 24 - killed_at  # what the child repaired was kept
    assert_consistent(kb)


def test_an_index_from_before_store_ids_is_stamped_without_re_embedding(open_kb, notes: Path) -> None:
    kb = open_kb()
    sync(kb, notes)
    chroma = kb.store.chroma
    old = chroma.get_collection("hearth-default").get(include=["embeddings", "metadatas"])
    chroma.delete_collection("hearth-default")  # rebuilt as an older Hearth made it: no store id anywhere
    chroma.create_collection("hearth-default", embedding_function=None,
                             configuration={"hnsw": {"space": "cosine"}}).add(
        ids=old["ids"], embeddings=old["embeddings"], metadatas=old["metadatas"])
    kb.store._db.execute("UPDATE collections SET store_id = NULL")

    assert kb.collections()[0].problem is None  # the counts agree: nothing to report
    kb.embedder.texts.clear()
    sync(kb, notes)
    assert kb.embedder.texts == []
    stamp = kb.store.store_id("default")
    assert stamp and chroma.get_collection("hearth-default").metadata[STORE_ID_KEY] == stamp
    assert_consistent(kb)
