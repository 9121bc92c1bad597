"""Hybrid retrieval: dense (Chroma) and keyword (FTS5 BM25) rankings fused with reciprocal rank fusion.

Dense search finds passages by meaning, BM25 finds exact names, numbers and rare words that small
embedders blur; RRF combines the two rankings without having to calibrate their incomparable scores.
The two rankings count equally, with a small RRF constant (:data:`RRF_K`): see its comment for the
evidence. RRF alone buries BM25's strongest evidence, though: a code such as "Z00042" found in one chunk of
a large collection is usually absent from the dense ranking, so it scores below every passage both
rankings hold. A passage that holds a rare code of the query verbatim and that the dense ranking left out
therefore gets the dense vote of its BM25 rank (:func:`lift_rare_matches`). Identical passages (the same
text in two copied files) are shown once, before the candidates are cut, so copies crowd out nothing. An
optional cross-encoder reranks the fused candidates when a reranker model is installed locally.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol, TypeVar

from assistant.knowledge.embedder import Embedder
from assistant.knowledge.records import Chunk, Citation
from assistant.knowledge.store import Store
from assistant.paths import apply_privacy_defaults

SearchMode = Literal["hybrid", "dense", "keyword"]
T = TypeVar("T")
#: RRF's constant: a passage at rank r of a ranking gets 1 / (RRF_K + r). Cormack et al. (2009) used 60;
#: a smaller constant trusts the top of each ranking more. Chosen on the dev splits of seven test
#: collections (``hearth bench retrieval``; five public ones, the docstring set and the personal folder),
#: equal weights throughout: k = 10 was the only setting at or above k = 60 on all seven (mean nDCG@10
#: +0.005, worst -0.002), against BM25 at half weight (the previous default: +0.001, worst -0.010), k = 20
#: or 5, and min-max or distribution-normalised score fusion (better on SciFact, the personal folder and
#: docstrings, worse on Cranfield and CISI, worst -0.035).
RRF_K = 10
CANDIDATES = 50  # per ranking, before fusion
#: A code in the query is rare when at most this many chunks of the whole index hold it: no more than one
#: default answer (top_k 5) shows, so a search for it can list every place it occurs.
RARE_CHUNKS = 5
#: Tokens an embedder cannot place: with a digit (Z00042, E1234, 4471), an underscore (linker_so) or a
#: capital after a small letter (getUserName). Ordinary words, even rare ones, are the embedder's strength;
#: lifting them too lowered nDCG@10 on the retrieval benchmark.
_CODE = re.compile(r"\w*(?:\d|_|[^\W\d_A-Z][A-Z])\w*")


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


def reciprocal_rank_fusion(rankings: Sequence[Sequence[T]], k: int = RRF_K) -> list[tuple[T, float]]:
    """Items ordered by ``sum(1 / (k + rank))`` over the rankings they appear in (rank starts at 1)."""
    scores: dict[T, float] = defaultdict(float)
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] += 1 / (k + rank)
    return sorted(scores.items(), key=lambda kv: kv[1], reverse=True)


def retrieve(store: Store, embedder: Embedder | None, collections: Sequence[str], text: str, k: int,
             folder: str | None = None, mode: SearchMode = "hybrid",
             reranker: Reranker | None = None) -> list[Citation]:
    """The ``k`` best passages for ``text`` across ``collections`` (keyword mode needs no embedder)."""
    n = max(CANDIDATES, 2 * k)
    dense: list[list[str]] = []
    keyword: list[list[str]] = []
    if mode != "keyword":
        assert embedder is not None
        vector = embedder.embed([text])[0]
        dense = [[i for i, _ in store.dense(c, vector, n, folder)] for c in collections]
    if mode != "dense":
        keyword = [[i for i, _ in store.keyword(c, text, n, folder)] for c in collections]
    scores = dict(reciprocal_rank_fusion([*dense, *keyword]))
    rows = store.chunks(list(scores))  # ids unknown to SQLite (half-written) are dropped here
    if dense and keyword:
        lift_rare_matches(scores, rows, dense, keyword, rare_codes(store, text))
    hits = _unique(rows, sorted(scores.items(), key=lambda kv: kv[1], reverse=True))[:n]
    if reranker is not None and hits:
        scores = reranker.score(text, [c.text for c, _ in hits])
        rescored = [(c, s) for (c, _), s in zip(hits, scores, strict=True)]
        hits = sorted(rescored, key=lambda h: h[1], reverse=True)
    return [_citation(chunk, score) for chunk, score in hits[:k]]


def rare_codes(store: Store, text: str) -> list[str]:
    """The codes and identifiers of ``text`` (lower-cased) held by 1 to :data:`RARE_CHUNKS` chunks of the index."""
    codes = list(dict.fromkeys(m.group().lower() for m in _CODE.finditer(text)))
    return [code for code, count in store.chunk_counts(codes).items() if 0 < count <= RARE_CHUNKS]


def lift_rare_matches(scores: dict[str, float], rows: dict[str, Chunk], dense: Sequence[Sequence[str]],
                      keyword: Sequence[Sequence[str]], rare: Sequence[str]) -> None:
    """Give a passage that holds one of the ``rare`` codes verbatim, and that the dense ranking left out,
    the dense vote of its BM25 rank.

    A small embedder cannot place a code, an error number or an identifier it never saw in training, so
    its silence on such a passage is no evidence against it, while a term found in only a few chunks is
    BM25's strongest evidence. The lift is bounded (one dense vote, at most :data:`RARE_CHUNKS` passages per
    code) and makes BM25's first hit for a rare code the first hit; passages the embedder did rank, and
    queries without a rare code, keep plain RRF. "Verbatim" (not just the same stem) keeps it to exact matches.
    """
    if not rare:
        return
    exact = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, rare)) + r")(?!\w)", re.IGNORECASE)
    ranked_by_meaning = {chunk_id for ranking in dense for chunk_id in ranking}
    for ranking in keyword:
        for rank, chunk_id in enumerate(ranking, start=1):
            chunk = rows.get(chunk_id)
            if chunk is not None and chunk_id not in ranked_by_meaning and exact.search(chunk.text):
                scores[chunk_id] += 1 / (RRF_K + rank)


def _unique(rows: dict[str, Chunk], ranked: Sequence[tuple[str, float]]) -> list[tuple[Chunk, float]]:
    """Ranked chunks with each text once (its best-ranked copy), before any cut, so copies crowd out nothing."""
    unique: dict[str, tuple[Chunk, float]] = {}
    for chunk_id, score in ranked:
        chunk = rows.get(chunk_id)
        if chunk is not None and chunk.chunk_hash not in unique:
            unique[chunk.chunk_hash] = (chunk, score)
    return list(unique.values())


def _citation(chunk: Chunk, score: float) -> Citation:
    return Citation(0, chunk.collection, chunk.path, chunk.page, chunk.line_start, chunk.line_end,
                    chunk.heading, chunk.text, round(score, 6))
