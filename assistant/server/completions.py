"""``POST /v1/completions``: raw text continued by the model (no chat template, nothing saved)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from assistant.core import EMPTY_PROMPT
from assistant.server.chat import grammar_of, refuse_another_model, sampling_of
from assistant.server.errors import APIError
from assistant.server.openai_format import CompletionShape
from assistant.server.respond import answer, answer_each
from assistant.server.schemas import CHAT_EXTENSIONS, CompletionRequest

router = APIRouter()


@router.post("/v1/completions")
async def completions(body: CompletionRequest, request: Request) -> Response:
    assistant = request.app.state.assistant
    prompts = body.prompt if isinstance(body.prompt, list) else [body.prompt]
    if not prompts:  # (it was said to be token ids)
        raise APIError(400, "prompt is an empty list: give a text, or a list of texts.", param="prompt")
    if not all(isinstance(p, str) for p in prompts):
        raise APIError(400, "A prompt of token ids is not supported: send the prompt as text (Hearth tokenizes it "
                            "with the model it answers with).", param="prompt")
    for i, prompt in enumerate(prompts):
        if not prompt:  # the core's refusal came in an answer's failure, with no field named
            raise APIError(400, EMPTY_PROMPT, param="prompt" if isinstance(body.prompt, str) else f"prompt.{i}")
    if len(prompts) > 1 and body.stream:
        raise APIError(400, "A list of prompts is answered whole: send stream false, or one prompt per streamed "
                            "request.", param="stream")
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
    sampling, grammar = sampling_of(assistant, body), grammar_of(assistant, body.response_format)
    await run_in_threadpool(refuse_another_model, assistant, body.model)
    responses = [assistant.complete(p, sampling=sampling, max_tokens=body.max_tokens, stop=body.stops(),
                                    grammar=grammar) for p in prompts]
    shape = CompletionShape(assistant.model_id())
    if len(responses) > 1:  # LangChain's batch and generate send lists (they were refused)
        return await answer_each(request, responses, shape)
    return await answer(request, responses[0], shape, body.stream, body.include_usage)
