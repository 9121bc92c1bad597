"""Conversations' KV caches on disk, so that the first question after a restart does not read the whole chat again.

The engine keeps the caches of the prompts it left behind in RAM (:meth:`Engine._switch_cache`); they die with the
process, and the first question in a long chat after a restart evaluated all of it again: 19-23 s for a
4k-token chat on the bundled model, minutes for a 7B model on a laptop CPU. When the engine lets a
conversation's cache go (the app closes, another model loads, RAM makes room), it is written here, and the
first prompt of that conversation in a later run reads it back in a fraction of a second.

One file per (conversation, model): ``<key digest>-<model digest>.kv`` holding a JSON header line, the
tokens and llama.cpp's sequence state (``llama_state_seq_get_data``). The model digest covers the model file
(path, size, modification time), the KV cache type and the llama.cpp build, since a state is only valid for the
exact model and build that made it. A conversation's files are deleted with the conversation (or a turn of it),
and one is never written for a conversation that is gone (deleted by another process meanwhile). The folder is
a cache: the oldest files make room beyond :data:`MAX_FILES` or :data:`MAX_BYTES`, and any file that cannot be
read is deleted and the prompt evaluated as before.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

_MAGIC = b"HEARTH-KV 1\n"
#: At most this many files, within this many bytes and a quarter of the disk's free space: a 4k-token chat is
#: about 94 MB on the bundled model, 0.5 GB on an 8B one.
MAX_FILES, MAX_BYTES, DISK_SHARE = 16, 4 * 2**30, 0.25
#: A prompt shorter than this is read again faster than it is written and read back.
MIN_TOKENS = 256


def _files(folder: Path) -> list[tuple[float, int, Path]]:
    """(last used, size, path) of each saved cache in ``folder``, the most recently used first."""
    found = []
    for path in folder.glob("*.kv"):
        try:
            stat = path.stat()
        except OSError:
            continue
        found.append((stat.st_mtime, stat.st_size, path))
    return sorted(found, reverse=True)


def usage(folder: Path) -> tuple[int, int]:
    """How many saved caches ``folder`` holds, and their bytes (``hearth doctor`` says it)."""
    files = _files(folder)
    return len(files), sum(size for _, size, _ in files)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@cache
def _llama_build() -> str:
    from importlib.metadata import version

    return version("llama-cpp-python")


def model_digest(model_path: str, kv_cache: str) -> str:
    """Which model, cache type and llama.cpp build a state belongs to."""
    stat = Path(model_path).stat()
    return _digest(f"{Path(model_path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{kv_cache}|{_llama_build()}")


@dataclass
class Stored:
    """A cache on disk: its tokens are read at once, its state (the big part) only when it is used."""

    path: Path
    tokens: list[int]
    head: bytes  # the file up to its state (magic, header, tokens)
    size: int

    def read_state(self) -> ctypes.Array | None:
        """The state, if the file is still the one :meth:`PromptStore.find` read: another Hearth process may
        have replaced it since, and its state with these tokens would answer wrongly without an error."""
        state = (ctypes.c_uint8 * self.size)()
        try:
            with self.path.open("rb") as fh:
                if fh.read(len(self.head)) != self.head:
                    log.info("the saved cache %s was replaced meanwhile; not used", self.path.name)
                    return None
                if fh.readinto(state) != self.size:
                    raise OSError("the file is shorter than its header says")
            os.utime(self.path)  # the most recently used is the last to make room
        except OSError as exc:
            log.warning("the saved cache %s cannot be read (%s); it is deleted", self.path.name, exc)
            self.path.unlink(missing_ok=True)
            return None
        return state


class PromptStore:
    """The folder of saved caches. ``keeps(key)`` says whether the conversation ``key`` still exists."""

    def __init__(self, folder: Path, keeps: Callable[[str], bool]) -> None:
        self.folder = folder
        self._keeps = keeps

    def _path(self, key: str, model: str) -> Path:
        return self.folder / f"{_digest(key)}-{model}.kv"

    def find(self, key: str, model: str) -> Stored | None:
        """The saved cache of conversation ``key`` on ``model``, if there is a usable one."""
        path = self._path(key, model)
        try:
            with path.open("rb") as fh:
                if fh.read(len(_MAGIC)) != _MAGIC:
                    raise ValueError("not a Hearth cache file")
                line = fh.readline()
                header = json.loads(line)
                raw = fh.read(4 * int(header["tokens"]))
                tokens = array("i")
                tokens.frombytes(raw)
                if len(tokens) != header["tokens"] or header["key"] != key:
                    raise ValueError("its header does not match its content")
                size = int(header["state"])
                if os.fstat(fh.fileno()).st_size != fh.tell() + size:
                    raise ValueError("the file is shorter or longer than its header says")
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("the saved cache %s is unusable (%s); it is deleted", path.name, exc)
            path.unlink(missing_ok=True)
            return None
        return Stored(path, tokens.tolist(), _MAGIC + line + raw, size)

    def save(self, key: str, model: str, tokens: list[int], state: ctypes.Array) -> None:
        """Write (or replace) the cache of ``key``; a conversation that no longer exists gets none. A crash
        mid-write leaves the old file or none, never half of one. Failures are logged: it is only a cache."""
        if not self._keeps(key):
            return
        path, started = self._path(key, model), time.perf_counter()
        header = json.dumps({"key": key, "tokens": len(tokens), "state": len(state)}).encode() + b"\n"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            budget = self._budget()  # the same after the write: the disk's free space goes where the file is
            if len(state) > budget:
                log.info("the cache of a %d-token conversation is not saved: no room", len(tokens))
                return
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(_MAGIC + header + array("i", tokens).tobytes())
                    fh.write(memoryview(state))
                    fh.flush()
                    os.fsync(fh.fileno())  # a power cut must not leave a renamed file of zeros
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning("the cache of a conversation could not be saved: %s", exc)
            return
        self._make_room(path, budget)
        log.info("saved the cache of a %d-token conversation (%.0f MB) in %.2f s", len(tokens), len(state) / 1e6,
                 time.perf_counter() - started)

    def forget(self, key: str) -> None:
        """Delete the saved caches of conversation ``key`` (every model's)."""
        for path in self.folder.glob(f"{_digest(key)}-*.kv"):
            path.unlink(missing_ok=True)

    def clear(self) -> None:
        for path in self.folder.glob("*.kv"):
            path.unlink(missing_ok=True)

    def _budget(self) -> int:
        """Bytes the saved caches may take: the share of the disk's free space, counting what they hold now."""
        ours = sum(size for _, size, _ in _files(self.folder))
        return min(MAX_BYTES, int((shutil.disk_usage(self.folder).free + ours) * DISK_SHARE))

    def _make_room(self, keep: Path, budget: int) -> None:
        """Delete the least recently used files beyond the count or the budget; ``keep`` (just written) stays."""
        for tmp in self.folder.glob(".*.tmp"):  # a write cut short by a crash
            with contextlib.suppress(OSError):
                if time.time() - tmp.stat().st_mtime > 3600:
                    tmp.unlink()
        used, count = 0, 0
        for _, size, path in sorted(_files(self.folder), key=lambda found: found[2] != keep):
            if path != keep and (count >= MAX_FILES or used + size > budget):
                path.unlink(missing_ok=True)
            else:
                used, count = used + size, count + 1
