"""Which older facts a new fact makes stale ("I moved to Berlin" after "I live in Paris").

mem0's pipeline only adds, so Hearth decides supersession itself, in two steps:

* **Slots** (deterministic): facts that set a single-valued attribute of the user (where they live, their
  name, diet, job, employer, project, preferred answer style, age, a favourite X) are recognised by pattern
  in both third-person ("User lives in...") and first-person ("I moved to...") form. The same slot with a
  different value supersedes; the same value is a duplicate. A 135M model cannot judge this reliably (it
  answers "no conflict" to everything), so this step carries small models.
* **Judge** (the model): for a very similar older fact that no slot settles, the model is asked with a
  grammar-constrained yes/no. Larger models catch contradictions outside the slots this way; a failed or
  malformed verdict counts as "no conflict", because wrongly hiding a true fact is worse than keeping both.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any

from mem0.llms.base import LLMBase

from assistant.memory.errors import ModelOutputError
from assistant.memory.llm import ask_json

log = logging.getLogger(__name__)

_V = r"(?P<v>[\w' .-]+)"
_ME = r"^(?:user|i|we)"  # the fact must be about the user: "my sister lives in Toronto" is not
_NOW = r"(?: just| recently| now| currently| really| also)?"
#: (slot, pattern) in priority order; the first slot that matches wins. Patterns run on lower-case text in
#: which "user's" reads "my".
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((slot, re.compile(p)) for slot, p in (
    ("name", rf"^my name is {_V}"),
    ("name", rf"^(?:user|i)(?: am| is|'m)? (?:called|named) {_V}"),
    ("name", rf"\bcall me {_V}"),
    ("residence", rf"{_ME}(?:'ve| have| has)?{_NOW} (?:live|lives|living|moved|relocated) (?:in|to) {_V}"),
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
))
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
    text = re.sub(r"^user said: \"?", "", text).replace("user's", "my")
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


JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object", "properties": {"replaces": {"type": "boolean"}},
    "required": ["replaces"], "additionalProperties": False,
}
JUDGE_SYSTEM = "Does the new fact make the old fact no longer true? Reply only with JSON."
JUDGE_EXAMPLES = (
    ("User lives in Lyon", "User moved to Madrid", True),
    ("User likes tea", "User likes chess", False),
    ("User has a dog", "User has a cat", False),
    ("User is a student", "User graduated and now works full time", True),
)


def _parse_replaces(value: Any) -> bool:
    if not isinstance(value["replaces"], bool):
        raise TypeError("'replaces' must be true or false")
    return value["replaces"]


def _judge_messages(old: str, new: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": JUDGE_SYSTEM}]
    for o, n, r in JUDGE_EXAMPLES:
        messages += [{"role": "user", "content": f"Old fact: {o}\nNew fact: {n}"},
                     {"role": "assistant", "content": json.dumps({"replaces": r})}]
    return [*messages, {"role": "user", "content": f"Old fact: {old}\nNew fact: {new}"}]


def judge(llm: LLMBase | None, new: str, olds: list[Candidate], cancel: threading.Event | None) -> Verdict:
    """Decide what ``new`` does to the older active facts ``olds``.

    With ``llm`` None only the rules run (a fact the user types in needs no model).
    """
    new_slot = slot_of(new)
    for old in olds:
        if old.cosine >= DUPLICATE_COSINE or old.text.lower() == new.lower():
            return Verdict(duplicate_of=old.id, supersedes=())
    replaced: list[str] = []
    for old in olds:
        old_slot = slot_of(old.text)
        if new_slot and old_slot:
            if new_slot.name != old_slot.name:
                continue
            if new_slot.value == old_slot.value:
                return Verdict(duplicate_of=old.id, supersedes=())
            replaced.append(old.id)
        elif llm is not None and old.cosine >= JUDGE_COSINE:
            try:
                if ask_json(llm, _judge_messages(old.text, new), JUDGE_SCHEMA, _parse_replaces, cancel):
                    replaced.append(old.id)
            except ModelOutputError as exc:
                log.warning("memory: no verdict on %r vs %r, keeping both (%s)", old.text, new, exc)
    return Verdict(duplicate_of=None, supersedes=tuple(replaced))
