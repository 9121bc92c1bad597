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


def test_learning_between_two_questions_leaves_the_chat_for_the_second_to_reuse(fresh) -> None:
    """Learning ran its prompts in the engine's one context after each answer, so with memory on (the default)
    every next question read the whole chat again."""
    a = fresh()
    first = a.ask("I keep bees and I live in Bergen. Which flowers do bees like?", sampling=GREEDY)
    first.text()
    a.scheduler.stop(drain_s=120)  # the learner runs now, on the same engine
    assert a.memory.pending_count() == 0 and any("bergen" in m.text.lower() for m in a.memory.list())
    second = a.ask("Which of them flower in spring?", first.done.conversation_id, sampling=GREEDY)
    second.text()
    assert second.done.stats.reused_tokens >= first.done.stats.prompt_tokens


def _learned(assistant: Assistant, *said: str) -> list:
    """Say each message in one conversation, through ``ask``, then let the core's learner finish."""
    conversation = None
    for text in said:
        response = assistant.ask(text, conversation, sampling=GREEDY)
        response.text()
        conversation = response.done.conversation_id
    assistant.scheduler.stop(drain_s=120)
    assert assistant.memory.pending_count() == 0
    return assistant.memory.list(include_superseded=True)


@pytest.mark.slow
def test_facts_inside_requests_are_learned_and_questions_hypotheticals_and_quotes_are_not(fresh) -> None:
    memories = _learned(fresh(),
                        "Can you suggest a gift for my wife Marta? She loves gardening.",
                        "what's the capital of Peru?",
                        "If I were a pilot, how much would I earn?",
                        "translate to german: 'my sister lives in Vienna and has three kids'",
                        "thanks, that was helpful!")
    assert [m.text for m in memories] == ["User's wife Marta loves gardening"]


@pytest.mark.slow
def test_a_correction_supersedes_the_old_fact(fresh) -> None:
    assistant = fresh()
    memories = _learned(assistant, "Hi! We just moved to Porto last month.",
                        "Update: we moved again, we now live in Braga.",
                        "My manager is called Priya.", "New manager as of today: Oleksandr. Priya left.")
    by_text = {m.text: m for m in memories}
    porto = next(m for m in memories if "Porto" in m.text)
    priya = by_text["User's manager is called Priya"]
    assert not porto.active and "Braga" in by_text_of(memories, porto.superseded_by)
    assert not priya.active and "Oleksandr" in by_text_of(memories, priya.superseded_by)
    found = [m.text for m in assistant.memory.search("Where do I live?", 5)]
    assert any("Braga" in t for t in found) and not any("Porto" in t for t in found)


def by_text_of(memories: list, memory_id: str | None) -> str:
    return next(m.text for m in memories if m.id == memory_id)
