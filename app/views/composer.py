"""The composer: multi-line prompt (Enter sends, Shift+Enter breaks the line), Send/Stop, the
"answer from these folders" selector and the memory toggle for the chat (incognito)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
)

from app.icons import icon
from app.views.widgets import scaled_icon, tool_button
from assistant.events import counted

MAX_LINES = 10
#: The empty box's hint, and the short one shown where the whole hint would wrap: QPlainTextEdit draws its
#: placeholder inside the empty first line, so a second line was cut in half (24 pt, a narrow window).
PLACEHOLDER = "Ask Hearth anything…  (Enter sends, Shift+Enter for a new line)"
#: The keys the message box takes, for the window's list of shortcuts (see PromptEdit.keyPressEvent)
KEYS = (("Enter", "Send the message"), ("Shift+Enter", "A new line in the message"))
SHORT_PLACEHOLDER = "Ask Hearth anything…"


#: The memory chip's tooltip while memory is on (it stays as chosen for the chat: incognito applied to one
#: message, and the next one, typed in the same private mood, was learned).
_MEMORY_ON_TIP = "Memory is on in this chat (click for incognito)"

class PromptEdit(QPlainTextEdit):
    submitted = Signal()
    reshaped = Signal()  # its font or width changed: the box fits its text anew

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):  # Settings → font size, theme
            self.reshaped.emit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self.reshaped.emit()

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        """Dropped files are for the knowledge base (the window handles them), not text to paste."""
        return not source.hasUrls() and super().canInsertFromMimeData(source)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and not event.modifiers() & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.AltModifier):
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class Composer(QFrame):
    sendRequested = Signal(str)
    stopRequested = Signal()
    editCancelled = Signal()
    memoryChosen = Signal(bool)  # the user clicked the memory chip: True for memory on, False for incognito

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("Composer")
        self.generating = False
        self.edit = PromptEdit()
        self.edit.setPlaceholderText(PLACEHOLDER)
        self.edit.setAccessibleName("Message")
        self.edit.setTabChangesFocus(True)
        self.edit.submitted.connect(self._submit)
        self.edit.textChanged.connect(self._fit)
        self.edit.reshaped.connect(self._fit)
        self.send = QPushButton(icon("send", "#ffffff"), "Send")
        self.send.setObjectName("Primary")
        self.send.setAccessibleName("Send message")
        scaled_icon(self.send, 16)
        self.send.clicked.connect(self._send_or_stop)

        self.sources = tool_button("folder", "", text="Answer from: chat only", elide=True)
        scaled_icon(self.sources, 16)
        self.sources.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.sources.setAccessibleName("Answer from these folders")
        self.sources_menu = QMenu(self.sources)
        self.sources.setMenu(self.sources_menu)
        self.memory = tool_button("memory", _MEMORY_ON_TIP, checkable=True, text="Memory on")
        self.memory.setChecked(True)
        self.memory_available = True  # False while memory is off in Settings (set_memory_available)
        # its words are its state ("Memory on", "Incognito"): whole at any width, the folder list shortens first
        self.memory.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.memory.toggled.connect(self._memory_toggled)
        self.memory.clicked.connect(self.memoryChosen)
        self.set_collections([])

        # Shown while a question is being edited: sending then replaces that turn, which nothing on screen said
        # (a new question typed over the draft silently deleted the last exchange).
        self.editing = QFrame()
        self.editing_text = editing_text = QLabel()
        editing_text.setObjectName("Muted")
        editing_text.setWordWrap(True)
        cancel_edit = QPushButton("Cancel edit")
        cancel_edit.setAccessibleName("Cancel editing the last question")
        cancel_edit.clicked.connect(self.editCancelled)
        editing_row = QHBoxLayout(self.editing)
        editing_row.setContentsMargins(0, 0, 0, 0)
        editing_row.addWidget(editing_text, 1)
        editing_row.addWidget(cancel_edit)
        self.editing.hide()

        options = QHBoxLayout()
        options.setSpacing(4)
        options.addWidget(self.sources)
        options.addWidget(self.memory)
        options.addStretch(1)
        options.addWidget(self.send)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(self.editing)
        layout.addWidget(self.edit)
        layout.addLayout(options)
        self._fit()

    # --- collections -----------------------------------------------------------------------------
    def set_collections(self, names: list[str]) -> None:
        """Offer ``names``, keeping the current ticks of those that still exist."""
        chosen = set(self.selected_collections())
        self.sources_menu.clear()
        for name in names:
            action = QAction(name, self.sources_menu, checkable=True)
            action.setChecked(name in chosen)
            action.toggled.connect(self._update_sources_label)
            self.sources_menu.addAction(action)
        if not names:
            hint = self.sources_menu.addAction("Drop a folder on the window to add one")
            hint.setEnabled(False)
        self._update_sources_label()

    def selected_collections(self) -> list[str]:
        return [a.text() for a in self.sources_menu.actions() if a.isCheckable() and a.isChecked()]

    def select_collections(self, names: list[str]) -> None:
        for action in self.sources_menu.actions():
            if action.isCheckable():
                action.setChecked(action.text() in names)

    def _update_sources_label(self) -> None:
        chosen = self.selected_collections()
        self.sources.setText(text := "Answer from: " + (", ".join(chosen) if chosen else "chat only"))
        # the whole list, where a narrow window shortened the button's text
        self.sources.setToolTip(f"{text}\nPick knowledge collections to ground answers in")

    # --- memory ------------------------------------------------------------------------------------
    def use_memory(self) -> bool:
        """The chip's choice for the next message, also while memory is off in Settings (then the core neither
        reads nor learns anything): a question asked then was saved as incognito, and Regenerate and Edit kept
        it so once memory was on again, though the user never chose incognito."""
        return self.memory.isChecked()

    def set_use_memory(self, on: bool) -> None:
        """The chip's choice: the chat's (see ``ChatController``), or an edited question's while it is edited."""
        self.memory.setChecked(on)

    def set_memory_available(self, available: bool) -> None:
        """Memory switched off in Settings: the chip says so and cannot be turned on here (it read "Memory on"
        while nothing was remembered or used); switched back on, it shows this chat's choice again."""
        self.memory_available = available
        self.memory.setEnabled(available)
        self._memory_toggled(self.memory.isChecked())

    def _memory_toggled(self, on: bool) -> None:
        """Label the chip. The chip is also set by code (an edit takes its question's choice), so with memory off
        it keeps saying so: an edit made it read "Incognito", then "Memory on", while memory was off."""
        if not self.memory_available:
            self._show_memory("incognito", "Memory off",
                              "Memory is off (Settings → Memory): answers neither use nor add memories")
        elif on:
            self._show_memory("memory", "Memory on", _MEMORY_ON_TIP)
        else:
            self._show_memory("incognito", "Incognito", "Incognito: in this chat, messages neither use nor add "
                              "memories (click for memory on)")

    def _show_memory(self, icon_name: str, text: str, tip: str) -> None:
        self.memory.setIcon(icon(icon_name))
        self.memory.setText(text)
        self.memory.setToolTip(tip)
        self.memory.setAccessibleName(tip)

    # --- sending -----------------------------------------------------------------------------------
    def set_generating(self, generating: bool) -> None:
        self.generating = generating
        self.send.setIcon(icon("stop" if generating else "send", "#ffffff"))
        self.send.setText("Stop" if generating else "Send")
        self.send.setAccessibleName("Stop generating (Esc)" if generating else "Send message")
        self.send.setToolTip("Stop generating (Esc)" if generating else "Send (Enter)")

    def set_ready(self, ready: bool) -> None:
        """Sending waits for the first model load (typing does not)."""
        self.send.setEnabled(ready)

    def _send_or_stop(self) -> None:
        if self.generating:
            self.stopRequested.emit()
        else:
            self._submit()

    def _submit(self) -> None:
        text = self.edit.toPlainText().strip()
        if not text or self.generating or not self.send.isEnabled():
            return
        self.edit.clear()
        self.sendRequested.emit(text)

    def set_editing(self, later: int | None) -> None:
        """Say what sending the edit replaces: the question with its answer, and the ``later`` questions after
        it with theirs (an earlier question's edit said "your last question"); ``None``: no edit."""
        if later is not None:
            after = counted(later, "later question")
            self.editing_text.setText(
                "Editing your last question: sending replaces it and its answer." if not later else
                f"Editing an earlier question: sending replaces it, its answer and the {after} with theirs.")
        self.editing.setVisible(later is not None)

    def set_draft(self, text: str) -> None:
        self.edit.setPlainText(text)
        self.edit.setFocus()
        self.edit.moveCursor(self.edit.textCursor().MoveOperation.End)

    def _fit(self) -> None:
        """Grow with the text up to MAX_LINES, then scroll; empty, one line with the hint that fits it. The height
        was set for the font at start-up only: at 24 pt the placeholder's second line was cut in half."""
        lines = int(self.edit.document().size().height())
        if not self.edit.toPlainText():
            width = self.edit.viewport().width() - 2 * int(self.edit.document().documentMargin())
            metrics = self.edit.fontMetrics()
            hint = PLACEHOLDER if metrics.horizontalAdvance(PLACEHOLDER) <= width else SHORT_PLACEHOLDER
            self.edit.setPlaceholderText(metrics.elidedText(hint, Qt.TextElideMode.ElideRight, width))
        lines = max(1, min(MAX_LINES, lines))
        padding = 2 * self.edit.document().documentMargin() + self.edit.frameWidth() * 2 + 10
        self.edit.setFixedHeight(int(lines * self.edit.fontMetrics().lineSpacing() + padding))
