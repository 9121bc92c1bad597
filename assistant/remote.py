"""Parts that can live on other machines: where they are, how to reach them, and "Test connection".

A part is remote when its URL is set in ``settings.remote`` (empty: the local, embedded part): the Chroma
server that holds knowledge and memory vectors (``chroma_url``, ``chroma_token``), and the OpenAI-compatible
LLM endpoint that answers instead of the local model (``llm_url``, ``llm_api_key``, ``llm_model``; the engine
is :class:`assistant.engine.remote.RemoteEngine`). :func:`check` tests either ("chroma", "llm").

The Chroma server (``chroma run``, or any Chroma 1.x behind a TLS + auth proxy) holds **vectors only**. The
manifest, every chunk's text and the FTS5 keyword index stay in ``data/index-manifest.sqlite3`` on this
machine (FTS5 is SQLite, and the manifest describes this machine's files), and mem0's history and the
learning queue stay in ``data/memory/``. Collections on the server are named with this install's id
(``hearth-<install id>-<collection>``, ``hearth-<install id>-memory-<embedder>``), so several computers can
share one server without touching each other's vectors; the id is made once, in ``data/install-id``.

Failures never surface as library exceptions: :meth:`ChromaTarget.errors` turns them into one
:class:`~assistant.errors.RemoteError` sentence that names the URL and what to check (refused, unknown host,
timeout, untrusted TLS certificate, plain HTTP on an https URL, a missing or refused token, not a Chroma
server).
"""

from __future__ import annotations

import os
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from assistant.config import RemoteSettings
from assistant.errors import HearthError, InputError, RemoteError
from assistant.lazy import PYDANTIC_IMPORTS
from assistant.paths import Paths

if TYPE_CHECKING:
    import chromadb

#: Seconds to wait for a TCP (and TLS) connection, and for any one answer once connected. Chroma's own
#: client waits forever; an unreachable server must end in a sentence, not a hung window.
CONNECT_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 120.0
#: "Test connection" waits less: the user is looking at the button.
CHECK_TIMEOUT_S = 5.0
#: Chroma's HTTP API prefix (``chroma run`` 1.x serves v2; heartbeat and version need no credentials).
API_PATH = "/api/v2"
#: Ports when the URL names none: ``chroma run``'s default for http, the TLS default for https (a proxy).
DEFAULT_PORTS = {"http": 8000, "https": 443}


@dataclass(frozen=True)
class RemoteCheck:
    """What "Test connection" found: ``ok``, a sentence to show, and the round trip (None when it failed)."""

    ok: bool
    message: str
    latency_ms: float | None = None
    #: what `hearth remote test` exits with: 0 when ok, else the failure's own (6 unreachable or refused, 2 an
    #: unusable URL), 1 when the part is not set up (every failure was 1: a script could not tell them apart)
    exit_code: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- the install id -------------------------------------------------------------------------------------
def install_id(paths: Paths) -> str:
    """A stable id for this Hearth install (its data folder), made on first use; names its server collections.

    Written to a temporary file and hard-linked into place, so two processes starting at once agree on one
    id and no reader ever sees a half-written file.
    """
    path = paths.data_dir / "install-id"
    with suppress(FileNotFoundError):
        if text := path.read_text(encoding="ascii").strip():
            return text
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".install-id.{os.getpid()}.{uuid.uuid4().hex[:6]}")
    tmp.write_text(uuid.uuid4().hex[:12] + "\n", encoding="ascii")
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process was first: its id wins
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text(encoding="ascii").strip()


def chroma_prefix(paths: Paths) -> str:
    """Prefix of this install's collections on a Chroma server (never used for the embedded store)."""
    return f"hearth-{install_id(paths)}-"


# ---- the Chroma server --------------------------------------------------------------------------------
def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


@dataclass(frozen=True)
class ChromaTarget:
    """A Chroma server: parsed from ``remote.chroma_url`` (``http[s]://HOST[:PORT][/PATH]``) and the token."""

    url: str  # as configured (without a trailing slash): every message names it
    host: str
    port: int
    ssl: bool
    path: str = ""  # a reverse proxy that serves Chroma under a path ("/chroma"); "" for the root
    token: str = field(default="", repr=False)

    @classmethod
    def parse(cls, url: str, token: str = "") -> ChromaTarget:
        text = url.strip().rstrip("/")
        usage = (f"The Chroma server URL {url!r} (remote.chroma_url) is not usable: write it as "
                 "http://HOST:PORT or https://HOST[:PORT][/PATH]")
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise InputError(f"{usage} ({exc}).") from None
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise InputError(f"{usage}.")
        if parts.username or parts.password:
            raise InputError(f"{usage}, without a user name or password in it (put a token in remote.chroma_token).")
        if parts.query or parts.fragment:
            raise InputError(f"{usage}, without '?' or '#' parts.")
        return cls(text, parts.hostname, port or DEFAULT_PORTS[parts.scheme], parts.scheme == "https",
                   parts.path.rstrip("/"), token.strip())

    @classmethod
    def from_settings(cls, remote: RemoteSettings) -> ChromaTarget | None:
        """The configured server, or None for the embedded store (an empty URL)."""
        return cls.parse(remote.chroma_url, remote.chroma_token) if remote.chroma_url.strip() else None

    @property
    def _netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        return f"{host}:{self.port}"

    @property
    def api(self) -> str:
        """The API root, e.g. ``https://chroma.lan:443/chroma/api/v2``."""
        return f"{'https' if self.ssl else 'http'}://{self._netloc}{self.path}{API_PATH}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def describe(self) -> str:
        return f"the Chroma server at {self.url}"

    # ---- failures in words --------------------------------------------------------------------------
    def failure(self, exc: BaseException) -> str:
        """One sentence for a failed call to this server: what happened and what to check."""
        import httpx
        from chromadb.errors import AuthorizationError, ChromaAuthError, ChromaError

        chain = _chain(exc)
        text = " | ".join(str(e) for e in chain)
        detail = next((str(e) for e in chain if str(e)), type(exc).__name__)
        status = next((e.response.status_code for e in chain if isinstance(e, httpx.HTTPStatusError)), None)
        url = self.url
        if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or "CERTIFICATE_VERIFY_FAILED" in text:
            return (f"The Chroma server at {url} presented a TLS certificate this computer does not trust ({detail}). "
                    "Use a certificate from a public authority, or set SSL_CERT_FILE to your own CA's certificate.")
        if any(isinstance(e, ssl.SSLError) for e in chain) or "[SSL" in text:
            return (f"No TLS connection could be made to the Chroma server at {url} ({detail}); if it serves "
                    "plain HTTP, use an http:// URL.")
        if status in (401, 403) or any(isinstance(e, ChromaAuthError | AuthorizationError) for e in chain):
            code = f"HTTP {status}" if status else type(exc).__name__
            if not self.token:
                # (a llama-server's port answers so too: the URL may be what is wrong)
                return (f"The Chroma server at {url} asks for a token ({code}) and none is set: put it in "
                        "remote.chroma_token, or, if another program serves that port, check the URL.")
            return f"The Chroma server at {url} refused the token in remote.chroma_token ({code})."
        if any(isinstance(e, ConnectionRefusedError) for e in chain) or "Connection refused" in text:
            return (f"Cannot reach the Chroma server at {url}: the connection was refused (nothing listens on "
                    f"port {self.port} of {self.host}; is `chroma run` running there?).")
        if any(isinstance(e, socket.gaierror) for e in chain) or any(
                s in text for s in ("Name or service not known", "nodename nor servname", "getaddrinfo failed",
                                    "No address associated", "Temporary failure in name resolution")):
            return f"Cannot reach the Chroma server at {url}: the host name {self.host!r} is not known."
        if any(isinstance(e, httpx.TimeoutException | TimeoutError) for e in chain):
            return (f"The Chroma server at {url} did not answer in time (is the host up, and the port open in "
                    "its firewall?).")
        if any(isinstance(e, httpx.TransportError | ConnectionError) for e in chain) \
                or "Could not connect to a Chroma server" in text:
            return f"Cannot reach the Chroma server at {url} ({detail})."
        if status == 404:
            return (f"{url} answered HTTP 404: there is no Chroma server with the v2 API there (check the URL's "
                    "port and path).")
        if status is not None:
            body = " ".join(str(exc).split())[:200]
            return f"The Chroma server at {url} answered HTTP {status}{f': {body}' if body else ''}."
        if isinstance(exc, ChromaError):
            return f"The Chroma server at {url} refused the request: {exc}."
        return f"The Chroma server at {url} failed: {type(exc).__name__}: {exc}."

    @staticmethod
    def from_server(exc: BaseException) -> bool:
        """Whether ``exc`` came from talking to a server (HTTP, TLS, a socket, Chroma's answer), not from
        this process's own set-up."""
        import httpx
        from chromadb.errors import ChromaError

        return any(isinstance(e, httpx.HTTPError | ChromaError | ssl.SSLError | ConnectionError | socket.gaierror)
                   or "Could not connect to a Chroma server" in str(e) for e in _chain(exc))

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn a failed call into a RemoteError sentence; "no such collection" passes (an answer, not a
        failure: callers handle it)."""
        from chromadb.errors import NotFoundError

        try:
            yield
        except (HearthError, NotFoundError):
            raise
        except Exception as exc:
            raise RemoteError(self.failure(exc)) from exc

    # ---- reaching it --------------------------------------------------------------------------------
    def probe(self, timeout: float = CONNECT_TIMEOUT_S) -> tuple[float, str]:
        """Heartbeat, version and an authenticated call, each bounded by ``timeout``; returns (warm heartbeat
        round trip in ms, server version). Raises RemoteError with the reason."""
        import httpx

        with self.errors(), httpx.Client(timeout=httpx.Timeout(timeout), headers=self.headers) as http:
            beat = http.get(f"{self.api}/heartbeat")
            beat.raise_for_status()
            try:
                is_chroma = "nanosecond heartbeat" in beat.json()
            except ValueError:
                is_chroma = False
            if not is_chroma:
                raise RemoteError(f"{self.url} answers, but not as a Chroma server (no heartbeat at "
                                  f"{self.api}/heartbeat): check the URL's port and path.")
            version = http.get(f"{self.api}/version")
            version.raise_for_status()
            # heartbeat and version are open even where Chroma's own auth is on: this one is not
            http.get(f"{self.api}/auth/identity").raise_for_status()
            start = time.perf_counter()
            http.get(f"{self.api}/heartbeat").raise_for_status()
            return (time.perf_counter() - start) * 1000, str(version.json())

    def open_client(self) -> chromadb.ClientAPI:
        """A ``chromadb.HttpClient`` for this server (checked first, with bounded waits and clear failures)."""
        self.probe()
        import httpx

        with PYDANTIC_IMPORTS, self.errors():  # errors() imports chromadb too
            import chromadb

            host = f"{'https' if self.ssl else 'http'}://{self._netloc}{self.path}" if self.path else self.host
            client = chromadb.HttpClient(host=host, port=self.port, ssl=self.ssl, headers=dict(self.headers),
                                         settings=chromadb.Settings(anonymized_telemetry=False))
        session = getattr(getattr(client, "_server", None), "_session", None)
        if isinstance(session, httpx.Client):  # chromadb's own requests would otherwise wait forever
            session.timeout = httpx.Timeout(REQUEST_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        return client

    def guard(self, obj: Any) -> Any:
        return ChromaGuard(obj, self.errors)


class ChromaGuard:
    """A Chroma client or collection whose calls fail with one sentence: ``errors`` turns what a call raised
    into it (a server's failures into a RemoteError, see :meth:`ChromaTarget.errors`; a damaged embedded store
    into the store's own error); collections it returns are guarded too."""

    __slots__ = ("_errors", "_inner")

    def __init__(self, inner: Any, errors: Callable[[], AbstractContextManager[None]]) -> None:
        self._inner, self._errors = inner, errors

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value) or isinstance(value, type):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            from chromadb.api.models.Collection import Collection

            with self._errors():
                result = value(*args, **kwargs)
            return ChromaGuard(result, self._errors) if isinstance(result, Collection) else result

        return call

    def __repr__(self) -> str:
        return f"ChromaGuard({self._inner!r})"


# ---- "Test connection" ---------------------------------------------------------------------------------
def check_chroma(remote: RemoteSettings) -> RemoteCheck:
    if not remote.chroma_url.strip():
        return RemoteCheck(False, "No Chroma server is set (remote.chroma_url is empty): knowledge and memory "
                                  "use the embedded store on this computer.", exit_code=1)
    try:
        target = ChromaTarget.parse(remote.chroma_url, remote.chroma_token)
        latency_ms, version = target.probe(CHECK_TIMEOUT_S)
    except HearthError as exc:
        return RemoteCheck(False, str(exc), exit_code=exc.exit_code)
    token = ", token accepted" if target.token else ""
    return RemoteCheck(True, f"Chroma {version} at {target.url} answers{token} ({latency_ms:.1f} ms a round trip).",
                       round(latency_ms, 2))


# ---- the LLM endpoint -----------------------------------------------------------------------------------
def check_llm(remote: RemoteSettings) -> RemoteCheck:
    """The OpenAI-compatible endpoint in ``remote.llm_url``: its model list (the model to use is on it), then
    one greedy 1-token chat completion; the latency is that completion's round trip."""
    if not remote.llm_url.strip():
        return RemoteCheck(False, "No remote LLM is set (remote.llm_url is empty): answers come from the local "
                                  "model on this computer.", exit_code=1)
    from assistant.engine import GREEDY, Message
    from assistant.engine.remote import RemoteEngine
    from assistant.events import Done

    try:
        engine = RemoteEngine.from_settings(remote)
    except HearthError as exc:
        return RemoteCheck(False, str(exc), exit_code=exc.exit_code)
    try:
        start = time.perf_counter()
        info = engine.connect()
        listed_ms = (time.perf_counter() - start) * 1000
        _, prompt = engine.render([Message("user", "Say OK.")])
        start = time.perf_counter()
        done = next(e for e in engine.generate(prompt, GREEDY, max_tokens=1) if isinstance(e, Done))
        latency_ms = (time.perf_counter() - start) * 1000
    except HearthError as exc:
        return RemoteCheck(False, str(exc), exit_code=exc.exit_code)
    finally:
        engine.unload()
    key = ", API key accepted" if remote.llm_api_key else ""
    answered = f"answered {done.text!r}" if done.text.strip() else "answered"
    return RemoteCheck(True, f"{info.name} at {engine.url} {answered} in {latency_ms:.0f} ms (1 token; the model "
                             f"list took {listed_ms:.0f} ms){key}; context {info.context_length} tokens.",
                       round(latency_ms, 2))


#: "Test connection" per remote part: ``part -> check(settings.remote)``. A new part adds one line here.
CHECKS: dict[str, Callable[[RemoteSettings], RemoteCheck]] = {
    "chroma": check_chroma,
    "llm": check_llm,
}


def check(part: str, remote: RemoteSettings) -> RemoteCheck:
    """Test the remote ``part`` ("chroma", ...) as ``remote`` configures it; never raises for a failed
    connection (that is ``ok=False`` with the reason), only for an unknown part."""
    checker = CHECKS.get(part)
    if checker is None:
        raise InputError(f"Unknown remote part {part!r}: one of {', '.join(CHECKS)}.")
    return checker(remote)
