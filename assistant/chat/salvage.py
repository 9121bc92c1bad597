"""Recovering what can still be read from a damaged chat history.

A history file can be damaged by a disk error, a crash of the OS mid-write, a sync tool, or a user's own
hands. Until it is dealt with, nothing that needs the history works, and the conversations in it are the
user's data: so the damaged file is moved aside (never deleted, never written to), and every row SQLite
can still read from it is copied into a fresh database by the caller, which rebuilds the search index.

Why row by row, by rowid: a damaged page makes any query that walks through it fail, but B-tree pages hold
disjoint rowid ranges, so a scan that fails can resume after the damage. The scan probes further and
further ahead until a read succeeds, then narrows back to the first readable rowid, so one bad page costs a
few dozen queries and loses only its own rows. Rows read from a damaged file may themselves be garbage, so
each one is checked for the types the schema promises before it is kept. The ``sqlite3`` shell's
``.recover`` would do more, but it is not installed everywhere, so Hearth does not depend on it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, NamedTuple

log = logging.getLogger(__name__)

#: SQLite's result codes that mean the file's contents are damaged (rather than locked, read-only or gone).
_DAMAGE_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB
_SIDE_FILES = ("-wal", "-shm", "-journal")
_MAX_ROWID = 2**63 - 1
_BATCH = 500
_ROLES = frozenset({"system", "user", "assistant"})
#: The title of a conversation whose own row was lost but whose messages were read (its id is kept).
RECOVERED_TITLE = "Recovered"


class Damaged(sqlite3.DatabaseError):
    """The history file failed its integrity check; ``problems`` are SQLite's first findings."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def is_damage(exc: BaseException) -> bool:
    """Whether an error opening the history means the file is damaged, so salvaging it is the right answer.

    A locked, read-only or missing file is not damaged, and moving it aside would lose nothing but gain
    nothing either: the user's real history would vanish from view for a transient reason.
    """
    if isinstance(exc, Damaged):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _DAMAGE_CODES
    text = str(exc).lower()
    return isinstance(exc, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text)


def check(conn: sqlite3.Connection) -> None:
    """Raise :class:`Damaged` if ``PRAGMA quick_check`` finds anything wrong (it reads every page, but
    skips the slower cross-checks of ``integrity_check``: milliseconds for a typical history)."""
    problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check(5)")]
    if problems != ["ok"]:
        raise Damaged(problems)


def problems_in(db: Path) -> list[str]:
    """SQLite's first findings on the file at ``db`` (opened read-only), or [] where it passes ``quick_check`` or
    cannot be read for another reason (missing, locked): for a store whose own errors do not say damage in words
    (chromadb's "Failed to pull logs from the log store")."""
    try:
        with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            check(conn)
    except Damaged as exc:
        return exc.problems
    except sqlite3.Error as exc:
        return [str(exc)] if is_damage(exc) else []
    return []


def move_aside(db_path: Path) -> Path:
    """Rename the damaged file (and its WAL, shared-memory and journal files, which hold part of its
    contents) to ``<name>.damaged-<timestamp>``, keeping SQLite's naming so the set still opens together."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = db_path.with_name(f"{db_path.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = db_path.with_name(f"{db_path.name}.damaged-{stamp}-{n}")
    db_path.rename(aside)
    for suffix in _SIDE_FILES:
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():
            side.rename(aside.with_name(aside.name + suffix))
    return aside


class ConversationRow(NamedTuple):
    """A ``conversations`` row as read back, in the table's column order (ready for an INSERT)."""

    pk: int
    id: str
    title: str
    created_at: float
    updated_at: float
    model: str


class MessageRow(NamedTuple):
    """A ``messages`` row as read back, in the table's column order (ready for an INSERT)."""

    seq: int
    id: str
    conversation_id: str
    role: str
    content: str
    created_at: float
    partial: int
    stats: str | None
    sources: str | None
    memories: str | None
    feedback: int


@dataclass
class Salvaged:
    """What could be read from a damaged history, already checked against the schema's types."""

    conversations: list[ConversationRow] = field(default_factory=list)
    messages: list[MessageRow] = field(default_factory=list)
    complete: bool = True  # every table was read to its end without a damaged stretch


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _json_or_none(value: Any) -> str | None:
    """A stats/sources/memories column as stored if it is readable JSON, else ``None`` (the message itself
    is worth more than a damaged attachment)."""
    if not isinstance(value, str):
        return None
    try:
        json.loads(value)
    except ValueError:
        return None
    return value


def _conversation(row: tuple[Any, ...]) -> ConversationRow | None:
    pk, cid, title, created, updated, model = row
    if not (_is_text(cid) and cid and _is_text(title) and _is_number(created) and _is_number(updated)):
        return None
    return ConversationRow(pk, cid, title, float(created), float(updated), model if _is_text(model) else "")


def _message(row: tuple[Any, ...]) -> MessageRow | None:
    seq, mid, cid, role, content, created, partial, stats, sources, memories, feedback = row
    if not (_is_text(mid) and mid and _is_text(cid) and role in _ROLES and _is_text(content)
            and _is_number(created)):
        return None
    return MessageRow(seq, mid, cid, role, content, float(created), 1 if partial else 0, _json_or_none(stats),
                      _json_or_none(sources), _json_or_none(memories), feedback if feedback in (-1, 0, 1) else 0)


def _first_after(conn: sqlite3.Connection, sql: str, after: int) -> tuple[Any, ...] | None:
    """The first row with a key above ``after``; ``None`` when the read fails or finds nothing sane."""
    try:
        row = conn.execute(sql, (after, 1)).fetchone()
    except sqlite3.DatabaseError:
        return None
    return row if row is not None and isinstance(row[0], int) and row[0] > after else None


def _in_order(after: int, rows: list[tuple[Any, ...]]) -> bool:
    keys = [after, *(row[0] for row in rows)]
    return all(isinstance(k, int) for k in keys) and all(a < b for a, b in pairwise(keys))


def _readable(conn: sqlite3.Connection, sql: str, after: int) -> bool:
    """Whether reading on from ``after`` works (also true when there is nothing more to read)."""
    try:
        conn.execute(sql, (after, 1)).fetchall()
    except sqlite3.DatabaseError:
        return False
    return True


def scan(conn: sqlite3.Connection, table: str, key: str, columns: str) -> Iterator[tuple[Any, ...] | None]:
    """Every readable row of ``table`` in ``key`` (rowid) order; ``None`` marks a stretch that was skipped.

    Every step moves ``after`` forward (a damaged page can return keys out of order, which must never make
    the scan go round in circles), so the scan ends.
    """
    sql = f"SELECT {key}, {columns} FROM {table} WHERE {key} > ? ORDER BY {key} LIMIT ?"
    after = -_MAX_ROWID - 1
    while True:
        try:
            rows = conn.execute(sql, (after, _BATCH)).fetchall()
        except sqlite3.DatabaseError:
            rows = None
        if rows is not None and _in_order(after, rows):
            yield from rows
            if len(rows) < _BATCH:
                return
            after = rows[-1][0]
            continue
        # The batch ran into damage: read what precedes it one row at a time, then jump over it.
        row = _first_after(conn, sql, after)
        if row is not None:
            yield row
            after = row[0]
            continue
        yield None
        step = 1
        while after + step < _MAX_ROWID and not _readable(conn, sql, after + step):
            step *= 2
        if after + step >= _MAX_ROWID:
            return
        low, high = after + step // 2, after + step  # unreadable after low, readable after high
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if _readable(conn, sql, middle) else (middle, high)
        after = high


def read(source: Path) -> Salvaged:
    """Read every row that can still be read from the (moved-aside) damaged file, read-only.

    Raises :class:`sqlite3.DatabaseError` if nothing at all can be read (the schema page itself is gone).
    """
    salvaged = Salvaged()
    conn = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        # Tolerate a damaged schema (a truncated file names root pages past its end, which otherwise makes
        # every query fail): the tables whose pages are still there can then be read.
        conn.execute("PRAGMA writable_schema=ON")
        present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        tables = {
            "conversations": ("pk", "id, title, created_at, updated_at, model", _conversation,
                              salvaged.conversations),
            "messages": ("seq", "id, conversation_id, role, content, created_at, partial, stats, sources, "
                                "memories, feedback", _message, salvaged.messages),
        }
        for table, (key, columns, check_row, into) in tables.items():
            if table not in present:
                salvaged.complete = False
                continue
            for row in scan(conn, table, key, columns):
                good = None if row is None else check_row(row)
                if good is None:
                    salvaged.complete = False
                    continue
                into.append(good)
    finally:
        conn.close()
    return salvaged
