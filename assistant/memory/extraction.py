"""Decide which statements in a user's message are lasting facts about them: the model's call, one yes/no each.

:mod:`statements` cuts the message into clauses already said about the user ("User's dog is called
Biscuit", "User noted: this time give User the full working"). For each, the model answers one short,
few-shot yes/no question: *is this a lasting fact about the user, worth remembering?* The answer is read
as a probability from the next-token log-probabilities of "yes" and "no" (one forward pass, no sampling,
nothing to parse, so a 135M model cannot answer malformed), and a statement is kept when
``p(yes) >= threshold``. The threshold is lower when the user asked for something to be remembered. A
model that cannot score (an LLM behind an API) answers through a one-word grammar instead.

Why not let the model write the facts (what mem0 does, and what Hearth did first): a small model rewriting
"My manager is called Priya" produced "User is Priya"; kept details were lost ("my dog is called Biscuit"
-> "User has a dog"). Here the model only decides; the fact is always the user's own words.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from assistant.memory.errors import MemoryJobCancelled
from assistant.memory.statements import Statement, statements

#: p(yes) a statement needs to be kept; tuned on the dev half of bench/data/memory_conversations.json.
THRESHOLD = 0.15
#: ... when the user asked for it to be remembered ("note to self: ...", "don't forget ...").
EXPLICIT_THRESHOLD = 0.05

SYSTEM = ("You decide what an assistant should remember about its user. Answer yes if the statement is a "
          "lasting fact about the user or their life (family, pets, home, work, health, dates, plans, "
          "likes, how they want answers). Answer no for requests about this one answer, thanks, opinions "
          "about the answer, feelings of the moment, and anything not about the user.")
EXAMPLES = (
    ("User is allergic to peanuts", "yes"),
    ("User would like a recipe for tonight", "no"),
    ("User's daughter Mia is 7", "yes"),
    ("User noted: thanks, that helped a lot", "no"),
    ("User works as a nurse at St Mary's", "yes"),
    ("User noted: make it a bit shorter", "no"),
    ("User wants: answers in Spanish from now on", "yes"),
    ("User has a question about the weather", "no"),
    ("User noted: car service on 3 May", "yes"),
    ("User thinks that answer was great", "no"),
    ("User moved to Lyon last year", "yes"),
    ("User noted: this time use a table", "no"),
)


class Decider(Protocol):
    """What extraction needs from a model: p(yes) after a chat prompt (see ``HearthLLM.yes_probability``)."""

    def yes_probability(self, messages: list[dict[str, str]], cancel: threading.Event | None = None) -> float: ...


@dataclass(frozen=True)
class Decision:
    statement: Statement
    p_yes: float

    @property
    def keep(self) -> bool:
        return self.p_yes >= (EXPLICIT_THRESHOLD if self.statement.explicit else THRESHOLD)


def messages_for(fact: str) -> list[dict[str, str]]:
    """The few-shot prompt; every statement shares its prefix, so the engine evaluates that once."""
    messages = [{"role": "system", "content": SYSTEM}]
    for said, answer in EXAMPLES:
        messages += [{"role": "user", "content": said}, {"role": "assistant", "content": answer}]
    return [*messages, {"role": "user", "content": fact}]


def decide(model: Decider, user_text: str, context: str = "", known: Sequence[str] = (),
           cancel: threading.Event | None = None) -> list[Decision]:
    """Every candidate statement in ``user_text`` with the model's p(yes) (``context`` and ``known``: see
    :func:`statements.statements`). Raises MemoryJobCancelled."""
    decisions = []
    for statement in statements(user_text, context, known):
        if cancel is not None and cancel.is_set():
            raise MemoryJobCancelled("Memory work was interrupted so the engine could answer.")
        p = model.yes_probability(messages_for(statement.fact), cancel)
        if math.isnan(p):
            raise MemoryJobCancelled("Memory work was interrupted so the engine could answer.")
        decisions.append(Decision(statement, p))
    return decisions


def extract_facts(model: Decider, user_text: str, context: str = "", known: Sequence[str] = (),
                  cancel: threading.Event | None = None) -> list[str]:
    """The lasting facts about the user in ``user_text`` (third person, the user's details exact); [] if none."""
    kept: list[str] = []
    for d in decide(model, user_text, context, known, cancel):
        if d.keep and d.statement.fact.lower() not in {k.lower() for k in kept}:
            kept.append(d.statement.fact)
    return kept  # as many as the message holds: a cap of 6 dropped the 7th and 8th (an allergy), unsaid
