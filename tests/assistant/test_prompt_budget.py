"""The prompt budget: which turns a long chat keeps, and what finding that out costs."""

from __future__ import annotations

import itertools
import random

import pytest

from assistant.chat.prompt import CUT_CHARS_PER_CONTEXT_TOKEN, MIN_ANSWER_TOKENS, answer_floor, build_prompt
from assistant.engine.chat_format import FormattedPrompt, Message
from assistant.errors import ContextOverflowError


class CountingRender:
    """A template that costs one token per word plus four per message, and counts how often it is asked."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, messages: list[Message]) -> tuple[FormattedPrompt, list[int]]:
        self.calls += 1
        size = sum(4 + len(m.content.split()) for m in messages)
        text = "\n".join(f"{m.role}: {m.content}" for m in messages)
        return FormattedPrompt(text, (), uses_fallback=False), [0] * size


def chat(turns: int, seed: int = 0) -> list[Message]:
    rng = random.Random(seed)
    history: list[Message] = []
    for i in range(turns):
        history.append(Message("user", f"question {i} " + "word " * rng.randint(1, 40)))
        history.append(Message("assistant", f"answer {i} " + "word " * rng.randint(1, 300)))
    return history


def fewest_dropped(history: list[Message], n_ctx: int, max_tokens: int) -> int:
    """What dropping the oldest turn one at a time keeps: the reference the budget must agree with."""
    render = CountingRender()
    for dropped in range(len(history) // 2 + 1):
        kept = history[2 * dropped:]
        size = len(render([Message("system", "You are Hearth."), *kept, Message("user", "And now?")])[1])
        if n_ctx - size >= answer_floor(n_ctx, max_tokens) or (not kept and n_ctx - size >= MIN_ANSWER_TOKENS):
            return dropped
    raise AssertionError("nothing fits")


def assert_cut_near(history: list[Message], dropped: int, fewest: int, n_ctx: int) -> None:
    """The cut drops at least the fewest turns, and beyond them less than one block of the chat and one turn."""
    extra = sum(len(m.content) for m in history[2 * fewest:2 * dropped])
    longest = max((len(q.content) + len(a.content) for q, a in zip(history[::2], history[1::2], strict=True)),
                  default=0)
    assert fewest <= dropped and extra < n_ctx * CUT_CHARS_PER_CONTEXT_TOKEN + longest


def test_a_thousand_message_chat_is_fitted_in_a_few_renders_keeping_the_newest_turns() -> None:
    """Asking in a 1,000-message chat rendered and tokenized the whole chat once per dropped turn (50 s with the
    real tokenizer); the budget must find the same cut in a logarithmic number of renders."""
    history = chat(500)
    render = CountingRender()
    built = build_prompt(system="You are Hearth.", history=history, question="And now?", n_ctx=4096,
                         max_tokens=512, render=render)
    fewest = fewest_dropped(history, 4096, 512)
    assert fewest > 400
    assert_cut_near(history, built.dropped_turns, fewest, 4096)
    assert render.calls <= 13
    assert len(built.tokens) + built.max_tokens <= 4096 and built.max_tokens == 512
    assert "answer 499" in built.prompt.text and f"question {built.dropped_turns - 1} " not in built.prompt.text


@pytest.mark.parametrize("seed", range(20))
def test_the_cut_drops_what_dropping_turns_one_by_one_finds_and_less_than_a_block_more(seed: int) -> None:
    rng = random.Random(seed)
    history = chat(rng.randint(0, 60), seed)
    n_ctx, max_tokens = rng.choice([256, 1024, 2048]), rng.choice([64, 200, 512])
    try:
        expected = fewest_dropped(history, n_ctx, max_tokens)
    except AssertionError:
        with pytest.raises(ContextOverflowError):
            build_prompt(system="You are Hearth.", history=history, question="And now?", n_ctx=n_ctx,
                         max_tokens=max_tokens, render=CountingRender())
        return
    built = build_prompt(system="You are Hearth.", history=history, question="And now?", n_ctx=n_ctx,
                         max_tokens=max_tokens, render=CountingRender())
    assert_cut_near(history, built.dropped_turns, expected, n_ctx)
    assert len(built.tokens) + built.max_tokens <= n_ctx


def test_a_chat_longer_than_the_context_keeps_its_prompt_start_for_question_after_question() -> None:
    """The engine reuses the KV of the prompt up to its first difference. Cutting at the fewest turns moved the
    start of the prompt at every question once a chat outgrew the context, so every answer read the whole chat
    again; the cut now stays put while the chat grows by a block, then jumps a block."""
    history = chat(120, seed=7)
    cuts = []
    for asked in range(40, 121):
        built = build_prompt(system="You are Hearth.", history=history[:2 * asked], question="And now?",
                             n_ctx=4096, max_tokens=512, render=CountingRender())
        assert_cut_near(history, built.dropped_turns, fewest_dropped(history[:2 * asked], 4096, 512), 4096)
        cuts.append(built.dropped_turns)
    assert cuts == sorted(cuts) and cuts[-1] > 60  # a growing chat drops more and more of its oldest turns
    moves = sum(a != b for a, b in itertools.pairwise(cuts))
    assert moves <= len(cuts) // 4, cuts  # cutting at the fewest turns: a move at almost every question


def test_an_answer_limit_near_the_context_shortens_the_answer_before_it_drops_the_chat() -> None:
    """With Max answer tokens at the context length (1,024 of 1,024), every follow-up was asked with none of the
    conversation: all of the limit was reserved for the answer. The answer's room now shrinks to a quarter of the
    context first; a chat too long even then drops its oldest turns."""
    short = [Message("user", "My name is Zebulon."), Message("assistant", "Nice to meet you, Zebulon.")]
    built = build_prompt(system="You are Hearth.", history=short, question="What is my name?", n_ctx=1024,
                         max_tokens=1024, render=CountingRender())
    assert built.dropped_turns == 0 and built.max_tokens == 1024 - len(built.tokens)
    long = chat(12, seed=3)
    built = build_prompt(system="You are Hearth.", history=long, question="And now?", n_ctx=1024, max_tokens=900,
                         render=CountingRender())
    assert 0 < built.dropped_turns < 12 and 256 <= built.max_tokens == 1024 - len(built.tokens)
    # a last turn that leaves no room for any other is said plainly: the answer knew none of the chat
    pasted = [Message("user", "word " * 800), Message("assistant", "ok")]
    built = build_prompt(system="", history=pasted, question="And now?", n_ctx=1024, max_tokens=512,
                         render=CountingRender())
    assert built.kept_turns == 0 and built.dropped_turns == 1
    # a limit below a quarter of the context is reserved whole, as it was
    built = build_prompt(system="You are Hearth.", history=long, question="And now?", n_ctx=1024, max_tokens=100,
                         render=CountingRender())
    assert built.max_tokens == 100 and built.dropped_turns >= fewest_dropped(long, 1024, 100) > 0


def test_a_short_chat_that_fits_renders_once() -> None:
    render = CountingRender()
    built = build_prompt(system="You are Hearth.", history=chat(3), question="And now?", n_ctx=4096,
                         max_tokens=512, render=render)
    assert built.dropped_turns == 0 and render.calls == 1


def test_a_question_too_long_for_the_context_says_by_how_much() -> None:
    with pytest.raises(ContextOverflowError, match="needs 5004 tokens of prompt"):
        build_prompt(system="", history=chat(2), question="word " * 5000, n_ctx=4096, max_tokens=512,
                     render=CountingRender())
    # the room it asks for the answer is the smaller of max_tokens and 64: it said 64 to a request for 8
    with pytest.raises(ContextOverflowError, match="needs 5004 tokens of prompt and at least 8 for the answer"):
        build_prompt(system="", history=chat(2), question="word " * 5000, n_ctx=4096, max_tokens=8,
                     render=CountingRender())
