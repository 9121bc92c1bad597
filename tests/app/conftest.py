"""GUI fixtures: a real main window over a real assistant (bundled SmolLM2) in the test's HEARTH_HOME.

Answers are kept short (``max_tokens``) and memory is off, so a streamed turn takes about a second on two
cores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gui_helpers import kept_style, write_settings
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow


@pytest.fixture(autouse=True)
def app_style(qapp) -> Iterator[None]:
    """Each test starts with the application's style as the first found it: a window restyled by Settings (dark,
    a larger font) kept the whole application so, and a later test's layout depended on which tests had run
    before it in its process (the Models view's pill and buttons took 431 pixels in one worker and fitted at 420 in
    another)."""
    with kept_style(qapp):
        yield


def open_window(qtbot: QtBot) -> MainWindow:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)
    with qtbot.waitSignal(window.ready, timeout=30_000) as blocker:
        pass
    assert blocker.args == [True], window.banner.label.text()
    return window


@pytest.fixture
def make_window(qtbot: QtBot, chat_model_path: Path) -> Iterator[Callable[[], MainWindow]]:
    """Open windows on demand (a second one after closing the first is a restart); all close at the end."""
    opened: list[MainWindow] = []

    def make() -> MainWindow:
        opened.append(open_window(qtbot))
        return opened[-1]

    yield make
    for window in opened:
        window.close()


@pytest.fixture
def window(make_window: Callable[[], MainWindow]) -> MainWindow:
    write_settings()
    return make_window()


@pytest.fixture
def ask(qtbot: QtBot) -> Callable[..., None]:
    """Type a question, press Enter, and wait for the answer to finish."""

    def run(window: MainWindow, text: str, timeout: int = 60_000) -> None:
        window.composer.edit.setPlainText(text)
        qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
        assert window.ctl is not None and window.ctl.chat.generating
        qtbot.waitUntil(lambda: not window.ctl.chat.generating, timeout=timeout)

    return run
