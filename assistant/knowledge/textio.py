"""Bytes to text: refuse binaries, decode any common encoding.

Files arrive from users' folders in whatever encoding their editor used (Latin-1, Windows-1252, KOI8-R,
UTF-16 with a BOM or without one...). UTF-8 is tried first because it is both the most common and a strict test;
UTF-8 with a few stray legacy bytes (a Latin-1 line pasted in) keeps its UTF-8 and reads the strays as
Windows-1252. The legacy single-byte code pages are then read by Hearth itself: each reading is scored by
whether its words look like words of one language (its accented letters belong to one language's alphabet, no
symbol glued inside a word, no capital after a small letter, one script per word), or of two languages when no
page reads as one, since charset-normalizer cannot tell them apart on short text (it read "Price: €100" as Mac
Icelandic, "Ärger" as "ƒrger", short KOI8-R Russian as Shift-JIS, and "très … Straße" as Windows-1250 "trčs").
What no single-byte page reads well is tried in the CJK encodings (GBK, Big5, Shift-JIS, EUC-JP, EUC-KR), each
judged by whether it reads into its language's commonest characters, since charset-normalizer read short
GBK, Big5 and EUC-JP notes as Korean noise. What is left goes to charset-normalizer, which also tells text from
binary noise.
"""

from __future__ import annotations

import codecs
import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations

from charset_normalizer import from_bytes

from assistant.knowledge.errors import UnreadableFileError

_SNIFF = 8192
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


def decode_text(data: bytes) -> str:
    """Decode a text file's bytes, or raise :class:`UnreadableFileError` saying why not. Windows line ends
    become newlines: passages kept their carriage returns, in the prompt (tokens for nothing) and in `--json`."""
    return _text_of(data).replace("\r\n", "\n")


def _text_of(data: bytes) -> str:
    if not data.strip():
        raise UnreadableFileError("empty file")
    head = data[:_SNIFF]
    if b"\x00" in head and not head.startswith(_UTF16_BOMS):
        text = _bomless_utf16(data)
        if text is None:
            raise UnreadableFileError("binary file (not text)")
        return text
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    for codec in _likely_codecs(data[:_SCORED]):  # judged on a sample: 12 readings of 20 MB took minutes
        try:
            return _decode(data, codec)
        except UnicodeDecodeError:  # a byte past the sample that this encoding does not define
            continue
    best = from_bytes(data).best()
    if best is None:
        raise UnreadableFileError("binary file or unknown text encoding")
    return str(best)


def _likely_codecs(sample: bytes) -> Iterator[str]:
    """The encodings ``sample`` reads plausibly in, likeliest first, each judged only when the one before
    failed: a single-byte page read as one language, a CJK encoding, a single-byte page read as two languages
    (CJK before it: a CJK reading all of common characters is near proof, a Latin one of two alphabets is not)."""
    tallies = [(codec, _Tally.of(text)) for codec, text in _readings(sample)]
    yield from _plausible(tallies, 1)
    yield from _cjk(sample)
    yield from _plausible(tallies, 2)


def _plausible(tallies: list[tuple[str, _Tally]], languages: int) -> Iterator[str]:
    """The single-byte page whose reading is likeliest words of ``languages`` languages, if plausible."""
    plausibility, codec = max(((tally.plausibility(languages), codec) for codec, tally in tallies),
                              key=lambda scored: scored[0], default=(0.0, ""))  # the first of equals wins
    if plausibility >= PLAUSIBLE:
        yield codec


#: How much of a file its encoding is judged on.
_SCORED = 64 * 1024
_MIXED = "utf-8 with windows-1252"
#: The legacy single-byte code pages tried, commonest first (a tie goes to the earlier one).
SINGLE_BYTE = ("cp1252", "cp1250", "iso8859_2", "cp1251", "koi8_r", "koi8_u", "cp1253", "iso8859_7", "cp1254",
               "cp1257", "cp1255", "cp1256")
#: A reading at least this plausible is taken (real text scores 1.0; CJK read as a single-byte page ≤ 0.55).
PLAUSIBLE = 0.8
#: The letters beyond ASCII of the languages those pages are made for, one alphabet per language.
_ALPHABETS = [set(letters) for letters in (
    "äöüß", "àâæçéèêëîïôœùûüÿ", "áéíñóúü", "áâãàçéêíóôõú", "àèéìíîòóùú", "éëïóöüèà", "åäöé", "æøåé", "äöåšž",
    "áðéíóúýþæö", "àçèéíïòóúü", "ąćęłńóśźż", "áčďéěíňóřšťúůýž", "áäčďéíĺľňóôŕšťúýž", "áéíóöőúüű", "čćđšž",
    "ăâîșțşţ", "çğıiöşüâîû", "ąčęėįšųūž", "āčēģīķļņšūž", "äöõüšž",
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя", "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя", "абвгдђежзијклљмнњопрстћуфхцчџш",
    "αβγδεζηθικλμνξοπρστυφχψωάέήίόύώϊϋΐΰς",
    "".join(map(chr, range(0x05D0, 0x05EB))),  # Hebrew
    "".join(map(chr, range(0x0621, 0x064B))) + "پچژگکی",  # Arabic and Persian
)]
#: Punctuation that sits against letters in real text (quotes, dashes, Arabic comma).
_GLUE = set("’‘–—…·«»“”„‹›،؛؟")


def _readings(sample: bytes) -> Iterator[tuple[str, str]]:
    """(codec, text to judge it by) for each way of reading ``sample``: as UTF-8 with stray bytes when some of it
    is UTF-8 beyond ASCII (judged by the words holding strays alone: a valid UTF-8 sequence is evidence enough,
    and German UTF-8 with a French Latin-1 line is in no single alphabet), then as each single-byte page that
    defines all its bytes."""
    if b"\x00" in sample:  # UTF-16 or UTF-32: no single-byte page writes a NUL in text
        return
    utf8 = sample.decode("utf-8", "surrogateescape")
    if any(ord(ch) > 0x7F and not 0xDC80 <= ord(ch) <= 0xDCFF for ch in utf8):
        strays = " ".join(word for word in utf8.split() if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in word))
        yield _MIXED, _decode(strays.encode("utf-8", "surrogateescape"), _MIXED)
    for codec in SINGLE_BYTE:
        try:
            yield codec, sample.decode(codec)
        except UnicodeDecodeError:  # a byte this page does not define
            continue


def _cjk(sample: bytes) -> Iterator[str]:
    """The CJK encoding that reads ``sample`` strictly into the most common characters of its language, if
    they are nearly all such: charset-normalizer read a one-line GBK note "明天开会，地点在三楼。" as Korean
    "츠莖역삔，뒈듐瞳힛짜。", and short Big5 and EUC-JP notes as Hangul noise too. A wrong encoding's reading is
    of rare characters (or fails): GBK read as EUC-KR mixes in hanja, Big5 read as GBK is level-2 hanzi."""
    best, plausibility = "", 0.0
    for codec, language in _CJK:
        try:  # not final: the sample may end inside a character
            text = codecs.getincrementaldecoder(codec)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        counts = Counter(ch for ch in text if not ch.isascii())
        if counts and (codec not in _NEEDS_KANA or not _KANA.isdisjoint(counts)):  # Japanese without kana: no
            common = sum(n for ch, n in counts.items() if ch in _common(language) or ch in _CJK_PUNCTUATION)
            if common / counts.total() > plausibility:  # the first of equals wins
                best, plausibility = codec, common / counts.total()
    if plausibility >= PLAUSIBLE:
        yield best


#: The CJK encodings tried, each with the language whose common characters its readings are judged by; the
#: language with the fewest common characters first (a tie goes to it: its bytes are the less likely by chance).
_CJK = (("euc_kr", "ko"), ("shift_jis", "ja"), ("euc_jp", "ja"), ("gb18030", "zh-hans"), ("big5", "zh-hant"))
_NEEDS_KANA = ("shift_jis", "euc_jp")
_KANA = frozenset(map(chr, range(0x3041, 0x3100)))
_CJK_PUNCTUATION = frozenset(map(chr, [*range(0x3000, 0x3040), *range(0xFF01, 0xFF61)])) | set("·…‘’“”—")


@functools.cache
def _common(language: str) -> frozenset[str]:
    """The characters each national standard puts in its first, commonest level: Hangul of KS X 1001 (2,350),
    kana and level-1 kanji of JIS X 0208 (2,965), level-1 hanzi of GB 2312 (3,755), Big5's common hanzi
    (5,401), each read from its byte range."""
    codec, leads, trails = {"ko": ("euc_kr", range(0xB0, 0xC9), range(0xA1, 0xFF)),
                            "ja": ("euc_jp", [*range(0xA4, 0xA6), *range(0xB0, 0xD0)], range(0xA1, 0xFF)),
                            "zh-hans": ("gb2312", range(0xB0, 0xD8), range(0xA1, 0xFF)),
                            "zh-hant": ("big5", range(0xA4, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)]),
                            }[language]
    pairs = bytes(byte for lead in leads for trail in trails for byte in (lead, trail))
    return frozenset(pairs.decode(codec, "replace")) - {"\ufffd"}


def _decode(data: bytes, codec: str) -> str:
    if codec != _MIXED:
        return data.decode(codec)
    # UTF-8 with a few stray bytes (a Latin-1 line pasted into a UTF-8 file): the strays read as Windows-1252
    return re.sub("[\udc80-\udcff]+", lambda run: bytes(ord(ch) - 0xDC00 for ch in run.group()).decode(
        "cp1252", "replace"), data.decode("utf-8", "surrogateescape"))


@dataclass(frozen=True)
class _Tally:
    """What a reading's words hold, counted once: its letters beyond ASCII, its odd characters, and how many of
    either it has. Scored for one language and then for two, each reading was walked letter by letter twice."""

    letters: Counter[str]
    odd: int
    counted: int

    @classmethod
    def of(cls, text: str) -> _Tally:
        """Count ``text``'s letters beyond ASCII and odd characters; words in ASCII count for nothing."""
        letters: Counter[str] = Counter()
        odd = counted = 0
        for word in text.split():
            if word.isascii():
                continue
            scripts = {"LATIN"} if any(ch.isascii() and ch.isalpha() for ch in word) else set()
            for i, ch in enumerate(word):
                if ch.isascii():
                    continue
                if ch.isalpha():
                    counted += 1
                    letters[ch.lower()[0]] += 1
                    scripts.add(unicodedata.name(ch, "?").split(" ")[0])
                    before = word[i - 1] if i else ""
                    odd += ch.isupper() and before.isalpha() and before.islower()  # "рТЙЧЕФ": KOI8-R as cp1251
                elif ch not in _GLUE and (unicodedata.category(ch)[0] in "MC" or any(
                        not near.isascii() and near.isalpha() for near in word[max(i - 1, 0):i] + word[i + 1:i + 2])):
                    counted += 1
                    odd += 1  # a symbol, mark or control against a letter: "Za¿ó³æ" (Polish read as Windows-1252)
            odd += len(scripts) > 1  # "Bugьn": Turkish read as Windows-1251
        return cls(letters, odd, counted)

    def plausibility(self, languages: int = 1) -> float:
        """How much the text reads as words of one language, or of ``languages`` languages (1.0: every letter
        beyond ASCII is in their alphabets and nothing is odd). Two languages are allowed only when no page reads
        as one: "très" and "Straße" in one Latin-1 line are in no single alphabet, and charset-normalizer then
        read it as "trčs" (Windows-1250)."""
        if not self.counted:
            return 1.0
        in_alphabets = max(sum(self.letters[ch] for ch in set().union(*alphabets))
                           for alphabets in combinations(_ALPHABETS, languages))
        return max(in_alphabets - self.odd, 0) / self.counted


def _bomless_utf16(data: bytes) -> str | None:
    """The text of UTF-16 written without a byte-order mark (PowerShell's redirections and some exporters do),
    told from a binary by its NULs: in many high bytes, few low bytes (an emoji's surrogate has one), and
    decoding to printable text; None when the bytes are not that."""
    head = data[: _SNIFF - _SNIFF % 2]
    even, odd = head[0::2], head[1::2]
    for zeros, other, codec in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if len(data) % 2 == 0 and zeros.count(0) >= 0.3 * len(zeros) and other.count(0) <= 0.1 * zeros.count(0):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                return None
            shown = sum(c.isprintable() or c.isspace() for c in text[:_SNIFF])
            return text if shown >= 0.98 * min(len(text), _SNIFF) else None
    return None
