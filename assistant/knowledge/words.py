"""Content words: what attribution matches answers to passages by, and what feedback terms are chosen from.

One list of function words serves both, so "the", "what" or "using" never count as evidence that a sentence
restates a passage, nor get added to a search as a passage's topic. It has the commonest of Portuguese, Spanish,
French, German, Italian and Dutch too, but for those that are English words as well ("son", "van", "die",
"pour", "nas", "non"): a wrong Portuguese answer was cited for a note it shared "em", "da" and "de" with.
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
) | frozenset(
    # Portuguese, Spanish
    "da das de do em na nos numa um uma umas uns ao aos à às pela pelas pelo pelos que para por com "
    "não nao mais mas como foi são é está el la las los lo le les del al con una uno unos unas es su sus más pero "
    "este esta esto ese eso y e o "
    # French
    "des du un une et est en dans sur au avec ce cette ces qui il elle ils elles nous vous pas ne se "
    "sa ses leur leurs mais ou où sont "
    # German
    "der das dem des ein eine einer eines einem einen und ist sind nicht von zu zum zur im auf für wie auch sich "
    "er sie es wir ihr dass oder aber noch nach "
    # Italian, Dutch
    "il di della dei delle degli nel nella che sono het een en te dat niet voor zijn aan ook bij".split()
)

#: A one-digit number and the word beside it ("9 September", "step 3") is one content word. "The answer to this
#: question is 9 September." matched "The MOT is due on 9 September." by one word of three, and a correct answer
#: was flagged as not from the user's files. The digit alone is no evidence: counted alone, 7 more wrong answers
#: of `hearth bench answers` lost their flag (replayed over its 219 stored answers); as pairs, 1 more is flagged.
_DIGIT_WORD = re.compile(r"(?<![\w.])(\d)\s+([^\W\d_]{2,})")
_WORD_DIGIT = re.compile(r"([^\W\d_]{2,})\s+(\d)(?![\w.])")


def content_words(text: str) -> set[str]:
    """The lower-cased words of ``text`` that are not function words, one letter or the underscore, and each
    one-digit number with the word beside it (:data:`_DIGIT_WORD`); in
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
        elif word not in STOP and len(word) > 1:
            words.add(word)
    for digit, word in _DIGIT_WORD.findall(text):
        if word.lower() not in STOP:
            words.add(f"{digit} {word.lower()}")
    for word, digit in _WORD_DIGIT.findall(text):
        if word.lower() not in STOP:
            words.add(f"{word.lower()} {digit}")
    return words
