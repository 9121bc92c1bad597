"""The Models view: the library (fit pills, Use, Remove), the curated catalog, and a Hugging Face search.

A download and a model load each show in a :class:`ProgressPanel` at the bottom, whichever tab is open:
percentage, speed or ETA, Cancel, and (for a stopped download) Resume. The view only displays and emits
requests; :class:`app.controllers.models.ModelsController` runs them on worker lanes.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QBoxLayout,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.views.widgets import ProgressPanel, fit_on_screen, labelled_button

if TYPE_CHECKING:
    from assistant.models import LibraryEntry
    from assistant.models.hub import HubRepo
    from assistant.models.service import CatalogRow

#: Pill colours per fit label: (text, background); readable on the light and the dark theme alike.
PILL_COLORS = {"Fits": ("#1e6b34", "#dcf0e1"), "Tight": ("#7a4b00", "#fbecc8"), "Won't fit": ("#9b2317", "#f9dcd8")}


def size_text(size: int) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def pill(label: str, reason: str = "") -> QLabel:
    """A coloured Fits / Tight / Won't fit label; the reason is its tooltip."""
    widget = QLabel(label)
    widget.setObjectName("FitPill")
    widget.setAccessibleName(f"Fit: {label}")
    widget.setToolTip(reason)
    fg, bg = PILL_COLORS.get(label, ("#444444", "#e6e6e6"))
    widget.setStyleSheet(f"QLabel#FitPill {{ color: {fg}; background: {bg}; border-radius: 9px; "
                         "padding: 2px 10px; font-weight: 600; }")
    widget.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return widget


#: The narrowest the text of a row gets with its buttons beside it.
_TEXT_WIDTH = 240
#: The most characters of a title shown (the middle of a longer one gives way to "…").
_TITLE_CHARS = 64


class ModelRow(QFrame):
    """One model: a title with an optional badge, a details line, a muted note, a fit pill and buttons."""

    def __init__(self, title: str, details: str, note: str = "", fit: QLabel | None = None,
                 buttons: tuple[QPushButton, ...] = (), badge: str = "") -> None:
        super().__init__()
        self.setObjectName("ModelRow")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        # a title does not wrap: a 200-character file name made the list scroll 640 px sideways, hiding the end
        # of every row's note (its whole name is the tooltip)
        shown = title if len(title) <= _TITLE_CHARS else f"{title[:_TITLE_CHARS - 13]}…{title[-12:]}"
        self.title = QLabel(f"<b>{html.escape(shown)}</b>" + (f"  <i>{badge}</i>" if badge else ""))
        self.title.setAccessibleName(title)
        self.title.setToolTip(title if shown != title else "")
        self.details = QLabel(details)
        self.note = QLabel(note)
        self.note.setObjectName("Muted")
        for label in (self.details, self.note):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fit = fit
        self.buttons = buttons
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.details)
        if note:
            text.addWidget(self.note)
        self.side = QWidget()  # the pill and the buttons: beside the text, or under it in a narrow window
        side = QHBoxLayout(self.side)
        side.setContentsMargins(0, 0, 0, 0)
        if fit is not None:
            side.addWidget(fit, 0, Qt.AlignmentFlag.AlignTop)
        for button in buttons:
            side.addWidget(button, 0, Qt.AlignmentFlag.AlignTop)
        self.layout_ = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self.text = text
        self.layout_.addLayout(text, 1)
        self.layout_.addWidget(self.side, 0, Qt.AlignmentFlag.AlignTop)

    def wide_width(self) -> int:
        """The width the row needs with the buttons beside the text (wrapped to _TEXT_WIDTH, or its title's)."""
        margins = self.layout_.contentsMargins()
        text = max(_TEXT_WIDTH, self.text.minimumSize().width())  # the title does not wrap
        return (text + self.layout_.spacing() + self.side.sizeHint().width() + margins.left()
                + margins.right() + 2 * self.frameWidth())

    def fit_to(self, width: int) -> None:
        """The buttons go under the text when ``width`` is too narrow for them beside it: at 420 pixels the
        view scrolled sideways to reach Remove."""
        narrow = width < self.wide_width()
        self.layout_.setDirection(QBoxLayout.Direction.TopToBottom if narrow else QBoxLayout.Direction.LeftToRight)
        self.layout_.setAlignment(self.side, Qt.AlignmentFlag.AlignLeft if narrow else Qt.AlignmentFlag.AlignTop)


def _message(text: str) -> QLabel:
    """A list's message (nothing found, why a search failed), wrapped: on one line the end of an error, what
    to do about it, was behind a horizontal scroll bar."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class RowList(QScrollArea):
    """A scrolling column of rows, replaced as a whole, with a message when there are none."""

    filled = Signal()  # new rows: the dialog puts its own buttons after them in the Tab order

    def __init__(self, empty: str) -> None:
        super().__init__()
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a Tab stop with no name; a row Tab reaches is scrolled to
        self.empty = empty
        self.rows: list[QWidget] = []
        self.set_rows([])

    def set_rows(self, rows: list[QWidget], empty: str | None = None) -> None:
        self.rows = rows
        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 4, 4, 4)
        for row in rows or [_message(empty or self.empty)]:
            column.addWidget(row)
        column.addStretch(1)
        self.setWidget(body)
        self._fit_rows()
        self.filled.emit()

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:  # the window's width, or a vertical scroll bar came or went
            self._fit_rows()
        return super().viewportEvent(event)

    def _fit_rows(self) -> None:
        """Each row lays itself out for the width shown (the viewport's, less the column's margins): the row's
        own width would never be narrow, as the scroll area widens its contents to their minimum."""
        margins = self.widget().layout().contentsMargins()
        width = self.viewport().width() - margins.left() - margins.right()
        for row in self.rows:
            if isinstance(row, ModelRow):
                row.fit_to(width)


class ModelsDialog(QDialog):
    useRequested = Signal(object)  # Path
    removeRequested = Signal(object)  # LibraryEntry
    selfDraftRequested = Signal(object)  # LibraryEntry
    downloadRequested = Signal(str, str)  # repo, file
    searchRequested = Signal(str)
    addRequested = Signal(object)  # Path: a model file, or a folder of them, to list in the library
    foldersRequested = Signal()  # the folders listed, each of which can stop being listed
    activated = Signal()  # the user came back to it: the library may have changed meanwhile (a terminal)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.setObjectName("ModelsDialog")
        fit_on_screen(self, 760, 600)
        self.tabs = QTabWidget()
        self.library = RowList("Reading the library…")
        self.catalog = RowList("Reading the catalog…")
        self.query = QLineEdit()
        self.query.setPlaceholderText("Search Hugging Face for GGUF models, e.g. qwen2.5 instruct")
        self.query.setAccessibleName("Search Hugging Face")
        self.query.setClearButtonEnabled(True)
        self.query.returnPressed.connect(self._search)
        self.search_button = labelled_button("Search", "Search Hugging Face", self._search)
        self.results = RowList("Search the Hugging Face Hub: Hearth goes online only while it searches or "
                               "downloads.")
        search_page = QWidget()
        search_row = QHBoxLayout()
        search_row.addWidget(self.query, 1)
        search_row.addWidget(self.search_button)
        search_column = QVBoxLayout(search_page)
        search_column.addLayout(search_row)
        search_column.addWidget(self.results, 1)
        self.tabs.addTab(self.library, "Library")
        self.tabs.addTab(self.catalog, "Catalog")
        self.tabs.addTab(search_page, "Search Hugging Face")
        self.download = ProgressPanel("Download")
        self.draft = ProgressPanel("Self-draft")
        self.load = ProgressPanel("Model load")
        self.buttons = buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        # a model file already on disk, as LM Studio's and GPT4All's import (only Settings → Browse… had it)
        self.add_file = labelled_button("Add model file…", "Add a model file to the library", self._add_file)
        self.add_folder = labelled_button("Add folder…", "Add a folder of model files to the library",
                                          self._add_folder)
        self.folders = labelled_button("Folders…", "The folders of models Hearth lists", self.foldersRequested.emit,
                                       tip="The folders you added, each of which Hearth can stop listing")
        for button in (self.add_file, self.add_folder, self.folders):
            button.setAutoDefault(False)  # Return in the Hub search field opened the file chooser
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.download)
        layout.addWidget(self.draft)
        layout.addWidget(self.load)
        layout.addWidget(buttons)
        for rows in (self.library, self.catalog, self.results):
            rows.filled.connect(lambda rows=rows: self._close_after(rows))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.activated.emit()

    def _add_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a model file", "", "GGUF models (*.gguf);;All files (*)")
        if path:
            self.addRequested.emit(Path(path))

    def _add_folder(self) -> None:
        if folder := QFileDialog.getExistingDirectory(self, "Add a folder of models"):
            self.addRequested.emit(Path(folder))

    def _close_after(self, rows: RowList) -> None:
        """Close comes after ``rows`` (just filled) in the Tab order, as on screen: rows filled in later came
        after it (Tab went from the list to Close, then back up to the row's Use)."""
        focusable = [w for w in rows.widget().findChildren(QWidget) if w.focusPolicy() & Qt.FocusPolicy.TabFocus]
        if focusable:
            QWidget.setTabOrder(focusable[-1], self.buttons.button(QDialogButtonBox.StandardButton.Close))

    def _search(self) -> None:
        if query := self.query.text().strip():
            self.results.set_rows([], f"Searching Hugging Face for “{query}”…")
            self.searchRequested.emit(query)

    # --- filling the tabs ------------------------------------------------------------------------------
    def set_library(self, entries: list[LibraryEntry], current: Path) -> None:
        self.library.set_rows([self._library_row(e, e.path == current) for e in entries],
                              "No models yet: get one from the Catalog or search Hugging Face.")

    def _library_row(self, e: LibraryEntry, current: bool) -> ModelRow:
        usable = e.info is not None and not current
        use = labelled_button("Use", f"Use {e.shown}", lambda: self.useRequested.emit(e.path), usable)
        why_not = ("It is the model in use: switch to another model first." if current and e.removable else
                   "" if e.removable else "Bundled models stay." if e.bundled else
                   "It is in a folder you added, and stays there: Folders… stops listing that folder.")
        remove = labelled_button("Remove", f"Remove {e.shown}", lambda: self.removeRequested.emit(e), not why_not,
                                 why_not)
        if e.info is None or e.fit is None:
            return ModelRow(e.shown, f"{e.file} · {e.source}", e.error or "", None, (use, remove))
        i = e.info
        details = f"{i.params_label()} · {i.quantization} · {size_text(i.file_size)} · {e.source}"
        buttons = (use, self._draftlabelled_button(e), remove) if e.self_draft is not None else (use, remove)
        fit = e.fit.said()
        return ModelRow(e.shown, details, fit, pill(e.fit.label, fit), buttons,
                        "current" if current else "")

    def _draftlabelled_button(self, e: LibraryEntry) -> QPushButton:
        """Make the model's self-draft (what Settings → Model's "Self" mode drafts with), greyed with the reason
        when it gets none or has one: the settings sent users to `hearth models draft` in a terminal."""
        state = e.self_draft
        assert state is not None
        tip = ("Made: it drafts for this model when the speculative mode is Self or Auto (Settings → Model)."
               if state.made else state.reason or
               "Make a lower-bit copy of this model that drafts for it in speculative decoding (modes Self and "
               "Auto): seconds for a small model, minutes for a large one.")
        return labelled_button("Self-draft made" if state.made else "Make self-draft",
                               f"Make a self-draft of {e.shown}", lambda: self.selfDraftRequested.emit(e),
                               state.can_make, tip)

    def set_catalog(self, rows: list[CatalogRow]) -> None:
        self.catalog.set_rows([self._catalog_row(r) for r in rows])

    def _catalog_row(self, r: CatalogRow) -> ModelRow:
        e = r.entry
        get = labelled_button("Installed" if r.installed else "Download", f"Download {e.name}",
                      lambda: self.downloadRequested.emit(e.repo, e.file), not r.installed)
        details = f"{e.params} · {e.quantization} · {size_text(e.size)} · {e.license}"
        return ModelRow(e.name, details, e.description, pill(r.fit), (get,))

    def set_results(self, query: str, repos: list[HubRepo]) -> None:
        rows: list[QWidget] = []
        for repo in repos:
            header = QLabel(f"<b>{repo.id}</b>  ·  {repo.downloads:,} downloads · {repo.likes:,} likes")
            header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            rows.append(header)
            for f in repo.files:
                get = labelled_button("Download", f"Download {f.file}",
                              lambda _=False, f=f: self.downloadRequested.emit(f.repo, f.file))
                rows.append(ModelRow(f.file, size_text(f.size), "", pill(f.fit), (get,)))
        self.results.set_rows(rows, f"No GGUF models on Hugging Face match “{query}”.")

    def search_failed(self, message: str) -> None:
        self.results.set_rows([], message)
