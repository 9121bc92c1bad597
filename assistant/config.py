"""Settings: one dataclass tree, saved as TOML with atomic writes.

A settings file that cannot be read (not TOML, not text, no permission) never stops the app: defaults are used,
with memory off (the file may have switched it off) and a warning the front end shows, and the file is left as it
is and never saved over until it reads (it was moved aside: a half-finished hand edit plus any command lost the
user's settings and, at the next save, the API token); ``hearth doctor --repair`` sets a damaged one aside.
Unknown keys are ignored with a warning (a typo must not pass for a setting); values of the wrong type fall
back to the default with a warning (in a running process that applies a changed file, to the value in use), and
numbers out of :data:`RANGES` to the nearest end of the range. A file that is not TOML, changed while a
process runs, is said and the settings in use stay.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import re
import stat
import tempfile
import time
import tomllib
from collections.abc import Collection
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomli_w

from assistant.errors import ConfigError, InputError
from assistant.paths import get_paths

log = logging.getLogger(__name__)


@dataclass
class ModelSettings:
    path: str = ""  # empty: the bundled model
    n_ctx: int = 4096
    n_threads: int = 0  # 0: the physical cores this process may use (assistant.cpu)
    n_batch: int = 512
    n_gpu_layers: int = 0  # -1: all layers
    #: KV cache precision: "f16" (llama.cpp's default) or "q8_0" (half the memory; on the CPU speculative
    #: decoding then gives exactly the plain answer at any length, see native.KV_CACHE_TYPES)
    kv_cache: str = "f16"
    seed: int = -1  # -1: random
    max_tokens: int = 1024
    preset: str = "Balanced"
    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 0.9
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    #: speculative decoding: "auto" (measure and use a drafter only while it is faster), "off", "ngram"
    #: (prompt lookup), "draft" (a smaller model with the same vocabulary), "self" (a lower-bit copy of this model)
    speculative: str = "auto"
    speculative_max_draft: int = 8  # most tokens drafted per verify step
    draft_model: str = ""  # the draft model for "draft"/"auto" (name or path); empty: the catalog's suggestion
    system_prompt: str = "You are Hearth, a helpful assistant running privately on the user's computer."


@dataclass
class KnowledgeSettings:
    chunk_tokens: int = 512
    chunk_overlap: int = 50
    top_k: int = 5
    rerank: bool = False
    max_file_mb: int = 50
    embedder: str = ""  # empty: the bundled all-MiniLM-L6-v2


@dataclass
class MemorySettings:
    enabled: bool = True
    user_id: str = "default"


@dataclass
class AppearanceSettings:
    theme: str = "system"
    font_size: int = 11
    tint_drafts: bool = False  # tint answer text that came from accepted speculative drafts


@dataclass
class ServerSettings:
    """The OpenAI-compatible API (``hearth serve``, or Settings → Server in the app)."""

    enabled: bool = False  # the desktop app runs the server while it is open
    host: str = "127.0.0.1"  # another address needs the token and is said so at start
    port: int = 8181
    token: str = ""  # bearer token, generated at first start (``hearth serve --show-token``)
    parallel: int = 4  # requests decoded together in one batch (continuous batching); 1: one at a time
    cors_origins: str = ""  # comma-separated browser origins allowed to call the API; empty: no CORS


@dataclass
class RemoteSettings:
    """Parts that can live on other machines; empty URLs mean the local, embedded part."""

    chroma_url: str = ""  # a Chroma server (``chroma run``), e.g. https://chroma.lan:8000; empty: embedded store
    chroma_token: str = ""  # sent as a bearer token to the Chroma server (or the proxy in front of it)
    #: An OpenAI-compatible endpoint that answers instead of the local model (llama-server, vLLM, Ollama, LM Studio,
    #: hearth serve), e.g. http://gpu-box.lan:8080. Privacy: with it set, every prompt leaves this computer for
    #: that server (the question, the conversation, retrieved passages, memories in the prompt, and memory
    #: learning's questions about what the user said). Speculative decoding and load settings do not apply.
    llm_url: str = ""
    llm_api_key: str = ""  # sent as a bearer token (llama-server/vLLM --api-key, hearth serve's token)
    llm_model: str = ""  # the model name sent to it; empty: the first one it lists


@dataclass
class Settings:
    model: ModelSettings = field(default_factory=ModelSettings)
    knowledge: KnowledgeSettings = field(default_factory=KnowledgeSettings)
    memory: MemorySettings = field(default_factory=MemorySettings)
    appearance: AppearanceSettings = field(default_factory=AppearanceSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    remote: RemoteSettings = field(default_factory=RemoteSettings)


#: The numbers a setting may hold, for every front end: the settings file (outside: the nearest end, with a warning),
#: the settings dialog's spin boxes and the CLI's options. A max_tokens of 0 in the file made every answer empty;
#: ``hearth ask --max-tokens 4`` was allowed where the file and the window stopped at 16.
#: The values a text setting may take: one list each, read by the engine, the settings dialog and the check of
#: the settings file (a hand-edited `speculative = "bogus"` failed every answer, though no option was given).
#: Speculative decoding: "auto" measures and drafts only while drafting is faster; "off" decodes one token per
#: step; "ngram" drafts by prompt lookup; "draft" and "self" draft with the engine's draft model (a smaller
#: sibling with the same vocabulary, or a lower-bit copy of the model itself: see ``Engine.set_draft_model``).
SPECULATIVE_MODES = ("auto", "off", "ngram", "draft", "self")
KV_CACHES = ("f16", "q8_0")
#: ``model.preset``: the engine's sampling presets (``assistant.engine.sampling.PRESETS``), or values of one's own
PRESET_NAMES = ("Precise", "Balanced", "Creative", "Code", "Greedy", "Custom")
#: the values a preset sets (``model.preset`` edited alone in the file applies them)
SAMPLING_FIELDS = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty")
THEMES = ("system", "light", "dark")
#: The ``[model]`` values that are for every model: the threads and the batch size fit the computer (its cores,
#: its memory) rather than the model. Each model keeps the others as its own (``assistant.models.profiles``);
#: ``hearth settings show`` called the whole section the model's own, so threads set while one model answered
#: were expected to stay with it, and stayed with the next one instead.
EVERY_MODEL = ("n_threads", "n_batch")


def preset_of(values: dict[str, float], presets: dict[str, Any]) -> str:
    """The name of the preset of ``presets`` whose sampling values (:data:`SAMPLING_FIELDS`) these are, or
    "Custom": a temperature edited in the window, the file or ``hearth settings set`` kept the label "Balanced"."""
    return next((name for name, preset in presets.items()
                 if all(abs(getattr(preset, f) - v) < 1e-6 for f, v in values.items())), "Custom")

CHOICES: dict[str, tuple[str, ...]] = {"model.speculative": SPECULATIVE_MODES, "model.kv_cache": KV_CACHES,
                                       "model.preset": PRESET_NAMES, "appearance.theme": THEMES}
#: What ``server.host`` may hold: an IPv4 or IPv6 address or a host name ("not a host!" was saved, and the server
#: failed at its start).
_HOST = re.compile(r"[0-9A-Fa-f:.%\[\]]+|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
#: Text settings that must not be empty (an empty user_id failed every memory command).
NOT_EMPTY = ("memory.user_id",)
RANGES: dict[str, tuple[float, float]] = {
    # more threads than the computer runs at once only makes llama.cpp's threads wait for each other
    "model.n_ctx": (0, 262_144), "model.n_threads": (0, os.cpu_count() or 256), "model.n_batch": (1, 65_536),
    "model.n_gpu_layers": (-1, 999), "model.max_tokens": (1, 32_768), "model.temperature": (0.0, 2.0),
    "model.top_k": (0, 1000), "model.top_p": (0.0, 1.0), "model.min_p": (0.0, 1.0),
    "model.repeat_penalty": (0.5, 2.0), "model.speculative_max_draft": (1, 16),
    "model.seed": (-1, 2**31 - 1),  # -1: a new seed each answer
    "knowledge.chunk_tokens": (64, 4096), "knowledge.chunk_overlap": (0, 1024), "knowledge.top_k": (1, 50),
    "knowledge.max_file_mb": (1, 100_000), "appearance.font_size": (8, 24), "server.port": (1, 65_535),
    "server.parallel": (1, 8),
}


#: Settings that hold a secret: said to be set or not, never printed (``hearth serve --show-token`` prints the API
#: token, for a client to be given).
SECRETS = ("server.token", "remote.chroma_token", "remote.llm_api_key")
_TRUE, _FALSE = ("true", "on", "yes", "1"), ("false", "off", "no", "0")


def setting_keys() -> list[str]:
    """Every setting as ``section.name``, in the file's order: what ``hearth settings`` lists and takes."""
    defaults = Settings()
    return [f"{section.name}.{f.name}" for section in fields(defaults) for f in fields(getattr(defaults, section.name))]


def find_setting(name: str) -> str:
    """The setting ``name`` means: ``section.name``, or a name only one section has (``n_gpu_layers``), with
    ``-`` for ``_``; an unknown one is refused with the nearest (a typo must not pass for a setting)."""
    import difflib

    keys = setting_keys()
    wanted = name.strip().lower().replace("-", "_")
    matches = [k for k in keys if wanted in (k, k.split(".", 1)[1])]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise InputError(f"{name!r} is a setting in {len(matches)} sections: say which ({', '.join(matches)}).")
    by_name = {k.split(".", 1)[1]: k for k in keys} | {k: k for k in keys}
    near = dict.fromkeys(by_name[n] for n in difflib.get_close_matches(wanted, list(by_name), n=3, cutoff=0.6))
    hint = f"; did you mean {' or '.join(near)}?" if near else "."
    raise InputError(f"{name!r} is not a setting Hearth knows{hint} `hearth settings` lists them all.")


def setting_value(settings: Settings, key: str) -> Any:
    section, name = key.split(".", 1)
    return getattr(getattr(settings, section), name)


def with_setting(settings: Settings, key: str, text: str) -> Settings:
    """A copy of ``settings`` with ``key`` set to ``text`` read as the setting's type, checked as the settings
    file is (:func:`checked`); a value it cannot use is refused with the reason, not replaced by the nearest one
    (typed on a command line, it is a mistake to say, not a hand edit to make the best of)."""
    default = setting_value(Settings(), key)
    value: Any = text
    try:
        if isinstance(default, bool):
            if text.strip().lower() not in _TRUE + _FALSE:
                raise ValueError
            value = text.strip().lower() in _TRUE
        elif isinstance(default, int):
            try:
                value = int(text)  # exactly: through a float, 12345678901234567 was 12345678901234568
            except ValueError:
                number = float(text)  # "8192.0", "1e3"
                if not number.is_integer():
                    raise
                value = int(number)
        elif isinstance(default, float):
            value = float(text)
        elif key in CHOICES:  # "greedy" is the preset "Greedy"
            value = next((c for c in CHOICES[key] if c.lower() == text.strip().lower()), text)
        elif key != "model.system_prompt":  # a name, an address, a path: the spaces around it are the shell's
            value = text.strip()
    except (ValueError, OverflowError):
        kind = {bool: "true or false", int: "a whole number", float: "a number"}[type(default)]
        raise InputError(f"{key} takes {kind}, not {text!r}.") from None
    use, problem = checked(key, value, default)
    if problem:
        raise InputError(f"{problem}; nothing was changed.")
    new = copy.deepcopy(settings)
    section, name = key.split(".", 1)
    setattr(getattr(new, section), name, use)
    return new


def _to_dict(obj: Any) -> dict[str, Any]:
    return {f.name: (_to_dict(v) if is_dataclass(v := getattr(obj, f.name)) else v) for f in fields(obj)}


def _from_dict(cls: type, data: dict[str, Any], section: str = "", problems: list[str] | None = None,
               in_use: Any = None) -> Any:
    """``cls`` from ``data`` over its defaults; what was ignored, and why, goes to ``problems`` (or the log).

    ``in_use``: the settings a running process has; an unusable value then keeps the one in use instead of the
    default (a hand edit of ``max_tokens = 5`` switched a user's 24 to 1024, and the file was saved so)."""
    said = problems if problems is not None else []
    obj = cls()
    names = {f.name for f in fields(cls)}
    for unknown in sorted(set(data) - names):
        said.append(f"{section}{unknown} is not a setting Hearth knows (ignored)")
    for f in fields(cls):
        if f.name not in data:
            continue
        key, value, default = f"{section}{f.name}", data[f.name], getattr(obj, f.name)
        if is_dataclass(default):
            kept = getattr(in_use, f.name) if in_use is not None else None
            if isinstance(value, dict):
                setattr(obj, f.name, _from_dict(type(default), value, f"{key}.", said, kept))
            else:
                if kept is not None:
                    setattr(obj, f.name, copy.deepcopy(kept))
                said.append(f"[{key}] should be a section (its {'values in use' if kept else 'defaults'} are used)")
            continue
        if in_use is not None:
            default = getattr(in_use, f.name)  # what an unusable value leaves in place
        use, problem = checked(key, value, default)
        setattr(obj, f.name, use)
        if problem:
            said.append(f"{problem} (using {use!r})")
    if problems is None:
        for problem in said:
            log.warning("settings: %s", problem)
    return obj


def checked(key: str, value: Any, default: Any) -> tuple[Any, str | None]:
    """``value`` for the setting ``key`` as Hearth uses it, and why it cannot be used as given (None: it can).
    ``default`` is what an unusable value leaves in place (the default, or the value in use). One check for the
    settings file, the models' profiles and ``hearth settings set``."""
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    elif type(default) is int and isinstance(value, float) and value.is_integer():
        value = int(value)  # "max_tokens = 12.0" is 12 (it was the wrong type, and the default came in)
    if type(value) is not type(default):
        return default, f"{key} = {value!r} has the wrong type"
    if value != value:  # NaN: no end of a range is nearer
        return default, f"{key} = {value!r} is not a number"
    if key in RANGES and not RANGES[key][0] <= value <= RANGES[key][1]:
        # the nearest end of the range, as a slider would (``max_tokens = 12`` asked for short answers and got
        # the default 1024), but not below where 0 or less is meant as "no limit" in other tools (llama.cpp's
        # ``-n -1``: one-token answers would betray it) or where the least is a choice of its own (a context
        # of 0 is the model's maximum: ``n_ctx = -1`` took the most memory), nor a port (99999 is no port
        # near 65535)
        low, high = RANGES[key]
        keep = key == "server.port" or (value < low and (value <= 0 or low <= 0))
        nearest = default if keep else type(default)(low if value < low else high)
        return nearest, f"{key} = {value!r} is outside {low} to {high}"
    if key in CHOICES and value not in CHOICES[key]:
        return default, f"{key} = {value!r} is not one of {', '.join(CHOICES[key])}"
    if key in NOT_EMPTY and not value.strip():
        return default, f"{key} is empty"
    if key == "server.host" and value.strip() and not _HOST.fullmatch(value.strip()):  # empty: every address
        return default, f"{key} = {value!r} is not an address (an IP address such as 127.0.0.1, or a host name)"
    return value, None


def edited_over(current: Any, before: Any, after: Any) -> Any:
    """A copy of ``current`` with the values that changed from ``before`` to ``after``: what an editor opened on
    ``before`` changed, over what is in use now. A settings dialog left open while the file changed (a hand
    edit, ``hearth models use`` in a terminal) otherwise wrote every value it showed back on Apply, undoing
    the change although the user had touched none of those values."""
    merged = copy.deepcopy(current)
    for f in fields(current):
        old, new = getattr(before, f.name), getattr(after, f.name)
        if is_dataclass(old):
            setattr(merged, f.name, edited_over(getattr(current, f.name), old, new))
        elif new != old:
            setattr(merged, f.name, copy.deepcopy(new))
    return merged


def atomic_write_text(path: Path, text: str, expected: str | None = None) -> bool:
    """Write to a temp file in the same folder, fsync, then rename: a crash leaves old or new, never half.

    ``expected``: the text ``path`` must still hold to be replaced (None: whatever it holds; a file that is gone
    or unreadable counts as unchanged). It is checked after the new text is on disk, just before the rename: an
    edit another program made while this text was written and synced (tens of milliseconds on a busy disk) was
    written over when the check came first. Returns whether ``path`` was replaced.

    A link is written through, its target replaced (the link stays a link); a device or a pipe (``/dev/stdout``)
    is written to, not renamed over (as root, ``/dev/null`` became a plain file)."""
    if path.exists() and not path.is_file():
        path.write_text(text, encoding="utf-8")
        return True
    path = path.resolve() if path.is_symlink() else path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with contextlib.suppress(OSError):  # the file keeps its permissions (mkstemp's are 0600)
            os.chmod(fd, stat.S_IMODE(path.stat().st_mode))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if expected is not None and _changed_from(path, expected):
            Path(tmp).unlink(missing_ok=True)
            return False
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _changed_from(path: Path, expected: str) -> bool:
    try:
        return path.read_text(encoding="utf-8") != expected
    except (OSError, UnicodeDecodeError):
        return False


@dataclass
class LoadedSettings:
    settings: Settings
    warning: str | None = None


def window_file() -> Path:
    """Where the desktop app keeps its window's size and place (see ``Paths.window_file``)."""
    return get_paths().window_file


#: What a settings file that cannot be read is read as: the defaults, with memory off. The file may have switched
#: memory off, and the defaults switched it back on: a typo in a hand edit had the window learn from every chat.
UNREADABLE_AS = "defaults are used, with memory off until it reads (it may have switched memory off)"


def _unreadable_defaults() -> Settings:
    settings = Settings()
    settings.memory.enabled = False
    return settings


def load_settings(path: Path | None = None) -> LoadedSettings:
    path = path or get_paths().settings_file
    if not path.exists():
        return LoadedSettings(Settings())
    # Not logged: a warning is returned for the front end to show once (a log line printed it twice).
    try:
        return parse_settings(path.read_bytes().decode("utf-8"), path)
    except OSError as exc:  # not damage: moving it aside lost the user's settings to a permissions problem
        return LoadedSettings(_unreadable_defaults(), warning=f"Settings file {path} cannot be read "
                                                              f"({exc.strerror or exc}); {UNREADABLE_AS}, and the "
                                                              "file is left as it is.")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return LoadedSettings(_unreadable_defaults(), warning=f"Settings file {damaged_toml(path, exc, UNREADABLE_AS)}")


def host_port(host: str, port: int) -> str:
    """``host:port`` as written in a URL: an IPv6 address in brackets (``--host ::`` was said as ":::8194")."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def browser_origins(text: str) -> list[str]:
    """The origins listed in ``server.cors_origins`` as a browser sends them in ``Origin``: scheme and host in
    lower case, no trailing slash or path, no port the scheme has anyway (``:80``, ``:443``), ``http://`` where
    no scheme is given. One copied from the address bar ("http://localhost:3000/") matched no request, and the
    403 then asked the user to add the origin they had added."""
    return [_origin(item) for item in (part.strip() for part in text.split(",")) if item]


def _origin(item: str) -> str:
    """One origin of :func:`browser_origins` ("*": any; "null": a page opened from a file; a port that cannot be
    is left as typed)."""
    if item in ("*", "null"):
        return item
    parts = urlsplit(item if "://" in item else f"http://{item}")  # "localhost:5173", as a dev server says it
    try:
        port = parts.port
    except ValueError:
        return item
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not host:
        return item
    host = f"[{host}]" if ":" in host else host
    own = (scheme, port) in (("http", 80), ("https", 443))  # a browser leaves out the scheme's own port
    return f"{scheme}://{host}{'' if port is None or own else f':{port}'}"


def local_url(host: str, port: int) -> str:
    """The URL a client on this computer uses for a server bound to ``host`` (the window's Settings shows it for
    the host typed there, brackets and all)."""
    host = host.strip().strip("[]") or "127.0.0.1"
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://{host_port(host, port)}"


def damaged_toml(path: Path, exc: Exception, instead: str) -> str:
    """What is said of a config file that is not TOML (or not text): read as ``instead``, left as it is."""
    return (f"{path} is not valid TOML ({exc}): {instead}, and the file is left as it is (nothing is saved over "
            f"it until it reads). Mend it, or `hearth doctor --repair` sets it aside.")


def set_aside(path: Path) -> str:
    """Move a damaged file of Hearth's to ``<name>.corrupt-<time>`` (for the user to mend or delete) so that a
    fresh one can take its place; says where it went, or why it stays (a read-only folder: moving it failed
    every command)."""
    backup = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.replace(path, backup)
    except OSError as move:
        return f"it stays as it is ({move.strerror or move})"
    return f"it was moved to {backup.name}"


def parse_settings(text: str, path: Path, in_use: Settings | None = None) -> LoadedSettings:
    """The settings ``text`` (read from ``path``) says, values out of range named in the warning (each replaced
    by the default, or by its value ``in_use`` in a running process); raises ``tomllib.TOMLDecodeError`` when it
    is not TOML (the caller decides what happens to the file)."""
    problems: list[str] = []
    settings = _from_dict(Settings, tomllib.loads(text), problems=problems, in_use=in_use)
    warning = f"Settings file {path}: {'; '.join(problems)}." if problems else None
    return LoadedSettings(settings, warning=warning)


def save_settings(settings: Settings, path: Path | None = None, expected: str | None = None,
                  rewrite: Collection[str] = ()) -> str | None:
    """Write ``settings`` atomically; returns the text written, or None when the file no longer held
    ``expected`` (see :func:`atomic_write_text`) and was left as it is. ``rewrite``: keys (``model.n_ctx``) whose
    value is written even over one Hearth cannot use that it leaves as it is (see :func:`in_layout`)."""
    path = path or get_paths().settings_file
    try:
        held = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        held = None  # none yet, or one save_file refuses to replace (said there)
    text = in_layout(held, _to_dict(settings), rewrite)
    return text if save_file(path, text, "the settings", expected) else None


def unusable(text: str) -> list[str]:
    """The keys (``model.n_ctx``) whose value in the settings file ``text`` Hearth cannot use as written."""
    found: list[str] = []

    def walk(data: dict[str, Any], defaults: Any, section: str) -> None:
        for f in fields(defaults):
            if f.name not in data:
                continue
            value, default = data[f.name], getattr(defaults, f.name)
            if is_dataclass(default):
                if isinstance(value, dict):
                    walk(value, default, f"{section}{f.name}.")
            elif checked(f"{section}{f.name}", value, default)[1] is not None:
                found.append(f"{section}{f.name}")

    with contextlib.suppress(tomllib.TOMLDecodeError):
        walk(tomllib.loads(text), Settings(), "")
    return found


def in_layout(held: str | None, data: dict[str, Any], rewrite: Collection[str] = ()) -> str:
    """``data`` as TOML, written into the text the file ``held``: its comments, order and blank lines stay, and
    only values that changed are rewritten (every save, the window's Apply as much as a model switch, wrote the
    file anew and lost the comments of a hand-edited one). What Hearth does not use stays as written: a key or
    section it does not know (a typo, ``[memmory]``), and a value it cannot use that this save does not change
    (``n_ctx = "8k"``, in use as 4096): each is said to be ignored whenever the file is read, and a save that
    changed something else deleted them, or wrote 4096 over the "8k", without a word."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        doc = tomlkit.parse(held) if held is not None else None
    except TOMLKitError:
        doc = None
    if doc is None:
        return tomli_w.dumps(data)
    _merge_into(doc, data, _to_dict(_from_dict(Settings, doc.unwrap(), problems=[])), rewrite)
    return tomlkit.dumps(doc)


def _merge_into(table: Any, data: dict[str, Any], was: dict[str, Any], rewrite: Collection[str] = (),
                section: str = "") -> None:
    """Write ``data`` into ``table``; ``was``: what the table's text gives (an unusable value: the default)."""
    for key, value in data.items():
        if isinstance(value, dict):
            if not isinstance(table.get(key), dict):
                table[key] = {}
            _merge_into(table[key], value, was.get(key) or {}, rewrite, f"{section}{key}.")
        elif key not in table:
            table[key] = value
        elif not _same(table[key], value):
            held = table[key].unwrap() if hasattr(table[key], "unwrap") else table[key]
            if was.get(key) != value or f"{section}{key}" in rewrite or \
                    checked(f"{section}{key}", held, value)[1] is None:
                table[key] = value  # (an unusable value this save does not change is left as written)


def _same(held: Any, value: Any) -> bool:
    """Whether the file's value is ``value`` as TOML writes it (``1`` is not ``1.0``, ``true`` is not ``1``)."""
    return held == value and isinstance(held, type(value)) and isinstance(held, bool) == isinstance(value, bool)


def save_file(path: Path, text: str, what: str, expected: str | None = None) -> bool:
    """:func:`atomic_write_text` for Hearth's own files: a full disk or a read-only folder is a
    :class:`ConfigError` naming ``what`` and the file (it was "a bug in Hearth": OSError), and the old file
    stays as it was. So does a file that is there but cannot be read (permissions) or is not TOML (a hand edit
    half done): what it holds was never loaded, and replacing it would lose it."""
    try:
        held = path.read_bytes().decode("utf-8")
        # an edit not applied yet (held is not ``expected``) is left as it is by the write below, and applied
        # next; one that is not TOML never applies, so the values saved were lost without a word
        tomllib.loads(held)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"Hearth did not save {what}: {path} cannot be read ({exc.strerror or exc}), and "
                          f"replacing it would lose what it holds. Fix its permissions.") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Hearth did not save {what}: {path} is not valid TOML ({exc}), and replacing it would "
                          f"lose what it holds. Mend it, or `hearth doctor --repair` sets it aside.") from exc
    try:
        return atomic_write_text(path, text, expected)
    except OSError as exc:
        raise ConfigError(f"Hearth could not save {what} to {path}: {exc.strerror or exc}. Free some disk space "
                          "or make the folder writable.") from exc
