"""``hearth bench retrieval``: retrieval quality (BM25 vs dense vs hybrid) and latency at 50,000 chunks.

No public IR collection is packaged on PyPI without a runtime download, so the quality set is built with
known answers from real text already on this machine: the docstrings of this interpreter's standard
library. For each documented function or class, the query is the docstring's summary line and the one
relevant document is the rest of the docstring (written as its own file). Every document is indexed by
the real pipeline and searched through ``KnowledgeBase.search`` in each mode; nDCG@10 and recall@10.

Latency: 50,000 chunks in the real store (files -> chunks -> Chroma + SQLite/FTS5) searched through the
real query path (query embedding by the real model, Chroma HNSW, FTS5 BM25, fusion, SQLite rows).
Embedding 50,000 chunks on two cores would take hours, so the documents' vectors are made cheaply: files
are assembled from a pool of real docstring paragraphs, each paragraph is embedded once by the real model,
and a chunk's vector is the normalised mean of its paragraphs' vectors (:class:`ParagraphMeanEmbedder`).
"""

from __future__ import annotations

import ast
import math
import platform
import random
import statistics
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.benchmarks.results import save_result
from assistant.config import KnowledgeSettings
from assistant.knowledge import KnowledgeBase, SentenceTransformerEmbedder
from assistant.knowledge.records import Document, Unit
from assistant.paths import Paths

MODES = ("keyword", "dense", "hybrid")


def stdlib_docstrings() -> list[tuple[str, str]]:
    """(summary, body) of standard-library docstrings: a summary of >= 4 words, a body of >= 30 words."""
    pairs, seen = [], set()
    for source in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        if {"test", "tests", "idle_test", "site-packages"} & set(source.parts):
            continue
        try:
            tree = ast.parse(source.read_text("utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            doc = ast.get_docstring(node) or ""
            summary, _, body = doc.partition("\n\n")
            summary, body = " ".join(summary.split()), body.strip()
            if len(summary.split()) >= 4 and len(body.split()) >= 30 and body not in seen:
                seen.add(body)
                pairs.append((summary, body))
    return pairs


class ParagraphMeanEmbedder:
    """The real model for queries and unknown text; known paragraphs' vectors averaged for chunks."""

    def __init__(self, inner: SentenceTransformerEmbedder, paragraphs: list[str]) -> None:
        self.inner, self.name = inner, inner.name
        self.max_tokens, self.tokenizer = inner.max_tokens, inner.tokenizer
        self.known = dict(zip(paragraphs, inner.embed(paragraphs), strict=True))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for text in texts:
            parts = [self.known[p] for p in text.split("\n\n") if p in self.known]
            vector = np.mean(parts, axis=0) if parts else self.inner.embed([text])[0]
            out.append(vector / np.linalg.norm(vector))
        return np.asarray(out, dtype=np.float32)


def _quality(embedder: SentenceTransformerEmbedder, root: Path, pairs: list[tuple[str, str]],
             n_queries: int) -> dict[str, Any]:
    docs = root / "quality-docs"
    docs.mkdir()
    for i, (_, body) in enumerate(pairs):
        (docs / f"doc-{i:05}.txt").write_text(body + "\n")
    kb = KnowledgeBase(Paths(root / "c", root / "d", root / "k"), KnowledgeSettings(), embedder=embedder)
    start = time.perf_counter()
    for _ in kb.index([docs], "quality"):
        pass
    index_s = time.perf_counter() - start
    queries = random.Random(7).sample(range(len(pairs)), min(n_queries, len(pairs)))
    scores: dict[str, dict[str, float]] = {}
    for mode in MODES:
        ndcg = recall = 0.0
        for i in queries:
            ranked = [Path(c.path).name for c in kb.search(pairs[i][0], "quality", k=10, mode=mode)]
            target = f"doc-{i:05}.txt"
            if target in ranked:
                recall += 1
                ndcg += 1 / math.log2(ranked.index(target) + 2)
        scores[mode] = {"ndcg@10": round(ndcg / len(queries), 4), "recall@10": round(recall / len(queries), 4)}
    kb.close()
    return {"documents": len(pairs), "queries": len(queries), "index_s": round(index_s, 1), **scores,
            "hybrid_beats_both": all(scores["hybrid"][m] > max(scores["keyword"][m], scores["dense"][m])
                                     for m in ("ndcg@10", "recall@10"))}


def _latency(embedder: SentenceTransformerEmbedder, root: Path, pairs: list[tuple[str, str]], n_chunks: int,
             n_paragraphs: int, n_queries: int) -> dict[str, Any]:
    rng = random.Random(11)
    pool = sorted({p.strip() for _, body in pairs for p in body.split("\n\n") if 12 <= len(p.split()) <= 120})
    paragraphs = rng.sample(pool, min(n_paragraphs, len(pool)))
    start = time.perf_counter()
    fake = ParagraphMeanEmbedder(embedder, paragraphs)
    embed_s = time.perf_counter() - start
    kb = KnowledgeBase(Paths(root / "c2", root / "d2", root / "k2"), KnowledgeSettings(), embedder=fake,
                       batch_size=256)
    files, made, i = root / "latency-docs", 0, 0
    files.mkdir()
    while made < n_chunks:  # files of 12 random paragraphs until the chunker says n_chunks
        text = "\n\n".join(rng.sample(paragraphs, 12))
        made += len(kb.chunker.split(Document("text", (Unit(text),))))
        (files / f"f{i // 1000:03}").mkdir(exist_ok=True)
        (files / f"f{i // 1000:03}" / f"doc-{i:06}.txt").write_text(text + "\n")
        i += 1
    start = time.perf_counter()
    for _ in kb.index([files], "latency"):
        pass
    index_s = time.perf_counter() - start
    stored = kb.collections()[0].chunks
    queries = [s for s, _ in random.Random(3).sample(pairs, min(n_queries, len(pairs)))]
    timings: dict[str, dict[str, float]] = {}
    for mode in ("hybrid", "dense", "keyword"):
        for q in queries[:5]:
            kb.search(q, "latency", k=5, mode=mode)  # warm caches
        samples = []
        for q in queries:
            t0 = time.perf_counter()
            kb.search(q, "latency", k=5, mode=mode)
            samples.append((time.perf_counter() - t0) * 1000)
        cuts = statistics.quantiles(samples, n=100)
        timings[mode] = {"p50_ms": round(cuts[49], 1), "p95_ms": round(cuts[94], 1)}
    kb.close()
    return {"chunks": stored, "files": i, "paragraphs_embedded": len(paragraphs), "paragraph_embed_s":
            round(embed_s, 1), "index_s": round(index_s, 1), "queries": len(queries), **timings,
            "target_p95_ms": 150, "pass": timings["hybrid"]["p95_ms"] <= 150}


def run(docs: int = 600, queries: int = 200, chunks: int = 50_000, paragraphs: int = 1500) -> dict[str, Any]:
    embedder = SentenceTransformerEmbedder.from_settings(KnowledgeSettings())
    pairs = stdlib_docstrings()
    quality_pairs = random.Random(5).sample(pairs, min(docs, len(pairs)))
    with tempfile.TemporaryDirectory(prefix="hearth-bench-") as tmp:
        quality = _quality(embedder, Path(tmp), quality_pairs, queries)
        latency = _latency(embedder, Path(tmp), pairs, chunks, paragraphs, queries)
    result = {
        "benchmark": "retrieval",
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "embedder": embedder.name,
        "dataset": "Python standard-library docstrings: query = summary line, relevant doc = the rest",
        "quality": quality,
        "latency": latency,
        "latency_method": "vectors of the 50k chunks = normalised mean of really-embedded paragraph vectors; "
                          "query embedding, Chroma, FTS5, fusion and SQLite are the real query path",
    }
    save_result("retrieval", result)
    return result


def table(result: dict[str, Any]) -> str:
    q, lat = result["quality"], result["latency"]
    lines = [f"Retrieval quality: {q['documents']} docs, {q['queries']} queries ({result['dataset']})", "",
             "| mode | nDCG@10 | recall@10 |", "|---|---|---|"]
    lines += [f"| {m} | {q[m]['ndcg@10']} | {q[m]['recall@10']} |" for m in MODES]
    lines += ["", f"hybrid beats both: {'yes' if q['hybrid_beats_both'] else 'NO'}", "",
              f"Latency at {lat['chunks']} chunks, {lat['queries']} queries, k=5 (without the LLM)", "",
              "| mode | p50 ms | p95 ms |", "|---|---|---|"]
    lines += [f"| {m} | {lat[m]['p50_ms']} | {lat[m]['p95_ms']} |" for m in ("hybrid", "dense", "keyword")]
    lines += ["", f"hybrid p95 <= {lat['target_p95_ms']} ms: {'yes' if lat['pass'] else 'NO'}"]
    return "\n".join(lines)
