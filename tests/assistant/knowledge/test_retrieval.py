"""Hybrid retrieval: RRF fusion, dedup, the rerank hook, and hybrid beating either ranking alone."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from assistant.config import KnowledgeSettings
from assistant.knowledge import KnowledgeBase, store
from assistant.knowledge.retrieval import reciprocal_rank_fusion
from assistant.knowledge.store import keyword_query, query_words
from assistant.paths import get_paths


def test_rrf_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60)
    assert [i for i, _ in fused] == ["b", "a", "d", "c"]
    assert fused[0][1] == 1 / 62 + 1 / 61
    # Hearth's smaller constant trusts the top of a ranking more: a first place in one ranking beats a
    # 15th place in both, which k = 60 ranks first.
    first = ["a", *(f"x{i}" for i in range(13)), "b"]
    second = [*(f"y{i}" for i in range(14)), "b"]
    assert reciprocal_rank_fusion([first, second], k=60)[0][0] == "b"
    assert reciprocal_rank_fusion([first, second])[0][0] == "a"


def test_keyword_query_is_safe_fts5() -> None:
    assert keyword_query(query_words('NEAR("x" AND y*) -- drop')) == '"near" OR "x" OR "and" OR "y" OR "drop"'
    assert keyword_query(query_words("?!")) is None


def test_keyword_search_skips_words_in_most_chunks(kb: KnowledgeBase, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "common"
    root.mkdir()
    for i in range(20):
        (root / f"n{i}.txt").write_text(f"The note number {i} is here" + (" with zebras" if i == 7 else "") + "\n")
    for _ in kb.index([root]):
        pass
    assert kb.store.informative_words(query_words("the note about zebras")) == ["zebras", "note", "the"]
    monkeypatch.setattr(store, "COMMON_MIN", 2)  # as if the collection were large
    assert kb.store.informative_words(query_words("Where is the note about zebras?")) == ["zebras"]
    assert kb.store.informative_words(query_words("the note")) == ["note"]  # all common: the rarest is kept
    assert [Path(c.path).name for c in kb.search("the zebras", mode="keyword")] == ["n7.txt"]


class ReverseReranker:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        self.calls.append((query, len(texts)))
        return [float(len(t)) for t in texts]  # longest text first


def test_hybrid_finds_both_meaning_and_exact_identifiers(kb: KnowledgeBase, sync, tmp_path: Path,
                                                         embedder, settings: KnowledgeSettings) -> None:
    root = tmp_path / "kb"
    root.mkdir()
    texts = {
        "feline.txt": "My kitten loves to chase the red laser pointer around the living room.",
        "error.txt": "Build failed with error code ZX-4471 in the payment module.",
        "kitchen.txt": "The oven must be preheated to 200 degrees before baking bread.",
        "garden.txt": "Water the tomato plants early in the morning during summer.",
    }
    for name, text in texts.items():
        (root / name).write_text(text + "\n")
    sync(root)
    top = {mode: [Path(c.path).name for c in kb.search(q, k=1, mode=mode)]
           for mode, q in [("keyword", "ZX-4471"), ("dense", "a young cat playing")]}
    assert top == {"keyword": ["error.txt"], "dense": ["feline.txt"]}
    assert kb.search("a young cat playing", k=1, mode="keyword") == []  # no shared word: BM25 is blind
    for query, expected in [("ZX-4471", "error.txt"), ("a young cat playing", "feline.txt")]:
        assert Path(kb.search(query, k=1)[0].path).name == expected  # hybrid gets both right

    reranker = ReverseReranker()
    reranked = KnowledgeBase(get_paths(), settings, embedder=embedder, reranker=reranker)
    hits = reranked.search("bread oven tomato", k=2)
    assert reranker.calls == [("bread oven tomato", 4)]
    assert [h.score for h in hits] == sorted((float(len(t)) for t in texts.values()), reverse=True)[:2]
    reranked.close()


def test_a_rare_exact_code_is_the_top_hybrid_hit_among_hundreds(kb: KnowledgeBase, sync, tmp_path: Path) -> None:
    """300 shipment notes a question about a tracking number resembles, and one unrelated note with the code.

    The embedder ranks the shipments first and the note outside its top 50; BM25 finds only the note. The
    default (hybrid) search must put it first, not drown it under dense-only hits.
    """
    root = tmp_path / "shipments"
    root.mkdir()
    cities = ["Leeds", "Porto", "Lyon", "Graz", "Turku", "Bergen", "Cork", "Malmo"]
    for i in range(300):
        (root / f"shipment{i:03}.txt").write_text(f"Shipment {i} with tracking number T{i:05} left the "
                                                  f"{cities[i % 8]} warehouse on day {i % 28 + 1}.\n")
    (root / "heron.txt").write_text("The blue heron nests by the old mill; the ranger filed it under Z00042.\n")
    sync(root)
    question = "Which shipment has tracking number Z00042?"
    assert [Path(c.path).name for c in kb.search(question, k=1, mode="keyword")] == ["heron.txt"]
    dense = [Path(c.path).name for c in kb.search(question, k=50, mode="dense")]
    assert "heron.txt" not in dense  # the case fusion has to rescue
    hits = [Path(c.path).name for c in kb.search(question)]
    assert hits[0] == "heron.txt" and len(hits) == 5 and all(h.startswith("shipment") for h in hits[1:])
