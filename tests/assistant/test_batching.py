"""Continuous batching on the real bundled model: concurrent answers are the sequential ones, slots free at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from assistant.engine import GREEDY, Engine, LoadSettings, Message
from assistant.engine.prompt_store import PromptStore
from assistant.events import Done, Token

pytestmark = pytest.mark.slow

QUESTIONS = ["Write three sentences about the sea.", "What is the capital of France?",
             "List three fruits.", "How do birds fly?"]


def tokens_for(engine: Engine, question: str) -> list[int]:
    return engine.render([Message("user", question)])[1]


def answer(engine: Engine, question: str, max_tokens: int = 24, **kw) -> Done:
    events = list(engine.generate(tokens_for(engine, question), GREEDY, max_tokens, **kw))
    assert "".join(e.text for e in events if isinstance(e, Token)) == events[-1].text
    return events[-1]


def concurrently(engine: Engine, questions: list[str], max_tokens: int = 24) -> list[Done]:
    results: list[Done | None] = [None] * len(questions)

    def one(i: int) -> None:
        results[i] = answer(engine, questions[i], max_tokens)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


@pytest.fixture(scope="module")
def single(chat_model_path: Path) -> Engine:
    engine = Engine()
    engine.load(chat_model_path, LoadSettings(n_ctx=1024))
    yield engine
    engine.unload()


@pytest.fixture(scope="module")
def batched(chat_model_path: Path) -> Engine:
    engine = Engine()
    engine.load(chat_model_path, LoadSettings(n_ctx=1024, n_parallel=3))
    yield engine
    engine.unload()


def test_concurrent_greedy_answers_equal_sequential_ones(single: Engine, batched: Engine) -> None:
    """Four requests on three slots (one waits for a slot): each gets exactly its sequential answer."""
    expected = [answer(single, q) for q in QUESTIONS]
    got = concurrently(batched, QUESTIONS)
    assert [d.text for d in got] == [d.text for d in expected]
    assert all(d.stats.completion_tokens == 24 and d.stats.stop_reason == "length" for d in got)
    assert batched.settings.n_parallel == 3 and batched.n_ctx == 1024  # each answer keeps the full context


def test_a_conversation_cache_outlives_a_batched_engine_too(chat_model_path: Path, single: Engine,
                                                          tmp_path: Path) -> None:
    """With the API server running beside the window the model answers in slots; a chat's cache in an idle
    slot is saved when the model unloads, and the chat's next question in a later run reads it into a slot,
    answering as a cold run does."""
    store = PromptStore(tmp_path / "prompts", keeps=lambda key: True)
    notes = "My notes: " + " ".join(f"shelf {i} holds {i * 7} jars of honey." for i in range(40))

    def engine() -> Engine:
        eng = Engine()
        eng.use_prompt_store(store)
        eng.load(chat_model_path, LoadSettings(n_ctx=1024, n_parallel=3))
        return eng

    first = engine()
    turn1 = answer(first, notes, cache_key="chat")
    answer(first, "List three fruits.", cache_key="other")  # too short to be worth a file
    first.unload()
    assert len(list(store.folder.glob("*.kv"))) == 1
    follow_up = single.render([Message("user", notes), Message("assistant", turn1.text),
                               Message("user", "And on shelf 5?")])[1]
    second = engine()
    try:
        warm = next(e for e in second.generate(follow_up, GREEDY, 24, cache_key="chat") if isinstance(e, Done))
    finally:
        second.unload()
    single.clear_cache()
    cold = next(e for e in single.generate(follow_up, GREEDY, 24) if isinstance(e, Done))
    assert warm.stats.reused_tokens > turn1.stats.prompt_tokens and cold.stats.reused_tokens == 0
    assert warm.text == cold.text


def test_next_turn_reuses_its_slot_prefix(batched: Engine) -> None:
    first = concurrently(batched, QUESTIONS[:3])
    again = concurrently(batched, QUESTIONS[:3])
    assert [d.text for d in again] == [d.text for d in first]
    assert all(d.stats.reused_tokens == d.stats.prompt_tokens - 1 for d in again)  # all but the last token


def test_a_new_conversation_takes_an_idle_slot_not_another_conversations_cache(batched: Engine) -> None:
    """Sharing the chat template's first tokens, a new conversation took the slot of the last one (its cache
    thrown away) while other slots stood empty, so API clients taking turns read their whole chats again."""
    batched.clear_cache()
    answer(batched, QUESTIONS[0])
    answer(batched, QUESTIONS[1])
    again = answer(batched, QUESTIONS[0])
    assert again.stats.reused_tokens == again.stats.prompt_tokens - 1


def test_stop_strings_and_logprobs_match_single_mode(single: Engine, batched: Engine) -> None:
    full = answer(single, QUESTIONS[0]).text
    word = full.split()[3]
    done = answer(batched, QUESTIONS[0], stop=(word,))
    assert done.stats.stop_reason == "stop" and full.startswith(done.text) and word not in done.text
    prompt = tokens_for(single, "Is Paris in France? Answer yes or no.")
    candidates = single.tokenize(" yes") + single.tokenize(" no")
    single.clear_cache()  # both read the whole prompt in one batch: split otherwise, the logits move (0.25 here)
    assert batched.next_token_logprobs(prompt, candidates) == pytest.approx(
        single.next_token_logprobs(prompt, candidates), abs=1e-3)


def test_a_reader_that_goes_away_frees_its_slot_at_once(batched: Engine) -> None:
    """Three streams stop reading after one token; a fourth request then gets a slot without waiting."""
    streams = [batched.generate(tokens_for(batched, q), GREEDY, 400) for q in QUESTIONS[:3]]
    for s in streams:
        next(s)
    for s in streams:
        s.close()  # the reader is gone (a client that disconnected)
    t0 = time.perf_counter()
    done = answer(batched, QUESTIONS[3], max_tokens=4)
    assert done.stats.completion_tokens == 4
    assert time.perf_counter() - t0 < 20  # not after three 400-token answers
    assert batched._loaded.batcher.busy == 0


def test_cancel_ends_one_stream_and_the_others_go_on(batched: Engine) -> None:
    cancel = threading.Event()
    seen: list[str] = []
    other: list[Done] = []
    worker = threading.Thread(target=lambda: other.append(answer(batched, QUESTIONS[1], max_tokens=32)))
    worker.start()
    for event in batched.generate(tokens_for(batched, QUESTIONS[0]), GREEDY, 400, cancel=cancel):
        if isinstance(event, Token):
            seen.append(event.text)
            if len(seen) == 3:
                cancel.set()
        elif isinstance(event, Done):
            assert event.stats.stop_reason == "cancelled" and event.text == "".join(seen)
    worker.join(timeout=60)
    assert other and other[0].stats.completion_tokens == 32


def test_serving_loads_the_model_for_parallel_answers_and_stopping_goes_back(chat_model_path: Path,
                                                                             tmp_path: Path) -> None:
    """The window's Server switch: a model loaded for one answer is loaded again for the server's slots at
    once, and for one answer (speculation back) when the server stops."""
    from assistant.config import Settings
    from assistant.core import Assistant
    from assistant.paths import Paths

    settings = Settings()
    settings.memory.enabled = False
    settings.model.n_ctx = 1024
    a = Assistant(Paths(tmp_path / "config", tmp_path / "data", tmp_path / "cache"), settings)
    try:
        a.ensure_model()
        assert a.engine.settings.n_parallel == 1
        status = a.start_server(port=0)
        assert status.running and status.parallel == 4 and a.engine.settings.n_parallel == 4
        assert a.ask("Say hi.", use_memory=False, max_tokens=4).text()  # answered through the batcher
        a.stop_server()
        assert a.engine.settings.n_parallel == 1 and not a.server_status().running
    finally:
        a.close(learning_s=0)


def test_every_decode_runs_on_the_one_decode_thread(single: Engine, batched: Engine,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """llama.cpp's OpenMP keeps a thread team per thread that decodes; a second long-lived decoding thread
    ran 2.7x slower here. Answers, yes/no log-probabilities and batched answers, asked from any thread, all
    decode on ``hearth-decode``."""
    from assistant.engine import native

    seen: set[str] = set()
    decode = native.NativeContext._llama_decode

    def spy(self: native.NativeContext) -> int:
        seen.add(threading.current_thread().name)
        return decode(self)

    monkeypatch.setattr(native.NativeContext, "_llama_decode", spy)
    answer(single, QUESTIONS[0], max_tokens=4)  # from this (the main) thread
    worker = threading.Thread(target=lambda: answer(single, QUESTIONS[1], max_tokens=4), name="another")
    worker.start()
    worker.join()
    single.next_token_logprobs(tokens_for(single, QUESTIONS[2]), [1, 2])
    concurrently(batched, QUESTIONS[:2], max_tokens=4)
    assert seen == {"hearth-decode"}
