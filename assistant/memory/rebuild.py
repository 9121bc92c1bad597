"""A damaged memory store, rebuilt from what can still be read of it.

Memories live in an embedded Chroma store (``data/memory/chroma``). When its SQLite file is damaged, chromadb
refuses to open it and every memory is out of reach, though the rows holding them are usually still there:
each memory's text and its metadata (active or superseded, what replaced it, the message it came from) are
rows of ``embedding_metadata``, keyed by the memory's id in ``embeddings``. They are read row by row the way
the chat history is salvaged (:func:`assistant.chat.salvage.scan` skips damaged pages), the damaged store is
moved aside (kept), and the memories go into a fresh store under their own ids, so the links between them
hold, with vectors embedded again (the vectors themselves are in Chroma's index files, which may be damaged
too).

A store so damaged that not even those rows can be read (a file cut short) still leaves mem0's own record of
changes, ``data/memory/history.sqlite3``, a separate file holding each memory's id, text and dates as it was
added, edited or deleted: the memories the store's rows did not give back are taken from there
(:func:`logged_memories`). What only the store knew (which fact replaced which, the message each was learned
from) is lost for those; an import settles which of two facts for one slot (two home towns) is the latest.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from contextlib import closing
from pathlib import Path
from typing import Any

from assistant.chat.salvage import scan
from assistant.memory.records import ACTIVE, STATUS, MemoryItem, newest_first

#: The metadata key mem0 keeps a memory's text under.
TEXT = "data"


def readable_memories(db: Path) -> dict[str, dict[str, Any]]:
    """Memory id -> its metadata (text included), for every memory whose text can still be read from ``db``
    (a damaged ``chroma.sqlite3``, opened read-only); none when not even its tables can be read."""
    try:
        return _read(db)
    except sqlite3.DatabaseError:  # the schema page itself is gone, or there is no file
        return {}


def _read(db: Path) -> dict[str, dict[str, Any]]:
    with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        conn.execute("PRAGMA writable_schema=ON")  # a damaged schema still lets intact tables be read
        ids = {row[0]: row[1] for row in scan(conn, "embeddings", "id", "embedding_id")
               if row is not None and isinstance(row[1], str)}
        found: dict[str, dict[str, Any]] = defaultdict(dict)
        for row in scan(conn, "embedding_metadata", "rowid",
                        "id, key, string_value, int_value, float_value, bool_value"):
            if row is None or row[1] not in ids or not isinstance(row[2], str):
                continue
            value = next((v for v in row[3:6] if v is not None), None)
            if value is None and row[6] is not None:
                value = bool(row[6])
            if value is not None:
                found[ids[row[1]]][row[2]] = value
    return {memory_id: meta for memory_id, meta in found.items() if isinstance(meta.get(TEXT), str)}


def stored_items(db: Path, user_id: str, include_superseded: bool = False) -> list[MemoryItem]:
    """``user_id``'s memories as a read of ``db`` (``chroma.sqlite3``, opened read-only) gives them, newest first:
    what `hearth memory list` shows where chromadb cannot open the store because it cannot write (a full disk, a
    read-only folder): it writes as it opens, and the memories could not even be listed."""
    return newest_first([
        MemoryItem.from_mem0({"id": memory_id, "memory": meta[TEXT], "created_at": meta.get("created_at"),
                              "updated_at": meta.get("updated_at"), "metadata": meta})
        for memory_id, meta in readable_memories(db).items()
        if meta.get("user_id") == user_id and (include_superseded or meta.get(STATUS) == ACTIVE)])


def logged_memories(db: Path) -> dict[str, dict[str, str]]:
    """Memory id -> {"id", "text", "created_at", "updated_at"} of every memory mem0's history of changes (``db``, its
    ``history.sqlite3``) holds and whose last change did not delete it, in the shape an export's entry has (see
    :mod:`assistant.memory.transfer`); none when the file cannot be read."""
    try:
        with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            columns = "memory_id, old_memory, new_memory, event, created_at, updated_at, is_deleted"
            rows = [row for row in scan(conn, "history", "rowid", columns) if row is not None]
    except sqlite3.DatabaseError:
        return {}
    found: dict[str, dict[str, str]] = {}
    for _, memory_id, before, text, event, created, updated, deleted in rows:  # oldest change first
        if not isinstance(memory_id, str):
            continue
        if event == "DELETE" or deleted:
            found.pop(memory_id, None)
        elif event == "UPDATE" and text == before and memory_id in found:
            continue  # only its marks changed (superseded, corrected): not an edit, so not a later word
        elif isinstance(text, str) and text.strip():
            first = found.get(memory_id, {}).get("created_at") or created or ""
            found[memory_id] = {"id": memory_id, "text": text, "created_at": str(first),
                                "updated_at": str(updated or created or "")}
    return found
