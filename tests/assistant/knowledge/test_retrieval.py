"""Hybrid retrieval: RRF fusion, dedup, the rerank hook, and hybrid beating either ranking alone."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from assistant.config import KnowledgeSettings
from assistant.knowledge import KnowledgeBase
from assistant.knowledge.retrieval import reciprocal_rank_fusion
from assistant.knowledge.store import keyword_query
from assistant.paths import get_paths


def test_rrf_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60)
    assert [i for i, _ in fused] == ["b", "a", "d", "c"]
    assert fused[0][1] == 1 / 62 + 1 / 61
    weighted = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], weights=[1.0, 0.01], k=60)
    assert [i for i, _ in weighted] == ["a", "b", "c"]


def test_keyword_query_is_safe_fts5() -> None:
    assert keyword_query('NEAR("x" AND y*) -- drop') == '"near" OR "x" OR "and" OR "y" OR "drop"'
    assert keyword_query("?!") is None


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
