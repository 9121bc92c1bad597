"""The API's logic with the fast fake engine: the facade's ``chat`` (stateless or saved), the server's wire
format, auth, errors that never carry a traceback, and settings that restart or stop a running server.
Everything here also runs through the real parts in test_api_server.py."""

from __future__ import annotations

import copy
import json
import socket
import threading
import time

import httpx
import openai
import pytest
from checks import wait_for
from fakes import FakeEmbedder, fake_engine

from assistant.chat.history import History
from assistant.config import Settings, browser_origins
from assistant.core import Assistant
from assistant.errors import InputError
from assistant.events import Done, Sources, Token
from assistant.knowledge import KnowledgeBase
from assistant.paths import get_paths


@pytest.fixture
def assistant():
    settings = Settings()
    settings.memory.enabled = False
    paths = get_paths()
    a = Assistant(paths, settings, engine=fake_engine(), knowledge=KnowledgeBase(paths, settings.knowledge,
                                                                                  embedder=FakeEmbedder()))
    yield a
    a.close(learning_s=0)


@pytest.fixture
def server(assistant: Assistant):
    status = assistant.start_server(port=0)
    with httpx.Client(base_url=status.base_url, timeout=30,
                      headers={"Authorization": f"Bearer {assistant.server_token()}"}) as client:
        yield client


@pytest.fixture
def client(assistant: Assistant, server: httpx.Client):
    """The official ``openai`` client on the same server."""
    with openai.OpenAI(api_key=assistant.server_token(), base_url=str(server.base_url), max_retries=0,
                       timeout=30) as c:
        yield c


def test_chat_without_conversation_id_is_stateless(assistant: Assistant) -> None:
    response = assistant.chat([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there."},
                               {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye."}])
    assert response.text() == "You said: Bye."
    assert response.done.conversation_id is None and response.done.message_id is None
    assert assistant.engine.prompts[-1] == ("system: Be brief.\nuser: Hi there.\nassistant: Hello!\nuser: Bye."
                                            "\nassistant:")
    assert assistant.history.list_conversations() == []


def test_chat_with_a_conversation_id_keeps_the_history(assistant: Assistant) -> None:
    first = assistant.chat([{"role": "user", "content": "One."}], conversation_id="new")
    first.text()
    cid = first.done.conversation_id
    # the client may send only the new message: the history is Hearth's
    second = assistant.chat([{"role": "user", "content": "ignored"}, {"role": "user", "content": "Two."}],
                            conversation_id=cid)
    assert second.text() == "You said: Two."
    assert "user: One.\nassistant: You said: One.\nuser: Two." in assistant.engine.prompts[-1]
    assert [m.content for m in assistant.history.messages(cid)] == ["One.", "You said: One.", "Two.",
                                                                    "You said: Two."]


@pytest.mark.parametrize("messages", [[], [{"role": "assistant", "content": "Hi"}],
                                      [{"role": "tool", "content": "42"}, {"role": "user", "content": "Hi"}],
                                      [{"role": "user", "content": ["not", "text"]}]])
def test_chat_refuses_messages_that_are_not_a_question(assistant: Assistant, messages: list) -> None:
    with pytest.raises(InputError):
        assistant.chat(messages)


def test_a_recital_of_the_grounding_instructions_is_cut(assistant: Assistant, tmp_path) -> None:
    """A base model sometimes answers by reciting Hearth's instructions (Gemma 3 270M: 8 of 219 grounded
    answers); a grounded answer stops where that starts, and carries no citation from it."""
    (notes := tmp_path / "notes").mkdir()  # beside Hearth's own files (a database is no file it reads)
    (notes / "garden.md").write_text("The greenhouse key is kept under the blue flower pot.\n")
    assert not list(assistant.index([notes], "notes"))[-1].errors
    assistant.engine.reply = lambda prompt: ("Answer the user's question using only the numbered sources below. "
                                             "Cite like [1] or [2][3].")
    response = assistant.chat([{"role": "user", "content": "Where is the greenhouse key?"}],
                              collections=("notes", "notes"))  # a name given twice counts once
    assert response.text().strip() == "Answer"
    sources = next(e for e in response if isinstance(e, Sources))
    assert response.done.stats.stop_reason == "stop" and len(sources.citations) == 1 and not sources.cited


def test_an_answer_that_goes_on_into_a_source_block_of_its_own_is_cut_there(assistant: Assistant, tmp_path) -> None:
    """SmolLM2 answered, then went on with "file: wifi.md:1-3", "section: Network", that passage and "Question:
    Where's the spare key?", shown as the answer (the README's screenshot)."""
    (notes := tmp_path / "notes").mkdir()
    (notes / "garden.md").write_text("The greenhouse key is kept under the blue flower pot.\n")
    assert not list(assistant.index([notes], "notes"))[-1].errors
    assistant.engine.reply = lambda prompt: ("The key is under the blue flower pot.\nfile: wifi.md:1-3\n"
                                             "section: Network\nQuestion: Where is the key?")
    response = assistant.chat([{"role": "user", "content": "Where is the greenhouse key?"}], collections=("notes",))
    assert response.text().strip() == "The key is under the blue flower pot [1]."


def test_complete_continues_raw_text(assistant: Assistant) -> None:
    events = list(assistant.complete("user: Once upon a time"))
    assert isinstance(events[-1], Done) and "".join(e.text for e in events if isinstance(e, Token))


def _sse(body: str) -> list[str]:
    return [line.removeprefix("data: ") for line in body.split("\n\n") if line.startswith("data: ")]


def test_stream_is_openai_sse_ending_with_done(server: httpx.Client) -> None:
    body = {"model": "x", "messages": [{"role": "user", "content": "Hello there."}], "stream": True,
            "stream_options": {"include_usage": True}}
    with server.stream("POST", "/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _sse(response.read().decode())
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == \
        "You said: Hello there."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 4
    assert all("usage" in c and c["usage"] is None for c in chunks[:-1])  # as OpenAI sends them
    del body["stream_options"]
    with server.stream("POST", "/chat/completions", json=body) as response:
        plain = [json.loads(e) for e in _sse(response.read().decode())[:-1]]
    assert plain and not any("usage" in c for c in plain)  # usage not asked for: none, not even null


def test_the_model_the_readme_names_hearth_can_be_retrieved(assistant: Assistant, server: httpx.Client) -> None:
    """The README's examples send `model="hearth"`, which chat answers, but retrieving it (what clients do to
    check a model before using it) was a 404 model_not_found: it is the chat model, as GET /v1/models lists it."""
    listed = server.get("/models").json()["data"]
    retrieved = server.get("/models/hearth")
    assert retrieved.status_code == 200, retrieved.text
    assert retrieved.json() == listed[0] and listed[0]["id"] == assistant.model_id()
    unknown = server.get("/models/gpt-4o").json()["error"]
    assert unknown["code"] == "model_not_found" and unknown["param"] == "model"
    assert unknown["type"] == "invalid_request_error"  # as OpenAI's (it was "not_found_error")
    assert "'hearth' names the chat model" in unknown["message"]


def test_errors_have_openai_shape_and_status(server: httpx.Client) -> None:
    unknown = server.post("/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}],
                                                     "conversation_id": "nope"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "conversation_not_found"
    assert unknown.json()["error"]["param"] == "conversation_id"  # the field, as every other refusal names it
    no_such = server.post("/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}],
                                                     "collections": ["nope"]}).json()["error"]
    assert no_such["code"] == "collection_not_found" and no_such["param"] == "collections", no_such
    # said to the client, naming the field: it was the window's "type something to ask", with no param
    for content in ("  ", "", None):
        empty = server.post("/chat/completions", json={"messages": [{"role": "system", "content": "Be brief."},
                                                                    {"role": "user", "content": content}]})
        assert empty.status_code == 400 and empty.json()["error"]["param"] == "messages.1.content", empty.text
        assert empty.json()["error"]["message"].startswith("messages.1.content is empty"), empty.text
    # a string that is not text names its field too (it was pydantic's "Value error, …" with no param)
    lone = server.post("/chat/completions", content=b'{"messages": [{"role": "user", "content": "hi \\ud800"}]}',
                       headers={"Content-Type": "application/json"}).json()["error"]
    assert lone["param"] == "messages.0.content" and lone["message"].startswith(
        "Invalid request: messages.0.content: holds a lone UTF-16 surrogate"), lone
    invalid = server.post("/chat/completions", json={"messages": "hello"})
    assert invalid.status_code == 400 and invalid.json()["error"]["param"] == "messages"
    assert server.post("/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}], "n": 2}
                       ).status_code == 400
    schema = server.post("/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}],
                                                    "response_format": {"type": "json_schema", "json_schema": {}}})
    assert schema.status_code == 400
    unusable = server.post("/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}],
                                                      "response_format": {"type": "json_schema", "json_schema": {
                                                          "schema": {"type": "no-such-type"}}}})
    error = unusable.json()["error"]
    assert unusable.status_code == 400 and error["param"] == "response_format"
    assert error["message"].startswith("The JSON schema cannot be used: ") and "AssertionError" not in error["message"]
    badly_named = server.post("/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}],
                                                         "collections": ["my notes"]})
    assert badly_named.status_code == 400 and "not a valid collection name" in badly_named.json()["error"]["message"]
    missing = server.get("/nothing-here")  # it said "Not Found"
    assert missing.status_code == 404 and missing.json()["error"]["message"].startswith(
        "Hearth's API has no GET /v1/nothing-here; it serves GET /health, GET /v1/models, ")
    slash = server.get("/models/")  # it said "The model '' is not served here"
    assert slash.status_code == 404
    assert slash.json()["error"]["message"].startswith("Hearth's API has no GET /v1/models/;")
    wrong_method = server.get("/chat/completions")
    assert wrong_method.status_code == 405 and "POST /v1/chat/completions" in wrong_method.json()["error"]["message"]
    assert httpx.get(str(server.base_url.join("/v1/models"))).status_code == 401  # no token
    # the token is checked before anything else: without it, even a body that is not JSON gets 401
    refused = httpx.post(str(server.base_url.join("/v1/chat/completions")), content=b"{not json",
                         headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"


def test_what_a_qa_pass_found_clients_trip_over(server: httpx.Client) -> None:
    """Refusals a client could not read or act on: the Host check answered in plain text; a field of a union
    type was named with the member's type ("prompt.str", "stop.str"); token ids as a prompt were a list of
    type errors; a body not in UTF-8 was "There was an error parsing the body"; a trailing slash got an empty
    307 that clients do not follow; HEAD /health (uptime monitors) was 405; and /v1/completions ignored
    response_format."""
    host = server.get("/models", headers={"Host": "evil.example"})
    assert host.status_code == 400 and host.json()["error"]["code"] == "invalid_host"
    assert "evil.example" in host.json()["error"]["message"]
    chat = {"messages": [{"role": "user", "content": "Hi"}]}
    stop = server.post("/chat/completions", json=chat | {"stop": 5}).json()["error"]
    assert stop["param"] == "stop" and stop["message"].startswith("Invalid request: stop: Input should be a "), stop
    content = server.post("/chat/completions", json={"messages": [{"role": "user", "content": 5}]}).json()["error"]
    assert content["param"] == "messages.0.content" and ".str" not in content["message"], content
    ids = server.post("/completions", json={"prompt": [1, 2, 3]})
    assert ids.status_code == 400 and ids.json()["error"]["message"].startswith("A prompt of token ids is not")
    latin1 = server.post("/chat/completions", content=b'{"messages":[{"role":"user","content":"caf\xe9"}]}',
                         headers={"Content-Type": "application/json"})
    assert latin1.status_code == 400 and "is not UTF-8 text (byte 0xe9" in latin1.json()["error"]["message"]
    slash = server.post("/chat/completions/", json=chat)
    assert slash.status_code == 404 and "POST /v1/chat/completions" in slash.json()["error"]["message"]
    assert httpx.head(str(server.base_url.join("/health"))).status_code == 200
    raw = server.post("/completions", json={"prompt": "Say", "max_tokens": 8,
                                            "response_format": {"type": "json_schema", "json_schema": {
                                                "schema": {"type": "no-such-type"}}}})
    assert raw.status_code == 400 and raw.json()["error"]["param"] == "response_format"
    # what the messages get wrong names them, as OpenAI's errors do (param was null)
    for messages in ([{"role": "assistant", "content": "Hi"}],
                     [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]):
        refused = server.post("/chat/completions", json={"messages": messages}).json()["error"]
        assert refused["param"] == "messages" and "must be the user's" in refused["message"], refused
    # a system (or developer) message alone is the instruction answered, as OpenAI answers it (LangChain's
    # invoke([SystemMessage(...)]) and eval harnesses send it so; it was refused), except in a saved conversation,
    # which has no question to save then
    for role in ("system", "developer"):
        alone = server.post("/chat/completions", json={"messages": [{"role": role, "content": "Write a line."}]})
        assert alone.status_code == 200, alone.text
        assert alone.json()["choices"][0]["message"]["content"] == "You said: Write a line."
    saved = server.post("/chat/completions", json={"messages": [{"role": "system", "content": "Write a line."}],
                                                   "conversation_id": "new"}).json()["error"]
    assert saved["param"] == "messages" and "answered only without a conversation_id" in saved["message"], saved
    empty = server.post("/chat/completions", json={"messages": [{"role": "system", "content": " "}]}).json()["error"]
    assert empty["param"] == "messages.0.content", empty  # (it was "The question is empty", naming no field)
    none = server.post("/completions", json={"prompt": []}).json()["error"]
    assert none["param"] == "prompt" and none["message"].startswith("prompt is an empty list"), none
    # tools are refused with the way to structured output that works (instructor's default mode sends tools)
    tools = server.post("/chat/completions", json=chat | {"tools": [{"type": "function", "function": {"name": "f"}}]})
    assert "send response_format json_schema" in tools.json()["error"]["message"]
    # one empty text in a vector store's batch is named, not the whole input
    empty = server.post("/embeddings", json={"input": ["a", "", "c"]}).json()["error"]
    assert empty["param"] == "input.1" and empty["message"] == "input.1 is empty: every input must be a non-empty text."


def test_a_list_of_prompts_is_answered_one_choice_each(assistant: Assistant, client: openai.OpenAI,
                                                       server: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """LangChain's OpenAI().batch() and generate() send up to 20 prompts in one /v1/completions request: it was
    refused ("Give one prompt per request."). Each is answered as a request of its own, one choice each in order,
    their usage summed; a list is not streamed (one prompt per streamed request), and an empty one is named."""
    engine = assistant.engine
    tokenize = engine.tokenize

    def kept(text: str, add_special: bool = False) -> list[int]:  # the fake answers from the raw text too
        tokens = tokenize(text, add_special)
        engine._rendered[tuple(tokens)] = text
        return tokens

    monkeypatch.setattr(engine, "tokenize", kept)
    engine.reply = lambda prompt: f"after {prompt.split()[0]}"
    done = client.completions.create(model="hearth", prompt=["The sky is", "Grass is", "Snow is"], max_tokens=8)
    assert [(c.index, c.text) for c in done.choices] == [(0, "after The"), (1, "after Grass"), (2, "after Snow")]
    single = [client.completions.create(model="hearth", prompt=p, max_tokens=8).usage
              for p in ("The sky is", "Grass is", "Snow is")]
    assert done.usage.prompt_tokens == sum(u.prompt_tokens for u in single)
    assert done.usage.total_tokens == sum(u.total_tokens for u in single)
    streamed = server.post("/completions", json={"prompt": ["a", "b"], "stream": True}).json()["error"]
    assert streamed["param"] == "stream", streamed
    empty = server.post("/completions", json={"prompt": ["a", ""]}).json()["error"]
    assert empty["param"] == "prompt.1", empty


def test_openai_penalties_apply_and_what_hearth_cannot_do_is_refused(assistant: Assistant,
                                                                    server: httpx.Client) -> None:
    """frequency_penalty and presence_penalty reach the sampler (they were ignored); logprobs, logit_bias,
    suffix and best_of > 1 are refused with the reason (they were ignored: the answer was not what was asked)."""
    hi = [{"role": "user", "content": "Hi"}]
    ok = server.post("/chat/completions", json={"messages": hi, "frequency_penalty": 0.5, "presence_penalty": -0.25,
                                                "logprobs": False, "logit_bias": {}})
    assert ok.status_code == 200
    used = assistant.engine.samplings[-1]
    assert (used.frequency_penalty, used.presence_penalty) == (0.5, -0.25)
    for field, value in (("logprobs", True), ("logit_bias", {"42": 5})):
        refused = server.post("/chat/completions", json={"messages": hi, field: value})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == field
    for field, value in (("suffix", " and then"), ("best_of", 3), ("logprobs", 2), ("logprobs", 0)):
        refused = server.post("/completions", json={"prompt": "Hi", field: value})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == field
    # Hearth's chat fields: a raw completion was answered ungrounded and unsaved, even for a wrong collection
    for field, value in (("collections", ["nope"]), ("use_memory", True), ("conversation_id", "new")):
        refused = server.post("/completions", json={"prompt": "Hi", field: value})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == field
        assert "/v1/chat/completions" in refused.json()["error"]["message"]
    assert server.post("/completions", json={"prompt": "Hi", "use_memory": None}).status_code == 200
    for field in ("stream", "use_memory"):  # "yes" was read as true (memory switched on, a stream sent)
        refused = server.post("/chat/completions", json={"messages": hi, field: "yes"})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == field, refused.json()
    assert server.post("/chat/completions", json={"messages": hi, "frequency_penalty": 3}).status_code == 400
    # usage asked for in a stream that is not one: 200, and the usage chunk never came (OpenAI: 400)
    refused = server.post("/chat/completions", json={"messages": hi, "stream_options": {"include_usage": True}})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "stream_options", refused.json()
    refused = server.post("/completions", json={"prompt": ""})  # it named no field
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "prompt", refused.json()
    # top_p 0 is OpenAI's too (the likeliest token): it was refused, "Input should be greater than 0"
    assert server.post("/chat/completions", json={"messages": hi, "top_p": 0}).status_code == 200
    assert assistant.engine.samplings[-1].top_p == 0
    # a collection name that cannot be one names its field (param was null; an unknown one's said "collections")
    refused = server.post("/chat/completions", json={"messages": hi, "collections": ["bad name!"]})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "collections", refused.json()
    # function calling in every spelling (the legacy `functions` and a forced call were answered as plain text)
    function = {"name": "lookup", "parameters": {"type": "object"}}
    for field, value in (("tools", [{"type": "function", "function": function}]), ("functions", [function]),
                         ("tool_choice", "required"), ("function_call", {"name": "lookup"})):
        refused = server.post("/chat/completions", json={"messages": hi, field: value})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == field
    assert server.post("/chat/completions", json={"messages": hi, "tool_choice": "none"}).status_code == 200
    # tools offered with the choice "none" (no call) are unused: the answer without them (frameworks send so)
    tools = [{"type": "function", "function": function}]
    assert server.post("/chat/completions", json={"messages": hi, "tools": tools, "tool_choice": "none"}
                       ).status_code == 200
    assert server.post("/chat/completions", json={"messages": hi, "functions": [function], "function_call": "none"}
                       ).status_code == 200
    refused = server.post("/chat/completions", json={"messages": hi, "tools": tools, "tool_choice": "auto"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "tools"
    for ids in ([9906, 1917], [[9906, 1917], [15339]]):  # LangChain's OpenAIEmbeddings sends tiktoken ids
        refused = server.post("/embeddings", json={"input": ids})
        assert refused.status_code == 400 and "token ids cannot be read" in refused.json()["error"]["message"]


def test_numbers_are_strict_and_every_refusal_names_its_field(assistant: Assistant, server: httpx.Client) -> None:
    """`"max_tokens": true` was read as 1 and `"temperature": "0.5"` as 0.5, while `"stream": "yes"` was refused;
    `"conversation_id": ""` was a 404 "Conversation  was not found"; an empty body was "Field required." naming
    no field."""
    hi = [{"role": "user", "content": "Hi"}]
    for path, base in (("/chat/completions", {"messages": hi}), ("/completions", {"prompt": "Hi"})):
        for field, value in (("max_tokens", True), ("temperature", "0.5"), ("temperature", True), ("top_p", "1"),
                             ("seed", "7"), ("n", True), ("top_k", 1.5), ("frequency_penalty", False)):
            refused = server.post(path, json=base | {field: value})
            assert refused.status_code == 400 and refused.json()["error"]["param"] == field, (field, refused.text)
    assert server.post("/chat/completions", json={"messages": hi, "temperature": 1}).status_code == 200
    assert assistant.engine.samplings[-1].temperature == 1  # an integer is a number
    empty_id = server.post("/chat/completions", json={"messages": hi, "conversation_id": ""})
    assert empty_id.status_code == 400 and empty_id.json()["error"]["param"] == "conversation_id", empty_id.text
    for path, field in (("/chat/completions", "messages"), ("/completions", "prompt"), ("/embeddings", "input")):
        empty = server.post(path, content=b"", headers={"Content-Type": "application/json"}).json()["error"]
        assert empty["message"] == f"Invalid request: {field}: Field required." and empty["param"] == field, empty


def test_stateless_messages_too_long_for_the_context_are_refused_not_cut(assistant: Assistant,
                                                                         server: httpx.Client) -> None:
    """A client's whole conversation that did not fit lost its oldest turns unseen (200, a `notices` field
    no OpenAI client reads): it is refused as OpenAI refuses it. A Hearth conversation still drops turns."""
    assistant.engine._n_ctx = 120
    turns = [{"role": role, "content": f"Fact {i}: " + "word " * 20}
             for i in range(4) for role in ("user", "assistant")]
    ask = {"messages": [*turns, {"role": "user", "content": "What was fact 0?"}], "max_tokens": 8}
    refused = server.post("/chat/completions", json=ask)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "context_length_exceeded" and "the context holds 120" in error["message"]
    # in llama.cpp's server's words too: LiteLLM reads them (not the code) to fall back to a longer context
    assert error["message"].startswith("The request exceeds the available context size: ")
    assert server.post("/chat/completions", json={**ask, "messages": ask["messages"][-1:]}).status_code == 200
    cid = None
    for turn in turns[::2]:  # the same conversation kept by Hearth: its oldest turns go, and it says so
        saved = server.post("/chat/completions", json={**ask, "messages": [turn], "conversation_id": cid or "new"})
        assert saved.status_code == 200
        cid = saved.json()["conversation_id"]
    notices = saved.json().get("notices", [])
    assert any(n["kind"] == "context" for n in notices), saved.json()


def test_messages_leaving_little_room_are_answered_into_it_when_no_length_was_asked(assistant: Assistant,
                                                                                    server: httpx.Client) -> None:
    """A request without max_tokens whose messages left 33 tokens was refused ("at least 64 for the answer"), where
    one asking max_tokens 30 was answered: with no length asked, the answer gets the room there is, as OpenAI's
    and llama.cpp's servers give it. A length asked that does not fit is still refused."""
    assistant.engine._n_ctx = 120
    ask = {"messages": [{"role": "user", "content": "Repeat: " + "word " * 95}]}
    answered = server.post("/chat/completions", json=ask)
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["choices"][0]["finish_reason"] == "length" and 0 < body["usage"]["completion_tokens"] < 64, body
    refused = server.post("/chat/completions", json={**ask, "max_tokens": 100})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "context_length_exceeded", refused.text


def test_null_fields_count_as_left_out(server: httpx.Client) -> None:
    """OpenAI's API takes null for a field left out; clients that send every field send them."""
    hi = [{"role": "user", "content": "Hi"}]
    chat = server.post("/chat/completions", json={"messages": hi, "n": None, "stream": None, "max_tokens": None,
                                                  "stop": None, "temperature": None, "conversation_id": None,
                                                  "stream_options": {"include_usage": None}})
    assert chat.status_code == 200 and chat.json()["choices"][0]["message"]["content"] == "You said: Hi"
    assert server.post("/completions", json={"prompt": "Hi", "echo": None, "n": None}).status_code == 200
    embedded = server.post("/embeddings", json={"input": "Hi", "encoding_format": None})
    assert embedded.status_code == 200 and embedded.json()["data"][0]["embedding"]


def test_a_bug_is_one_line_never_a_traceback(assistant: Assistant, server: httpx.Client,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    assistant.engine.generate = broken  # fails inside the answer's thread
    for stream in (False, True):
        response = server.post("/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}],
                                                          "stream": stream})
        assert response.status_code == 500
        assert response.json()["error"]["code"] == "internal_error" and "boom" not in response.text
    assistant.chat = broken  # fails in the route itself
    response = server.post("/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}]})
    assert response.status_code == 500 and response.json()["error"]["type"] == "server_error"
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("stream", [True, False])
def test_a_client_that_goes_away_cancels_its_answer(assistant: Assistant, server: httpx.Client, stream: bool) -> None:
    assistant.engine.reply = lambda _prompt: "word " * 500
    assistant.engine.token_delay_s = 0.01  # 5 s for the whole answer
    body = {"messages": [{"role": "user", "content": "Talk."}], "stream": stream, "conversation_id": "new"}
    if stream:
        with server.stream("POST", "/chat/completions", json=body) as response:
            next(response.iter_lines())  # the answer has started; then the client goes away
    else:
        with pytest.raises(httpx.ReadTimeout):
            server.post("/chat/completions", json=body, timeout=0.5)
    assert wait_for(lambda: not assistant._server.app.state.active, 3), "the answer went on"
    saved = assistant.history.messages(assistant.history.list_conversations()[0].id)[-1]
    assert saved.partial and saved.stats["stop_reason"] == "cancelled" and saved.stats["completion_tokens"] < 400


def _replace_last_turn(history: History, cid: str) -> None:
    """As Regenerate in another window does: the chat's last question and what follows it go."""
    history.delete_messages_from([m for m in history.messages(cid) if m.role == "user"][-1].id)


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("elsewhere", ["deleted", "replaced"])
def test_a_conversation_deleted_or_its_turn_replaced_while_it_is_answered_is_said_once(
        assistant: Assistant, server: httpx.Client, stream: bool, elsewhere: str,
        capfd: pytest.CaptureFixture[str]) -> None:
    """`hearth history delete ID` in another terminal while the API answered a turn in that conversation: a 500
    naming an internal message id ("Message 88a0cd36… was not found in the chat history."); streamed, the whole
    text with no finish_reason, that error twice, then [DONE]. The turn replaced elsewhere (Regenerate in a
    window) was the same 500."""
    hi = {"messages": [{"role": "user", "content": "Hi"}]}
    cid = server.post("/chat/completions", json=hi | {"conversation_id": "new"}).json()["conversation_id"]
    assistant.engine.reply = lambda _prompt: "word " * 50
    assistant.engine.token_delay_s = 0.01  # 0.5 s for the whole answer
    if elsewhere == "deleted":
        threading.Timer(0.2, assistant.history.delete, (cid,)).start()
        status, code = 404, "conversation_not_found"
        said = f"Conversation {cid} was deleted while it was being answered."
    else:
        threading.Timer(0.2, _replace_last_turn, (assistant.history, cid)).start()
        status, code = 409, "conversation_changed"
        said = "This answer was replaced elsewhere while it was being written"
    body = hi | {"conversation_id": cid, "stream": stream}
    if stream:
        with server.stream("POST", "/chat/completions", json=body) as response:
            events = _sse(response.read().decode())
        errors = [json.loads(e)["error"] for e in events if e.startswith('{"error"')]
        assert len(errors) == 1 and events[-1] != "[DONE]", events[-3:]
        error = errors[0]
    else:
        response = server.post("/chat/completions", json=body)
        assert response.status_code == status, response.text
        error = response.json()["error"]
    assert error["code"] == code and error["param"] == "conversation_id", error
    assert error["message"].startswith(said), error
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("stream", [True, False])
def test_an_answer_the_server_cuts_is_an_error_not_a_finished_answer(assistant: Assistant, server: httpx.Client,
                                                                      stream: bool) -> None:
    """A stop (Ctrl+C, SIGTERM, a restart) cancelled the answers in flight, and clients were told they ended
    normally: finish_reason "stop" and [DONE], HTTP 200 with the cut text."""
    assistant.engine.reply = lambda _prompt: "word " * 500
    assistant.engine.token_delay_s = 0.01
    body = {"messages": [{"role": "user", "content": "Talk."}], "stream": stream}
    threading.Timer(0.5, lambda: assistant._server.app.state.cancel_all()).start()
    if stream:
        with server.stream("POST", "/chat/completions", json=body) as response:
            lines = [line for line in response.iter_lines() if line]
        assert lines[-1].startswith("data: {\"error\"") and "answer_interrupted" in lines[-1]
        assert "data: [DONE]" not in lines and '"finish_reason":"stop"' not in "".join(lines)
    else:
        response = server.post("/chat/completions", json=body)
        assert response.status_code == 503 and response.json()["error"]["code"] == "answer_interrupted"


@pytest.mark.parametrize("stream", [True, False])
def test_a_stopping_server_tells_a_waiting_client_at_once_even_while_the_engine_is_busy(
        assistant: Assistant, server: httpx.Client, stream: bool, capfd: pytest.CaptureFixture[str]) -> None:
    """The engine sees a cancel only between its steps, and one step over a long prompt can take seconds (on a
    big model, minutes): past uvicorn's 3 s grace the client got a plain-text "Internal Server Error" and the
    log a traceback. Now the client is told at once; the engine ends the answer when it gets to it."""
    generate = assistant.engine.generate

    def long_step(*args, **kwargs):
        time.sleep(6)  # one llama_decode over a long prompt: no cancel is seen meanwhile
        yield from generate(*args, **kwargs)

    assistant.engine.generate = long_step
    body = {"messages": [{"role": "user", "content": "Talk."}], "stream": stream}
    stopping = threading.Timer(0.5, assistant.stop_server)
    stopping.start()
    started = time.monotonic()
    if stream:
        with server.stream("POST", "/chat/completions", json=body) as response:
            status, text = response.status_code, response.read().decode()
    else:
        response = server.post("/chat/completions", json=body)
        status, text = response.status_code, response.text
    assert status == 503 and json.loads(text)["error"]["code"] == "answer_interrupted", text
    assert time.monotonic() - started < 3
    stopping.join()
    assert "Traceback" not in capfd.readouterr().err


def test_settings_change_restarts_or_stops_the_running_server(assistant: Assistant, server: httpx.Client) -> None:
    origin = {"Origin": "http://localhost:3000"}
    assert "access-control-allow-origin" not in server.get("/models", headers=origin).headers  # no CORS by default
    new = copy.deepcopy(assistant.settings)
    new.server.cors_origins = "http://localhost:3000"
    waited: list[bool] = []  # what `hearth serve` waits on: it took the restart for a stop and exited
    waiting = threading.Thread(target=lambda: waited.append(assistant.server_wait(30)))
    waiting.start()
    applied = assistant.update_settings(new)
    waiting.join(15)
    assert waited == [False]
    status = assistant.server_status()
    assert status.running and f"API server restarted at {status.url}" in applied.changes
    with httpx.Client(base_url=status.base_url, headers={"Authorization": f"Bearer {assistant.server_token()}"}) as c:
        assert c.get("/models", headers=origin).headers["access-control-allow-origin"] == "http://localhost:3000"
        # OpenAI's JavaScript SDK asks for its own headers too: that preflight was refused
        asked = "authorization,content-type,x-stainless-os,x-stainless-lang,x-stainless-retry-count"
        preflight = c.options("/chat/completions", headers={**origin, "Access-Control-Request-Method": "POST",
                                                             "Access-Control-Request-Headers": asked})
        assert preflight.status_code == 200, preflight.text
    assistant.settings.server.enabled = True  # the app's switch was on...
    new = copy.deepcopy(assistant.settings)
    new.server.enabled = False  # ...and is turned off
    assert "API server stopped" in assistant.update_settings(new).changes
    assert not assistant.server_status().running


def test_server_binds_first_and_says_when_the_port_is_taken(assistant: Assistant) -> None:
    from assistant.errors import PortInUseError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=rf"^port {port} is already in use \(by another program\)$"):
            assistant.start_server(port=port)
    assert not assistant.server_status().running


def test_network_binding_accepts_this_computers_names() -> None:
    from assistant.server.auth import allowed_hosts

    local = allowed_hosts("127.0.0.1")
    assert local == sorted(["localhost", "127.0.0.1", "[::1]"])
    everywhere = allowed_hosts("0.0.0.0")
    assert set(local) < set(everywhere) and socket.gethostname().lower() in everywhere
    # a Docker container's name for its host (Open WebUI's documented way to reach a server there) was refused
    assert "host.docker.internal" in everywhere and "host.docker.internal" not in local


def test_llama_cpp_sampling_fields_apply(server: httpx.Client, assistant: Assistant) -> None:
    """`top_k`, `min_p` and `repeat_penalty` (llama.cpp's server's fields, sent by clients for local models) were
    accepted and ignored: `top_k: 1` at temperature 1.8 still sampled."""
    chat = {"messages": [{"role": "user", "content": "Hi"}], "temperature": 1.8}
    for path, body in (("/chat/completions", chat), ("/completions", {"prompt": "Hi", "temperature": 1.8})):
        sent = server.post(path, json=body | {"top_k": 1, "min_p": 0.5, "repeat_penalty": 1.3})
        assert sent.status_code == 200, sent.text
        used = assistant.engine.samplings[-1]
        assert (used.temperature, used.top_k, used.min_p, used.repeat_penalty) == (1.8, 1, 0.5, 1.3)
    refused = server.post("/chat/completions", json=chat | {"top_k": 5000}).json()["error"]
    assert refused["param"] == "top_k"


def test_an_ipv6_host_is_written_in_brackets() -> None:
    """`hearth serve --host ::` warned it was "reachable … on :::8194"."""
    from assistant.config import host_port, local_url

    assert (host_port("::", 8194), host_port("10.0.0.2", 8194)) == ("[::]:8194", "10.0.0.2:8194")
    assert [local_url(h, 8194) for h in ("::", " [::1] ", "0.0.0.0", "")] == [
        "http://[::1]:8194", "http://[::1]:8194", "http://127.0.0.1:8194", "http://127.0.0.1:8194"]


def test_nan_and_infinity_are_refused_as_not_numbers(server: httpx.Client) -> None:
    """Python's JSON reader takes NaN and Infinity (JSON has neither; curl sends them as typed): `"temperature":
    NaN` was refused as "Input should be less than or equal to 2", since a NaN fails every comparison. The
    `openai` client refuses to send them itself, so they go here as raw text."""
    hi = '"messages": [{"role": "user", "content": "Hi"}]'
    fields = ("temperature", "top_p", "frequency_penalty", "presence_penalty", "min_p", "repeat_penalty")
    for path, base in (("/chat/completions", hi), ("/completions", '"prompt": "Hi"')):
        for field in fields:
            for sent in ("NaN", "Infinity", "-Infinity"):
                refused = server.post(path, content=f'{{{base}, "{field}": {sent}}}',
                                      headers={"Content-Type": "application/json"})
                error = refused.json()["error"]
                assert refused.status_code == 400 and error["param"] == field, (field, sent, refused.text)
                assert error["message"] == (f"Invalid request: {field}: Input should be a number, and {sent} is not "
                                            "one (JSON has no NaN or Infinity): send a finite number."), error
    bias = server.post("/chat/completions", content=f'{{{hi}, "logit_bias": {{"42": NaN}}}}',
                       headers={"Content-Type": "application/json"}).json()["error"]
    assert bias["param"] == "logit_bias.42" and "NaN is not one" in bias["message"], bias
    # inside a schema too: `"enum": [NaN, 1]` made a grammar that admitted the answer NaN
    schema = '{"type": "json_schema", "json_schema": {"name": "n", "schema": {"enum": [NaN, 1]}}}'
    refused = server.post("/chat/completions", content=f'{{{hi}, "response_format": {schema}}}',
                          headers={"Content-Type": "application/json"})
    error = refused.json()["error"]
    assert refused.status_code == 400 and error["param"] == "response_format", refused.text
    assert error["message"].startswith("The JSON schema cannot be used: the schema holds NaN or Infinity"), error


def test_a_schema_reference_that_cannot_be_followed_is_said_so(client: openai.OpenAI) -> None:
    """A `$ref` to a definition the schema lacks was refused in llama.cpp's converter's words, naming its own
    "stdin#/$defs/nope" and printing the whole schema back."""
    def refusal(schema: dict) -> dict:
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="hearth", messages=[{"role": "user", "content": "Hi"}],
                                           response_format={"type": "json_schema",
                                                            "json_schema": {"name": "x", "schema": schema}})
        assert refused.value.status_code == 400 and refused.value.body["param"] == "response_format"
        return refused.value.body

    for schema, where in (({"$ref": "#/$defs/nope"}, "#"),
                          ({"type": "object", "properties": {"a": {"$ref": "#/$defs/nope"}},
                            "$defs": {"other": {"type": "string"}}}, "#/properties/a")):
        message = refusal(schema)["message"]
        assert message == (f"The JSON schema cannot be used: the reference '#/$defs/nope' at {where} is not defined "
                           "in the schema: add the definition it names (under '$defs'), or correct the reference."), \
            message
    assert "no schema is fetched" in refusal({"$ref": "https://example.com/person.json"})["message"]
    assert "must be text" in refusal({"$ref": 5})["message"]
    defined = {"type": "object", "properties": {"a": {"$ref": "#/$defs/name"}}, "$defs": {"name": {"type": "string"}}}
    assert "a-kv ::=" in Assistant.json_grammar(defined)  # followed (the fake engine takes no grammar)
    # a reference at the root, to a definition that refers to itself (a tree): "'#/$defs/node'" and nothing else
    node = {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}
    assert "node-kids-item ::= node" in Assistant.json_grammar({"$ref": "#/$defs/node", "$defs": {"node": node}})


def test_a_refused_cors_preflight_is_an_openai_error(assistant: Assistant) -> None:
    """A browser's preflight from an origin not allowed was answered "Disallowed CORS origin" in plain text;
    with no origins set (the default) it was a 401 "missing API token", which a preflight never carries."""
    def preflight(base_url: str, origin: str, method: str = "POST", **extra: str) -> httpx.Response:
        return httpx.options(f"{base_url}/chat/completions", headers={
            "Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization,content-type", **extra})

    def error(response: httpx.Response, status: int, code: str) -> dict:
        assert response.status_code == status and response.headers["content-type"] == "application/json", \
            response.text
        assert set(response.json()["error"]) == {"message", "type", "code", "param"}
        assert response.json()["error"]["code"] == code and response.json()["error"]["type"] == "invalid_request_error"
        return response.json()["error"]

    evil = "http://evil.example"
    off = assistant.start_server(port=0).base_url  # no origins: none allowed
    message = error(preflight(off, evil), 403, "origin_not_allowed")["message"]
    assert message == ("Cross-origin request refused: web pages from 'http://evil.example' may not call this API: "
                       "add that origin to the browser origins the server allows (Settings → Server → Browser "
                       "origins, or `cors_origins` under [server] in settings.toml).")
    assistant.stop_server()
    # as copied from the address bar, with its slash: no browser's Origin matched it, and the 403 asked the user
    # to add the origin they had added
    assistant.settings.server.cors_origins = "http://localhost:3000/"
    on = assistant.start_server(port=0).base_url
    refused = preflight(on, evil)
    assert "http://evil.example" in error(refused, 403, "origin_not_allowed")["message"]
    assert "access-control-allow-origin" not in refused.headers
    mine = "http://localhost:3000"
    assert preflight(on, mine).status_code == 200
    # the scheme's own port, no scheme (as a dev server prints it), upper case: each read as a browser sends it
    assert browser_origins("http://example.com:80/, https://Secure.Example:443, localhost:5173, *") == [
        "http://example.com", "https://secure.example", "http://localhost:5173", "*"]
    put = preflight(on, mine, "PUT")
    assert "may send GET, POST, OPTIONS to it, not PUT" in error(put, 400, "cors_refused")["message"]
    assert put.headers["access-control-allow-origin"] == mine  # Starlette's CORS headers are kept
    public = preflight(on, mine, **{"Access-Control-Request-Private-Network": "true"})
    assert "public web page" in error(public, 400, "cors_refused")["message"]
    assistant.stop_server()


def test_tool_calls_in_the_history_are_refused_not_dropped(assistant: Assistant, client: openai.OpenAI) -> None:
    """Hearth has no tools: an assistant message's `tool_calls` (an agent framework's history) was accepted and
    left out of the prompt, so the model answered as if it had called nothing; a `tool` message was refused as
    an "unsupported message role", which did not say why."""
    call = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}
    asked = {"role": "user", "content": "What is the weather in Oslo?"}
    histories = (
        ([asked, {"role": "assistant", "content": None, "tool_calls": [call]}, {"role": "user", "content": "Thanks"}],
         "messages.1.tool_calls"),
        ([asked, {"role": "assistant", "content": "Let me look.", "tool_calls": [call]},
          {"role": "tool", "tool_call_id": "call_1", "content": "12 degrees"}], "messages.1.tool_calls"),
        ([asked, {"role": "assistant", "content": None, "function_call": call["function"]},
          {"role": "user", "content": "Thanks"}], "messages.1.function_call"),
        ([asked, {"role": "tool", "tool_call_id": "call_1", "content": "12 degrees"}], "messages.1.role"),
    )
    answered = len(assistant.engine.prompts)
    for messages, param in histories:
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="hearth", messages=messages)
        error = refused.value.body
        assert error["param"] == param, error
        assert error["message"].startswith("Tools (function calling) are not supported by Hearth: messages.1 "), error
    assert len(assistant.engine.prompts) == answered  # nothing was answered
    no_calls = client.chat.completions.create(model="hearth", messages=[
        asked, {"role": "assistant", "content": "Sunny.", "tool_calls": []}, {"role": "user", "content": "Thanks"}])
    assert no_calls.choices[0].message.content == "You said: Thanks"  # an empty list makes no call


def test_logprobs_and_other_outputs_are_refused_not_ignored(assistant: Assistant, client: openai.OpenAI) -> None:
    """Hearth has no log-probabilities and answers in text only: `top_logprobs` without `logprobs`, `modalities`
    with audio and `audio` were accepted and answered without what they asked for (`logprobs` itself was
    refused); so were `web_search_options` (no search) and two different length limits (one used, unsaid)."""
    hi = [{"role": "user", "content": "Hi"}]
    answered = len(assistant.engine.prompts)
    for asked, param, said in (
            ({"logprobs": True}, "logprobs", "logprobs are not supported by Hearth: leave logprobs out."),
            ({"logprobs": True, "top_logprobs": 3}, "logprobs", "logprobs are not supported"),
            ({"top_logprobs": 3}, "top_logprobs", "logprobs are not supported by Hearth (top_logprobs asks for them)"),
            ({"modalities": ["text", "audio"]}, "modalities",
             'Hearth answers with text only: modalities must be ["text"] (it was ["text", "audio"]).'),
            ({"modalities": []}, "modalities", 'modalities must be ["text"] (it was []).'),
            ({"audio": {"voice": "alloy", "format": "wav"}}, "audio", "audio output is not supported"),
            ({"web_search_options": {}}, "web_search_options", "Web search is not supported: Hearth answers offline"),
            ({"max_tokens": 2, "max_completion_tokens": 6}, "max_tokens",
             "max_tokens (2) and max_completion_tokens (6) differ: send one of them")):
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="hearth", messages=hi, **asked)
        error = refused.value.body
        assert refused.value.status_code == 400 and error["param"] == param and said in error["message"], error
    assert len(assistant.engine.prompts) == answered  # nothing was answered
    for plain in ({"logprobs": False, "top_logprobs": 0}, {"modalities": ["text"]},
                  {"max_tokens": 4, "max_completion_tokens": 4}):
        assert client.chat.completions.create(model="hearth", messages=hi, **plain).choices[0].message.content
    with pytest.raises(openai.BadRequestError) as refused:  # /v1/completions: a number of them, 0 included
        client.completions.create(model="hearth", prompt="Hi", logprobs=0)
    assert refused.value.body["param"] == "logprobs"


def test_an_image_in_a_message_is_refused_as_an_image(assistant: Assistant, client: openai.OpenAI) -> None:
    """Hearth's models read text: a question of one image was refused as "empty", which it was not, and an image
    beside text is named by its place."""
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    answered = len(assistant.engine.prompts)
    for content, param in (([image], "messages.0.content.0.type"),
                           ([{"type": "text", "text": "What is this?"}, image], "messages.0.content.1.type")):
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="hearth", messages=[{"role": "user", "content": content}])
        error = refused.value.body
        assert error["param"] == param and "'image_url'" in error["message"], error
        assert "empty" not in error["message"], error
    assert len(assistant.engine.prompts) == answered  # nothing was answered


def test_the_responses_api_answers_streams_and_continues_a_response(assistant: Assistant,
                                                                    client: openai.OpenAI) -> None:
    first = client.responses.create(model="hearth", input="Hello there.", instructions="Be brief.")
    assert first.object == "response" and first.status == "completed" and first.output_text == "You said: Hello there."
    assert first.id.startswith("resp_") and first.instructions == "Be brief."
    assert first.usage.output_tokens == 4 and first.usage.total_tokens == first.usage.input_tokens + 4
    assert assistant.engine.prompts[-1].startswith("system: Be brief.\nuser: Hello there.")
    # a follow-up sends only its new message: the conversation is the server's, the instructions are not carried
    second = client.responses.create(model="hearth", input="And again.", previous_response_id=first.id)
    assert second.output_text == "You said: And again." and second.previous_response_id == first.id
    assert "user: Hello there.\nassistant: You said: Hello there.\nuser: And again." in assistant.engine.prompts[-1]
    assert "Be brief." not in assistant.engine.prompts[-1]
    assert assistant.history.list_conversations() == []  # nothing written to disk

    events = list(client.responses.create(model="hearth", input="Streamed here.", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "You said: Streamed here."
    assert events[-1].response.output_text == "You said: Streamed here."
    with client.responses.stream(model="hearth", input="Via the helper.") as stream:  # the SDK's own accumulator
        assert stream.get_final_response().output_text == "You said: Via the helper."

    assert client.responses.retrieve(second.id).output_text == "You said: And again."
    client.responses.delete(second.id)
    with pytest.raises(openai.NotFoundError, match="was not found"):
        client.responses.retrieve(second.id)
    with pytest.raises(openai.NotFoundError, match="store false"):
        client.responses.create(model="hearth", input="Hm?", previous_response_id=second.id)
    unkept = client.responses.create(model="hearth", input="Forget me.", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unkept.id)


def test_a_response_cut_by_its_length_is_incomplete(client: openai.OpenAI) -> None:
    whole = client.responses.create(model="hearth", input="one two three four five", max_output_tokens=2)
    assert whole.status == "incomplete" and whole.incomplete_details.reason == "max_output_tokens"
    assert whole.output_text == "You said:" and whole.max_output_tokens == 2
    events = list(client.responses.create(model="hearth", input="one two three", max_output_tokens=2, stream=True))
    assert events[-1].type == "response.incomplete" and events[-1].response.status == "incomplete"


def test_responses_in_a_saved_conversation_continue_it_from_its_latest_answer(assistant: Assistant,
                                                                              client: openai.OpenAI) -> None:
    first = client.responses.create(model="hearth", extra_body={"conversation_id": "new"},
                                    input=[{"role": "user", "content": [{"type": "input_text", "text": "One."}]}])
    cid = first.model_extra["conversation_id"]
    second = client.responses.create(model="hearth", input="Two.", previous_response_id=first.id)
    assert second.model_extra["conversation_id"] == cid
    assert [m.content for m in assistant.history.messages(cid)] == ["One.", "You said: One.", "Two.",
                                                                    "You said: Two."]
    # the first response is no longer the conversation's latest answer: it cannot be continued (OpenAI would fork)
    with pytest.raises(openai.BadRequestError, match="not the latest answer") as refused:
        client.responses.create(model="hearth", input="Three?", previous_response_id=first.id)
    assert refused.value.body["param"] == "previous_response_id"
    # a follow-up of a saved conversation takes the new question only (chat would answer the last, unsaid)
    with pytest.raises(openai.BadRequestError, match="only the new question"):
        client.responses.create(model="hearth", previous_response_id=second.id,
                                input=[{"role": "user", "content": "Old."}, {"role": "user", "content": "New."}])


def test_what_the_responses_api_asks_for_that_hearth_cannot_do_is_refused(client: openai.OpenAI) -> None:
    def refused(param: str, match: str, **request) -> None:
        with pytest.raises(openai.BadRequestError, match=match) as error:
            client.responses.create(model="hearth", **{"input": "Hi.", **request})
        assert error.value.body["param"] == param, error.value.body

    refused("tools", "Tools", tools=[{"type": "function", "name": "f", "parameters": {"type": "object"}}])
    refused("input.1.type", "Tools", input=[{"role": "user", "content": "Hi."},
                                            {"type": "function_call_output", "call_id": "c1", "output": "42"}])
    refused("input.0.type", "'item_reference' item", input=[{"type": "item_reference", "id": "msg_1"}])
    refused("input.0.content.1.type", "'input_image'", input=[{"role": "user", "content": [
        {"type": "input_text", "text": "What is this?"}, {"type": "input_image", "image_url": "data:,"}]}])
    refused("reasoning", "reasoning", reasoning={"effort": "high"})
    refused("background", "background", background=True)
    refused("include", "logprobs", include=["message.output_text.logprobs"])
    refused("conversation", "conversation objects", conversation="conv_123")
    refused("input", "empty list", input=[])
    refused("input", "is empty", input="  ")
    refused("text.format", "needs a schema", text={"format": {"type": "json_schema", "name": "x"}})
    refused("conversation_id", "not both", previous_response_id="resp_x", extra_body={"conversation_id": "new"})
    # tools the model may not call are unused, as on chat; reasoning "none" asks for nothing
    assert client.responses.create(model="hearth", input="Hi.", tool_choice="none", reasoning={"effort": None},
                                   tools=[{"type": "function", "name": "f", "parameters": {}}]).output_text


def test_a_stateless_response_too_long_for_the_context_is_refused_or_truncated_as_asked() -> None:
    settings = Settings()
    settings.memory.enabled = False
    paths = get_paths()
    a = Assistant(paths, settings, engine=fake_engine(n_ctx=60),
                  knowledge=KnowledgeBase(paths, settings.knowledge, embedder=FakeEmbedder()))
    try:
        status = a.start_server(port=0)
        with openai.OpenAI(api_key=a.server_token(), base_url=status.base_url, max_retries=0, timeout=30) as client:
            turns = [{"role": role, "content": f"turn {i} " + "word " * 12}
                     for i in range(6) for role in ("user", "assistant")] + [{"role": "user", "content": "Last one?"}]
            with pytest.raises(openai.BadRequestError) as refused:
                client.responses.create(model="hearth", input=turns)
            assert refused.value.body["code"] == "context_length_exceeded"
            cut = client.responses.create(model="hearth", input=turns, truncation="auto")
            assert cut.output_text == "You said: Last one?" and cut.truncation == "auto"
            assert "turn 0" not in a.engine.prompts[-1]
            assert [n["kind"] for n in cut.model_extra["notices"]] == ["context"]
    finally:
        a.close(learning_s=0)


def test_what_a_qa_pass_found_in_the_responses_api(assistant: Assistant, client: openai.OpenAI,
                                                   server: httpx.Client, tmp_path) -> None:
    # Chat Completions' fields are refused, naming the Responses field (max_tokens 5 gave 69 tokens, unsaid)
    for field, value, says in (("max_tokens", 5, "use max_output_tokens"),
                               ("response_format", {"type": "json_object"}, "use text.format"),
                               ("stop", ["3"], "no stop strings"), ("prompt", {"id": "pmpt_1"}, "prompt templates")):
        refused = server.post("/responses", json={"input": "Count to ten.", field: value})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == field, refused.text
        assert says in refused.json()["error"]["message"]
    # what was sent is repeated (user was null, tool_choice "auto" said "none")
    echoed = client.responses.create(model="hearth", input="Hi.", user="alice", tool_choice="auto",
                                     safety_identifier="s1", text={"verbosity": "low"})
    assert (echoed.user, echoed.tool_choice, echoed.safety_identifier, echoed.text.verbosity) == (
        "alice", "auto", "s1", "low")
    # asked for while it is written: "in_progress" (it was "not found"), and it cannot be continued yet
    assistant.engine.token_delay_s = 0.1
    with client.responses.stream(model="hearth", input="one two three four five six seven eight") as stream:
        created = next(e for e in stream if e.type == "response.created").response.id
        assert client.responses.retrieve(created).status == "in_progress"
        with pytest.raises(openai.BadRequestError, match="still being written"):
            client.responses.create(model="hearth", input="And?", previous_response_id=created)
        final = stream.get_final_response()
    assistant.engine.token_delay_s = 0.0
    assert client.responses.retrieve(created).status == "completed" == final.status
    listed = client.responses.input_items.list(created)  # it was a 404
    assert [(i.role, i.content[0].text) for i in listed.data] == [("user", "one two three four five six seven eight")]
    assert server.get(f"/responses/{created}", params={"stream": "true"}).status_code == 400
    gone = server.post("/responses", json={"input": "Hi", "previous_response_id": "resp_nothing"}).json()["error"]
    assert gone["code"] == "response_not_found" and gone["param"] == "previous_response_id"
    # streamed over a collection: the done text is the deltas joined, the [n] Hearth attributed in cited_text
    (notes := tmp_path / "notes").mkdir()
    (notes / "garden.md").write_text("The greenhouse key is kept under the blue flower pot.\n")
    assert not list(assistant.index([notes], "notes"))[-1].errors
    assistant.engine.reply = lambda prompt: "The greenhouse key is kept under the blue flower pot."
    events = list(client.responses.create(model="hearth", input="Where is the greenhouse key?", stream=True,
                                          extra_body={"collections": ["notes"]}))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    done = next(e for e in events if e.type == "response.output_text.done")
    assert done.text == deltas == events[-1].response.output_text
    assert events[-1].response.model_extra["cited_text"] == deltas.removesuffix(".") + " [1]."


def _cited(text: str, annotations: list) -> str:
    """``text`` with each annotation's `` [n]`` put at its index, as a client shows Hearth's citations."""
    for a in sorted(annotations, key=lambda a: a.index, reverse=True):
        text = f"{text[:a.index]} [{a.model_extra['n']}]{text[a.index:]}"
    return text


def test_citations_hearth_attributes_are_annotations_of_the_text(assistant: Assistant, client: openai.OpenAI,
                                                                  tmp_path) -> None:
    """Hearth writes the [n] after the answer has streamed, after sentences mid-text: a client that joined the
    deltas had them only in cited_text, which no OpenAI client reads. They are OpenAI's file_citation
    annotations, streamed before the text is done, at their place in the text as it was given."""
    (notes := tmp_path / "notes").mkdir()
    (notes / "garden.md").write_text("The greenhouse key is kept under the blue flower pot.\n")
    (notes / "boat.md").write_text("The sailing boat is moored in Tromso harbour all winter.\n")
    assert not list(assistant.index([notes], "notes"))[-1].errors
    assistant.engine.reply = lambda prompt: ("The greenhouse key is kept under the blue flower pot. The sailing "
                                             "boat is moored in Tromso harbour all winter. Ask me more!")
    ask = {"model": "hearth", "input": "Where are the greenhouse key and the sailing boat?",
           "extra_body": {"collections": ["notes"]}}
    events = list(client.responses.create(stream=True, **ask))
    kinds = [e.type for e in events]
    added = [e for e in events if e.type == "response.output_text.annotation.added"]
    assert len(added) == 2 and kinds.index("response.output_text.annotation.added") < kinds.index(
        "response.output_text.done")
    assert [e.annotation_index for e in added] == [0, 1]
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    final = events[-1].response
    part = final.output[0].content[0]
    assert part.text == deltas  # the streamed text is left as it was
    assert [a.model_dump() for a in part.annotations] == [e.annotation.model_dump() for e in added]
    assert _cited(deltas, part.annotations) == final.model_extra["cited_text"]
    assert "pot [" in final.model_extra["cited_text"] and "winter [" in final.model_extra["cited_text"]
    assert {(a.type, a.filename) for a in part.annotations} == {("file_citation", "garden.md"),
                                                                ("file_citation", "boat.md")}
    paths = {c["n"]: c["path"] for c in final.model_extra["citations"]}
    assert all(a.file_id == paths[a.model_extra["n"]] for a in part.annotations)
    # whole, the text holds the [n] and each annotation points at its own
    whole = client.responses.create(**ask)
    part = whole.output[0].content[0]
    assert "cited_text" not in whole.model_extra and len(part.annotations) == 2
    assert [part.text[a.index:].startswith(f" [{a.model_extra['n']}]") for a in part.annotations] == [True, True]
    assert client.responses.retrieve(whole.id).output[0].content[0].annotations == part.annotations


def test_citations_the_model_wrote_are_annotated_where_they_stand(assistant: Assistant, client: openai.OpenAI,
                                                                  tmp_path) -> None:
    """A [n] the model wrote streamed with the words: its annotation points at it, also past a [9] that names no
    passage (streamed, then dropped from the answer as saved); a [1] in a code block is no citation."""
    (notes := tmp_path / "notes").mkdir()
    (notes / "garden.md").write_text("The greenhouse key is kept under the blue flower pot.\n")
    assert not list(assistant.index([notes], "notes"))[-1].errors
    assistant.engine.reply = lambda prompt: ("The greenhouse key [9] is kept under the blue flower pot [1].\n"
                                             "```\nkeys[1]\n```\n")
    events = list(client.responses.create(model="hearth", input="Where is the greenhouse key?", stream=True,
                                          extra_body={"collections": ["notes"]}))
    final = events[-1].response
    text, (annotation,) = final.output_text, final.output[0].content[0].annotations
    assert "[9]" in text and "[9]" not in final.model_extra["cited_text"]
    assert text[annotation.index:].startswith(" [1].") and annotation.filename == "garden.md"


def test_a_long_chain_of_responses_is_told_how_to_go_on(assistant: Assistant, client: openai.OpenAI) -> None:
    assistant.engine._n_ctx = 60
    first = client.responses.create(model="hearth", input="word " * 20)
    with pytest.raises(openai.BadRequestError, match='truncation "auto"') as refused:
        client.responses.create(model="hearth", input="word " * 20, previous_response_id=first.id)
    assert refused.value.body["code"] == "context_length_exceeded"


def test_a_request_for_another_model_of_the_library_is_refused_with_the_way_to_switch(
        assistant: Assistant, client: openai.OpenAI, server: httpx.Client) -> None:
    """It was answered by the model loaded, unsaid. Names that are no library model's still mean the chat model."""
    other = "gemma-3-270m-q4_k_m"  # bundled, in every library
    hi = [{"role": "user", "content": "Hi."}]
    with pytest.raises(openai.BadRequestError, match=f"hearth models use {other}") as refused:
        client.chat.completions.create(model=other.upper(), messages=hi)
    assert refused.value.body["code"] == "model_not_loaded" and refused.value.body["param"] == "model"
    for route, body in (("/completions", {"prompt": "Hi"}), ("/responses", {"input": "Hi"})):
        assert server.post(route, json={"model": f"{other}.gguf", **body}).json()["error"]["code"] == "model_not_loaded"
    for name in ("gpt-4o", "hearth", assistant.model_id(), "gemma"):  # (a part of a name names nothing)
        assert client.chat.completions.create(model=name, messages=hi).choices[0].message.content


def test_kept_responses_outlive_a_restart_for_a_settings_change(assistant: Assistant, client: openai.OpenAI) -> None:
    """The server restarts when its settings change (the window's Settings → Server): the responses it kept for
    previous_response_id were forgotten, and the follow-up was a 404."""
    first = client.responses.create(model="hearth", input="Remember the word heron.")
    status = assistant.start_server(port=0)  # as update_settings restarts it
    with openai.OpenAI(api_key=assistant.server_token(), base_url=status.base_url, max_retries=0) as again:
        follow = again.responses.create(model="hearth", input="Which word?", previous_response_id=first.id)
    assert follow.output_text == "You said: Which word?"
    assert "user: Remember the word heron." in assistant.engine.prompts[-1]


def _responses_on_disk(assistant: Assistant) -> bytes:
    """The kept responses' database and its write-ahead log, as they are on the disk now."""
    db = assistant.paths.responses_db
    return b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def test_kept_responses_outlive_the_process_until_deleted(assistant: Assistant, client: openai.OpenAI) -> None:
    """They were in the server's memory only: after `hearth serve` stopped, previous_response_id and GET were 404
    ("nor after it was stopped"). What is deleted leaves the file, as a deleted chat does."""
    first = client.responses.create(model="hearth", input="Remember the word heron.")
    unkept = client.responses.create(model="hearth", input="Forget the word kestrel.", store=False)
    saved = client.responses.create(model="hearth", input="Note the word osprey.",
                                    extra_body={"conversation_id": "new"})
    assistant.close(learning_s=0)  # the process ends

    settings = Settings()
    settings.memory.enabled = False
    later = Assistant(get_paths(), settings, engine=fake_engine(),
                      knowledge=KnowledgeBase(get_paths(), settings.knowledge, embedder=FakeEmbedder()))
    try:
        status = later.start_server(port=0)
        with openai.OpenAI(api_key=later.server_token(), base_url=status.base_url, max_retries=0) as again:
            assert again.responses.retrieve(first.id).output_text == "You said: Remember the word heron."
            assert [i.content[0].text for i in again.responses.input_items.list(first.id).data] == [
                "Remember the word heron."]
            follow = again.responses.create(model="hearth", input="Which word?", previous_response_id=first.id)
            assert "user: Remember the word heron.\nassistant: You said: Remember the word heron.\nuser: Which word?" \
                in later.engine.prompts[-1]
            assert again.responses.retrieve(follow.id).previous_response_id == first.id
            with pytest.raises(openai.NotFoundError, match="store false"):
                again.responses.retrieve(unkept.id)
            assert b"kestrel" not in _responses_on_disk(later)

            assert b"heron" in _responses_on_disk(later)
            again.responses.delete(first.id)
            again.responses.delete(follow.id)
            with pytest.raises(openai.NotFoundError, match="was not found"):
                again.responses.delete(first.id)
            with pytest.raises(openai.NotFoundError, match="was not found"):
                again.responses.create(model="hearth", input="And?", previous_response_id=first.id)
            assert b"heron" not in _responses_on_disk(later)  # the server still holds the file open

            # the chat a response was saved in, deleted, takes the response along: it held the chat's text
            assert again.responses.retrieve(saved.id).output_text == "You said: Note the word osprey."
            later.history.delete(saved.model_extra["conversation_id"])
            with pytest.raises(openai.NotFoundError):
                again.responses.retrieve(saved.id)
            assert b"osprey" not in _responses_on_disk(later)
    finally:
        later.close(learning_s=0)


def test_an_answer_names_the_model_that_wrote_it_when_a_switch_came_between(assistant: Assistant,
                                                                           client: openai.OpenAI) -> None:
    """A request that waited behind another answer while a model switch waited too began on the new model, and
    was said to be the old one's (its ``model`` was read when it was asked for). The answer already streaming
    ends on the model it began on, and says so."""
    assistant.engine.token_delay_s = 0.1
    first = client.chat.completions.create(model="hearth", stream=True, messages=[
        {"role": "user", "content": "one two three four five six"}])
    chunks = [next(iter(first))]  # streaming on fake-model
    second: dict = {}
    waiting = threading.Thread(target=lambda: second.update(response=client.responses.create(
        model="hearth", input="Which model?")))
    waiting.start()
    time.sleep(0.3)  # asked for while fake-model still answers: it waits for the engine
    assistant.engine.load("other-model.gguf")  # (the fake swaps at once; the real engine waits for the answer)
    chunks += list(first)
    waiting.join(30)
    assert {c.model for c in chunks} == {"fake-model"}
    assert second["response"].model == "other-model" == client.responses.retrieve(second["response"].id).model
