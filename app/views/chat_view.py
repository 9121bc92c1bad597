"""The centre column: a scrolling list of message widgets, the welcome panel, and an error banner.

It follows the bottom while an answer streams unless the user has scrolled up to read something.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from app.theme import Theme
from app.views.message import MessageWidget
from app.views.welcome import WelcomePanel
from app.views.widgets import tool_button

MAX_WIDTH = 860


class ErrorBanner(QFrame):
    """Errors reach the user here, in the window, as sentences (never as a traceback)."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("ErrorBanner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setAccessibleName("Error message")
        self.action = QPushButton()
        self.action.hide()
        self._on_action: Callable[[], None] | None = None
        self.action.clicked.connect(lambda: self._on_action() if self._on_action else None)
        close = tool_button("close", "Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, message: str, action: str = "", on_action: Callable[[], None] | None = None) -> None:
        """Show ``message``; with ``action``, a button that calls ``on_action`` (e.g. "Repair")."""
        self.label.setText(message)
        self.action.setText(action)
        self.action.setAccessibleName(action)
        self.action.setEnabled(True)
        self.action.setVisible(bool(action))
        self._on_action = on_action
        self.show()


class ChatView(QScrollArea):
    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.theme = theme
        self.setObjectName("ChatArea")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAccessibleName("Conversation")
        self.messages: list[MessageWidget] = []
        self.welcome = WelcomePanel()
        self.column = QVBoxLayout()
        self.column.setSpacing(10)
        self.column.addWidget(self.welcome)
        self.column.addStretch(1)
        inner = QWidget()
        inner.setMaximumWidth(MAX_WIDTH)
        inner.setLayout(self.column)
        page = QWidget()
        outer = QHBoxLayout(page)
        outer.setContentsMargins(24, 18, 24, 18)
        outer.addStretch(1)
        outer.addWidget(inner, 100)
        outer.addStretch(1)
        self.setWidget(page)
        self._follow = False  # the welcome panel is read from its top (it opened scrolled to its end)
        self.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.verticalScrollBar().rangeChanged.connect(self._range_changed)

    def minimumSizeHint(self) -> QSize:
        """As narrow as the messages and the welcome panel can be, with the scroll bar beside them: a scroll area
        asks for almost nothing, so the window could be made narrower than the panel, which was cut at the right
        (no horizontal scroll bar here)."""
        hint = super().minimumSizeHint()
        inner = self.widget().minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
        return QSize(max(hint.width(), inner + 2 * self.frameWidth()), hint.height())

    def clear(self) -> None:
        for widget in self.messages:
            self.column.removeWidget(widget)
            widget.hide()  # deleted later, when control is back in the event loop: never painted meanwhile
            widget.deleteLater()
        self.messages = []
        self.welcome.show()
        self._follow = False
        self.verticalScrollBar().setValue(0)

    def add_message(self, role: str, text: str = "") -> MessageWidget:
        widget = MessageWidget(role, self.theme)
        widget.set_text(text)
        self.welcome.hide()
        self.column.insertWidget(self.column.count() - 1, widget)
        self.messages.append(widget)
        self._follow = True
        return widget

    def remove_from(self, widget: MessageWidget) -> None:
        """Drop ``widget`` and every message after it (regenerate, edit-and-resend)."""
        index = self.messages.index(widget)
        for gone in self.messages[index:]:
            self.column.removeWidget(gone)
            gone.hide()
            gone.deleteLater()
        del self.messages[index:]
        self.welcome.setVisible(not self.messages)
        self._follow = bool(self.messages)

    def last(self, role: str) -> MessageWidget | None:
        return next((m for m in reversed(self.messages) if m.role == role), None)

    def mark_last_turn(self) -> None:
        for widget in self.messages:
            widget.set_last_turn(widget is self.last(widget.role))

    def _scrolled(self, value: int) -> None:
        self._follow = value >= self.verticalScrollBar().maximum() - 24

    def _range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            QTimer.singleShot(0, lambda: self.verticalScrollBar().setValue(self.verticalScrollBar().maximum()))
