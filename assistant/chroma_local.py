"""Embedded Chroma shared by processes on one data folder (the window, ``hearth serve``, CLI commands).

Chroma's local client reads a collection's vector index once: rows another process adds later are listed (they
are in its SQLite file) but a vector search never finds them, and may fail on ids it cannot resolve ("Error
finding id"). The knowledge and memory stores therefore watch for other writers and open a fresh client when
one wrote.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class OtherWriters:
    """Tells when another process wrote to an embedded Chroma store since this one last looked.

    SQLite's ``data_version`` changes when another connection commits, Chroma's own in this process included, so
    the store records it after each of its own writes (:meth:`seen`); a change it did not make means: reopen.
    (A write by another process in the instant after one of ours is seen at its next write.)
    """

    def __init__(self, sqlite_file: Path) -> None:
        self._db = sqlite3.connect(f"{sqlite_file.as_uri()}?mode=ro", uri=True, check_same_thread=False)
        self._seen = self._version()

    def _version(self) -> int:
        return self._db.execute("PRAGMA data_version").fetchone()[0]

    def seen(self) -> None:
        """This process wrote: the store as it is now is known."""
        self._seen = self._version()

    def wrote(self) -> bool:
        """True once per change this process did not record with :meth:`seen` (callers serialise the calls)."""
        version = self._version()
        changed, self._seen = version != self._seen, version
        return changed

    def close(self) -> None:
        self._db.close()


def forget_local_system(folder: str) -> None:
    """Drop chromadb's cached system for ``folder``: the next client on it starts afresh (a half-started one
    after a failed open, or one whose index another process has changed)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(folder, None)
