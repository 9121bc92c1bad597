"""Non-blocking dialogs (``open()``, never ``exec()``): the event loop keeps running and tests can drive them.

Their text is plain: it holds chat titles, file and collection names and error messages, which may contain
``<`` and ``&`` (a chat titled "<h1>Big</h1>" showed a heading in the delete confirmation)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QInputDialog, QMessageBox, QWidget


def deleted_on_close(dialog: QDialog, holder: object | None = None) -> None:
    """Delete ``dialog`` once it closes; ``holder`` (a controller whose ``dialog`` is this one) lets go of it as it
    goes. Each Settings and memory window opened stayed alive as the main window's child: every restyle went over
    all of them, and Apply froze the window longer each time Settings had been opened (0.3 s, then 2 s)."""
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if holder is not None:
        dialog.destroyed.connect(lambda *_: _let_go(holder, dialog))


def _let_go(holder: object, dialog: QDialog) -> None:
    if getattr(holder, "dialog", None) is dialog:  # a newer dialog may have taken its place
        holder.dialog = None  # type: ignore[attr-defined]


def show_error(parent: QWidget, title: str, message: str) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setObjectName("ErrorDialog")
    deleted_on_close(box)  # as Settings: a closed one stayed, and was restyled
    box.open()
    return box


def confirm(parent: QWidget, title: str, message: str, action: str, on_yes: Callable[[], None]) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Question, title, message, QMessageBox.StandardButton.Cancel, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    yes = box.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)  # Enter on a delete prompt keeps things, as Esc does
    box.buttonClicked.connect(lambda button: on_yes() if button is yes else None)
    deleted_on_close(box)
    box.open()
    return box


def confirm_with_option(parent: QWidget, title: str, message: str, action: str, option: str,
                        on_yes: Callable[[bool], None]) -> QMessageBox:
    """:func:`confirm` with a tick box, unticked, whose state ``on_yes`` gets ("Also forget ...")."""
    check = QCheckBox(option)
    box = confirm(parent, title, message, action, lambda: on_yes(check.isChecked()))
    box.setCheckBox(check)
    return box


def ask_text(parent: QWidget, title: str, label: str, text: str, on_ok: Callable[[str], None]) -> QInputDialog:
    dialog = QInputDialog(parent)
    dialog.setWindowTitle(title)
    dialog.setLabelText(label)
    dialog.setTextValue(text)
    dialog.textValueSelected.connect(lambda value: on_ok(value.strip()) if value.strip() else None)
    deleted_on_close(dialog)
    dialog.open()
    # OK is off while the text is blank: a blank title was dropped without a word (the CLI says "A chat's title
    # cannot be empty.")
    buttons = dialog.findChild(QDialogButtonBox)
    if buttons is not None and (ok := buttons.button(QDialogButtonBox.StandardButton.Ok)) is not None:
        ok.setEnabled(bool(text.strip()))
        dialog.textValueChanged.connect(lambda value: ok.setEnabled(bool(value.strip())))
    return dialog
