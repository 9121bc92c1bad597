"""mem0's LLM interface over Hearth's in-process engine, and JSON calls that cannot come back malformed.

mem0 talks to its LLM through ``LLMBase.generate_response``. :class:`HearthLLM` implements that on the
llama.cpp engine directly (no HTTP server in between) and turns an OpenAI-style ``response_format`` into
a GBNF grammar, so a 135M-parameter model still emits syntactically valid JSON. :func:`ask_json` adds the
other half of robustness: parse and validate, retry once with a little temperature (greedy would repeat
the same output), and raise :class:`ModelOutputError` instead of returning garbage.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from mem0.configs.llms.base import BaseLlmConfig
from mem0.llms.base import LLMBase

from assistant.engine import GREEDY, Engine, Message, SamplingParams
from assistant.engine.sampling import json_grammar
from assistant.events import Done
from assistant.memory.errors import MemoryJobCancelled, ModelOutputError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Any JSON object: what ``{"type": "json_object"}`` (mem0's own calls) is constrained to.
_ANY_OBJECT: dict[str, Any] = {"type": "object"}
#: The retry samples instead of repeating the greedy answer that just failed.
RETRY_SAMPLING = SamplingParams(temperature=0.4, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0, seed=7)


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


def json_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "hearth", "schema": schema}}


class HearthLLM(LLMBase):
    """Registered with mem0 as the ``hearth`` provider; ``config.model`` carries the :class:`Engine`.

    Extra keyword arguments Hearth passes (mem0 never does): ``sampling`` and ``cancel`` (a
    ``threading.Event`` that stops generation when the engine is needed for an answer).
    """

    def __init__(self, config: BaseLlmConfig | dict | None = None) -> None:
        super().__init__(config)
        if not isinstance(self.config.model, Engine):
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


def ask_json(
    llm: LLMBase,
    messages: list[dict[str, str]],
    schema: dict[str, Any],
    parse: Callable[[Any], T],
    cancel: threading.Event | None = None,
) -> T:
    """Ask for JSON matching ``schema``; ``parse`` turns it into a value or raises ValueError/KeyError/TypeError.

    Two attempts (greedy, then sampled). Cancellation propagates; anything else the model does wrong ends
    as :class:`ModelOutputError`, never as an exception from deep inside a parser.
    """
    problems: list[str] = []
    for sampling in (GREEDY, RETRY_SAMPLING):
        text = llm.generate_response(messages, response_format=json_format(schema), sampling=sampling,
                                     cancel=cancel)
        try:
            return parse(json.loads(text))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            problems.append(f"{type(exc).__name__}: {exc} in {text[:200]!r}")
            log.warning("memory: the model's JSON was unusable (%s)", problems[-1])
    raise ModelOutputError("The model gave no valid JSON twice: " + "; ".join(problems))
