"""The list of keyboard shortcuts (F1): every key the window and its parts take, and what it does.

Three shortcuts were said in tooltips and the search box's hint, and the rest nowhere: a keyboard-only user
found Esc (stop), F2 (rename) or the context menus' Shift+F10 only by trying keys. The rows come from where the
keys are bound (the window's table, the sidebar's and the composer's), so the list cannot drift from them.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.views.widgets import fit_on_screen


class ShortcutsDialog(QDialog):
    """``rows``: (keys, what they do), in the order given."""

    def __init__(self, rows: Sequence[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.table = QTableWidget(len(rows), 2)
        self.table.setAccessibleName("Keyboard shortcuts")
        self.table.setHorizontalHeaderLabels(["Keys", "What they do"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        for row, (keys, does) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(keys))
            self.table.setItem(row, 1, QTableWidgetItem(does))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.resizeRowsToContents()
        # and again at each width the text column takes: measured before the dialog was shown, rows kept the height
        # of text wrapped in a narrower column (gaps under F6, Ctrl+PgUp, Esc)
        header.sectionResized.connect(lambda *_: self.table.resizeRowsToContents())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        rows_height = self.table.verticalHeader().length() + header.height() + 2 * self.table.frameWidth()
        # within the screen: at font size 20 it opened 1,002 px tall on an 800 px screen
        room = (parent or self).screen().availableGeometry()
        self.table.setMinimumHeight(min(rows_height + 2, self.fontMetrics().height() * 30, int(room.height() * 0.6)))
        fit_on_screen(self, self.fontMetrics().averageCharWidth() * 90, self.sizeHint().height())
        self.table.setFocus()
        self.table.setCurrentCell(0, 0)

    def rows(self) -> list[tuple[str, str]]:
        """What the table shows, row by row."""
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text()) for r in range(self.table.rowCount())]
