"""Unit tests of the memory rules: no model needed (a scripted fake LLM stands in where one is asked)."""

from __future__ import annotations

import pytest

from assistant.memory.conflicts import Candidate, judge, slot_of
from assistant.memory.errors import ModelOutputError
from assistant.memory.extraction import candidates, extract_facts, grounded
from assistant.memory.records import MemoryItem


@pytest.mark.parametrize(("said", "expected"), [
    ("I'm allergic to peanuts, can you suggest a snack?", ["I'm allergic to peanuts"]),
    ("How do I sort a list in Python?", []),
    ("Tell me a joke about cats.", []),
    ("What is my name?", []),
    ("Hi! I moved to Berlin last month.", ["I moved to Berlin last month"]),
])
def test_only_first_person_statements_reach_the_model(said: str, expected: list[str]) -> None:
    assert candidates(said) == expected


def test_grounding_drops_invented_facts() -> None:
    said = "I'm allergic to peanuts"
    assert grounded("User has a food allergy to peanuts", said)
    assert not grounded("User lives in Spain", said)
    assert not grounded("User is", said)


def test_extraction_keeps_grounded_facts_and_falls_back_to_the_users_words(scripted) -> None:
    llm = scripted('{"facts": ["User is vegetarian", "User lives in Spain"]}')
    assert extract_facts(llm, "I'm vegetarian.") == ["User is vegetarian"]
    llm = scripted('{"facts": ["User has a dog"]}')  # the name the user gave was lost
    assert extract_facts(llm, "My dog is called Biscuit.") == ["User has a dog",
                                                                'User said: "My dog is called Biscuit"']
    assert extract_facts(scripted("unused"), "What's the weather?") == []


def test_malformed_json_is_retried_once_then_reported(scripted) -> None:
    llm = scripted('{"facts": [1, 2]}', '{"facts": ["User is vegan"]}')
    assert extract_facts(llm, "I'm vegan.") == ["User is vegan"]
    assert len(llm.calls) == 2
    broken = scripted("sure! here are the facts:", '{"facts": ')
    with pytest.raises(ModelOutputError):
        extract_facts(broken, "I'm vegan.")
    assert len(broken.calls) == 2


@pytest.mark.parametrize(("fact", "slot"), [
    ("User lives in Paris", ("residence", "paris")),
    ('User said: "I moved to Berlin last month"', ("residence", "berlin")),
    ("User's name is Dana", ("name", "dana")),
    ("User prefers short answers", ("answer_style", "short")),
    ("User's favourite colour is green", ("favourite:colour", "green")),
    ("My sister lives in Toronto", None),  # not about the user
    ("My partner's name is Tom", None),
    ("User is allergic to peanuts", None),
])
def test_slots(fact: str, slot: tuple[str, str] | None) -> None:
    found = slot_of(fact)
    assert (found and (found.name, found.value)) == slot


def test_rules_supersede_duplicate_and_keep_unrelated_facts() -> None:
    paris, vegan = Candidate("1", "User lives in Paris", 0.5), Candidate("2", "User is vegan", 0.2)
    assert judge(None, "User moved to Berlin", [paris, vegan], None).supersedes == ("1",)
    assert judge(None, "I live in Paris now", [paris], None).duplicate_of == "1"
    assert judge(None, "My sister lives in Rome", [paris], None).supersedes == ()


def test_the_model_judges_similar_facts_and_a_bad_verdict_keeps_both(scripted) -> None:
    tea = Candidate("1", "User drinks tea every morning", 0.8)
    assert judge(scripted('{"replaces": true}'), "User gave up tea", [tea], None).supersedes == ("1",)
    assert judge(scripted("nonsense"), "User gave up tea", [tea], None).supersedes == ()


def test_memory_item_reads_mem0_rows() -> None:
    row = {"id": "a", "memory": "User is vegan", "created_at": "t0", "updated_at": None,
           "metadata": {"status": "superseded", "superseded_by": "b", "source_conversation": ""}}
    item = MemoryItem.from_mem0(row)
    assert item == MemoryItem("a", "User is vegan", "t0", "t0", superseded_by="b", source_conversation=None)
    assert not item.active and item.to_dict()["superseded_by"] == "b"


def test_a_failed_turn_is_retried_with_back_off_then_given_up(tmp_path, monkeypatch) -> None:
    from assistant.memory import queue as q

    clock = [1000.0]
    monkeypatch.setattr(q.time, "time", lambda: clock[0])
    turns = q.TurnQueue(tmp_path / "queue.sqlite3")
    turn = turns.push("c", "I play the cello.")
    for delay in q.RETRY_DELAYS_S:
        assert turns.fail(turn, "bad JSON") is True
        assert turns.pending() == [] and turns.next_retry_in() == delay
        clock[0] += delay
        assert [t.id for t in turns.pending()] == [turn]
    assert turns.fail(turn, "bad JSON again") is False
    assert turns.counts() == {"pending": 0, "failed": 1} and turns.pending() == []
    turns.close()
