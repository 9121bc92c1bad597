"""Structure-aware chunking measured in the embedder's own tokens.

semantic-text-splitter (Rust) cuts at the largest structural unit that fits: Markdown headings and blocks
for Markdown (and for DOCX/HTML/EPUB, which loaders turn into Markdown), blank-line blocks then lines for
text and code; PDFs are chunked page by page. Sizes are counted with the embedder's tokenizer and capped
at the embedder's input window, because text past that window would be silently cut off when embedding
and could then never be found by meaning.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

from semantic_text_splitter import MarkdownSplitter, TextSplitter
from tokenizers import Tokenizer

from assistant.events import LINE_END
from assistant.knowledge.records import Document, Piece, Unit

#: Bump when the chunks made from the same file and settings change (the chunker's boundaries, or what a
#: loader reads): every file is then re-chunked on its next sync, and a chunk whose text is unchanged keeps
#: its vector. 2: YAML front matter is no heading, PDF passages cite pages, a bare heading is Markdown-only,
#: notebooks, CSV sniffing and HTML forms (2 December 2026). 3: a passage repeated in a file is kept once.
CHUNKER_VERSION = 3
#: A Markdown chunk that is only a heading says nothing by itself; its title is kept as the next chunks'
#: heading. Only in Markdown, and only where the unit has more: a one-line note "# Call the plumber" in a .txt
#: file (or a file with CR-only line ends, one "line" for this pattern) was indexed as 0 chunks.
_BARE_HEADING = re.compile(r"#{1,6} [^\r\n]*")
#: A line longer than this is chunked on its own. In text that also has line breaks semantic-text-splitter took
#: 8 s over one 250 KB line (1 s for the same line alone), growing faster than the line: a 1 MB minified or
#: log file held indexing for 2 minutes.
LONG_LINE = 10_000
#: A line longer than this is given to the splitter in parts of about this many characters, cut at a space
#: where there is one. Even alone its time grew faster than the line: 1 MB took 8 s, 2 MB 28 s, 4 MB 91 s, and
#: a 20 MB one-line file had not ended after 19 minutes, deaf to Ctrl+C (the splitter's one call held Python),
#: with no progress. In parts it is linear (about 4 s per MB here) and heard between parts. Only lines this
#: long are cut differently, so the chunker's version stays: a file was re-read for nothing everywhere else.
LINE_PART = 50_000


def uncut(tokenizer: Tokenizer) -> Tokenizer:
    """A private copy of ``tokenizer`` that counts every token: the model's own cuts (all-MiniLM-L6-v2's file
    at 128 tokens, where the model reads 256) and may pad."""
    counting = Tokenizer.from_str(tokenizer.to_str())
    counting.no_truncation()
    counting.no_padding()
    return counting


@dataclass
class Cutting:
    """A file being cut into passages: iterating it cuts, yielding (characters cut, characters in the file) after
    each part the splitter reads; once it has run to its end, ``pieces`` holds the passages."""

    steps: Generator[tuple[int, int], None, list[Piece]]
    pieces: list[Piece] = field(default_factory=list)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        self.pieces = yield from self.steps


class Chunker:
    def __init__(self, tokenizer: Tokenizer, chunk_tokens: int, overlap: int, max_tokens: int) -> None:
        self.capacity = max(16, min(chunk_tokens, max_tokens))
        self.overlap = max(0, min(overlap, self.capacity // 2))
        counting = uncut(tokenizer)
        self._text = TextSplitter.from_huggingface_tokenizer(counting, self.capacity, self.overlap)
        self._markdown = MarkdownSplitter.from_huggingface_tokenizer(counting, self.capacity, self.overlap)

    @property
    def signature(self) -> str:
        """Stored with every chunk; a file chunked under another signature is re-chunked on the next sync."""
        return f"v{CHUNKER_VERSION}-{self.capacity}t-{self.overlap}o"

    def split(self, doc: Document) -> list[Piece]:
        """The file's passages (see :meth:`cut`)."""
        cutting = self.cut(doc)
        for _ in cutting:
            pass
        return cutting.pieces

    def cut(self, doc: Document) -> Cutting:
        """:meth:`split`'s work in steps, for a caller that reports progress or stops between them."""
        return Cutting(self._cut(doc))

    def _cut(self, doc: Document) -> Generator[tuple[int, int], None, list[Piece]]:
        """Yields (characters cut, characters in the file) after each part the splitter reads, and returns the
        passages.

        A passage repeated in the file (a log's, a junk file's) is kept once, where it first occurs: 400 copies
        of one "[[[[…" passage took every place of the dense ranking, so the one file holding the word searched
        for had no dense vote and tied with them for the first hit (copies in two files stay: each is a place
        the user may look)."""
        splitter = self._markdown if doc.kind == "markdown" else self._text
        markdown = doc.kind == "markdown"
        total, done = sum(len(unit.text) for unit in doc.units), 0
        pieces: list[Piece] = []
        for unit in doc.units:
            chunks: list[tuple[int, str]] = []
            for offset, segment in _segments(unit.text):
                chunks += [(offset + start, text) for start, text in splitter.chunk_indices(segment)]
                done += len(segment)
                yield done, total
            pieces += _pieces(unit, chunks, doc.language, markdown)
        first: dict[str, Piece] = {}
        for piece in pieces:
            first.setdefault(piece.text, piece)
        return list(first.values())


def _pieces(unit: Unit, chunks: list[tuple[int, str]], language: str | None, markdown: bool) -> list[Piece]:
    """The unit's chunks (offset in the unit, text) as passages, with their lines and heading."""
    line_ends = [m.start() for m in LINE_END.finditer(unit.text)]
    heading_offsets = [offset for offset, _ in unit.headings]
    if markdown and not all(_BARE_HEADING.fullmatch(text) for _, text in chunks):
        chunks = [(start, text) for start, text in chunks if not _BARE_HEADING.fullmatch(text)]
    pieces = []
    for start, text in chunks:
        end = start + len(text)
        line_start = line_end = None
        if unit.first_line is not None:
            line_start = unit.first_line + bisect.bisect_left(line_ends, start)
            line_end = unit.first_line + bisect.bisect_left(line_ends, end - 1)
        heading = _heading_at(unit, heading_offsets, start, end)
        pieces.append(Piece(text, unit.page, line_start, line_end, heading, language))
    return pieces


def _segments(text: str) -> list[tuple[int, str]]:
    """``text`` as (offset, part) pieces the splitter cuts in time: each line longer than LONG_LINE alone (in
    parts of LINE_PART), the lines between them together (so text without such a line is one piece, cut
    exactly as before)."""
    if len(text) <= LONG_LINE:
        return [(0, text)]
    pieces: list[tuple[int, str]] = []
    start = offset = 0  # start: of the lines not yet given; offset: of the line read now
    for end in [m.start() for m in LINE_END.finditer(text)] + [len(text)]:
        if end - offset > LONG_LINE:
            if offset > start:
                pieces.append((start, text[start:offset]))
            pieces += _parts(text, offset, end)
            start = end
        offset = end + (2 if text.startswith("\r\n", end) else 1)
    if start < len(text):
        pieces.append((start, text[start:]))
    return pieces


def _parts(text: str, start: int, end: int) -> Iterator[tuple[int, str]]:
    """``text[start:end]`` (one long line) in parts of at most LINE_PART characters, each cut after the last
    space of its second half where it has one (a base64 or minified line has none: cut where the part ends)."""
    while end - start > LINE_PART:
        space = text.rfind(" ", start + LINE_PART // 2, start + LINE_PART)
        cut = space + 1 if space >= 0 else start + LINE_PART
        yield start, text[start:cut]
        start = cut
    yield start, text[start:end]


def _heading_at(unit: Unit, offsets: list[int], start: int, end: int) -> str | None:
    """The section the chunk is in: the last heading at or before its start, else the first inside it."""
    i = bisect.bisect_right(offsets, start) - 1
    if i >= 0:
        return unit.headings[i][1]
    if offsets and offsets[0] < end:
        return unit.headings[0][1]
    return None
