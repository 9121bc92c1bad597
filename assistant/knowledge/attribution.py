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
from assistant.knowledge.words import content_words

_SENTENCE_END = re.compile(r"(?<=[.!?])(\s+)")
#: A sentence is attributed when at least this share of its content words (and at least two) occur in a passage.
MIN_OVERLAP = 0.5


def attribute(answer: str, citations: list[Citation]) -> tuple[str, list[Citation]]:
    """Return the answer with ``[n]`` appended to each well-supported sentence, and the passages used."""
    passages = [content_words(c.text) for c in citations]
    used: set[int] = set()
    pieces = _SENTENCE_END.split(answer)
    for i in range(0, len(pieces), 2):
        words = content_words(pieces[i])
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
