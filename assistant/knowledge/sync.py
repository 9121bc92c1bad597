"""One sync of linked folders into a collection: incremental, resumable, cancellable, with progress.

Per file, cheapest check first: a file whose size, mtime and chunker match the manifest is not opened;
one whose bytes hash the same is only re-stamped; one whose content another indexed file already has
(a rename, a move, a copy) gets that file's chunks without parsing; only the rest is parsed and chunked.
Vectors are looked up by chunk text first, so unchanged passages of an edited file, renamed files and
identical files are never embedded twice. Work is committed in batches of whole files, so killing the
process loses at most the batch in flight and the next sync simply does those files again.

Before any of that, a sync checks that the stores still agree (see :meth:`Store.health`) and repairs what
was lost outside Hearth: chunks in the manifest without a vector are embedded again from their stored text,
nothing else; a drifted keyword index is rebuilt from the chunk rows.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Generator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from assistant.events import Progress, WorkAhead
from assistant.knowledge.chunking import Chunker
from assistant.knowledge.embedder import Embedder
from assistant.knowledge.errors import NothingToIndexError, UnreadableFileError
from assistant.knowledge.loaders import is_supported, load
from assistant.knowledge.records import Chunk, Piece, chunk_hash
from assistant.knowledge.scan import FoundFile, ScanResult, scan, source_path, unplugged
from assistant.knowledge.store import RUN_ENDED, RUN_INTERRUPTED, RUN_STOPPED, FileState, Store

log = logging.getLogger(__name__)

JOB = "index"
READING = "reading"  # the message of progress events while files are read (Progress.item names the file)
REPAIRING = "repairing"  # the message of progress events while lost vectors are re-embedded
_EVENT_INTERVAL_S = 0.2
#: A file this large is named in the progress before it is read and chunked (seconds, for a big one): the bar
#: named the file before it all that time.
_NAMED_BEFORE_BYTES = 100_000
#: Embedding estimated to take longer than this (seconds) is said as it begins (see WorkAhead): a 1.5 MB CSV
#: embedded for 185 s without a word of it first. A shorter run says nothing new.
HEADS_UP_S = 20.0


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass
class _Batch:
    """Files read and chunked but not yet committed; committed together after one round of embedding."""

    files: list[FileState] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    touched: list[FileState] = field(default_factory=list)
    nbytes: int = 0
    added: set[str] = field(default_factory=set)  # of files, those read for the first time
    changed: set[str] = field(default_factory=set)  # and those read again for new content (see _Tally)

    def __len__(self) -> int:
        return len(self.files) + len(self.touched)


#: The share of the work done before an ETA is given.
ETA_SAMPLE_SHARE = 0.02


@dataclass
class _Tally:
    total_files: int
    work_bytes: int
    done_files: int = 0
    done_bytes: int = 0
    chunks: int = 0
    partial_bytes: float = 0.0  # of the batch being embedded now, by the share of its passages embedded
    partial_chunks: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    vanished: set[str] = field(default_factory=set)  # deleted or renamed since the scan: gone, not skipped
    added: int = 0  # files read for the first time (skipped ones are not counted: they are listed)
    changed: int = 0  # files read again for new content (not those whose timestamp alone changed)
    started: float = field(default_factory=time.monotonic)
    last_event: float = 0.0
    #: time spent reading and splitting files (and since when the one being read), and their bytes: the ETA
    #: takes reading and embedding each at its own pace
    read_s: float = 0.0
    reading_since: float | None = None
    read_bytes: int = 0
    left_out: str = ""  # see Progress.left_out
    weighed: bool = False  # whether the work ahead was weighed yet (once a run, see _ahead)

    def event(self, message: str, item: str = "", item_done: int = 0, item_total: int = 0,
              item_files: int = 1, item_cut: float | None = None) -> Progress:
        """An event saying ``message`` ("done", "cancelled", …, or READING ``item``)."""
        self.last_event = now = time.monotonic()
        elapsed = max(now - self.started, 1e-6)
        done = self.done_bytes + self.partial_bytes
        eta = None
        # not from a first few small files (their fixed costs made a pace that said 23 min where 3 were left before
        # a large file), and one 5 MB log split in 11 s, its split counted in the embedding's pace, said "about
        # 54 min left" of 19
        if done and done >= ETA_SAMPLE_SHARE * self.work_bytes:
            reading = self.read_s + (now - self.reading_since if self.reading_since is not None else 0.0)
            eta = (self.work_bytes - done) / (done / max(elapsed - reading, 1e-6))
            if self.read_bytes < self.work_bytes and reading > 0 and self.read_bytes:
                eta += (self.work_bytes - self.read_bytes) / (self.read_bytes / reading)
        rate = (self.chunks + self.partial_chunks) / elapsed
        share = min(1.0, done / self.work_bytes) if self.work_bytes else None
        return Progress(JOB, self.done_files, self.total_files, "files", rate=rate, eta_s=eta, message=message,
                        errors=tuple(self.errors), item=item, item_done=item_done, item_total=item_total,
                        item_files=item_files, item_cut=item_cut, share=share, left_out=self.left_out)


class IndexJob:
    """Sync ``sources`` into ``collection``; iterate :meth:`run` to do it and receive progress."""

    def __init__(self, store: Store, embedder: Embedder, chunker: Chunker, collection: str,
                 sources: list[Path], max_bytes: int, cancel: threading.Event | None = None,
                 batch_size: int = 32, flush_chunks: int = 128, watch: bool | None = None,
                 gone: tuple[str, ...] | None = None) -> None:
        """``watch`` (not None): turn watching the collection's folders on or off once this run has ended;
        ``gone``: the collection's folders and files that cannot be reached (see :func:`unplugged`), where the
        caller looked already and left them out of ``sources`` (a re-sync)."""
        self.store, self.embedder, self.chunker = store, embedder, chunker
        self.collection, self.sources, self.max_bytes = collection, sources, max_bytes
        self.cancel = cancel or threading.Event()
        self.watch, self.gone = watch, gone
        self.ended = RUN_STOPPED  # how the run ended, RUN_* (see run)
        self.was_whole = False  # the collection was whole before the run (its last run ended, see Store.begin_run)
        self.wrote = False  # whether it changed the collection's passages or vectors
        self._id_key = collection  # what chunk ids are made from (see _prepare_collection)
        self.repaired = 0  # passages whose missing vectors the run embedded again (see _repair)
        self.batch_size, self.flush_chunks = batch_size, flush_chunks
        #: seconds per character embedded, timed on this run's first embedding round (see _ahead)
        self.pace: float | None = None

    def run(self) -> Iterator[Progress]:
        """Yield :class:`Progress` events; the last one's message is ``done`` or ``cancelled``.

        How the run ended is kept with the collection: a run cut off by Hearth closing (a ``cancel`` that says
        ``quitting``, see :class:`~assistant.events.Cancel`) or by a crash stays unfinished, and a long-lived
        Hearth finishes it at its next start; one the user stopped (a cancel, Ctrl+C, a failure) is left so,
        and listed as stopped. Quitting the window mid-index left a collection of 11 of 60 files for good, with
        nothing saying so."""
        with self.store.writing(self.collection):
            found = None
            if self.store.collection(self.collection) is None:
                # a new collection from folders with nothing in them was made, said "ready: 0 files" and ticked
                found = scan(self.sources, self.max_bytes, is_supported)
                names = ", ".join(str(source_path(s)) for s in self.sources)
                holds = "holds" if len(self.sources) == 1 else "hold"
                if not found.files and found.skipped:  # an empty collection said "ready" and was ticked for
                    # answers, the reason a click away (a folder of one large CSV export)
                    why = "; ".join(f"{os.path.basename(path)}: {reason}" for path, reason in found.skipped[:3])
                    more = f"; and {len(found.skipped) - 3:,} more" if len(found.skipped) > 3 else ""
                    besides = f", and {found.left_out}" if found.left_out else ""
                    raise NothingToIndexError(f"Nothing to index: {names} {holds} only files Hearth skips ({why}"
                                              f"{more}){besides}.")
                if not found.files:
                    what = "no file to index" if found.ignored else "no file of a type Hearth reads"
                    raise NothingToIndexError(f"Nothing to index: {names} {holds} {what} (only {found.left_out})."
                                              if found.left_out else
                                              f"Nothing to index: {names} {holds} no files.")
            self._prepare_collection()
            try:
                yield from self._sync(found)
            finally:
                if self.ended != RUN_ENDED and not self.wrote and self.was_whole:  # cut off before it changed
                    self.store.restore_run(self.collection)  # anything: whole as it was
                else:
                    self.store.end_run(self.collection, self.ended)

    def _sync(self, found: ScanResult | None) -> Iterator[Progress]:
        """The run itself (``found``: the sources' scan, when made already); sets :attr:`ended` (``RUN_*``)
        before its last event (a reader may stop there)."""
        repaired = yield from self._repair()
        if not repaired:
            self._cancelled()
            yield Progress(JOB, 0, message="cancelled")
            return
        found = found or scan(self.sources, self.max_bytes, is_supported, self._indexed)
        self.store.set_scan_skips(self.collection, found.skipped, [str(source_path(s)) for s in self.sources])
        known = self.store.file_states(self.collection)
        signature = self.chunker.signature
        todo, _ = pending(found, known, signature)
        # the small files first: a note edited beside a large new file waited minutes for its embedding (stable:
        # in the scan's order otherwise)
        todo.sort(key=lambda f: f.size >= _NAMED_BEFORE_BYTES)
        # what the scan skipped (a link to nothing, a file over the size limit) is counted as done, as a file
        # read and skipped is: "89 / 89 files" stood under "85 files indexed, 6 skipped"
        tally = _Tally(len(found.files) + len(found.skipped), sum(f.size for f in todo), errors=list(found.skipped),
                       left_out=found.left_out)
        tally.done_files = len(found.files) - len(todo) + len(found.skipped)
        still_bad = {f.path for f in found.files} - {f.path for f in todo}
        tally.errors += [(p, s.error) for p, s in known.items() if s.error and p in still_bad]
        yield tally.event("scanning done")
        batch = _Batch()
        for f in todo:
            if self.cancel.is_set():
                break
            errors_before = len(tally.errors)
            if f.size >= _NAMED_BEFORE_BYTES:
                if batch:  # commit the files read so far first: behind a large file's minutes of embedding,
                    # the small ones before it could not be searched, and a cancel there kept none of them
                    yield from self._flush(batch, tally)
                    batch = _Batch()
                    if self.cancel.is_set():
                        break
                yield tally.event(READING, f.path)
            tally.reading_since = time.monotonic()
            yield from self._read(f, known.get(f.path), batch, tally)
            tally.read_s += time.monotonic() - tally.reading_since
            tally.reading_since = None
            due = time.monotonic() - tally.last_event > _EVENT_INTERVAL_S
            if due or len(tally.errors) > errors_before:
                yield tally.event(READING, f.path)
            # the first commit comes after one embedding batch: the ETA (by bytes committed) appears then,
            # and a Ctrl+C half a minute into a first run kept nothing while it waited for four batches
            if len(batch.chunks) >= (self.flush_chunks if tally.chunks else self.batch_size):
                yield from self._flush(batch, tally)
                batch = _Batch()
                yield tally.event(READING, f.path)
        if batch and not self.cancel.is_set():
            yield from self._flush(batch, tally)
        if self.cancel.is_set():
            self._cancelled()
            yield tally.event("cancelled")
            return
        _, gone = pending(found, known, signature, tally.vanished)
        gone += self._moved_away({f.path for f in found.files} - tally.vanished, found.unplugged)
        self.store.remove_files(self.collection, gone)
        self.store.mark_synced(self.collection)
        self.ended = RUN_ENDED
        yield replace(tally.event("done"), changes=(tally.added, tally.changed, len(gone)), repaired=self.repaired)

    def _moved_away(self, present: set[str], unplugged_now: list[str]) -> list[str]:
        """Files kept from a folder of the collection that is gone (as an unplugged drive's, they stay) whose
        content this run found in place under another: the folder was moved or renamed. Kept, the old copies
        were cited at paths that no longer exist, and outlived the deletion of the files they copied. A gone
        folder left with no file is dropped from the collection (it was listed "GONE" for good)."""
        row = self.store.collection(self.collection)
        # which cannot be reached is known of the sources this run scanned (``unplugged_now``) and of those a
        # re-sync left out (``gone``): each was looked at again here, a re-sync's three times in all
        scanned, known = {str(source_path(s)) for s in self.sources}, set(self.gone or ())
        missing = [s for s in (row.sources if row is not None else ())
                   if s in unplugged_now or s in known or (s not in scanned and unplugged(s, self._indexed))]
        if not missing:
            return []
        states = self.store.file_states(self.collection)
        live = {states[p].content_hash for p in present if p in states}  # skipped ones too: they move as well
        moved = [p for p, s in states.items() if _under_any(p, missing) and s.content_hash in live]
        left = {p for p in states if _under_any(p, missing)} - set(moved)
        emptied = [s for s in missing if not any(_under_any(p, [s]) for p in left)]
        if moved:
            log.info("%s: %d file(s) of %s found in their new place; the old folder(s) %s dropped", self.collection,
                     len(moved), ", ".join(missing), ", ".join(emptied) or "none")
            self.store.drop_sources(self.collection, emptied)
        return moved

    def _indexed(self, folder: str) -> bool:
        return self.store.has_files(self.collection, folder)

    def _cancelled(self) -> None:
        self.ended = RUN_INTERRUPTED if getattr(self.cancel, "quitting", False) else RUN_STOPPED

    def _prepare_collection(self) -> None:
        """Recover from a killed run; start over if the collection's vectors come from another embedder.

        The Chroma set is claimed first (see :meth:`Store.adopt_vectors`), so a foreign one is never recovered
        into or reused.
        """
        row = self.store.collection(self.collection)
        if row is not None and row.embedder != self.embedder.name:
            self.store.drop_collection(self.collection)
        self.store.create_collection(self.collection, self.embedder.name)
        self.store.add_sources(self.collection, [str(source_path(s)) for s in self.sources])
        before = self.store.begin_run(self.collection, self.watch)
        self.was_whole = before == RUN_ENDED and row is not None and row.embedder == self.embedder.name
        self.store.adopt_vectors(self.collection)
        # chunk ids come from the collection's store id, which a rename keeps: from its name, a collection renamed
        # and a new one given its old name made the same ids for the same files ("UNIQUE constraint failed")
        self._id_key = self.store.store_id(self.collection) or self.collection
        self.store.recover(self.collection)

    def _repair(self) -> Generator[Progress, None, bool]:
        """Re-embed the chunks that lost their vectors (with progress); False if cancelled midway.

        Counts are compared first, ids only when they disagree or the vectors were last written elsewhere (a
        Chroma server, then back). Vectors are upserted per slice for chunks
        SQLite already holds, so a repair killed or cancelled halfway keeps what it did and the next sync
        finds only the rest missing.
        """
        health = self.store.health(self.collection)
        if health.keyword_rows != health.chunks:
            self.store.rebuild_keyword_index()
        if health.vectors_in_step:
            return True
        missing = self.store.unvectored(self.collection)  # (deletes the vectors of no chunk)
        self.store.vectors_written(self.collection)  # the ids are compared: what is missing is embedded below
        self.repaired = len(missing)
        started = time.monotonic()
        for lo in range(0, len(missing), self.flush_chunks):
            yield _repair_progress(lo, len(missing), started)
            part = missing[lo:lo + self.flush_chunks]
            vectors = yield from self._vectors([c.chunk_hash for c in part], [c.text for c in part])
            if vectors is None:
                return False
            self.store.put_vectors(self.collection, part, vectors)
            self.wrote = True
        if missing:
            yield _repair_progress(len(missing), len(missing), started)
        return True

    def _read(self, f: FoundFile, old: FileState | None, batch: _Batch, tally: _Tally,
              ) -> Generator[Progress, None, None]:
        """Read and chunk one file into ``batch`` (or record why it cannot be), with progress while a large
        one is cut; a cancel meanwhile leaves it out of the batch."""
        signature = self.chunker.signature
        try:
            data = Path(f.path).read_bytes()
        except FileNotFoundError:  # deleted or renamed away since the scan (the watcher's next sync finds a new
            # name): it was "skipped …: No such file or directory", and counted so until the next sync
            _vanish(tally, f.path, f.size)
            return
        except OSError as exc:
            state = FileState(f.path, f.size, f.mtime_ns, "", signature)
            self._skip(state, exc.strerror or str(exc), batch, tally, old)
            return
        digest = content_hash(data)
        state = FileState(f.path, len(data), f.mtime_ns, digest, signature)
        if old is not None and old.content_hash == digest and old.chunker == signature:
            batch.touched.append(replace(state, error=old.error))  # only its timestamp changed
            self._count(f, batch, tally, old.error)
            return
        twins = self.store.chunks_with_content(self.collection, digest, signature)
        if twins:
            pieces = [Piece(c.text, c.page, c.line_start, c.line_end, c.heading, c.language) for c in twins]
        else:
            try:
                doc = load(Path(f.path), data)
            except UnreadableFileError as exc:
                self._skip(state, str(exc), batch, tally, old)
                return
            cutting = self.chunker.cut(doc)
            for done, total in cutting:
                # only a large file's (the one named as it is read): "letter-104.md (100% split into passages)"
                # was said of a 1 KB file read when the interval was up
                if f.size >= _NAMED_BEFORE_BYTES and time.monotonic() - tally.last_event > _EVENT_INTERVAL_S:
                    if not os.path.exists(f.path):  # deleted while it is cut: its passages would be embedded
                        _vanish(tally, f.path, f.size)
                        return
                    yield tally.event(READING, f.path, item_cut=done / total)
                if self.cancel.is_set():  # heard between parts: a 20 MB line is minutes of cutting
                    return
            pieces = cutting.pieces
        batch.files.append(state)
        batch.chunks += [self._chunk(state, i, p) for i, p in enumerate(pieces)]
        self._count(f, batch, tally, None)
        (batch.added if old is None else batch.changed).add(f.path)

    def _skip(self, state: FileState, reason: str, batch: _Batch, tally: _Tally, old: FileState | None) -> None:
        """Record why ``state``'s file cannot be read; one that was read before changed: its passages go (the
        run said "nothing changed" though they left the index)."""
        if old is not None and old.error is None:
            batch.changed.add(state.path)
        batch.files.append(replace(state, error=reason))
        self._count(FoundFile(state.path, state.size, state.mtime_ns), batch, tally, reason)

    @staticmethod
    def _count(f: FoundFile, batch: _Batch, tally: _Tally, error: str | None) -> None:
        batch.nbytes += f.size
        tally.read_bytes += f.size
        if error:
            tally.errors.append((f.path, error))

    def _chunk(self, state: FileState, index: int, piece: Piece) -> Chunk:
        key = "\0".join((self._id_key, state.path, state.content_hash, state.chunker, str(index)))
        return Chunk(
            id=hashlib.blake2b(key.encode("utf-8"), digest_size=16).hexdigest(), collection=self.collection,
            path=state.path, chunk_index=index, text=piece.text, page=piece.page, line_start=piece.line_start,
            line_end=piece.line_end, heading=piece.heading, language=piece.language,
            chunk_hash=chunk_hash(piece.text), content_hash=state.content_hash, mtime_ns=state.mtime_ns,
            embedder=self.embedder.name, chunker=state.chunker,
        )

    def _flush(self, batch: _Batch, tally: _Tally) -> Generator[Progress, None, None]:
        def report(done: int, total: int, chars_left: int) -> Progress | None:
            """Progress inside a batch: one large file is one batch (20 MB of text took half an hour here with
            no word, no rate and no ETA); after the run's first round, the work ahead when it is large."""
            ahead = None
            if not tally.weighed and self.pace is not None:
                tally.weighed = True
                ahead = _ahead(self.pace, tally, batch, total, chars_left)
            if ahead is None and time.monotonic() - tally.last_event < _EVENT_INTERVAL_S:
                return None
            tally.partial_bytes, tally.partial_chunks = batch.nbytes * done / total, done
            files = len({c.path for c in batch.chunks})  # embedded together: progress names the batch, not one file
            return replace(tally.event(READING, batch.chunks[-1].path, done, total, files), ahead=ahead)

        gone: list[FileState] = []

        def deleted() -> bool:
            gone[:] = _deleted(batch)  # what stopped the round is what is dropped (not looked for again)
            return bool(gone)

        while True:  # a file of the batch deleted meanwhile is dropped from it, and the rest embedded on: a 5 MB
            # file deleted as it was embedded went on being embedded for minutes, and the edits made meanwhile
            # waited behind it (what was embedded of the rest is kept, not embedded again)
            vectors = yield from self._vectors([c.chunk_hash for c in batch.chunks], [c.text for c in batch.chunks],
                                               report, stop=deleted)
            if vectors is not None or self.cancel.is_set():
                break
            _drop(batch, gone, tally)
        if vectors is None:  # cancelled: nothing of this batch was written; the next sync takes up the passages
            return  # embedded (kept), and the last event counts them (the bar fell back to 0 and "0.0 chunks/s")
        tally.partial_bytes, tally.partial_chunks = 0.0, 0
        self.store.replace_files(self.collection, batch.files, batch.chunks, vectors, batch.touched)
        self.wrote = True
        tally.done_files += len(batch)
        tally.done_bytes += batch.nbytes
        tally.chunks += len(batch.chunks)
        tally.added += len(batch.added)
        tally.changed += len(batch.changed)

    def _vectors(self, hashes: list[str], texts: list[str],
                 report: Callable[[int, int, int], Progress | None] | None = None,
                 stop: Callable[[], bool] | None = None) -> Generator[Progress, None, np.ndarray | None]:
        """Vectors in ``texts`` order: reused where the same text is stored, else embedded once each;
        ``report(done, total, characters left)`` may give a progress event after each embedding round; None
        when cancelled, or when ``stop()`` says so before a round (what was embedded is kept for the next call,
        as for a cancel). The run's first round sets :attr:`pace`."""
        known = self.store.vectors_for(self.collection, hashes)
        unknown = [h for h in hashes if h not in known]
        known.update(self.store.kept_vectors(self.collection, self.embedder.name, unknown))
        todo = {h: t for h, t in zip(hashes, texts, strict=True) if h not in known}
        ordered = sorted(todo, key=lambda h: len(todo[h]), reverse=True)  # similar lengths pad less
        embedded: dict[str, np.ndarray] = {}
        chars_left = sum(map(len, todo.values()))
        try:
            for lo in range(0, len(ordered), self.batch_size):
                if self.cancel.is_set() or (stop is not None and stop()):
                    return None
                group = ordered[lo:lo + self.batch_size]
                round_texts = [todo[h] for h in group]
                began = time.monotonic()
                embedded.update(zip(group, self.embedder.embed(round_texts), strict=True))
                chars = sum(map(len, round_texts))
                chars_left -= chars
                if self.pace is None:
                    self.pace = (time.monotonic() - began) / max(chars, 1)
                known.update((h, embedded[h]) for h in group)
                if report is not None and (event := report(lo + len(group), len(ordered), chars_left)) is not None:
                    yield event
            embedded.clear()  # all embedded: written with their files next
        finally:  # stopped (a Cancel, Ctrl+C, Hearth closing): the next run starts where this one stopped,
            # inside a large file too
            if embedded:
                self._keep(embedded)
        if not hashes:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([known[h] for h in hashes])

    def _keep(self, embedded: dict[str, np.ndarray]) -> None:
        try:
            self.store.keep_vectors(self.collection, self.embedder.name, embedded)
        except Exception as exc:  # the run is stopping anyway: its own error (or the cancel) is what counts
            log.warning("could not keep the %d passages embedded before the run stopped: %s", len(embedded), exc)


def _vanish(tally: _Tally, path: str, size: int) -> None:
    """``path`` was deleted (or renamed away) as the run read it: gone, not skipped, and its bytes no work left."""
    tally.vanished.add(path)
    tally.done_files += 1
    tally.work_bytes -= size


def _ahead(pace: float, tally: _Tally, batch: _Batch, passages: int, chars_left: int) -> WorkAhead | None:
    """The run's embedding ahead when it is more than HEADS_UP_S at ``pace`` (else None): the ``passages`` of
    ``batch`` to embed (``chars_left`` of them not yet), and those of the files not read yet, estimated by
    this batch's passages per byte and characters per passage."""
    unread = tally.work_bytes - tally.read_bytes
    more = round(unread * len(batch.chunks) / batch.nbytes) if unread > 0 and batch.nbytes else 0
    per_passage = sum(len(c.text) for c in batch.chunks) / max(len(batch.chunks), 1)
    seconds = pace * (chars_left + more * per_passage)
    return WorkAhead(passages + more, seconds, estimated=more > 0) if seconds > HEADS_UP_S else None


def _deleted(batch: _Batch) -> list[FileState]:
    """The files of ``batch`` with passages to embed that are no longer there (a stat each, per embedding round)."""
    return [f for f in batch.files if not f.error and not os.path.exists(f.path)]


def _drop(batch: _Batch, gone: list[FileState], tally: _Tally) -> None:
    """Take the deleted files ``gone`` out of ``batch``; the run ends counting them gone (see _vanish)."""
    paths = {f.path for f in gone}
    batch.files = [f for f in batch.files if f.path not in paths]
    batch.chunks = [c for c in batch.chunks if c.path not in paths]
    batch.added -= paths
    batch.changed -= paths
    for f in gone:
        batch.nbytes -= f.size
        tally.read_bytes -= f.size
        _vanish(tally, f.path, f.size)


def _repair_progress(done: int, total: int, started: float) -> Progress:
    rate = done / max(time.monotonic() - started, 1e-6)
    return Progress(JOB, done, total, "chunks", rate=rate or None, eta_s=(total - done) / rate if rate else None,
                    message=REPAIRING)


def pending(found: ScanResult, known: dict[str, FileState], signature: str,
            vanished: Collection[str] = ()) -> tuple[list[FoundFile], list[str]]:
    """What a sync of the scan ``found`` has to do to the files ``known``: the files it reads (new, changed, or
    chunked another way) and those it drops (gone from a folder that is there, or ``vanished`` as it read)."""
    todo = [f for f in found.files if not _unchanged(known.get(f.path), f, signature)]
    present = {f.path for f in found.files} - set(vanished)
    gone = [p for p in known if p not in present and _under_any(p, found.roots) and not _under_any(p, found.unknown)]
    return todo, gone


def _unchanged(old: FileState | None, f: FoundFile, signature: str) -> bool:
    return old is not None and (old.size, old.mtime_ns, old.chunker) == (f.size, f.mtime_ns, signature)


def _under_any(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)
