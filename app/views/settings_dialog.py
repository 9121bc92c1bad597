"""The Settings dialog: edits a copy of the core's ``Settings``; the controller applies and saves it.

Why a copy: Cancel must leave everything as it was, and the controller needs the old and the new values
side by side to decide whether the model has to be reloaded. Save applies and closes; Apply applies and keeps
the dialog open, with a busy line while the core applies and what it did (or the error) underneath. The
Server and Remote pages live in ``settings_dialog_server``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QPalette, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStyledItemDelegate,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.views.settings_dialog_server import RemotePage, ServerPage, set_state
from app.views.widgets import field_label, fit_on_screen
from assistant.config import RANGES, SAMPLING_FIELDS, ModelSettings, Settings, edited_over, preset_of
from assistant.events import told_apart

if TYPE_CHECKING:
    from assistant.engine.sampling import SamplingParams

THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
SPECULATION_LABELS = {"auto": "Auto (recommended)", "off": "Off", "ngram": "N-gram lookup",
                      "draft": "Draft model", "self": "Self (lower-bit copy)"}
KV_CACHE_LABELS = {"f16": "f16 (llama.cpp's default)", "q8_0": "q8_0 (half the memory, exact speculation)"}
#: The modes that draft with the draft model the picker chooses (auto may use it when it is faster).
PICKER_MODES = ("auto", "draft")
#: What Apply says when the core had nothing to do.
NOTHING_CHANGED = "Nothing to change."
#: the Model page's values each model keeps as its own (``assistant.models.ModelProfile``, less what it does not show)
_OWN_FIELDS = ("n_gpu_layers", "n_ctx", "kv_cache", *SAMPLING_FIELDS, "max_tokens", "seed", "system_prompt",
               "speculative", "speculative_max_draft", "draft_model")
#: What the Model page says of whose its values are (``assistant.config.EVERY_MODEL``: the batch size is not here).
#: Nothing said so: threads set while one model answered were expected to stay with it, as its context does.
MODEL_PAGE_NOTE = ("Each model keeps its own values on this page, and choosing it brings them back, but for Threads, "
                   "which is for every model. Changing the model, GPU layers, context, threads or KV cache reloads "
                   "the model in the background; the current model keeps answering until the new one is ready.")
SPECULATION_NOTE = ("A cheap drafter guesses the next tokens and the model checks them all in one step: the same "
                    "answer, sooner. Auto measures as you use it and drafts only while that is faster.")


def _ranged(box: QAbstractSpinBox, low: str, high: str, name: str) -> None:
    """A number typed out of range becomes the nearest one it may be (Qt put the previous value back, without a
    word), and the range is said in the box's tooltip and to screen readers."""
    box.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
    box.setAccessibleName(name)
    box.setToolTip(f"From {low} to {high}")
    box.setAccessibleDescription(box.toolTip())


def _spin(low: int, high: int, name: str, special: str = "", unit: str = "") -> QSpinBox:
    """``unit``: what the number counts, shown after it ("tokens": a bare 4096 beside "Context length")."""
    box = QSpinBox()
    box.setRange(low, high)
    _ranged(box, special or f"{low:,}", f"{high:,}{f' {unit}' if unit else ''}", name)
    if special:
        box.setSpecialValueText(special)
    if unit:
        box.setSuffix(f" {unit}")
    return box


def _dspin(low: float, high: float, step: float, name: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(2)
    _ranged(box, f"{low:g}", f"{high:g}", name)
    return box


#: The sampling values a preset sets (its spin boxes are named after them).


class SettingsDialog(QDialog):
    memoryManagerRequested = Signal()
    applyRequested = Signal()  # Apply: apply the values now and keep the dialog open
    activated = Signal()  # the user came back to it: the model library may have changed meanwhile (a terminal)
    testRemoteRequested = Signal(str, object)  # Settings → Remote "Test connection": part, RemoteSettings

    def __init__(self, settings: Settings, models: list[tuple[str, Path]], presets: dict[str, SamplingParams],
                 current_model: Path, parent: QWidget | None = None, rerank_missing: str = "",
                 gpu_missing: str = "") -> None:
        """``rerank_missing``, ``gpu_missing``: why re-ranking, GPU offload cannot act here ("" when they can):
        their settings are greyed with the reason."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setObjectName("SettingsDialog")
        fit_on_screen(self, 640, 730)
        self.original = settings
        self.presets = presets
        tabs = QTabWidget()
        # every tab whole, the dialog as wide as they need (1,000 px at font size 24): the scroll arrows Qt showed
        # instead were blank boxes in the dark theme and hid "Appearance"; shortened, they read "M…", "S…"
        tabs.setUsesScrollButtons(False)
        tabs.setElideMode(Qt.TextElideMode.ElideNone)
        self.server_page = ServerPage(settings.server)
        self.remote_page = RemotePage(settings.remote)
        self.remote_page.testRequested.connect(self.testRemoteRequested)
        # every page scrolls rather than squeeze its rows: at font size 16 the Remote page cut its privacy
        # warning after "Use only", with no way to read the rest
        for page, name in ((self._model_tab(models, current_model, gpu_missing), "Model"),
                           (self._knowledge_tab(rerank_missing), "Knowledge"), (self._memory_tab(settings), "Memory"),
                           (self.server_page, "Server"), (self.remote_page, "Remote"),
                           (self._appearance_tab(), "Appearance")):
            tabs.addTab(_scrolling(page), name)
        self.tabs = tabs
        self.pages = {name.lower(): tabs.widget(i) for i, name in enumerate(
            tabs.tabText(i) for i in range(tabs.count()))}
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Apply
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.apply_button = buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.apply_button.setText("&Apply")  # Alt+A, Alt+S (KEYS): the keyboard Tabbed round every field to them
        buttons.button(QDialogButtonBox.StandardButton.Save).setText("&Save")
        self.apply_button.setToolTip("Apply the changes now and keep this window open")
        self.apply_button.clicked.connect(self._apply_clicked)
        self.buttons = buttons
        self.applying = QProgressBar()  # busy while the core applies (a Chroma store reopening, a server restart)
        self.applying.setObjectName("ApplyBusy")
        self.applying.setAccessibleName("Applying the settings")
        self.applying.setRange(0, 0)
        self.applying.setMaximumWidth(90)
        self.applying.setTextVisible(False)
        self.applying.hide()
        self.apply_result = QLabel()
        self.apply_result.setObjectName("ApplyResult")
        self.apply_result.setWordWrap(True)
        self.apply_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.apply_result.hide()
        footer = QHBoxLayout()
        footer.addWidget(self.applying)
        footer.addWidget(self.apply_result, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addLayout(footer)
        layout.addWidget(buttons)
        self.show_values(settings)
        #: what the pages showed at opening (or at the last Apply, or when the file last changed): the
        #: controller applies only what was edited since, over the settings in use (``config.edited_over``)
        self.baseline = self.values()
        self.baseline_model = self.model_path()

    # --- tabs ----------------------------------------------------------------------------------------
    def _model_tab(self, models: list[tuple[str, Path]], current: Path, gpu_missing: str) -> QWidget:
        self.model = QComboBox()
        self.model.setAccessibleName("Chat model")
        # a model's long file name made the dialog 1,716 px wide, past a laptop's screen (its list shows it whole)
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model.setMinimumContentsLength(20)
        self.set_models(models, current)
        browse = QPushButton("Browse…")
        browse.setAccessibleName("Choose a GGUF model file")
        browse.clicked.connect(self._browse)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)
        self.gpu_layers = _spin(*RANGES["model.n_gpu_layers"], "GPU layers", "all")
        gpu_row = QHBoxLayout()
        gpu_row.addWidget(self.gpu_layers)
        if gpu_missing:  # greyed with the reason: "all" was taken and the model ran on the CPU all the same
            self.gpu_layers.setEnabled(False)
            self.gpu_layers.setToolTip(gpu_missing[0].upper() + gpu_missing[1:] + ".")
            note = QLabel(f"Not available: {gpu_missing}.")
            note.setObjectName("Muted")
            note.setWordWrap(True)
            gpu_row.addWidget(note, 1)
        self.n_ctx = _spin(*RANGES["model.n_ctx"], "Context length", "model's maximum", "tokens")
        self.n_ctx.setSingleStep(512)
        self.threads = _spin(*RANGES["model.n_threads"], "Threads", "automatic")
        self.threads.setToolTip(f"For every model, not only this one. {self.threads.toolTip()}")
        self.threads.setAccessibleDescription(self.threads.toolTip())
        self.kv_cache = QComboBox()
        self.kv_cache.setAccessibleName("KV cache precision")
        for key, label in KV_CACHE_LABELS.items():
            self.kv_cache.addItem(label, key)
        self.kv_cache.setToolTip("The cache of the conversation so far. q8_0 takes half the memory of f16, so a "
                                 "longer context fits; on the CPU it also makes speculative decoding give exactly "
                                 "the answer plain decoding gives, at any length.")
        self.preset = QComboBox()
        self.preset.setAccessibleName("Sampling preset")
        self.preset.addItems([*self.presets, "Custom"])
        self.preset.currentTextChanged.connect(self._apply_preset)
        self.temperature = _dspin(*RANGES["model.temperature"], 0.05, "Temperature")
        self.top_p = _dspin(*RANGES["model.top_p"], 0.05, "Top-p")
        self.min_p = _dspin(*RANGES["model.min_p"], 0.01, "Min-p")
        self.repeat_penalty = _dspin(*RANGES["model.repeat_penalty"], 0.05, "Repeat penalty")
        self.top_k = _spin(*RANGES["model.top_k"], "Top-k", "off")
        for name in SAMPLING_FIELDS:  # a value edited by hand names the preset it matches, else "Custom"
            getattr(self, name).valueChanged.connect(self._sampling_edited)
        self.max_tokens = _spin(*RANGES["model.max_tokens"], "Maximum answer tokens")
        self.seed = _spin(*RANGES["model.seed"], "Seed", "random")  # the settings file's seed had no place here
        self.seed.setToolTip("The same seed gives the same answer to the same question at any temperature; "
                             "random: another answer each time.")
        self.system_prompt = QPlainTextEdit()
        self.system_prompt.setAccessibleName("System prompt")
        self.system_prompt.setPlaceholderText("None: the model's own default")
        self.system_prompt.setFixedHeight(66)
        self.system_prompt.setTabChangesFocus(True)  # Tab typed a tab into it, and the controls after it were
        # out of the keyboard's reach
        form = QFormLayout()
        form.addRow(field_label("Model", model_row), model_row)
        form.addRow(field_label("GPU layers", gpu_row), gpu_row)
        form.addRow("Context length", self.n_ctx)
        form.addRow("Threads (every model)", self.threads)
        form.addRow("KV cache", self.kv_cache)
        form.addRow("Sampling preset", self.preset)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Min-p", self.min_p)
        form.addRow("Top-k", self.top_k)
        form.addRow("Repeat penalty", self.repeat_penalty)
        form.addRow("Seed", self.seed)
        form.addRow("Max answer tokens", self.max_tokens)
        form.addRow("System prompt", self.system_prompt)
        page = _page(form, MODEL_PAGE_NOTE)
        layout = page.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(2, self._speculation_group())
        return page

    def _speculation_group(self) -> QGroupBox:
        self.speculative = QComboBox()
        self.speculative.setAccessibleName("Speculative decoding")
        for key, label in SPECULATION_LABELS.items():
            self.speculative.addItem(label, key)
        self.draft_model = QComboBox()
        self.draft_model.setAccessibleName("Draft model")
        self.draft_model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.draft_model.setMinimumContentsLength(24)  # long rows must not widen the dialog
        self.draft_model.setItemDelegate(QStyledItemDelegate(self.draft_model))  # honours the greyed rows' colour
        text = self.palette().color(QPalette.ColorRole.Text).name()  # readable on the light selection colour
        self.draft_model.view().setStyleSheet(f"selection-color: {text};")
        self.max_draft = _spin(*RANGES["model.speculative_max_draft"], "Most tokens drafted per step", unit="tokens")
        self.speculation_hint = QLabel()  # when the chosen mode has nothing to draft with: why, and what to do
        self.speculation_hint.setObjectName("Notice")
        self.speculation_hint.setWordWrap(True)
        self.speculation_hint.hide()
        self.draft_candidates: list[Any] | None = None  # None until set_draft_candidates
        self.draft_error = ""  # why no candidate could be listed (set_draft_candidates)
        self.draft_problem: tuple[str, str] | None = None  # the draft model saved, when none can use it, and why
        self._drafts_pending()
        self.model.currentIndexChanged.connect(self._drafts_pending)  # the list is per chat model
        self.speculation_note = QLabel(SPECULATION_NOTE)
        self.speculation_note.setObjectName("Muted")
        self.speculation_note.setWordWrap(True)
        self.speculative.currentIndexChanged.connect(self._speculation_changed)
        self.draft_model.currentIndexChanged.connect(self._speculation_changed)
        form = QFormLayout()
        form.addRow("Mode", self.speculative)
        form.addRow("Draft model", self.draft_model)
        form.addRow(self.speculation_hint)
        form.addRow("Max draft length", self.max_draft)
        form.addRow(self.speculation_note)
        group = QGroupBox("Speculative decoding")
        group.setLayout(form)
        self._speculation_changed()
        return group

    def _knowledge_tab(self, rerank_missing: str) -> QWidget:
        self.chunk_tokens = _spin(*RANGES["knowledge.chunk_tokens"], "Chunk size in tokens")
        self.chunk_overlap = _spin(*RANGES["knowledge.chunk_overlap"], "Chunk overlap in tokens")
        # the chunker overlaps at most half a chunk: a larger number here was reported as applied, and was not
        self.chunk_tokens.valueChanged.connect(lambda size: self.chunk_overlap.setMaximum(size // 2))
        self.chunk_overlap.setMaximum(self.chunk_tokens.value() // 2)
        self.top_k_sources = _spin(*RANGES["knowledge.top_k"], "Number of sources")
        self.rerank = QCheckBox("Rerank sources with a cross-encoder")
        # what it costs, or why it is greyed, under it and wrapping: as part of the box's one-line label it made
        # the dialog at least 921 px wide (1,899 px at font 24, its buttons off a laptop's screen)
        self.rerank_note = QLabel("Slower, more precise.")
        self.rerank_note.setObjectName("Muted")
        self.rerank_note.setWordWrap(True)
        self.rerank_missing = rerank_missing
        if rerank_missing:  # shown greyed with the reason: ticking it changed nothing (it can still be unticked)
            self.rerank_note.setText(f"Not available: {rerank_missing.split(' (')[0]}.")
            self.rerank.setToolTip(rerank_missing[0].upper() + rerank_missing[1:] + ".")
        form = QFormLayout()
        form.addRow("Chunk size (tokens)", self.chunk_tokens)
        form.addRow("Chunk overlap (tokens)", self.chunk_overlap)
        form.addRow("Sources per answer", self.top_k_sources)
        form.addRow(self.rerank)  # across both columns: the labels' column does not widen the dialog
        form.addRow(self.rerank_note)
        return _page(form, "Changes apply at once. New chunk settings re-chunk each collection at its next "
                           "sync (watched collections right away). Watching is set per collection: right-click "
                           "it in the sidebar.")

    def _memory_tab(self, s: Settings) -> QWidget:
        self.memory_enabled = QCheckBox("Remember facts about me between chats")
        manager = QPushButton("Open the memory manager…")
        manager.clicked.connect(self.memoryManagerRequested)
        form = QFormLayout()
        form.addRow(self.memory_enabled)
        form.addRow(manager)
        where = "Memories are stored on this computer."
        if s.remote.llm_url:  # the remote model learns them and reads them: say so where memory is switched on
            where += (" While the remote model answers (Settings → Remote), what you say is sent to it to learn "
                      "from, and the memories an answer uses go with the question.")
        # it said "to send one message without memory", but the chip's choice is for the whole chat
        return _page(form, where + " The composer's memory chip makes a chat incognito: its messages neither use "
                     "nor add memories until you click the chip again or start a new chat.")

    def _appearance_tab(self) -> QWidget:
        self.theme = QComboBox()
        self.theme.setAccessibleName("Theme")
        for key, label in THEME_LABELS.items():
            self.theme.addItem(label, key)
        self.font_size = _spin(*RANGES["appearance.font_size"], "Font size")
        self.tint_drafts = QCheckBox("Tint text from accepted drafts")
        self.tint_drafts.setToolTip("Colour the parts of an answer that speculative decoding drafted and the model "
                                    "accepted (from the next answer on)")
        form = QFormLayout()
        form.addRow("Theme", self.theme)
        form.addRow("Font size (pt)", self.font_size)
        form.addRow("", self.tint_drafts)
        return _page(form, "")

    # --- values --------------------------------------------------------------------------------------
    def show_values(self, s: Settings, model: Path | None = None) -> None:
        """Put ``s`` on the pages (and choose ``model``, if given); :meth:`values` reads them back. At opening,
        after an Apply, and when the settings file changed while the dialog was open."""
        self.original = copy.deepcopy(s)
        self._profile_shown: ModelSettings | None = None
        if model is not None:
            self._select_model(model)
        self.threads.setValue(s.model.n_threads)
        self._show_model(s.model)
        k = s.knowledge
        self.chunk_tokens.setValue(k.chunk_tokens)
        self.chunk_overlap.setValue(k.chunk_overlap)
        self.top_k_sources.setValue(k.top_k)
        self.rerank.setChecked(k.rerank)
        if self.rerank_missing:
            self.rerank.setEnabled(k.rerank)
        self.memory_enabled.setChecked(s.memory.enabled)
        _choose(self.theme, s.appearance.theme)
        self.font_size.setValue(s.appearance.font_size)
        self.tint_drafts.setChecked(s.appearance.tint_drafts)
        self.server_page.show_values(s.server)
        self.remote_page.show_values(s.remote)

    def _show_model(self, m: ModelSettings) -> None:
        """The values the Model page shows that each model keeps as its own (all but the threads)."""
        self.gpu_layers.setValue(m.n_gpu_layers)
        self.n_ctx.setValue(m.n_ctx)
        _choose(self.kv_cache, m.kv_cache)
        for name in SAMPLING_FIELDS:
            getattr(self, name).setValue(getattr(m, name))
        self._sampling_edited()  # the preset these values are (no signal when none of them changed)
        self.max_tokens.setValue(m.max_tokens)
        self.seed.setValue(m.seed)
        self.system_prompt.setPlainText(m.system_prompt)
        _choose(self.speculative, m.speculative)
        self.max_draft.setValue(m.speculative_max_draft)
        self.original.model.draft_model = m.draft_model  # the picker shows it (see _select_draft)
        if self.draft_candidates is None:
            self._drafts_pending()
        else:
            self._select_draft()

    def shown_profile(self) -> ModelSettings:
        """The model values shown before any edit here: the settings in use, or the profile of the model chosen
        (what :meth:`show_model_profile` tells edits from, as it was when another model was chosen)."""
        return copy.deepcopy(self._profile_shown or self.baseline.model)

    def show_model_profile(self, model: Path, profile: ModelSettings, shown: ModelSettings) -> None:
        """``model``'s own settings (its profile: ``Assistant.model_settings``), once it is chosen here, but for
        the values edited since ``shown`` (:meth:`shown_profile` when it was chosen), which stay edits and go
        with the model chosen. Choosing another model went on showing the old one's context, sampling and answer
        length, and Apply then loaded the new one with its own: what was seen was not what was applied."""
        if model != self.model_path():
            return  # another model was chosen meanwhile
        form = self.values().model
        merged = copy.deepcopy(profile)
        for name in _OWN_FIELDS:
            if getattr(form, name) != getattr(shown, name):  # edited here: kept
                setattr(merged, name, getattr(form, name))
        self._show_model(merged)
        self._profile_shown = copy.deepcopy(profile)

    def rebase(self, s: Settings, model: Path | None = None) -> None:
        """The settings in use became ``s`` (an Apply, or the file changed): show them, except the values
        edited here and not yet applied, which stay as they are and stay edits."""
        edited, chosen, model_edited = self.values(), self.model_path(), self.edited_model()
        profile_shown = self._profile_shown if model_edited else None
        shown = edited_over(s, self.baseline, edited)
        if profile_shown is not None:  # another model chosen, its own values shown: they stay, with the edits
            shown.model = edited.model
        self.show_values(s, model)  # what is in use: the new baseline
        self.baseline, self.baseline_model = self.values(), self.model_path()
        self.show_values(shown, chosen if model_edited else None)
        self._profile_shown = profile_shown  # what tells the edits from that model's own values

    def edited_model(self) -> bool:
        """Another model was chosen here since the baseline."""
        return self.model_path() != self.baseline_model

    # --- behaviour -----------------------------------------------------------------------------------
    def show_page(self, name: str) -> None:
        """Bring a page forward by its tab's name ("server", "remote", ...)."""
        if name.lower() in self.pages:
            self.tabs.setCurrentWidget(self.pages[name.lower()])

    def _apply_clicked(self) -> None:
        self.set_applying()
        self.applyRequested.emit()

    def set_applying(self) -> None:
        """The core is applying the values: a busy bar, and Apply waits until it is done."""
        self.apply_button.setEnabled(False)
        self.applying.show()
        self.apply_result.setText("Applying…")
        set_state(self.apply_result, "busy")
        self.apply_result.show()

    def show_applied(self, ok: bool, text: str) -> None:
        """What applying did (``ok``) or why it failed (in red), under the pages."""
        self.apply_button.setEnabled(True)
        self.applying.hide()
        self.apply_result.setText(text)
        set_state(self.apply_result, "ok" if ok else "error")
        self.apply_result.show()

    def add_applied(self, ok: bool, text: str) -> None:
        """Something the window did after the core applied the values (the API server started), added to what
        :meth:`show_applied` said; red when it failed (and when something before it failed)."""
        shown = self.apply_result.text() if self.apply_result.isVisible() else ""
        if text.partition(": ")[2] and text.partition(": ")[2] in shown:
            return  # the core said it already ("API server stopped: port 8181 is already in use")
        shown = "" if shown in (NOTHING_CHANGED, "Applying…") else shown
        self.apply_result.setText(f"{shown} {text}.".strip())
        failed = not ok or (bool(shown) and self.apply_result.property("state") == "error")
        set_state(self.apply_result, "error" if failed else "ok")
        self.apply_result.show()

    def set_models(self, models: list[tuple[str, Path]], chosen: Path | None = None) -> None:
        """List ``models`` (shown name, path), keeping the chosen one: the dialog may open before the library
        was first read, and then listed only the configured model, by its file name."""
        chosen = chosen or self.model_path()
        self.listed = {str(path) for _, path in models}  # (the library's: not a file browsed for)
        self.model.blockSignals(True)  # the same model stays chosen: nothing to re-list
        self.model.clear()
        labels = told_apart([name for name, _ in models], [path for _, path in models])
        for label, (name, path) in zip(labels, models, strict=True):
            self.model.addItem(f"{label}  ({path.stat().st_size / 1e6:.0f} MB)", str(path))
            self.model.setItemData(self.model.count() - 1, f"{name}\n{path}", Qt.ItemDataRole.ToolTipRole)
        self._select_model(chosen)
        self.model.blockSignals(False)

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

    def chosen_from_list(self) -> bool:
        """Whether the model chosen is one the library listed (not a file browsed for, which joins it)."""
        return str(self.model_path()) in self.listed

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.activated.emit()

    def _apply_preset(self, name: str) -> None:
        """Every value of the preset: answers read the values, not the preset's name (choosing Greedy left
        the repeat penalty at 1.1, where Greedy has 1.0)."""
        if name in self.presets:
            self.preset.blockSignals(True)
            for field in SAMPLING_FIELDS:
                getattr(self, field).setValue(getattr(self.presets[name], field))
            self.preset.blockSignals(False)
            self.preset.setCurrentText(name)

    def _sampling_edited(self) -> None:
        """The preset whose values these are, or "Custom" (an edited temperature kept the label "Greedy")."""
        name = preset_of({field: getattr(self, field).value() for field in SAMPLING_FIELDS}, self.presets)
        self.preset.blockSignals(True)
        self.preset.setCurrentText(name)
        self.preset.blockSignals(False)

    def _speculation_changed(self) -> None:
        """The picker is for the modes that use a draft model, once the candidates are known; "draft" and
        "self" without a model to draft with say why (saving them would fail)."""
        mode, candidates = self.speculative.currentData(), self.draft_candidates
        self.draft_model.setEnabled(candidates is not None and mode in PICKER_MODES)
        self.max_draft.setEnabled(mode != "off")
        hint = ""
        if candidates is not None and mode == "self":
            own = next((c for c in candidates if c.kind == "self"), None)
            if own is None or not _usable(own):
                hint = f"No self-draft for this model: {own.reason if own else 'none can be made'}"
        elif candidates is not None and mode == "draft" and not any(_usable(c) for c in candidates):
            hint = "No model here can draft for this one yet: choose Auto or N-gram lookup, or download the " \
                   "suggested draft model first."
        elif (candidates is not None and mode in PICKER_MODES and self.draft_problem is not None
              and self.draft_model.currentData() == self.draft_problem[0]):
            saved, why = self.draft_problem
            hint = (f"The draft model saved cannot be used ({_short(why, Path(saved).stem)}): answers draft "
                    "without it until you choose another, or Automatic.")
        self.speculation_hint.setText(hint)
        self.speculation_hint.setVisible(bool(hint))

    def _drafts_pending(self) -> None:
        """Until the candidates for the chosen model arrive: the picker waits (and saving keeps the setting)."""
        self.draft_candidates = None
        self.draft_model.clear()
        self.draft_model.addItem("Looking for draft models…", self.original.model.draft_model)
        self._speculation_changed()

    def set_draft_candidates(self, candidates: Sequence[Any], error: str = "") -> None:
        """Fill the picker from ``assistant.models.draft_candidates()`` (``DraftCandidate``s for the chosen
        model): the usable ones first (the suggested one marked), then the catalog's suggestion to download
        first, then the ones that cannot draft, greyed, each with its reason (also its tooltip). "Automatic"
        (an empty setting) lets the core choose: the suggested model, else the smallest compatible one."""
        self.draft_candidates, self.draft_error = list(candidates), error
        box = self.draft_model
        box.clear()
        usable = [c for c in candidates if _usable(c) and c.kind != "self"]
        auto = (min(usable, key=lambda c: (not c.suggested, c.size)) if usable
                else next((c for c in candidates if _usable(c)), None))  # else the self-draft, when made
        # identical copies (one file in two folders) read alike: each says where it is
        shown = dict(zip(candidates, told_apart([c.shown for c in candidates], [Path(c.path) for c in candidates]),
                         strict=True))
        box.addItem(f"Automatic: {shown[auto]}" if auto else "Automatic (no draft model yet)", "")
        box.setItemData(0, f"Could not list the draft models: {error}" if error else
                        "Let Hearth choose: the suggested draft model, else the smallest compatible one",
                        Qt.ItemDataRole.ToolTipRole)
        model = box.model()
        assert isinstance(model, QStandardItemModel)
        greyed = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        for candidate in sorted(candidates, key=lambda c: 0 if _usable(c) else 1 if c.kind == "catalog" else 2):
            size = f"  ({candidate.size / 1e6:,.0f} MB)" if candidate.size else ""
            mark = " (suggested)" if candidate.suggested else ""
            if candidate.kind == "catalog":
                text = f"{shown[candidate]}{mark}{size}: download first"
            elif _usable(candidate):
                text = f"{shown[candidate]}{mark}{size}"
            else:
                why = _short(candidate.reason or "cannot draft for this model", candidate.name)
                text = f"{shown[candidate]}: {why}"
            tip = str(candidate.path) if _usable(candidate) else candidate.reason or "cannot draft for this model"
            box.addItem(text, str(candidate.path) if _usable(candidate) else "")
            row = box.count() - 1
            box.setItemData(row, tip, Qt.ItemDataRole.ToolTipRole)
            if not _usable(candidate):
                item = model.item(row)
                item.setEnabled(False)
                item.setForeground(greyed)  # the popup's style sheet does not grey disabled rows by itself
                item.setData(tip, Qt.ItemDataRole.AccessibleDescriptionRole)
        self._select_draft()
        if hasattr(self, "baseline") and not self.edited_model():  # its form of the setting is not an edit
            self.baseline.model.draft_model = self.draft_model.currentData() or ""

    def _select_draft(self) -> None:
        """Choose the picker's row for the setting shown (``original``)."""
        box = self.draft_model
        current = self.original.model.draft_model.strip()
        index, why = self._find_draft(current) if current else (0, "")
        self.draft_problem = None
        if index is None:  # a setting no candidate can use (a moved file, one that cannot draft for this model):
            # kept rather than lost, and said; it read "Automatic: …" while answers drafted with no model
            if self.draft_error:  # none could be listed (the chat model cannot be read): it called the bundled
                # model, which was there, "(not found)"
                state, why = "cannot be checked now", f"the draft models could not be listed: {self.draft_error}"
            else:
                state = "not found" if why is None else "cannot be used"
            box.addItem(f"{current} ({state})", current)
            index = box.count() - 1
            self.draft_problem = (current, why or "it is not in the model library")
            box.setItemData(index, self.draft_problem[1], Qt.ItemDataRole.ToolTipRole)
        box.setCurrentIndex(index)
        self._speculation_changed()

    def _find_draft(self, value: str) -> tuple[int | None, str | None]:
        """The picker's row for a ``draft_model`` setting (a path, a file name or a model name), or None with
        why it cannot draft for this model (None: it names none of the candidates)."""
        for candidate in self.draft_candidates or []:
            path = Path(candidate.path) if candidate.path else None
            names = {candidate.name} | ({str(path), path.name, path.stem} if path is not None else set())
            if value in names:
                if _usable(candidate):
                    return max(self.draft_model.findData(str(path)), 0), ""
                return None, candidate.reason or "it cannot draft for this model"
        return None, None

    def model_path(self) -> Path:
        return Path(self.model.currentData())

    def values(self) -> Settings:
        """The edited settings (a new object; the model path is left for the controller to switch)."""
        s = copy.deepcopy(self.original)
        m = s.model
        m.n_gpu_layers, m.n_ctx, m.n_threads = self.gpu_layers.value(), self.n_ctx.value(), self.threads.value()
        m.kv_cache = self.kv_cache.currentData()
        m.preset = self.preset.currentText()
        m.temperature, m.top_p, m.min_p = self.temperature.value(), self.top_p.value(), self.min_p.value()
        m.top_k, m.repeat_penalty = self.top_k.value(), self.repeat_penalty.value()
        m.max_tokens, m.seed = self.max_tokens.value(), self.seed.value()
        m.system_prompt = self.system_prompt.toPlainText().strip()  # empty: none (it silently kept the old one)
        m.speculative, m.speculative_max_draft = self.speculative.currentData(), self.max_draft.value()
        if self.draft_candidates is not None:  # else the picker never filled: keep the setting as it was
            m.draft_model = self.draft_model.currentData() or ""
        k = s.knowledge
        k.chunk_tokens, k.chunk_overlap = self.chunk_tokens.value(), self.chunk_overlap.value()
        k.top_k, k.rerank = self.top_k_sources.value(), self.rerank.isChecked()
        s.memory.enabled = self.memory_enabled.isChecked()
        s.appearance.theme = self.theme.currentData()
        s.appearance.font_size = self.font_size.value()
        s.appearance.tint_drafts = self.tint_drafts.isChecked()
        self.server_page.values(s.server)
        self.remote_page.values(s.remote)
        return s


def _choose(box: QComboBox, key: str) -> None:
    """Choose ``box``'s row whose data is ``key`` (the first row when none is)."""
    box.setCurrentIndex(max(0, box.findData(key)))


def _short(reason: str, name: str, limit: int = 64) -> str:
    """The gist of why ``name`` cannot draft, for its picker row: the first clause, without figures in
    parentheses or the model's own name ("vocabulary differs from SmolLM2 135M Instruct's"); the row's tooltip
    has the whole reason."""
    # figures first: their own commas cut "Smol (Q8_0, 138 MiB) is not smaller than..." to "Smol: (Q8_0"
    gist = re.split(r": |\. |, ", re.sub(r" \([^)]*\)", "", reason), maxsplit=1)[0].rstrip(".")
    for prefix in (f"{name}'s ", f"{name} "):
        if gist.startswith(prefix) and len(gist) > len(prefix):
            gist = gist[len(prefix):]
            break
    return gist if len(gist) <= limit else gist[: limit - 1].rstrip() + "…"


#: The keys the dialog takes, for the window's list of shortcuts (Apply's and Save's are set in SettingsDialog)
KEYS = (("Alt+A, Alt+S", "In Settings: Apply, Save"),
        ("Ctrl+Tab, Ctrl+Shift+Tab", "In Settings: the next or previous page"))


def _usable(candidate: Any) -> bool:
    """A draft candidate the picker lets the user choose: compatible, and on this computer."""
    return bool(candidate.compatible and candidate.path and candidate.kind != "catalog")


class _FormScroll(QScrollArea):
    """Scrolls up and down only, and is never narrower than the form it holds (with the scroll bar): a scroll
    area's own minimum knows nothing of its widget, so at font size 24 the dialog at its narrowest cut the Model
    page at the right ("Brows" of Browse…, the fields' ends)."""

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        inner = self.widget()
        if inner is None:
            return hint
        width = inner.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()
        return QSize(max(hint.width(), width), hint.height())


def _scrolling(page: QWidget) -> _FormScroll:
    """``page`` in a scroll area: a page taller than the dialog scrolls rather than stretch the dialog past small
    screens or squeeze its rows."""
    scroll = _FormScroll()
    scroll.setObjectName("SettingsScroll")
    scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a Tab stop with no name; a field Tab reaches is scrolled to
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(page)
    return scroll


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
