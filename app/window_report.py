"""A test and measurement hook: say when the window is on screen, with a screenshot.

``HEARTH_WINDOW_REPORT=/path/report.json`` (unset: nothing happens). When the main window is first painted,
Hearth writes that file (atomically) with ``shown_at`` (``time.time()`` at that moment, so a launcher can
subtract its own start time), ``titles`` (Qt's visible top-level windows) and ``screenshot``: the window
grabbed in-process (``QWidget.grab``, which works on every platform plugin, ``offscreen`` included) and
saved as ``report.png`` beside it. ``tests/packaging/test_package.py`` and ``packaging/measure.py`` use it to
find and time the frozen app's window; nothing else reads it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

ENV = "HEARTH_WINDOW_REPORT"


class _FirstPaint(QObject):
    def __init__(self, window: QWidget, target: Path) -> None:
        super().__init__(window)
        self.window, self.target, self.done = window, target, False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self.done and event.type() == QEvent.Type.Paint:
            self.done = True
            shown_at = time.time()
            QTimer.singleShot(0, self, lambda: self._report(shown_at))  # after this paint; dropped if closed first
        return False

    def _report(self, shown_at: float) -> None:
        self.window.removeEventFilter(self)
        picture = self.target.with_suffix(".png")
        saved = self.window.grab().save(str(picture), "PNG")
        titles = [w.windowTitle() for w in QApplication.topLevelWidgets() if w.isVisible() and w.isWindow()]
        report = {"shown_at": shown_at, "titles": titles, "screenshot": str(picture) if saved else None,
                  "platform": QApplication.platformName(), "pid": os.getpid()}
        part = self.target.with_suffix(".part")
        part.write_text(json.dumps(report), encoding="utf-8")
        os.replace(part, self.target)


def install(window: QWidget) -> None:
    """Report ``window``'s first paint to ``$HEARTH_WINDOW_REPORT`` when that is set."""
    target = os.environ.get(ENV)
    if target:
        window.installEventFilter(_FirstPaint(window, Path(target)))
