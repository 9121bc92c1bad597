"""The Assistant facade through real parts: engine + SQLite history, overflow, a killed process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant.chat.history import History
from assistant.config import Settings
from assistant.core import Assistant
from assistant.engine import GREEDY
from assistant.events import Failed, Notice, Token
from assistant.paths import get_paths

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def assistant(engine) -> Assistant:
    settings = Settings()
    settings.memory.enabled = False  # memory has its own tests
    settings.model.max_tokens = 32
    a = Assistant(get_paths(), settings, engine=engine)
    yield a
    a.history.close()


def test_answer_is_saved_with_stats(assistant: Assistant) -> None:
    response = assistant.ask("Name a colour.", sampling=GREEDY)
    events = list(response)
    assert any(isinstance(e, Token) for e in events)
    done = response.done
    assert done is not None and done.text == response.text()
    msgs = assistant.history.messages(done.conversation_id)
    assert [m.role for m in msgs] == ["user", "assistant"]
    assert msgs[1].content == done.text and not msgs[1].partial
    assert msgs[1].stats["completion_tokens"] == done.stats.completion_tokens


def test_follow_up_reuses_the_prefix(assistant: Assistant) -> None:
    first = assistant.ask("Name a colour.", sampling=GREEDY)
    first.text()
    second = assistant.ask("Name another one.", first.done.conversation_id, sampling=GREEDY)
    second.text()
    s = second.done.stats
    assert s.reused_tokens > 0 and s.evaluated_tokens < s.prompt_tokens


def test_cancelled_answer_is_kept_and_flagged(assistant: Assistant) -> None:
    assistant.settings.model.max_tokens = 200
    response = assistant.ask("Tell me a long story about a dragon.", sampling=GREEDY)
    for n, event in enumerate(response):
        if isinstance(event, Token) and n == 3:
            response.cancel()
    assert response.done.stats.stop_reason == "cancelled"
    saved = assistant.history.messages(response.done.conversation_id)[-1]
    assert saved.partial and saved.content == response.done.text != ""


def test_context_overflow_drops_oldest_turns_and_says_so(engine, chat_model_path: Path) -> None:
    from assistant.engine import Engine, LoadSettings

    small = Engine()
    small.load(chat_model_path, LoadSettings(n_ctx=256))
    settings = Settings()
    settings.memory.enabled = False  # memory has its own tests
    settings.model.max_tokens = 48
    a = Assistant(get_paths(), settings, engine=small)
    try:
        conv = a.history.create_conversation("long")
        for i in range(6):
            a.history.add_message(conv.id, "user", f"Question {i}: " + "tell me about the weather " * 6)
            a.history.add_message(conv.id, "assistant", "It is sunny and warm today. " * 4)
        response = a.ask("And tomorrow?", conv.id, sampling=GREEDY)
        events = list(response)
        notices = [e for e in events if isinstance(e, Notice) and e.kind == "context"]
        assert notices and "oldest" in notices[0].message
        s = response.done.stats
        assert s.dropped_turns > 0
        assert s.prompt_tokens + s.completion_tokens <= 256

        huge = a.ask("word " * 400, sampling=GREEDY)
        failed = [e for e in huge if isinstance(e, Failed)]
        assert failed and "context holds 256" in failed[0].message
    finally:
        a.history.close()
        small.unload()


def test_process_killed_mid_answer_keeps_partial_answer(hearth_home: Path) -> None:
    """A real child streams an answer and is SIGKILLed: the question and the partial answer survive."""
    child = textwrap.dedent(
        """
        import sys
        from assistant.core import Assistant
        from assistant.engine import GREEDY
        from assistant.events import Token
        a = Assistant.open()
        a.settings.model.max_tokens = 400
        n = 0
        for event in a.ask("Write a very long story about a lighthouse keeper.", sampling=GREEDY):
            if isinstance(event, Token):
                n += 1
                if n == 40:
                    print("streaming", flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", child], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "HEARTH_HOME": str(hearth_home)})
    try:
        assert proc.stdout.readline().strip() == "streaming"
        import time

        time.sleep(1.0)  # past at least one checkpoint
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    with History(get_paths().history_db) as history:
        [conv] = history.list_conversations()
        user, reply = history.messages(conv.id)
        assert user.content.startswith("Write a very long story")
        assert reply.partial and len(reply.content) > 20
