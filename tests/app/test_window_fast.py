"""The window's chat bookkeeping over a fake engine and embedder (tests/fakes.py): milliseconds per turn.

The same flows run over the real model in test_chat.py; here the assertions can be exact, because the fake
answers "You said: <question>".
"""

from __future__ import annotations

from fakes import FakeEmbedder, fake_engine
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from assistant.config import Settings
from assistant.core import Assistant
from assistant.knowledge import KnowledgeBase
from assistant.paths import get_paths


def fake_assistant() -> Assistant:
    settings = Settings()
    settings.memory.enabled = False
    paths = get_paths()
    return Assistant(paths, settings, engine=fake_engine(),
                     knowledge=KnowledgeBase(paths, settings.knowledge, embedder=FakeEmbedder()))


def send(qtbot: QtBot, window: MainWindow, text: str) -> None:
    window.composer.edit.setPlainText(text)
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not window.ctl.chat.generating, timeout=10_000)


def test_regenerate_and_edit_replace_the_turn_in_the_window_and_the_history(qtbot: QtBot) -> None:
    window = MainWindow(opener=fake_assistant)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.ready, timeout=30_000):
        pass
    send(qtbot, window, "First question.")
    send(qtbot, window, "Second question.")
    chat, history = window.ctl.chat, window.assistant.history
    shown = [m.text for m in window.chat_view.messages]
    assert shown == ["First question.", "You said: First question.", "Second question.", "You said: Second question."]

    chat.regenerate()
    qtbot.waitUntil(lambda: not chat.generating, timeout=10_000)
    chat.edit_last()
    assert window.composer.edit.toPlainText() == "Second question."
    send(qtbot, window, "Second question, edited.")
    stored = [(m.role, m.content) for m in history.messages(chat.conversation_id)]
    assert stored[2:] == [("user", "Second question, edited."), ("assistant", "You said: Second question, edited.")]
    assert len(stored) == 4 and [m.text for m in window.chat_view.messages] == [c for _, c in stored]
    ids = [m.message_id for m in window.chat_view.messages]
    assert ids == [m.id for m in history.messages(chat.conversation_id)]  # the widgets know their stored ids
    window.close()


def test_the_memory_chip_follows_the_memory_setting(qtbot: QtBot) -> None:
    """With memory switched off in Settings the composer's chip read "Memory on" (and its tooltip "Memory is on
    for the next message"); now it says off and cannot be ticked, and turning memory on in Settings brings back
    this chat's choice at once."""
    window = MainWindow(opener=fake_assistant)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.ready, timeout=30_000):
        pass
    chip = window.composer.memory
    assert (chip.text(), chip.isEnabled(), window.composer.use_memory()) == ("Memory off", False, False)
    assert "Settings → Memory" in chip.toolTip()
    for enabled, shown in ((True, "Memory on"), (False, "Memory off")):
        window.ctl.model.lastApplied = None
        dialog = window.open_settings("memory")
        dialog.memory_enabled.setChecked(enabled)
        dialog.accept()
        qtbot.waitUntil(lambda: window.ctl.model.lastApplied is not None, timeout=10_000)
        assert window.assistant.settings.memory.enabled is enabled
        assert (chip.text(), chip.isEnabled(), window.composer.use_memory()) == (shown, enabled, enabled)
    window.close()
