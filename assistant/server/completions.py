"""``POST /v1/completions``: raw text continued by the model (no chat template, nothing saved)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from assistant.core import EMPTY_PROMPT
from assistant.server.chat import grammar_of, sampling_of
from assistant.server.errors import APIError
from assistant.server.openai_format import CompletionShape
from assistant.server.respond import answer
from assistant.server.schemas import CHAT_EXTENSIONS, CompletionRequest

router = APIRouter()


@router.post("/v1/completions")
async def completions(body: CompletionRequest, request: Request) -> Response:
    assistant = request.app.state.assistant
    prompt = body.prompt
    if isinstance(prompt, list) and not any(isinstance(p, int) for p in prompt):
        if len(prompt) != 1:
            raise APIError(400, "Give one prompt per request.", param="prompt")
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise APIError(400, "A prompt of token ids is not supported: send the prompt as text (Hearth tokenizes it "
                            "with the model it answers with).", param="prompt")
    if not prompt:  # the core's refusal came in an answer's failure, with no field named
        raise APIError(400, EMPTY_PROMPT, param="prompt")
    if body.echo:
        raise APIError(400, "echo is not supported.", param="echo")
    if body.suffix:
        raise APIError(400, "suffix (fill in the middle) is not supported.", param="suffix")
    if body.best_of is not None and body.best_of > 1:
        raise APIError(400, "best_of must be 1: Hearth makes one answer per request.", param="best_of")
    for name in CHAT_EXTENSIONS:  # a raw completion was answered ungrounded, unsaved, even for a wrong collection
        if (body.model_extra or {}).get(name) is not None:
            raise APIError(400, f"{name} is a /v1/chat/completions field: a raw completion is not grounded in "
                                "your collections, remembered or saved.", param=name)
    response = assistant.complete(prompt, sampling=sampling_of(assistant, body), max_tokens=body.max_tokens,
                                  stop=body.stops(), grammar=grammar_of(assistant, body.response_format))
    return await answer(request, response, CompletionShape(assistant.model_id()), body.stream, body.include_usage)
