"""Full-text search in scripts written without spaces (Chinese, Japanese, Korean), for SQLite's FTS5.

FTS5's ``unicode61`` tokenizer splits text at spaces and punctuation only, so a Chinese or Japanese sentence
was one "word": 北京 in 我住在北京 was never found, neither by keyword search in the user's folders nor by the
history search, and hybrid search fell back on an English embedder that ranked a Japanese note first for 北京.

So both indexes store such text with a zero-width space around every CJK character (:func:`segment`, a SQL
function the triggers and the content views call): each character is a token, the zero-width space is a
separator to ``unicode61`` and invisible in a snippet (:func:`unsegment` takes it out anyway). A query asks for
each pair of neighbouring characters as a phrase (:func:`query_terms`): character bigrams, the usual unit of
CJK retrieval, which needs no dictionary. Korean words are space-separated but carry their particles (서울에),
which the bigrams match as well. Other scripts are untouched.

Symbols get the same separator around them: ``unicode61`` knows Unicode only as of its tables, and takes a
newer emoji for a letter, so "stadium🤔", "flowers🥰" and "🦄unicorn" were words of their own that a search for
"stadium" never found (an emoji of its tables, 🌈, did separate).

The knowledge index holds symbols as words of their own (:data:`TOKENIZER`): ``unicode61`` read every symbol of
its tables (🌈, ★, →, ©) as a space, so a keyword search of "★★★★★" or "→" alone found nothing, though a note
held it. A query asks for a run of symbols as a phrase (:func:`query_terms`): "★★★★★" is five words of one.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from itertools import groupby, pairwise

from assistant.stemming import stemmed

#: Han (with extensions A and B and the compatibility block), kana (with half-width katakana) and Hangul.
CJK = re.compile("[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
                 "\uac00-\ud7af\U00020000-\U0002a6df]")
_RUNS = re.compile(f"({CJK.pattern}+)")
SEPARATOR = "\u200b"  # ZERO WIDTH SPACE: a separator to unicode61 (category Cf), invisible when shown
#: The SQL function name the schemas use; every connection that writes or searches an index registers it.
FUNCTION = "hearth_segment"
#: The knowledge index's function: letters folded (:data:`FOLD`) and words of other scripts than Latin stemmed
#: (:mod:`assistant.stemming`) as well as CJK segmented. The history's index is not folded: its snippets show the
#: indexed text, and "Straße" must not show as "Strasse". (A new name whenever what it does changes: an index
#: whose triggers call another is made again, see ``Store._renew_keyword_index``.)
FOLDED_FUNCTION = "hearth_terms"  # was "hearth_words", "hearth_stems", then "hearth_tokens" (symbols not words)
#: The knowledge index's tokenizer: ``unicode61``'s word characters (letters, digits, private use) and the
#: symbols (``S*``) but the ASCII ones, which stay separators as before ("x=5" is "x" and "5").
TOKENIZER = "porter unicode61 remove_diacritics 2 categories 'L* N* Co S*' separators '$+<=>^`|~'"
#: Letters ``unicode61 remove_diacritics`` keeps apart from what people type for them: "Strasse" found no
#: "Straße", "oeufs" no "œufs", "Soren" no "Søren", "платеж" no "платёж". Folded in the knowledge index and in
#: the queries it answers alike.
FOLD = str.maketrans({"ß": "ss", "ẞ": "SS", "œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O",
                      "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "ı": "i",
                      "ё": "е", "Ё": "Е"})


#: Characters that may be symbols: neither ASCII, a word character, a space nor the separator.
_MAYBE_SYMBOL = re.compile(f"[^\\w\\s\x00-\x7f{SEPARATOR}]")
_MAYBE_SYMBOLS = re.compile(f"{_MAYBE_SYMBOL.pattern}+")
#: What joins or alters an emoji without being a symbol itself: ZERO WIDTH JOINER, variation selectors, the
#: combining keycap.
_EMOJI_PARTS = frozenset("\u200d\ufe0e\ufe0f\u20e3")


def segment(text: str | None) -> str | None:
    """``text`` with a zero-width space around each CJK character and each symbol (NULL stays NULL)."""
    if text is None:
        return text
    if CJK.search(text):
        text = CJK.sub(_apart, text)
    return _MAYBE_SYMBOL.sub(_apart_if_symbol, text) if _MAYBE_SYMBOL.search(text) else text


def _apart(match: re.Match[str]) -> str:
    return f"{SEPARATOR}{match.group()}{SEPARATOR}"


def _apart_if_symbol(match: re.Match[str]) -> str:
    """A symbol (emoji, skin tone, ©, °, →, €) or a part of an emoji set apart, anything else as it is."""
    return _apart(match) if _is_symbol(match.group()) else match.group()


def _is_symbol(ch: str) -> bool:
    """Whether ``ch`` (not ASCII) is a symbol or a part of an emoji."""
    return unicodedata.category(ch)[0] == "S" or ch in _EMOJI_PARTS or "\U000e0020" <= ch <= "\U000e007f"


def symbol_runs(text: str) -> list[str]:
    """The runs of symbols in ``text`` ("★★★★★", "👋🏽", "→"), which a word pattern (``\\w+``) never finds."""
    runs = (m.group() for m in _MAYBE_SYMBOLS.finditer(text))
    return ["".join(chars) for run in runs for symbol, chars in groupby(run, _is_symbol) if symbol]


def folded(text: str | None) -> str | None:
    """``text`` as the knowledge index holds its words: :data:`FOLD` applied, stemmed where the script tells the
    language (:func:`~assistant.stemming.stemmed`), then :func:`segment`."""
    return segment(stemmed(text.translate(FOLD))) if text is not None else None


def unsegment(text: str) -> str:
    """A snippet of segmented text as it was written."""
    return text.replace(SEPARATOR, "")


def register(conn: sqlite3.Connection) -> None:
    """Make :func:`segment` and :func:`folded` available to ``conn``'s triggers and views."""
    conn.create_function(FUNCTION, 1, segment, deterministic=True)
    conn.create_function(FOLDED_FUNCTION, 1, folded, deterministic=True)


def merge_away_deleted(conn: sqlite3.Connection, *tables: str) -> None:
    """Merge each FTS5 index of ``tables`` into one segment, in the caller's transaction, after rows were deleted:
    FTS5 keeps a deleted text's words in its segments (and writes them again in the delete's own marker) until a
    merge, so a password in a deleted chat, or in a file deleted from an indexed folder, was still in the file.
    It rewrites the whole index (about 1 s for 50,000 passages): once per removal, never per batch."""
    for table in tables:
        conn.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")


def split_cjk(word: str) -> tuple[list[str], list[str]]:
    """A word split into its plain parts and the bigrams of its CJK runs: every pair of neighbouring
    characters ("北京", "京是"), a lone character as itself."""
    plain: list[str] = []
    bigrams: list[str] = []
    for part in _RUNS.split(word):
        if not part:
            continue
        if CJK.match(part):
            bigrams += [part] if len(part) == 1 else [a + b for a, b in pairwise(part)]
        else:
            plain.append(part)
    return plain, list(dict.fromkeys(bigrams))


def query_terms(word: str) -> tuple[list[str], list[str]]:
    """A query word split into its plain parts and its CJK phrases, each bigram as a phrase of two words
    ("北 京"), as the index holds them; a run of symbols (:func:`symbol_runs`) is one phrase of them all."""
    if symbol_runs(word) == [word]:
        return [], [segment(word) or ""]
    plain, bigrams = split_cjk(word)
    return plain, [" ".join(bigram) for bigram in bigrams]
