"""Small building blocks shared by the views: flat icon buttons and section titles."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QLabel, QToolButton, QWidget

from app.icons import icon


def tool_button(icon_name: str, tip: str, parent: QWidget | None = None, *, checkable: bool = False,
                text: str = "") -> QToolButton:
    """An icon button with a tooltip and an accessible name (screen readers read the tip)."""
    button = QToolButton(parent)
    button.setObjectName("Flat")
    button.setIcon(icon(icon_name))
    button.setIconSize(QSize(18, 18))
    button.setToolTip(tip)
    button.setAccessibleName(tip)
    button.setCheckable(checkable)
    if text:
        button.setText(text)
        button.setToolButtonStyle(button.toolButtonStyle().ToolButtonTextBesideIcon)
    return button


def section_title(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("SectionTitle")
    return label
