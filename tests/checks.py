"""Checks several test folders share: polling for a condition, running Python in a child process, and reading
an index back after checking that its stores agree (the crash invariant, and the stricter one after a finished
sync)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def wait_for(condition: Callable[[], Any], timeout: float = 15.0, interval: float = 0.02) -> bool:
    """True as soon as ``condition()`` is true, False when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


def unshare_works(flags: str = "-rm") -> bool:
    """Whether ``unshare flags`` may run here (a private mount namespace for ``-rm``, no network for ``-rn``):
    containers and hardened kernels refuse it. One check: four tests each wrote it."""
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", flags, "true"], capture_output=True, check=False).returncode == 0


def need_unshare(flags: str = "-rm") -> None:
    """Skip the test where ``unshare flags`` is not permitted."""
    if not unshare_works(flags):
        pytest.skip(f"`unshare {flags}` is not permitted here")


def run_read_only(folder: Path, *args: str, env: dict[str, str],
                  timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``args`` run with ``folder`` mounted read-only (as a disk the system remounted read-only after errors, or
    a read-only share), in a private mount namespace (``unshare -rm``) that nothing outside the command sees;
    the test is skipped where that is not permitted. A chmod cannot stand in: root, who runs CI, writes through
    it."""
    need_unshare()
    mount = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
    return subprocess.run(["unshare", "-rm", "sh", "-c", mount, str(folder), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=Path(__file__).resolve().parents[1], env=env,
                          stdin=subprocess.DEVNULL)


def files_holding(folder: Path, *needles: bytes) -> list[str]:
    """The files under ``folder`` (relative, sorted) whose raw bytes hold any of ``needles``: SQLite's free pages,
    journals and logs included, where deleted text outlived its delete."""
    def holds(file: Path) -> bool:
        data = file.read_bytes()
        return any(needle in data for needle in needles)

    return sorted(str(f.relative_to(folder)) for f in folder.rglob("*") if f.is_file() and holds(f))


def fake_full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk holding Hearth's data full (1 MB free), and chromadb failing to open a store as it does then (it
    writes as it opens), in this process."""
    from collections import namedtuple

    import chromadb

    from assistant import paths as paths_module

    def full(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("error returned from database: (code: 13) database or disk is full")

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(paths_module.shutil, "disk_usage", lambda _p: usage(2**30, 2**30 - 2**20, 2**20))
    monkeypatch.setattr(chromadb, "Client", full)


def run_python(script: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``script`` in a fresh interpreter at the repository root, its output captured: for what would take the
    test run down with it (an abort, a signal to the whole process) or needs a process of its own."""
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout,
                          cwd=Path(__file__).resolve().parents[1])


def offscreen_python_says(script: str, timeout: float = 60) -> list[str]:
    """The words ``script`` printed, run by :func:`run_python` after a Qt set-up for no screen (the environment
    and ``QApplication`` imported); it must exit 0, else its error output is the failure's message."""
    prelude = ("import os\nos.environ.setdefault('QT_QPA_PLATFORM', 'offscreen')\n"
               "from PySide6.QtWidgets import QApplication\n")
    done = run_python(prelude + script, timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


def assert_stores_agree(store: Any, collection: str) -> None:
    """The invariant a crash may leave: every manifest chunk has its vector and keyword row, and a vector
    the manifest lacks is journalled (``pending``), so the next sync removes it. Nothing else differs."""
    rows, vectors = store.chunk_ids(collection)
    journal = {r[0] for r in store._query("SELECT id FROM pending WHERE collection = ?", (collection,))}
    assert rows <= vectors, f"{len(rows - vectors)} manifest chunks have no vector"
    assert vectors - rows <= journal, f"{len(vectors - rows - journal)} vectors are neither indexed nor journalled"
    store.check_keyword_index()


def contents(store: Any, collection: str = "default") -> dict[str, list[str]]:
    """file name -> its chunk texts in order, after checking that both indexes hold exactly the same chunks
    and that no chunk of a file is missing or there twice (what a finished sync guarantees)."""
    rows, vectors = store.chunk_ids(collection)
    assert rows == vectors, "the manifest and Chroma disagree"
    store.check_keyword_index()
    by_path: dict[str, list[tuple[int, str]]] = {}
    for chunk in store.chunks(sorted(rows)).values():
        by_path.setdefault(Path(chunk.path).name, []).append((chunk.chunk_index, chunk.text))
    for name, pieces in by_path.items():
        assert sorted(i for i, _ in pieces) == list(range(len(pieces))), f"{name}: a chunk is missing or twice"
    return {name: [t for _, t in sorted(pieces)] for name, pieces in by_path.items()}


def stream_until_cancelled(engine: Any, tokens: list[int], sampling: Any, after: int,
                           max_tokens: int = 200) -> tuple[list[str], Any]:
    """Generate, setting the cancel event once ``after`` Token pieces arrived; the pieces seen and the Done."""
    import threading

    from assistant.events import Token

    cancel, seen, done = threading.Event(), [], None
    for event in engine.generate(tokens, sampling, max_tokens, cancel=cancel):
        if isinstance(event, Token):
            seen.append(event.text)
            if len(seen) == after:
                cancel.set()
        else:
            done = event
    return seen, done
