"""Attach citations the model did not write, when the answer plainly restates a passage.

Small local models often answer correctly from the sources but never write ``[n]``. Rather than show an
answer with no provenance, each sentence is matched to the passage it shares the most content words with;
a sentence that takes enough of its words from one passage gets that passage's number. The caller labels
such citations as attributed by Hearth, not written by the model, so the user knows which is which.
"""

from __future__ import annotations

import re
from dataclasses import replace

from assistant.knowledge.records import Citation

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])(\s+)")
_STOP = frozenset(
    "a an and are as at be been but by can do does for from has have he her his how i if in into is it its "
    "me my no not of on or our she so that the their them then there these they this to too was we were "
    "what when where which who why will with you your".split()
)
#: A sentence is attributed when at least this share of its content words (and at least two) occur in a passage.
MIN_OVERLAP = 0.5


def _content_words(text: str) -> set[str]:
    return {w for w in (m.group().lower() for m in _WORD.finditer(text)) if w not in _STOP and len(w) > 1}


def attribute(answer: str, citations: list[Citation]) -> tuple[str, list[Citation]]:
    """Return the answer with ``[n]`` appended to each well-supported sentence, and the passages used."""
    passages = [_content_words(c.text) for c in citations]
    used: set[int] = set()
    pieces = _SENTENCE_END.split(answer)
    for i in range(0, len(pieces), 2):
        words = _content_words(pieces[i])
        if len(words) < 2:
            continue
        overlaps = [len(words & p) for p in passages]
        best = max(range(len(passages)), key=overlaps.__getitem__, default=None)
        if best is not None and overlaps[best] >= 2 and overlaps[best] / len(words) >= MIN_OVERLAP:
            n = best + 1
            used.add(n)
            sentence = pieces[i].rstrip()
            end = len(sentence) - 1 if sentence[-1:] in ".!?" else len(sentence)
            pieces[i] = f"{sentence[:end]} [{n}]{sentence[end:]}" + pieces[i][len(sentence):]
    return "".join(pieces), [replace(citations[n - 1], n=n) for n in sorted(used)]
