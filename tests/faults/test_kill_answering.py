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


ASK_AND_DIE = """
    from app.__main__ import main
    print("started", flush=True)
    main(["ask", "--max-tokens", "400", "My cat is called Pixel. Write a long story about a lighthouse keeper."])
"""


def test_a_turn_whose_answer_was_killed_is_learned_from_later(home: Path) -> None:
    """Killed mid-answer (a crash, `kill -9`), a turn was never queued for memory: it was queued once its answer
    ended, so "My cat is called Pixel" was never learned, and nothing said so. The next opening of the memory
    store (here `hearth memory status`) queues it, once."""
    import json
    import os
    import signal
    import subprocess
    import sys

    from kill import ROOT

    child = start_child(ASK_AND_DIE, home)
    assert child.stdout is not None and child.stdout.readline().strip() == "started"
    child.stdout.read(20)  # the answer is streaming
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    env = {**os.environ, "HEARTH_HOME": str(home), "HF_HUB_OFFLINE": "1"}

    def status() -> dict:
        done = subprocess.run([sys.executable, "-m", "app", "memory", "status", "--json"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    assert status()["pending_turns"] == 1
    assert status()["pending_turns"] == 1  # queued once
    with History(home / "data" / "history.sqlite3") as history:
        [conversation] = history.list_conversations()
        question, answer = history.messages(conversation.id)
        assert answer.partial and "learning" not in (question.stats or {})
