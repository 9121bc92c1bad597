"""The main window: composes the views, starts the worker lanes, and wires the controllers to the core.

Start-up order is what makes the window appear fast: the window is built and shown first (no core work),
then the "hearth-model" lane opens the assistant (imports the engine, opens the history) and loads the
model, while the window already paints and shows "Loading…" in the status bar.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Imported whole here, on the main thread before any worker runs. PySide6's import hook asks every module
# imported after it for ``__wrapped__``; on a pydantic module that runs pydantic's module ``__getattr__``, which
# imports this module. When Chroma's first import on a worker thread was itself importing it, the lookup found it
# half made and the window started with "cannot import name 'import_string' from partially initialized module"
# (the traceback runs through shibokensupport's feature_imported; a sweep saw it at 2 of 2 start-ups of one data
# folder, not reproduced since). Complete, the lookup's import is a no-op. About 50 ms at start.
import pydantic._internal._validators  # noqa: F401
from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDragLeaveEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QMainWindow, QSizePolicy, QSplitter, QVBoxLayout, QWidget

from app import theme as themes
from app.controllers.chat import ChatController
from app.controllers.conversations import ConversationsController, conversation_model
from app.controllers.doctor import DoctorController
from app.controllers.knowledge import KnowledgeController, collection_model
from app.controllers.memory import MemoryController, learning_text, remembered_text
from app.controllers.model import ModelController
from app.controllers.models import ModelsController
from app.controllers.remote import RemoteController
from app.controllers.server import ServerController
from app.icons import app_icon
from app.views.chat_view import KEYS as CONVERSATION_KEYS
from app.views.chat_view import ChatView, ErrorBanner
from app.views.composer import KEYS as COMPOSER_KEYS
from app.views.composer import Composer
from app.views.overlay import DropOverlay
from app.views.settings_dialog import KEYS as SETTINGS_KEYS
from app.views.settings_dialog import SettingsDialog
from app.views.shortcuts_dialog import ShortcutsDialog
from app.views.sidebar import KEYS as SIDEBAR_KEYS
from app.views.sidebar import Sidebar
from app.views.source_panel import SourcePanel
from app.views.status_bar import ElidedLabel, StatusBar
from app.views.welcome import Setup
from app.views.widgets import fit_on_screen, rescale_icons
from app.workers import Job, Workers
from assistant.config import Settings, load_settings, window_file
from assistant.events import BackgroundEvent, ChatsChanged, CollectionSynced, MemoriesLearned, SettingsReloaded

log = logging.getLogger(__name__)
#: How long the status bar says what memory learning just stored ("Remembered: …").
REMEMBERED_MS = 12_000


def open_assistant() -> Any:
    """Runs on the model lane: importing the engine and opening the history stay off the GUI thread. The
    window is a long-lived process: watched folders are watched and queued memory learning resumes."""
    from assistant.core import Assistant

    return Assistant.open(background=True)


class BackgroundBridge(QObject):
    """Carries the core's background events (sent from its threads) to the GUI thread as a queued signal."""

    event = Signal(object)


class Controllers:
    """The controllers of one opened assistant, created together once it exists."""

    def __init__(self, window: MainWindow, assistant: Any) -> None:
        w, workers = window, window.workers
        self.chat = ChatController(assistant, workers, w.chat_view, w.composer, w.source_panel, w.status, w.banner)
        self.conversations = ConversationsController(assistant, workers, w.sidebar, w.conversations_model, w.status,
                                                     w.banner.show_message)
        self.knowledge = KnowledgeController(assistant, workers, w, w.collections_model, w.sidebar.indexing,
                                             w.composer, w.status)
        self.model = ModelController(assistant, workers, w, w.status, w.composer)
        self.memory = MemoryController(assistant, workers, w)
        self.doctor = DoctorController(assistant, workers, w.banner)
        self.models = ModelsController(assistant, workers, w, self.model)
        self.server = ServerController(assistant, workers, w.status)
        self.remote = RemoteController(assistant, workers)


class MainWindow(QMainWindow):
    ready = Signal(bool)  # the assistant is open and the first model load ended (True: a model is loaded)

    def __init__(self, opener: Callable[[], Any] = open_assistant, theme: themes.Theme | None = None) -> None:
        super().__init__()
        self.theme = theme or themes.resolve("system", Settings().appearance.font_size)
        self.assistant: Any = None
        self._opened: Any = None  # set on the model lane the moment the assistant exists (see closeEvent)
        self._closed = False
        self.ctl: Controllers | None = None
        self._pending_paths: list[Path] = []  # passed before the assistant was open (see open_paths)
        self.setWindowTitle("Hearth")
        self.setWindowIcon(app_icon())
        self.resize(1280, 820)
        self.place_file: Path | None = None  # where the size and place are kept between runs (see restore_place)
        self.setAcceptDrops(True)

        self.banner = ErrorBanner()
        self.workers = Workers(on_error=self.banner.show_message)
        self.conversations_model = conversation_model()
        self.collections_model = collection_model()
        self.sidebar = Sidebar(self.conversations_model, self.collections_model)
        self.chat_view = ChatView(self.theme)
        self.composer = Composer()
        self.composer.set_ready(False)
        self.source_panel = SourcePanel(self.theme)
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self.learning = ElidedLabel()  # "Remembered: …" of three facts made the window 1,694 px wide
        self.learning.setObjectName("Muted")
        self.learning.setAccessibleName("Memory learning status")
        # the room the others leave, no more: a long note ("Remembered 2 things: …") took the model's, the device's,
        # the speed's and the context's, all cut; the facts are in its tooltip
        self.learning.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status.addPermanentWidget(self.learning, 1)
        self._remembered = ""  # what learning stored last, said for REMEMBERED_MS (see _background)
        self._file_notice = ""  # what the banner says of the settings file (see settings_file_notice)
        self._remembered_timer = QTimer(self)
        self._remembered_timer.setSingleShot(True)
        self._remembered_timer.timeout.connect(self._forget_remembered)
        self.bridge = BackgroundBridge()
        self.bridge.event.connect(self._background)
        self._unsubscribe: Callable[[], None] | None = None
        self.overlay = DropOverlay(self)

        centre = QWidget()
        column = QVBoxLayout(centre)
        column.setContentsMargins(0, 0, 0, 12)
        column.addWidget(self.chat_view, 1)
        for widget in (self.banner, self.composer):
            row = QVBoxLayout()
            row.setContentsMargins(24, 0, 24, 0)
            row.addWidget(widget)
            column.addLayout(row)
        splitter = QSplitter()
        splitter.setHandleWidth(1)
        splitter.addWidget(self.sidebar)
        splitter.addWidget(centre)
        splitter.addWidget(self.source_panel)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([max(290, self.sidebar.sizeHint().width()), 700, 330])  # its words at this font
        splitter.setCollapsible(1, False)
        self.setCentralWidget(splitter)
        self.source_panel.installEventFilter(self)
        self._sidebar_folded = False  # the sidebar is hidden while the source panel needs its room
        self._shortcuts()
        self.workers.model.submit(Job(lambda: self._open(opener), on_done=self.attach, on_failed=self._open_failed))
        self.composer.edit.setFocus()

    # --- start-up ------------------------------------------------------------------------------------
    def _open(self, opener: Callable[[], Any]) -> Any:
        self._opened = opener()
        return self._opened

    def attach(self, assistant: Any) -> None:
        """Wire the controllers to the freshly opened assistant, then load the model in the background."""
        if self._closed:  # closed while it opened: closeEvent closed the assistant already
            return
        self.assistant = assistant
        self.ctl = ctl = Controllers(self, assistant)
        self.chat_view.welcome.getModelsRequested.connect(ctl.models.open)
        self.settings_file_notice((assistant.settings_warning or "",))
        if assistant.history_warning:
            self.banner.show_message(assistant.history_warning)
        ctl.chat.conversationChanged.connect(ctl.conversations.set_current)
        ctl.chat.historyChanged.connect(ctl.conversations.refresh)
        ctl.chat.collectionsChanged.connect(ctl.knowledge.refresh)
        ctl.conversations.openRequested.connect(ctl.chat.open_conversation)
        ctl.conversations.deleted.connect(ctl.chat.chat_deleted)
        ctl.chat.answeringElsewhere.connect(ctl.conversations.set_answering)
        self.sidebar.newChatRequested.connect(ctl.chat.new_chat)
        self.sidebar.searchOpened.connect(self.composer.edit.setFocus)
        self.sidebar.addFolderRequested.connect(ctl.knowledge.choose_folder)
        self.sidebar.removeCollectionRequested.connect(ctl.knowledge.remove)
        self.sidebar.renameCollectionRequested.connect(ctl.knowledge.rename)
        self.sidebar.collectionErrorsRequested.connect(ctl.knowledge.show_file_errors)
        self.sidebar.settingsRequested.connect(self.open_settings)
        self.sidebar.memoryRequested.connect(ctl.memory.open)
        self.sidebar.modelsRequested.connect(ctl.models.open)
        self.sidebar.watchToggled.connect(ctl.knowledge.set_watch)
        self._unsubscribe = assistant.subscribe(self.bridge.event.emit)
        ctl.model.settingsApplied.connect(self.apply_appearance)
        ctl.model.settingsApplied.connect(lambda s: self.composer.set_memory_available(s.memory.enabled))
        self.composer.set_memory_available(assistant.settings.memory.enabled)
        ctl.model.loadFinished.connect(self.ready)
        ctl.model.loadFinished.connect(ctl.doctor.check_once)
        ctl.doctor.repaired.connect(lambda: ctl.knowledge.refresh())  # the rows still said "needs repair"
        ctl.model.applied.connect(ctl.server.sync)  # the switch starts or stops the API server at once
        ctl.model.applied.connect(self._settings_mended)
        for changed in (ctl.model.applied, ctl.model.loadFinished, ctl.model.recorded):
            changed.connect(self.describe_setup)
        self.describe_setup()
        self.status.serverRequested.connect(lambda: self.open_settings("server"))
        ctl.conversations.refresh()
        ctl.knowledge.refresh()
        pending, self._pending_paths = self._pending_paths, []
        self.open_paths(pending)  # paths given at launch, before the assistant was open
        ctl.server.start_if_enabled()  # before the model loads (same lane): it sizes the parallel answers
        ctl.model.load()

    def describe_setup(self, *_: object) -> None:
        """The welcome panel says where answers come from and where the user's text goes, as set now."""
        if self.ctl is None or self.assistant is None:  # not open yet, or closed
            return
        a = self.assistant
        # the name people know ("Gemma 3 270M", as the status bar says) once the model is loaded
        name = a.engine.info.name if a.engine.loaded and not a.remote_llm_url else a.model_path().name
        unloaded = "" if a.engine.loaded or a.remote_llm_url or self.ctl.model.loading else self.ctl.model.failure
        self.chat_view.welcome.describe(Setup(name, a.model_is_bundled, a.remote_llm_url,
                                              a.settings.remote.chroma_url, not a.model_path().exists(), unloaded))

    def _background(self, event: BackgroundEvent) -> None:
        """The core's background work changed: memory learning in the status bar and the memory manager,
        re-syncs of watched collections in the indexing panel and the collection list, a settings file
        changed on disk, and chats changed by another process (listed and shown without waiting for the window
        to be activated again)."""
        if self.ctl is None:
            return
        if isinstance(event, ChatsChanged):
            self.ctl.conversations.refresh()
            self.ctl.chat.catch_up()
            return
        if isinstance(event, CollectionSynced):
            self.ctl.knowledge.synced(event)
            return
        if isinstance(event, SettingsReloaded):
            self.ctl.model.file_changed(event)
            self.settings_file_notice(event.problems)
            return
        if isinstance(event, MemoriesLearned):  # said for a while, over the idle status that follows at once
            self._remembered = remembered_text(event)
            self.learning.setToolTip("\n".join((*event.facts, *event.withheld)))
            self._remembered_timer.start(REMEMBERED_MS)  # the window's own: it dies with it
            event = self.ctl.memory.status
        text = learning_text(event) or self._remembered
        self.learning.setText(text)
        self.learning.setVisible(bool(text))
        self.ctl.memory.background(event)
        self.ctl.knowledge.background(event)

    def settings_file_notice(self, problems: Sequence[str]) -> None:
        """What the core said is wrong with the settings file (at start, or when it changed on disk), in the
        banner until the file reads well again (changed on disk, or saved whole by the window's own Apply: the
        banner stayed until the file next changed on disk): a typo in a hand edit was a message box, gone when
        clicked away while the settings in use stayed the old ones, and still there after the typo was mended."""
        if self._file_notice:
            self.banner.withdraw(self._file_notice)
        self._file_notice = "\n".join(p for p in problems if p)
        if self._file_notice:
            self.banner.show_message(self._file_notice, lasting=True)

    def _settings_mended(self, applied: Any) -> None:
        """The settings file reads well again, after the window's own Apply (``SettingsApplied``) or a change on
        disk (``SettingsReloaded``): what the banner said of it goes. After an Apply it stayed until the file next
        changed on disk."""
        if applied.mended and self.ctl is not None:
            self.settings_file_notice(())
            self.ctl.doctor.settings_mended()

    def _forget_remembered(self) -> None:
        if self.ctl is not None:
            self._remembered = ""
            self.learning.setToolTip("")
            self._background(self.ctl.memory.status)

    def _open_failed(self, message: str) -> None:
        self.status.set_model("Hearth could not start")
        self.banner.show_message(message)
        self.ready.emit(False)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The source panel opening in a window too narrow for it and the sidebar folds the sidebar away until it
        closes: the window grew instead (to 895 px from 800, past a small screen's edge)."""
        if watched is self.source_panel and event.type() == QEvent.Type.Show:
            splitter = self.centralWidget()
            need = sum(splitter.widget(i).minimumSizeHint().width() for i in (0, 1)) + splitter.handleWidth() * 2 \
                + max(self.source_panel.minimumWidth(), self.source_panel.minimumSizeHint().width())
            if self.sidebar.isVisible() and splitter.width() < need:
                self._sidebar_folded = True
                self.sidebar.hide()
        elif watched is self.source_panel and event.type() == QEvent.Type.Hide and self._sidebar_folded:
            self._sidebar_folded = False
            self.sidebar.show()
        return False

    def _shortcuts(self) -> None:
        """The window's keys, each with what it does: the same table makes the shortcuts and the list F1 shows
        (with the keys the sidebar and the message box take), so no key goes unsaid."""
        bindings: list[tuple[tuple[str, ...], str, Callable[[], None]]] = [
            (("Ctrl+N",), "New chat", lambda: self.ctl and self.ctl.chat.new_chat()),
            (("Ctrl+L",), "Write in the message box", self.focus_composer),
            (("Ctrl+K", "Ctrl+F"), "Search chats", self.focus_search),
            (("Ctrl+PgDown",), "Open the next chat in the list", lambda: self.sidebar.step_conversation(1)),
            (("Ctrl+PgUp",), "Open the previous chat in the list", lambda: self.sidebar.step_conversation(-1)),
            (("F6",), "Next part of the window: chats, conversation, message box", lambda: self.cycle_focus(1)),
            (("Shift+F6",), "Previous part of the window", lambda: self.cycle_focus(-1)),
            (("Esc",), "Stop the answer; else leave an edit, close the source panel, or clear the search",
             self._escape),
            (("Ctrl+Shift+C",), "Copy the last answer", lambda: self.ctl and self.ctl.chat.copy_last_answer()),
            (("Ctrl+,",), "Settings", self.open_settings),
            (("F1", "Ctrl+/"), "This list of keyboard shortcuts", self.show_shortcuts),
            (("Ctrl+Q",), "Quit Hearth", self.close),
        ]
        self.shortcut_rows = [(", ".join(keys), does) for keys, does, _ in bindings] + list(COMPOSER_KEYS) + \
            list(SIDEBAR_KEYS) + list(CONVERSATION_KEYS) + list(SETTINGS_KEYS)
        for keys, _does, slot in bindings:
            for key in keys:
                shortcut = QShortcut(QKeySequence(key), self)
                shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
                shortcut.activated.connect(slot)
        # a chat opened from the list with Enter: the next thing typed is a message (7 Tabs away before)
        self.sidebar.conversations.activated.connect(lambda _index: self.focus_composer())

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self.shortcut_rows, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def focus_search(self) -> None:
        self.sidebar.search.setFocus()
        self.sidebar.search.selectAll()

    def focus_composer(self) -> None:
        self.composer.edit.setFocus()

    def cycle_focus(self, step: int) -> None:
        """Move the focus to the next (``step`` 1) or previous part of the window: the list of chats, the
        conversation, the message box (a 20-turn chat put 140 Tab stops between the box and the sidebar)."""
        parts = [p for p in (self.sidebar.conversations if self.sidebar.conversations.model().rowCount()
                             else self.sidebar.search, self.chat_view, self.composer.edit) if p.isVisible()]
        focus = QApplication.focusWidget()
        here = next((i for i, part in enumerate(parts) if focus is not None and (focus is part or
                                                                                  part.isAncestorOf(focus))), -1)
        parts[(here + step) % len(parts) if here >= 0 else 0].setFocus(Qt.FocusReason.OtherFocusReason)

    def _escape(self) -> None:
        """Esc in the search box with text clears it (the window's Esc took the key, and the text stayed);
        anywhere else it undoes the nearest thing (see ChatController.escape)."""
        if self.sidebar.search.hasFocus() and self.sidebar.search.text():
            self.sidebar.search.clear()
        elif self.ctl:
            self.ctl.chat.escape()

    def open_settings(self, page: str = "") -> SettingsDialog | None:
        """Settings (``page``: the tab to show, e.g. "server"), wired to the memory manager, the API server's
        live status and the remote parts' connection tests."""
        if self.ctl is None:
            return None
        dialog = self.ctl.model.open_settings()
        dialog.memoryManagerRequested.connect(self.ctl.memory.open)
        self.ctl.server.attach_dialog(dialog)
        self.ctl.remote.attach_dialog(dialog)
        if page:
            dialog.show_page(page)
        return dialog

    def apply_appearance(self, settings: Settings) -> None:
        """Restyle the app and re-render messages so rich text and icons match the new theme."""
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        if themes.resolve(settings.appearance.theme, settings.appearance.font_size) == self.theme:
            return  # every Apply restyled the whole app (0.3 s and more) though the look had not changed
        self.theme = themes.apply(app, settings.appearance.theme, settings.appearance.font_size)
        rescale_icons()
        QTimer.singleShot(0, self._fit_sidebar)  # once the new font's sizes are known
        self.chat_view.theme = self.source_panel.theme = self.theme
        for message in self.chat_view.messages:
            message.theme = self.theme
            message.set_text(message.text)

    def _fit_sidebar(self) -> None:
        """The sidebar as wide as its buttons' words at this font, up to 40% of the window: at font size 20 it kept
        the 290 px it had at 11, its Settings, Memory, Models and Add buttons icons without words at any width."""
        splitter = self.centralWidget()
        assert isinstance(splitter, QSplitter)
        sizes = splitter.sizes()
        want = min(self.sidebar.sizeHint().width(), int(self.width() * 0.4))
        if self.sidebar.isVisible() and sizes[0] < want:
            sizes[1] -= want - sizes[0]
            sizes[0] = want
            splitter.setSizes(sizes)

    # --- paths from the command line or a second launch: indexed as if dropped -------------------------
    def open_paths(self, paths: list[Path]) -> None:
        """Index ``paths`` as a drop would (the collection dialog first); before the assistant is open they
        wait for it."""
        if not paths:
            return
        if self.ctl is None:
            self._pending_paths += paths
        else:
            self.ctl.knowledge.add(paths)

    def bring_forward(self, paths: list[Path]) -> None:
        """Another ``hearth`` was launched: show this window in front, then take its paths."""
        log.info("another launch: window brought forward, %d path(s) to index", len(paths))
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()
        self.open_paths(paths)

    # --- drag and drop: folders and files anywhere on the window --------------------------------------
    @staticmethod
    def _local_paths(event: QDragEnterEvent | QDropEvent) -> list[Path]:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        return [Path(u.toLocalFile()) for u in urls if u.isLocalFile()]

    def changeEvent(self, event: QEvent) -> None:
        """Coming back to the window reads the chats, the collections, the models and the open chat again: they
        were read at start and after the window's own changes only, so a folder indexed with `hearth index` in a
        terminal could not be answered from, and a chat asked with `hearth ask` was not listed, until Hearth was
        started again."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow() and self.ctl is not None:
            self.ctl.conversations.refresh()
            self.ctl.knowledge.refresh()
            self.ctl.model.refresh_library(if_changed=True)  # `hearth models add/remove` in a terminal
            self.ctl.chat.catch_up()  # the open chat went on in a terminal: Regenerate deleted its newer turns

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._local_paths(event):
            event.acceptProposedAction()
            self.overlay.cover()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.overlay.hide()

    def dropEvent(self, event: QDropEvent) -> None:
        self.overlay.hide()
        paths = self._local_paths(event)
        if paths and self.ctl is not None:
            event.acceptProposedAction()
            self.ctl.knowledge.add(paths)

    # --- shutdown --------------------------------------------------------------------------------------
    def restore_place(self, path: Path) -> None:
        """Open where the window was closed last time, at its size (it opened at 1280 × 820 each time), and keep
        them in ``path`` when it closes; the first time, as large as that where the screen has room for it (on a
        1280 × 800 screen its status bar, with the model's loading progress, was below the screen's edge)."""
        self.place_file = path
        saved = QSettings(str(path), QSettings.Format.IniFormat).value("geometry")
        if isinstance(saved, QByteArray) and self.restoreGeometry(saved):
            return
        fit_on_screen(self, self.width(), self.height())

    def _save_place(self) -> None:
        if self.place_file is not None:
            state = QSettings(str(self.place_file), QSettings.Format.IniFormat)
            state.setValue("geometry", self.saveGeometry())
            state.sync()  # a failure (a read-only folder) leaves the next start at the default size: no more

    def closeEvent(self, event: QCloseEvent) -> None:
        """Cancel running jobs, stop the threads (quit + wait), then close the core."""
        self._closed = True
        self._save_place()
        if self.ctl is not None:
            self.ctl.chat.shutdown()
            self.ctl.knowledge.shutdown()
            self.ctl.memory.shutdown()  # an import stops after its batch (it ran on; the window froze 13 s)
            self.ctl.models.shutdown()  # a download's partial file stays; the next start can resume it
            self.ctl.model.shutdown()
            self.ctl.server.poll.stop()  # the API server itself stops with the assistant, below
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.workers.stop()
        # A window closed while it starts: the opened assistant may not have reached attach (its delivery is
        # queued behind this event), yet its watchers, learner and databases are open all the same.
        assistant, self.assistant, self._opened = self.assistant or self._opened, None, None
        if assistant is not None:
            self.hide()  # closing the core saves the open chats' caches to disk: the window is gone meanwhile
            assistant.close(learning_s=2.0)  # what is still queued is learned at the next start
        super().closeEvent(event)


def run(paths: list[Path] | None = None) -> int:
    """``hearth`` (or ``hearth FOLDER...``): style the app from the saved appearance and show the window.

    One window per user and data folder: when one is running already, ``paths`` go to it (indexed there as
    if dropped on it) and it comes to the front; this process then exits (see :mod:`app.single_instance`)."""
    from app import single_instance, window_report
    from app.quit_signals import QuitOnSignals

    paths = paths or []
    if single_instance.forward(paths):
        print("hearth: Hearth is already running; passed to its window.", file=sys.stderr)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Hearth")
    app.setDesktopFileName("hearth")  # the .desktop entry `hearth install-desktop` writes: its icon and name
    app.setWindowIcon(app_icon())
    loaded = load_settings()
    theme = themes.apply(app, loaded.settings.appearance.theme, loaded.settings.appearance.font_size)
    window = MainWindow(theme=theme)
    if loaded.warning:
        window.banner.show_message(loaded.warning)
    server = single_instance.InstanceServer()
    if not server.listen():
        log.warning("another launch cannot reach this window: %s", server.server.errorString())
    server.received.connect(window.bring_forward)
    window_report.install(window)
    window.restore_place(window_file())
    window.show()
    window.open_paths(paths)
    signals = QuitOnSignals(lambda: (window.close(), app.quit()))  # quit also ends an open dialog's loop
    try:
        code = app.exec()
    finally:
        signals.restore()
        server.close()
    if window.workers.outlived or (window.ctl is not None and window.ctl.model.importing):
        # the indexing warm-up's imports (Chroma; torch for an embedder NumPy cannot run) cannot be stopped, nor
        # a job that outlived the close's wait: a normal exit waited for them and could end in an abort while
        # they ran. The window closed the assistant (its databases, the API server), so leave now.
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(code)
    return code
