"""An engine on another machine: any OpenAI-compatible endpoint (llama.cpp's llama-server, vLLM, Ollama,
LM Studio, ``hearth serve``) behind the same duck-typed interface as the in-process :class:`Engine`.

``run_turn``, grounded answers and memory use it exactly as they use the local engine: ``render`` ->
``generate`` (Token events, then one Done with Stats), ``n_ctx``, ``uses_fallback_format``, ``tokenize`` and
``next_token_logprobs``. What differs, and why:

* **Prompts.** The server applies its own chat template, so ``render(messages)`` keeps the messages: it
  returns a :class:`RemotePrompt` that ``generate`` sends as ``messages`` to ``/v1/chat/completions``. Its
  ``len()`` is the prompt's size in the server's tokens, which is all the prompt budget needs: exact where
  the server can tell (llama-server: ``/apply-template`` then ``/tokenize``), otherwise an *estimate*,
  characters / 3.5 plus 4 tokens a message (English prose with a BPE vocabulary). A prompt the estimate got
  wrong is refused by the server, which Hearth reports as a ContextOverflowError.
* **Context.** ``n_ctx`` is what the server says (llama-server's ``/props`` slot context, vLLM's
  ``max_model_len`` in ``/v1/models``); a server that does not say is assumed to hold 4096 tokens.
* **Stop strings** are sent to the server (``stop``) *and* enforced here with the local engine's
  :class:`StopMatcher`, so the text shown is cut exactly where the local engine would cut it whatever the
  server does with them. (The OpenAI API does not say whether a server-side stop was a stop string or the
  end of the model's turn: both read as ``stop_reason == "eos"`` unless the match happened here.)
* **Cancel.** The stream is read on a helper thread; ``generate`` waits for its chunks and returns the
  moment ``cancel`` is set (checked every 20 ms, not only between chunks, so a Stop during a long prompt
  evaluation works too), shutting the socket down so the server stops generating. The partial answer is
  kept and the Done says ``cancelled``, as with the local engine.
* **Stats** are measured from the stream: TTFT is request to first text, tok/s is the tokens after the first
  over the time since it. Prompt and completion tokens come from the server's ``usage`` (requested with
  ``stream_options.include_usage``) when it sends it, else they are counted (text chunks; prompt: ``len()``).
  llama-server's ``timings`` add what its prompt cache reused. Speculative decoding is the local engine's:
  the stats say it is off and why.
* **Grammars.** The local engine takes GBNF text; :func:`~assistant.engine.sampling.json_grammar` returns
  GBNF that also carries its JSON schema (``JsonGrammar.schema``), so callers keep one code path and this
  engine sends the schema as ``response_format`` ``json_schema`` (what every OpenAI-compatible server
  understands). A bare GBNF grammar goes in llama-server's ``grammar`` field. Never both: llama-server
  refuses a request with a schema and a grammar.
* **Log-probabilities** (memory's yes/no questions): one 1-token chat completion with ``logprobs`` and the
  top 20 alternatives; a candidate not among them gets -100 (the server says no more than "less likely
  than the 20th"). Token ids are the server's own where it has ``/tokenize``; otherwise ``tokenize`` hands
  out local stand-in ids (negative) for pieces of text, matched against the alternatives' text. A server that
  returns no log-probabilities at all is asked for its one-token answer, which then counts as certain.
* **Errors** are specific :class:`~assistant.errors.RemoteLLMError` subclasses naming the URL: unreachable,
  API key refused, no such model, timeout, a stream closed mid-answer (the text so far is kept by the
  turn), a rejected request; a prompt too long for the server's context is a ContextOverflowError.

The prompt, the answer and memory's questions leave this machine: that is the point of the setting, and the
settings text says so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx2

from assistant.engine.chat_format import FormattedPrompt, Message
from assistant.engine.gguf_info import ModelInfo
from assistant.engine.stops import StopMatcher
from assistant.errors import (
    ContextOverflowError,
    GenerationError,
    InputError,
    NoModelLoadedError,
    RemoteLLMAuthError,
    RemoteLLMError,
    RemoteLLMModelError,
    RemoteLLMRequestError,
    RemoteLLMStreamError,
    RemoteLLMTimeoutError,
    RemoteLLMUnreachableError,
    StoppedBeforeAnswer,
)
from assistant.events import Done, Stats, Token

if TYPE_CHECKING:
    from assistant.engine.sampling import SamplingParams

log = logging.getLogger(__name__)

#: The context assumed for a server that does not say (vLLM, llama-server and hearth serve do).
DEFAULT_N_CTX = 4096
#: Prompt-size estimate where the server cannot count: characters per token, and a chat template's tokens
#: around each message (role markers) and for the generation prompt.
CHARS_PER_TOKEN = 3.5
MESSAGE_OVERHEAD_TOKENS = 4
#: Alternatives asked for with each log-probability question (the OpenAI API's maximum).
TOP_LOGPROBS = 20
#: The log-probability given to a candidate the server did not list among its top alternatives.
UNLISTED_LOGPROB = -100.0
CONNECT_TIMEOUT_S = 5.0
#: Longest silence inside a stream (a long prompt on a slow server comes before the first token).
READ_TIMEOUT_S = 300.0
#: Model list, props, tokenize, template: small requests that answer at once or not at all.
QUICK_TIMEOUT_S = 15.0
#: How often a waiting ``generate`` looks at ``cancel``.
CANCEL_POLL_S = 0.02
SPEC_DECISION = ("off: the model runs on a remote server, which decodes on its own (speculative decoding is "
                 "a setting of the local engine)")
#: Keys under which OpenAI-compatible servers state a model's running context length in ``/v1/models``.
_CONTEXT_KEYS = ("max_model_len", "context_length", "n_ctx", "max_context_length")
_WORD = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")


def _once_more_on_a_closed_connection(send: Callable[[], httpx2.Response]) -> httpx2.Response:
    """``send()``, and again once when the server had closed the kept-alive connection it went out on before
    answering ("Server disconnected without sending a response": llama-server drops idle connections, and a
    question asked after a pause failed with it). Nothing was answered, so nothing is done twice."""
    try:
        return send()
    except httpx2.RemoteProtocolError:
        return send()


def _until_cancelled(send: Callable[[], httpx2.Response], cancel: threading.Event | None) -> httpx2.Response:
    """``send()``, given up the moment ``cancel`` is set (StoppedBeforeAnswer); the request, on a thread of its
    own, ends by itself (its answer or its timeout)."""
    if cancel is None:
        return send()
    done: queue.SimpleQueue[tuple[httpx2.Response | None, BaseException | None]] = queue.SimpleQueue()

    def run() -> None:
        try:
            done.put((send(), None))
        except BaseException as exc:  # handed to the caller
            done.put((None, exc))

    threading.Thread(target=run, name="hearth-remote-request", daemon=True).start()
    while not cancel.is_set():
        try:
            response, error = done.get(timeout=CANCEL_POLL_S)
        except queue.Empty:
            continue
        if error is not None:
            raise error
        assert response is not None
        return response
    raise StoppedBeforeAnswer("Stopped before the answer began.")


def endpoints(url: str) -> tuple[str, str]:
    """(the API base ending in ``/v1``, the server's root) for an ``llm_url`` given with or without ``/v1``;
    :class:`InputError` for one no client could reach ("not a url at all" was applied in green, and answering
    switched to it)."""
    base = url.strip().rstrip("/")
    if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", base):
        base = "http://" + base
    usage = (f"The remote LLM URL {url!r} (remote.llm_url) is not usable: write it as http://HOST:PORT or "
             "https://HOST[:PORT][/PATH]")
    try:
        parts = urlsplit(base)
        _ = parts.port
    except ValueError as exc:
        raise InputError(f"{usage} ({exc}).") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", base):
        raise InputError(f"{usage}.")
    if base.endswith("/v1"):
        return base, base[: -len("/v1")]
    return base + "/v1", base


@dataclass(frozen=True)
class RemoteModelInfo(ModelInfo):
    """What Hearth shows about a model served elsewhere: no file and no local weights; ``path`` is the model's
    URL (OpenAI's ``GET /v1/models/{model}``), so its last part is the model's name there."""

    def params_label(self) -> str:
        return "remote"

    def context_capped(self, n_ctx: int) -> str | None:
        """Nothing: the local context setting does not apply to it, and its ``context_length`` is what its server
        was started with (llama-server's ``-c``), not what it was trained for. Every answer said "a context of
        4096 is more than gemma-3-270m… was trained for, so answers get 3072: set the context to 3072 or less"."""
        return None


def remote_info(url: str, model: str, n_ctx: int, quantization: str = "") -> RemoteModelInfo:
    """``model`` is the server's id for it; the shown name drops a folder (llama-server's id is its -m path)."""
    name = model.rsplit("/", 1)[-1] if model.endswith(".gguf") else model
    return RemoteModelInfo(path=f"{url}/models/{model}", name=name, architecture="remote", file_size=0, n_params=0,
                           quantization=quantization, context_length=n_ctx, n_layer=0, n_embd=0, n_head=0,
                           n_head_kv=0, head_dim=0, vocab_size=0, chat_template="(the server's)", bos_token=None,
                           eos_token=None)


@dataclass(frozen=True, eq=False)
class RemotePrompt:
    """``render()``'s prompt for a remote model: the messages (the server applies its chat template) and their
    size in the server's tokens, which ``len()`` gives, as for the local engine's token list.

    ``exact``: counted by the server; otherwise estimated (characters / 3.5 + 4 a message: see the module).
    """

    messages: tuple[Message, ...]
    n_tokens: int
    exact: bool

    def __len__(self) -> int:
        return self.n_tokens

    def payload(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in self.messages]


@dataclass
class _Connection:
    """What ``connect`` learned about the server; capabilities are probed on first use (None: not yet)."""

    client: httpx2.Client
    model: str  # the server's id for the model, sent with every request
    info: RemoteModelInfo
    models: tuple[str, ...]
    can_template: bool | None = None  # llama-server's /apply-template
    can_tokenize: bool | None = None  # llama-server's /tokenize
    pieces: dict[int, str] = field(default_factory=dict)  # token id -> its text, from /tokenize or stand-ins
    stand_ins: dict[str, int] = field(default_factory=dict)  # text -> stand-in id (negative), no /tokenize
    #: log-probabilities refused (a 400 naming them: Hearth's own `hearth serve`): asked without them from then on
    refuses_logprobs: bool = False


class _NotThere(Exception):
    """An optional endpoint this server does not have (404/405/501, or it does not take our request)."""


class _LogprobsRefused(RemoteLLMRequestError):
    """A 400 that names log-probabilities: this server answers without them, when not asked for them."""


class RemoteEngine:
    """An OpenAI-compatible endpoint as Hearth's engine (see the module docstring for what differs)."""

    def __init__(self, url: str, api_key: str = "", model: str = "") -> None:
        if not url.strip():
            raise InputError("The remote LLM needs a URL (settings: [remote] llm_url).")
        self.url, self.root = endpoints(url)
        self.api_key, self.model = api_key, model.strip()
        split = urlsplit(self.url)
        self.host = split.netloc or self.url
        self._lock = threading.RLock()
        self._conn: _Connection | None = None
        self._cached = 0
        self._cold = False
        self._watched = threading.local()  # the cancel this thread's quick requests stop at (see watching)

    @classmethod
    def from_settings(cls, remote: Any) -> RemoteEngine:
        """From ``Settings.remote`` (``llm_url``, ``llm_api_key``, ``llm_model``)."""
        return cls(remote.llm_url, remote.llm_api_key, remote.llm_model)

    @property
    def config(self) -> tuple[str, str, str]:
        """What identifies this endpoint: a change of any of it needs a new engine."""
        return self.url, self.api_key, self.model

    # ---- connecting --------------------------------------------------------------------------------
    def connect(self) -> RemoteModelInfo:
        """Ask the server for its models (and llama-server for its context); the model to use is the
        configured one, or the first the server lists. Raises a RemoteLLMError naming the URL."""
        with self._lock:
            if self._conn is not None:
                return self._conn.info
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            client = httpx2.Client(headers=headers, timeout=httpx2.Timeout(QUICK_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
                                   follow_redirects=True)
            try:
                listed = self._list_models(client)
                model = self._choose(listed)
                listed = listed or {}
                props = self._props(client)
                n_ctx = _n_ctx(props, listed.get(model, {}))
                quant = str(props.get("model_ftype") or "") if props else ""
            except BaseException:
                client.close()
                raise
            self._conn = _Connection(client, model, remote_info(self.url, model, n_ctx, quant), tuple(listed))
            log.info("remote LLM %s at %s (n_ctx=%d)", model, self.url, n_ctx)
            return self._conn.info

    def _list_models(self, client: httpx2.Client) -> dict[str, dict[str, Any]] | None:
        """The models the server lists by id; None when it has no ``/models`` (HTTP 404)."""
        try:
            data = self._get(client, f"{self.url}/models")
        except _NotThere:
            return None
        entries = data.get("data") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise RemoteLLMError(f"{self.url}/models did not answer with a model list: is {self.url} an "
                                 "OpenAI-compatible endpoint?")
        return {str(e["id"]): e for e in entries if isinstance(e, dict) and e.get("id")}

    def _choose(self, listed: dict[str, dict[str, Any]] | None) -> str:
        if listed is None and not self.model:  # "lists no models" sent the user to name one: often the URL is wrong
            raise RemoteLLMModelError(f"{self.url}/models was not found (HTTP 404): is {self.url} an OpenAI-compatible "
                                      "endpoint (usually ending in /v1)? If it is one without a model list, name the "
                                      "model to use in the remote settings (llm_model).")
        if self.model:
            if not listed or self.model in listed:
                return self.model
            tagged = [m for m in listed if m.split(":")[0] == self.model]  # Ollama: "llama3" is "llama3:latest"
            if tagged:
                return self.model
            raise RemoteLLMModelError(f"The LLM server at {self.url} has no model {self.model!r}; it serves "
                                      f"{', '.join(sorted(listed))}. Change llm_model in the remote settings.")
        if not listed:
            raise RemoteLLMModelError(f"The LLM server at {self.url} lists no models; name the one to use in "
                                      "the remote settings (llm_model).")
        return next(iter(listed))

    def _props(self, client: httpx2.Client) -> dict[str, Any]:
        """llama-server's ``/props`` (its slot context, the model's quantization); {} elsewhere."""
        try:
            data = self._get(client, f"{self.root}/props")
        except (_NotThere, RemoteLLMAuthError, RemoteLLMRequestError):
            return {}
        except RemoteLLMError as exc:  # optional: a server whose /props fails still answers chats
            log.info("remote LLM: no usable /props at %s: %s", self.root, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def unload(self) -> None:
        """Close the connection pool; a later call connects again."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.client.close()

    def _require(self) -> _Connection:
        if self._conn is None:
            self.connect()
        conn = self._conn
        if conn is None:  # unloaded meanwhile by another thread
            raise NoModelLoadedError(f"The remote LLM at {self.url} was disconnected.")
        return conn

    # ---- what the facade and the front ends read ------------------------------------------------------
    @property
    def loaded(self) -> bool:
        """Connected: the server answered and the model to use is known."""
        return self._conn is not None

    @property
    def info(self) -> RemoteModelInfo:
        return self._require().info

    @property
    def device(self) -> str:
        return f"remote: {self.host}"

    @property
    def n_ctx(self) -> int:
        return self._require().info.context_length

    @property
    def cached_tokens(self) -> int:
        """The last answer's prompt + completion (the server keeps its own cache; this is for the meter)."""
        return self._cached

    @property
    def uses_fallback_format(self) -> bool:
        return False  # the server applies its own template

    draft_info = None  # speculative decoding is the local engine's

    def set_draft_model(self, path: Any, kind: str = "draft") -> None:
        if path is not None:
            raise InputError(f"A draft model runs only with a local model; the LLM at {self.url} is remote.")

    def clear_cache(self) -> None:
        """The next request asks llama-server not to reuse its prompt cache (a cold start, for comparisons)."""
        self._cold = True

    # ---- prompts and tokens ---------------------------------------------------------------------------
    def render(self, messages: list[Message]) -> tuple[FormattedPrompt, RemotePrompt]:
        """The messages as the prompt handle ``generate`` takes, with their size in the server's tokens
        (exact where the server can count them, else estimated; see :class:`RemotePrompt`)."""
        conn = self._require()
        payload = [{"role": m.role, "content": m.content} for m in messages]
        text = self._template(conn, payload)
        count = self._count(conn, text) if text is not None else None
        exact = count is not None
        if text is None:
            text = "\n".join(f"{m.role}: {m.content}" for m in messages) + "\nassistant:"
        if count is None:
            chars = sum(len(m.content) for m in messages)
            count = math.ceil(chars / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS * (len(messages) + 1)
        return FormattedPrompt(text, (), uses_fallback=False), RemotePrompt(tuple(messages), count, exact)

    def _optional(self, conn: _Connection, flag: str, path: str, payload: dict[str, Any], field: str,
                  kind: type) -> Any:
        """``field`` of the answer of an endpoint only some servers have (llama-server's), or None; whether the
        server has it is remembered in ``conn.<flag>`` so a server without it is asked only once."""
        if getattr(conn, flag) is False:
            return None
        try:
            data = self._post(conn.client, f"{self.root}/{path}", payload)
            value = data.get(field) if isinstance(data, dict) else None
            if not isinstance(value, kind):
                raise _NotThere
        except _NotThere:
            setattr(conn, flag, False)
            return None
        setattr(conn, flag, True)
        return value

    def _template(self, conn: _Connection, payload: list[dict[str, str]]) -> str | None:
        return self._optional(conn, "can_template", "apply-template", {"messages": payload}, "prompt", str)

    def _count(self, conn: _Connection, text: str) -> int | None:
        """Tokens the server makes of the templated ``text`` (as it will: with special tokens), or None."""
        tokens = self._server_tokens(conn, text, add_special=True, pieces=False)
        return len(tokens) if tokens is not None else None

    def _server_tokens(self, conn: _Connection, text: str, add_special: bool, pieces: bool) -> list[int] | None:
        tokens = self._optional(conn, "can_tokenize", "tokenize",
                                {"content": text, "add_special": add_special, "with_pieces": pieces}, "tokens", list)
        if tokens is None:
            return None
        ids = []
        for t in tokens:
            if isinstance(t, dict):
                ids.append(int(t["id"]))
                if isinstance(t.get("piece"), str):
                    conn.pieces[int(t["id"])] = t["piece"]
            else:
                ids.append(int(t))
        return ids

    def tokenize(self, text: str, add_special: bool = False) -> list[int]:
        """The server's token ids for ``text`` where it has ``/tokenize`` (llama-server); elsewhere stand-in
        ids (negative) for pieces of text (words, punctuation), which ``next_token_logprobs`` matches against
        the server's alternatives by their text."""
        conn = self._require()
        ids = self._server_tokens(conn, text, add_special, pieces=True)
        if ids is not None:
            return ids
        out = []
        for piece in _WORD.findall(text):
            if piece not in conn.stand_ins:
                conn.stand_ins[piece] = -1 - len(conn.stand_ins)
                conn.pieces[conn.stand_ins[piece]] = piece
            out.append(conn.stand_ins[piece])
        return out

    def detokenize(self, tokens: Sequence[int]) -> str:
        conn = self._require()
        if all(t in conn.pieces for t in tokens):
            return "".join(conn.pieces[t] for t in tokens)
        try:
            data = self._post(conn.client, f"{self.root}/detokenize", {"tokens": [int(t) for t in tokens]})
        except _NotThere:
            raise GenerationError(f"The LLM server at {self.url} cannot turn token ids back into text (it has no "
                                  "/detokenize).") from None
        return str(data.get("content", "")) if isinstance(data, dict) else ""

    # ---- generation ---------------------------------------------------------------------------------
    def generate(
        self,
        prompt: RemotePrompt | Sequence[int],
        sampling: SamplingParams,
        max_tokens: int = 512,
        cancel: threading.Event | None = None,
        stop: Sequence[str] = (),
        grammar: str | None = None,
        cache_key: str | None = None,
    ) -> Iterator[Token | Done]:
        """Stream Token events for ``prompt`` and end with one Done carrying the stats, as :meth:`Engine.generate`
        does. ``prompt``: ``render``'s RemotePrompt (a chat completion), or token ids from :meth:`tokenize` (raw
        text continued with ``/v1/completions``: the server's own ids are sent as they are, stand-ins as their
        text). ``grammar``: GBNF, or a ``JsonGrammar`` whose schema is sent instead. ``cache_key`` is not used:
        the server keeps its own prompt cache."""
        conn = self._require()
        path, target = self._target(conn, prompt)
        cancel = cancel or threading.Event()
        body = self._body(conn, target, sampling, max_tokens, stop, grammar)
        body |= {"stream": True, "stream_options": {"include_usage": True}}
        matcher = StopMatcher(tuple(stop))
        parts: list[str] = []
        chunks, finish, usage, timings, reason = 0, None, None, None, None
        ended = False  # the server finished the stream (as opposed to an error, a stop here or a cancel)
        t0 = time.perf_counter()
        t_first: float | None = None
        sse = _SSEParser()
        stream = _Stream(conn.client, f"{self.url}{path}", body)
        try:
            while reason is None:
                item = stream.next(cancel)
                if item is None:
                    reason = "cancelled"
                    break
                kind, value = item
                if kind == "status":
                    raise self._status_error(value, path)
                if kind == "error":
                    raise self._transport_error(value, streamed=chunks)
                if kind == "end":
                    if finish is None:
                        raise RemoteLLMStreamError(
                            f"The LLM server at {self.url} closed the stream in the middle of the answer (after "
                            f"{chunks} piece(s) of text); the text that arrived is kept.")
                    ended = True
                    break
                event = sse.feed(value)
                if event is None:
                    continue
                name, data = event
                if data.strip() == "[DONE]":
                    ended = True
                    break
                obj = _json_or_none(data)
                if obj is None:
                    raise RemoteLLMStreamError(f"The LLM server at {self.url} sent something that is not an "
                                               f"OpenAI stream: {data[:120]!r}")
                if name == "error" or "error" in obj:
                    raise self._error_in_stream(obj.get("error", obj))
                usage = obj.get("usage") or usage
                timings = obj.get("timings") or timings
                for choice in obj.get("choices") or ():
                    content = (choice.get("delta") or {}).get("content") or choice.get("text") or ""
                    if content:
                        chunks += 1
                        if t_first is None:
                            t_first = time.perf_counter()
                        text, hit = matcher.push(content)
                        if text:
                            parts.append(text)
                            yield Token(text)
                        if hit:
                            reason = "stop"
                            break
                    finish = choice.get("finish_reason") or finish
        finally:
            # a finished stream is read to its end (the connection is then reused); any other is cut off at once
            stream.close(wait_s=1.0 if ended else 0.0)
        if reason != "stop" and (tail := matcher.flush()):
            parts.append(tail)
            yield Token(tail)
        if reason is None:
            reason = "length" if finish == "length" else "eos"
        t_end = time.perf_counter()
        yield Done("".join(parts), self._stats(conn, prompt, reason, chunks, usage, timings, t0, t_first, t_end))

    def _stats(self, conn: _Connection, prompt: Sequence[int] | RemotePrompt, reason: str, chunks: int,
               usage: dict | None, timings: dict | None, t0: float, t_first: float | None, t_end: float) -> Stats:
        usage = usage if isinstance(usage, dict) else {}
        timings = timings if isinstance(timings, dict) else {}
        # usage counts what the server generated; after a local stop or a cancel it never came
        completion = _int(usage.get("completion_tokens")) if reason not in ("stop", "cancelled") else None
        completion = chunks if completion is None else completion
        prompt_tokens = _int(usage.get("prompt_tokens")) or len(prompt)
        evaluated = _int(timings.get("prompt_n"))
        reused = _int(timings.get("cache_n")) or 0
        first = t_first or t_end
        decode_s = t_end - first
        prompt_ms = timings.get("prompt_ms")
        self._cached = prompt_tokens + completion
        return Stats(
            prompt_tokens=prompt_tokens,
            evaluated_tokens=prompt_tokens - reused if evaluated is None else evaluated,
            reused_tokens=reused,
            completion_tokens=completion,
            ttft_s=first - t0,
            prompt_eval_s=prompt_ms / 1000 if isinstance(prompt_ms, int | float) else first - t0,
            decode_s=decode_s,
            decode_tps=(completion - 1) / decode_s if completion > 1 and decode_s > 0 else 0.0,
            stop_reason=reason,
            device=self.device,
            model=conn.info.name,
            model_id=conn.info.model_id,
            prompt_format="server",
            context_used=self._cached,
            context_size=conn.info.context_length,
            spec_mode="off",
            spec_decision=SPEC_DECISION,
        )

    def _target(self, conn: _Connection, prompt: RemotePrompt | Sequence[int]) -> tuple[str, dict[str, Any]]:
        """(the endpoint, the prompt's part of the body) for a RemotePrompt or a list of token ids."""
        if isinstance(prompt, RemotePrompt):
            return "/chat/completions", {"messages": prompt.payload()}
        if isinstance(prompt, str) or not isinstance(prompt, Sequence) or not prompt:
            raise GenerationError("The remote engine answers a prompt from its render() or token ids from its "
                                  f"tokenize(); it was given {type(prompt).__name__}.")
        ids = [int(t) for t in prompt]
        if all(t >= 0 for t in ids) and conn.can_tokenize:
            return "/completions", {"prompt": ids}
        return "/completions", {"prompt": self.detokenize(ids)}

    def _body(self, conn: _Connection, target: dict[str, Any], sampling: SamplingParams, max_tokens: int,
              stop: Sequence[str], grammar: str | None) -> dict[str, Any]:
        """The chat request: OpenAI's fields, plus llama.cpp's sampling fields (top_k, min_p, repeat_penalty)
        that the others ignore or share, so a preset means the same here as in the local engine."""
        greedy = sampling.temperature <= 0.0
        body: dict[str, Any] = {
            "model": conn.model,
            **target,
            "max_tokens": max(1, int(max_tokens)),
            "temperature": 0.0 if greedy else sampling.temperature,
            "top_p": 1.0 if greedy else sampling.top_p,
            "top_k": 1 if greedy else sampling.top_k,
            "min_p": 0.0 if greedy else sampling.min_p,
            "repeat_penalty": sampling.repeat_penalty,
            "repeat_last_n": sampling.repeat_last_n,
        }
        if sampling.seed >= 0:
            body["seed"] = sampling.seed
        if stop:
            body["stop"] = list(stop)
        schema = getattr(grammar, "schema", None)
        if schema is not None:
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "hearth", "schema": schema, "strict": True}}
        elif grammar:
            body["grammar"] = str(grammar)
        if self._cold:
            body["cache_prompt"] = False
            self._cold = False
        return body

    def next_token_logprobs(self, prompt: RemotePrompt, candidates: list[int],
                            cancel: threading.Event | None = None) -> list[float] | None:
        """The log-probability of each of ``candidates`` (ids from :meth:`tokenize`) as the first token of the
        reply to ``prompt``: one 1-token chat completion with the top 20 alternatives (see the module for the
        unlisted and the no-log-probabilities cases). None when ``cancel`` was set."""
        conn = self._require()
        prompt = _as_prompt(prompt)
        if cancel is not None and cancel.is_set():
            return None
        body = {"model": conn.model, "messages": prompt.payload(), "max_tokens": 1, "temperature": 0.0,
                "stream": False}
        asked = body if conn.refuses_logprobs else body | {"logprobs": True, "top_logprobs": TOP_LOGPROBS}
        try:
            try:
                data = self._post(conn.client, f"{self.url}/chat/completions", asked, timeout=READ_TIMEOUT_S)
            except _LogprobsRefused:  # memory's learning failed on every turn against `hearth serve`, for good
                conn.refuses_logprobs = True
                data = self._post(conn.client, f"{self.url}/chat/completions", body, timeout=READ_TIMEOUT_S)
        except _NotThere:
            raise RemoteLLMError(f"The LLM server at {self.url} has no /chat/completions endpoint.") from None
        if cancel is not None and cancel.is_set():
            return None
        choices = data.get("choices") if isinstance(data, dict) else None
        choice = choices[0] if isinstance(choices, list) and choices else {}
        content = (choice.get("logprobs") or {}).get("content") or []
        top = content[0].get("top_logprobs") if content and isinstance(content[0], dict) else None
        if top:
            by_id = {int(e["id"]): float(e["logprob"]) for e in top if "id" in e}
            by_text: dict[str, float] = {}
            for e in top:  # listed best first: keep the first of equal texts
                by_text.setdefault(str(e.get("token", "")), float(e["logprob"]))
            out = []
            for c in candidates:
                value = by_id.get(c) if c >= 0 and by_id else by_text.get(conn.pieces.get(c, "\0"))
                out.append(UNLISTED_LOGPROB if value is None else value)
            return out
        # No log-probabilities from this server: its one-token answer counts as certain.
        answer = str((choice.get("message") or {}).get("content") or "")
        pieces = [conn.pieces.get(c, "\0") for c in candidates]
        hits = [bool(p) and answer.startswith(p) for p in pieces]
        if not any(hits):
            hits = [bool(p.strip()) and answer.strip().lower().startswith(p.strip().lower()) for p in pieces]
        return [0.0 if hit else UNLISTED_LOGPROB for hit in hits]

    # ---- HTTP ---------------------------------------------------------------------------------------
    def _get(self, client: httpx2.Client, url: str) -> Any:
        return self._request(client, "GET", url, None, QUICK_TIMEOUT_S)

    def _post(self, client: httpx2.Client, url: str, body: dict[str, Any],
              timeout: float = QUICK_TIMEOUT_S) -> Any:
        return self._request(client, "POST", url, body, timeout)

    @contextlib.contextmanager
    def watching(self, cancel: threading.Event) -> Iterator[None]:
        """Requests this thread makes meanwhile stop waiting the moment ``cancel`` is set (StoppedBeforeAnswer):
        an answer's preparation (the first connection, the template, the token count) waited out a silent
        server's 15 s timeouts after Stop or Ctrl+C, about 13 s, and then said it had timed out."""
        self._watched.cancel = cancel
        try:
            yield
        finally:
            self._watched.cancel = None

    def _request(self, client: httpx2.Client, method: str, url: str, body: dict[str, Any] | None,
                 timeout: float) -> Any:
        """JSON from ``url``; raises _NotThere for a missing optional endpoint, else a RemoteLLMError."""
        try:
            limits = httpx2.Timeout(timeout, connect=CONNECT_TIMEOUT_S)
            response = _until_cancelled(lambda: _once_more_on_a_closed_connection(
                lambda: client.request(method, url, json=body, timeout=limits)), getattr(self._watched, "cancel", None))
        except httpx2.HTTPError as exc:
            raise self._transport_error(exc) from None
        path = url[len(self.root):] or "/"
        status = response.status_code
        # llama-server's extras (/props, /tokenize, /apply-template, /detokenize): a server that lacks them or
        # does not take our request (vLLM's /tokenize wants other fields) simply does without
        optional = not path.startswith("/v1/")
        if (optional and status >= 400 and status not in (401, 403)) or (status == 404 and path == "/v1/models"):
            raise _NotThere
        if status >= 400:
            raise self._status_error(response, path)
        try:
            return response.json()
        except ValueError:
            if optional:
                raise _NotThere from None
            raise RemoteLLMError(f"The LLM server at {self.url} answered {path} with something that is not "
                                 f"JSON: is {self.url} an OpenAI-compatible endpoint?") from None

    def _status_error(self, response: httpx2.Response, path: str) -> HearthErrorLike:
        status = response.status_code
        message, kind = _server_message(response)
        # said in brackets inside a sentence: the server's own full stop went ("…the token).)." with Hearth's)
        said = f"HTTP {status}" + (f": {message.rstrip('. ')}" if message else "")
        if status in (401, 403) and not self.api_key:  # (it said "Check the API key" of none; the Chroma test
            # says that none is set)
            return RemoteLLMAuthError(f"The LLM server at {self.url} asks for an API key ({said}) and none is set: "
                                      "give it in the remote settings (llm_api_key).")
        if status in (401, 403):
            return RemoteLLMAuthError(f"The LLM server at {self.url} refused the request ({said}). Check the API "
                                      "key in the remote settings (llm_api_key).")
        if status == 404 and "model" in message.lower():
            return RemoteLLMModelError(f"The LLM server at {self.url} has no model {self._model_name()!r} ({said}). "
                                       "Change llm_model in the remote settings.")
        if status == 404:
            return RemoteLLMError(f"The LLM server at {self.url} has no {path} ({said}): is it an OpenAI-compatible "
                                  "endpoint? (llama-server, vLLM, Ollama and LM Studio serve one under /v1.)")
        if status in (400, 413) and (kind in ("exceed_context_size_error", "context_length_exceeded")
                                     or re.search(r"context (size|length|window)", message, re.I)):
            return ContextOverflowError(f"The prompt does not fit the context of the model at {self.url} ({said}). "
                                        "Shorten it, or give the server a longer context.")
        if status in (400, 422):
            refused = _LogprobsRefused if status == 400 and "logprob" in message.lower() else RemoteLLMRequestError
            return refused(f"The LLM server at {self.url} rejected the request ({said}).")
        if status == 503:
            return RemoteLLMError(f"The LLM server at {self.url} is not ready ({said}); try again in a moment.")
        return RemoteLLMError(f"The LLM server at {self.url} failed ({said}).")

    def _error_in_stream(self, error: Any) -> HearthErrorLike:
        message = error.get("message") if isinstance(error, dict) else str(error)
        kind = error.get("type") if isinstance(error, dict) else ""
        if kind == "exceed_context_size_error" or re.search(r"context (size|length|window)", str(message), re.I):
            return ContextOverflowError(f"The prompt does not fit the context of the model at {self.url} "
                                        f"({message}).")
        return RemoteLLMStreamError(f"The LLM server at {self.url} reported an error mid-answer: {message}. "
                                    "The text that arrived is kept.")

    def _transport_error(self, exc: BaseException, streamed: int | None = None) -> HearthErrorLike:
        if isinstance(exc, httpx2.ConnectTimeout):
            return RemoteLLMUnreachableError(f"The LLM server at {self.url} did not accept a connection within "
                                             f"{CONNECT_TIMEOUT_S:.0f} s. Is it running, and is the address right?")
        if isinstance(exc, httpx2.ConnectError):
            reason = "connection refused" if "refused" in str(exc).lower() else str(exc) or type(exc).__name__
            return RemoteLLMUnreachableError(f"Could not connect to the LLM server at {self.url}: {reason}. Is it "
                                             "running, and is the address right?")
        if isinstance(exc, httpx2.TimeoutException):
            return RemoteLLMTimeoutError(f"The LLM server at {self.url} did not answer in time ({exc or 'timeout'}).")
        if streamed and isinstance(exc, httpx2.TransportError):
            return RemoteLLMStreamError(f"The LLM server at {self.url} closed the connection in the middle of the "
                                        f"answer (after {streamed} piece(s) of text); the text that arrived is kept.")
        if isinstance(exc, httpx2.NetworkError | httpx2.RemoteProtocolError):
            # httpx's own words reached the window's banner ("peer closed connection without sending complete
            # message body (received 131 bytes, expected 759)"), and a cut before any text "kept" it
            return RemoteLLMError(f"The LLM server at {self.url} closed the connection before it answered: did it "
                                  "stop or restart, or does something between (a proxy) cut connections?")
        if isinstance(exc, httpx2.HTTPError):
            return RemoteLLMError(f"The request to the LLM server at {self.url} failed: {exc or type(exc).__name__}.")
        return RemoteLLMError(f"Reading from the LLM server at {self.url} failed: {type(exc).__name__}: {exc}.")

    def _model_name(self) -> str:
        conn = self._conn
        return conn.model if conn is not None else self.model


HearthErrorLike = RemoteLLMError | ContextOverflowError | GenerationError


def _as_prompt(prompt: Any) -> RemotePrompt:
    if isinstance(prompt, RemotePrompt):
        return prompt
    raise GenerationError("The remote engine answers the prompt its own render() made (the messages); it was "
                          f"given {type(prompt).__name__}.")


def _n_ctx(props: dict[str, Any], model_entry: dict[str, Any]) -> int:
    """The running context: llama-server's slot context, else what the model list says, else 4096."""
    settings = props.get("default_generation_settings") if props else None
    if isinstance(settings, dict) and _int(settings.get("n_ctx")):
        return int(settings["n_ctx"])
    for where in (model_entry, model_entry.get("meta") if isinstance(model_entry.get("meta"), dict) else {}):
        for key in _CONTEXT_KEYS:
            if _int(where.get(key)):
                return int(where[key])
    return DEFAULT_N_CTX


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else None


def _json_or_none(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _server_message(response: httpx2.Response) -> tuple[str, str]:
    """(the error message, its type) from an OpenAI-style error body ({"error": {"message", "type"}}), Ollama's
    ({"error": "..."}), FastAPI's ({"detail": ...}), or the start of the text."""
    try:
        data = response.json()
    except ValueError:
        return " ".join(response.text.split())[:200], ""
    error = data.get("error", data.get("detail")) if isinstance(data, dict) else data
    if isinstance(error, dict):
        return str(error.get("message") or error.get("msg") or ""), str(error.get("type") or error.get("code") or "")
    return (str(error)[:200] if error else ""), ""


class _SSEParser:
    """Server-sent events from lines: ``feed`` returns (event name, data) when a blank line ends an event.
    A ``data:`` line that is a whole JSON object also ends its event (some servers omit the blank line)."""

    def __init__(self) -> None:
        self.name, self.data = "", []

    def feed(self, line: str) -> tuple[str, str] | None:
        if not line:
            if not self.data:
                self.name = ""
                return None
            event = (self.name or "message", "\n".join(self.data))
            self.name, self.data = "", []
            return event
        if line.startswith(":"):
            return None
        field_name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field_name == "event":
            self.name = value
        elif field_name in ("data", "error"):
            if field_name == "error":
                self.name = "error"
            self.data.append(value)
        return None


class _Stream:
    """One streamed request, read on its own thread: the caller waits for its lines with ``next`` and can
    stop waiting the moment it cancels; ``close`` shuts the socket so the server stops at once."""

    def __init__(self, client: httpx2.Client, url: str, body: dict[str, Any]) -> None:
        self._items: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._closed = threading.Event()
        self._response: httpx2.Response | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(client, url, body), daemon=True,
                                        name="hearth-remote-stream")
        self._thread.start()

    def _read(self, client: httpx2.Client, url: str, body: dict[str, Any]) -> None:
        put = self._items.put
        try:
            timeout = httpx2.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
            request = client.build_request("POST", url, json=body, timeout=timeout,
                                           headers={"Accept": "text/event-stream"})
            with contextlib.closing(_once_more_on_a_closed_connection(
                    lambda: client.send(request, stream=True))) as response:
                with self._lock:
                    self._response = response
                if self._closed.is_set():
                    return
                if response.status_code >= 400:
                    response.read()
                    put(("status", response))
                    return
                for line in response.iter_lines():
                    if self._closed.is_set():
                        return
                    put(("line", line))
            put(("end", None))
        except Exception as exc:  # handed to the caller, which names it (after a close: nobody is listening)
            put(("error", exc))

    def next(self, cancel: threading.Event) -> tuple[str, Any] | None:
        """The next ("line" | "end" | "status" | "error", value), or None once ``cancel`` is set."""
        while not cancel.is_set():
            try:
                return self._items.get(timeout=CANCEL_POLL_S)
            except queue.Empty:
                continue
        return None

    def close(self, wait_s: float = 0.0) -> None:
        """Stop reading: at once (``wait_s`` 0: the socket is shut down), or after letting the reader finish a
        stream that already ended for up to ``wait_s``."""
        if wait_s > 0:
            self._thread.join(wait_s)
        self._closed.set()
        with self._lock:
            response = self._response
        if response is not None and self._thread.is_alive():
            _shutdown(response)


def _shutdown(response: httpx2.Response) -> None:
    """Shut the response's socket down (wakes the reading thread, tells the server the client left)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class ActiveEngine:
    """The engine the facade uses right now, local or remote, for parts that keep an engine reference (the
    memory service): every attribute is the current engine's, so switching needs no re-wiring."""

    def __init__(self, current: Callable[[], Any]) -> None:
        self._current = current

    def __getattr__(self, name: str) -> Any:
        return getattr(self._current(), name)
