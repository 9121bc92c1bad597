"""The model library: which GGUF files Hearth knows about, where they live, and how to add or remove them.

Models come from four places: the bundled models, Hearth's own models folder (copies and downloads), extra
folders the user adds (scanned recursively: LM Studio and GPT4All keep nested folders), and single files
imported in place. Files outside Hearth's own folder are never deleted; removing them only forgets them.
The list of extra folders and linked files lives in ``model-library.toml`` under the config folder.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from assistant.engine import ModelInfo, read_model_info
from assistant.engine.gguf_info import later_shard, model_files
from assistant.errors import InputError, ModelLoadError, ModelNotFoundError
from assistant.models.drafts import model_info
from assistant.models.errors import AmbiguousModelNameError, InsufficientDiskSpaceError, ModelLibraryError
from assistant.models.fit import FitEstimate, Resources, estimate_fit, probe_resources
from assistant.models.partfiles import part_file
from assistant.models.store import read_toml, write_toml
from assistant.paths import RESOURCES, Paths, real_path

BUNDLED, LIBRARY, FOLDER, LINKED = "bundled", "library", "folder", "linked"
#: The source of a file that was inspected but is not in the library.
OUTSIDE = "not in the library"


@dataclass(frozen=True)
class SelfDraftState:
    """Whether a model has its self-draft: ``made``, else ``reason`` says why it gets none ("" when one can be
    made)."""

    made: bool
    reason: str = ""

    @property
    def can_make(self) -> bool:
        return not self.made and not self.reason


@dataclass(frozen=True)
class LibraryEntry:
    """One model file with what the library view shows; ``error`` says why it cannot be used."""

    path: Path
    source: str  # BUNDLED / LIBRARY / FOLDER / LINKED
    info: ModelInfo | None
    error: str | None
    fit: FitEstimate | None
    #: Its self-draft (a lower-bit copy that drafts for it): made, can be made, or why it gets none. Filled in
    #: by ``ModelService.entries`` (the library itself knows nothing of drafts); None when not looked at.
    self_draft: SelfDraftState | None = None
    #: Another model of the library has the same name (a Q8_0 and a Q4_1 of one model): see :attr:`shown`.
    has_twin: bool = False

    @property
    def file(self) -> str:
        return self.path.name

    @property
    def name(self) -> str:
        """The human name (see :func:`assistant.engine.gguf_info.human_name`); the stem of an unreadable file."""
        return self.info.name if self.info else self.path.stem

    @property
    def shown(self) -> str:
        """The name as a list shows it: with the precision where another model has the same name (two rows, two
        "Use SmolLM2 135M Instruct" buttons and two choices in Settings were all alike)."""
        return f"{self.name} {self.info.quantization}" if self.has_twin and self.info else self.name

    @property
    def bundled(self) -> bool:
        """Whether it came with Hearth (never removed)."""
        return self.source == BUNDLED

    @property
    def removable(self) -> bool:
        """Whether :meth:`ModelLibrary.remove` takes it: Hearth's own copies (deleted) and linked files (forgotten)."""
        return self.source in (LIBRARY, LINKED)

    @property
    def removal_deletes(self) -> bool:
        """Whether :meth:`ModelLibrary.remove` deletes the file (Hearth's own copy), rather than forget it."""
        return self.source == LIBRARY

    def to_dict(self) -> dict[str, Any]:
        base = self.info.to_dict() if self.info else {"path": str(self.path), "name": self.path.stem}
        return base | {"shown": self.shown, "file": self.file, "source": self.source, "error": self.error,
                       "fit": self.fit.to_dict() if self.fit else None,
                       "self_draft": asdict(self.self_draft) if self.self_draft else None}


@dataclass(frozen=True)
class Removal:
    path: Path
    deleted_file: bool  # False: the file (or folder) was only forgotten, it is still on disk
    drafts: tuple[Path, ...] = ()  # the model's self-drafts, deleted with it
    was_draft: bool = False  # it was the settings' draft model: that setting is now Automatic


class ModelLibrary:
    def __init__(self, models_dir: Path, registry_file: Path, bundled_dir: Path = RESOURCES / "models") -> None:
        self.models_dir = models_dir
        self.registry_file = registry_file
        self.bundled_dir = bundled_dir

    @classmethod
    def for_paths(cls, paths: Paths) -> ModelLibrary:
        return cls(paths.models_dir, paths.config_dir / "model-library.toml")

    # ---- registry ----------------------------------------------------------------------------------
    def _registry(self) -> tuple[list[Path], list[Path]]:
        data = read_toml(self.registry_file)
        return _paths(data.get("folders")), _paths(data.get("files"))

    def _save_registry(self, folders: list[Path], files: list[Path]) -> None:
        write_toml(self.registry_file, {"folders": [str(p) for p in folders], "files": [str(p) for p in files]},
                   "the list of model folders")

    def folders(self) -> list[Path]:
        """Extra folders the user added."""
        return self._registry()[0]

    def signature(self) -> tuple[int, ...]:
        """What changes when models come or go (the list of linked files and folders, the folders' contents, by
        their modification times): a window looks at it when it is come back to, and reads the library again
        only if it changed (reading it, each model's header and fit, took 0.1–0.2 s of the I/O lane)."""
        times = []
        for path in (self.registry_file, self.models_dir, self.bundled_dir, *self.folders()):
            try:
                times.append(path.stat().st_mtime_ns)
            except OSError:
                times.append(0)
        return tuple(times)

    # ---- scanning ----------------------------------------------------------------------------------
    def scan(self) -> list[tuple[Path, str]]:
        """Every known ``.gguf`` file with its source, each file once (the first source wins)."""
        folders, files = self._registry()
        found: dict[Path, str] = {}
        candidates = [
            *((p, BUNDLED) for p in _gguf_files(self.bundled_dir, recursive=False)),
            *((p, LIBRARY) for p in _gguf_files(self.models_dir, recursive=False)),
            *((p, FOLDER) for folder in folders for p in _gguf_files(folder, recursive=True)),
            *((p, LINKED) for p in files),
        ]
        for path, source in candidates:
            if not later_shard(path):  # a split model is listed once, by its first file
                found.setdefault(real_path(path), source)
        return sorted(found.items(), key=lambda item: item[0].name.lower())

    def entry(self, path: Path, source: str, n_ctx: int, resources: Resources, kv_cache: str = "f16") -> LibraryEntry:
        """``path``'s metadata and fit; its header from the cache (see :func:`drafts.model_info`): the window's Add
        read each header a second time when the list was read again (once by add or "It holds 3 models")."""
        try:
            info = model_info(path)
        except ModelLoadError as exc:
            return LibraryEntry(path, source, None, str(exc), None)
        return LibraryEntry(path, source, info, None, estimate_fit(info, n_ctx, resources, kv_cache))

    def entries(self, load_for: Callable[[Path], tuple[int, str]] = lambda _path: (4096, "f16"),
                resources: Resources | None = None) -> list[LibraryEntry]:
        """All models with metadata and a fit estimate at the context and KV cache type ``load_for(path)`` gives
        for each (a context of 0: the model's trained one)."""
        resources = resources or probe_resources()
        entries = []
        for path, source in self.scan():
            n_ctx, kv_cache = load_for(path)
            entries.append(self.entry(path, source, n_ctx, resources, kv_cache))
        names = Counter(e.name for e in entries)
        return [replace(e, has_twin=True) if names[e.name] > 1 else e for e in entries]

    def find(self, name: str) -> Path:
        """The model a user means by ``name`` (``hearth models use NAME``, the GUI, ``--model``).

        Tried in order, each case-insensitive: an existing file's path; a file name or stem; the shown (human)
        name; a part of the shown name or file name ("gemma"). The first kind that matches must match one
        model: otherwise the error lists the candidates, so the user can type a longer part. A bare file name
        that is a library model's is that model, also where the current folder holds a file of that name (the
        commands Hearth suggests name library models so, and one run there used the other file): ``./NAME``
        is the file here.
        """
        key = name.strip().lower()
        if not key:
            raise InputError("Name a model: its shown name, file name, a part of either, or a path "
                             "(`hearth models list` shows them).")
        direct = Path(name).expanduser()
        bare = name.strip() == direct.name
        if direct.is_file() and not (bare and any(p.name.lower() == key for p, _ in self.scan())):
            return real_path(direct)
        if direct.is_dir():  # it was "No model file FOLDER", as if nothing were there
            inside = sorted(p.name for p in direct.glob("*.gguf"))
            if not inside:
                raise ModelNotFoundError(f"{name} is a folder with no .gguf model file in it.")
            raise ModelNotFoundError(f"{name} is a folder, not a model file (it holds {', '.join(inside[:3])}"
                                     f"{', …' if len(inside) > 3 else ''}): name the .gguf file, or add the folder "
                                     f"to the library with `hearth models add {shlex.quote(name)}`.")
        paths = [p for p, _ in self.scan()]
        if direct.is_absolute() and real_path(direct) in paths:  # a linked file since moved or deleted: listed
            return real_path(direct)  # with "not found", it could not be removed by any name
        if key and (files := [p for p in paths if key in (p.name.lower(), p.stem.lower())]):
            return _only(name, files)
        plain, named = _shown_names(paths)
        for matches in ([p for p, n in named.items() if key in (n.lower(), plain[p].lower())],
                        [p for p, n in named.items() if key in n.lower() or key in p.name.lower()]):
            if key and matches:
                return _only(name, matches, named)
        raise ModelNotFoundError(f"No model file {name} and no model named {name!r} in the library "
                                 "(`hearth models list` shows them).")

    def lists(self, path: str | Path) -> bool:
        """Whether ``path`` is in the library now (another process may have removed it since a list was read)."""
        return self.source_of(Path(path)) is not None

    def source_of(self, path: Path) -> str | None:
        """Where the library lists ``path`` from (BUNDLED / LIBRARY / FOLDER / LINKED), None if it does not."""
        return dict(self.scan()).get(real_path(path))

    # ---- changes -----------------------------------------------------------------------------------
    def add(self, path: str | Path, copy: bool = False) -> Path:
        """Add a GGUF file (linked in place, or copied into the models folder) or a folder to scan.

        The file is validated first (not-GGUF, truncated, unsupported architecture fail here, not at load).
        """
        path = real_path(path)
        if path.is_dir():
            return self._add_folder(path)
        info = model_info(path)
        if copy:
            return self._copy_in(path, info.file_size)
        if self.source_of(path) is None:
            folders, files = self._registry()
            self._save_registry(folders, [*files, path])
        return path

    def _add_folder(self, folder: Path) -> Path:
        folders, files = self._registry()
        if folder not in folders:
            self._save_registry([*folders, folder], files)
        return folder

    def _copy_in(self, path: Path, size: int) -> Path:
        """Copy the model ``path`` (``size`` bytes, all its files: as its header was read, where every file's size
        was read again here) into the models folder."""
        dest = self.models_dir / path.name
        if dest.exists():
            raise ModelLibraryError(f"{dest} already exists in the models folder; remove it first.")
        self.models_dir.mkdir(parents=True, exist_ok=True)
        files = model_files(path)  # every file of a split model: the first alone was a model with parts missing
        free = shutil.disk_usage(self.models_dir).free
        if size > free:
            raise InsufficientDiskSpaceError(f"Copying {path.name} needs {size / 1e9:.2f} GB but only "
                                             f"{free / 1e9:.2f} GB is free in {self.models_dir}.")
        for file in reversed(files):  # the first file last: the library never shows a model with files missing
            tmp = part_file(self.models_dir / file.name)
            try:
                shutil.copyfile(file, tmp)
                os.replace(tmp, self.models_dir / file.name)  # nor a half-copied one
            except OSError as exc:
                raise ModelLibraryError(f"Could not copy {file.name} into {self.models_dir}: {exc}") from None
            finally:
                tmp.unlink(missing_ok=True)
        return dest

    def remove(self, name: str) -> Removal:
        """Forget a folder or a linked file; delete a file only if it lives in Hearth's own models folder."""
        folders, files = self._registry()
        as_folder = real_path(name)
        if as_folder in folders:
            self._save_registry([f for f in folders if f != as_folder], files)
            return Removal(as_folder, deleted_file=False)
        if as_folder.is_dir():  # it said "… is a folder with no .gguf model file in it", as if asked to use it
            raise ModelNotFoundError(f"{name} is not a folder of the library, so there is nothing to remove "
                                     "(`hearth models list` names the library's folders).")
        path = self.find(name)
        source = self.source_of(path)
        if source == LINKED:
            self._save_registry(folders, [f for f in files if real_path(f) != path])
            return Removal(path, deleted_file=False)
        if source == LIBRARY:
            try:
                for file in model_files(path):  # a split model's first file last: none is left behind unlisted
                    if file != path:
                        file.unlink(missing_ok=True)
                path.unlink()
            except OSError as exc:
                raise ModelLibraryError(f"Could not delete {path}: {exc}") from None
            return Removal(path, deleted_file=True)
        if source == BUNDLED:
            raise ModelLibraryError(f"{path.name} is bundled with Hearth and cannot be removed.")
        if source == FOLDER:
            raise ModelLibraryError(f"{path.name} is in your folder {path.parent}; Hearth does not delete your "
                                    "files. Remove that folder from the library, or delete the file yourself.")
        raise ModelLibraryError(f"{path} is not in the library.")


def _shown_names(paths: list[Path]) -> tuple[dict[Path, str], dict[Path, str]]:
    """Each model's human name (the stem of an unreadable file), and its name as the lists show it: with its
    precision where another has the same name, as :attr:`LibraryEntry.shown` (the window showed "SmolLM2 135M
    Instruct Q8_0", which no command took)."""
    infos: dict[Path, ModelInfo | None] = {}
    for path in paths:
        try:
            infos[path] = read_model_info(path)
        except ModelLoadError:
            infos[path] = None
    plain = {p: info.name if info else p.stem for p, info in infos.items()}
    count = Counter(plain.values())
    return plain, {p: f"{n} {info.quantization}" if count[n] > 1 and (info := infos[p]) else n
                   for p, n in plain.items()}


def _only(name: str, matches: list[Path], named: dict[Path, str] | None = None) -> Path:
    """The one match, or an error naming every candidate (with its folder when two share a file name)."""
    if len(matches) == 1:
        return matches[0]
    shown = [f"{named[p]} ({p.name})" if named else p.name for p in matches]
    if len(set(shown)) < len(shown):  # copies alike in name and file name: it said "type more of the name, the
        # file name…", which told them apart no more
        listed = "; ".join(f"{s} at {p}" for s, p in zip(shown, matches, strict=True))
        raise AmbiguousModelNameError(f"{name!r} matches {len(matches)} models, some with the same name and file "
                                      f"name: {listed}. Give the full path to pick one.")
    raise AmbiguousModelNameError(f"{name!r} matches several models: {'; '.join(shown)}. "
                                  "Type more of the name, the file name, or the full path.")


def _paths(value: object) -> list[Path]:
    """A registry list; anything a hand edit made unreadable is ignored rather than guessed at."""
    return [Path(p) for p in value if isinstance(p, str)] if isinstance(value, list) else []


def _gguf_files(folder: Path, recursive: bool) -> Iterator[Path]:
    """``.gguf`` files in ``folder``, skipping hidden entries (partial downloads live in ``.downloads``)."""
    if not folder.is_dir():
        return
    for path in folder.rglob("*.gguf") if recursive else folder.glob("*.gguf"):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts):
            yield path
