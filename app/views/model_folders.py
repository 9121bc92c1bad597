"""The folders of models the library lists (Models → Folders…), each with "Stop listing".

A folder added with "Add folder…" could not be taken out of the window: every model row from it had Remove
greyed, and only `hearth models remove FOLDER` stopped listing it. The view only displays and emits; the
models controller asks, and stops listing the folder through the facade the CLI uses (which refuses the folder
holding the model in use, with what to do).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from app.views.models_view import ModelRow, RowList
from app.views.widgets import fit_on_screen, labelled_button

if TYPE_CHECKING:
    from assistant.models.service import FolderContents


class ModelFoldersDialog(QDialog):
    stopRequested = Signal(object)  # Path: a folder to stop listing

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model folders")
        fit_on_screen(self, 620, 360)
        intro = QLabel("Hearth lists the models in these folders, and in the folders inside them. Stop listing a "
                       "folder and its files stay where they are.")
        intro.setWordWrap(True)
        self.rows = RowList("Reading the folders…")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.rows, 1)
        layout.addWidget(buttons)

    def set_folders(self, folders: list[tuple[Path, FolderContents]]) -> None:
        self.rows.set_rows([self._row(folder, held) for folder, held in folders],
                           "No folders added: Models → Add folder… lists the models of a folder, such as LM "
                           "Studio's or GPT4All's.")

    def _row(self, folder: Path, held: FolderContents) -> ModelRow:
        stop = labelled_button("Stop listing", f"Stop listing {folder}", lambda: self.stopRequested.emit(folder))
        stop.setAutoDefault(False)  # Return on the dialog did not mean the first folder
        return ModelRow(folder.name or str(folder), str(folder),
                        f"It {held.holds()}.", None, (stop,))
