"""Dialogs of the knowledge flow: which collection dropped files go to, and the per-file error list."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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

from app.views.dialogs import deleted_on_close
from app.views.widgets import fit_on_screen
from assistant.events import counted

DEFAULT_COLLECTION = "default"


class CollectionDialog(QDialog):
    """Asks which collection to add dropped paths to; typing a new name creates one."""

    chosen = Signal(str)

    def __init__(self, paths: list[Path], collections: list[str], name_problem: Callable[[str], str | None],
                 parent: QWidget | None = None,
                 overlaps: Callable[[str | None], Sequence[Any]] | None = None) -> None:
        """``overlaps(into)`` (:class:`Overlap`): where the paths hold files a collection other than ``into`` holds
        already (``None``: any collection); the first one's collection is offered, and the dialog says what another
        name would copy (a subfolder of an indexed folder went into a new collection without a word, and every
        search of both found its passages twice)."""
        super().__init__(parent)
        self._name_problem = name_problem
        self._overlaps = overlaps or (lambda _into: ())
        self._overlaps_into: dict[str, Sequence[Any]] = {}
        self.setWindowTitle("Add to your knowledge")
        self.setObjectName("CollectionDialog")
        deleted_on_close(self)  # one per drop: closed ones stayed the window's
        names = ", ".join(p.name or str(p) for p in paths[:4]) + (f" and {len(paths) - 4} more"
                                                                   if len(paths) > 4 else "")
        self.intro = intro = QLabel(f"Add <b>{html.escape(names)}</b> to which collection?<br>Pick one, or type "
                                    "a new name to create it.")
        intro.setWordWrap(True)
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.setAccessibleName("Collection name")
        # room for a long suggested name: at about 264 px the box showed "as-jahresabschlussprojekt-2" of it
        self.name.setMinimumContentsLength(64)  # the longest name a collection may have
        self.name.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.name.addItems(collections or [DEFAULT_COLLECTION])
        self.overlap = QLabel()
        self.overlap.setObjectName("Muted")
        self.overlap.setWordWrap(True)
        self.problem = QLabel()
        self.problem.setObjectName("Warning")
        self.problem.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Add and index")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.name)
        layout.addWidget(self.overlap)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.name.editTextChanged.connect(self._check_name)
        # the folder's own name, also next to other collections (the first was offered: Enter merged into it),
        # unless a collection holds it; a collection it holds is said in the note (it was offered, and "Add and
        # index" put a whole folder into the collection of one of its subfolders)
        self._holds = ()
        if paths:  # (a name with nothing Latin left is empty: "default", not the first collection)
            every = self._overlaps(None)
            held = [o for o in every if o.inside]
            self._holds = tuple(o for o in every if not o.inside)  # collections of folders inside the dropped one
            suggested = held[0].collection if held else _suggested_name(paths[0])
            self.name.setEditText(suggested if name_problem(suggested) is None else "")
        self._check_name(self.name.currentText())
        self.accepted.connect(lambda: self.chosen.emit(self._chosen_name()))

    def _chosen_name(self) -> str:
        return self.name.currentText().strip() or DEFAULT_COLLECTION

    def _check_name(self, _text: str) -> None:
        """A name that cannot be a collection is said under it while it is typed, and "Add and index" waits for a
        usable one: the window's indexing run failed only after the user had confirmed."""
        problem = self._name_problem(self._chosen_name())
        self.problem.setText(problem or "")
        self.problem.setVisible(problem is not None)
        self.ok.setEnabled(problem is None)
        self._show_overlaps(self._chosen_name() if problem is None else None)

    def _show_overlaps(self, name: str | None) -> None:
        """The second copies adding to ``name`` would make, said as it is typed (none for an unusable name).
        Computed once for all names, the note told a user re-adding a collection's own folder to that very
        collection that "another collection holds a second" copy: there was no other."""
        if name is not None and name not in self._overlaps_into:
            self._overlaps_into[name] = self._overlaps(name)
        found = self._overlaps_into[name] if name is not None else ()
        lines = [f"{o.describe(_quoted)}. Adding it to “{name}” makes a second copy of {o.files}, found twice when "
                 f"both are searched; adding it to “{o.collection}” keeps one." for o in found[:3]]
        # the folder's own name can be that of a collection of a folder inside it: it grew unsaid
        lines += [f"{o.describe(_quoted)}. Adding it to “{name}” puts the rest of {Path(o.path).name or o.path} in "
                  "that collection too." for o in self._holds if o.collection == name][:3]
        self.overlap.setText("<br>".join(html.escape(line) for line in lines))
        self.overlap.setVisible(bool(lines))


def _quoted(name: str) -> str:
    return f"“{name}”"


def _suggested_name(path: Path) -> str:
    """The folder's name as a collection name, which is ASCII: accents dropped ('Notizen für München' →
    'notizen-fur-munchen'), another script transliterated by anyascii ('заметки' → 'zametki'; the first
    existing collection was offered for it, and Enter merged the folder into that one); "" when nothing is
    left (a name of symbols only, '★★')."""
    from anyascii import anyascii

    stem = anyascii((path if path.is_dir() else path.parent).name).lower()
    ascii_only = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in stem)
    name = re.sub(r"-{2,}", "-", ascii_only).strip("-_")
    if len(name) > 64:  # at a word's end where one is near: "…-jahresabschlussprojekt-2024" was cut to "…-2"
        end = max(name.rfind("-", 0, 65), name.rfind("_", 0, 65))
        name = name[:end] if end >= 40 else name[:64]
    return name.strip("-_")


class ErrorListDialog(QDialog):
    """The files an indexing run skipped, each with the reason, in a copyable list."""

    def __init__(self, errors: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Files that could not be indexed")
        self.setObjectName("ErrorListDialog")
        deleted_on_close(self)
        fit_on_screen(self, 640, 360)
        self.text = QPlainTextEdit("\n".join(f"{path}\n    {reason}" for path, reason in errors))
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Skipped files and reasons")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{counted(len(errors), 'file')} {'was' if len(errors) == 1 else 'were'} skipped:"))
        layout.addWidget(self.text)
        layout.addWidget(buttons)
