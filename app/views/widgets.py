"""Small building blocks shared by the views: flat icon buttons, section titles, a wrapping row, a rich-text label
that lays its text out once per width, and a progress panel."""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections.abc import Callable

from PySide6.QtCore import QEvent, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QKeySequence, QPaintEvent, QResizeEvent, QShortcut, QTextDocument, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QStyleOptionButton,
    QStyleOptionToolButton,
    QStylePainter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.icons import icon
from app.markdown import TABLE


class ShrinkingToolButton(QToolButton):
    """An icon-and-text button that gives up width: where its row is narrower than its text, the icon stands
    alone (or, with ``elide``, the text ends in "…" while a few letters fit); the tooltip and accessible name
    keep the words. At font size 24 the labelled buttons of the sidebar and the message box made the window
    1,350 px wide at least, wider than a laptop's screen, and every collection ticked in "Answer from: …"
    widened it further."""

    def __init__(self, parent: QWidget | None = None, *, elide: bool = False) -> None:
        super().__init__(parent)
        self.elide = elide
        self.setSizePolicy(QSizePolicy.Policy.Preferred, self.sizePolicy().verticalPolicy())  # QToolButton: Fixed

    def _text_room(self, width: int) -> int:
        """Pixels left for the text in a button ``width`` wide (the icon, padding and menu arrow come first)."""
        text = self.fontMetrics().horizontalAdvance(self.text())
        if self.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextUnderIcon:
            return width - (self.sizeHint().width() - max(text, self.iconSize().width()))
        return width - (self.sizeHint().width() - text)

    def minimumSizeHint(self) -> QSize:
        hint = self.sizeHint()
        return QSize(hint.width() - self._text_room(hint.width()) + self.iconSize().width() // 2, hint.height())

    def paintEvent(self, _event: QPaintEvent) -> None:
        option = QStyleOptionToolButton()
        self.initStyleOption(option)
        metrics, room = self.fontMetrics(), self._text_room(self.width())
        if room < metrics.horizontalAdvance(option.text):
            shown = metrics.elidedText(option.text, Qt.TextElideMode.ElideRight, max(room, 0)) if self.elide else ""
            if len(shown) < 6:  # "Se…" says less than the icon does
                shown = ""
                option.toolButtonStyle = Qt.ToolButtonStyle.ToolButtonIconOnly
            option.text = shown
        QStylePainter(self).drawComplexControl(QStyle.ComplexControl.CC_ToolButton, option)


class ElidingButton(QPushButton):
    """A push button that gives up width: where its row is narrower than its text, the text loses its middle
    ("3  Quarterly_fin…_2024.pdf"); the tooltip and accessible name keep it whole. Source chips with long file
    names made an answer as wide as its widest chip: at 640 px the chat scrolled sideways and its text was cut
    at the right edge."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        # QPushButton's own policy (Minimum) takes its size hint as its least width
        self.setSizePolicy(QSizePolicy.Policy.Preferred, self.sizePolicy().verticalPolicy())

    def _chrome(self) -> int:
        """The pixels of the button that are not its text (padding, border)."""
        return self.sizeHint().width() - self.fontMetrics().horizontalAdvance(self.text())

    def minimumSizeHint(self) -> QSize:
        hint = self.sizeHint()
        return QSize(min(hint.width(), self._chrome() + 8 * self.fontMetrics().averageCharWidth()), hint.height())

    def paintEvent(self, _event: QPaintEvent) -> None:
        option = QStyleOptionButton()
        self.initStyleOption(option)
        metrics, room = self.fontMetrics(), self.width() - self._chrome()
        if room < metrics.horizontalAdvance(option.text):
            # a label shortened already ("annual_budget_s…_team.md") is not given a second "…" beside its own
            option.text = metrics.elidedText(option.text, Qt.TextElideMode.ElideMiddle, max(room, 0)).replace(
                "……", "…")
        QStylePainter(self).drawControl(QStyle.ControlElement.CE_PushButton, option)


#: The font size icons are drawn for at their base size (the settings' default).
ICON_FONT_PT = 11
_ICON_BASE = "hearthIconBase"  # the property a button keeps its base icon size in (see scaled_icon)


def scaled_icon(button: QAbstractButton, base: int) -> None:
    """Give ``button`` icons of ``base`` px at the default font size, grown with the font: at 18–24 pt they stayed
    18 px beside text twice their height (see :func:`rescale_icons` for a font changed later)."""
    button.setProperty(_ICON_BASE, base)
    # half as fast as the text: at 24 pt in step with it, the labelled buttons made the window wider than a
    # laptop's screen again
    grown = max(QApplication.font().pointSize(), ICON_FONT_PT) / ICON_FONT_PT
    side = round(base * (1 + (grown - 1) / 2))
    button.setIconSize(QSize(side, side))


def rescale_icons() -> None:
    """The font size changed: every button made by :func:`scaled_icon` follows it."""
    for widget in QApplication.allWidgets():
        if isinstance(widget, QAbstractButton) and (base := widget.property(_ICON_BASE)):
            scaled_icon(widget, int(base))


def tool_button(icon_name: str, tip: str, parent: QWidget | None = None, *, checkable: bool = False,
                text: str = "", elide: bool = False) -> QToolButton:
    """An icon button with a tooltip and an accessible name (screen readers read the tip); with ``text``, one
    that gives its text up where its row is narrow (:class:`ShrinkingToolButton`)."""
    button = ShrinkingToolButton(parent, elide=elide) if text else QToolButton(parent)
    button.setObjectName("Flat")
    button.setIcon(icon(icon_name))
    scaled_icon(button, 18)
    button.setToolTip(tip)
    button.setAccessibleName(tip)
    button.setCheckable(checkable)
    if text:
        button.setText(text)
        button.setToolButtonStyle(button.toolButtonStyle().ToolButtonTextBesideIcon)
    return button


def isolated(text: str, left_to_right: bool = False) -> str:
    """``text`` kept in its own direction inside a left-to-right line: a Hebrew or Arabic file name in
    "[1] name § 2" made the whole title right-to-left, so the number and section swapped places around it.
    ``left_to_right``: a file name, read left to right as the path beside it and a file manager show it; in the
    direction of its first letter an Arabic "ملاحظات.txt" read "txt.ملاحظات" on its chip. Text with no
    right-to-left letters comes back unchanged."""
    if not _has_rtl(text):
        return text
    start = "\u2066" if left_to_right else "\u2068"  # LEFT-TO-RIGHT ISOLATE or FIRST STRONG ISOLATE
    return f"{start}{text}\u2069"  # … POP DIRECTIONAL ISOLATE


def ltr(text: str) -> str:
    """A line that reads left to right whatever its first letters (a path or title with a right-to-left name)."""
    return f"\u200e{text}" if _has_rtl(text) else text  # LEFT-TO-RIGHT MARK


def _has_rtl(text: str) -> bool:
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)


_TAG = re.compile(r"<[^>]*>")
_BETWEEN_WORDS = re.compile(r"[\s\u200b]+")


class RichLabel(QLabel):
    """A word-wrapped rich-text label whose size costs one layout of its text per width.

    QLabel's size hint for wrapped rich text searches for a pleasing width, laying the text out again and again
    (45 ms for an answer holding a 60-line code block), and a layout pass asks again: opening a page of 40 such
    answers of a long chat froze the window for 3 s. Here the hint is the height at a fixed width of 80
    average characters (QLabel's own first try), and each width's height is kept until the text or font
    changes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self._heights: dict[int, int] = {}
        self._minimum: QSize | None = None
        self._ideal: int | None = None

    def setText(self, text: str) -> None:
        self._heights.clear()
        self._minimum = self._ideal = None
        super().setText(text)

    def heightForWidth(self, width: int) -> int:
        if width not in self._heights:
            self._heights[width] = super().heightForWidth(width)
        return self._heights[width]

    def sizeHint(self) -> QSize:
        width = self.fontMetrics().averageCharWidth() * 80
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:
        """QLabel's lays the text out at width 0 (27 ms for that answer). Text wraps between words (long runs
        are breakable, see ``app.markdown.breakable``), code too, so its minimum is its longest word; only a
        table cannot be narrower than its columns, and its minimum is QLabel's. Read once."""
        if self._minimum is None:
            text = self.text()
            if TABLE in text:
                self._minimum = super().minimumSizeHint()
            else:
                words = _BETWEEN_WORDS.split(html.unescape(_TAG.sub(" ", text)))
                longest = max(words, key=len, default="")
                margins = self.contentsMargins()
                self._minimum = QSize(self.fontMetrics().horizontalAdvance(longest + "  ") + margins.left()
                                      + margins.right(), self.fontMetrics().height())
        return self._minimum

    def ideal_width(self) -> int:
        """The width the text takes with no line wrapped but where it breaks itself (a table's natural width),
        laid out once per text and font."""
        if self._ideal is None:
            document = QTextDocument()
            document.setDocumentMargin(0)
            document.setDefaultFont(self.font())
            document.setHtml(self.text())
            margins = self.contentsMargins()
            self._ideal = math.ceil(document.idealWidth()) + margins.left() + margins.right() + 2 * self.margin()
        return self._ideal

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._heights.clear()  # the same text is another size now
            self._minimum = self._ideal = None
        super().changeEvent(event)


class TableStrip(QScrollArea):
    """A table of an answer in a strip of its own, as wide as the message, that scrolls sideways when the table is
    wider: a table cannot be narrower than its columns, and in the answer's one label it made the whole
    conversation scroll sideways, the text after it running off the right edge. Its height follows its width, as
    a label's does; the mouse wheel scrolls the conversation, not the strip (it has no vertical range)."""

    def __init__(self, label: RichLabel) -> None:
        super().__init__()
        self.setWidget(label)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the table's links take the focus, not the strip
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.viewport().setAutoFillBackground(False)

    def set_text(self, text: str) -> None:
        """New text (an answer streaming): the message's layout asks the strip's height again (it kept the height
        of the table's first row, the rest cut off until the window was resized)."""
        self.widget().setText(text)
        self._fit(self.viewport().width())
        self.updateGeometry()

    def _inner(self, width: int) -> int:
        """The table's width in a strip ``width`` wide: the strip's where the table fits by wrapping its cells;
        where it does not, as wide as its text asks, up to twice the strip (squeezed to its narrowest, every cell
        wrapped almost word by word, and it scrolled all the same). Text around a table (in a list or a quote)
        wraps at the table's narrowest: its lines would run as long as the text, out of sight."""
        label = self.widget()
        narrowest = label.minimumSizeHint().width()
        if narrowest <= width or not label.text().startswith(TABLE):
            return max(width, narrowest)
        return max(narrowest, min(label.ideal_width(), 2 * width))

    def _fit(self, width: int) -> None:
        self.widget().setMinimumWidth(self._inner(width))

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._fit(event.size().width())
        super().resizeEvent(event)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        inner = self._inner(width)
        bar = self.horizontalScrollBar().sizeHint().height() if inner > width else 0
        return self.widget().heightForWidth(inner) + bar

    def sizeHint(self) -> QSize:
        width = self.widget().sizeHint().width()
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:
        narrowest = self.widget().minimumSizeHint().width()
        return QSize(min(narrowest, 8 * self.fontMetrics().averageCharWidth()), 0)

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Up and down go on to the conversation (a strip took them, and the conversation stopped scrolling under
        the pointer); sideways, or up and down with Shift, scroll the table (Shift went on to the conversation,
        which took it as a page step)."""
        delta = event.angleDelta()
        sideways = abs(delta.x()) > abs(delta.y())
        bar = self.horizontalScrollBar()
        if not (sideways or event.modifiers() & Qt.KeyboardModifier.ShiftModifier) or not bar.maximum():
            event.ignore()
            return
        steps = (delta.x() if sideways else delta.y()) / 120
        bar.setValue(bar.value() - round(steps * QApplication.wheelScrollLines() * bar.singleStep()))
        event.accept()


def widget_key(widget: QWidget, key: Qt.Key | str, slot: Callable[[], object]) -> QShortcut:
    """``key`` calls ``slot`` while ``widget`` has the focus (a list's F2 and Delete, a search box's Down)."""
    shortcut = QShortcut(QKeySequence(key), widget)
    shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
    shortcut.activated.connect(slot)
    return shortcut


def restyle(widget: QWidget, name: str, value: object) -> None:
    """Set a property the stylesheet selects on (``[state="error"]``) and draw the widget by it now: Qt applies
    the stylesheet's rules again only when told to."""
    widget.setProperty(name, value)
    widget.style().unpolish(widget)
    widget.style().polish(widget)


def fit_on_screen(widget: QWidget, width: int, height: int) -> None:
    """Size ``widget`` at ``width`` × ``height``, or less where its screen has less room (panels and docks left
    out; the frame takes some more): Settings opened 730 px tall on a 1080p screen at 200% (540 px of room), its
    Save and Apply below the screen's edge."""
    room = widget.screen().availableGeometry()
    widget.resize(min(width, round(room.width() * 0.95)), min(height, round(room.height() * 0.9)))


def field_label(text: str, field: QWidget | QLayout) -> QLabel:
    """A form's label tied to its field (the first widget of a row of several), so a screen reader names the field
    by it: Qt on Linux named the chat-model and address combo boxes by their current text ("SmolLM2 135M Instruct
    (98 MB) combo box"), their own accessible names unread, where no label was their buddy."""
    label = QLabel(text)
    while isinstance(field, QLayout) and field.count():
        field = field.itemAt(0).widget() or field.itemAt(0).layout()
    if isinstance(field, QWidget):
        label.setBuddy(field)
    return label


def section_title(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("SectionTitle")
    return label


class FlowLayout(QLayout):
    """Items left to right at their preferred size, wrapping onto the next row when the width runs out.

    Qt has no such layout (only its examples do). An answer's source chips need it: in a row layout five
    chips with real file names were squeezed below their text, which was cut on both sides.
    """

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._place(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._place(rect, move=True)

    def sizeHint(self) -> QSize:
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        margins = self.contentsMargins()
        return size + QSize(margins.left() + margins.right(), margins.top() + margins.bottom())

    def _place(self, rect: QRect, move: bool) -> int:
        """Lay the items out in ``rect`` (or only measure); the height they take."""
        margins = self.contentsMargins()
        area = rect.adjusted(margins.left(), margins.top(), -margins.right(), -margins.bottom())
        x, y, row_height, gap = area.x(), area.y(), 0, self.spacing()
        for item in self._items:
            if item.isEmpty():
                continue
            hint = item.sizeHint()
            width = min(hint.width(), area.width())  # one item wider than the row gets the row
            if x > area.x() and x + width > area.right() + 1:
                x, y, row_height = area.x(), y + row_height + gap, 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), QSize(width, hint.height())))
            x += width + gap
            row_height = max(row_height, hint.height())
        return y + row_height - rect.y() + margins.bottom()


def labelled_button(text: str, name: str, on_click: object, enabled: bool = True, tip: str = "") -> QPushButton:
    """A push button with its accessible name, enabled state, tooltip and click handler, in one call."""
    button = QPushButton(text)
    button.setAccessibleName(name)
    button.setEnabled(enabled)
    button.setToolTip(tip)
    button.clicked.connect(on_click)
    return button


class ProgressPanel(QFrame):
    """A download, a load or an import: a bar, what is happening, Cancel, and Resume once a download stopped."""

    cancelRequested = Signal()
    resumeRequested = Signal()

    def __init__(self, name: str) -> None:
        super().__init__()
        self.setObjectName("ProgressPanel")
        self.setAccessibleName(name)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setTextVisible(False)  # the label above says the percentage, with speed or ETA
        self.bar.setAccessibleName(f"{name} progress")
        self.cancel = labelled_button("Cancel", f"Cancel {name.lower()}", self.cancelRequested)
        self.resume = labelled_button("Resume", f"Resume {name.lower()}", self.resumeRequested)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel)
        row.addWidget(self.resume)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addWidget(self.label)
        layout.addLayout(row)
        self.hide()

    def running(self, text: str, percent: int | None) -> None:
        """In progress; ``percent`` None while the total is not known yet (a busy bar)."""
        self.label.setText(text)
        self.bar.setRange(0, 0 if percent is None else 100)
        self.bar.setValue(percent or 0)
        self.bar.show()
        self.cancel.show()
        self.resume.hide()
        self.show()

    def stopped(self, text: str, resumable: bool, action: str = "Resume") -> None:
        """Cancelled or failed: the message, and ``action`` (Resume when the partial file can be continued,
        Retry when nothing came yet: a first download that failed offered to resume nothing)."""
        self.label.setText(text)
        self.bar.setRange(0, 100)
        self.cancel.hide()
        self.resume.setText(action)
        self.resume.setAccessibleName(f"{action} {self.accessibleName().lower()}")
        self.resume.setVisible(resumable)
        self.show()

    def finished(self, text: str) -> None:
        self.label.setText(text)
        self.bar.hide()
        self.cancel.hide()
        self.resume.hide()
        self.show()
