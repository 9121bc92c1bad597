"""The prompt budget: which turns a long chat keeps, and what finding that out costs."""

from __future__ import annotations

import random

import pytest

from assistant.chat.prompt import MIN_ANSWER_TOKENS, build_prompt
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
        if n_ctx - size >= max_tokens or (not kept and n_ctx - size >= MIN_ANSWER_TOKENS):
            return dropped
    raise AssertionError("nothing fits")


def test_a_thousand_message_chat_is_fitted_in_a_few_renders_keeping_the_newest_turns() -> None:
    """Asking in a 1,000-message chat rendered and tokenized the whole chat once per dropped turn (50 s with the
    real tokenizer); the budget must find the same cut in a logarithmic number of renders."""
    history = chat(500)
    render = CountingRender()
    built = build_prompt(system="You are Hearth.", history=history, question="And now?", n_ctx=4096,
                         max_tokens=512, render=render)
    assert built.dropped_turns == fewest_dropped(history, 4096, 512) > 400
    assert render.calls <= 12
    assert len(built.tokens) + built.max_tokens <= 4096 and built.max_tokens == 512
    assert "answer 499" in built.prompt.text and f"question {built.dropped_turns - 1} " not in built.prompt.text


@pytest.mark.parametrize("seed", range(20))
def test_the_cut_is_the_one_dropping_turns_one_by_one_finds(seed: int) -> None:
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
    assert built.dropped_turns == expected


def test_a_short_chat_that_fits_renders_once() -> None:
    render = CountingRender()
    built = build_prompt(system="You are Hearth.", history=chat(3), question="And now?", n_ctx=4096,
                         max_tokens=512, render=render)
    assert built.dropped_turns == 0 and render.calls == 1


def test_a_question_too_long_for_the_context_says_by_how_much() -> None:
    with pytest.raises(ContextOverflowError, match="needs 5004 tokens of prompt"):
        build_prompt(system="", history=chat(2), question="word " * 5000, n_ctx=4096, max_tokens=512,
                     render=CountingRender())
