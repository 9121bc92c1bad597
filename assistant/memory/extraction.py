"""Turn what the user said into short facts about them, robustly, with a model as small as 135M parameters.

mem0's own extraction prompt is ~8k tokens, far beyond small local models, so Hearth asks its own short,
few-shot, grammar-constrained question (mem0 then stores the facts with ``infer=False``). Three guards keep
a weak model from polluting memory:

* only first-person statements are sent (questions and chit-chat have nothing to remember, and never
  reach the model: it would invent "facts" from them);
* the reply must be JSON of a fixed shape (grammar + validation + one retry, see :func:`llm.ask_json`);
* every fact must be grounded: most of its content words must occur in what the user said. A fact the
  model made up is dropped; if nothing grounded is left, or the facts lost a name or number the user
  gave ("my dog is called Biscuit" -> "User has a dog"), the user's own statement is kept verbatim.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from mem0.llms.base import LLMBase

from assistant.memory.llm import ask_json

MAX_FACTS = 4
MAX_FACT_CHARS = 120
#: Longest user text looked at: a pasted document is not a statement about the user.
MAX_SOURCE_CHARS = 1200

FACTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"facts": {"type": "array", "maxItems": MAX_FACTS,
                             "items": {"type": "string", "minLength": 3, "maxLength": MAX_FACT_CHARS}}},
    "required": ["facts"],
    "additionalProperties": False,
}

SYSTEM = "Rewrite what the user says about themselves as short facts about the user. Reply only with JSON."
EXAMPLES = (
    ("I'm vegetarian and I live in Lyon.", ["User is vegetarian", "User lives in Lyon"]),
    ("My name is Sam and my project is called Orion.", ["User's name is Sam", "User's project is called Orion"]),
    ("My son Leo is 5.", ["User has a son Leo who is 5"]),
)

_FIRST_PERSON = re.compile(r"\b(i|i'm|im|i've|i'd|i'll|me|my|mine|myself|we|we're|our|ours|call me|remember)\b",
                           re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_CLAUSE = re.compile(r"\s*[,;:]\s*|\s+-+\s+")
_QUESTION_START = re.compile(r"^(what|who|where|when|why|how|which|can|could|would|will|should|do|does|did|is|are|"
                             r"tell|give|show|help|please|suggest|recommend|write|explain)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")
#: Words a rewritten fact may add without being "made up" (the model rephrases, it does not invent).
_GLUE = frozenset(
    "user users s is are was were am be been being has have had a an the of in at to on for with and or but "
    "who which that as by from their they them his her its it this these those likes like loves love prefers "
    "prefer preferred lives live living works work working called named name wants want enjoys enjoy does do "
    "not no now currently years year old very really also".split()
)


def candidates(user_text: str) -> list[str]:
    """The first-person statements in ``user_text`` (clauses of a question sentence count, questions do not)."""
    found: list[str] = []
    for sentence in _SENTENCE.split(user_text[:MAX_SOURCE_CHARS]):
        sentence = sentence.strip()
        clauses = _CLAUSE.split(sentence) if sentence.endswith("?") else [sentence]
        if sentence.endswith("?"):
            clauses = clauses[:-1]  # the question itself
        found += [c.strip(" .!") for c in clauses
                  if c and _FIRST_PERSON.search(c) and not _QUESTION_START.match(c) and len(c.split()) >= 2]
    return found


def _stems(text: str) -> set[str]:
    return {w[:5] for w in _WORD.findall(text.lower().replace("'s", ""))}


def grounded(fact: str, source: str) -> bool:
    """At least two thirds of the fact's content words (by 5-letter stem) occur in the user's words."""
    content = [w for w in _WORD.findall(fact.lower().replace("'s", "")) if w not in _GLUE]
    if not content:
        return False
    have = _stems(source)
    hits = sum(w[:5] in have for w in content)
    return 3 * hits >= 2 * len(content)


def _names_and_numbers(text: str) -> set[str]:
    """Capitalised words (not sentence-initial) and numbers: the details a small model tends to drop."""
    words = re.findall(r"[\w']+", text)
    return {w.lower() for i, w in enumerate(words)
            if any(c.isdigit() for c in w) or (i > 0 and w[0].isupper() and w not in ("I", "I'm", "I've"))}


def verbatim(statement: str) -> str:
    return f'User said: "{statement[:MAX_FACT_CHARS]}"'


def _parse_facts(value: Any) -> list[str]:
    facts = value["facts"]
    if not isinstance(facts, list) or not all(isinstance(f, str) for f in facts):
        raise TypeError("'facts' must be a list of strings")
    return [" ".join(f.split()).rstrip(".") for f in facts if f.strip()]


def _messages(statements: list[str]) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": SYSTEM}]
    for said, facts in EXAMPLES:
        messages += [{"role": "user", "content": said}, {"role": "assistant", "content": json.dumps({"facts": facts})}]
    return [*messages, {"role": "user", "content": " ".join(s if s[-1] in ".!" else s + "." for s in statements)}]


def extract_facts(llm: LLMBase, user_text: str, cancel: threading.Event | None = None) -> list[str]:
    """Facts about the user in ``user_text``; [] when it states none. Raises ModelOutputError, MemoryJobCancelled."""
    statements = candidates(user_text)
    if not statements:
        return []
    source = " ".join(statements)
    facts = ask_json(llm, _messages(statements), FACTS_SCHEMA, _parse_facts, cancel)
    kept: list[str] = []
    for fact in facts:
        if grounded(fact, source) and fact.lower() not in {k.lower() for k in kept}:
            kept.append(fact)
    covered = set(re.findall(r"[\w']+", " ".join(kept).lower()))
    lost = [s for s in statements if not _names_and_numbers(s) <= covered]
    return (kept + [verbatim(s) for s in lost])[:MAX_FACTS] if kept else [verbatim(s) for s in statements[:MAX_FACTS]]
