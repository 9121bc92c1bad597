"""The API server's life: bind the socket first (a busy port is a clear error, not a traceback), then serve it
with uvicorn on a background thread, so ``hearth serve`` and the desktop app run it the same way.

The socket is bound here and handed to uvicorn: nothing can take the port between the check and the start,
and a port that is taken is reported before anything else happens. ``SO_REUSEADDR`` on POSIX (as uvicorn and
asyncio set it: a restarted server may reuse a port whose old connections are in TIME_WAIT, never one another
program listens on); on Windows ``SO_EXCLUSIVEADDRUSE`` instead, where ``SO_REUSEADDR`` would steal a port.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.config import host_port, local_url
from assistant.errors import PortInUseError, ServerError

if TYPE_CHECKING:
    from assistant.core import Assistant

log = logging.getLogger(__name__)

#: Loopback names: a server bound to one of these is reachable from this computer only.
LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: How long streams may take to end when the server stops (they are cancelled first, so this is a bound).
_GRACE_S = 3


@dataclass(frozen=True)
class ServerStatus:
    """Where the API server listens, or why it stopped. ``url`` is what a client on this computer uses
    (``base_url`` for OpenAI clients is ``url + "/v1"``)."""

    running: bool
    url: str = ""
    host: str = ""
    port: int = 0
    parallel: int = 0
    error: str = ""
    #: answers being generated for clients now (the window shows it: an Apply then cuts them)
    answering: int = 0

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1" if self.url else ""

    @property
    def network(self) -> bool:
        """Bound to an address other computers can reach."""
        return bool(self.host) and self.host not in LOOPBACK


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (0: any free port), or PortInUseError / ServerError saying why not."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ServerError(f"cannot listen on {host!r}: not an address of this computer ({exc})") from None
    sock = socket.socket(family, kind, proto)
    try:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        elif hasattr(socket, "SO_EXCLUSIVEADDRUSE"):  # Windows
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        if family == socket.AF_INET6 and host in ("::", ""):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(f"port {port} is already in use ({_holder(host, port)})") from None
        if exc.errno == errno.EACCES:
            raise ServerError(f"no permission to listen on port {port} (ports below 1024 need administrator "
                              "rights); choose a port above 1024") from None
        raise ServerError(f"cannot listen on {host_port(host, port)}: {exc.strerror or exc}") from None
    return sock


def _holder(host: str, port: int) -> str:
    """Who holds a busy port, as far as can be told: a Hearth API server answers ``/health`` as Hearth (it was
    "by another program" when it was the user's own `hearth serve`, or the window's server, on this port)."""
    import http.client
    import json

    connection = http.client.HTTPConnection(local_url(host, port).removeprefix("http://"), timeout=1.0)
    try:
        connection.request("GET", "/health")
        said = json.loads(connection.getresponse().read(4096))
    except (OSError, ValueError, http.client.HTTPException):
        said = None
    finally:
        connection.close()
    if isinstance(said, dict) and said.get("service") == "hearth":
        return "by a Hearth API server already running: `hearth serve` in another terminal, or the window's"
    return "by another program"


class ServerHandle:
    """One running API server: uvicorn on a background thread, serving ``assistant`` on a bound socket."""

    def __init__(self, assistant: Assistant, host: str, sock: socket.socket) -> None:
        self.assistant, self.host, self._sock = assistant, host, sock
        self.port: int = sock.getsockname()[1]
        import uvicorn

        from assistant.server.app import create_app

        self.app = create_app(assistant, host)  # FastAPI builds its pydantic schemas (see Assistant.start_server)
        # `hearth -v serve`: a line per request, and why one was refused (APIError.response), for a developer
        # wiring a tool to it (nothing was said: a 401 or a 400 was seen only by the client)
        verbose = logging.getLogger().isEnabledFor(logging.INFO)
        config = uvicorn.Config(self.app, log_config=None, log_level="info" if verbose else "warning",
                                access_log=verbose, lifespan="off", timeout_graceful_shutdown=_GRACE_S,
                                server_header=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="hearth-api-server", daemon=True)
        self.error = ""

    @classmethod
    def start(cls, assistant: Assistant, host: str, port: int, timeout_s: float = 20.0) -> ServerHandle:
        """Bind ``host:port`` and serve; returns once the server accepts requests."""
        sock = bind(host, port)
        try:
            handle = cls(assistant, host, sock)
        except BaseException:
            sock.close()
            raise
        handle._thread.start()
        deadline = time.monotonic() + timeout_s
        while not handle._server.started and handle._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not handle._server.started:
            handle.stop()
            raise ServerError(f"the API server did not start: {handle.error or 'it took too long'}")
        return handle

    def _serve(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # uvicorn may even sys.exit(); the thread must end with the reason kept
            self.error = f"{type(exc).__name__}: {exc}"
            log.info("the API server stopped:", exc_info=True)
        finally:
            self._sock.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and self._server.started and not self._server.should_exit

    @property
    def url(self) -> str:
        return local_url(self.host, self.port)

    def status(self) -> ServerStatus:
        running = self.running
        return ServerStatus(running, self.url if running else "", self.host, self.port,
                            self.assistant.parallel_requests, self.error, len(self.app.state.active))

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the server stops (True) or ``timeout_s`` passes (False)."""
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Cancel the answers in flight, stop accepting, and wait for the server thread to end."""
        cancel_all: Any = getattr(self.app.state, "cancel_all", None)
        if cancel_all is not None:
            cancel_all()
        self._server.should_exit = True
        if self._thread.is_alive() and not self.wait(_GRACE_S + 2):
            self._server.force_exit = True
            self.wait(2)
