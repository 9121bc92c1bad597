"""A thin Qt list model over plain-Python items (conversations, search hits, collections, memories).

Why one generic adapter: every list in the window is "a Python list shown as rows"; the caller supplies
how an item reads (``display``) and its tooltip, the model supplies the begin/end brackets and the roles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

T = TypeVar("T")
ItemRole = Qt.ItemDataRole.UserRole + 1  # the plain-Python item itself

Index = QModelIndex | QPersistentModelIndex


class ListModel(QAbstractListModel, Generic[T]):
    def __init__(self, display: Callable[[T], str], tooltip: Callable[[T], str] | None = None) -> None:
        super().__init__()
        self._items: list[T] = []
        self._display = display
        self._tooltip = tooltip

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008  (Qt's signature)
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(item)
        if role == Qt.ItemDataRole.ToolTipRole and self._tooltip is not None:
            return self._tooltip(item)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self._display(item).replace("\n", ", ")
        if role == ItemRole:
            return item
        return None

    def roleNames(self) -> dict[int, bytes]:
        return super().roleNames() | {ItemRole: b"item"}

    def set_items(self, items: Sequence[T]) -> None:
        self.beginResetModel()
        self._items = list(items)
        self.endResetModel()

    def items(self) -> list[T]:
        return list(self._items)

    def item(self, row: int) -> T:
        return self._items[row]
