"""Left sidebar: new chat, conversation search and list, knowledge collections, indexing, settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, QRect, QSize, Qt, Signal, SignalInstance
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.icons import icon
from app.qt_models import ItemRole, ListModel
from app.views.indexing_panel import IndexingPanel
from app.views.widgets import section_title, tool_button, widget_key


class _WrappedRows(QStyledItemDelegate):
    """Rows as tall as their text wrapped where it is drawn. Qt's own size hint wraps it at the row's full
    width, but the style sheet's item padding makes it wrap narrower: a 30-character title took a third line
    the row had no room for, and the date line under it was cut off."""

    #: The item padding in resources/style.qss (``#Sidebar QListView::item``), and the room the style keeps
    #: around an item's text (its margins, and a scroll bar's rounding), on each side.
    PAD_X, PAD_Y, TEXT_MARGIN = 8, 6, 6

    def __init__(self, parent: QListView) -> None:
        super().__init__(parent)
        #: each row's size by its text, the list's width and the font: selecting a chat laid every row out again,
        #: 150 ms at 1,500 chats on each chat opened
        self._sizes: dict[tuple[str, int, str], QSize] = {}

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        view = option.widget
        width = view.viewport().width() if isinstance(view, QListView) else option.rect.width()
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        key = (text, width, option.font.key())
        if key not in self._sizes:
            if len(self._sizes) > 20_000:
                self._sizes.clear()
            text_width = max(width - 2 * (self.PAD_X + self.TEXT_MARGIN), 40)
            wrapped = option.fontMetrics.boundingRect(QRect(0, 0, text_width, 1 << 20),
                                                      int(Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft),
                                                      text)
            self._sizes[key] = QSize(width, wrapped.height() + 2 * self.PAD_Y + 2)
        return self._sizes[key]


def _on_rows_changed(model: ListModel, slot: Callable[[], object]) -> None:
    """Call ``slot`` whenever ``model``'s rows change (in number, order or content)."""
    for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved, model.dataChanged, model.layoutChanged):
        signal.connect(lambda *_: slot())


def _list(model: ListModel, name: str) -> QListView:
    view = QListView()
    view.setModel(model)
    view.setItemDelegate(_WrappedRows(view))
    view.setAccessibleName(name)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
    view.setWordWrap(True)
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setResizeMode(QListView.ResizeMode.Adjust)
    view.setUniformItemSizes(False)
    view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)

    def tab_stop_when_filled() -> None:  # an empty list took the focus with nothing on screen to show it
        view.setFocusPolicy(Qt.FocusPolicy.StrongFocus if model.rowCount() else Qt.FocusPolicy.NoFocus)

    _on_rows_changed(model, tab_stop_when_filled)
    tab_stop_when_filled()
    return view


class _KnowledgeArea(QScrollArea):
    """The knowledge list and the indexing card, scrolling together where the sidebar is too short for them and a
    whole chat: at font size 18 in a 1024 × 640 window they took every pixel and the chats list got none, and the
    card, squeezed, cut its title ("“notes” is ready: 1 file indexed (1"). Tab to the card's buttons scrolls them
    into sight (the scroll area does so for the focus), and the card, while shown, stays in sight as the area's
    height or its parts change: a run just started, or its summary and Close, are not left below the list."""

    def __init__(self, collections: QListView, card: QWidget) -> None:
        super().__init__()
        self.setObjectName("KnowledgeArea")
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a Tab stop with no name: its parts take the focus
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.viewport().setAutoFillBackground(False)  # the sidebar's colour, as the lists have
        inner = QWidget()
        inner.setObjectName("KnowledgeParts")
        layout = QVBoxLayout(inner)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(collections)
        layout.addWidget(card)
        self.card = card
        self.setWidget(inner)
        inner.installEventFilter(self)
        self.verticalScrollBar().rangeChanged.connect(lambda *_: self._reveal_card())

    def sizeHint(self) -> QSize:
        """As tall as its parts: a scroll area's own hint is a fixed size, whatever it holds."""
        return QSize(super().sizeHint().width(), self.widget().sizeHint().height() + 2 * self.frameWidth())

    def minimumSizeHint(self) -> QSize:
        """Its scroll bar's least, or less where its parts need less (none: nothing)."""
        hint = super().minimumSizeHint()
        return QSize(hint.width(), min(hint.height(), self.sizeHint().height()))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # a part shown, hidden or rewrapped: the sidebar's layout asks the hint again
        return super().eventFilter(watched, event)

    def _reveal_card(self) -> None:
        """Scrolled down just enough for the card's bottom, never past its top (its title) where it is taller than
        the area (Qt's ensureWidgetVisible centres it, cutting both)."""
        if not self.card.isHidden():
            card, bar = self.card.geometry(), self.verticalScrollBar()
            bar.setValue(min(card.top(), max(bar.value(), card.bottom() + 1 - self.viewport().height())))


#: The keys the sidebar's parts take, for the window's list of shortcuts (bound in Sidebar.__init__)
KEYS = (("Down", "From the search box, into the list of chats"), ("F2", "Rename the chat in focus"),
        ("Delete", "Delete the chat in focus"),
        ("Shift+F10, Menu", "The menu of the chat or collection in focus: export, watch for changes, rename…"))


class Sidebar(QFrame):
    newChatRequested = Signal()
    searchChanged = Signal(str)
    conversationActivated = Signal(object)  # the item of the row
    searchOpened = Signal()  # Enter in the search box opened its best hit: the next keys go to the message box
    renameRequested = Signal(object)
    deleteRequested = Signal(object)
    exportRequested = Signal(object)
    addFolderRequested = Signal()
    removeCollectionRequested = Signal(object)
    renameCollectionRequested = Signal(object)
    collectionErrorsRequested = Signal(object)  # the collection's info, when it has skipped files
    watchToggled = Signal(object, bool)  # the collection's info, and whether to watch its folders
    settingsRequested = Signal()
    memoryRequested = Signal()
    modelsRequested = Signal()

    #: Narrower, the chat titles are cut short; the footer's labelled buttons may need more (a large font).
    MIN_WIDTH = 230
    #: The most the footer's whole labels may make the sidebar need: beyond (font size 24 needed 487 px, with a
    #: window of 1,350 px at least) they shorten, then leave their icons alone, so the window fits a laptop.
    MAX_LABELLED_WIDTH = 360

    def minimumSizeHint(self) -> QSize:
        """At least :data:`MIN_WIDTH`, and wide enough for the buttons' whole labels up to
        :data:`MAX_LABELLED_WIDTH`: with a fixed minimum, font size 16 cut them to "Se…gs" and "Me…ry"."""
        hint = super().minimumSizeHint()
        margins = self.layout().contentsMargins()
        labels = sum(b.sizeHint().width() for b in self.footer_buttons) + self.footer.spacing() * 2
        labelled = labels + margins.left() + margins.right()
        labelled = labelled if labelled <= self.MAX_LABELLED_WIDTH else 0  # beyond, they show their icons
        return QSize(max(self.MIN_WIDTH, hint.width(), labelled), hint.height())

    def __init__(self, conversations: ListModel, collections: ListModel) -> None:
        super().__init__()
        self.setObjectName("Sidebar")
        self.new_chat = QPushButton(icon("new-chat"), "New chat")
        self.new_chat.setAccessibleName("New chat")
        self.new_chat.setToolTip("New chat (Ctrl+N)")
        self.new_chat.clicked.connect(self.newChatRequested)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search chats (Ctrl+K)")
        self.search.setAccessibleName("Search conversations")
        self.search.setClearButtonEnabled(True)
        self.search.addAction(icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        self.search.textChanged.connect(self.searchChanged)
        self.search.returnPressed.connect(self._open_first)  # Enter opens the best hit, Down walks the list
        widget_key(self.search, Qt.Key.Key_Down, self._into_list)
        self.search_note = QLabel()  # how many chats match, or that more match than are listed
        self.search_note.setObjectName("Muted")
        self.search_note.setWordWrap(True)
        self.search_note.hide()
        self.conversations = _list(conversations, "Conversations")
        self.conversations.clicked.connect(lambda index: self.conversationActivated.emit(index.data(ItemRole)))
        self.conversations.activated.connect(lambda index: self.conversationActivated.emit(index.data(ItemRole)))
        self.conversations.customContextMenuRequested.connect(self._conversation_menu)
        for key, signal in ((Qt.Key.Key_F2, self.renameRequested), (Qt.Key.Key_Delete, self.deleteRequested)):
            widget_key(self.conversations, key, lambda signal=signal: self._on_current(signal))
        self._menu_key(self.conversations)
        self.collections = _list(collections, "Knowledge collections")
        self.collections.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.collections.customContextMenuRequested.connect(self._collection_menu)
        self.collections.clicked.connect(lambda index: self._show_errors(index.data(ItemRole)))
        self._menu_key(self.collections)
        _on_rows_changed(collections, self._fit_collections)
        add_folder = tool_button("folder", "Add a folder to your knowledge", text="Add")
        add_folder.clicked.connect(self.addFolderRequested)
        self.indexing = IndexingPanel()
        settings = tool_button("settings", "Settings (Ctrl+,)", text="Settings")
        settings.clicked.connect(self.settingsRequested)
        memory = tool_button("memory", "What Hearth remembers", text="Memory")
        memory.clicked.connect(self.memoryRequested)
        models = tool_button("open-file", "Get, switch and remove models", text="Models")
        models.clicked.connect(self.modelsRequested)

        knowledge_header = QHBoxLayout()
        knowledge_header.addWidget(section_title("Knowledge"))
        knowledge_header.addStretch(1)
        knowledge_header.addWidget(add_folder)
        self.footer = footer = QHBoxLayout()
        footer.setSpacing(2)
        self.footer_buttons = (settings, memory, models)  # their whole labels set the minimum width
        for button in self.footer_buttons:
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            footer.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 8)
        layout.setSpacing(6)
        layout.addWidget(self.new_chat)
        layout.addWidget(self.search)
        layout.addWidget(self.search_note)
        layout.addWidget(section_title("Chats"))
        # the chats give room to the indexing panel's summary in a short window (it was cut, the empty list kept
        # its 90 px), all but one whole chat (see _keep_a_chat_in_sight)
        policy = self.conversations.sizePolicy()
        policy.setVerticalPolicy(QSizePolicy.Policy.Ignored)  # what is left over, however little
        self.conversations.setSizePolicy(policy)
        _on_rows_changed(conversations, self._keep_a_chat_in_sight)
        layout.addWidget(self.conversations, 1)
        layout.addLayout(knowledge_header)
        self.knowledge = _KnowledgeArea(self.collections, self.indexing)
        layout.addWidget(self.knowledge)
        layout.addLayout(footer)

    #: The knowledge list grows with its rows up to this many pixels, or this share of the sidebar in a taller
    #: window, then scrolls; the chats list takes the rest.
    MAX_COLLECTIONS_HEIGHT, MAX_COLLECTIONS_SHARE = 190, 0.4

    def _fit_collections(self) -> None:
        """As tall as its rows (none: no room at all), up to its cap: it kept 165 px while empty, and in a short
        window the chats list shrank to one row and a half; with a fixed 190 px a fourth collection scrolled out
        of sight in a tall window while an empty chats list took the height."""
        view = self.collections
        rows = sum(view.sizeHintForRow(r) for r in range(view.model().rowCount()))
        cap = max(self.MAX_COLLECTIONS_HEIGHT, int(self.height() * self.MAX_COLLECTIONS_SHARE))
        view.setFixedHeight(min(rows + 2 * view.frameWidth() + (4 if rows else 0), cap))

    def _keep_a_chat_in_sight(self) -> None:
        """The chats list is never shorter than its first row: it gave all its height to the knowledge part (0 px
        at font size 18 in a 1024 × 640 window, two-thirds of a row at scale 1.5 in 910 × 512); that part scrolls
        instead."""
        view = self.conversations
        row = view.sizeHintForRow(0) if view.model().rowCount() else 0
        view.setMinimumHeight(row + 2 * view.frameWidth() if row > 0 else 0)

    def resizeEvent(self, event: QResizeEvent) -> None:  # rows wrap anew at another width
        super().resizeEvent(event)
        self._fit_collections()
        self._keep_a_chat_in_sight()

    def _item_at(self, view: QListView, pos: QPoint) -> object | None:
        index: QModelIndex = view.indexAt(pos)
        return index.data(ItemRole) if index.isValid() else None

    def _conversation_menu(self, pos: QPoint) -> None:
        item = self._item_at(self.conversations, pos)
        if item is None:
            return
        menu = QMenu(self)
        menu.addAction(icon("edit"), "Rename…", lambda: self.renameRequested.emit(item))
        menu.addAction(icon("export"), "Export…", lambda: self.exportRequested.emit(item))
        menu.addAction(icon("trash"), "Delete…", lambda: self.deleteRequested.emit(item))
        menu.popup(self.conversations.viewport().mapToGlobal(pos))

    def _collection_menu(self, pos: QPoint) -> None:
        item = self._item_at(self.collections, pos)
        if item is None:
            return
        menu = QMenu(self)
        watch = menu.addAction("Watch for changes")
        watch.setCheckable(True)
        watch.setChecked(bool(getattr(item, "watched", False)))
        watch.setToolTip("Re-index edited, new, deleted and renamed files within seconds")
        watch.toggled.connect(lambda on: self.watchToggled.emit(item, on))
        if getattr(item, "errors", 0):
            menu.addAction("Show skipped files…", lambda: self.collectionErrorsRequested.emit(item))
        menu.addAction(icon("edit"), "Rename…", lambda: self.renameCollectionRequested.emit(item))
        menu.addAction(icon("trash"), "Remove from Hearth…", lambda: self.removeCollectionRequested.emit(item))
        menu.popup(self.collections.viewport().mapToGlobal(pos))

    def set_search_note(self, text: str) -> None:
        self.search_note.setText(text)
        self.search_note.setVisible(bool(text))

    def _into_list(self) -> None:
        model = self.conversations.model()
        if model.rowCount():
            self.conversations.setCurrentIndex(model.index(0, 0))
            self.conversations.setFocus()

    def _open_first(self) -> None:
        index = self.conversations.model().index(0, 0)
        if self.search.text().strip() and index.isValid():
            self.conversationActivated.emit(index.data(ItemRole))
            self.searchOpened.emit()  # a follow-up is typed next (the cursor stayed in the search box)

    @staticmethod
    def _menu_key(view: QListView) -> None:
        """Shift+F10 opens the menu of the row in focus, as the Menu key does: Export, and a collection's Watch,
        Rename and Remove, were only in that menu, which many laptop keyboards had no key for."""
        widget_key(view, "Shift+F10",
                   lambda: view.customContextMenuRequested.emit(view.visualRect(view.currentIndex()).center()))

    def step_conversation(self, step: int) -> None:
        """Open the chat ``step`` rows below (above, when negative) the one selected, as a click would."""
        model, current = self.conversations.model(), self.conversations.currentIndex()
        row = (current.row() + step) if current.isValid() else (0 if step > 0 else model.rowCount() - 1)
        if 0 <= row < model.rowCount():
            index = model.index(row, 0)
            self.conversations.setCurrentIndex(index)
            self.conversationActivated.emit(index.data(ItemRole))

    def _on_current(self, signal: SignalInstance) -> None:
        """Emit ``signal`` with the selected conversation's item (F2 and Delete on the list)."""
        item = self.conversations.currentIndex().data(ItemRole)
        if item is not None:
            signal.emit(item)

    def _show_errors(self, item: object) -> None:
        if getattr(item, "errors", 0):
            self.collectionErrorsRequested.emit(item)

    def show_conversations(self, entries: Sequence[object], current: str | None) -> None:
        """List ``entries`` with the chat ``current`` selected. The list keeps its place while the same chat stays
        selected: each reading of the list (after every answer, and as other processes change chats) scrolled it
        back to the selected chat, and one that found nothing new was drawn anew all the same."""
        view, model = self.conversations, self.conversations.model()
        if list(entries) == model.items():
            self.select_conversation(current)
            return
        selected = getattr(view.currentIndex().data(ItemRole), "conversation_id", None)
        place = self._place()
        model.set_items(entries)
        self.select_conversation(current)
        if current == selected:
            self._back_to(place)

    def _place(self) -> tuple[str, int, int]:
        """Where the user has scrolled the chats to: the chat of the first row in view ("" at the very top, where
        a chat made is shown), how many pixels of it are above the view, and the scroll bar's value. The value
        alone was kept: a chat asked in a terminal came in at the top and moved every row in view down by one."""
        view = self.conversations
        value = view.verticalScrollBar().value()
        index = view.indexAt(QPoint(view.viewport().width() // 2, 0))
        if value == 0 or not index.isValid():
            return "", 0, 0
        return getattr(index.data(ItemRole), "conversation_id", ""), -view.visualRect(index).top(), value

    def _back_to(self, place: tuple[str, int, int]) -> None:
        """The chats scrolled to ``place`` (see :meth:`_place`); its chat gone (deleted), to the same value."""
        view, model = self.conversations, self.conversations.model()
        bar = view.verticalScrollBar()
        chat, offset, value = place
        row = next((r for r in range(model.rowCount())
                    if chat and getattr(model.item(r), "conversation_id", None) == chat), None)
        if row is None:
            bar.setValue(value)
            return
        view.doItemsLayout()  # (laid out on a later turn of the event loop: the rows had no place yet)
        view.scrollTo(model.index(row, 0), QAbstractItemView.ScrollHint.PositionAtTop)
        bar.setValue(bar.value() + offset)

    def select_conversation(self, conversation_id: str | None) -> None:
        model = self.conversations.model()
        for row in range(model.rowCount()):
            if getattr(model.index(row, 0).data(ItemRole), "conversation_id", None) == conversation_id:
                self.conversations.setCurrentIndex(model.index(row, 0))
                return
        self.conversations.clearSelection()
