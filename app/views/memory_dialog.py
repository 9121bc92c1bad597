"""The memory manager: a searchable list of what Hearth remembers, with add, edit, forget and forget all, and
export to a file and import from one (a backup, another computer).

With memory switched off it says so above the list: what was remembered can still be seen, edited and forgotten.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.qt_models import ItemRole, ListModel
from app.sources import memory_origin, memory_text
from app.views.dialogs import ask_text, confirm
from app.views.widgets import ProgressPanel, fit_on_screen, widget_key
from assistant.events import counted

MEMORY_OFF = ("Memory is off (Settings → Memory): answers neither use nor add memories. What Hearth remembered "
              "before is kept, and listed here to edit or forget.")


class MemoryDialog(QDialog):
    searchChanged = Signal(str)
    addRequested = Signal(str)
    editRequested = Signal(object, str)
    forgetRequested = Signal(object)
    clearRequested = Signal()
    exportRequested = Signal(object)  # Path
    importRequested = Signal(object)  # Path

    def __init__(self, enabled: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("What Hearth remembers")
        self.setObjectName("MemoryDialog")
        fit_on_screen(self, 560, 460)
        self.model: ListModel = ListModel(memory_text, memory_origin)
        layout = QVBoxLayout(self)
        self.off_note = QLabel(MEMORY_OFF)
        self.off_note.setWordWrap(True)
        self.off_note.setObjectName("Notice")
        self.off_note.setVisible(not enabled)
        layout.addWidget(self.off_note)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setObjectName("Muted")
        layout.addWidget(self.status)
        self.notice = QLabel()  # what the last change did when it did not do what was asked ("already remembered")
        self.notice.setWordWrap(True)
        self.notice.setObjectName("Notice")
        self.notice.hide()
        layout.addWidget(self.notice)
        self.learning = QLabel()
        self.learning.setObjectName("Muted")
        self.learning.setAccessibleName("Memory learning status")
        self.learning.hide()
        layout.addWidget(self.learning)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search memories")
        self.search.setAccessibleName("Search memories")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.searchChanged)
        self.list = QListView()
        self.list.setModel(self.model)
        self.list.setWordWrap(True)
        self.list.setAccessibleName("Memories")
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        add, edit = QPushButton("Add…"), QPushButton("Edit…")
        forget, clear = QPushButton("Forget"), QPushButton("Forget all…")
        clear.setObjectName("Danger")
        add.setAccessibleName("Add a memory")
        add.clicked.connect(lambda: ask_text(self, "Add a memory", "What should Hearth remember?", "",
                                             self.addRequested.emit))
        edit.clicked.connect(self._edit)
        forget.clicked.connect(self._forget)
        # from the list, as the chat list takes them: Enter and F2 edit, Delete forgets (they did nothing)
        for keys, slot in (((Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_F2), self._edit),
                           ((Qt.Key.Key_Delete,), self._forget)):
            for key in keys:
                widget_key(self.list, key, slot)
        self.list.doubleClicked.connect(self._edit)
        edit.setToolTip("Edit the memory chosen in the list (Enter, F2)")
        forget.setToolTip("Forget the memory chosen in the list (Delete)")
        # about the memory chosen in the list: with none chosen they were enabled and did nothing
        self.for_selected = (edit, forget)
        self.list.selectionModel().currentChanged.connect(self._chosen)
        self.model.modelReset.connect(self._chosen)
        self._chosen()
        clear.clicked.connect(lambda: confirm(self, "Forget everything?", "Hearth will forget everything it "
                                              "remembers about you. This cannot be undone.", "Forget all",
                                              self.clearRequested.emit))
        export, self.import_button = QPushButton("Export…"), QPushButton("Import…")
        import_ = self.import_button  # off while an import runs: a second click was ignored without a word
        export.setAccessibleName("Export memories to a file")
        import_.setAccessibleName("Import memories from a file")
        export.clicked.connect(self._export)
        import_.clicked.connect(self._import)
        self.transfer = ProgressPanel("Memory import")  # an import's progress and Cancel, then what it did
        row = QHBoxLayout()
        for button in (add, edit, forget):
            row.addWidget(button)
        row.addStretch(1)
        for button in (import_, export, clear):
            row.addWidget(button)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.transfer)
        layout.addLayout(row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        for asked in (self.addRequested, self.editRequested, self.forgetRequested, self.clearRequested):
            asked.connect(self.notice.hide)  # the next change has its own outcome

    def set_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.show()

    def set_items(self, items: list[object], query: str = "") -> None:
        """The memories listed: all of them, or those a search for ``query`` found (an empty search said
        "Nothing remembered yet." with memories kept). The memory chosen stays chosen where it is still listed (the
        list is read again while the manager is open)."""
        chosen = getattr(self._selected(), "id", None)
        self.model.set_items(items)
        row = next((i for i, m in enumerate(items) if chosen is not None and getattr(m, "id", None) == chosen), None)
        if row is not None:
            self.list.setCurrentIndex(self.model.index(row))
        if items:
            self.status.setText(counted(len(items), "memory", "memories")
                                + (f" match{'es' if len(items) == 1 else ''} “{query}”" if query else ""))
        else:
            self.status.setText(f"No memory matches “{query}”." if query else "Nothing remembered yet.")

    def set_learning(self, text: str) -> None:
        """"Learning from your last message…" / "2 messages waiting to be learned from"; empty hides it."""
        self.learning.setText(text)
        self.learning.setVisible(bool(text))

    def _chosen(self) -> None:
        for button in self.for_selected:
            button.setEnabled(self._selected() is not None)

    def _selected(self) -> object | None:
        index = self.list.currentIndex()
        return index.data(ItemRole) if index.isValid() else None

    def _edit(self) -> None:
        if (item := self._selected()) is not None:
            ask_text(self, "Edit memory", "Memory:", memory_text(item),
                     lambda text: self.editRequested.emit(item, text))

    def _forget(self) -> None:
        """Asked first, as deleting a chat is (Forget deleted the memory at once, with no way back)."""
        if (item := self._selected()) is not None:
            text = memory_text(item)
            end = "" if text.endswith((".", "!", "?")) else "."  # "“… in Porto.”." read as a stutter
            confirm(self, "Forget this memory?", f"Hearth will forget “{text}”{end} This cannot be undone.",
                    "Forget", lambda: self.forgetRequested.emit(item))

    def _export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export memories", str(Path.home() / "hearth-memories.json"),
                                              "Memory export (*.json)")
        if path:
            self.exportRequested.emit(Path(path))

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import memories", str(Path.home()),
                                              "Memory export (*.json);;All files (*)")
        if path:
            self.importRequested.emit(Path(path))
