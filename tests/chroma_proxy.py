"""A reverse proxy in front of a real ``chroma run``, as README's Caddy/nginx examples put one: it checks a
bearer token on every request, serves Chroma under a path prefix, and optionally speaks TLS with a
self-signed certificate (made with the ``openssl`` command). Requests it lets through are forwarded as they
are, so the Chroma client talks to the real server behind it.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx


@dataclass
class AuthProxy:
    upstream: str  # e.g. http://127.0.0.1:PORT (a `chroma run`)
    token: str
    prefix: str = "/chroma"
    cert: Path | None = None  # TLS when set (with ``key``)
    key: Path | None = None
    url: str = ""
    refused: int = 0  # requests answered 401
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)

    def start(self) -> AuthProxy:
        proxy, client = self, httpx.Client(timeout=60)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.headers.get("Authorization") != f"Bearer {proxy.token}":
                    proxy.refused += 1
                    self._answer(401, b"Unauthorized")
                    return
                if not self.path.startswith(proxy.prefix + "/"):
                    self._answer(404, b"Not Found")
                    return
                up = client.request(self.command, proxy.upstream + self.path[len(proxy.prefix):], content=body,
                                    headers={"Content-Type": self.headers.get("Content-Type", "application/json")})
                self._answer(up.status_code, up.content, up.headers.get("Content-Type", "application/json"))

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        scheme = "http"
        if self.cert is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.cert, self.key)
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}{self.prefix}"
        threading.Thread(target=self._server.serve_forever, name="chroma-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def self_signed_cert(folder: Path) -> tuple[Path, Path] | None:
    """(certificate, key) for 127.0.0.1 and localhost, or None where there is no ``openssl`` command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    return cert, key
