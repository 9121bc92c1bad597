"""Chat history: conversations and their messages in one SQLite file under the data directory.

Why SQLite and why these settings:

* **Nothing already saved may be lost when the process dies mid-answer.** Every public write is its own
  short transaction that commits before the method returns (the connection runs in autocommit mode; the
  few multi-statement writes wrap themselves in ``BEGIN IMMEDIATE … COMMIT``). A streaming answer is
  stored as a ``partial`` message first and checkpointed with :meth:`History.update_message`, so a crash
  leaves the answer as far as it got, marked interrupted.
* **WAL + ``synchronous=NORMAL``**: each checkpoint is a cheap append to the WAL (no fsync per commit),
  yet a committed transaction survives the process being killed; only an OS crash or power cut can lose
  the last few commits, which is the usual trade-off for a desktop app that writes on every few tokens.
* **One connection, one lock**: the GUI calls in from worker threads, so the connection is opened with
  ``check_same_thread=False`` and every use holds :attr:`History._lock`.
* **Numbered migrations** (``PRAGMA user_version``) so later releases can add columns and tables to
  existing users' databases; opening a database twice (or from two processes) is harmless.
* **FTS5** indexes message contents and conversation titles (external-content tables kept in sync by
  triggers, so deletes and edits can never leave stale search hits behind).
* **A damaged file never takes the app down**: it is found at open (``PRAGMA quick_check``, or SQLite
  calling it corrupt or not a database), moved aside as ``history.sqlite3.damaged-<time>`` with its WAL, and
  every row that can still be read is copied into a fresh file (:mod:`assistant.chat.salvage`);
  :attr:`History.salvage_report` says what happened. A locked or read-only file is not damaged and is never
  moved: a read-only one is opened read-only, a locked one is a clear :class:`HistoryError`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from assistant import erasure, fulltext, processes
from assistant.chat import salvage
from assistant.config import atomic_write_text
from assistant.errors import ConversationNotFoundError, HistoryError, InputError, StorageProblem
from assistant.events import Tally, local_minute
from assistant.paths import disk_full

log = logging.getLogger(__name__)

ROLES: frozenset[str] = frozenset({"system", "user", "assistant"})
FEEDBACK_VALUES: frozenset[int] = frozenset({-1, 0, 1})
#: Markers around matched words in :attr:`SearchHit.snippet`: Markdown bold, the app's rendering format.
SNIPPET_OPEN = "**"
SNIPPET_CLOSE = "**"
SNIPPET_ELLIPSIS = "…"
SNIPPET_TOKENS = 16
EXPORT_FORMAT = "hearth-conversation"
EXPORT_VERSION = 1
#: How long an open waits for another process's lock before saying the history is locked.
BUSY_TIMEOUT_S = 10.0

#: The full-text indexes made again from their rows, with the segmenting of now.
_REBUILT_FTS = ("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');\n"
                "INSERT INTO conversations_fts(conversations_fts) VALUES ('rebuild');")


def _segmented_fts(table: str, key: str, column: str) -> str:
    """The SQL that makes ``{table}_fts`` again over ``{table}_words``, a view of ``table`` with ``column``
    segmented, with its triggers, and fills it."""
    fts, text = f"{table}_fts", f"hearth_segment(new.{column})"
    delete = f"INSERT INTO {fts}({fts}, rowid, {column}) VALUES ('delete', old.{key}, hearth_segment(old.{column}));"
    return f"""
    DROP TRIGGER {fts}_ai;
    DROP TRIGGER {fts}_ad;
    DROP TRIGGER {fts}_au;
    DROP TABLE {fts};
    CREATE VIEW {table}_words AS SELECT {key}, hearth_segment({column}) AS {column} FROM {table};
    CREATE VIRTUAL TABLE {fts} USING fts5(
        {column}, content='{table}_words', content_rowid='{key}', tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN
        INSERT INTO {fts}(rowid, {column}) VALUES (new.{key}, {text});
    END;
    CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN
        {delete}
    END;
    CREATE TRIGGER {fts}_au AFTER UPDATE OF {column} ON {table} BEGIN
        {delete}
        INSERT INTO {fts}(rowid, {column}) VALUES (new.{key}, {text});
    END;
    INSERT INTO {fts}({fts}) VALUES ('rebuild');
    """


# Each entry is one migration; its 1-based position is the schema version it produces. Never edit or
# reorder an entry that has shipped: append a new one (e.g. ``ALTER TABLE messages ADD COLUMN …``).
MIGRATIONS: tuple[str, ...] = (
    # 1: conversations, messages and their full-text indexes.
    """
    CREATE TABLE conversations (
        pk          INTEGER PRIMARY KEY,          -- stable rowid for the FTS index (VACUUM-proof)
        id          TEXT NOT NULL UNIQUE,
        title       TEXT NOT NULL,
        created_at  REAL NOT NULL,
        updated_at  REAL NOT NULL,
        model       TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX conversations_updated ON conversations(updated_at DESC);

    CREATE TABLE messages (
        seq              INTEGER PRIMARY KEY AUTOINCREMENT,  -- insertion order; never reused
        id               TEXT NOT NULL UNIQUE,
        conversation_id  TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role             TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        content          TEXT NOT NULL,
        created_at       REAL NOT NULL,
        partial          INTEGER NOT NULL DEFAULT 0,
        stats            TEXT,   -- JSON object or NULL
        sources          TEXT,   -- JSON array or NULL
        memories         TEXT,   -- JSON array or NULL
        feedback         INTEGER NOT NULL DEFAULT 0 CHECK (feedback IN (-1, 0, 1))
    );
    CREATE INDEX messages_conversation ON messages(conversation_id, seq);

    CREATE VIRTUAL TABLE messages_fts USING fts5(
        content, content='messages', content_rowid='seq', tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, content) VALUES (new.seq, new.content);
    END;
    CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
    END;
    CREATE TRIGGER messages_fts_au AFTER UPDATE OF content ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
        INSERT INTO messages_fts(rowid, content) VALUES (new.seq, new.content);
    END;

    CREATE VIRTUAL TABLE conversations_fts USING fts5(
        title, content='conversations', content_rowid='pk', tokenize='unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER conversations_fts_ai AFTER INSERT ON conversations BEGIN
        INSERT INTO conversations_fts(rowid, title) VALUES (new.pk, new.title);
    END;
    CREATE TRIGGER conversations_fts_ad AFTER DELETE ON conversations BEGIN
        INSERT INTO conversations_fts(conversations_fts, rowid, title) VALUES ('delete', old.pk, old.title);
    END;
    CREATE TRIGGER conversations_fts_au AFTER UPDATE OF title ON conversations BEGIN
        INSERT INTO conversations_fts(conversations_fts, rowid, title) VALUES ('delete', old.pk, old.title);
        INSERT INTO conversations_fts(rowid, title) VALUES (new.pk, new.title);
    END;
    """,
    # 2: the full-text indexes hold CJK text segmented (``assistant.fulltext``): 北京 in 我住在北京 was not found.
    _segmented_fts("messages", "seq", "content") + _segmented_fts("conversations", "pk", "title"),
    # 3: symbols are set apart as well (``assistant.fulltext``): "stadium🤔" was one word, not found as "stadium".
    # The indexes are made again with the new segmenting: a row's 'delete' must give the words it was indexed with.
    _REBUILT_FTS,
    # 4: mathematical and currency symbols (→, €) are set apart too; those newer than the tokenizer's tables (🟰, ₿)
    # were letters to it ("x🟰y" one word), so the indexes are made again, as for 3.
    _REBUILT_FTS,
)

SCHEMA_VERSION = len(MIGRATIONS)

_CONVERSATION_COLUMNS = (
    "c.id, c.title, c.created_at, c.updated_at, c.model, "
    "(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count"
)
_MESSAGE_COLUMNS = (
    "id, conversation_id, role, content, created_at, partial, stats, sources, memories, feedback"
)


#: Marks, in a question's stats, one asked without memory: memory never reads it, not even as context later.
INCOGNITO = "incognito"
#: Lists, in a question's stats, the knowledge collections it was answered from: asked again, it uses them again.
COLLECTIONS = "collections"
#: Names, in a question's stats, the process answering it (:func:`processes.stamp`) until its turn is given to
#: memory to learn from (or decided not to be): one whose process is gone was cut off by a crash or `kill -9`, and
#: is learned from later (see :meth:`History.unlearned`). Such a question's facts ("My cat is called Pixel. Write a
#: long story…") were never learned: the turn was queued only once its answer ended.
LEARNING = "learning"
#: Names, in a partial answer's stats, the process writing it (``pid`` started at ``started`` on ``host``) and when
#: it last saved its text (``at``, wall-clock seconds): a window showing the chat tells an answer being written in a
#: terminal from one a killed process left. Without them every partial answer looked cut off: one `hearth ask` was
#: writing read "This answer was interrupted." in the window, empty, for the tens of seconds it took.
WRITER = "writer"
#: How long after its last save an answer whose writer cannot be asked (another machine, a container's process
#: numbers) still counts as being written: a few of its saves (one each half second while it streams) apart.
WRITING_FRESH_S = 10.0
#: What a chat's export leaves out of its messages' stats: which process wrote or answered them (its number, this
#: machine's name), kept for the app alone. A chat shared as `hearth history export --format json` named them.
_PROCESS_MARKS = (WRITER, LEARNING)


@dataclass(frozen=True)
class Conversation:
    """One chat as the sidebar shows it; ``message_count`` is computed when the row is read."""

    id: str
    title: str
    created_at: float
    updated_at: float
    model: str
    message_count: int


@dataclass(frozen=True)
class Message:
    """One turn. ``partial`` marks an answer still streaming, or one cut off by a crash or a stop."""

    id: str
    conversation_id: str
    role: str
    content: str
    created_at: float
    partial: bool
    stats: dict[str, Any] | None
    sources: list[Any] | None
    memories: list[Any] | None
    feedback: int

    @property
    def incognito(self) -> bool:
        """A question asked without memory: nothing learns from it, and replacing it keeps it so."""
        return bool((self.stats or {}).get(INCOGNITO))

    @property
    def collections(self) -> tuple[str, ...]:
        """The knowledge collections a question was answered from (none for a plain chat question)."""
        return tuple((self.stats or {}).get(COLLECTIONS) or ())

    @property
    def being_written(self) -> bool:
        """A partial answer another process (or this one) is still writing, not one cut off (see :data:`WRITER`)."""
        return self.partial and still_written(self.stats)


#: This machine's name, asked once (each checkpoint of an answer, and each partial answer shown, asked it again).
_host = functools.cache(socket.gethostname)


def writer_stamp() -> dict[str, Any]:
    """The stats of an answer this process is writing, as saved with each of its checkpoints (see :data:`WRITER`)."""
    return {WRITER: {**processes.stamp(), "host": _host(), "at": time.time()}}


def still_written(stats: dict[str, Any] | None) -> bool:
    """Whether the writer named in a partial answer's ``stats`` still writes it: its process runs, where it can be
    asked (this machine), else it saved the answer in the last :data:`WRITING_FRESH_S` seconds. None named (a stop,
    a failure, a row from before writers were named): it was cut off."""
    writer = (stats or {}).get(WRITER)
    if not isinstance(writer, dict):
        return False
    if writer.get("host") == _host() and isinstance(writer.get("pid"), int):
        return processes.alive(writer["pid"], writer.get("started"))
    at = writer.get("at")
    return isinstance(at, int | float) and time.time() - at < WRITING_FRESH_S


@dataclass(frozen=True)
class SearchHit:
    """A search result. A hit on a conversation's title has ``message_id`` and ``role`` set to ``None``."""

    conversation_id: str
    message_id: str | None
    title: str
    snippet: str
    role: str | None
    also_in: str | None = None  # a title's hit: the best message of the chat that matches too


def _new_id() -> str:
    return uuid.uuid4().hex


def _dump(value: Any) -> str | None:
    """JSON-encode a stats/sources/memories payload; ``default=str`` so an odd value (a Path, a datetime)
    can never make a streaming checkpoint fail."""
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def _conversation_not_found(conversation_id: str) -> ConversationNotFoundError:
    return ConversationNotFoundError(f"Conversation {conversation_id} was not found in the chat history.")


def _message_not_found(message_id: str) -> HistoryError:
    return HistoryError(f"Message {message_id} was not found in the chat history.")


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def fts_query(text: str) -> str | None:
    """Turn arbitrary user input into a safe FTS5 query that searches for the words as plain words.

    Every whitespace-separated term becomes a quoted FTS5 string (inner ``"`` doubled), so operators such
    as ``AND``, ``NEAR``, ``(`` or ``*`` lose their meaning; terms are ANDed. The last term gets a prefix
    ``*`` so search-as-you-type matches the word being typed. Terms without any word character would be
    empty phrases, so they are dropped; ``None`` means there is nothing to search for.
    """
    terms = [t for t in text.split() if re.search(r"\w", t)]
    if not terms:
        return None
    quoted = ['"' + fulltext.segment(t).replace('"', '""') + '"' for t in terms]  # "stadium🤔": two words
    quoted[-1] += "*"
    for i, term in enumerate(terms):  # CJK text is indexed a character at a word: each pair of neighbours
        if fulltext.CJK.search(term):  # is a phrase (a prefix means nothing for one character)
            plain, phrases = fulltext.query_terms(term)
            words = [t for t in plain if re.search(r"\w", t)] + phrases
            quoted[i] = " ".join('"' + t.replace('"', '""') + '"' for t in words)
    return " ".join(quoted)


def _first_per_conversation(hits: list[SearchHit], only_first: bool) -> list[SearchHit]:
    """``hits``, or with ``only_first`` each conversation's first (best) hit only; a title's hit names the best
    message that matches too (``also_in``), where the window opens the chat (at its newest messages, far from
    the first question a title is made from)."""
    if not only_first:
        return hits
    first: dict[str, SearchHit] = {}
    for hit in hits:
        best = first.setdefault(hit.conversation_id, hit)
        if best.message_id is None and best.also_in is None and hit.message_id is not None:
            first[hit.conversation_id] = replace(best, also_in=hit.message_id)
    return list(first.values())


def _marked(text: str, found: str, around: int = 60) -> str:
    """The part of ``text`` around the first ``found``, marked as FTS5's snippets mark a match."""
    at = text.find(found)
    start, end = max(0, at - around), min(len(text), at + len(found) + around)
    return (SNIPPET_ELLIPSIS if start else "") + text[start:at] + SNIPPET_OPEN + found + SNIPPET_CLOSE + \
        text[at + len(found):end] + (SNIPPET_ELLIPSIS if end < len(text) else "")


def _recovered_title(messages: list[salvage.MessageRow]) -> str:
    """A title for salvaged messages whose conversation row was lost: its first words say what it was."""
    words = " ".join(messages[0].content.split())
    return f"{salvage.RECOVERED_TITLE}: {words[:50]}…" if len(words) > 50 else f"{salvage.RECOVERED_TITLE}: {words}"


#: Above every message's sequence number (SQLite's largest integer).
_MAX_SEQ = 2**63 - 1


class History:
    """The chat history store. Thread-safe; every write is committed before the method returns."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self._lock = threading.Lock()
        self._last_time = 0.0
        #: What happened to the file at open, as one sentence for the user: salvaged after damage, or opened
        #: read-only. ``None`` when it opened normally. The facade shows it as ``history_warning``.
        self.salvage_report: str | None = None
        self._read_only = ""  # why the file was opened read-only, and until when (see _recover_from)
        #: What keeps it from being written where it was opened read-only (a read-only folder, a full disk).
        self.storage: StorageProblem | None = None
        self._on_delete: list[Callable[[str], None]] = []
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HistoryError(f"The chat history at {self.db_path} could not be opened ({exc}).") from exc
        try:
            self._conn: sqlite3.Connection | None = self._open_when_free()
        except sqlite3.Error as exc:
            try:
                self._conn = self._recover_from(exc)
            except sqlite3.Error as again:  # e.g. the disk is full: the fresh history cannot be written
                raise HistoryError(
                    f"The chat history at {self.db_path} could not be opened ({exc}) nor repaired ({again})."
                ) from again

    # --- lifecycle ------------------------------------------------------------------------------------
    @property
    def read_only(self) -> str:
        """Why nothing can be saved here ("the disk holding it is full (0 MB free). Nothing new can be saved to it
        until space is freed"), or "" where it can: a caller that can do without saving (`hearth ask`) asks first,
        and answers unsaved instead of being refused."""
        return self._read_only

    def _open_when_free(self) -> sqlite3.Connection:
        """:meth:`_open`, tried again while another process holds the file (up to ``BUSY_TIMEOUT_S``). Two
        processes opening a new history at once (`hearth chat` and a `hearth memory list` beside it) both
        switch it to WAL, and SQLite answers one of them "database is locked" at once, without waiting: that
        process ended with "the chat history is locked by another program"."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                return self._open(check=True)
            except sqlite3.OperationalError as exc:
                code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
                if code not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _open(self, *, check: bool) -> sqlite3.Connection:
        """Connect, configure and migrate; with ``check``, an existing file must pass ``quick_check`` first
        (so a damaged file is caught at open, before a migration writes into it)."""
        existed = self.db_path.exists() and self.db_path.stat().st_size > 0
        # isolation_level=None: autocommit, so no implicit transaction is ever left open.
        conn = sqlite3.connect(str(self.db_path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        fulltext.register(conn)
        try:
            self._configure(conn)
            if check and existed:
                salvage.check(conn)
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _recover_from(self, exc: sqlite3.Error) -> sqlite3.Connection:
        """Keep Hearth usable when the file cannot be opened normally.

        A damaged file is moved aside and salvaged into a fresh one. A file that is only read-only is opened
        read-only, as it is (moving it would hide the user's history for a reason that is not damage).
        Anything else (locked by another program, a missing folder) is a clear :class:`HistoryError`.
        """
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if salvage.is_damage(exc):
            log.info("history: %s is damaged (%s); salvaging it", self.db_path, exc)
            return self._salvage()
        if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM) and self.db_path.exists():
            conn = self._open_read_only()
            self.salvage_report = (f"The chat history at {self.db_path} can only be read ({exc}): earlier "
                                   "conversations are shown, but new ones cannot be saved.")
            self._read_only = f"{exc}. Nothing new can be saved to it until its folder is writable"
            self.storage = StorageProblem(str(exc), full=False)
            return conn
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise HistoryError(f"The chat history at {self.db_path} is locked by another program ({exc}). "
                               "Close the other program and try again.") from exc
        full = disk_full(self.db_path.parent)
        if code in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL) and full:
            # A WAL database needs room for its -shm and -wal files even to be read: on a full disk nothing
            # opened ("disk I/O error"), not even `hearth doctor`, whose disk check would have said why.
            try:
                conn = self._open_read_only()
            except HistoryError:
                raise HistoryError(f"The chat history at {self.db_path} could not be opened: {full}.",
                                   fix=f"{full.fix}, then try again.", storage=full) from exc
            self.salvage_report = (f"The chat history at {self.db_path} can only be read: {full}. Earlier "
                                   "conversations are shown, but new ones cannot be saved until space is freed.")
            self._read_only = f"{full}. Nothing new can be saved to it until space is freed"
            self.storage = full
            return conn
        raise HistoryError(f"The chat history at {self.db_path} could not be opened ({exc}).") from exc

    def _open_read_only(self) -> sqlite3.Connection:
        """The file as it is, for reading. A WAL database needs its shared-memory file even to be read; where
        that cannot be created (a read-only folder) it is opened as immutable, which SQLite allows."""
        uri = self.db_path.resolve().as_uri()
        failure: sqlite3.Error | None = None
        for query in ("mode=ro", "mode=ro&immutable=1"):
            try:
                conn = sqlite3.connect(f"{uri}?{query}", uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                       check_same_thread=False)
            except sqlite3.Error as exc:
                failure = exc
                continue
            fulltext.register(conn)
            try:
                self._user_version(conn)
            except sqlite3.Error as exc:
                conn.close()
                failure = exc
                continue
            return conn
        raise HistoryError(f"The chat history at {self.db_path} could not be opened ({failure}). Check that the "
                           "file and its folder can be read and written by you.") from failure

    def _salvage(self) -> sqlite3.Connection:
        """Move the damaged file aside, start a fresh one and copy into it every row that can be read.

        The fresh database gets its search index rebuilt by the insert triggers. Messages whose conversation
        row was lost are kept under a conversation with the same id, titled "Recovered: <its first words>".
        If the file cannot be moved (a read-only folder), this session runs on an in-memory history and says
        so.
        """
        try:
            aside = salvage.move_aside(self.db_path)
        except FileNotFoundError:  # another Hearth process moved it a moment ago and is salvaging it
            return self._open(check=False)
        except OSError as exc:
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            fulltext.register(conn)
            conn.execute("PRAGMA foreign_keys=ON")
            self._migrate(conn)
            self.salvage_report = (f"The chat history at {self.db_path} is damaged and could not be moved aside "
                                   f"({exc}); conversations of this session will not be saved.")
            return conn
        conn = self._open(check=False)
        try:
            found = salvage.read(aside)
        except sqlite3.DatabaseError as exc:
            log.info("history: nothing could be read from %s (%s)", aside, exc)
            found = salvage.Salvaged(complete=False)
        try:
            self._restore(conn, found)
        except BaseException:
            conn.close()
            raise
        conversations, messages = (int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                                   for t in ("conversations", "messages"))
        if conversations:
            lost = "" if found.complete else "; some parts of it could not be read"
            self.salvage_report = (
                f"The chat history was damaged: Hearth recovered {conversations} conversation(s) with {messages} "
                f"message(s) into a new history{lost}. The damaged file was kept as {aside}.")
        else:
            # (a file cut in half still holds text a page-level tool can read: "Nothing more to do" was too final)
            self.salvage_report = ("The chat history was damaged and Hearth could recover nothing from it: a new, "
                                   f"empty history was started. The damaged file was kept as {aside}; the sqlite3 "
                                   "shell's .recover command, or a data-recovery tool, may still read some of it.")
        log.info("history: %s", self.salvage_report)
        return conn

    @staticmethod
    def _restore(conn: sqlite3.Connection, found: salvage.Salvaged) -> None:
        """Insert the salvaged rows in one transaction; rows that break a constraint are skipped."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR IGNORE INTO conversations (pk, id, title, created_at, updated_at, model) "
                             "VALUES (?, ?, ?, ?, ?, ?)", found.conversations)
            known = {row[0] for row in conn.execute("SELECT id FROM conversations")}
            orphans: dict[str, list[salvage.MessageRow]] = {}
            for message in found.messages:
                if message.conversation_id not in known:
                    orphans.setdefault(message.conversation_id, []).append(message)
            conn.executemany(
                "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
                [(cid, _recovered_title(rows), rows[0].created_at, rows[-1].created_at)
                 for cid, rows in orphans.items()])
            conn.executemany(f"INSERT OR IGNORE INTO messages (seq, {_MESSAGE_COLUMNS}) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", found.messages)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _configure(self, conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            log.warning("history: WAL journal mode unavailable for %s (got %s)", self.db_path, mode)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        erasure.overwrite_deleted(conn)  # a deleted chat's text stayed in the file's free pages

    @staticmethod
    def _user_version(conn: sqlite3.Connection) -> int:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Apply every migration newer than the database's ``user_version``, each atomically.

        Another process may migrate the same file at the same moment: a migration that fails is rolled
        back, and if the version has meanwhile reached it, that is success, not an error.
        """
        current = self._user_version(conn)
        if current > SCHEMA_VERSION:
            log.warning("history: %s has schema %d, newer than this Hearth's %d; opening it anyway",
                        self.db_path, current, SCHEMA_VERSION)
            return
        for version, sql in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            try:
                script = f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"
                conn.executescript(script)
            except sqlite3.Error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if self._user_version(conn) >= version:
                    continue
                raise
            log.info("history: migrated %s to schema %d", self.db_path, version)

    def close(self) -> None:
        """Close the connection (idempotent). Committed data is already on disk; this only tidies the WAL."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> History:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------------------------
    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and turn low-level SQLite failures into a user-facing :class:`HistoryError`."""
        with self._lock:
            if self._conn is None:
                raise HistoryError("The chat history is closed.")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise HistoryError(f"The chat history at {self.db_path} could not be used ({exc}).") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, committed on exit; rolled back if anything inside raises. A history opened
        read-only says why nothing can be written (it said "attempt to write a readonly database" on a full disk)."""
        if self._read_only:
            raise HistoryError(f"The chat history at {self.db_path} can only be read: {self._read_only}.")
        with self._read() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _now(self) -> float:
        """Wall-clock time, but strictly increasing within this store, so "most recently updated" ordering
        never ties on platforms with a coarse clock. Call with the lock held."""
        now = max(time.time(), self._last_time + 1e-6)
        self._last_time = now
        return now

    @staticmethod
    def _require_conversation(conn: sqlite3.Connection, conversation_id: str) -> None:
        if conn.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)).fetchone() is None:
            raise _conversation_not_found(conversation_id)

    @staticmethod
    def _conversation_row(conn: sqlite3.Connection, conversation_id: str) -> Conversation:
        row = conn.execute(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations c WHERE c.id = ?", (conversation_id,)
        ).fetchone()
        if row is None:
            raise _conversation_not_found(conversation_id)
        return Conversation(*row)

    @staticmethod
    def _message_from_row(row: tuple[Any, ...]) -> Message:
        mid, cid, role, content, created, partial, stats, sources, memories, feedback = row
        return Message(
            id=mid, conversation_id=cid, role=role, content=content, created_at=created,
            partial=bool(partial), stats=_load(stats), sources=_load(sources), memories=_load(memories),
            feedback=int(feedback),
        )

    @staticmethod
    def _message_position(conn: sqlite3.Connection, message_id: str) -> tuple[str, int]:
        row = conn.execute("SELECT conversation_id, seq FROM messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise _message_not_found(message_id)
        return row[0], row[1]

    # --- conversations --------------------------------------------------------------------------------
    def create_conversation(self, title: str = "New chat", model: str = "") -> Conversation:
        """Start an empty conversation; it is saved before this returns."""
        cid = _new_id()
        with self._write() as conn:
            now = self._now()
            conn.execute(
                "INSERT INTO conversations (id, title, created_at, updated_at, model) VALUES (?, ?, ?, ?, ?)",
                (cid, title, now, now, model),
            )
        return Conversation(cid, title, now, now, model, 0)

    def list_conversations(self, limit: int | None = None) -> list[Conversation]:
        """Conversations, most recently updated first (the sidebar order)."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations c "
                "ORDER BY c.updated_at DESC, c.pk DESC LIMIT ?",
                (-1 if limit is None else max(0, int(limit)),),
            ).fetchall()
        return [Conversation(*row) for row in rows]

    def get_conversation(self, conversation_id: str) -> Conversation:
        """One conversation; raises :class:`ConversationNotFoundError` naming the id if there is none."""
        with self._read() as conn:
            return self._conversation_row(conn, conversation_id)

    def find_conversation(self, typed: str) -> Conversation:
        """The conversation ``typed`` names: its id, the start of one (as `hearth history list` shows them, at least
        4 characters), or ``last`` (the most recently updated). Only a full id was taken: `hearth chat -c e5b91f95`
        and `-c last` were "not found"."""
        typed = typed.strip()
        if typed.lower() == "last":
            for newest in self.list_conversations(limit=1):
                return newest
            raise ConversationNotFoundError("There is no chat yet to go on with (`last`).")
        with self._read() as conn:
            try:
                return self._conversation_row(conn, typed)
            except ConversationNotFoundError:
                if not re.fullmatch(r"[0-9a-fA-F-]+", typed):
                    raise
                if len(typed) < 4:  # "0" was "not found" beside chats whose ids start with it
                    raise ConversationNotFoundError(
                        f"Conversation {typed} was not found: name a chat by its id, at least its first 4 characters "
                        "(`hearth history list` shows them), or `last`.") from None
            rows = conn.execute(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations c WHERE c.id LIKE ? "
                                "ORDER BY c.updated_at DESC LIMIT 6", (typed.lower() + "%",)).fetchall()
        if len(rows) == 1:
            return Conversation(*rows[0])
        if not rows:
            raise _conversation_not_found(typed)
        listed = ", ".join(f"{row[0]} ({row[1]})" for row in rows[:5])
        raise InputError(f"{typed} is the start of {'more than 5' if len(rows) > 5 else len(rows)} chats' ids: "
                         f"{listed}. Type more of the one you mean.")

    def has_conversation(self, conversation_id: str) -> bool:
        """Whether the conversation exists (False too when the history cannot be read)."""
        try:
            self.get_conversation(conversation_id)
        except HistoryError:
            return False
        return True

    def rename(self, conversation_id: str, title: str) -> Conversation:
        """Change the title (the search index follows via trigger). Does not reorder the sidebar. The old title
        leaves the files as a deleted chat's text does: it was still in the title index's segments (and the
        write-ahead log) until a later delete merged them, a name typed into a title and renamed away read back
        from history.sqlite3."""
        title = " ".join(title.split())
        if not title:  # an empty title left the chat nameless in every list and its export headed "# "
            raise InputError("A chat's title cannot be empty.")
        with self._write() as conn:
            cur = conn.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))
            if cur.rowcount == 0:
                raise _conversation_not_found(conversation_id)
            fulltext.merge_away_deleted(conn, "conversations_fts")  # titles only: small, whatever the history's size
            renamed = self._conversation_row(conn, conversation_id)
        self._empty_wal()
        return renamed

    def set_model(self, conversation_id: str, model: str) -> None:
        """Record which model the conversation is now using (shown in the sidebar and exports)."""
        with self._write() as conn:
            cur = conn.execute("UPDATE conversations SET model = ? WHERE id = ?", (model, conversation_id))
            if cur.rowcount == 0:
                raise _conversation_not_found(conversation_id)

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation; its messages and their search-index rows go with it, and so does what
        others keep of it (``on_delete``: the engine's saved caches)."""
        with self._write() as conn:
            cur = conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
            if cur.rowcount == 0:
                raise _conversation_not_found(conversation_id)
            # a password typed in a chat deleted was still in the file (0.14 s for 40,000 messages)
            fulltext.merge_away_deleted(conn, "messages_fts", "conversations_fts")
        self._empty_wal()
        self._deleted_from(conversation_id)

    def _empty_wal(self) -> None:
        """Empty the write-ahead log after a delete or a rename: while another process (the window) held the history
        open, the log kept a deleted chat's text, whole, until that process closed it too."""
        with self._read() as conn:
            erasure.empty_wal(conn, "history")

    def on_delete(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(conversation_id)`` after a conversation, or any of its messages, was deleted: what
        others keep of its text (the engine's saved KV caches) must go too."""
        self._on_delete.append(listener)

    def _deleted_from(self, conversation_id: str) -> None:
        for listener in self._on_delete:
            listener(conversation_id)

    # --- messages ---------------------------------------------------------------------------------------
    def add_message(
        self,
        conversation_id: str,
        role: str,
        content: str,
        *,
        partial: bool = False,
        stats: dict[str, Any] | None = None,
        sources: list[Any] | None = None,
        memories: list[Any] | None = None,
    ) -> Message:
        """Append a message and move the conversation to the top of the list; committed on return."""
        if role not in ROLES:
            raise HistoryError(f"Unknown message role {role!r}; expected one of {', '.join(sorted(ROLES))}.")
        mid = _new_id()
        with self._write() as conn:
            self._require_conversation(conn, conversation_id)
            now = self._now()
            conn.execute(
                f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (mid, conversation_id, role, content, now, int(partial), _dump(stats), _dump(sources),
                 _dump(memories)),
            )
            conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
        return Message(mid, conversation_id, role, content, now, bool(partial), stats, sources, memories, 0)

    def update_message(
        self,
        message_id: str,
        *,
        content: str | None = None,
        partial: bool | None = None,
        stats: dict[str, Any] | None = None,
        sources: list[Any] | None = None,
        memories: list[Any] | None = None,
    ) -> None:
        """Change the given fields (``None`` leaves a field as it is), committing at once.

        This is the streaming checkpoint: one single-row UPDATE per call, so calling it every few tokens is
        cheap, and whatever it stored survives the process being killed right after.
        """
        changes: dict[str, Any] = {}
        if content is not None:
            changes["content"] = content
        if partial is not None:
            changes["partial"] = int(partial)
        if stats is not None:
            changes["stats"] = _dump(stats)
        if sources is not None:
            changes["sources"] = _dump(sources)
        if memories is not None:
            changes["memories"] = _dump(memories)
        with self._read() as conn:
            if not changes:
                self._message_position(conn, message_id)
                return
            assignments = ", ".join(f"{column} = ?" for column in changes)  # column names are ours, not input
            cur = conn.execute(
                f"UPDATE messages SET {assignments} WHERE id = ?", (*changes.values(), message_id)
            )
            if cur.rowcount == 0:
                raise _message_not_found(message_id)

    def get_message(self, message_id: str) -> Message:
        """One message by id; raises :class:`HistoryError` if there is none."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)
            ).fetchone()
        if row is None:
            raise _message_not_found(message_id)
        return self._message_from_row(row)

    def tally(self, conversation_id: str) -> Tally:
        """A conversation's message count and its newest message as far as a front end shows it: one row, to learn
        whether a chat went on elsewhere without reading all of it."""
        with self._read() as conn:
            count = conn.execute("SELECT count(*) FROM messages WHERE conversation_id = ?",
                                 (conversation_id,)).fetchone()[0]
            partials = conn.execute("SELECT length(content), stats FROM messages WHERE conversation_id = ? "
                                    "AND partial = 1", (conversation_id,)).fetchall()
            last = conn.execute("SELECT id, partial, length(content) FROM messages WHERE conversation_id = ? "
                                "ORDER BY seq DESC LIMIT 1", (conversation_id,)).fetchone()
        if last is None:
            return Tally(count, None)
        return Tally(count, last[0], bool(last[1]), last[2], sum(still_written(_load(s)) for _, s in partials),
                     len(partials), sum(size for size, _ in partials))

    def version(self) -> int:
        """A number that changes when another connection (another process: `hearth ask` in a terminal, `hearth
        serve`) commits to the history, and not for this one's own writes: SQLite's ``PRAGMA data_version``, read
        in microseconds. A window learned of a chat asked in a terminal only when it was clicked into again."""
        with self._read() as conn:
            return int(conn.execute("PRAGMA data_version").fetchone()[0])

    def messages(self, conversation_id: str) -> list[Message]:
        """All messages of a conversation in the order they were added."""
        with self._read() as conn:
            self._require_conversation(conn, conversation_id)
            rows = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY seq",
                (conversation_id,),
            ).fetchall()
        return [self._message_from_row(row) for row in rows]

    def unlearned(self) -> list[tuple[Message, str]]:
        """Questions whose turn never reached memory because the process answering them is gone (a crash), each
        with the user's previous message in its chat (for pronouns; never an incognito one)."""
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE role = 'user' AND stats LIKE ?",
                                (f'%"{LEARNING}"%',)).fetchall()
        found = []
        for question in map(self._message_from_row, rows):
            answering = (question.stats or {}).get(LEARNING)
            if isinstance(answering, int):  # saved before the process's start time was: its number alone
                answering = {"pid": answering}
            if not isinstance(answering, dict) or not isinstance(answering.get("pid"), int) or processes.alive(
                    answering["pid"], answering.get("started")):
                continue
            earlier = self.messages(question.conversation_id)
            earlier = earlier[:next(i for i, m in enumerate(earlier) if m.id == question.id)]
            previous = next((m.content for m in reversed(earlier) if m.role == "user" and m.content
                             and not m.incognito), "")
            found.append((question, previous))
        return found

    def learning_done(self, message_id: str) -> None:
        """The question's turn was given to memory (or decided not to be): no later run learns from it again."""
        stats = dict(self.get_message(message_id).stats or {})
        if stats.pop(LEARNING, None) is not None:
            self.update_message(message_id, stats=stats)

    @staticmethod
    def asked_from(messages: Sequence[Message]) -> tuple[str, ...]:
        """The knowledge collections the last question of ``messages`` was answered from: the ones it recorded,
        else (a question saved before they were recorded) the ones its answer's sources came from. A chat opened
        again goes on from them, as it was asked."""
        for i in range(len(messages) - 1, -1, -1):
            if messages[i].role != "user":
                continue
            if COLLECTIONS in (messages[i].stats or {}):
                return messages[i].collections
            answer = messages[i + 1] if i + 1 < len(messages) else None
            sources = answer.sources or [] if answer is not None else []
            return tuple(dict.fromkeys(s["collection"] for s in sources if isinstance(s, dict) and s.get("collection")))
        return ()

    def delete_messages_from(self, message_id: str, until: str | None = None) -> int:
        """Delete this message and every later one in its conversation (regenerate, edit-and-resend), or with
        ``until`` only those before that message (the turn a regenerated answer replaces, once it has text).

        Returns how many messages were deleted.
        """
        with self._write() as conn:
            conversation_id, seq = self._message_position(conn, message_id)
            end = self._message_position(conn, until)[1] if until is not None else _MAX_SEQ
            cur = conn.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND seq >= ? AND seq < ?", (conversation_id, seq, end)
            )
            now = self._now()
            conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
            deleted = cur.rowcount
            if deleted:  # a regenerated answer's old text stayed in the search index's files, as a deleted chat's
                fulltext.merge_away_deleted(conn, "messages_fts")
        if deleted:  # a replaced turn's text stayed in the chat's saved cache until the next save (or for good
            self._empty_wal()  # after a crash); the engine saves the new one when it lets go
            self._deleted_from(conversation_id)
        return deleted

    def rename_collection(self, old: str, new: str) -> int:
        """A knowledge collection renamed: the questions asked from it and the sources they were answered
        from name it anew, so a chat opened again goes on from it (see :meth:`asked_from`). Returns how many
        messages changed."""
        def renamed(stats: dict[str, Any], sources: list[Any]) -> None:
            if isinstance(stats.get(COLLECTIONS), list):
                stats[COLLECTIONS] = [new if c == old else c for c in stats[COLLECTIONS]]
            for source in sources:
                if isinstance(source, dict) and source.get("collection") == old:
                    source["collection"] = new

        changed = 0
        with self._write() as conn:
            rows = conn.execute("SELECT id, stats, sources FROM messages WHERE instr(stats, ?) OR instr(sources, ?)",
                                (json.dumps(old), json.dumps(old))).fetchall()
            for message_id, stats, sources in rows:
                stats_now, sources_now = json.loads(stats) if stats else {}, json.loads(sources) if sources else []
                renamed(stats_now, sources_now)
                new_stats, new_sources = _dump(stats_now) if stats else None, _dump(sources_now) if sources else None
                if (new_stats, new_sources) != (stats, sources):
                    conn.execute("UPDATE messages SET stats = ?, sources = ? WHERE id = ?",
                                 (new_stats, new_sources, message_id))
                    changed += 1
        return changed

    def set_feedback(self, message_id: str, value: int) -> None:
        """Thumbs down (-1), none (0) or up (+1); anything else is rejected with :class:`HistoryError`."""
        if isinstance(value, bool) or not isinstance(value, int) or value not in FEEDBACK_VALUES:
            raise HistoryError(f"Feedback must be -1, 0 or +1, not {value!r}.")
        with self._read() as conn:
            cur = conn.execute("UPDATE messages SET feedback = ? WHERE id = ?", (value, message_id))
            if cur.rowcount == 0:
                raise _message_not_found(message_id)

    # --- search -----------------------------------------------------------------------------------------
    def search(self, query: str, limit: int = 50, per_conversation: bool = False) -> list[SearchHit]:
        """Full-text search over titles and message contents; any text is safe to pass.

        Title hits come first (a matching title usually names what the user is looking for), then message
        hits by relevance (BM25), the newer first where they tie (fifty chats titled "sourdough bread #N" listed the
        oldest fifty, and a year of them hid the recent ones). The last word matches as a prefix, for
        search-as-you-type. With
        ``per_conversation``, only each conversation's first (best) hit: a chat whose title and first message
        both match is one result (the window's list, ``hearth history search``).
        """
        match = fts_query(query)
        if limit <= 0:
            return []
        if match is None:
            return self._search_symbols(query.strip(), limit, per_conversation) if query.strip() else []
        snippet_args = (SNIPPET_OPEN, SNIPPET_CLOSE, SNIPPET_ELLIPSIS, SNIPPET_TOKENS)
        with self._read() as conn:
            try:
                title_rows = conn.execute(
                    "SELECT c.id, NULL, c.title, snippet(conversations_fts, 0, ?, ?, ?, ?), NULL "
                    "FROM conversations_fts JOIN conversations c ON c.pk = conversations_fts.rowid "
                    "WHERE conversations_fts MATCH ? ORDER BY rank, c.updated_at DESC LIMIT ?",
                    (*snippet_args, match, limit),
                ).fetchall()
                only = ""
                if per_conversation:  # each chat's best message: one busy chat filled all 50 rows, and the
                    # other chats that match were never listed
                    best = conn.execute(
                        "SELECT messages_fts.rowid, min(messages_fts.rank) FROM messages_fts "
                        "JOIN messages m ON m.seq = messages_fts.rowid WHERE messages_fts MATCH ? "
                        "GROUP BY m.conversation_id ORDER BY min(messages_fts.rank), max(m.seq) DESC LIMIT ?",
                        (match, limit),
                    ).fetchall()
                    # "+": a filter on the matches, not a rowid lookup each, where FTS5 ran the whole query again
                    # (a search for "l", a prefix of most words, took 2 s of 17,000 messages; now 35 ms)
                    only = f"AND +messages_fts.rowid IN ({','.join(str(int(row[0])) for row in best) or 'NULL'}) "
                message_rows = conn.execute(
                    "SELECT m.conversation_id, m.id, c.title, snippet(messages_fts, 0, ?, ?, ?, ?), m.role "
                    "FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid "
                    "JOIN conversations c ON c.id = m.conversation_id "
                    f"WHERE messages_fts MATCH ? {only}ORDER BY rank, m.seq DESC LIMIT ?",
                    (*snippet_args, match, limit),
                ).fetchall()
            except sqlite3.OperationalError as exc:
                # fts_query should make this impossible; a search box must still never crash the app.
                log.warning("history: search %r (as %r) failed: %s", query, match, exc)
                return []
        # CJK characters are words to the index: neighbours found together are marked as one
        hits = [SearchHit(i, m, title, fulltext.unsegment(snippet).replace(SNIPPET_CLOSE + SNIPPET_OPEN, ""), role)
                for i, m, title, snippet, role in title_rows + message_rows]
        return _first_per_conversation(hits, per_conversation)[:limit]

    def _search_symbols(self, text: str, limit: int, per_conversation: bool) -> list[SearchHit]:
        """A search of symbols alone ("👋", "→"), which the word index does not hold (its tokenizer reads them as
        spaces: the window's search for 👋 listed nothing): titles, then messages, holding ``text`` as typed,
        newest first."""
        with self._read() as conn:
            titles = conn.execute("SELECT id, title FROM conversations WHERE instr(title, ?) > 0 "
                                  "ORDER BY updated_at DESC LIMIT ?", (text, limit)).fetchall()
            messages = conn.execute(
                "SELECT m.conversation_id, m.id, c.title, m.content, m.role FROM messages m "
                "JOIN conversations c ON c.id = m.conversation_id WHERE instr(m.content, ?) > 0 "
                "ORDER BY m.seq DESC LIMIT ?", (text, limit)).fetchall()
        hits = [SearchHit(i, None, title, _marked(title, text), None) for i, title in titles]
        hits += [SearchHit(i, m, title, _marked(content, text), role) for i, m, title, content, role in messages]
        return _first_per_conversation(hits, per_conversation)[:limit]

    # --- export -----------------------------------------------------------------------------------------
    def _snapshot(self, conversation_id: str) -> tuple[Conversation, list[Message]]:
        """Conversation and messages read under one lock, so an export is consistent with itself."""
        with self._read() as conn:
            conversation = self._conversation_row(conn, conversation_id)
            rows = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY seq",
                (conversation_id,),
            ).fetchall()
        return conversation, [self._message_from_row(row) for row in rows]

    def export_markdown(self, conversation_id: str) -> str:
        """The conversation as a Markdown document: title heading, then each message under a role header.

        Answers that never finished are marked "(interrupted)" so a reader knows they are cut off, and one still
        being written (in a terminal, another window) says so: it read "(interrupted)" too.
        """
        conversation, messages = self._snapshot(conversation_id)
        created = local_minute(conversation.created_at)
        meta = f"Created {created}" + (f" · Model: {conversation.model}" if conversation.model else "")
        parts = [f"# {conversation.title}", f"_{meta}_"]
        for message in messages:
            header = f"## {message.role.capitalize()}"
            cut = _CUT.get((message.stats or {}).get("stop_reason", ""))
            if message.being_written:
                header += f" ({BEING_WRITTEN})"
            elif message.partial:
                header += " (interrupted)"
            elif cut:
                header += f" (cut off: {cut})"
            parts.append(header)
            parts.append(closed_code(message.content.strip()) or "_(empty)_")
            if sources := _cited_sources(message.sources):
                parts.append("**Sources**\n\n" + "\n".join(sources))
        return "\n\n".join(parts) + "\n"

    def export(self, conversation_id: str, fmt: str = "md") -> str:
        """The conversation as the text of an export file: Markdown (``md``) or JSON (``json``). The CLI prints
        it and the window saves it, so both write the same thing."""
        if fmt == "json":
            return json.dumps(self.export_json(conversation_id), ensure_ascii=False, indent=2) + "\n"
        return self.export_markdown(conversation_id)

    def save_export(self, conversation_id: str, path: Path) -> None:
        """Save the conversation to ``path``: JSON for a ``.json`` name, else Markdown. Written whole or not at
        all, so a failed save never leaves half a file over an earlier export."""
        text = self.export(conversation_id, "json" if path.suffix.lower() == ".json" else "md")
        try:
            atomic_write_text(path, text)
        except OSError as exc:
            raise HistoryError(f"Hearth could not save the chat to {path}: {exc.strerror or exc}.") from exc

    def export_json(self, conversation_id: str) -> dict[str, Any]:
        """The conversation and its messages as plain JSON-serialisable data (for backup or later import). A
        message's ``being_written`` tells an answer still being written elsewhere from one cut off (both are
        ``partial``), as the Markdown export does, without the writer's process or machine."""
        conversation, messages = self._snapshot(conversation_id)
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            **asdict(conversation),
            "messages": [{**asdict(replace(m, stats=_shared(m.stats))), "being_written": m.being_written}
                         for m in messages],
        }


def _shared(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """A message's stats as an export shows them: without :data:`_PROCESS_MARKS`."""
    return None if stats is None else {key: value for key, value in stats.items() if key not in _PROCESS_MARKS}


#: What a Markdown export says of an answer still being written when it was made (see ``Message.being_written``).
BEING_WRITTEN = "still being written when exported: the answer so far"
#: What an export says of an answer that did not end by itself (one stopped or cut by a crash is "interrupted").
_CUT = {"length": "the answer length limit", "context_full": "the context was full"}


@functools.cache
def _commonmark() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def closed_code(text: str) -> str:
    """``text`` with a code block it leaves open closed. An answer cut inside one (by its length limit, a stop)
    made every later message of an exported chat, its headings too, render as code. A text with no fence is not
    parsed, and the parser is made once: exporting a 4,000-message chat made 4,000 parsers (1.5 s of 3.3 s)."""
    if "```" not in text and "~~~" not in text:
        return text
    lines = text.splitlines()
    for token in _commonmark().parse(text):
        # a block ending before the text does was closed; one in a list or quote ends with it, at the next
        # message's heading (a fence put after it would open a new block there)
        if token.type != "fence" or token.level or not token.map or token.map[1] < len(lines):
            continue
        last = lines[-1].strip()
        fence = token.markup  # ``` or ~~~, or longer: the closing fence has its character, at least as many
        if token.map[1] - token.map[0] < 2 or last.rstrip(fence[0]) or len(last) < len(fence):
            return f"{text}\n{fence}"
    return text


def _cited_sources(sources: list[dict[str, Any]] | None) -> list[str]:
    """Markdown lines for the passages an answer cites, numbered as its ``[n]`` (all it was given for answers
    saved before cited passages were marked), so an exported answer's numbers lead somewhere."""
    from assistant.knowledge.records import Citation

    saved = sources or []
    marked = any("cited" in s for s in saved)
    cited = [Citation.from_dict(s) for s in saved if s.get("cited") or not marked]
    return [f"- [{c.n}] [{c.place()}]({c.uri()})" for c in cited]
