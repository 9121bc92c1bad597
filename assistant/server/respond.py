"""From a facade ``Response`` to an HTTP answer: one JSON body, or an SSE stream in OpenAI's chunk format.

The first event decides the status: a request that fails before any text exists (an unknown conversation,
a prompt too long for the context, no model) gets an error status, not a 200 stream that says so later.
A client that goes away cancels its answer at once: while waiting (polled), and mid-stream (Starlette cancels
the stream's generator when the client disconnects; a keep-alive comment also finds it on a quiet stream).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from assistant.events import Done, Event, Failed, MemoriesUsed, Notice, Sources, Token
from assistant.server import openai_format as fmt
from assistant.server.bridge import EventStream, Interrupted
from assistant.server.errors import APIError, from_core

#: How often a waiting request checks that its client is still there.
POLL_S = 0.25
#: A stream with nothing to say for this long sends an SSE comment.
KEEP_ALIVE_S = 10.0


class ClientGone(Exception):
    """The client disconnected before its answer was complete (a whole answer, or the start of a stream)."""


async def _next_watching(events: EventStream, request: Request) -> Event | None:
    """The next event; every ``POLL_S``, also while events keep coming, check that the client is still there."""
    while True:
        if time.monotonic() - events.checked >= POLL_S:
            events.checked = time.monotonic()
            if await request.is_disconnected():
                events.cancel()
                raise ClientGone
        try:
            return await events.next(POLL_S)
        except TimeoutError:
            continue


def _cut(done: Done | None) -> APIError:
    """An answer the server cancelled while its client still waited (the server is stopping, or restarting for
    a settings change): an error, so no client stores the cut text as a whole answer (it said "stop").
    ``done`` is None when the server ended it before the engine did (:class:`Interrupted`)."""
    after = f" after {done.stats.completion_tokens} tokens" if done is not None else ""
    return APIError(503, f"The answer was cut short{after}: the server is stopping or restarting. Send the "
                         "request again.", "server_error", "answer_interrupted")


@dataclass
class _Said:
    """What Hearth says beside an answer, gathered from its events (for a whole answer and for a stream alike):
    the passages it was given, the memories put in its prompt, and its notices (the window shows these under
    the answer; e.g. ``unsupported``: it restates none of the passages)."""

    sources: Sources | None = None
    memories: MemoriesUsed | None = None
    notices: list[Notice] = field(default_factory=list)

    def take(self, event: Event) -> bool:
        """Keep ``event`` if it is one of these (False: it is not)."""
        if isinstance(event, Sources):
            self.sources = event
        elif isinstance(event, MemoriesUsed):
            self.memories = event
        elif isinstance(event, Notice):
            self.notices.append(event)
        else:
            return False
        return True

    def fields(self, done: Done | None) -> dict[str, Any]:
        """Hearth's fields in the answer, with the conversation it was saved in. ``memories``: an answer that
        used them did not say so, where `hearth ask --json` and the window do."""
        extra: dict[str, Any] = {}
        if done is not None and done.conversation_id:
            extra["conversation_id"] = done.conversation_id
        if self.sources is not None:
            extra["citations"] = [fmt.citation(c, c.n in self.sources.cited) for c in self.sources.citations]
        if self.memories is not None and self.memories.memories:
            extra["memories"] = [{"id": m.id, "memory": m.text} for m in self.memories.memories]
        if self.notices:
            extra["notices"] = [n.to_dict() for n in self.notices]
        return extra


async def _first(events: EventStream, request: Request) -> Event | None:
    """The answer's first event; an answer that failed before it began is its error status."""
    try:
        first = await _next_watching(events, request)
    except Interrupted:
        raise _cut(None) from None
    if isinstance(first, Failed):
        raise from_core(first.error_type, first.message)
    return first


async def answer(request: Request, response: Any, shape: fmt.Shape, stream: bool,
                 include_usage: bool = False) -> Response:
    events = EventStream(response, request.app.state.active)
    shape.include_usage = include_usage
    streaming = False
    try:
        try:
            first = await _first(events, request)
        except ClientGone:
            return Response(status_code=499)  # nobody reads it
        # the model loaded now that the answer has begun (its Done says for sure, see Shape.answered_by): one
        # asked for during a model switch waited for it and began on the new model
        shape.model = request.app.state.assistant.model_id()
        if stream:
            streaming = True  # the stream ends it (see _stream)
            return StreamingResponse(_stream(events, first, shape), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return JSONResponse(await _collect(events, request, first, shape))
    finally:
        if not streaming:  # the answer is done, failed before it began, or its client went away (this task was
            events.cancel()  # cancelled): either way
            shape.closed()


async def answer_each(request: Request, responses: Sequence[Any], shape: fmt.Shape) -> Response:
    """Several prompts of one request (``/v1/completions`` with a list: LangChain's batch sends up to 20 so):
    each answered as a request of its own, all at once (the engine decodes them together), one choice each in
    their order, their usage summed. An error in any is the request's."""
    streams = [EventStream(r, request.app.state.active) for r in responses]

    async def whole(events: EventStream) -> dict[str, Any]:
        return await _collect(events, request, await _first(events, request), shape)

    try:
        bodies = await asyncio.gather(*(whole(events) for events in streams), return_exceptions=True)
    finally:
        for events in streams:
            events.cancel()
    if any(isinstance(b, ClientGone) or b == {} for b in bodies):  # nobody reads them
        return Response(status_code=499)
    for failed in (b for b in bodies if isinstance(b, BaseException)):
        raise failed
    used = [b["usage"] for b in bodies]
    usage = {key: sum(u[key] for u in used) for key in ("prompt_tokens", "completion_tokens", "total_tokens")}
    usage["prompt_tokens_details"] = {"cached_tokens": sum(u["prompt_tokens_details"]["cached_tokens"] for u in used)}
    return JSONResponse({**bodies[0], "choices": [{**b["choices"][0], "index": i} for i, b in enumerate(bodies)],
                         "usage": usage})


async def _collect(events: EventStream, request: Request, event: Event | None, shape: fmt.Shape) -> dict[str, Any]:
    done: Done | None = None
    said = _Said()
    while event is not None:
        if isinstance(event, Done):
            done = event
        elif said.take(event):
            pass
        elif isinstance(event, Failed):
            raise from_core(event.error_type, event.message)
        try:
            event = await _next_watching(events, request)
        except ClientGone:
            return {}
        except Interrupted:
            raise _cut(None) from None
    assert done is not None
    s = done.stats
    if s.stop_reason == "cancelled":
        raise _cut(done)
    shape.answered_by(done)
    return shape.full(done, fmt.finish_reason(s.stop_reason), fmt.usage(s), **said.fields(done))


async def _stream(events: EventStream, first: Event | None, shape: fmt.Shape) -> AsyncIterator[bytes]:
    said = _Said()
    event = first
    try:
        for opening in shape.opening():
            yield opening
        while event is not None:
            if isinstance(event, Token) and event.text:
                yield shape.piece(event.text)
            elif said.take(event):
                pass
            elif isinstance(event, Done) and event.stats.stop_reason == "cancelled":
                yield shape.failure(_cut(event).body())
                return  # no [DONE]: the answer did not end
            elif isinstance(event, Done):
                s = event.stats
                shape.answered_by(event)
                # Hearth's fields ride on the finish chunk: a chunk of their own with no choices broke the usual
                # `chunk.choices[0]` loop of clients that did not ask for usage (OpenAI sends `choices: []` only
                # then). With the answer as saved: the [n] Hearth attributed after the model's text streamed
                # (the model cited nothing) are in it, so a client can show what the citations number.
                saved = event.text if said.sources is not None or said.notices else None
                for ending in shape.ending(event, fmt.finish_reason(s.stop_reason), fmt.usage(s), saved,
                                          **said.fields(event)):
                    yield ending
            elif isinstance(event, Failed):
                yield shape.failure(from_core(event.error_type, event.message).body())
                return  # no [DONE] either: the answer did not end
            while True:
                try:
                    event = await events.next(KEEP_ALIVE_S)
                    break
                except TimeoutError:
                    yield fmt.KEEP_ALIVE
                except Interrupted:
                    yield shape.failure(_cut(None).body())
                    return
        if shape.closing:
            yield shape.closing
    finally:
        events.cancel()  # a client that went away stops its answer now; after Done this changes nothing
        shape.closed()
