"""The chat model and the settings: loads with progress, the status bar, the library list, the Settings dialog.

Loads run on the "hearth-model" lane. ``Assistant.use_model`` swaps only once the new model is ready,
so the old one keeps answering meanwhile (generation runs on its own lane); if the load fails, the user
is told why and the settings that would have needed it are put back. Load progress (llama.cpp's own, with
an ETA) reaches the status bar and the Models view through a :class:`Relay`; a load can be cancelled.

The library (``assistant.models.entries()``) is read on the io lane and kept here, so the Settings dialog
opens at once with it and the Models view shares it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.views.composer import Composer
from app.views.dialogs import deleted_on_close, show_error
from app.views.settings_dialog import NOTHING_CHANGED, SettingsDialog
from app.views.status_bar import StatusBar
from app.workers import Job, Relay, Workers
from assistant.config import Settings, edited_over
from assistant.core import real_path
from assistant.errors import HearthError
from assistant.events import LOAD_WAITING, time_left

if TYPE_CHECKING:
    from assistant.events import Progress
    from assistant.models import LibraryEntry

log = logging.getLogger(__name__)

#: A load job: ``(progress callback, cancel event) -> ModelInfo``.
Load = Callable[[Callable[["Progress"], None], threading.Event], Any]

#: how often the indexing warm-up looks whether the answers it waits for are done
WARM_UP_POLL_S = 0.2
#: The start of the status bar's message when the settings file changed on disk (see file_changed).
FILE_CHANGED = "Settings file changed: "


class ModelController(QObject):
    loadFinished = Signal(bool)  # a load ended: True if a model is ready (first load or a switch)
    loadProgress = Signal(str, int)  # a load in progress: its text (name, %, ETA) and its percent
    settingsApplied = Signal(object)  # the new Settings (appearance may have changed)
    applied = Signal(object)  # the core applied and saved them: its SettingsApplied
    libraryChanged = Signal(list)  # the library (LibraryEntry list) was read again
    recorded = Signal(str)  # a model chosen while a remote LLM answers was only recorded: what that means, in words

    def __init__(self, assistant: Any, workers: Workers, window: QWidget, status: StatusBar,
                 composer: Composer) -> None:
        super().__init__()
        self.assistant, self.workers, self.window = assistant, workers, window
        self.status, self.composer = status, composer
        self.dialog: SettingsDialog | None = None
        #: the dialog's baseline before the Apply in flight: put back when it fails (see ``_keep_edits``)
        self._before_apply: tuple[Settings, Path] | None = None
        self.error: QMessageBox | None = None  # the last load error shown (tests close it)
        self.failure = ""  # why the last load that kept the old model did not bring the new one
        self._library_signature: tuple[int, ...] = ()  # the library's when it was last read (see refresh_library)
        self.lastApplied: Any = None  # what the core reported for the last settings change (SettingsApplied)
        self.library: list[LibraryEntry] = []
        self.loading: Path | None = None  # the model a load with progress is bringing in
        self.cancel = threading.Event()
        self.closing = threading.Event()
        self._importing: threading.Thread | None = None  # the indexing warm-up (see _warm_up_indexing)
        self._progress = Relay(self._on_progress)
        status.cancelLoadRequested.connect(self.cancel_load)

    def load(self) -> None:
        """The first load, in the background; the window is already usable for reading history."""
        self._start_load(self.assistant.model_path(), self.assistant.ensure_model)
        self.refresh_library()
        self.workers.generation.submit(Job(self._warm_up_answers))
        self.workers.indexing.submit(Job(self._warm_up_indexing))

    # Right after start-up, open what the core otherwise opens during the first answer or indexing run (see
    # Assistant.warm_up): imports hold the GIL for long stretches, which stalled the GUI thread for several
    # hundred milliseconds mid-answer (measured by app.bench_ui). Each warm-up runs on the lane whose jobs
    # need it, so it never races the job it prepares.
    def _warm_up_answers(self) -> None:
        self.assistant.warm_up("answers")

    def _warm_up_indexing(self) -> None:
        """Import what indexing needs (Chroma, the chunker, the bulk encoder) once no answer is queued or
        running, unless an indexing job waits for it. It imported torch, 10 s and more of CPU on two cores, and
        llama.cpp's threads wait on each other: run beside the first answer, asked right after start, it made
        that answer 3-4x slower (first token after 11 s and 15 tok/s, against 7 s and 58-67 tok/s without it).
        Every batch takes NumPy now (see :mod:`assistant.knowledge.embedder`), so torch is imported only for an
        embedder NumPy cannot run.

        The import itself runs on a daemon thread, not on the lane: it cannot be stopped, and a window closed
        during it waited for it (10 s and more), then aborted ("QThread: Destroyed while thread is still
        running", exit 134) when it outlasted the lanes' 10 s. An indexing run meanwhile waits on the
        embedder's own lock; ``run`` exits without waiting for the import (see :meth:`importing`)."""
        generation, indexing = self.workers.generation, self.workers.indexing
        while generation.busy and indexing.pending <= 1:  # pending counts this job: more is an indexing run
            if self.closing.wait(WARM_UP_POLL_S):
                return
        self._importing = threading.Thread(target=self._import_bulk_embedder, name="hearth-warm-up", daemon=True)
        self._importing.start()

    def _import_bulk_embedder(self) -> None:
        try:
            self.assistant.warm_up("indexing")
        except Exception as exc:  # a warm-up only saves time later: the first indexing run meets and says the
            # problem. Closed mid-import, the exiting interpreter fails it: nothing to say. One known to Hearth (a
            # read-only data folder) is a line; its 15-line traceback reached the terminal the window ran from
            if not self.closing.is_set():
                log.warning("the indexing warm-up failed: %s", exc, exc_info=not isinstance(exc, HearthError))

    @property
    def importing(self) -> bool:
        """The indexing warm-up's import still runs."""
        return self._importing is not None and self._importing.is_alive()

    def refresh_library(self, if_changed: bool = False) -> None:
        """Read the library again (at start, after a download, a removal or a switch) on the io lane;
        ``if_changed``: only if models may have come or gone since it was read, and the lists are redrawn only if
        they did (coming back to the window: a terminal's `hearth models add` or `remove` was not seen until the
        Models view was opened again)."""
        signature = self.assistant.models.library.signature()  # (reads the library's list once)
        if if_changed and signature == self._library_signature:
            return
        self._library_signature = signature
        self.workers.io.submit(Job(self.assistant.models.entries,
                                   on_done=lambda entries: self._library_read(entries, if_changed)))

    def _library_read(self, entries: list[LibraryEntry], if_changed: bool = False) -> None:
        if if_changed and [(e.path, e.source, e.shown) for e in entries] == \
                [(e.path, e.source, e.shown) for e in self.library]:
            return
        self.library = list(entries)
        self.libraryChanged.emit(self.library)
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.set_models(self._usable())

    def _usable(self) -> list[tuple[str, Path]]:
        """The library's models that can be chosen (their header was read), by shown name."""
        return [(e.shown, e.path) for e in self.library if e.info is not None]

    def switch(self, path: Path, listed: bool = False) -> None:
        """Load ``path`` with its own profile, with progress; if it fails the current model stays. While a remote
        LLM answers, the core only records it (nothing loads): the status bar says so. ``listed``: chosen from
        the library's list (see ``Assistant.use_model``)."""
        assistant = self.assistant
        if assistant.remote_llm_answers:
            self.workers.model.submit(Job(lambda: assistant.use_model(path, listed=listed),
                                          on_done=lambda _: self._recorded(), on_failed=self._apply_failed))
            return
        self._start_load(path, lambda progress, cancel: assistant.use_model(path, progress, cancel, listed=listed))

    def _recorded(self) -> None:
        engine, url = self.assistant.engine, self.assistant.remote_llm_url
        said = f"{self.assistant.recorded_model_note()} (Settings → Remote)."
        self.status.set_model(self.status.model.text() if engine.loaded else f"Remote model at {url}", said)
        self.status.set_device(engine.device)
        self.recorded.emit(said)
        self.refresh_library()  # the current-model mark moves

    def cancel_load(self) -> None:
        """Stop the running load; the model that was answering stays."""
        self.cancel.set()

    def shutdown(self) -> None:
        """The window is closing: stop a running load, and a warm-up that still waits for its turn."""
        self.closing.set()
        self.cancel_load()

    def _start_load(self, path: Path, load: Load, on_done: Callable[[Any], None] | None = None) -> None:
        """Run ``load`` on the model lane with a progress bar and Cancel; ``on_done`` gets its result
        (default: it is the loaded model's info)."""
        self.loading, self.cancel = path, threading.Event()
        cancel, progress = self.cancel, self._progress
        self._loading(path)
        self.status.show_load(0, f"Loading {path.name}…")
        self.workers.model.submit(Job(lambda: load(progress, cancel), on_done=on_done or self._ready,
                                      on_failed=lambda message: self._load_failed(message, cancel)))

    def _on_progress(self, progress: Progress) -> None:
        if self.loading is None:  # a late report of a load that already ended
            return
        percent = round(100 * progress.done / (progress.total or 1))
        eta = time_left(progress.eta_s) if percent < 100 else ""
        text = f"Loading {progress.message or self.loading.name}… {percent}%" + (f" · {eta}" if eta else "")
        if progress.unit == LOAD_WAITING:
            text = (f"{progress.message} is loaded: it answers once the answer being written ends (Stop, in its "
                    "chat, ends it now)")
        self.status.show_load(percent, text)
        self.loadProgress.emit(text, percent)

    def _loading(self, path: Path) -> None:
        self.status.set_model(f"Loading {path.name}…", str(path))
        if not self.assistant.engine.loaded:
            self.status.set_device("")
            self.composer.set_ready(False)

    def _drop_file_message(self) -> None:
        """The window applied settings or a load ended: a message of the settings file's last change goes. It
        stayed its 15 s over the model's name, naming values no longer in use and hiding the model switched to."""
        if self.status.currentMessage().startswith(FILE_CHANGED):
            self.status.clearMessage()

    def _ready(self, info: Any) -> None:
        self._drop_file_message()
        engine = self.assistant.engine
        self.loading = None
        self.status.show_load(None)
        self.status.set_model(f"{info.name} · {info.params_label()} {info.quantization}", info.path)
        self.status.set_device(engine.device)
        # the chat on screen still takes what its last answer left (it read "context 0" after a reload until the
        # next answer), in the new model's context
        self.status.set_context(max(engine.cached_tokens, self.status.context_used), engine.n_ctx)
        self.status.clear_answer_stats()
        self.composer.set_ready(True)
        self.loadFinished.emit(True)
        self.refresh_library()  # the current-model mark moves

    def _load_failed(self, message: str, cancel: threading.Event | None = None) -> None:
        """The core kept the old model (and put back the load settings that needed the new load)."""
        self._drop_file_message()
        engine = self.assistant.engine
        cancelled = cancel is not None and cancel.is_set()
        self.loading = None
        self.status.show_load(None)
        # why, in the status bar's tooltip and the box: "failed to load" was also said of a model not loaded at all
        # (one removed from the library in a terminal, refused before any load)
        self.failure = "the load was cancelled" if cancelled else message
        if engine.loaded:
            kept = "the load was cancelled" if cancelled else "the other model was not loaded"
            self.status.set_model(f"{engine.info.precise_name} (kept: {kept})", self.failure)
        else:
            self.status.set_model("No model loaded", message)
        # Sending stays possible: the core retries the load and reports a failure as a readable answer.
        self.composer.set_ready(True)
        if not cancelled:
            self.error = show_error(self.window, "The model was not loaded", message)
        self._keep_edits()
        self._rebase_dialog()
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.show_applied(False, "The load was cancelled." if cancelled else message)
        self.loadFinished.emit(engine.loaded)

    # --- settings ------------------------------------------------------------------------------------
    def open_settings(self) -> SettingsDialog:
        assistant = self.assistant
        dialog = SettingsDialog(assistant.settings, self._usable(), assistant.presets, self.current_model(),
                                self.window, rerank_missing=assistant.reranker_missing(),
                                gpu_missing=assistant.gpu_missing())
        dialog.accepted.connect(lambda: self._apply_dialog(dialog))
        dialog.applyRequested.connect(lambda: self._apply_dialog(dialog))
        dialog.activated.connect(lambda: self.refresh_library(if_changed=True))  # a terminal's `models add`
        self.dialog = dialog
        deleted_on_close(dialog, self)
        dialog.open()
        self._list_drafts(dialog)
        dialog.model.currentIndexChanged.connect(lambda _index: self._list_drafts(dialog))
        dialog.model.currentIndexChanged.connect(lambda _index: self._show_profile(dialog))
        return dialog

    def _show_profile(self, dialog: SettingsDialog) -> None:
        """Show the chosen model's own settings in the dialog (its profile is a file read: on the io lane)."""
        assistant, target, shown = self.assistant, dialog.model_path(), dialog.shown_profile()
        self.workers.io.submit(Job(lambda: assistant.model_settings(target),
                                   on_done=lambda profile: dialog.show_model_profile(target, profile, shown),
                                   on_failed=lambda message: dialog.show_applied(False, message), owner=dialog))

    def _list_drafts(self, dialog: SettingsDialog) -> None:
        """Fill the dialog's draft-model picker for the model chosen in it: reading the candidates' GGUF
        headers is file work, so on the io lane; an answer for a model no longer chosen is dropped."""
        models, target = self.assistant.models, dialog.model_path()

        def listed(candidates: list[Any]) -> None:
            if dialog.model_path() == target:
                dialog.set_draft_candidates(candidates)

        def failed(message: str) -> None:
            if dialog.model_path() == target:
                dialog.set_draft_candidates([], message)

        self.workers.io.submit(Job(lambda: models.draft_candidates(target), on_done=listed, on_failed=failed,
                                   owner=dialog))

    def _apply_dialog(self, dialog: SettingsDialog) -> None:
        """Apply what was edited in ``dialog`` since it showed the settings in use, over the settings in use
        now: values it merely showed must not undo a change made meanwhile (a hand edit of the file, ``hearth
        models use`` in a terminal); those are now its baseline."""
        edited = dialog.values()
        settings = edited_over(self.assistant.settings, dialog.baseline, edited)
        model = dialog.model_path() if dialog.edited_model() else self.current_model()
        if dialog.edited_model() and dialog.chosen_from_list() and not self.assistant.models.library.lists(model):
            # removed in a terminal since the list was read: it was loaded and put back in the library, unsaid
            said = (f"{model.name} is no longer in the library: it was removed elsewhere (`hearth models remove` "
                    "in a terminal?). Choose another model.")
            if dialog.isVisible():
                dialog.show_applied(False, said)
            else:  # closed with OK
                self.error = show_error(self.window, "The model was not loaded", said)
            self.refresh_library(if_changed=True)
            return
        self._before_apply = (dialog.baseline, dialog.baseline_model)
        dialog.baseline, dialog.baseline_model = edited, dialog.model_path()
        self.apply(settings, model)

    def _keep_edits(self) -> None:
        """An Apply that failed (or a load it started that was cancelled): what was edited for it stays an edit
        in the dialog, shown over the settings in use, to be applied again or changed. The dialog snapped back
        to the settings in use: a temperature and answer length changed with a model that failed to load were
        dropped without a word."""
        if self._before_apply is not None and self.dialog is not None:
            self.dialog.baseline, self.dialog.baseline_model = self._before_apply
        self._before_apply = None

    def _rebase_dialog(self) -> None:
        """An open dialog shows the settings now in use (the chosen model's profile after a switch, the load
        settings put back after a failed load), keeping what was edited in it and not yet applied."""
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.rebase(self.assistant.settings, self.current_model())

    def current_model(self) -> Path:
        """The local model in use (before the first load ends: the configured one; while a remote LLM answers,
        the local one it stands in for: its URL became "Model file not found: …/http:/127.0.0.1:8283/v1/…")."""
        return self.assistant.local_model()

    def apply(self, settings: Settings, model_path: Path) -> None:
        """Hand the edited settings to the core, which applies them everywhere at once and saves them; on the
        model lane, because a changed model or load setting reloads the model (with the same progress bar
        and Cancel as a switch; the old model keeps answering until the new one is ready). The window
        restyles right away."""
        settings.model.path = str(model_path)
        assistant = self.assistant
        if not settings.server.token:  # made by the core since the dialog opened (its first start, --show-token)
            settings.server.token = assistant.settings.server.token
        self.settingsApplied.emit(settings)
        remote_llm = settings.remote.llm_url.strip()
        # while a remote LLM answers, the core records a new local model or load setting and loads nothing
        # a context that comes to the length loaded (100000 → 0 for a model trained for 8192) loads nothing
        reload = not remote_llm and (real_path(model_path) != self.current_model()
                                     or bool(assistant.reload_fields(settings.model, model_path)))
        if not reload:
            llm_moved = remote_llm != assistant.settings.remote.llm_url.strip()
            if llm_moved:
                self.status.set_model("Connecting to the remote model…" if remote_llm
                                      else "Loading the local model again…", self.status.model.toolTip())

            def done(applied: Any) -> None:
                self._applied(applied)
                if applied.model is not None:  # the remote model connected, or the local one loaded again
                    self._ready(applied.model)
                elif llm_moved:  # the core said why in the changes; the next answer tries again
                    self.status.set_model(f"Remote model at {remote_llm}: not connected" if remote_llm
                                          else "No model loaded", "\n".join(applied.changes))

            self.workers.model.submit(Job(lambda: assistant.update_settings(settings), on_done=done,
                                          on_failed=self._apply_failed))
            return

        def reloaded(applied: Any) -> None:
            self._applied(applied)
            self._ready(applied.model or assistant.engine.info)

        self._start_load(model_path, lambda progress, cancel: assistant.update_settings(settings, progress, cancel),
                         on_done=reloaded)

    def _applied(self, applied: Any) -> None:
        self._drop_file_message()
        self.lastApplied = applied
        self._before_apply = None
        self._rebase_dialog()
        if self.dialog is not None:
            changes = "; ".join(applied.changes)
            self.dialog.show_applied(not applied.problems, f"Applied: {changes}." if changes else NOTHING_CHANGED)
        self.applied.emit(applied)

    def file_changed(self, event: Any) -> None:
        """The settings file changed on disk and the core applied it (``SettingsReloaded``: a hand edit, or
        another Hearth process): the window follows as after its own Apply, and says what changed (what it could
        not apply is the banner's: see ``MainWindow.settings_file_notice``)."""
        assistant = self.assistant
        self.lastApplied = event
        self.settingsApplied.emit(assistant.settings)
        self.applied.emit(event)
        if assistant.engine.loaded and self.loading is None:
            self._ready(assistant.engine.info)
        # a file that cannot be read changed nothing, and is not "nothing to change": its problem is said
        said = "; ".join(event.changes) or ("not applied" if event.problems else "nothing to change")
        self.status.showMessage(f"{FILE_CHANGED}{said}.", 15_000)
        self._rebase_dialog()
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.show_applied(not event.problems, f"The settings file changed: {said}. The values shown are "
                                     "the ones in use, except those edited here and not yet applied.")

    def _apply_failed(self, message: str) -> None:
        """Said in the dialog when it is still open (Apply), else in a message box."""
        self._keep_edits()
        self._rebase_dialog()
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.show_applied(False, message)
        else:
            self.error = show_error(self.window, "Settings", message)
