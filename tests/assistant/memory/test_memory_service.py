"""MemoryService with the real SmolLM2 engine, the real embedder and a real Chroma store."""

from __future__ import annotations

import dataclasses
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator

import pytest

from assistant.chat.prompt import build_prompt
from assistant.config import MemorySettings
from assistant.engine import Engine
from assistant.memory import MemoryNotFoundError, secrets
from assistant.paths import get_paths

pytestmark = pytest.mark.slow


def test_a_fact_from_one_conversation_reaches_a_new_one_after_restart(open_memory, engine: Engine) -> None:
    first = open_memory()
    first.enqueue_turn("conv-1", "Hi! I'm vegetarian and my project is called Atlas.")
    first.close()  # killed before extraction: the turn waits on disk

    second = open_memory()
    assert second.pending_count() == 1
    assert second.process_pending() == 1 and second.pending_count() == 0
    second.close()

    third = open_memory()  # a restart, then a new conversation
    used = third.relevant("Can you suggest a dinner recipe I can eat?")
    assert any("vegetarian" in m.text.lower() for m in used)
    assert any(m.source_conversation == "conv-1" for m in used)
    block = third.prompt_block(used)
    built = build_prompt(system="You are Hearth.", history=[], question="Suggest a dinner recipe.",
                         n_ctx=engine.n_ctx, max_tokens=128, render=engine.render, question_context=block)
    assert "vegetarian" in built.prompt.text.lower() and "What you know about the user" in built.prompt.text


def test_a_contradicting_fact_supersedes_the_old_one(open_memory) -> None:
    memory = open_memory()
    memory.enqueue_turn("a", "I live in Paris.")
    memory.process_pending()
    [paris] = memory.list()
    memory.enqueue_turn("b", "I moved to Berlin last month.")
    memory.process_pending()

    [berlin] = memory.list()
    assert "berlin" in berlin.text.lower()
    old = next(m for m in memory.list(include_superseded=True) if m.id == paris.id)
    assert old.superseded_by == berlin.id  # kept as history...
    assert paris.id not in {m.id for m in memory.search("Where do I live?", 5)}  # ...never retrieved
    assert paris.id not in {m.id for m in memory.relevant("Which city is my home?")}


def test_forget_is_for_good(open_memory) -> None:
    memory = open_memory()
    memory.enqueue_turn("a", "I'm allergic to peanuts.")
    memory.enqueue_turn("b", "I'm allergic to peanuts, remember that.")  # same fact, still queued
    memory.process_pending(limit=1)
    [fact] = memory.list()
    memory.forget(fact.id)

    assert memory.process_pending() == 1  # the older turn may not bring it back
    assert memory.list(include_superseded=True) == []
    assert memory.search("Do I have allergies?", 5) == []
    with pytest.raises(MemoryNotFoundError):
        memory.get(fact.id)
    history = sqlite3.connect(get_paths().memory_dir / "history.sqlite3")
    assert history.execute("SELECT COUNT(*) FROM history WHERE memory_id = ?", (fact.id,)).fetchone() == (0,)
    assert memory.add("I'm allergic to peanuts").text == "I'm allergic to peanuts"  # said again later: kept


def test_what_another_process_stores_is_found_and_not_stored_twice(open_memory, monkeypatch, hearth_home) -> None:
    """Chroma's local client reads the vector index once: a memory `hearth memory add` stored while the window
    ran was listed but never found, so answers did not use it and learning stored it again."""
    import subprocess
    import sys

    from assistant.memory import service
    from assistant.memory.backend import reopen_local_store

    memory = open_memory()
    memory.add("User lives in Oslo")
    assert [m.text for m in memory.search("Where do I live?", 5)] == ["User lives in Oslo"]  # index read now
    reopened: list[object] = []

    def counted(store: object) -> None:
        reopened.append(store)
        reopen_local_store(store)

    monkeypatch.setattr(service, "reopen_local_store", counted)

    memory.add("User plays the cello")  # this process's own writes need no reopening
    assert [m.text for m in memory.search("What instrument do I play?", 1)] == ["User plays the cello"]
    assert reopened == []
    other = subprocess.run([sys.executable, "-m", "app", "memory", "add", "User has a dog called Biscuit"],
                           capture_output=True, text=True, env={**os.environ, "HEARTH_HOME": str(hearth_home)},
                           timeout=120)
    assert other.returncode == 0, other.stderr
    assert [m.text for m in memory.search("What is my dog called?", 1)] == ["User has a dog called Biscuit"]
    assert len(reopened) == 1
    memory.enqueue_turn("c", "My dog is called Biscuit.")
    memory.process_pending()
    assert len(memory.list()) == 3, [m.text for m in memory.list()]  # not learned a second time


def test_disabled_memory_reads_and_writes_nothing(open_memory) -> None:
    memory = open_memory()
    memory.add("User lives in Oslo")
    off = open_memory(MemorySettings(enabled=False))
    off.enqueue_turn("a", "I'm vegan.")
    assert off.pending_count() == 0 and off.process_pending() == 0
    assert off.relevant("Where do I live?") == []


def test_a_failed_model_step_skips_the_turn_without_losing_it(open_memory, scripted) -> None:
    memory = open_memory(llm=scripted(failures=1))
    memory.enqueue_turn("a", "I'm vegan.")
    memory.enqueue_turn("b", "I live in Oslo.")
    assert memory.process_pending(limit=1) == 1
    assert memory.pending_count() == 2 and memory.due_count() == 1  # kept, and retried after a back-off
    assert 50 < memory.next_retry_in() <= 60 and memory.failed_count() == 0
    assert memory.list() == []

    fixed = open_memory(llm=scripted())
    assert fixed.process_pending() == 1
    assert [m.text for m in fixed.list()] == ["User lives in Oslo"]


def test_facts_of_one_turn_never_supersede_each_other(open_memory, scripted) -> None:
    llm = scripted(yes=1.0)
    memory = open_memory(llm=llm)
    memory.enqueue_turn("a", "My dog is called Biscuit, my dog is a beagle.")
    memory.process_pending()
    assert len(llm.asked) == 3  # two facts, then the judge was asked, and said "replaces"...
    assert sorted(m.text for m in memory.list()) == ["User's dog is a beagle", "User's dog is called Biscuit"]


def test_a_correction_hides_what_it_replaces_and_ranks_above_what_it_corrects_in_part(open_memory, scripted) -> None:
    memory = open_memory(llm=scripted(yes=0.9, judge=0.0))
    memory.enqueue_turn("a", "My manager is called Priya.")
    memory.enqueue_turn("a", "My daughter Lúcia is 6 and obsessed with dinosaurs.")
    memory.process_pending()
    memory.enqueue_turn("a", "New manager as of today: Oleksandr. Priya left.")
    memory.enqueue_turn("a", "oh wait, my daughter is 7 not 6")
    memory.process_pending()
    assert sorted(m.text for m in memory.list()) == [
        "User's New manager as of today: Oleksandr", "User's daughter Lúcia is 6 and obsessed with dinosaurs",
        "User's daughter Lúcia is 7 not 6"]  # Priya is gone; the dinosaurs stay
    found = [m.text for m in memory.search("my daughter Lúcia is 6 and obsessed with dinosaurs", 2)]
    assert found == ["User's daughter Lúcia is 7 not 6", "User's daughter Lúcia is 6 and obsessed with dinosaurs"]


def test_a_denial_or_a_death_retires_the_fact_it_ends(open_memory, scripted) -> None:
    memory = open_memory(llm=scripted(yes=0.9, judge=0.0))
    memory.enqueue_turn("a", "I'm allergic to peanuts. I have a cat called Miso.")
    memory.process_pending()
    memory.enqueue_turn("a", "I'm not allergic to peanuts anymore.")
    memory.enqueue_turn("b", "Miso died last week.")  # says nothing of the user but through the stored fact
    memory.process_pending()
    assert sorted(m.text for m in memory.list()) == ["User is not allergic to peanuts anymore",
                                                      "User's cat Miso died last week"]


def test_a_learned_message_is_searched_for_secrets_once(open_memory, scripted, monkeypatch) -> None:
    """Learning searched each message with every secret shape twice: once for the secrets a fact may repeat,
    once to keep the message without them."""
    searched: list[str] = []

    class Counted:  # the first shape's pattern, counting the texts it searches
        def __init__(self, pattern: re.Pattern[str]) -> None:
            self.pattern, self.groupindex = pattern, pattern.groupindex

        def finditer(self, text: str) -> Iterator[re.Match[str]]:
            searched.append(text)
            return self.pattern.finditer(text)

        def sub(self, replace: Callable[[re.Match[str]], str], text: str) -> str:
            searched.append(text)
            return self.pattern.sub(replace, text)

    first, *rest = secrets._SHAPES
    monkeypatch.setattr(secrets, "_SHAPES", (dataclasses.replace(first, pattern=Counted(first.pattern)), *rest))
    memory = open_memory(llm=scripted(yes=0.9))
    said = "My dog is called Rex and my PIN is 4821."
    memory.enqueue_turn("a", said)
    assert memory.process_pending() == 1
    assert [(m.text, m.source_text) for m in memory.list()] == [
        ("User's dog is called Rex", "My dog is called Rex and my […].")]
    assert searched.count(said) == 1


def test_a_cancelled_job_leaves_the_turn_queued(open_memory) -> None:
    memory = open_memory()
    memory.enqueue_turn("a", "I play the cello.")
    cancel = threading.Event()
    cancel.set()
    assert memory.process_pending(cancel) == 0
    assert memory.pending_count() == 1


def test_user_control(open_memory) -> None:
    memory = open_memory()
    oslo = memory.add("User lives in Oslo")
    assert memory.add("user lives in oslo").id == oslo.id  # a duplicate is not stored twice
    cello = memory.add("User plays the cello")
    edited = memory.edit(cello.id, "User plays the viola")
    assert edited.text == "User plays the viola" and edited.created_at == cello.created_at
    assert [m.text for m in memory.search("Which instrument do I play?", 1)] == ["User plays the viola"]
    rome = memory.add("I moved to Rome")
    exported = {d["id"]: d for d in memory.export()}
    assert exported[oslo.id]["superseded_by"] == rome.id and len(exported) == 3
    with pytest.raises(MemoryNotFoundError):
        memory.edit("no-such-id", "x")
    assert memory.clear() == 3
    assert memory.list(include_superseded=True) == [] and memory.export() == []


def test_an_import_killed_between_its_writes_is_finished_by_importing_again(open_memory, monkeypatch) -> None:
    """An import stores a batch and marks the kept facts it replaces: two writes. Killed between them (a second
    Ctrl+C, a power cut), the old home and the new one both stayed active for good, since importing again
    found the new one "already kept". The kept fact is now marked first, and an entry without an id gets the
    same one at every import, so importing again finishes the job whichever write it stopped after."""
    memory = open_memory()
    oslo = memory.add("User lives in Oslo")
    data = [{"text": "User lives in Bergen", "updated_at": "2099-01-01T00:00:00+00:00"}, {"text": "User plays go"}]
    writes = 0

    def then_killed(write):
        def wrapped(*args, **kwargs):
            nonlocal writes
            if writes:
                raise KeyboardInterrupt
            writes += 1
            return write(*args, **kwargs)
        return wrapped

    with monkeypatch.context() as patch:
        patch.setattr(memory._mem0, "update", then_killed(memory._mem0.update))
        patch.setattr(memory._mem0.vector_store, "insert", then_killed(memory._mem0.vector_store.insert))
        with pytest.raises(KeyboardInterrupt):
            memory.import_(data)
    assert writes == 1
    report = memory.import_(data)
    assert report.added == 2 and report.already == 0
    assert sorted(m.text for m in memory.list()) == ["User lives in Bergen", "User plays go"]
    bergen = next(m for m in memory.list() if m.text == "User lives in Bergen")
    assert memory.get(oslo.id).superseded_by == bergen.id
    assert memory.import_(data).already == 2
