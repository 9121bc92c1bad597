"""The llama.cpp engine on the real bundled model: determinism, stops, cancel, prefix reuse, load errors."""

from __future__ import annotations

import ctypes
import itertools
import shutil
import threading
from pathlib import Path

import gguf
import numpy as np
import pytest
from checks import run_python, stream_until_cancelled

from assistant.engine import GREEDY, Engine, LoadSettings, Message
from assistant.engine.prompt_store import PromptStore
from assistant.errors import (
    GenerationError,
    InsufficientMemoryError,
    ModelLoadError,
    ModelNotFoundError,
    NotGGUFError,
    TruncatedModelError,
    UnsupportedArchitectureError,
)
from assistant.events import Done, Progress, Token, prompt_read_text


def run(engine: Engine, messages: list[Message], max_tokens: int = 48, **kw) -> Done:
    prompt, tokens = engine.render(messages)
    events = list(engine.generate(tokens, GREEDY, max_tokens, stop=prompt.stop, **kw))
    assert isinstance(events[-1], Done)
    assert "".join(e.text for e in events if isinstance(e, Token)) == events[-1].text
    return events[-1]


QUESTION = [Message("user", "Write three sentences about the sea.")]


def test_greedy_is_deterministic(engine: Engine) -> None:
    engine.clear_cache()
    first = run(engine, QUESTION)
    engine.clear_cache()
    second = run(engine, QUESTION)
    assert first.text and first.text == second.text
    assert first.stats.completion_tokens == second.stats.completion_tokens > 0


def test_eos_token_ends_generation(engine: Engine) -> None:
    done = run(engine, [Message("user", "Reply with just the word: yes")], max_tokens=200)
    assert done.stats.stop_reason == "eos"
    assert done.stats.completion_tokens < 200


def test_stop_string_ends_generation_before_it(engine: Engine) -> None:
    full = run(engine, QUESTION).text
    word = full.split()[len(full.split()) // 2]
    _prompt, tokens = engine.render(QUESTION)
    done = list(engine.generate(tokens, GREEDY, 48, stop=(word,)))[-1]
    assert done.stats.stop_reason == "stop"
    assert word not in done.text
    assert full.startswith(done.text)


def test_cancel_mid_answer_keeps_partial(engine: Engine) -> None:
    _prompt, tokens = engine.render(QUESTION)
    seen, done = stream_until_cancelled(engine, tokens, GREEDY, 5)
    assert done is not None and done.stats.stop_reason == "cancelled"
    assert done.stats.completion_tokens == 5  # stopped within one decode step of the request
    assert done.text == "".join(seen) and done.text


def test_prefix_reuse_matches_cold_start(chat_model_path: Path) -> None:
    """Turn 2 evaluates only its new tokens, and its greedy output equals a cold run of the same prompt.

    llama.cpp's CPU kernels are not batch-invariant (a 150-token batch and 150 single tokens give logits
    that differ in the last bits, enough to flip a greedy choice late in an answer), so exactness is checked
    with n_batch=1, where the warm and the cold run perform the very same operations. That isolates what
    this test is about: positions, KV trimming and token bookkeeping of the reuse.
    """
    eng = Engine()
    eng.load(chat_model_path, LoadSettings(n_ctx=1024, n_batch=1))
    try:
        turn1 = run(eng, QUESTION)
        follow_up = [*QUESTION, Message("assistant", turn1.text), Message("user", "Now one sentence about rivers.")]
        warm = run(eng, follow_up)
        assert warm.stats.reused_tokens > 0
        assert warm.stats.evaluated_tokens < warm.stats.prompt_tokens
        eng.clear_cache()
        cold = run(eng, follow_up)
        assert cold.stats.evaluated_tokens == cold.stats.prompt_tokens
        assert warm.text == cold.text
    finally:
        eng.unload()


def test_a_conversation_left_for_other_work_or_another_chat_gets_its_cache_back(chat_model_path: Path) -> None:
    """Memory learning evaluated its own prompts in the one context between two answers, and going to another
    chat did the same, so the next question read the whole chat again (22-26 s on a 3.7k-token chat). The cache
    being left is kept: the follow-up reuses the first turn, and answers as a cold run does (n_batch=1, as
    above); each of two chats asked in turn continues its own cache."""
    eng = Engine()
    eng.load(chat_model_path, LoadSettings(n_ctx=1024, n_batch=1))
    try:
        turn1 = run(eng, QUESTION)
        follow_up = [*QUESTION, Message("assistant", turn1.text), Message("user", "Now one sentence about rivers.")]
        learning = [Message("system", "Extract facts about the user as a JSON list. " * 8),
                    Message("user", "I live in Bergen and I keep bees.")]
        learned = run(eng, learning, max_tokens=8)
        assert learned.stats.reused_tokens < 8  # it shares only the template's first tokens with the chat
        _prompt, tokens = eng.render(learning)  # a second step of the same work continues its own prompt
        assert eng.next_token_logprobs(tokens, [1, 2]) is not None
        warm = run(eng, follow_up)
        assert warm.stats.reused_tokens > turn1.stats.prompt_tokens
        again = run(eng, [*learning, Message("assistant", learned.text), Message("user", "And I sing.")])
        assert again.stats.reused_tokens >= learned.stats.prompt_tokens  # the other "chat" got its cache back
        eng.clear_cache()  # forgets the kept caches too: a cold run
        cold = run(eng, follow_up)
        assert cold.stats.reused_tokens == 0 and warm.text == cold.text
    finally:
        eng.unload()


def test_a_cache_brought_back_while_room_is_made_for_the_one_left(chat_model_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Keeping the cache being left made room by letting go of the oldest copy, which could be the very one being
    brought back: the answer failed with "ValueError: list.remove(x): x not in list" (seen in `hearth bench
    memory`, where learning's prompts and several chats take turns). With room for one copy, going back to the
    first chat continues its cache all the same."""
    from assistant.engine import engine as engine_module

    monkeypatch.setattr(engine_module, "_KEPT_MAX", 1)
    eng = Engine()
    eng.load(chat_model_path, LoadSettings(n_ctx=1024))
    try:
        first = [Message("user", "My notes: " + "the harbour lantern is lit at dusk. " * 12 + "When is it lit?")]
        turn1 = run(eng, first, max_tokens=8)
        run(eng, [Message("user", "Other notes: " + "the beans climb the south fence. " * 12 + "What climbs?")],
            max_tokens=8)
        back = run(eng, [*first, Message("assistant", turn1.text), Message("user", "And at dawn?")], max_tokens=8)
        assert back.stats.reused_tokens > turn1.stats.prompt_tokens // 2
    finally:
        eng.unload()


def test_a_conversation_cache_let_go_at_unload_is_read_back_in_the_next_run(chat_model_path: Path,
                                                                             tmp_path: Path) -> None:
    """The first question after a restart read the whole chat again (15 s for a 3.6k-token chat through
    `hearth ask -c`). A conversation's cache goes to disk when the engine lets it go, and the next engine
    continues it, answering as a cold run does; a cache of another KV cache type is not used, and a
    conversation that no longer exists gets no file."""
    store = PromptStore(tmp_path / "prompts", keeps=lambda key: key == "chat")
    notes = [Message("user", "My notes: " + " ".join(f"shelf {i} holds {i * 7} jars of honey." for i in range(40))
                     + " How many jars are on shelf 3?")]

    def engine_on(kv_cache: str = "q8_0", prompts: PromptStore | None = store) -> Engine:
        eng = Engine()  # q8_0: a continued cache answers exactly as a cold run (f16 needs one token per batch)
        eng.use_prompt_store(prompts)
        eng.load(chat_model_path, LoadSettings(n_ctx=1024, kv_cache=kv_cache))
        return eng

    first = engine_on()
    turn1 = run(first, notes, cache_key="chat")
    assert turn1.stats.prompt_tokens >= 256
    run(first, [Message("user", "Tell me a story about a cat.")], max_tokens=4, cache_key="gone")
    first.unload()
    assert len(list(store.folder.glob("*.kv"))) == 1  # the chat's, kept in RAM until now; none for "gone"
    follow_up = [*notes, Message("assistant", turn1.text), Message("user", "And on shelf 5?")]
    second = engine_on()
    try:
        warm = run(second, follow_up, cache_key="chat")
        assert warm.stats.reused_tokens > turn1.stats.prompt_tokens
    finally:
        second.unload()
    cold_engine = engine_on(prompts=None)
    try:
        cold = run(cold_engine, follow_up)
        assert cold.stats.reused_tokens == 0 and warm.text == cold.text
    finally:
        cold_engine.unload()
    other = engine_on("f16")  # a state of another cache type is another file, not a refused load
    try:
        assert run(other, follow_up, max_tokens=1, cache_key="chat").stats.reused_tokens == 0
    finally:
        other.unload()


def test_deleting_a_chat_while_another_answers_does_not_wait_for_the_answer(engine: Engine, tmp_path: Path) -> None:
    """The history deletes a chat's saved caches through the engine, whose lock an answer holds while it
    streams: the window's sidebar would have waited for the answer to end."""
    store = PromptStore(tmp_path / "prompts", keeps=lambda key: True)
    store.save("deleted chat", "model", [1, 2], (ctypes.c_uint8 * 8)())
    engine.use_prompt_store(store)
    stream = engine.generate(engine.render(QUESTION)[1], GREEDY, 64)
    try:
        assert isinstance(next(stream), Token)  # mid-answer, the lock held
        forget = threading.Thread(target=engine.forget_cache, args=("deleted chat",))
        forget.start()
        forget.join(timeout=10)
        assert not forget.is_alive() and not list(store.folder.glob("*.kv"))
    finally:
        stream.close()
        engine.use_prompt_store(None)


def test_edited_history_trims_the_stale_kv_tail(engine: Engine) -> None:
    """A regenerate/edit changes the middle of the prompt: only the common prefix is kept."""
    engine.clear_cache()
    first = run(engine, [*QUESTION, Message("assistant", "The sea is blue."), Message("user", "Why?")])
    edited = run(engine, [*QUESTION, Message("assistant", "The sea is green."), Message("user", "Why?")])
    assert 0 < edited.stats.reused_tokens < first.stats.prompt_tokens
    assert edited.stats.evaluated_tokens == edited.stats.prompt_tokens - edited.stats.reused_tokens


def test_stats_are_complete(engine: Engine) -> None:
    s = run(engine, QUESTION, max_tokens=16).stats
    assert s.prompt_tokens > 0 and s.completion_tokens > 0
    assert s.ttft_s > 0 and s.decode_tps > 0
    assert s.device.startswith("CPU")
    assert s.context_size == 2048 and 0 < s.context_used <= 2048


# ---- bad model files: a specific error each, and the loaded model keeps working ----------------------
def _write_gguf(path: Path, arch: str) -> Path:
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_bad_model_files_give_specific_errors_and_keep_current_model(
    engine: Engine, chat_model_path: Path, tmp_path: Path
) -> None:
    truncated = tmp_path / "truncated.gguf"
    with chat_model_path.open("rb") as src:
        truncated.write_bytes(src.read(20_000_000))
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("these are not weights")
    cases = [
        (tmp_path / "missing.gguf", ModelNotFoundError, "not found"),
        (not_gguf, NotGGUFError, "not a GGUF"),
        (truncated, TruncatedModelError, "truncated"),
        (_write_gguf(tmp_path / "alien.gguf", "notanarch"), UnsupportedArchitectureError, "notanarch"),
    ]
    for path, error, words in cases:
        with pytest.raises(error, match=words):
            engine.load(path)
    with pytest.raises(ModelLoadError, match="Unknown KV cache type 'q3'; choose one of f16, q8_0"):
        engine.load(chat_model_path, LoadSettings(kv_cache="q3"))
    assert run(engine, QUESTION, max_tokens=4).stats.completion_tokens == 4


def test_model_too_big_for_memory(chat_model_path: Path, tmp_path: Path) -> None:
    eng = Engine(memory_probe=lambda: 50 * 2**20)
    with pytest.raises(InsufficientMemoryError, match=r"GiB is free.*use the q8_0 KV cache"):
        eng.load(chat_model_path, LoadSettings(n_ctx=2048))
    assert not eng.loaded


def test_base_model_uses_fallback_format(base_model_path: Path) -> None:
    eng = Engine()
    eng.load(base_model_path, LoadSettings(n_ctx=512))
    try:
        assert eng.uses_fallback_format
        prompt = eng.format([Message("user", "Hello")])
        assert prompt.uses_fallback and prompt.text.endswith("Assistant:")
        assert {"\nUser:", "\nAssistant:", "\nQuestion:"} <= set(prompt.stop)
        done = list(eng.generate(eng.prompt_tokens(prompt), GREEDY, 8, stop=prompt.stop))[-1]
        assert done.stats.prompt_format == "fallback"
        # a base model goes on writing the transcript after its answer (here: the next question of a grounded
        # prompt's "Question:" pattern); the answer ends where that starts
        quiz = "Question: What is 2 + 2?\nAssistant: 4\nQuestion: What is 3 + 3?\nAssistant: 6\n"
        prompt = eng.format([Message("user", quiz + "Question: What is 4 + 4?")])
        done = list(eng.generate(eng.prompt_tokens(prompt), GREEDY, 32, stop=prompt.stop))[-1]
        assert done.stats.stop_reason == "stop" and "Question" not in done.text and done.text.strip()
    finally:
        eng.unload()


def test_copy_of_model_loads_in_place_of_current(engine: Engine, chat_model_path: Path, tmp_path: Path) -> None:
    """Swapping models: the new one is loaded before the old is freed, and the engine keeps answering."""
    copy = tmp_path / "copy.gguf"
    shutil.copy(chat_model_path, copy)
    eng = Engine()
    eng.load(chat_model_path, LoadSettings(n_ctx=512))
    info = eng.load(copy, LoadSettings(n_ctx=512))
    assert info.path == str(copy)
    assert run(eng, QUESTION, max_tokens=4).stats.completion_tokens == 4
    eng.unload()


def test_a_model_file_overwritten_in_place_is_loaded_again_before_the_engine_reads_it(
        chat_model_path: Path, smollm2_q8_path: Path, tmp_path: Path) -> None:
    """Memory learning generates on the engine without the facade's check before an answer: a model file
    overwritten in place (the same inode, other bytes) was read through the old mapping: garbage, or SIGBUS when
    the new file is shorter. The engine loads it again and refuses the prompt made for the file before."""
    model = shutil.copyfile(chat_model_path, tmp_path / "mine.gguf")
    eng = Engine()
    eng.load(model, LoadSettings(n_ctx=512))
    prompt, tokens = eng.render(QUESTION)
    with model.open("r+b") as file:
        file.truncate(0)
        file.write(smollm2_q8_path.read_bytes())
    with pytest.raises(GenerationError, match=r"^The model file changed on disk; reloaded Mine Q8_0\. The prompt "
                                              r"was made for the file before: ask again\.$"):
        list(eng.generate(tokens, GREEDY, 4, stop=prompt.stop))
    assert eng.info.quantization == "Q8_0" and eng.reload_if_changed() == ""
    assert run(eng, QUESTION, max_tokens=4).stats.completion_tokens == 4
    eng.unload()


def test_json_grammar_constrains_output(engine: Engine) -> None:
    import json

    from assistant.engine.sampling import json_grammar

    schema = {"type": "object", "required": ["facts"], "properties": {
        "facts": {"type": "array", "maxItems": 5, "items": {"type": "string", "maxLength": 80}}}}
    _prompt, tokens = engine.render([Message("user", "I live in Paris and I love cats. List facts about me as JSON.")])
    done = list(engine.generate(tokens, GREEDY, 96, grammar=json_grammar(schema)))[-1]
    assert done.stats.stop_reason == "eos"
    assert isinstance(json.loads(done.text)["facts"], list)


def test_load_reports_progress_and_can_be_cancelled(engine: Engine, base_model_path: Path) -> None:

    from assistant.errors import ModelLoadCancelled

    seen = []
    eng = Engine()
    eng.load(base_model_path, LoadSettings(n_ctx=256), progress=seen.append)
    assert seen and seen[-1].done == 1.0 and seen[-1].job == "load"
    assert all(a.done <= b.done for a, b in itertools.pairwise(seen))
    eng.unload()

    cancel = threading.Event()
    before = engine.info.path
    with pytest.raises(ModelLoadCancelled, match="cancelled"):
        engine.load(base_model_path, LoadSettings(n_ctx=256), progress=lambda p: cancel.set(), cancel=cancel)
    assert engine.info.path == before
    assert run(engine, QUESTION, max_tokens=4).stats.completion_tokens == 4


def test_a_load_waiting_for_an_answer_to_end_can_be_cancelled(engine: Engine, base_model_path: Path) -> None:
    """A switch made while an answer streams waits for it ("answers once the answer being written ends"): its
    Cancel did nothing, and the new model took over when the answer ended (and was saved)."""
    from assistant.errors import ModelLoadCancelled
    from assistant.events import LOAD_WAITING

    before, cancel, waiting, failed = engine.info.path, threading.Event(), threading.Event(), []

    def load() -> None:
        try:
            engine.load(base_model_path, LoadSettings(n_ctx=256), cancel=cancel,
                        progress=lambda p: p.unit == LOAD_WAITING and waiting.set())
        except ModelLoadCancelled as exc:
            failed.append(exc)

    with engine._lock:  # what an answer being written holds
        loader = threading.Thread(target=load)
        loader.start()
        assert waiting.wait(60)
        cancel.set()
        loader.join(10)
        assert not loader.is_alive() and failed  # cancelled while the answer still goes on
    assert engine.info.path == before
    assert run(engine, QUESTION, max_tokens=4).stats.completion_tokens == 4


def test_next_token_logprobs_agree_with_greedy_decoding_and_reuse_the_prefix(engine: Engine) -> None:
    """What memory's yes/no questions read: a real distribution whose best token is the one greedy picks."""
    _prompt, tokens = engine.render([Message("user", "Is the sky blue? Answer yes or no.")])
    first = next(e for e in engine.generate(tokens, GREEDY, max_tokens=1) if isinstance(e, Token))
    chosen = engine.tokenize(first.text)[0]
    others = [t for t in range(200, 260) if t != chosen]
    logprobs = engine.next_token_logprobs(tokens, [chosen, *others])
    assert logprobs is not None and all(v <= 0 for v in logprobs)
    assert logprobs[0] == max(logprobs)  # greedy's token is the most likely of these
    assert engine.cached_tokens == len(tokens)  # the prompt stays cached for the next question behind it
    cancel = threading.Event()
    cancel.set()
    other_prompt = engine.render([Message("user", "Something else entirely, " * 40)])[1]
    assert engine.next_token_logprobs(other_prompt, [chosen], cancel) is None


@pytest.mark.parametrize("quit_signal", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_ctrl_c_during_a_load_stops_it_and_is_raised(chat_model_path: Path, quit_signal: str) -> None:
    """Python ran the interrupt inside a llama.cpp callback, where ctypes printed and dropped it: the load went
    on (``hearth serve`` then served). Now it stops the load and is raised once llama.cpp has returned; so do
    the SIGTERM and SIGHUP that ``hearth serve`` takes for a Ctrl+C."""
    import os
    import signal

    from assistant.engine import native

    if not hasattr(signal, quit_signal):
        pytest.skip(f"{quit_signal} does not exist on this system")
    number = getattr(signal, quit_signal)
    calls: list[float] = []

    def interrupt(_signum: int, _frame: object) -> None:  # as the CLI handles them (SIGTERM, SIGHUP: `hearth serve`)
        raise KeyboardInterrupt

    def progress(fraction: float) -> bool:
        if not calls:
            os.kill(os.getpid(), number)  # delivered while llama.cpp loads on this (the main) thread
        calls.append(fraction)
        return True

    previous = signal.signal(number, interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            native.NativeModel(str(chat_model_path), on_progress=progress)
        assert calls and calls[-1] < 1.0  # stopped before the end
        assert signal.getsignal(number) is interrupt  # put back
    finally:
        signal.signal(number, previous)


def test_ctrl_c_while_a_prompt_is_read_leaves_the_next_answer_working(chat_model_path: Path) -> None:
    """`hearth chat`'s Ctrl+C reaches the engine as KeyboardInterrupt while a prompt is read: the cache kept the
    batches read so far but Hearth's record of it did not, and the next question failed ("inconsistent
    sequence positions"). Run in a child process, as the signal goes to the whole process."""
    script = (
        "import os, signal, threading\n"
        "from assistant.engine import GREEDY, Engine, LoadSettings, Message\n"
        "e = Engine()\n"
        f"e.load({str(chat_model_path)!r}, LoadSettings(n_ctx=4096))\n"
        "_, long = e.render([Message('user', 'Summarise: ' + 'river stone cloud field ' * 800)])\n"
        "threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()\n"
        "try:\n"
        "    list(e.generate(long, GREEDY, 8))\n"
        "    print('not interrupted')\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
        "_, short = e.render([Message('user', 'What is 2+2?')])\n"
        "done = list(e.generate(short, GREEDY, 4))[-1]\n"
        "print('answered', done.stats.completion_tokens)\n"
    )
    out = run_python(script)
    assert out.stdout.split() == ["interrupted", "answered", "4"], out.stdout + out.stderr[-2000:]


def test_a_cancel_while_a_prompt_batch_is_read_stops_it_within_the_batch(chat_model_path: Path) -> None:
    """Stop was seen only between a prompt's batches: a batch of 2,048 tokens took about 9 s here (a 512-token
    one tens of seconds for a large model on a laptop's CPU), all of it read before the answer stopped. Now the
    batch is abandoned (llama.cpp's abort callback) and taken out of the cache, and the next answer reads its
    prompt from the start."""
    engine = Engine()
    engine.load(chat_model_path, LoadSettings(n_ctx=4096, n_batch=2048))
    try:
        _, long = engine.render([Message("user", "Summarise: " + "river stone cloud field " * 700)])
        assert len(long) > 2048  # two batches: the old code read the first whole, then saw the cancel
        cancel = threading.Event()
        threading.Timer(0.3, cancel.set).start()
        done = list(engine.generate(long, GREEDY, 8, cancel=cancel))[-1]
        assert isinstance(done, Done) and done.stats.stop_reason == "cancelled"
        assert done.stats.evaluated_tokens == 0 and done.stats.completion_tokens == 0
        _, short = engine.render([Message("user", "What is 2+2?")])
        after = list(engine.generate(short, GREEDY, 4))[-1]
        assert after.stats.reused_tokens == 0 and after.stats.completion_tokens == 4
        # the same answer as a fresh engine gives (what the cache holds is what Hearth thinks it holds)
        fresh = Engine()
        fresh.load(chat_model_path, LoadSettings(n_ctx=4096, n_batch=2048))
        try:
            assert list(fresh.generate(short, GREEDY, 4))[-1].text == after.text
        finally:
            fresh.unload()
    finally:
        engine.unload()


def test_a_long_prompt_says_how_far_it_is_read_and_a_reader_leaving_keeps_the_cache_true(
        chat_model_path: Path) -> None:
    """A prompt longer than a batch was read in silence (a long paste: a minute of "Thinking…" in the window, no
    byte to an API client): the engine says how far it is, with an ETA once a batch is read, before each batch.
    A reader that leaves between batches (an API client gone) leaves the cache holding what was read: the prompt
    asked again reads only the rest, and answers as a cold run does (the same batches, n_batch=64). Also when
    answers are decoded together (the API server's batching)."""
    settings = LoadSettings(n_ctx=2048, n_batch=64)
    engine, cold = Engine(), Engine()
    engine.load(chat_model_path, settings)
    cold.load(chat_model_path, settings)
    try:
        _, long = engine.render([Message("user", "Summarise: " + "river stone cloud field " * 80)])
        events = engine.generate(long, GREEDY, 8)
        said = list(itertools.islice((e for e in events if isinstance(e, Progress)), 3))
        events.close()
        assert [(p.done, p.total) for p in said] == [(0, len(long)), (64, len(long)), (128, len(long))]
        assert said[0].eta_s is None and said[2].eta_s is not None and said[2].eta_s > 0
        assert prompt_read_text(said[0]) == f"Reading the prompt ({len(long):,} tokens)…"
        assert prompt_read_text(said[2]).startswith(f"Reading the prompt: {128 / len(long):.0%}, about ")
        again = list(engine.generate(long, GREEDY, 8))
        done = again[-1]
        assert isinstance(done, Done) and done.stats.reused_tokens == 128
        assert [e.done for e in again if isinstance(e, Progress)][:2] == [0, 64]
        assert done.text == list(cold.generate(long, GREEDY, 8))[-1].text
        _, short = engine.render([Message("user", "What is 2+2?")])  # one batch: nothing to say
        assert not [e for e in engine.generate(short, GREEDY, 2) if isinstance(e, Progress)]
    finally:
        engine.unload()
        cold.unload()
    batched = Engine()
    batched.load(chat_model_path, LoadSettings(n_ctx=2048, n_batch=64, n_parallel=2))
    try:
        events = list(batched.generate(long, GREEDY, 8))
        said = [e for e in events if isinstance(e, Progress)]
        assert said[0].done == 0 and [p.done for p in said] == sorted({p.done for p in said}) and len(said) > 5
        assert all(p.total == len(long) for p in said) and isinstance(events[-1], Done)
    finally:
        batched.unload()


def test_the_reading_eta_follows_the_time_per_token_as_it_grows(monkeypatch: pytest.MonkeyPatch) -> None:
    """A token costs more the further into a prompt it is: from the average rate, a 7,500-token prompt's ETA said
    "about 17 s left" where 32 were, after its second batch (here: 31 s, then within a second to the end)."""
    import time

    from assistant.events import prompt_read

    clock = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])

    def cost(start: int, end: int) -> float:  # seconds to read tokens start..end: 1 ms each, growing with position
        return sum(0.001 * (1 + p / 2000) for p in range(start, end))

    total, step, marks = 8000, 500, []
    said = []
    for done in range(0, total, step):
        said.append(prompt_read(done, total, marks))
        clock[0] += cost(done, done + step)
    assert said[0].eta_s is None
    for progress in said[2:]:
        left = cost(progress.done, total)
        assert abs(progress.eta_s - left) < 0.05 * left, (progress.done, progress.eta_s, left)


def test_a_tiny_context_reads_prompts_in_whole_batches(chat_model_path: Path) -> None:
    """Asked for a context of 10 tokens, llama.cpp gave 256 cells but read prompts 10 tokens at a time."""
    from assistant.engine import Engine, LoadSettings

    engine = Engine()
    engine.load(chat_model_path, LoadSettings(n_ctx=10))
    try:
        assert engine.n_ctx == 256 and engine._loaded.ctx.n_batch == 256
    finally:
        engine.unload()


def test_a_context_smaller_than_the_batch_reads_a_long_prompt(chat_model_path: Path) -> None:
    """With a context of 300 tokens llama.cpp rounds the cache up to 512 cells but caps its batch at 300; a
    360-token prompt sent as one batch of the requested 512 aborted the whole app (GGML_ASSERT). Run in a child
    process: on the old code the abort would take the test run down with it."""
    script = (
        "import sys\n"
        "from assistant.engine import GREEDY, Engine, LoadSettings, Message\n"
        "e = Engine()\n"
        f"e.load({str(chat_model_path)!r}, LoadSettings(n_ctx=300))\n"
        "_, tokens = e.render([Message('user', 'Count the words: ' + 'stone ' * 340)])\n"
        "assert 300 < len(tokens) < e.n_ctx, (len(tokens), e.n_ctx)\n"
        "done = list(e.generate(tokens, GREEDY, 8))[-1]\n"
        "print('answered', done.stats.prompt_tokens)\n"
    )
    out = run_python(script)
    assert out.returncode == 0 and "answered" in out.stdout, out.stderr[-2000:]


def test_an_answer_cut_inside_a_character_drops_its_bytes() -> None:
    """max_tokens falling between the tokens of one emoji ended the answer (streamed and whole) in U+FFFD."""
    from types import SimpleNamespace

    from assistant.engine.engine import _Answer

    pieces = {1: b"Fire ", 2: "🔥".encode()[:2], 3: "🔥".encode()[2:]}
    model = SimpleNamespace(is_eog=lambda tok: False, piece=lambda tok: pieces[tok])
    cut = _Answer(model, (), max_tokens=2)
    shown = cut.add(1) + cut.add(2) + cut.finish()
    assert shown == "Fire " and "".join(cut.parts) == "Fire " and cut.stop_reason == "length"
    whole = _Answer(model, (), max_tokens=3)
    assert whole.add(1) + whole.add(2) + whole.add(3) + whole.finish() == "Fire 🔥"
