"""One chat turn as the GUI runs it on the generation thread (plain Python: no Qt, testable alone).

Why a wrapper around ``Assistant.ask``: regenerate and edit-and-resend first cut the history at the turn
they replace, and after the core's events the GUI needs the ids the turn was stored under (for feedback,
regenerate and edit); :class:`TurnSaved` carries them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from assistant.events import Done


@dataclass(frozen=True)
class TurnRequest:
    text: str
    conversation_id: str | None = None
    replace_from: str | None = None  # a user message id: it and everything after it are replaced
    collections: tuple[str, ...] = ()
    use_memory: bool = True


@dataclass(frozen=True)
class TurnSaved:
    conversation_id: str
    user_message_id: str
    answer_message_id: str


def run_turn(assistant: Any, request: TurnRequest, cancel: threading.Event) -> Iterator[Any]:
    """Yield the core's events for ``request``, then one :class:`TurnSaved` if the turn was stored."""
    if request.replace_from is not None:
        assistant.history.delete_messages_from(request.replace_from)
    response = assistant.ask(request.text, request.conversation_id, cancel=cancel,
                             collections=request.collections, use_memory=request.use_memory)
    conversation_id = request.conversation_id
    for event in response:
        if isinstance(event, Done) and event.conversation_id:
            conversation_id = event.conversation_id
        yield event
    if conversation_id is None:
        return
    messages = assistant.history.messages(conversation_id)
    if len(messages) >= 2 and messages[-2].role == "user" and messages[-1].role == "assistant":
        yield TurnSaved(conversation_id, messages[-2].id, messages[-1].id)
