"""A damaged memory store, rebuilt from what can still be read of it.

Memories live in an embedded Chroma store (``data/memory/chroma``). When its SQLite file is damaged, chromadb
refuses to open it and every memory is out of reach, though the rows holding them are usually still there:
each memory's text and its metadata (active or superseded, what replaced it, the message it came from) are
rows of ``embedding_metadata``, keyed by the memory's id in ``embeddings``. They are read row by row the way
the chat history is salvaged (:func:`assistant.chat.salvage.scan` skips damaged pages), the damaged store is
moved aside (kept), and the memories go into a fresh store under their own ids, so the links between them
hold, with vectors embedded again (the vectors themselves are in Chroma's index files, which may be damaged
too).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from contextlib import closing
from pathlib import Path
from typing import Any

from assistant.chat.salvage import scan

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
