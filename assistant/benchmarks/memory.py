"""``hearth bench memory``: does Hearth remember, quickly, with the bundled 135M model doing the extraction?

Retrieval: 30 facts are told to Hearth in 30 conversations and extracted in the background path
(``enqueue_turn`` + ``process_pending``) with the bundled model; the store is closed and reopened (a
restart), then 30 questions are asked as new conversations. Reported: recall@5 (a question counts when one
of its top-5 memories contains the fact's keyword; target >= 0.9) and search latency p50/p95 (target p95
<= 50 ms). Extraction: the share of turns whose model output was valid JSON (target 100%), seconds per turn,
and how many facts fell back to the user's own words. Baseline, measured in the same run: the size of
mem0's own extraction prompt in the bundled model's tokens, against its context window (why Hearth uses
its own prompt). Runs in a temporary data directory: the user's memories are never touched.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.benchmarks.results import save_result
from assistant.config import KnowledgeSettings, MemorySettings
from assistant.engine import Engine, LoadSettings, Message
from assistant.knowledge import SentenceTransformerEmbedder
from assistant.memory import MemoryService
from assistant.paths import BUNDLED_CHAT_MODEL, Paths

N_CTX = 2048
LATENCY_REPS = 3

#: (what the user says in a conversation, a later question in a new conversation, keywords of the fact)
CASES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Hi! I'm vegetarian, by the way.", "What kind of food do I eat?", ("vegetarian",)),
    ("My project is called Atlas.", "What is the name of my project?", ("atlas",)),
    ("I prefer short answers.", "How long should your answers to me be?", ("short",)),
    ("I live in Lisbon.", "Which city do I live in?", ("lisbon",)),
    ("My name is Priya.", "What's my name?", ("priya",)),
    ("I work as a nurse.", "What is my job?", ("nurse",)),
    ("My daughter Mia is seven years old.", "How old is my daughter?", ("mia", "seven")),
    ("I'm allergic to peanuts, so be careful with recipes.", "Do I have any food allergies?", ("peanut",)),
    ("My favourite colour is green.", "What colour do I like best?", ("green",)),
    ("I drive a red Toyota Corolla.", "What car do I have?", ("toyota", "corolla")),
    ("I play the cello in a community orchestra.", "Which instrument do I play?", ("cello",)),
    ("My dog is a beagle called Biscuit.", "What is my dog's name?", ("biscuit",)),
    ("I'm learning Japanese for a trip next spring.", "Which language am I studying?", ("japanese",)),
    ("I was born in 1988.", "What year was I born?", ("1988",)),
    ("My partner's name is Tom.", "Who is my partner?", ("tom",)),
    ("I run a marathon every autumn.", "What sport do I do?", ("marathon",)),
    ("I use Python and Rust at work.", "Which programming languages do I use?", ("python", "rust")),
    ("My laptop is a ThinkPad X1.", "What computer do I use?", ("thinkpad",)),
    ("I'm lactose intolerant.", "Can I drink milk?", ("lactose",)),
    ("I support Arsenal.", "Which football team do I support?", ("arsenal",)),
    ("My favourite book is Dune.", "What is my favourite novel?", ("dune",)),
    ("I have two cats named Salt and Pepper.", "What pets do I have?", ("cats", "salt")),
    ("I wake up at 5 am every day.", "What time do I get up in the morning?", ("5 am", "5am")),
    ("My sister lives in Toronto.", "Where does my sister live?", ("toronto",)),
    ("I'm saving money to buy a house.", "What am I saving money for?", ("house",)),
    ("I'm afraid of flying.", "Do I have any phobias?", ("flying",)),
    ("My birthday is on March 3rd.", "When is my birthday?", ("march",)),
    ("I'm training for a black belt in karate.", "Which martial art do I practise?", ("karate",)),
    ("My team uses Jira for tickets.", "Which tool does my team use to track tickets?", ("jira",)),
    ("I speak Portuguese and English.", "What languages do I speak?", ("portuguese",)),
)


class _RetryCounter(logging.Handler):
    """Counts the model replies ``llm.ask_json`` had to retry (it logs each one as a warning)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _mem0_prompt_tokens(engine: Engine) -> int:
    from mem0.configs.prompts import ADDITIVE_EXTRACTION_PROMPT

    return len(engine.render([Message("system", ADDITIVE_EXTRACTION_PROMPT), Message("user", CASES[0][0])])[1])


def _extract(paths: Paths, engine: Engine, embedder: SentenceTransformerEmbedder) -> dict[str, Any]:
    memory = MemoryService(paths, MemorySettings(), engine, embedder)
    retries = _RetryCounter()
    logging.getLogger("assistant.memory.llm").addHandler(retries)
    try:
        for i, (said, _question, _keys) in enumerate(CASES):
            memory.enqueue_turn(f"seed-{i}", said, "Noted.")
        seconds = []
        while memory.pending_count():
            t0 = time.perf_counter()
            memory.process_pending(limit=1)
            seconds.append(time.perf_counter() - t0)
        failed = memory.failed_count()
        items = memory.list()
    finally:
        logging.getLogger("assistant.memory.llm").removeHandler(retries)
        memory.close()
    return {
        "turns": len(seconds),
        "valid_json_share": (len(seconds) - failed) / len(seconds),
        "json_retries": retries.count,
        "seconds_per_turn_mean": statistics.mean(seconds),
        "seconds_per_turn_p95": _percentile(seconds, 0.95),
        "memories": len(items),
        "verbatim_fallback_memories": sum(m.text.startswith("User said:") for m in items),
    }


def _retrieve(paths: Paths, engine: Engine, embedder: SentenceTransformerEmbedder) -> dict[str, Any]:
    memory = MemoryService(paths, MemorySettings(), engine, embedder)  # reopened: what a restart sees
    try:
        memory.search("warm-up", 5)
        misses, latencies = [], []
        for said, question, keys in CASES:
            for _ in range(LATENCY_REPS):
                t0 = time.perf_counter()
                found = memory.search(question, 5)
                latencies.append((time.perf_counter() - t0) * 1000)
            if not any(k in m.text.lower() for m in found for k in keys):
                misses.append({"question": question, "fact": said, "top5": [m.text for m in found]})
    finally:
        memory.close()
    return {
        "questions": len(CASES),
        "recall_at_5": (len(CASES) - len(misses)) / len(CASES),
        "search_ms_p50": statistics.median(latencies),
        "search_ms_p95": _percentile(latencies, 0.95),
        "misses": misses,
    }


def run() -> dict[str, Any]:
    engine = Engine()
    engine.load(BUNDLED_CHAT_MODEL, LoadSettings(n_ctx=N_CTX))
    embedder = SentenceTransformerEmbedder.from_settings(KnowledgeSettings())
    try:
        with tempfile.TemporaryDirectory(prefix="hearth-bench-memory-") as tmp:
            root = Path(tmp)
            paths = Paths(root / "config", root / "data", root / "cache").ensure()
            extraction = _extract(paths, engine, embedder)
            retrieval = _retrieve(paths, engine, embedder)
        result = {
            "model": engine.info.name,
            "embedder": embedder.name,
            "extraction": extraction,
            "retrieval": retrieval,
            "baseline_mem0_prompt": {"prompt_tokens": _mem0_prompt_tokens(engine), "context_tokens": N_CTX},
            "targets": {"recall_at_5": 0.9, "search_ms_p95": 50, "valid_json_share": 1.0},
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
    finally:
        engine.unload()
    save_result("memory", result)
    return result


def table(result: dict[str, Any]) -> str:
    ex, re_, base = result["extraction"], result["retrieval"], result["baseline_mem0_prompt"]
    rows = [
        ("recall@5 (30 facts, new conversations after restart)", f"{re_['recall_at_5']:.2f}", ">= 0.90"),
        ("memory search latency p95 / p50", f"{re_['search_ms_p95']:.1f} / {re_['search_ms_p50']:.1f} ms", "<= 50 ms"),
        ("extraction: turns with valid JSON (model replies retried)",
         f"{ex['valid_json_share']:.0%} of {ex['turns']} ({ex['json_retries']})", "100%"),
        ("extraction: seconds per turn (mean / p95)",
         f"{ex['seconds_per_turn_mean']:.2f} / {ex['seconds_per_turn_p95']:.2f} s", "background"),
        ("memories stored (verbatim fallbacks)", f"{ex['memories']} ({ex['verbatim_fallback_memories']})", ""),
        ("baseline: mem0's own extraction prompt", f"{base['prompt_tokens']} tokens",
         f"context {base['context_tokens']}"),
    ]
    lines = [f"Memory benchmark ({result['model']}, {result['embedder']})", "",
             "| measure | result | target |", "|---|---|---|"]
    return "\n".join(lines + [f"| {a} | {b} | {c} |" for a, b, c in rows])
