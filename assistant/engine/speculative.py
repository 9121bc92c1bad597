"""Speculative decoding: the settings, and drafters that guess the next tokens for the engine to verify.

Why: one decode step costs nearly the same for one token or a few when decoding is memory-bound, so if a
cheap guess of the next k tokens is often right, checking the guess in one batch yields several tokens per
step. The engine keeps a drafted token only where the model itself would have chosen it (greedy), so the
answer is the one plain decoding gives (up to llama.cpp's batch noise, see README "A note on exactness").
The verify loop lives in ``engine.py``; this module only holds what proposes tokens.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

#: Modes this build supports ("draft", "self" and "auto" come with the draft-model and self-speculation drafters).
SPECULATIVE_MODES = ("off", "ngram")


@dataclass(frozen=True)
class SpeculativeParams:
    """How to decode: ``mode`` "off" (one token per step) or "ngram" (prompt-lookup drafts of up to
    ``max_draft`` tokens per verify step)."""

    mode: str = "off"
    max_draft: int = 8

    def __post_init__(self) -> None:
        if self.mode not in SPECULATIVE_MODES:
            raise ValueError(f"Unknown speculative mode {self.mode!r}; choose one of {', '.join(SPECULATIVE_MODES)}.")
        if self.max_draft < 1:
            raise ValueError(f"The draft length must be at least 1 token, not {self.max_draft}.")


#: Plain decoding, one token per step (the default).
SPECULATION_OFF = SpeculativeParams()


class Drafter(Protocol):
    """Proposes the next tokens of an answer. It follows the token history through ``begin`` and ``accept``;
    a wrong guess costs only verify compute, never correctness."""

    def begin(self, prompt: Sequence[int]) -> None:
        """A new answer starts after ``prompt`` (the whole prompt, including any cached prefix)."""

    def accept(self, tokens: Sequence[int]) -> None:
        """``tokens`` were chosen by the model and now follow the history."""

    def propose(self, k: int) -> list[int]:
        """Up to ``k`` tokens that may follow the history; empty when there is no good guess."""


class NgramDrafter:
    """Prompt-lookup drafting: if the last n tokens occurred before, guess what followed them then.

    One table maps every n-gram (n = ``min_n``..``max_n``) of the history to the token that most recently
    followed it. A draft is built by chaining look-ups, longest n-gram first. Single tokens (``min_n=1``)
    are not used by default: on a compute-bound CPU every rejected draft token costs about half a decode step,
    and one shared token guesses right too rarely to pay for that (measured: open chat 0.82x of plain with
    them, 0.93x without; quoting a paragraph about 1.7x either way). Answers that quote the prompt
    (a source passage, a paragraph to rewrite, code to edit) repeat long runs of it, which is where this
    drafter wins. The table is kept across answers (bounded, least recently updated n-grams dropped first),
    so a follow-up turn still knows the earlier ones, and ``begin`` indexes only the part of a new prompt that
    differs from the history it saw last (a follow-up turn shares its whole past), as the KV cache does.
    """

    def __init__(self, max_n: int = 3, min_n: int = 2, capacity: int = 200_000) -> None:
        assert 1 <= min_n <= max_n
        self.max_n, self.min_n, self.capacity = max_n, min_n, capacity
        self._next: OrderedDict[tuple[int, ...], int] = OrderedDict()
        self._history: list[int] = []

    def __len__(self) -> int:
        return len(self._next)

    def begin(self, prompt: Sequence[int]) -> None:
        history = self._history
        keep, limit = 0, min(len(history), len(prompt))
        while keep < limit and history[keep] == prompt[keep]:
            keep += 1
        del history[keep:]
        self.accept(prompt[keep:])

    def accept(self, tokens: Sequence[int]) -> None:
        history, table = self._history, self._next
        for tok in tokens:
            for n in range(self.min_n, min(self.max_n, len(history)) + 1):
                key = tuple(history[-n:])
                table[key] = tok
                table.move_to_end(key)  # the most recent continuation wins, and it is the freshest entry
            history.append(tok)
        while len(table) > self.capacity:
            table.popitem(last=False)

    def propose(self, k: int) -> list[int]:
        table, tail, draft = self._next, self._history[-self.max_n:], []
        while len(draft) < k:
            for n in range(min(self.max_n, len(tail)), self.min_n - 1, -1):
                nxt = table.get(tuple(tail[-n:]))
                if nxt is not None:
                    break
            else:
                break  # no n-gram of the tail was seen before: stop guessing
            draft.append(nxt)
            tail.append(nxt)
        return draft
