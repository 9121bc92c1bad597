"""An answer killed at random points: the history stays intact, the question is kept, the partial answer
is a prefix of what was streamed and flagged as interrupted; the next start answers normally."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fakes import fake_engine
from kill import SEEDS, kill_after_first_line, start_child

from assistant.chat.history import History
from assistant.config import Settings
from assistant.core import Assistant
from assistant.paths import get_paths

REPLY = " ".join(f"word{i}" for i in range(300))
CHILD = f"""
    from fakes import fake_engine
    from assistant.config import Settings
    from assistant.core import Assistant
    from assistant.paths import get_paths

    settings = Settings()
    settings.memory.enabled = False
    a = Assistant(get_paths(), settings, engine=fake_engine(reply=lambda _p: {REPLY!r}, token_delay_s=0.005))
    print("started", flush=True)
    a.ask("Tell me a long story.").text()
    print("finished", flush=True)
"""


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_mid_answer_keeps_the_history_intact(seed: int, home: Path, monkeypatch) -> None:
    kill_after_first_line(start_child(CHILD, home), seed, window_s=1.6)
    db = home / "data" / "history.sqlite3"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with History(db) as history:
        conversations = history.list_conversations()
        assert len(conversations) <= 1
        for conv in conversations:
            question, *answer = history.messages(conv.id)
            assert question.role == "user" and question.content == "Tell me a long story."
            for reply in answer:
                assert REPLY.startswith(reply.content.strip()) and (reply.partial or reply.content == REPLY)

    monkeypatch.setenv("HEARTH_HOME", str(home))
    settings = Settings()
    settings.memory.enabled = False
    again = Assistant(get_paths(), settings, engine=fake_engine())
    try:
        assert again.ask("Still there?").text() == "You said: Still there?"
    finally:
        again.close(learning_s=0)
