"""``POST /v1/responses``, ``GET`` and ``DELETE /v1/responses/{id}``: OpenAI's Responses API (what
``client.responses.create``, the Agents SDK and Codex send) over the facade's ``chat``.

A response is stateless, as a chat completion without ``conversation_id`` is: ``input`` (and ``instructions``)
is what the model sees, and no chat is saved in the history. What makes ``previous_response_id`` work is that
the responses (``store``, true by default, as OpenAI's) are kept with the conversation they end, so a follow-up
sends only its new message: on disk (``assistant/kept_responses.py``; they were in the server's memory, and
gone when it stopped), the newest thousand, until deleted. Hearth's ``conversation_id`` saves the turns in the
history instead, as on chat; a follow-up by ``previous_response_id`` then continues that saved conversation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from assistant.errors import HearthError, InputError
from assistant.server.chat import TOOLS_REFUSED, grammar_of, refuse_another_model, text_part_refused
from assistant.server.errors import APIError
from assistant.server.openai_format import ResponsesShape
from assistant.server.respond import answer
from assistant.server.schemas import InputItem, ResponsesRequest

router = APIRouter()

#: The parts of a message that are text: a user's, and an earlier answer's sent back.
_TEXT_PARTS = ("input_text", "output_text", "text")
_ROLES = ("user", "assistant", "system", "developer")


@dataclass(frozen=True)
class Kept:
    """A response, as sent (``body``: while it is written, ``status`` "in_progress"), its request's ``input``
    (as messages), and what a follow-up continues: the conversation it ends (``messages``, its instructions left
    out, as OpenAI leaves them out of a follow-up), or the saved one (``conversation_id``, whose latest answer
    ``message_id`` must still be)."""

    body: dict[str, Any]
    input: tuple[dict[str, str], ...]
    messages: tuple[dict[str, str], ...] = ()
    conversation_id: str | None = None
    message_id: str | None = None

    @classmethod
    def of(cls, record: dict[str, Any]) -> Kept:
        """As :func:`dataclasses.asdict` wrote it to the disk (its tuples as lists)."""
        return cls(record["body"], tuple(record["input"]), tuple(record["messages"]), record["conversation_id"],
                   record["message_id"])


class KeptResponses:
    """The finished responses, on disk (``store``: the facade's ``kept_responses``, which outlive the server),
    and those being written, here (only this server can finish them). Only the event loop's thread touches it."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._writing: dict[str, Kept] = {}

    def writing(self, response_id: str, kept: Kept) -> None:
        self._writing[response_id] = kept

    def put(self, response_id: str, kept: Kept) -> None:
        """The response finished: kept on disk, unless it was deleted while it was written."""
        if self._writing.pop(response_id, None) is not None:
            self.store.put(response_id, asdict(kept), kept.conversation_id)

    def get(self, response_id: str, param: str | None = None) -> Kept:
        kept = self._writing.get(response_id)
        if kept is None and (record := self.store.get(response_id)) is not None:
            kept = Kept.of(record)
        if kept is None:
            raise self._not_found(response_id, param)
        return kept

    def _not_found(self, response_id: str, param: str | None = None) -> APIError:
        trouble = f" (Hearth could not read them: {self.store.problem})" if self.store.problem else ""
        return APIError(404, f"Response {response_id!r} was not found: Hearth keeps the last {self.store.limit} "
                             f"responses{trouble}, not those sent with store false, nor those deleted. Send the "
                             "whole conversation as input instead.", code="response_not_found", param=param)

    def over(self, response_id: str) -> None:
        """The answer ended: one still "in_progress" (failed, or its client gone) is not kept."""
        self._writing.pop(response_id, None)

    def delete(self, response_id: str) -> None:
        if self._writing.pop(response_id, None) is None and not self.store.delete(response_id):
            raise self._not_found(response_id)


#: Chat Completions' fields, sent to the Responses API: what to send instead (they were ignored: ``max_tokens``
#: 5 gave 69 tokens, ``response_format`` prose).
_CHAT_FIELDS = {
    "max_tokens": "use max_output_tokens",
    "max_completion_tokens": "use max_output_tokens",
    "response_format": "use text.format",
    "messages": "use input",
    "stop": "the Responses API has no stop strings: use /v1/chat/completions for them",
    "n": "Hearth makes one answer per request",
    "frequency_penalty": "use /v1/chat/completions for penalties",
    "presence_penalty": "use /v1/chat/completions for penalties",
    "logit_bias": "it is not supported by Hearth",
    "logprobs": "it is not supported by Hearth",
    "prompt": "OpenAI's stored prompt templates are not supported: send the prompt's text as instructions and input",
}


def _refuse_what_hearth_cannot_do(body: ResponsesRequest) -> None:
    """What a request asks for that Hearth cannot give is refused with the reason, as on chat."""
    for name, instead in _CHAT_FIELDS.items():
        if (body.model_extra or {}).get(name) is not None:
            raise APIError(400, f"Unsupported parameter {name!r} in the Responses API: {instead}.", param=name)
    if body.tools and body.tool_choice != "none":
        raise APIError(400, TOOLS_REFUSED, param="tools")
    if body.tool_choice not in (None, "none", "auto"):
        raise APIError(400, TOOLS_REFUSED, param="tool_choice")
    if body.reasoning and any(v not in (None, "none") for v in body.reasoning.values()):
        raise APIError(400, "reasoning is not supported: Hearth's models answer without a separate reasoning step. "
                            "Leave reasoning out.", param="reasoning")
    if body.background:
        raise APIError(400, "background responses are not supported: Hearth answers while the request waits "
                            "(stream it to see the answer as it is written).", param="background")
    if body.top_logprobs or any("logprobs" in item for item in body.include or ()):
        raise APIError(400, "logprobs are not supported by Hearth: leave them out of include and top_logprobs.",
                       param="include" if body.include else "top_logprobs")
    if body.conversation is not None:
        raise APIError(400, "OpenAI's conversation objects are not supported: continue a response with "
                            "previous_response_id, or keep the turns in Hearth's history with conversation_id "
                            "(extra_body).", param="conversation")
    if body.previous_response_id is not None and body.conversation_id is not None:
        raise APIError(400, "Send previous_response_id or conversation_id, not both: each names the conversation "
                            "to continue.", param="conversation_id")


def _message(i: int, item: InputItem) -> dict[str, str]:
    """An input item as a chat message; anything but a message of text is refused, named where it is."""
    where = f"input.{i}"
    if "call" in item.type:  # function_call, function_call_output, custom_tool_call, …
        raise APIError(400, f"{TOOLS_REFUSED} ({where} is a {item.type!r} item.)", param=f"{where}.type")
    if item.type != "message":
        raise APIError(400, f"{where} is a {item.type!r} item: Hearth reads messages only (a role and text). Leave "
                            "it out, or send its text as a message.", param=f"{where}.type")
    if item.role not in _ROLES:
        raise APIError(400, f"{where}.role must be one of {', '.join(_ROLES)} (it was {item.role!r}).",
                       param=f"{where}.role")
    for j, part in enumerate(item.content if isinstance(item.content, list) else ()):
        if part.type not in _TEXT_PARTS:
            raise text_part_refused(part.type, f"{where}.content.{j}")
    return {"role": item.role, "content": item.text()}


def _input(body: ResponsesRequest) -> list[dict[str, str]]:
    if isinstance(body.input, str):
        messages = [{"role": "user", "content": body.input}]
    else:
        messages = [_message(i, item) for i, item in enumerate(body.input)]
    if not messages:
        raise APIError(400, "input is an empty list: give a text, or a list of messages.", param="input")
    last = messages[-1]
    if last["role"] == "user" and not last["content"].strip():
        where = "input" if isinstance(body.input, str) else f"input.{len(messages) - 1}.content"
        raise APIError(400, f"{where} is empty: Hearth answers the last user message, and it needs text.", param=where)
    return messages


def _continued(body: ResponsesRequest, kept: KeptResponses, assistant: Any) -> tuple[list[dict[str, str]], str | None]:
    """The conversation a request continues (its earlier messages) and the saved conversation's id, if any."""
    if body.previous_response_id is None:
        return [], body.conversation_id
    previous = kept.get(body.previous_response_id, param="previous_response_id")
    if previous.body["status"] == "in_progress":
        raise APIError(400, f"Response {body.previous_response_id!r} is still being written: continue it once it "
                            "has ended.", param="previous_response_id")
    if previous.conversation_id is None:
        return list(previous.messages), None
    try:
        latest = assistant.history.tally(previous.conversation_id).last_id
    except HearthError:
        latest = None
    if latest != previous.message_id:
        raise APIError(400, f"previous_response_id {body.previous_response_id!r} is not the latest answer of its "
                            f"conversation ({previous.conversation_id}, saved in Hearth's history): the conversation "
                            "went on, or was answered again or deleted, since. Hearth continues a saved conversation "
                            "from its latest answer only.", param="previous_response_id")
    return [], previous.conversation_id


@router.post("/v1/responses")
async def create(body: ResponsesRequest, request: Request) -> Response:
    assistant, kept = request.app.state.assistant, request.app.state.responses
    _refuse_what_hearth_cannot_do(body)
    messages = _input(body)
    earlier, conversation_id = _continued(body, kept, assistant)
    if conversation_id is not None and sum(m["role"] in ("user", "assistant") for m in messages) > 1:
        # (chat answers only the last one then; here it was the client's whole list, which would be lost)
        raise APIError(400, "A response that continues a saved conversation takes only the new question: the earlier "
                            "turns are in Hearth's history.", param="input")
    await run_in_threadpool(refuse_another_model, assistant, body.model)
    sampling = assistant.sampling(temperature=body.temperature, top_p=body.top_p, seed=body.seed, top_k=body.top_k,
                                  min_p=body.min_p, repeat_penalty=body.repeat_penalty)
    fmt = body.text.format if body.text is not None else None
    grammar = grammar_of(assistant, fmt.as_response_format() if fmt is not None else None, param="text.format")
    instructions = [{"role": "system", "content": body.instructions}] if body.instructions else []
    try:
        response = assistant.chat(
            instructions + earlier + messages, sampling=sampling, max_tokens=body.max_output_tokens, grammar=grammar,
            collections=tuple(body.collections), use_memory=body.use_memory, conversation_id=conversation_id,
            drop_oldest=body.truncation == "auto")
    except InputError as exc:  # a role chat refuses, or no question last
        raise APIError(400, str(exc), param="input") from None
    text = {"format": fmt.model_dump(by_alias=True, exclude_none=True) if fmt else {"type": "text"},
            "verbosity": body.text.verbosity if body.text is not None else None}
    echo = {"instructions": body.instructions, "max_output_tokens": body.max_output_tokens,
            "previous_response_id": body.previous_response_id, "store": body.store, "truncation": body.truncation,
            "temperature": sampling.temperature, "top_p": sampling.top_p, "metadata": body.metadata or {},
            "text": text, "reasoning": {"effort": None, "summary": None}, "tool_choice": body.tool_choice or "auto",
            "tools": body.tools or [], "user": body.user, "safety_identifier": body.safety_identifier,
            "service_tier": body.service_tier, "prompt_cache_key": body.prompt_cache_key}

    def keep(finished: dict[str, Any], done: Any) -> None:
        if body.store:
            answered = ({"role": "assistant", "content": done.text},)
            kept.put(finished["id"], Kept(finished, tuple(messages), (*earlier, *messages, *answered),
                                          done.conversation_id, done.message_id))

    shape = ResponsesShape(assistant.model_id(), echo, keep, lambda: kept.over(shape.id))
    if body.store:  # asked for while it is written: "in_progress" (it was "not found")
        kept.writing(shape.id, Kept(shape.response("in_progress", []), tuple(messages)))
    try:
        return await answer(request, response, shape, body.stream)
    except APIError as exc:
        if exc.code == "context_length_exceeded" and body.truncation != "auto":
            exc.message += ' Or send truncation "auto": the oldest turns are then left out.'
        raise


@router.get("/v1/responses/{response_id}")
async def retrieve(response_id: str, request: Request) -> JSONResponse:
    if request.query_params.get("stream", "").lower() == "true":  # a client's retrieve(stream=True) got no event
        raise APIError(400, "A response cannot be streamed again: read it whole (leave stream out).", param="stream")
    return JSONResponse(request.app.state.responses.get(response_id).body)


@router.get("/v1/responses/{response_id}/input_items")
async def input_items(response_id: str, request: Request, limit: int = 20, order: str = "desc",
                      after: str | None = None) -> JSONResponse:
    """The request's input, as OpenAI lists it: message items, newest first unless ``order`` is "asc"."""
    if order not in ("asc", "desc"):
        raise APIError(400, f'order must be "asc" or "desc" (it was {order!r}).', param="order")
    if not 1 <= limit <= 100:
        raise APIError(400, f"limit must be from 1 to 100 (it was {limit}).", param="limit")
    given = request.app.state.responses.get(response_id).input
    items = [{"id": f"msg_{response_id.removeprefix('resp_')}_{i}", "type": "message", "status": "completed",
              "role": m["role"], "content": [{"type": "output_text" if m["role"] == "assistant" else "input_text",
                                              "text": m["content"]}]} for i, m in enumerate(given)]
    if order == "desc":
        items.reverse()
    if after is not None:
        ids = [item["id"] for item in items]
        if after not in ids:
            raise APIError(404, f"Item {after!r} is not in response {response_id!r}.", param="after")
        items = items[ids.index(after) + 1:]
    page = items[:limit]
    return JSONResponse({"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                         "last_id": page[-1]["id"] if page else None, "has_more": len(items) > limit})


@router.delete("/v1/responses/{response_id}")
async def delete(response_id: str, request: Request) -> JSONResponse:
    request.app.state.responses.delete(response_id)
    return JSONResponse({"id": response_id, "object": "response", "deleted": True})
