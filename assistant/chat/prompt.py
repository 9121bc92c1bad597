"""Build the prompt for one turn within the context window, explicitly.

Budget: system prompt + history + (memories + sources +) question + the tokens reserved for the answer must
fit ``n_ctx``. The answer's room shrinks first, from ``max_tokens`` down to :func:`answer_floor` (a quarter
of the context, or ``max_tokens`` if less); only then are the oldest turns dropped (a user message and its
answer together), and the number dropped is reported, never a silent truncation. Reserving all of
``max_tokens`` dropped every earlier turn of a chat whose limit was near the context (1,024 of 1,024: each
follow-up was asked with none of the conversation). If even the bare question does not fit, a
ContextOverflowError says by how much.

Where the cut falls decides what the engine can reuse: its KV cache holds the previous prompt, and only the
part before the first difference is kept. Cutting at the fewest turns moved the cut by a turn at every question
of a chat longer than the context, so each answer read the whole chat again (12 s before the first token on
this machine's 4k context). The cut therefore snaps forward to a fixed point of the chat (see
:func:`_stable_cut`), and stays there while the chat grows by about a quarter of the context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from assistant.engine.chat_format import QUESTION_LABEL, FormattedPrompt, Message
from assistant.errors import ContextOverflowError
from assistant.events import where_ctx

#: Never plan an answer shorter than this when squeezing the budget.
MIN_ANSWER_TOKENS = 64
#: Earlier turns are kept while the answer has at least this share of the context (or ``max_tokens`` if less).
ANSWER_SHARE_OF_CONTEXT = 0.25
#: The cut points of a long chat are a block of this many characters of messages per token of context apart
#: (one per token: about a quarter of the context at four characters a token). Dropping a few turns more than
#: needed keeps the prompt's start the same for the questions that follow, until the chat has grown by a block.
CUT_CHARS_PER_CONTEXT_TOKEN = 1


@dataclass(frozen=True)
class BuiltPrompt:
    prompt: FormattedPrompt
    tokens: list[int]
    max_tokens: int
    dropped_turns: int
    kept_turns: int = 0




def answer_floor(n_ctx: int, max_tokens: int) -> int:
    """The least room an answer keeps before earlier turns are dropped for it."""
    return min(max_tokens, max(MIN_ANSWER_TOKENS, int(n_ctx * ANSWER_SHARE_OF_CONTEXT)))


def build_prompt(
    *,
    system: str,
    history: list[Message],
    question: str,
    n_ctx: int,
    max_tokens: int,
    render: Callable[[list[Message]], tuple[FormattedPrompt, list[int]]],
    question_context: str = "",
    keep_all: bool = False,
    least: int = MIN_ANSWER_TOKENS,
) -> BuiltPrompt:
    """Fit ``system + history + question`` into ``n_ctx`` minus the answer reserve.

    ``render`` formats messages with the model's template and tokenizes them (the engine provides it).
    ``question_context`` (what memory recalls, retrieved passages) goes into the user turn right before the
    question: small models attend to it there far better than in the system prompt, and the system prompt and
    history stay the same from one question to the next, so the engine reuses their KV. (Memories in the system
    prompt changed its text whenever a question recalled others: the whole chat was evaluated again.) History
    keeps only the bare questions.

    ``keep_all``: the caller sent the whole conversation (a stateless API request), so dropping its oldest turns
    would answer another conversation than the one sent, unseen by a client that reads no notice: a history
    that does not fit is a ContextOverflowError, as OpenAI's API answers (the answer may still be shortened to
    the room left, as for a lone question). ``least``: the fewest tokens the answer may be shortened to; 1 where the
    caller set no length (an API request without ``max_tokens`` is answered into whatever room is left, as
    OpenAI's and llama.cpp's servers answer it; 33 tokens of room were refused as "at least 64 for the answer").
    """
    head = [Message("system", system)] if system else []
    tail = [Message("user", f"{question_context}\n\n{QUESTION_LABEL} {question}" if question_context else question)]
    turns = _group_turns(history)
    floor = answer_floor(n_ctx, max_tokens)

    def attempt(dropped: int) -> tuple[BuiltPrompt | None, int]:
        kept = [m for turn in turns[dropped:] for m in turn]
        prompt, tokens = render(head + kept + tail)
        room = n_ctx - len(tokens)
        if room >= floor or ((keep_all or not kept) and room >= least):
            return BuiltPrompt(prompt, tokens, min(max_tokens, room), dropped, len(turns) - dropped), len(tokens)
        return None, len(tokens)

    # Fewer turns never need more tokens, so the fewest turns to drop is found by bisection: a long chat costs
    # a dozen renders, not one per turn (dropping them one by one made a 1,000-message chat take 50 s to ask).
    best, size = attempt(0)
    if best is not None:
        return best
    reserve = min(max_tokens, least)  # what attempt() asks of the room (it said 64 to max_tokens=8)
    if keep_all and turns:
        raise ContextOverflowError(
            f"These messages need {size} tokens of prompt and at least {reserve} for the answer, but "
            f"the context holds {n_ctx}. Send fewer or shorter messages, or raise the context length "
            f"{where_ctx(size + reserve)}."
        )
    low, high = 1, len(turns)  # dropping ``high`` turns is the last resort; ``low - 1`` is known not to fit
    if turns:
        best, size = attempt(high)
    if best is None:
        raise ContextOverflowError(
            f"This message needs {size} tokens of prompt and at least {reserve} for the answer, "
            f"but the context holds {n_ctx}. Shorten it or raise the context length {where_ctx(size + reserve)}."
        )
    while low < high:
        middle = (low + high) // 2
        found, _ = attempt(middle)
        if found is None:
            low = middle + 1
        else:
            best, high = found, middle
    cut = _stable_cut(turns, high, n_ctx * CUT_CHARS_PER_CONTEXT_TOKEN)
    if cut != high:  # dropping more never needs more tokens: it fits
        best, _ = attempt(cut)
    assert best is not None
    return best


def _stable_cut(turns: list[list[Message]], fewest: int, block_chars: int) -> int:
    """The first cut point at or after turn ``fewest``: a turn that begins a new block of ``block_chars``
    characters, counted from the start of the chat. The points depend only on the turns before them, so the
    same cut is chosen again as the chat grows, and the prompt starts the same until ``fewest`` passes it.
    Without a point ahead (turns longer than a block each) the cut is ``fewest``."""
    start, blocks = 0, []
    for turn in turns:
        blocks.append(start // block_chars)
        start += sum(len(m.content) for m in turn)
    return next((i for i in range(fewest, len(turns)) if i == 0 or blocks[i] != blocks[i - 1]), fewest)


def _group_turns(history: list[Message]) -> list[list[Message]]:
    """Group messages into turns (a user message plus the replies that follow it), oldest first."""
    turns: list[list[Message]] = []
    for m in history:
        if m.role == "system":
            continue
        if m.role == "user" or not turns:
            turns.append([m])
        else:
            turns[-1].append(m)
    return turns
