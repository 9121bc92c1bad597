"""Hybrid retrieval: dense (Chroma) and keyword (FTS5 BM25) rankings, a feedback round, and one fusion.

Dense search finds passages by meaning, BM25 finds exact names, numbers and rare words that small
embedders blur. A hybrid search runs in two rounds:

1. Both rankings, fused by reciprocal rank fusion (RRF), give the first few passages.
2. Those passages are used as pseudo-relevance feedback, once for each ranking: the query vector moves
   towards their vectors (Rocchio) and the keyword query gains their most distinctive words (RM3-like),
   giving two more rankings.

The final score is half rank fusion (RRF of all four rankings) and half score fusion (min-max normalised
dense and BM25 scores of the first round, equal weights). Each half wins on different collections: RRF on
the classic test collections, where both rankings are mediocre and agreement is the best evidence, score
fusion on the personal folder, SciFact and the docstrings, where a much better score at the top of one
ranking should not be outvoted by rank positions. Feedback is what the classic collections gain most from.
Every constant was chosen on the dev splits of ``hearth bench retrieval`` (see :data:`RRF_K`).

RRF buries BM25's strongest evidence, though: a code such as "Z00042" found in one chunk of a large
collection is usually absent from the dense ranking. A passage that holds a rare code of the query verbatim
and that the dense ranking left out therefore gets the dense vote of its BM25 rank
(:func:`lift_rare_matches`). Identical passages (the same text in two copied files) are shown once, before
the candidates are cut, so copies crowd out nothing; so is one of two neighbours that share their edge. Chroma's
search is approximate: the keyword ranking's candidates are scored exactly by meaning too (:func:`_dense`).
An optional cross-encoder reranks the fused candidates when a reranker model is installed locally.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol, TypeVar

import numpy as np

from assistant.knowledge.embedder import Embedder
from assistant.knowledge.errors import EmbedderUnavailableError
from assistant.knowledge.records import Chunk, Citation
from assistant.knowledge.store import Folder, Store, identifiers, query_words
from assistant.knowledge.words import STOP, WORD, content_words
from assistant.paths import apply_privacy_defaults

SearchMode = Literal["hybrid", "dense", "keyword"]
T = TypeVar("T")
#: RRF's constant: a passage at rank r of a ranking gets 1 / (RRF_K + r). Cormack et al. (2009) used 60;
#: a smaller constant trusts the top of each ranking more. Chosen with the rest of the method on the dev
#: splits of seven test collections (``hearth bench retrieval``: five public ones, the docstring set and the
#: personal folder). Dev nDCG@10 against equal-weight RRF with k = 60, mean (worst collection): this method
#: +0.018 (+0.012); without feedback +0.007 (-0.008); plain RRF with k = 10 +0.005 (-0.002); BM25 at half
#: weight (the previous default) +0.001 (-0.010); score fusion alone +0.010 (-0.005); all four rankings in
#: score fusion +0.015 (-0.004); feedback but no score fusion +0.010 (-0.024).
RRF_K = 10
#: The share of score fusion in the final score (the rest is rank fusion); 0.3 and 0.7 were worse on dev.
SCORE_SHARE = 0.5
#: Passages of the first round used as feedback, and words added to the keyword query from them.
FEEDBACK_PASSAGES, FEEDBACK_WORDS = 3, 10
#: The feedback round costs a second dense and keyword search: about 55 ms at 50,000 chunks on two cores,
#: which took the hybrid's p95 from about 75 to 206 ms (target 150). Above this many chunks in the index the
#: round is skipped and the final score fuses the first round only (dev: +0.007 over RRF instead of +0.018).
#: Every collection of the quality benchmark is below it (the largest has 11,433 chunks).
FEEDBACK_MAX_CHUNKS = 20_000
CANDIDATES = 50  # per ranking, before fusion
#: A code in the query is rare when at most this many chunks of the whole index hold it: no more than one
#: default answer (top_k 5) shows, so a search for it can list every place it occurs.
RARE_CHUNKS = 5
#: A code in more chunks than that may still be in few passages: a file indexed in several collections holds
#: it in each (invoice INV-20931 in three collections: 9 chunks, 3 passages; it lost its lift, and another
#: invoice came first). Up to this many chunks the code's different passages are counted instead.
COPIES_COUNTED = 10 * RARE_CHUNKS
#: A search of at most this many words holding a rare code is a lookup ("INV-20931", "invoice INV-20931"): the
#: passages holding the code come first. The lift above alone left an invoice that only shared "INV" first,
#: its text close in meaning and in the top feedback passages. For longer queries (a docstring's summary line
#: naming a function) the code is one clue among others: putting its holders first there lowered the docstring
#: set's nDCG@10 from 0.766 to 0.760.
LOOKUP_WORDS = 3
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
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:  # the packaged app ships without torch (packaging/README.md)
            raise EmbedderUnavailableError(
                f"The reranker in {path} needs sentence-transformers and torch, which this install of Hearth "
                "does not include. Turn knowledge.rerank off, or run Hearth from a source install.") from exc

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
             folder: Folder = None, mode: SearchMode = "hybrid",
             reranker: Reranker | None = None) -> list[Citation]:
    """The ``k`` best passages for ``text`` across ``collections`` (keyword mode needs no embedder)."""
    n = max(CANDIDATES, 2 * k)
    vector = None
    if mode != "keyword":
        assert embedder is not None
        vector = embedder.embed([text])[0]
    keyword = _best([store.keyword(c, text, n, folder) for c in collections], n) if mode != "dense" else []
    stored: dict[str, np.ndarray] = {}  # the chunks' vectors read for this search: each read once
    dense = _dense(store, collections, vector, n, folder, _ids(keyword), stored) if vector is not None else []
    if vector is not None and mode == "hybrid":
        scores, rows = _hybrid(store, collections, text, vector, dense, keyword, n, folder, stored)
    else:
        scores = dict(dense or keyword)
        rows = store.chunks(list(scores))  # ids unknown to SQLite (half-written) are dropped here
    # before the cut: copies, and a chunk's neighbour sharing its edge, crowd out nothing
    ranked = _apart(_one_copy(sorted(scores.items(), key=lambda kv: kv[1], reverse=True), rows), rows)
    hits = [(rows[i], s) for i, s in ranked[:n]]
    if reranker is not None and hits:
        rescores = reranker.score(text, [c.text for c, _ in hits])
        hits = sorted([(c, s) for (c, _), s in zip(hits, rescores, strict=True)], key=lambda h: h[1], reverse=True)
    hits = hits[:k]
    ids = [c.id for c, _ in hits]
    # keyword mode's hits all come from the words' own FTS5 query: no second query needed to say they hold them,
    # but for a code of several parts (held only as the whole phrase) and function words (holding "the" alone is
    # not holding the words: see Store.holding_words)
    own = mode == "keyword" and not identifiers(text) and not STOP.intersection(query_words(text))
    matched = None if mode == "dense" else set(ids) if own else store.holding_words(ids, text)
    stamps = store.stamps([(c.collection, c.path) for c, _ in hits])
    return [_citation(chunk, score, None if matched is None else chunk.id in matched,
                      stamps.get((chunk.collection, chunk.path), (None, None))) for chunk, score in hits]


def _dense(store: Store, collections: Sequence[str], vector: np.ndarray, n: int, folder: Folder,
           also: Sequence[str], stored: dict[str, np.ndarray]) -> list[tuple[str, float]]:
    """The ``n`` chunks nearest to ``vector``: Chroma's search, with ``also`` (the keyword ranking's candidates)
    scored exactly and placed where their similarity puts them. The search is approximate (HNSW), and it loses
    passages where many chunks are alike (a long log of near-identical lines): a note holding every word of "wifi
    password cabin", similarity 0.78, was not among its 50 (the best it found: 0.20, word salad from the log), so
    the hybrid ranked two log chunks above it; a search of its own vector found it."""
    found = _best([store.dense(c, vector, n, folder) for c in collections], n)
    listed = {i for i, _ in found}
    if missed := [i for i in also if i not in listed]:
        floor = found[-1][1] if len(found) >= n else -math.inf
        scored = [(i, float(v @ vector)) for i, v in _stored(store, collections, missed, stored).items()]
        found = _best([found, [(i, s) for i, s in scored if s > floor]], n)
    return found


def _stored(store: Store, collections: Sequence[str], ids: Sequence[str],
            stored: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The stored vectors of ``ids``, read from Chroma only where ``stored`` (this search's) lacks them: the
    feedback round wanted the same keyword candidates' vectors again."""
    if unread := [i for i in ids if i not in stored]:
        stored.update(store.vectors(collections, unread))
    return {i: stored[i] for i in ids if i in stored}


def _best(rankings: Sequence[Sequence[tuple[str, float]]], n: int) -> list[tuple[str, float]]:
    """The ``n`` best of one ranking per collection: their scores are comparable (the same embedder; one FTS5
    index whose BM25 statistics span all collections), so the lists merge by score."""
    return sorted((hit for ranking in rankings for hit in ranking), key=lambda hit: hit[1], reverse=True)[:n]


def _hybrid(store: Store, collections: Sequence[str], text: str, vector: np.ndarray,
            dense: list[tuple[str, float]], keyword: list[tuple[str, float]], n: int,
            folder: Folder, stored: dict[str, np.ndarray]) -> tuple[dict[str, float], dict[str, Chunk]]:
    """Scores of the hybrid (see the module's docstring) and the chunk rows of every candidate.

    Each ranking keeps one copy of a text (its best-ranked): a file indexed in several collections put its
    copies at ranks 1, 2 and 3 of a search of them all, each copy's vote spread over three places, and another
    file came first for an invoice number only that file held."""
    rows = store.chunks(list(dict.fromkeys(_ids(dense) + _ids(keyword))))  # half-written ids are dropped here
    dense, keyword = _one_copy(dense, rows), _one_copy(keyword, rows)
    first = reciprocal_rank_fusion([_ids(dense), _ids(keyword)])
    feedback = [i for i, _ in first if i in rows][:FEEDBACK_PASSAGES]
    rankings = [_ids(dense), _ids(keyword)]
    if feedback and store.total_chunks() <= FEEDBACK_MAX_CHUNKS:
        moved = vector + np.mean(list(_stored(store, collections, feedback, stored).values()), axis=0)
        moved /= np.linalg.norm(moved)
        more = [_dense(store, collections, moved, n, folder, _ids(keyword), stored)]
        words = feedback_words(store, [rows[i].text for i in feedback], text)
        if words:
            expanded = text + " " + " ".join(words)
            more.append(_best([store.keyword(c, expanded, n, folder) for c in collections], n))
        rows |= store.chunks([i for ranking in more for i, _ in ranking if i not in rows])
        rankings += [_ids(_one_copy(ranking, rows)) for ranking in more]
    ranks = {i: s for i, s in reciprocal_rank_fusion(rankings) if i in rows}
    held = lift_rare_matches(ranks, rows, rankings[0::2], rankings[1::2], rare_codes(store, text))
    similar = {i: s for i, s in score_fusion(dense, keyword).items() if i in rows}
    top_rank, top_similar = max(ranks.values(), default=1.0), max(similar.values(), default=0.0) or 1.0
    scores = {i: (1 - SCORE_SHARE) * r / top_rank + SCORE_SHARE * similar.get(i, 0.0) / top_similar
              for i, r in ranks.items()}
    if held and len(query_words(text)) <= LOOKUP_WORDS:  # above every other passage, in their own order
        scores = {i: (s + (i in held)) / 2 for i, s in scores.items()}
    return scores, rows


def _one_copy(ranking: Sequence[tuple[str, float]], rows: dict[str, Chunk]) -> list[tuple[str, float]]:
    """``ranking`` with each text once, at its best-ranked copy's place, and without ids SQLite does not hold.
    The copy shown is one whose file exists where the best-ranked one's is gone (a folder on a drive not plugged
    in keeps its passages): copies tie, and the dead path was as likely to be cited as the live one."""
    at: dict[str, int] = {}  # text -> its place in ``kept``
    kept: list[tuple[str, float]] = []
    for chunk_id, score in ranking:
        chunk = rows.get(chunk_id)
        if chunk is None:
            continue
        place = at.setdefault(chunk.chunk_hash, len(kept))
        if place == len(kept):
            kept.append((chunk_id, score))
        elif not Path(rows[kept[place][0]].path).exists() and Path(chunk.path).exists():
            kept[place] = (chunk_id, kept[place][1])
    return kept


def _apart(ranking: Sequence[tuple[str, float]], rows: dict[str, Chunk]) -> list[tuple[str, float]]:
    """``ranking`` without a chunk whose better-ranked neighbour in the same file shares its edge (the chunker's
    overlap): two chunks of a log both held "The secret vault combination is 17-29-3", listed as two hits of one
    sentence and given to the model twice, two of its five passages."""
    kept: list[tuple[str, float]] = []
    for chunk_id, score in ranking:
        chunk = rows[chunk_id]
        if not any(_share_an_edge(rows[other], chunk) for other, _ in kept):
            kept.append((chunk_id, score))
    return kept


def _share_an_edge(a: Chunk, b: Chunk) -> bool:
    """Whether ``a`` and ``b`` are neighbours in one file whose texts overlap: the later begins with the end of
    the earlier (ten characters at least)."""
    if (a.collection, a.path) != (b.collection, b.path) or abs(a.chunk_index - b.chunk_index) != 1:
        return False
    first, second = (a.text, b.text) if a.chunk_index < b.chunk_index else (b.text, a.text)
    head, at = second[:10], first.find(second[:10])
    while len(head) == 10 and at != -1:
        if second.startswith(first[at:]):
            return True
        at = first.find(head, at + 1)
    return False


def _ids(ranking: Sequence[tuple[str, float]]) -> list[str]:
    return [i for i, _ in ranking]


def score_fusion(dense: Sequence[tuple[str, float]], keyword: Sequence[tuple[str, float]]) -> dict[str, float]:
    """Equal-weight sum of the two rankings' scores, each min-max normalised over its own candidates (a
    candidate missing from a ranking gets that ranking's 0)."""
    fused: dict[str, float] = defaultdict(float)
    for ranking in (dense, keyword):
        if not ranking:
            continue
        low, high = min(s for _, s in ranking), max(s for _, s in ranking)
        for i, s in ranking:
            fused[i] += 0.5 * ((s - low) / (high - low) if high > low else 1.0)
    return fused


def feedback_words(store: Store, texts: Sequence[str], query: str) -> list[str]:
    """The :data:`FEEDBACK_WORDS` words most distinctive of ``texts`` (share of each text's content words,
    summed, times the word's inverse chunk frequency in the index), leaving out the query's own words and
    words of under three letters or with digits (codes are :func:`lift_rare_matches`' business)."""
    weight: dict[str, float] = defaultdict(float)
    for text in texts:
        words = [w for w in (m.group().lower() for m in WORD.finditer(text))
                 if len(w) > 2 and w.isalpha() and w not in STOP]
        for word in words:
            weight[word] += 1 / len(words)
    asked = content_words(query)
    counts = store.chunk_counts([w for w in weight if w not in asked])
    total = store.total_chunks()
    ranked = sorted(((weight[w] * math.log(total / c), w) for w, c in counts.items() if c), reverse=True)
    return [w for _, w in ranked[:FEEDBACK_WORDS]]


def rare_codes(store: Store, text: str) -> list[str]:
    """The codes and identifiers of ``text`` (lower-cased) held by 1 to :data:`RARE_CHUNKS` passages of the index,
    and a search's one word, held so rarely: a search of one word is a lookup too ("Sintra" listed first the
    tail of a log, "alpha alpha", near everything in meaning, above the one note naming the place)."""
    words = query_words(text)
    codes = list(dict.fromkeys([*(m.group().lower() for m in _CODE.finditer(text)),
                                *(words if len(words) == 1 and words[0] not in STOP else ())]))
    return [code for code, count in store.chunk_counts(codes).items()
            if 0 < count <= RARE_CHUNKS or (count <= COPIES_COUNTED and store.passages_holding(code) <= RARE_CHUNKS)]


def lift_rare_matches(scores: dict[str, float], rows: dict[str, Chunk], dense: Sequence[Sequence[str]],
                      keyword: Sequence[Sequence[str]], rare: Sequence[str]) -> set[str]:
    """Give a passage that holds one of the ``rare`` codes verbatim the dense vote of its BM25 rank, where the
    dense ranking placed it lower or left it out.

    A small embedder cannot place a code, an error number or an identifier it never saw in training, so
    its rank for such a passage is no evidence against it, while a term found in only a few chunks is
    BM25's strongest evidence. The lift is bounded (one dense vote, at most :data:`RARE_CHUNKS` passages per
    code) and makes BM25's first hit for a rare code the first hit; queries without a rare code keep plain
    RRF. "Verbatim" (not just the same stem) keeps it to exact matches. Passages the dense ranking did place
    were left to it: among 150 notes alike but for their codes ("Unique token QZX0149 lives here."), it put
    another note first for "QZX0149", and the one holding it second.
    """
    if not rare:
        return set()
    exact = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, rare)) + r")(?!\w)", re.IGNORECASE)
    placed = {chunk_id: rank for ranking in dense for rank, chunk_id in enumerate(ranking, start=1)}
    held: set[str] = set()
    for ranking in keyword:
        for rank, chunk_id in enumerate(ranking, start=1):
            chunk = rows.get(chunk_id)
            if chunk is None or not exact.search(chunk.text):
                continue
            held.add(chunk_id)
            if placed.get(chunk_id, math.inf) > rank:
                had = 1 / (RRF_K + placed[chunk_id]) if chunk_id in placed else 0.0
                scores[chunk_id] += 1 / (RRF_K + rank) - had
    return held


def _citation(chunk: Chunk, score: float, words: bool | None, stamp: tuple[int | None, int | None]) -> Citation:
    """A hit, checked against its file as it is now (one stat): the file edited, renamed or deleted since it was
    indexed is marked ``stale`` for every front end to say so."""
    return Citation(0, chunk.collection, chunk.path, chunk.page, chunk.line_start, chunk.line_end,
                    chunk.heading, chunk.text, round(score, 6), words, *stamp).checked()
