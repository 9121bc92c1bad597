"""Draft models for speculative decoding: which models can draft for which, and self-drafts made on request.

A draft must tokenize exactly as the target does (``assistant.engine.draft_model.draft_problem`` says why a
pair cannot work). It comes from one of three places:

- a **sibling**: another model in the library with the same vocabulary and a smaller file (the catalog names
  the one it suggests for each chat model, e.g. Qwen2.5 0.5B for Qwen2.5 1.5B and 3B);
- the **self-draft**: a lower-bit copy of the target made with llama.cpp's quantize API
  (``hearth models draft NAME``), cached in ``<models>/drafts/``. That folder is not scanned by the library,
  so self-drafts never show up as chat models (they are a worse copy of a model the user already has);
- the **catalog** suggestion that is not downloaded yet: listed, with the command that downloads it.

Which quantization the self-draft uses (``self_draft_type``): a draft pays off only when it is much cheaper
than the target, because every drafted token costs a draft step and a rejected one costs that for nothing.
With the usual 2-4 drafted tokens and 80-90 % acceptance, a draft at 2/3 of the target's size is at best
break-even on memory-bound hardware (the verify step costs about one target step plus k draft steps for
``(1 - a^(k+1)) / (1 - a)`` tokens), so the copy must be at least ~1.5x smaller. By llama.cpp's own
quantize table (Llama-3-8B: F16 14.0 GB, Q8_0 7.96, Q6_K 6.14, Q5_K_M 5.33, Q4_K_M 4.58, Q4_0 4.34,
Q3_K_S 3.41, Q2_K 2.96 GB):

- F32 / F16 / BF16 / Q8_0 -> **Q4_0** (3.2x and 1.8x smaller): llama.cpp's fastest CPU kernel, and close
  enough to the source to be accepted often (measured here: a Q4_0 copy of SmolLM2-135M F16 picks the same
  greedy token as the F16 at 84 % of the positions of three chat answers; a Q8_0 copy at 98 %);
- Q6_K / Q5_* -> **Q3_K_S** (1.8x / ~1.55x smaller; a Q4_0 copy would be only 1.2-1.4x smaller);
- Q4_K_*, Q4_0, Q4_1, IQ4 and anything at 3 bits or fewer -> **refused**: a Q3_K_S copy of a Q4_K_M is only
  1.34x smaller and a Q2_K copy 1.55x but far less accurate (+3.5 perplexity on Llama-3-8B against +0.18),
  so its drafts would be rejected too often to pay for themselves.

K-quants work on rows of 256 weights: when a model's width is not a multiple of 256 (SmolLM2 576, Gemma 3
270M 640, Qwen2.5 0.5B 896) llama.cpp falls back to 4-5-bit types for those rows and a "Q3_K_S" copy would be
barely smaller, so such models get a K-quant self-draft refused with that reason (their F16/Q8_0 files still
get a Q4_0 one).

Quantizing runs in a child process: llama.cpp's quantize has no progress callback and cannot be interrupted,
so Cancel (or Ctrl-C) kills the child; progress comes from the temporary file growing toward the expected
size, and the result is renamed into place only once it is complete and readable.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.cpu import default_threads
from assistant.engine.draft_model import draft_problem
from assistant.engine.gguf_info import ModelInfo, file_size, read_model_info
from assistant.errors import InputError, ModelLoadError
from assistant.events import Progress
from assistant.models.errors import InsufficientDiskSpaceError, ModelLibraryError
from assistant.models.partfiles import part_file
from assistant.paths import real_path

if TYPE_CHECKING:
    from assistant.models.catalog import CatalogEntry
    from assistant.models.library import LibraryEntry

log = logging.getLogger(__name__)

SELF, SIBLING, CATALOG = "self", "sibling", "catalog"
MODES = ("auto", "off", "ngram", "draft", "self")
DRAFTS_FOLDER = "drafts"

#: Source quantization (as ModelInfo names it) -> the self-draft's; see the module docstring for why.
SELF_DRAFT_TYPES = {
    "ALL_F32": "Q4_0", "F16": "Q4_0", "BF16": "Q4_0", "Q8_0": "Q4_0",
    "Q6_K": "Q3_K_S", "Q5_K_M": "Q3_K_S", "Q5_K_S": "Q3_K_S", "Q5_0": "Q3_K_S", "Q5_1": "Q3_K_S",
}
#: Bits per weight of the bulk of the tensors, for the expected size (progress and the disk-space check).
_BITS = {"Q4_0": 4.5, "Q3_K_S": 3.5}
_K_BLOCK = 256


class DraftError(ModelLibraryError):
    """A draft model could not be made or chosen; nothing was written."""


class NoDraftError(DraftError):
    """This model has no usable draft for what was asked (too small for a self-draft, no compatible model)."""

    exit_code = 2


class DraftCancelledError(DraftError):
    """Making a self-draft was cancelled; nothing was written."""

    exit_code = 130


@dataclass(frozen=True)
class DraftCandidate:
    """A model that could draft for a target, and whether it can: ``reason`` says why not ("" when it can)."""

    name: str
    path: str  # "" for a catalog suggestion that is not downloaded
    kind: str  # "self" | "sibling" | "catalog" (suggested, not downloaded)
    compatible: bool
    reason: str
    suggested: bool  # the catalog's draft for this model
    size: int  # bytes (a catalog model's download size; a self-draft not made yet: its expected size)
    quantization: str = ""

    @property
    def shown(self) -> str:
        """Its name with its precision: a draft is often a lower-bit copy of the model, whose name it shares
        ("Automatic: SmolLM2 135M Instruct" beside that model read as the model drafting for itself)."""
        return f"{self.name} {self.quantization}" if self.quantization else self.name

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- model info, cheaply ----------------------------------------------------------------------------
def model_info(path: str | Path) -> ModelInfo:
    """:func:`read_model_info`, cached per (path, mtime, size): listing candidates re-reads nothing unchanged."""
    path = Path(path).expanduser()
    try:
        key = _key(path)
    except OSError:
        return read_model_info(path)  # raises the specific error (not found, permission...)
    if (info := _INFO.get(key)) is None:
        info = _INFO[key] = read_model_info(path)
    return info


def remember_info(info: ModelInfo) -> None:
    """Seed the cache with a header already read (the loaded model's), so choosing its draft reads nothing."""
    with contextlib.suppress(OSError):
        _INFO[_key(Path(info.path))] = info


def _key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path), st.st_mtime_ns, st.st_size


_INFO: dict[tuple[str, int, int], ModelInfo] = {}


# ---- the self-draft ---------------------------------------------------------------------------------
def self_draft_type(info: ModelInfo) -> str:
    """The quantization of ``info``'s self-draft; :class:`NoDraftError` with the reason when it gets none."""
    quant = info.quantization
    draft = SELF_DRAFT_TYPES.get(quant)
    if draft is None:
        if quant == "unknown" or quant.startswith("type ") or quant == "GUESSED":
            raise NoDraftError(f"{info.name}'s GGUF does not say which type its weights are ({quant}), so Hearth "
                               "cannot tell whether a lower-bit copy would be smaller. Use a smaller model with "
                               "the same vocabulary as the draft, or n-gram drafting.")
        raise NoDraftError(f"{info.name} is already {quant}, about as small as a draft would be: a lower-bit copy "
                           "would be at most 1.5x smaller and much less accurate, too little for its drafts to pay "
                           "for themselves. Use a smaller model with the same vocabulary as the draft "
                           "(`hearth models drafts` lists them), or n-gram drafting.")
    if draft.endswith(("_K", "_K_S", "_K_M")) and info.n_embd % _K_BLOCK:
        raise NoDraftError(f"{info.name} ({quant}) is {info.n_embd} wide, not a multiple of {_K_BLOCK}, so "
                           f"llama.cpp cannot use {draft} for most of its weights and a lower-bit copy would be "
                           "barely smaller. Use a smaller model with the same vocabulary as the draft, or n-gram "
                           "drafting.")
    return draft


def self_draft_path(models_dir: Path, target: Path, quant: str | None = None) -> Path:
    """Where the self-draft of ``target`` is cached: ``<models_dir>/drafts/<stem>.<KEY>.self-<QUANT>.gguf``.

    ``KEY`` comes from the model file's full path and size: two models saved under one file name
    (``model.gguf``, ``ggml-model-f16.gguf``) each have their own self-draft, where they overwrote each other's
    (and one of the same vocabulary would have drafted for the other unnoticed). A model moved or replaced
    needs its self-draft made again. ``quant`` defaults to :func:`self_draft_type` of the target (which reads
    its header and raises :class:`NoDraftError` for a model that gets no self-draft).
    """
    target = real_path(target)
    quant = quant or self_draft_type(model_info(target))
    return models_dir / DRAFTS_FOLDER / f"{_self_draft_stem(target)}.self-{quant}.gguf"


def self_drafts_of(models_dir: Path, target: Path) -> list[Path]:
    """The self-drafts cached for ``target``, at any precision (what removing the model deletes with it)."""
    target = real_path(target)
    return sorted((models_dir / DRAFTS_FOLDER).glob(f"{glob.escape(_self_draft_stem(target))}.self-*.gguf"))


def _self_draft_stem(target: Path) -> str:
    key = hashlib.blake2b(f"{target}\0{target.stat().st_size}".encode(), digest_size=4).hexdigest()
    return f"{target.stem}.{key}"


def expected_size(info: ModelInfo, quant: str) -> int:
    """About how many bytes ``info`` quantized to ``quant`` takes (within a few % for llama.cpp's choices).

    The bulk of the weights at ``quant``'s bits per weight; one vocabulary x width matrix (the output, which
    llama.cpp keeps at Q6_K, or Q8_0 when the width is not a multiple of 256) higher; the header's vocabulary.
    """
    embed = min(info.vocab_size * info.n_embd, info.n_params)
    out_bits = 6.5625 if info.n_embd % _K_BLOCK == 0 else 8.5
    body = (info.n_params - embed) * _BITS.get(quant, 4.5) + embed * out_bits
    return int(body / 8 + info.vocab_size * 40 + 64 * 1024)


#: Runs in the child: only llama_cpp is imported, and the child dies with its parent (Linux).
_QUANTIZE = r"""
import sys
if sys.platform == "linux":
    import ctypes, signal
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
import llama_cpp as C
src, dst, ftype, nthread = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
C.llama_backend_init()
p = C.llama_model_quantize_default_params()
p.ftype = getattr(C, "LLAMA_FTYPE_MOSTLY_" + ftype)
p.allow_requantize = True
p.nthread = nthread
sys.exit(0 if C.llama_model_quantize(src.encode(), dst.encode(), p) == 0 else 3)
"""


def make_self_draft(target: Path, dest: Path, progress: Callable[[Progress], None] | None = None,
                    cancel: threading.Event | None = None, quant: str | None = None,
                    n_threads: int | None = None, poll_s: float = 0.1) -> Path:
    """Quantize ``target`` into ``dest`` (its self-draft) in a child process; return ``dest``.

    ``progress`` gets ``Progress(job="self-draft", done=bytes, total=expected bytes, unit="bytes")`` with a
    rate and an ETA; setting ``cancel`` (or Ctrl-C) kills the child (:class:`DraftCancelledError`, or the
    KeyboardInterrupt itself). The copy is written under a hidden temporary name next to ``dest`` and
    renamed into place only after it was checked (readable GGUF, same vocabulary): a cancelled or failed
    run leaves nothing behind. Raises :class:`NoDraftError` for a model that gets no self-draft and
    :class:`DraftError` (with llama.cpp's reason) when quantizing fails.
    """
    target = Path(target).expanduser()
    info = model_info(target)
    quant = quant or self_draft_type(info)
    expected = expected_size(info, quant)
    dest.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(dest.parent).free
    if expected > free:
        raise InsufficientDiskSpaceError(f"A {quant} self-draft of {info.name} needs about {expected / 1e9:.2f} GB "
                                         f"but only {free / 1e9:.2f} GB is free in {dest.parent}.")
    tmp = part_file(dest)
    with tempfile.TemporaryFile(prefix="hearth-quantize-") as log_file:
        try:
            threads = n_threads or default_threads()
            proc = subprocess.Popen([sys.executable, "-c", _QUANTIZE, str(target), str(tmp), quant, str(threads)],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_file,
                                    start_new_session=True)  # Ctrl-C reaches only us; we end the child
            try:
                _watch(proc, tmp, expected, info.name, progress, cancel, poll_s)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            if proc.returncode != 0:
                log_file.seek(0)
                raise DraftError(f"Could not make a {quant} self-draft of {info.name}: "
                                 f"{_quantize_failure(log_file.read(), proc.returncode)}.")
            _check_result(tmp, info, quant)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
    log.info("made %s (%d bytes, expected %d)", dest, dest.stat().st_size, expected)
    return dest


def _watch(proc: subprocess.Popen[bytes], tmp: Path, expected: int, name: str,
           progress: Callable[[Progress], None] | None, cancel: threading.Event | None, poll_s: float) -> None:
    """Wait for the child, reporting the temporary file's growth; raise DraftCancelledError on cancel."""
    # the rate is measured from when the file first had data, so that the child's start-up (importing
    # llama.cpp, reading the source's header) does not make the first ETAs far too long
    first: tuple[float, int] | None = None
    while True:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=poll_s)
        if cancel is not None and cancel.is_set():
            raise DraftCancelledError(f"Making the self-draft of {name} was cancelled; nothing was written.")
        if proc.returncode is not None:
            return
        if progress is None:
            continue
        try:
            done = tmp.stat().st_size
        except OSError:
            done = 0
        now = time.perf_counter()
        if first is None and done:
            first = (now, done)
        rate = (done - first[1]) / (now - first[0]) if first is not None and done > first[1] else None
        # the estimate may be a little low: never show 100 % (or 0 s left) before the child is done
        done = min(done, int(expected * 0.99))
        eta = (expected - done) / rate if rate else None
        progress(Progress("self-draft", done, expected, "bytes", rate=rate, eta_s=eta, message=name))


def quantize_copy(src: Path, dest: Path, ftype: str) -> Path:
    """``src`` re-quantized to ``dest`` (``ftype``: "F16", "Q8_0", "Q4_0"...) in this process, written under a
    temporary name and renamed: for copies that need no progress or cancel (benchmarks, tests). Kept if made."""
    import llama_cpp

    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{ftype}")
    params.allow_requantize = True
    params.nthread = default_threads()
    tmp = part_file(dest)
    if llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), params) != 0:
        tmp.unlink(missing_ok=True)
        raise DraftError(f"llama.cpp could not quantize {src.name} to {ftype}.")
    os.replace(tmp, dest)
    return dest


def _quantize_failure(log_text: bytes, returncode: int) -> str:
    """llama.cpp's own reason ("failed to quantize: ..."), else the last error-looking line, else the exit code."""
    lines = [line.strip() for line in log_text.decode("utf-8", errors="replace").splitlines() if line.strip()]
    for line in reversed(lines):
        if "failed to quantize:" in line:
            return line.split("failed to quantize:", 1)[1].strip().rstrip(".")
    for line in reversed(lines):
        if any(word in line.lower() for word in ("error", "failed", "cannot", "unable")):
            return line.rstrip(".")
    if returncode < 0:
        return f"the quantizer was killed (signal {-returncode})"
    return f"the quantizer stopped with exit code {returncode}"


def _check_result(tmp: Path, target: ModelInfo, quant: str) -> None:
    try:
        made = read_model_info(tmp)
    except ModelLoadError as exc:
        raise DraftError(f"The {quant} self-draft of {target.name} came out unreadable: {exc}") from None
    if made.vocab_fingerprint != target.vocab_fingerprint:
        raise DraftError(f"The {quant} self-draft of {target.name} came out with another vocabulary; "
                         "it was not kept.")


# ---- candidates ---------------------------------------------------------------------------------------
def draft_candidates(target_path: str | Path, library_entries: Iterable[LibraryEntry],
                     catalog: Sequence[CatalogEntry] = (), models_dir: Path | None = None) -> list[DraftCandidate]:
    """Every model that could draft for ``target_path``, each checked with ``draft_problem``.

    Siblings: every library model but the target. The self-draft (when ``models_dir`` is given): the cached
    one if it was made, else one "not made yet" (or the reason this model gets none), never compatible until
    made. The catalog's suggestion for the target (matched by file name or shown name) when it is not
    downloaded. Compatible candidates come first, the suggested one first among them, then the smallest.
    """
    target_path = real_path(target_path)
    target = model_info(target_path)
    library_entries = list(library_entries)
    entries = [e for e in library_entries if real_path(e.path) != target_path]
    how_to_name = _cli_name(target_path, in_library=len(entries) < len(library_entries), others=entries)
    suggestion = _suggested_entry(target, target_path, catalog)
    out: list[DraftCandidate] = []
    for entry in entries:
        suggested = suggestion is not None and entry.path.name == suggestion.file
        if entry.info is None:
            out.append(DraftCandidate(entry.name, str(entry.path), SIBLING, False,
                                      entry.error or "cannot be read", suggested, file_size(entry.path)))
            continue
        problem = draft_problem(target, entry.info)
        out.append(DraftCandidate(entry.info.name, str(entry.path), SIBLING, problem is None, problem or "",
                                  suggested, entry.info.file_size, entry.info.quantization))
    if suggestion is not None and not any(c.suggested for c in out):
        out.append(DraftCandidate(suggestion.name, "", CATALOG, False,
                                  f"not downloaded: `hearth models download {suggestion.repo} {suggestion.file}`",
                                  True, suggestion.size, suggestion.quantization))
    if models_dir is not None:
        out.append(_self_candidate(target, target_path, models_dir, how_to_name))
    return sorted(out, key=lambda c: (not c.compatible, not c.suggested, c.size))


def _self_candidate(target: ModelInfo, target_path: Path, models_dir: Path, how_to_name: str) -> DraftCandidate:
    label = f"{target.name} self-draft"
    try:
        quant = self_draft_type(target)
    except NoDraftError as exc:
        return DraftCandidate(label, "", SELF, False, str(exc), False, 0)
    path = self_draft_path(models_dir, target_path, quant)
    if not path.is_file():
        return DraftCandidate(label, str(path), SELF, False,
                              f"not made yet: make it in Models (Make self-draft) or with `hearth models draft "
                              f"{how_to_name}`", False,
                              expected_size(target, quant), quant)
    try:
        info = model_info(path)
    except ModelLoadError as exc:
        return DraftCandidate(label, str(path), SELF, False, f"{exc} Make it again in Models (Make self-draft) or "
                              f"with `hearth models draft {how_to_name}`", False, file_size(path), quant)
    problem = draft_problem(target, info)
    return DraftCandidate(label, str(path), SELF, problem is None, problem or "", False, info.file_size, quant)


def _suggested_entry(target: ModelInfo, target_path: Path, catalog: Sequence[CatalogEntry]) -> CatalogEntry | None:
    """The catalog's draft for the target: the target found in the catalog by file name, else by shown name."""
    by_id = {e.id: e for e in catalog}
    for match in (lambda e: e.file == target_path.name, lambda e: e.name.lower() == target.name.lower()):
        for entry in catalog:
            if match(entry) and entry.draft in by_id:
                return by_id[entry.draft]
    return None


def _cli_name(target_path: Path, in_library: bool, others: Sequence[LibraryEntry]) -> str:
    """How to name the target in a command the user can paste: its file name when that finds it in the
    library, else its path (not the shown name: an F16 and a Q4_1 of one model share it)."""
    if in_library and not any(e.path.name == target_path.name for e in others):
        return shlex.quote(target_path.name)
    return shlex.quote(str(target_path))


# ---- choosing the draft ----------------------------------------------------------------------------------
def resolve_draft(target_path: str | Path, mode: str, configured: str,
                  candidates: Sequence[DraftCandidate], strict: bool = False) -> Path | None:
    """The draft model ``mode`` uses for ``target_path``, or None (no draft model: n-gram or plain decoding).

    - "off", "ngram": None.
    - "draft": the ``configured`` one (name, part of it, file name or path; :class:`NoDraftError` with the
      reason when it cannot draft), else the suggested sibling, else the smallest compatible sibling, else
      :class:`NoDraftError` saying what to download or make.
    - "self": the self-draft; :class:`NoDraftError` telling how to make it when there is none.
    - "auto": like "draft" but never an error (an unusable ``configured`` one is skipped and logged, unless
      ``strict``: one named on this call), then the self-draft, else None: auto mode then drafts by n-gram
      lookup only.
    """
    if mode not in MODES:
        raise InputError(f"Unknown speculative mode {mode!r}: choose one of {', '.join(MODES)}.")
    if mode in ("off", "ngram"):
        return None
    target_name = model_info(target_path).name
    siblings = [c for c in candidates if c.kind == SIBLING]
    self_draft = next((c for c in candidates if c.kind == SELF), None)
    if mode == "self":
        if self_draft is not None and self_draft.compatible:
            return Path(self_draft.path)
        why = self_draft.reason if self_draft is not None else "no self-draft has been made"
        raise NoDraftError(f"No self-draft for {target_name}: {why}")
    if configured.strip():
        try:
            chosen = _configured(target_path, configured, candidates)
        except NoDraftError:
            if mode == "draft" or strict:
                raise
            chosen = None
        if chosen is not None and chosen.compatible:
            return Path(chosen.path)
        why = (f"{chosen.name} cannot draft for {target_name}: {chosen.reason}" if chosen is not None
               else f"there is no model {configured!r} (`hearth models drafts` lists the candidates)")
        if mode == "draft" or strict:
            raise NoDraftError(f"The draft model {configured!r} cannot be used: {why.rstrip('.')}.")
        log.warning("speculative auto mode skips the draft model %r: %s", configured, why)
    usable = [c for c in siblings if c.compatible]
    if usable:
        return Path(min(usable, key=lambda c: (not c.suggested, c.size)).path)
    if mode == "auto":
        return Path(self_draft.path) if self_draft is not None and self_draft.compatible else None
    hints = [c.reason.removeprefix("not downloaded: ") for c in candidates if c.kind == CATALOG]
    hints.append("add a smaller model with the same vocabulary")
    if self_draft is not None and self_draft.reason.startswith("not made yet: "):
        hints.append(self_draft.reason.removeprefix("not made yet: "))
    raise NoDraftError(f"No draft model for {target_name}: {', or '.join(hints)}.")


def _configured(target_path: str | Path, configured: str,
                candidates: Sequence[DraftCandidate]) -> DraftCandidate | None:
    """The candidate ``configured`` names (path, file name, stem, shown name, then a unique part), or a file
    outside the library named by its path; None when nothing matches."""
    key = configured.strip().lower()
    as_path = Path(configured.strip()).expanduser()
    resolved = str(real_path(as_path)) if as_path.is_file() else None
    target = real_path(target_path)
    info = model_info(target)
    named = [c for c in candidates if c.path and (c.path in (resolved, str(as_path)) or key in (
        Path(c.path).name.lower(), Path(c.path).stem.lower()))]
    # by the name a list shows, with its precision ("SmolLM2 135M Instruct Q4_1" beside the model's F16, which
    # `models use` took and this refused), or without it where no other model of that name is the target
    # (a self-draft, named as its model is, only so)
    named = named or [c for c in candidates if key == c.shown.lower() or (key == c.name.lower() and c.kind != SELF)]
    # the target by its path, file name or shown name (it said "there is no model", or, by the shown name, that
    # the model's self-draft "cannot draft": a part of its name)
    if resolved == str(target) or key in (target.name.lower(), target.stem.lower(),
                                          f"{info.name} {info.quantization}".lower()) or (
            not named and key == info.name.lower()):
        raise NoDraftError(f"{target.name} is the model answering: the draft model must be another, smaller one "
                           "with the same vocabulary (`hearth models drafts` lists them).")
    named = named or [c for c in candidates if key in c.name.lower() or (c.path and key in Path(c.path).name.lower())]
    if len(named) > 1:
        raise NoDraftError(f"{configured!r} matches several draft candidates: "
                           f"{'; '.join(f'{c.name} ({Path(c.path).name or c.kind})' for c in named)}. "
                           "Type more of the name, the file name, or the full path.")
    if named:
        return named[0]
    if resolved is None:
        return None
    try:
        info = model_info(resolved)
    except ModelLoadError as exc:
        return DraftCandidate(as_path.name, resolved, SIBLING, False, str(exc), False, file_size(as_path))
    problem = draft_problem(model_info(target_path), info)
    return DraftCandidate(info.name, resolved, SIBLING, problem is None, problem or "", False, info.file_size,
                          info.quantization)
