"""Which older facts a new fact makes stale ("I moved to Berlin" after "I live in Paris").

mem0's pipeline only adds, so Hearth decides supersession itself, in three steps:

* **Slots** (deterministic): facts that set a single-valued attribute of the user (where they live, their
  name, diet, job, employer, project, preferred answer style, age, a favourite X, the name of their partner,
  boss or, in a message that corrects, their dog) are recognised by pattern
  in both third-person ("User lives in...") and first-person ("I moved to...") form. The same slot with a
  different value supersedes; the same value is a duplicate. A 135M model cannot judge this reliably (it
  answers "no conflict" to everything), so this step carries small models.
* **Retractions** (deterministic): a correction often never restates the old slot ("New manager as of
  today: Oleksandr. Priya left.", "hes 10 not 9"); a detail of an older fact that the user takes back
  ("Priya left", "not 9", "quillfeather is history") supersedes that fact (:func:`retracts`).
* **Judge** (the model): for a very similar older fact that no rule settles, the model is asked a yes/no
  question, read as p(yes) from one forward pass. Larger models catch contradictions outside the rules this
  way; it takes p(yes) >= 0.8 and a failed step counts as "no", because wrongly hiding a true fact is worse
  than keeping both.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.memory.extraction import Decider

from assistant.errors import ContextOverflowError, GenerationError

log = logging.getLogger(__name__)

_V = r"(?P<v>[\w' .-]+)"
_ME = r"^(?:user|i|we)"  # the fact must be about the user: "my sister lives in Toronto" is not
_NOW = r"(?: just| recently| now| currently| really| also| actually)?"
#: (slot, pattern) in priority order; the first slot that matches wins. Patterns run on lower-case text in
#: which "user's" reads "my".
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((slot, re.compile(p)) for slot, p in (
    ("name", rf"^my name is {_V}"),
    ("name", rf"^(?:user|i)(?: am| is|'m)? (?:called|named) {_V}"),
    ("name", rf"\bcall me {_V}"),
    ("residence", rf"{_ME}(?:'ve| have| has)?{_NOW} (?:live|lives|living|moved|relocated) (?:in|to) {_V}"),
    # "I moved from Berlin to Lisbon" (it left "User lives in Berlin" in use: the place after "from" matched none)
    ("residence", rf"{_ME}(?:'ve| have| has)?{_NOW} (?:moved|relocated) (?:away )?from [\w' .-]+? to {_V}"),
    ("residence", rf"{_ME}(?: am| is|'m| are){_NOW} (?:based|settled|living) in {_V}"),
    ("residence", rf"^my home(?:town| city)? is (?:in )?{_V}"),
    ("diet", rf"{_ME}(?: am| is|'m| are)? (?P<v>(?:no longer|not) (?:a )?(?:vegetarian|vegan|pescatarian))"),
    ("diet", rf"{_ME}(?: am| is|'m| are| have| has)?{_NOW}(?: become| became| gone| went| turned)? (?:a |fully )?"
             r"(?P<v>vegetarian|vegan|pescatarian)\b"),
    ("diet", rf"{_ME}{_NOW} eats? (?P<v>meat|everything)\b"),
    ("employer", rf"{_ME}{_NOW} works? (?:at|for) {_V}"),
    ("job", rf"{_ME}{_NOW} works? as (?:an? )?{_V}"),
    ("job", rf"^my (?:job|profession|occupation) is (?:an? )?{_V}"),
    ("project", rf"^my (?:main |current )?project is (?:called |named )?{_V}"),
    ("project", rf"{_ME}(?: am| is|'m| are) working on (?:a project |something )?(?:called|named) {_V}"),
    ("answer_style", rf"{_ME}{_NOW} prefers? (?P<v>[\w -]+?) (?:answers|responses|replies|explanations)\b"),
    ("age", r"^(?:user|i)(?: is|'m| am) (?P<v>\d{1,3})(?: years old)?$"),
    ("favourite", r"^my favou?rite (?P<k>\w+) is (?P<v>[\w' .-]+)"),
    ("called", rf"^my (?P<k>\w+) is (?:called|named) {_V}"),
    ("called", rf"^my (?P<k>\w+)'s name is {_V}"),
))
#: Relations a person has one of at a time: a new name for one replaces the old ("my boss is called Ana" after
#: "... Priya"). Of the others (a dog, a son, a friend) the user may have several: a new name replaces an old
#: one only in a message that corrects ("Actually my dog is called Pretzel"); else both stay.
ONE_AT_A_TIME = frozenset("husband wife partner spouse boyfriend girlfriend fiance fiancé fiancee fiancée boss "
                          "manager mother father mum mom mam dad landlord".split())
#: Trailing words that date a value rather than change it ("Berlin last month" is "berlin").
_VALUE_END = re.compile(r"\s+(?:and|but|since|because|for|from|with|last|this|next|now|recently|today|these|"
                        r"a few|two|three|several|about|around|already|again)\b.*$")

#: Slots whose facts are put in every prompt (a few always-on profile facts).
PROFILE_SLOTS = ("name", "residence", "diet", "answer_style")


@dataclass(frozen=True)
class Slot:
    name: str
    value: str


def slot_of(fact: str) -> Slot | None:
    """The single-valued attribute ``fact`` sets, if any (e.g. ``Slot("residence", "berlin")``)."""
    text = " ".join(fact.lower().replace("\u2019", "'").split()).strip(" .!\"")
    # "Now I live in Lisbon." was learned as "User noted: Now User lives in Lisbon" (such facts stay stored): what
    # it sets is read past the note and a word that only dates it (it left "User lives in Berlin" in use)
    text = re.sub(r"^user (?:said|noted): \"?", "", text).replace("user's", "my")
    text = re.sub(r"^(?:now|currently|nowadays|these days|today|actually|so),? ", "", text)
    for name, pattern in _PATTERNS:
        m = pattern.search(text)
        if m:
            value = _VALUE_END.sub("", m.group("v")).strip(" .'")
            key = f"{name}:{m.group('k')}" if "k" in pattern.groupindex else name
            return Slot(key, value) if value else None
    return None


#: Cosine similarity above which two facts say the same thing (mem0 itself only dedups exact hashes).
DUPLICATE_COSINE = 0.93
#: Cosine similarity above which the model is asked whether an older fact is contradicted.
JUDGE_COSINE = 0.6


@dataclass(frozen=True)
class Candidate:
    """An active older fact to check a new one against: same slot, or similar by embedding."""

    id: str
    text: str
    cosine: float


@dataclass(frozen=True)
class Verdict:
    duplicate_of: str | None  # the older fact that already says this (then nothing is stored)
    supersedes: tuple[str, ...]  # ids of older facts the new one replaces


#: p(yes) the judge needs to hide an older fact: wrongly hiding a true fact is worse than keeping both.
JUDGE_THRESHOLD = 0.8
JUDGE_SYSTEM = "Does the new fact make the old fact no longer true? Answer yes or no."
JUDGE_EXAMPLES = (
    ("User lives in Lyon", "User moved to Madrid", "yes"),
    ("User likes tea", "User likes chess", "no"),
    ("User has a dog", "User has a cat", "no"),
    ("User is a student", "User graduated and now works full time", "yes"),
)


def _judge_messages(old: str, new: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": JUDGE_SYSTEM}]
    for o, n, r in JUDGE_EXAMPLES:
        messages += [{"role": "user", "content": f"Old fact: {o}\nNew fact: {n}"}, {"role": "assistant", "content": r}]
    return [*messages, {"role": "user", "content": f"Old fact: {old}\nNew fact: {new}"}]


def _details(fact: str) -> set[str]:
    """Numbers and names: two facts that differ in one ("is 9" / "is 10") never say the same thing."""
    words = re.findall(r"[\w'.]+", fact)
    return {w.lower().strip(".") for i, w in enumerate(words)
            if any(c.isdigit() for c in w) or (i > 0 and w[0].isupper() and w != "User's")}


_GLUE = frozenset("user user's users is are was were am be been has have had a an the of in at to on for with and "
                  "or but who which that as by from it its this now noted wants called named not no".split())
#: A word taken back: "not", "never", "no longer", "left", "quit" ... before it (up to two words between, which say
#: nothing new, and a preposition: "quit my job at Rabobank"), or "is history", "left", "died" after it.
_RETRACT_BEFORE = (r"(?:not|\w+n't|never|no longer|(?P<end>left|leaving|quit)|no more|not more in|instead of|"
                   r"(?P<move>moved from|moved out of|moved (?:to|over to) [\w' -]+? from))"
                   r"\s+(?P<gap>(?:[\w']+\s+){0,2}(?:(?:at|in|from|with|for|as|of|to)\s+)?)")
#: Where and when a move went, after the place it left: "moved from Lisbon to Porto in May" takes Lisbon back, but
#: not a move for a while ("to Porto for a week of work").
_MOVE_TAIL = re.compile(r"^(?!.*\b(?:for (?:a|an|the|one|two|three|some|few|work)|temporarily|visit|trip|holiday|"
                        r"vacation)\b)(?:\s+(?:over\s+)?to\s+[\w' -]+?)?"
                        r"(?:\s+(?:in|last|this|back in)\s+\w+(?:\s+\d{4})?)?$")
#: The content words of a fact about where one lives (what a move ends).
_RESIDENCE = r"liv|resid|based|home|stay"
#: The content words of a fact no leaving ends: where one was born or grew up ("I left Lisbon" ended "User was
#: born in Lisbon" in part).
_ORIGIN = r"born|grew|raised|native"
_RETRACT_AFTER = (r"\s+(?:(?:is|was)\s+)?(?:history|over|gone|done|past|dead)"
                  r"(?:\s+(?:lol|haha|now|anyway|already))*\s*$|"
                  r"\s+left(?:\s+(?:the\s+)?(?:company|job|team|firm|for good))?\s*$|"
                  r"\s+(?:died|passed away|moved (?:away|out))\b|"
                  r"\s+(?:go(?:es)?|went|moved|switched) to (?:an?other|other|a different|a new)\b")
_NEGATION = re.compile(r"\b(?:not|never|no longer|no more|anymore)\b|n't\b")
_CLAUSE_END = r"[.,;:!?]| but | and "
#: Words that may stand before a denial without making it someone else's ("Actually I'm not ..."), between it and
#: the word it denies ("left my job at"), or after that word ("... anymore"): they say nothing of their own.
#: (Not "she", "he" or "they": "She's not allergic to peanuts" is someone else's denial; a "she" the turn's new
#: fact names, "User's sister Ana doesn't live in Porto", is read in that fact. Not "just": "not just allergic to
#: peanuts" adds; nor "today": "not teaching today" is for a day.)
_SAYS_NOTHING = frozenset("i'm i've i'd i'll im ive user also really actually still honestly definitely sadly "
                          "unfortunately anymore now okay update sorry well yeah yes correction wait turns out fact "
                          "though anyway guess any longer more again either all since ever lately recently yet job "
                          "work position said say told tell mentioned".split())


def _content(fact: str) -> list[str]:
    words = (w.strip(".") for w in re.findall(r"[\w'.]+", fact.lower()))
    return [w for w in words if w not in _GLUE and (len(w) >= 3 or w.isdigit())]


def _pattern(word: str) -> str:
    """A word and its inflections ("teaches" ~ "teaching", "eats" ~ "eat") as a regex."""
    if word.isalpha() and len(word) > 4:
        stem = word[:min(5, len(word) - 1)]
        if stem.endswith("e"):  # "lives" ~ "living", "dances" ~ "dancing"
            return re.escape(stem[:-1]) + r"(?:e\w*|ing\w*)"
        return re.escape(stem) + r"\w*"
    if word.isalpha() and len(word) == 4 and word.endswith("s"):
        return re.escape(word[:-1]) + r"\w*"
    return re.escape(word)


def retraction(said: str, old_fact: str) -> str | None:
    """Whether the user takes back a detail of ``old_fact`` ("Priya left", "quillfeather is history", "10 not 9",
    "I left teaching", "not more in Rabobank"): None if not, "all" if everything else the old fact says is
    said again in ``said`` (the user's words and the turn's new facts), else "part".

    A correction often never restates the old slot, so this is what supersedes a fact no slot covers,
    without asking a small model. A fact with more in it than the correction touches ("Lúcia is 6 and obsessed
    with dinosaurs" after "she is 7 not 6") is only "part" retracted: hiding the rest would lose a true fact,
    so it stays, ranked below the fact that corrects it. A denial takes a word back only as the old fact says
    it: not someone else's ("My son isn't allergic to peanuts", "My wife doesn't work at Google"), not of
    something more or else ("I don't like green tea", "not allergic to peanut butter cookies", "never lived
    outside Lisbon"), not asked ("Am I not allergic to peanuts?"): each retired a true fact.
    """
    text = " ".join(_stated(said).lower().replace("\u2019", "'").split())
    content = _content(old_fact)
    clauses = re.split(_CLAUSE_END, text)
    owner = _owner(old_fact)
    for word in content:
        if any(_takes_back(clause, word, content, owner) for clause in clauses):
            rest = [other for other in content if other != word and other not in _name_of(old_fact, word)]
            return "all" if all(re.search(rf"\b{_pattern(other)}\b", text) for other in rest) else "part"
    return None


def _name_of(fact: str, word: str) -> set[str]:
    """The name ``fact`` gives the thing ``word`` is ("User has a dog called Biscuit": biscuit, for dog): a denial
    of the dog takes its name back with it ("I don't have a dog anymore" left "… called Biscuit" in use)."""
    m = re.search(rf"\b{_pattern(word)}\s+(?:called|named)\s+([\w'-]+)", fact.lower())
    return {m.group(1)} if m else set()


def _stated(text: str) -> str:
    """``text`` without its questions: "Am I not allergic to peanuts?" takes nothing back."""
    return " ".join(s for s in re.split(r"(?<=[.!?])\s+", text) if not s.rstrip().endswith("?"))


def _owner(fact: str) -> set[str]:
    """Whom a fact about someone else is of ("User's sister Ana lives in Porto": sister, ana); empty for the
    user's own."""
    m = re.match(r"(?i:user's)\s+(\w+)(?:\s+([A-Z][\w-]*))?", fact)
    return {g.lower() for g in m.groups() if g} if m else set()


def _takes_back(clause: str, word: str, content: list[str], owner: set[str]) -> bool:
    """Whether ``clause`` takes ``word`` of a fact whose content words are ``content`` back; a fact of someone
    else's (``owner``) only where the clause names them: "I'm not living in Lisbon" ended "User's mother lives in
    Lisbon" in part, "I never said I'm allergic" the son's allergy."""
    w = _pattern(word)
    for ended in re.finditer(rf"\b{w}\b(?:{_RETRACT_AFTER})", clause):
        if _said_of(clause[:ended.start()], content):  # "Priya left", "Miso died": not "Ana's cat died"
            return True
    for m in re.finditer(rf"\b{_RETRACT_BEFORE}{w}\b", clause):
        if owner and not owner & set(re.findall(r"\w+", clause[:m.start()])):
            continue
        if m.group("move") and not any(re.match(_RESIDENCE, c) for c in content):
            continue  # a move ends where one lives, not where one was born or works, nor what one loves
        if (m.group("move") or m.group("end")) and any(re.match(_ORIGIN, c) for c in content):
            continue
        # "10 not 9": a number corrected, if of whom the old fact is ("my daughter is 10 not 9" is not the user)
        after = "" if m.group("move") and _MOVE_TAIL.match(clause[m.end():]) else clause[m.end():]
        parts = (clause[:m.start()],) if word.isdigit() else (clause[:m.start()], m.group("gap"), after)
        if all(_said_of(part, content) for part in parts):
            return True
    return False


def _said_of(words: str, content: list[str]) -> bool:
    """Whether ``words`` add nothing to the old fact: its own words, and words that say nothing of their own."""
    return all(w in _SAYS_NOTHING or w.isdigit() or any(re.fullmatch(_pattern(c), w) for c in content)
               for w in _content(words))


def negated(fact: str) -> bool:
    """Whether ``fact`` says "not" ("User is not allergic to peanuts"): never a duplicate of the fact it denies."""
    return bool(_NEGATION.search(fact.lower().replace("\u2019", "'")))


def judge(llm: Decider | None, new: str, olds: list[Candidate], cancel: threading.Event | None,
          correcting: bool = False) -> Verdict:
    """Decide what ``new`` does to the older active facts ``olds``.

    With ``llm`` None only the rules run (a fact the user types in needs no model). ``correcting``: the message
    it comes from corrects something ("actually", "now", "not ..."): a new name for a dog or a son then replaces
    the old one (see :data:`ONE_AT_A_TIME`); "Actually my dog is called Pretzel" left "Biscuit" in use beside it.
    """
    new_slot = slot_of(new)
    for old in olds:
        if old.text.lower() == new.lower() or (old.cosine >= DUPLICATE_COSINE and _details(old.text) == _details(new)
                                               and negated(old.text) == negated(new)):
            return Verdict(duplicate_of=old.id, supersedes=())
    replaced: list[str] = []
    for old in olds:
        old_slot = slot_of(old.text)
        if new_slot and old_slot:
            if new_slot.name != old_slot.name:
                continue
            if new_slot.value == old_slot.value:
                return Verdict(duplicate_of=old.id, supersedes=())
            several = new_slot.name.startswith("called:") and new_slot.name[7:] not in ONE_AT_A_TIME
            if not several or correcting:
                replaced.append(old.id)
        elif llm is not None and old.cosine >= JUDGE_COSINE:
            try:
                if llm.yes_probability(_judge_messages(old.text, new), cancel) >= JUDGE_THRESHOLD:
                    replaced.append(old.id)
            except (GenerationError, ContextOverflowError) as exc:
                log.warning("memory: no verdict on %r vs %r, keeping both (%s)", old.text, new, exc)
    return Verdict(duplicate_of=None, supersedes=tuple(replaced))
