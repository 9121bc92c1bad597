"""Turn a list of chat messages into the exact prompt text a model was trained on.

The model's own Jinja chat template (``tokenizer.chat_template`` in the GGUF) is rendered in a sandbox,
as Hugging Face tokenizers do. Base models ship no template: then a plain ``User:/Assistant:`` transcript
is used, with the transcript's labels as stop strings, and the result says so (``uses_fallback``) so the
front end can tell the user why answers may be poor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

FALLBACK_NOTICE = (
    "This model has no chat template (it is probably a base model), so Hearth used a plain "
    "'User:/Assistant:' prompt format. Answers may be poor; an instruction-tuned model works better."
)
#: A base model does not stop after its answer: it goes on writing the transcript, a next turn in the labels it
#: sees (``User:``, ``Assistant:``) or the ``Question:`` label a grounded prompt puts before the user's question
#: (``chat.prompt``). With only ``User:``, 58 of 60 grounded answers of Gemma 3 270M (a base model) ran on to the
#: length limit, 29 of them into an invented "Assistant:" turn and 19 into a "Question:"; with these, 29 did
#: and the median answer took 3.7 s instead of 8.2 (``hearth bench answers --model gemma --limit 60``).
QUESTION_LABEL = "Question:"
FALLBACK_STOPS = ("\nUser:", "\nUSER:", "\nAssistant:", f"\n{QUESTION_LABEL}")


@dataclass(frozen=True)
class Message:
    role: str  # system | user | assistant
    content: str


@dataclass(frozen=True)
class FormattedPrompt:
    text: str
    stop: tuple[str, ...]
    uses_fallback: bool


def _raise(message: str) -> None:
    raise TemplateError(message)


class ChatFormatter:
    def __init__(self, template: str | None, bos_token: str | None, eos_token: str | None) -> None:
        self.bos_token, self.eos_token = bos_token or "", eos_token or ""
        self._template = None
        if template:
            env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
            env.globals.update(raise_exception=_raise, strftime_now=lambda fmt: datetime.now().strftime(fmt))
            try:
                self._template = env.from_string(template)
            except TemplateError:
                self._template = None  # unusable template: treat the model like a base model

    @property
    def uses_fallback(self) -> bool:
        return self._template is None

    def format(self, messages: list[Message]) -> FormattedPrompt:
        if self._template is not None:
            try:
                text = self._template.render(
                    messages=[{"role": m.role, "content": m.content} for m in messages],
                    add_generation_prompt=True,
                    bos_token=self.bos_token,
                    eos_token=self.eos_token,
                )
                stop = (self.eos_token,) if self.eos_token else ()
                return FormattedPrompt(text, stop, uses_fallback=False)
            except TemplateError:
                # e.g. templates that reject a system role: fold the system prompt into the first user turn
                if messages and messages[0].role == "system":
                    return self.format(_fold_system(messages))
                raise
        return FormattedPrompt(_fallback(messages), FALLBACK_STOPS + _recital(messages), uses_fallback=True)


#: How much of the system prompt's first line is a stop string in the plain format (see :func:`_recital`).
RECITAL_CHARS = 24


def _recital(messages: list[Message]) -> tuple[str, ...]:
    """The start of the system prompt (to its first punctuation), on a line of its own, as a stop string: a base
    model that has written its answer goes on with what came first in its prompt ("France.\n\nYou are Hearth, a
    helpful assistant …"), often not word for word ("You are Hearth, an assistant …", "You are Hearth: …")."""
    system = next((m.content.strip() for m in messages if m.role == "system" and m.content.strip()), "")
    head = re.split(r"[,.:;!?]", system.splitlines()[0])[0][:RECITAL_CHARS].rstrip() if system else ""
    return (f"\n{head}",) if len(head) >= 8 else ()


def _fold_system(messages: list[Message]) -> list[Message]:
    system, rest = messages[0], list(messages[1:])
    if rest and rest[0].role == "user":
        rest[0] = Message("user", f"{system.content}\n\n{rest[0].content}")
    return rest


def _fallback(messages: list[Message]) -> str:
    parts = []
    for m in messages:
        if m.role == "system":
            parts.append(f"{m.content}\n")
        else:
            parts.append(f"{'User' if m.role == 'user' else 'Assistant'}: {m.content}")
    parts.append("Assistant:")
    return "\n".join(parts)
