"""What the window shows keeps its promises: memory learns from a chat, watched folders re-sync, and a
changed setting applies at once. Real model, embedder, mem0 and Chroma; no CLI call anywhere."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from checks import fake_full_disk
from gui_helpers import write_settings
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.views.memory_dialog import MemoryDialog
from assistant.config import load_settings, save_settings
from assistant.paths import get_paths


def index_watched(qtbot: QtBot, window: MainWindow, folder: Path, name: str) -> None:
    window.ctl.knowledge.index([folder], name)  # what a drop or "Add folder" does after the collection dialog
    qtbot.waitUntil(lambda: not window.ctl.knowledge.indexing, timeout=120_000)
    qtbot.waitUntil(lambda: any(c.name == name and c.watched for c in window.collections_model.items()))


def chunks_of(window: MainWindow, name: str) -> int:
    return next(c.chunks for c in window.collections_model.items() if c.name == name)


@pytest.mark.slow
def test_a_chat_in_the_window_is_learned_into_memory(qtbot: QtBot, make_window, ask) -> None:
    settings = write_settings(max_tokens=16)
    settings.memory.enabled = True
    save_settings(settings, get_paths().settings_file)
    window = make_window()
    dialog = window.ctl.memory.open()
    assert isinstance(dialog, MemoryDialog)
    qtbot.waitUntil(lambda: dialog.status.text() == "Nothing remembered yet.", timeout=60_000)
    learning_seen: list[str] = []
    window.bridge.event.connect(lambda _e: learning_seen.append(window.learning.text()))
    ask(window, "Please remember this: my dog is called Biscuit.", timeout=120_000)
    first = window.ctl.chat.conversation_id
    qtbot.waitUntil(lambda: [m.text for m in dialog.model.items()] == ["User's dog is called Biscuit"],
                    timeout=180_000)
    tooltip = dialog.model.data(dialog.model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert tooltip.startswith('You said: "Please remember this: my dog is called Biscuit." (')
    assert any(text.startswith("Learning") for text in learning_seen)
    # and the status bar says what it stored, for a while (it went blank: nothing said it)
    qtbot.waitUntil(lambda: not dialog.learning.isVisible()
                    and window.learning.text() == "Remembered: User's dog is called Biscuit")
    dialog.close()

    # A new chat asks about it: the answer's prompt carried the memory, and the window says so.
    window.ctl.chat.new_chat()
    ask(window, "What's my dog called?", timeout=120_000)
    answer = window.chat_view.last("assistant")
    assert [m.text for m in answer.memories] == ["User's dog is called Biscuit"]
    assert not answer.chips_row.isHidden()  # the "1 memory used" chip

    # A memory added by hand in the manager is listed and used by the next answer.
    dialog = window.ctl.memory.open()
    add = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Add…")
    add.click()
    entry = dialog.findChild(QInputDialog)
    entry.setTextValue("  My sister lives in Oslo ")
    entry.accept()
    qtbot.waitUntil(lambda: "My sister lives in Oslo" in [m.text for m in dialog.model.items()], timeout=60_000)
    dialog.close()
    ask(window, "Where does my sister live?", timeout=120_000)
    assert "My sister lives in Oslo" in [m.text for m in window.chat_view.last("assistant").memories]

    # Deleting the chat Biscuit was learned in offers to forget it too (nothing said what became of it).
    entry = next(e for e in window.conversations_model.items() if e.conversation_id == first)
    window.sidebar.deleteRequested.emit(entry)
    qtbot.waitUntil(lambda: any(b.isVisible() for b in window.sidebar.findChildren(QMessageBox)))
    box = next(b for b in window.sidebar.findChildren(QMessageBox) if b.isVisible())
    assert box.checkBox().text() == "Also forget the 1 memory learned from it" and not box.checkBox().isChecked()
    box.checkBox().setChecked(True)
    next(b for b in box.buttons() if b.text() == "Delete").click()
    qtbot.waitUntil(lambda: first not in [e.conversation_id for e in window.conversations_model.items()])
    qtbot.waitUntil(lambda: window.status.currentMessage()
                    == f"Deleted “{entry.title}” and forgot the 1 memory learned from it.")
    assert [m.text for m in window.assistant.memory_store.list()] == ["My sister lives in Oslo"]


@pytest.mark.slow
def test_edits_in_a_watched_folder_reach_search_and_a_new_chunk_size_applies_at_once(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    folder = tmp_path / "garden"
    folder.mkdir()
    (folder / "beds.md").write_text("# Beds\n\nThe tomatoes grow in the north bed.\n")
    (folder / "tools.md").write_text("# Tools\n\n" + "\n\n".join(
        f"Tool {i}: the shed holds a rake, a spade and a hose for the garden." for i in range(40)))
    shared = tmp_path / "shared-drive"  # a linked folder: indexed through the link, and watched through it
    shared.mkdir()
    (shared / "seeds.md").write_text("# Seeds\n\nThe bean seeds are in the blue tin.\n")
    (folder / "shared").symlink_to(shared, target_is_directory=True)
    index_watched(qtbot, window, folder, "garden")
    assert "watched" in window.sidebar.collections.model().index(0, 0).data()

    # An edit, a new file and a deletion show up in search within seconds, with no re-index by the user.
    (folder / "beds.md").write_text("# Beds\n\nThe tomatoes moved to the south bed this year.\n")
    (folder / "compost.md").write_text("# Compost\n\nThe compost heap is behind the greenhouse.\n")
    qtbot.waitUntil(lambda: any("south bed" in h.text for h in window.assistant.search("tomatoes bed", ("garden",)))
                    and any(h.path.endswith("compost.md") for h in window.assistant.search("compost heap",
                                                                                             ("garden",))),
                    timeout=60_000)
    assert not any("north bed" in h.text for h in window.assistant.search("tomatoes bed", ("garden",)))

    # An edit behind the link alone (a sync of the other edits would have read it too)
    qtbot.waitUntil(lambda: window.assistant.scheduler.status().idle, timeout=60_000)
    (shared / "seeds.md").write_text("# Seeds\n\nThe bean seeds moved to the red tin.\n")
    qtbot.waitUntil(lambda: any("red tin" in h.text for h in window.assistant.search("bean seeds tin", ("garden",))),
                    timeout=60_000)

    # A smaller chunk size from the Settings dialog re-chunks the watched collection right away.
    qtbot.waitUntil(lambda: window.assistant.scheduler.status().idle, timeout=60_000)
    before = window.assistant.collections()[0].chunks
    dialog = window.ctl.model.open_settings()
    dialog.chunk_tokens.setValue(64)
    dialog.accept()
    qtbot.waitUntil(lambda: window.ctl.model.lastApplied is not None, timeout=30_000)
    assert "chunking" in " ".join(window.ctl.model.lastApplied.changes)
    assert load_settings(get_paths().settings_file).settings.knowledge.chunk_tokens == 64
    qtbot.waitUntil(lambda: chunks_of(window, "garden") > before, timeout=120_000)
    assert window.assistant.collections()[0].needs_rechunk == 0

    # The watched folder deleted: the row said "watched" and nothing else (the failed sync went to stderr)
    qtbot.waitUntil(lambda: window.assistant.scheduler.status().idle, timeout=60_000)
    (folder / "shared").unlink()
    shutil.rmtree(folder)
    qtbot.waitUntil(lambda: "its folder is gone (its passages stay searchable)" in
                    window.sidebar.collections.model().index(0, 0).data(), timeout=60_000)


@pytest.mark.slow
def test_a_folder_still_indexing_when_the_window_closes_is_finished_at_the_next_start(
        qtbot: QtBot, make_window, tmp_path: Path) -> None:
    """Closing the window a few files into a big folder left "11 files · never synced" for good: not resumed, not
    watched, nothing said. The next start finishes the run in the background and watches the folder; a run the
    user stops is left stopped, and its row says so."""
    write_settings()
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(40):
        (folder / f"note-{i:02}.md").write_text(f"# Note {i}\n\n" + f"Crane {i} lifts containers at the harbour. " * 40)
    window = make_window()
    knowledge = window.ctl.knowledge
    knowledge.index([folder], "big")
    qtbot.waitUntil(lambda: knowledge.last is not None and 0 < knowledge.last.done < 30, timeout=120_000)
    window.close()
    again = make_window()
    qtbot.waitUntil(lambda: any(c.name == "big" and c.files == 40 and c.watched and not c.unfinished
                                for c in again.assistant.collections()), timeout=120_000)
    again.ctl.knowledge.refresh()  # a read from before the run ended may show "40 files" and "not finished"
    qtbot.waitUntil(lambda: all(w in again.sidebar.collections.model().index(0, 0).data()
                                for w in ("40 files", "watched")), timeout=20_000)

    other = tmp_path / "other"
    shutil.copytree(folder, other)
    again.ctl.knowledge.index([other], "other")
    qtbot.waitUntil(lambda: again.ctl.knowledge.last is not None and again.ctl.knowledge.last.done > 0,
                    timeout=120_000)
    again.sidebar.indexing.cancel_button.click()  # the user's stop: left so, and said
    qtbot.waitUntil(lambda: not again.ctl.knowledge.indexing, timeout=60_000)
    rows = again.sidebar.collections.model()
    qtbot.waitUntil(lambda: rows.rowCount() == 2 and "stopped before the end" in rows.index(1, 0).data())
    assert again.assistant.collections()[1].unfinished == "stopped" and not again.assistant.collections()[1].watched


@pytest.mark.slow
def test_the_indexing_summary_follows_a_file_deleted_from_a_watched_folder(
        qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    """A change with nothing to embed (a deleted file) is not shown as it runs; the summary left on screen said
    "3 / 3 files" while the list said 2."""
    folder = tmp_path / "letters"
    folder.mkdir()
    for name in "abc":
        (folder / f"{name}.txt").write_text(f"Letter {name}: the parcel arrived.\n")
    index_watched(qtbot, window, folder, "letters")
    panel = window.sidebar.indexing
    assert not panel.isHidden() and panel.detail.text().startswith("3 / 3 files"), panel.detail.text()
    (folder / "a.txt").unlink()
    qtbot.waitUntil(lambda: window.collections_model.items()[0].files == 2, timeout=60_000)
    assert panel.detail.text().startswith("2 / 2 files") and "up to date" in panel.title.text(), \
        (panel.title.text(), panel.detail.text())


def test_a_background_sync_that_changed_nothing_leaves_the_indexing_summary(window: MainWindow) -> None:
    """A watched collection's first sync right after the user's run (nothing to do) replaced "is ready: 2 files
    indexed, 1 skipped." with "is up to date." (CI); one that removed a file updates the counts."""
    from assistant.events import CollectionSynced, Progress

    knowledge, panel = window.ctl.knowledge, window.sidebar.indexing
    panel.start("notes")
    panel.update_progress(Progress("index", 3, 3, "files"))
    panel.finish("“notes” is ready: 2 files indexed, 1 skipped.")
    knowledge.synced(CollectionSynced("notes", Progress("sync", 3, 3, "files", message="done")))
    assert panel.title.text() == "“notes” is ready: 2 files indexed, 1 skipped."
    knowledge.synced(CollectionSynced("notes", Progress("sync", 2, 2, "files", message="done")))
    assert panel.title.text() == "“notes” is up to date." and panel.detail.text().startswith("2 / 2 files")
    # its folder deleted: "is up to date" stayed on screen beside the row saying "its folder is gone"
    gone = "failed: None of the folders of 'notes' exist any more"
    knowledge.synced(CollectionSynced("notes", Progress("sync", 0, message=gone)))
    assert panel.title.text() == f"Updating “notes” {gone}.", panel.title.text()


def test_a_cancelled_update_says_how_many_changed_files_keep_their_old_text(window: MainWindow) -> None:
    """Cancel on "Updating …" said only "cancelled", and the list then looked up to date."""
    from assistant.events import CollectionSynced, Progress

    knowledge, panel = window.ctl.knowledge, window.sidebar.indexing
    knowledge.synced(CollectionSynced("notes", Progress("sync", 16, 60, "files", message="embedding")))
    assert not panel.isHidden() and panel.title.text() == "Updating “notes”: files changed…"
    knowledge.synced(CollectionSynced("notes", Progress("sync", 16, 60, "files", message="cancelled")))
    assert panel.title.text() == ("Updating “notes” cancelled: 44 changed files keep their old text until the "
                                  "folder changes again or Hearth starts again.")
    assert panel.detail.text() == "16 / 60 files done" and panel.cancel_button.text() == "Close"
    # a failure's sentence ends once (it ended "… (/home/ana/w).." with the core's full stop and the panel's)
    knowledge.synced(CollectionSynced("notes", Progress("sync", 1, 5, "files")))
    knowledge.synced(CollectionSynced("notes", Progress("sync", 0, message="failed: None of the folders of "
                                                        "collection 'notes' exist any more (/home/ana/w).")))
    assert panel.title.text() == ("Updating “notes” failed: None of the folders of collection 'notes' exist any "
                                  "more (/home/ana/w).")


def test_a_background_update_shows_the_file_being_read_and_the_time_left(window: MainWindow) -> None:
    """A tester read only the title ("Updating “notes”: files changed…") while a watched folder's 5 MB file was
    re-synced: the line under the bar says what a first index says, the file, its passages and the time left."""
    from assistant.events import CollectionSynced, Progress

    knowledge, panel = window.ctl.knowledge, window.sidebar.indexing
    knowledge.synced(CollectionSynced("notes", Progress("index", 20, 21, "files", message="scanning done")))
    knowledge.synced(CollectionSynced("notes", Progress("index", 20, 21, "files", message="reading", rate=6.0,
                                                        eta_s=515, item="/n/big.txt", item_cut=0.35)))
    assert panel.detail.text() == ("20 / 21 files done · 6.0 chunks/s · about 8 min 35 s left\n"
                                   "Reading big.txt (35% split into passages)"), panel.detail.text()
    knowledge.synced(CollectionSynced("notes", Progress("index", 20, 21, "files", message="reading", rate=6.0,
                                                        eta_s=515, item="/n/big.txt", item_done=160,
                                                        item_total=6610)))
    assert panel.title.text() == "Updating “notes”: files changed…"
    assert panel.detail.text().endswith("\nReading big.txt (160 of 6,610 passages embedded)"), panel.detail.text()


@pytest.mark.slow
def test_watching_can_be_switched_off_from_the_sidebar(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    folder = tmp_path / "letters"
    folder.mkdir()
    (folder / "a.txt").write_text("Dear Ana, the parcel arrived.\n")
    index_watched(qtbot, window, folder, "letters")
    info = window.collections_model.items()[0]
    window.sidebar.watchToggled.emit(info, False)
    qtbot.waitUntil(lambda: not window.collections_model.items()[0].watched)
    assert window.assistant.scheduler.status().watching == ()


def test_a_collection_unwatched_or_removed_from_a_terminal_is_shown_so(
        qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`hearth collections watch NAME off` (or `remove`) from a terminal stopped the window's watcher, but its row
    still said "watched" (or was still listed) 30 s later."""
    from assistant import scheduler
    from assistant.knowledge.store import Store

    monkeypatch.setattr(scheduler, "WATCH_CHECK_S", 0.3)
    folder = tmp_path / "letters"
    folder.mkdir()
    (folder / "a.txt").write_text("Dear Ana, the parcel arrived.\n")
    index_watched(qtbot, window, folder, "letters")
    elsewhere = Store(get_paths())  # what the terminal's command does to the index
    elsewhere.set_watch("letters", False)
    qtbot.waitUntil(lambda: not window.collections_model.items()[0].watched, timeout=15_000)
    elsewhere.set_watch("letters", True)
    qtbot.waitUntil(lambda: window.collections_model.items()[0].watched, timeout=15_000)
    assert not window.sidebar.indexing.isHidden()  # "“letters” is ready: …"
    elsewhere.drop_collection("letters")
    qtbot.waitUntil(lambda: not window.collections_model.items(), timeout=15_000)
    assert window.sidebar.indexing.isHidden()  # its summary stayed, about a collection that is gone
    # one that was not watched, removed: it stayed listed, and ticked in "Answer from", for good
    index_watched(qtbot, window, folder, "letters")
    elsewhere.set_watch("letters", False)
    qtbot.waitUntil(lambda: not window.collections_model.items()[0].watched, timeout=15_000)
    elsewhere.drop_collection("letters")
    elsewhere.close()
    qtbot.waitUntil(lambda: not window.collections_model.items(), timeout=15_000)
    assert window.composer.selected_collections() == [] and "chat only" in window.composer.sources.toolTip()


def test_a_collection_unwatched_and_watched_again_between_two_looks_is_shown_watched(
        qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Watching turned off and on again from a terminal while the window's sync thread was re-syncing (so it
    did not look in between) and the re-sync's end read the list in between: the row said "not watched" for
    good, though the folder was watched (a CI run of the test above)."""
    import threading

    from assistant import scheduler
    from assistant.knowledge.store import Store

    monkeypatch.setattr(scheduler, "WATCH_CHECK_S", 0.3)
    folder = tmp_path / "letters"
    folder.mkdir()
    (folder / "a.txt").write_text("Dear Ana, the parcel arrived.\n")
    index_watched(qtbot, window, folder, "letters")
    background, busy = window.assistant.scheduler, threading.Event()
    look = background._check_watches
    monkeypatch.setattr(background, "_check_watches", lambda: None if busy.is_set() else look())
    busy.set()  # re-syncing another collection: the sync thread does not look at the watched folders
    elsewhere = Store(get_paths())
    elsewhere.set_watch("letters", False)
    window.ctl.knowledge.refresh()  # what the end of a re-sync does
    qtbot.waitUntil(lambda: not window.collections_model.items()[0].watched)
    elsewhere.set_watch("letters", True)
    elsewhere.close()
    busy.clear()
    qtbot.waitUntil(lambda: window.collections_model.items()[0].watched, timeout=15_000)
    assert background.status().watching == ("letters",)


def test_a_collection_removed_while_its_folder_is_re_synced_is_removed(
        qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove from Hearth… while the window's watcher re-synced the collection failed with "being indexed by
    another job" (the window itself), and left the collection behind with its update stopped."""
    import time

    from PySide6.QtWidgets import QMessageBox

    folder = tmp_path / "letters"
    folder.mkdir()
    (folder / "a.txt").write_text("Dear Ana, the parcel arrived.\n")
    index_watched(qtbot, window, folder, "letters")
    embedder = window.assistant.knowledge.embedder
    embed = embedder.embed

    def slow_embed(texts):  # a folder of many files on a slow computer: the re-sync is still running
        time.sleep(1.0)
        return embed(texts)

    monkeypatch.setattr(embedder, "embed", slow_embed)
    for n in range(100):
        (folder / f"note-{n}.txt").write_text(f"Note {n}: the parcel number {n} arrived on day {n % 7}.\n")
    knowledge = window.ctl.knowledge
    qtbot.waitUntil(lambda: knowledge.syncing == "letters", timeout=30_000)
    knowledge.remove(window.collections_model.items()[0])
    box = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
    next(b for b in box.buttons() if b.text() == "Remove").click()
    qtbot.waitUntil(lambda: window.collections_model.items() == [], timeout=30_000)
    assert not [b for b in window.findChildren(QMessageBox) if b.isVisible()]  # no "being indexed" error box
    assert window.assistant.collections() == []


@pytest.mark.slow
def test_memories_exported_and_imported_from_the_memory_manager(qtbot: QtBot, window: MainWindow, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The window could not back up or bring back what Hearth remembers (only `hearth memory export` could write
    it, and nothing read it back). Import… shows its progress and can be stopped; Export… writes what it reads."""
    import json
    import uuid

    from PySide6.QtWidgets import QFileDialog

    def export_file(name: str, texts: list[str]) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps([{"id": str(uuid.uuid4()), "text": t} for t in texts] + [{"text": ""}]))
        return path

    small = export_file("laptop.json", [f"User's locker number {i} is on floor {i % 9}" for i in range(299)]
                        + ["User's bike lock code is 4312"])  # a secret is skipped, as Add… refuses it
    big = export_file("backup.json", [f"User planted tree number {i} in row {i % 7}" for i in range(1500)])
    dialog = window.ctl.memory.open()
    qtbot.waitUntil(lambda: dialog.status.text() == "Nothing remembered yet.", timeout=60_000)
    buttons = {b.text(): b for b in dialog.findChildren(QPushButton)}
    panel = dialog.transfer
    shown: list[str] = []

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(small), ""))
    buttons["Import…"].click()
    qtbot.waitUntil(lambda: panel.label.text().startswith("Imported"), timeout=120_000)
    assert panel.label.text() == ("Imported 299 memories from laptop.json; 0 already kept, 2 skipped. Skipped: "
                                  "entry 300: it looks like a lock code, and memory keeps no secrets; "
                                  "entry 301 has no text.")
    qtbot.waitUntil(lambda: dialog.status.text() == "299 memories", timeout=30_000)

    # a long import says how far it is and stops when asked, keeping what it stored
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(big), ""))
    buttons["Import…"].click()
    qtbot.waitUntil(lambda: panel.label.text().startswith("Importing backup.json: "), timeout=60_000)
    shown.append(panel.label.text())
    assert panel.cancel.isVisible() and not buttons["Import…"].isEnabled()  # one import at a time
    panel.cancel.click()
    qtbot.waitUntil(lambda: panel.label.text().startswith("Stopped: imported"), timeout=120_000)
    assert " left (importing the file again adds them)" in panel.label.text() and buttons["Import…"].isEnabled()
    assert shown[0].startswith("Importing backup.json: ") and "of 1,500 memories" in shown[0]
    stored = 299 + int(panel.label.text().split("imported ")[1].split()[0].replace(",", ""))
    assert stored < 1800
    qtbot.waitUntil(lambda: dialog.status.text() == f"{stored:,} memories", timeout=30_000)

    out = tmp_path / "saved.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    buttons["Export…"].click()
    qtbot.waitUntil(lambda: panel.label.text().startswith("Exported"), timeout=60_000)
    assert panel.label.text() == f"Exported {stored:,} memories to {out}."
    assert len(json.loads(out.read_text())) == stored
    dialog.close()


def test_the_memory_manager_on_a_full_disk_lists_the_memories_read_from_the_stores_file(
        qtbot: QtBot, make_window, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a full disk chromadb cannot open the store (it writes as it opens): the manager said only that the store
    could not be opened, while `hearth memory list` reads the memories from the file and says why."""
    from assistant.cli import main

    write_settings()
    assert main(["memory", "add", "My dog is called Biscuit."]) == 0
    fake_full_disk(monkeypatch)
    window = make_window()
    dialog = window.ctl.memory.open()
    qtbot.waitUntil(lambda: [m.text for m in dialog.model.items()] == ["My dog is called Biscuit."], timeout=30_000)
    assert "can only be read now: the disk holding it is full" in dialog.notice.text() and dialog.notice.isVisible()
    assert not [box for box in dialog.findChildren(QMessageBox) if box.isVisible()]  # no error box
    dialog.close()


def test_the_memory_manager_on_a_full_disk_tries_the_store_as_it_opens_not_at_each_key_typed(
        qtbot: QtBot, make_window, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each key typed in the search box tried to open the store again (a start of chromadb that fails on a full
    disk): once as the manager opens, then its search reads the store's file."""
    import chromadb

    from assistant.cli import main

    write_settings()
    assert main(["memory", "add", "My dog is called Biscuit."]) == 0
    fake_full_disk(monkeypatch)
    failing, tries = chromadb.Client, []
    monkeypatch.setattr(chromadb, "Client", lambda *a, **k: tries.append(1) or failing(*a, **k))
    window = make_window()
    dialog = window.ctl.memory.open()
    qtbot.waitUntil(lambda: [m.text for m in dialog.model.items()] == ["My dog is called Biscuit."], timeout=30_000)
    opened = len(tries)
    qtbot.keyClicks(dialog.search, "cat")
    qtbot.waitUntil(lambda: "Searched for the words as typed" in dialog.notice.text(), timeout=30_000)
    qtbot.waitUntil(lambda: not dialog.model.items(), timeout=30_000)
    assert opened >= 1 and len(tries) == opened
    dialog.close()
