"""Dialogs of the knowledge flow: which collection dropped files go to, and the per-file error list."""

from __future__ import annotations

import html
import re
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

DEFAULT_COLLECTION = "default"


class CollectionDialog(QDialog):
    """Asks which collection to add dropped paths to; typing a new name creates one."""

    chosen = Signal(str)

    def __init__(self, paths: list[Path], collections: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add to your knowledge")
        self.setObjectName("CollectionDialog")
        names = ", ".join(p.name or str(p) for p in paths[:4]) + (f" and {len(paths) - 4} more"
                                                                   if len(paths) > 4 else "")
        self.intro = intro = QLabel(f"Add <b>{html.escape(names)}</b> to which collection?<br>Pick one, or type "
                                    "a new name to create it.")
        intro.setWordWrap(True)
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.setAccessibleName("Collection name")
        self.name.addItems(collections or [DEFAULT_COLLECTION])
        if paths and not collections:
            self.name.setEditText(_suggested_name(paths[0]))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add and index")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.name)
        layout.addWidget(buttons)
        self.accepted.connect(lambda: self.chosen.emit(self.name.currentText().strip() or DEFAULT_COLLECTION))


def _suggested_name(path: Path) -> str:
    stem = (path if path.is_dir() else path.parent).name.lower()
    cleaned = re.sub(r"-{2,}", "-", "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in stem)).strip("-_")
    return cleaned or DEFAULT_COLLECTION


class ErrorListDialog(QDialog):
    """The files an indexing run skipped, each with the reason, in a copyable list."""

    def __init__(self, errors: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Files that could not be indexed")
        self.setObjectName("ErrorListDialog")
        self.resize(640, 360)
        self.text = QPlainTextEdit("\n".join(f"{path}\n    {reason}" for path, reason in errors))
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Skipped files and reasons")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{len(errors)} file(s) were skipped:"))
        layout.addWidget(self.text)
        layout.addWidget(buttons)
