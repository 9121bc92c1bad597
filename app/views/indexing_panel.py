"""The background-indexing card: progress bar, files done/total, ETA, cancel, and the per-file errors."""

from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout

from assistant.events import Progress, counted, reading, time_left

#: The bar's steps when it shows a share of the work (fine enough to move every embedded batch of a large file).
_STEPS = 1000


class IndexingPanel(QFrame):
    cancelRequested = Signal()
    errorsRequested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("IndexingPanel")
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Indexing progress")
        self.bar.setRange(0, 0)
        self.bar.setTextVisible(False)
        self.detail = QLabel()
        self.detail.setObjectName("Muted")
        self.detail.setWordWrap(True)
        self.queued = QLabel()  # what was dropped while this run went on: added when it ends
        self.queued.setObjectName("Muted")
        self.queued.setWordWrap(True)
        self.queued.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel indexing")
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.errors_button = QPushButton()
        self.errors_button.setAccessibleName("Show files that could not be indexed")
        self.errors_button.clicked.connect(self.errorsRequested)
        self.errors_button.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.errors_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(self.title)
        layout.addWidget(self.bar)
        layout.addWidget(self.detail)
        layout.addWidget(self.queued)
        layout.addLayout(buttons)
        self._last: Progress | None = None
        self.collection: str | None = None  # the collection the panel is about
        self._stopping = False  # Cancel was pressed: no time left is shown until the run ends
        self._ahead = ""  # the run's work ahead, once the core says it is large (see WorkAhead)
        self.hide()

    def sizeHint(self) -> QSize:
        """As tall as all its words need at the width it has: the sidebar gave it the height of its one-line
        hint, and at font size 16 a summary of three lines was cut through its first and last ("… Left out: 2
        files of types Hearth does not read (.jpg, .zip)."). A hint, not a minimum: a minimum made the window
        taller than the screen, where the chat list above can give the room."""
        hint, layout = super().sizeHint(), self.layout()
        return QSize(hint.width(), max(hint.height(), layout.totalHeightForWidth(self.width()))) if layout else hint

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.updateGeometry()  # its words wrap anew: another height

    def start(self, collection: str, title: str = "") -> None:
        self._last, self.collection, self._stopping, self._ahead = None, collection, False, ""
        self.title.setText(title or f"Adding to “{collection}”…")
        self.bar.setRange(0, 0)
        self.detail.setText("Looking for files…")
        self.errors_button.hide()
        self.bar.show()  # a finished run hid them
        self.detail.show()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setAccessibleName("Cancel indexing")
        self.cancel_button.setEnabled(True)
        self.show()

    def set_queued(self, collections: list[str]) -> None:
        """The runs waiting for this one, by the collection each adds to (none: the line goes)."""
        names = ", ".join(f"“{c}”" for c in collections)
        self.queued.setText(f"Next: adding to {names}, when this run ends." if collections else "")
        self.queued.setVisible(bool(collections))

    def update_progress(self, progress: Progress) -> None:
        self._last = progress
        if progress.ahead is not None:
            self._ahead = progress.ahead.text()
        total = int(progress.total or 0)
        if progress.share is not None:  # by the work done: by whole files it stood at 0 / 1 while one large
            # file embedded for minutes (the text below still counts files)
            self.bar.setRange(0, _STEPS)
            self.bar.setValue(round(progress.share * _STEPS))
        elif total:
            self.bar.setRange(0, total)
            self.bar.setValue(int(progress.done))
        self.detail.setText(_detail(progress, with_eta=not self._stopping, ahead=self._ahead))
        self.set_errors(len(progress.errors))

    def stopping(self) -> None:
        """Cancel was pressed: said at once. The passages being embedded finish first (seconds for a batch of
        long ones), and meanwhile the panel said "Adding to …", "about 1 min 51 s left", as if the click did
        nothing."""
        self._stopping = True
        self.title.setText(f"Stopping “{self.collection}”: finishing the passages being embedded…")
        if self._last is not None:
            self.detail.setText(_detail(self._last, with_eta=False))
        self.cancel_button.setEnabled(False)

    def counts_differ(self, progress: Progress) -> bool:
        """Whether ``progress`` counts other files than the progress shown last."""
        last = self._last
        return last is None or (last.done, last.total) != (progress.done, progress.total)

    def set_errors(self, count: int) -> None:
        self.errors_button.setText(f"{counted(count, 'file')} skipped…")
        self.errors_button.setVisible(count > 0)

    def finish(self, text: str, complete: bool = True) -> None:
        """Leave the final state visible (the error list stays reachable) until the user closes it. A run that
        completed shows its sentence and its buttons only: its full bar and "1 / 1 files done · 0.7 chunks/s" said
        nothing the sentence does not, and took the height of the chats list in a short window. A run that stopped
        early keeps its bar where it stopped and its counts (how far it got), without its rate and time left."""
        self.title.setText(text)
        if self.bar.maximum() == 0:
            self.bar.setRange(0, 1)
        self.bar.setVisible(not complete)
        self.detail.setVisible(not complete)
        if self._last is not None:
            self.detail.setText(_detail(self._last, with_eta=False, with_rate=False))
        self.cancel_button.setEnabled(True)  # Cancel greyed it while the run stopped: now it closes the panel
        self.cancel_button.setText("Close")
        self.cancel_button.setAccessibleName("Close the indexing summary")


def _detail(progress: Progress, with_eta: bool, with_rate: bool = True, ahead: str = "") -> str:
    """"12 / 40 files · 3.1 chunks/s", and the time left while the run goes on, over the work ahead of a large
    run (``ahead``: "3,303 passages to embed: about 3 min …") and the file being read."""
    rate = f" · {progress.rate:.1f} chunks/s" if progress.rate and with_rate else ""
    # files done (indexed, or skipped with a reason): the file being read, below, runs ahead of them while a
    # batch is embedded; "68 / 68 files indexed" stood beside a row saying "67 files · 1 skipped"
    unit = "files done" if progress.unit in ("", "files") else progress.unit
    text = f"{int(progress.done)} / {int(progress.total or 0)} {unit}{rate}"
    if not with_eta:
        return text
    text = f"{text} · {time_left(progress.eta_s) or 'estimating…'}"
    if ahead:
        text = f"{text}\n{ahead[0].upper()}{ahead[1:]}."
    # the file being read, named as the terminal names it: during a large file's minutes of embedding the bar
    # (whole files) stood still and nothing said what was going on
    return f"{text}\nReading {reading(progress)}" if progress.item else text
