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
from dataclasses import dataclass, replace

from assistant.knowledge.answering import CITATION
from assistant.knowledge.records import Citation
from assistant.knowledge.words import content_words

#: Where a sentence ends: after . ! or ?, and before a list item ("1. ", "- "), whose number would otherwise end
#: the line before it as a sentence ("follow these steps:\n\n1." was cited as "1 [1].")
#: Chinese and Japanese end a sentence with 。！？, and no space follows.
_SENTENCE_END = re.compile(r"((?<=[.!?])\s+|(?<=[。！？])\s*|\s*\n\s*(?=(?:\d+[.)]|[-*+•])\s))")
#: A full stop that ends an abbreviation or an initial, not a sentence ("Dr. Olsen", "e.g. after lunch", "J. Smith"):
#: Hearth's own marker went inside it ("with Dr [1]. Olsen."), changing the answer's text.
_ABBREVIATION = re.compile(r"(?:\b(?:[A-Z]|Dr|Mr|Mrs|Ms|Mx|Prof|Sr|Jr|St|Mt|Ft|Gen|Col|Capt|Lt|Sgt|Rev|Hon|vs|etc|"
                           r"approx|ca|cf|al|no|nos|vol|fig|figs|ch|sec|pp|inc|ltd|co|corp|dept|est|jan|feb|mar|apr|"
                           r"jun|jul|aug|sep|sept|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun)|"
                           r"(?:\b\w\.)+\w)\.$", re.IGNORECASE)
#: A sentence is attributed when at least this share of its content words (and at least two) occur in a passage.
MIN_OVERLAP = 0.5
#: A number as written, separators and all ("4,312", "0800 123 456", "HP-55-2931" holds "55-2931", "10:30").
_FIGURE = re.compile(r"\d+(?:[,.:\s\-–/]\d+)*")
#: How a number's groups may be matched: a code, a phone number or a date by whole groups ("123 456" of "0800
#: 123 456", "2024" of "2024-05-01"); an integer with thousands separators only whole ("1,500" is "1500", and
#: "1 200 000" holds no "200 000", though a sentence's "123 456" may end a phone number); a decimal or a time only
#: exactly ("3,5" is "3.5", never "35"; "10:30" is not "10").
_CODE, _INTEGER, _SPACED, _EXACT = "code", "integer", "spaced", "exact"
_SPACED_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:[ \u00a0\u202f]\d{3})+")
#: A one-digit number written as a word, which a passage may use where an answer writes the digit ("two pills").
_DIGIT_WORDS = {word: n for n, words in enumerate(("zero", "one first", "two second", "three third", "four fourth",
                                                    "five fifth", "six sixth", "seven seventh", "eight eighth",
                                                    "nine ninth")) for word in words.split()}
#: A one-digit number as a Roman numeral ("Chapter III"; not "I", which is a word).
_ROMAN = {"II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9}
#: A list item's number, which is the list's, not the sentence's ("1. Take two pills").
_LIST_MARKER = re.compile(r"^\s*\d+[.)]\s")


def _kind(written: str, groups: tuple[str, ...]) -> str:
    quantity = re.search(r"\d[,.]\d", written) is not None
    if ":" in written or (quantity and any(len(g) != 3 for g in groups[1:])):
        return _EXACT
    if quantity:
        return _INTEGER
    return _SPACED if _SPACED_THOUSANDS.fullmatch(written) else _CODE


@dataclass(frozen=True)
class Said:
    """What a text says, as a sentence is matched against it: its content words, and its numbers as digits alone.

    A sentence with a number its passage does not hold does not restate it, however many words they share:
    "The home insurance policy number is 123456" was attributed to (and cited as) a passage saying
    "HP-55-2931", and "the emergency line is 123-456-7890" to one saying "0800 123 456"."""

    words: set[str]
    figures: tuple[tuple[tuple[str, ...], str], ...]  # each number: its groups of digits, and its kind (_kind)
    digits: frozenset[int]  # the one-digit numbers it states
    values: frozenset[int]  # what each group of digits is worth, and each digit written as a word or numeral
    sentences: tuple[frozenset[str], ...] = ()  # the content words of each of its sentences (see ties)

    @classmethod
    def of(cls, text: str) -> Said:
        found = [(groups, _kind(m, groups)) for m in _FIGURE.findall(_LIST_MARKER.sub("", text))
                 if (groups := tuple(re.findall(r"\d+", m)))]
        return cls(content_words(text), tuple(f for f in found if len("".join(f[0])) > 1),
                   frozenset(int(groups[0]) for groups, _ in found if len("".join(groups)) == 1),
                   frozenset({int(g) for groups, _ in found for g in groups}
                             | {_DIGIT_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in _DIGIT_WORDS}
                             | {_ROMAN[w] for w in re.findall(r"\b[IVX]+\b", text) if w in _ROMAN}),
                   tuple(frozenset(content_words(sentence)) for sentence in split_sentences(text)[::2]))

    def holds_figures_of(self, sentence: Said) -> bool:
        """Whether every number of ``sentence`` is written here, as :data:`_CODE` and the kinds after it say. Any
        run of digits counted: "99,000 EUR" was cited as a passage saying "999,000 EUR"; a group of a quantity
        too ("500 EUR" for "1,500 EUR", "25" for "25.99"), and digits alike: "35 %" for "3,5 %". A one-digit
        number needs only its value here (as a word or a Roman numeral too, or the "9" of "09:00"): "2 pills" was
        cited for "12 pills".
        """
        return sentence.digits <= self.values and all(
            any(_within(f, kind, mine, mine_kind) for mine, mine_kind in self.figures) for f, kind in sentence.figures)

    def ties(self, words: set[str], asked: set[str] | frozenset[str]) -> bool:
        """Whether one sentence here holds two of ``words`` (a sentence's), one at least that the question
        (``asked``) has not, and one that it has where ``words`` repeat any of the question's here. The words
        of a passage's different sentences say nothing of each other: "The greenhouse key is in Tromso harbour"
        was cited for a passage whose key is under a flower pot and whose boat is in Tromso harbour, the key in
        one sentence and the harbour in another."""
        subject = words & asked & self.words
        return any(len(words & part) >= 2 and (words - asked) & part and (not subject or subject & part)
                   for part in self.sentences)


def _within(figure: tuple[str, ...], kind: str, other: tuple[str, ...], other_kind: str) -> bool:
    if _EXACT in (kind, other_kind):
        return figure == other
    if "".join(figure) == "".join(other):
        return True
    n = len(figure)
    return other_kind == _CODE and kind in (_CODE, _SPACED) and any(other[i:i + n] == figure
                                                                    for i in range(len(other) - n + 1))


def attribute(answer: str, citations: list[Citation], question: str = "") -> tuple[str, list[Citation]]:
    """Return the answer with ``[n]`` appended to each well-supported sentence, and the passages used (see
    :func:`restated_passage` for ``question``)."""
    passages = [Said.of(c.text) for c in citations]
    asked = content_words(question)
    used: set[int] = set()
    pieces = split_sentences(answer)
    for i in range(0, len(pieces), 2):
        best = restated_passage(pieces[i], passages, asked)
        if best is not None:
            n = best + 1
            used.add(n)
            sentence = pieces[i].rstrip()
            end = len(sentence) - 1 if sentence[-1:] in ".!?。！？" else len(sentence)
            pieces[i] = f"{sentence[:end]} [{n}]{sentence[end:]}" + pieces[i][len(sentence):]
    return "".join(pieces), [replace(citations[n - 1], n=n) for n in sorted(used)]


def split_sentences(text: str) -> list[str]:
    """``text`` as sentences and the separators between them, alternating (as ``re.split`` with a group: the
    sentences are the even items, and joining all gives ``text`` back). A full stop after an abbreviation or an
    initial ends no sentence, nor one followed by a small letter ("e.g. after lunch")."""
    pieces = _SENTENCE_END.split(text)
    merged = [pieces[0]]
    for i in range(1, len(pieces), 2):
        separator, after = pieces[i], pieces[i + 1]
        before = merged[-1]
        if "\n" not in separator and before.endswith(".") and (
                _ABBREVIATION.search(before) or after[:1].islower()):
            merged[-1] = before + separator + after
        else:
            merged += [separator, after]
    return merged


def restates_any(answer: str, citations: list[Citation], question: str = "") -> bool:
    """Whether some sentence of ``answer`` restates one of the passages (by the measure :func:`attribute`
    uses; the answer's own ``[n]`` markers are not words of it)."""
    passages = [Said.of(c.text) for c in citations]
    asked = content_words(question)
    return any(restated_passage(CITATION.sub("", sentence), passages, asked) is not None
               for sentence in split_sentences(answer)[::2])


def restated_passage(sentence: str, passages: list[Said], asked: set[str] | frozenset[str] = frozenset()) -> int | None:
    """The index of the passage that ``sentence`` restates: of those holding every number it states, the one
    holding most of its content words, if it holds at least two and at least :data:`MIN_OVERLAP` of them, and
    one at least that the question (``asked``: its content words) does not, two of them in one sentence of the
    passage (see :meth:`Said.ties`). The passages were found by the
    question's words: an answer that only said the question again ("Question: Who broke his wrist during the
    storm?"), or named a wrong sailor around its words, was cited as restating the passage, and so was never
    flagged as restating none."""
    said = Said.of(sentence)
    words = said.words
    if len(words) < 2:
        return None
    overlaps = [len(words & p.words) if p.holds_figures_of(said) and p.ties(words, asked) else 0
                for p in passages]
    best = max(range(len(passages)), key=overlaps.__getitem__, default=None)
    if best is not None and overlaps[best] >= 2 and overlaps[best] / len(words) >= MIN_OVERLAP:
        return best
    return None
