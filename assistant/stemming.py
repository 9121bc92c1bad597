"""Word stems for the scripts the keyword index's English stemmer passes over.

FTS5's ``porter`` tokenizer stems English words only, so a word in Russian, Greek or Arabic was found only in the
form it was written in: "Москва" found no "в Москву", "квартира" no "за квартиру", and hybrid search was left
with an English embedder. Words of a script that one language's Snowball stemmer serves are stemmed before the
keyword index (and the queries it answers) see them; the script tells the language, so nothing has to guess it.
Cyrillic is stemmed as Russian, the language most of it is written in: Bulgarian and Serbian words mostly still
meet their inflections, Ukrainian ones often do not ("Києва" and "Києві"). Latin-script text is left to
``porter``: which of a dozen languages a Latin word is in cannot be told from its letters.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

#: Each script's letters (with its combining marks), by the Snowball algorithm its words are stemmed with.
_SCRIPTS = {
    "russian": "\u0400-\u04ff",  # Cyrillic
    "greek": "\u0370-\u03ff\u1f00-\u1fff",  # Greek and Coptic, Greek Extended (polytonic)
    "arabic": "\u0600-\u06ff",
    "armenian": "\u0531-\u058f",
    "hindi": "\u0900-\u097f",  # Devanagari
    "tamil": "\u0b80-\u0bff",
}
_RUNS = re.compile("|".join(f"(?P<{language}>[{letters}]+)" for language, letters in _SCRIPTS.items()))
#: Snowball's stemmers keep the word being stemmed in the object: one per thread (indexing and searching run
#: side by side).
_local = threading.local()


def stemmed(text: str) -> str:
    """``text`` with each word of those scripts replaced by its stem, lower-cased ("Платеж за квартиру в Москву"
    → "платеж за квартир в москв"); other text as it is."""
    if text.isascii():
        return text
    return _RUNS.sub(lambda m: _stem(m.lastgroup or "", m.group()), text)


@lru_cache(maxsize=200_000)
def _stem(language: str, word: str) -> str:
    stemmers: dict[str, Any] = _local.__dict__.setdefault("stemmers", {})
    if language not in stemmers:
        import snowballstemmer  # here: 15 ms of imports that a chat with no such word never needs

        stemmers[language] = snowballstemmer.stemmer(language)
    return stemmers[language].stemWord(word.lower())
