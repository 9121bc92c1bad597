"""OpenAI's response shapes: chat (``chat.completion``), text (``text_completion``) and the Responses API's
``response``, whole and streamed.

A chat or text stream is: a first chunk (chat: the assistant role), one chunk per piece of text, a chunk with
the ``finish_reason`` and Hearth's extras (``citations``), the usage chunk when the client asked for it
(``stream_options.include_usage``: ``choices`` empty, as OpenAI sends it), then ``data: [DONE]``. A Responses
stream is typed events (``event: response.output_text.delta``) numbered in order, ending with
``response.completed`` (or ``response.incomplete``), and no ``[DONE]``.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from assistant.server.annotations import file_citations

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
    """A passage the answer was given (``Citation``): where it is, a snippet, its score, whether it was cited,
    whether its file changed or went since it was indexed (``stale``: "changed", "gone" or "")."""
    lines = [c.line_start, c.line_end] if c.line_start is not None else None
    snippet = " ".join(c.text.split())
    return {"n": c.n, "collection": c.collection, "path": c.path, "page": c.page, "lines": lines,
            "snippet": snippet if len(snippet) <= 300 else snippet[:299].rstrip() + "…", "score": round(c.score, 4),
            "cited": cited, "stale": c.stale}


class Shape:
    """A response's shape, whole (:meth:`full`) and as a stream: its opening events, one per piece of text, its
    ending, an error that ends it, and what closes it. Streamed as OpenAI's chat and text chunks; the Responses
    API overrides the stream."""

    prefix = ""
    object = ""
    chunk_object = ""
    closing = DONE_LINE

    def __init__(self, model: str) -> None:
        self.id = f"{self.prefix}-{secrets.token_hex(12)}"
        self.created = int(time.time())
        self.model = model
        self.include_usage = False  # stream_options.include_usage (see respond.answer)

    def _base(self, obj: str) -> dict[str, Any]:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model,
                "system_fingerprint": None}

    def chunk(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {**self._base(self.chunk_object), "choices": choices, **extra}

    def _sse(self, chunk: dict[str, Any]) -> bytes:
        """A chunk before the usage one carries ``usage: null`` when usage was asked for, as OpenAI's do
        (clients that read ``chunk.usage`` on every chunk found no such field)."""
        if self.include_usage:
            chunk.setdefault("usage", None)
        return sse(chunk)

    def answered_by(self, done: Any) -> None:
        """The model that wrote the answer, from its ``Done``: the one loaded when it was asked for was said, also
        when a model switch took over before it began (it waited for the answer before it, and so did the load)."""
        if done.stats.model_id:
            self.model = done.stats.model_id

    def start_chunk(self) -> dict[str, Any] | None:
        return None

    def text_chunk(self, text: str) -> dict[str, Any]:
        raise NotImplementedError

    def finish_chunk(self, reason: str, **extra: Any) -> dict[str, Any]:
        raise NotImplementedError

    def opening(self) -> list[bytes]:
        start = self.start_chunk()
        return [] if start is None else [self._sse(start)]

    def piece(self, text: str) -> bytes:
        return self._sse(self.text_chunk(text))

    def ending(self, done: Any, reason: str, used: dict[str, Any], saved: str | None, **extra: Any) -> list[bytes]:
        """The finish chunk, with Hearth's extras and ``saved``, the answer as saved where it differs from what
        streamed (its attributed ``[n]``), as ``content``; then the usage chunk when it was asked for."""
        content = {"content": saved} if saved is not None else {}
        out = [self._sse(self.finish_chunk(reason, **content, **extra))]
        if self.include_usage:
            out.append(sse(self.chunk([], usage=used)))
        return out

    def failure(self, error: dict[str, Any]) -> bytes:
        """A stream's last event when it fails or is cut: OpenAI's error body (``error`` with its message)."""
        return sse(error)

    def full(self, done: Any, reason: str, used: dict[str, Any], **extra: Any) -> dict[str, Any]:
        raise NotImplementedError

    def closed(self) -> None:
        """The answer is over, whole, failed or given up (its client gone)."""


class ChatShape(Shape):
    """Chat Completions carry no file citations: the ``openai`` client's ``ChatCompletionMessage.annotations``
    are ``url_citation`` only (a web page's url and title, and the span of text it supports; web search's), and a
    chunk's ``delta`` has no annotations at all. Hearth's passages are files on the server's disk, so the answer
    as saved, with its ``[n]``, is the finish chunk's ``content`` (see :meth:`Shape.ending`) and the Responses
    API has the annotations."""

    prefix, object, chunk_object = "chatcmpl", "chat.completion", "chat.completion.chunk"

    def start_chunk(self) -> dict[str, Any]:
        return self.chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                            "finish_reason": None}])

    def text_chunk(self, text: str) -> dict[str, Any]:
        return self.chunk([{"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}])

    def finish_chunk(self, reason: str, **extra: Any) -> dict[str, Any]:
        return self.chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": reason}], **extra)

    def full(self, done: Any, reason: str, used: dict[str, Any], **extra: Any) -> dict[str, Any]:
        message = {"role": "assistant", "content": done.text, "refusal": None}
        return {**self._base(self.object), "choices": [{"index": 0, "message": message, "logprobs": None,
                                                        "finish_reason": reason}], "usage": used, **extra}


class CompletionShape(Shape):
    prefix, object, chunk_object = "cmpl", "text_completion", "text_completion"

    def text_chunk(self, text: str) -> dict[str, Any]:
        return self.chunk([{"index": 0, "text": text, "logprobs": None, "finish_reason": None}])

    def finish_chunk(self, reason: str, **extra: Any) -> dict[str, Any]:
        return self.chunk([{"index": 0, "text": "", "logprobs": None, "finish_reason": reason}], **extra)

    def full(self, done: Any, reason: str, used: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {**self._base(self.object), "choices": [{"index": 0, "text": done.text, "logprobs": None,
                                                        "finish_reason": reason}], "usage": used, **extra}


class ResponsesShape(Shape):
    """The Responses API's ``response``: one output message of one ``output_text`` part. ``echo`` holds the
    request's settings a response repeats (instructions, max_output_tokens, temperature, …); ``kept`` is called
    with the finished response and its ``Done`` (the route keeps it for ``previous_response_id``), ``over`` when
    the answer is over, whatever its end."""

    closing = b""  # a Responses stream ends with its response.completed event

    def __init__(self, model: str, echo: dict[str, Any], kept: Callable[[dict[str, Any], Any], None],
                 over: Callable[[], None]) -> None:
        super().__init__(model)
        self.id, self.item_id = f"resp_{secrets.token_hex(16)}", f"msg_{secrets.token_hex(16)}"
        self.echo, self.kept, self.over = echo, kept, over
        self.sequence = 0
        self.streamed: list[str] | None = None  # the deltas sent, when streamed

    def closed(self) -> None:
        self.over()

    def response(self, status: str, output: list[dict[str, Any]], used: dict[str, Any] | None = None,
                 **extra: Any) -> dict[str, Any]:
        incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
        usage = None if used is None else {
            "input_tokens": used["prompt_tokens"], "output_tokens": used["completion_tokens"],
            "total_tokens": used["total_tokens"],
            "input_tokens_details": {"cached_tokens": used["prompt_tokens_details"]["cached_tokens"]},
            "output_tokens_details": {"reasoning_tokens": 0}}
        return {"id": self.id, "object": "response", "created_at": self.created, "status": status, "error": None,
                "incomplete_details": incomplete, "model": self.model, "output": output,
                "parallel_tool_calls": False, "tool_choice": "none", "tools": [], "usage": usage, **self.echo,
                **extra}

    def _message(self, status: str, text: str | None, annotations: list[dict[str, Any]]) -> dict[str, Any]:
        content = [] if text is None else [self._part(text, annotations)]
        return {"id": self.item_id, "type": "message", "status": status, "role": "assistant", "content": content}

    @staticmethod
    def _part(text: str, annotations: list[dict[str, Any]]) -> dict[str, Any]:
        return {"type": "output_text", "text": text, "annotations": annotations, "logprobs": []}

    def _event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return f"event: {kind}\n".encode() + sse(data)

    def _where(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "output_index": 0, "content_index": 0}

    def opening(self) -> list[bytes]:
        self.streamed = []
        started = self.response("in_progress", [])
        return [self._event("response.created", response=started),
                self._event("response.in_progress", response=started),
                self._event("response.output_item.added", output_index=0,
                            item=self._message("in_progress", None, [])),
                self._event("response.content_part.added", **self._where(), part=self._part("", []))]

    def piece(self, text: str) -> bytes:
        if self.streamed is not None:
            self.streamed.append(text)
        return self._event("response.output_text.delta", **self._where(), delta=text, logprobs=[])

    def ending(self, done: Any, reason: str, used: dict[str, Any], saved: str | None, **extra: Any) -> list[bytes]:
        """The citations' annotations (``response.output_text.annotation.added``, one each, as OpenAI sends
        them before the text is done), the text as streamed (the deltas joined, as OpenAI's ``done`` events hold
        it), then the finished response: ``response.incomplete`` where the length limit cut it, as OpenAI ends
        such a stream."""
        body = self.full(done, reason, used, **extra)
        item = body["output"][0]
        part = item["content"][0]
        added = [self._event("response.output_text.annotation.added", **self._where(), annotation_index=i,
                             annotation=annotation) for i, annotation in enumerate(part["annotations"])]
        return [*added, self._event("response.output_text.done", **self._where(), text=part["text"], logprobs=[]),
                self._event("response.content_part.done", **self._where(), part=part),
                self._event("response.output_item.done", output_index=0, item=item),
                self._event(f"response.{body['status']}", response=body)]

    def failure(self, error: dict[str, Any]) -> bytes:
        """OpenAI's ``error`` event, then ``response.failed`` with the error in the response."""
        e = error["error"]
        failed = self.response("failed", [], error={"code": e["code"] or e["type"], "message": e["message"]})
        return (self._event("error", code=e["code"], message=e["message"], param=e["param"])
                + self._event("response.failed", response=failed))

    def full(self, done: Any, reason: str, used: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """The finished response. Streamed, its text is the deltas' (a client that joins them and one that reads
        the response get the same), and ``cited_text`` is the answer as saved where it differs: the ``[n]``
        Hearth attributed after the model's words had streamed (the model cited nothing). The citations are the
        text's ``file_citation`` annotations, placed in the text as it was given (see :mod:`annotations`)."""
        status = "incomplete" if reason == "length" else "completed"
        text = done.text if self.streamed is None else "".join(self.streamed)
        if text != done.text:
            extra["cited_text"] = done.text
        cited = file_citations(text, done, extra.get("citations", []))
        body = self.response(status, [self._message(status, text, cited)], used, **extra)
        self.kept(body, done)
        return body
