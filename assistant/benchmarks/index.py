"""``hearth bench index``: indexing throughput against raw ``SentenceTransformer.encode``, and re-sync time.

1. Throughput. A corpus of real text (Python standard-library modules, read from this interpreter's own
   ``Lib`` folder, so nothing is downloaded) is indexed by the whole pipeline: scan, read, hash, parse,
   chunk, embed, write Chroma + SQLite/FTS5. Then the very same chunk texts are embedded by the same
   model with ``encode(batch_size=32)`` alone. Both are measured warm: the same texts are encoded once
   before either timing, because oneDNN builds kernels per input shape on first use and whichever run
   came first would otherwise pay for that. The two are then interleaved ``--reps`` times (each pipeline
   run into a fresh collection, so nothing is reused) and the best time of each is compared, because
   this 2-core machine is noisy. Target: pipeline >= 0.85x raw chunks/s.
2. Re-sync of an unchanged folder of 2,000 small files, in a fresh ``KnowledgeBase`` (new SQLite and
   Chroma handles; the model object is reused because an unchanged sync never calls it). Target: <= 2 s.
"""

from __future__ import annotations

import platform
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.benchmarks.results import save_result
from assistant.config import KnowledgeSettings
from assistant.events import Progress
from assistant.knowledge import KnowledgeBase, SentenceTransformerEmbedder
from assistant.knowledge.loaders import load
from assistant.paths import Paths

BATCH = 32
WORDS = ("river", "lantern", "copper", "meadow", "harbor", "violin", "granite", "orchard", "comet", "saddle",
         "thistle", "beacon", "walnut", "glacier", "pepper", "quartz", "falcon", "cedar", "ember", "tundra")


def _stdlib_corpus(folder: Path, budget: int) -> int:
    """Copy standard-library modules (sorted, so the corpus is the same on every run) up to ``budget`` bytes."""
    folder.mkdir(parents=True)
    used = 0
    for source in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        data = source.read_bytes()
        if used >= budget:
            break
        if 2_000 <= len(data) <= 40_000:
            (folder / source.name).write_bytes(data)
            used += len(data)
    return used


def _small_files(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    for i in range(n):
        a, b, c = WORDS[i % 20], WORDS[(i // 20) % 20], WORDS[(i * 7) % 20]
        (folder / f"note-{i:05}.md").write_text(
            f"# Note {i}\n\nRemember the {a} near the {b}; ticket {i * 37 % 9973} mentions the {c}.\n")


def _sync(kb: KnowledgeBase, folder: Path, collection: str) -> tuple[float, Progress]:
    start = time.perf_counter()
    events = list(kb.index([folder], collection))
    return time.perf_counter() - start, events[-1]


def run(corpus_kb: int = 200, small_files: int = 2000, reps: int = 2) -> dict[str, Any]:
    settings = KnowledgeSettings()
    embedder = SentenceTransformerEmbedder.from_settings(settings)
    with tempfile.TemporaryDirectory(prefix="hearth-bench-") as tmp:
        root = Path(tmp)
        paths = Paths(root / "config", root / "data", root / "cache")
        corpus_bytes = _stdlib_corpus(root / "corpus", corpus_kb * 1024)
        files = sorted((root / "corpus").iterdir())
        kb = KnowledgeBase(paths, settings, embedder=embedder, batch_size=BATCH)
        expected = [p.text for f in files for p in kb.chunker.split(load(f, f.read_bytes()))]
        embedder.model.encode(expected, batch_size=BATCH, show_progress_bar=False)  # warm-up, untimed
        pipeline_runs, raw_runs = [], []
        for rep in range(reps):
            pipeline_runs.append(_sync(kb, root / "corpus", f"throughput-{rep}")[0])
            ids, _ = kb.store.chunk_ids(f"throughput-{rep}")
            texts = [c.text for c in kb.store.chunks(sorted(ids)).values()]
            assert sorted(texts) == sorted(expected), "the pipeline stored other chunks than its chunker makes"
            start = time.perf_counter()
            embedder.model.encode(texts, batch_size=BATCH, normalize_embeddings=True, show_progress_bar=False)
            raw_runs.append(time.perf_counter() - start)
        pipeline_s, raw_s = min(pipeline_runs), min(raw_runs)

        _small_files(root / "small", small_files)
        first_s, _ = _sync(kb, root / "small", "resync")
        kb.close()
        fresh = KnowledgeBase(paths, settings, embedder=embedder, batch_size=BATCH)
        resync_s, resync_last = _sync(fresh, root / "small", "resync")
        fresh.close()
    chunks = len(texts)
    pipeline_cps, raw_cps = chunks / pipeline_s, chunks / raw_s
    result = {
        "benchmark": "index",
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "embedder": embedder.name, "batch_size": BATCH, "chunk_tokens": kb.chunker.capacity,
        "throughput": {
            "corpus": f"{len(files)} Python standard-library modules, {corpus_bytes // 1024} KiB",
            "chunks": chunks,
            "pipeline_s": round(pipeline_s, 2), "raw_encode_s": round(raw_s, 2),
            "pipeline_runs_s": [round(s, 2) for s in pipeline_runs], "raw_runs_s": [round(s, 2) for s in raw_runs],
            "pipeline_chunks_per_s": round(pipeline_cps, 2), "raw_chunks_per_s": round(raw_cps, 2),
            "ratio": round(pipeline_cps / raw_cps, 3), "target_ratio": 0.85,
            "pass": pipeline_cps / raw_cps >= 0.85,
        },
        "resync": {
            "files": small_files, "first_index_s": round(first_s, 2), "unchanged_resync_s": round(resync_s, 3),
            "files_done": resync_last.done, "target_s": 2.0, "pass": resync_s <= 2.0,
        },
    }
    save_result("index", result)
    return result


def table(result: dict[str, Any]) -> str:
    t, r = result["throughput"], result["resync"]
    return "\n".join([
        f"Indexing ({result['embedder']}, batch {result['batch_size']}, {result['chunk_tokens']}-token chunks)",
        "",
        "| measurement | value | target | pass |",
        "|---|---|---|---|",
        f"| pipeline, {t['chunks']} chunks (best of {len(t['pipeline_runs_s'])}) | "
        f"{t['pipeline_chunks_per_s']} chunks/s ({t['pipeline_s']} s) | | |",
        f"| raw encode, same chunks (best of {len(t['raw_runs_s'])}) | "
        f"{t['raw_chunks_per_s']} chunks/s ({t['raw_encode_s']} s) | | |",
        f"| pipeline / raw | {t['ratio']}x | >= {t['target_ratio']}x | {'yes' if t['pass'] else 'NO'} |",
        f"| first index, {r['files']} small files | {r['first_index_s']} s | | |",
        f"| re-sync, unchanged | {r['unchanged_resync_s']} s | <= {r['target_s']} s | "
        f"{'yes' if r['pass'] else 'NO'} |",
    ])
