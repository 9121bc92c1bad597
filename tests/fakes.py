"""Fast stand-ins for the engine and the embedder, for facade and GUI logic tests that need no real model.

Every feature also has a test through the real parts; these make the logic around them (turn bookkeeping,
settings, scheduling, watching) testable in milliseconds. They follow the real parts' contracts: the
engine renders, tokenizes and streams :class:`Token` events then one :class:`Done`, checks ``cancel``
before every token, and reports load progress; the embedder has a real ``tokenizers`` tokenizer (the
chunker counts with it) and returns L2-normalised vectors.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer, models, pre_tokenizers

from assistant.engine.chat_format import FormattedPrompt, Message
from assistant.engine.gguf_info import ModelInfo
from assistant.events import Done, Progress, Stats, Token, prompt_read

_WORD = re.compile(r"\w+|[^\w\s]")


def echo_last_question(prompt: str) -> str:
    return "You said: " + prompt.rsplit("user: ", 1)[-1].removesuffix("assistant:").strip()


class FakeEngine:
    """Answers with ``reply(prompt_text)`` (default: echoes "You said: <last user message>"), word by word."""

    device = "CPU (fake)"

    def __init__(self, reply: Callable[[str], str] | None = None, n_ctx: int = 4096,
                 token_delay_s: float = 0.0) -> None:
        self.reply = reply or echo_last_question
        self._n_ctx = n_ctx
        self.token_delay_s = token_delay_s
        self.prompt_delay_s = 0.0  # reading the prompt, before the first word: a cancel then ends it wordless
        self.info: Any = None
        self.loads: list[tuple[Path, Any]] = []
        self.prompts: list[str] = []
        self.cache_keys: list[str | None] = []  # generate's cache_key, per prompt
        self.forgotten: list[str] = []  # conversations whose caches the facade dropped
        self.samplings: list[Any] = []  # the sampling of each answer, as asked
        self.busy = threading.Lock()  # held while generating, like the real engine's lock
        self.cached_tokens = 0
        self._rendered: dict[tuple[int, ...], str] = {}  # tokens -> the text they were rendered from

    # -- loading ---------------------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self.info is not None

    def load(self, path: str | Path, settings: Any = None, progress: Callable[[Progress], None] | None = None,
             cancel: threading.Event | None = None) -> Any:
        path = Path(path)
        for step in range(1, 5):
            if progress is not None:
                progress(Progress("load", step / 4, 1.0, eta_s=(4 - step) * 0.01, message=path.name))
        self.loads.append((path, settings))
        self.info = ModelInfo(path=str(path), name=f"Fake {path.stem}", architecture="fake", file_size=0,
                              n_params=1_000_000, quantization="F32", context_length=0,  # 0: not known
                              n_layer=0, n_embd=0, n_head=0, n_head_kv=0, head_dim=0, vocab_size=0,
                              chat_template=None, bos_token=None, eos_token=None)
        if settings is not None and getattr(settings, "n_ctx", 0):
            self._n_ctx = settings.n_ctx
        return self.info

    @property
    def settings(self) -> Any:
        """The settings of the last load (None when loaded without any), like the real engine's."""
        return self.loads[-1][1] if self.loads else None

    def unload(self) -> None:
        self.info = None

    def reload_if_changed(self) -> str:
        """A fake model has no file to change."""
        return ""

    draft_info = None  # a fake model has no draft model: auto mode falls back to lookup

    def set_draft_model(self, path: str | Path | None, kind: str = "draft") -> None:
        if path is not None:
            raise AssertionError("the fake engine takes no draft model")

    # -- prompts ---------------------------------------------------------------------------------------
    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def uses_fallback_format(self) -> bool:
        return False

    def tokenize(self, text: str, add_special: bool = False) -> list[int]:
        return [hash(w) % 50_000 for w in _WORD.findall(text)]

    def render(self, messages: list[Message]) -> tuple[FormattedPrompt, list[int]]:
        text = "\n".join(f"{m.role}: {m.content}" for m in messages) + "\nassistant:"
        tokens = self.tokenize(text)
        self._rendered[tuple(tokens)] = text
        return FormattedPrompt(text, (), False), tokens

    # -- generation ------------------------------------------------------------------------------------
    def use_prompt_store(self, store: Any) -> None:
        self.prompt_store = store

    def forget_cache(self, key: str) -> None:
        self.forgotten.append(key)

    @contextlib.contextmanager
    def watching(self, cancel: threading.Event) -> Iterator[None]:
        yield

    def generate(self, tokens: list[int], sampling: Any, max_tokens: int, cancel: threading.Event | None = None,
                 stop: Sequence[str] = (), cache_key: str | None = None) -> Iterator[Token | Progress | Done]:
        with self.busy:
            info = self.info  # the model it answers on, as the real engine's: a load meanwhile waits for it
            prompt = self._rendered.get(tuple(tokens), "")
            self.prompts.append(prompt)
            self.cache_keys.append(cache_key)
            self.samplings.append(sampling)
            reply = self.reply(prompt)
            cut = min((at for s in stop if s and (at := reply.find(s)) >= 0), default=len(reply))  # as llama.cpp's
            words = re.findall(r"\S+\s*", reply[:cut])
            reason = "length" if len(words) > max_tokens else "stop"
            words = words[:max_tokens]
            out: list[str] = []
            marks: list[tuple[int, float]] = []
            reading = time.monotonic() + self.prompt_delay_s
            halfway = time.monotonic() + self.prompt_delay_s / 2
            if self.prompt_delay_s:  # said as the real engine says a prompt longer than a batch
                yield prompt_read(0, len(tokens), marks)
            while time.monotonic() < reading and not (cancel is not None and cancel.is_set()):
                if halfway and time.monotonic() >= halfway:
                    halfway = 0
                    yield prompt_read(len(tokens) // 2, len(tokens), marks)
                time.sleep(0.01)
            for word in words:
                if cancel is not None and cancel.is_set():
                    reason = "cancelled"
                    break
                if self.token_delay_s:
                    time.sleep(self.token_delay_s)
                out.append(word)
                yield Token(word)
            text = "".join(out).strip()
            self.cached_tokens = len(tokens) + len(out)
            yield Done(text, Stats(prompt_tokens=len(tokens), evaluated_tokens=len(tokens),
                                   completion_tokens=len(out), stop_reason=reason, device=self.device,
                                   model=info.name if info else "", model_id=info.model_id if info else "",
                                   context_used=self.cached_tokens,
                                   context_size=self._n_ctx))


def fake_engine(**kwargs: Any) -> FakeEngine:
    """A loaded fake engine that answers from the prompt it was given."""
    engine = FakeEngine(**kwargs)
    engine.load(Path("fake-model.gguf"))
    return engine


@dataclass
class FakeEmbedder:
    """Hashed bag-of-words vectors: texts that share words are close, as the chunker and stores expect."""

    dim: int = 64
    max_tokens: int = 254
    name: str = "fake-embedder"

    def __post_init__(self) -> None:
        self.calls = 0
        vocab = {"[UNK]": 0}
        tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
        self.tokenizer = tokenizer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest, "little") % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)
