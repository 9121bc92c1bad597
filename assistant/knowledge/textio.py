"""Bytes to text: refuse binaries, decode any common encoding.

Files arrive from users' folders in whatever encoding their editor used (Latin-1, Windows-1252, UTF-16
with a BOM or without one...). UTF-8 is tried first because it is both the most common and a strict test; anything else
goes to charset-normalizer, which also tells apart text from binary noise. On short text it cannot tell
the Latin code pages apart (it may read French as Baltic), so when Windows-1252, the commonest legacy
encoding, is among its plausible candidates, that one is used.
"""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

from assistant.knowledge.errors import UnreadableFileError

_SNIFF = 8192
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)


def decode_text(data: bytes) -> str:
    """Decode a text file's bytes, or raise :class:`UnreadableFileError` saying why not."""
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
    candidates = from_bytes(data)
    best = next((m for m in candidates if m.encoding == "cp1252"), candidates.best())
    if best is None:
        raise UnreadableFileError("binary file or unknown text encoding")
    return str(best)


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
