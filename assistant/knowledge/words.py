"""Content words: what attribution matches answers to passages by, and what feedback terms are chosen from.

One list of English function words serves both, so "the", "what" or "using" never count as evidence that
a sentence restates a passage, nor get added to a search as a passage's topic.
"""

from __future__ import annotations

import re

WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOP = frozenset(
    "a all also an and any are as at be been but by can do does for from has have he her his how i if in into "
    "is it its may me more most my no not of on or other our she so some such than that the their them then "
    "there these they this to too use used using was we were what when where which who why will with you your"
    .split()
)


def content_words(text: str) -> set[str]:
    """The lower-cased words of ``text`` that are not function words, one letter or the underscore."""
    return {w for w in (m.group().lower() for m in WORD.finditer(text)) if w not in STOP and len(w) > 1}
