"""Tests for the chat history store, against real SQLite files in tmp_path.

The kill test is the one that matters most: a streaming answer checkpointed with ``update_message`` must
survive the process being SIGKILLed, which is what "every write commits immediately" promises.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from assistant import fulltext
from assistant.chat import history as history_module
from assistant.chat.history import LEARNING, SCHEMA_VERSION, WRITER, History, fts_query, writer_stamp
from assistant.chat.salvage import is_damage
from assistant.errors import ConversationNotFoundError, HistoryError, StorageProblem

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


def test_search_lists_the_newer_of_equal_hits_first(history: History) -> None:
    """Fifty chats titled "sourdough bread #N" rank alike, and the oldest were listed: after a year of them the
    recent ones, the ones looked for, were left out. Messages that rank alike, the same."""
    chats = [history.create_conversation(title=f"sourdough bread {i}") for i in range(6)]
    for chat in chats:
        history.add_message(chat.id, "user", "Feed the starter twice a day.")
    assert [h.conversation_id for h in history.search("sourdough", limit=3)] == [c.id for c in chats[::-1][:3]]
    starter = history.search("starter", limit=3, per_conversation=True)
    assert [h.conversation_id for h in starter] == [c.id for c in chats[::-1][:3]]
    assert [h.conversation_id for h in history.search("starter", limit=2)] == [c.id for c in chats[::-1][:2]]


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
    assert [h.message_id for h in history.search('"')] == [m.id]  # symbols alone are looked for as typed


def test_search_finds_emoji_and_symbols_the_word_index_reads_as_spaces(history: History) -> None:
    """The FTS5 tokenizer reads emoji as separators: searching 👋 listed nothing (the CLI said "No chats match",
    the window's list stayed empty), though a chat titled with it existed."""
    waved = history.create_conversation("مرحبا، اسمي ليلى 👋🏽 שלום")
    other = history.create_conversation("Plans")
    m = history.add_message(other.id, "user", "Trip → Lisbon on Friday 🚆, back Sunday.")
    assert [(h.conversation_id, h.message_id) for h in history.search("👋")] == [(waved.id, None)]
    [hit] = history.search("🚆")
    assert (hit.conversation_id, hit.message_id, hit.role) == (other.id, m.id, "user") and "**🚆**" in hit.snippet
    assert [h.conversation_id for h in history.search("→", per_conversation=True)] == [other.id]
    assert history.search("🦜") == []


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


def test_an_answer_cut_inside_its_code_is_exported_closed_and_said_cut(history: History) -> None:
    """An answer cut by its length limit inside a code block left the block open: every later message of the
    export, its headings too, rendered as code, and nothing said the answer was cut."""
    from markdown_it import MarkdownIt

    conv = history.create_conversation("Code")
    history.add_message(conv.id, "user", "Write a class.")
    history.add_message(conv.id, "assistant", "Here:\n\n```python\nclass Account:\n    def __init__(self",
                        stats={"stop_reason": "length"})
    history.add_message(conv.id, "user", "Thanks! Now say hello.")
    history.add_message(conv.id, "assistant", "- a list\n\n  ```\n  code in it", stats={"stop_reason": "context_full"})
    history.add_message(conv.id, "user", "And a quote?")
    history.add_message(conv.id, "assistant", "~~~~\ncode\n~~~~", stats={"stop_reason": "eos"})
    md = history.export_markdown(conv.id)
    tokens = MarkdownIt("commonmark").parse(md)
    headings = [t.content for i, t in enumerate(tokens) if t.type == "inline" and tokens[i - 1].tag == "h2"]
    assert headings == ["User", "Assistant (cut off: the answer length limit)", "User",
                        "Assistant (cut off: the context was full)", "User", "Assistant"]
    assert [t.content for t in tokens if t.type == "fence"] == ["class Account:\n    def __init__(self\n",
                                                                "code in it\n\n", "code\n"]


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


# --- a damaged file: salvaged, never the end of the app ---------------------------------------------------
def _fill(db_path: Path, conversations: int = 40, messages: int = 6) -> dict[str, tuple[str, list[str]]]:
    """A real history big enough to span many pages: id -> (title, message contents)."""
    made = {}
    with History(db_path) as h:
        for i in range(conversations):
            conv = h.create_conversation(f"Conversation {i} " + "t" * 300)
            contents = [h.add_message(conv.id, "user" if j % 2 == 0 else "assistant",
                                      f"message {i}.{j} about walruses " + "w" * 600).content for j in range(messages)]
            made[conv.id] = (conv.title, contents)
    return made


def _leaf_pages(db_path: Path, table: str) -> list[int]:
    with sqlite3.connect(db_path) as raw:
        try:
            return [p for (p,) in raw.execute(
                "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno", (table,))]
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table to find a table's pages with")


def _damaged_copies(db_path: Path) -> list[Path]:
    return sorted(p for p in db_path.parent.glob(f"{db_path.name}.damaged-*") if not p.name.endswith(("-wal", "-shm")))


def test_damaged_pages_are_salvaged_and_the_readable_conversations_are_back(db_path: Path) -> None:
    made = _fill(db_path)
    page_size = 4096
    pages = {t: _leaf_pages(db_path, t) for t in ("conversations", "messages")}
    data = bytearray(db_path.read_bytes())
    rng = random.Random(10)
    for leaves in pages.values():  # random bytes over one page in the middle of each table
        page = leaves[len(leaves) // 2]
        data[(page - 1) * page_size:page * page_size] = rng.randbytes(page_size)
    db_path.write_bytes(bytes(data))

    with History(db_path) as h:
        conversations = h.list_conversations()
        recovered = {c.id: [m.content for m in h.messages(c.id)] for c in conversations}
        report = h.salvage_report
        assert_fts_in_sync(h)
        assert h.search("walruses", limit=1000)
        conn = h._conn
        assert conn is not None and conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        new = h.create_conversation("After the repair")
        h.add_message(new.id, "user", "still works")
    # Every conversation is back (those whose own row was on the damaged page under "Recovered: …"), and
    # every message that was not on the damaged page, unchanged.
    assert set(recovered) == set(made)
    titles = {c.id: c.title for c in conversations}
    kept_titles = [cid for cid in made if titles[cid] == made[cid][0]]
    assert 20 <= len(kept_titles) < len(made)
    assert all(titles[cid].startswith("Recovered: message ") for cid in made if cid not in kept_titles)
    lost = sum(len(contents) for _, contents in made.values()) - sum(len(v) for v in recovered.values())
    assert 1 <= lost <= 8  # one page of ~650-byte messages
    assert all(set(recovered[cid]) <= set(made[cid][1]) for cid in made)
    assert [m for cid in made for m in recovered[cid]] == [m for cid in made for m in made[cid][1]
                                                           if m in recovered[cid]]  # order kept
    assert report is not None and "\n" not in report
    assert f"recovered {len(made)} conversation(s) with {sum(map(len, recovered.values()))} message(s)" in report
    [aside] = _damaged_copies(db_path)
    assert aside.read_bytes()[:len(data)] == bytes(data) and str(aside) in report
    with History(db_path) as again:  # the repaired file opens normally, with the new conversation
        assert again.salvage_report is None and len(again.list_conversations()) == len(made) + 1


@pytest.mark.parametrize("damage", ["garbage", "truncated header", "truncated to its first page"])
def test_garbage_or_truncated_file_gives_an_empty_history_and_a_report(db_path: Path, damage: str) -> None:
    if damage == "garbage":
        db_path.parent.mkdir(parents=True)
        db_path.write_bytes(random.Random(3).randbytes(50_000))
    else:
        _fill(db_path, conversations=5)
        db_path.write_bytes(db_path.read_bytes()[:50 if damage == "truncated header" else 4096])
    damaged = db_path.read_bytes()
    with History(db_path) as h:
        assert h.list_conversations() == []
        report = h.salvage_report or ""
        assert "could recover nothing" in report and "the sqlite3 shell's .recover command" in report
        h.add_message(h.create_conversation("Fresh").id, "user", "hello")
        assert [hit.title for hit in h.search("hello")] == ["Fresh"]
    [aside] = _damaged_copies(db_path)
    assert aside.read_bytes() == damaged  # kept as it was, for the user (or a better tool) to look at


def test_a_locked_history_is_not_damaged_and_is_not_moved(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fill(db_path, conversations=2, messages=1)
    monkeypatch.setattr(history_module, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(db_path, isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE conversations SET updated_at = updated_at")
        with pytest.raises(sqlite3.OperationalError) as busy:
            sqlite3.connect(db_path, timeout=0).execute("SELECT COUNT(*) FROM conversations").fetchone()
        assert not is_damage(busy.value)
        with pytest.raises(HistoryError, match="locked by another program"):
            History(db_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert _damaged_copies(db_path) == []
    with History(db_path) as h:
        assert len(h.list_conversations()) == 2 and h.salvage_report is None


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="needs POSIX permissions that bind")
def test_a_read_only_history_opens_read_only_and_says_so(db_path: Path) -> None:
    _fill(db_path, conversations=2, messages=1)
    db_path.chmod(0o444)
    db_path.parent.chmod(0o555)
    try:
        with History(db_path) as h:
            assert len(h.list_conversations()) == 2
            assert h.salvage_report is not None and "can only be read" in h.salvage_report
            with pytest.raises(HistoryError):
                h.create_conversation("not saved")
    finally:
        db_path.parent.chmod(0o755)
        db_path.chmod(0o644)
    assert _damaged_copies(db_path) == []


def test_a_history_opened_read_only_on_a_full_disk_says_why_nothing_is_saved(db_path: Path, monkeypatch) -> None:
    """`hearth ask` on a full disk ended with "could not be used (attempt to write a readonly database)" under a
    line that said the disk was full: the refusal says the reason it was opened read-only."""
    import assistant.chat.history as history_module

    _fill(db_path, conversations=1, messages=1)
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL

    def no_room(self, *, check: bool):
        raise full

    monkeypatch.setattr(History, "_open", no_room)
    monkeypatch.setattr(history_module, "disk_full",
                        lambda _folder: StorageProblem("the disk holding it is full (0 MB free)", full=True))
    with History(db_path) as h:
        assert len(h.list_conversations()) == 1 and "can only be read" in h.salvage_report
        with pytest.raises(HistoryError) as refused:
            h.create_conversation("not saved")
    assert str(refused.value) == (f"The chat history at {db_path} can only be read: the disk holding it is full (0 MB "
                                  "free). Nothing new can be saved to it until space is freed.")


def _damage_a_message_page(db_path: Path) -> None:
    leaves = _leaf_pages(db_path, "messages")
    page = leaves[len(leaves) // 2]
    with db_path.open("r+b") as f:
        f.seek((page - 1) * 4096)
        f.write(random.Random(5).randbytes(4096))


def test_cli_works_on_a_damaged_history_and_warns_once(hearth_home: Path) -> None:
    from assistant.paths import get_paths

    db = get_paths().ensure().history_db
    made = _fill(db, conversations=12)
    _damage_a_message_page(db)
    env = {**os.environ, "HEARTH_HOME": str(hearth_home), "HF_HUB_OFFLINE": "1"}

    def hearth(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "app", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=300)

    first = hearth("history", "list", "--json")
    assert first.returncode == 0, first.stderr
    assert {c["id"] for c in json.loads(first.stdout)} == set(made)
    assert "Traceback" not in first.stderr and len(first.stderr.strip().splitlines()) == 1
    assert f"recovered {len(made)} conversation(s)" in first.stderr and ".damaged-" in first.stderr
    second = hearth("history", "list")
    assert second.returncode == 0 and second.stderr == "" and len(second.stdout.strip().splitlines()) == len(made)


def test_the_facade_answers_and_saves_after_a_salvage(hearth_home: Path) -> None:
    from fakes import FakeEmbedder, fake_engine

    from assistant.config import Settings
    from assistant.core import Assistant
    from assistant.knowledge import KnowledgeBase
    from assistant.paths import get_paths

    paths = get_paths().ensure()
    paths.history_db.write_bytes(b"SQLite format 3\x00" + random.Random(1).randbytes(8192))
    settings = Settings()
    settings.memory.enabled = False
    assistant = Assistant(paths, settings, engine=fake_engine(),
                          knowledge=KnowledgeBase(paths, settings.knowledge, embedder=FakeEmbedder()))
    try:
        assert assistant.history_warning is not None and "could recover nothing" in assistant.history_warning
        response = assistant.ask("Still there?")
        assert response.text() == "You said: Still there?"
        saved = assistant.history.messages(response.done.conversation_id)
        assert [(m.role, m.content) for m in saved] == [("user", "Still there?"),
                                                        ("assistant", "You said: Still there?")]
    finally:
        assistant.close(learning_s=0)
    assert len(_damaged_copies(paths.history_db)) == 1


def test_on_a_full_disk_the_history_opens_to_be_read_and_says_why(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A WAL database needs room for its -shm and -wal files even to be read: on a full disk nothing opened
    ("could not be opened (disk I/O error)"), not `hearth history list`, not `hearth doctor`."""
    from collections import namedtuple

    from assistant import paths as paths_module

    db = tmp_path / "history.sqlite3"
    history = History(db)
    history.create_conversation(title="Before the disk filled")
    history.close()

    def full(*_args: object, **_kwargs: object) -> sqlite3.Connection:
        error = sqlite3.OperationalError("disk I/O error")
        error.sqlite_errorcode = sqlite3.SQLITE_IOERR
        raise error

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(History, "_open", full)
    monkeypatch.setattr(paths_module.shutil, "disk_usage", lambda _p: usage(2**30, 2**30 - 2**20, 2**20))
    reopened = History(db)
    assert [c.title for c in reopened.list_conversations()] == ["Before the disk filled"]
    assert "the disk holding it is full (1 MB free)" in reopened.salvage_report
    reopened.close()


def test_search_finds_cjk_words_inside_sentences_also_in_an_older_file(db_path: Path) -> None:
    """FTS5 split text at spaces only, so a Chinese or Japanese sentence was one word: 北京 in 我住在北京 was
    never found. A history written before is re-indexed by its migration."""
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as raw:  # a history as the first release wrote it
        raw.executescript(history_module.MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
        raw.execute("INSERT INTO conversations (id, title, created_at, updated_at) VALUES ('c1', '旅行の計画', 0, 0)")
        raw.execute("INSERT INTO messages (id, conversation_id, role, content, created_at) "
                    "VALUES ('m1', 'c1', 'user', '我住在北京，去年夏天去了杭州。', 0)")
    with History(db_path) as history:
        hits = history.search("北京")
        assert [h.message_id for h in hits] == ["m1"]
        assert hits[0].snippet == "我住在**北京**，去年夏天去了杭州。"  # marked as one word, no zero-width spaces
        assert [h.message_id for h in history.search("杭州")] == ["m1"]
        assert [h.message_id for h in history.search("旅行")] == [None]  # the title
        assert history.search("北海") == [] and history.search("京杭") == []
        new = history.add_message("c1", "assistant", "東京の神保町で古本を買いました。")
        assert [h.message_id for h in history.search("神保町")] == [new.id]
        assert [h.message_id for h in history.search("carbonara 神保")] == []  # terms are still ANDed
        assert_fts_in_sync(history)


def test_search_finds_words_glued_to_an_emoji_also_in_an_older_file(db_path: Path) -> None:
    """FTS5's tokenizer takes an emoji newer than its Unicode tables for a letter: "stadium🤔" was one word, not
    found as "stadium". A history written before is re-indexed by its migration, and its rows still delete."""
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as raw:  # a history as the version before wrote it: CJK segmented, no more
        raw.create_function("hearth_segment", 1, lambda text: text and fulltext.CJK.sub(
            lambda m: f"{fulltext.SEPARATOR}{m.group()}{fulltext.SEPARATOR}", text))
        raw.executescript(";\n".join(history_module.MIGRATIONS[:2]) + ";\nPRAGMA user_version = 2;")
        raw.execute("INSERT INTO conversations (id, title, created_at, updated_at) "
                    "VALUES ('c1', '🦄unicorn party', 0, 0)")
        raw.execute("INSERT INTO messages (id, conversation_id, role, content, created_at) "
                    "VALUES ('m1', 'c1', 'user', 'see you at the stadium🤔 maybe, thanks for the flowers🥰', 0)")
    with History(db_path) as history:
        hits = history.search("stadium")
        assert [h.message_id for h in hits] == ["m1"]
        assert hits[0].snippet == "see you at the **stadium**🤔 maybe, thanks for the flowers🥰"
        assert [h.message_id for h in history.search("flowers🥰")] == ["m1"]  # as typed, with its emoji
        assert [h.message_id for h in history.search("unicorn")] == [None]  # the title
        new = history.add_message("c1", "assistant", "👍🏽great, family👨‍👩‍👧outing it is")
        assert [h.message_id for h in history.search("great outing")] == [new.id]
        history.delete_messages_from("m1")
        assert history.search("stadium") == []
        assert_fts_in_sync(history)


def test_search_finds_words_glued_to_a_newer_math_symbol_also_in_an_older_file(db_path: Path) -> None:
    """FTS5's tokenizer takes a symbol newer than its Unicode tables for a letter, and only emoji and other
    symbols ("So", "Sk") were set apart: "sum🟰total" (🟰 a mathematical symbol) was one word, not found as
    "total". A history written before is re-indexed by its migration, and its rows still delete."""
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as raw:  # a history as the version before wrote it: "🟰" not set apart
        raw.create_function("hearth_segment", 1, lambda text: text and text.replace("🦄", "\u200b🦄\u200b"))
        raw.executescript(";\n".join(history_module.MIGRATIONS[:3]) + ";\nPRAGMA user_version = 3;")
        raw.execute("INSERT INTO conversations (id, title, created_at, updated_at) VALUES ('c1', 'Sums', 0, 0)")
        raw.execute("INSERT INTO messages (id, conversation_id, role, content, created_at) "
                    "VALUES ('m1', 'c1', 'user', 'the sum🟰total of it', 0)")
    with History(db_path) as history:
        assert [h.message_id for h in history.search("total")] == ["m1"]
        history.delete_messages_from("m1")
        assert history.search("total") == []
        assert_fts_in_sync(history)


def test_histories_opened_at_once_on_a_new_file_all_open(tmp_path: Path) -> None:
    """Two processes opening a new history at the same moment (`hearth chat`, and `hearth memory list` beside it)
    both switch it to WAL, and SQLite told one "database is locked" at once: it ended with "The chat history …
    is locked by another program". Connections of one process race the same way (4 of 40 rounds failed)."""
    failed: list[str] = []
    for round_ in range(100):
        path = tmp_path / f"history-{round_}.sqlite3"
        start = threading.Barrier(4)

        def open_one(path: Path = path, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                History(path).close()
            except HistoryError as exc:
                failed.append(str(exc))

        threads = [threading.Thread(target=open_one) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failed == []


def test_a_chat_is_found_by_the_start_of_its_id_or_as_the_last(history: History,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`hearth chat -c e5b91f95` and `-c last` were "not found": only a full id was taken."""
    from assistant.errors import InputError

    with pytest.raises(ConversationNotFoundError, match="no chat yet"):
        history.find_conversation("last")
    first = history.create_conversation("First")
    second = history.create_conversation("Second")
    history.add_message(first.id, "user", "Newest activity here.")
    assert history.find_conversation("last").id == first.id
    assert history.find_conversation(second.id[:8]).id == second.id
    assert history.find_conversation(second.id.upper()[:6]).id == second.id
    assert history.find_conversation(f"  {first.id} ").id == first.id
    with pytest.raises(ConversationNotFoundError, match="at least its first 4 characters"):
        history.find_conversation(first.id[:3])  # too short to be taken as a start, and said so
    with pytest.raises(ConversationNotFoundError):
        history.find_conversation("ffffffffzz")
    ids = iter(["abcd1234" + "0" * 24, "abcd5678" + "0" * 24])
    monkeypatch.setattr(history_module, "_new_id", lambda: next(ids))
    twins = [history.create_conversation(f"Twin {i}") for i in range(2)]
    with pytest.raises(InputError, match=r"abcd is the start of 2 chats' ids: abcd5678\w* \(Twin 1\), abcd1234"):
        history.find_conversation("abcd")
    assert history.find_conversation("abcd1").id == twins[0].id


def test_version_changes_for_another_connections_writes_only(history: History, db_path: Path) -> None:
    """The window's look for chats changed elsewhere (``ChatsChanged``): another process's commit changes the
    number, this connection's own writes (every few tokens of its answers) do not."""
    before = history.version()
    chat = history.create_conversation("Mine").id
    history.add_message(chat, "user", "Hello.")
    assert history.version() == before
    with History(db_path) as elsewhere:  # `hearth ask` in a terminal
        elsewhere.rename(chat, "Renamed elsewhere")
    changed = history.version()
    assert changed != before
    assert history.version() == changed  # looked at again: nothing new


def test_a_process_given_a_crashed_ones_number_is_not_taken_for_it(history: History) -> None:
    """A crashed writer's number, given since to another process (the system hands numbers out again), read as
    the writer still running: its partial answer said "being written" and its question was never learned from,
    for as long as that unrelated process ran. A process is named with when it started too: another start is
    another process."""
    me = {"pid": os.getpid(), "started": psutil.Process().create_time()}
    crashed = {**me, "started": me["started"] - 3600}  # this process's number, an hour before it started
    chat = history.create_conversation("Pixel")
    answer = history.add_message(chat.id, "assistant", "Once upon", partial=True, stats=writer_stamp())
    assert history.get_message(answer.id).being_written and history.tally(chat.id).writing  # its writer runs
    history.update_message(answer.id, stats={WRITER: {**writer_stamp()[WRITER], **crashed}})
    assert not history.get_message(answer.id).being_written and not history.tally(chat.id).writing

    cut = history.add_message(chat.id, "user", "My cat is called Pixel.", stats={LEARNING: crashed})
    history.add_message(chat.id, "user", "My dog is called Rex.", stats={LEARNING: me})  # this process answers it
    assert [question.id for question, _ in history.unlearned()] == [cut.id]
