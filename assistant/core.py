"""The Assistant facade: the only door front ends (window, CLI, API server, benchmarks) use into the core.

Everything is reached through it: answers (:meth:`Assistant.ask`), conversations (``history``), knowledge
collections and watching, memory (``memory``), the model library (``models``), settings
(:meth:`update_settings`) and the background work (``subscribe``). The service objects it hands out
(``history``, ``knowledge``, ``memory``, ``models``) are documented contracts; front ends never build
them, never import their modules, and never schedule core work: memory learning, folder watching and
retries run on the core's own :class:`~assistant.scheduler.Scheduler`.

Parts come in through the constructor so tests can pass their own (fakes or real); ``Assistant.open()``
wires the real ones from the settings and the data directory. Heavy parts (the embedder, Chroma, mem0)
are opened on first use, so a command that does not need them does not pay for them.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.chat.history import History
from assistant.chat.turn import TurnOptions, TurnParts, run_turn
from assistant.chat.watch import ChangePoll
from assistant.config import (
    SAMPLING_FIELDS,
    ModelSettings,
    ServerSettings,
    Settings,
    atomic_write_text,
    load_settings,
    parse_settings,
    preset_of,
    save_settings,
)
from assistant.engine.prompt_store import PromptStore
from assistant.errors import (
    ConfigError,
    ConversationNotFoundError,
    HearthError,
    InputError,
    MemoryStoreUnavailableError,
    ModelLoadError,
    ModelNotFoundError,
    NotGGUFError,
    TruncatedModelError,
    UnsupportedArchitectureError,
)
from assistant.events import (
    BackgroundEvent,
    ChatsChanged,
    Done,
    Event,
    Failed,
    Notice,
    Progress,
    SettingsReloaded,
    Token,
    counted,
)
from assistant.kept_responses import KeptResponses
from assistant.lazy import PYDANTIC_IMPORTS
from assistant.paths import BUNDLED_CHAT_MODEL, Paths, apply_privacy_defaults, get_paths, real_path
from assistant.scheduler import Hooks, Scheduler

if TYPE_CHECKING:
    from assistant.config import RemoteSettings
    from assistant.doctor import Finding
    from assistant.engine import Engine, LoadSettings, ModelInfo, SamplingParams
    from assistant.knowledge import CollectionInfo, KnowledgeBase
    from assistant.knowledge.embedder import Embedder
    from assistant.knowledge.records import Hits, Overlap
    from assistant.memory import MemoryService
    from assistant.memory.transfer import ImportReport
    from assistant.models import Removal
    from assistant.models.service import ModelsService
    from assistant.remote import RemoteCheck
    from assistant.server.runner import ServerStatus

log = logging.getLogger(__name__)
#: What a one-off search brings up to date itself in a watched collection changed since its last sync (more is
#: said instead: a command asked for an answer, not for minutes of indexing).
CATCH_UP_FILES, CATCH_UP_BYTES = 20, 5 * 2**20

#: ModelSettings fields that only take effect when the model is loaded again.
RELOAD_FIELDS = ("n_ctx", "n_threads", "n_batch", "n_gpu_layers", "kv_cache")
_RELOAD_NAMES = {"n_ctx": "context", "n_threads": "threads", "n_batch": "batch", "n_gpu_layers": "GPU layers",
                 "kv_cache": "KV cache"}

#: Per-answer fields: read at every turn, so a change applies to the next answer.
#: A raw completion's prompt must hold text (the API says it before the answer starts, naming the field).
EMPTY_PROMPT = "The prompt is empty: give some text to continue."
_ANSWER_FIELDS = ("max_tokens", "preset", "temperature", "top_k", "top_p", "min_p", "repeat_penalty", "seed",
                  "system_prompt", "speculative", "speculative_max_draft", "draft_model")
#: Fields that choose the draft model: a change loads (or drops) it at once.
_DRAFT_FIELDS = ("speculative", "draft_model")
#: How long ``close`` lets memory learning finish the queued turns (one-shot commands learn before exiting;
#: whatever is left stays queued on disk and is learned at the next start).
CLOSE_LEARNING_S = 120.0
#: How long removing a collection waits for its background re-sync to stop (it stops between batches).
SYNC_STOP_WAIT_S = 30.0
#: ``Assistant.chat(conversation_id=NEW_CONVERSATION)`` starts a conversation in the history (API clients).
NEW_CONVERSATION = "new"


def _load_value(field: str, value: object) -> str:
    """A load setting as Settings shows it ("threads 0" and "GPU layers -1" were the config file's values)."""
    if field == "n_threads" and value == 0:
        return "threads automatic"
    if field == "n_gpu_layers" and value == -1:
        return "GPU layers all"
    return f"{_RELOAD_NAMES[field]} {value}"


#: Answer settings whose value means something Settings shows in words ("seed: -1" for "random").
_ANSWER_WORDS: dict[tuple[str, object], str] = {
    ("seed", -1): "random", ("system_prompt", ""): "none (the model's own)", ("top_k", 0): "off",
    ("draft_model", ""): "automatic"}


#: The server settings as Settings → Server names them.
_SERVER_WORDS = {"host": "address", "cors_origins": "browser origins", "parallel": "parallel answers",
                 "token": "token"}


def _answer_value(field: str, value: object) -> str:
    """An answer setting's change as Settings shows it ("seed: random", not "seed: -1"; "system prompt: none",
    not "system prompt: ''"; a choice as its name, "speculative: draft", and a text in quotes)."""
    shown = _ANSWER_WORDS.get((field, value))
    if shown is None:
        shown = f"“{value}”" if field in ("system_prompt", "draft_model") else str(value)
    return f"{field.replace('_', ' ')}: {shown}"


@dataclass(frozen=True)
class MemoryRebuilt:
    """What :meth:`Assistant.rebuild_memory_store` did: memories read back from the damaged store's rows, and
    from mem0's history of changes (without what only the store knew: links, sources); where the store went."""

    from_store: int
    from_log: int
    aside: Path

    def summary(self) -> str:
        rebuilt = counted(self.from_store + self.from_log, "memory", "memories")
        log_part = (f" ({self.from_log:,} of them from the record of changes, without the message each was "
                    "learned from)" if self.from_log else "")
        return f"{rebuilt} rebuilt{log_part}; the damaged store was moved to {self.aside}"


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


@dataclass(frozen=True)
class SettingsApplied:
    """What :meth:`Assistant.update_settings` did, in words the front end can show; ``problems`` are the parts
    of ``changes`` that could not be done (a front end marks the report as failed by them, not by its words)."""

    changes: tuple[str, ...]
    model: ModelInfo | None = None  # the model loaded again, when the change needed it
    problems: tuple[str, ...] = ()
    #: the settings file had problems said of it and this change saved it whole, in words (as
    #: ``SettingsReloaded.mended``): a front end takes back what it showed of them
    mended: str = ""


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
        if engine is None:
            from assistant.engine import Engine

            engine = Engine()
        self.engine = engine
        #: The in-process engine; ``engine`` is a RemoteEngine instead while ``settings.remote.llm_url`` is set.
        self._local_engine = engine
        self._remote_engine: Any = None
        self._select_llm()
        self.history = history or History(paths.history_db)
        #: What happened to the chat history file at open (salvaged after damage, or read-only), or ``None``.
        self.history_warning = self.history.salvage_report
        #: Why the settings' remote LLM URL cannot be used, when opened for checks (see :meth:`open`).
        self.llm_url_problem = ""
        # a conversation's KV cache outlives the process (engine/prompt_store.py) and dies with the conversation
        self._local_engine.use_prompt_store(PromptStore(paths.prompt_cache_dir, keeps=self.history.has_conversation))
        self.history.on_delete(self._local_engine.forget_cache)
        #: The Responses API's kept responses (``store``), on disk: they were lost when the server stopped
        self.kept_responses = KeptResponses(paths.responses_db)
        self.history.on_delete(self._forget_responses_of)
        self._knowledge = knowledge
        self._memory = memory
        self._models: ModelsService | None = None
        self._switcher: Any = None
        # Front-end threads may reach for a lazy part at the same time. One lock per slow part: opening the
        # memory store (learning's thread, 2-3 s at start) held the window's thread, which only wanted the
        # model library, for as long. Memory takes the knowledge lock inside its own (the shared embedder).
        self._opening = threading.RLock()  # the quick parts: the model library, the switcher, chats' turn locks
        self._opening_knowledge = threading.RLock()
        self._opening_memory = threading.RLock()
        self._memory_unavailable: MemoryStoreUnavailableError | None = None  # see memories(retry=False)
        self._model_lock = threading.RLock()  # one model load at a time
        self._conversation_locks: dict[str, threading.Lock] = {}  # see _one_turn_at_a_time
        self._capped_said: set[tuple[str, int]] = set()  # see _capped_once
        self._for_call: Path | None = None  # the last model loaded for a call (``ensure_model(model=…)``)
        self._counting: tuple[Any, Any] | None = None  # the embedder's tokenizer and its uncut copy
        self.scheduler = Scheduler(Hooks(learner=self._learner, engine_ready=lambda: self.engine.loaded,
                                         sync=lambda name, cancel: self.knowledge.sync(name, cancel),
                                         watched=lambda: self.knowledge.watched(),
                                         collections=lambda: self.knowledge.names()))
        self.long_lived = False
        self._caught_up: set[str] = set()  # collections a one-off search brought up to date (or said stale) already
        #: ((model, mode, configured draft), the draft chosen for them): ``ensure_draft`` resolves once per change
        self._draft_for: tuple[tuple[str, str, str], Path | None] | None = None
        #: Requests the engine should decode together (continuous batching); front ends that serve raise it
        #: with :meth:`serving` before the model loads. 1: one answer at a time.
        self.parallel_requests = 1
        self._server: Any = None  # the API server's ServerHandle, while one was started (start_server)
        self._server_overrides: dict[str, Any] = {}  # host/port given to start_server for this run only
        self._server_failure: ServerStatus | None = None  # why the last start failed, until the next start
        self._settings_lock = threading.RLock()  # a change from the front end and one from the file, in turn
        self._rewrite: Collection[str] = ()  # see update_settings
        #: The settings file's text as this process last read or wrote it: a change on disk is another's.
        self._settings_text: str | None = None
        #: True while an edit of the settings file is applied (under the settings lock): the file is then what the
        #: user wrote, and no save on the way writes it (see _settings_file_changed)
        self._applying_file = False
        self._said_unreadable: str | None = None  # the text of a settings file said to be unreadable
        #: whether what was last said of the settings file (at start, or when it changed) was a problem: the
        #: front ends show it until the file is said to read well again (see _reloaded)
        self._file_problem = settings_warning is not None
        self._settings_watcher: Any = None
        self._chats_poll: ChangePoll | None = None  # see subscribe
        self._served = 0  # moves with each event of a turn the API server saves (see _counted)

    @classmethod
    def open(cls, *, background: bool = False, checking: bool = False) -> Assistant:
        """The real assistant from the settings file. ``background=True`` is for long-lived processes (the
        window, ``hearth chat``, ``hearth serve``): watched folders are watched and caught up at once.
        ``checking=True`` is for `hearth doctor`: a remote LLM URL that cannot be used is set aside (the local
        model stands in) and kept in :attr:`llm_url_problem` for the report, instead of refusing to open (doctor
        said that one line and checked nothing else)."""
        apply_privacy_defaults()
        paths = get_paths().ensure()
        loaded = load_settings(paths.settings_file)
        problem = ""
        if checking and loaded.settings.remote.llm_url.strip():
            from assistant.engine.remote import endpoints

            try:
                endpoints(loaded.settings.remote.llm_url)
            except InputError as exc:
                loaded.settings.remote.llm_url, problem = "", str(exc)
        assistant = cls(paths, loaded.settings, settings_warning=loaded.warning)
        assistant.llm_url_problem = problem
        if background:
            assistant.start_background()
        return assistant

    def start_background(self) -> None:
        """Watch the watched collections (catching up with changes made while nothing ran), finish the indexing
        runs that closing Hearth (or a crash) cut off, and learn from turns a previous run left queued, as soon
        as a model is loaded."""
        self.long_lived = True
        self.scheduler.start()
        try:
            self.scheduler.watch_all()
            for collection in self.knowledge.interrupted():
                self.scheduler.request_sync(collection)
        except HearthError as exc:  # a damaged index: the knowledge commands say so (and doctor how to repair
            # it); chat, memory and the server start all the same (the window, `hearth chat` and `hearth serve`
            # refused to start over it)
            log.warning("folders not watched, and cut-off indexing runs not finished: %s", exc)
        self.scheduler.turn_queued()
        self._watch_settings_file()

    def _watch_settings_file(self) -> None:
        """Apply the settings file when it changes on disk: edited by hand, or by another Hearth process
        (`hearth models use` while `hearth serve` runs). A running window or chat read it only at start, and
        its next save wrote its own copy over the edit."""
        import tomllib

        from assistant.knowledge.watch import FolderWatcher

        path = self.paths.settings_file
        with contextlib.suppress(OSError, UnicodeDecodeError):
            self._settings_text = path.read_text(encoding="utf-8")
            try:
                tomllib.loads(self._settings_text)
            except tomllib.TOMLDecodeError:  # said at start (settings_warning): not again, but its mending is
                self._said_unreadable = self._settings_text
        try:
            self._settings_watcher = FolderWatcher([path.parent], self._settings_file_changed, 0.5).start()
        except OSError as exc:  # no inotify watches left...: the settings still apply from the front ends
            log.warning("the settings file is not watched for changes: %s", exc)

    def _settings_file_changed(self) -> None:
        import tomllib

        path = self.paths.settings_file
        with self._settings_lock:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return  # removed or being replaced: the settings in use stay
            if text == self._said_unreadable:
                return  # said to be unreadable already (the window showed two boxes for one save)
            if text == self._settings_text:
                if self._said_unreadable is not None:  # put back as it was before it broke: the settings in use
                    self._said_unreadable = None  # are its own, and what was said of the broken one is taken back
                    self._reloaded((), ())
                return  # this process wrote it, or nothing in it changed
            if not text.strip():  # an editor saving in place has emptied it and not yet written it: applied as
                # is, every setting went back to its default and that was saved over the edit on its way
                log.info("%s is empty (being written?): the settings in use stay", path.name)
                return
            try:
                loaded = parse_settings(text, path, self.settings)  # an unusable value keeps the one in use
            except tomllib.TOMLDecodeError as exc:
                # not taken as this process's copy: no later save writes over the file until it can be read
                self._said_unreadable = text  # once
                self._reloaded((), (f"Settings file {path} was changed but cannot be read: {exc}. The last "
                                    "settings that read well stay in use, and nothing is saved over the file "
                                    "until it reads.",))
                return
            self._settings_text, self._said_unreadable = text, None
            problems = (loaded.warning,) if loaded.warning else ()
            # The file is what the user wrote while it applies: the saves on the way (a model switch saves before
            # it loads) wrote the values in use over it, so a model that failed to load took the rest of the edit
            # with it, unsaid. A file with an unusable value, or whose apply failed, is left as written and the
            # problem is said; one applied whole is saved after, for what applying added (a preset's values, a
            # token made anew), with its comments.
            self._applying_file = True
            try:  # a token deleted in the file is made anew (the README's way to get a new one)
                applied = self._apply(loaded.settings, None, None, keep_token=False)
            except HearthError as exc:
                why = str(exc).rstrip(".")
                self._reloaded((), (*problems, f"{path.name} was changed and not all of it applies: {why}. The file is "
                                               "left as written."))
                return
            finally:
                self._applying_file = False
            if not problems:
                try:
                    self.save_settings()
                except ConfigError as exc:
                    problems = (f"not saved: {str(exc).rstrip('.')}",)
            log.info("settings file changed: %s", "; ".join(applied.changes) or "nothing to apply")
            self._reloaded(applied.changes, (*problems, *applied.problems))

    def _reloaded(self, changes: Sequence[str], problems: Sequence[str]) -> None:
        """Say what a change of the settings file did: problems as warnings (every front end shows those: the
        CLI on stderr), and to listeners (the window's banner). A file said to have problems (at start too) that
        now applies whole is said to read well again: the window kept its notice of a typo the user had mended,
        and a terminal's last word on the file was the typo."""
        mended = self._mended_words() if self._file_problem and not problems else ""
        self._file_problem = bool(problems)
        for said in (*problems, mended):
            if said:
                log.warning("%s", said)
        self.scheduler.publish(SettingsReloaded(tuple(changes), tuple(problems), mended))

    def _mended_words(self) -> str:
        return f"Settings file {self.paths.settings_file} reads well again; its settings are in use."

    def close(self, learning_s: float | None = None) -> None:
        """Stop background work (letting memory learning finish for up to ``learning_s``), then close parts."""
        self.stop_server(one_answer_at_a_time=False)
        if self._settings_watcher is not None:
            self._settings_watcher.stop()
        if self._chats_poll is not None:
            self._chats_poll.stop()
        self.scheduler.stop(drain_s=CLOSE_LEARNING_S if learning_s is None else learning_s)
        self.engine.unload()
        if self.engine is not self._local_engine:
            self._local_engine.unload()
        self.history.close()
        self.kept_responses.close()
        if self._memory is not None:
            self._memory.close()
        if self._knowledge is not None:
            self._knowledge.close()

    def subscribe(self, listener: Callable[[BackgroundEvent], None]) -> Callable[[], None]:
        """Be told (from a background thread) what background work is doing, and :class:`ChatsChanged` within
        about a second of another process, or this one's API server, changing the chat history (a front end that
        lists chats listens; a one-off command does not pay for the look); returns the unsubscribe call."""
        with self._opening:
            if self._chats_poll is None:
                self._chats_poll = ChangePoll(lambda: (self.history.version(), self._served),
                                              lambda: self.scheduler.publish(ChatsChanged())).start()
        return self.scheduler.subscribe(listener)

    def doctor(self, desktop: bool = True) -> list[Finding]:
        """Check the install and the data (see ``assistant.doctor``): problems first, each with what to do."""
        from assistant import doctor

        return doctor.check(self, desktop)

    def repair(self, finding: Finding) -> Iterator[Progress]:
        """Run the repair a finding offers (a collection re-sync, memory turns queued again), with progress."""
        from assistant import doctor

        yield from doctor.repair(self, finding)
        if finding.repair.startswith("retry-memory"):
            self.scheduler.turn_queued()

    def warm_up(self, part: str) -> None:
        """Open now what the first answer (``"answers"``: memory store, embedder) or the first indexing run
        (``"indexing"``: chunker, Chroma, the embedder's bulk model) would otherwise open, for front ends that
        start them in the background at launch."""
        if part == "answers":
            if self.settings.memory.enabled:
                _ = self.memory
                self.knowledge.embedder.embed(["warm-up"])
        elif part == "indexing":
            log.info("warm-up for indexing: the chunker, Chroma and the embedder's bulk encoder")
            self.knowledge.warm_up()
        else:
            raise ValueError(f"unknown part {part!r}")

    # ---- settings -----------------------------------------------------------------------------------
    @property
    def presets(self) -> dict[str, SamplingParams]:
        from assistant.engine import PRESETS

        return PRESETS

    def save_settings(self) -> None:
        """Persist the settings, and the model section also as the current model's own profile (only the profile
        while an edit of the file applies: see _settings_file_changed).

        A process that watches the file does not write over an edit it has not applied yet (the file is no longer
        what it last read or wrote): the watcher applies that edit next. A save at the end of a model switch
        wrote over a hand edit made while the model loaded (a token deleted to get a new one came back)."""
        from assistant.models import ModelProfile

        with self._settings_lock:
            file = self.paths.settings_file
            text = "" if self._applying_file else save_settings(self.settings, file, expected=self._settings_text,
                                                                rewrite=self._rewrite)
            if text is None:
                log.info("%s was edited since this process read it: the edit applies next, not written over", file)
            elif text:
                self._settings_text = text
                if self._file_problem and self._reads_whole(text):  # an Apply mended what was said of the file
                    self._file_problem = False
                    log.warning("%s", self._mended_words())
        self.switcher.profiles.save_profile(self.model_path(), ModelProfile.from_settings(self.settings.model))

    def _reads_whole(self, text: str) -> bool:
        """Whether settings file ``text`` is TOML with no value Hearth cannot use."""
        import tomllib

        try:
            return parse_settings(text, self.paths.settings_file).warning is None
        except tomllib.TOMLDecodeError:
            return False

    def reload_fields(self, new: ModelSettings, target: Path) -> list[str]:
        """The load settings (``RELOAD_FIELDS``) in ``new`` that would load ``target`` again if it answers now:
        the window shows a load for those only."""
        return self._reload_fields(new, self.settings.model, real_path(target))

    def _reload_fields(self, new: ModelSettings, old: ModelSettings, target: Path) -> list[str]:
        """Those that changed, less a context that comes to the length loaded (100000 → 0 for a model trained
        for 8192: 8192 either way, and it loaded the model again)."""
        changed = [f for f in RELOAD_FIELDS if getattr(new, f) != getattr(old, f)]
        local = self._local_engine
        if "n_ctx" in changed and local.loaded and target == self.local_model() \
                and local.info.context_for(new.n_ctx) == local.settings.n_ctx:
            changed.remove("n_ctx")
        return changed

    def update_settings(self, new: Settings, progress: Callable[[Progress], None] | None = None,
                        cancel: threading.Event | None = None, rewrite: Collection[str] = ()) -> SettingsApplied:
        """Apply ``new`` everywhere it matters, now, and save it; returns what was done (see :meth:`_apply`).
        ``rewrite``: settings named (``hearth settings set``) whose values are written even over ones in the file
        Hearth cannot use, which a save otherwise leaves as written."""
        with self._settings_lock:
            self._rewrite = rewrite
            had_problem = self._file_problem
            try:
                applied = self._apply(new, progress, cancel)
            finally:
                self._rewrite = ()
            # (see save_settings: the window's banner of the file stayed until the file next changed on disk)
            return dc_replace(applied, mended=self._mended_words()) if had_problem and not self._file_problem \
                else applied

    def _apply(self, new: Settings, progress: Callable[[Progress], None] | None,
               cancel: threading.Event | None, keep_token: bool = True) -> SettingsApplied:
        """Apply ``new`` everywhere it matters, now, and save it; returns what was done.

        ``keep_token``: an empty API token in ``new`` keeps the one in use. A front end's copy of the settings
        may predate the token (Settings made it on opening, and an Apply right after put an empty one in, so
        the server started with a second token while the dialog showed the first).

        ``new.model.path`` names the model to use: a different one is switched to (with its own profile), and
        changed load settings reload the current one. If that load fails the old model stays, the load
        settings are put back (the rest of the change stays applied) and the ModelLoadError is raised.
        Answer settings (sampling, system prompt, length) are read at every turn; knowledge settings rebuild
        the chunker (collections re-chunk at their next sync, watched ones at once); memory follows too.
        """
        from assistant.models import ModelProfile
        from assistant.remote import ChromaTarget

        old = self.settings
        if (new.remote.chroma_url, new.remote.chroma_token) != (old.remote.chroma_url, old.remote.chroma_token):
            ChromaTarget.from_settings(new.remote)  # an unusable URL is refused before anything applies or is saved
        if new.remote.llm_url.strip() and new.remote.llm_url != old.remote.llm_url:
            from assistant.engine.remote import endpoints

            endpoints(new.remote.llm_url)  # the same for the remote model's
        new = copy.deepcopy(new)
        if keep_token and not new.server.token:
            new.server.token = old.server.token
        if new.model.preset != old.model.preset and new.model.preset in self.presets and all(
                getattr(new.model, f) == getattr(old.model, f) for f in SAMPLING_FIELDS):
            chosen = self.presets[new.model.preset]
            # the preset named alone (`preset = "Greedy"` typed in the file): its values, as the dialog's list
            # sets them; answers read the values, so the name alone changed nothing
            for name in SAMPLING_FIELDS:
                setattr(new.model, name, getattr(chosen, name))
        elif any(getattr(new.model, f) != getattr(old.model, f) for f in SAMPLING_FIELDS):
            # edited values name the preset they now match, as the dialog's list does ("Greedy" with a
            # temperature of 0.5 was saved so)
            new.model.preset = preset_of({f: getattr(new.model, f) for f in SAMPLING_FIELDS}, self.presets)
        target = real_path(new.model.path) if new.model.path else real_path(BUNDLED_CHAT_MODEL)
        # Another model is asked for when ``new`` names neither the configured one nor the one loaded: a call
        # may have loaded another (`hearth chat -m gemma`), which an edit of other settings in the file (naming
        # the configured model) switched back to the configured one, losing the chat's cache.
        switching = target not in (real_path(self.model_path()), self.local_model())
        new.model.path = old.model.path  # the model path changes only once that model is in place
        # the draft model a loaded model drafts with is said once it is chosen, by its name, below (the setting's
        # path was said here too: "draft model: '/…/x.gguf'; draft model: X")
        said_below = ("draft_model",) if self._remote_engine is None and self.engine.loaded else ()
        changes = [_answer_value(name, getattr(new.model, name)) for name in _ANSWER_FIELDS
                   if getattr(new.model, name) != getattr(old.model, name) and name not in said_below]
        edits: dict[str, Any] = {}
        if switching and not new.remote.llm_url.strip():
            # Values changed in the same save as the model are meant for the model chosen: they go over its
            # profile, and the outgoing model keeps its own (they were saved as its profile, then lost).
            edits = {f.name: getattr(new.model, f.name) for f in fields(ModelProfile)
                     if getattr(new.model, f.name) != getattr(old.model, f.name)}
            for name in edits:
                setattr(new.model, name, getattr(old.model, name))
        self.settings = new
        rechunk = False
        if self._knowledge is not None:
            knowledge_changes = self._knowledge.update_settings(new.knowledge)
            rechunk = any("chunking" in c for c in knowledge_changes)
            changes += knowledge_changes
        if new.memory != old.memory:
            if self._memory is not None:
                self._memory.settings = new.memory
            changes.append(f"memory {'on' if new.memory.enabled else 'off'}")
        if (new.remote.chroma_url, new.remote.chroma_token) != (old.remote.chroma_url, old.remote.chroma_token):
            changes += self._chroma_moved()
        changes += [f"{f.name.replace('_', ' ')}: {getattr(new.appearance, f.name)}" for f in fields(new.appearance)
                    if getattr(new.appearance, f.name) != getattr(old.appearance, f.name)]
        problems: list[str] = []
        if new.server != old.server and self._server is not None and self._server.running:
            said, ok = self._server_settings_changed(old.server)
            changes.append(said)
            if not ok:
                problems.append(said)
        elif waiting := [_SERVER_WORDS.get(f.name, f.name) for f in fields(new.server) if f.name != "enabled"
                         and getattr(new.server, f.name) != getattr(old.server, f.name)]:
            # saved for the server's next start ("Nothing to change." was said, and the file had them)
            changes.append(f"API server {', '.join(waiting)}: used when it starts")
        try:
            self.save_settings()
        except ConfigError as exc:  # applied all the same: the values in use are what the user chose
            changes.append(f"not saved: {str(exc).rstrip('.')}")  # in a list the window ends with one full stop
            problems.append(changes[-1])
        if rechunk:
            for name in self.knowledge.watched():
                self.scheduler.request_sync(name)
            changes.append("watched collections are re-syncing with the new chunking")
        info = None
        with self.scheduler.engine_in_use():  # memory learning lets go of the engine being switched
            llm_moved = self._select_llm(unload_local=True)
        if llm_moved:
            changes.append(llm_moved)
        local = self._local_engine
        current = self.local_model()
        reload_fields = self._reload_fields(new.model, old.model, target)
        if new.model.n_ctx != old.model.n_ctx and "n_ctx" not in reload_fields:
            changes.append(f"{local.info.context_said(new.model.n_ctx)}, the same as before (no reload)")
        # a model loaded for a chat of its own (`hearth chat -m gemma`) keeps its settings: a change of the configured
        # model's context loaded that one in its place, and the chat's next answer loaded its own again, uncached
        for_call = current == self._for_call and current != target
        if self._remote_engine is not None:
            info = self._remote_llm_applied(bool(llm_moved), target, current, changes, problems)
        elif switching or (reload_fields and local.loaded and not for_call) or llm_moved:
            try:
                if target != current:
                    info = self.use_model(target, progress, cancel, edits)
                else:
                    info = self._load(target, self.load_settings(), progress, cancel)
            except ModelLoadError:
                for name in RELOAD_FIELDS:
                    setattr(self.settings.model, name, getattr(old.model, name))
                with contextlib.suppress(ConfigError):  # the load's failure is what is said (the save's is said
                    self.save_settings()  # in the changes above)
                raise
            said = [f for f in RELOAD_FIELDS if f in reload_fields or f in edits]
            with_ = ", ".join(info.context_said(self.settings.model.n_ctx) if f == "n_ctx"
                              else _load_value(f, getattr(self.settings.model, f)) for f in said)
            changes.append(f"loaded {info.precise_name}" + (f" with {with_}" if with_ else ""))
            if {"n_threads", "n_gpu_layers"} & set(said) and local.loaded:
                # where it runs, as the status bar says it: "GPU layers -1" was said in green on a CPU-only build
                changes.append(f"it runs on {local.device}")
                if self.settings.model.n_gpu_layers and self.gpu_missing():
                    problems.append(changes[-1])
        loaded_info = info or (local.info if self._remote_engine is None and local.loaded else None)
        n_ctx = self.settings.model.n_ctx
        if loaded_info is not None and (info is not None or n_ctx != old.model.n_ctx) and (
                capped := self._capped_once(loaded_info, n_ctx)):  # a warning, as the doctor says it
            changes.append(capped)
            problems.append(changes[-1])
        if self._remote_engine is None and self.engine.loaded and (
                info is not None or any(getattr(new.model, f) != getattr(old.model, f) for f in _DRAFT_FIELDS)):
            draft = self.ensure_draft()
            mode = self.settings.model.speculative
            if draft is not None:
                changes.append(f"draft model: {draft.precise_name}")  # often the model's own name
            elif mode in ("draft", "self"):  # said in green before, with the reason only in the log
                changes.append(f"speculative decoding ({mode}) has no draft model: "
                               f"{self.engine.draft_problem or 'none is chosen'}; answers are decoded plainly")
                problems.append(changes[-1])
            else:
                changes.append("no draft model")
        return SettingsApplied(tuple(changes), info, tuple(problems))

    def check_settings(self, new: Settings, keys: Sequence[str]) -> tuple[Settings, list[str]]:
        """For a front end that sets settings without the window's boxes (``hearth settings set``): refuse what
        the settings ``keys`` (``section.name``) of ``new`` name that cannot be used at all, with the reason (a
        draft model that cannot draft for the model, an embedder folder that is none); and say what the others
        will do otherwise than they read, as the window greys a box with its reason or Apply says it. Accepted
        without a word, a context of 1 loaded as 256, speculative decoding "self" with no self-draft decoded
        plainly, and an embedder that is none failed every later index. Returns ``new`` with a draft model named
        by its file (the part of a name typed, "SmolLM2", matched two models once a second one was added, and
        drafting stopped without a word) and what to say."""
        from assistant.knowledge.embedder import embedder_path
        from assistant.models.drafts import model_info
        from assistant.server.runner import LOOPBACK

        notes: list[str] = []
        if "model.draft_model" in keys and new.model.draft_model.strip():
            new = copy.deepcopy(new)
            new.model.draft_model = str(self.models.resolve_draft(self.model_path(), "draft", new.model.draft_model,
                                                                  strict=True))
        m = new.model
        if "knowledge.embedder" in keys:
            embedder_path(new.knowledge)
        if "model.n_gpu_layers" in keys and m.n_gpu_layers and self.gpu_missing():
            notes.append(f"model.n_gpu_layers does nothing here: {self.gpu_missing()}")
        if "knowledge.rerank" in keys and new.knowledge.rerank and self.reranker_missing():
            notes.append(f"knowledge.rerank does nothing here: {self.reranker_missing()}")
        if "model.n_ctx" in keys and m.n_ctx and not self.remote_llm_answers:
            info = model_info(self.model_path())
            used = info.context_for(m.n_ctx)
            if advice := info.context_advice(m.n_ctx):
                notes.append(advice)
            elif used != m.n_ctx:
                notes.append(f"the model loads with {info.context_said(m.n_ctx)}")
        if {"model.speculative", "model.draft_model"} & set(keys) and m.speculative in ("draft", "self"):
            try:
                self.models.resolve_draft(self.model_path(), m.speculative, m.draft_model, strict=True)
            except HearthError as exc:
                notes.append(f"speculative decoding ({m.speculative}) has no draft model: {str(exc).rstrip('.')}; "
                             "answers are decoded plainly")
        if "server.host" in keys and new.server.host.strip() not in LOOPBACK:
            notes.append(f"the API server will be reachable from the network on {new.server.host or 'every address'}: "
                         "every request needs the token (`hearth serve --show-token`)")
        if "memory.user_id" in keys and new.memory.user_id != self.settings.memory.user_id:
            notes.append(f"memory is kept per user id: what {self.settings.memory.user_id!r} has stays, and "
                         "comes back with that id")
        return new, notes

    def _capped_once(self, info: ModelInfo, n_ctx: int) -> str | None:
        """Why answers by ``info``'s model get less context than the setting ``n_ctx`` asks, with what to set;
        said once a process for each model and setting (Settings says it on Apply, a turn at its first answer):
        `hearth ask` with a context of 100000 said nothing while answers had 8192."""
        advice = info.context_advice(n_ctx)
        if advice is None or (info.path, n_ctx) in self._capped_said:
            return None
        self._capped_said.add((info.path, n_ctx))
        return advice

    def _model_notes(self, info: ModelInfo, n_ctx: int, reloaded: Sequence[str]) -> list[Notice]:
        """What a turn says before its answer about the model that gives it (see ``TurnParts.model_notes``)."""
        notes = [Notice("model", said) for said in reloaded]
        if capped := self._capped_once(info, n_ctx):
            notes.append(Notice("context", capped))
        return notes

    def sampling(self, preset: str | None = None, speculative: str | None = None, model: str | Path | None = None,
                 **overrides: Any) -> SamplingParams:
        """The settings' sampling (those of ``model``, see :meth:`model_settings`), or a named preset's, with
        per-call ``overrides`` (None values ignored), and the settings' speculative decoding unless
        ``speculative`` names another mode for this call."""
        from assistant.engine import SamplingParams, SpeculativeParams
        from assistant.engine.sampling import fixed_seed

        m = self.model_settings(model)
        try:  # a bad mode (from this call or the settings file) is unusable input, said in one line
            spec = SpeculativeParams(m.speculative if speculative is None else speculative, m.speculative_max_draft,
                                     asked=speculative is not None)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        base = SamplingParams(m.temperature, m.top_k, m.top_p, m.min_p, m.repeat_penalty, seed=m.seed,
                              speculative=spec)
        if preset is not None:
            chosen = {name.lower(): params for name, params in self.presets.items()}.get(preset.lower())
            if chosen is None:
                raise InputError(f"Unknown sampling preset {preset!r}; choose one of {', '.join(self.presets)}.")
            base = dc_replace(chosen, seed=m.seed, speculative=spec)
        if overrides.get("seed") is not None:  # a seed given for a call always reproduces its answer
            overrides["seed"] = fixed_seed(overrides["seed"])
        return dc_replace(base, **{k: v for k, v in overrides.items() if v is not None})

    # ---- models -------------------------------------------------------------------------------------
    @property
    def models(self) -> ModelsService:
        """The model library, the catalog, Hub search and downloads (see ``assistant.models.service``)."""
        with self._opening:
            if self._models is None:
                from assistant.models.service import ModelsService

                self._models = ModelsService(self.paths, lambda: self.settings, self.model_settings)
            return self._models

    @property
    def switcher(self) -> Any:
        with self._opening:
            if self._switcher is None:
                from assistant.models import ModelSwitcher, ProfileStore

                self._switcher = ModelSwitcher(self._local_engine, ProfileStore.for_paths(self.paths))
            return self._switcher

    def model_path(self) -> Path:
        return Path(self.settings.model.path).expanduser() if self.settings.model.path else BUNDLED_CHAT_MODEL

    @property
    def model_is_bundled(self) -> bool:
        """The local model is the bundled one (what a fresh install answers with)."""
        return real_path(self.model_path()) == real_path(BUNDLED_CHAT_MODEL)

    @property
    def remote_llm_answers(self) -> bool:
        """Answers come from the remote LLM (``remote.llm_url``): a local model chosen now is only recorded."""
        return self._remote_engine is not None

    @property
    def remote_llm_url(self) -> str:
        """The address answers come from while the remote LLM answers ("" while the local model does)."""
        return self.settings.remote.llm_url.strip() if self.remote_llm_answers else ""

    def removal_deletes(self, name: str) -> tuple[Path, int] | None:
        """The file :meth:`remove_model` would delete for ``name`` (one in Hearth's own models folder) and the bytes
        it frees (every file of a split model), else None (it would forget a folder or a linked file, or refuse the
        model in use): what `hearth models remove` asks about first."""
        from assistant.engine.gguf_info import model_size

        doomed = self.models.deletes(name)
        if doomed is None or real_path(doomed) == real_path(self.model_path()):
            return None
        return doomed, model_size(doomed)

    def remove_model(self, name: str) -> Removal:
        """Forget a model or folder of the library (a file in Hearth's own models folder is deleted); the model
        in use is refused, with what to do: deleting it left every later answer failing on a missing file."""
        from assistant.models import ModelLibraryError

        try:
            target: Path | None = self.models.find(name)
        except HearthError:  # a folder, or no such model: the library's remove says which
            target = None
        current = real_path(self.model_path())
        in_use = target is not None and real_path(target) == current
        folder = real_path(name) if target is None else None
        if in_use and not self.model_is_bundled:  # the bundled one: the library says it is never removed
            raise ModelLibraryError(f"{self.model_path().name} is the model in use. Switch to another model first "
                                    "(Models → Use, or `hearth models use NAME`), then remove it.")
        if folder is not None and folder.is_dir() and current.is_relative_to(folder) and not self.model_is_bundled:
            # a folder was removed with the model in use inside it (and that model's self-draft deleted)
            raise ModelLibraryError(f"{folder} holds {current.name}, the model in use. Switch to another model "
                                    "first (Models → Use, or `hearth models use NAME`), then remove the folder.")
        was_draft = target is not None and self._is_draft_setting(target)  # asked while the library still has it
        removal = self.models.remove(str(target) if target is not None else name)  # found once, not looked up again
        if was_draft:
            # kept, the setting warned at every start that the draft model was missing (and in auto mode told
            # the user to set the mode it had); the Settings dialog kept it as "(not found)" at every Save
            self.settings.model.draft_model = ""
            self.save_settings()
            removal = dc_replace(removal, was_draft=True)
        return removal

    def _is_draft_setting(self, path: Path) -> bool:
        """Whether the settings' draft model names ``path`` (by path, file name or shown name)."""
        named = self.settings.model.draft_model.strip()
        try:
            return bool(named) and real_path(self.models.find(named)) == real_path(path)
        except HearthError:  # it names no model of the library, or several
            return False

    def recorded_model_note(self) -> str:
        """What choosing a local model did while the remote LLM answers, for the front ends to say (each adds
        where its user switches the remote LLM off)."""
        return f"{self.model_path().name} is the local model now: it loads when the remote LLM is switched off"

    def model_settings(self, model: str | Path | None = None) -> ModelSettings:
        """The settings an answer by ``model`` uses: the configured model's live settings, or, for another model
        named for one call (``hearth ask -m``), its own saved profile, as Models → Use would give it (its
        context, sampling, system prompt, answer length and speculative decoding). The configured model's
        settings went with every model named so: a profile's system prompt and temperature were never used."""
        if model is None or real_path(model) == real_path(self.model_path()):
            return self.settings.model
        named = copy.copy(self.settings.model)  # threads and batch size are the machine's, not the model's
        self.switcher.profiles.profile_for(real_path(model), self.settings.model).apply_to(named)
        return named

    def load_settings(self, model: str | Path | None = None) -> LoadSettings:
        from assistant.engine import LoadSettings

        m = self.model_settings(model)
        return LoadSettings(n_ctx=m.n_ctx, n_threads=m.n_threads, n_batch=m.n_batch, n_gpu_layers=m.n_gpu_layers,
                            kv_cache=m.kv_cache)

    def ensure_model(self, progress: Callable[[Progress], None] | None = None,
                     cancel: threading.Event | None = None, model: str | Path | None = None,
                     tell: Callable[[str], None] = log.warning) -> ModelInfo:
        """The loaded model, loading the configured one first if needed. ``model`` (a path) loads that one for
        this process only, with its own saved profile; the settings are not changed. Concurrent callers (API
        requests arriving together) wait for one load instead of each loading the model. A loaded model whose
        file changed on disk is loaded again (see ``Engine.reload_if_changed``), and ``tell`` is told so."""
        with self._model_lock:
            return self._ensure_model(progress, cancel, model, tell)

    def _ensure_model(self, progress: Callable[[Progress], None] | None, cancel: threading.Event | None,
                      model: str | Path | None, tell: Callable[[str], None]) -> ModelInfo:
        if self._remote_engine is not None:
            return self._ensure_remote_llm(model)
        if model is None:
            if not self.engine.loaded:
                try:
                    return self._load(self.model_path(), self.load_settings(), progress, cancel)
                except (ModelNotFoundError, NotGGUFError, TruncatedModelError, UnsupportedArchitectureError) as exc:
                    # the file itself is unusable ("Model file not found: …" was all `hearth ask` said)
                    raise type(exc)(f"{str(exc).rstrip('.')}. It is the chat model in the settings: pick another "
                                    "one (Models → Use, or `hearth models use NAME`).") from None
            return self._kept_model(tell)
        path = real_path(model)
        if not self.engine.loaded or real_path(self.engine.info.path) != path:
            info = self._load(path, self.load_settings(path), progress, cancel)
            self._for_call = path
            return info
        return self._kept_model(tell)

    def _kept_model(self, tell: Callable[[str], None]) -> ModelInfo:
        """The loaded model, which stays: loaded again first when its file changed on disk (see
        ``Engine.reload_if_changed``; a model about to be replaced is not), and ``tell`` is told so."""
        if said := self.engine.reload_if_changed():
            tell(said)
        return self.engine.info

    def ensure_draft(self, mode: str | None = None, draft_model: str | None = None,
                     strict: bool = False, model: str | Path | None = None) -> ModelInfo | None:
        """Give the loaded model the draft model that ``mode`` drafts with (default: the mode and ``draft_model``
        of :meth:`model_settings` for ``model``, the one loaded), loading or dropping it as needed; returns it,
        or None when the mode uses none.

        ``strict`` (a mode asked for on this call): a draft that cannot be had raises the specific error
        (NoDraftError, IncompatibleDraftError...). Otherwise (the saved settings) the problem is logged and the
        answer decodes without it, its stats saying why (see ``Stats.spec_decision``).
        """
        m = self.model_settings(model)
        mode = m.speculative if mode is None else mode
        if self._remote_engine is not None:  # the server decodes on its own; the stats say speculation is off
            if strict and mode != "off":
                raise InputError(f"Speculative decoding ({mode}) needs the local model: answers come from the remote "
                                 f"LLM at {self._remote_engine.url}, which decodes on its own.")
            return None
        if mode in ("off", "ngram") or not self.engine.loaded:
            return None
        configured = m.draft_model if draft_model is None else draft_model
        target = self.engine.info.path
        wanted = (target, mode, configured)
        if self._draft_for is not None and self._draft_for[0] == wanted and not strict \
                and (self._draft_for[1] is None) == (self.engine.draft_info is None):  # (a reload drops it)
            return self.engine.draft_info
        from assistant.models.drafts import remember_info

        remember_info(self.engine.info)  # its header is read already: choosing a draft need not read it again
        try:
            path = self.models.resolve_draft(Path(target), mode, configured, strict=draft_model is not None)
            kind = "self" if path is not None and path == self.models.self_draft_path(target) else "draft"
            info = self.engine.set_draft_model(path, kind)
            self.engine.draft_problem = ""
        except HearthError as exc:
            if strict:
                raise
            log.warning("speculative decoding (%s): no draft model for %s: %s", mode, Path(target).name, exc)
            self.engine.set_draft_model(None)
            self.engine.draft_problem = str(exc).rstrip(".")
            path = info = None
        self._draft_for = (wanted, path)
        return info

    def check_draft(self, model: str | Path | None, mode: str | None, draft_model: str) -> None:
        """Refuse a draft model named for one answer that it cannot draft with, from the models' headers, before
        the model loads: a name that is no model was refused seconds later, and one named with speculation off
        was ignored without a word. `hearth chat` calls it at start: it refused every message instead."""
        if not draft_model.strip():
            raise InputError("Name the draft model: its shown name, file name, a part of either, or a path "
                             "(`hearth models drafts` lists the ones that can draft).")
        if self._remote_engine is not None:  # ensure_draft says why speculation needs the local model
            return
        mode = mode or self.model_settings(model).speculative
        if mode not in ("draft", "auto"):
            raise InputError(f"A draft model drafts only when speculative decoding is 'draft' or 'auto'; for this "
                             f"answer it is {mode!r}.")
        self.models.resolve_draft(model, mode, draft_model, strict=True)

    def _load(self, path: Path, settings: LoadSettings, progress: Callable[[Progress], None] | None,
              cancel: threading.Event | None) -> ModelInfo:
        # every load decodes as many answers together as this process serves (continuous batching)
        settings = dc_replace(settings, n_parallel=self.parallel_requests)
        info = self.engine.load(path, settings, progress, cancel)
        self.scheduler.turn_queued(open_store=self.long_lived)  # learning waits for a model: there is one now
        return info

    def gpu_missing(self) -> str:
        """Why GPU layers cannot act here ("" when this build of llama.cpp offloads): for the setting's box."""
        from assistant.engine import native

        return "" if native.supports_gpu_offload() else native.NO_GPU

    def reranker_missing(self) -> str:
        """Why sources cannot be re-ranked here ("" when a cross-encoder is installed): for the setting's switch."""
        return self.knowledge.reranker_missing

    def local_model(self) -> Path:
        """The local model loaded now, or the one the settings name when none is (also while a remote LLM
        answers: the window's Settings took the remote engine's URL for a model file)."""
        local = self._local_engine
        return real_path(local.info.path) if local.loaded else real_path(self.model_path())

    def use_model(self, path: str | Path, progress: Callable[[Progress], None] | None = None,
                  cancel: threading.Event | None = None, edits: dict[str, Any] | None = None,
                  listed: bool = False) -> ModelInfo | None:
        """Switch to ``path`` with its own saved settings (context, GPU layers, sampling, system prompt), and
        ``edits`` (model settings by name) over them.

        The current model's settings are saved as its profile first; if the new model fails to load, the old
        one stays loaded and the specific ModelLoadError is raised. While a remote LLM answers
        (``remote.llm_url``) the model is only recorded, with its profile, and None is returned: it loads when
        the remote LLM is switched off. Loading it now would take memory and time for a model that answers
        nothing, and the front ends said "now using" a model that did not answer.

        A model chosen by its path (Settings → Browse…, ``hearth models use FILE``) is linked into the library:
        it answered, but no list showed it, it could not be removed, and once another model was chosen only
        browsing for it again found it.

        ``listed``: chosen from a list of the library (the window's Models view), which another process may have
        changed since (`hearth models remove`): a model no longer there is refused, not loaded and put back.
        """
        if listed and not self.models.library.lists(path):
            raise ModelNotFoundError(f"{Path(path).name} is no longer in the library: it was removed elsewhere "
                                     "(`hearth models remove` in a terminal?). Add it again to use it.")
        info = None
        if self.remote_llm_answers:
            target, profile = self.switcher.record(path, self.settings.model, self.model_path(), edits)
        else:
            switched = self.switcher.switch(path, self.settings.model, self.model_path(), progress, cancel, edits)
            target, profile, info = switched.path, switched.profile, switched.info
        self.models.library.add(target)  # nothing changes for a model the library has
        profile.apply_to(self.settings.model)
        self.settings.model.path = str(target)
        self.save_settings()
        if info is not None:
            self.scheduler.turn_queued(open_store=self.long_lived)
        return info

    # ---- remote parts -------------------------------------------------------------------------------
    def test_remote(self, part: str, remote: RemoteSettings | None = None) -> RemoteCheck:
        """"Test connection" for a remote part: ``"chroma"`` (reachable, a Chroma server, token accepted, round
        trip). ``remote``: values to try before saving them (default: the current settings). A failure is
        ``ok=False`` with the reason in words; only an unknown part raises (InputError)."""
        from assistant.remote import check

        return check(part, remote if remote is not None else self.settings.remote)

    def _select_llm(self, unload_local: bool = False) -> str:
        """Point :attr:`engine` at the remote LLM while ``settings.remote.llm_url`` is set, else at the local
        engine (``unload_local``: free the local model's memory when a server takes over). Returns what changed,
        in words ("" for nothing). Opens no connection: the engine connects on first use."""
        r = self.settings.remote
        old = self._remote_engine
        if not r.llm_url.strip():
            if old is None:
                return ""
            self._remote_engine, self.engine = None, self._local_engine
            old.unload()
            return "answers come from the local model again"
        from assistant.engine.remote import RemoteEngine

        new = RemoteEngine.from_settings(r)
        if old is not None and old.config == new.config:
            return ""
        self._remote_engine = self.engine = new
        if old is not None:
            old.unload()
        if unload_local:
            self._local_engine.unload()
        return f"answers come from the remote LLM at {new.url} (prompts and answers leave this computer)"

    def _ensure_remote_llm(self, model: str | Path | None) -> ModelInfo:
        """The remote LLM's model, connecting first if needed (a RemoteLLMError says why it cannot)."""
        engine = self._remote_engine
        if model is not None:
            raise InputError(f"-m/--model chooses a local model, but answers come from the remote LLM at {engine.url} "
                             "(settings: [remote] llm_url; its model is llm_model).")
        connected = engine.loaded
        info = engine.connect()
        if not connected:
            self.scheduler.turn_queued(open_store=self.long_lived)  # learning waits for a model: there is one now
        return info

    def _remote_llm_applied(self, moved: bool, target: Path, current: Path, changes: list[str],
                            problems: list[str]) -> ModelInfo | None:
        """``update_settings`` while the remote LLM answers: a new local model is only recorded (it loads when the
        remote LLM is switched off); a new endpoint is connected to at once, a failure said in ``changes`` and
        ``problems``."""
        if target != current:
            self.settings.model.path = str(target)
            self.save_settings()
            changes.append(f"local model: {target.name} (used when the remote LLM is off)")
        if not moved:
            return None
        try:
            return self._ensure_remote_llm(None)
        except HearthError as exc:
            changes.append(f"the remote LLM cannot be used yet: {exc}")
            problems.append(changes[-1])
            return None

    def _chroma_moved(self) -> list[str]:
        """Point knowledge and memory at the Chroma server now configured (or back at the embedded store): the
        knowledge store's client is closed and the next call opens the new one; the memory store is closed
        (learning yields first) and reopens on next use. Watched collections re-sync, which fills a server
        that lacks their vectors from the stored chunk texts."""
        remote = self.settings.remote
        changes = self._knowledge.use_remote(remote) if self._knowledge is not None else []
        with self.scheduler.engine_in_use(), self._opening_memory:
            old, self._memory = self._memory, None
            if old is not None:
                old.close()
        url = remote.chroma_url.strip()
        where = f"the Chroma server at {url}" if url else "the embedded store on this computer"
        changes = changes or [f"knowledge vectors now live in {where}"]
        if self.settings.memory.enabled:
            changes.append(f"memory vectors now live in {where}")
        if self._knowledge is not None and (watched := self.knowledge.watched()):
            for name in watched:
                self.scheduler.request_sync(name)
            changes.append("watched collections are re-syncing into it")
        return changes

    # ---- knowledge ----------------------------------------------------------------------------------
    @property
    def knowledge(self) -> KnowledgeBase:
        """Opened on first use: the embedder loads only when something is indexed or searched."""
        with self._opening_knowledge:
            if self._knowledge is None:
                from assistant.knowledge import KnowledgeBase

                self._knowledge = KnowledgeBase(self.paths, self.settings.knowledge, remote=self.settings.remote)
            return self._knowledge

    def index_anew(self) -> Iterator[Progress]:
        """A knowledge index that cannot be opened (a damaged file) is set aside, and the collections it still
        names are indexed again from their folders (every passage is embedded again): `hearth doctor --repair`
        could do nothing for it, and the user had to find their folders again."""
        from assistant.chat import salvage
        from assistant.knowledge.store import named_in

        manifest = self.paths.index_manifest
        named = named_in(manifest)
        with self._opening_knowledge:
            aside = salvage.move_aside(manifest)
            self._knowledge = None
        yield Progress("knowledge", 0, message=f"the damaged knowledge index was moved to {aside}" + (
            "" if named else "; the collections it held cannot be read from it: index your folders again"))
        for name, folders, watched in named:
            if existing := [Path(f) for f in folders if Path(f).exists()]:
                self.knowledge.index_later(existing, name, watched)
                yield from self.knowledge.sync(name)

    def index(self, sources: list[Path], collection: str = "default", cancel: threading.Event | None = None,
              watch: bool | None = None) -> Iterator[Progress]:
        """Index (or re-sync) ``sources`` into ``collection``; ``watch`` turns watching its folders on/off.

        A source that does not exist is reported as skipped; when none exists nothing is created."""
        if not any(Path(s).expanduser().exists() for s in sources):
            raise InputError(f"Nothing to index: {', '.join(map(str, sources)) or 'no path'} "
                             f"{'does' if len(sources) == 1 else 'do'} not exist.")
        yield from self.knowledge.index([Path(s) for s in sources], collection, cancel, watch)
        if watch is not None and self.long_lived:
            self.scheduler.watch_all()

    def index_later(self, sources: list[Path], collection: str, watch: bool | None = None) -> None:
        """Index ``sources`` into ``collection`` at the next start of a long-lived Hearth (a drop still waiting
        when the window closes; see ``KnowledgeBase.index_later``)."""
        self.knowledge.index_later([Path(s) for s in sources], collection, watch)

    def watch(self, collection: str, on: bool) -> CollectionInfo:
        """Watch ``collection``'s folders for changes (while a long-lived Hearth process runs) or stop."""
        info = self.knowledge.set_watch(collection, on)
        if self.long_lived:
            self.scheduler.watch_all()
        return info

    def cancel_sync(self, collection: str) -> None:
        """Stop a background re-sync of ``collection`` (what it finished stays; the next change resumes it)."""
        self.scheduler.cancel_sync(collection)

    def search(self, text: str, collections: tuple[str, ...] | None = None, k: int | None = None,
               folder: str | None = None, mode: str = "hybrid") -> Hits:
        """Search ``collections`` (all when None), best first, numbered 1..k; ``Hits.only`` says why a hybrid
        search searched by keyword (or meaning) only: the vectors (or the keyword index) could not be read."""
        from assistant.knowledge.records import Hits

        k = k or self.settings.knowledge.top_k
        stale = self._catch_up(collections or None)
        hits = self.knowledge.search(text, collections or None, k, folder, mode)  # type: ignore[arg-type]
        return Hits((dc_replace(h, n=i) for i, h in enumerate(hits, start=1)), hits.only, hits.why,
                    " ".join(n for n in (hits.unfinished, stale) if n))

    def _catch_up(self, collections: tuple[str, ...] | None) -> str:
        """A command that runs once (`hearth ask`, `hearth search`) watches nothing: a watched collection that
        changed since its last sync is brought up to date before it is searched when that is little work (a
        scan of names and sizes tells), and said to be out of date otherwise. Both answered from a file's old
        text, under its current path, without a word. A long-lived process's watchers do this as files change."""
        from assistant.knowledge.records import index_command

        if self.long_lived:
            return ""
        stale = []
        for info in self.knowledge.collections():
            if (not info.watched or info.unfinished or info.name in self._caught_up
                    or (collections is not None and info.name not in collections)):
                continue  # (a run going, or one stopped, is said by the search itself)
            # once per process: `hearth search --queries FILE` scanned the folders again for every query
            self._caught_up.add(info.name)
            try:
                files, size = self.knowledge.out_of_date(info.name)
                if files and files <= CATCH_UP_FILES and size <= CATCH_UP_BYTES:
                    for _ in self.knowledge.index([Path(s) for s in info.sources], info.name):
                        pass
                    continue
            except HearthError as exc:  # another process syncs it now, a folder unreadable: searched as it is
                log.info("collection %s not brought up to date before searching: %s", info.name, exc)
                continue
            if files:
                stale.append(f"{counted(files, 'file')} of collection {info.name!r} changed since it was last synced: "
                             f"its passages may be out of date until `{index_command(info.name, info.sources)}` "
                             "(or the app, or `hearth chat`, which watch it) brings it up to date.")
        return " ".join(stale)

    def collections(self) -> list[CollectionInfo]:
        return self.knowledge.collections()

    def collection(self, name: str) -> CollectionInfo:
        """One collection; CollectionNotFoundError, naming the ones there are, for a name that is not one."""
        return self.knowledge.collection(name)

    def index_command(self, collection: str) -> str:
        """`hearth index …` that brings ``collection`` up to date (CollectionNotFoundError if there is none)."""
        return self.knowledge.index_command(collection)

    def file_errors(self, collection: str) -> list[tuple[str, str]]:
        return self.knowledge.file_errors(collection)

    def moved_source(self, path: str, text: str) -> str | None:
        """Where a cited file that is gone is now, found by the passage ``text`` it held (see
        ``KnowledgeBase.moved``); None when it exists or is not found."""
        return self.knowledge.moved(path, text)

    def overlaps(self, paths: Sequence[Path], into: str | None = None,
                 infos: Sequence[CollectionInfo] | None = None) -> list[Overlap]:
        """Where ``paths`` hold files a collection (other than ``into``) holds already, for the front ends to
        say before indexing them (``infos``: the collections as the front end lists them, else read now)."""
        from assistant.knowledge.loaders import is_supported
        from assistant.knowledge.records import overlaps

        # a file Hearth does not read is in no collection ("tool.exe is already in collection 'mixed'", then
        # "Hearth has no reader for 'tool.exe'")
        paths = [p for p in paths if not Path(p).is_file() or is_supported(Path(p))]
        return overlaps(paths, self.collections() if infos is None else infos, into)

    def rename_collection(self, name: str, new: str) -> CollectionInfo:
        """Call collection ``name`` ``new``: its passages, vectors, folders and watching stay (nothing is
        embedded again), and the chats asked from it go on from it under its new name. A background re-sync of
        it is stopped first (what it finished stays; the next change resumes it); a run of the user's own is
        not: the rename is refused until it ends."""
        self.scheduler.cancel_sync(name, wait_s=SYNC_STOP_WAIT_S)
        info = self.knowledge.rename_collection(name, new)
        self.history.rename_collection(name, info.name)
        if self.long_lived:
            self.scheduler.watch_all()
        return info

    def remove_collection(self, name: str) -> None:
        """Remove ``name`` from the index (the files stay). A background re-sync of it is stopped and waited for
        first: Remove while the window's watcher re-synced the collection failed with "being indexed by another
        job" (the window itself), and left the collection behind with its update stopped."""
        self.scheduler.cancel_sync(name, wait_s=SYNC_STOP_WAIT_S)
        self.knowledge.remove_collection(name)
        if self.long_lived:
            self.scheduler.watch_all()

    # ---- memory -------------------------------------------------------------------------------------
    @property
    def memory(self) -> MemoryService | None:
        """The user's memory for answers and learning (None when switched off in the settings)."""
        return self.memory_store if self.settings.memory.enabled else None

    def memories(self, words: str = "", k: int = 5, include_superseded: bool = False,
                 retry: bool = True) -> tuple[list[Any], str]:
        """What the memory manager and `hearth memory list`/`search` show: the memories (those ``words`` find, at
        most ``k`` by meaning besides those holding them), and "" — or, where the store cannot open (see
        :meth:`_memories_as_stored`), those read from its file and what to tell the user. ``retry`` False: a
        store that could not open last time is read from its file again without trying to open it while its
        cause lasts (the memory manager tries as it opens; it tried at every key typed in its search box and
        every re-read, each a start of chromadb that failed)."""
        if not retry and self._memory_unavailable is not None:
            with contextlib.suppress(MemoryStoreUnavailableError):  # the cause is gone: open it
                return self._memories_as_stored(self._memory_unavailable, include_superseded, words)
        try:
            store = self.memory_store
        except MemoryStoreUnavailableError as exc:
            self._memory_unavailable = exc
            return self._memories_as_stored(exc, include_superseded, words)
        self._memory_unavailable = None
        return (store.find(words, k) if words else store.list(include_superseded=include_superseded)), ""

    def _memories_as_stored(self, unavailable: MemoryStoreUnavailableError, include_superseded: bool = False,
                            words: str = "") -> tuple[list[Any], str]:
        """The memories (those holding ``words`` as typed, when given) read from the store's file, where a full disk
        or a read-only folder keeps chromadb from opening it (it writes as it opens): `hearth memory list` and
        `search` failed there, while the chat history opened to be read. With what to tell the user: why, and
        that a search matched the words, not their meaning. Re-raises ``unavailable`` when the file cannot be
        read either (a Chroma server's failures are RemoteErrors)."""
        from assistant.memory.backend import local_store_file
        from assistant.memory.rebuild import stored_items
        from assistant.memory.records import holding
        from assistant.paths import storage_problem

        why, file = storage_problem(self.paths.memory_dir), local_store_file(self.paths)
        if not why or not file.exists():
            raise unavailable
        items = stored_items(file, self.settings.memory.user_id, include_superseded)
        how = "Searched for the words as typed, not by meaning" if words else "Listed as read from its file"
        return (holding(items, words) if words else items,
                f"The memory store in {self.paths.memory_dir} can only be read now: {why}. {how}. "
                f"{why.fix} to add, change or forget memories.")

    @property
    def memory_store(self) -> MemoryService:
        """What Hearth remembers, opened on first use whether or not memory is switched on: switched off, answers
        neither use nor add memories, and the user can still list, search, export, edit and forget them (every
        `hearth memory` command and the memory manager refused then, hiding what was kept)."""
        with self._opening_memory:
            if self._memory is None:
                from assistant.engine.remote import ActiveEngine

                with PYDANTIC_IMPORTS:
                    from assistant.memory import MemoryService

                self._memory = MemoryService(self.paths, self.settings.memory, ActiveEngine(lambda: self.engine),
                                             self._memory_embedder(), remote=self.settings.remote)
                self._learn_cut_off_turns(self._memory)
            return self._memory

    def _learn_cut_off_turns(self, memory: MemoryService) -> None:
        """Queue the turns whose answer a crash or `kill -9` cut off before they reached memory (their process is
        gone): "My cat is called Pixel. Write a long story…" killed mid-story was never learned, nor said."""
        if not memory.enabled:
            return
        try:
            for question, previous in self.history.unlearned():
                memory.enqueue_turn(question.conversation_id, question.content, previous)
                self.history.learning_done(question.id)
                log.info("queued a turn cut off before it was learned from (%s)", question.id)
        except HearthError as exc:  # the history or the queue cannot be written now: the next opening tries again
            log.warning("turns cut off before they were learned from wait: %s", exc)

    def _kept_memory(self) -> MemoryService | None:
        """The memory store, or None when nothing was ever remembered (opening it then would only make one)."""
        return self.memory_store if self._memory is not None or self.paths.memory_dir.exists() else None

    def chat_memories(self, conversation_id: str) -> int:
        """How many memories were learned from ``conversation_id``, those replaced since too (what deleting it may
        also forget: the count said 2 where 3 went)."""
        store = self._kept_memory()
        return len(store.learned_in(conversation_id)) if store is not None else 0

    def delete_chat(self, conversation_id: str, forget_memories: bool = False) -> int:
        """Delete a chat; with ``forget_memories`` what memory learned from it goes too, its turns still waiting
        to be learned from included (how many memories were forgotten). Without, they stay: the user said them."""
        self.history.delete(conversation_id)
        return self.forget_chat_memories(conversation_id) if forget_memories else 0

    def forget_chat_memories(self, chat: str) -> int:
        """Forget what memory learned from the chat ``chat`` names (deleted or not: its id, or the start of it as
        the other commands take it); how many memories went."""
        store = self._kept_memory()
        if store is None:
            return 0
        try:
            chat = self.history.find_conversation(chat).id
        except ConversationNotFoundError:  # deleted: named by what memory kept of it
            chat = store.chat_named(chat)
        return store.forget_conversation(chat)

    @staticmethod
    def memory_text(text: str, editing: bool = False, keep_secret: bool = False) -> str:
        """A memory as it would be kept (one line, NFC); an empty one, or one holding a secret unless
        ``keep_secret``, is an InputError. Opens nothing, so a front end refuses ``hearth memory add ""`` before
        the store opens (2 s)."""
        from assistant.memory.records import typed_memory

        return typed_memory(text, editing, keep_secret)

    def export_memories(self, path: Path) -> int:
        """Write every memory, superseded ones too, to ``path`` as JSON (what :meth:`import_memories` reads);
        returns how many. The file is replaced whole or not at all."""
        if path.is_dir():
            raise InputError(f"{path} is a folder: give the export a file name.")
        data = self.memory_store.export()
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        try:
            atomic_write_text(path, text)
        except OSError as exc:
            raise InputError(f"Cannot write the export to {path}: {exc.strerror or exc}.") from exc
        return len(data)

    def import_memories(self, path: Path, progress: Callable[[Progress], None] | None = None,
                        cancel: threading.Event | None = None, keep_secret: bool = False) -> ImportReport:
        """Add the memories of the file :meth:`export_memories` wrote that the store lacks (after a clear, on a
        new computer, from a backup); see :meth:`MemoryService.import_` (an entry holding a secret is skipped
        unless ``keep_secret``). The file is read before the store opens (2 s): one that cannot be an export is
        said at once."""
        from assistant.memory.transfer import read_export

        data = read_export(path)
        return self.memory_store.import_(data, progress, cancel, keep_secret)

    def _memory_embedder(self) -> Embedder:
        """The knowledge embedder, shared (one model in memory); its own copy when the knowledge index cannot be
        opened: a damaged or read-only index manifest took memory down with it."""
        try:
            return self.knowledge.embedder
        except HearthError as exc:
            # (the index's own trouble is said where it is used: this line meant nothing to a user, four times)
            log.info("memory uses an embedder of its own: %s", exc)
            from assistant.knowledge.embedder import SentenceTransformerEmbedder

            return SentenceTransformerEmbedder.from_settings(self.settings.knowledge)

    def rebuild_memory_store(self) -> MemoryRebuilt:
        """Rebuild a damaged memory store from what can still be read of it (``hearth doctor --repair``): its
        readable rows, then mem0's history of changes for the memories those did not give back."""
        from assistant.memory.rebuild import logged_memories, readable_memories

        folder = self.paths.memory_dir / "chroma"
        memories = readable_memories(folder / "chroma.sqlite3")
        logged = [entry for memory_id, entry in logged_memories(self.paths.memory_dir / "history.sqlite3").items()
                  if memory_id not in memories]
        with self._opening_memory:
            if self._memory is not None:
                self._memory.close()
                self._memory = None
        aside = folder.with_name(f"{folder.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        folder.rename(aside)
        memory, from_log = self.memory, 0
        if memory is not None:
            memory.restore(memories)
            from_log = memory.import_(logged, keep_secret=True).added if logged else 0  # the store's own
        return MemoryRebuilt(len(memories), from_log, aside)

    def _learner(self, open_it: bool) -> MemoryService | None:
        if not self.settings.memory.enabled:
            return None
        return self.memory if open_it else self._memory

    def process_memory(self, cancel: threading.Event | None = None, limit: int | None = None) -> int:
        """Learn from queued turns now, in this thread (``hearth memory process``); loads no model."""
        memory = self.memory
        if memory is None or not memory.pending_count():
            return 0
        with self.scheduler.engine_in_use():
            return memory.process_pending(cancel, limit)

    # ---- chat ---------------------------------------------------------------------------------------
    def ask(
        self,
        text: str,
        conversation_id: str | None = None,
        *,
        sampling: SamplingParams | None = None,
        cancel: threading.Event | None = None,
        collections: Sequence[str] | None = None,
        use_memory: bool | None = None,
        replace_from: str | None = None,
        system_prompt: str | None = None,
        max_tokens: int | None = None,
        model: str | Path | None = None,
        draft_model: str | None = None,
        later_questions: int = 0,
        save: bool = True,
    ) -> Response:
        """Answer ``text``; with ``collections``, from those knowledge collections with numbered citations.

        ``use_memory=False`` is incognito: nothing is read from or written to the user's memory. Left out, memory
        is on, except that replacing a question asked incognito keeps it incognito; ``collections`` left out are
        none, except that a replaced question is answered again from the collections it was asked from.
        ``replace_from`` (a user message id) replaces that question and everything after it (regenerate,
        edit-and-resend), with the ``later_questions`` the caller knows come after it (any other number is
        refused: the chat changed since it was shown). ``system_prompt``, ``max_tokens``, ``sampling``,
        ``model`` and ``draft_model`` (for the speculative modes that draft with a model) apply to this answer
        only. Memory learning from the turn happens afterwards in the background, never delaying the answer.
        ``save=False`` writes nothing to the chat history (read for ``conversation_id`` all the same): for a
        history that can only be read (see ``History.read_only``); the answer has no ids.
        """
        cancel = cancel or threading.Event()
        options = TurnOptions(conversation_id, replace_from, None if collections is None else tuple(collections),
                              use_memory, sampling, system_prompt, max_tokens, later_questions=later_questions,
                              save=save)
        return Response(self._turn(text, options, cancel, model, draft_model), cancel)

    def _turn(self, text: str, options: TurnOptions, cancel: threading.Event,
              model: str | Path | None, draft_model: str | None) -> Iterator[Event]:
        self.scheduler.start()
        spec = options.sampling.speculative if options.sampling is not None else None
        mode = spec.mode if spec is not None else None
        try:  # a name that is not a collection, or a draft model that cannot be, is said at once, not after
            # seconds of opening memory and the model
            for name in options.collections or ():
                self.collection(name)
            if draft_model is not None:
                self.check_draft(model, mode, draft_model)
        except HearthError as exc:
            yield Failed(str(exc), error_type=type(exc).__name__)
            return
        m = self.model_settings(model)

        reloaded: list[str] = []  # the model's file changed on disk and was loaded again: said before the answer

        def ensure_model() -> ModelInfo:
            info = self.ensure_model(model=model, tell=reloaded.append)
            # a mode or draft asked for on this call must work or say why; the saved settings' fall back
            self.ensure_draft(mode, draft_model, model=model, strict=draft_model is not None or (
                spec is not None and (spec.asked or spec.mode != m.speculative)))
            return info

        with self.scheduler.engine_in_use():  # learning yields the engine until this answer is done
            # The first answer of a process opens the memory store (2 s of imports) while the model loads
            # (llama.cpp reads the file without holding Python's lock): a model that takes seconds to read no
            # longer waits for memory before it starts.
            loading = None
            if options.use_memory is not False and self.settings.memory.enabled and self._memory is None:
                pool = ThreadPoolExecutor(1, thread_name_prefix="hearth-model-load")
                loading = pool.submit(ensure_model)
                pool.shutdown(wait=False)  # the load goes on; the turn waits for it where it needs it
            try:
                queue_turn = None
                try:  # left open (None), run_turn decides whether to use it (see replaced_choices)
                    memory = self.memory if options.use_memory is not False else None
                except HearthError as exc:  # e.g. its Chroma server is down: answer without memory, and say so;
                    # the turn is queued all the same, to be learned from once the store opens again
                    memory = None
                    yield Notice("memory", f"Answered without your memory: {exc}")
                    if self.settings.memory.enabled:
                        from assistant.memory.queue import queue_turn_later

                        queue_turn = functools.partial(queue_turn_later, self.paths)
                parts = TurnParts(engine=self.engine, history=self.history,
                                  ensure_model=loading.result if loading is not None else ensure_model,
                                  search=lambda q, names: self.search(q, names), memory=memory,
                                  queue_turn=queue_turn, unqueue=self._unqueue,
                                  system_prompt=m.system_prompt, max_tokens=m.max_tokens,
                                  sampling=self.sampling(model=model),
                                  model_notes=lambda info: self._model_notes(info, m.n_ctx, reloaded))
                with self._one_turn_at_a_time(options, cancel) as turn_now:
                    if not turn_now:
                        yield Failed("Stopped before it began: another answer in this conversation was still being "
                                     "written.", error_type=InputError.__name__)
                        return
                    yield from run_turn(parts, text, options, cancel)
            finally:  # a turn given up early still lets its load end before learning may use the engine
                if loading is not None:
                    loading.exception()
        if memory is not None:
            self.scheduler.turn_queued()

    def _forget_responses_of(self, conversation_id: str) -> None:
        """A chat deleted takes the API's kept responses saved in it along (they hold its text); one whose messages
        were replaced (regenerate, edit) keeps them: they cannot be continued, but can still be read."""
        if not self.history.has_conversation(conversation_id):
            self.kept_responses.forget_conversation(conversation_id)

    def _unqueue(self, conversation_id: str, user_text: str) -> None:
        from assistant.memory.queue import unqueue_turn

        unqueue_turn(self.paths, conversation_id, user_text)

    @contextlib.contextmanager
    def _one_turn_at_a_time(self, options: TurnOptions, cancel: threading.Event) -> Iterator[bool]:
        """Hold the conversation a turn continues while it runs; yields False if ``cancel`` came first.

        Two API requests on one ``conversation_id`` at once each read the history before either saved, and
        saved their turns interleaved (two questions in a row, answers after the wrong ones); the window's
        regenerate and an API request on its chat did the same. A later turn now waits for the one before."""
        key = options.conversation_id
        if options.replace_from is not None:
            with contextlib.suppress(HearthError):  # an unknown id: the turn itself says so
                key = self.history.get_message(options.replace_from).conversation_id
        if key is None or options.messages is not None:  # a new or stateless conversation: nothing to share
            yield True
            return
        with self._opening:
            lock = self._conversation_locks.setdefault(key, threading.Lock())
        while not lock.acquire(timeout=0.05):
            if cancel.is_set():
                yield False
                return
        try:
            yield True
        finally:
            lock.release()

    # ---- the API (``hearth serve``, assistant/server/) --------------------------------------------------
    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        sampling: SamplingParams | None = None,
        max_tokens: int | None = None,
        stop: Sequence[str] = (),
        grammar: str | None = None,
        collections: Sequence[str] = (),
        use_memory: bool = False,
        conversation_id: str | None = None,
        drop_oldest: bool = False,
        cancel: threading.Event | None = None,
    ) -> Response:
        """Answer the last message of ``messages`` (``{"role", "content"}`` mappings, OpenAI's chat format).

        Stateless unless ``conversation_id`` is given: ``messages`` is the whole conversation and nothing is
        written to the chat history (the answer's ``Done`` carries no ids). With ``conversation_id`` (a
        conversation in the history, or ``"new"`` to start one) the history is Hearth's: the model sees the
        saved conversation plus the last message of ``messages`` (earlier user/assistant messages there are
        ignored), and the turn is saved like one asked in the window. Either way the engine's prefix reuse
        makes a follow-up cost only its new tokens. Stateless ``messages`` too long for the context are refused
        (ContextOverflowError, in a ``Failed``), or with ``drop_oldest`` lose their oldest turns, said in a
        notice. System (and "developer") messages set this answer's system prompt. ``stop`` adds stop strings;
        ``grammar`` (GBNF, see :meth:`json_grammar`) constrains the answer.

        ``use_memory`` is False by default here, unlike :meth:`ask`: API clients are often scripts, batch jobs
        or other programs whose requests are not the user telling Hearth about themselves, so nothing is read
        from or learned into the user's memory unless the client asks for it.

        Raises InputError for messages that are not a question (no messages, an unknown role, a last message
        that is not the user's, unless all are system messages of a stateless request: the last is then the
        instruction answered); every other problem arrives as a ``Failed`` event, like :meth:`ask`'s.
        """
        from assistant.engine.chat_format import Message

        roles = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
        system: list[str] = []
        past: list[Message] = []
        for message in messages:
            role = roles.get(str(message.get("role", "")))
            if role is None:
                raise InputError(f"Unsupported message role {message.get('role')!r}: use system, user or assistant.")
            content = message.get("content") or ""
            if not isinstance(content, str):
                raise InputError("A message's content must be text.")
            if role == "system":
                system.append(content)
            else:
                past.append(Message(role, content))
        if not past and system and conversation_id is None:  # a system message alone (LangChain's
            # invoke([SystemMessage(...)]), eval harnesses) is an instruction to follow, as OpenAI answers it: the
            # chat template needs a turn to answer, so the last one is that turn
            past.append(Message("user", system.pop()))
        if not past and system:  # (with a conversation_id: "must be the user's" did not say why it was refused)
            raise InputError('The last message must be the user\'s (role "user"): a system message alone is answered '
                             'only without a conversation_id, as a saved conversation needs a question to keep.')
        if not past or past[-1].role != "user":
            raise InputError('The last message must be the user\'s (role "user"): it is the question to answer.')
        new = conversation_id == NEW_CONVERSATION
        options = TurnOptions(
            conversation_id=None if new else conversation_id, collections=tuple(collections), use_memory=use_memory,
            sampling=sampling, system_prompt="\n\n".join(system) if system else None, max_tokens=max_tokens,
            messages=None if conversation_id is not None else tuple(past[:-1]), stop=tuple(s for s in stop if s),
            grammar=grammar, save=conversation_id is not None, drop_oldest=drop_oldest,
        )
        cancel = cancel or threading.Event()
        events = self._turn(past[-1].content, options, cancel, None, None)
        return Response(self._counted(events) if options.save else events, cancel)

    def _counted(self, events: Iterator[Event]) -> Iterator[Event]:
        """``events`` of a turn the API server saves, each moving the mark the chats poll reads (see
        :meth:`subscribe`): its question, its answer's checkpoints and its end are written through this process's
        own connection, which ``PRAGMA data_version`` does not count, so a window running the server listed a chat
        asked through it, and showed a turn added to its open chat, only when it was activated again."""
        try:
            for event in events:
                self._served += 1
                yield event
        finally:  # (its end's write comes after its last event)
            self._served += 1

    def complete(self, prompt: str, *, sampling: SamplingParams | None = None, max_tokens: int | None = None,
                 stop: Sequence[str] = (), grammar: str | None = None,
                 cancel: threading.Event | None = None) -> Response:
        """Continue ``prompt`` as raw text: no chat template, history, sources or memory (``/v1/completions``).

        Runs through the same engine, sampling and speculative decoding as answers; nothing is saved."""
        cancel = cancel or threading.Event()
        return Response(self._complete(prompt, sampling, max_tokens, tuple(s for s in stop if s), grammar, cancel),
                        cancel)

    def _complete(self, prompt: str, sampling: SamplingParams | None, max_tokens: int | None, stop: tuple[str, ...],
                  grammar: str | None, cancel: threading.Event) -> Iterator[Event]:
        if not prompt:
            yield Failed(EMPTY_PROMPT, error_type=InputError.__name__)
            return
        streamed: list[str] = []
        with self.scheduler.engine_in_use():  # learning yields the engine, as for an answer
            try:
                reloaded: list[str] = []
                self.ensure_model(tell=reloaded.append)
                for said in reloaded:
                    yield Notice("model", said)
                self.ensure_draft()
                tokens = self.engine.tokenize(prompt, add_special=True)
                constrained = {"grammar": grammar} if grammar else {}
                for event in self.engine.generate(tokens, sampling or self.sampling(),
                                                  max_tokens or self.settings.model.max_tokens, cancel, stop,
                                                  **constrained):
                    if isinstance(event, Token):
                        streamed.append(event.text)
                    yield event
            except HearthError as exc:
                yield Failed(str(exc), text="".join(streamed), error_type=type(exc).__name__)

    @staticmethod
    def text_of(data: bytes) -> str:
        """Bytes a user handed over (a question piped in) as text, read as the indexer reads a file: UTF-8, else
        UTF-16 or the legacy code page it reads as (`git diff | hearth ask -` of a diff touching one Latin-1
        file was refused as "not valid UTF-8"). An InputError for bytes that are not text."""
        try:
            return data.decode("utf-8-sig")  # Notepad's byte-order mark is no question
        except UnicodeDecodeError:
            from assistant.knowledge.errors import UnreadableFileError
            from assistant.knowledge.textio import decode_text

            try:
                return decode_text(data)
            except UnreadableFileError as exc:
                raise InputError(f"That is not text ({exc}).") from None

    @staticmethod
    def collection_name_problem(name: str) -> str | None:
        """Why ``name`` cannot name a collection, or None when it can: a dialog says it while the name is typed,
        instead of an indexing run that fails after the user has confirmed."""
        from assistant.knowledge.store import validate_name

        try:
            validate_name(name)
        except InputError as exc:
            return str(exc)
        return None

    @staticmethod
    def json_grammar(schema: Mapping[str, Any] | None = None) -> str:
        """GBNF that admits only JSON matching ``schema`` (None: any JSON object), for ``grammar=``.

        InputError when llama.cpp's converter cannot handle the schema."""
        from assistant.engine.sampling import json_grammar

        try:
            return json_grammar(dict(schema) if schema is not None else {"type": "object"})
        except Exception as exc:  # the converter fails in many ways on a schema it cannot handle: all are input
            raise InputError(f"The JSON schema cannot be used: {exc or type(exc).__name__}") from None

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors for ``texts`` from the knowledge embedder (L2-normalised; ``/v1/embeddings``)."""
        if not texts:
            raise InputError("Nothing to embed: give at least one text.")
        return self.knowledge.embedder.embed(list(texts)).tolist()

    def embedding_model(self) -> str:
        """The knowledge embedder's name (its model is not loaded for this)."""
        return self.knowledge.embedder_name

    def embedding_usage(self, texts: Sequence[str]) -> tuple[int, list[int]]:
        """What the embedder reads of ``texts``: its tokens (special ones included), and the indexes of the texts
        longer than its window, whose ends it does not read ((0, []) when it has no local tokenizer).

        Counted on an uncut copy of the tokenizer (its file cuts at 128 tokens, where the model reads 256): the
        API's usage said 128 for any longer text, and a text cut short was never said."""
        embedder = self.knowledge.embedder
        tokenizer = getattr(embedder, "tokenizer", None)
        if tokenizer is None:
            return 0, []
        if self._counting is None or self._counting[0] is not tokenizer:
            from assistant.knowledge.chunking import uncut

            self._counting = (tokenizer, uncut(tokenizer))
        counting = self._counting[1]
        window = embedder.max_tokens + 2  # [CLS] and [SEP]
        counts = [len(e.ids) for e in counting.encode_batch(list(texts))]
        return sum(min(c, window) for c in counts), [i for i, c in enumerate(counts) if c > window]

    def model_id(self) -> str:
        """The chat model's id for API clients: its file name without ``.gguf`` (the loaded one, else the
        configured one)."""
        return self.engine.info.model_id if self.engine.loaded else self.model_path().name.removesuffix(".gguf")

    def serving(self, parallel: int) -> None:
        """This process serves API requests, up to ``parallel`` of them decoded together (``hearth serve
        --parallel``, ``settings.server.parallel``). Recorded as :attr:`parallel_requests` for the engine's
        continuous batching to size its sequences from when the model loads; the server itself never
        serialises requests."""
        if parallel < 1:
            raise InputError(f"parallel must be at least 1, not {parallel}.")
        self.parallel_requests = parallel
        with self._model_lock:  # a model already loaded for another number of answers is loaded again, now
            if self.engine.loaded and getattr(self.engine.settings, "n_parallel", parallel) != parallel:
                self._load(Path(self.engine.info.path), self.engine.settings, None, None)

    def server_token(self) -> str:
        """The API's bearer token, made (``secrets.token_urlsafe``) and saved in the settings at first use."""
        with self._settings_lock:  # one token, also when Settings asks for it while an Apply starts the server
            if not self.settings.server.token:
                import secrets

                self.settings.server.token = secrets.token_urlsafe(32)
                try:
                    self.save_settings()
                except ConfigError:  # a token no other process can read would lock out every client
                    self.settings.server.token = ""
                    raise
            return self.settings.server.token

    def start_server(self, host: str | None = None, port: int | None = None,
                     parallel: int | None = None) -> ServerStatus:
        """Run the OpenAI-compatible API in this process, on background threads (``hearth serve``, the app).

        ``settings.server`` says where and how; ``host``/``port``/``parallel`` override it for this run (not
        saved). The token is made at first start. A server already running is restarted. Raises PortInUseError
        when the port is taken, ServerError when the address cannot be used. No socket is opened before this.
        """
        from assistant.server.runner import ServerHandle, ServerStatus

        with self._settings_lock:  # a stop (Ctrl+C) waits for a restart the settings watcher is making
            self.stop_server(one_answer_at_a_time=False)
            self.server_token()
            s = self.settings.server
            self._server_overrides = {"host": host, "port": port, "parallel": parallel}
            where = (host or s.host, s.port if port is None else port)
            try:
                # the port first: a busy one is said before any load; the app's FastAPI routes import pydantic's
                # parts as they are made
                with PYDANTIC_IMPORTS:
                    self._server = ServerHandle.start(self, *where)
            except HearthError as exc:
                self._server_failure = ServerStatus(running=False, host=where[0], port=where[1], error=str(exc))
                raise
            self._server_failure = None
            self.serving(parallel or s.parallel)
            # said once the number is set (it was said before, as the last server's or 1)
            log.info("API server on %s (%d in parallel)", self._server.url, self.parallel_requests)
            return self._server.status()

    def stop_server(self, one_answer_at_a_time: bool = True) -> None:
        """Stop the API server (answers still streaming are cancelled); nothing happens when none runs.

        The model then goes back to one answer at a time (speculative decoding works again), loaded again
        now if it was loaded for several; ``one_answer_at_a_time=False`` skips that (the process is ending, or
        the server restarts)."""
        with self._settings_lock:  # a restart in progress (a settings change) ends first, then this stops it
            server, self._server = self._server, None
            self._server_failure = None  # a server that could not start is switched off too: nothing to report
            if server is not None:
                server.stop()
            # also after a restart that failed (a busy port): the model was left loaded for parallel answers
            if one_answer_at_a_time and self.parallel_requests != 1:
                self.serving(1)

    def server_status(self) -> ServerStatus:
        """Whether the API server runs, where (``url``), and why it stopped (``error``) if it did."""
        from assistant.server.runner import ServerStatus

        if self._server is None:
            return self._server_failure or ServerStatus(running=False)
        return self._server.status()

    def server_wait(self, timeout_s: float | None = None) -> bool:
        """Block until the API server stops for good (True, also when none runs) or ``timeout_s`` passes (False).

        A restart for a settings change (a new token or CORS list in the settings file) is not a stop: `hearth
        serve` took the old server's end for one and exited, taking the new server with it."""
        server = self._server
        if server is not None and not server.wait(timeout_s):
            return False
        with self._settings_lock:  # a settings change may be restarting it: its end decides
            restarted = self._server
        return restarted is None or restarted is server

    def _server_settings_changed(self, old: ServerSettings) -> tuple[str, bool]:
        """Apply a change of ``settings.server`` to the running server at once: stop or restart it. Returns what
        happened, and False when the server could not start again."""
        if old.enabled and not self.settings.server.enabled:
            self.stop_server()
            return "API server stopped", True
        try:
            status = self.start_server(**self._server_overrides)
        except HearthError as exc:
            return f"API server stopped: {exc}", False
        return f"API server restarted at {status.url}", True

