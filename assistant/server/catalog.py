"""``GET /v1/models`` (what this server answers with), ``POST /v1/embeddings``, and ``GET /health`` (no token).

Only the models this server actually uses are listed, the chat model and the embedder: a request's
``model`` field does not switch models (``hearth models use`` does), so listing the library would suggest a
choice that is not there.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from fastapi import APIRouter, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from assistant import __version__
from assistant.server.errors import APIError
from assistant.server.schemas import EmbeddingRequest

router = APIRouter()
public = APIRouter()

#: What the README's examples send as ``model``: chat answers any name with the model it has, so retrieving this
#: one gives the chat model's entry (it was a 404 model_not_found, to clients that check a model before using it).
CHAT_ALIAS = "hearth"


@public.api_route("/health", methods=["GET", "HEAD"])  # HEAD: what uptime monitors send
async def health() -> dict[str, str]:
    return {"status": "ok", "service": "hearth", "version": __version__}


def _models(request: Request) -> list[dict[str, Any]]:
    assistant = request.app.state.assistant
    created = request.app.state.started
    return [{"id": assistant.model_id(), "object": "model", "created": created, "owned_by": "hearth"},
            {"id": assistant.embedding_model(), "object": "model", "created": created, "owned_by": "hearth"}]


@router.get("/v1/models")
async def models(request: Request) -> dict[str, Any]:
    return {"object": "list", "data": _models(request)}


@router.get("/v1/models/{model_id:path}")
async def model(model_id: str, request: Request) -> dict[str, Any]:
    if not model_id:  # "/v1/models/" is no model named "": the 404 naming the routes, as for every other slash
        raise HTTPException(404, "Not Found")
    wanted = request.app.state.assistant.model_id() if model_id == CHAT_ALIAS else model_id
    found = next((m for m in _models(request) if m["id"] == wanted), None)
    if found is None:
        raise APIError(404, f"The model {model_id!r} is not served here (GET /v1/models lists what is; "
                            f"{CHAT_ALIAS!r} names the chat model).", code="model_not_found", param="model")
    return found


@router.post("/v1/embeddings")
async def embeddings(body: EmbeddingRequest, request: Request) -> dict[str, Any]:
    assistant = request.app.state.assistant
    texts = [body.input] if isinstance(body.input, str) else body.input
    if any(not isinstance(t, str) for t in texts):
        raise APIError(400, "input as token ids cannot be read: they are another tokenizer's numbers. Send the text "
                            "(LangChain's OpenAIEmbeddings sends token ids unless check_embedding_ctx_length=False).",
                       param="input")
    if not texts:
        raise APIError(400, "input must be a non-empty text or a list of them.", param="input")
    if empty := [i for i, t in enumerate(texts) if not t]:  # which, in a batch of hundreds a vector store sends
        where = "input" if isinstance(body.input, str) else f"input.{empty[0]}"
        raise APIError(400, f"{where} is empty: every input must be a non-empty text.", param=where)
    vectors = await run_in_threadpool(assistant.embed, texts)
    tokens, cut = await run_in_threadpool(assistant.embedding_usage, texts)
    if body.dimensions is not None and body.dimensions != len(vectors[0]):
        raise APIError(400, f"This embedder makes {len(vectors[0])}-dimensional vectors; dimensions cannot change "
                            "that.", param="dimensions")

    def encoded(v: list[float]) -> list[float] | str:
        if body.encoding_format == "base64":
            return base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode()
        return v

    reply = {"object": "list", "model": assistant.embedding_model(),
             "data": [{"object": "embedding", "index": i, "embedding": encoded(v)} for i, v in enumerate(vectors)],
             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    if cut:  # Hearth's extension: inputs longer than the embedder reads, embedded from their start only
        reply["truncated"] = cut
    return reply
