"""Replacing a streamed answer on a terminal with its final form.

An answer streams as the model writes it; the numbered citations Hearth attributes afterwards (the model did
not write them) exist only once it is done. The window re-renders the answer then; on a terminal the streamed
text is erased and written again with its markers, so the ``[n]`` on screen match the sources listed under
it. Only where that is safe: a terminal (not a pipe or a file, which keep the streamed text: ``--json`` has
the final one), and an answer that still fits on the screen (rows above the top cannot be reached).
"""

from __future__ import annotations

import os
import shutil
import sys
import unicodedata
from typing import TextIO


def _width(line: str) -> int:
    """Columns ``line`` takes on a terminal: wide (CJK) characters two, combining marks none."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in line.expandtabs(8))


def rows(text: str, columns: int) -> int:
    """Terminal rows ``text`` occupies when written from the start of a row ``columns`` wide."""
    return sum(max(1, -(-_width(line) // columns)) for line in text.split("\n"))


def can_rewrite(stream: TextIO) -> bool:
    """A terminal that understands the escape codes used: on Windows only Windows Terminal or one that sets
    TERM (Git Bash, MSYS) is known to; the old console would print them."""
    term = os.environ.get("TERM", "")
    if sys.platform == "win32" and not (term or os.environ.get("WT_SESSION")):
        return False
    return stream.isatty() and term != "dumb"


def rewrite(stream: TextIO, shown: str, final: str) -> bool:
    """Replace ``shown`` (the last text written to ``stream``, from the start of a row and followed by a line
    break) with ``final``; False, writing nothing, where that cannot be done safely."""
    if final.strip() == shown.strip() or not can_rewrite(stream):
        return False
    size = shutil.get_terminal_size()
    up = rows(shown, size.columns)
    if up >= size.lines:
        return False
    stream.write(f"\r\x1b[{up}A\x1b[J{final}\n")  # up to the answer's first row, clear to the end, write again
    stream.flush()
    return True
