"""Content words: what attribution matches answers to passages by, and what feedback terms are chosen from.

One list of English function words serves both, so "the", "what" or "using" never count as evidence that
a sentence restates a passage, nor get added to a search as a passage's topic.
"""

from __future__ import annotations

import re

from assistant.fulltext import CJK, split_cjk

WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOP = frozenset(
    "a all also an and any are as at be been but by can do does for from has have he her his how i if in into "
    "is it its may me more most my no not of on or other our she so some such than that the their them then "
    "there these they this to too use used using was we were what when where which who why will with you your"
    .split()
)


def content_words(text: str) -> set[str]:
    """The lower-cased words of ``text`` that are not function words, one letter (a digit counts: "The
    answer is 9 September." matched "The MOT is due on 9 September." by one word of three, and a correct answer
    was flagged as not from the user's files) or the underscore; in
    Chinese, Japanese and Korean, written without spaces, each pair of neighbouring characters is a word
    (a whole sentence of them was one word, so no answer in them was ever matched to a passage, and each
    was flagged as restating none)."""
    words: set[str] = set()
    for match in WORD.finditer(text):
        word = match.group().lower()
        if CJK.search(word):
            plain, bigrams = split_cjk(word)
            words.update(w for w in plain if w not in STOP and len(w) > 1)
            words.update(bigrams)
        elif word not in STOP and (len(word) > 1 or word.isdigit()):  # "9 September": the 9 is evidence
            words.add(word)
    return words
