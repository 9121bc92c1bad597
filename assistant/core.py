"""The Assistant facade: every core action the CLI, the GUI and the benchmarks use lives here.

Parts (engine, history) come in through the constructor so tests can pass their own; ``Assistant.open()``
wires the real ones from the settings and the data directory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.chat.history import History
from assistant.chat.prompt import build_prompt
from assistant.config import Settings, load_settings, save_settings
from assistant.engine import PRESETS, Engine, LoadSettings, Message, ModelInfo, SamplingParams
from assistant.engine.chat_format import FALLBACK_NOTICE
from assistant.errors import ContextOverflowError, HearthError
from assistant.events import Done, Event, Failed, MemoriesUsed, Notice, Progress, Sources, Token
from assistant.knowledge import Citation, CollectionInfo, KnowledgeBase, build_sources_prompt, check_citations
from assistant.knowledge.attribution import attribute
from assistant.memory import MemoryService
from assistant.models import ModelProfile, ModelSwitcher, ProfileStore
from assistant.paths import BUNDLED_CHAT_MODEL, Paths, apply_privacy_defaults, get_paths

if TYPE_CHECKING:
    from assistant.models.service import ModelsService

#: How often a streaming answer is written to the history (a killed process loses at most this much).
CHECKPOINT_S = 0.5


class Response:
    """A lazy answer: iterating drives generation once and buffers the events; ``text()`` finishes it."""

    def __init__(self, events: Iterator[Event], cancel: threading.Event) -> None:
        self._events = events
        self._seen: list[Event] = []
        self.cancel_event = cancel
        self.done: Done | None = None
        self.failed: Failed | None = None

    def __iter__(self) -> Iterator[Event]:
        yield from self._seen
        for event in self._events:
            self._seen.append(event)
            if isinstance(event, Done):
                self.done = event
            elif isinstance(event, Failed):
                self.failed = event
            yield event

    def cancel(self) -> None:
        self.cancel_event.set()

    def text(self) -> str:
        for _ in self:
            pass
        if self.done is not None:
            return self.done.text
        return self.failed.text if self.failed else ""


class Assistant:
    def __init__(
        self,
        paths: Paths,
        settings: Settings,
        *,
        engine: Engine | None = None,
        history: History | None = None,
        knowledge: KnowledgeBase | None = None,
        memory: MemoryService | None = None,
        settings_warning: str | None = None,
    ) -> None:
        self.paths = paths.ensure()
        self.settings = settings
        self.settings_warning = settings_warning
        self.engine = engine or Engine()
        self.history = history or History(paths.history_db)
        self._knowledge = knowledge
        self._memory = memory
        self._models: ModelsService | None = None
        self._opening = threading.Lock()  # GUI workers may reach for knowledge/memory at the same time
        self.switcher = ModelSwitcher(self.engine, ProfileStore.for_paths(self.paths))

    @classmethod
    def open(cls) -> Assistant:
        apply_privacy_defaults()
        paths = get_paths().ensure()
        loaded = load_settings(paths.settings_file)
        return cls(paths, loaded.settings, settings_warning=loaded.warning)

    def close(self) -> None:
        self.engine.unload()
        self.history.close()
        if self._memory is not None:
            self._memory.close()
        if self._knowledge is not None:
            self._knowledge.close()

    # ---- settings -----------------------------------------------------------------------------------
    def save_settings(self) -> None:
        """Persist the settings, and the model section also as the current model's own profile."""
        save_settings(self.settings, self.paths.settings_file)
        self.switcher.profiles.save_profile(self.model_path(), ModelProfile.from_settings(self.settings.model))

    def apply_preset(self, name: str) -> None:
        if name not in PRESETS:
            raise HearthError(f"Unknown sampling preset {name!r}; choose one of {', '.join(PRESETS)}.")
        preset, m = PRESETS[name], self.settings.model
        m.preset, m.temperature, m.top_p = name, preset.temperature, preset.top_p

    def sampling(self) -> SamplingParams:
        m = self.settings.model
        return SamplingParams(m.temperature, m.top_k, m.top_p, m.min_p, m.repeat_penalty, seed=m.seed)

    # ---- models -------------------------------------------------------------------------------------
    @property
    def models(self) -> ModelsService:
        """The model library, the catalog, Hub search and downloads (see ``assistant.models.service``)."""
        with self._opening:
            if self._models is None:
                from assistant.models.service import ModelsService

                self._models = ModelsService(self.paths, lambda: self.settings)
            return self._models

    def model_path(self) -> Path:
        return Path(self.settings.model.path).expanduser() if self.settings.model.path else BUNDLED_CHAT_MODEL

    def load_settings(self) -> LoadSettings:
        m = self.settings.model
        return LoadSettings(n_ctx=m.n_ctx, n_threads=m.n_threads, n_batch=m.n_batch, n_gpu_layers=m.n_gpu_layers)

    def ensure_model(self, progress: Callable[[Progress], None] | None = None,
                     cancel: threading.Event | None = None) -> ModelInfo:
        if not self.engine.loaded:
            self.engine.load(self.model_path(), self.load_settings(), progress, cancel)
        return self.engine.info

    def use_model(self, path: str | Path, progress: Callable[[Progress], None] | None = None,
                  cancel: threading.Event | None = None) -> ModelInfo:
        """Switch to ``path`` with its own saved settings (context, GPU layers, sampling, system prompt).

        The current model's settings are saved as its profile first; if the new model fails to load, the old
        one stays loaded and the specific ModelLoadError is raised.
        """
        switched = self.switcher.switch(path, self.settings.model, self.model_path(), progress, cancel)
        switched.profile.apply_to(self.settings.model)
        self.settings.model.path = str(switched.path)
        self.save_settings()
        return switched.info

    # ---- knowledge ----------------------------------------------------------------------------------
    @property
    def knowledge(self) -> KnowledgeBase:
        """Opened on first use: the embedder loads only when something is indexed or searched."""
        with self._opening:
            if self._knowledge is None:
                self._knowledge = KnowledgeBase(self.paths, self.settings.knowledge)
            return self._knowledge

    def index(self, sources: list[Path], collection: str = "default",
              cancel: threading.Event | None = None) -> Iterator[Progress]:
        return self.knowledge.index([Path(s) for s in sources], collection, cancel)

    def search(self, text: str, collections: tuple[str, ...] | None = None, k: int | None = None) -> list[Citation]:
        """Hybrid search in ``collections`` (all when None), best first, numbered 1..k."""
        k = k or self.settings.knowledge.top_k
        if collections is None or len(collections) == 1:
            hits = self.knowledge.search(text, collections[0] if collections else None, k)
        else:
            hits = sorted((h for c in collections for h in self.knowledge.search(text, c, k)),
                          key=lambda h: h.score, reverse=True)[:k]
        return [replace(h, n=i) for i, h in enumerate(hits, start=1)]

    def collections(self) -> list[CollectionInfo]:
        return self.knowledge.collections()

    def remove_collection(self, name: str) -> None:
        self.knowledge.remove_collection(name)

    # ---- memory -------------------------------------------------------------------------------------
    @property
    def memory(self) -> MemoryService | None:
        """The user's memory (None when switched off in the settings); opened on first use."""
        if not self.settings.memory.enabled:
            return None
        embedder = self.knowledge.embedder if self._memory is None else None
        with self._opening:
            if self._memory is None:
                self._memory = MemoryService(self.paths, self.settings.memory, self.engine, embedder)
            return self._memory

    def process_memory(self, cancel: threading.Event | None = None, limit: int | None = None) -> int:
        """Learn from finished turns waiting in the queue. Call it when the engine is idle (the GUI after an
        answer, the CLI before it exits): it holds the engine while it runs."""
        memory = self.memory
        if memory is None or not memory.pending_count():
            return 0
        return memory.process_pending(cancel, limit)

    # ---- chat ---------------------------------------------------------------------------------------
    def ask(
        self,
        text: str,
        conversation_id: str | None = None,
        *,
        sampling: SamplingParams | None = None,
        cancel: threading.Event | None = None,
        collections: tuple[str, ...] = (),
        use_memory: bool = True,
    ) -> Response:
        """Answer ``text``; with ``collections``, from those knowledge collections with numbered citations.

        ``use_memory=False`` is incognito: nothing is read from or written to the user's memory.
        """
        cancel = cancel or threading.Event()
        memory = self.memory if use_memory else None
        turn = self._turn(text, conversation_id, sampling or self.sampling(), cancel, tuple(collections), memory)
        return Response(turn, cancel)

    def _build(self, text: str, past: list[Message], citations: list[Citation], grounded: bool, remembered: str):
        """The prompt within budget; passages that do not fit are dropped from the end (least relevant)."""
        m = self.settings.model
        while True:
            sources = build_sources_prompt(citations) if grounded else ""
            try:
                built = build_prompt(system=m.system_prompt, history=past, question=text, n_ctx=self.engine.n_ctx,
                                     max_tokens=m.max_tokens, render=self.engine.render, question_context=sources,
                                     context_blocks=(remembered,) if remembered else ())
                return built, citations
            except ContextOverflowError:
                if not citations:
                    raise
                citations = citations[: len(citations) // 2]

    def _turn(self, text: str, conversation_id: str | None, sampling: SamplingParams,
              cancel: threading.Event, collections: tuple[str, ...], memory: MemoryService | None) -> Iterator[Event]:
        try:
            info = self.ensure_model()
        except HearthError as exc:
            yield Failed(str(exc), error_type=type(exc).__name__)
            return
        if conversation_id is None:
            conv = self.history.create_conversation(title=_title_from(text), model=info.name)
        else:
            conv = self.history.get_conversation(conversation_id)
        past = [Message(m.role, m.content) for m in self.history.messages(conv.id) if m.content]
        self.history.add_message(conv.id, "user", text)
        reply = self.history.add_message(conv.id, "assistant", "", partial=True)
        parts: list[str] = []
        finished = False
        try:
            citations = self.search(text, collections) if collections else []
            memories = memory.relevant(text) if memory is not None else []
            remembered = memory.prompt_block(memories) if memory is not None else ""
            built, citations = self._build(text, past, citations, bool(collections), remembered)
            if memories:
                yield MemoriesUsed(tuple(memories))
            if citations:
                yield Sources(tuple(citations))
            fallback = self.engine.uses_fallback_format
            if fallback:
                yield Notice("prompt_format", FALLBACK_NOTICE)
            if built.dropped_turns:
                yield Notice("context", f"Dropped the {built.dropped_turns} oldest turn(s) of this conversation "
                                        f"to fit the {self.engine.n_ctx}-token context.")
            last_save = time.monotonic()
            for event in self.engine.generate(built.tokens, sampling, built.max_tokens, cancel, built.prompt.stop):
                if isinstance(event, Token):
                    parts.append(event.text)
                    if time.monotonic() - last_save > CHECKPOINT_S:
                        self.history.update_message(reply.id, content="".join(parts))
                        last_save = time.monotonic()
                    yield event
                elif isinstance(event, Done):
                    answer, cited = check_citations(event.text, citations) if citations else (event.text, [])
                    if citations and not cited:
                        answer, cited = attribute(answer, citations)
                        if cited:
                            yield Notice("citations", "The model did not cite its sources; Hearth matched "
                                                      "sentences to the passages they restate.")
                    stats = replace(event.stats, dropped_turns=built.dropped_turns)
                    numbers = {c.n for c in cited}
                    self.history.update_message(
                        reply.id, content=answer, partial=stats.stop_reason == "cancelled", stats=stats.to_dict(),
                        sources=[c.to_dict() | {"cited": c.n in numbers} for c in citations] or None,
                        memories=[m.to_dict() for m in memories] or None,
                    )
                    finished = True
                    if memory is not None and stats.stop_reason != "cancelled":
                        memory.enqueue_turn(conv.id, text, answer)
                    if citations:
                        yield Sources(tuple(citations), cited=tuple(sorted(numbers)))
                    yield replace(event, text=answer, stats=stats, conversation_id=conv.id, message_id=reply.id)
        except HearthError as exc:
            yield Failed(str(exc), text="".join(parts), error_type=type(exc).__name__)
        finally:
            if not finished:  # failed, or the consumer stopped iterating: keep what was streamed
                self.history.update_message(reply.id, content="".join(parts), partial=True)


def _title_from(text: str, limit: int = 60) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"

