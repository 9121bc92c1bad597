"""The centre column: a scrolling list of message widgets, the welcome panel, and an error banner.

It follows the bottom while an answer streams unless the user has scrolled up to read something.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QTextDocumentFragment
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from app.theme import Theme
from app.views.message import MessageWidget
from app.views.welcome import WelcomePanel
from app.views.widgets import restyle, tool_button

MAX_WIDTH = 860
#: The keys the conversation takes, for the list F1 shows.
KEYS = (("Home, End", "In the conversation: its top (older messages are shown) and its bottom"),)
#: Messages shown at once when a chat opens, and added each time the reader scrolls up to the oldest shown (the
#: controller's pages, fewer where their text is long); and laid out together (see ChatView._page). One constant:
#: the view restated the controller's 30 as its own.
PAGE = 30
#: How long a message found by a search stays marked once shown.
FOUND_MARK_MS = 2500


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
        #: the data check's findings and their Repair (see show_message), and whether a passing message hides them
        self._lasting: tuple[str, str, Callable[[], None] | None] | None = None
        self._passing = False
        close = tool_button("close", "Dismiss")
        close.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, message: str, action: str = "", on_action: Callable[[], None] | None = None,
                     lasting: bool = False) -> None:
        """Show ``message``; with ``action``, a button that calls ``on_action`` (e.g. "Repair"). ``lasting``: what
        the data check found, kept until dismissed or repaired; a question sent clears only passing messages (a
        failed answer's), and brings a lasting one back (the Repair offer went with the first question asked)."""
        self._passing = not lasting
        if lasting:
            self._lasting = (message, action, on_action)
        self.label.setText(message)
        self.action.setText(action)
        self.action.setAccessibleName(action)
        self.action.setEnabled(True)
        self.action.setVisible(bool(action))
        self._on_action = on_action
        self.show()

    def clear_passing(self) -> None:
        """A question is sent: the message of an earlier one goes; a lasting one stays, or comes back."""
        if not self._passing:
            return
        self._passing = False
        if self._lasting is not None:
            self.show_message(*self._lasting, lasting=True)
        else:
            self.hide()

    def withdraw(self, message: str) -> None:
        """``message`` no longer holds (the settings file it named was mended): it goes, shown or kept; another
        message stays."""
        if self._lasting is not None and self._lasting[0] == message:
            self._lasting = None
        if self.label.text() == message:
            self._passing = False
            self.hide()

    def dismiss(self) -> None:
        """Closed by the user, or its findings repaired: nothing comes back until something new is said."""
        self._lasting, self._passing = None, False
        self.hide()


class ChatView(QScrollArea):
    """Shows a long chat a page at a time: the newest messages at once, older ones as the user scrolls up to them
    (``olderRequested``). Building and laying out all 1,000 messages of a long chat froze the window for 6 s."""

    #: The reader is near the top and ``has_older`` is set: the controller prepends the next older page.
    olderRequested = Signal()

    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.theme = theme
        self.setObjectName("ChatArea")
        self.setWidgetResizable(True)
        # anything that cannot wrap to the column scrolls sideways; with the bar always off it was cut at the right
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAccessibleName("Conversation")
        self.messages: list[MessageWidget] = []
        self._pages: list[QWidget] = []  # the messages' pages, top to bottom (see _page)
        self._doomed: list[QWidget] = []  # pages of a chat left, deleted one at a time (see clear)
        self._deleting = QTimer(self)
        self._deleting.setInterval(0)
        self._deleting.timeout.connect(self._delete_a_page)
        self.has_older = False  # the chat has messages older than the first one shown
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
        # older messages are asked for on the next turn of the event loop, never inside a scroll bar's own signal
        # (the value it was setting won over the kept position), nor while its handle is being dragged
        self._older_check = QTimer(self)
        self._older_check.setSingleShot(True)
        self._older_check.setInterval(0)
        self._older_check.timeout.connect(self._want_older)
        self.verticalScrollBar().sliderReleased.connect(self._older_check.start)
        self.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.verticalScrollBar().rangeChanged.connect(self._range_changed)

    def minimumSizeHint(self) -> QSize:
        """As narrow as the welcome panel can be, with the scroll bar beside it: a scroll area asks for almost
        nothing, so the window could be made narrower than the panel, which was cut at the right. Messages wrap
        to any width from there (code too: pre-wrap); anything that cannot scrolls sideways rather than making the
        window wider (a minimum read from the messages was stale: read once, before the chat was opened)."""
        hint = super().minimumSizeHint()
        margins = self.widget().layout().contentsMargins()
        inner = (self.welcome.minimumSizeHint().width() + margins.left() + margins.right()
                 + self.verticalScrollBar().sizeHint().width())
        return QSize(max(hint.width(), inner + 2 * self.frameWidth()), hint.height())

    def clear(self) -> None:
        """The messages go at once, and are deleted a page per turn of the event loop: deleting the 4,000 messages
        of a chat read back to its start held the GUI thread for 11 s (1.4 s for 3,000 without other work)."""
        for page in self._pages:
            self.column.removeWidget(page)
            page.hide()  # never painted again
        self._doomed.extend(self._pages)
        self._pages = []
        if self._doomed:
            self._deleting.start()
        self.messages = []
        self.has_older = False
        self.welcome.show()
        self._follow = False
        self.verticalScrollBar().setValue(0)

    def _delete_a_page(self) -> None:
        if self._doomed:
            self._doomed.pop().deleteLater()
        else:
            self._deleting.stop()

    @contextmanager
    def keeping_position(self) -> Iterator[None]:
        """Messages added above inside this block do not move what is being read: the distance from the bottom
        is kept, once the layout has taken them in (now, not on a later turn of the event loop)."""
        bar = self.verticalScrollBar()
        from_bottom = bar.maximum() - bar.value()
        yield
        for page in self._pages:
            if page.isHidden():
                page.show()
        for _ in range(3):  # the message column, then the page around it, then the scroll area's own
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        bar.setValue(bar.maximum() - from_bottom)

    def add_message(self, role: str, text: str = "", older: bool = False, follow: bool = True) -> MessageWidget:
        """A message at the end, or (``older``) above the first one shown (see ``keeping_position``). At the end the
        view follows it; not ``follow`` (a turn another process added): only if it followed the end already, so a
        reader scrolled up to an earlier answer stays there."""
        widget = MessageWidget(role, self.theme, key_filter=self)  # Tab to its links (see eventFilter)
        widget.set_text(text)
        self.welcome.hide()
        if older:
            page = self._page(first=True)
            page.insertWidget(0, widget)
            if not page.parentWidget().isHidden():  # (a new page is shown whole: see keeping_position)
                widget.show()  # now, not on a later turn: the layout counts it at once
            self.messages.insert(0, widget)
        else:
            self._page(first=False).addWidget(widget)
            self.messages.append(widget)
            self._follow = self._follow or follow
        return widget

    def _page(self, first: bool) -> QVBoxLayout:
        """The layout of the first (or last) page of messages, a new one when that one is full. Messages are laid
        out in pages of :data:`PAGE`, each its own widget, so a layout pass reads a page whose messages
        did not change from its layout's cache: with every message in one column, each older page shown laid out
        all those above it again (482 ms of the GUI thread a page with 3,660 shown), and leaving the chat deleted
        them one by one."""
        at = 0 if first else -1
        if self._pages and self._pages[at].layout().count() < PAGE:
            return self._pages[at].layout()
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(self.column.spacing())
        if first:
            self.column.insertWidget(1, page)  # after the (hidden) welcome panel
            self._pages.insert(0, page)
        else:
            self.column.insertWidget(self.column.count() - 1, page)
            self._pages.append(page)
        return layout

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Tab to a link in a message scrolls the link into view: the scroll area shows the message's top, and a
        link near the end of a long answer had the keyboard focus (Enter opened it) off screen."""
        if isinstance(watched, QLabel) and (event.type() == QEvent.Type.FocusIn or (
                event.type() == QEvent.Type.KeyPress and event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab))):
            QTimer.singleShot(0, watched, lambda label=watched: self._show_focused_link(label))  # (not if deleted)
        return False

    def _show_focused_link(self, label: QLabel) -> None:
        """Scroll to the link ``label`` has focused, placed by its share of the text (a label says where its
        selection starts in its text, not where on screen)."""
        if not label.hasFocus() or not label.hasSelectedText():
            return
        length = len(QTextDocumentFragment.fromHtml(label.text()).toPlainText()) or 1
        at = label.mapTo(self.widget(), QPoint(0, round(label.height() * label.selectionStart() / length)))
        self.ensureVisible(at.x(), at.y(), 0, 3 * label.fontMetrics().height())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Home and End (with Ctrl too) go to the top and the bottom of the chat: they did nothing, and 40 Page Ups
        reached the 101st of 400 messages. At the top the next older page is shown, as scrolling there does."""
        if event.key() in (Qt.Key.Key_Home, Qt.Key.Key_End):
            bar = self.verticalScrollBar()
            bar.setValue(bar.minimum() if event.key() == Qt.Key.Key_Home else bar.maximum())
            self._older_check.start()
            return
        super().keyPressEvent(event)

    def go_to(self, widget: MessageWidget) -> None:
        """Show ``widget`` a quarter down the view (what led to it above), marked for a moment (a search hit)."""
        self.scroll_to(widget, -(self.viewport().height() // 4))
        restyle(widget, "found", True)
        QTimer.singleShot(FOUND_MARK_MS, widget, lambda: restyle(widget, "found", False))

    def scroll_to(self, widget: MessageWidget, offset: int) -> None:
        """The view starts ``offset`` pixels below ``widget``'s top, and stops following the newest message."""
        for _ in range(3):  # laid out first: its place is known then (see keeping_position)
            QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        self._follow = False
        self.verticalScrollBar().setValue(widget.mapTo(self.widget(), QPoint(0, 0)).y() + offset)

    def place(self) -> tuple[str, int] | None:
        """Where the reader is: the saved message at the top of the view and how far into it the view starts;
        None while the view follows the newest message."""
        if self._follow:
            return None
        top = self.verticalScrollBar().value()
        for widget in self.messages:
            y = widget.mapTo(self.widget(), QPoint(0, 0)).y()
            if y + widget.height() > top and widget.message_id is not None:
                return widget.message_id, top - y
        return None

    def remove_from(self, widget: MessageWidget) -> None:
        """Drop ``widget`` and every message after it (regenerate, edit-and-resend)."""
        index = self.messages.index(widget)
        for gone in self.messages[index:]:
            page = gone.parentWidget()
            page.layout().removeWidget(gone)
            gone.hide()
            gone.deleteLater()
            if not page.layout().count():
                self.column.removeWidget(page)
                page.deleteLater()
                self._pages.remove(page)
        del self.messages[index:]
        self.welcome.setVisible(not self.messages)
        self._follow = bool(self.messages)

    def last(self, role: str) -> MessageWidget | None:
        return next((m for m in reversed(self.messages) if m.role == role), None)

    def mark_last_turn(self, answering: bool = False) -> None:
        """Show Regenerate on the last answer and Edit on every question; while an answer is written (``answering``)
        Edit is greyed: it looked usable, and a click did nothing."""
        for widget in self.messages:
            widget.set_last_turn(widget is self.last(widget.role))
            if widget.role == "user":
                widget.edit.setEnabled(not answering)

    def _scrolled(self, value: int) -> None:
        self._follow = value >= self.verticalScrollBar().maximum() - 24
        self._older_check.start()

    def _range_changed(self, _minimum: int, maximum: int) -> None:
        bar = self.verticalScrollBar()
        if self._follow:
            # the bar as context: a window closed before the timer fires drops the call (it raised "already
            # deleted" from the event loop). Still following then: a chat shown again at the reader's place
            # (ChatView.scroll_to) was sent to its end by the layout pass just before
            QTimer.singleShot(0, bar, lambda: self._follow and bar.setValue(bar.maximum()))
        self._older_check.start()  # a first page shorter than the window asks for more at once

    def _want_older(self) -> None:
        bar = self.verticalScrollBar()
        # following the bottom (an opening chat, whose layout passes through smaller heights first), only a page
        # that does not fill the window asks for more
        near_top = bar.value() < self.viewport().height() and not (self._follow and bar.maximum() > 0)
        if self.has_older and not bar.isSliderDown() and near_top:
            self.olderRequested.emit()
