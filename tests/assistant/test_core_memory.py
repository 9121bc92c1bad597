"""Memory through the facade: a fact from one conversation reaches a new one after a restart; incognito."""

from __future__ import annotations

import pytest

from assistant.config import Settings
from assistant.core import Assistant
from assistant.engine import GREEDY
from assistant.events import MemoriesUsed
from assistant.knowledge import KnowledgeBase
from assistant.paths import get_paths


def _open(engine, knowledge_embedder) -> Assistant:
    settings = Settings()
    settings.model.max_tokens = 24
    paths = get_paths().ensure()
    return Assistant(paths, settings, engine=engine,
                     knowledge=KnowledgeBase(paths, settings.knowledge, embedder=knowledge_embedder))


@pytest.fixture
def fresh(engine, knowledge_embedder):
    opened: list[Assistant] = []

    def make() -> Assistant:
        opened.append(_open(engine, knowledge_embedder))
        return opened[-1]

    yield make
    for a in opened:
        a.scheduler.stop()
        a.history.close()
        if a._memory is not None:
            a._memory.close()


def test_a_fact_is_learned_in_the_background_and_used_in_a_new_conversation_after_restart(fresh) -> None:
    first = fresh()
    first.ask("I am vegetarian and I live in Lisbon.", sampling=GREEDY).text()
    first.scheduler.stop(drain_s=120)  # what close() does: a one-shot process learns before it exits
    assert first.memory.pending_count() == 0
    assert any("vegetarian" in m.text.lower() for m in first.memory.list())
    first.memory.close()
    first._memory = None  # the "restart": a new facade over the same data directory

    second = fresh()
    response = second.ask("What should I cook for dinner tonight?", sampling=GREEDY)
    used = [e for e in response if isinstance(e, MemoriesUsed)]
    assert used and any("vegetarian" in m.text.lower() for m in used[0].memories)
    saved = second.history.messages(response.done.conversation_id)[-1]
    assert any("vegetarian" in m["text"].lower() for m in saved.memories)


def test_incognito_reads_and_writes_nothing(fresh) -> None:
    a = fresh()
    a.memory.add("The user is vegetarian.")
    response = a.ask("I have a dog called Biscuit. What should I cook?", sampling=GREEDY, use_memory=False)
    assert not [e for e in response if isinstance(e, MemoriesUsed)]
    assert a.memory.pending_count() == 0
    assert [m.text for m in a.memory.list()] == ["The user is vegetarian."]
