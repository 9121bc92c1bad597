"""Which passage a sentence restates: citations the model did not write, and a check of those it did.

Small local models often answer correctly from the sources but never write ``[n]``. Rather than show an
answer with no provenance, each sentence is matched to the passage it shares the most content words with;
a sentence that takes enough of its words from one passage gets that passage's number. The caller labels
such citations as attributed by Hearth, not written by the model, so the user knows which is which.

A model that does write ``[n]`` can cite a passage for a sentence that has nothing to do with it (asked
about Peru over household notes, SmolLM2 answered "The capital of Peru is Lima [1]"), so the same measure
says whether an answer restates any passage at all, whoever wrote its citations.
"""

from __future__ import annotations

import re
from dataclasses import replace

from assistant.knowledge.answering import CITATION
from assistant.knowledge.records import Citation
from assistant.knowledge.words import content_words

#: Where a sentence ends: after . ! or ?, and before a list item ("1. ", "- "), whose number would otherwise end
#: the line before it as a sentence ("follow these steps:\n\n1." was cited as "1 [1].")
#: Chinese and Japanese end a sentence with 。！？, and no space follows.
_SENTENCE_END = re.compile(r"((?<=[.!?])\s+|(?<=[。！？])\s*|\s*\n\s*(?=(?:\d+[.)]|[-*+•])\s))")
#: A sentence is attributed when at least this share of its content words (and at least two) occur in a passage.
MIN_OVERLAP = 0.5


def attribute(answer: str, citations: list[Citation]) -> tuple[str, list[Citation]]:
    """Return the answer with ``[n]`` appended to each well-supported sentence, and the passages used."""
    passages = [content_words(c.text) for c in citations]
    used: set[int] = set()
    pieces = _SENTENCE_END.split(answer)
    for i in range(0, len(pieces), 2):
        best = restated_passage(pieces[i], passages)
        if best is not None:
            n = best + 1
            used.add(n)
            sentence = pieces[i].rstrip()
            end = len(sentence) - 1 if sentence[-1:] in ".!?。！？" else len(sentence)
            pieces[i] = f"{sentence[:end]} [{n}]{sentence[end:]}" + pieces[i][len(sentence):]
    return "".join(pieces), [replace(citations[n - 1], n=n) for n in sorted(used)]


def restates_any(answer: str, citations: list[Citation]) -> bool:
    """Whether some sentence of ``answer`` restates one of the passages (by the measure :func:`attribute`
    uses; the answer's own ``[n]`` markers are not words of it)."""
    passages = [content_words(c.text) for c in citations]
    return any(restated_passage(CITATION.sub("", sentence), passages) is not None
               for sentence in _SENTENCE_END.split(answer)[::2])


def restated_passage(sentence: str, passages: list[set[str]]) -> int | None:
    """The index of the passage (given as its content words) that ``sentence`` restates: the one holding most
    of its content words, if it holds at least two and at least :data:`MIN_OVERLAP` of them."""
    words = content_words(sentence)
    if len(words) < 2:
        return None
    overlaps = [len(words & p) for p in passages]
    best = max(range(len(passages)), key=overlaps.__getitem__, default=None)
    if best is not None and overlaps[best] >= 2 and overlaps[best] / len(words) >= MIN_OVERLAP:
        return best
    return None
