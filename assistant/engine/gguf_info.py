"""Read and validate a GGUF file's metadata before llama.cpp ever sees it.

Why a scanner of our own on top of the ``gguf`` package's constants: ``gguf.GGUFReader`` builds a numpy
view for every element of every array and takes ~4 s on a 135M model (49k tokens + 49k merges); this reads
the same header in ~0.1 s by skipping the arrays it does not need. It also gives the checks llama.cpp
only reports as a generic failure: not a GGUF file, truncated download, unknown architecture.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

import gguf
from gguf import GGUFValueType

from assistant.errors import (
    ModelLoadError,
    ModelNotFoundError,
    NotGGUFError,
    TruncatedModelError,
    UnsupportedArchitectureError,
)

_SCALAR = {
    GGUFValueType.UINT8: "<B", GGUFValueType.INT8: "<b", GGUFValueType.UINT16: "<H",
    GGUFValueType.INT16: "<h", GGUFValueType.UINT32: "<I", GGUFValueType.INT32: "<i",
    GGUFValueType.FLOAT32: "<f", GGUFValueType.BOOL: "<?", GGUFValueType.UINT64: "<Q",
    GGUFValueType.INT64: "<q", GGUFValueType.FLOAT64: "<d",
}
#: Arrays longer than this are skipped unless listed in _KEEP_ARRAYS (they are vocab-sized blobs).
_SMALL_ARRAY = 64
_LENGTH = struct.Struct("<Q")
_KEEP_ARRAYS = {"tokenizer.ggml.tokens"}
KNOWN_ARCHITECTURES = frozenset(gguf.MODEL_ARCH_NAMES.values())
#: llama.cpp allocates a context in multiples of this many tokens (``GGML_PAD(n_ctx, 256)`` in llama-context.cpp).
CONTEXT_STEP = 256


def file_identity(path: str) -> tuple[int, int, int] | None:
    """Which file ``path`` is now: its inode, size and modification time (one stat), or None when it cannot be
    read (deleted: a deleted file keeps its inode while the model maps it, and the model goes on answering).
    llama.cpp maps the weights: a file overwritten in place (`cp new.gguf model.gguf`, a download into the same
    name) killed the process with SIGBUS at its next answer, without a word."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def changed_on_disk(path: str, identity: tuple[int, int, int] | None) -> bool:
    """Whether the file at ``path`` is no longer the one that was loaded (``identity``, read before it was
    mapped); a deleted file is not: its mapping stays readable."""
    return file_identity(path) not in (None, identity)


@dataclass(frozen=True)
class ModelInfo:
    """What Hearth shows about a model and needs to plan loading it."""

    path: str
    name: str
    architecture: str
    file_size: int
    n_params: int
    quantization: str
    context_length: int
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim: int
    vocab_size: int
    chat_template: str | None
    bos_token: str | None
    eos_token: str | None
    special_tokens: dict[str, int] = field(default_factory=dict)
    vocab_fingerprint: str = ""

    @property
    def model_id(self) -> str:
        """Its id for API clients: its file's name without ``.gguf``, as ``GET /v1/models`` lists it."""
        return Path(self.path).name.removesuffix(".gguf")

    @property
    def precise_name(self) -> str:
        """Its name with its precision, "SmolLM2 135M Instruct Q4_1": two precisions of one model share a name,
        and what an answer or a switch said of one (its stats, "Now using …", "loaded …") fit the other too."""
        return f"{self.name} {self.quantization}" if self.quantization else self.name

    @property
    def has_chat_template(self) -> bool:
        return bool(self.chat_template)

    def context_for(self, n_ctx: int) -> int:
        """The context a load with the setting ``n_ctx`` allocates: 0 means the trained context, and never more
        than it (more gives no usable room), in llama.cpp's steps of :data:`CONTEXT_STEP` tokens (it rounds up:
        a setting of 64 got 256 while `hearth models list` said "Fits at 64 tokens")."""
        n_ctx = n_ctx or self.context_length or 4096
        n_ctx = min(n_ctx, self.context_length) if self.context_length else n_ctx
        return -(-n_ctx // CONTEXT_STEP) * CONTEXT_STEP

    def context_said(self, n_ctx: int) -> str:
        """The context a load with the setting ``n_ctx`` gets, in words ("context 8192"), and why when it is more
        than was set: the window said "loaded … with context 256" of a setting of 100, and only `hearth settings
        set` said why."""
        used = self.context_for(n_ctx)
        if not n_ctx:
            return f"context {used} (the model's maximum)"
        return f"context {used}" + (f" ({n_ctx} rounded up: llama.cpp allocates it in steps of {CONTEXT_STEP} "
                                    "tokens)" if used > n_ctx else "")

    def context_capped(self, n_ctx: int) -> str | None:
        """Why a load with ``n_ctx`` gets less, or None. It was said nowhere: a user who set 100000 read "with
        context 100000" while answers had 8192."""
        used = self.context_for(n_ctx)
        return f"a context of {n_ctx} is more than {self.name} was trained for, so answers get {used}" \
            if used < n_ctx else None

    def context_advice(self, n_ctx: int) -> str | None:
        """:meth:`context_capped` with what to set instead, as Apply, a turn and ``hearth settings set`` say it."""
        capped = self.context_capped(n_ctx)
        return f"{capped}: set the context to {self.context_length} or less, or to 0 for the model's maximum" \
            if capped else None

    def kv_cache_bytes(self, n_ctx: int, bytes_per_value: float = 2) -> int:
        """K and V for every layer at ``n_ctx`` (f16 cache by default)."""
        return int(2 * self.n_layer * n_ctx * self.n_head_kv * self.head_dim * bytes_per_value)

    def params_label(self) -> str:
        n = self.n_params
        return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["chat_template"] = bool(self.chat_template)
        data["params"] = self.params_label()
        return data


class _Reader:
    def __init__(self, fh: BinaryIO, size: int, path: Path) -> None:
        self.fh, self.size, self.path = fh, size, path

    def read(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            self.truncated()
        return data

    def truncated(self) -> NoReturn:
        raise TruncatedModelError(f"{self.path.name} ends in the middle of its header ({self.size:,} bytes): "
                                  "the file is truncated, probably an interrupted download.")

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        return self.strings(1)[0]

    def strings(self, count: int) -> list[str]:
        """``count`` strings in a row, in one tight loop: a vocabulary's 262k tokens read through :meth:`value`
        one at a time took 0.3 s, which every model list and every model named by a part of its name paid."""
        read, unpack, size = self.fh.read, _LENGTH.unpack, self.size
        out = []
        for _ in range(count):
            head = read(8)
            if len(head) != 8:
                self.truncated()
            n = unpack(head)[0]
            if n > size:
                raise NotGGUFError(f"{self.path.name} has a corrupt GGUF header (string of {n:,} bytes).")
            data = read(n)
            if len(data) != n:
                self.truncated()
            out.append(data.decode("utf-8", errors="replace"))
        return out

    def value(self, vtype: int, key: str) -> Any:
        vtype = GGUFValueType(vtype)
        if vtype == GGUFValueType.STRING:
            return self.string()
        if vtype in _SCALAR:
            return self.unpack(_SCALAR[vtype])
        if vtype == GGUFValueType.ARRAY:
            item_type, count = GGUFValueType(self.unpack("<I")), self.unpack("<Q")
            if item_type == GGUFValueType.STRING and (count <= _SMALL_ARRAY or key in _KEEP_ARRAYS):
                return self.strings(count)
            if count <= _SMALL_ARRAY or key in _KEEP_ARRAYS:
                return [self.value(item_type, key) for _ in range(count)]
            self.skip_array(item_type, count)
            return _Skipped(count)
        raise NotGGUFError(f"{self.path.name} has an unknown GGUF value type {vtype}.")

    def skip_array(self, item_type: GGUFValueType, count: int) -> None:
        if item_type == GGUFValueType.STRING:
            for _ in range(count):
                self.fh.seek(self.unpack("<Q"), os.SEEK_CUR)
        elif item_type in _SCALAR:
            self.fh.seek(count * struct.calcsize(_SCALAR[item_type]), os.SEEK_CUR)
        else:
            for _ in range(count):
                self.value(item_type, "")


@dataclass(frozen=True)
class _Skipped:
    """Stands for a large array that was not read; keeps its length."""

    count: int

    def __len__(self) -> int:
        return self.count


def read_model_info(path: str | Path) -> ModelInfo:
    """Parse and validate ``path``; raise a specific :class:`ModelLoadError` subclass when it is unusable.

    A split model (llama.cpp's gguf-split: NAME-00001-of-00002.gguf...) is read from its first file, with the
    others' headers: its size and parameters are the whole model's. The first file alone was listed as a model
    of 86M parameters and 64 MB (it is 135M and 92 MB) and fitted as such, and the second as a broken one."""
    path = Path(path).expanduser()
    size, kv, tensors = _read_file(path)
    count, number = int(kv.get("split.count") or 0), int(kv.get("split.no") or 0)
    if number:
        first = shard_paths(path, count)[0].name if _SHARD.match(path.name) else "its first file"
        raise NotGGUFError(f"{path.name} is file {number + 1} of {count} of a split model, not a model of its own: "
                           f"use the first, {first} (llama.cpp reads the others from it).")
    if count > 1:
        for shard in shard_paths(path, count)[1:]:
            if not shard.is_file():
                raise TruncatedModelError(f"{path.name} is the first of {count} files of a split model, and "
                                          f"shard {shard_number(shard)} of {count} is missing ({shard.name}): put "
                                          "it in the same folder (download it again).")
            shard_size, _kv, shard_tensors = _read_file(shard)
            size, tensors = size + shard_size, tensors + shard_tensors
    return _build_info(path, size, kv, tensors)


#: llama.cpp's names for the files of a split model (``llama_split_path``): NAME-00001-of-00003.gguf.
_SHARD = re.compile(r"^(?P<prefix>.+)-(?P<number>\d{5})-of-(?P<count>\d{5})\.gguf$", re.I)


def shard_number(path: Path) -> int:
    """Which file of a split model ``path`` is by its name (1 for the first), 0 when its name is not a shard's."""
    match = _SHARD.match(path.name)
    return int(match["number"]) if match else 0


def shard_paths(first: Path, count: int) -> list[Path]:
    """The ``count`` files of the split model whose first file is ``first``, named as llama.cpp looks for them
    (it loads them all from the first, and refuses a first file not named so)."""
    match = _SHARD.match(first.name)
    if match is None:
        raise NotGGUFError(f"{first.name} is the first of {count} files of a split model, but is not named as "
                           "llama.cpp finds the others by (NAME-00001-of-00002.gguf): give it its original name.")
    return [first.with_name(f"{match['prefix']}-{n:05d}-of-{count:05d}.gguf") for n in range(1, count + 1)]


def later_shard(path: Path) -> bool:
    """Whether ``path`` is the second or a later file of a split model whose first file is beside it, by their
    names: not a model of its own (lists show the model once, by its first file)."""
    match = _SHARD.match(path.name)
    return match is not None and int(match["number"]) > 1 and path.with_name(
        f"{match['prefix']}-00001-of-{match['count']}.gguf").is_file()


def model_files(path: Path) -> list[Path]:
    """The files of the model whose (first) file is ``path``, by their names: all of a split model's shards."""
    match = _SHARD.match(path.name)
    return shard_paths(path, int(match["count"])) if match and int(match["number"]) == 1 else [path]


def file_size(path: Path) -> int:
    """``path``'s size; 0 when it cannot be read (gone, unreadable)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def model_size(path: Path) -> int:
    """The bytes of the model whose (first) file is ``path``, without reading a header (a file that cannot be read
    counts 0): auto speculation took a split model's first file for a model smaller than the one answering."""
    return sum(file_size(f) for f in model_files(path))


def _read_file(path: Path) -> tuple[int, dict[str, Any], list[tuple[str, int, int, int]]]:
    """The size, metadata and tensors of one GGUF file, checked to be whole."""
    if not path.exists():
        if path.is_symlink():  # a link to nothing, or a loop of links (Python's resolve raised RuntimeError)
            raise ModelNotFoundError(f"Model file not found: {path} is a link that leads to nothing (or back to "
                                     "itself).")
        raise ModelNotFoundError(f"Model file not found: {path}")
    if path.is_dir():
        raise NotGGUFError(f"{path} is a folder, not a GGUF model file.")
    if not path.is_file():  # reading a named pipe waited for a writer for good (the CLI and the window hung)
        raise NotGGUFError(f"{path} is not a regular file (a named pipe, a device or a socket), not a GGUF model "
                           "file.")
    try:  # not os.access: it says yes to root and ignores Windows ACLs and files another program locked
        fh = path.open("rb")
    except OSError as exc:
        raise ModelLoadError(f"{path} cannot be read: {(exc.strerror or str(exc)).lower()}. Check the file's "
                             "permissions.") from None
    size = path.stat().st_size
    with fh:
        magic = fh.read(4)
        if not magic:
            raise NotGGUFError(f"{path.name} is not a GGUF model: it is empty (0 bytes). Download or copy it again.")
        if magic != b"GGUF":
            raise NotGGUFError(
                f"{path.name} is not a GGUF model (it starts with {magic!r}, not b'GGUF'). "
                "Hearth runs llama.cpp GGUF files; convert other formats with llama.cpp's convert script."
            )
        r = _Reader(fh, size, path)
        version = r.unpack("<I")
        if version not in (2, 3):
            raise NotGGUFError(f"{path.name} uses GGUF version {version}, which this build cannot read.")
        n_tensors, n_kv = r.unpack("<Q"), r.unpack("<Q")
        kv: dict[str, Any] = {}
        for _ in range(n_kv):
            key = r.string()
            kv[key] = r.value(r.unpack("<I"), key)
        tensors = [_read_tensor_info(r) for _ in range(n_tensors)]
        header_end = fh.tell()
    alignment = int(kv.get("general.alignment", 32))
    data_start = -(-header_end // alignment) * alignment
    _check_complete(path, size, data_start, tensors)
    return size, kv, tensors


def _read_tensor_info(r: _Reader) -> tuple[str, int, int, int]:
    """(name, n_elements, ggml type, offset) for one tensor."""
    name = r.string()
    n_dims = r.unpack("<I")
    n_elements = 1
    for _ in range(n_dims):
        n_elements *= r.unpack("<Q")
    return name, n_elements, r.unpack("<I"), r.unpack("<Q")


def _tensor_nbytes(n_elements: int, ggml_type: int) -> int:
    block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(ggml_type)]
    return n_elements // block * type_size


def _check_complete(path: Path, size: int, data_start: int, tensors: list[tuple[str, int, int, int]]) -> None:
    needed = data_start
    for _name, n_elements, ggml_type, offset in tensors:
        try:
            needed = max(needed, data_start + offset + _tensor_nbytes(n_elements, ggml_type))
        except (ValueError, KeyError):
            raise NotGGUFError(f"{path.name} uses tensor type {ggml_type}, unknown to this build.") from None
    if needed > size:
        raise TruncatedModelError(
            f"{path.name} is truncated: it is {size / 1e6:.1f} MB but its tensors need {needed / 1e6:.1f} MB "
            f"({_missing(needed - size)} missing). The download was probably interrupted; download it again."
        )


def _missing(nbytes: int) -> str:
    """How much of a truncated file is missing, exact where MB would round it away ("1 byte", "4,096 bytes")."""
    return f"{nbytes / 1e6:.1f} MB" if nbytes >= 100_000 else f"{nbytes:,} byte{'s' if nbytes != 1 else ''}"


#: A quantization or shard suffix in a file name, and what follows it ("-Q4_K_M", ".Q4_1", "-f16-00001-of-00002").
_FILE_SUFFIX = re.compile(r"[-_.](?:I?Q[1-8](?:_[0-9A-Z]+)*|B?F16|F32|FP16|MXFP4|\d{5}-of-\d{5})(?:[-_.].*)?$", re.I)
#: Separators between words; a dot only when it is not inside a version number ("Qwen2.5", "3.2" stay).
_SEPARATORS = re.compile(r"[-_\s]+|\.(?!\d)|(?<!\d)\.")
_SIZE = re.compile(r"\d+(?:x\d+)?(?:\.\d+)?[KMBT]", re.I)
#: Words that say nothing about the model (llama.cpp's default output name is "ggml-model-<quant>.gguf").
_FILLER = frozenset({"ggml", "gguf", "model", "models", "sha256"})
_HEX_ID = re.compile(r"[0-9a-f]{16,}", re.I)
_VERSION = re.compile(r"v\d.*")


def human_name(kv: dict[str, Any], stem: str) -> str:
    """The name people know a model by, for lists and ``hearth models use NAME``.

    Why the file name is the skeleton: ``general.name`` is derived by llama.cpp's converter from the source
    folder, so it is often a training-run id ("Smollm2 135M 8k Lc100K Mix1 Ep2") or a path, while whoever
    publishes a GGUF names the file for people ("SmolLM2-135M-Instruct.Q4_1"). The metadata still gives the
    spelling ("Qwen2.5" for "qwen2.5", "270M" from ``size_label``), and becomes the name when the file name
    says nothing ("ggml-model-q4_0", a blob hash).
    """
    words = [w for w in _SEPARATORS.split(_FILE_SUFFIX.sub("", stem)) if w]
    if not [w for w in words if w.lower() not in _FILLER and not _HEX_ID.fullmatch(w)]:
        return _metadata_name(kv) or stem
    meta = [str(kv.get(k) or "") for k in ("general.size_label", "general.name", "general.basename")]
    spelling = {w.lower(): w for text in reversed(meta) for w in _SEPARATORS.split(text) if w}
    return " ".join(_spell(w, spelling) for w in words)


def _spell(word: str, spelling: dict[str, str]) -> str:
    """A file-name word as the metadata spells it; a lowercase one capitalised ("instruct" -> "Instruct")."""
    if word != word.lower():
        return word
    word = spelling.get(word, word)
    if _SIZE.fullmatch(word):
        return word[:-1] + word[-1].upper()
    return word[0].upper() + word[1:] if word == word.lower() and not _VERSION.fullmatch(word) else word


def _metadata_name(kv: dict[str, Any]) -> str:
    """``general.name`` unless it is a path, else basename + size label + finetune ("" when none is set)."""
    name = str(kv.get("general.name") or "").strip()
    if name and not re.search(r"[/\\]|^\.+$", name):
        return name
    parts = (kv.get(k) for k in ("general.basename", "general.size_label", "general.finetune"))
    return " ".join(str(p) for p in parts if p)


def _build_info(path: Path, size: int, kv: dict[str, Any], tensors: list[tuple[str, int, int, int]]) -> ModelInfo:
    arch = str(kv.get("general.architecture", ""))
    if arch not in KNOWN_ARCHITECTURES:
        raise UnsupportedArchitectureError(
            f"{path.name} is a '{arch or 'unknown'}' model, an architecture this build of llama.cpp does not "
            "support. Update Hearth or pick a model with a supported architecture (llama, qwen2, gemma3...)."
        )

    def arch_int(key: str, default: int = 0) -> int:
        value = kv.get(f"{arch}.{key}", default)
        return int(value[0] if isinstance(value, list) and value else value or default)

    tokens = kv.get("tokenizer.ggml.tokens") or []
    special = {
        k.removeprefix("tokenizer.ggml.").removesuffix("_token_id"): int(v)
        for k, v in kv.items()
        if k.startswith("tokenizer.ggml.") and k.endswith("_token_id")
    }

    def token_text(role: str) -> str | None:
        idx = special.get(role)
        return tokens[idx] if idx is not None and 0 <= idx < len(tokens) else None

    n_embd, n_head = arch_int("embedding_length"), arch_int("attention.head_count", 1)
    file_type = kv.get("general.file_type")
    try:
        quant = gguf.LlamaFileType(file_type).name.removeprefix("MOSTLY_") if file_type is not None else "unknown"
    except ValueError:
        quant = f"type {file_type}"
    return ModelInfo(
        path=str(path),
        name=human_name(kv, path.stem),
        architecture=arch,
        file_size=size,
        n_params=sum(t[1] for t in tensors),
        quantization=quant,
        context_length=arch_int("context_length"),
        n_layer=arch_int("block_count"),
        n_embd=n_embd,
        n_head=n_head,
        n_head_kv=arch_int("attention.head_count_kv", n_head),
        head_dim=arch_int("attention.key_length", n_embd // max(n_head, 1)),
        vocab_size=len(tokens),
        chat_template=kv.get("tokenizer.chat_template") or None,
        bos_token=token_text("bos"),
        eos_token=token_text("eos"),
        special_tokens=special,
        vocab_fingerprint=hashlib.sha256("\n".join(tokens).encode()).hexdigest()[:16],
    )
