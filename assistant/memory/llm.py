"""mem0's LLM interface over Hearth's in-process engine, and yes/no questions a tiny model cannot garble.

mem0 talks to its LLM through ``LLMBase.generate_response``. :class:`HearthLLM` implements that on the
llama.cpp engine directly (no HTTP server in between) and turns an OpenAI-style ``response_format`` into
a GBNF grammar. Hearth's own memory steps do not generate text at all: ``yes_probability`` reads p(yes)
from the next-token log-probabilities after a few-shot prompt, one forward pass with the prompt prefix
reused, so even a 135M model always gives a usable answer (a number to threshold, nothing to parse).
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any, TypeVar

from mem0.configs.llms.base import BaseLlmConfig
from mem0.llms.base import LLMBase

from assistant.engine import GREEDY, Engine, Message, SamplingParams
from assistant.engine.sampling import json_grammar
from assistant.events import Done
from assistant.memory.errors import MemoryJobCancelled

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Any JSON object: what ``{"type": "json_object"}`` (mem0's own calls) is constrained to.
_ANY_OBJECT: dict[str, Any] = {"type": "object"}


def _schema_of(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    """The JSON schema an OpenAI-style ``response_format`` asks for (None: free text)."""
    if not response_format:
        return None
    kind = response_format.get("type")
    if kind == "json_schema":
        return response_format["json_schema"]["schema"]
    if kind == "json_object":
        return _ANY_OBJECT
    return None


class HearthLLM(LLMBase):
    """Registered with mem0 as the ``hearth`` provider; ``config.model`` carries the engine (the in-process
    :class:`Engine`, or a :class:`~assistant.engine.remote.RemoteEngine`: ``json_grammar`` carries the schema
    a remote server is given instead of the grammar).

    Extra keyword arguments Hearth passes (mem0 never does): ``sampling`` and ``cancel`` (a
    ``threading.Event`` that stops generation when the engine is needed for an answer).
    """

    def __init__(self, config: BaseLlmConfig | dict | None = None) -> None:
        super().__init__(config)
        # duck-typed like every engine user: the local Engine, a RemoteEngine, or the facade's ActiveEngine
        if not all(callable(getattr(self.config.model, name, None))
                   for name in ("render", "generate", "next_token_logprobs", "tokenize")):
            raise ValueError("the hearth LLM provider needs the engine as config.model")
        self.engine: Engine = self.config.model

    def generate_response(
        self,
        messages: list[dict[str, str]],
        response_format: dict[str, Any] | None = None,
        tools: list[dict] | None = None,
        tool_choice: str = "auto",
        **kwargs: Any,
    ) -> str:
        if tools:
            raise ValueError("Hearth's local LLM provider does not do tool calls")
        schema = _schema_of(response_format)
        sampling: SamplingParams = kwargs.get("sampling", GREEDY)
        cancel: threading.Event | None = kwargs.get("cancel")
        prompt, tokens = self.engine.render([Message(m["role"], m["content"]) for m in messages])
        done: Done | None = None
        for event in self.engine.generate(tokens, sampling, self.config.max_tokens, cancel, prompt.stop,
                                          json_grammar(schema) if schema is not None else None):
            if isinstance(event, Done):
                done = event
        if done is None or done.stats.stop_reason == "cancelled":
            raise MemoryJobCancelled("Memory work was interrupted so the engine could answer.")
        return done.text

    def yes_probability(self, messages: list[dict[str, str]], cancel: threading.Event | None = None) -> float:
        """p("yes") against p("no") as the first token of the reply to ``messages`` (either capitalisation).

        Raises MemoryJobCancelled when ``cancel`` stopped the forward pass.
        """
        _prompt, tokens = self.engine.render([Message(m["role"], m["content"]) for m in messages])
        yes, no = self._answer_tokens()
        logprobs = self.engine.next_token_logprobs(tokens, [*yes, *no], cancel)
        if logprobs is None:
            raise MemoryJobCancelled("Memory work was interrupted so the engine could answer.")
        p = [math.exp(v) for v in logprobs]
        p_yes, p_no = sum(p[:len(yes)]), sum(p[len(yes):])
        return p_yes / (p_yes + p_no) if p_yes + p_no > 0 else 0.0

    def _answer_tokens(self) -> tuple[list[int], list[int]]:
        """The first token of each spelling of "yes" and of "no" in this model's vocabulary."""
        def first(words: tuple[str, ...]) -> list[int]:
            return sorted({self.engine.tokenize(w)[0] for w in words})

        return first(("yes", "Yes")), first(("no", "No"))
