"""Sampling settings and llama.cpp's native sampler chain built from them.

The chain order follows llama.cpp's own default (penalties -> top-k -> top-p -> min-p -> temperature ->
dist) so that a given setting means the same thing here as in llama-cli. Temperature <= 0 means greedy:
a single greedy sampler, which makes generation deterministic regardless of seed.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

import llama_cpp as C
import numpy as np
from llama_cpp.llama_grammar import json_schema_to_gbnf

from assistant.engine.speculative import SPECULATION_OFF, SpeculativeParams


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 0.9
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    repeat_last_n: int = 64
    #: OpenAI's penalties (API requests): each logit of a token among the last ``repeat_last_n`` chosen ones
    #: loses ``frequency_penalty`` per time it was chosen, plus ``presence_penalty`` once (llama.cpp's rule)
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    seed: int = -1  # negative: a random seed each time (see fixed_seed for a seed a call gives)
    #: How tokens are decoded, not which are chosen: a greedy answer is the same with speculation on or off.
    speculative: SpeculativeParams = SPECULATION_OFF

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0

    def with_(self, **changes: float | int | SpeculativeParams) -> SamplingParams:
        return replace(self, **changes)


GREEDY = SamplingParams(temperature=0.0, repeat_penalty=1.0)

#: Named presets offered in the settings (temperature / top-p are what distinguishes them).
PRESETS: dict[str, SamplingParams] = {
    "Precise": SamplingParams(temperature=0.2, top_p=0.9),
    "Balanced": SamplingParams(temperature=0.7, top_p=0.9),
    "Creative": SamplingParams(temperature=1.0, top_p=0.95),
    "Code": SamplingParams(temperature=0.1, top_p=0.95),
    "Greedy": GREEDY,  # always the most likely token: reproducible answers, for comparisons and tests
}


def fixed_seed(seed: int) -> int:
    """A seed a request or command gives (any integer, as OpenAI's 64-bit ones) as llama.cpp's 32-bit seed, never
    its "random" value 0xFFFFFFFF: 2**32 - 1, -1 and every seed wrapping to it gave another answer each time."""
    return seed % 0xFFFFFFFF


class JsonGrammar(str):
    """GBNF text (what llama.cpp's sampler takes) that also carries the JSON ``schema`` it was made from, so
    one call constrains any engine: the local one reads the grammar, a remote server is sent the schema
    (``response_format``), which every OpenAI-compatible server understands."""

    schema: dict[str, Any]


#: llama-cpp-python's converter lets a JSON string hold any character but " and \, raw line breaks and tabs
#: too, which JSON forbids: a constrained answer ``{"n": ");<newline>"}`` ended "stop" and did not parse
#: (the `openai` client's ``parse`` failed). llama.cpp's own converter leaves control characters out, as here.
_STRING_CHAR, _JSON_STRING_CHAR = r'char ::= [^"\\] |', r'char ::= [^"\\\x7F\x00-\x1F] |'


#: The JSON Schema keywords llama.cpp's converter turns into grammar rules, and the annotations that constrain
#: nothing; any other keyword (``minimum``, ``multipleOf``, ``uniqueItems``, …) it skips without a word.
_ENFORCED = frozenset({"type", "properties", "required", "additionalProperties", "items", "prefixItems", "minItems",
                       "maxItems", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "$defs", "definitions",
                       "pattern", "format", "minLength", "maxLength"})
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated",
                          "readOnly", "writeOnly", "discriminator"})
#: the string formats it has rules for (others, such as ``email``, it skips)
_FORMATS = frozenset({"date", "time", "date-time", "uuid", "uuid1", "uuid2", "uuid3", "uuid4", "uuid5"})


def _unenforced(schema: Any, where: str = "#") -> list[str]:
    """The keywords of ``schema`` (and of the schemas inside it) that the grammar would not enforce, with where
    they are (``'minimum' at #/properties/n``)."""
    if not isinstance(schema, dict):
        return []
    found = [f"{key!r} at {where}" for key in schema if key not in _ENFORCED | _ANNOTATIONS]
    if "format" in schema and schema["format"] not in _FORMATS:
        found.append(f"format {schema['format']!r} at {where}")
    for key in ("properties", "$defs", "definitions"):
        for name, inner in (schema.get(key) or {}).items():
            found += _unenforced(inner, f"{where}/{key}/{name}")
    for key in ("items", "additionalProperties"):
        found += _unenforced(schema.get(key), f"{where}/{key}")
    for key in ("prefixItems", "anyOf", "oneOf", "allOf", "items"):  # "items" as a list: a tuple's schemas
        inner = schema.get(key)
        for i, item in enumerate(inner if isinstance(inner, list) else []):
            found += _unenforced(item, f"{where}/{key}/{i}")
    return found


def _ref_problem(schema: Any, root: dict[str, Any], where: str = "#") -> str | None:
    """Why a ``$ref`` in ``schema`` cannot be followed (the first one found), or None. llama.cpp's converter
    follows only references into the schema itself, and said a missing one in its own terms: "Error resolving
    ref stdin#/$defs/nope: $defs not in {…}" (its name for the schema, and the whole schema printed)."""
    if isinstance(schema, list):
        return next((p for i, item in enumerate(schema) if (p := _ref_problem(item, root, f"{where}/{i}"))), None)
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str):
            return f"'$ref' at {where} must be text, a reference such as '#/$defs/name'."
        if not ref.startswith("#/"):
            return (f"the reference {ref!r} at {where} is not to a part of this schema: only references into it "
                    "(such as '#/$defs/person') are followed, and no schema is fetched; put the definition under "
                    "'$defs'.")
        target: Any = root
        for name in ref.split("/")[1:]:  # as the converter follows it (no ~0 / ~1 escapes)
            if not isinstance(target, dict) or name not in target:
                return (f"the reference {ref!r} at {where} is not defined in the schema: add the definition it "
                        "names (under '$defs'), or correct the reference.")
            target = target[name]
        if not isinstance(target, dict):
            return f"the reference {ref!r} at {where} does not point to a schema (a JSON object)."
    return next((p for key, inner in schema.items() if (p := _ref_problem(inner, root, f"{where}/{key}"))), None)


def _rooted(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with no reference at its root, which llama.cpp's converter cannot follow: a recursive schema
    (a tree: ``{"$ref": "#/$defs/node", "$defs": …}``, or ``"$ref": "#"`` inside, as OpenAI takes) failed with
    the bare message "'#/$defs/node'". A reference to the whole schema becomes one to a definition of it, and the
    root takes the definition its reference names (its own ``$defs`` kept, so references inside still resolve)."""
    def to_root(node: Any) -> Any:
        if isinstance(node, list):
            return [to_root(item) for item in node]
        if isinstance(node, dict):
            return {k: "#/$defs/whole" if k == "$ref" and v == "#" else to_root(v) for k, v in node.items()}
        return node

    if to_root(schema) != schema:
        body = {k: v for k, v in schema.items() if k != "$defs"}
        schema = {"$ref": "#/$defs/whole", "$defs": {**schema.get("$defs", {}), "whole": to_root(body)}}
    seen: set[str] = set()
    while isinstance(ref := schema.get("$ref"), str) and ref.startswith("#/") and ref not in seen:
        seen.add(ref)
        target: Any = schema
        for name in ref.split("/")[1:]:
            target = target.get(name) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            break  # said by _ref_problem
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def json_grammar(schema: dict[str, Any]) -> JsonGrammar:
    """GBNF that only admits JSON matching ``schema`` (llama.cpp's own schema converter), carrying the schema.

    A keyword the converter would skip is refused (ValueError): ``{"minimum": 5}`` gave 3, ``format: email`` any
    text, while the answer was said to match the schema by construction. So is a ``$ref`` it cannot follow, and
    a NaN or Infinity in the schema (``"enum": [NaN, 1]`` made a grammar that admits the answer ``NaN``)."""
    if skipped := _unenforced(schema):
        raise ValueError(f"the answer is held to the schema by a grammar (llama.cpp's schema converter), which has no "
                         f"rule for {', '.join(skipped[:5])}: remove that from the schema and check such values "
                         "yourself.")
    schema = _rooted(schema)
    if problem := _ref_problem(schema, schema):
        raise ValueError(problem)
    try:
        text = json.dumps(schema, allow_nan=False)
    except ValueError:
        raise ValueError("the schema holds NaN or Infinity, which JSON has not (an answer held to it could be "
                         "NaN, which no JSON reader takes): write finite numbers in it.") from None
    grammar = JsonGrammar(json_schema_to_gbnf(text).replace(_STRING_CHAR, _JSON_STRING_CHAR))
    grammar.schema = schema
    return grammar


class SamplerChain:
    """Owns a native ``llama_sampler`` chain; ``sample`` picks and accepts the next token.

    With a GBNF ``grammar`` the grammar sampler comes first, so every later stage only sees tokens that
    keep the output valid: constrained JSON is valid by construction, not by hope and retries.
    """

    def __init__(self, params: SamplingParams, vocab: object, n_vocab: int, grammar: str | None = None) -> None:
        chain_params = C.llama_sampler_chain_default_params()
        chain_params.no_perf = True
        self.ptr = C.llama_sampler_chain_init(chain_params)
        add = lambda smpl: C.llama_sampler_chain_add(self.ptr, smpl)  # noqa: E731
        # Greedy without a grammar is an argmax, after llama.cpp's repeat penalty when one is set: NumPy does it
        # in 10-40 us, where the native chain first copies all n_vocab logits into candidates (175 us, 270 with
        # the penalty: 3% of a decode step on a 135M model, and that per answer in a batched step of several).
        self._argmax_vocab = n_vocab if params.greedy and not grammar else 0
        penalties = (params.repeat_penalty != 1.0 or params.frequency_penalty != 0.0
                     or params.presence_penalty != 0.0) and params.repeat_last_n > 0
        #: the last ``repeat_last_n`` chosen tokens (the penalties sampler's window), on the argmax path
        self._recent: deque[int] | None = (deque(maxlen=params.repeat_last_n) if penalties and self._argmax_vocab
                                           else None)
        self._penalty = np.float32(params.repeat_penalty)
        self._frequency, self._presence = np.float32(params.frequency_penalty), np.float32(params.presence_penalty)
        if grammar:
            grammar_sampler = C.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
            if not grammar_sampler:
                self.close()
                raise ValueError("llama.cpp rejected the grammar")
            add(grammar_sampler)
        if penalties:
            add(C.llama_sampler_init_penalties(n_vocab, params.repeat_last_n, params.repeat_penalty,
                                               params.frequency_penalty, params.presence_penalty))
        if params.greedy:
            add(C.llama_sampler_init_greedy())
            return
        if params.top_k > 0:
            add(C.llama_sampler_init_top_k(params.top_k))
        if params.top_p < 1.0:  # 0 keeps the likeliest token only, as OpenAI's top_p 0 (it filtered nothing)
            add(C.llama_sampler_init_top_p(params.top_p, 1))
        if params.min_p > 0.0:
            add(C.llama_sampler_init_min_p(params.min_p, 1))
        add(C.llama_sampler_init_temp(params.temperature))
        add(C.llama_sampler_init_dist(C.LLAMA_DEFAULT_SEED if params.seed < 0 else fixed_seed(params.seed)))

    def sample(self, ctx_ptr: object, index: int = -1) -> int:
        """Sample from the logits of batch position ``index`` (default: the last); the chain also accepts
        the token, so penalties and grammars see exactly the tokens that were chosen, in order."""
        if self._argmax_vocab:
            logits = np.ctypeslib.as_array(C.llama_get_logits_ith(ctx_ptr, index), shape=(self._argmax_vocab,))
            if self._recent is None:
                return int(logits.argmax())  # the first maximum, as llama.cpp's greedy sampler picks it
            if self._recent:  # llama.cpp's rule, in float32 as there: a logit <= 0 times the penalty, else
                # divided; then minus frequency x count + presence
                seen, counts = np.unique(np.fromiter(self._recent, np.intp), return_counts=True)
                logits = logits.copy()
                chosen = logits[seen]
                chosen = np.where(chosen <= 0, chosen * self._penalty, chosen / self._penalty)
                logits[seen] = chosen - (counts.astype(np.float32) * self._frequency + self._presence)
            tok = int(logits.argmax())
            self._recent.append(tok)
            return tok
        return C.llama_sampler_sample(self.ptr, ctx_ptr, index)

    def close(self) -> None:
        if self.ptr:
            C.llama_sampler_free(self.ptr)
            self.ptr = None

    def __enter__(self) -> SamplerChain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
