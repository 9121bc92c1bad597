"""Errors as OpenAI clients expect them: ``{"error": {"message", "type", "code", "param"}}`` with a status.

Core errors (:class:`HearthError`, or a ``Failed`` event naming one) map to a status by their class: the
client's mistake is 4xx, the model or a remote part being unavailable 503/502, anything else 500. The
message is the core's user-facing sentence; a traceback never reaches the client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

from assistant.errors import HearthError

log = logging.getLogger(__name__)
#: ``Failed.error_type`` of an answer that failed on a bug (not a HearthError).
INTERNAL = "internal"
#: (status, OpenAI error type, code, the request field it is about) by core error class name; the first name in a
#: class's MRO wins. A 404 is an ``invalid_request_error``, as OpenAI's own (``model_not_found``) are.
_BY_NAME: dict[str, tuple[int, str, str | None, str | None]] = {
    "ContextOverflowError": (400, "invalid_request_error", "context_length_exceeded", None),
    "InputError": (400, "invalid_request_error", None, None),
    "ConversationNotFoundError": (404, "invalid_request_error", "conversation_not_found", "conversation_id"),
    "ChatMovedOnError": (409, "invalid_request_error", "conversation_changed", "conversation_id"),
    "CollectionNotFoundError": (404, "invalid_request_error", "collection_not_found", "collections"),
    "InvalidCollectionNameError": (400, "invalid_request_error", "invalid_collection_name", "collections"),
    "NeedsReindexError": (409, "invalid_request_error", "collection_needs_reindex", "collections"),
    "RemoteError": (502, "server_error", "upstream_error", None),
    "ModelLoadError": (503, "server_error", "model_unavailable", None),
    "NoModelLoadedError": (503, "server_error", "model_unavailable", None),
    INTERNAL: (500, "server_error", "internal_error", None),
}
_DEFAULT = (500, "server_error", None, None)


class APIError(Exception):
    """Raised by the routes for a request the API refuses; rendered as OpenAI's error body."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.code, self.param)

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        """The error as sent; said in the log at ``hearth -v serve`` (a 401 or a 400 was seen only by the client,
        and a developer wiring a tool could not tell what it sent wrong)."""
        log.info("refused with %d %s: %s", self.status, self.code or self.type, self.message)
        headers = {**(headers or {}), **({"WWW-Authenticate": "Bearer"} if self.status == 401 else {})}
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def error_body(message: str, type_: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "code": code, "param": param}}


def _error_class(name: str) -> type[HearthError] | None:
    pending: list[type[HearthError]] = [HearthError]
    while pending:
        cls = pending.pop()
        if cls.__name__ == name:
            return cls
        pending += cls.__subclasses__()
    return None


def from_core(error_type: str, message: str) -> APIError:
    """The APIError for a core error, given its class name (``Failed.error_type`` or ``type(exc).__name__``)."""
    cls = _error_class(error_type)
    names = [c.__name__ for c in cls.__mro__] if cls is not None else [error_type]
    status, type_, code, param = next((_BY_NAME[n] for n in names if n in _BY_NAME), _DEFAULT)
    if code == "context_length_exceeded":  # in llama.cpp's server's words, which clients such as LiteLLM read
        # (not the code) to tell an overflow from other refusals and fall back to a model with a longer context
        message = f"The request exceeds the available context size: {message}"
    return APIError(status, message, type_, code, param)


def internal_message(exc: BaseException) -> str:
    return f"Internal error in Hearth ({type(exc).__name__}); the server log has the details."


def internal(exc: BaseException) -> APIError:
    """A bug in Hearth, in one line (the details go to the server's log, never to the client)."""
    return from_core(INTERNAL, internal_message(exc))
