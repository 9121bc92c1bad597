"""Hybrid retrieval: dense (Chroma) and keyword (FTS5 BM25) rankings fused with reciprocal rank fusion.

Dense search finds passages by meaning, BM25 finds exact names, numbers and rare words that small
embedders blur; RRF combines the two rankings without having to calibrate their incomparable scores.
Identical passages (the same text in two copied files) are shown once. An optional cross-encoder reranks
the fused candidates when a reranker model is installed locally.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

from assistant.knowledge.embedder import Embedder
from assistant.knowledge.records import Chunk, Citation
from assistant.knowledge.store import Store
from assistant.paths import apply_privacy_defaults

SearchMode = Literal["hybrid", "dense", "keyword"]
RRF_K = 60  # the constant of Cormack et al. (2009); damps the weight of the very top ranks
CANDIDATES = 50  # per ranking, before fusion
#: BM25's vote counts half: on natural-language questions the embedder is the stronger ranker, BM25 the
#: one that rescues exact names and numbers. Chosen on a dev split of the docstring set that is disjoint
#: from the split ``hearth bench retrieval`` reports (dev nDCG@10: equal weights .744, 1:0.5 .744,
#: recall@10 .887 vs .893).
DENSE_WEIGHT, KEYWORD_WEIGHT = 1.0, 0.5


class Reranker(Protocol):
    def score(self, query: str, texts: Sequence[str]) -> list[float]: ...


class CrossEncoderReranker:
    """A sentence-transformers cross-encoder read from a local folder (never downloaded)."""

    def __init__(self, path: Path) -> None:
        apply_privacy_defaults()
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(str(path), device="cpu")

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        return [float(s) for s in self.model.predict([(query, t) for t in texts], show_progress_bar=False)]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[str]], weights: Sequence[float] | None = None,
                           k: int = RRF_K) -> list[tuple[str, float]]:
    """Ids ordered by ``sum(weight / (k + rank))`` over the rankings they appear in (rank starts at 1)."""
    scores: dict[str, float] = defaultdict(float)
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] += weight / (k + rank)
    return sorted(scores.items(), key=lambda kv: kv[1], reverse=True)


def retrieve(store: Store, embedder: Embedder | None, collections: Sequence[str], text: str, k: int,
             folder: str | None = None, mode: SearchMode = "hybrid",
             reranker: Reranker | None = None) -> list[Citation]:
    """The ``k`` best passages for ``text`` across ``collections`` (keyword mode needs no embedder)."""
    n = max(CANDIDATES, 2 * k)
    rankings: list[list[str]] = []
    weights: list[float] = []
    if mode != "keyword":
        assert embedder is not None
        vector = embedder.embed([text])[0]
        rankings += [store.dense(c, vector, n, folder) for c in collections]
        weights += [DENSE_WEIGHT] * len(collections)
    if mode != "dense":
        rankings += [store.keyword(c, text, n, folder) for c in collections]
        weights += [KEYWORD_WEIGHT] * len(collections)
    fused = reciprocal_rank_fusion(rankings, weights)[:n]
    rows = store.chunks([i for i, _ in fused])  # ids unknown to SQLite (half-written) are dropped here
    unique: dict[str, tuple[Chunk, float]] = {}
    for chunk_id, score in fused:
        chunk = rows.get(chunk_id)
        if chunk is not None and chunk.chunk_hash not in unique:
            unique[chunk.chunk_hash] = (chunk, score)
    hits = list(unique.values())
    if reranker is not None and hits:
        scores = reranker.score(text, [c.text for c, _ in hits])
        rescored = [(c, s) for (c, _), s in zip(hits, scores, strict=True)]
        hits = sorted(rescored, key=lambda h: h[1], reverse=True)
    return [_citation(chunk, score) for chunk, score in hits[:k]]


def _citation(chunk: Chunk, score: float) -> Citation:
    return Citation(0, chunk.collection, chunk.path, chunk.page, chunk.line_start, chunk.line_end,
                    chunk.heading, chunk.text, round(score, 6))
