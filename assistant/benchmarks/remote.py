"""``hearth bench remote``: when to move the vectors to a Chroma server — query latency, embedded vs server.

For each size (``--sizes``, default 50,000 and 500,000 chunks) the same synthetic vectors go into two fresh
stores: the embedded ``chromadb.PersistentClient`` Hearth uses by default, and a ``chroma run`` server
process on this machine reached through ``chromadb.HttpClient`` (what ``remote.chroma_url`` uses). Vectors
are 384-dimensional like all-MiniLM-L6-v2's, L2-normalised, drawn around 1,000 cluster centres (text
embeddings cluster; uniform random vectors would be HNSW's worst case), in a cosine HNSW index as the
knowledge store makes them, inserted in the largest batches the store takes (the insertion time is
reported). Then ``--queries`` nearest-neighbour queries (k = 10, ids and distances, the knowledge store's
dense query), each a stored vector plus noise, are timed one by one, interleaved: query i goes to both
stores, in alternating order, so drift on a busy machine hits both alike. Reported per size and store:
p50/p95/mean latency, insertion time, and how often the two stores returned the same top-10.

The server runs on this machine, so the figure is the cost of Chroma's HTTP protocol (JSON, a request per
query) and a separate process, without a network: add the round trip to the real server (``hearth remote
test chroma`` measures it). Only runs with both default sizes replace ``bench/results/remote.json`` (the
README's source); other runs are saved as ``remote-partial.json``.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.benchmarks.results import save_result
from assistant.errors import HearthError

DEFAULT_SIZES = (50_000, 500_000)
DIM = 384
K = 10
CENTRES = 1_000
#: Vectors per insert call at most (Chroma's own limit, ``get_max_batch_size``, may be lower).
INSERT_BATCH = 5_000
GEN_BLOCK = 1_000  # vectors made per seeded block
SEED = 7


# ---- a local `chroma run` ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chroma_executable() -> str:
    """The ``chroma`` command of the chromadb package this interpreter runs (its own venv first)."""
    beside = Path(sys.executable).with_name("chroma")
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if found is None:
        raise HearthError("The `chroma` command (from the chromadb package) was not found next to this Python "
                          "or on PATH; install chromadb into this environment.")
    return found


class ChromaServer:
    """A ``chroma run`` process on a free local port, holding its data in ``path`` (tests, this benchmark)."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path, self.port = path, port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = path.with_name(path.name + ".log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> ChromaServer:
        import httpx

        self.path.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [chroma_executable(), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise HearthError(f"`chroma run` exited with code {self.proc.returncode} before answering: {tail}")
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise HearthError(f"`chroma run` did not answer on port {self.port} within {timeout_s:.0f} s.")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def __enter__(self) -> ChromaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- the measurement ------------------------------------------------------------------------------------
def _normalised(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _blocks(size: int) -> Iterator[tuple[int, np.ndarray]]:
    """(first id, vectors) blocks of the synthetic set, made on the fly (500k vectors never sit in memory
    twice) and seeded per block, so both stores and the queries see the same vectors. A vector is a cluster
    centre plus noise of norm ~0.6 (cosine ~0.86 to its centre), normalised."""
    centres = _normalised(np.random.default_rng(SEED).standard_normal((CENTRES, DIM)))
    for lo in range(0, size, GEN_BLOCK):
        rng = np.random.default_rng((SEED, lo))
        n = min(GEN_BLOCK, size - lo)
        yield lo, _normalised(centres[rng.integers(0, CENTRES, n)] + 0.6 * rng.standard_normal((n, DIM)) / np.sqrt(DIM))


def _queries(size: int, n: int) -> np.ndarray:
    """Stored vectors plus noise of norm ~0.2: queries near real content, as text queries are."""
    rng = np.random.default_rng((SEED, 1))
    wanted = set(rng.choice(size, n, replace=False).tolist())
    found = [vectors[i - lo] for lo, vectors in _blocks(size) for i in range(lo, lo + len(vectors)) if i in wanted]
    queries = np.asarray(found)
    rng.shuffle(queries)
    return _normalised(queries + 0.2 * rng.standard_normal(queries.shape) / np.sqrt(DIM))


def _fill(client: Any, size: int) -> tuple[Any, float]:
    """Insert the set in batches of the most the store takes (up to INSERT_BATCH); returns (collection, seconds)."""
    collection = client.get_or_create_collection("bench", embedding_function=None,
                                                 configuration={"hnsw": {"space": "cosine"}})
    batch = max(GEN_BLOCK, min(INSERT_BATCH, client.get_max_batch_size()) // GEN_BLOCK * GEN_BLOCK)
    start = time.perf_counter()
    pending: list[np.ndarray] = []
    first = 0
    for lo, vectors in _blocks(size):
        if not pending:
            first = lo
        pending.append(vectors)
        if sum(len(v) for v in pending) >= batch or lo + len(vectors) >= size:
            stacked = np.concatenate(pending)
            collection.add(ids=[f"c{first + i}" for i in range(len(stacked))], embeddings=stacked)
            pending = []
    return collection, time.perf_counter() - start


def _stats(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100) if len(samples) > 1 else samples * 99
    return {"p50_ms": round(cuts[49], 2), "p95_ms": round(cuts[94], 2), "mean_ms": round(statistics.fmean(samples), 2)}


def _measure(size: int, n_queries: int, root: Path, log: Callable[[str], None]) -> dict[str, Any]:
    import chromadb

    settings = chromadb.Settings(anonymized_telemetry=False)
    embedded = chromadb.PersistentClient(path=str(root / "embedded"), settings=settings)
    log(f"{size:,} vectors: inserting into the embedded store…")
    local, local_s = _fill(embedded, size)
    with ChromaServer(root / "server") as server:
        remote_client = chromadb.HttpClient(host="127.0.0.1", port=server.port,
                                            settings=chromadb.Settings(anonymized_telemetry=False))
        log(f"{size:,} vectors: inserting into the `chroma run` server…")
        remote, remote_s = _fill(remote_client, size)
        queries = _queries(size, n_queries)
        stores = {"embedded": local, "server": remote}
        for q in queries[:5]:  # warm both (first queries load the index)
            for col in stores.values():
                col.query(query_embeddings=q[None, :], n_results=K, include=["distances"])
        samples: dict[str, list[float]] = {name: [] for name in stores}
        same = 0
        log(f"{size:,} vectors: {len(queries)} queries each, interleaved…")
        for i, q in enumerate(queries):
            order = list(stores) if i % 2 == 0 else list(reversed(stores))
            got = {}
            for name in order:
                t0 = time.perf_counter()
                got[name] = stores[name].query(query_embeddings=q[None, :], n_results=K, include=["distances"])
                samples[name].append((time.perf_counter() - t0) * 1000)
            same += set(got["embedded"]["ids"][0]) == set(got["server"]["ids"][0])
        remote_client.close()
    embedded.close()
    result = {
        "vectors": size, "queries": len(queries),
        "embedded": {**_stats(samples["embedded"]), "insert_s": round(local_s, 1),
                     "insert_per_s": round(size / local_s)},
        "server": {**_stats(samples["server"]), "insert_s": round(remote_s, 1), "insert_per_s": round(size / remote_s)},
        "same_top10": round(same / len(queries), 3),
    }
    result["p95_ratio"] = round(result["server"]["p95_ms"] / max(result["embedded"]["p95_ms"], 1e-6), 2)
    result["p95_extra_ms"] = round(result["server"]["p95_ms"] - result["embedded"]["p95_ms"], 2)
    log(f"{size:,} vectors: embedded p95 {result['embedded']['p95_ms']} ms (insert {local_s:.1f} s), "
        f"server p95 {result['server']['p95_ms']} ms (insert {remote_s:.1f} s)")
    return result


def run(sizes: Sequence[int] = DEFAULT_SIZES, queries: int = 200,
        log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    import chromadb

    rows = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="hearth-bench-remote-") as tmp:
            rows.append(_measure(size, min(queries, size), Path(tmp), log))
    result = {
        "benchmark": "remote",
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count()},
        "chromadb": chromadb.__version__, "dim": DIM, "k": K,
        "method": "synthetic clustered unit vectors, cosine HNSW; the same vectors in an embedded PersistentClient "
                  "and a local `chroma run` reached by HttpClient; queries timed one by one, interleaved",
        "sizes": rows,
    }
    save_result("remote" if set(DEFAULT_SIZES) <= set(sizes) else "remote-partial", result)
    return result


def table(result: dict[str, Any]) -> str:
    lines = [f"Vector query latency, k={result['k']}, {result['dim']}-dim (chromadb {result['chromadb']}): "
             "embedded PersistentClient vs a local `chroma run` server", "",
             "| vectors | queries | embedded p50 / p95 ms | server p50 / p95 ms | server − embedded p95 | "
             "insert embedded / server | same top-10 |",
             "|---|---|---|---|---|---|---|"]
    for r in result["sizes"]:
        e, s = r["embedded"], r["server"]
        lines.append(f"| {r['vectors']:,} | {r['queries']} | {e['p50_ms']} / {e['p95_ms']} | {s['p50_ms']} / "
                     f"{s['p95_ms']} | {r['p95_extra_ms']:+} ms ({r['p95_ratio']}x) | {e['insert_s']} s / "
                     f"{s['insert_s']} s | {r['same_top10']:.0%} |")
    return "\n".join(lines)
