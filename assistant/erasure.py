"""What a delete leaves in an SQLite database's files, taken out of them: a chat deleted, a file removed from the
knowledge index, a memory forgotten must not be read back from the disk.

SQLite leaves a deleted row's bytes where they were (in the page's free space, or in a page put on the free
list) unless ``secure_delete`` is on, and a database in WAL mode keeps the pages as they were before in its
``-wal`` file until the log is copied back and emptied, which happened only when the last connection closed:
while the window held the chat history open, a chat deleted with `hearth history delete` was read whole from
``history.sqlite3-wal``. (A full-text index keeps deleted words too, until it is merged:
:func:`assistant.fulltext.merge_away_deleted`.)
"""

from __future__ import annotations

import logging
import sqlite3

log = logging.getLogger(__name__)


def overwrite_deleted(conn: sqlite3.Connection) -> None:
    """Have ``conn`` overwrite what it deletes with zeros, in the page and in pages it frees."""
    conn.execute("PRAGMA secure_delete=ON")


def empty_wal(conn: sqlite3.Connection, what: str) -> None:
    """Copy the write-ahead log of ``what`` (named in the log) into the database and empty it, after a delete
    committed: the log held the deleted text as it was before. Outside any transaction. Another process reading
    older pages meanwhile leaves the log as it is (said in the log), and the next delete, or the last connection
    closing, empties it."""
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        log.info("%s: the write-ahead log could not be emptied (another process reads it)", what)
