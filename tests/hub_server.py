"""A tiny valid GGUF writer, and a local HTTP server on 127.0.0.1 that answers like the Hugging Face Hub.

The fake Hub serves ``/{repo}/resolve/{revision}/{file}`` with the headers huggingface_hub's
``get_hf_file_metadata`` and ``http_get`` rely on (X-Repo-Commit, ETag/X-Linked-Etag, X-Linked-Size,
Content-Length, Range/206), records every request, and can misbehave on purpose: drop the connection after
N bytes (once), or stall after N bytes until the test releases it. For ``HfApi`` it answers the search
(``/api/models?search=...``) and a repository's file tree (``/api/models/{repo}/tree/{revision}``) with the
fields huggingface_hub reads. The CLI and GUI tests import this module too (it is not a conftest).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote

import gguf
import numpy as np

COMMIT = "0123456789abcdef0123456789abcdef01234567"
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
_TREE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)$")


def write_tiny_gguf(path: Path, name: str = "Tiny Test", rows: int = 1024) -> Path:
    """A valid llama-architecture GGUF of ~``rows`` * 256 bytes: enough header for read_model_info."""
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(name)
    w.add_context_length(256)
    w.add_block_count(2)
    w.add_embedding_length(64)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_token_list(["<s>", "</s>", "a", "b"])
    w.add_chat_template("{% for m in messages %}{{ m.content }}{% endfor %}")
    rng = np.random.default_rng(0)
    w.add_tensor("token_embd.weight", rng.standard_normal((4, 64)).astype(np.float32))
    w.add_tensor("blk.0.attn_q.weight", rng.standard_normal((rows, 64)).astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@dataclass
class FakeHub:
    url: str = ""
    files: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)  # (repo, file) -> (data, etag)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, Range)
    drop_after: int | None = None  # the next GET sends this many bytes, then closes the connection
    stall_after: int | None = None  # the next GET sends this many bytes, then waits for `release`
    release: threading.Event = field(default_factory=threading.Event)
    stalled: threading.Event = field(default_factory=threading.Event)

    def add(self, repo: str, file: str, data: bytes, etag: str | None = None) -> str:
        """Serve ``data``; ``etag`` defaults to its sha256, as the Hub does for LFS files."""
        self.files[(repo, file)] = (data, etag or hashlib.sha256(data).hexdigest())
        return hashlib.sha256(data).hexdigest()

    def search(self, query: str) -> list[dict[str, object]]:
        """``/api/models``: repositories whose id contains ``query``, as the Hub lists them."""
        repos = sorted({repo for repo, _file in self.files if query.lower() in repo.lower()})
        return [{"id": repo, "downloads": 1000 - i, "likes": 7, "tags": ["gguf"]} for i, repo in enumerate(repos)]

    def tree(self, repo: str) -> list[dict[str, object]]:
        """``/api/models/{repo}/tree/{rev}``: every file with its size, git oid and LFS sha256."""
        return [{"type": "file", "path": file, "size": len(data), "oid": hashlib.sha1(data).hexdigest(),
                 "lfs": {"oid": etag, "size": len(data), "pointerSize": 134}}
                for (r, file), (data, etag) in self.files.items() if r == repo]

    def gets(self) -> list[str | None]:
        """The Range header of every GET, in order (None: a full download)."""
        return [rng for method, _path, rng in self.requests if method == "GET"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    def log_message(self, *_args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        hub: FakeHub = self.server.hub  # type: ignore[attr-defined]
        path, _, query = self.path.partition("?")
        if path == "/api/models":
            hub.requests.append(("API", self.path, None))  # kept apart from file GETs
            self._json(hub.search(parse_qs(query).get("search", [""])[0]))
        elif m := _TREE.match(path):
            hub.requests.append(("API", self.path, None))  # kept apart from file GETs
            self._json(hub.tree(unquote(m["repo"])))
        else:
            self._serve(body=True)

    def _json(self, data: object) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _serve(self, body: bool) -> None:
        hub: FakeHub = self.server.hub  # type: ignore[attr-defined]
        hub.requests.append((self.command, self.path, self.headers.get("Range")))
        m = _RESOLVE.match(self.path.split("?")[0])
        found = hub.files.get((m["repo"], m["file"])) if m else None
        if found is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data, etag = found
        start = int(re.match(r"bytes=(\d+)-", self.headers.get("Range", "bytes=0-"))[1])
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{etag}"')
        self.send_header("X-Linked-Etag", f'"{etag}"')
        self.send_header("X-Linked-Size", str(len(data)))
        self.send_header("Accept-Ranges", "bytes")
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if not body:
            return
        payload = data[start:]
        if hub.drop_after is not None:
            cut, hub.drop_after = hub.drop_after, None
            self.wfile.write(payload[:cut])
            self.wfile.flush()
            self.close_connection = True  # the body ends early: the client sees a broken transfer
            return
        if hub.stall_after is not None:
            cut, hub.stall_after = hub.stall_after, None
            self.wfile.write(payload[:cut])
            self.wfile.flush()
            hub.stalled.set()
            hub.release.wait(10)
            payload = payload[cut:]
        self.wfile.write(payload)


@contextmanager
def serve_hub() -> Iterator[FakeHub]:
    """A fake Hub on a free port of 127.0.0.1 for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    hub = FakeHub(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.hub = hub  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        hub.release.set()
        server.shutdown()
        server.server_close()
