"""Drafting with a second, smaller model that shares the target's vocabulary.

Why a model drafter beside n-gram lookup: lookup only guesses text that already occurred, while a small model
guesses ordinary prose too. Two kinds of draft model use this one class: a smaller sibling (SmolLM2-135M for
SmolLM2-1.7B, Qwen2.5-0.5B for Qwen2.5-7B: the catalog's ``draft`` field) and a lower-bit copy of the model
itself ("self", made by ``hearth models draft``), so every model has a drafter.

The pair must tokenize identically, or a drafted token id would mean another piece of text to the target:
``draft_problem`` compares the vocabularies' fingerprints (see ``gguf_info``) and says why a pair cannot work.

The drafter drafts greedily (the draft model's most likely token). That makes every draft deterministic, and
for deterministic drafts the engine's verify rule (sample the target at each drafted position, keep the
draft while they agree) *is* the standard speculative rejection-sampling rule: see ``engine.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from assistant.engine import native
from assistant.engine.gguf_info import ModelInfo, file_identity, read_model_info
from assistant.engine.sampling import GREEDY, SamplerChain
from assistant.engine.speculative import DraftTiming
from assistant.errors import IncompatibleDraftError, ModelLoadError

log = logging.getLogger(__name__)


def draft_problem(target: ModelInfo, draft: ModelInfo) -> str | None:
    """Why ``draft`` cannot draft for ``target``, in words; None when the pair works."""
    if not target.vocab_fingerprint or not draft.vocab_fingerprint:
        missing = draft if not draft.vocab_fingerprint else target
        return f"{missing.name} has no vocabulary in its GGUF metadata to compare"
    if draft.vocab_fingerprint != target.vocab_fingerprint:
        return (f"{draft.name}'s vocabulary ({draft.vocab_size} tokens) differs from {target.name}'s "
                f"({target.vocab_size} tokens): its drafted tokens would mean other text")
    if draft.file_size >= target.file_size:
        return (f"{draft.name} ({draft.quantization}, {draft.file_size / 2**20:.0f} MiB) is not smaller than "
                f"{target.name} ({target.quantization}, {target.file_size / 2**20:.0f} MiB), so it cannot draft "
                "faster than the model decodes")
    return None


class ModelDrafter:
    """A draft model in its own llama.cpp context, kept in step with the target's token history.

    The draft's KV cache, like the engine's, is a cache of a token list (``_kv``): before drafting it keeps the
    longest prefix shared with the history and evaluates only the rest, so after a verify step it catches up
    on the one or two tokens it has not seen (the drafts the target accepted are already in it).
    """

    lookup = False

    def __init__(self, path: str | Path, kind: str, target: ModelInfo, n_ctx: int, n_threads: int,
                 n_gpu_layers: int) -> None:
        #: the file as it was loaded, read before llama.cpp maps it (see ``Engine.reload_if_changed``)
        self.identity = file_identity(str(path))
        info = read_model_info(path)
        if problem := draft_problem(target, info):
            raise IncompatibleDraftError(f"{info.name} cannot draft for {target.name}: {problem}.")
        try:
            self.model = native.NativeModel(info.path, n_gpu_layers)
        except RuntimeError as exc:
            raise ModelLoadError(f"llama.cpp could not load the draft model {Path(info.path).name}: {exc}") from None
        if not self.model.can_trim_kv:
            self.model.close()
            raise IncompatibleDraftError(f"{info.name} cannot draft: its memory cannot drop rejected drafts.")
        try:
            self.ctx = native.NativeContext(self.model, min(n_ctx, info.context_length or n_ctx), 512, n_threads)
        except RuntimeError as exc:
            self.model.close()
            raise ModelLoadError(f"Could not create a context for the draft model {info.name}: {exc}") from None
        self._greedy = SamplerChain(GREEDY, self.model.vocab, self.model.n_vocab)
        self.info, self.name = info, kind  # ``name`` ("draft" or "self") is what the stats call this drafter
        self._kv: list[int] = []  # tokens in the draft's KV cache, positions 0..len-1
        self._history: list[int] = []  # the target's prompt + answer so far
        #: seconds the last ``propose`` spent catching up on a new prompt (one-off work, not a per-draft cost)
        self.setup_s = 0.0
        self.setup_tokens = 0  # how many tokens that catch-up evaluated
        #: seconds this answer's drafts spent catching up on new prompts: inside the answer's decode time, where
        #: llama.cpp's tools count their draft model's prompt as prompt evaluation (the stats report both)
        self.prompt_s = 0.0
        #: what the last ``propose`` cost, split as drafting costs: see ``DraftTiming``
        self.timing = DraftTiming(None, 0.0, 0)
        self.problem = ""  # why drafting stopped, if llama.cpp failed on the draft model (then it drafts nothing)

    def close(self) -> None:
        self._greedy.close()
        self.ctx.close()
        self.model.close()

    def begin(self, prompt: Sequence[int]) -> None:
        self._history = list(prompt)
        self.prompt_s = 0.0

    def accept(self, tokens: Sequence[int]) -> None:
        self._history.extend(tokens)

    def behind(self) -> int:
        """Tokens of the history this model has not evaluated: what the next draft must catch up on first
        (its cache follows the history except for rejected drafts at the end, which it drops then)."""
        return max(0, len(self._history) - len(self._kv)) + 1

    def propose(self, k: int) -> list[int]:
        """Up to ``k`` greedy tokens of the draft model after the history; a llama.cpp failure on the draft
        model is logged and stops drafting (the answer goes on plainly), it never fails the answer."""
        if self.problem or not self._history or k <= 0 or len(self._history) + k >= self.ctx.n_ctx:
            return []
        try:
            return self._draft(k)
        except RuntimeError as exc:
            self.problem = str(exc)
            log.warning("draft model %s stopped drafting: %s", self.info.name, exc)
            self.ctx.clear()
            self._kv.clear()
            return []

    def _draft(self, k: int) -> list[int]:
        history, kv, ctx = self._history, self._kv, self.ctx
        keep, limit = 0, min(len(kv), len(history))
        while keep < limit and kv[keep] == history[keep]:
            keep += 1
        if keep == len(history):
            keep -= 1  # the last history token is evaluated again for fresh logits
        if keep < len(kv):
            ctx.trim(keep)
            del kv[keep:]
        started = time.perf_counter()
        ctx.eval(history[keep:], keep)
        kv.extend(history[keep:])
        # a step normally catches up on the one or two tokens the target added; more is a new prompt
        caught_up = len(history) - keep
        setup = caught_up > 4
        self.setup_s = time.perf_counter() - started if setup else 0.0
        self.setup_tokens = caught_up if setup else 0
        self.prompt_s += self.setup_s
        draft = [self._greedy.sample(ctx.ptr)]
        first_done = time.perf_counter()
        while len(draft) < k and not self.model.is_eog(draft[-1]):
            ctx.eval_one(draft[-1], len(kv))  # the last drafted token needs no evaluation: the target checks it
            kv.append(draft[-1])
            draft.append(self._greedy.sample(ctx.ptr))
        self.timing = DraftTiming(None if setup else first_done - started, time.perf_counter() - first_done,
                                  len(draft) - 1)
        return draft
