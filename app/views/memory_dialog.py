"""The memory manager: a searchable list of what Hearth remembers, with add, edit, forget and forget all.

With memory switched off it says that memory is not enabled instead.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
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

NOT_ENABLED = ("Memory is not enabled. Turn it on in Settings → Memory; then everything Hearth remembers "
               "about you is listed here, and you can edit or forget any of it.")


class MemoryDialog(QDialog):
    searchChanged = Signal(str)
    addRequested = Signal(str)
    editRequested = Signal(object, str)
    forgetRequested = Signal(object)
    clearRequested = Signal()

    def __init__(self, available: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("What Hearth remembers")
        self.setObjectName("MemoryDialog")
        self.resize(560, 460)
        self.model: ListModel = ListModel(memory_text, memory_origin)
        layout = QVBoxLayout(self)
        self.status = QLabel(NOT_ENABLED if not available else "")
        self.status.setWordWrap(True)
        self.status.setObjectName("Muted")
        layout.addWidget(self.status)
        self.learning = QLabel()
        self.learning.setObjectName("Muted")
        self.learning.setAccessibleName("Memory learning status")
        self.learning.hide()
        layout.addWidget(self.learning)
        if available:
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
            clear.clicked.connect(lambda: confirm(self, "Forget everything?", "Hearth will forget everything it "
                                                  "remembers about you. This cannot be undone.", "Forget all",
                                                  self.clearRequested.emit))
            row = QHBoxLayout()
            for button in (add, edit, forget):
                row.addWidget(button)
            row.addStretch(1)
            row.addWidget(clear)
            layout.addWidget(self.search)
            layout.addWidget(self.list, 1)
            layout.addLayout(row)
        else:
            layout.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def set_items(self, items: list[object]) -> None:
        self.model.set_items(items)
        self.status.setText(f"{len(items)} memor{'y' if len(items) == 1 else 'ies'}" if items else
                            "Nothing remembered yet.")

    def set_learning(self, text: str) -> None:
        """"Learning from your last message…" / "2 messages waiting to be learned from"; empty hides it."""
        self.learning.setText(text)
        self.learning.setVisible(bool(text))

    def _selected(self) -> object | None:
        index = self.list.currentIndex()
        return index.data(ItemRole) if index.isValid() else None

    def _edit(self) -> None:
        if (item := self._selected()) is not None:
            ask_text(self, "Edit memory", "Memory:", memory_text(item),
                     lambda text: self.editRequested.emit(item, text))

    def _forget(self) -> None:
        if (item := self._selected()) is not None:
            self.forgetRequested.emit(item)
