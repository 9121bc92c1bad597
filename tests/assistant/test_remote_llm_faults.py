"""The remote LLM when the endpoint misbehaves, against a small scripted OpenAI-compatible server on 127.0.0.1:
a stream cut mid-answer, a refused key, an unknown model, a stall, an error event, a server that ignores
``stop``, and a bare server (no /tokenize, /props or log-probabilities) where Hearth estimates and falls back.
The happy paths run against real servers in test_remote_llm.py; these need no model and take milliseconds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Settings
from assistant.core import Assistant
from assistant.engine import GREEDY, Message
from assistant.engine import remote as remote_module
from assistant.engine.remote import DEFAULT_N_CTX, RemoteEngine
from assistant.errors import (
    ContextOverflowError,
    RemoteLLMAuthError,
    RemoteLLMError,
    RemoteLLMModelError,
    RemoteLLMStreamError,
    RemoteLLMTimeoutError,
)
from assistant.events import Done, Failed, Token
from assistant.memory.llm import HearthLLM
from assistant.paths import get_paths


@dataclass
class Script:
    """How the fake endpoint answers. ``pieces``: the streamed text chunks; ``cut_after``: close the connection
    after that many chunks (no finish); ``stall_s``: wait before the first chunk; ``error_event``: send an
    error event after the chunks; ``status``: answer chat requests with this HTTP error and ``error`` body."""

    models: tuple[str, ...] = ("fake-model",)
    key: str = ""
    pieces: tuple[str, ...] = ("Hello", " wor", "ld", ". Bye", " now.")
    cut_after: int | None = None
    stall_s: float = 0.0
    error_event: str = ""
    status: int = 0
    error: dict[str, Any] = field(default_factory=dict)
    answer: str = "Yes"  # the non-streamed reply (log-probability questions: this server gives none)
    drop_next: int = 0  # close this many requests' connections without a word, as an idle kept-alive one is
    bodies: list[dict[str, Any]] = field(default_factory=list)
    quiet_s: float = 0.0  # wait before answering the requests that prepare an answer (llama-server's template...)
    quiet_asked: bool = False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: Script

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, status: int, data: Any) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _authorised(self) -> bool:
        if self.script.key and self.headers.get("Authorization") != f"Bearer {self.script.key}":
            self._json(401, {"error": {"message": "Invalid API Key", "type": "authentication_error"}})
            return False
        return True

    def do_GET(self) -> None:
        if self._dropped() or not self._authorised():
            return
        if self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in self.script.models]})
        else:
            self._json(404, {"detail": "Not Found"})

    def _dropped(self) -> bool:
        if self.script.drop_next:
            self.script.drop_next -= 1
            self.close_connection = True
            return True
        return False

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self._dropped():
            return
        if not self._authorised():
            return
        if self.path != "/v1/chat/completions":
            self.script.quiet_asked = True
            time.sleep(self.script.quiet_s)
            self._json(404, {"detail": "Not Found"})
            return
        s = self.script
        s.bodies.append(body)
        if s.status:
            self._json(s.status, {"error": s.error})
            return
        if not body.get("stream"):
            self._json(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": s.answer},
                                          "finish_reason": "length"}]})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        time.sleep(s.stall_s)

        def send(data: str) -> None:
            self.wfile.write(f"data: {data}\n\n".encode())
            self.wfile.flush()

        for i, piece in enumerate(s.pieces):  # a server that ignores ``stop``: everything is sent
            if s.cut_after is not None and i == s.cut_after:
                self.connection.shutdown(2)  # gone mid-answer: no finish_reason, no [DONE]
                return
            send(json.dumps({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}))
        if s.error_event:
            send(json.dumps({"error": {"message": s.error_event, "type": "server_error"}}))
            return
        send(json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
        send("[DONE]")  # no usage: this server does not give it; Hearth counts


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Script]]:
    script = Script()
    handler = type("Handler", (_Handler,), {"script": script})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", script
    server.shutdown()
    server.server_close()


def _prompt(engine: RemoteEngine, text: str = "Say hello.") -> Any:
    return engine.render([Message("user", text)])[1]


def test_a_stream_cut_mid_answer_fails_clearly_and_keeps_the_partial_answer(endpoint) -> None:
    url, script = endpoint
    script.cut_after = 2
    settings = Settings()
    settings.remote.llm_url = url
    settings.memory.enabled = False
    a = Assistant(get_paths().ensure(), settings)
    try:
        response = a.ask("Say hello.")
        events = list(response)
        failed = response.failed
        assert isinstance(failed, Failed) and failed.error_type == RemoteLLMStreamError.__name__
        assert url in failed.message and "middle of the answer" in failed.message
        assert failed.text == "Hello wor" == "".join(e.text for e in events if isinstance(e, Token))
        saved = a.history.list_conversations()[0]
        answer = a.history.messages(saved.id)[-1]
        assert answer.partial and answer.content == "Hello wor" and "middle of the answer" in answer.stats["error"]
    finally:
        a.close(learning_s=0)


def test_stop_strings_are_enforced_here_even_when_the_server_ignores_them(endpoint) -> None:
    url, script = endpoint
    engine = RemoteEngine(url)
    events = list(engine.generate(_prompt(engine), GREEDY, 50, stop=("ld. B",)))
    done = events[-1]
    assert done.text == "Hello wor" and done.stats.stop_reason == "stop"
    assert "".join(e.text for e in events if isinstance(e, Token)) == "Hello wor"  # "ld" was held back, never shown
    assert script.bodies[-1]["stop"] == ["ld. B"]  # ...and the server was told too
    assert done.stats.completion_tokens == 4  # no usage from this server: the chunks were counted


def test_a_connection_closed_without_an_answer_is_tried_once_more(endpoint) -> None:
    """llama-server closes kept-alive connections it finds idle: the next request on one failed with "Server
    disconnected without sending a response" (a CI run of the real-server tests on a busy machine)."""
    url, script = endpoint
    engine = RemoteEngine(url)
    script.drop_next = 1
    assert engine.info.name == "fake-model"  # GET /v1/models
    script.drop_next = 1
    done = list(engine.generate(_prompt(engine), GREEDY, 8))[-1]  # the streamed answer
    assert done.text == "Hello world. Bye now."
    script.drop_next = 1
    assert HearthLLM({"model": engine}).yes_probability([{"role": "user", "content": "Is it?"}]) == 1.0
    script.drop_next = 2  # twice in a row is the server's failure, said as such (before any text: nothing is
    # "kept", and no words of httpx's: "peer closed connection without sending complete message body …")
    with pytest.raises(RemoteLLMError, match="closed the connection before it answered: did it stop or restart"):
        list(engine.generate(_prompt(engine), GREEDY, 8))
    script.drop_next = 2
    with pytest.raises(RemoteLLMError, match="closed the connection before it answered") as said:
        RemoteEngine(url).info  # noqa: B018 (GET /v1/models, a request of its own)
    assert "without sending" not in str(said.value)


def test_a_bare_server_gets_estimates_and_a_one_word_answer(endpoint) -> None:
    url, script = endpoint
    engine = RemoteEngine(url + "/v1/")  # with or without /v1
    assert engine.n_ctx == DEFAULT_N_CTX and engine.info.name == "fake-model"
    fmt, prompt = engine.render([Message("system", "Be brief."), Message("user", "x" * 70)])
    assert not prompt.exact and len(prompt) == 3 + 20 + 4 * 3 and not fmt.uses_fallback
    done = next(e for e in engine.generate(prompt, GREEDY, 8) if isinstance(e, Done))
    assert done.text == "Hello world. Bye now." and done.stats.stop_reason == "eos"
    body = script.bodies[-1]
    assert body["messages"][1] == {"role": "user", "content": "x" * 70} and body["temperature"] == 0.0
    assert body["stream_options"] == {"include_usage": True}
    # memory's yes/no: no log-probabilities here, so the one-token answer ("Yes") counts as certain
    llm = HearthLLM({"model": engine})
    assert llm.yes_probability([{"role": "user", "content": "Is it?"}]) == 1.0
    script.answer = "no"
    assert llm.yes_probability([{"role": "user", "content": "Is it?"}]) < 1e-9


def test_a_json_schema_goes_as_response_format(endpoint) -> None:
    url, script = endpoint
    from assistant.engine.sampling import json_grammar

    engine = RemoteEngine(url)
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    list(engine.generate(_prompt(engine), GREEDY, 8, grammar=json_grammar(schema)))
    sent = script.bodies[-1]
    assert sent["response_format"]["json_schema"]["schema"] == schema and "grammar" not in sent
    list(engine.generate(_prompt(engine), GREEDY, 8, grammar='root ::= "yes" | "no"'))
    assert script.bodies[-1]["grammar"] == 'root ::= "yes" | "no"' and "response_format" not in script.bodies[-1]


def test_a_refused_key_an_unknown_model_and_an_overlong_prompt_say_what_to_fix(endpoint) -> None:
    url, script = endpoint
    script.key = "sesame"
    with pytest.raises(RemoteLLMAuthError, match=r"HTTP 401: Invalid API Key.*llm_api_key"):
        RemoteEngine(url, api_key="wrong").connect()
    # a server's sentence ends inside Hearth's brackets without its own full stop (it read "….).", Hearth's own)
    import httpx

    said = RemoteEngine(url, api_key="wrong")._status_error(httpx.Response(
        401, json={"error": {"message": "Invalid token (see the docs)."}}), "/v1/models")
    assert "(HTTP 401: Invalid token (see the docs)). Check" in str(said), said
    # none set: said so (it said "Check the API key" of none)
    with pytest.raises(RemoteLLMAuthError, match=r"asks for an API key \(HTTP 401: Invalid API Key\) and none is "
                                                 r"set: give it in the remote settings \(llm_api_key\)"):
        RemoteEngine(url).connect()
    with pytest.raises(RemoteLLMModelError, match="no model 'gpt-9'; it serves fake-model"):
        RemoteEngine(url, api_key="sesame", model="gpt-9").connect()
    # a URL past the API (no /models there): "lists no models" sent the user to name one
    with pytest.raises(RemoteLLMModelError, match=r"/nothing/v1/models was not found \(HTTP 404\): is .* an "
                                                  "OpenAI-compatible endpoint"):
        RemoteEngine(url + "/nothing", api_key="sesame").connect()
    assert RemoteEngine(url + "/nothing", api_key="sesame", model="named").connect().name  # named: it goes on
    engine = RemoteEngine(url, api_key="sesame", model="fake-model")
    script.status, script.error = 400, {"message": "the request exceeds the available context size",
                                        "type": "exceed_context_size_error"}
    with pytest.raises(ContextOverflowError, match=url):
        list(engine.generate(_prompt(engine), GREEDY, 8))


def test_an_error_event_mid_stream_and_a_stall_are_specific_errors(endpoint, monkeypatch) -> None:
    url, script = endpoint
    engine = RemoteEngine(url)
    script.error_event = "out of memory"
    with pytest.raises(RemoteLLMStreamError, match="out of memory"):
        list(engine.generate(_prompt(engine), GREEDY, 8))
    script.error_event, script.stall_s = "", 1.0
    monkeypatch.setattr(remote_module, "READ_TIMEOUT_S", 0.3)
    with pytest.raises(RemoteLLMTimeoutError, match=url):
        list(engine.generate(_prompt(engine), GREEDY, 8))


def test_cancel_while_the_server_is_still_silent_returns_at_once(endpoint) -> None:
    """Stop during a long prompt evaluation (no chunk yet) works: generate does not wait for the server."""
    url, script = endpoint
    script.stall_s = 2.0
    engine = RemoteEngine(url)
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    start = time.perf_counter()
    events = list(engine.generate(_prompt(engine), GREEDY, 8, cancel=cancel))
    assert time.perf_counter() - start < 0.6
    assert events == [events[-1]] and events[-1].stats.stop_reason == "cancelled" and events[-1].text == ""


def test_stop_while_a_silent_server_prepares_the_answer_is_at_once(endpoint, tmp_path: Path) -> None:
    """A server that accepts connections and does not answer the requests that prepare an answer (its template,
    its token count): Ctrl+C in `hearth ask` waited out their 15 s timeouts (about 13 s) and then said "did not
    answer in time", exit 6. It stops at once, as a stop while a prompt is read does: the question not kept."""
    import os
    import signal
    import subprocess
    import sys

    url, script = endpoint
    script.quiet_s = 30.0
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.toml").write_text(f'[remote]\nllm_url = "{url}"\n[memory]\nenabled = false\n')
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "app", "ask", "Say hello."], cwd=root,
                            env={**os.environ, "HEARTH_HOME": str(home)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not script.quiet_asked and time.monotonic() < deadline:  # the template is asked for
        time.sleep(0.05)
    asked = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert time.monotonic() - asked < 3, err
    assert proc.returncode == 130 and "stopped before the answer began: the question was not kept" in err, err
