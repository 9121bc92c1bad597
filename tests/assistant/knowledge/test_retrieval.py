"""Hybrid retrieval: RRF fusion, dedup, the rerank hook, and hybrid beating either ranking alone."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from assistant.config import KnowledgeSettings
from assistant.knowledge import KnowledgeBase, retrieval, store
from assistant.knowledge.retrieval import feedback_words, reciprocal_rank_fusion, score_fusion
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


def test_a_passage_the_approximate_search_misses_is_placed_by_its_similarity(hearth_home: Path) -> None:
    """Chroma's search (HNSW) loses passages where many chunks are alike: beside a long log of word salad, a note
    holding every word of the question was not among the 50 nearest by meaning, and the hybrid ranked two log
    chunks above it (the keyword ranking's candidates are now scored exactly by meaning too)."""
    import random

    from fakes import FakeEmbedder

    base = KnowledgeBase(get_paths(), KnowledgeSettings(chunk_tokens=64, chunk_overlap=8),
                         embedder=FakeEmbedder(), batch_size=64)
    try:
        root = hearth_home / "docs"
        root.mkdir()
        pick = random.Random(0).choice
        words = "cloud stone lantern beta copper meadow river harbor delta gamma alpha maple".split()
        lines = [" ".join(pick(words) for _ in range(12)) for _ in range(3000)]
        (root / "big-log.txt").write_text("\n".join(lines) + "\n")
        list(base.index([root], "messy"))  # the note added after the log (a sync reads small files first)
        (root / "cabin.md").write_text("The wifi password at the cabin is pinecone-river-88.\n")
        list(base.index([root], "messy"))
        question = "wifi password cabin river"
        dense = [Path(c.path).name for c in base.search(question, "messy", k=50, mode="dense")]
        assert "cabin.md" not in dense  # what Chroma's search alone finds: the case to mend
        assert next(Path(c.path).name for c in base.search(question, "messy", k=3)) == "cabin.md"
    finally:
        base.close()


def test_of_two_neighbours_sharing_their_edge_the_better_one_is_listed() -> None:
    """Two chunks of a log both held "The secret vault combination is 17-29-3" (the chunker's overlap): two hits
    of one sentence, two of the five passages given to the model."""
    from assistant.knowledge.records import Chunk

    def chunk(chunk_id: str, index: int, text: str, path: str = "/d/big-log.txt") -> Chunk:
        return Chunk(chunk_id, "messy", path, index, text, None, 15 * index, 15 * index + 17, None, None,
                     chunk_id, "f", 0, "e", "v1")

    vault = "The secret vault combination is 17-29-3, kept by the ferryman."
    rows = {c.id: c for c in (chunk("a", 4, f"stone cloud lantern\n{vault}"),
                              chunk("b", 5, f"{vault}\nriver delta maple"),
                              chunk("c", 6, "river delta maple\nbeta gamma"),
                              chunk("d", 5, vault, "/d/copy.txt"),  # another file: not a neighbour
                              chunk("e", 7, "beta gamma is not how the chunk before it ends"))}
    ranking = [("b", 0.9), ("a", 0.8), ("d", 0.5), ("c", 0.3), ("e", 0.2)]
    assert retrieval._apart(ranking, rows) == [("b", 0.9), ("d", 0.5), ("e", 0.2)]


def test_a_passage_holding_a_rare_code_gets_the_dense_vote_of_its_bm25_rank() -> None:
    """Left out by the dense ranking, or placed lower by it: the embedder cannot place a code either way."""
    from assistant.knowledge.records import Chunk

    def chunk(text: str) -> Chunk:
        return Chunk("x", "c", "p", 0, text, None, None, None, None, None, "h", "h", 0, "e", "v")

    rows = {"code": chunk("ticket QZX0149 here"), "other": chunk("ticket QZX0050 here"), "left": chunk("QZX0149")}
    scores = dict.fromkeys(rows, 0.0)
    retrieval.lift_rare_matches(scores, rows, [["other", "code"]], [["code", "left"]], ["qzx0149"])
    k = retrieval.RRF_K
    assert scores == pytest.approx({"code": 1 / (k + 1) - 1 / (k + 2), "other": 0.0, "left": 1 / (k + 2)})


def test_score_fusion_normalises_each_ranking_and_a_missing_candidate_gets_zero() -> None:
    fused = score_fusion([("a", 0.8), ("b", 0.6), ("c", 0.4)], [("c", 12.0), ("d", 2.0)])
    assert fused == pytest.approx({"a": 0.5, "b": 0.25, "c": 0.5, "d": 0.0})
    assert score_fusion([("a", 0.3)], []) == {"a": 0.5}


def test_feedback_words_are_the_passages_distinctive_words(kb: KnowledgeBase, sync, tmp_path: Path) -> None:
    root = tmp_path / "garden"
    root.mkdir()
    common = "The garden notes say what was done this week in the garden."
    for i in range(6):
        (root / f"week{i}.txt").write_text(f"{common} Week {i}: watered the beds.\n")
    (root / "roses.txt").write_text(f"{common} The roses got aphids; sprayed soapy water on the aphids.\n")
    sync(root)
    passage = (root / "roses.txt").read_text()
    words = feedback_words(kb.store, [passage], "what is wrong with my roses")
    assert words[:2] == ["aphids", "soapy"] or words[:2] == ["aphids", "sprayed"]
    assert "roses" not in words and "the" not in words and "garden" not in words[:3]


def test_hybrid_search_runs_a_feedback_round(kb: KnowledgeBase, sync, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The second round searches again with the first hits' distinctive words added to the keyword query
    and with the query vector moved towards the first hits; dense and keyword modes search once."""
    root = tmp_path / "garden"
    root.mkdir()
    notes = {"sick.txt": "My roses are sick: aphids on every bud again this spring.",
             "remedy.txt": "Aphids: spray soapy water twice a week, early morning, until they go.",
             "pruning.txt": "Rose pruning: cut the roses back by a third in March.",
             "vase.txt": "Cut roses last a week in a vase with fresh water."}
    for name, text in notes.items():
        (root / name).write_text(text + "\n")
    sync(root)
    keyword_queries, dense_vectors = [], []
    keyword, dense = kb.store.keyword, kb.store.dense
    monkeypatch.setattr(kb.store, "keyword", lambda c, text, *a: keyword_queries.append(text) or keyword(c, text, *a))
    monkeypatch.setattr(kb.store, "dense", lambda c, vector, *a: dense_vectors.append(vector) or dense(c, vector, *a))
    kb.search("what is wrong with my roses", k=3)
    assert len(keyword_queries) == len(dense_vectors) == 2
    added = keyword_queries[1].removeprefix("what is wrong with my roses ").split()
    noted = {w.strip(".,:").lower() for text in notes.values() for w in text.split()}
    assert 0 < len(added) <= 10 and set(added) <= noted - {"my", "roses", "with", "the", "a"}
    assert 0.5 < float(dense_vectors[0] @ dense_vectors[1]) < 0.99
    keyword_queries.clear()
    kb.search("what is wrong with my roses", k=3, mode="keyword")
    assert keyword_queries == ["what is wrong with my roses"]
    keyword_queries.clear()
    monkeypatch.setattr(retrieval, "FEEDBACK_MAX_CHUNKS", 3)  # as if the index were large: one round only
    kb.search("what is wrong with my roses", k=3)
    assert keyword_queries == ["what is wrong with my roses"]


def test_word_counts_follow_every_change_to_the_index(kb: KnowledgeBase, sync, tmp_path: Path,
                                                      settings: KnowledgeSettings, embedder) -> None:
    """Keyword search keeps how many chunks hold each word (looking them up was most of its time at 50,000
    chunks); the counts follow each change to the index, made through this store or through another connection
    (another Hearth process indexing the same folders)."""
    root = tmp_path / "zoo"
    root.mkdir()
    (root / "a.txt").write_text("A zebra at the zoo.\n")
    sync(root)
    store = kb.store
    assert store.chunk_counts(["zebra", "okapi"]) == {"zebra": 1, "okapi": 0} and store.total_chunks() == 1
    (root / "b.txt").write_text("An okapi and a zebra.\n")
    sync(root)
    assert store.chunk_counts(["zebras", "okapi"]) == {"zebras": 2, "okapi": 1} and store.total_chunks() == 2
    other = KnowledgeBase(get_paths(), settings, embedder=embedder)
    try:
        (root / "c.txt").write_text("Okapi facts, no other animal.\n")
        sync(root, base=other)
    finally:
        other.close()
    assert store.chunk_counts(["okapi"]) == {"okapi": 2} and store.total_chunks() == 3
    assert [i for i, _ in store.keyword(kb._row("default").name, "okapi", 5)]  # and the search uses them


def test_several_collections_are_ranked_together(kb: KnowledgeBase, sync, tmp_path: Path) -> None:
    """`hearth ask --collection A --collection B` (and the window's several ticked collections) merged separate
    searches by their scores, each normalised to its own best: an unrelated passage tied with the real hit, and
    a passage held by two collections came twice."""
    animals, other = tmp_path / "animals", tmp_path / "other"
    animals.mkdir()
    other.mkdir()
    (animals / "rivers.txt").write_text("Otters and beavers both build their homes along quiet rivers.\n")
    (animals / "birds.txt").write_text("Herons wait in the shallows for small fish.\n")
    (other / "outback.txt").write_text("Kangaroos carry their young in a pouch across the outback.\n")
    sync(animals, collection="nature")
    sync(animals, collection="copy")
    sync(other, collection="travel")
    from assistant.config import Settings
    from assistant.core import Assistant

    assistant = Assistant(get_paths(), Settings(), knowledge=kb)  # the facade every front end searches through
    hits = assistant.search("otters and beavers", ("travel", "nature"), k=3)
    assert Path(hits[0].path).name == "rivers.txt" and hits[0].score > hits[1].score
    twice = assistant.search("otters and beavers", ("nature", "copy"), k=4)
    assert len({h.text for h in twice}) == len(twice)  # each passage once
    assistant.history.close()
