"""Secrets memory must not keep: passwords, PINs and lock codes, card numbers and their codes, API keys and tokens,
seed phrases, social security numbers and IBANs.

A memory is stored unencrypted and goes into prompts; "My gmail password is hunter2sailor.", "4111 1111 1111
1111, CVV 123", "sk-proj-…" and "my PIN is 4821" were each learned as a memory and shown back in answers. One
function, :func:`secret_kind`, decides it for every path: learning from a chat, ``hearth memory add`` and
``edit``, the memory manager's Add… and Edit…. The rules look for the shape of a secret (what it is called and
a value after it that looks like one, a number that is a card brand's and passes the card check, a key's known
prefix, a long random-looking string), not for the word alone: "I forgot my password again", "my password is
weak" or "my PIN code changed" keep nothing secret.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class _Shape:
    kind: str  # what the user is told it looks like: "a password"
    pattern: re.Pattern[str]
    check: Callable[[re.Match[str]], bool] = lambda found: True  # a second look at what the pattern found


#: Card brands as (first digits, lengths): a 15-digit IMEI or a 16-digit order number that passes the check digit
#: ("my IMEI is 490154203237518") was taken for a card; Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay.
_BRANDS: tuple[tuple[range, int, tuple[int, ...]], ...] = (
    (range(4, 5), 1, (13, 16, 19)), (range(51, 56), 2, (16,)), (range(2221, 2721), 4, (16,)),
    (range(34, 35), 2, (15,)), (range(37, 38), 2, (15,)), (range(6011, 6012), 4, (16, 17, 18, 19)),
    (range(65, 66), 2, (16, 17, 18, 19)), (range(644, 650), 3, (16, 17, 18, 19)),
    (range(3528, 3590), 4, (16, 17, 18, 19)), (range(300, 306), 3, (14, 15, 16, 17, 18, 19)),
    (range(36, 37), 2, (14, 15, 16, 17, 18, 19)), (range(38, 40), 2, (16, 17, 18, 19)),
    (range(62, 63), 2, (16, 17, 18, 19)),
)


def _card(found: re.Match[str]) -> bool:
    """A card brand's number whose check digit is right (4111 1111 1111 1111 is; a phone number, an IMEI or an
    order number is not)."""
    digits = [int(c) for c in found.group() if c.isdigit()]
    number = "".join(map(str, digits))
    if not any(int(number[:size]) in first and len(digits) in lengths for first, size, lengths in _BRANDS):
        return False
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(digits)))
    return total % 10 == 0


def _iban(found: re.Match[str]) -> bool:
    """The IBAN check (ISO 13616, mod 97): a product code or a licence plate in capitals and digits is not one."""
    code = "".join(found.group().split())
    moved = code[4:] + code[:4]
    return 15 <= len(code) <= 34 and int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _random_looking(found: re.Match[str]) -> bool:
    """Letters of both cases and digits, spread evenly (bits per character): a key or a token, not a long word,
    a file name or a hyphenated name."""
    text = found.group()
    if not (re.search(r"[a-z]", text) and re.search(r"[A-Z]", text) and re.search(r"\d", text)):
        return False
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values()) >= 3.5


#: Words that say what a password is like, not what it is: "my password is weak" (and words ending -ed or -ing:
#: "my password was changed yesterday") was kept out of memory as a password.
_DESCRIBES = frozenset(
    "weak strong long short simple easy hard secure insecure safe unsafe bad good great terrible awful wrong right "
    "correct incorrect same different new old default temporary random complicated complex unique fine ok okay "
    "there here mine it this that private secret required needed invalid valid obvious".split())
#: Where a clause ends after a value: "my password is Fluffy." or "my password is Fluffy and my dog is Rex".
_CLAUSE_END = re.compile(r"[.,;:!?)\"']*\s*(?:$|[.,;!?]|(?:and|but|so|because|though)\b)", re.IGNORECASE)


def _password(found: re.Match[str]) -> bool:
    """The value after "password is" looks like a password: a digit or a symbol in it, mixed case inside the word
    ("CoffeeTime"), or a single unknown word ending the clause ("Fluffy"); not "weak", "stored in my manager" or
    "the name of my dog"."""
    value = found.group("value")
    if re.search(r"\d|[^\w\s]|[a-z][A-Z]", value):
        return True
    word = value.lower()
    return (word not in _DESCRIBES and not word.endswith(("ed", "ing"))
            and _CLAUSE_END.match(found.string, found.end()) is not None)


def _digits(found: re.Match[str]) -> bool:
    """A lock code has three digits or more ("12-34-56" has six); "the code is 12" is no code to open anything."""
    return sum(c.isdigit() for c in found.group("value")) >= 3


#: How a value is said after the secret's name: "is", "was", "'s", "is:", ":", "=", and "ist"/"es"/"est".
_IS = r"(?:\s*(?:\b(?:is|was|are|were|ist|war|es|est)\b|['’]s\b)\s*[:=]?|\s*[:=])\s*"
#: What a name may be followed by before its value: "password for the office WiFi is", "code to my garage is".
_OF = r"(?:\s+(?:for|of|to|on|at|into)\s+(?:\S+\s+){0,2}?\S+?)?"
_VALUE = r"(?P<value>\S*[^\s.,;:!?\"')\]])"
_PASSWORDS = (r"password|passcode|passphrase|passwd|pwd|pw|mot de passe|passwort|kennwort|contraseña|contrasena|"
              r"(?:wi-?fi|wlan|network|router)\s+(?:pass|key)")
_CODES = (r"(?:door|alarm|gate|garage|safe|locker|lock|unlock|entry|access|keypad|building|backup|recovery|2fa)"
          r"\s+codes?|combination|code(?=\s+(?:to|for)\b)")
_SHAPES = (
    _Shape("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    _Shape("an API key", re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{8,}|\bgh[pousr]_[A-Za-z0-9]{20,}|"
                                    r"\bgithub_pat_[A-Za-z0-9_]{20,}|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b|"
                                    r"\bxox[abprs]-[A-Za-z0-9-]{10,}|\bAIza[0-9A-Za-z_-]{30,}|\bhf_[A-Za-z0-9]{20,}")),
    _Shape("a seed phrase", re.compile(rf"\b(?:seed|recovery|mnemonic|backup)\s+(?:phrase|words){_IS}"
                                       r"[a-z]+(?:\s+[a-z]+){11,23}\b", re.IGNORECASE)),
    _Shape("a password", re.compile(rf"\b(?:{_PASSWORDS})\b{_OF}{_IS}{_VALUE}", re.IGNORECASE), _password),
    _Shape("a password", re.compile(rf"\buses?\s+{_VALUE}\s+as\s+(?:\S+\s+){{0,2}}?(?:{_PASSWORDS})\b"
                                    r"(?!\s+(?:manager|vault|policy))", re.IGNORECASE), _password),
    _Shape("a PIN", re.compile(rf"\bpin(?:\s+(?:code|number))?\b{_OF}(?:{_IS}|\s+)\d{{3,8}}(?![\d/-])",
                               re.IGNORECASE)),
    _Shape("a lock code", re.compile(rf"\b(?:{_CODES}){_OF}{_IS}(?P<value>\d{{2,8}}(?:[ -]\d{{2,8}})*)\b",
                                     re.IGNORECASE), _digits),
    _Shape("a social security number", re.compile(rf"\b(?:ssn|social security(?:\s+(?:number|no))?)\b(?:{_IS}|\s+)"
                                                  r"\d{3}([- ]?)\d{2}\1\d{4}\b", re.IGNORECASE)),
    _Shape("a card number", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"), _card),
    _Shape("a card's security code", re.compile(r"\b(?:cvv2?|cvc2?|cid|security code)\b\W{0,3}(?:(?:is|was)\s+)?"
                                                r"\d{3,4}\b", re.IGNORECASE)),
    _Shape("an IBAN", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,8}\b"), _iban),
    _Shape("a key or a token", re.compile(r"(?<![\w/.-])[A-Za-z0-9_+=-]{24,}(?![\w/.-])"), _random_looking),
    # an AWS secret access key: 40 characters of base64, "/" and "+" among them ("wJalrXUtnFEMI/K7MDENG/…")
    _Shape("a key or a token", re.compile(r"(?<![\w/+.-])[A-Za-z0-9][A-Za-z0-9/+]{39}(?![\w/+.=-])"),
           _random_looking),
)


@dataclass(frozen=True)
class Secrets:
    """The secrets of one message, found once for both uses learning has for them: ``found`` (kind, value each)
    tells a fact that repeats one (:func:`secret_kind`), ``hidden`` is the message kept with what was learned
    from it. Each message was searched twice with every shape, once for each."""

    found: tuple[tuple[str, str], ...]
    hidden: str  # the message with each secret replaced by "[…]"


def secret_kind(text: str, said: Secrets | None = None) -> str | None:
    """What secret ``text`` holds ("a password", "a card number", "an API key"…), or None when it holds none.
    ``said``: the secrets (:func:`secrets_in`) of the message ``text`` was learned from, which ``text`` holds too
    where it repeats their value ("I use sunflower42 as my password" was learned as "User uses sunflower42")."""
    return next((kind for kind, _ in _found(text)), None) \
        or next((kind for kind, value in (said.found if said else ()) if _repeats(text, value)), None)


def secrets_in(said: str) -> Secrets:
    """The secrets of the message ``said``: found once per message, where every fact learned from it searched the
    whole message again with every shape."""
    matches = list(_found(said))
    return Secrets(tuple((kind, found.group("value") if "value" in found.re.groupindex else found.group())
                         for kind, found in matches), _hidden(said, sorted(found.span() for _, found in matches)))


def _found(text: str) -> Iterator[tuple[str, re.Match[str]]]:
    """Each secret of ``text``, with its kind, shape by shape (a shape's match its check confirms)."""
    return ((shape.kind, found) for shape in _SHAPES for found in shape.pattern.finditer(text) if shape.check(found))


def _repeats(text: str, value: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", text) is not None


def without_secrets(text: str) -> str:
    """``text`` with each secret it holds replaced by "[…]": the message a memory was learned from is kept with
    it, and "My dog is Rex and my PIN is 4821" kept the PIN beside "User's dog is Rex"."""
    return secrets_in(text).hidden


def _hidden(said: str, spans: list[tuple[int, int]]) -> str:
    """``said`` with each of ``spans`` (in order) replaced by "[…]", overlapping ones by one. Each shape once
    replaced what it found in what the shapes before it had left: "my wifi key is ghp_…" was kept as "my […]]" (a
    password's value read in "[…]") and "pin 4111 1111 1111 1111" kept twelve digits of the card."""
    kept, at = [], 0
    for start, end in spans:
        if start >= at:
            kept.append(said[at:start] + "[…]")
        at = max(at, end)
    return "".join(kept) + said[at:]


def not_kept(kind: str) -> str:
    """What the user is told of a fact left out for holding a secret (the fact itself is not repeated)."""
    return f"not remembered: it looks like {kind}, and memory keeps no secrets"
