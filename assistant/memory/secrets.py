"""Secrets memory must not keep: passwords, PINs, card numbers and their codes, API keys and tokens.

A memory is stored unencrypted and goes into prompts; "My gmail password is hunter2sailor.", "4111 1111 1111
1111, CVV 123", "sk-proj-…" and "my PIN is 4821" were each learned as a memory and shown back in answers. One
function, :func:`secret_kind`, decides it for every path: learning from a chat, ``hearth memory add`` and
``edit``, the memory manager's Add… and Edit…. The rules look for the shape of a secret (what it is called and
a value after it, a number that passes the card check, a key's known prefix, a long random-looking string), not
for the word alone: "I forgot my password again" or "my PIN code changed" keep nothing secret.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial


@dataclass(frozen=True)
class _Shape:
    kind: str  # what the user is told it looks like: "a password"
    pattern: re.Pattern[str]
    check: Callable[[str], bool] = lambda found: True  # a second look at what the pattern found


def _luhn(found: str) -> bool:
    """A card number's check digit is right (4111 1111 1111 1111 is; a phone number or an order number rarely)."""
    digits = [int(c) for c in found if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(digits)))
    return total % 10 == 0


def _random_looking(found: str) -> bool:
    """Letters of both cases and digits, spread evenly (bits per character): a key or a token, not a long word,
    a file name or a hyphenated name."""
    if not (re.search(r"[a-z]", found) and re.search(r"[A-Z]", found) and re.search(r"\d", found)):
        return False
    counts = Counter(found)
    return -sum(n / len(found) * math.log2(n / len(found)) for n in counts.values()) >= 3.5


#: What is said before a secret's value: "password is", "PIN:", "passcode for the alarm is", "password = ".
_SAID = r"\b{names}\b(?:\s+(?:for|of|to|on)\s+(?:the\s+|my\s+)?\S+)?\s*(?:\bis\b|\bwas\b|:|=)\s*"
_SHAPES = (
    _Shape("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    _Shape("an API key", re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{8,}|\bgh[pousr]_[A-Za-z0-9]{20,}|"
                                    r"\bgithub_pat_[A-Za-z0-9_]{20,}|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|"
                                    r"\bxox[abprs]-[A-Za-z0-9-]{10,}|\bAIza[0-9A-Za-z_-]{30,}|\bhf_[A-Za-z0-9]{20,}")),
    _Shape("a password", re.compile(_SAID.format(names=r"(?:password|passcode|passphrase|passwd|pwd)") + r"\S{3,}",
                                    re.IGNORECASE)),
    _Shape("a PIN", re.compile(_SAID.format(names=r"(?:pin|pin code|pin number)") + r"\d{3,8}\b", re.IGNORECASE)),
    _Shape("a card number", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"), _luhn),
    _Shape("a card's security code", re.compile(r"\b(?:cvv2?|cvc2?|cid|security code)\b\W{0,3}(?:(?:is|was)\s+)?"
                                                r"\d{3,4}\b", re.IGNORECASE)),
    _Shape("a key or a token", re.compile(r"(?<![\w/.-])[A-Za-z0-9_+=-]{24,}(?![\w/.-])"), _random_looking),
)


def secret_kind(text: str) -> str | None:
    """What secret ``text`` holds ("a password", "a card number", "an API key"…), or None when it holds none."""
    return next((shape.kind for shape in _SHAPES for found in shape.pattern.finditer(text)
                 if shape.check(found.group())), None)


def without_secrets(text: str) -> str:
    """``text`` with each secret it holds replaced by "[…]": the message a memory was learned from is kept with
    it, and "My dog is Rex and my PIN is 4821" kept the PIN beside "User's dog is Rex"."""
    for shape in _SHAPES:
        text = shape.pattern.sub(partial(_hidden, shape.check), text)
    return text


def _hidden(check: Callable[[str], bool], found: re.Match[str]) -> str:
    return "[…]" if check(found.group()) else found.group()


def not_kept(kind: str) -> str:
    """What the user is told of a fact left out for holding a secret (the fact itself is not repeated)."""
    return f"not remembered: it looks like {kind}, and memory keeps no secrets"
