"""The folder of conversations' KV caches saved between runs: what it keeps, what it refuses, what it deletes."""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path

import pytest

from assistant.engine import prompt_store
from assistant.engine.prompt_store import PromptStore


def state(size: int, fill: int = 7) -> ctypes.Array:
    return (ctypes.c_uint8 * size)(*([fill] * size))


def test_a_saved_cache_is_found_with_its_tokens_and_state(tmp_path: Path) -> None:
    store = PromptStore(tmp_path / "prompts", keeps=lambda key: True)
    store.save("chat-1", "model-a", [5, 6, 7], state(100))
    found = store.find("chat-1", "model-a")
    assert found is not None and found.tokens == [5, 6, 7]
    assert bytes(found.read_state()) == bytes(state(100))
    assert store.find("chat-1", "model-b") is None and store.find("chat-2", "model-a") is None
    if os.name == "posix":  # it holds what the chat holds
        assert found.path.stat().st_mode & 0o777 == 0o600


def test_a_conversation_that_is_gone_gets_no_file_and_forget_deletes_every_models_file(tmp_path: Path) -> None:
    store = PromptStore(tmp_path / "prompts", keeps=lambda key: key != "deleted")
    store.save("deleted", "model-a", [1], state(10))
    store.save("chat", "model-a", [1], state(10))
    store.save("chat", "model-b", [1], state(10))
    store.save("other", "model-a", [1], state(10))
    assert len(list(store.folder.glob("*.kv"))) == 3
    store.forget("chat")
    assert [p.name for p in store.folder.glob("*.kv")] == [store._path("other", "model-a").name]


@pytest.mark.parametrize("damage", ["cut", "not ours", "longer"])
def test_a_damaged_file_is_deleted_not_used(tmp_path: Path, damage: str) -> None:
    store = PromptStore(tmp_path / "prompts", keeps=lambda key: True)
    store.save("chat", "model-a", [1, 2], state(1000))
    path = store._path("chat", "model-a")
    data = path.read_bytes()
    path.write_bytes({"cut": data[:-10], "not ours": b"GGUF" + data[4:], "longer": data + b"\0"}[damage])
    assert store.find("chat", "model-a") is None
    assert not path.exists()


def test_the_least_recently_used_files_make_room(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prompt_store, "MAX_FILES", 2)
    store = PromptStore(tmp_path / "prompts", keeps=lambda key: True)

    def save(key: str, size: int = 10) -> None:
        time.sleep(0.02)  # file times are coarser than a few writes in a row
        store.save(key, "m", [1], state(size))

    save("old")
    save("used")
    save("newer")  # beyond two files: the least recently written goes
    assert store.find("old", "m") is None and store.find("used", "m") is not None
    time.sleep(0.02)
    found = store.find("used", "m")
    assert found is not None and found.read_state() is not None  # reading it marks it used
    save("newest")
    assert store.find("used", "m") is not None and store.find("newer", "m") is None
    monkeypatch.setattr(prompt_store, "MAX_BYTES", 15)
    save("big", 20)  # larger than the whole budget: not written, nothing else lost
    assert store.find("big", "m") is None and store.find("newest", "m") is not None


def test_a_file_replaced_by_another_process_after_it_was_found_is_not_used(tmp_path: Path) -> None:
    """Two Hearth processes on one chat: the window closing (saving) while `hearth ask -c` starts. The state
    read after the tokens must be the same file's, or a state of other tokens would answer wrongly."""
    store = PromptStore(tmp_path / "prompts", keeps=lambda key: True)
    store.save("chat", "m", [1, 2, 3], state(100, fill=1))
    found = store.find("chat", "m")
    assert found is not None
    other = PromptStore(tmp_path / "prompts", keeps=lambda key: True)  # the other process
    other.save("chat", "m", [1, 2, 4], state(100, fill=2))
    assert found.read_state() is None
    again = store.find("chat", "m")  # the newer file stays, for the next look
    assert again is not None and again.tokens == [1, 2, 4] and bytes(again.read_state()) == bytes(state(100, 2))
