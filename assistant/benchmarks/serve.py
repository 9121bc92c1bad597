"""``hearth bench serve``: the API server under concurrent clients, through the official ``openai`` client.

The server is the real front end: ``hearth serve`` started as a subprocess in a fresh ``HEARTH_HOME`` with
the bundled model, ``--parallel`` slots. Every request is a streaming chat completion at temperature 0
(greedy), so a concurrent answer can be compared with the sequential one word for word.

- **Throughput**: the same N requests (distinct questions), sent one after another (the baseline: what a
  server without batching gives) and all at once; interleaved reps, total completion tokens per wall
  second of each phase, median and spread; the ratio concurrent / sequential is the target (>= 1.5x at 4).
- **Identity**: every concurrent answer equals its sequential one.
- **Load**: ``requests`` streaming requests from ``clients`` concurrent clients: failed streams (an error,
  no finish reason), truncated ones (a finish reason other than stop/length, or text that disagrees with
  the usage count), time to first token p50/p95 as each client sees it.
- **Disconnect**: a client that stops reading a long answer mid-stream; then how long until a new request
  gets its first token with every other slot busy (its slot must be free at once, not after the 2,000
  tokens the first one asked for).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from assistant.benchmarks.results import save_result
from assistant.errors import HearthError

#: The first ``parallel`` are the throughput phase's. Their greedy answers run past 128 tokens, so that phase
#: has N streams from start to end (the result's ``answer_tokens`` shows it); the sea question, once first,
#: ends after 46 tokens and left 3 streams for two thirds of the phase.
QUESTIONS = [
    "Explain how a bicycle works.", "Describe a walk in a forest.", "What makes bread rise?",
    "Tell a short story about a lighthouse keeper.", "How do bees make honey?", "Describe the water cycle.",
    "Why is the sky blue?", "Write four sentences about the sea.",
]


@dataclass
class Stream:
    text: str = ""
    ttft_s: float = 0.0
    total_s: float = 0.0
    tokens: int = 0
    finish: str | None = None
    error: str = ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hearth() -> list[str]:
    return [sys.executable, "-m", "app"]


class Server:
    """``hearth serve`` in a subprocess with its own HEARTH_HOME; stopped on exit."""

    def __init__(self, parallel: int, log: Callable[[str], None]) -> None:
        self.home = tempfile.TemporaryDirectory(prefix="hearth-bench-serve-")
        self.env = {**os.environ, "HEARTH_HOME": self.home.name}
        self.port = _free_port()
        self.token = subprocess.run([*_hearth(), "serve", "--show-token"], env=self.env, capture_output=True,
                                    text=True, check=True).stdout.strip().split()[-1]
        self.proc = subprocess.Popen([*_hearth(), "serve", "--port", str(self.port), "--parallel", str(parallel)],
                                     env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._wait(log)

    def _wait(self, log: Callable[[str], None]) -> None:
        import httpx

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HearthError(f"hearth serve exited: {self.proc.stderr.read().strip()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    log(f"hearth serve is up on port {self.port}")
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise HearthError("hearth serve did not answer /health within 120 s")

    def client(self) -> Any:
        from openai import OpenAI

        return OpenAI(base_url=self.url, api_key=self.token, max_retries=0, timeout=600)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.home.cleanup()


def stream(client: Any, question: str, max_tokens: int, stop_after: int | None = None) -> Stream:
    """One streaming greedy chat completion; ``stop_after`` chunks: read that many, then hang up."""
    out = Stream()
    t0 = time.perf_counter()
    parts: list[str] = []
    try:
        response = client.chat.completions.create(
            model="hearth", messages=[{"role": "user", "content": question}], stream=True, temperature=0,
            max_tokens=max_tokens, stream_options={"include_usage": True})
        for n, chunk in enumerate(response):
            if chunk.choices:
                choice = chunk.choices[0]
                if choice.delta.content:
                    if not parts:
                        out.ttft_s = time.perf_counter() - t0
                    parts.append(choice.delta.content)
                if choice.finish_reason:
                    out.finish = choice.finish_reason
            if chunk.usage is not None:
                out.tokens = chunk.usage.completion_tokens
            if stop_after is not None and n + 1 >= stop_after:
                response.close()
                break
    except Exception as exc:  # a failed stream is a result here, counted and reported
        out.error = f"{type(exc).__name__}: {exc}"
    out.total_s = time.perf_counter() - t0
    out.text = "".join(parts)
    return out


def _phase(client: Any, questions: list[str], max_tokens: int, concurrent: bool) -> tuple[float, list[Stream]]:
    """Total completion tokens per second of wall time for ``questions``, one by one or all at once."""
    t0 = time.perf_counter()
    if concurrent:
        with ThreadPoolExecutor(len(questions)) as pool:
            streams = list(pool.map(lambda q: stream(client, q, max_tokens), questions))
    else:
        streams = [stream(client, q, max_tokens) for q in questions]
    wall = time.perf_counter() - t0
    return sum(s.tokens for s in streams) / wall, streams


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(parallel: int = 4, reps: int = 3, max_tokens: int = 128, requests: int = 200, clients: int = 8,
        load_tokens: int = 32, log: Callable[[str], None] = print, save: bool = True) -> dict[str, Any]:
    questions = (QUESTIONS * (parallel // len(QUESTIONS) + 1))[:parallel]
    server = Server(parallel, log)
    try:
        client = server.client()
        stream(client, "hi", 4)  # the model loads on the first request: not part of any phase
        seq_rates, par_rates, identical = [], [], True
        for rep in range(reps):
            for concurrent in ((False, True) if rep % 2 == 0 else (True, False)):
                rate, streams = _phase(client, questions, max_tokens, concurrent)
                (par_rates if concurrent else seq_rates).append(rate)
                if concurrent:
                    par_streams = streams
                else:
                    seq_streams = streams
                log(f"rep {rep + 1}: {'concurrent' if concurrent else 'sequential'} {rate:.1f} tok/s")
            identical &= [s.text for s in par_streams] == [s.text for s in seq_streams]
        log(f"load: {requests} requests from {clients} clients")
        pool_questions = [QUESTIONS[i % len(QUESTIONS)] + f" ({i})" for i in range(requests)]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            load = list(pool.map(lambda q: stream(client, q, load_tokens), pool_questions))
        load_wall = time.perf_counter() - t0
        failed = [s for s in load if s.error or s.finish is None]
        truncated = [s for s in load if not s.error and s.finish not in ("stop", "length")]
        log("disconnect: a client hangs up mid-stream while the other slots are busy")
        with ThreadPoolExecutor(max(1, parallel - 1)) as pool:  # every other slot busy for a while
            busy = [pool.submit(stream, client, q, 256) for q in questions[1:]]
            time.sleep(1.0)
            hang_up = stream(client, "Write a very long essay about the history of the sea.", 2000, stop_after=3)
            after = stream(client, "hi", 8)
            busy_left = sum(not f.done() for f in busy)  # still streaming when the new request got its answer
    finally:
        server.close()
    seq, par = statistics.median(seq_rates), statistics.median(par_rates)
    ttfts = [s.ttft_s for s in load if not s.error]
    result = {
        "parallel": parallel, "reps": reps, "max_tokens": max_tokens,
        "sequential_tps": round(seq, 1), "sequential_tps_reps": [round(r, 1) for r in seq_rates],
        "concurrent_tps": round(par, 1), "concurrent_tps_reps": [round(r, 1) for r in par_rates],
        "ratio": round(par / seq, 2) if seq else 0.0, "target_ratio": 1.5,
        "concurrent_equals_sequential": identical,
        "answer_tokens": [s.tokens for s in par_streams],
        "load": {"requests": requests, "clients": clients, "max_tokens": load_tokens, "wall_s": round(load_wall, 1),
                 "failed": len(failed), "truncated": len(truncated),
                 "errors": sorted({s.error for s in failed if s.error})[:5],
                 "ttft_p50_s": round(_pct(ttfts, 0.5), 3), "ttft_p95_s": round(_pct(ttfts, 0.95), 3)},
        "disconnect": {"hung_up_after_chunks": 3, "error": hang_up.error,
                       "next_request_ttft_s": round(after.ttft_s, 3), "next_request_error": after.error,
                       "other_streams_still_running": busy_left},
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }
    result["pass"] = (result["ratio"] >= 1.5 and identical and not failed and not truncated and not after.error)
    if save:
        save_result("serve", result)
    return result


def table(r: dict[str, Any]) -> str:
    load, disc = r["load"], r["disconnect"]
    spread = lambda xs: f"{min(xs):.1f}–{max(xs):.1f}"  # noqa: E731
    return "\n".join([
        f"| `hearth serve --parallel {r['parallel']}` ({r['max_tokens']}-token answers, median of {r['reps']}) "
        "| tok/s (all streams) | per-rep |",
        "|---|---|---|",
        f"| {r['parallel']} requests one after another (baseline) | {r['sequential_tps']} | "
        f"{spread(r['sequential_tps_reps'])} |",
        f"| {r['parallel']} requests at once | {r['concurrent_tps']} | {spread(r['concurrent_tps_reps'])} |",
        f"| ratio (target ≥ {r['target_ratio']}×) | **{r['ratio']}×** | |",
        "",
        "Concurrent answers equal the sequential ones (greedy): "
        f"{'yes' if r['concurrent_equals_sequential'] else 'NO'}; their lengths: "
        f"{', '.join(map(str, r['answer_tokens']))} tokens"
        + (f" ({r['parallel']} streams throughout)." if min(r["answer_tokens"]) == r["max_tokens"] else "."),
        f"Load: {load['requests']} streams from {load['clients']} clients in {load['wall_s']} s: "
        f"{load['failed']} failed, {load['truncated']} truncated; time to first token p50 {load['ttft_p50_s']} s, "
        f"p95 {load['ttft_p95_s']} s.",
        f"A client that hung up mid-stream: the next request's first token came after "
        f"{disc['next_request_ttft_s']} s" + (f" (error: {disc['next_request_error']})."
                                              if disc["next_request_error"] else "."),
    ])
