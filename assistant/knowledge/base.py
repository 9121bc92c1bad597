"""The knowledge base facade: what the assistant facade, the CLI and the GUI call.

It owns the store and the embedder, both opened lazily: listing or removing collections never touches
the model, and neither does re-syncing a folder in which nothing changed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import replace as dc_replace
from functools import partial
from pathlib import Path

from assistant.config import KnowledgeSettings, RemoteSettings
from assistant.errors import CollectionNotFoundError, InputError, RemoteError
from assistant.events import Progress
from assistant.knowledge.chunking import Chunker
from assistant.knowledge.embedder import Embedder, SentenceTransformerEmbedder, embedder_name
from assistant.knowledge.errors import (
    DamagedIndexError,
    IndexDamagedError,
    NeedsReindexError,
    NothingToIndexError,
    VectorStoreDamagedError,
    VectorStoreUnavailableError,
)
from assistant.knowledge.records import CollectionInfo, Hits, chunk_hash, index_command
from assistant.knowledge.retrieval import CrossEncoderReranker, Reranker, SearchMode, retrieve
from assistant.knowledge.scan import reaches, scan, shown, source_path, unplugged
from assistant.knowledge.store import RUN_ENDED, RUN_INTERRUPTED, RUN_STOPPED, CollectionRow, Store, validate_name
from assistant.paths import Paths

log = logging.getLogger(__name__)

EMBED_BATCH = 32

_UNFINISHED = {RUN_INTERRUPTED: "interrupted", RUN_STOPPED: "stopped"}  # CollectionInfo.unfinished


class KnowledgeBase:
    def __init__(self, paths: Paths, settings: KnowledgeSettings, embedder: Embedder | None = None,
                 reranker: Reranker | None = None, batch_size: int = EMBED_BATCH,
                 remote: RemoteSettings | None = None) -> None:
        """``remote``: where the vectors live (``chroma_url`` set: a Chroma server; see :mod:`assistant.remote`)."""
        self.paths = paths
        self.settings = settings
        self.batch_size = batch_size
        self.store = Store(paths, remote)
        self._embedder = embedder
        self._reranker = reranker
        self._chunker: Chunker | None = None
        self._lock = threading.Lock()
        #: the collections this process's indexing runs add to now (with their runs' count): listed as
        #: "running", not as cut off
        self._running: dict[str, int] = {}
        self._running_lock = threading.Lock()

    # --- models, loaded on first need ----------------------------------------------------------------
    @property
    def embedder_name(self) -> str:
        return self._embedder.name if self._embedder is not None else embedder_name(self.settings)

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = SentenceTransformerEmbedder.from_settings(self.settings)
            return self._embedder

    @property
    def chunker(self) -> Chunker:
        embedder = self.embedder
        with self._lock:
            if self._chunker is None:
                s = self.settings
                self._chunker = Chunker(embedder.tokenizer, s.chunk_tokens, s.chunk_overlap,
                                        embedder.max_tokens)
            return self._chunker

    @property
    def _reranker_folder(self) -> Path:
        """Where a locally installed cross-encoder is read from (its ``config.json`` marks it installed)."""
        return self.paths.models_dir / "reranker"

    @property
    def reranker(self) -> Reranker | None:
        """The injected reranker, else the cross-encoder in ``<models>/reranker`` if ``rerank`` is on."""
        with self._lock:
            if self._reranker is None and self.settings.rerank and not self.reranker_missing:
                self._reranker = CrossEncoderReranker(self._reranker_folder)
            return self._reranker

    @property
    def reranker_missing(self) -> str:
        """Why re-ranking cannot happen here ("" when a cross-encoder is installed): none ships with Hearth,
        and a switch that changed nothing was shown as applied."""
        if self._reranker is not None or (self._reranker_folder / "config.json").is_file():
            return ""
        return (f"no cross-encoder is installed (none ships with Hearth; a sentence-transformers cross-encoder "
                f"copied to {self._reranker_folder} is used)")

    def warm_up(self) -> None:
        """Open what the first indexing run needs: the chunker, Chroma and the embedder's encoder (NumPy; torch
        only for a model NumPy cannot run, see :mod:`assistant.knowledge.embedder`)."""
        _ = self.chunker
        with suppress(RemoteError):  # a Chroma server that is down is said by the first real use, not here
            _ = self.store.chroma
        load = getattr(self.embedder, "load", None)
        if load is not None:
            load()

    # --- settings ------------------------------------------------------------------------------------
    def update_settings(self, new: KnowledgeSettings) -> list[str]:
        """Use ``new`` from now on; drop what was built from the old values. Returns what changed, in words."""
        old, self.settings = self.settings, new
        changed: list[str] = []
        with self._lock:
            if new.embedder != old.embedder:
                self._embedder = self._chunker = None
                changed.append("embedder changed: collections indexed with the old one need re-indexing")
            elif (new.chunk_tokens, new.chunk_overlap) != (old.chunk_tokens, old.chunk_overlap):
                self._chunker = None
                changed.append(f"chunking is now {new.chunk_tokens} tokens with {new.chunk_overlap} overlap: "
                               "files are re-chunked at their collection's next sync")
            if new.rerank != old.rerank:
                self._reranker = None
                missing = self.reranker_missing if new.rerank else ""
                changed.append(f"re-ranking on, but {missing}" if missing else
                               f"re-ranking {'on' if new.rerank else 'off'}")
        if self._embedder is not None and self._chunker is None:
            _ = self.chunker  # rebuilt now (cheap once the embedder is loaded): listings can say what is stale
        if new.top_k != old.top_k:
            changed.append(f"{new.top_k} passages per answer")
        if new.max_file_mb != old.max_file_mb:
            changed.append(f"files over {new.max_file_mb} MB are skipped")
        return changed

    def use_remote(self, remote: RemoteSettings) -> list[str]:
        """Keep the vectors in the Chroma server ``remote`` names (empty URL: the embedded store) from now on;
        the current client is closed at once. Returns what changed, in words (nothing when nothing did)."""
        if not self.store.use_remote(remote):
            return []
        where = f"the Chroma server at {self.store.server}" if self.store.server else "the embedded store (data/chroma)"
        return [f"knowledge vectors now live in {where}; the manifest and keyword index stay on this computer"]

    # --- the API ---------------------------------------------------------------------------------------
    def index(self, sources: list[Path], collection: str = "default", cancel: threading.Event | None = None,
              watch: bool | None = None, gone: tuple[str, ...] | None = None) -> Iterator[Progress]:
        """Sync ``sources`` (folders or files) into ``collection``, yielding progress (see ``IndexJob``).

        The sources are remembered with the collection; ``watch`` (when not None) turns watching on or off once
        the run has ended (a run cut off by closing Hearth is finished at its next start, and then watched);
        ``gone``: the collection's sources :meth:`sync` found it cannot reach (see ``IndexJob``).
        """
        from assistant.knowledge.loaders import READABLE, is_supported
        from assistant.knowledge.sync import IndexJob  # the file-format parsers: ~0.25 s, for indexing only

        validate_name(collection)
        given = [Path(s).expanduser() for s in sources]
        # A path that does not exist is kept as a source only when the collection has it already (a drive not
        # plugged in: its passages stay). A new one is a typo: recorded, it was listed as "GONE" for good.
        row = self.store.collection(collection)
        recorded = set(row.sources) if row is not None else set()
        typos = [p for p in given if str(source_path(p)) not in recorded and not p.exists()]
        given = [p for p in given if p not in typos]  # not empty: Assistant.index refuses when none exists
        given += _skipped_in(given, recorded.difference(gone or ()))  # (one gone is not synced: its files stay)
        unreadable = [p for p in given if p.is_file() and not is_supported(p)]
        if unreadable and all(p in unreadable or not p.exists() for p in given):
            # an empty collection made from `hearth index /etc/passwd` said "0 files" and exited 0
            names = ", ".join(repr(p.name) for p in unreadable)
            raise NothingToIndexError(f"Hearth has no reader for {names}: it reads folders and {READABLE}.")
        job = IndexJob(self.store, self.embedder, self.chunker, collection, given,
                       self.settings.max_file_mb * 2**20, cancel, batch_size=self.batch_size,
                       flush_chunks=4 * self.batch_size, watch=watch, gone=gone)
        not_found = tuple((shown(source_path(p)), "not found (nothing was indexed from it)") for p in typos)
        self._count_run(collection, 1)
        try:
            for event in job.run():
                yield dc_replace(event, errors=not_found + event.errors) if not_found else event
        finally:
            self._count_run(collection, -1)

    def _count_run(self, collection: str, step: int) -> None:
        with self._running_lock:
            if runs := self._running.get(collection, 0) + step:
                self._running[collection] = runs
            else:
                del self._running[collection]

    def index_later(self, sources: list[Path], collection: str, watch: bool | None = None) -> None:
        """Keep a run that has not started (a drop waiting behind another run when the window closes) as one
        cut off before its first file: the collection gets the sources, and the next long-lived Hearth runs it
        at its start, as it finishes any run cut off (the drop was lost)."""
        validate_name(collection)
        given = [str(source_path(Path(s).expanduser())) for s in sources if Path(s).expanduser().exists()]
        if not given:
            return
        row = self.store.collection(collection)
        self.store.create_collection(collection, row.embedder if row is not None else self.embedder_name)
        self.store.add_sources(collection, given)
        self.store.begin_run(collection, watch)

    def sync(self, collection: str, cancel: threading.Event | None = None) -> Iterator[Progress]:
        """Re-sync ``collection`` from the folders and files it was indexed from (those that can be reached). Each
        is looked at here (a few stats, its listing, a query for an empty folder) and, if reachable, once more by
        the scan, next to its walk: a drive pulled in between (the run may wait for the index's lock first) would
        be walked empty and its passages deleted. The run's end looked at each a third time."""
        row = self._row(collection)
        gone = self._unplugged(row)
        sources = [Path(s) for s in row.sources if s not in gone]
        if not sources:  # "exist any more" was said of an empty mount point too (see scan.unmounted)
            raise CollectionNotFoundError(f"None of the folders of collection {collection!r} can be reached now "
                                          f"({', '.join(row.sources) or 'none recorded'}): deleted, or on a drive "
                                          "not plugged in; its passages stay searchable.")
        return self.index(sources, collection, cancel, gone=gone)

    def set_watch(self, collection: str, on: bool) -> CollectionInfo:
        row = self._row(collection)
        if on and not row.sources:
            raise CollectionNotFoundError(f"Collection {collection!r} has no recorded folders to watch; "
                                          "index a folder into it first.")
        self.store.set_watch(row.name, on)
        return self._info(self._row(collection))

    def interrupted(self) -> list[str]:
        """Collections whose last indexing run was cut off by Hearth closing or dying: to be finished."""
        return [row.name for row in self.store.collections() if row.unfinished == RUN_INTERRUPTED]

    def out_of_date(self, collection: str) -> tuple[int, int]:
        """How many files a re-sync of ``collection`` would read or drop, and the bytes it would read: a scan of
        names, sizes and times only (about 0.1 s for 2,000 files), no file opened."""
        from assistant.knowledge.loaders import is_supported
        from assistant.knowledge.sync import pending

        row = self._row(collection)
        found = scan([Path(s) for s in row.sources], self.settings.max_file_mb * 2**20, is_supported,
                     partial(self.store.has_files, row.name))
        todo, gone = pending(found, self.store.file_states(row.name), self.chunker.signature)
        return len(todo) + len(gone), sum(f.size for f in todo)

    def watched(self) -> dict[str, list[str]]:
        """Watched collection -> its folders (files indexed one by one are watched through their folder)."""
        return {row.name: sorted({s if Path(s).is_dir() else str(Path(s).parent) for s in row.sources})
                for row in self.store.collections() if row.watch}

    def search(self, text: str, collection: str | Sequence[str] | None = "default", k: int = 5,
               folder: str | None = None, mode: SearchMode = "hybrid") -> Hits:
        """The ``k`` best passages from one collection, several (ranked together: their scores were compared
        across separate searches, each normalised to its own best, and a passage in two of them came twice), or
        (``None``) all; ``folder`` limits to a subtree. A hybrid search whose vectors cannot be read searches by
        keyword and says why (``Hits.only``), one whose keyword index is damaged searches by meaning; a search by
        one of the two alone is refused with the reason."""
        if collection is None:
            rows = [row for row in self.store.collections() if row.embedder == self.embedder_name]
        else:
            rows = [self._row(name) for name in dict.fromkeys([collection] if isinstance(collection, str)
                                                              else collection)]
            for row in rows:
                if row.embedder != self.embedder_name:
                    raise NeedsReindexError(
                        f"Collection {row.name!r} was indexed with the embedder {row.embedder!r} but "
                        f"{self.embedder_name!r} is configured now: re-index it (hearth index) to search it."
                    )
        if not rows or not text.strip():
            return Hits()
        hits = self._ranked(rows, text, k, folder, mode)
        # runs going now, then where each run stands: read before the search, a re-sync that ended during it
        # was "not fully indexed (its last indexing run has not finished)" with a command to finish it
        running = set(self._running)
        now = {row.name: row for row in self.store.collections()}
        hits.unfinished = " ".join(_unfinished(row, row.name in running) for row in (now.get(r.name, r) for r in rows)
                                   if row.unfinished != RUN_ENDED)
        return hits

    def _ranked(self, rows: list[CollectionRow], text: str, k: int, folder: str | None, mode: SearchMode) -> Hits:
        names = [row.name for row in rows]
        under = _indexed_under(source_path(folder), rows) if folder else None
        if mode == "keyword":
            return Hits(retrieve(self.store, None, names, text, k, under, mode, self.reranker))
        try:
            self._check_vectors(rows)
            return Hits(retrieve(self.store, self.embedder, names, text, k, under, mode, self.reranker))
        except (DamagedIndexError, VectorStoreDamagedError, VectorStoreUnavailableError, RemoteError) as exc:
            if mode == "dense":  # asked for by meaning alone: nothing else would be that
                raise
            log.info("searching by keyword only: %s", exc)
            return Hits(retrieve(self.store, None, names, text, k, under, "keyword", self.reranker), "keyword",
                        str(exc))
        except IndexDamagedError as exc:  # the keyword index's pages (the passages themselves: raised again)
            if mode == "dense":
                raise
            log.info("searching by meaning only: %s", exc)
            return Hits(retrieve(self.store, self.embedder, names, text, k, under, "dense", self.reranker),
                        "meaning", str(exc))

    def collections(self) -> list[CollectionInfo]:
        return [self._info(row) for row in self.store.collections()]

    def names(self) -> list[str]:
        return self.store.names()

    def collection(self, name: str) -> CollectionInfo:
        """One collection; CollectionNotFoundError, naming the ones there are, for a name that is not one."""
        return self._info(self._row(name))

    def file_errors(self, collection: str) -> list[tuple[str, str]]:
        """(path, reason) of each file ``collection`` skipped when it was last indexed, by path."""
        return self.store.file_errors(self._row(collection).name)

    def moved(self, path: str, text: str) -> str | None:
        """Where the file ``path`` that held the passage ``text`` is now, when it is gone and a re-sync found the
        passage in a file that exists (renamed or moved: a cited file renamed since said only "File not found");
        one of the same name first. None when ``path`` exists or no such file is known."""
        if Path(path).exists():
            return None
        found = [p for p in self.store.paths_holding(chunk_hash(text)) if p != path and Path(p).exists()]
        same_name = [p for p in found if Path(p).name == Path(path).name]
        return (same_name or found or [None])[0]

    def rename_collection(self, name: str, new: str) -> CollectionInfo:
        """Call collection ``name`` ``new`` (its passages, vectors and folders stay; nothing is embedded again).
        Refused while it is being indexed, and when ``new`` is taken or not a valid name."""
        row = self._row(name)
        if validate_name(new) == row.name:
            return self._info(row)
        with self.store.writing(row.name), self.store.writing(new):
            self.store.rename_collection(row.name, new)
        return self.collection(new)

    def remove_collection(self, name: str) -> None:
        self._row(name)
        with self.store.writing(name):
            self.store.drop_collection(name)

    def close(self) -> None:
        self.store.close()

    def index_command(self, name: str) -> str:
        """The command that brings collection ``name`` up to date, from its row alone (not its whole status)."""
        row = self._row(name)
        return index_command(row.name, row.sources)

    def _row(self, name: str) -> CollectionRow:
        row = self.store.collection(validate_name(name))
        if row is None:  # named with the ones there are: a typo, or a folder indexed under another name
            names = ", ".join(repr(r.name) for r in self.store.collections())
            raise CollectionNotFoundError(f"There is no knowledge collection named {name!r}"
                                          + (f" (yours: {names})." if names else ": there are none yet."))
        return row

    def _check_vectors(self, rows: list[CollectionRow]) -> None:
        """Refuse a search by meaning that would silently miss chunks whose vectors were lost, naming each
        collection that lost some: the first alone was named (with the vector store gone, `hearth search` said
        'base' could not be searched by meaning, and not 'big')."""
        said = []
        for row in rows:
            health = self.store.health(row.name, keyword_index=False)
            if health.missing_vectors:
                said.append(f"Collection {row.name!r} cannot be searched by meaning: {health.problem}. "
                            f"{repair_hint(row)}")
        if said:
            raise DamagedIndexError(" ".join(said))

    def _info(self, row: CollectionRow) -> CollectionInfo:
        # Stale chunking is only known once the chunker exists (it needs the embedder's tokenizer); a listing
        # never loads the embedder just to say so.
        chunker = self._chunker
        stale = self.store.stale_chunker_files(row.name, chunker.signature) if chunker is not None else 0
        resync_repairs, missing_vectors = True, 0
        try:
            health = self.store.health(row.name)
            problem, missing_vectors = health.problem, health.missing_vectors
        except (RemoteError, VectorStoreDamagedError, VectorStoreUnavailableError) as exc:  # a listing still works
            problem, resync_repairs = str(exc).rstrip("."), False
        return CollectionInfo(row.name, row.files, row.chunks, row.last_sync, row.errors, row.embedder,
                              needs_reindex=row.embedder != self.embedder_name, sources=row.sources,
                              watched=row.watch, needs_rechunk=stale, problem=problem, resync_repairs=resync_repairs,
                              missing_vectors=missing_vectors,
                              missing_sources=self._unplugged(row), store_id=row.store_id,
                              unfinished="running" if row.name in self._running and row.unfinished != RUN_ENDED
                              else _UNFINISHED.get(row.unfinished, ""))


    def _unplugged(self, row: CollectionRow) -> tuple[str, ...]:
        """``row``'s folders and files that cannot be reached now (see :func:`unplugged`)."""
        return tuple(s for s in row.sources if unplugged(s, partial(self.store.has_files, row.name)))


def _skipped_in(folders: list[Path], sources: Iterable[str]) -> list[Path]:
    """The collection's ``sources`` inside ``folders`` that a scan of those skips (a hidden folder indexed on its
    own into its parent's collection), to be synced with them: the parent's sync removed their files as gone."""
    named = [source_path(f) for f in folders]
    return [Path(s) for s in sources if Path(s) not in named
            and any(Path(s).is_relative_to(f) and not reaches(f, Path(s)) for f in named) and Path(s).exists()]


def _indexed_under(folder: Path, rows: Sequence[CollectionRow]) -> tuple[str, ...]:
    """``folder`` under the names the index may know it by, when a collection searched was indexed from it, from
    a folder inside it or from one around it; else the error that says so. A search limited to a folder none of
    them holds answered "No matches.", as if the words were not in the user's files. A folder named through a
    link (or the link a folder was indexed through) is the same folder: the index keeps paths as they were
    named when indexed, and a link inside an indexed folder holds the files of the folder it points to, which
    are indexed under whichever of the two names was read first."""
    sources = [Path(s) for row in rows for s in row.sources]
    names: list[Path] = []
    # inside an indexed folder, but in one its scans pass over (a hidden folder): not indexed ("No matches.")
    if any(reaches(s, folder) or s.is_relative_to(folder) for s in sources):
        names.append(folder)
    real = folder.resolve()
    for source in sources:
        root = source.resolve()
        if reaches(root, real):
            names.append(source / real.relative_to(root))
        elif root.is_relative_to(real) and len(source.parts) > (up := len(root.relative_to(real).parts)):
            names.append(source.parents[up - 1])  # up >= 1: the same folder is the branch above
    if names:
        return tuple(dict.fromkeys(str(n) for n in names))
    around = next((row for row in rows for s in row.sources if real.is_relative_to(Path(s).resolve())), None)
    if around is not None:
        raise InputError(f"{folder} is not indexed: it is inside a folder of collection {around.name!r}, but hidden "
                         "folders (and those of dependencies, caches and virtual environments) are passed over "
                         f"when it is indexed; `{index_command(around.name, [str(folder)])}` adds it.")
    held = "; ".join(f"{row.name!r} from {', '.join(row.sources) or 'no folder'}" for row in rows)
    raise InputError(f"No collection searched was indexed from {folder} or from a folder in or around it ({held}).")


def _unfinished(row: CollectionRow, running: bool) -> str:
    """Said beside a search of a collection whose last indexing run did not end (stopped, cut off, or running):
    a search of one stopped after 1 file of 8 said nothing, as if the 7 held nothing that matched. One this
    process indexes now is not sent to a command that would find it busy."""
    if running:
        return (f"Collection {row.name!r} is being indexed now: files not reached yet are not searched until the "
                "run ends.")
    how = "was stopped" if row.unfinished == RUN_STOPPED else "has not finished"
    return (f"Collection {row.name!r} is not fully indexed (its last indexing run {how}): files not reached yet are "
            f"not searched. `{index_command(row.name, row.sources)}`, or adding its folder or file again in the app, "
            "finishes it.")


def repair_hint(row: CollectionRow) -> str:
    """How to repair a damaged collection, with the exact command for its recorded folders."""
    return (f"Re-sync it to repair it (`{index_command(row.name, row.sources)}`, or add its folder again in the "
            "app): only what is missing is embedded again; keyword search works meanwhile.")
