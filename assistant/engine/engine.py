"""The in-process llama.cpp engine: load/unload, prefix reuse, the decode loop, cancellation, stats.

One engine owns one model and one llama context; a lock serialises every call that touches them (the GUI
and background jobs share the engine). The KV cache is treated as a cache of the *token list* last
evaluated (``_kv``): a new prompt evaluates only what differs from it (longest common prefix), and the
tail that no longer matches is dropped with the KV-cache API. That is what makes follow-up turns cheap.

A prompt that shares less than half of the cache (another chat, memory learning between two answers) would
throw the cache away: with memory on, every question read the whole chat again, and so did going back to a
chat. The cache being left is copied out first (:meth:`Engine._switch_cache`), and a later prompt that continues
it gets it back. A conversation's cache (a prompt given a ``cache_key``) that the engine lets go (unload, another
model, RAM making room) goes to disk when a :class:`PromptStore` is set, for the next run to read back.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from pathlib import Path

import psutil

from assistant.cpu import default_threads
from assistant.engine import native
from assistant.engine.batching import Batcher, Job, common_prefix
from assistant.engine.chat_format import ChatFormatter, FormattedPrompt, Message
from assistant.engine.draft_model import ModelDrafter
from assistant.engine.gguf_info import ModelInfo, changed_on_disk, file_identity, read_model_info
from assistant.engine.prompt_store import MIN_TOKENS as _DISK_MIN_TOKENS
from assistant.engine.prompt_store import PromptStore, Stored, model_digest
from assistant.engine.sampling import SamplerChain, SamplingParams
from assistant.engine.speculative import AutoPolicy, FixedPolicy, NgramDrafter, SpeedModel
from assistant.engine.stops import StopMatcher
from assistant.errors import (
    ContextOverflowError,
    GenerationError,
    InsufficientMemoryError,
    ModelLoadCancelled,
    ModelLoadError,
    NoModelLoadedError,
)
from assistant.events import LOAD_WAITING, Done, Progress, Stats, Token, prompt_read

log = logging.getLogger(__name__)

#: Room for llama.cpp's compute buffers and the logits of one batch, beyond weights + KV cache.
_OVERHEAD_BYTES = 160 * 1024 * 1024
#: The caches of prompts left behind (another chat, memory learning) are kept as copies in RAM (about 23 KB a
#: token on the bundled model, 128 KB on an 8B one): at most this many, within this share of the free memory,
#: each of at least this many tokens; a prompt that continues one of them gets it back.
_KEPT_MAX, _KEPT_MEMORY_SHARE, _KEPT_MIN_TOKENS = 4, 0.25, 64


@dataclass
class _Kept:
    tokens: list[int]
    state: ctypes.Array  # llama.cpp's copy of the sequence (NativeContext.save_seq); len() is its size in bytes
    key: str | None  # the conversation it belongs to (generate's cache_key), if any


class _DiskCaches:
    """The prompt store for one loaded model: conversations' caches looked for once per conversation and read
    into a sequence, or saved from one. The engine uses sequence 0; the batcher, its slots' (on its thread, which
    owns the context while it runs)."""

    def __init__(self, store: Callable[[], PromptStore | None], ctx: native.NativeContext, model: str,
                 budget: Callable[[], int]) -> None:
        self._store, self._ctx, self._model, self._budget = store, ctx, model, budget
        self._looked_up: set[str] = set()

    def find(self, key: str) -> Stored | None:
        store = self._store()
        if store is None or key in self._looked_up:
            return None
        self._looked_up.add(key)  # after its first prompt a conversation's cache lives in RAM
        return store.find(key, self._model)

    def load(self, stored: Stored, seq: int = 0) -> bool:
        """False when it could not be read (unreadable, replaced by another process meanwhile) or llama.cpp
        refused it (the file is then deleted, and the sequence is empty)."""
        state = stored.read_state()
        if state is None:
            return False
        if not self._ctx.load_seq(state, seq):
            log.warning("llama.cpp refused the saved cache %s; the prompt is evaluated instead", stored.path.name)
            stored.path.unlink(missing_ok=True)
            return False
        log.info("read the cache of a %d-token conversation from disk", len(stored.tokens))
        return True

    def save(self, key: str, tokens: list[int], seq: int = 0) -> None:
        """Save what sequence ``seq`` holds (``tokens``) as ``key``'s cache."""
        if len(tokens) >= _DISK_MIN_TOKENS and self._store() is not None:
            state = self._ctx.save_seq(self._budget(), seq)
            if state is not None:
                self.save_state(key, tokens, state)

    def save_state(self, key: str, tokens: list[int], state: ctypes.Array) -> None:
        """Save a copy already taken (a kept cache); a prompt too short to be worth a file gets none."""
        store = self._store()
        if store is not None and len(tokens) >= _DISK_MIN_TOKENS:
            store.save(key, self._model, tokens, state)


def available_memory() -> int:
    return psutil.virtual_memory().available


@dataclass(frozen=True)
class LoadSettings:
    n_ctx: int = 4096  # 0: the model's trained context
    n_threads: int = 0  # 0: the physical cores this process may use (assistant.cpu)
    n_batch: int = 512
    n_gpu_layers: int = 0  # -1: all
    use_mmap: bool = True
    #: answers decoded together (continuous batching, for the API server); each has its own n_ctx of KV
    n_parallel: int = 1
    #: KV cache precision, one of native.KV_CACHE_TYPES: "q8_0" halves it and makes speculation exact on the CPU
    kv_cache: str = "f16"


@dataclass
class _Loaded:
    info: ModelInfo
    model: native.NativeModel
    ctx: native.NativeContext
    formatter: ChatFormatter
    settings: LoadSettings
    device: str
    disk: _DiskCaches
    #: the file as it was loaded (see :func:`file_identity`); None when it could not be read
    identity: tuple[int, int, int] | None = None
    batcher: Batcher | None = None  # set when several answers are decoded together (n_parallel > 1)

    def close(self, drain: bool = False) -> None:
        """Free the model. ``drain``: parallel answers still decoding on it finish first (see Batcher.close)."""
        if self.batcher is not None:
            self.batcher.close(drain)
        self.ctx.close()
        self.model.close()


def _device_label(settings: LoadSettings, threads: int, n_layer: int) -> str:
    """Where the model runs, with the CPU threads when the CPU does any of the work (``threads`` as resolved:
    the setting's 0 means the physical cores this process may use, which a user cannot guess)."""
    on_cpu = f"{threads} thread{'' if threads == 1 else 's'}"
    if settings.n_gpu_layers == 0:
        return f"CPU, {on_cpu} (GPU layers set to 0)"
    if not native.supports_gpu_offload():
        return f"CPU, {on_cpu} ({native.NO_GPU})"
    layers = n_layer if settings.n_gpu_layers < 0 else min(settings.n_gpu_layers, n_layer)
    return f"GPU ({layers}/{n_layer} layers)" if layers == n_layer else f"GPU ({layers}/{n_layer} layers), CPU {on_cpu}"


def _load_reporter(info: ModelInfo, progress: Callable[[Progress], None] | None,
                   cancel: threading.Event | None) -> Callable[[float], bool] | None:
    """Turn llama.cpp's load fraction into Progress events with an ETA; answer False once cancelled."""
    if progress is None and cancel is None:
        return None
    start = time.perf_counter()

    def report(fraction: float) -> bool:
        if progress is not None:
            elapsed = time.perf_counter() - start
            eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
            progress(Progress("load", fraction, 1.0, "fraction", eta_s=eta, message=info.name))
        return not (cancel is not None and cancel.is_set())

    return report


class Engine:
    def __init__(self, memory_probe=available_memory) -> None:
        self._memory_probe = memory_probe
        self._lock = threading.RLock()
        self._loaded: _Loaded | None = None
        self._kv: list[int] = []  # tokens whose K/V sit in the cache at positions 0..len-1
        self._kept: list[_Kept] = []  # caches of prompts left behind, the most recent first
        self._kv_key: str | None = None  # the conversation whose prompt the cache holds (generate's cache_key)
        self._prompts: PromptStore | None = None  # where conversations' caches go between runs
        self._ngram: NgramDrafter | None = None  # the n-gram pool, kept across answers of the loaded model
        self._draft: ModelDrafter | None = None  # the draft model ("draft" or "self"), if one is set
        #: why the configured draft model could not be set (the caller's words): an answer's stats say it, not
        #: "no draft model is set" while the settings name one that does not exist
        self.draft_problem = ""
        self._speed = SpeedModel()  # what decoding and drafting cost on the loaded model, measured as it runs

    # ---- loading ---------------------------------------------------------------------------------
    def load(self, path: str | Path, settings: LoadSettings | None = None,
             progress: Callable[[Progress], None] | None = None, cancel: threading.Event | None = None) -> ModelInfo:
        """Load ``path``; on any failure raise a specific ModelLoadError and keep the current model.

        ``progress`` receives Progress(job="load") events with an ETA while the weights load; setting
        ``cancel`` aborts the load (ModelLoadCancelled), again keeping the current model.
        """
        settings = settings or LoadSettings()
        if settings.kv_cache not in native.KV_CACHE_TYPES:
            raise ModelLoadError(f"Unknown KV cache type {settings.kv_cache!r}; choose one of "
                                 f"{', '.join(native.KV_CACHE_TYPES)}.")
        info = read_model_info(path)  # raises not-found / not-GGUF / truncated / unsupported arch
        n_ctx = info.context_for(settings.n_ctx)
        n_parallel = max(1, settings.n_parallel)
        self._check_memory(info, n_ctx, n_parallel, settings.kv_cache)
        threads = settings.n_threads or default_threads()
        identity = file_identity(info.path)  # before llama.cpp maps it: a change during the load is seen later
        try:
            model = native.NativeModel(info.path, settings.n_gpu_layers, settings.use_mmap,
                                       _load_reporter(info, progress, cancel))
        except RuntimeError as exc:
            if cancel is not None and cancel.is_set():
                raise ModelLoadCancelled(f"Loading {info.name} was cancelled.") from None
            raise ModelLoadError(f"llama.cpp could not load {Path(info.path).name}: {exc}") from None
        try:
            ctx = native.NativeContext(model, n_ctx, settings.n_batch, threads, n_parallel, settings.kv_cache)
        except RuntimeError as exc:
            model.close()
            raise ModelLoadError(f"Could not create a {n_ctx}-token context for {info.name}: {exc}") from None
        except KeyboardInterrupt:
            model.close()
            raise
        loaded = _Loaded(
            info=info,
            model=model,
            ctx=ctx,
            formatter=ChatFormatter(info.chat_template, info.bos_token, info.eos_token),
            settings=LoadSettings(n_ctx, threads, settings.n_batch, settings.n_gpu_layers, settings.use_mmap,
                                  n_parallel, settings.kv_cache),
            device=_device_label(settings, threads, model.n_layer),
            disk=_DiskCaches(lambda: self._prompts, ctx, model_digest(info.path, settings.kv_cache),
                             self._kept_budget),
            identity=identity,
        )
        if n_parallel > 1:
            loaded.batcher = Batcher(ctx, lambda: {"device": loaded.device, "model": loaded.info.precise_name,
                                                   "model_id": loaded.info.model_id,
                                                   "prompt_format": "fallback" if loaded.formatter.uses_fallback
                                                   else "gguf"}, loaded.disk)
        # swap only once the new model is fully ready, and not under an answer being written (it holds the lock)
        if not self._lock.acquire(blocking=False):
            if progress is not None:
                progress(Progress("load", 1.0, 1.0, LOAD_WAITING, message=info.name))
            # a Cancel while it waits keeps the current model (it took over when the answer ended, and was saved)
            while not self._lock.acquire(timeout=0.05):
                if cancel is not None and cancel.is_set():
                    loaded.close()
                    raise ModelLoadCancelled(f"Loading {info.name} was cancelled.")
        if cancel is not None and cancel.is_set():
            self._lock.release()
            loaded.close()
            raise ModelLoadCancelled(f"Loading {info.name} was cancelled.")
        try:
            self._save_caches()
            old, self._loaded, self._kv, self._ngram, self._kept = self._loaded, loaded, [], None, []
            self._speed = SpeedModel()
            self._set_draft(None)  # it drafted for the old model: the caller sets one for the new model
        finally:
            self._lock.release()
        if old is not None:
            if old.batcher is not None and old.batcher.busy:
                # Answers decoded in parallel (the API server is on) hold no lock while they stream, so the swap
                # did not wait for them as it waits for a single answer: they finish on the model they were
                # asked of, which is freed after them. Closing it at once cut them off mid-answer.
                threading.Thread(target=old.close, kwargs={"drain": True}, name="hearth-drain", daemon=True).start()
            else:
                old.close(drain=True)
        log.info("loaded %s (%s, n_ctx=%d, %s)", info.name, info.quantization, n_ctx, loaded.device)
        return info

    def _check_memory(self, info: ModelInfo, n_ctx: int, n_parallel: int = 1, kv_cache: str = "f16") -> None:
        kv = info.kv_cache_bytes(n_ctx, native.KV_CACHE_TYPES[kv_cache][1]) * n_parallel
        need = info.file_size + kv + _OVERHEAD_BYTES
        free = self._memory_probe()
        if self._loaded is not None:  # the current model's memory is freed once the new one is in place
            free += self._loaded.info.file_size + sum(len(k.state) for k in self._kept)
        if need > free:
            raise InsufficientMemoryError(
                f"{info.name} needs about {need / 2**30:.1f} GiB of memory (weights {info.file_size / 2**30:.1f} "
                f"GiB + context cache {kv / 2**30:.1f} GiB at {n_ctx} tokens"
                f"{f' for each of {n_parallel} parallel answers' if n_parallel > 1 else ''}) but only "
                f"{free / 2**30:.1f} GiB is free. Close other programs, lower the context length"
                f"{' or the parallel answers' if n_parallel > 1 else ''}"
                f"{', use the q8_0 KV cache (half the size)' if kv_cache == 'f16' else ''}, or choose a smaller "
                f"quantization."
            )

    def clear_cache(self) -> None:
        """Forget the cached prefix: the next generation evaluates its whole prompt (a cold start)."""
        with self._lock:
            loaded = self._require()
            if self._prompts is not None:
                self._prompts.clear()
            if loaded.batcher is not None:
                loaded.batcher.clear_cache()
                return
            loaded.ctx.clear()
            self._kv, self._kept = [], []

    def unload(self) -> None:
        with self._lock:
            self._save_caches()
            old, self._loaded, self._kv, self._ngram, self._kept = self._loaded, None, [], None, []
            self._set_draft(None)
        if old is not None:
            old.close()

    def reload_if_changed(self) -> str:
        """Load the model's file again when it is no longer the file that was loaded (overwritten in place,
        replaced, re-downloaded): what to tell the user ("" when it is the same file, or deleted). Before each
        answer: llama.cpp maps the weights, and reading a mapping whose file was overwritten killed the process
        with SIGBUS. A file that cannot be loaded now (half written, not a model) raises a ModelLoadError that
        says so, and the model is unloaded: the old one's weights are no longer there to read.

        The draft model's file too (`cp other.gguf draft.gguf` under `hearth chat --draft-model draft.gguf`
        killed it the same way): it is let go, and ``Assistant.ensure_draft`` loads it again, or says why not."""
        with self._lock:
            loaded, draft = self._loaded, self._draft
            if loaded is None:
                return ""
            if not changed_on_disk(loaded.info.path, loaded.identity):
                if draft is None or not changed_on_disk(draft.info.path, draft.identity):
                    return ""
                self._set_draft(None)
                return f"The draft model file {Path(draft.info.path).name} changed on disk; it is loaded again."
            name = Path(loaded.info.path).name
            log.info("%s changed on disk while loaded: loading it again", name)
            try:
                info = self.load(loaded.info.path, loaded.settings)
            except ModelLoadError as exc:
                self.unload()
                raise ModelLoadError(f"The model file {name} changed on disk and cannot be loaded now: "
                                     f"{str(exc).rstrip('.')}. Copy it again, or pick another model.") from None
            return f"The model file changed on disk; reloaded {info.precise_name}."

    def use_prompt_store(self, store: PromptStore | None) -> None:
        """Save conversations' caches to ``store`` when the engine lets them go, and look there for a
        conversation's first prompt (see ``generate``'s ``cache_key``)."""
        with self._lock:
            self._prompts = store

    def forget_cache(self, key: str) -> None:
        """Delete the saved caches of conversation ``key`` (it was deleted). No lock: a chat deleted while
        another answers must not wait for that answer. Its copies in RAM may stay: they serve only a prompt
        that continues them, and the store writes none for a conversation that is gone."""
        store = self._prompts
        if store is not None:
            store.forget(key)

    def _save_caches(self) -> None:
        """Before the engine lets its caches go: write the conversations' caches to the prompt store."""
        loaded = self._loaded
        if loaded is None or loaded.batcher is not None:  # the batcher saves its slots' when it closes
            return
        saved = {self._kv_key}  # one file per conversation: its newest cache
        if self._kv_key is not None:
            loaded.disk.save(self._kv_key, self._kv)
        for kept in self._kept:  # the most recent first
            if kept.key not in saved:
                loaded.disk.save_state(kept.key, kept.tokens, kept.state)
                saved.add(kept.key)

    def set_draft_model(self, path: str | Path | None, kind: str = "draft") -> ModelInfo | None:
        """Load ``path`` as the draft model for speculative modes "draft"/"self" (``kind``) and auto; None
        unloads it. Raises IncompatibleDraftError with the reason for a pair that cannot work (another
        vocabulary, not smaller), ModelLoadError if it cannot load; the previous draft model is then kept.
        The draft runs where the model runs: all its layers on the GPU when the model offloads any."""
        if path is None:
            with self._lock:
                self._set_draft(None)
            return None
        with self._lock:
            loaded = self._require()
            current = self._draft
            if current is not None and Path(current.info.path) == Path(path).resolve() and current.name == kind:
                return current.info
        # load outside the lock (an answer may be streaming), swap in only if the same model is still loaded
        gpu = -1 if loaded.settings.n_gpu_layers != 0 else 0
        drafter = ModelDrafter(path, kind, loaded.info, loaded.ctx.n_ctx, loaded.settings.n_threads, gpu)
        with self._lock:
            if self._loaded is not loaded:
                drafter.close()
                raise ModelLoadError("The model changed while its draft model was loading; choose the draft again.")
            self._set_draft(drafter)
        log.info("draft model %s (%s) for %s", drafter.info.name, kind, loaded.info.name)
        return drafter.info

    def _set_draft(self, drafter: ModelDrafter | None) -> None:
        old, self._draft = self._draft, drafter
        if old is not None:
            old.close()

    @property
    def draft_info(self) -> ModelInfo | None:
        """The draft model's info, or None when there is none."""
        return self._draft.info if self._draft is not None else None

    # ---- introspection ----------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def _require(self) -> _Loaded:
        if self._loaded is None:
            raise NoModelLoadedError("No model is loaded. Choose one with `hearth models use PATH`.")
        return self._loaded

    @property
    def info(self) -> ModelInfo:
        return self._require().info

    @property
    def settings(self) -> LoadSettings:
        return self._require().settings

    @property
    def device(self) -> str:
        return self._require().device

    @property
    def n_ctx(self) -> int:
        return self._require().ctx.n_ctx

    @contextlib.contextmanager
    def watching(self, cancel: threading.Event) -> Iterator[None]:
        """What a remote engine waits on meanwhile stops at ``cancel`` (see RemoteEngine.watching); here every
        wait before the prompt is read is local and short."""
        yield

    @property
    def cached_tokens(self) -> int:
        return len(self._kv)

    @property
    def uses_fallback_format(self) -> bool:
        return self._require().formatter.uses_fallback

    def tokenize(self, text: str, add_special: bool = False) -> list[int]:
        return self._require().model.tokenize(text, add_special=add_special)

    def detokenize(self, tokens: list[int]) -> str:
        return self._require().model.detokenize(tokens)

    def format(self, messages: list[Message]) -> FormattedPrompt:
        """``messages`` in the model's chat template; a control marker inside a message is text (see ``defuse``)."""
        loaded = self._require()
        return loaded.formatter.format([Message(m.role, loaded.model.defuse(m.content)) for m in messages])

    def prompt_tokens(self, prompt: FormattedPrompt) -> list[int]:
        loaded = self._require()
        add_bos = loaded.model.add_bos and not (
            loaded.formatter.bos_token and prompt.text.startswith(loaded.formatter.bos_token)
        )
        return loaded.model.tokenize(prompt.text, add_special=add_bos)

    def render(self, messages: list[Message]) -> tuple[FormattedPrompt, list[int]]:
        """Format ``messages`` with the model's chat template and tokenize the result."""
        prompt = self.format(messages)
        return prompt, self.prompt_tokens(prompt)

    # ---- generation -------------------------------------------------------------------------------
    def generate(
        self,
        prompt: list[int],
        sampling: SamplingParams,
        max_tokens: int = 512,
        cancel: threading.Event | None = None,
        stop: tuple[str, ...] = (),
        grammar: str | None = None,
        cache_key: str | None = None,
    ) -> Iterator[Token | Progress | Done]:
        """Stream Token events for ``prompt`` and end with one Done carrying the stats; before the first token,
        Progress events while a prompt longer than a batch is read (``events.PROMPT``).

        ``grammar`` (GBNF, see ``sampling.json_grammar``) constrains the output. ``cache_key`` names the
        conversation the prompt belongs to: its cache may be saved to and read from the prompt store. Holds the
        engine lock for the whole generation; closing the iterator early releases it. With ``n_parallel`` > 1
        the answer is decoded together with the other requests' (``batching.py``) and no lock is held while it
        streams.
        """
        with self._lock:
            loaded = self._require_prompt(prompt)
            batcher = loaded.batcher
            if batcher is None:
                yield from self._generate_locked(loaded, prompt, sampling, max_tokens, cancel or threading.Event(),
                                                 stop, grammar, cache_key)
                return
            job = Job(prompt, SamplerChain(sampling, loaded.model.vocab, loaded.model.n_vocab, grammar),
                      _Answer(loaded.model, stop, max_tokens), cancel or threading.Event(), key=cache_key)
        for event in batcher.submit(job):
            if isinstance(event, Done) and sampling.speculative.mode != "off":
                event = dc_replace(event, stats=dc_replace(
                    event.stats, spec_decision="off: parallel answers are decoded together in one batch"))
            yield event

    def next_token_logprobs(self, prompt: list[int], candidates: list[int],
                            cancel: threading.Event | None = None) -> list[float] | None:
        """The model's log-probability of each of ``candidates`` as the token after ``prompt``.

        One forward pass, no sampling: how a small model answers a yes/no question reliably (a score to
        threshold, not a string to parse). The KV prefix is reused like ``generate``'s, so many questions
        behind one long few-shot prompt cost only their own tokens. None when ``cancel`` stopped it.
        """
        with self._lock:
            loaded = self._require_prompt(prompt)
            batcher = loaded.batcher
            if batcher is None:
                n_keep, n_done = self._eval_prompt(loaded, prompt, cancel or threading.Event())
                return loaded.ctx.logprobs(-1, candidates) if n_done == len(prompt) - n_keep else None
            job = Job(prompt, None, _Answer(loaded.model, (), 1), cancel or threading.Event(), list(candidates))
        return batcher.logprobs(job)

    def _require_prompt(self, prompt: list[int]) -> _Loaded:
        """The loaded model, if ``prompt`` can be evaluated in its context."""
        if said := self.reload_if_changed():  # (the front ends' answers checked it before the prompt was made)
            raise GenerationError(f"{said} The prompt was made for the file before: ask again.")
        loaded = self._require()
        if not prompt:
            raise GenerationError("Nothing to generate from: the prompt is empty.")
        if len(prompt) >= loaded.ctx.n_ctx:
            raise ContextOverflowError(f"The prompt is {len(prompt)} tokens but the context holds {loaded.ctx.n_ctx}.")
        return loaded

    def _eval_prompt(self, loaded: _Loaded, prompt: list[int], cancel: threading.Event,
                     key: str | None = None) -> tuple[int, int]:
        """Evaluate what the KV cache lacks of ``prompt``: (tokens reused, tokens evaluated); fewer evaluated
        than ``len(prompt) - reused`` when ``cancel`` stopped it (the cache then holds that prefix)."""
        reading = self._read_prompt(loaded, prompt, cancel, key)
        while True:
            try:
                next(reading)
            except StopIteration as read:
                return read.value

    def _read_prompt(self, loaded: _Loaded, prompt: list[int], cancel: threading.Event,
                     key: str | None = None) -> Generator[Progress, None, tuple[int, int]]:
        """:meth:`_eval_prompt`, saying how far it is (a Progress before each batch) when the new part spans
        more than one batch; the front ends show it, with an ETA, in place of a silent wait (a long paste)."""
        self._switch_cache(loaded, prompt, key)
        self._kv_key = key
        ctx, kv = loaded.ctx, self._kv
        n_keep = self._reuse_prefix(ctx, prompt)
        to_eval = prompt[n_keep:]
        step, n_done, marks = ctx.n_batch, 0, []
        try:
            while n_done < len(to_eval):
                if len(to_eval) > step:
                    yield prompt_read(n_done, len(to_eval), marks)
                piece = to_eval[n_done : n_done + step]
                read = ctx.eval(piece, n_keep + n_done, should_stop=cancel.is_set)
                n_done += read
                if read < len(piece):
                    break
        except RuntimeError as exc:
            ctx.clear()
            kv.clear()
            raise GenerationError(f"Evaluating the prompt failed: {exc}") from None
        except GeneratorExit:  # the reader left between batches: the cache holds what was read
            kv.extend(to_eval[:n_done])
            raise
        except BaseException:  # Ctrl+C in `hearth chat`: how much was read is unknown, so nothing is kept
            ctx.clear()  # (the mirror lost step with the cache: the next question failed on its positions)
            kv.clear()
            raise
        kv.extend(to_eval[:n_done])
        return n_keep, n_done

    def _switch_cache(self, loaded: _Loaded, prompt: list[int], key: str | None) -> None:
        """Before ``prompt`` is evaluated: keep a copy of the cache when ``prompt`` leaves most of it behind, and
        bring back a kept cache, or conversation ``key``'s cache saved on disk by an earlier run, that
        ``prompt`` continues further than the one in place. Copying a 4k-token chat's cache on the bundled model
        takes tens of milliseconds; reading the chat again took 20 s here."""
        here = common_prefix(self._kv, prompt)
        shared, back = max(((common_prefix(k.tokens, prompt), k) for k in self._kept), key=lambda sk: sk[0],
                           default=(0, None))
        if back is None or shared - here < _KEPT_MIN_TOKENS:
            shared, back = here, None
        stored = loaded.disk.find(key) if key is not None else None
        if stored is not None and (len(stored.tokens) >= loaded.ctx.n_ctx  # saved with a larger context
                                   or common_prefix(stored.tokens, prompt) - shared < _KEPT_MIN_TOKENS):
            stored = None
        if len(self._kv) >= _KEPT_MIN_TOKENS and here < len(self._kv) // 2:
            self._keep(loaded)
        if stored is not None:
            if loaded.disk.load(stored):
                self._kv[:] = stored.tokens
                return
            loaded.ctx.clear()  # what the sequence holds is not known: the prompt is evaluated from the start
            self._kv.clear()
        if back is not None:  # making room for the copy just kept may have let it go already: it is in hand
            self._kept = [k for k in self._kept if k is not back]
            if loaded.ctx.load_seq(back.state):
                self._kv[:] = back.tokens  # in place: the caller holds this list
            else:
                loaded.ctx.clear()
                self._kv.clear()

    def _keep(self, loaded: _Loaded) -> None:
        """Copy the cache in place out (it replaces an older copy of the same prompt), the oldest copies making
        room within the memory share; a conversation's copy that leaves RAM goes to disk."""
        kv = self._kv
        budget = self._kept_budget()
        state = loaded.ctx.save_seq(budget)
        if state is None:
            log.info("the cache of a %d-token prompt is not kept: too big for free memory, or refused", len(kv))
            return
        self._kept = [k for k in self._kept if common_prefix(k.tokens, kv) < len(k.tokens) // 2]
        self._kept.insert(0, _Kept(list(kv), state, self._kv_key))
        while len(self._kept) > _KEPT_MAX or sum(len(k.state) for k in self._kept) > budget:
            gone = self._kept.pop()
            if gone.key is not None:
                loaded.disk.save_state(gone.key, gone.tokens, gone.state)

    def _kept_budget(self) -> int:
        """Bytes the copies of caches may take in RAM (and a copy on its way to disk)."""
        return int(self._memory_probe() * _KEPT_MEMORY_SHARE)

    def _reuse_prefix(self, ctx: native.NativeContext, prompt: list[int]) -> int:
        """Drop the KV tail that differs from ``prompt``; return how many prompt tokens are already cached."""
        kv = self._kv
        n_keep = common_prefix(kv, prompt)
        if n_keep == len(prompt):
            n_keep -= 1  # the last prompt token must be evaluated again to get fresh logits
        if n_keep < len(kv):
            try:
                ctx.trim(n_keep)
            except native.PartialTrimUnsupported:
                n_keep = 0
            del kv[n_keep:]
        return n_keep

    def _generate_locked(
        self,
        loaded: _Loaded,
        prompt: list[int],
        sampling: SamplingParams,
        max_tokens: int,
        cancel: threading.Event,
        stop: tuple[str, ...],
        grammar: str | None,
        cache_key: str | None,
    ) -> Iterator[Token | Progress | Done]:
        model, ctx, kv = loaded.model, loaded.ctx, self._kv
        t0 = time.perf_counter()
        n_keep, n_done = yield from self._read_prompt(loaded, prompt, cancel, cache_key)
        t_prompt = time.perf_counter()

        answer = _Answer(model, stop, max_tokens)
        if n_done < len(prompt) - n_keep:
            answer.stop_reason = "cancelled"
        spec, policy = self._speculation(loaded, sampling)
        with SamplerChain(sampling, model.vocab, model.n_vocab, grammar) as sampler:
            if policy is None:
                yield from self._plain_loop(ctx, sampler, answer, cancel)
            else:
                self._speed.begin_answer()
                for drafter in policy.drafters:
                    drafter.begin(prompt)
                yield from self._speculative_loop(ctx, sampler, answer, cancel, policy, spec)
        if tail := answer.finish():
            yield Token(tail)
        t_end = time.perf_counter()
        t_first = answer.t_first or t_end
        decode_s = t_end - t_first
        if policy is None and answer.stop_reason != "cancelled":
            self._speed.observe_plain_answer(answer.sampled - 1, decode_s)
        spec.finish(self._speed, policy, answer.sampled - 1, decode_s)
        yield Done(
            text="".join(answer.parts),
            stats=Stats(
                prompt_tokens=len(prompt),
                evaluated_tokens=n_done,
                reused_tokens=n_keep,
                completion_tokens=answer.completion,
                ttft_s=t_first - t0,
                prompt_eval_s=t_prompt - t0,
                decode_s=decode_s,
                # tokens the model chose after the first, per second: one-token steps and verify steps alike
                decode_tps=(answer.sampled - 1) / decode_s if decode_s > 0 else 0.0,
                stop_reason=answer.stop_reason or "length",
                device=loaded.device,
                model=loaded.info.precise_name,
                model_id=loaded.info.model_id,
                prompt_format="fallback" if loaded.formatter.uses_fallback else "gguf",
                context_used=len(kv),
                context_size=ctx.n_ctx,
                spec_mode=spec.mode,
                spec_drafter="+".join(spec.used),
                spec_drafted=spec.drafted,
                spec_accepted=spec.accepted,
                spec_steps=spec.steps,
                spec_draft_prompt_s=sum(getattr(d, "prompt_s", 0.0) for d in policy.drafters) if policy else 0.0,
                spec_speedup=spec.speedup,
                spec_decision=spec.decision,
            ),
        )

    def _speculation(self, loaded: _Loaded, sampling: SamplingParams) -> tuple[_SpecStats,
                                                                               FixedPolicy | AutoPolicy | None]:
        """How this answer decodes: the policy that drafts (None: plain), and the stats that report it.

        Any sampling works, grammars too: the verify step samples the model at every drafted position with
        the same sampler chain as plain decoding and keeps a drafted token only where the sample equals it.
        Every drafter here drafts deterministically (lookup, or a draft model's most likely token), and for a
        deterministic draft that rule is exactly speculative sampling's accept/reject rule (accept token x with
        probability p(x), else sample from p with x removed): the token that comes out at each position has
        the model's own distribution p, so the answer's distribution is unchanged. It even consumes the
        sampler's random numbers exactly as plain decoding does (one draw per chosen token), so a seeded
        answer is the same with speculation on or off.
        """
        params = sampling.speculative
        spec = _SpecStats(params.mode)
        if params.mode == "off":
            return spec, None
        reason = ""
        if loaded.ctx.n_batch < 2:
            reason = "a batch size of 1 leaves no room for a draft"
        elif not loaded.model.can_trim_kv:
            reason = "this model's memory cannot drop rejected drafts"
        elif params.mode in ("draft", "self") and (self._draft is None or self._draft.name != params.mode):
            reason = self.draft_problem or (
                "no draft model is set: choose one in Settings → Model or with --draft-model"
                if params.mode == "draft" else
                "no self-draft is set: make one in Models (Make self-draft) or with `hearth models draft`")
        if reason:
            spec.mode, spec.decision = "off", f"off: {reason}"
            return spec, None
        if self._ngram is None:
            self._ngram = NgramDrafter()
        if params.mode == "ngram":
            return spec, FixedPolicy(self._ngram, params.max_draft, self._speed)
        if params.mode in ("draft", "self"):
            return spec, FixedPolicy(self._draft, params.max_draft, self._speed)
        drafters: list = [self._ngram]
        cost: dict[str, float] = {}
        if self._draft is not None:
            drafters.append(self._draft)
            # until timed, a draft token is guessed to cost the size ratio of a plain step (memory-bound decoding)
            cost[self._draft.name] = self._draft.info.file_size / loaded.info.file_size
        return spec, AutoPolicy(drafters, params.max_draft, self._speed, cost)

    def _decode(self, ctx: native.NativeContext, tokens: list[int], pos: int) -> None:
        """Evaluate ``tokens`` at ``pos...`` with logits for each and record them in ``_kv``; on a failure the
        cache's content is unknown, so it is forgotten."""
        try:
            if len(tokens) == 1:
                ctx.eval_one(tokens[0], pos)
            else:
                ctx.eval_all(tokens, pos)
        except RuntimeError as exc:
            ctx.clear()
            self._kv.clear()
            raise GenerationError(f"Decoding failed: {exc}") from None
        except BaseException:  # an interrupt mid-step: as with a failure, the cache's content is unknown
            ctx.clear()
            self._kv.clear()
            raise
        self._kv.extend(tokens)

    def _plain_loop(self, ctx: native.NativeContext, sampler: SamplerChain, answer: _Answer,
                    cancel: threading.Event) -> Iterator[Token]:
        """One token per decode step. Yields the text that is safe to show; ``answer`` says why it ended."""
        pos = len(self._kv)
        while answer.stop_reason is None:
            if cancel.is_set():
                answer.stop_reason = "cancelled"
                break
            # Invariant: the KV holds exactly _kv == prompt + the answer so far; the logits are for pos - 1.
            tok = sampler.sample(ctx.ptr)
            if text := answer.add(tok):
                yield Token(text)
            if answer.stop_reason is not None:
                break
            if pos >= ctx.n_ctx:
                answer.stop_reason = "context_full"
                break
            # The sampled token is not yet in the KV cache: evaluate it to get the next logits.
            self._decode(ctx, [tok], pos)
            pos += 1

    def _speculative_loop(self, ctx: native.NativeContext, sampler: SamplerChain, answer: _Answer,
                          cancel: threading.Event, policy: FixedPolicy | AutoPolicy,
                          spec: _SpecStats) -> Iterator[Token]:
        """Each step evaluates ``[last] + draft`` in one batch and keeps the longest prefix of the draft that
        the model itself chooses, plus the model's own next token (see ``_speculation`` for why that is exact
        for greedy and sampled decoding alike). ``policy`` decides per step which drafter drafts how many
        tokens, or none (a plain step), and learns from the timing of each step.

        The sampler chain is the plain loop's: sampling batch position i gives the model's choice after
        ``[last] + draft[:i]`` and accepts it into the chain, so penalties and grammars see exactly the chosen
        tokens.
        """
        kv = self._kv
        # The first token comes from the prompt's logits, exactly as in the plain loop.
        if answer.stop_reason is None and not cancel.is_set():
            last = sampler.sample(ctx.ptr)
            for drafter in policy.drafters:
                drafter.accept([last])
            if text := answer.add(last):
                yield Token(text)
        while answer.stop_reason is None:
            if cancel.is_set():
                answer.stop_reason = "cancelled"
                break
            # Invariant: the last sampled token ``last`` is not yet in the KV cache, which holds exactly _kv.
            pos = len(kv)
            if pos >= ctx.n_ctx:
                answer.stop_reason = "context_full"
                break
            # Draft no more than the answer may still use, the context can hold and one batch can verify.
            room = min(policy.max_draft, ctx.n_batch - 1, ctx.n_ctx - pos - 1,
                       answer.max_tokens - answer.completion - 1)
            drafter, draft = policy.plan(room, answer.max_tokens - answer.completion) if room > 0 else (None, [])
            t1 = time.perf_counter()
            self._decode(ctx, [last, *draft], pos)
            chosen: list[int] = []
            hits, reading = 0, 0.0  # ``reading``: time the reader of the tokens took, not the step's
            for i in range(len(draft) + 1):
                last = sampler.sample(ctx.ptr, i)  # the model's choice after [last] + draft[:i]
                chosen.append(last)
                hit = i < len(draft) and last == draft[i]
                hits += hit
                if text := answer.add(last):
                    paused = time.perf_counter()
                    yield Token(text, drafted=hit)
                    reading += time.perf_counter() - paused
                if not hit or answer.stop_reason is not None or cancel.is_set():
                    break  # ``last`` (a miss, the bonus token or where the answer ends) is not in the KV yet
            t2 = time.perf_counter()
            missed = len(chosen) <= len(draft) and not hit
            policy.observe(drafter, len(draft), hits, missed, t2 - t1 - reading, chosen)
            spec.record(drafter, len(draft), hits)
            for each in policy.drafters:
                each.accept(chosen)
            # Drop the KV of the rejected drafts at once: _kv must stay the exact list of cached tokens.
            n_keep = pos + len(chosen)
            if n_keep < len(kv):
                ctx.trim(n_keep)  # can_trim_kv was checked before speculating
                del kv[n_keep:]
            assert kv[pos + 1:] == chosen[:-1]


@dataclass
class _SpecStats:
    """What speculation did during one answer (reported in Stats)."""

    mode: str
    decision: str = ""
    drafted: int = 0
    accepted: int = 0
    steps: int = 0
    used: list[str] = field(default_factory=list)  # drafters that drafted, in order of first use
    speedup: float = 0.0

    def record(self, drafter: object, drafted: int, accepted: int) -> None:
        self.steps += 1
        if drafted:
            self.drafted += drafted
            self.accepted += accepted
            if drafter.name not in self.used:
                self.used.append(drafter.name)

    def finish(self, speed: SpeedModel, policy: FixedPolicy | AutoPolicy | None, decoded: int,
               decode_s: float) -> None:
        """Compare this answer's decode speed with the last measured plain speed, and say what happened."""
        if self.mode == "off" or decoded <= 0 or decode_s <= 0:
            return
        plain = speed.plain_s
        if plain is not None and self.steps:
            # A step costs at least one plain step, so speculation can be at most as much faster as the tokens
            # it gives per step: above that the clock is noise ("1.36x plain" with nothing accepted, from a
            # plain speed measured at another depth of the context).
            self.speedup = round(min(decoded / decode_s * plain, decoded / self.steps), 3)
        acceptance = f"acceptance {self.accepted / self.drafted:.0%}" if self.drafted else "nothing drafted"
        vs_plain = f"{self.speedup:.2f}x plain" if self.speedup else "plain speed not measured yet"
        broken = [d.problem for d in policy.drafters if getattr(d, "problem", "")]
        if broken:
            self.decision = f"{self.mode}: the draft model failed ({broken[0]}), decoded plainly after that"
        elif isinstance(policy, FixedPolicy):
            self.decision = f"{self.mode}: {vs_plain}, {acceptance}"
        elif policy.chosen_steps:  # on how many steps: "drafting with ngram, 0.38x, acceptance 0%" was 2 tries
            self.decision = (f"auto: drafted with {'+'.join(self.used)} on {policy.chosen_steps} of {self.steps} "
                             f"steps, {vs_plain}, {acceptance}")
        elif policy.best_seen is not None:
            gain, key = policy.best_seen  # an acceptance key: "draft", or "ngram:long" / "ngram:short" matches
            drafter, _, matches = key.partition(":")
            self.decision = (f"auto: off, plain is faster here ({drafter}{f' on {matches} matches' if matches else ''} "
                             f"would be {gain:.2f}x, acceptance {speed.acceptance(key):.0%})")
        elif speed.answer_plain_steps < AutoPolicy.CALIBRATION_STEPS:
            self.decision = "auto: off while measuring plain decoding"
        else:
            self.decision = "auto: off, no draft worth trying (nothing in the context to look up)"


class _Answer:
    """The answer as both decode loops build it: they hand it every token the model chose, in order, and it
    decides where the answer ends (EOS, a stop string, max_tokens) the same way for both. That shared rule
    is what makes a speculative answer end exactly where plain decoding would, even inside a draft."""

    def __init__(self, model: native.NativeModel, stop: tuple[str, ...], max_tokens: int) -> None:
        self.model, self.max_tokens = model, max_tokens
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.stopper = StopMatcher(stop)
        self.parts: list[str] = []
        self.completion = 0  # tokens in the answer (EOS is not one)
        self.sampled = 0  # tokens the model chose, EOS included
        self.t_first: float | None = None
        self.stop_reason: str | None = None if max_tokens > 0 else "length"

    def add(self, tok: int) -> str:
        """Take the model's next token; return the text safe to show now. Sets ``stop_reason`` when it ends."""
        self.sampled += 1
        if self.t_first is None:
            self.t_first = time.perf_counter()
        if self.model.is_eog(tok):
            self.stop_reason = "eos"
            return ""
        self.completion += 1
        text, hit = self.stopper.push(self.decoder.decode(self.model.piece(tok)))
        if text:
            self.parts.append(text)
        if hit:
            self.stop_reason = "stop"
        elif self.completion >= self.max_tokens:
            self.stop_reason = "length"
        return text

    def finish(self) -> str:
        """The text still held back (a possible stop-string start). The bytes of a character the answer ended
        in the middle of (max_tokens cut an emoji's or a CJK character's tokens) are dropped, as llama.cpp's
        server drops them: decoded, they ended the answer in U+FFFD."""
        self.decoder.reset()
        if self.stop_reason == "stop":
            return ""
        tail = self.stopper.flush()
        if tail:
            self.parts.append(tail)
        return tail
