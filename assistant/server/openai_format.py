"""OpenAI's response and stream-chunk shapes, for chat (``chat.completion``) and text (``text_completion``).

A stream is: a first chunk (chat: the assistant role), one chunk per piece of text, a chunk with the
``finish_reason``, Hearth's extras (``citations``) in a chunk of their own, the usage chunk when the client
asked for it (``stream_options.include_usage``: ``choices`` empty, as OpenAI sends it), then ``data: [DONE]``.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

#: The engine's stop reasons that mean "cut off", as OpenAI names it; every other reason is a natural "stop".
_LENGTH = ("length", "context_full")

DONE_LINE = b"data: [DONE]\n\n"
KEEP_ALIVE = b": keep-alive\n\n"  # an SSE comment: clients ignore it; it finds a client that went away


def sse(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def finish_reason(stop_reason: str) -> str:
    return "length" if stop_reason in _LENGTH else "stop"


def usage(stats: Any) -> dict[str, Any]:
    """OpenAI's usage, with the prompt tokens read from the cache (``cached_tokens``, as OpenAI reports its own
    prompt caching): what a client can see of prefix reuse and of a chat's cache read back after a restart."""
    return {"prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.completion_tokens,
            "total_tokens": stats.prompt_tokens + stats.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": stats.reused_tokens}}


def citation(c: Any, cited: bool) -> dict[str, Any]:
    """A passage the answer was given (``Citation``): where it is, a snippet, its score, whether it was cited."""
    lines = [c.line_start, c.line_end] if c.line_start is not None else None
    snippet = " ".join(c.text.split())
    return {"n": c.n, "collection": c.collection, "path": c.path, "page": c.page, "lines": lines,
            "snippet": snippet if len(snippet) <= 300 else snippet[:299].rstrip() + "…", "score": round(c.score, 4),
            "cited": cited}


class Shape:
    prefix = ""
    object = ""
    chunk_object = ""

    def __init__(self, model: str) -> None:
        self.id = f"{self.prefix}-{secrets.token_hex(12)}"
        self.created = int(time.time())
        self.model = model

    def _base(self, obj: str) -> dict[str, Any]:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model,
                "system_fingerprint": None}

    def chunk(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {**self._base(self.chunk_object), "choices": choices, **extra}

    def start_chunk(self) -> dict[str, Any] | None:
        return None

    def text_chunk(self, text: str) -> dict[str, Any]:
        raise NotImplementedError

    def finish_chunk(self, reason: str, **extra: Any) -> dict[str, Any]:
        raise NotImplementedError

    def full(self, text: str, reason: str, used: dict[str, int], **extra: Any) -> dict[str, Any]:
        raise NotImplementedError


class ChatShape(Shape):
    prefix, object, chunk_object = "chatcmpl", "chat.completion", "chat.completion.chunk"

    def start_chunk(self) -> dict[str, Any]:
        return self.chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                            "finish_reason": None}])

    def text_chunk(self, text: str) -> dict[str, Any]:
        return self.chunk([{"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}])

    def finish_chunk(self, reason: str, **extra: Any) -> dict[str, Any]:
        return self.chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": reason}], **extra)

    def full(self, text: str, reason: str, used: dict[str, int], **extra: Any) -> dict[str, Any]:
        message = {"role": "assistant", "content": text, "refusal": None}
        return {**self._base(self.object), "choices": [{"index": 0, "message": message, "logprobs": None,
                                                        "finish_reason": reason}], "usage": used, **extra}


class CompletionShape(Shape):
    prefix, object, chunk_object = "cmpl", "text_completion", "text_completion"

    def text_chunk(self, text: str) -> dict[str, Any]:
        return self.chunk([{"index": 0, "text": text, "logprobs": None, "finish_reason": None}])

    def finish_chunk(self, reason: str, **extra: Any) -> dict[str, Any]:
        return self.chunk([{"index": 0, "text": "", "logprobs": None, "finish_reason": reason}], **extra)

    def full(self, text: str, reason: str, used: dict[str, int], **extra: Any) -> dict[str, Any]:
        return {**self._base(self.object), "choices": [{"index": 0, "text": text, "logprobs": None,
                                                        "finish_reason": reason}], "usage": used, **extra}
