"""The value types of the knowledge base: what a loader reads, what is stored, what a search returns.

All are frozen dataclasses (pure values) so they can cross threads, be logged and be sent to a front end.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from assistant.events import file_change, passage_place
from assistant.knowledge.scan import reaches, source_path


def chunk_hash(text: str) -> str:
    """A passage's identity by its text: the same text in another file (a copy, a renamed file) is the same."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


#: How a unit of text is split: ``markdown`` at headings, ``text``/``code`` at blank-line blocks, then lines.
TextKind = Literal["text", "markdown", "code"]


@dataclass(frozen=True)
class Unit:
    """A stretch of a document that is chunked on its own (a whole text file, one PDF page, one chapter).

    ``first_line`` is the source line of the text's first line; ``None`` when the text was converted
    (DOCX, HTML, EPUB) and its lines do not match lines a user could open. ``headings`` are
    ``(char_offset, heading)`` pairs in order: the section (or function/class) that starts at that offset.
    """

    text: str
    page: int | None = None
    first_line: int | None = 1
    headings: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Document:
    """What a loader made of one file: its units and how to split them."""

    kind: TextKind
    units: tuple[Unit, ...]
    language: str | None = None


@dataclass(frozen=True)
class Piece:
    """A chunk's text and its place in the file, before it gets identity (ids, hashes)."""

    text: str
    page: int | None
    line_start: int | None
    line_end: int | None
    heading: str | None
    language: str | None


@dataclass(frozen=True)
class Chunk:
    """One stored chunk: the same row lives in SQLite (text, FTS5) and in Chroma (vector), keyed by ``id``."""

    id: str
    collection: str
    path: str
    chunk_index: int
    text: str
    page: int | None
    line_start: int | None
    line_end: int | None
    heading: str | None
    language: str | None
    chunk_hash: str
    content_hash: str
    mtime_ns: int
    embedder: str
    chunker: str


@dataclass(frozen=True)
class Citation:
    """A retrieved passage as every front end renders it. ``n`` is its number in an answer (0 from search)."""

    n: int
    collection: str
    path: str
    page: int | None
    line_start: int | None
    line_end: int | None
    heading: str | None
    text: str
    score: float
    #: Among the search's keyword matches (it holds words of the query); False: found by meaning alone; None:
    #: not asked (a search by meaning only). Scores are relative to the best hit, so a search that matched
    #: nothing still showed 0.9: this says so.
    words: bool | None = None
    #: the file as it was indexed (its manifest row), kept so a later look can tell it changed (None: not known)
    size: int | None = None
    mtime_ns: int | None = None
    #: "changed" or "gone" when the file was edited or removed since it was indexed (see ``file_change``), as the
    #: passage was found; "" when it was not
    stale: str = ""
    #: The lines of ``text`` (0 its first) that the answer's sentences citing it restate, as the source panel marks
    #: them (it marked the whole passage); () when not known (a search's hit, answers saved before this was kept)
    focus: tuple[int, ...] = ()

    def checked(self) -> Citation:
        """This citation with ``stale`` as the file is now (one stat)."""
        return replace(self, stale=file_change(self.path, self.size, self.mtime_ns))

    def uri(self) -> str:
        """A ``file://`` URI a desktop can open; PDF viewers understand the ``#page=N`` fragment."""
        uri = Path(self.path).as_uri()
        return f"{uri}#page={self.page}" if self.page is not None else uri

    def location(self) -> str:
        """Short human form: ``notes.md:12-30`` or ``paper.pdf p.3`` (what the model is shown)."""
        return passage_place(self.path, self.page, self.line_start, self.line_end)

    def place(self) -> str:
        """:meth:`location` with the section's heading where there are no line numbers (what the user is shown)."""
        return passage_place(self.path, self.page, self.line_start, self.line_end, self.heading, self.focus)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "uri": self.uri()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Citation:
        """A citation as ``to_dict`` saved it in the history (extra keys such as ``cited`` are ignored)."""
        return cls(int(data.get("n", 0)), data.get("collection", ""), data.get("path", ""), data.get("page"),
                   data.get("line_start"), data.get("line_end"), data.get("heading"), data.get("text", ""),
                   float(data.get("score", 0.0)), data.get("words"), data.get("size"), data.get("mtime_ns"),
                   data.get("stale", ""), tuple(data.get("focus") or ()))


class Hits(list[Citation]):
    """Passages a search found, best first. ``only`` ("keyword" or "meaning") and ``why``: a search by words and
    meaning that could read only one of the two: the vectors (a store damaged or lost, a Chroma server down),
    or the keyword index (damaged pages). The other still finds what it finds, so a question still gets its
    passages and each front end says why beside them; refusing the search failed the answer the user asked
    for, though the message itself said keyword search worked."""

    def __init__(self, hits: Iterable[Citation] = (), only: str = "", why: str = "", unfinished: str = "") -> None:
        super().__init__(hits)
        self.only, self.why = only, why
        #: what a collection searched lacks: its last indexing run did not end (said with what finishes it)
        self.unfinished = unfinished

    def partial(self) -> str:
        """How the search was partial, after "searched": "by keyword only: <why>" ("" when it was not)."""
        return f"by {self.only} only: {self.why}" if self.only else ""


@dataclass(frozen=True)
class CollectionInfo:
    """A knowledge collection as listed to the user."""

    name: str
    files: int
    chunks: int
    last_sync: float | None
    errors: int
    embedder: str
    needs_reindex: bool  # indexed with another embedder: search refuses it until it is re-indexed
    sources: tuple[str, ...] = ()  # the folders and files indexed into it
    watched: bool = False  # re-synced when its folders change, while a long-lived Hearth process runs
    needs_rechunk: int = 0  # files chunked under older chunk settings (re-chunked at the next sync)
    problem: str | None = None  # how its stores disagree (lost vectors, a drifted keyword index); next sync repairs
    #: chunks without a vector: a search by meaning refuses the collection until a re-sync embeds them again
    missing_vectors: int = 0
    #: whether a re-sync repairs ``problem`` (not when the Chroma server is unreachable or the store damaged:
    #: "`hearth index …` repairs it" sent users to a command that could not help)
    resync_repairs: bool = True
    #: the indexed folders and files that are gone (deleted, or on a drive that is not plugged in): their
    #: passages stay searchable, and the listing says so (a watched folder deleted looked healthy)
    missing_sources: tuple[str, ...] = ()
    #: how its last indexing run did not finish: "" (it finished), "running" (a run of this process adds to it
    #: now), "interrupted" (cut off by Hearth closing or dying, or run by another process now: finished by the
    #: next long-lived Hearth) or "stopped" (by the user: left so)
    unfinished: str = ""
    #: the id that stays with it through a rename (None: an index from before store ids, until its next sync): a
    #: list read again tells a collection renamed elsewhere from one removed and another added (the window's tick
    #: on it vanished when a terminal renamed it, and the next question was answered from nothing)
    store_id: str | None = None

    def index_command(self) -> str:
        """The command that re-syncs it from its recorded folders (see :func:`index_command`)."""
        return index_command(self.name, self.sources)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Overlap:
    """A path about to be indexed that a collection holds already, in part or whole."""

    collection: str
    source: str  # the folder (or file) the collection was indexed from
    path: str  # the path about to be indexed
    inside: bool  # ``path`` is in ``source`` (else ``source`` is in ``path``)

    @property
    def files(self) -> str:
        """The files both hold, as the front ends' sentences name them."""
        return "its files" if self.inside else "those files"

    def describe(self, quoted: Callable[[str], str] = repr) -> str:
        """The overlap in words, the collection's name as the front end quotes names."""
        where = Path(self.path).name or self.path
        if self.inside:
            return f"{where} is already in collection {quoted(self.collection)}, indexed from {self.source}"
        return f"{where} holds {self.source}, already indexed in collection {quoted(self.collection)}"


def overlaps(paths: Sequence[Path], infos: Sequence[CollectionInfo], into: str | None = None) -> list[Overlap]:
    """Where ``paths`` and the collections' folders hold the same files, as named or through links; with
    ``into`` (the collection they go to), only other collections', for paths ``into`` does not hold already (a
    re-sync of what was indexed on purpose twice is not said again). A subfolder of an indexed folder dropped
    into the window was indexed again, as a new collection, without a word: its passages came back twice in
    every search of both. Only what a scan enters counts: a hidden folder in an indexed one is not in its
    collection (it was said to be, and indexing it "as one copy" into that collection lost it at the next sync)."""
    found: list[Overlap] = []
    for path in map(source_path, paths):
        real = path.resolve()
        for info in infos:
            for source in map(Path, info.sources):
                root = source.resolve()
                if reaches(source, path) or reaches(root, real):
                    found.append(Overlap(info.name, str(source), str(path), inside=True))
                elif reaches(path, source) or reaches(real, root):
                    found.append(Overlap(info.name, str(source), str(path), inside=False))
    if into is None:
        return found
    held = {o.path for o in found if o.collection == into and o.inside}
    return [o for o in found if o.collection != into and o.path not in held]


def index_command(name: str, sources: Sequence[str]) -> str:
    """The command that re-syncs collection ``name`` from its recorded folders (it finishes, repairs and
    re-indexes too), as the listings, search, doctor and the repair hints give it."""
    return f"hearth index {' '.join(shlex.quote(s) for s in sources) or 'FOLDER'} --collection {name}"
