"""Request bodies, with OpenAI's field names. Unknown fields are accepted and ignored (clients send many).

Hearth's extensions are top-level fields, which is what the ``openai`` client's ``extra_body`` sends:
``collections``, ``use_memory`` and ``conversation_id`` (see the README's "Local API" section).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, model_validator
from pydantic_core import PydanticCustomError

#: The error type of a string that is not text; its context's ``field`` names where it is ("messages.0.content")
LONE_SURROGATE = "lone_surrogate"


class _Body(BaseModel):
    """Numbers must be finite, in every field: Python's JSON reader takes ``NaN`` and ``Infinity``, which JSON
    has not, and ``"temperature": NaN`` was refused as "should be less than or equal to 2" (a NaN fails every
    comparison), while a field with no bounds would have passed it to the sampler."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, allow_inf_nan=False)


class _Request(_Body):
    """A whole request body: its text must be Unicode that can be encoded, which JSON's ``\\ud800`` escapes
    need not be (a lone surrogate). Found here, it is a 400 naming the field; found by the tokenizer or the
    history, it was a 500 "internal error". A top-level field sent as null counts as left out, as in OpenAI's
    API: ``"n": null`` or ``"stream": null`` (clients that send every field) were refused with a 400."""

    @model_validator(mode="before")
    @classmethod
    def _text_and_nulls(cls, data: Any) -> Any:
        where = _lone_surrogate(data)
        if where is not None:  # the field it is in is said as the error's own (see server.app._invalid_request)
            raise PydanticCustomError(LONE_SURROGATE, "holds a lone UTF-16 surrogate (a \\ud800-\\udfff escape "
                                      "without its pair), which is not text", {"field": where})
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data


def _lone_surrogate(value: Any, path: str = "") -> str | None:
    """The path of the first string in ``value`` that cannot be encoded as UTF-8, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if (found := _lone_surrogate(item, f"{path}.{key}" if path else str(key))) is not None:
            return found
    return None


class TextPart(_Body):
    type: str
    text: str | None = None


class ChatMessage(_Body):
    role: str
    content: str | list[TextPart] | None = None
    # an earlier answer's calls (and the legacy single call): refused by the route, as tools are; they were
    # accepted and left out of the prompt
    tool_calls: list[Any] | None = None
    function_call: dict[str, Any] | None = None

    def text(self) -> str:
        """The content as text; parts other than text (images, audio) are refused by the route."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        return "".join(p.text or "" for p in self.content)


class JsonSchemaFormat(_Body):
    name: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: StrictBool | None = None


class ResponseFormat(_Body):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(_Body):
    include_usage: StrictBool | None = None  # null counts as left out here too


class _Generation(_Request):
    """What both completion endpoints take. Numbers are strict, as switches are: true and "0.5" are refused, not
    read as 1 and 0.5 (an integer is a number, though: ``"temperature": 1``)."""

    model: str | None = None  # the chat model, whatever the name, but another of the library's (refused)
    max_tokens: StrictInt | None = Field(None, ge=1)
    temperature: StrictFloat | None = Field(None, ge=0, le=2)
    top_p: StrictFloat | None = Field(None, ge=0, le=1)  # 0 as OpenAI: the likeliest token only
    seed: StrictInt | None = None
    stop: str | list[str] | None = None
    stream: StrictBool = False  # text ("yes") is refused, as OpenAI does: it was read as true
    stream_options: StreamOptions | None = None
    n: StrictInt = 1
    frequency_penalty: StrictFloat | None = Field(None, ge=-2, le=2)
    presence_penalty: StrictFloat | None = Field(None, ge=-2, le=2)
    # llama.cpp's server's (and vLLM's) sampling fields, which clients for local models send: they were accepted
    # and ignored, so `top_k: 1` still sampled
    top_k: StrictInt | None = Field(None, ge=0, le=1000)
    min_p: StrictFloat | None = Field(None, ge=0, le=1)
    repeat_penalty: StrictFloat | None = Field(None, ge=0.5, le=2)
    logit_bias: dict[str, StrictFloat] | None = None  # refused unless empty
    logprobs: StrictBool | StrictInt | None = None  # refused when asked for (chat: true; completions: a number)
    response_format: ResponseFormat | None = None

    def stops(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ChatCompletionRequest(_Generation):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: StrictInt | None = Field(None, ge=1)
    tools: list[Any] | None = None  # refused when given, as are the legacy functions and a forced call
    functions: list[Any] | None = None
    tool_choice: str | dict[str, Any] | None = None
    function_call: str | dict[str, Any] | None = None
    # what the answer is to carry besides its text: refused by the route unless it asks for none (it was ignored)
    top_logprobs: StrictInt | None = Field(None, ge=0, le=20)
    modalities: list[str] | None = None
    audio: dict[str, Any] | None = None
    web_search_options: dict[str, Any] | None = None  # refused: Hearth is offline (it was answered without a search)
    # Hearth's extensions
    collections: list[str] = Field(default_factory=list)
    use_memory: StrictBool = False
    conversation_id: str | None = Field(None, min_length=1)  # "" was looked up: 404 "Conversation  was not found"


#: Hearth's fields on chat requests, refused on raw completions (which were answered ignoring them).
CHAT_EXTENSIONS = ("collections", "use_memory", "conversation_id")


class CompletionRequest(_Generation):
    prompt: str | list[str] | list[int] | list[list[int]]  # token arrays are read only to be refused by the route
    echo: StrictBool = False
    suffix: str | None = None  # refused unless empty
    best_of: StrictInt | None = None  # refused above 1


class InputPart(_Body):
    """A part of a Responses input message: ``input_text`` (and ``output_text``, an earlier answer's), or a part
    the route refuses by its type (an image, a file, audio)."""

    type: str
    text: str | None = None


class InputItem(_Body):
    """An item of a Responses ``input`` list. Messages (``type`` "message" or left out) are read; every other
    item (a tool call or its output, reasoning, a reference to a stored item) is refused by the route."""

    type: str = "message"
    role: str | None = None
    content: str | list[InputPart] | None = None

    def text(self) -> str:
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        return "".join(p.text or "" for p in self.content)


class TextFormat(_Body):
    """The Responses API's ``text.format``: ``response_format`` flattened (its schema sits beside ``type``)."""

    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: StrictBool | None = None

    def as_response_format(self) -> ResponseFormat:
        schema = JsonSchemaFormat(name=self.name, schema=self.schema_, strict=self.strict)
        return ResponseFormat(type=self.type, json_schema=schema if self.type == "json_schema" else None)


class TextOptions(_Body):
    format: TextFormat | None = None
    verbosity: str | None = None


class ResponsesRequest(_Request):
    """``POST /v1/responses``: OpenAI's newer API (the Agents SDK's, Codex's and ``client.responses``'s). The
    sampling fields are those of chat; ``n``, ``stop`` and the penalties are not in this API."""

    model: str | None = None  # as for chat
    input: str | list[InputItem]
    instructions: str | None = None
    max_output_tokens: StrictInt | None = Field(None, ge=1)
    temperature: StrictFloat | None = Field(None, ge=0, le=2)
    top_p: StrictFloat | None = Field(None, ge=0, le=1)
    top_k: StrictInt | None = Field(None, ge=0, le=1000)
    min_p: StrictFloat | None = Field(None, ge=0, le=1)
    repeat_penalty: StrictFloat | None = Field(None, ge=0.5, le=2)
    seed: StrictInt | None = None
    stream: StrictBool = False
    text: TextOptions | None = None
    previous_response_id: str | None = Field(None, min_length=1)
    store: StrictBool = True
    truncation: Literal["auto", "disabled"] = "disabled"
    metadata: dict[str, str] | None = None
    # accepted and repeated in the response, as OpenAI repeats them (they change nothing here)
    user: str | None = None
    safety_identifier: str | None = None
    service_tier: str | None = None
    prompt_cache_key: str | None = None
    # refused when they ask for something (see the route): Hearth's models call no tools and do not reason apart
    tools: list[Any] | None = None
    tool_choice: str | dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    background: StrictBool = False
    include: list[str] | None = None
    top_logprobs: StrictInt | None = Field(None, ge=0, le=20)
    conversation: str | dict[str, Any] | None = None
    # Hearth's extensions, as on chat
    collections: list[str] = Field(default_factory=list)
    use_memory: StrictBool = False
    conversation_id: str | None = Field(None, min_length=1)


class EmbeddingRequest(_Request):
    input: str | list[str] | list[int] | list[list[int]]  # token arrays are read only to be refused by the route
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: StrictInt | None = None
