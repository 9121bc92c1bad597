"""The Responses API's kept responses (``store``, true by default as OpenAI's), on disk in the data folder.

They were kept in the server's memory only: after `hearth serve` stopped (or the window closed) a client's
``previous_response_id`` and ``GET /v1/responses/{id}`` were told "not found". Each is one row, its record
(the response and what a follow-up continues) as JSON, written by whichever process answered it, so a server
started later, or one beside it on the same data, reads it too. Only the newest :data:`LIMIT` are kept.

A response deleted (``DELETE /v1/responses/{id}``, pushed out by newer ones, or the history conversation it
was saved in deleted) leaves the file, as a deleted chat does: the database overwrites what it deletes and its
write-ahead log is emptied after (see :mod:`assistant.erasure`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from assistant import erasure

log = logging.getLogger(__name__)

#: How many responses are kept; the oldest go first.
LIMIT = 1000
_BUSY_TIMEOUT_S = 10.0
_SCHEMA = ("CREATE TABLE IF NOT EXISTS responses (id TEXT PRIMARY KEY, kept_at REAL NOT NULL, "
           "conversation_id TEXT, record TEXT NOT NULL)",
           "CREATE INDEX IF NOT EXISTS responses_by_age ON responses (kept_at)",
           "CREATE INDEX IF NOT EXISTS responses_by_conversation ON responses (conversation_id)")


class KeptResponses:
    """Responses by id, in ``path`` (opened at first use). A file that cannot be used does not stop an answer:
    what it could not keep is said in the log, and :attr:`problem` says why for the client told "not found"."""

    def __init__(self, path: Path, limit: int = LIMIT) -> None:
        self.path, self.limit = path, limit
        self.problem = ""
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=_BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                erasure.overwrite_deleted(conn)
                for statement in _SCHEMA:
                    conn.execute(statement)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _use(self, doing: str, work: Any) -> Any:
        """``work(conn)`` under the lock; a failure is logged and kept in :attr:`problem`, and gives None."""
        with self._lock:
            try:
                return work(self._open())
            except (sqlite3.Error, OSError) as exc:
                self.problem = f"the file {self.path} could not be used ({exc})"
                log.warning("kept responses: could not %s: %s", doing, self.problem)
                return None

    def put(self, response_id: str, record: dict[str, Any], conversation_id: str | None = None) -> None:
        """Keep ``record`` (JSON) as ``response_id``, in place of one kept before; the oldest past the limit go."""
        def work(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("INSERT OR REPLACE INTO responses (id, kept_at, conversation_id, record) "
                             "VALUES (?, ?, ?, ?)", (response_id, time.time(), conversation_id,
                                                     json.dumps(record, ensure_ascii=False)))
                pushed = conn.execute("DELETE FROM responses WHERE id IN (SELECT id FROM responses ORDER BY "
                                      "kept_at DESC LIMIT -1 OFFSET ?)", (self.limit,)).rowcount
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            if pushed:
                erasure.empty_wal(conn, "kept responses")

        self._use(f"keep response {response_id}", work)

    def get(self, response_id: str) -> dict[str, Any] | None:
        row = self._use(f"read response {response_id}", lambda conn: conn.execute(
            "SELECT record FROM responses WHERE id = ?", (response_id,)).fetchone())
        return json.loads(row[0]) if row else None

    def delete(self, response_id: str) -> bool:
        """Delete one; False when it was not kept."""
        return bool(self._delete(f"delete response {response_id}", "id", response_id))

    def forget_conversation(self, conversation_id: str) -> None:
        """Delete those that continued ``conversation_id`` of the history: it was deleted, and they held its text."""
        if self._conn is not None or self.path.exists():  # nothing was ever kept: no file made for nothing
            self._delete(f"delete the responses of conversation {conversation_id}", "conversation_id",
                         conversation_id)

    def _delete(self, doing: str, column: str, value: str) -> int | None:
        def work(conn: sqlite3.Connection) -> int:
            deleted = conn.execute(f"DELETE FROM responses WHERE {column} = ?", (value,)).rowcount
            if deleted:
                erasure.empty_wal(conn, "kept responses")
            return deleted

        return self._use(doing, work)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
