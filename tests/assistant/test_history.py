"""Tests for the chat history store, against real SQLite files in tmp_path.

The kill test is the one that matters most: a streaming answer checkpointed with ``update_message`` must
survive the process being SIGKILLed, which is what "every write commits immediately" promises.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.chat.history import SCHEMA_VERSION, History, fts_query
from assistant.errors import ConversationNotFoundError, HistoryError

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.sqlite3"


@pytest.fixture
def history(db_path: Path) -> Iterator[History]:
    with History(db_path) as h:
        yield h


def assert_fts_in_sync(history: History) -> None:
    """FTS5's integrity-check compares an external-content index with its table: stale rows fail it."""
    conn = history._conn
    assert conn is not None
    conn.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")
    conn.execute("INSERT INTO conversations_fts(conversations_fts, rank) VALUES ('integrity-check', 1)")


# --- opening, pragmas, migrations ------------------------------------------------------------------------
def test_creates_parent_folder_and_uses_wal(history: History, db_path: Path) -> None:
    assert db_path.exists()
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn = history._conn
    assert conn is not None
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_migrations_are_idempotent(db_path: Path) -> None:
    with History(db_path) as first:
        conv = first.create_conversation("Keep me")
        first.add_message(conv.id, "user", "still here")
    with History(db_path) as second, History(db_path) as third:
        assert [c.title for c in second.list_conversations()] == ["Keep me"]
        assert [m.content for m in third.messages(conv.id)] == ["still here"]
    with sqlite3.connect(db_path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"conversations", "messages", "messages_fts", "conversations_fts"} <= tables


def test_not_a_database_raises_history_error(tmp_path: Path) -> None:
    bad = tmp_path / "history.sqlite3"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(HistoryError, match="damaged"):
        History(bad)


def test_closed_store_raises_history_error(db_path: Path) -> None:
    h = History(db_path)
    h.close()
    h.close()  # idempotent
    with pytest.raises(HistoryError, match="closed"):
        h.list_conversations()


# --- conversations -------------------------------------------------------------------------------------
def test_create_and_get_conversation(history: History) -> None:
    conv = history.create_conversation("Trip planning", model="smollm2")
    assert len(conv.id) == 32 and int(conv.id, 16) >= 0
    got = history.get_conversation(conv.id)
    assert got == conv
    assert got.title == "Trip planning"
    assert got.model == "smollm2"
    assert got.message_count == 0
    assert got.created_at == got.updated_at > 0


def test_default_title(history: History) -> None:
    assert history.create_conversation().title == "New chat"


def test_get_missing_conversation_names_id(history: History) -> None:
    with pytest.raises(ConversationNotFoundError, match="deadbeef"):
        history.get_conversation("deadbeef")
    for call in (
        lambda: history.rename("deadbeef", "x"),
        lambda: history.delete("deadbeef"),
        lambda: history.messages("deadbeef"),
        lambda: history.add_message("deadbeef", "user", "hi"),
        lambda: history.export_markdown("deadbeef"),
    ):
        with pytest.raises(ConversationNotFoundError, match="deadbeef"):
            call()


def test_list_orders_by_most_recently_updated(history: History) -> None:
    a = history.create_conversation("A")
    b = history.create_conversation("B")
    c = history.create_conversation("C")
    assert [x.title for x in history.list_conversations()] == ["C", "B", "A"]
    history.add_message(a.id, "user", "bump A")
    assert [x.title for x in history.list_conversations()] == ["A", "C", "B"]
    assert [x.title for x in history.list_conversations(limit=2)] == ["A", "C"]
    listed = {x.id: x for x in history.list_conversations()}
    assert listed[a.id].message_count == 1
    assert listed[b.id].message_count == 0
    assert listed[a.id].updated_at > listed[c.id].updated_at


def test_rename(history: History) -> None:
    conv = history.create_conversation("Old name")
    renamed = history.rename(conv.id, "New name")
    assert renamed.title == "New name"
    assert history.get_conversation(conv.id).title == "New name"


def test_delete_cascades_messages(history: History) -> None:
    keep = history.create_conversation("Keep")
    gone = history.create_conversation("Gone")
    history.add_message(keep.id, "user", "keep this")
    m = history.add_message(gone.id, "user", "drop this")
    history.delete(gone.id)
    assert [c.id for c in history.list_conversations()] == [keep.id]
    with pytest.raises(ConversationNotFoundError):
        history.get_conversation(gone.id)
    conn = history._conn
    assert conn is not None
    assert conn.execute("SELECT COUNT(*) FROM messages WHERE id = ?", (m.id,)).fetchone()[0] == 0
    assert [x.content for x in history.messages(keep.id)] == ["keep this"]


# --- messages --------------------------------------------------------------------------------------------
def test_add_and_read_messages_in_order(history: History) -> None:
    conv = history.create_conversation()
    before = history.get_conversation(conv.id).updated_at
    s = history.add_message(conv.id, "system", "be nice")
    u = history.add_message(conv.id, "user", "hello")
    a = history.add_message(
        conv.id, "assistant", "hi!", stats={"tokens": 3, "tps": 12.5}, sources=[{"path": "/a.md", "page": 2}],
        memories=["likes tea"],
    )
    msgs = history.messages(conv.id)
    assert [m.id for m in msgs] == [s.id, u.id, a.id]
    assert [m.role for m in msgs] == ["system", "user", "assistant"]
    assert msgs[2] == a
    assert msgs[2].stats == {"tokens": 3, "tps": 12.5}
    assert msgs[2].sources == [{"path": "/a.md", "page": 2}]
    assert msgs[2].memories == ["likes tea"]
    assert msgs[1].stats is None and msgs[1].sources is None and msgs[1].memories is None
    assert all(m.partial is False and m.feedback == 0 for m in msgs)
    after = history.get_conversation(conv.id)
    assert after.updated_at > before
    assert after.message_count == 3


def test_add_message_rejects_unknown_role(history: History) -> None:
    conv = history.create_conversation()
    with pytest.raises(HistoryError, match="role"):
        history.add_message(conv.id, "tool", "x")
    assert history.messages(conv.id) == []


def test_update_message_checkpoints(history: History) -> None:
    conv = history.create_conversation()
    m = history.add_message(conv.id, "assistant", "", partial=True)
    assert history.get_message(m.id).partial is True
    history.update_message(m.id, content="Hel")
    history.update_message(m.id, content="Hello wor")
    got = history.get_message(m.id)
    assert got.content == "Hello wor" and got.partial is True
    history.update_message(m.id, content="Hello world", partial=False, stats={"tokens": 2}, sources=["s"],
                           memories=["m"])
    got = history.get_message(m.id)
    assert (got.content, got.partial, got.stats, got.sources, got.memories) == (
        "Hello world", False, {"tokens": 2}, ["s"], ["m"]
    )
    history.update_message(m.id, stats={"tokens": 5})  # other fields untouched
    got = history.get_message(m.id)
    assert got.content == "Hello world" and got.stats == {"tokens": 5} and got.sources == ["s"]
    with pytest.raises(HistoryError, match="nope"):
        history.update_message("nope", content="x")


def test_delete_messages_from(history: History) -> None:
    conv = history.create_conversation()
    other = history.create_conversation()
    u1 = history.add_message(conv.id, "user", "one")
    a1 = history.add_message(conv.id, "assistant", "two")
    history.add_message(other.id, "user", "other conversation")
    u2 = history.add_message(conv.id, "user", "three")
    history.add_message(conv.id, "assistant", "four")
    assert history.delete_messages_from(u2.id) == 2
    assert [m.id for m in history.messages(conv.id)] == [u1.id, a1.id]
    assert [m.content for m in history.messages(other.id)] == ["other conversation"]
    assert history.delete_messages_from(u1.id) == 2
    assert history.messages(conv.id) == []
    assert history.get_conversation(conv.id).message_count == 0
    with pytest.raises(HistoryError, match=u1.id):
        history.delete_messages_from(u1.id)


def test_set_feedback_validates(history: History) -> None:
    conv = history.create_conversation()
    m = history.add_message(conv.id, "assistant", "answer")
    for value in (1, -1, 0, 1):
        history.set_feedback(m.id, value)
        assert history.get_message(m.id).feedback == value
    for bad in (2, -2, 5, True, 0.5, "1", None):
        with pytest.raises(HistoryError, match="Feedback"):
            history.set_feedback(m.id, bad)  # type: ignore[arg-type]
    assert history.get_message(m.id).feedback == 1
    with pytest.raises(HistoryError):
        history.set_feedback("missing", 1)


# --- search ----------------------------------------------------------------------------------------------
def test_search_finds_words_in_messages_and_titles(history: History) -> None:
    pasta = history.create_conversation("Dinner ideas")
    other = history.create_conversation("Taxes")
    m = history.add_message(pasta.id, "user", "How long should I boil spaghetti for carbonara?")
    history.add_message(other.id, "user", "What is a deduction?")

    hits = history.search("carbonara")
    assert [(h.conversation_id, h.message_id, h.role) for h in hits] == [(pasta.id, m.id, "user")]
    assert hits[0].title == "Dinner ideas"
    assert "**carbonara**" in hits[0].snippet

    title_hits = history.search("dinner")
    assert [(h.conversation_id, h.message_id, h.role) for h in title_hits] == [(pasta.id, None, None)]
    assert "**Dinner**" in title_hits[0].snippet

    # Several words are ANDed; the last one matches as a prefix (search-as-you-type).
    assert [h.message_id for h in history.search("boil spagh")] == [m.id]
    assert history.search("boil deduction") == []
    assert history.search("zucchini") == []
    # Case and diacritics do not matter.
    assert [h.message_id for h in history.search("CARBONÀRA")] == [m.id]


def test_search_respects_limit(history: History) -> None:
    conv = history.create_conversation()
    for i in range(10):
        history.add_message(conv.id, "user", f"apple number {i}")
    assert len(history.search("apple")) == 10
    assert len(history.search("apple", limit=3)) == 3


@pytest.mark.parametrize(
    "query",
    ['"', "AND", "(", "*", "AND (", 'foo"bar', "NEAR(", ")", "OR", "NOT", "-", "^", ":", "col:x", "'", "",
     "   ", '"unterminated', "a AND", "* * *", "{x}", "\\", "foo*", "NEAR/2", "'; DROP TABLE messages; --"],
)
def test_search_odd_input_does_not_raise(history: History, query: str) -> None:
    conv = history.create_conversation("odd")
    history.add_message(conv.id, "user", 'plain text with foo"bar and AND (parens) inside')
    hits = history.search(query)
    assert isinstance(hits, list)
    assert len(history.messages(conv.id)) == 1  # nothing was dropped


def test_search_odd_input_matches_as_plain_words(history: History) -> None:
    conv = history.create_conversation()
    m = history.add_message(conv.id, "user", 'he said foo"bar AND (left) the room')
    assert [h.message_id for h in history.search('foo"bar')] == [m.id]
    assert [h.message_id for h in history.search("AND (left")] == [m.id]
    assert history.search('"') == []


def test_fts_query_quotes_terms() -> None:
    assert fts_query('foo"bar AND (') == '"foo""bar" "AND"*'
    assert fts_query("  ") is None
    assert fts_query("( * )") is None


def test_search_after_delete_finds_nothing(history: History) -> None:
    conv = history.create_conversation("Quantum notes")
    history.add_message(conv.id, "user", "entanglement explained")
    assert len(history.search("entanglement")) == 1
    assert len(history.search("quantum")) == 1
    history.delete(conv.id)
    assert history.search("entanglement") == []
    assert history.search("quantum") == []
    assert_fts_in_sync(history)


def test_search_follows_edits_and_truncation(history: History) -> None:
    conv = history.create_conversation("First title")
    m = history.add_message(conv.id, "assistant", "draft about walruses", partial=True)
    history.update_message(m.id, content="final answer about penguins")
    assert history.search("walruses") == []
    assert [h.message_id for h in history.search("penguins")] == [m.id]
    history.rename(conv.id, "Second title")
    assert history.search("first") == []
    assert [h.conversation_id for h in history.search("second")] == [conv.id]
    history.delete_messages_from(m.id)
    assert history.search("penguins") == []
    assert_fts_in_sync(history)


# --- export ----------------------------------------------------------------------------------------------
def test_export_markdown(history: History) -> None:
    conv = history.create_conversation("Bread baking", model="gemma-3-270m")
    history.add_message(conv.id, "user", "How do I make sourdough?")
    history.add_message(conv.id, "assistant", "Start with a starter.")
    history.add_message(conv.id, "user", "And then?")
    history.add_message(conv.id, "assistant", "Then you knead the", partial=True)
    md = history.export_markdown(conv.id)
    assert md.startswith("# Bread baking\n")
    assert "gemma-3-270m" in md
    assert md.count("## User") == 2
    assert md.count("## Assistant") == 2
    assert md.count("(interrupted)") == 1
    assert "## Assistant (interrupted)\n\nThen you knead the" in md
    assert md.index("How do I make sourdough?") < md.index("Start with a starter.") < md.index("And then?")


def test_export_json(history: History) -> None:
    conv = history.create_conversation("Chess", model="m")
    u = history.add_message(conv.id, "user", "Best opening?")
    a = history.add_message(conv.id, "assistant", "e4", partial=True, stats={"tokens": 1},
                            sources=[{"path": "a"}])
    history.set_feedback(a.id, -1)
    data = history.export_json(conv.id)
    round_tripped = json.loads(json.dumps(data))
    assert round_tripped == data
    assert data["id"] == conv.id
    assert data["title"] == "Chess"
    assert data["model"] == "m"
    assert data["message_count"] == 2
    assert data["created_at"] == conv.created_at
    assert [m["id"] for m in data["messages"]] == [u.id, a.id]
    last = data["messages"][1]
    assert (last["role"], last["content"], last["partial"], last["feedback"]) == ("assistant", "e4", True, -1)
    assert last["stats"] == {"tokens": 1} and last["sources"] == [{"path": "a"}]


# --- concurrency and durability ------------------------------------------------------------------------
def test_threads_share_one_store(history: History) -> None:
    conv = history.create_conversation()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(25):
                m = history.add_message(conv.id, "user", f"thread {n} message {i}")
                history.update_message(m.id, content=f"thread {n} message {i} edited")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    msgs = history.messages(conv.id)
    assert len(msgs) == 100
    assert all(m.content.endswith("edited") for m in msgs)


CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from assistant.chat.history import History
    h = History(Path({db!r}))
    conv = h.create_conversation("Crash test")
    h.add_message(conv.id, "user", "tell me a story")
    m = h.add_message(conv.id, "assistant", "Once upon", partial=True)
    h.update_message(m.id, content="Once upon a time, there was")
    print("ready", conv.id, m.id, flush=True)
    time.sleep(600)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX-only")
def test_killed_mid_answer_loses_nothing_saved(db_path: Path) -> None:
    script = CHILD.format(root=str(REPO_ROOT), db=str(db_path))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line.startswith("ready"):
            child.kill()
            _, err = child.communicate(timeout=10)
            pytest.fail(f"child did not get ready: {line!r} {err}")
        _, conv_id, message_id = line.split()
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()
        if child.stderr is not None:
            child.stderr.close()

    with History(db_path) as reopened:
        conv = reopened.get_conversation(conv_id)
        assert conv.title == "Crash test"
        assert conv.message_count == 2
        msgs = reopened.messages(conv_id)
        assert [(m.role, m.content, m.partial) for m in msgs] == [
            ("user", "tell me a story", False),
            ("assistant", "Once upon a time, there was", True),
        ]
        assert msgs[1].id == message_id
        assert [h.message_id for h in reopened.search("upon")] == [message_id]
        assert "(interrupted)" in reopened.export_markdown(conv_id)
