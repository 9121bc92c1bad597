"""``hearth bench memory``: does Hearth learn from how people really talk, and answer from it?

The set is ``bench/data/memory_conversations.json``: 40 conversations (174 user turns, written in several
styles, with typos, buried facts, multi-fact turns, corrections and turns that state nothing about the
user), each turn labelled with the facts it states, and later questions with the facts they need. Every
turn goes through the real chat path: ``Assistant.ask`` answers it, the turn is queued, and the core's
scheduler learns from it in the background while the benchmark waits, so each new memory is attributed to
the turn that produced it. The store is cleared between conversations (each is a different user).

Reported, on one split (``dev`` for tuning, ``test`` the one reported in the README):

* extraction recall (labelled facts some memory states, by their exact key words) and precision (memories
  that state a labelled fact, or an incidental true one from the set's ``also_true``, of their own turn);
* supersession: for each correction, the newer fact ranks above the stale one when searched;
* retrieval recall@5 of the later questions (in a new conversation), and end to end: the answer to the
  question contains the expected words;
* learning cost per turn (wall seconds in the background until the queue is empty) and the time to first
  token of a question asked while learning is still running, against the same question asked idle;
* search latency p50/p95 over 10,000 memories (synthetic distractors plus the set's questions).

Runs in a temporary data directory: the user's memories are never touched.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.benchmarks.results import save_result
from assistant.config import Settings
from assistant.core import Assistant
from assistant.engine import GREEDY, Engine, LoadSettings, Message
from assistant.knowledge import KnowledgeBase, SentenceTransformerEmbedder
from assistant.memory import MemoryItem, MemoryService
from assistant.paths import BUNDLED_CHAT_MODEL, RESOURCES, Paths

DATA = RESOURCES.parent / "bench" / "data" / "memory_conversations.json"
N_CTX = 2048
ANSWER_TOKENS = 40
LATENCY_MEMORIES = 10_000
LATENCY_REPS = 3
LEARN_TIMEOUT_S = 120.0
TARGETS = {"recall": 0.9, "precision": 0.95, "supersession": 0.9, "recall_at_5": 0.95, "search_ms_p95": 50}


def _contains(text: str, keys: list[str]) -> bool:
    low = text.lower()
    return all(k.lower() in low for k in keys)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


@dataclass
class _Tally:
    facts: int = 0
    recalled: int = 0
    memories: int = 0
    correct: int = 0
    corrections: int = 0
    superseded_right: int = 0
    wrongly_hidden: list[str] = field(default_factory=list)
    questions: int = 0
    found_at_5: int = 0
    answered: int = 0
    learn_s: list[float] = field(default_factory=list)
    ttft_busy: list[float] = field(default_factory=list)
    ttft_idle: list[float] = field(default_factory=list)
    misses: list[dict[str, Any]] = field(default_factory=list)
    wrong: list[dict[str, Any]] = field(default_factory=list)
    not_found: list[dict[str, Any]] = field(default_factory=list)


def _wait_learned(memory: MemoryService) -> float:
    """Seconds until the core's background learner has emptied the queue (the benchmark only watches)."""
    t0 = time.perf_counter()
    while memory.due_count() and time.perf_counter() - t0 < LEARN_TIMEOUT_S:
        time.sleep(0.01)
    return time.perf_counter() - t0


def _rank(found: list[MemoryItem], keys: list[str], unless: list[str] | None = None) -> int:
    """Where the first memory stating ``keys`` (and not ``unless``: "is 10 not 9" states the new fact) ranks."""
    return next((i for i, m in enumerate(found)
                 if _contains(m.text, keys) and not (unless and _contains(m.text, unless))), len(found) + 1)


def _conversation(assistant: Assistant, conv: dict[str, Any], tally: _Tally) -> None:
    memory = assistant.memory
    assert memory is not None
    memory.clear()
    facts: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    conversation_id = None
    for t, turn in enumerate(conv["turns"]):
        response = assistant.ask(turn["user"], conversation_id, sampling=GREEDY)
        response.text()
        conversation_id = response.done.conversation_id if response.done else conversation_id
        last = t == len(conv["turns"]) - 1
        if last:  # a question while the last turn is still being learned from: it must not wait
            busy = assistant.ask(conv["questions"][0]["ask"], sampling=GREEDY)
            busy.text()
            if busy.done:
                tally.ttft_busy.append(busy.done.stats.ttft_s)
        waited = _wait_learned(memory)
        if turn["facts"]:  # the cost of learning a fact (turns with nothing to learn are not even queued)
            tally.learn_s.append(waited)
        for f, fact in enumerate(turn["facts"]):
            facts[f"{conv['id']}.t{t}.f{f}"] = fact
        new = [m for m in memory.list(include_superseded=True) if m.id not in seen]
        seen |= {m.id for m in new}
        keysets = [f["keys"] for f in turn["facts"]] + [f["keys"] for f in turn.get("also_true", [])]
        for m in new:
            tally.memories += 1
            if any(_contains(m.text, keys) for keys in keysets):
                tally.correct += 1
            else:
                tally.wrong.append({"said": turn["user"][:160], "memory": m.text})
    stored = memory.list(include_superseded=True)
    for fact in facts.values():
        tally.facts += 1
        if any(_contains(m.text, fact["keys"]) for m in stored):
            tally.recalled += 1
        else:
            tally.misses.append({"fact": fact["fact"], "keys": fact["keys"]})
    stale = [facts[f["supersedes"]]["keys"] for f in facts.values() if "supersedes" in f]
    for m in stored:  # a true fact hidden although nothing the user said replaced it
        if not m.active and not any(_contains(m.text, keys) for keys in stale):
            tally.wrongly_hidden.append(m.text)
    for fact in facts.values():
        if "supersedes" in fact:
            tally.corrections += 1
            old = facts[fact["supersedes"]]
            found = memory.search(fact["fact"], 10)
            new_rank, old_rank = _rank(found, fact["keys"]), _rank(found, old["keys"], unless=fact["keys"])
            tally.superseded_right += new_rank <= len(found) and new_rank < old_rank
    for q in conv["questions"]:
        tally.questions += 1
        top5 = memory.search(q["ask"], 5)
        found = all(any(_contains(m.text, facts[n]["keys"]) for m in top5) for n in q["needs"])
        tally.found_at_5 += found
        if not found:
            tally.not_found.append({"ask": q["ask"], "needs": [facts[n]["fact"] for n in q["needs"]],
                                    "top5": [m.text for m in top5]})
        response = assistant.ask(q["ask"], sampling=GREEDY)
        answer = response.text()
        tally.answered += _contains(answer, q["expect"])
    idle = assistant.ask(conv["questions"][0]["ask"], sampling=GREEDY)
    idle.text()
    if idle.done:
        tally.ttft_idle.append(idle.done.stats.ttft_s)


_PEOPLE = "sister brother friend colleague neighbour cousin aunt uncle manager dentist".split()
_NAMES = "Ana Ben Chloe Dmitri Esra Farid Greta Hugo Ines Jonas Kiri Lena Mateo Nora Omar Priti Quinn Rosa".split()
_THINGS = ("likes sailing", "lives in Oslo", "works as a pilot", "plays chess on Sundays", "is allergic to cats",
           "drives a blue van", "has a birthday on 3 May", "studies law", "bakes sourdough", "collects stamps")


def _distractors(n: int, seed: int = 0) -> Iterator[str]:
    rng = random.Random(seed)
    for i in range(n):
        yield f"User's {rng.choice(_PEOPLE)} {rng.choice(_NAMES)} {rng.choice(_THINGS)} (note {i})"


def _latency(paths: Paths, engine: Engine, embedder: SentenceTransformerEmbedder,
             questions: list[str]) -> dict[str, Any]:
    """Search p50/p95 over ``LATENCY_MEMORIES`` memories (inserted in bulk: only search is timed)."""
    memory = MemoryService(paths, Settings().memory, engine, embedder)
    try:
        store = memory._mem0.vector_store  # bulk insert: 10k adds through mem0 take minutes and time nothing
        texts = list(_distractors(LATENCY_MEMORIES))
        now = time.strftime("%Y-%m-%dT%H:%M:%S")
        for start in range(0, len(texts), 1000):
            batch = texts[start:start + 1000]
            store.insert(vectors=embedder.embed(batch).tolist(), ids=[str(uuid.uuid4()) for _ in batch],
                         payloads=[{"data": t, "user_id": memory.settings.user_id, "status": "active", "slot": "",
                                    "source_conversation": "", "created_at": now, "updated_at": now}
                                   for t in batch])
        memory.search("warm-up", 5)
        latencies = []
        for q in questions:
            for _ in range(LATENCY_REPS):
                t0 = time.perf_counter()
                memory.search(q, 5)
                latencies.append((time.perf_counter() - t0) * 1000)
    finally:
        memory.close()
    return {"memories": LATENCY_MEMORIES, "searches": len(latencies),
            "search_ms_p50": statistics.median(latencies), "search_ms_p95": _percentile(latencies, 0.95)}


def _mem0_prompt_tokens(engine: Engine) -> int:
    """How long mem0's own extraction prompt is in this model's tokens (why Hearth asks its own question)."""
    from mem0.configs.prompts import ADDITIVE_EXTRACTION_PROMPT

    return len(engine.render([Message("system", ADDITIVE_EXTRACTION_PROMPT), Message("user", "I'm vegan.")])[1])


def run(model: str | Path | None = None, split: str = "test") -> dict[str, Any]:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    conversations = [c for c in data["conversations"] if split in ("all", c["split"])]
    engine = Engine()
    engine.load(model or BUNDLED_CHAT_MODEL, LoadSettings(n_ctx=N_CTX))
    info, mem0_prompt = engine.info, _mem0_prompt_tokens(engine)
    embedder = SentenceTransformerEmbedder.from_settings(Settings().knowledge)
    tally = _Tally()
    t_start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="hearth-bench-memory-") as tmp:
            root = Path(tmp)
            paths = Paths(root / "config", root / "data", root / "cache").ensure()
            settings = Settings()
            settings.model.max_tokens = ANSWER_TOKENS
            assistant = Assistant(paths, settings, engine=engine,
                                  knowledge=KnowledgeBase(paths, settings.knowledge, embedder=embedder))
            try:
                for i, conv in enumerate(conversations, 1):
                    print(f"memory bench: conversation {i}/{len(conversations)} ({conv['id']})", file=sys.stderr)
                    _conversation(assistant, conv, tally)
            finally:
                assistant.close(learning_s=0)  # every turn is learned already; this also unloads the engine
            latency_paths = Paths(root / "l-config", root / "l-data", root / "l-cache").ensure()
            latency = _latency(latency_paths, engine, embedder,
                               [q["ask"] for c in conversations for q in c["questions"]])
    finally:
        engine.unload()  # when something failed before the assistant existed to unload it
    result = {
        "model": info.name,
        "embedder": embedder.name,
        "split": split,
        "conversations": len(conversations),
        "turns": sum(len(c["turns"]) for c in conversations),
        "extraction": {"facts": tally.facts, "recall": tally.recalled / max(1, tally.facts),
                       "memories": tally.memories, "precision": tally.correct / max(1, tally.memories)},
        "supersession": {"corrections": tally.corrections,
                         "newer_ranks_first": tally.superseded_right / max(1, tally.corrections),
                         "wrongly_hidden": len(tally.wrongly_hidden), "wrongly_hidden_texts": tally.wrongly_hidden},
        "retrieval": {"questions": tally.questions, "recall_at_5": tally.found_at_5 / max(1, tally.questions),
                      **latency},
        "end_to_end": {"questions": tally.questions, "answer_has_fact": tally.answered / max(1, tally.questions)},
        "learning": {"turns": len(tally.learn_s), "seconds_per_turn_median": statistics.median(tally.learn_s),
                     "seconds_per_turn_p95": _percentile(tally.learn_s, 0.95),
                     "ttft_s_while_learning_median": statistics.median(tally.ttft_busy or [0.0]),
                     "ttft_s_idle_median": statistics.median(tally.ttft_idle or [0.0])},
        "baseline_mem0_prompt_tokens": mem0_prompt,
        "targets": TARGETS,
        "misses": tally.misses,
        "questions_not_found": tally.not_found,
        "wrong": tally.wrong,
        "seconds": time.perf_counter() - t_start,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    stem = Path(str(model)).stem if model else "bundled"
    save_result(f"memory-{split}" + ("" if stem == "bundled" else f"-{stem}"), result)
    return result


def table(result: dict[str, Any]) -> str:
    ex, sup, ret = result["extraction"], result["supersession"], result["retrieval"]
    e2e, learn = result["end_to_end"], result["learning"]
    rows = [
        ("extraction recall (facts stored / stated)", f"{ex['recall']:.2f} of {ex['facts']}", ">= 0.90"),
        ("extraction precision (true facts / memories stored)", f"{ex['precision']:.2f} of {ex['memories']}",
         ">= 0.95"),
        ("supersession (newer fact ranks above the stale one)",
         f"{sup['newer_ranks_first']:.2f} of {sup['corrections']}", ">= 0.90"),
        ("memories hidden although nothing replaced them", f"{sup['wrongly_hidden']}", "0"),
        ("retrieval recall@5 (later questions)", f"{ret['recall_at_5']:.2f} of {ret['questions']}", ">= 0.95"),
        (f"search latency p95 / p50 at {ret['memories']:,} memories",
         f"{ret['search_ms_p95']:.1f} / {ret['search_ms_p50']:.1f} ms", "<= 50 ms"),
        ("end to end: the answer contains the fact", f"{e2e['answer_has_fact']:.2f} of {e2e['questions']}", "report"),
        ("learning per turn that states a fact, in the background (median / p95)",
         f"{learn['seconds_per_turn_median']:.2f} / {learn['seconds_per_turn_p95']:.2f} s", "background"),
        ("time to first token: while learning / idle (median)",
         f"{learn['ttft_s_while_learning_median']:.2f} / {learn['ttft_s_idle_median']:.2f} s", "no wait"),
    ]
    rows.append(("baseline: mem0's own extraction prompt", f"{result['baseline_mem0_prompt_tokens']:,} tokens",
                 "(Hearth's: one short yes/no per statement)"))
    lines = [f"Memory benchmark, {result['split']} split ({result['model']}, {result['embedder']}, "
             f"{result['conversations']} conversations, {result['turns']} turns)", "",
             "| measure | result | target |", "|---|---|---|"]
    return "\n".join(lines + [f"| {a} | {b} | {c} |" for a, b, c in rows])
