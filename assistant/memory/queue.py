"""The durable side of memory: finished turns waiting for extraction, and what the user made Hearth forget.

A turn is written here (one small SQLite transaction) right after its answer, so extraction can run later
when the engine is idle, or at the next start if the process was killed; a turn leaves the queue only once
its facts are stored. Turns whose extraction failed stay, marked ``failed``, instead of vanishing.

Tombstones stop a turn said *before* the user forgot something from bringing it back (the user saying it
again later may). A small model rephrases ("User is allergic to peanuts" / "User has a peanut allergy"), so
a tombstone holds the forgotten fact's vector, never its text, and matches by cosine. It is only needed
while turns older than it wait in the queue, so it is deleted as soon as none do.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant import erasure, processes
from assistant.chat import salvage
from assistant.errors import MemoryStoreError
from assistant.memory.errors import MemoryQueueDamagedError
from assistant.memory.statements import statements
from assistant.paths import Paths, storage_problem

SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY, conversation_id TEXT, user_text TEXT NOT NULL, enqueued_at REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', error TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    retry_at REAL NOT NULL DEFAULT 0, context TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS turns_by_status ON turns (status, id);
CREATE TABLE IF NOT EXISTS tombstones (id INTEGER PRIMARY KEY, vector BLOB NOT NULL, forgotten_at REAL NOT NULL);
"""


@dataclass(frozen=True)
class QueuedTurn:
    id: int
    conversation_id: str | None
    user_text: str
    enqueued_at: float
    context: str = ""  # the user's previous message in the conversation ("He's 3" after "our parrot Zazu")


#: Columns added after the first release (added to older queues at open).
_ADDED_COLUMNS = {"attempts": "INTEGER NOT NULL DEFAULT 0", "retry_at": "REAL NOT NULL DEFAULT 0",
                  "context": "TEXT NOT NULL DEFAULT ''", "claimed_by": "INTEGER NOT NULL DEFAULT 0",
                  "claimed_started": "REAL"}


#: A turn whose extraction failed is tried again after these delays (seconds), then given up (``failed``):
#: a small model's output varies with the sampling seed, and a store error is often transient.
RETRY_DELAYS_S = (60.0, 600.0)
#: A new fact at least this similar (cosine) to a forgotten one is the forgotten one, reworded.
FORGOTTEN_COSINE = 0.75


def queue_path(paths: Paths) -> Path:
    return paths.memory_dir / "queue.sqlite3"


def queue_turn(queue: TurnQueue, conversation_id: str | None, user_text: str, context: str = "",
               known: Callable[[], Sequence[str]] | None = None) -> bool:
    """Queue a finished turn when what the user said could be about them (a question or thanks is not); whether
    it was queued. ``context``: the user's previous message, for "she" and "he"; ``known``: the stored facts
    close to it, asked for only when the message says nothing of the user by itself ("Miso died" is about the
    user's cat once "User has a cat called Miso" is known)."""
    if not statements(user_text, context) and not (known is not None and statements(user_text, context, known())):
        return False
    queue.push(conversation_id, user_text, context)
    return True


def queue_turn_later(paths: Paths, conversation_id: str | None, user_text: str, context: str = "") -> None:
    """:func:`queue_turn` while the memory store cannot be opened (its Chroma server down): the queue is kept
    on this computer, and the turn is learned once the store opens (it was never learned)."""
    queue = TurnQueue(queue_path(paths))
    try:
        queue_turn(queue, conversation_id, user_text, context)
    finally:
        queue.close()


def unqueue_turn(paths: Paths, conversation_id: str, user_text: str) -> None:
    """Drop ``conversation_id``'s turns that said ``user_text`` and still wait to be learned from: a question asked
    with memory and answered again without it (Regenerate with the chip on Incognito, `/retry` in `hearth chat
    --no-memory`) was learned from all the same. The queue alone is opened: memory is not used for the answer."""
    path = queue_path(paths)
    if not path.exists():  # nothing was ever queued
        return
    queue = TurnQueue(path)
    try:
        queue.drop_turn(conversation_id, user_text)
    finally:
        queue.close()


def set_aside(path: Path) -> Path:
    """Move a damaged queue (with its WAL files) aside, kept, so that the next open starts an empty one; returns
    where it went. Only turns still waiting to be learned from are in it: learned facts live in mem0's store."""
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            part.rename(aside.with_name(aside.name + suffix))
    return aside


class TurnQueue:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            erasure.overwrite_deleted(self._db)  # a turn dropped with its chat's memories leaves the file
            self._db.executescript(SCHEMA)
            have = {row[1] for row in self._db.execute("PRAGMA table_info(turns)")}
            for name, definition in _ADDED_COLUMNS.items():
                if name not in have:
                    self._db.execute(f"ALTER TABLE turns ADD COLUMN {name} {definition}")
        except sqlite3.Error as exc:  # a damaged file was "a bug in Hearth" on every ask and memory command
            if salvage.is_damage(exc):
                raise MemoryQueueDamagedError(
                    f"The memory queue {path} is damaged ({exc}).", fix="`hearth doctor --repair` sets it aside; the "
                    "facts already learned are kept.") from None
            why = storage_problem(path.parent) or str(exc)
            raise MemoryStoreError(f"The memory queue {path} cannot be opened now: {why}.") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def push(self, conversation_id: str | None, user_text: str, context: str = "") -> int:
        with self._lock:
            cur = self._db.execute("INSERT INTO turns (conversation_id, user_text, enqueued_at, context) "
                                   "VALUES (?, ?, ?, ?)", (conversation_id, user_text, time.time(), context))
            return int(cur.lastrowid or 0)

    def pending(self, limit: int | None = None) -> list[QueuedTurn]:
        """Pending turns that are due (a failed one waits out its back-off first), oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT id, conversation_id, user_text, enqueued_at, context, claimed_by, "
                                    "claimed_started "
                                    "FROM turns WHERE status = 'pending' AND retry_at <= ? ORDER BY id",
                                    (time.time(),)).fetchall()
        due = [QueuedTurn(*row[:5]) for row in rows if not self._claimed_elsewhere(*row[5:])]
        return due if limit is None else due[:limit]

    def claim(self, turn_id: int) -> bool:
        """Take ``turn_id`` for learning unless another running process has: two Hearth processes (two `hearth
        ask` at once, the window and `hearth serve`) both learned every queued turn, and each fact was stored
        twice. One compare-and-set; the claim of a process that was killed is taken over."""
        with self._lock:
            row = self._db.execute("SELECT claimed_by, claimed_started FROM turns WHERE id = ? AND status = 'pending'",
                                   (turn_id,)).fetchone()
            if row is None or self._claimed_elsewhere(*row):
                return False
            me = processes.stamp()
            cur = self._db.execute("UPDATE turns SET claimed_by = ?, claimed_started = ? WHERE id = ? AND "
                                   "claimed_by = ?", (me["pid"], me["started"], turn_id, row[0]))
            return cur.rowcount == 1

    def release(self, turn_id: int) -> None:
        """Give a claimed turn back (learning stopped before it was done)."""
        with self._lock:
            self._db.execute("UPDATE turns SET claimed_by = 0 WHERE id = ? AND claimed_by = ?", (turn_id, os.getpid()))

    @staticmethod
    def _claimed_elsewhere(pid: int, started: float | None) -> bool:
        """Whether another process that runs claimed the turn (``started``: when it started, see
        :func:`processes.stamp`): one killed mid-turn whose number a later process was given held it until that
        process ended."""
        return pid != os.getpid() and processes.alive(pid, started)

    def due_count(self) -> int:
        return len(self.pending())

    def next_retry_in(self) -> float | None:
        """Seconds until the next turn waiting out a back-off falls due (None: none waits)."""
        with self._lock:
            (at,) = self._db.execute("SELECT MIN(retry_at) FROM turns WHERE status = 'pending' AND retry_at > ?",
                                     (time.time(),)).fetchone()
        return None if at is None else max(0.0, at - time.time())

    def done(self, turn_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM turns WHERE id = ?", (turn_id,))

    def fail(self, turn_id: int, error: str) -> bool:
        """Record a failed extraction: retried later (back-off) until the attempts run out. True: retried."""
        with self._lock:
            (attempts,) = self._db.execute("SELECT attempts FROM turns WHERE id = ?", (turn_id,)).fetchone()
            retry = attempts < len(RETRY_DELAYS_S)
            retry_at = time.time() + RETRY_DELAYS_S[attempts] if retry else 0.0
            self._db.execute("UPDATE turns SET status = ?, error = ?, attempts = attempts + 1, retry_at = ?, "
                             "claimed_by = 0 WHERE id = ?",
                             ("pending" if retry else "failed", error[:500], retry_at, turn_id))
            return retry

    def retry_failed(self) -> int:
        """Queue every given-up turn again, with fresh attempts (``hearth doctor --repair``); returns how many."""
        with self._lock:
            cur = self._db.execute("UPDATE turns SET status = 'pending', attempts = 0, retry_at = 0, error = NULL "
                                   "WHERE status = 'failed'")
            return cur.rowcount

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM turns GROUP BY status").fetchall()
        return {"pending": 0, "failed": 0, **dict(rows)}

    def drop_conversation(self, conversation_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM turns WHERE conversation_id = ?", (conversation_id,))

    def drop_turn(self, conversation_id: str, user_text: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM turns WHERE conversation_id = ? AND user_text = ?",
                             (conversation_id, user_text))

    def clear_turns(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM turns")

    def bury(self, vectors: list[list[float]]) -> None:
        """Record forgotten facts (unit vectors), if any queued turn is older than now."""
        now = time.time()
        with self._lock:
            if self._db.execute("SELECT 1 FROM turns WHERE status = 'pending' LIMIT 1").fetchone():
                self._db.executemany("INSERT INTO tombstones (vector, forgotten_at) VALUES (?, ?)",
                                     [(np.asarray(v, dtype=np.float32).tobytes(), now) for v in vectors])

    def forgotten_after(self, vector: list[float], said_at: float) -> bool:
        """True if a fact like ``vector`` was forgotten after ``said_at``: a turn said then may not restore it."""
        with self._lock:
            rows = self._db.execute("SELECT vector FROM tombstones WHERE forgotten_at >= ?", (said_at,)).fetchall()
        if not rows:
            return False
        buried = np.stack([np.frombuffer(row[0], dtype=np.float32) for row in rows])
        return bool((buried @ np.asarray(vector, dtype=np.float32)).max() >= FORGOTTEN_COSINE)

    def prune_tombstones(self) -> None:
        """Drop tombstones no queued turn is older than: they can no longer match anything."""
        with self._lock:
            self._db.execute("DELETE FROM tombstones WHERE forgotten_at < COALESCE("
                             "(SELECT MIN(enqueued_at) FROM turns WHERE status = 'pending'), 1e308)")
