"""The Settings dialog: edits a copy of the core's ``Settings``; the controller applies and saves it.

Why a copy: Cancel must leave everything as it was, and the controller needs the old and the new values
side by side to decide whether the model has to be reloaded.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from assistant.config import Settings

if TYPE_CHECKING:
    from assistant.engine.sampling import SamplingParams

THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}


def _spin(low: int, high: int, value: int, name: str, special: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setAccessibleName(name)
    if special:
        box.setSpecialValueText(special)
    return box


def _dspin(low: float, high: float, step: float, value: float, name: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(2)
    box.setValue(value)
    box.setAccessibleName(name)
    return box


class SettingsDialog(QDialog):
    memoryManagerRequested = Signal()

    def __init__(self, settings: Settings, models: list[tuple[str, Path]], presets: dict[str, SamplingParams],
                 current_model: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setObjectName("SettingsDialog")
        self.resize(620, 560)
        self.original = settings
        self.presets = presets
        tabs = QTabWidget()
        tabs.addTab(self._model_tab(settings, models, current_model), "Model")
        tabs.addTab(self._knowledge_tab(settings), "Knowledge")
        tabs.addTab(self._memory_tab(settings), "Memory")
        tabs.addTab(self._appearance_tab(settings), "Appearance")
        self.tabs = tabs
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(buttons)

    # --- tabs ----------------------------------------------------------------------------------------
    def _model_tab(self, s: Settings, models: list[tuple[str, Path]], current: Path) -> QWidget:
        m = s.model
        self.model = QComboBox()
        self.model.setAccessibleName("Chat model")
        for name, path in models:
            self.model.addItem(f"{name}  ({path.stat().st_size / 1e6:.0f} MB)", str(path))
        self._select_model(current)
        browse = QPushButton("Browse…")
        browse.setAccessibleName("Choose a GGUF model file")
        browse.clicked.connect(self._browse)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)
        self.gpu_layers = _spin(-1, 999, m.n_gpu_layers, "GPU layers", "all")
        self.n_ctx = _spin(0, 262_144, m.n_ctx, "Context length", "model's maximum")
        self.n_ctx.setSingleStep(512)
        self.threads = _spin(0, 256, m.n_threads, "Threads", "automatic")
        self.preset = QComboBox()
        self.preset.setAccessibleName("Sampling preset")
        self.preset.addItems([*self.presets, "Custom"])
        self.preset.setCurrentText(m.preset if m.preset in self.presets else "Custom")
        self.preset.currentTextChanged.connect(self._apply_preset)
        self.temperature = _dspin(0.0, 2.0, 0.05, m.temperature, "Temperature")
        self.top_p = _dspin(0.0, 1.0, 0.05, m.top_p, "Top-p")
        self.min_p = _dspin(0.0, 1.0, 0.01, m.min_p, "Min-p")
        self.repeat_penalty = _dspin(0.5, 2.0, 0.05, m.repeat_penalty, "Repeat penalty")
        self.top_k = _spin(0, 1000, m.top_k, "Top-k", "off")
        self.max_tokens = _spin(16, 32_768, m.max_tokens, "Maximum answer tokens")
        self.system_prompt = QPlainTextEdit(m.system_prompt)
        self.system_prompt.setAccessibleName("System prompt")
        self.system_prompt.setFixedHeight(80)
        form = QFormLayout()
        form.addRow("Model", model_row)
        form.addRow("GPU layers", self.gpu_layers)
        form.addRow("Context length", self.n_ctx)
        form.addRow("Threads", self.threads)
        form.addRow("Sampling preset", self.preset)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Min-p", self.min_p)
        form.addRow("Top-k", self.top_k)
        form.addRow("Repeat penalty", self.repeat_penalty)
        form.addRow("Max answer tokens", self.max_tokens)
        form.addRow("System prompt", self.system_prompt)
        return _page(form, "Changing the model, GPU layers, context or threads reloads the model in the "
                           "background; the current model keeps answering until the new one is ready.")

    def _knowledge_tab(self, s: Settings) -> QWidget:
        k = s.knowledge
        self.chunk_tokens = _spin(64, 4096, k.chunk_tokens, "Chunk size in tokens")
        self.chunk_overlap = _spin(0, 1024, k.chunk_overlap, "Chunk overlap in tokens")
        self.top_k_sources = _spin(1, 50, k.top_k, "Number of sources")
        self.rerank = QCheckBox("Rerank sources with a cross-encoder (slower, more precise)")
        self.rerank.setChecked(k.rerank)
        form = QFormLayout()
        form.addRow("Chunk size (tokens)", self.chunk_tokens)
        form.addRow("Chunk overlap (tokens)", self.chunk_overlap)
        form.addRow("Sources per answer", self.top_k_sources)
        form.addRow("", self.rerank)
        return _page(form, "Changes apply at once. New chunk settings re-chunk each collection at its next "
                           "sync (watched collections right away). Watching is set per collection: right-click "
                           "it in the sidebar.")

    def _memory_tab(self, s: Settings) -> QWidget:
        self.memory_enabled = QCheckBox("Remember useful facts about me between conversations")
        self.memory_enabled.setChecked(s.memory.enabled)
        manager = QPushButton("Open the memory manager…")
        manager.clicked.connect(self.memoryManagerRequested)
        form = QFormLayout()
        form.addRow(self.memory_enabled)
        form.addRow(manager)
        return _page(form, "Memories stay on this computer. Use the incognito toggle in the composer to send "
                           "one message without memory.")

    def _appearance_tab(self, s: Settings) -> QWidget:
        self.theme = QComboBox()
        self.theme.setAccessibleName("Theme")
        for key, label in THEME_LABELS.items():
            self.theme.addItem(label, key)
        self.theme.setCurrentIndex(max(0, self.theme.findData(s.appearance.theme)))
        self.font_size = _spin(8, 24, s.appearance.font_size, "Font size")
        form = QFormLayout()
        form.addRow("Theme", self.theme)
        form.addRow("Font size (pt)", self.font_size)
        return _page(form, "")

    # --- behaviour -----------------------------------------------------------------------------------
    def _select_model(self, path: Path) -> None:
        index = self.model.findData(str(path))
        if index < 0:
            self.model.addItem(path.name, str(path))
            index = self.model.count() - 1
        self.model.setCurrentIndex(index)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model", "", "GGUF models (*.gguf);;All files (*)")
        if path:
            self._select_model(Path(path))

    def _apply_preset(self, name: str) -> None:
        if name in self.presets:
            self.temperature.setValue(self.presets[name].temperature)
            self.top_p.setValue(self.presets[name].top_p)

    def model_path(self) -> Path:
        return Path(self.model.currentData())

    def values(self) -> Settings:
        """The edited settings (a new object; the model path is left for the controller to switch)."""
        s = copy.deepcopy(self.original)
        m = s.model
        m.n_gpu_layers, m.n_ctx, m.n_threads = self.gpu_layers.value(), self.n_ctx.value(), self.threads.value()
        m.preset = self.preset.currentText()
        m.temperature, m.top_p, m.min_p = self.temperature.value(), self.top_p.value(), self.min_p.value()
        m.top_k, m.repeat_penalty = self.top_k.value(), self.repeat_penalty.value()
        m.max_tokens = self.max_tokens.value()
        m.system_prompt = self.system_prompt.toPlainText().strip() or m.system_prompt
        k = s.knowledge
        k.chunk_tokens, k.chunk_overlap = self.chunk_tokens.value(), self.chunk_overlap.value()
        k.top_k, k.rerank = self.top_k_sources.value(), self.rerank.isChecked()
        s.memory.enabled = self.memory_enabled.isChecked()
        s.appearance.theme = self.theme.currentData()
        s.appearance.font_size = self.font_size.value()
        return s


def _page(form: QFormLayout, note: str) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.addLayout(form)
    if note:
        hint = QLabel(note)
        hint.setObjectName("Muted")
        hint.setWordWrap(True)
        layout.addWidget(hint)
    layout.addStretch(1)
    return page
