"""Who may call the API: a bearer token on every ``/v1`` route, and only the Host names this server answers to.

The token is required on 127.0.0.1 too. "Local" is not "trusted": other programs and other users of this
computer can reach a loopback port, and so can any web page the user opens (a browser sends requests to
localhost for it). The Host check stops DNS rebinding: a page whose own name resolves to 127.0.0.1 still
sends its name as the Host, which this server refuses.
"""

from __future__ import annotations

import secrets
import socket
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.server.errors import APIError
from assistant.server.runner import LOOPBACK


class RequireToken:
    """ASGI middleware: every ``/v1`` request carries ``Authorization: Bearer <settings.server.token>`` or gets
    401, before anything else about it is looked at (its body included). The token is read at each request,
    so a new one applies at once; with no token set, nothing is let in."""

    def __init__(self, app: ASGIApp, assistant: Any) -> None:
        self.app, self.assistant = app, assistant

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1") and not self._allowed(Headers(scope=scope)):
            error = APIError(401, "Invalid or missing API token: send the header `Authorization: Bearer TOKEN` "
                                  "(`hearth serve --show-token` prints the token).", code="invalid_api_key")
            await error.response()(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, headers: Headers) -> bool:
        expected = self.assistant.settings.server.token
        scheme, _, given = headers.get("authorization", "").partition(" ")
        return bool(expected) and scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(),
                                                                                         expected.encode())


def _literal(address: str) -> str:
    """An address as it appears in a Host header (IPv6 in brackets)."""
    return f"[{address.split('%')[0]}]" if ":" in address else address


def allowed_hosts(bound: str) -> list[str]:
    """The Host names requests may carry: loopback names always; bound to another address, that address, and
    for the wildcard addresses every address of this computer, plus its host names and Docker's name for it."""
    hosts = {"localhost", "127.0.0.1", "[::1]"}
    if bound not in LOOPBACK:
        if bound in ("0.0.0.0", "::", ""):
            import psutil

            for addresses in psutil.net_if_addrs().values():
                hosts.update(_literal(a.address) for a in addresses if a.family in (socket.AF_INET, socket.AF_INET6))
        else:
            hosts.add(_literal(bound))
        name = socket.gethostname()
        # and the name a Docker container reaches its host by (Open WebUI, n8n and AnythingLLM say to use it): no
        # site's DNS can answer for it, so it is no rebinding's way in
        hosts.update({name, f"{name}.local", socket.getfqdn(), "host.docker.internal"})
    return sorted(h.lower() for h in hosts if h)
