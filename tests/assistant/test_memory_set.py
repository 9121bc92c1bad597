"""The memory benchmark's conversation set (bench/data/memory_conversations.json) is well formed: fast, no model."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

SET_PATH = Path(__file__).resolve().parents[2] / "bench" / "data" / "memory_conversations.json"

FACT_KINDS = {"pet", "family", "work", "place", "date", "number", "preference", "diet", "hobby", "health", "other"}
NO_FACT_KINDS = {
    "world",
    "hypothetical",
    "quoted",
    "one-off instruction",
    "chit-chat",
    "other-person",
    "document",
    "code",
}
SPLITS = {"dev", "test"}


@pytest.fixture(scope="module")
def data() -> dict:
    return json.loads(SET_PATH.read_text(encoding="utf-8"))


def _turns(data: dict):
    for conv in data["conversations"]:
        for ti, turn in enumerate(conv["turns"]):
            yield conv, ti, turn


def _facts(data: dict):
    """(fact id, conversation, turn index, turn, fact) for every labelled fact."""
    for conv, ti, turn in _turns(data):
        for fi, fact in enumerate(turn["facts"]):
            yield f"{conv['id']}.t{ti}.f{fi}", conv, ti, turn, fact


def test_loads_and_says_what_it_is(data: dict) -> None:
    assert "CC0" in data["about"]
    assert isinstance(data["conversations"], list) and data["conversations"]


def test_ids_unique_and_well_formed(data: dict) -> None:
    ids = [c["id"] for c in data["conversations"]]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"c\d{2,}", i) for i in ids)


def test_sizes(data: dict) -> None:
    turns = list(_turns(data))
    no_fact = [t for _, _, t in turns if not t["facts"]]
    assert len(turns) >= 150
    assert len(no_fact) >= 50
    assert len(turns) - len(no_fact) >= 50  # and plenty of turns that do state facts


def test_turn_labels(data: dict) -> None:
    for conv in data["conversations"]:
        assert conv["split"] in SPLITS, conv["id"]
        assert isinstance(conv["style"], str) and conv["style"], conv["id"]
        assert conv["turns"], conv["id"]
    for conv, ti, turn in _turns(data):
        where = f"{conv['id']}.t{ti}"
        assert isinstance(turn["user"], str) and turn["user"].strip(), where
        if turn["facts"]:
            assert "no_fact_kind" not in turn, where
        else:
            assert turn.get("no_fact_kind") in NO_FACT_KINDS, where
    for fid, _, _, _, fact in _facts(data):
        assert fact["kind"] in FACT_KINDS, fid
        assert fact["fact"].strip() and fact["keys"], fid


def test_splits_hold_40_to_60_percent_of_turns(data: dict) -> None:
    per_split = Counter(c["split"] for c, _, _ in _turns(data))
    total = sum(per_split.values())
    assert set(per_split) == SPLITS
    for split, n in per_split.items():
        assert 0.4 <= n / total <= 0.6, (split, n, total)
    # the no-fact turns and the corrections are split too, not all in one half
    no_fact = Counter(c["split"] for c, _, t in _turns(data) if not t["facts"])
    corrections = Counter(c["split"] for _, c, _, _, f in _facts(data) if "supersedes" in f)
    assert set(no_fact) == SPLITS and set(corrections) == SPLITS


def test_keys_are_the_users_own_words(data: dict) -> None:
    for fid, _, _, turn, fact in _facts(data):
        for key in fact["keys"]:
            assert key.strip() and key.casefold() in turn["user"].casefold(), (fid, key)


def test_supersedes_points_at_an_earlier_fact_of_the_same_conversation(data: dict) -> None:
    position = {fid: (conv["id"], ti) for fid, conv, ti, _, _ in _facts(data)}
    for fid, conv, ti, _, fact in _facts(data):
        if "supersedes" not in fact:
            continue
        old = fact["supersedes"]
        assert old in position, (fid, old)
        old_conv, old_turn = position[old]
        assert old_conv == conv["id"] and old_turn < ti, (fid, old)


def test_questions_need_existing_facts_and_every_fact_is_needed(data: dict) -> None:
    facts = {fid: (conv, turn, fact) for fid, conv, _, turn, fact in _facts(data)}
    superseded = {f["supersedes"]: fid for fid, (_, _, f) in facts.items() if "supersedes" in f}
    needed: set[str] = set()
    for conv in data["conversations"]:
        has_facts = any(t["facts"] for t in conv["turns"])
        assert bool(conv["questions"]) == has_facts, conv["id"]
        for q in conv["questions"]:
            assert q["ask"].strip() and q["needs"] and q["expect"], q
            text = ""
            for fid in q["needs"]:
                assert fid in facts, (q["ask"], fid)
                assert fid.startswith(conv["id"] + "."), (q["ask"], fid)
                # a question asks for the current value: the newer fact, never the one it replaced
                assert fid not in superseded, (q["ask"], fid)
                text += " " + facts[fid][1]["user"]
            needed.update(q["needs"])
            for word in q["expect"]:
                assert word.casefold() in text.casefold(), (q["ask"], word)
    for fid in facts:
        # a superseded fact is needed through its correction: the question asks for the newer value
        current, seen = fid, {fid}
        while current in superseded:
            current = superseded[current]
            assert current not in seen, fid  # no cycle of corrections
            seen.add(current)
        assert current in needed, fid


def test_also_true_facts_are_well_formed_and_in_the_users_own_words(data: dict) -> None:
    """Optional "also_true": incidental true facts a turn states, counted correct for precision only."""
    for conv, ti, turn in _turns(data):
        if "also_true" not in turn:
            continue
        where = f"{conv['id']}.t{ti}"
        assert isinstance(turn["also_true"], list) and turn["also_true"], where
        for ai, extra in enumerate(turn["also_true"]):
            aid = f"{where}.a{ai}"
            assert isinstance(extra, dict) and set(extra) == {"fact", "keys"}, aid
            assert isinstance(extra["fact"], str) and extra["fact"].strip(), aid
            keys = extra["keys"]
            assert isinstance(keys, list) and keys, aid
            for key in keys:
                assert isinstance(key, str) and key.strip(), (aid, key)
                assert key.casefold() in turn["user"].casefold(), (aid, key)
