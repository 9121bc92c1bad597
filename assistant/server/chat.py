"""``POST /v1/chat/completions``: an answer through the facade's ``chat`` (history, sources and memory optional)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from assistant.errors import InputError
from assistant.server.errors import APIError
from assistant.server.openai_format import ChatShape
from assistant.server.respond import answer
from assistant.server.schemas import ChatCompletionRequest, ChatMessage, ResponseFormat

router = APIRouter()


def sampling_of(assistant: Any, body: Any) -> Any:
    """The settings' sampling with the request's temperature, top_p, seed, penalties and llama.cpp's top_k, min_p
    and repeat_penalty (those it sets).
    What Hearth cannot do is refused with the reason, not ignored: the answer would not be what was asked for."""
    if body.n != 1:
        raise APIError(400, "n must be 1: Hearth makes one answer per request.", param="n")
    if body.logprobs is not None and body.logprobs is not False:  # completions' logprobs 0 asks for them too
        raise APIError(400, "logprobs are not supported by Hearth: leave logprobs out.", param="logprobs")
    if body.logit_bias:
        raise APIError(400, "logit_bias is not supported by Hearth.", param="logit_bias")
    if body.include_usage and not body.stream:  # as OpenAI: the usage chunk asked for would never come
        raise APIError(400, "stream_options is only allowed when stream is true (usage is in every answer that "
                            "is not streamed).", param="stream_options")
    return assistant.sampling(temperature=body.temperature, top_p=body.top_p, seed=body.seed,
                              frequency_penalty=body.frequency_penalty, presence_penalty=body.presence_penalty,
                              top_k=body.top_k, min_p=body.min_p, repeat_penalty=body.repeat_penalty)


def grammar_of(assistant: Any, response_format: ResponseFormat | None, param: str = "response_format") -> str | None:
    """``json_schema`` -> a grammar for that schema; ``json_object`` -> any JSON object; ``text`` -> none.
    ``param``: the field's name in this request (the Responses API's is ``text.format``)."""
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object":
        return assistant.json_grammar(None)
    spec = response_format.json_schema
    if spec is None or spec.schema_ is None:
        raise APIError(400, f"{param} json_schema needs a schema.", param=param)
    try:
        return assistant.json_grammar(spec.schema_)
    except InputError as exc:  # named, as every other refused field is
        raise APIError(400, str(exc), param=param) from None


def refuse_another_model(assistant: Any, model: str | None) -> None:
    """A request for a model of the library other than the one answering is refused with the way to switch: it was
    answered by the loaded model, unsaid. Any other name is taken to mean the chat model, as before: clients send
    names of their own ("gpt-4o", "hearth", "local-model"). Compared by file name and stem, as GET /v1/models
    names models (reads the library's folders: called off the event loop)."""
    wanted = (model or "").strip().lower()
    loaded = assistant.model_id()
    if not wanted or wanted in (loaded.lower(), f"{loaded.lower()}.gguf"):
        return
    if (other := assistant.models.named_exactly(wanted)) is not None:
        raise APIError(400, f"The model {model!r} is in your model library, but Hearth answers with {loaded!r}: "
                            f"`hearth models use {other.stem}` (or Models in the window) switches; or send "
                            f"model {loaded!r} or \"hearth\".", code="model_not_loaded", param="model")


#: Why tools are refused, and what to send for structured output instead.
TOOLS_REFUSED = ("Tools (function calling) are not supported by Hearth. For structured output send "
                 "response_format json_schema (the Responses API: text.format): the answer then matches the schema "
                 "by construction (instructor: Mode.JSON_SCHEMA; LangChain: "
                 "with_structured_output(method=\"json_schema\")).")


def text_part_refused(kind: str, where: str) -> APIError:
    """A message part that is not text (an image, a file, audio), named where it is."""
    return APIError(400, f"Only text content is supported: {where} is of type {kind!r} (Hearth's models read text, "
                         "not images or audio).", param=f"{where}.type")


#: The roles of a tool's result (and the legacy function's) in a conversation.
_TOOL_ROLES = ("tool", "function")


def _refuse_tool_history(messages: list[ChatMessage]) -> None:
    """Tool calls an earlier answer made, and their results, are refused as tools are: the chat template would
    need them rendered as calls, which Hearth does not do. An assistant message's ``tool_calls`` were accepted
    and left out of the prompt, so the model answered as if it had never called anything."""
    for i, m in enumerate(messages):
        if m.role in _TOOL_ROLES:
            raise APIError(400, f"Tools (function calling) are not supported by Hearth: messages.{i} is a tool's "
                                f"result (role {m.role!r}). Give the result as text in a user message instead.",
                           param=f"messages.{i}.role")
        for field in ("tool_calls", "function_call"):
            if getattr(m, field):
                raise APIError(400, f"Tools (function calling) are not supported by Hearth: messages.{i} carries "
                                    f"{field}, which the model cannot be shown. Leave the calls out, or write them and "
                                    "their results as text in the messages.", param=f"messages.{i}.{field}")


def _refuse_other_outputs(body: ChatCompletionRequest) -> None:
    """What a request asks for besides the answer's text is refused, as ``logprobs`` is (see sampling_of): a
    client that asked for the top log-probabilities or for audio was answered without them, and not told."""
    if body.top_logprobs:
        raise APIError(400, "logprobs are not supported by Hearth (top_logprobs asks for them): leave "
                            "top_logprobs out, or send 0.", param="top_logprobs")
    if body.modalities is not None and set(body.modalities) != {"text"}:
        raise APIError(400, f'Hearth answers with text only: modalities must be ["text"] (it was '
                            f"{json.dumps(body.modalities)}).", param="modalities")
    if body.audio is not None:
        raise APIError(400, "Hearth answers with text only: audio output is not supported; leave audio out.",
                       param="audio")
    if body.web_search_options is not None:
        raise APIError(400, "Web search is not supported: Hearth answers offline, from the model and the "
                            "collections named in `collections`. Leave web_search_options out.",
                       param="web_search_options")
    limits = {body.max_tokens, body.max_completion_tokens} - {None}
    if len(limits) > 1:  # one of them was used, unsaid: the larger could answer past the limit the client keeps
        raise APIError(400, f"max_tokens ({body.max_tokens}) and max_completion_tokens ({body.max_completion_tokens})"
                            " differ: send one of them (max_tokens is the older name).", param="max_tokens")


@router.post("/v1/chat/completions")
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    assistant = request.app.state.assistant
    # tools the model may call would wait for a call never made; with the choice "none" (no call) they are
    # unused, and the answer is the one without them (LangChain and LlamaIndex send tools so, and were refused)
    forced = [f for f in ("tool_choice", "function_call") if getattr(body, f) not in (None, "none", "auto")]
    offered = [tools for tools, choice in (("tools", "tool_choice"), ("functions", "function_call"))
               if getattr(body, tools) and getattr(body, choice) != "none"]
    if refused := offered + forced:
        raise APIError(400, TOOLS_REFUSED, param=refused[0])
    _refuse_tool_history(body.messages)
    # before the empty-text check: a message of one image was said to be "empty"
    for i, m in enumerate(body.messages):
        for j, part in enumerate(m.content if isinstance(m.content, list) else ()):
            if part.type != "text":
                raise text_part_refused(part.type, f"messages.{i}.content.{j}")
    last = len(body.messages) - 1
    alone = all(m.role in ("system", "developer") for m in body.messages)  # answered as the instruction
    if last >= 0 and (body.messages[last].role == "user" or alone) and not body.messages[last].text().strip():
        # the core's words were the window's ("The question is empty: type something to ask."), naming no field
        raise APIError(400, f"messages.{last}.content is empty: Hearth answers the last user message, and it "
                            "needs text.", param=f"messages.{last}.content")
    sampling, grammar = sampling_of(assistant, body), grammar_of(assistant, body.response_format)
    _refuse_other_outputs(body)  # after sampling_of: a request asking for logprobs is told of that field first
    await run_in_threadpool(refuse_another_model, assistant, body.model)
    try:
        response = assistant.chat(
            [{"role": m.role, "content": m.text()} for m in body.messages],
            sampling=sampling, max_tokens=body.max_completion_tokens or body.max_tokens,
            stop=body.stops(), grammar=grammar, collections=tuple(body.collections),
            use_memory=body.use_memory, conversation_id=body.conversation_id,
        )
    except InputError as exc:  # what chat refuses at once is the messages (a role, the last one not the user's)
        raise APIError(400, str(exc), param="messages") from None
    return await answer(request, response, ChatShape(assistant.model_id()), body.stream, body.include_usage)
