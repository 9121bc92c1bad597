"""The two indexes of every collection, kept holding the same chunks.

SQLite (``index-manifest.sqlite3``) is the source of truth: the manifest of files, every chunk's text and
metadata, and an FTS5 (BM25) index maintained by triggers in the same transaction as the chunk rows.
Chroma holds one vector per chunk id. The two cannot share a transaction, so writes follow one order and
a journal makes the gap safe:

* adding: the new ids are journalled (``pending``), then upserted into Chroma, then one SQLite
  transaction inserts the chunk rows (and FTS rows), records the files and clears the journal;
* removing: one SQLite transaction deletes the rows and journals their ids, then Chroma deletes them and
  the journal is cleared.

A process killed anywhere leaves at worst journalled ids in Chroma that SQLite does not have; :meth:`recover`
deletes them before the next sync. Search only returns ids that SQLite has, so even before recovery no
half-written chunk can be cited.

The stores can also be damaged from outside (``data/chroma`` deleted, a manifest restored from a backup),
which no journal sees. So each collection has a store id, written into the manifest and into its Chroma
collection's metadata when that is created, and :meth:`Store.health` compares ids and counts (manifest
chunks, Chroma vectors, FTS5 rows): a front end can say what is wrong, search can refuse to guess, and the
next sync repairs only what is missing.

The vectors can live in a Chroma server instead (``remote.chroma_url``; see :mod:`assistant.remote`): the same
write order, journal and store-id checks apply over HTTP, SQLite (manifest, chunk texts, FTS5) stays on this
machine, and the server's collections are named ``hearth-<install id>-<collection>`` so installs sharing it
never touch each other's vectors.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from filelock import FileLock, Timeout

from assistant import erasure, fulltext
from assistant.chat.salvage import check, is_damage, move_aside, problems_in
from assistant.chroma_local import OtherWriters, forget_local_system, panic_report_held
from assistant.config import RemoteSettings
from assistant.errors import HearthError, InputError, RemoteError, StorageProblem
from assistant.knowledge.errors import (
    IndexBusyError,
    IndexDamagedError,
    IndexOpenError,
    IndexUncheckableError,
    IndexWriteError,
    InvalidCollectionNameError,
    VectorStoreDamagedError,
    VectorStoreUnavailableError,
)
from assistant.knowledge.records import Chunk
from assistant.knowledge.scan import reaches
from assistant.knowledge.words import STOP
from assistant.lazy import PYDANTIC_IMPORTS
from assistant.paths import Paths, storage_problem
from assistant.remote import ChromaGuard, ChromaTarget, chroma_prefix
from assistant.stemming import stemmed

if TYPE_CHECKING:
    import chromadb

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62}[A-Za-z0-9])?")
_SQL_VARS = 500  # ids per IN (...) list, well under SQLite's variable limit

#: :data:`fulltext.TOKENIZER` as an SQL string (for the index and for the query words alike).
_TOKENIZE = "'" + fulltext.TOKENIZER.replace("'", "''") + "'"
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY, embedder TEXT NOT NULL, created REAL NOT NULL, last_sync REAL,
    sources TEXT NOT NULL DEFAULT '[]', watch INTEGER NOT NULL DEFAULT 0, store_id TEXT,
    unfinished INTEGER NOT NULL DEFAULT 0, watch_after INTEGER, vectors_at TEXT
);
CREATE TABLE IF NOT EXISTS files (
    collection TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    content_hash TEXT NOT NULL, chunker TEXT NOT NULL, error TEXT,
    PRIMARY KEY (collection, path)
);
CREATE INDEX IF NOT EXISTS files_by_hash ON files (collection, content_hash);
-- what the last scan skipped before reading any file (a link to nothing, a name that is not UTF-8, too deep)
CREATE TABLE IF NOT EXISTS scan_skips (
    collection TEXT NOT NULL, path TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (collection, path)
);
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, collection TEXT NOT NULL, path TEXT NOT NULL,
    chunk_index INTEGER NOT NULL, text TEXT NOT NULL, page INTEGER, line_start INTEGER, line_end INTEGER,
    heading TEXT, language TEXT, chunk_hash TEXT NOT NULL, content_hash TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL, embedder TEXT NOT NULL, chunker TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_path ON chunks (collection, path);
CREATE INDEX IF NOT EXISTS chunks_by_hash ON chunks (collection, chunk_hash);
CREATE INDEX IF NOT EXISTS chunks_by_content ON chunks (collection, content_hash, chunker);
CREATE VIEW IF NOT EXISTS chunks_words AS
    SELECT rowid, hearth_terms(text) AS text, hearth_terms(heading) AS heading, hearth_name(path) AS name FROM chunks;
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5 (
    text, heading, name, content='chunks_words', content_rowid='rowid',
    tokenize={_TOKENIZE}
);
CREATE TRIGGER IF NOT EXISTS chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, text, heading, name)
    VALUES (new.rowid, hearth_terms(new.text), hearth_terms(new.heading), hearth_name(new.path));
END;
CREATE TRIGGER IF NOT EXISTS chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, text, heading, name)
    VALUES ('delete', old.rowid, hearth_terms(old.text), hearth_terms(old.heading), hearth_name(old.path));
END;
CREATE TABLE IF NOT EXISTS pending (collection TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (collection, id));
-- collections whose run deleted passages (a file removed, or edited and indexed again) whose words the keyword
-- index and the write-ahead log still hold: written with the delete, emptied by the merge (Store._merge_deleted)
CREATE TABLE IF NOT EXISTS unmerged (collection TEXT PRIMARY KEY);
-- vectors a stopped run embedded for files it had not written yet: the next run takes them up (a Cancel inside
-- a large file threw its minutes of embedding away); emptied when a run ends
CREATE TABLE IF NOT EXISTS kept_vectors (
    collection TEXT NOT NULL, chunk_hash TEXT NOT NULL, embedder TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (collection, chunk_hash)
);
"""
#: The keyword index of manifests made before CJK text was segmented, letters folded, words stemmed, symbols
#: set apart or held as words (``assistant.fulltext``): it indexed the chunk rows otherwise, so it is made again,
#: from the rows, at the first open.
_OLDER_KEYWORD_INDEX = """
DROP TRIGGER IF EXISTS chunks_ai;
DROP TRIGGER IF EXISTS chunks_ad;
DROP TABLE IF EXISTS chunks_fts;
DROP VIEW IF EXISTS chunks_words;
"""
#: Columns added after the first release, with their definitions (added to older manifests at open).
_ADDED_COLUMNS = {"collections": {"sources": "TEXT NOT NULL DEFAULT '[]'", "watch": "INTEGER NOT NULL DEFAULT 0",
                                   "store_id": "TEXT", "unfinished": "INTEGER NOT NULL DEFAULT 0",
                                   "watch_after": "INTEGER", "vectors_at": "TEXT"}}
#: ``collections.unfinished``: the last indexing run ended (0), is running or was cut off by Hearth closing or
#: dying (1: a long-lived Hearth resumes it at start), or was stopped by the user (2: left so, and said so)
RUN_ENDED, RUN_INTERRUPTED, RUN_STOPPED = 0, 1, 2
#: The Chroma collection metadata key that names the manifest collection it was made for.
STORE_ID_KEY = "hearth_store_id"
#: The key of a digest of the manifest's chunk ids when a run last ended with these vectors in step.
IDS_KEY = "hearth_ids"
#: Per connection: the query's words run through the index's own tokenizer (so they are stemmed the same
#: way), and the index's per-term document counts.
QUERY_SCHEMA = f"""
CREATE VIRTUAL TABLE temp.query_words USING fts5 (text, tokenize={_TOKENIZE});
CREATE VIRTUAL TABLE temp.query_terms USING fts5vocab ('temp', 'query_words', 'instance');
CREATE VIRTUAL TABLE temp.index_terms USING fts5vocab ('main', 'chunks_fts', 'row');
"""
#: Distinct words whose stems a store keeps (about 100 bytes each); past this the cache starts again.
_MAX_CACHED_WORDS = 200_000
#: Words in more than this share of all chunks (and in over COMMON_MIN chunks) are left out of keyword
#: queries: BM25 gives them almost no weight anyway, but ranking every chunk that contains "the" cost
#: ~100 ms at 50,000 chunks. Small collections are cheap to rank whole, so nothing is dropped there.
MAX_TERM_SHARE, COMMON_MIN = 0.1, 1000

_CHUNK_COLUMNS = ("id, collection, path, chunk_index, text, page, line_start, line_end, heading, language, "
                  "chunk_hash, content_hash, mtime_ns, embedder, chunker")
#: Vectors per Chroma upsert. Chroma holds the GIL for the whole call (~0.35 ms a vector); small slices keep
#: each stretch short, so a GUI thread in the same process never stalls for long while indexing runs.
UPSERT_SLICE = 32
#: Vectors per upsert to a Chroma server: each slice is one HTTP request, and the server, not this process,
#: does the indexing work, so slices are larger (a 256 x 384 slice is ~1 MB of JSON).
REMOTE_UPSERT_SLICE = 256
#: Seconds during which a Chroma server that could not be opened is not tried again.
RETRY_OPEN_S = 5.0


@dataclass(frozen=True)
class FileState:
    """A manifest row: what a file was when it was last indexed (``error``: why it was skipped)."""

    path: str
    size: int
    mtime_ns: int
    content_hash: str
    chunker: str
    error: str | None = None


@dataclass(frozen=True)
class CollectionRow:
    name: str
    embedder: str
    last_sync: float | None
    files: int
    chunks: int
    errors: int
    sources: tuple[str, ...] = ()  # the folders and files indexed into it (what a watcher re-syncs)
    watch: bool = False
    unfinished: int = RUN_ENDED  # how its last indexing run ended (RUN_*)
    watch_after: bool | None = None  # watching asked of a run that has not ended: set when it ends
    store_id: str | None = None  # kept through a rename (see CollectionInfo.store_id)


@dataclass(frozen=True)
class StoreHealth:
    """How a collection's vectors and keyword rows agree with its manifest (counts and the store id).

    Normal operation never leaves a manifest chunk without a vector (vectors are written first and deleted
    last), so any shortfall means damage from outside, never a sync in progress.
    """

    chunks: int  # chunk rows in the manifest: the source of truth
    vectors: int | None  # vectors in its Chroma collection; None when there is no Chroma collection
    keyword_rows: int | None  # chunk rows in the FTS5 index; None when not counted
    foreign: bool = False  # the Chroma collection was made for another store id (e.g. a restored manifest)
    server: str | None = None  # the Chroma server's URL when the vectors live in one; None: the embedded store
    #: where the collection's vectors were last written when that is not here (a Chroma server's URL, or "" for
    #: the embedded store): syncs made there changed the manifest and not these vectors
    written_elsewhere: str | None = None

    @property
    def missing_vectors(self) -> int:
        """Manifest chunks that dense search cannot find (at least; extra vectors could hide a few)."""
        if self.vectors is None or self.foreign:
            return self.chunks
        return max(self.chunks - self.vectors, 0)

    @property
    def problem(self) -> str | None:
        """What is wrong, in words a user can act on; None when the indexes agree."""
        parts = []
        if self.foreign and self.chunks:
            restored = (f"the manifest was restored from a backup, or another copy of this data folder uses the "
                        f"Chroma server at {self.server}") if self.server else \
                "the manifest or data/chroma was restored from a backup"
            parts.append(f"its vector store belongs to another index ({restored}), so none of its {self.chunks} "
                         "chunks can be found by meaning")
        elif self.missing_vectors:
            if self.server and self.vectors is None:
                lost = f"the Chroma server at {self.server} does not hold this collection (yet)"
            else:
                lost = "the vector store is missing" if self.vectors is None else "vectors were deleted"
            parts.append(f"{self.missing_vectors} of its {self.chunks} chunks have no vector ({lost})")
        elif self.written_elsewhere is not None:
            there = f"the Chroma server at {self.written_elsewhere}" if self.written_elsewhere else \
                "this computer's own vector store"
            parts.append(f"it was last indexed while its vectors were kept in {there}, so files changed since "
                         "may not be found by meaning here")
        if self.keyword_rows is not None and self.keyword_rows != self.chunks:
            parts.append(f"the keyword index holds {self.keyword_rows} of its {self.chunks} chunks")
        return "; ".join(parts) or None

    @property
    def vectors_in_step(self) -> bool:
        """Whether the vectors can be taken to be the manifest's without comparing their ids."""
        return self.vectors == self.chunks and not self.foreign and self.written_elsewhere is None


@contextmanager
def write_errors() -> Iterator[None]:
    """A failed write (a full disk, a file-size limit, a read-only folder) becomes one sentence for the user.

    Every write is journalled first (see the module docstring), so whatever failed mid-way is redone by the
    next sync: nothing already indexed is lost.
    """
    try:
        yield
    except HearthError:
        raise
    except (sqlite3.Error, OSError) as exc:
        raise IndexWriteError(_write_failure(exc)) from exc
    except Exception as exc:  # Chroma's own error types (its SQLite and HNSW files) vary by version
        if "disk" not in str(exc).lower() and not isinstance(exc.__cause__ or exc.__context__, OSError | sqlite3.Error):
            raise
        raise IndexWriteError(_write_failure(exc)) from exc


def _write_failure(exc: BaseException) -> str:
    """A failed write in words, with what to do. A function of Hearth's own that SQLite does not know (a trigger
    calling it) means a newer Hearth changed the index since this process opened it: an older one left running
    said "Writing the index failed (no such function: hearth_tokens). If the disk is full, free some space…" at
    every re-sync, and no space freed helped."""
    if isinstance(exc, sqlite3.OperationalError) and str(exc).startswith("no such function: hearth_"):
        return (f"Writing the index failed ({exc}): another Hearth, newer than this one, changed the index since "
                "this one opened it. Restart Hearth: what was indexed so far is kept, and the rest is picked up "
                "where it stopped.")
    return (f"Writing the index failed ({exc}). If the disk is full, free some space and run the same sync "
            "again: what was indexed so far is kept, and the rest is picked up where it stopped.")


def named_in(manifest: Path) -> list[tuple[str, list[str], bool]]:
    """The collections (name, folders, watched) an index file that cannot be opened still names, where its rows
    can be read: what indexing them anew starts from (see ``Assistant.index_anew``). A file cut short is read
    from a copy grown back to the size its header gives (SQLite refuses the whole schema of a short file, though
    the collections' page, one of the first, is whole)."""
    with tempfile.TemporaryDirectory(prefix="hearth-index-") as scratch:
        copy = Path(scratch) / manifest.name
        try:
            shutil.copyfile(manifest, copy)
            with copy.open("rb") as fh:
                header = fh.read(32)
            page_size = int.from_bytes(header[16:18], "big")
            whole = (65536 if page_size == 1 else page_size) * int.from_bytes(header[28:32], "big")
            if len(header) == 32 and copy.stat().st_size < whole:
                os.truncate(copy, whole)
            with closing(sqlite3.connect(f"{copy.as_uri()}?mode=ro", uri=True)) as conn:
                rows = conn.execute("SELECT name, sources, watch FROM collections").fetchall()
        except (OSError, sqlite3.Error):
            return []
    named = []
    for name, sources, watch in rows:
        try:
            folders = [s for s in json.loads(sources) if isinstance(s, str)]
        except (TypeError, ValueError):
            continue
        if isinstance(name, str) and _NAME.fullmatch(name):
            named.append((name, folders, bool(watch)))
    return named


def validate_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidCollectionNameError(
            f"{name!r} is not a valid collection name: use 1-64 unaccented Latin letters (a-z, A-Z), digits, "
            "'-' or '_', starting and ending with a letter or digit."
        )
    return name


def query_words(text: str) -> list[str]:
    """The words of ``text``, lower-cased, each once; CJK runs and symbols are :func:`query_phrases`' business."""
    words = (part for w in _words(text) for part in fulltext.query_terms(w.lower())[0])
    return list(dict.fromkeys(words))[:64]


def query_phrases(text: str) -> list[str]:
    """The CJK phrases of ``text`` (neighbouring characters: ``fulltext.query_terms``) and its runs of symbols
    ("★★★★★", "🦄"), each once."""
    phrases = (phrase for w in _words(text) for phrase in fulltext.query_terms(w)[1])
    return list(dict.fromkeys(phrases))[:64]


def _words(text: str) -> list[str]:
    # composed first: a decomposed "crème" (macOS, some keyboards) split at its accent into "cre" and "me"; folded
    # and stemmed as the index is ("Straße" is "strasse", "Москву" is "москв"); symbols too, which "\w+" never
    # finds: a keyword search of "🦄" alone asked for nothing, "No matches." though a note held it
    words = stemmed(unicodedata.normalize("NFC", text).translate(fulltext.FOLD))
    return re.findall(r"\w+", words) + fulltext.symbol_runs(words)


#: The SQL function that gives the keyword index a file's name as words (see :func:`name_words`).
NAME_FUNCTION = "hearth_name"


def name_words(path: str | None) -> str | None:
    """A file's name as the keyword index holds it ("dishwasher-e4_forum.notes.md": dishwasher e4 forum notes;
    "QuarterlyBudget.txt" as itself and as Quarterly Budget): a word only in the name ("party plan.md") found
    nothing."""
    if path is None:
        return None
    words = re.sub(r"[-_.]+", " ", Path(path).stem)
    split = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", words)  # "QuarterlyBudgetReport"
    return fulltext.folded(words if split == words else f"{words} {split}")


#: The "e" of an umlaut typed as two letters ("Juergens", "Koeln", "Maedchen").
_UMLAUT_TYPED = re.compile(r"(?<=[aou])e")


#: A code as typed: word parts joined by "-", "_", ".", "/" or ":", with a digit ("INV-2099-7777", "v1.2.3").
_IDENTIFIER = re.compile(r"\w+(?:[-_./:]\w+)+")


def identifiers(text: str) -> list[str]:
    """The codes of ``text`` made of several word parts, one with a digit, each once: a passage holds one only
    as the whole phrase ("INV-20931" holds "inv", but not "INV-2099-7777")."""
    found = (m.group() for m in _IDENTIFIER.finditer(unicodedata.normalize("NFC", text)))
    return list(dict.fromkeys(code for code in found if any(ch.isdigit() for ch in code)))


def phrase_query(code: str) -> str:
    """A code's word parts as one FTS5 phrase: held only where they stand together, in this order."""
    return f'"{" ".join(query_words(code))}"'


def keyword_query(words: Iterable[str]) -> str | None:
    """Words as an FTS5 query: each one quoted (so no FTS5 syntax applies), ORed for BM25 ranking."""
    return " OR ".join(f'"{w}"' for w in words) or None


def _batched(items: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _chroma_only(remote: RemoteSettings | None) -> RemoteSettings:
    """The part of the remote settings the store uses (a copy: later edits to the settings do not leak in)."""
    if remote is None:
        return RemoteSettings()
    return RemoteSettings(chroma_url=remote.chroma_url.strip(), chroma_token=remote.chroma_token.strip())


#: Only files under this folder, or under any of these (one folder under each name it is indexed by).
Folder = str | tuple[str, ...] | None


def _folder_clause(folder: Folder) -> tuple[str, list[str]]:
    if folder is None:
        return "", []
    clauses, params = [], []
    for name in (folder,) if isinstance(folder, str) else folder:
        prefix = name.rstrip("/\\")
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append(r"c.path = ? OR c.path LIKE ? ESCAPE '\'")
        params += [prefix, escaped + "/%"]
    return f" AND ({' OR '.join(clauses)})", params


class Store:
    """SQLite manifest + FTS5 + Chroma for all collections. Thread-safe; one instance per process.

    The vectors live in the embedded Chroma in ``data/chroma``, or in a Chroma server when ``remote.chroma_url``
    is set (see :mod:`assistant.remote`): the manifest and the keyword index stay here either way. A server's
    failures reach callers as one :class:`RemoteError` sentence naming its URL.
    """

    def __init__(self, paths: Paths, remote: RemoteSettings | None = None) -> None:
        paths.data_dir.mkdir(parents=True, exist_ok=True)
        self._paths = paths
        self._remote = _chroma_only(remote)
        self._lock = threading.RLock()  # the manifest's one connection
        # Opening Chroma (its import: seconds, and it waits for the memory store's import, see PYDANTIC_IMPORTS)
        # has a lock of its own: under the manifest's, every read of the manifest waited for it, and after a
        # restart a moved file's chip said "Looking for it…" until the start-up's listing had opened Chroma
        self._chroma_lock = threading.RLock()
        self._db = self._connect()
        self._chroma: chromadb.ClientAPI | None = None
        self._others: OtherWriters | None = None  # writes by other processes to the embedded store
        self._chroma_failed: tuple[float, RemoteError] | None = None  # when a server last could not be opened
        self._prefix: str | None = None  # this install's collection prefix on a server (read once)
        #: What keyword search looks up for every word: its stems (the tokenizer's, fixed) and how many chunks
        #: hold each stem, with the chunk total. Kept until the index changes (a write here, counted by
        #: ``_writes``, or by another connection, seen in ``PRAGMA data_version``): the lookups read each stem's
        #: whole list of chunks: at 50,000 chunks keeping them took a keyword search from 42.7 to 29.0 ms (p50,
        #: old and new code in alternating processes).
        self._stems: dict[str, tuple[str, ...]] = {}
        self._counts: dict[str, int] = {}
        self._total: int | None = None
        self._counted_at: tuple[int, int] | None = None
        self._writes = 0
        self._merge_cut_off_runs()

    # --- plumbing --------------------------------------------------------------------------------------
    def _connect(self, path: Path | None = None) -> sqlite3.Connection:
        """The manifest at ``path`` (the index's own by default), configured and migrated."""
        path = path or self._paths.index_manifest
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=10000")
            # a deleted row's bytes are overwritten, not left in a free page: the text of a file removed from the
            # index was read from the file after it (with the keyword index merged, see end_run)
            erasure.overwrite_deleted(db)
            fulltext.register(db)
            db.create_function(NAME_FUNCTION, 1, name_words, deterministic=True)
            db.executescript(SCHEMA)
            self._renew_keyword_index(db)
            self._add_columns(db)
            db.executescript(QUERY_SCHEMA)
        except sqlite3.Error as exc:  # read-only folder, damaged file: said as such, not as "a bug in Hearth"
            if why := storage_problem(path.parent):  # a full disk is no damage (it read "disk I/O error. If the
                # folder is read-only… if the file is damaged, move it aside")
                raise IndexOpenError(f"The knowledge index {path} cannot be opened now: {why} ({exc}).",
                                     fix=f"{why.fix}; the index is kept as it is.", storage=why) from None
            raise IndexOpenError(f"The knowledge index {path} cannot be opened ({exc}).", fix="If the folder is "
                                 "read-only, make it writable; if the file is damaged, move it aside and index "
                                 "your folders again.") from None
        return db

    @staticmethod
    def _renew_keyword_index(db: sqlite3.Connection) -> None:
        """Make a keyword index that predates CJK segmentation, folding, file names, stems or symbols set apart
        and held as words again (once; seconds for a large index)."""
        row = db.execute("SELECT sql FROM sqlite_master WHERE name = 'chunks_ai'").fetchone()
        if fulltext.FOLDED_FUNCTION in (row[0] if row else ""):
            return
        # one script, one transaction; a second process doing the same meanwhile only repeats the work
        try:
            db.executescript(f"BEGIN IMMEDIATE;{_OLDER_KEYWORD_INDEX}{SCHEMA}"
                             "INSERT INTO chunks_fts (chunks_fts) VALUES ('rebuild');\nCOMMIT;")
        except sqlite3.Error:
            if db.in_transaction:  # a full disk: the old index stays, and the next open tries again
                db.execute("ROLLBACK")
            raise
        log.info("knowledge: the keyword index was made again (CJK segmented, letters folded, stems, symbols as words)")

    def _merge_cut_off_runs(self) -> None:
        """Merge away what runs killed before they ended (a crash, `kill -9`) deleted: their words stayed in the
        keyword index's file until a later run happened to delete passages too. A run still going (its lock held
        by another process) is left to merge when it ends; a folder that cannot be written waits for a later
        open."""
        try:
            cut_off = [row[0] for row in self._query("SELECT collection FROM unmerged")]
            if not cut_off:
                return
            with contextlib.ExitStack() as runs:
                for name in cut_off:
                    runs.enter_context(self.writing(name))
                with self._transaction() as db:
                    merged = self._merge_deleted(db)
        except (IndexBusyError, IndexWriteError, IndexDamagedError) as exc:  # (`hearth doctor --repair` opens a
            log.info("knowledge: the keyword index is merged later: %s", exc)  # damaged one to rebuild it)
            return
        if merged:
            self._truncate_wal()

    @staticmethod
    def _add_columns(db: sqlite3.Connection) -> None:
        for table, columns in _ADDED_COLUMNS.items():
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            for name, definition in columns.items():
                if name not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")

    def close(self) -> None:
        """Close SQLite and release Chroma, so a later Store on the same folder opens what is on disk now."""
        with self._lock:
            self._db.close()
            self._close_chroma()

    def _open_local(self) -> chromadb.ClientAPI:
        """The embedded Chroma in the data folder. A damaged one is one sentence with the way out: chromadb's
        Rust core panics on a malformed file (a BaseException, which went past every handler: a traceback on
        every knowledge command, `hearth doctor` included)."""
        with PYDANTIC_IMPORTS:
            import chromadb

            folder = str(self._paths.chroma_dir)
            try:
                with panic_report_held():
                    client = chromadb.PersistentClient(path=folder,
                                                       settings=chromadb.Settings(anonymized_telemetry=False))
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # pyo3's PanicException derives from BaseException
                # chromadb keeps the half-started system for the folder; a later client must not get it
                forget_local_system(folder)
                raise self._unusable(exc) from None
        return ChromaGuard(client, self._local_errors)

    @contextmanager
    def _local_errors(self) -> Iterator[None]:
        """A damaged page met after the store opened (reading a collection or its rows) is the damage
        :meth:`_open_local` reports: it was "a bug in Hearth: InternalError … database disk image is
        malformed" (or "InvalidArgumentError … Failed to pull logs from the log store", by where the damage
        lies) on every knowledge command and in `hearth doctor`, which then offered no repair. Whether a failure
        is damage is asked of SQLite (``quick_check`` of chroma.sqlite3), not read from chromadb's words."""
        from chromadb.errors import NotFoundError

        try:
            yield
        except (HearthError, NotFoundError):
            raise
        except Exception as exc:
            if (damage := self._file_damage()) is None:
                raise
            raise damage from exc

    def check_vectors_file(self) -> None:
        """Raise the embedded store's own error when it cannot be opened or SQLite finds its file damaged
        (`hearth doctor`: damage that only some reads meet was a problem of each collection, with a server's
        advice, "Start the Chroma server")."""
        _ = self.chroma
        if not self.server and (damage := self._file_damage()) is not None:
            raise damage

    def _file_damage(self) -> HearthError | None:
        problems = problems_in(self._paths.chroma_dir / "chroma.sqlite3")
        return self._unusable(RuntimeError(f"SQLite finds: {'; '.join(problems)}")) if problems else None

    def _unusable(self, exc: BaseException) -> HearthError:
        """The embedded store's failure ``exc`` as the user's sentence: damage, or a disk that is full or a
        folder that is read-only (not damage: moving the store aside would only hide the user's vectors)."""
        folder = self._paths.chroma_dir
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:200]
        if why := storage_problem(folder if folder.exists() else folder.parent):
            return VectorStoreUnavailableError(f"The vector store in {folder} cannot be opened now: {why} ({reason}).",
                                               fix=f"{why.fix}, then try again; keyword search works meanwhile.",
                                               storage=why)
        return VectorStoreDamagedError(
            f"The vector store in {folder} cannot be opened ({reason}).", fix="`hearth doctor --repair` sets it "
            "aside and embeds every passage again from the index; keyword search works meanwhile.")

    def set_aside_vectors(self) -> Path:
        """Move the embedded vector store aside (kept, not deleted) so the next sync builds a new one from the
        manifest's chunk texts; returns where it went."""
        self._close_chroma()
        folder = self._paths.chroma_dir
        aside = folder.with_name(f"{folder.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        if folder.exists():
            folder.rename(aside)
        return aside

    def _close_chroma(self) -> None:
        with self._chroma_lock:
            chroma, self._chroma = self._chroma, None
            others, self._others = self._others, None
        if others is not None:
            others.close()
        if chroma is not None:
            try:
                chroma.close()
            except RemoteError as exc:  # a server that went away: nothing left to release
                log.info("closing the Chroma client: %s", exc)

    def _own_vectors(self) -> contextlib.AbstractContextManager[None]:
        """Chroma calls of this process's own, reads included: not a reason to open the store again. Reads
        count because a client commits to the file when it opens, at its first ``get_or_create_collection``
        and at its first query (it compacts its log); taken for another process's writes, each reopened the
        store, whose new client committed again: a reopen at every call (120 for 30 searches, 17 → 94 ms a
        search, once any other process had written)."""
        _ = self.chroma  # opened (and checked for other writers) first, so that its watcher sees the write
        return self._others.writing() if self._others is not None else contextlib.nullcontext()

    @property
    def server(self) -> str | None:
        """The URL of the Chroma server holding the vectors; None: the embedded store in ``data/chroma``."""
        return self._remote.chroma_url or None

    def use_remote(self, remote: RemoteSettings | None) -> bool:
        """Keep the vectors in the Chroma server ``remote`` names from now on (None or an empty URL: the embedded
        store). The current client is closed at once and the next call opens the new one; the manifest and the
        keyword index stay where they are. Returns whether anything changed."""
        new = _chroma_only(remote)
        with self._chroma_lock:
            if (new.chroma_url, new.chroma_token) == (self._remote.chroma_url, self._remote.chroma_token):
                return False
            self._remote = new
            self._chroma_failed = None
            self._close_chroma()
        return True

    @property
    def chroma(self) -> chromadb.ClientAPI:
        """Opened on first use: listing collections or a keyword search never pays Chroma's start-up. The
        embedded store is opened again (about 10 ms) when another process wrote to it (``hearth index`` while the
        window runs): its new vectors were never found, and a search could fail on them ("Error finding id")."""
        with self._chroma_lock:
            if self._others is not None and self._others.wrote():
                log.info("knowledge: another process changed the vector store; opening it again")
                self._chroma = None  # left open: a collection another thread holds stays usable
                forget_local_system(str(self._paths.chroma_dir))
            if self._chroma is None:
                try:
                    target = ChromaTarget.from_settings(self._remote)
                except InputError as exc:  # a malformed URL in the settings: the store's one failure type
                    raise RemoteError(str(exc)) from None
                if target is None:
                    if self._others is None:  # the first open: the watch starts from the store as it opened
                        self._chroma = self._open_local()
                        self._others = OtherWriters(self._paths.chroma_dir / "chroma.sqlite3")
                    else:
                        with self._others.writing():  # a client opening commits to the file: ours
                            self._chroma = self._open_local()
                else:
                    # A server that just failed to open is not asked again at once: a listing of many
                    # collections says it once instead of waiting out a timeout per collection.
                    if self._chroma_failed and time.monotonic() - self._chroma_failed[0] < RETRY_OPEN_S:
                        raise RemoteError(str(self._chroma_failed[1]))
                    try:
                        self._chroma = target.guard(target.open_client())
                    except RemoteError as exc:
                        self._chroma_failed = (time.monotonic(), exc)
                        raise
                    self._chroma_failed = None
            return self._chroma

    def chroma_name(self, collection: str) -> str:
        """The Chroma collection of ``collection``: ``hearth-NAME`` in the embedded store, and on a server
        ``hearth-<install id>-NAME``, so installs sharing one server never touch each other's vectors."""
        if not self.server:
            return f"hearth-{collection}"
        if self._prefix is None:
            self._prefix = chroma_prefix(self._paths)
        return f"{self._prefix}{collection}"

    def _vectors(self, collection: str) -> chromadb.Collection:
        """The collection's Chroma set, created (stamped with the store id) if it does not exist."""
        store_id = self.store_id(collection)
        with self._own_vectors():
            return self.chroma.get_or_create_collection(
                self.chroma_name(collection), embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}}, metadata={STORE_ID_KEY: store_id} if store_id else None,
            )

    def _existing_vectors(self, collection: str) -> chromadb.Collection | None:
        """The collection's Chroma set, or None: a check must not create what it is looking for."""
        chroma = self.chroma  # first: it imports chromadb under PYDANTIC_IMPORTS
        from chromadb.errors import NotFoundError

        try:
            with self._own_vectors():
                return chroma.get_collection(self.chroma_name(collection), embedding_function=None)
        except NotFoundError:
            return None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, write_errors():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            finally:
                self._writes += 1  # the cached word counts are stale now
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock, self._read_errors():
            return self._db.execute(sql, params).fetchall()

    @contextmanager
    def _read_errors(self) -> Iterator[None]:
        """A damaged page of the index met by a read is said with its repair: a damaged keyword index made
        every search and grounded answer "a bug in Hearth: DatabaseError", while `hearth doctor` said every
        collection was in step."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            # one line: SQLite's integrity check lists its findings on lines of their own
            reason = " ".join(str(exc).replace("*** in database main ***", "").split())
            reason = f"{reason[:120]}…" if len(reason) > 120 else reason
            raise IndexDamagedError(
                f"The knowledge index {self._paths.index_manifest} is damaged ({reason}).", fix="`hearth doctor "
                "--repair` copies what can be read into a new index and builds its keyword index again (the "
                "damaged file is kept).") from None

    def check_index_file(self) -> None:
        """Raise IndexDamagedError when SQLite finds the index file damaged or the keyword index out of step with
        the passages (``hearth doctor``); IndexUncheckableError when the folder cannot take that check's write
        (read-only, a full disk): it was "a bug in Hearth: OperationalError: attempt to write a readonly
        database"."""
        with self._lock, self._read_errors():
            check(self._db)
            try:
                self._db.execute("INSERT INTO chunks_fts (chunks_fts, rank) VALUES ('integrity-check', 1)")
            except sqlite3.Error as exc:
                manifest = self._paths.index_manifest
                if is_damage(exc) or not (why := storage_problem(manifest.parent)):
                    raise
                raise IndexUncheckableError(f"The knowledge index {manifest} cannot be checked now: {why}.",
                                            storage=why) from None

    def rebuild_index_file(self) -> Path:
        """Copy every table of the index but the keyword index's into a new file, build the keyword index there
        from the passages, and put it in place of this one, which is kept beside it; returns where. Rebuilding
        the keyword index in place fails on the damaged pages it must free first."""
        manifest = self._paths.index_manifest
        fresh = manifest.with_name(f"{manifest.name}.rebuilding")
        for leftover in (fresh, *(fresh.with_name(fresh.name + side) for side in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
        with self._lock:
            new = self._connect(fresh)
            try:
                new.execute("ATTACH DATABASE ? AS old", (str(manifest),))
                tables = [row[0] for row in new.execute(
                    "SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'chunks_fts%' "
                    "AND name NOT LIKE 'sqlite_%'")]
                new.execute("BEGIN IMMEDIATE")
                for table in tables:  # the chunks' trigger fills the new keyword index as they are copied
                    ours = [row[1] for row in new.execute(f"PRAGMA main.table_info({table})")]
                    theirs = {row[1] for row in new.execute(f"PRAGMA old.table_info({table})")}
                    columns = ", ".join(c for c in ours if c in theirs)
                    if columns:
                        new.execute(f"INSERT OR IGNORE INTO main.{table} ({columns}) SELECT {columns} FROM old.{table}")
                new.execute("COMMIT")
                new.execute("DETACH DATABASE old")
                check(new)
            except sqlite3.Error as exc:
                new.close()
                raise IndexOpenError(f"The knowledge index {manifest} cannot be rebuilt: its passages cannot be "
                                     f"read ({exc}). Move it aside and index your folders again.") from None
            new.close()
            self._db.close()
            aside = move_aside(manifest)
            fresh.rename(manifest)
            self._db = self._connect()
            self._writes += 1
        return aside

    @contextmanager
    def writing(self, collection: str) -> Iterator[None]:
        """Exclusive right to change ``collection``, across processes (released by the OS if killed). A lock
        file that cannot be made (a read-only data folder) is IndexWriteError: `hearth index` ended as "a bug in
        Hearth: OSError: [Errno 30] Read-only file system: '…/locks/base.lock'"."""
        lock_dir = self._paths.data_dir / "locks"
        lock = FileLock(lock_dir / f"{collection}.lock", blocking=False)
        try:
            lock_dir.mkdir(exist_ok=True)
            lock.acquire()
        except Timeout:
            raise IndexBusyError(f"Collection {collection!r} is being indexed by another job; try again when "
                                 "it has finished.") from None
        except OSError as exc:
            why = storage_problem(lock_dir if lock_dir.exists() else lock_dir.parent) or StorageProblem(
                exc.strerror or str(exc), full=exc.errno == errno.ENOSPC)
            raise IndexWriteError(f"Collection {collection!r} cannot be changed now: Hearth cannot write "
                                  f"{lock.lock_file}: {why}.", fix=f"{why.fix}, then try again.", storage=why) from None
        try:
            yield
        finally:
            lock.release()

    # --- collections -----------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Every collection's name, without the counts :meth:`collections` reads (the background looks at them
        every few seconds)."""
        return [row[0] for row in self._query("SELECT name FROM collections ORDER BY name")]

    def collection(self, name: str) -> CollectionRow | None:
        rows = self.collections(name)
        return rows[0] if rows else None

    def collections(self, name: str | None = None) -> list[CollectionRow]:
        where, params = ("WHERE k.name = ?", [name]) if name is not None else ("", [])
        rows = self._query(
            f"""SELECT k.name, k.embedder, k.last_sync,
                   (SELECT count(*) FROM files f WHERE f.collection = k.name AND f.error IS NULL),
                   (SELECT count(*) FROM chunks c WHERE c.collection = k.name),
                   (SELECT count(*) FROM files f WHERE f.collection = k.name AND f.error IS NOT NULL)
                   + (SELECT count(*) FROM scan_skips s WHERE s.collection = k.name),
                   k.sources, k.watch, k.unfinished, k.watch_after, k.store_id
                FROM collections k {where} ORDER BY k.name""",
            params,
        )
        return [CollectionRow(*row[:6], tuple(json.loads(row[6])), bool(row[7]), row[8],
                              None if row[9] is None else bool(row[9]), row[10]) for row in rows]

    def add_sources(self, name: str, sources: Iterable[str]) -> None:
        """Remember what was indexed into ``name`` (kept in first-seen order, each once, and none inside
        another: a subfolder indexed again into its folder's collection was listed, synced and watched twice).
        One that the other's scan skips (a hidden folder) stays a source of its own: dropped, its files were
        removed at the folder's next sync."""
        with self._transaction() as db:
            (current,) = db.execute("SELECT sources FROM collections WHERE name = ?", (name,)).fetchone()
            merged = list(dict.fromkeys([*json.loads(current), *sources]))
            merged = [s for s in merged if not any(o != s and reaches(Path(o), Path(s)) for o in merged)]
            db.execute("UPDATE collections SET sources = ? WHERE name = ?", (json.dumps(merged), name))

    def drop_sources(self, name: str, sources: Iterable[str]) -> None:
        """Forget folders of ``name`` (one moved elsewhere: its files were found there)."""
        dropped = set(sources)
        with self._transaction() as db:
            (current,) = db.execute("SELECT sources FROM collections WHERE name = ?", (name,)).fetchone()
            kept = [s for s in json.loads(current) if s not in dropped]
            db.execute("UPDATE collections SET sources = ? WHERE name = ?", (json.dumps(kept), name))

    def set_watch(self, name: str, on: bool) -> None:
        with self._transaction() as db:
            db.execute("UPDATE collections SET watch = ? WHERE name = ?", (int(on), name))

    def stale_chunker_files(self, name: str, signature: str) -> int:
        """Files of ``name`` chunked under another chunker signature (re-chunked at the next sync)."""
        return self._query("SELECT count(*) FROM files WHERE collection = ? AND error IS NULL AND chunker != ?",
                           (name, signature))[0][0]

    def create_collection(self, name: str, embedder: str) -> None:
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO collections (name, embedder, created, store_id) VALUES (?, ?, ?, ?)",
                       (validate_name(name), embedder, time.time(), uuid.uuid4().hex))

    def store_id(self, name: str) -> str | None:
        """The id that ties ``name``'s manifest rows to its Chroma collection (None: an older manifest)."""
        rows = self._query("SELECT store_id FROM collections WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def mark_synced(self, name: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE collections SET last_sync = ? WHERE name = ?", (time.time(), name))

    def begin_run(self, name: str, watch: bool | None) -> int:
        """An indexing run of ``name`` starts: unfinished until :meth:`end_run` (a run cut off by a crash stays
        so); ``watch``, when not None, is what watching becomes once it ends. Returns how the run before it ended
        (RUN_*; 0 for one that finished; see :meth:`restore_run`)."""
        with self._transaction() as db:
            row = db.execute("SELECT unfinished FROM collections WHERE name = ?", (name,)).fetchone()
            db.execute("UPDATE collections SET unfinished = ?, watch_after = coalesce(?, watch_after) WHERE name = ?",
                       (RUN_INTERRUPTED, None if watch is None else int(watch), name))
        return int(row[0] or 0) if row is not None else 0

    def restore_run(self, name: str) -> None:
        """A run that changed nothing was cut off in a collection whose last run had ended: it is whole, as it
        was. One whose catch-up sync a short `hearth chat` cut at its start was called "not fully indexed" by every
        search after it, though every file was in it."""
        with self._transaction() as db:
            db.execute("UPDATE collections SET unfinished = ? WHERE name = ?", (RUN_ENDED, name))

    def end_run(self, name: str, how: int) -> None:
        """The run of ``name`` ended (``how``: RUN_*): a finished one turns watching to what was asked. What its
        files no longer hold leaves the index's files now, once per run (a merge is about 1 s for 50,000
        passages): a password taken out of a note, the note indexed again, was still read from the keyword
        index's file and its write-ahead log, as a deleted file's words were before. What runs of other processes,
        or one killed before it ended, deleted is merged with it (:meth:`_note_deleted`)."""
        with self._transaction() as db:
            merged = self._merge_deleted(db)
            if how == RUN_ENDED:
                db.execute("UPDATE collections SET watch = coalesce(watch_after, watch), watch_after = NULL "
                           "WHERE name = ?", (name,))
                db.execute("DELETE FROM kept_vectors WHERE collection = ?", (name,))
            db.execute("UPDATE collections SET unfinished = ? WHERE name = ?", (how, name))
        if merged:
            self._truncate_wal()
        if how == RUN_ENDED:
            try:
                self.vectors_written(name, in_step=True)
            except Exception as exc:  # (a server gone just now): the next check compares the ids instead
                log.info("the vectors of %s could not be stamped as in step: %s", name, exc)

    def rename_collection(self, old: str, new: str) -> None:
        """Call collection ``old`` ``new``: its rows, and its Chroma set, renamed in the rows' transaction (a
        Chroma rename that fails leaves both as they were; one that succeeds just before a crash leaves rows
        whose vectors the next sync finds missing and embeds again)."""
        validate_name(new)
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM collections WHERE name = ?", (new,)).fetchone():
                raise InputError(f"There is a collection named {new!r} already: choose another name.")
            db.execute("UPDATE collections SET name = ? WHERE name = ?", (new, old))
            for table in ("chunks", "files", "pending", "scan_skips", "kept_vectors", "unmerged"):
                db.execute(f"UPDATE {table} SET collection = ? WHERE collection = ?", (new, old))
            vectors = self._existing_vectors(old)
            if vectors is not None:
                with self._own_vectors():
                    vectors.modify(name=self.chroma_name(new))

    def drop_collection(self, name: str) -> None:
        """Remove every trace of a collection; SQLite first, so a crash leaves only an unused Chroma set."""
        with self._transaction() as db:
            passages = db.execute("DELETE FROM chunks WHERE collection = ?", (name,)).rowcount
            for table in ("files", "pending", "scan_skips", "kept_vectors"):
                db.execute(f"DELETE FROM {table} WHERE collection = ?", (name,))
            db.execute("DELETE FROM collections WHERE name = ?", (name,))
            self._note_deleted(db, name, passages)
            merged = self._merge_deleted(db)
        try:
            with self._own_vectors():
                self.chroma.delete_collection(self.chroma_name(name))
        except RemoteError as exc:  # removed here all the same; say what is left on the server
            log.warning("collection %r was removed, but its vectors stay on the server as %s: %s", name,
                        self.chroma_name(name), exc)
        except Exception:  # chromadb's "does not exist" error type varies by version
            pass
        if merged:
            self._truncate_wal()

    # --- manifest --------------------------------------------------------------------------------------
    def file_states(self, collection: str) -> dict[str, FileState]:
        rows = self._query("SELECT path, size, mtime_ns, content_hash, chunker, error FROM files "
                           "WHERE collection = ?", (collection,))
        return {row[0]: FileState(*row) for row in rows}

    def stamps(self, files: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int]]:
        """``(size, mtime_ns)`` of each ``(collection, path)`` as the manifest recorded it when indexed."""
        found: dict[tuple[str, str], tuple[int, int]] = {}
        for part in _batched(list(dict.fromkeys(files)), _SQL_VARS // 2):
            marks = ",".join("(?, ?)" for _ in part)
            rows = self._query(f"SELECT collection, path, size, mtime_ns FROM files WHERE (collection, path) IN "
                               f"(VALUES {marks})", [v for pair in part for v in pair])
            found.update(((c, p), (size, mtime)) for c, p, size, mtime in rows)
        return found

    def has_files(self, collection: str, folder: str) -> bool:
        """Whether files under ``folder`` (or the file itself) are indexed in ``collection``."""
        clause, params = _folder_clause(folder)
        return bool(self._query(f"SELECT 1 FROM files c WHERE collection = ?{clause} LIMIT 1", (collection, *params)))

    def file_errors(self, collection: str) -> list[tuple[str, str]]:
        """(path, reason) of every file the collection skipped, by path: those it could not read, and those
        its last scan passed over (a link to nothing: `hearth index` said "2 skipped", the listing "1")."""
        return [(path, error) for path, error in self._query(
            "SELECT path, error FROM files WHERE collection = ? AND error IS NOT NULL "
            "UNION ALL SELECT path, reason FROM scan_skips WHERE collection = ? ORDER BY path",
            (collection, collection))]

    def paths_holding(self, chunk_hash: str) -> list[str]:
        """The indexed files holding a passage of this text, in any collection, the newest first."""
        return [path for path, in self._query(
            "SELECT c.path FROM chunks c JOIN collections k ON c.collection = k.name WHERE c.chunk_hash = ? "
            "GROUP BY c.path ORDER BY max(c.mtime_ns) DESC", (chunk_hash,))]

    def set_scan_skips(self, collection: str, skipped: Iterable[tuple[str, str]], scanned: Sequence[str]) -> None:
        """What the collection's latest scan of the ``scanned`` folders and files skipped, (path, reason), in
        place of what the scan before skipped there (a scan of one subfolder forgot the skips of the rest)."""
        with self._transaction() as db:
            old = [p for (p,) in db.execute("SELECT path FROM scan_skips WHERE collection = ?", (collection,))]
            db.executemany("DELETE FROM scan_skips WHERE collection = ? AND path = ?",
                           [(collection, p) for p in old if any(Path(p).is_relative_to(s) for s in scanned)])
            db.executemany("INSERT OR REPLACE INTO scan_skips (collection, path, reason) VALUES (?, ?, ?)",
                           [(collection, path, reason) for path, reason in skipped])

    def chunks_with_content(self, collection: str, content_hash: str, chunker: str) -> list[Chunk]:
        """The chunks of one already indexed file with this content (for renamed and duplicate files)."""
        rows = self._query(
            f"""SELECT {_CHUNK_COLUMNS} FROM chunks WHERE collection = ? AND content_hash = ? AND chunker = ?
                AND path = (SELECT path FROM chunks WHERE collection = ? AND content_hash = ? AND chunker = ?
                            LIMIT 1)
                ORDER BY chunk_index""",
            (collection, content_hash, chunker) * 2,
        )
        return [Chunk(*row) for row in rows]

    def vectors_for(self, collection: str, chunk_hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Stored vectors of chunks with these texts, so identical text is never embedded twice."""
        ids_by_hash: dict[str, str] = {}
        for part in _batched(list(set(chunk_hashes)), _SQL_VARS):
            marks = ",".join("?" * len(part))
            rows = self._query(f"SELECT chunk_hash, min(id) FROM chunks WHERE collection = ? "
                               f"AND chunk_hash IN ({marks}) GROUP BY chunk_hash", [collection, *part])
            ids_by_hash.update(rows)
        if not ids_by_hash:
            return {}
        with self._own_vectors():
            got = self._vectors(collection).get(ids=list(ids_by_hash.values()), include=["embeddings"])
        by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
        return {h: np.asarray(by_id[i], dtype=np.float32) for h, i in ids_by_hash.items() if i in by_id}

    def kept_vectors(self, collection: str, embedder: str, chunk_hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Vectors a stopped run of ``collection`` embedded with ``embedder`` and did not write (see
        :meth:`keep_vectors`), by chunk hash."""
        kept: dict[str, np.ndarray] = {}
        for part in _batched(list(set(chunk_hashes)), _SQL_VARS):
            marks = ",".join("?" * len(part))
            rows = self._query(f"SELECT chunk_hash, vector FROM kept_vectors WHERE collection = ? AND embedder = ? "
                               f"AND chunk_hash IN ({marks})", [collection, embedder, *part])
            kept.update((h, np.frombuffer(blob, dtype=np.float32)) for h, blob in rows)
        return kept

    def keep_vectors(self, collection: str, embedder: str, vectors: dict[str, np.ndarray]) -> None:
        """Keep what a run that stops embedded for files it had not written, for the next run."""
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO kept_vectors (collection, chunk_hash, embedder, vector) "
                           "VALUES (?, ?, ?, ?)", [(collection, h, embedder, np.asarray(v, np.float32).tobytes())
                                                   for h, v in vectors.items()])

    # --- writes ----------------------------------------------------------------------------------------
    def replace_files(self, collection: str, files: Sequence[FileState], chunks: Sequence[Chunk],
                      vectors: np.ndarray, touched: Sequence[FileState] = ()) -> None:
        """Make ``files`` hold exactly ``chunks`` (with ``vectors``) in both indexes.

        ``touched`` are files whose content did not change (only their mtime did): no chunk is touched.
        """
        new_ids = [c.id for c in chunks]
        if chunks:
            self._journal(collection, new_ids)
            self.put_vectors(collection, chunks, vectors)
        with self._transaction() as db:
            old_ids = self._delete_paths(db, collection, [f.path for f in files])
            db.executemany(f"INSERT INTO chunks ({_CHUNK_COLUMNS}) VALUES ({','.join('?' * 15)})",
                           [tuple(vars(c).values()) for c in chunks])
            db.executemany(
                "INSERT OR REPLACE INTO files (collection, path, size, mtime_ns, content_hash, chunker, "
                "error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(collection, *vars(f).values()) for f in (*files, *touched)],
            )
            db.executemany("DELETE FROM pending WHERE collection = ? AND id = ?",
                           [(collection, i) for i in new_ids])
            stale = sorted(set(old_ids) - set(new_ids))
            db.executemany("INSERT OR IGNORE INTO pending (collection, id) VALUES (?, ?)",
                           [(collection, i) for i in stale])
            self._note_deleted(db, collection, len(stale))  # an edited file's old passages (their ids hold its
            # content's hash)
        self._forget(collection, stale)

    def put_vectors(self, collection: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Upsert the vectors of ``chunks`` (idempotent: a repair killed halfway simply runs again)."""
        with write_errors(), self._own_vectors():
            vectors_col = self._vectors(collection)
            step = min(self.chroma.get_max_batch_size(), REMOTE_UPSERT_SLICE if self.server else UPSERT_SLICE)
            for lo in range(0, len(chunks), step):
                part = chunks[lo:lo + step]
                vectors_col.upsert(ids=[c.id for c in part], embeddings=vectors[lo:lo + step],
                                   metadatas=[{"path": c.path, "chunk_index": c.chunk_index} for c in part])
        self.vectors_written(collection)

    def remove_files(self, collection: str, paths: Sequence[str]) -> None:
        with self._transaction() as db:
            old_ids = self._delete_paths(db, collection, paths)
            db.executemany("DELETE FROM files WHERE collection = ? AND path = ?",
                           [(collection, p) for p in paths])
            db.executemany("INSERT OR IGNORE INTO pending (collection, id) VALUES (?, ?)",
                           [(collection, i) for i in old_ids])
            self._note_deleted(db, collection, len(old_ids))
        self._forget(collection, old_ids)

    @staticmethod
    def _note_deleted(db: sqlite3.Connection, collection: str, passages: int) -> None:
        """Note, in the delete's own transaction, that ``passages`` deleted from ``collection`` wait for a merge:
        noted in memory only, a run killed before it ended left their words in the file until a later run happened
        to delete passages too."""
        if passages:
            db.execute("INSERT OR IGNORE INTO unmerged (collection) VALUES (?)", (collection,))

    @staticmethod
    def _merge_deleted(db: sqlite3.Connection) -> bool:
        """Merge the keyword index if any collection's deleted passages wait for it (:meth:`_note_deleted`), in the
        caller's transaction; whether it did (the write-ahead log is to be emptied after the commit). A run that
        deleted nothing merges nothing: the merge rewrites the whole index (about 1 s for 50,000 passages)."""
        if not db.execute("DELETE FROM unmerged").rowcount:
            return False
        fulltext.merge_away_deleted(db, "chunks_fts")
        return True

    def _truncate_wal(self) -> None:
        """Empty the index's write-ahead log after passages were removed: it kept their text (the pages they were
        on, as they were before) until the last connection closed, for as long as the window ran."""
        with self._lock, write_errors():
            erasure.empty_wal(self._db, "knowledge index")

    def recover(self, collection: str) -> int:
        """Delete from Chroma the journalled ids SQLite does not hold (left by a killed sync)."""
        orphans = [row[0] for row in self._query(
            "SELECT p.id FROM pending p WHERE p.collection = ? AND NOT EXISTS "
            "(SELECT 1 FROM chunks c WHERE c.id = p.id)", (collection,))]
        self._forget(collection, orphans)
        with self._transaction() as db:
            db.execute("DELETE FROM pending WHERE collection = ?", (collection,))
        return len(orphans)

    # --- consistency between the stores --------------------------------------------------------------
    def health(self, collection: str, keyword_index: bool = True) -> StoreHealth:
        """Compare the collection's Chroma vectors (and FTS5 rows) with its manifest, by id and counts.

        Counting is cheap at any size; ``keyword_index=False`` skips the FTS5 count (a join over every
        chunk), which search leaves to listings and syncs.
        """
        (chunks,) = self._query("SELECT count(*) FROM chunks WHERE collection = ?", (collection,))[0]
        keyword_rows = self._query(
            "SELECT count(*) FROM chunks c JOIN chunks_fts_docsize d ON d.id = c.rowid WHERE c.collection = ?",
            (collection,))[0][0] if keyword_index else None
        vectors_col = self._existing_vectors(collection)
        if vectors_col is None:
            return StoreHealth(chunks, None, keyword_rows, server=self.server)
        theirs, ours = (vectors_col.metadata or {}).get(STORE_ID_KEY), self.store_id(collection)
        foreign = theirs is not None and ours is not None and theirs != ours
        with self._own_vectors():
            vectors = vectors_col.count()
        written = self._query("SELECT vectors_at FROM collections WHERE name = ?", (collection,))
        at = written[0][0] if written else None
        if at is not None and at != self._place and (vectors_col.metadata or {}).get(IDS_KEY) == \
                self._ids_digest(collection):  # back where the last finished run left them: nothing changed since
            at = self._place
        return StoreHealth(chunks, vectors, keyword_rows, foreign, self.server,
                           at if at is not None and at != self._place else None)

    @property
    def _place(self) -> str:
        """Where vectors are written now: the Chroma server's URL, or "" for the embedded store."""
        return self.server or ""

    def vectors_written(self, collection: str, in_step: bool = False) -> None:
        """Record that ``collection``'s vectors were written here; ``in_step``: a run ended with them and the
        manifest alike, which their Chroma set is stamped with (a digest of the chunk ids). A sync while they are
        kept elsewhere (a Chroma server, then back) changes the manifest and not these, and with the counts
        alike (a file added, another removed) nothing noticed: `hearth doctor` said "stores in step" while the
        changed files could not be found by meaning."""
        with self._transaction() as db:
            db.execute("UPDATE collections SET vectors_at = ? WHERE name = ? AND vectors_at IS NOT ?",
                       (self._place, collection, self._place))
        if in_step and (vectors_col := self._existing_vectors(collection)) is not None:
            digest = self._ids_digest(collection)
            with self._own_vectors():
                if (vectors_col.metadata or {}).get(IDS_KEY) != digest:
                    vectors_col.modify(metadata={**(vectors_col.metadata or {}), IDS_KEY: digest})

    def _ids_digest(self, collection: str) -> str:
        """The manifest's chunk ids in one value that no order changes (their sum, each read as a number)."""
        total = sum(int(row[0][:16], 16) for row in self._query("SELECT id FROM chunks WHERE collection = ?",
                                                                (collection,)))
        return f"{total % 2**64:016x}"

    def adopt_vectors(self, collection: str) -> None:
        """Make the collection's Chroma set its own: stamp an older pair, replace one of another store.

        A manifest from before store ids gets one (the Chroma set's, if it has one); an unstamped Chroma set
        is stamped; a Chroma set stamped for another store is deleted and an empty one created in its place,
        to be filled from the manifest's chunk texts.
        """
        ours = self.store_id(collection)
        vectors_col = self._existing_vectors(collection)
        theirs = (vectors_col.metadata or {}).get(STORE_ID_KEY) if vectors_col is not None else None
        if ours is None:
            ours = theirs or uuid.uuid4().hex
            with self._transaction() as db:
                db.execute("UPDATE collections SET store_id = ? WHERE name = ?", (ours, collection))
        with self._own_vectors():
            if vectors_col is not None and theirs is None:
                vectors_col.modify(metadata={**(vectors_col.metadata or {}), STORE_ID_KEY: ours})
            elif vectors_col is not None and theirs != ours:
                self.chroma.delete_collection(vectors_col.name)
            self._vectors(collection)

    def unvectored(self, collection: str) -> list[Chunk]:
        """Manifest chunks without a vector, in index order; vectors of no manifest chunk are deleted.

        Reads every id of both stores, so a sync calls it only when :meth:`health` counts disagree.
        """
        rows, vectors = self.chunk_ids(collection)
        self._forget(collection, sorted(vectors - rows))
        missing = sorted(rows - vectors)
        return sorted(self.chunks(missing).values(), key=lambda c: (c.path, c.chunk_index))

    def rebuild_keyword_index(self) -> None:
        """Rebuild the FTS5 index from the chunk rows (the rows are the truth; the index is derived)."""
        with self._transaction() as db:
            db.execute("INSERT INTO chunks_fts (chunks_fts) VALUES ('rebuild')")

    def _journal(self, collection: str, ids: Sequence[str]) -> None:
        with self._transaction() as db:
            db.executemany("INSERT OR IGNORE INTO pending (collection, id) VALUES (?, ?)",
                           [(collection, i) for i in ids])

    def _forget(self, collection: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        with self._own_vectors():
            vectors_col = self._vectors(collection)
            for part in _batched(list(ids), self.chroma.get_max_batch_size()):
                vectors_col.delete(ids=list(part))
        with self._transaction() as db:
            db.executemany("DELETE FROM pending WHERE collection = ? AND id = ?",
                           [(collection, i) for i in ids])
        self.vectors_written(collection)

    @staticmethod
    def _delete_paths(db: sqlite3.Connection, collection: str, paths: Sequence[str]) -> list[str]:
        old: list[str] = []
        for path in paths:
            old += [r[0] for r in db.execute("SELECT id FROM chunks WHERE collection = ? AND path = ?",
                                             (collection, path))]
            db.execute("DELETE FROM chunks WHERE collection = ? AND path = ?", (collection, path))
        return old

    # --- reads for search ------------------------------------------------------------------------------
    def dense(self, collection: str, vector: np.ndarray, n: int, folder: Folder = None
              ) -> list[tuple[str, float]]:
        """(id, cosine similarity) of the ``n`` nearest chunks, optionally only those under ``folder``."""
        restrict = None
        if folder is not None:
            clause, params = _folder_clause(folder)
            restrict = [r[0] for r in self._query(f"SELECT c.id FROM chunks c WHERE c.collection = ?{clause}",
                                                  [collection, *params])]
            if not restrict:
                return []
        with self._own_vectors():
            got = self._vectors(collection).query(query_embeddings=vector[None, :], n_results=n, ids=restrict,
                                                  include=["distances"])
        return [(i, 1.0 - d) for i, d in zip(got["ids"][0], got["distances"][0], strict=True)]

    def _match_query(self, text: str) -> str | None:
        return keyword_query(self.informative_words(query_words(text)) + query_phrases(text))

    def holding_words(self, ids: Sequence[str], text: str) -> set[str]:
        """Which of ``ids`` hold words of ``text`` as :meth:`keyword` reads them (the same FTS5 query): a hit
        found by meaning alone is told from one that has the words, however far down the keyword ranking.

        A code of several parts (:func:`identifiers`) is held only as the whole phrase: a search for an invoice
        number found nowhere, "INV-2099-7777", listed invoice INV-20931 first as holding the words ("inv"), and
        keyword search for "FOLDERALPHA-11" listed every passage with an 11 as such. Function words ("the",
        "of") count only when the text has nothing else: "the Eiffel tower" found only by meaning was labelled as
        holding the words (it held "the"), and the "no passage matched the words" warning went unsaid."""
        words = query_words(text)
        query = keyword_query(self.informative_words([w for w in words if w not in STOP] or words)
                              + query_phrases(text))
        if query is None or not ids:
            return set()
        marks = ", ".join("?" * len(ids))
        sql = f"""SELECT c.id FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid
                  WHERE chunks_fts MATCH ? AND c.id IN ({marks})"""
        held = {r[0] for r in self._query(sql, [query, *ids])}
        for code in identifiers(text):
            if held:
                held &= {r[0] for r in self._query(sql, [phrase_query(code), *ids])}
        return held

    def passages_holding(self, word: str) -> int:
        """How many different passages of the whole index hold ``word`` (a file's copies in several collections
        hold the same passages: they count once)."""
        return self._query("""SELECT count(DISTINCT c.chunk_hash) FROM chunks_fts JOIN chunks c
                              ON c.rowid = chunks_fts.rowid WHERE chunks_fts MATCH ?""", [phrase_query(word)])[0][0]

    def keyword(self, collection: str, text: str, n: int, folder: Folder = None) -> list[tuple[str, float]]:
        """(id, BM25 score) of the ``n`` best matches for the words of ``text``, best first."""
        query = self._match_query(text)
        if query is None:
            return []
        clause, params = _folder_clause(folder)
        rows = self._query(
            f"""SELECT c.id, -chunks_fts.rank FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid
                WHERE chunks_fts MATCH ? AND c.collection = ?{clause} ORDER BY chunks_fts.rank LIMIT ?""",
            [query, collection, *params, n],
        )
        return [(r[0], r[1]) for r in rows]

    def informative_words(self, words: list[str]) -> list[str]:
        """The words that occur in the index, without those in most chunks (the rarest is always kept); a word
        with an umlaut typed as "ae", "oe" or "ue" that occurs nowhere as typed, as the index spells it."""
        words = self._umlauts_as_indexed(words)
        stems, counts, total = self._term_counts(words)
        found = sorted((counts[term], words[i]) for i, term in stems if counts.get(term))
        limit = max(MAX_TERM_SHARE * total, COMMON_MIN)
        return [w for n, w in found if n <= limit] or [w for _, w in found[:1]]

    def _umlauts_as_indexed(self, words: list[str]) -> list[str]:
        """``words``, each found nowhere whose "ae", "oe" or "ue" as an umlaut is found ("juergens" for "Jürgens",
        which the index holds without its accent: "jurgens") in that spelling. Typed so on a keyboard without
        umlauts, keyword search found nothing."""
        other = {w: spelt for w in words if len(w) >= 5 and w.isalpha() and (spelt := _UMLAUT_TYPED.sub("", w)) != w}
        if not other:
            return words
        counts = self.chunk_counts([*other, *other.values()])
        return [other[w] if w in other and not counts.get(w) and counts.get(other[w]) else w for w in words]

    def total_chunks(self) -> int:
        """Chunks in the whole index (all collections), the N of an inverse document frequency."""
        with self._lock:
            self._drop_stale_counts()
            if self._total is None:
                self._total = self._db.execute("SELECT count(*) FROM chunks").fetchone()[0]
            return self._total

    def _drop_stale_counts(self) -> None:
        """Forget the cached counts if the index changed since they were read (callers hold the lock)."""
        version = (self._db.execute("PRAGMA data_version").fetchone()[0], self._writes)
        if version != self._counted_at:
            self._counts.clear()
            self._total, self._counted_at = None, version

    def vectors(self, collections: Sequence[str], ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of ``ids`` (those found in ``collections``), by id."""
        found: dict[str, np.ndarray] = {}
        with self._own_vectors():
            for c in collections:
                got = self._vectors(c).get(ids=list(ids), include=["embeddings"])
                found.update(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32), strict=True))
        return found

    def chunk_counts(self, words: list[str]) -> dict[str, int]:
        """How many chunks of the whole index can hold each word: for a word the tokenizer splits (``a_b``),
        the count of its rarest part (an upper bound; 0 when a part occurs nowhere)."""
        stems, counts, _total = self._term_counts(words)
        found: dict[str, int] = {}
        for i, term in stems:
            found[words[i]] = min(found.get(words[i], counts.get(term, 0)), counts.get(term, 0))
        return found

    def _term_counts(self, words: list[str]) -> tuple[list[tuple[int, str]], dict[str, int], int]:
        """(word index, its stems) pairs, chunks per stem over the whole index, and all chunks (what is not
        cached yet is looked up: see ``_stems`` in ``__init__``)."""
        if not words:
            return [], {}, 0
        with self._lock, self._read_errors():
            db = self._db
            total = self.total_chunks()  # first: it drops stale counts
            if len(self._stems) > _MAX_CACHED_WORDS:
                self._stems.clear()
            if new := [w for w in dict.fromkeys(words) if w not in self._stems]:
                db.execute("DELETE FROM temp.query_words")
                db.executemany("INSERT INTO temp.query_words (rowid, text) VALUES (?, ?)", enumerate(new))
                stemmed: dict[int, list[str]] = {}
                for doc, term in db.execute("SELECT doc, term FROM temp.query_terms ORDER BY doc, offset"):
                    stemmed.setdefault(doc, []).append(term)
                self._stems.update((w, tuple(stemmed.get(i, ()))) for i, w in enumerate(new))
            if unknown := sorted({s for w in words for s in self._stems[w]} - self._counts.keys()):
                found = dict(db.execute(f"SELECT term, doc FROM temp.index_terms WHERE term IN "
                                        f"({','.join('?' * len(unknown))})", unknown))
                self._counts.update((s, found.get(s, 0)) for s in unknown)
            stems = [(i, s) for i, w in enumerate(words) for s in self._stems[w]]
            return stems, {s: self._counts[s] for _, s in stems if self._counts[s]}, total

    def chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        found: dict[str, Chunk] = {}
        for part in _batched(list(ids), _SQL_VARS):
            marks = ",".join("?" * len(part))
            rows = self._query(f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE id IN ({marks})", list(part))
            found.update((row[0], Chunk(*row)) for row in rows)
        return found

    def chunk_ids(self, collection: str) -> tuple[set[str], set[str]]:
        """(SQLite ids, Chroma ids) of a collection: the consistency check tests and repairs rely on."""
        rows = {r[0] for r in self._query("SELECT id FROM chunks WHERE collection = ?", (collection,))}
        vectors_col = self._existing_vectors(collection)
        if vectors_col is None:
            return rows, set()
        with self._own_vectors():
            return rows, set(vectors_col.get(include=[])["ids"])

    def check_keyword_index(self) -> None:
        """Raise ``sqlite3.DatabaseError`` unless the FTS5 index matches the chunk rows exactly."""
        with self._lock:
            self._db.execute("INSERT INTO chunks_fts (chunks_fts, rank) VALUES ('integrity-check', 1)")
