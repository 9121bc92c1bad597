"""Embedded Chroma shared by processes on one data folder (the window, ``hearth serve``, CLI commands).

Chroma's local client reads a collection's vector index once: rows another process adds later are listed (they
are in its SQLite file) but a vector search never finds them, and may fail on ids it cannot resolve ("Error
finding id"). The knowledge and memory stores therefore watch for other writers and open a fresh client when
one wrote; the old client is left to whoever still holds it (closing it broke a write in flight).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import chromadb

log = logging.getLogger(__name__)
_HOLDING = threading.RLock()  # see panic_report_held


class OtherWriters:
    """Tells when another process wrote to an embedded Chroma store since this one last looked.

    SQLite's ``data_version`` changes when another connection commits, Chroma's own in this process included, so
    the store wraps its own writes in :meth:`writing`: while one runs nothing is blamed on others, and afterwards
    the store as it is then counts as known. (A write by another process meanwhile is seen at its next write.)
    """

    def __init__(self, sqlite_file: Path) -> None:
        self._db = sqlite3.connect(f"{sqlite_file.as_uri()}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._writes = 0  # own writes in flight, on any thread
        self._seen = self._version()

    def _version(self) -> int:
        return self._db.execute("PRAGMA data_version").fetchone()[0]

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around a write of this process's own (failed ones too: part of it may have been committed)."""
        with self._lock:
            self._writes += 1
        try:
            yield
        finally:
            with self._lock:
                self._writes -= 1
                self._seen = self._version()

    def wrote(self) -> bool:
        """True once per change this process did not make; never while one of its own writes runs (a client it
        uses must not be swapped under it, and the change cannot be told apart)."""
        with self._lock:
            if self._writes:
                return False
            version = self._version()
            changed, self._seen = version != self._seen, version
            return changed

    def close(self) -> None:
        with self._lock:
            self._db.close()


def purge_log_at_each_write(collection: chromadb.Collection) -> None:
    """Have Chroma drop its log of ``collection``'s writes after each one, not after 1000.

    Chroma keeps every write (ids, vectors and metadata: a memory's text) in its ``embeddings_queue`` table until
    the vector index is next saved, by default after 1000 writes, and only then purges it: a memory forgotten
    was still there, in the write that had added it. Saving the index at every write lets Chroma's own purge
    run at every write (40 to 75 ms more per write, measured with 200 and with 2,000 memories)."""
    if (collection.configuration.get("hnsw") or {}).get("sync_threshold") != 1:
        collection.modify(configuration={"hnsw": {"sync_threshold": 1, "batch_size": 1}})


def scrub_deleted(sqlite_file: Path) -> None:
    """Rewrite an embedded Chroma store's SQLite file without what was deleted from it.

    Chroma's SQLite deletes rows without overwriting them (its ``secure_delete`` is off and cannot be set from
    here): a forgotten memory's text stayed in the file's pages, readable by anything that reads the file. A
    ``VACUUM`` copies only the live rows (10 to 55 ms for a store of 200 to 2,000 memories). Raises
    sqlite3.Error when the file is busy for longer than 10 s."""
    with closing(sqlite3.connect(sqlite_file, timeout=10, isolation_level=None)) as db:
        db.execute("VACUUM")


def forget_local_system(folder: str) -> None:
    """Drop chromadb's cached system for ``folder``: the next client on it starts afresh (a half-started one
    after a failed open, or one whose index another process has changed)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(folder, None)


@contextmanager
def panic_report_held() -> Iterator[None]:
    """Around opening an embedded Chroma store: chromadb's Rust core prints its panic report on a damaged file
    ("thread '<unnamed>' panicked at rust/sqlite/src/db.rs … stack backtrace:") straight to the process's
    stderr before the failure reaches Python, so every knowledge command printed it above Hearth's own
    sentence about the damage. What native code writes meanwhile is held: given back to stderr when the open
    succeeds, and only logged when it fails (the failure is said by whoever catches it). One opening at a time
    holds it: two threads swapping the process's stderr at once could leave it pointing at a deleted file."""
    with _HOLDING:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):  # no stderr at all (a windowed app): nothing to hold
            yield
            return
        failed = False
        with tempfile.TemporaryFile() as held:
            os.dup2(held.fileno(), 2)
            try:
                yield
            except BaseException:
                failed = True
                raise
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                held.seek(0)
                if text := held.read():
                    if failed:
                        log.info("the vector store printed: %s", text.decode(errors="replace").strip())
                    else:
                        os.write(2, text)
