"""Speculative decoding: the settings, and drafters that guess the next tokens for the engine to verify.

Why: one decode step costs nearly the same for one token or a few when decoding is memory-bound, so if a
cheap guess of the next k tokens is often right, checking the guess in one batch yields several tokens per
step. The engine keeps a drafted token only where the model itself would have chosen it (greedy), so the
answer is the one plain decoding gives (up to llama.cpp's batch noise, see README "A note on exactness").
The verify loop lives in ``engine.py``; this module only holds what proposes tokens.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from assistant.config import SPECULATIVE_MODES


@dataclass(frozen=True)
class SpeculativeParams:
    """How to decode: ``mode`` (one of SPECULATIVE_MODES), drafting up to ``max_draft`` tokens per verify step.
    ``asked``: the mode was asked for one call (``hearth ask --speculative``), not taken from the settings: it
    must work or say why, even when the settings hold the same mode (those fall back to plain decoding)."""

    mode: str = "auto"
    max_draft: int = 8
    asked: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in SPECULATIVE_MODES:
            raise ValueError(f"Unknown speculative mode {self.mode!r}; choose one of {', '.join(SPECULATIVE_MODES)}.")
        if self.max_draft < 1:
            raise ValueError(f"The draft length must be at least 1 token, not {self.max_draft}.")


#: Plain decoding, one token per step.
SPECULATION_OFF = SpeculativeParams("off")


@dataclass(frozen=True)
class DraftTiming:
    """What one draft of a model drafter cost, in its two parts. ``first_s``: catching up on the tokens the
    target added since the last draft (one or two) and choosing the first drafted token; None when the draft
    first read a new prompt (one-off work, timed as the drafter's ``setup_s``). ``more_s``: evaluating and
    choosing the ``more`` tokens after the first. Why two parts: the catch-up is paid once per step whatever
    the length, so a cost per drafted token taken from 1-token drafts made every longer draft look dearer than
    it is, and the draft mode stayed at 1 token where 3-5 pay more (`hearth bench speculative`)."""

    first_s: float | None
    more_s: float
    more: int


class Drafter(Protocol):
    """Proposes the next tokens of an answer. It follows the token history through ``begin`` and ``accept``;
    a wrong guess costs only verify compute, never correctness. ``name`` is what the stats call it;
    ``lookup``: proposing is a cheap search (true) rather than decoding with a model, token by token (false);
    a model drafter also says with ``behind()`` how many history tokens it must read before it can draft, and
    what its last draft cost in ``timing`` (a ``DraftTiming``)."""

    name: str
    lookup: bool

    def begin(self, prompt: Sequence[int]) -> None:
        """A new answer starts after ``prompt`` (the whole prompt, including any cached prefix)."""

    def accept(self, tokens: Sequence[int]) -> None:
        """``tokens`` were chosen by the model and now follow the history."""

    def propose(self, k: int) -> list[int]:
        """Up to ``k`` tokens that may follow the history; empty when there is no good guess."""


#: n-gram length from which a lookup draft counts as quoting (its acceptance is kept apart from shorter matches')
LONG_MATCH = 3


class NgramDrafter:
    """Prompt-lookup drafting: if the last n tokens occurred before, guess what followed them then, but only
    when the history is confident about it.

    One table maps every n-gram (n = ``min_n``..``max_n``) of the history to how often each token followed
    it. A draft is built token by token, longest n-gram first: a continuation is drafted when it followed that
    n-gram at least ``MIN_SEEN[n]`` times in all and in at least ``MIN_SHARE[n]`` of them (ties: the most
    recent); otherwise the next shorter n-gram is asked, and when none is sure the draft ends. Why counts and
    not just the last continuation: on a compute-bound CPU every rejected draft token costs most of a decode
    step, so a guess must be likely. A long match seen once is (a quoted sentence continues as it did); a short
    one must have repeated (", the" is followed by many words, "Harwick Canal" keeps being followed by " was").
    The thresholds follow llama.cpp's lookup decoding (its context cache, "lax" thresholds).

    Answers that quote the prompt (a source passage, a paragraph to rewrite, code to edit) repeat long runs of
    it, which is where this drafter wins. The table is kept across answers (bounded, least recently updated
    n-grams dropped first), so a follow-up turn still knows the earlier ones, and ``begin`` indexes only the part
    of a new prompt that differs from the history it saw last (a follow-up turn shares its whole past), as the
    KV cache does. A prompt that does not contain the last prompt whole starts another conversation: the table
    starts again from it, so one conversation's answers are not drafted into another's (a long match seen once
    is drafted, and an answer opening the way an earlier one did drafted that answer's next words).
    """

    name = "ngram"
    lookup = True
    #: what the acceptance of the last draft is counted under: a draft that starts from a long match (quoting)
    #: is accepted far more often than one from a short match (open text), and auto must not judge either by
    #: the other (see ``SpeedModel``)
    acceptance_key = "ngram:long"
    #: by n - 1: how often an n-gram must have been seen, and what share of those its continuation must have had
    MIN_SEEN = (2, 2, 1, 1)
    MIN_SHARE = (0.66, 0.5, 0.5, 0.5)

    def __init__(self, max_n: int = 4, min_n: int = 1, capacity: int = 200_000) -> None:
        assert 1 <= min_n <= max_n <= len(self.MIN_SEEN)
        self.max_n, self.min_n, self.capacity = max_n, min_n, capacity
        #: n-gram -> {next token: times seen}, each dict ordered from least to most recently seen
        self._next: OrderedDict[tuple[int, ...], dict[int, int]] = OrderedDict()
        self._history: list[int] = []
        self._prompt_len = 0  # the last prompt's length: a follow-up turn's prompt begins with all of it

    def __len__(self) -> int:
        return len(self._next)

    def begin(self, prompt: Sequence[int]) -> None:
        history = self._history
        keep, limit = 0, min(len(history), len(prompt))
        while keep < limit and history[keep] == prompt[keep]:
            keep += 1
        if keep < self._prompt_len:  # another conversation (its answers may differ in tokens: not checked)
            self._next.clear()
            keep = 0
        del history[keep:]
        self._prompt_len = len(prompt)
        self.accept(prompt[keep:])

    def accept(self, tokens: Sequence[int]) -> None:
        history, table = self._history, self._next
        for tok in tokens:
            for n in range(self.min_n, min(self.max_n, len(history)) + 1):
                key = tuple(history[-n:])
                counts = table.get(key)
                if counts is None:
                    table[key] = {tok: 1}
                else:
                    counts[tok] = counts.pop(tok, 0) + 1  # re-inserted: the last entry is the most recent
                    table.move_to_end(key)
            history.append(tok)
        while len(table) > self.capacity:
            table.popitem(last=False)

    def _guess(self, tail: list[int]) -> tuple[int, int] | None:
        """The continuation of ``tail`` the table is sure enough of, asking the longest n-gram first, and the
        length of the n-gram that vouched for it."""
        table = self._next
        for n in range(min(self.max_n, len(tail)), self.min_n - 1, -1):
            counts = table.get(tuple(tail[-n:]))
            if counts is None:
                continue
            best, seen, total = -1, 0, 0
            for tok, count in counts.items():
                total += count
                if count >= seen:
                    best, seen = tok, count
            if total >= self.MIN_SEEN[n - 1] and seen >= self.MIN_SHARE[n - 1] * total:
                return best, n
        return None

    def propose(self, k: int) -> list[int]:
        tail, draft, longest = self._history[-self.max_n:], [], 0
        while len(draft) < k:
            guess = self._guess(tail)
            if guess is None:
                break  # nothing the history is sure of: stop guessing
            draft.append(guess[0])
            tail.append(guess[0])
            longest = max(longest, guess[1])
        self.acceptance_key = "ngram:long" if longest >= LONG_MATCH else "ngram:short"
        return draft


class SpeedModel:
    """What speculation costs and earns on the loaded model, measured while it runs (kept across answers,
    started afresh when a model loads).

    - ``plain_s``: seconds of a plain decode step (one token; sampling and detokenising included), as an
      exponential moving average. It grows with the context (attention reads every cached token: on a 135M
      model a 300-token prompt makes steps ~25% slower than a 40-token one), so each answer's first steps
      measure it again and it follows every plain step after that;
    - ``ratio[n]``: what an n-token verify step costs relative to a plain step at the same time (relative, so
      it carries over between answers of different lengths);
    - per drafter: what drafting costs relative to a plain step (a draft model's step grows with the context
      too): for a draft model its first token (with the catch-up every step begins with) and each further
      token, for a lookup its search time per step; and the acceptance rate as decayed counts of tokens
      accepted and of misses (a draft is accepted token by token until the first miss, so acceptance =
      hits / (hits + misses) is the chance that the next drafted token is accepted).

    From these, ``best`` picks the draft length that yields the most tokens per second: verifying a draft of
    L tokens costs ``step(L + 1) + first + (L - 1) * more + look`` and yields ``1 + a + a^2 + ... + a^L``
    tokens on average (acceptance ``a``), against one token per ``plain_s`` for plain decoding.
    """

    EWMA = 0.25  # weight of the newest measurement
    DECAY = 0.95  # per observation, for acceptance counts: recent drafts count most
    PRIOR_SLOPE = 0.25  # until two multi-token sizes are timed: each further token costs 1/4 of a plain step
    PRIOR_ACCEPTANCE = (1.0, 1.0)  # hits, misses: acceptance 0.5 until measured
    #: what earlier answers' acceptance weighs at the start of a new one: this many drafted tokens' worth (its
    #: rate kept). A new question can be a different kind of text: after three quoting answers, open chat started
    #: with the lookup's acceptance at 95% over ~70 tokens of evidence, drafted 6, 4, 2 tokens that all missed and
    #: still believed 90%; at 4 tokens' worth three misses bring it to about 50%, where drafting stops paying.
    CARRY = 4.0

    def __init__(self) -> None:
        self.plain_s: float | None = None  # the yardstick (None until measured)
        self.ratio: dict[int, float] = {}
        #: per model drafter, a drafted token after the first, and the first with its catch-up, per plain step
        self.draft_ratio: dict[str, float] = {}
        self.draft_first: dict[str, float] = {}
        self.look_s: dict[str, float] = {}
        #: per model drafter, seconds per token it evaluates in one batch to catch up with the history
        self.catchup_s: dict[str, float] = {}
        self._hits: dict[str, float] = {}
        self._misses: dict[str, float] = {}
        self.answer_plain_steps = 0  # plain steps timed in the current answer

    def begin_answer(self) -> None:
        self.answer_plain_steps = 0
        for key, hits in self._hits.items():
            total = hits + self._misses[key]
            if total > self.CARRY:
                self._hits[key], self._misses[key] = hits * self.CARRY / total, self._misses[key] * self.CARRY / total

    def _average(self, table: dict, key: object, value: float) -> None:
        old = table.get(key)
        table[key] = value if old is None else old + self.EWMA * (value - old)

    def observe_step(self, n: int, seconds: float) -> None:
        if n == 1:
            # the first plain step of an answer replaces the estimate: the context may be much longer now
            first = self.plain_s is None or self.answer_plain_steps == 0
            self.plain_s = seconds if first else self.plain_s + self.EWMA * (seconds - self.plain_s)
            self.answer_plain_steps += 1
        elif self.plain_s is not None:
            self._average(self.ratio, n, seconds / self.plain_s)

    def observe_plain_answer(self, tokens: int, seconds: float) -> None:
        """A whole plain answer: its mean step time is the plain speed at its mean context."""
        if tokens >= 4:
            self.plain_s = seconds / tokens

    def observe_catchup(self, name: str, tokens: int, seconds: float) -> None:
        if tokens > 0:
            self._average(self.catchup_s, name, seconds / tokens)

    def observe_look(self, name: str, seconds: float) -> None:
        self._average(self.look_s, name, seconds)

    def observe_draft(self, name: str, drafted: int, accepted: int, missed: bool, timing: DraftTiming | None,
                      key: str | None = None) -> None:
        """``timing``: what a model drafter's draft cost (None for lookups, timed by ``observe_look``);
        ``key``: what the acceptance is counted under (default: ``name``)."""
        if drafted and timing is not None and self.plain_s:
            if timing.first_s is not None:
                self._average(self.draft_first, name, timing.first_s / self.plain_s)
            if timing.more:
                self._average(self.draft_ratio, name, timing.more_s / timing.more / self.plain_s)
        prior_hits, prior_misses = self.PRIOR_ACCEPTANCE
        key = key or name
        self._hits[key] = self._hits.get(key, prior_hits) * self.DECAY + accepted
        self._misses[key] = self._misses.get(key, prior_misses) * self.DECAY + missed

    def acceptance(self, name: str) -> float:
        hits = self._hits.get(name, self.PRIOR_ACCEPTANCE[0])
        return hits / (hits + self._misses.get(name, self.PRIOR_ACCEPTANCE[1]))

    def step(self, n: int) -> float:
        """Seconds for an n-token step now: measured relative to a plain step, else interpolated between the
        nearest measured sizes, else (beyond the largest) extended by the slope across the measured multi-token
        sizes, or by ``PRIOR_SLOPE`` while only one is measured. Why not one line through the plain step: on a
        CPU the first extra token costs most (one token takes llama.cpp's matrix-vector path; a 2-token step
        cost 1.8 plain steps on a 2-core AMD EPYC, a 9-token one 5.0), so that line priced a long draft at
        7.7 steps, auto never tried one, never measured one, and left quoting answers plain."""
        if n == 1:
            return self.plain_s
        if n in self.ratio:
            return self.plain_s * self.ratio[n]
        points = sorted([(1, 1.0), *self.ratio.items()])
        below = [p for p in points if p[0] < n][-1]
        above = next((p for p in points if p[0] > n), None)
        if above is not None:
            return self.plain_s * (below[1] + (above[1] - below[1]) * (n - below[0]) / (above[0] - below[0]))
        multi = points[1:]
        slope = (multi[-1][1] - multi[0][1]) / (multi[-1][0] - multi[0][0]) if len(multi) > 1 else self.PRIOR_SLOPE
        return self.plain_s * (below[1] + max(slope, 0.0) * (n - below[0]))

    def best(self, name: str, most: int, draft_ratio: float, key: str | None = None) -> tuple[int, float]:
        """The draft length (1..most) with the highest expected speed-up over plain decoding, and that speed-up
        (below 1 where even the best length is slower than plain decoding; (0, 1.0) when ``most`` < 1).

        ``draft_ratio``: a drafted token's cost relative to a plain step where this drafter was not timed yet
        (0 for lookup, an estimate from the model sizes for a draft model). A lookup's search time, and a
        draft model's catch-up, are paid once per step.
        """
        plain = self.plain_s
        a = min(self.acceptance(key or name), 0.999)
        first = self.draft_first.get(name, draft_ratio) * plain
        more = self.draft_ratio.get(name, draft_ratio) * plain
        look = self.look_s.get(name, 0.0)
        best_len, best_gain = 0, 0.0
        expected = 1.0  # 1 + a + ... + a^L
        for length in range(1, most + 1):
            expected += a ** length
            gain = expected * plain / (self.step(length + 1) + first + (length - 1) * more + look)
            if gain > best_gain:
                best_len, best_gain = length, gain
        return (best_len, best_gain) if best_len else (0, 1.0)


def _key(drafter: Drafter) -> str:
    """What the acceptance of ``drafter``'s current draft is counted under."""
    return getattr(drafter, "acceptance_key", drafter.name)


def _timing(drafter: Drafter) -> DraftTiming | None:
    """What ``drafter``'s last draft cost, for a model drafter (a lookup's search is timed per look)."""
    return None if drafter.lookup else drafter.timing


class FixedPolicy:
    """A mode the user chose (ngram, draft, self): always draft with its drafter, the length adapted to how
    well it guesses this answer: double after a full accept; after a miss, a draft model's length halves (each
    of its tokens costs a decode step of the draft model) and a lookup's shrinks by one (its drafts cost
    nothing to make, and a quote that missed once usually goes on: halving cut a rewrite's acceptance from 74%
    to 66% and its speed-up from 1.37x to 1.22x, `hearth bench speculative`). Within that cap, once plain steps
    are timed, it drafts the length the SpeedModel expects to be fastest (forced ngram on the Q4_1: open chat
    0.86 -> 0.97x, a rewrite 1.37 -> 1.25x; forced draft on the F16, once a draft model's catch-up counted
    once per step: 3-5 tokens per step on quoting answers, not 2: the README's speculative table has every row)."""

    def __init__(self, drafter: Drafter, max_draft: int, speed: SpeedModel) -> None:
        self.drafters, self.max_draft, self.speed, self.k = (drafter,), max_draft, speed, max_draft

    def plan(self, room: int, remaining: int = 0) -> tuple[Drafter | None, list[int]]:
        drafter, speed = self.drafters[0], self.speed
        k = min(self.k, room)
        if speed.plain_s is None or not (drafter.lookup or drafter.name in speed.draft_ratio):
            return drafter, drafter.propose(k)  # nothing measured yet: the cap alone decides
        # Within the cap, the length that the measured costs and acceptance say yields the most tokens per second
        # (even where plain decoding would be faster: this mode was chosen). A lookup proposes first (its
        # acceptance is counted by the kind of match the proposal starts from); a draft model pays a decode step
        # per drafted token after the first, so it is asked for that length only.
        if drafter.lookup:
            proposal = drafter.propose(k)
            return drafter, proposal[: speed.best(drafter.name, len(proposal), 0.0, _key(drafter))[0]]
        return drafter, drafter.propose(speed.best(drafter.name, k, 1.0, _key(drafter))[0])

    def observe(self, drafter: Drafter | None, drafted: int, accepted: int, missed: bool, step_s: float,
                chosen: Sequence[int] = ()) -> None:
        """As ``AutoPolicy.observe``; this mode always drafts, so the ``chosen`` tokens teach it nothing more."""
        self.speed.observe_step(drafted + 1, step_s)
        if drafter is not None:
            self.speed.observe_draft(drafter.name, drafted, accepted, missed, _timing(drafter), _key(drafter))
        if drafted and accepted == drafted:
            self.k = min(self.max_draft, 2 * self.k)
        elif drafted:
            self.k = max(1, self.k - 1 if drafter is not None and drafter.lookup else self.k // 2)


class AutoPolicy:
    """Auto mode: draft only while drafting is measurably faster than plain decoding on this model.

    Calibration: the first steps of every answer are plain, to time a plain step at this answer's context
    length (which sets what every other cost is compared with). After that, each step
    asks the SpeedModel which drafter and draft length promise the most tokens per second, counting what a
    draft costs (a lookup's search time, a draft model's decode steps, the bigger verify batch) against what
    it is expected to yield, and decodes plainly when no drafter beats plain by 2%. A drafter that loses
    rests for ``backoff`` steps, then gets one short probe draft to measure it again (acceptance is only
    measured while drafting); a probe that loses doubles its rest, up to 256 steps, one that wins ends it. A
    probe wins when its draft was accepted and, with that, the SpeedModel expects drafting to pay at some
    length: judged by the probe step's own time, a 1-token probe could never win where a 2-token step costs
    nearly two plain ones (a 2-core AMD EPYC here), though 4-8-token quotes pay there, and auto stayed plain
    on every quoting answer. Resting saves what asking costs: a draft model's catch-up, a slow lookup's search.
    A lookup whose search is nearly free is still asked while it rests and drafts a proposal that promises at
    least ``REST_GAIN`` (a long quote after a short guess lost; at the usual 2% bar open chat's own repeats kept
    drafting and missing, 0.90-0.94x plain), and it is never probed: its shadow drafts (below) measure its
    acceptance at every step for free, and each probe of it on open chat was a 2-token step (1.8 plain steps
    here) that missed three times in four. Wrong guesses cost time, never correctness.

    A lookup's proposal that is not drafted is still scored, as a *shadow draft*: the tokens the model then
    chooses show how much of it would have been accepted, and that counts in its acceptance like a real draft
    (for sampled decoding too: a lookup proposes one token for certain, which rejection sampling accepts with
    the model's probability of it, the chance that the model samples it). Acceptance was otherwise measured only
    while drafting, so a rate learned on open chat (37%) stayed with the quoting answers after it: auto drafted
    3 tokens per answer on them for the rest of a benchmark run, where forced lookup drafting ran at 1.26x.
    A shadow that comes true whole also grows the drafter's longest draft, as a draft accepted whole does, and
    a rest that ends is judged by the usual bar: after two misses a lookup's longest draft was 1 token, whose
    1.05x never met the resting bar, so it rested on for the rest of the answer while every 8-token proposal
    came true (the benchmark's code edit, 40 steps plain; replayed offline over 12 prompts' greedy answers with
    the measured step costs, auto went from 1.13x to 1.18x plain on the four benchmark workloads and from
    1.34x to 1.36x on eight others, code edits most: 1.15x to 1.27x).
    """

    CALIBRATION_STEPS = 3
    MIN_GAIN = 1.02
    PROBE_LENGTH = 1
    #: a lookup whose search costs at most this share of a plain step is asked even while it rests
    FREE_LOOK = 0.02
    #: the expected gain a resting lookup's proposal must promise to be drafted
    REST_GAIN = 1.2
    FIRST_BACKOFF, MAX_BACKOFF = 16, 256
    #: a draft model's catch-up cost per token relative to a plain step, until measured (a batch evaluation
    #: of a smaller model), and the most answer tokens a catch-up is expected to pay off over
    CATCHUP_PRIOR, PAYOFF_TOKENS = 0.3, 256

    def __init__(self, drafters: Sequence[Drafter], max_draft: int, speed: SpeedModel,
                 draft_cost: dict[str, float]) -> None:
        """``draft_cost``: for model drafters, a drafted token's expected cost relative to a plain step (from
        the model sizes) until their drafting is timed; lookup drafters are timed per look."""
        self.drafters, self.max_draft, self.speed, self.draft_cost = tuple(drafters), max_draft, speed, draft_cost
        self._rest = dict.fromkeys((d.name for d in drafters), 0)  # steps a drafter still sits out
        self._probe_due: set[str] = set()  # drafters whose rest ended: their next draft is a probe
        self._backoff = dict.fromkeys((d.name for d in drafters), self.FIRST_BACKOFF)
        #: per drafter, the longest draft it may make now: halved after a miss, doubled after a full accept. The
        #: acceptance rate learns over many drafts; this reacts at once when the text turns into something the
        #: drafter guesses worse (an answer stops quoting, a new kind of question), as in FixedPolicy.
        self._cap = dict.fromkeys((d.name for d in drafters), max_draft)
        self._probe: Drafter | None = None  # the drafter being probed in the current step
        #: per lookup, the part of a proposal it made that was not drafted still to be scored against the tokens
        #: the model chooses, its acceptance key and the tokens of it the model already chose
        self._shadow: dict[str, tuple[list[int], str, int]] = {}
        self.best_seen: tuple[float, str] | None = None  # the best expected gain of a drafter that lost
        self.chosen_steps = 0  # steps drafted because drafting promised to be faster (probes not counted)

    def plan(self, room: int, remaining: int = 0) -> tuple[Drafter | None, list[int]]:
        """The drafter and draft for the next step (None, [] for a plain step). ``room``: the most tokens a
        draft may have; ``remaining``: the tokens the answer may still use (what a catch-up can pay off over)."""
        speed = self.speed
        self._probe = None
        if speed.plain_s is None or speed.answer_plain_steps < self.CALIBRATION_STEPS:
            return None, []  # each answer first measures plain steps at its own context length
        most = min(room, self.max_draft)
        options: list[tuple[float, int, Drafter, list[int] | None, float]] = []
        for drafter in self.drafters:
            name = drafter.name
            longest = min(most, self._cap[name])
            if self._rest[name] > 0:
                self._rest[name] -= 1
                if self._rest[name] == 0:
                    self._probe_due.add(name)
                elif not self._free(drafter):
                    continue
            resting = self._rest[name] > 0  # a rest that ends now is over: the usual bar applies
            proposal = None  # a draft model: decide the length first, it pays per drafted token
            if drafter.lookup:  # a lookup: see what it proposes (its search time counts against it)
                started = time.perf_counter()
                proposal = drafter.propose(longest)
                speed.observe_look(name, time.perf_counter() - started)
                if not proposal:
                    continue
                self._shadow.setdefault(name, (proposal, _key(drafter), 0))  # dropped below if it is drafted
            length, gain = speed.best(name, len(proposal) if proposal is not None else longest,
                                      self._prior_cost(drafter), _key(drafter))
            if not self._worth_catching_up(drafter, gain, remaining):
                self._sit_out(drafter, gain)
                continue
            if name in self._probe_due and gain < self.MIN_GAIN:  # its rest is over: measure it again, briefly
                self._probe_due.discard(name)
                if not self._free(drafter):  # a free lookup needs no probe: its shadows measure it every step
                    self._probe = drafter
                    return self._draft(drafter, proposal, self.PROBE_LENGTH)
            options.append((gain, length, drafter, proposal, self.REST_GAIN if resting else self.MIN_GAIN))
        for gain, length, drafter, proposal, needed in sorted(options, key=lambda o: -o[0]):
            if gain >= needed:
                self.chosen_steps += 1
                self._rest[drafter.name] = 0  # a (free) lookup that pays while resting: the rest is over
                self._probe_due.discard(drafter.name)
                return self._draft(drafter, proposal, length)
            self._sit_out(drafter, gain)
        return None, []

    def _prior_cost(self, drafter: Drafter) -> float:
        """A drafted token's cost relative to a plain step until timed: 0 for a lookup (its search is timed per
        look), the estimate from the model sizes for a draft model."""
        return 0.0 if drafter.lookup else self.draft_cost.get(drafter.name, 1.0)

    def _free(self, drafter: Drafter) -> bool:
        """A lookup whose search costs next to nothing: resting would save nothing."""
        return drafter.lookup and self.speed.look_s.get(drafter.name, 0.0) <= self.FREE_LOOK * self.speed.plain_s

    def _sit_out(self, drafter: Drafter, gain: float) -> None:
        """``drafter`` loses this step (expected ``gain`` too small): remember the best loser for the stats,
        and rest it for its current backoff unless it is resting already."""
        self.best_seen = max(self.best_seen or (0.0, ""), (gain, _key(drafter)))
        if self._rest[drafter.name] == 0:
            self._rest[drafter.name] = self._backoff[drafter.name]

    def _worth_catching_up(self, drafter: Drafter, gain: float, remaining: int) -> bool:
        """Whether a draft model that is behind the history (a new prompt, or the tokens decoded while it
        rested) should evaluate them now: only when drafting at the expected ``gain`` for the rest of the answer
        saves more time than that catch-up costs. Without this, every answer paid for the draft model to read
        its prompt, and every probe for the tokens it missed, though drafting did not pay on that text
        (open chat on an F16 model: 0.85x plain)."""
        behind = 0 if drafter.lookup else drafter.behind()
        if behind <= 4:
            return True
        if gain <= 1.0:
            return False
        speed = self.speed
        per_token = speed.catchup_s.get(drafter.name, self.CATCHUP_PRIOR * speed.plain_s)
        saved = min(remaining, self.PAYOFF_TOKENS) * speed.plain_s * (1 - 1 / gain)
        return saved > behind * per_token

    def _draft(self, drafter: Drafter, proposal: list[int] | None, length: int) -> tuple[Drafter, list[int]]:
        """Draft ``length`` tokens of ``proposal`` (a draft model: ask it for them); a drafted lookup has no
        shadow, the draft itself is measured."""
        self._shadow.pop(drafter.name, None)
        return drafter, proposal[:length] if proposal is not None else drafter.propose(length)

    def _score_shadows(self, chosen: Sequence[int]) -> None:
        """Score the shadow drafts against the tokens the model chose: a miss or a shadow matched to its end
        counts as a draft of that many tokens; one still matching waits for the next step's tokens."""
        for name, (proposal, key, earlier) in list(self._shadow.items()):
            hits = next((i for i, (p, c) in enumerate(zip(proposal, chosen, strict=False)) if p != c),
                        min(len(proposal), len(chosen)))
            missed = hits < min(len(proposal), len(chosen))
            if missed or hits == len(proposal):
                del self._shadow[name]
                self.speed.observe_draft(name, earlier + hits + missed, earlier + hits, missed, None, key)
                if not missed:  # as a draft accepted whole would
                    self._cap[name] = min(self.max_draft, 2 * self._cap[name])
            else:
                self._shadow[name] = (proposal[hits:], key, earlier + hits)

    def observe(self, drafter: Drafter | None, drafted: int, accepted: int, missed: bool, step_s: float,
                chosen: Sequence[int] = ()) -> None:
        """``chosen``: the tokens the model chose in this step (accepted drafts and its own next token)."""
        self.speed.observe_step(drafted + 1, step_s)
        self._score_shadows(chosen)
        if drafter is None:
            return
        self.speed.observe_draft(drafter.name, drafted, accepted, missed, _timing(drafter), _key(drafter))
        if getattr(drafter, "setup_tokens", 0):
            self.speed.observe_catchup(drafter.name, drafter.setup_tokens, drafter.setup_s)
        if drafted:
            cap = self._cap[drafter.name]
            self._cap[drafter.name] = min(self.max_draft, 2 * cap) if accepted == drafted else max(1, cap // 2)
        if self._probe is drafter:  # won: accepted, and now drafting is expected to pay at some length
            name = drafter.name
            won = accepted == drafted > 0 and (
                self.speed.best(name, self._cap[name], self._prior_cost(drafter), _key(drafter))[1] >= self.MIN_GAIN)
            self._backoff[name] = self.FIRST_BACKOFF if won else min(self.MAX_BACKOFF, 2 * self._backoff[name])
            if not won:
                self._rest[name] = self._backoff[name]
