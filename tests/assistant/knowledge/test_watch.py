"""A watched folder reports a burst of changes once, after it goes quiet (real watchdog observer)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from assistant.knowledge.watch import FolderWatcher


def test_a_burst_of_changes_is_reported_once_after_the_debounce(tmp_path: Path) -> None:
    root = tmp_path / "watched"
    (root / ".git").mkdir(parents=True)
    calls: list[float] = []
    changed = threading.Event()
    watcher = FolderWatcher([root], lambda: (calls.append(time.monotonic()), changed.set()), debounce_s=0.4).start()
    try:
        (root / ".git" / "index").write_text("ignored: inside a folder a sync skips")
        time.sleep(0.8)
        assert calls == []
        started = time.monotonic()
        for i in range(5):  # a burst: one call after it, not five
            (root / "note.txt").write_text(f"Draft {i}.\n")
            time.sleep(0.05)
        assert changed.wait(10)
        time.sleep(0.8)
        assert len(calls) == 1 and calls[0] - started >= 0.4
    finally:
        watcher.stop()


def test_a_folder_behind_a_link_is_watched_too(tmp_path: Path) -> None:
    """A sync follows a linked folder, so its edits must wake the watcher (watchdog alone does not follow links);
    a link made while watching counts as well."""
    elsewhere, later, root = tmp_path / "other-disk", tmp_path / "later", tmp_path / "watched"
    for folder in (elsewhere / ".git", later, root):
        folder.mkdir(parents=True)
    (root / "linked").symlink_to(elsewhere, target_is_directory=True)
    changed = threading.Event()
    watcher = FolderWatcher([root], changed.set, debounce_s=0.2).start()
    try:
        (elsewhere / "note.txt").write_text("Edited behind the link.\n")
        assert changed.wait(10)
        changed.clear()
        (root / "later").symlink_to(later, target_is_directory=True)
        assert changed.wait(10)  # the new link itself
        time.sleep(0.5)
        changed.clear()
        (later / "note.txt").write_text("Edited behind the new link.\n")
        assert changed.wait(10)
        changed.clear()
        (elsewhere / ".git" / "index").write_text("ignored")
        time.sleep(0.6)
        assert not changed.is_set()  # a hidden folder behind a link is skipped like one in the folder
    finally:
        watcher.stop()


def test_a_hidden_folder_watched_beside_its_parent_wakes_the_watcher(tmp_path: Path) -> None:
    """A hidden folder indexed on its own into its parent's collection is one of its watched folders: its edits
    were ignored as the parent's hidden ones, though a sync reads it."""
    root = tmp_path / "watched"
    for folder in (root / ".secret", root / ".git"):
        folder.mkdir(parents=True)
    changed = threading.Event()
    watcher = FolderWatcher([root, root / ".secret"], changed.set, debounce_s=0.2).start()
    try:
        (root / ".git" / "index").write_text("ignored: inside a folder a sync skips")
        time.sleep(0.6)
        assert not changed.is_set()
        (root / ".secret" / "note.txt").write_text("Edited in the hidden folder.\n")
        assert changed.wait(10)
    finally:
        watcher.stop()


def test_writes_into_what_gitignore_names_wake_nothing(tmp_path: Path) -> None:
    """A build writing into an ignored build/ started a sync for each file it wrote (a sync leaves them out)."""
    root = tmp_path / "watched"
    for folder in (".git", "build/obj", "src"):
        (root / folder).mkdir(parents=True)
    (root / ".gitignore").write_text("build/\n*.log\n")
    changed = threading.Event()
    watcher = FolderWatcher([root], changed.set, debounce_s=0.2).start()
    try:
        for i in range(3):
            (root / "build" / "obj" / f"part{i}.o.txt").write_text("built")
            (root / "src" / f"run{i}.log").write_text("logged")
        time.sleep(0.8)
        assert not changed.is_set()
        (root / "src" / "main.txt").write_text("A source file.\n")
        assert changed.wait(10)
        time.sleep(0.5)
        changed.clear()
        (root / ".gitignore").write_text("build/\n")  # the logs come in: a change to sync
        assert changed.wait(10)
        time.sleep(0.5)
        changed.clear()
        (root / "src" / ".main.txt.swp").write_text("Saved as an editor saves.\n")
        (root / "src" / ".main.txt.swp").replace(root / "src" / "main.txt")  # a hidden file moved over it
        assert changed.wait(10)
    finally:
        watcher.stop()


def test_stop_waits_for_the_change_being_handled_and_none_runs_after(tmp_path: Path) -> None:
    """The settings watcher's handler can be loading a model; `hearth serve` stopped meanwhile went on to exit
    and crashed under it (SIGSEGV in llama.cpp's log callback, 4 runs in 10 of the Ctrl+C test)."""
    started, ended = threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        time.sleep(0.5)
        ended.set()

    watcher = FolderWatcher([tmp_path], slow, debounce_s=0.05).start()
    (tmp_path / "a.txt").write_text("one")
    assert started.wait(10)
    (tmp_path / "a.txt").write_text("two")  # a second change while the first is handled
    time.sleep(0.1)
    watcher.stop()
    assert ended.is_set()  # stop returned only once the handler had
    started.clear()
    time.sleep(0.3)
    assert not started.is_set()  # the second change's timer never ran its handler after stop


def test_a_watched_folder_deleted_and_made_again_is_lost_to_its_watch(tmp_path: Path) -> None:
    """The watch of a folder deleted and made again under its name (often with the same inode number) ends with
    the folder: the new one's files wake nothing. The watcher says it is lost, so the scheduler watches anew."""
    import shutil

    root = tmp_path / "watched"
    root.mkdir()
    changed = threading.Event()
    watcher = FolderWatcher([root], changed.set, debounce_s=0.2).start()
    try:
        time.sleep(0.3)
        assert not watcher.lost
        shutil.rmtree(root)
        root.mkdir()
        assert changed.wait(10) and watcher.lost
        time.sleep(0.5)
        changed.clear()
        (root / "note.txt").write_text("Written in the folder made again.\n")
        assert not changed.wait(1.0)  # why the watcher must be replaced
    finally:
        watcher.stop()


def test_the_file_a_link_leads_to_is_watched_too(tmp_path: Path) -> None:
    """``notes/linked.md -> elsewhere/ext.md``: a sync reads ext.md through the link, but editing it woke nothing
    while Hearth ran. Only the linked file counts in its folder: a neighbour there is not indexed."""
    elsewhere, root = tmp_path / "elsewhere", tmp_path / "notes"
    for folder in (elsewhere, root):
        folder.mkdir()
    (elsewhere / "ext.md").write_text("Outside, first.\n")
    (elsewhere / "later.md").write_text("Linked while watching.\n")
    (root / "linked.md").symlink_to(elsewhere / "ext.md")
    changed = threading.Event()
    watcher = FolderWatcher([root], changed.set, debounce_s=0.2).start()
    try:
        (elsewhere / "neighbour.md").write_text("Not linked: not indexed.\n")
        time.sleep(0.6)
        assert not changed.is_set()
        with (elsewhere / "ext.md").open("a") as f:
            f.write("Edited where the link leads.\n")
        assert changed.wait(10)
        (root / "later.md").symlink_to(elsewhere / "later.md")
        time.sleep(0.6)
        changed.clear()
        (elsewhere / "later.md").write_text("Edited behind the new link.\n")
        assert changed.wait(10)
    finally:
        watcher.stop()
