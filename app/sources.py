"""What the GUI shows of a source passage, from a live ``Citation`` or from one stored in the history.

Why a local value type: a streamed ``Sources`` event carries ``knowledge.Citation`` objects while the
history stores them as dictionaries; both become a :class:`Passage`, and the GUI never has to import the
knowledge package (which pulls in the embedder stack) just to draw a chip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.events import passage_place


@dataclass(frozen=True)
class Passage:
    n: int
    path: str
    page: int | None
    line_start: int | None
    line_end: int | None
    text: str
    score: float
    uri: str
    location: str
    #: True when the answer cites this passage (by the model or by Hearth's attribution), False when it was
    #: retrieved and given to the model but not used, None when not known (answers saved before this was kept).
    cited: bool | None = None
    heading: str | None = None  # the section it is in (a DOCX's or an HTML page's passages have no lines)
    #: the file as it was indexed, to tell later whether it was edited since (None: answers saved before this)
    size: int | None = None
    mtime_ns: int | None = None
    stale: str = ""  # "changed" or "gone" since it was indexed, as the answer was given ("" when not)
    focus: tuple[int, ...] = ()  # the lines of ``text`` (0 its first) the answer restates (() when not known)

    @classmethod
    def of(cls, source: Any, n: int | None = None) -> Passage:
        get = source.get if isinstance(source, dict) else lambda key, default=None: getattr(source, key, default)
        path = str(get("path", ""))
        page, start, end = get("page"), get("line_start"), get("line_end")
        uri = source.uri() if hasattr(source, "uri") else get("uri") or (Path(path).as_uri() if path else "")
        heading, focus = get("heading"), tuple(get("focus") or ())
        where = passage_place(path, page, start, end, heading, focus)
        cited = get("cited")
        return cls(n if n is not None else int(get("n", 0) or 0), path, page, start, end, str(get("text", "")),
                   float(get("score", 0.0) or 0.0), uri, where, None if cited is None else bool(cited),
                   heading or None, get("size"), get("mtime_ns"), str(get("stale", "") or ""), focus)


def memory_text(memory: Any) -> str:
    """A memory item (``.text``) or its stored dictionary form, as one line."""
    return str(memory.get("text", "") if isinstance(memory, dict) else getattr(memory, "text", memory))


def memory_origin(memory: Any) -> str:
    """Where a memory came from, for its tooltip: what the user said, and when."""
    said = getattr(memory, "source_text", None)
    when = str(getattr(memory, "created_at", ""))[:16].replace("T", " ")
    return f'You said: "{said}" ({when})' if said else f"Added by you ({when})"
