"""ModelsService: the model library as front ends see it (``Assistant.models``).

Why one service: the CLI, the GUI and a future API server used to each put the library, the catalog, fit
estimates and downloads together themselves (the GUI kept its own list of models beside the library). Here
they get the same answers from one object with a stated contract:

- every method is blocking and may take seconds (headers are read, the Hub is asked): GUIs call it from a
  background thread;
- failures are :class:`HearthError` subclasses whose message is a sentence for the user;
- fit estimates use the live settings' context length unless told otherwise;
- the network is used only by :meth:`download` and :meth:`search_hub`, and only while they run;
- draft models for speculative decoding (:meth:`draft_candidates`, :meth:`resolve_draft`,
  :meth:`make_self_draft`) follow ``assistant.models.drafts``; self-drafts live in ``<models>/drafts/``,
  which the library does not scan, so they never show up as chat models.

Download and Hub modules import ``huggingface_hub`` (a noticeable import): they are imported on first use.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.config import ModelSettings, Settings
from assistant.engine import read_model_info
from assistant.engine.gguf_info import model_size
from assistant.errors import HearthError, InputError, ModelLoadError
from assistant.events import counted
from assistant.models import drafts
from assistant.models.catalog import CatalogEntry, find_entry, load_catalog
from assistant.models.drafts import DraftCandidate, NoDraftError
from assistant.models.fit import WONT_FIT, FitEstimate, estimate_fit, probe_resources, rough_fit
from assistant.models.library import LIBRARY, OUTSIDE, LibraryEntry, ModelLibrary, Removal, SelfDraftState
from assistant.paths import BUNDLED_CHAT_MODEL, Paths, real_path

if TYPE_CHECKING:
    from assistant.events import Progress
    from assistant.models.downloads import DownloadProgress, DownloadResult
    from assistant.models.hub import HubRepo


@dataclass(frozen=True)
class CatalogRow:
    """A curated model as the "Get models" list shows it."""

    entry: CatalogEntry
    installed: bool
    fit: str  # a rough label: the file is not here to read its header

    def to_dict(self) -> dict[str, Any]:
        return self.entry.to_dict() | {"installed": self.installed, "fit": self.fit}


@dataclass(frozen=True)
class FolderContents:
    """A folder's ``.gguf`` files: the models and the files that cannot be used (empty, not GGUF, truncated…)."""

    models: int
    unusable: int

    def said(self) -> str:
        """"9 models and 3 files that cannot be used": one wording for the CLI and the window; "" for no file."""
        said = [counted(self.models, "model")] if self.models else []
        if self.unusable:
            said.append(f"{counted(self.unusable, 'file')} that cannot be used")
        return " and ".join(said)

    def holds(self) -> str:
        """"holds 9 models and …", or "holds no .gguf model yet": what adding the folder, and its row, say."""
        return f"holds {said}" if (said := self.said()) else "holds no .gguf model yet"


def _contents(folder: Path, scanned: list[Path]) -> FolderContents:
    """What the ``scanned`` files inside ``folder`` are (their headers cached by ``drafts.model_info``)."""
    usable = unusable = 0
    for path in scanned:
        if path.is_relative_to(folder):
            try:
                drafts.model_info(path)
                usable += 1
            except ModelLoadError:
                unusable += 1
    return FolderContents(usable, unusable)


class ModelsService:
    def __init__(self, paths: Paths, settings: Callable[[], Settings],
                 model_settings: Callable[[Path], ModelSettings] | None = None) -> None:
        """``model_settings(path)``: the settings a model loads with (the facade's: its own saved profile, or the
        live settings for the configured model); by default the live settings for every model."""
        self.paths = paths
        self._settings = settings  # a getter: the facade may replace its settings object
        self._model_settings = model_settings or (lambda _path: settings().model)
        self.library = ModelLibrary.for_paths(paths)
        #: The Hub's address; None means ``HF_ENDPOINT`` or huggingface.co (tests point it at a local server).
        self.endpoint: str | None = None

    def _load_for(self, path: Path, n_ctx: int | None = None) -> tuple[int, str]:
        """The context (``n_ctx``, else the model's own) and KV cache type a model's fit is estimated at: as
        loading it would use them. The list estimated every model at the configured model's context, while
        `hearth ask -m` and Use load each with its own profile."""
        m = self._model_settings(path)
        return (m.n_ctx if n_ctx is None else n_ctx), m.kv_cache

    def folder_contents(self, folder: Path) -> FolderContents:
        """What the library's files inside ``folder`` are: models, and files that cannot be used. Each header is
        read (cached, not the fit of every model as :meth:`entries`): "It holds 12 models" counted an empty file,
        one that was no GGUF and a truncated one among them."""
        return _contents(folder, [path for path, _source in self.library.scan()])

    def folders_contents(self) -> list[tuple[Path, FolderContents]]:
        """Each folder added, with what it holds (see :meth:`folder_contents`): the library is scanned once, not
        once per folder."""
        scanned = [path for path, _source in self.library.scan()]
        return [(folder, _contents(folder, scanned)) for folder in self.library.folders()]

    def entries(self, n_ctx: int | None = None) -> list[LibraryEntry]:
        """Every model in the library with its metadata and a fit estimate at ``n_ctx`` (default: each model's
        own, see :meth:`_load_for`) with its KV cache type."""
        entries = self.library.entries(lambda path: self._load_for(path, n_ctx))
        return [replace(e, self_draft=self._self_draft_state(e)) if e.info else e for e in entries]

    def _self_draft_state(self, entry: LibraryEntry) -> SelfDraftState:
        """From the header already read and one look at the drafts folder: cheap enough for every listing."""
        assert entry.info is not None
        try:
            quant = drafts.self_draft_type(entry.info)
            made = drafts.self_draft_path(self.paths.models_dir, entry.path, quant).is_file()
        except NoDraftError as exc:
            return SelfDraftState(False, str(exc))
        except OSError as exc:  # the file went away since it was listed
            return SelfDraftState(False, f"{entry.file} cannot be read: {exc.strerror or exc}")
        if not made and entry.fit is not None and (too_big := _too_big_to_draft(entry.fit)):
            return SelfDraftState(False, too_big)
        return SelfDraftState(made)

    def catalog(self) -> list[CatalogRow]:
        """The curated catalog, each entry marked installed (by file name) and with a rough fit label."""
        resources = probe_resources()
        installed = {path.name for path, _source in self.library.scan()}
        return [CatalogRow(e, e.file in installed, rough_fit(e.size, resources)) for e in load_catalog()]

    def find(self, name: str) -> Path:
        """The model a user means: shown name, a unique part of it, file name, stem or path (see ModelLibrary)."""
        return self.library.find(name)

    def named_exactly(self, name: str) -> Path | None:
        """The library model whose file name or stem is ``name`` (any case), or None: what an API request's
        ``model`` names (GET /v1/models lists stems), where a part of a name ("gemma") names nothing."""
        key = name.strip().lower()
        return next((p for p, _source in self.library.scan() if key in (p.name.lower(), p.stem.lower())), None)

    def inspect(self, path: str | Path, n_ctx: int | None = None) -> LibraryEntry:
        """Any GGUF file's metadata and fit; raises the specific ModelLoadError when it cannot be used."""
        path = real_path(path)
        info = read_model_info(path)
        source = dict(self.library.scan()).get(path, OUTSIDE)
        n_ctx, kv_cache = self._load_for(path, n_ctx)
        return LibraryEntry(path, source, info, None, estimate_fit(info, n_ctx, probe_resources(), kv_cache))

    def add(self, path: str | Path, copy: bool = False) -> Path:
        """Add a file (in place, or copied into Hearth's models folder) or a folder to scan."""
        return self.library.add(path, copy=copy)

    def deletes(self, name: str) -> Path | None:
        """The file :meth:`remove` would delete for ``name`` (one in Hearth's own models folder), else None (it would
        forget a folder or a linked file, refuse, or find nothing): what `hearth models remove` asks about first."""
        try:
            path = self.library.find(name)
        except HearthError:  # a folder, or no such model: remove says which
            return None
        return path if self.library.source_of(path) == LIBRARY else None

    def remove(self, name: str) -> Removal:
        """Forget a model or folder; only files in Hearth's own models folder are deleted, and with each model
        that leaves the library its self-drafts (a cache only it used: they stayed in ``drafts/``, where no command
        could reach them). A model the library still knows another way (a file linked by itself, inside a folder
        being forgotten) keeps them."""
        made: dict[Path, list[Path]] = {}
        for path, _source in self.library.scan():
            with contextlib.suppress(OSError):  # a file gone from a folder has no self-draft key
                if found := drafts.self_drafts_of(self.paths.models_dir, path):
                    made[path] = found
        removal = self.library.remove(name)
        still = {path for path, _source in self.library.scan()}
        gone = [draft for path, found in made.items() if path not in still for draft in found]
        for draft in gone:
            draft.unlink(missing_ok=True)
        return replace(removal, drafts=tuple(gone))

    def download(self, repo: str, file: str, on_progress: Callable[[DownloadProgress], None] | None = None,
                 cancel: threading.Event | None = None, revision: str | None = None,
                 sha256: str | None = None) -> DownloadResult:
        """Download a GGUF into the models folder, resumable, verified against the Hub's own sha256.

        A catalog model's pinned sha256 is used only when the Hub gives none; ``sha256`` is one the user
        insists on. Cancelling (``cancel.set()``) keeps the partial file: the same call later resumes it.
        """
        from assistant.models.downloads import download_model

        entry = find_entry(repo, file)
        return download_model(repo, file, self.paths.models_dir, sha256=sha256,
                              pinned_sha256=entry.sha256 if entry else None, revision=revision,
                              endpoint=self.endpoint, on_progress=on_progress, cancel=cancel)

    def search_hub(self, query: str, limit: int = 10) -> list[HubRepo]:
        """GGUF repositories on the Hugging Face Hub matching ``query``, with their files, sizes and fit."""
        from assistant.models.hub import search

        if not query.strip():  # it went to the network for every GGUF there is
            raise InputError("Give words to search for: a model family or size, e.g. 'qwen 1.5b'.")

        resources = probe_resources()
        return search(query, limit, lambda size: rough_fit(size, resources), self.endpoint)

    # ---- draft models (speculative decoding) --------------------------------------------------------------
    def _target(self, target: str | Path | None) -> Path:
        """A model named as the user names it (see :meth:`find`); None: the configured chat model."""
        if target is None:
            configured = self._settings().model.path
            return real_path(configured) if configured else BUNDLED_CHAT_MODEL.resolve()
        return real_path(target) if isinstance(target, Path) else self.find(target)

    def draft_candidates(self, target: str | Path | None = None) -> list[DraftCandidate]:
        """Every model that could draft for ``target`` (default: the configured model), compatible first.

        Library models other than the target, its self-draft (made, or how to make it, or why it gets none) and
        the catalog's suggestion when it is not downloaded, each with the reason it cannot draft. Headers are
        cached per file and modification time, so calling this again is cheap.
        """
        path = self._target(target)
        return drafts.draft_candidates(path, self._draft_entries(), load_catalog(), self.paths.models_dir)

    def _draft_entries(self, keep: Callable[[Path], bool] = lambda _path: True) -> list[LibraryEntry]:
        entries = []
        for path, source in self.library.scan():
            if not keep(path):
                continue
            try:
                entries.append(LibraryEntry(path, source, drafts.model_info(path), None, None))
            except ModelLoadError as exc:
                entries.append(LibraryEntry(path, source, None, str(exc), None))
        return entries

    def resolve_draft(self, target: str | Path | None = None, mode: str | None = None,
                      configured: str | None = None, strict: bool = False) -> Path | None:
        """The draft model ``mode`` (default: the settings' ``speculative``) uses for ``target`` (default: the
        configured model), given the ``configured`` draft (default: the settings' ``draft_model``); None when
        the mode uses none. See :func:`assistant.models.drafts.resolve_draft` for the rules and errors."""
        settings = self._settings().model
        mode = settings.speculative if mode is None else mode
        if mode in ("off", "ngram"):
            return None  # no headers read for the modes that need no draft
        path = self._target(target)
        configured = settings.draft_model if configured is None else configured
        if mode == "auto":  # on every first answer: read the headers of smaller files only (larger cannot draft)
            size = model_size(path)  # a split model's whole size: its first file alone looked small enough
            key = configured.strip().lower()  # and the one named, to say why it cannot ("there is no model 'gemma'")
            entries = self._draft_entries(lambda p: model_size(p) < size or p.name == Path(configured).name
                                          or (bool(key) and key in p.name.lower()))
            candidates = drafts.draft_candidates(path, entries, load_catalog(), self.paths.models_dir)
        else:
            candidates = self.draft_candidates(path)
        return drafts.resolve_draft(path, mode, configured, candidates, strict)

    def self_draft_path(self, name_or_path: str | Path | None = None) -> Path | None:
        """Where the self-draft of a model is (or would be) cached; None for a model that gets none (already
        small: :meth:`make_self_draft` says why)."""
        try:
            return drafts.self_draft_path(self.paths.models_dir, self._target(name_or_path))
        except NoDraftError:
            return None

    @staticmethod
    def _usable(draft: Path, vocab_fingerprint: str) -> bool:
        try:
            return drafts.model_info(draft).vocab_fingerprint == vocab_fingerprint
        except ModelLoadError:
            return False  # an unreadable leftover: make it again

    def make_self_draft(self, name_or_path: str | Path | None = None,
                        progress: Callable[[Progress], None] | None = None,
                        cancel: threading.Event | None = None) -> Path:
        """Make (or find already made) the lower-bit copy of a model used for self-speculation; its path.

        Blocking (seconds for a small model, minutes for a large one); ``progress`` gets
        ``Progress(job="self-draft")`` events with an ETA, ``cancel.set()`` stops it (DraftCancelledError).
        A model already too small for a useful self-draft raises NoDraftError with the reason; a failed
        quantize raises DraftError with llama.cpp's. A cancelled or failed run leaves no file behind.
        """
        target = self._target(name_or_path)
        info = drafts.model_info(target)
        quant = drafts.self_draft_type(info)
        dest = drafts.self_draft_path(self.paths.models_dir, target, quant)
        if dest.is_file() and self._usable(dest, info.vocab_fingerprint):
            return dest
        n_ctx, kv_cache = self._load_for(target)
        if too_big := _too_big_to_draft(estimate_fit(info, n_ctx, probe_resources(), kv_cache)):
            raise NoDraftError(too_big)
        return drafts.make_self_draft(target, dest, progress, cancel, quant=quant)


def _too_big_to_draft(fit: FitEstimate) -> str:
    """Why a model gets no self-draft made for it on this computer ("" when it may): one that won't fit cannot
    answer, so its draft would be gigabytes written for nothing (the Models view offered it beside "Won't fit",
    and a 70B model's draft began writing 7.3 GB)."""
    if fit.label != WONT_FIT:
        return ""
    return (f"it won't fit on this computer (needs {fit.ram_needed / 2**30:.1f} GiB of "
            f"{fit.free_ram / 2**30:.1f} free), so it cannot answer and its self-draft would be of no use")
