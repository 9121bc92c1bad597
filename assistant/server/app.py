"""The FastAPI application: who may call it, what it answers, and errors in OpenAI's shape.

Layers, outermost first: the Host check (DNS rebinding), CORS (no browser origin allowed but those in
``settings.server.cors_origins``), the bearer token on every ``/v1`` path, a catch-all that turns a bug into one
500 line (never a traceback to the client), then the routes (``/health`` needs no token). Nothing here
serialises requests: each runs its answer on its own thread, and the engine decides how they share the model.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette._utils import parse_host_header
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant import __version__
from assistant.config import browser_origins
from assistant.errors import HearthError
from assistant.server import catalog, chat, completions, responses
from assistant.server.auth import RequireToken, allowed_hosts
from assistant.server.errors import APIError, from_core, internal
from assistant.server.schemas import LONE_SURROGATE

if TYPE_CHECKING:
    from assistant.core import Assistant

log = logging.getLogger(__name__)


def create_app(assistant: Assistant, host: str) -> FastAPI:
    """The API over ``assistant``, for a server bound to ``host`` (which Host headers it accepts)."""
    # no redirect for a trailing slash: clients do not follow a POST's 307, and saw an empty answer; the 404
    # names the routes there are (see _http_error)
    app = FastAPI(title="Hearth", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                  redirect_slashes=False)
    app.state.assistant = assistant
    app.state.started = int(time.time())
    active: set[Any] = set()  # the answers being generated (EventStreams), ended when the server stops
    app.state.active = active
    app.state.cancel_all = lambda: [events.interrupt() for events in list(active)]

    # for previous_response_id (see server/responses.py)
    app.state.responses = responses.KeptResponses(assistant.kept_responses)

    routers = (catalog.public, chat.router, completions.router, responses.router, catalog.router)
    for router in routers:
        app.include_router(router)
    # what a request for any other route is told (see _http_error): reads first, then writes, then deletes
    methods = ("GET", "HEAD", "POST", "DELETE")
    served = {(methods.index(method), f"{method} {route.path_format}") for router in routers
              for route in router.routes if isinstance(route, APIRoute) for method in route.methods}
    app.state.served = [route for _, route in sorted(served)]

    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(HearthError, _core_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)

    app.add_middleware(_CatchAll)
    app.add_middleware(RequireToken, assistant=assistant)  # inside CORS: a browser can read the 401
    origins = browser_origins(assistant.settings.server.cors_origins)
    # always there, with no origin allowed unless some are set: a browser's preflight was otherwise told that
    # its token was missing (a preflight never carries one). Any request header: the origins are what is
    # restricted, and OpenAI's JavaScript SDK sends its own (x-stainless-os, -lang, -retry-count...), whose
    # preflight was refused ("Disallowed CORS headers")
    app.add_middleware(_Cors, allow_origins=origins, allow_methods=list(_CORS_METHODS), allow_headers=["*"],
                       max_age=600)
    app.add_middleware(_HostCheck, allowed_hosts=allowed_hosts(host))
    return app


class _HostCheck:
    """Only requests whose Host header names this server (DNS rebinding: a web page must not reach the API under
    its own domain name), refused in OpenAI's error shape: Starlette's check answered in plain text, which a
    client behind a proxy that rewrites Host could not read as an error."""

    def __init__(self, app: ASGIApp, allowed_hosts: list[str]) -> None:
        self.app, self.allowed = app, {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("host", "")
        parsed = parse_host_header(given)
        if parsed is not None and parsed.host.lower() in self.allowed:
            await self.app(scope, receive, send)
            return
        # the names it accepts are not listed: this is said before the token is checked, to anyone
        message = (f"The Host header {given!r} is not a name of this server (a guard against DNS rebinding): call "
                   "it by the address it listens on, or localhost; a reverse proxy must pass one of those as Host.")
        await APIError(400, message, code="invalid_host").response()(scope, receive, send)


_CORS_METHODS = ("GET", "POST", "OPTIONS")


class _Cors(CORSMiddleware):
    """Starlette's CORS, with a refused preflight said in OpenAI's error shape: it answered "Disallowed CORS
    origin" in plain text, which no client reads as an error, and which did not say what to change. A request
    that is not a preflight is served as before: the browser withholds the answer from a page whose origin the
    answer does not name."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        origin = request_headers["origin"]
        refused = [] if self.is_allowed_origin(origin) else [
            f"web pages from {origin!r} may not call this API: add that origin to the browser origins the server "
            "allows (Settings → Server → Browser origins, or `cors_origins` under [server] in settings.toml)"]
        if (method := request_headers["access-control-request-method"]) not in self.allow_methods:
            refused.append(f"a browser may send {', '.join(_CORS_METHODS)} to it, not {method}")
        if "access-control-request-private-network" in request_headers:  # Chrome's Private Network Access
            refused.append("a public web page may not reach it on this computer's network")
        message = ("Cross-origin request refused: " + "; ".join(refused or [bytes(response.body).decode()]) + ".")
        code = "origin_not_allowed" if not self.is_allowed_origin(origin) else "cors_refused"
        headers = {k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")}
        return APIError(403 if code == "origin_not_allowed" else 400, message, code=code).response(headers)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, APIError)
    return exc.response()


async def _core_error(_request: Request, exc: Exception) -> JSONResponse:
    return from_core(type(exc).__name__, str(exc)).response()


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":  # its loc is a character offset, not a field
        return APIError(400, f"Invalid request: the body is not valid JSON ({first.get('ctx', {}).get('error', '')} "
                             f"at character {first.get('loc', ('', '?'))[-1]}).").response()
    content_type = request.headers.get("content-type", "")
    if first.get("loc") == ("body",) and "json" not in content_type:
        return APIError(400, "Invalid request: send the body as JSON, with the header Content-Type: "
                             f"application/json (this one was {content_type or 'not given'}).").response()
    if first.get("loc") == ("body",) and first.get("type") == "missing":  # no body at all: said as for "{}"
        errors = _errors_of_an_empty_object(request)
    said: dict[str, list[str]] = {}  # field -> what is wrong with it (a union's members each say theirs)
    for e in errors:
        # a string that is not text is found in the whole body, and its error carries the field it is in: it was
        # said as "Value error, …" with no param
        where = e["ctx"]["field"] if e.get("type") == LONE_SURROGATE else _field(e.get("loc", ()))
        said.setdefault(where, []).append(_problem(e))
    problems = [(f"{where}: " if where else "") + " or ".join(dict.fromkeys(msgs)) for where, msgs in said.items()]
    param = next((where for where in said if where), None)
    return APIError(400, "Invalid request: " + "; ".join(problems[:5]) + ".", param=param).response()


def _errors_of_an_empty_object(request: Request) -> list[Any]:
    """What the route's body model says of ``{}``: the fields it needs. An empty body was told "Field
    required." alone, naming no field."""
    try:
        request.scope["route"].body_field.field_info.annotation.model_validate({})
    except ValidationError as exc:
        return exc.errors()
    return []


def _problem(error: Any) -> str:
    """What is wrong with a field, in pydantic's words, except for NaN and Infinity: pydantic's "Input should
    be a finite number" did not say that those (which Python's JSON reader takes, and JSON has not) are what
    was sent."""
    if error.get("type") != "finite_number":
        return str(error.get("msg", "invalid"))
    value = error.get("input")
    sent = "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"
    return f"Input should be a number, and {sent} is not one (JSON has no NaN or Infinity): send a finite number"


#: The parts of a validation error's location that name a member of a union type, not a field ("str",
#: "list[str]", "function-after[...]", a model's class name): shown, they made a field up ("prompt.str").
_UNION_MEMBER = re.compile(r"^(str|int|float|bool|list|dict|none)$|[\[\-]|^[A-Z]")


def _field(loc: tuple) -> str:
    """The request field an error is about, as a client names it: "messages.0.content"."""
    return ".".join(str(p) for p in loc[1 if loc[:1] == ("body",) else 0:]
                    if not (isinstance(p, str) and _UNION_MEMBER.search(p)))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own refusals in OpenAI's shape; a route that is not Hearth's says which ones are (it said
    "Not Found", which a client's log could not act on)."""
    assert isinstance(exc, HTTPException)
    message = str(exc.detail)
    cause = exc.__cause__
    if exc.detail == "There was an error parsing the body" and isinstance(cause, UnicodeDecodeError):
        message = (f"Invalid request: the body is not UTF-8 text (byte 0x{cause.object[cause.start]:02x} at "
                   f"position {cause.start}): send the JSON encoded as UTF-8.")
    elif exc.detail == "There was an error parsing the body" and isinstance(cause, RecursionError):
        message = "Invalid request: the body's JSON is nested too deeply to read."
    if exc.status_code in (404, 405) and exc.detail in ("Not Found", "Method Not Allowed"):
        message = (f"Hearth's API has no {request.method} {request.url.path}; it serves "
                   f"{', '.join(request.app.state.served)}.")
    return APIError(exc.status_code, message).response(exc.headers)


class _CatchAll:
    """Whatever escapes a route is a bug: log one line (details at -v) and answer 500 in OpenAI's shape, or
    just end a stream that had started. Never re-raised: uvicorn would print the traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            log.error("API request %s failed: %s: %s", scope.get("path"), type(exc).__name__, exc)
            log.info("the failure in detail:", exc_info=True)
            if not started:
                await internal(exc).response()(scope, receive, send)
