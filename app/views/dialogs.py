"""Non-blocking dialogs (``open()``, never ``exec()``): the event loop keeps running and tests can drive them.

Their text is plain: it holds chat titles, file and collection names and error messages, which may contain
``<`` and ``&`` (a chat titled "<h1>Big</h1>" showed a heading in the delete confirmation)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox, QWidget


def show_error(parent: QWidget, title: str, message: str) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setObjectName("ErrorDialog")
    box.open()
    return box


def confirm(parent: QWidget, title: str, message: str, action: str, on_yes: Callable[[], None]) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Question, title, message, QMessageBox.StandardButton.Cancel, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    yes = box.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)  # Enter on a delete prompt keeps things, as Esc does
    box.buttonClicked.connect(lambda button: on_yes() if button is yes else None)
    box.open()
    return box


def ask_text(parent: QWidget, title: str, label: str, text: str, on_ok: Callable[[str], None]) -> QInputDialog:
    dialog = QInputDialog(parent)
    dialog.setWindowTitle(title)
    dialog.setLabelText(label)
    dialog.setTextValue(text)
    dialog.textValueSelected.connect(lambda value: on_ok(value.strip()) if value.strip() else None)
    dialog.open()
    return dialog
