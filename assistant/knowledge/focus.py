"""Which lines of a cited passage the answer used, and the section those lines are in.

A passage is cut by size, not by section: a short file is one passage, and it was cited by the first heading
it holds ("handbook.docx § Policy handbook") whichever section held the fact, while the source panel marked
the whole passage. Here each cited passage is matched, line by line, against the answer's sentences that cite
it (by the words and numbers :mod:`assistant.knowledge.attribution` matches them by).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from assistant.events import LINE_END
from assistant.knowledge.answering import CITATION
from assistant.knowledge.attribution import Said, split_sentences
from assistant.knowledge.loaders import markdown_headings, reads_as_markdown
from assistant.knowledge.records import Citation


def focused(answer: str, citations: list[Citation], cited: Iterable[int]) -> list[Citation]:
    """``citations`` (numbered 1..n) with each ``cited`` one's :attr:`Citation.focus` (the passage's lines its
    sentences restate) and its heading (the section holding the first of them, see :func:`_section`)."""
    claims: dict[int, list[Said]] = {}
    for sentence in split_sentences(answer)[::2]:
        for n in {int(d) for m in CITATION.finditer(sentence) for d in re.findall(r"\d+", m.group(2))}:
            claims.setdefault(n, []).append(Said.of(CITATION.sub("", sentence)))
    out = list(citations)
    for n in cited:
        citation = citations[n - 1]
        lines = LINE_END.split(citation.text)
        focus = tuple(sorted({line for said in claims.get(n, []) if (line := _best_line(said, lines)) is not None}))
        if focus:
            out[n - 1] = replace(citation, focus=focus, heading=_section(citation, lines, focus[0]))
    return out


def _best_line(said: Said, lines: list[str]) -> int | None:
    """The index of the line sharing most with ``said`` (its content words, a number it states counting two),
    the first of equals; ``None`` when none shares anything."""
    scores = [len(said.words & (line := Said.of(text)).words) + (2 if said.figures and line.holds_figures_of(said)
                                                                  else 0) for text in lines]
    best = max(range(len(lines)), key=scores.__getitem__, default=None)
    return best if best is not None and scores[best] > 0 else None


def _section(citation: Citation, lines: list[str], line: int) -> str | None:
    """The heading nearest above ``line`` in a Markdown passage (a DOCX's, an HTML page's, an EPUB's); above
    its first heading, the passage's own heading when the passage began under it, and none when that heading
    is the first one inside the passage (the chunker names a passage by it then: the text above it has no
    section). A passage of another kind keeps its heading (a code file's "# comment" is no heading)."""
    if citation.heading is None or not reads_as_markdown(Path(citation.path)):
        return citation.heading
    text = "\n".join(lines)  # one line end alike for every line: a heading's line is the line ends before it
    headings = [(text.count("\n", 0, offset), path) for offset, path in markdown_headings(text)]
    above = [path for at, path in headings if at <= line]
    if above:
        return above[-1]
    first = headings[0] if headings else None
    if first and "\n".join(lines[:first[0]]).strip() and citation.heading.rsplit(" > ", 1)[-1] == first[1]:
        return None
    return citation.heading
