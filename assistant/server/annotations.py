"""The Responses API's ``file_citation`` annotations: where each ``[n]`` of an answer stands in the text a client
was given, in OpenAI's own shape (``index``, ``file_id``, ``filename``), so its clients can place the citations.

Hearth attributes the citations a model did not write after the model's words have streamed, putting ``[n]``
after sentences mid-text. A client that joined a stream's deltas got the answer without them: they were only in
the final ``cited_text``, a field no OpenAI client reads. The saved answer's markers (``Done.markers``) are found
here in the streamed text by walking both texts once: difflib's alignment took 1.3 s for an answer of 8,000
characters, on the server's event loop.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from assistant.events import Done


def file_citations(text: str, done: Done, citations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One ``file_citation`` per passage each ``[n]`` of ``done.text`` cites, in order, ``index`` where that
    marker stands in ``text``: the position of its ``[n]`` (with the spaces before it) where ``text`` holds it
    (the answer was not streamed, or the model wrote it), else where it goes: putting `` [n]`` there gives the
    answer as saved (``cited_text``). ``file_id`` is the file's path, ``filename`` its name, and Hearth's ``n``
    the passage's number in ``citations``, as in ``[n]``."""
    paths = {c["n"]: c["path"] for c in citations}
    found: list[dict[str, Any]] = []
    at = where = 0  # how far the walk has come in done.text and in text
    for marker in done.markers:
        where = _follow(text, where, done.text[at:marker.start])
        index, written = where, done.text[marker.start:marker.end]
        if text.startswith(written, where):
            where += len(written)
        at = marker.end
        found += [{"type": "file_citation", "index": index, "file_id": paths[n], "filename": PurePath(paths[n]).name,
                   "n": n} for n in marker.numbers if n in paths]
    return found


def _follow(text: str, start: int, saved: str) -> int:
    """Where ``saved`` (words of the saved answer) ends in ``text`` read from ``start``: at once where the words
    streamed as they were saved, else skipping what the text has and the saved answer dropped (a ``[9]`` that
    names no passage given)."""
    if text.startswith(saved, start):
        return start + len(saved)
    for char in saved:
        found = text.find(char, start)
        if found < 0:
            return len(text)
        start = found + 1
    return start
