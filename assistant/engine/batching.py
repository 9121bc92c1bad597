"""Continuous batching: the answers of several concurrent requests decoded together, one step for all.

Why: a decode step for one token reads every weight of the model once; the next tokens of other requests
ride along in the same ``llama_decode`` for little more, so N concurrent API clients get far more total
throughput than N clients served one after the other. The scheme is llama-server's: each request gets a
*slot* (a sequence id with its own KV stream of ``n_ctx`` cells); every step puts one token of each
decoding slot, then chunks of the prompts still being read, into one batch (decoding first, so a long new
prompt cannot stall the streams already running); then each slot samples its next token from its own
logits with its own sampler chain (sampling, grammar, penalties are per request).

A request arrives with its prompt tokens and picks the free slot whose cached tokens share the longest
prefix with it (a conversation's next turn lands where its last turn was: prefix reuse, per slot); the
tail that differs is dropped from that slot's KV. When a request ends (EOS, stop string, ``max_tokens``,
cancel, or its reader going away) its slot is free at once for the next one in line. A conversation's first
request may instead find its cache on disk, saved by an earlier run (``SlotCaches``; ``prompt_store.py``), and
read it into the least recently used free slot; idle slots' conversation caches are saved when the batcher closes.

One worker thread owns the llama context while batching runs; callers only exchange events with it
through queues, so the engine lock is not held while an answer streams. Speculative decoding is not used
here: a verify batch per request would compete with the other requests for the same step.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from assistant.engine import native
from assistant.engine.prompt_store import Stored
from assistant.engine.sampling import SamplerChain
from assistant.errors import GenerationError
from assistant.events import Done, Progress, Stats, Token, prompt_read

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One request's journey through the batcher: what it asks for, then its progress (worker-owned)."""

    prompt: list[int]
    sampler: SamplerChain | None  # None: a log-probability question (``candidates``), nothing is sampled
    answer: Any  # the engine's _Answer: where the answer ends, the text safe to show
    cancel: threading.Event
    candidates: list[int] | None = None
    key: str | None = None  # the conversation the prompt belongs to (the engine's cache_key), if any
    out: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    abandoned: bool = False  # the reader stopped listening: end it like a cancel
    # --- set by the worker
    pending: list[int] = field(default_factory=list)  # prompt tokens not yet in the slot's KV
    last: int | None = None  # the last sampled token, not yet in the KV
    n_keep: int = 0
    evaluated: int = 0
    t0: float = field(default_factory=time.perf_counter)
    t_prompt: float | None = None
    marks: list[tuple[int, float]] = field(default_factory=list)  # how fast its prompt is read (events.prompt_read)

    @property
    def stopping(self) -> bool:
        return self.abandoned or self.cancel.is_set()


@dataclass
class _Slot:
    seq: int
    tokens: list[int] = field(default_factory=list)  # exactly what this sequence's KV holds, in order
    job: Job | None = None
    last_used: float = 0.0
    key: str | None = None  # the conversation of the request that left ``tokens``
    prompt_len: int = 0  # how many of ``tokens`` were that request's prompt (the rest, its answer)


class SlotCaches(Protocol):
    """Conversations' caches on disk, for the batcher's slots (the engine's prompt store)."""

    def find(self, key: str) -> Stored | None:
        """``key``'s saved cache, looked for once per conversation (None: none to use)."""

    def load(self, stored: Stored, seq: int = 0) -> bool:
        """Read ``stored`` into sequence ``seq``; False when it could not be."""

    def save(self, key: str, tokens: list[int], seq: int = 0) -> None:
        """Save what sequence ``seq`` holds (``tokens``) as ``key``'s cache."""


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many tokens ``a`` and ``b`` share from their start (what a cache holding ``a`` reuses of ``b``)."""
    n, limit = 0, min(len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    return n


def _continues(slot: _Slot, prompt: list[int]) -> int:
    """How much of ``prompt`` the slot holds, counted only when the prompt continues the slot's conversation:
    it holds the slot's last prompt, or most of what the slot holds. Sharing a system prompt, a new
    conversation took the slot of another one (its cache thrown away) while empty slots waited; it now goes
    to the least recently used slot. (A conversation's next prompt may share only the last prompt: the model's
    answer is often tokenized otherwise when the chat is rendered again, "Mi|so" against "M|iso".)"""
    shared = common_prefix(slot.tokens, prompt)
    return shared if shared >= slot.prompt_len - 1 or 2 * shared >= len(slot.tokens) else 0


class Batcher:
    """Owns a multi-sequence context's decoding while it runs (see the module docstring)."""

    def __init__(self, ctx: native.NativeContext, describe: Callable[[], dict[str, Any]],
                 caches: SlotCaches | None = None) -> None:
        """``describe()`` gives the Stats fields that say where the answer ran (device, model, format)."""
        self.ctx = ctx
        self._describe = describe
        self._caches = caches
        self._slots = [_Slot(seq) for seq in range(ctx.n_seq)]
        self._waiting: list[Job] = []
        self._cond = threading.Condition()
        self._closing = False
        self._draining = False  # close asked once the requests already here are answered (a model switch)
        self._clearing = False  # clear_cache asked: done by the worker, the only thread touching the KV
        self._turn = 0  # which prompt-reading slot goes first in the next step (fair prompt chunks)
        self._thread = threading.Thread(target=self._run, name="hearth-batcher", daemon=True)
        self._thread.start()

    # ---- the callers' side ------------------------------------------------------------------------
    def submit(self, job: Job) -> Iterator[Token | Progress | Done]:
        """Queue ``job`` and stream its events; closing the iterator early ends the job and frees its slot."""
        with self._cond:
            if self._closing:
                raise GenerationError("The model is being unloaded; ask again in a moment.")
            self._waiting.append(job)
            self._cond.notify()
        try:
            while True:
                item = job.out.get()
                if isinstance(item, Exception):
                    raise item
                yield item
                if isinstance(item, Done):
                    return
        finally:
            job.abandoned = True
            with self._cond:
                self._cond.notify()

    def logprobs(self, job: Job) -> list[float] | None:
        """Evaluate ``job.prompt`` in a slot and return the log-probabilities of ``job.candidates`` next."""
        return next(iter(self.submit(job)), None)  # type: ignore[arg-type]

    @property
    def busy(self) -> int:
        """Requests being answered or waiting for a slot."""
        with self._cond:
            return sum(s.job is not None for s in self._slots) + len(self._waiting)

    def clear_cache(self) -> None:
        """Forget what idle slots hold: their next request evaluates its whole prompt (a cold start)."""
        with self._cond:
            self._clearing = True
            self._cond.notify()
            while self._clearing and not self._closing:
                self._cond.wait()

    def close(self, drain: bool = False) -> None:
        """Stop the worker. ``drain`` (the engine switched to another model or settings): first finish the
        requests running or waiting, which were asked of this model; else (Hearth closing) they fail with a
        clear message, or end as stopped where they were asked to stop."""
        with self._cond:
            if drain:
                self._draining = True
            else:
                self._closing = True
            self._cond.notify()
        self._thread.join()

    # ---- the worker -------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not (self._closing or self._draining or self._clearing or self._waiting
                           or any(s.job for s in self._slots)):
                    self._cond.wait()
                if self._closing or (self._draining and not self._waiting and not any(s.job for s in self._slots)):
                    self._closing = True  # a request that arrives now is refused, not left waiting for no worker
                    break
                if self._clearing:
                    for slot in self._slots:
                        if slot.job is None and slot.tokens:
                            self.ctx.trim(0, slot.seq)
                            slot.tokens = []
                    self._clearing = False
                    self._cond.notify_all()
                self._admit()
            try:
                self._step()
            except Exception as exc:  # a decode failure: the KV content is unknown, start every slot afresh
                log.warning("batched decode failed: %s", exc)
                self.ctx.clear()
                error = exc if isinstance(exc, GenerationError) else GenerationError(f"Decoding failed: {exc}")
                for slot in self._slots:
                    slot.tokens = []
                    if slot.job is not None:
                        self._end(slot, error)
        # A request asked to stop ends as stopped (the API server cancels its answers before the model goes:
        # its client gets "cut short, send it again", not a failure); the others were cut by the unload.
        error = GenerationError("The model was unloaded while answering: Hearth is closing or changed models.")
        with self._cond:
            for slot in self._slots:
                if self._end_if_stopping(slot):
                    continue
                if slot.job is not None:
                    self._end(slot, error)
                elif slot.key is not None and self._caches is not None:
                    self._caches.save(slot.key, slot.tokens, slot.seq)
            for job in self._waiting:
                if job.stopping:
                    self._finish_unstarted(job)
                else:
                    job.out.put(error)
            self._waiting.clear()

    def _admit(self) -> None:
        """Give waiting requests the free slots, each the one whose cache shares most of its prompt."""
        for job in list(self._waiting):
            if job.stopping:
                self._waiting.remove(job)
                self._finish_unstarted(job)
                continue
            free = [s for s in self._slots if s.job is None]
            if not free:
                return
            self._waiting.remove(job)
            self._from_disk(job, free)
            slot = max(free, key=lambda s: (_continues(s, job.prompt), -s.last_used))
            slot.key, slot.prompt_len = job.key, len(job.prompt)
            n_keep = common_prefix(slot.tokens, job.prompt)
            if n_keep == len(job.prompt):
                n_keep -= 1  # the last prompt token is evaluated again for fresh logits
            if n_keep < len(slot.tokens):
                try:
                    self.ctx.trim(n_keep, slot.seq)
                except native.PartialTrimUnsupported:
                    n_keep = 0
                del slot.tokens[n_keep:]
            job.n_keep, job.pending, job.t0 = n_keep, job.prompt[n_keep:], time.perf_counter()
            slot.job = job
            self._say_read(job)

    def _from_disk(self, job: Job, free: list[_Slot]) -> None:
        """Read ``job``'s conversation cache from disk into the least recently used free slot, when it continues
        the prompt further than any free slot holds."""
        if job.key is None or self._caches is None:
            return
        stored = self._caches.find(job.key)
        shared = max(common_prefix(s.tokens, job.prompt) for s in free)
        if (stored is None or len(stored.tokens) >= self.ctx.n_ctx
                or common_prefix(stored.tokens, job.prompt) <= shared):
            return
        slot = min(free, key=lambda s: s.last_used)
        slot.tokens = list(stored.tokens) if self._caches.load(stored, slot.seq) else []

    def _step(self) -> None:
        """One ``llama_decode`` for every active slot, then each samples its next token."""
        for slot in self._slots:
            self._end_if_stopping(slot)
        tokens: list[int] = []
        positions: list[int] = []
        seqs: list[int] = []
        wants: list[bool] = []
        readers: list[tuple[_Slot, int, int]] = []  # (slot, batch index of its logits, tokens it added)
        for slot in self._slots:  # decoding slots first: one token each
            job = slot.job
            if job is not None and not job.pending and job.last is not None:
                readers.append((slot, len(tokens), 1))
                tokens.append(job.last)
                positions.append(len(slot.tokens))
                seqs.append(slot.seq)
                wants.append(True)
        reading = [s for s in self._slots if s.job is not None and s.job.pending]
        self._turn = (self._turn + 1) % len(self._slots)
        reading.sort(key=lambda s: (s.seq - self._turn) % len(self._slots))
        for slot in reading:  # then prompt chunks, as much as the batch holds
            room = self.ctx.n_batch - len(tokens)
            if room <= 0:
                break
            job = slot.job
            chunk = job.pending[:room]
            start = len(slot.tokens)
            for i, tok in enumerate(chunk):
                tokens.append(tok)
                positions.append(start + i)
                seqs.append(slot.seq)
                wants.append(False)
            done_reading = len(chunk) == len(job.pending)
            if done_reading:
                wants[-1] = True
            readers.append((slot, len(tokens) - 1 if done_reading else -1, len(chunk)))
        if not tokens:
            return
        for slot, _index, _added in readers:  # a prompt's first chunk: its reading starts now, not when it was
            # admitted behind another prompt that filled the batches (the ETA counted that wait: "5 min 24 s")
            if slot.job.pending and not slot.job.evaluated and len(slot.job.marks) == 1:
                slot.job.marks[0] = (0, time.perf_counter())
        self.ctx.eval_mixed(tokens, positions, seqs, wants)
        for slot, index, added in readers:
            job = slot.job
            if job.pending:
                slot.tokens.extend(job.pending[:added])
                job.evaluated += added
                del job.pending[:added]
                if job.pending:
                    self._say_read(job)
                    continue
                job.t_prompt = time.perf_counter()
            else:
                slot.tokens.append(job.last)
            self._read(slot, index)

    def _say_read(self, job: Job) -> None:
        """How far a job's prompt is read, when more than a batch of it is new (as the engine's own loop says)."""
        total = job.evaluated + len(job.pending)
        if job.sampler is not None and total > self.ctx.n_batch:
            job.out.put(prompt_read(job.evaluated, total, job.marks))

    def _read(self, slot: _Slot, index: int) -> None:
        """Take the model's next token for ``slot`` from the logits at batch ``index``."""
        job = slot.job
        if job.sampler is None:  # a log-probability question: one forward pass, then done
            result = self.ctx.logprobs(index, job.candidates or [])
            self._release(slot)
            job.out.put(result)
            return
        tok = job.sampler.sample(self.ctx.ptr, index)
        answer = job.answer
        if text := answer.add(tok):
            job.out.put(Token(text))
        if answer.stop_reason is None and len(slot.tokens) >= self.ctx.n_ctx:
            answer.stop_reason = "context_full"
        if answer.stop_reason is not None:
            self._end(slot)
        else:
            job.last = tok

    def _end_if_stopping(self, slot: _Slot) -> bool:
        """End the job in ``slot`` if it was asked to stop (its answer so far, as cancelled); whether it did."""
        if slot.job is None or not slot.job.stopping:
            return False
        slot.job.answer.stop_reason = "cancelled"
        self._end(slot)
        return True

    def _end(self, slot: _Slot, error: Exception | None = None) -> None:
        """The job in ``slot`` is over: send its Done (or ``error``) and free the slot."""
        job = slot.job
        if error is not None:
            item: Exception | Done | None = error
        elif job.sampler is None:
            item = None  # a cancelled log-probability question
        else:
            item = self._done(job)
        self._release(slot)  # before the reader hears of it: the slot is free once the answer is
        job.out.put(item)

    def _release(self, slot: _Slot) -> None:
        job = slot.job
        if job.sampler is not None:
            job.sampler.close()
        slot.job, slot.last_used = None, time.perf_counter()

    def _finish_unstarted(self, job: Job) -> None:
        job.answer.stop_reason = "cancelled"
        if job.sampler is not None:
            job.sampler.close()
            job.out.put(self._done(job))
        else:
            job.out.put(None)

    def _done(self, job: Job) -> Done:
        answer = job.answer
        if tail := answer.finish():
            job.out.put(Token(tail))
        t_end = time.perf_counter()
        t_first = answer.t_first or t_end
        decode_s = t_end - t_first
        return Done(
            text="".join(answer.parts),
            stats=Stats(
                prompt_tokens=len(job.prompt),
                evaluated_tokens=job.evaluated,
                reused_tokens=job.n_keep,
                completion_tokens=answer.completion,
                ttft_s=t_first - job.t0,
                prompt_eval_s=(job.t_prompt or t_end) - job.t0,
                decode_s=decode_s,
                decode_tps=(answer.sampled - 1) / decode_s if decode_s > 0 else 0.0,
                stop_reason=answer.stop_reason or "length",
                context_used=job.n_keep + job.evaluated + max(answer.sampled - 1, 0),
                context_size=self.ctx.n_ctx,
                **self._describe(),
            ),
        )
