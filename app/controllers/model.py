"""The chat model and the settings: first load, the status bar, and applying the Settings dialog.

Loads run on the "hearth-model" lane. ``Assistant.use_model`` swaps only once the new model is ready,
so the old one keeps answering meanwhile (generation runs on its own lane); if the load fails, the user
is told why and the settings that would have needed it are put back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.views.composer import Composer
from app.views.dialogs import show_error
from app.views.settings_dialog import SettingsDialog
from app.views.status_bar import StatusBar
from app.workers import Job, Workers
from assistant.config import Settings
from assistant.core import RELOAD_FIELDS
from assistant.paths import RESOURCES


def model_library(models_dir: Path) -> list[Path]:
    """The bundled models and the user's models folder: the "local model library"."""
    folders = [RESOURCES / "models", models_dir]
    return sorted({p.resolve() for d in folders if d.is_dir() for p in d.glob("*.gguf")}, key=lambda p: p.name)


class ModelController(QObject):
    loadFinished = Signal(bool)  # a load ended: True if a model is ready (first load or a switch)
    settingsApplied = Signal(object)  # the new Settings (appearance may have changed)

    def __init__(self, assistant: Any, workers: Workers, window: QWidget, status: StatusBar,
                 composer: Composer) -> None:
        super().__init__()
        self.assistant, self.workers, self.window = assistant, workers, window
        self.status, self.composer = status, composer
        self.dialog: SettingsDialog | None = None
        self.error: QMessageBox | None = None  # the last load error shown (tests close it)
        self.lastApplied: Any = None  # what the core reported for the last settings change (SettingsApplied)

    def load(self) -> None:
        """The first load, in the background; the window is already usable for reading history."""
        self._loading(self.assistant.model_path())
        self.workers.model.submit(Job(self.assistant.ensure_model, on_done=self._ready,
                                      on_failed=lambda message: self._load_failed(message, None)))
        self.workers.generation.submit(Job(self._warm_up_answers))
        self.workers.indexing.submit(Job(self._warm_up_indexing))

    # Right after start-up, open what the core otherwise opens during the first answer or indexing run:
    # that imports torch, sentence-transformers and chromadb, and imports hold the GIL for long stretches,
    # which stalled the GUI thread for several hundred milliseconds mid-answer (measured by app.bench_ui).
    # Each warm-up runs on the lane whose jobs need it, so it never races the job it prepares.
    def _warm_up_answers(self) -> None:
        """The memory store and the embedder's model (it loads on the first embedding)."""
        assistant = self.assistant
        if assistant.settings.memory.enabled:
            _ = assistant.memory
            assistant.knowledge.embedder.embed(["warm-up"])

    def _warm_up_indexing(self) -> None:
        """The chunker (and with it the embedder) and the Chroma client: opening it holds the GIL ~30 ms."""
        knowledge = self.assistant.knowledge
        _ = knowledge.chunker
        _ = knowledge.store.chroma

    def switch(self, path: Path, previous: Settings | None = None) -> None:
        """Load ``path`` with the current load settings; on failure restore ``previous``'s load settings."""
        self._loading(path)
        self.workers.model.submit(Job(lambda: self.assistant.use_model(path), on_done=self._ready,
                                      on_failed=lambda message: self._load_failed(message, previous)))

    def _loading(self, path: Path) -> None:
        self.status.set_model(f"Loading {path.name}…", str(path))
        if not self.assistant.engine.loaded:
            self.status.set_device("")
            self.composer.set_ready(False)

    def _ready(self, info: Any) -> None:
        engine = self.assistant.engine
        self.status.set_model(f"{info.name} · {info.params_label()} {info.quantization}", info.path)
        self.status.set_device(engine.device)
        self.status.set_context(engine.cached_tokens, engine.n_ctx)
        self.composer.set_ready(True)
        self.loadFinished.emit(True)

    def _load_failed(self, message: str, previous: Settings | None) -> None:
        engine = self.assistant.engine
        if previous is not None:
            for name in RELOAD_FIELDS:
                setattr(self.assistant.settings.model, name, getattr(previous.model, name))
            self.assistant.save_settings()
        if engine.loaded:
            self.status.set_model(f"{engine.info.name} (kept: the new model failed to load)", engine.info.path)
        else:
            self.status.set_model("No model loaded", message)
        # Sending stays possible: the core retries the load and reports a failure as a readable answer.
        self.composer.set_ready(True)
        self.error = show_error(self.window, "The model could not be loaded", message)
        self.loadFinished.emit(engine.loaded)

    # --- settings ------------------------------------------------------------------------------------
    def open_settings(self) -> SettingsDialog:
        assistant = self.assistant
        dialog = SettingsDialog(assistant.settings, model_library(assistant.paths.models_dir), assistant.presets,
                                self._current_model(), self.window)
        dialog.accepted.connect(lambda: self.apply(dialog.values(), dialog.model_path()))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _current_model(self) -> Path:
        engine = self.assistant.engine
        return Path(engine.info.path).resolve() if engine.loaded else self.assistant.model_path().resolve()

    def apply(self, settings: Settings, model_path: Path) -> None:
        """Hand the edited settings to the core, which applies them everywhere at once and saves them; on the
        model lane, because a changed model or load setting reloads the model (the old one keeps answering
        until the new one is ready). The window restyles right away."""
        settings.model.path = str(model_path)
        self.settingsApplied.emit(settings)
        current = self._current_model()
        reload = model_path.resolve() != current or any(
            getattr(settings.model, f) != getattr(self.assistant.settings.model, f) for f in RELOAD_FIELDS)
        if reload:
            self._loading(model_path)
        assistant = self.assistant
        self.workers.model.submit(Job(lambda: assistant.update_settings(settings),
                                      on_done=lambda applied: self._applied(applied, reload),
                                      on_failed=lambda message: self._load_failed(message, None)))

    def _applied(self, applied: Any, reloaded: bool) -> None:
        self.lastApplied = applied
        if reloaded:
            self._ready(applied.model or self.assistant.engine.info)
