"""``hearth bench retrieval``'s scoring: graded nDCG@10 and recall@10 over files, the paired comparison with
equal-weight RRF, the committed collections, and one real evaluation through the indexing and search path."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from assistant.benchmarks import ir_sets
from assistant.benchmarks.retrieval import baseline, compare, evaluate, ndcg_recall
from assistant.knowledge import SentenceTransformerEmbedder


def test_ndcg_uses_the_grade_as_gain_and_recall_counts_files() -> None:
    relevant = {"a.md": 2, "b.md": 1}
    assert ndcg_recall(["a.md", "b.md", "x.md"], relevant) == (1.0, 1.0)
    ndcg, recall = ndcg_recall(["x.md", "b.md"], relevant)
    ideal = 2 + 1 / math.log2(3)
    assert math.isclose(ndcg, (1 / math.log2(3)) / ideal) and recall == 0.5
    assert ndcg_recall(["x.md"] * 10 + ["a.md"], relevant) == (0.0, 0.0)  # only the top 10 count


def test_paired_comparison_sees_a_consistent_gain_and_not_noise() -> None:
    baseline = [0.2, 0.5, 0.4, 0.9, 0.3, 0.6, 0.1, 0.7] * 5
    better = compare([b + 0.05 for b in baseline], baseline)
    assert better["mean_diff"] == 0.05 and better["ci95"][0] > 0 and better["wins"] == 40
    assert better["sign_p"] < 0.001 and better["p_not_better"] == 0
    mixed = compare([b + (0.05 if i % 2 else -0.05) for i, b in enumerate(baseline)], baseline)
    assert mixed["ci95"][0] < 0 < mixed["ci95"][1] and mixed["sign_p"] == 1.0


def test_committed_collections_have_both_splits_and_judged_files(tmp_path: Path) -> None:
    for name in ("cranfield", "personal"):
        collection = ir_sets.load(name, tmp_path)
        assert {q.split for q in collection.queries} == {"dev", "test"}
        for query in collection.queries:
            assert query.relevant and all((collection.folder / f).is_file() for f in query.relevant), query.id


def test_evaluate_indexes_and_scores_every_mode(tmp_path: Path, real_embedder: SentenceTransformerEmbedder) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    notes = {"boiler.md": "The boiler was serviced by Hartley Heating; the next service is due in March.",
             "cat.md": "Miso the cat needs her vaccination booster every October at the vet on Elm Road.",
             "car.md": "The car's MOT expires on 14 June; book it at the garage near the station.",
             "bread.md": "Sourdough: 500 g flour, 350 g water, 100 g starter, 10 g salt; bake at 240 C."}
    for name, text in notes.items():
        (folder / name).write_text(text + "\n")
    queries = [ir_sets.Query("1", "when is the heating boiler service due", "dev", {"boiler.md": 2}),
               ir_sets.Query("2", "pet vaccination booster", "dev", {"cat.md": 2}),
               ir_sets.Query("3", "MOT expiry date", "test", {"car.md": 2}),
               ir_sets.Query("4", "how much salt in the sourdough", "test", {"bread.md": 2, "boiler.md": 1})]
    result = evaluate(real_embedder, ir_sets.TestCollection("tiny", "Tiny", folder, queries, "test", "-"),
                      tmp_path / "index")
    assert result["files"] == 4 and result["chunks"] == 4
    for split in ("dev", "test"):
        assert result[split]["queries"] == 2
        for mode in ("keyword", "dense", "rrf", "hybrid"):
            assert result[split][mode]["recall@10"] > 0.7, (split, mode)
    assert result["dev"]["hybrid"]["ndcg@10"] == 1.0


def test_the_baseline_fuses_the_stores_own_rankings_not_hearths_rules(tmp_path: Path) -> None:
    """Two neighbouring chunks of one file, each first in one ranking: fused raw, the file's chunks each get both
    votes and it comes first. The baseline was fused from the search's keyword and dense modes, whose rule of
    one listed neighbour kept ``f1`` in one ranking and ``f2`` in the other: each got one vote and the file fell
    behind ``g`` (SciFact's baseline 0.709 -> 0.668, the rankings' own scores unmoved)."""
    chunks = {i: SimpleNamespace(path=str(tmp_path / name)) for i, name in
              (("f1", "f.md"), ("f2", "f.md"), ("g", "g.md"))}
    store = SimpleNamespace(dense=lambda collection, vector, n: [("f1", 0.9), ("g", 0.8), ("f2", 0.7)],
                            keyword=lambda collection, text, n: [("f2", 9.0), ("g", 8.0), ("f1", 7.0)],
                            chunks=lambda ids: {i: chunks[i] for i in ids})
    kb = SimpleNamespace(store=store, embedder=SimpleNamespace(embed=lambda texts: np.ones((len(texts), 3))))
    assert baseline(kb, "c", "query", tmp_path) == ["f.md", "g.md"]  # type: ignore[arg-type]
