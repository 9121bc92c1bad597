"""Dropping a folder indexes it in the background; the answer then cites the right file."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from gui_helpers import write_settings
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QInputDialog, QMessageBox
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.sources import Passage
from app.views.collection_dialog import CollectionDialog, ErrorListDialog
from app.views.memory_dialog import MemoryDialog
from assistant.chat.turn import UNSUPPORTED_NOTICE
from assistant.core import Assistant
from assistant.knowledge.store import Store
from assistant.paths import get_paths


def drop(window: MainWindow, *paths: Path) -> None:
    """A simulated drop: Qt only routes a sent QDropEvent during a real drag, so call the handler."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(400, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


@pytest.mark.slow
def test_drop_a_folder_index_it_and_get_a_source_chip(qtbot: QtBot, make_window, tmp_path: Path, ask) -> None:
    folder = tmp_path / "household"
    folder.mkdir()
    (folder / "spare-key.txt").write_text("The spare key to the house is hidden under the blue flowerpot.\n")
    (folder / "wifi.txt").write_text("The wifi password is written on the back of the router.\n")
    (folder / "garbage.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")  # a type Hearth does not read: left out, and said so
    (folder / "drafts").mkdir()  # what .gitignore names is left out too (it was indexed and cited)
    (folder / "drafts" / "old-key.txt").write_text("The spare key used to be under the doormat.\n")
    (folder / ".gitignore").write_text("drafts/\n")
    write_settings(max_tokens=32)
    window = make_window()
    drop(window, folder)
    dialog = window.findChild(CollectionDialog)
    assert dialog is not None and dialog.isVisible() and dialog.name.currentText() == "household"
    dialog.accept()
    panel = window.sidebar.indexing
    assert panel.isVisible()
    qtbot.waitUntil(lambda: not window.ctl.knowledge.indexing, timeout=120_000)
    assert panel.bar.isHidden() and "ready" in panel.title.text()  # a completed run: its sentence, no bar
    # the counts `hearth index` prints: the garbage PDF is skipped, not counted as indexed (it said "3 files")
    qtbot.waitUntil(lambda: panel.title.text() == "“household” is ready: 2 files indexed, 1 skipped (2 added). "
                            "Left out: 1 file of types Hearth does not read; 1 folder that .gitignore names.")
    assert panel.title.toolTip() == "1 file of types Hearth does not read (.jpg); 1 folder that .gitignore names " \
                                    "(drafts/)"
    assert panel.errors_button.isVisible() and window.ctl.knowledge.errors[0][0].endswith("garbage.pdf")
    qtbot.waitUntil(lambda: window.composer.selected_collections() == ["household"])
    assert [c.name for c in window.collections_model.items()] == ["household"]

    ask(window, "Where is the spare key hidden?", timeout=120_000)
    answer = window.chat_view.last("assistant")
    assert any(p.path.endswith("spare-key.txt") for p in answer.passages)
    chips = [w.text() for w in answer.chips_row.findChildren(type(window.composer.send))]
    assert any("spare-key.txt" in text for text in chips)
    # Every retrieved passage gets a chip; the one the answer cites is highlighted, the others dimmed.
    cited = {Path(p.path).name: p.cited for p in answer.passages}
    assert cited["spare-key.txt"] is True and cited.get("wifi.txt") in (None, False)
    buttons = answer.chips_row.findChildren(type(window.composer.send))
    states = {w.text().split()[-1]: w.property("cited") for w in buttons}
    assert states["spare-key.txt"] == "true" and states.get("wifi.txt") in (None, "false")
    key = next(p for p in answer.passages if p.path.endswith("spare-key.txt"))
    answer.sourceRequested.emit(key)
    assert window.source_panel.isVisible() and "flowerpot" in window.source_panel.text.toPlainText()
    first = answer
    assert UNSUPPORTED_NOTICE not in answer.notices.text()  # it restates its source: nothing to warn about

    # an answer the folder cannot hold restates none of its passages: the window says so under it
    ask(window, "What is the capital of Peru?", timeout=120_000)
    answer = window.chat_view.last("assistant")
    assert answer.passages and not any(p.cited for p in answer.passages)
    assert answer.notices.isVisible() and UNSUPPORTED_NOTICE in answer.notices.text().split("\n")

    # the same folder dropped again: the summary says the run found nothing new (it read as the first run's)
    drop(window, folder)
    dialog = [d for d in window.findChildren(CollectionDialog) if d.isVisible()][-1]
    assert dialog.name.currentText() == "household"
    dialog.accept()
    qtbot.waitUntil(lambda: panel.title.text() == "“household” is ready: 2 files indexed, 1 skipped (nothing "
                    "changed). Left out: 1 file of types Hearth does not read; 1 folder that .gitignore names.",
                    timeout=60_000)

    # the cited file renamed, and the folder synced: the first answer's chip opens it under its new name (it said
    # only "File not found", though the index knew where the passage was)
    (folder / "spare-key.txt").rename(folder / "house-keys.txt")
    window.ctl.knowledge.index([folder], "household")
    qtbot.waitUntil(lambda: not window.ctl.knowledge.indexing, timeout=60_000)
    # the watch's own re-sync of the rename can hold the collection, and the window's run end without a file read:
    # the rename is in the index once one of them has synced it (the lookup, now prompt, asked before that)
    qtbot.waitUntil(lambda: window.assistant.moved_source(key.path, key.text) is not None, timeout=30_000)
    first.sourceRequested.emit(key)
    source = window.source_panel
    qtbot.waitUntil(lambda: source.open_button.isEnabled(), timeout=10_000)
    assert source.passage.path == str(folder / "house-keys.txt") and "Moved or renamed" in source.where.text()
    assert source.open_button.text() == "Open file" and source.passage.uri == (folder / "house-keys.txt").as_uri()


@pytest.mark.slow
def test_a_moved_files_chip_is_answered_while_the_start_up_opens_chroma(qtbot: QtBot, make_window, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """After a restart a renamed file's chip said "Looking for it…" for 10 to 20 s: the lookup (one read of the
    manifest) queued on the io lane behind the start-up's listing of the collections, which opens Chroma (its
    import waits for the memory store's), and the manifest's lock was held while Chroma opened. Here Chroma's
    opening is held up until the end: the chip's panel still names the file's new place."""
    folder = tmp_path / "household"
    folder.mkdir()
    (folder / "spare-key.txt").write_text("The spare key to the house is hidden under the blue flowerpot.\n")
    write_settings()
    assistant = Assistant.open()
    try:
        list(assistant.index([folder], "household"))
        cited = Passage.of(assistant.search("spare key", ("household",), mode="keyword")[0])
        (folder / "spare-key.txt").rename(folder / "house-keys.txt")
        list(assistant.index([folder], "household"))  # synced since the answer
    finally:
        assistant.close()

    opening, go_on = threading.Event(), threading.Event()
    open_local = Store._open_local

    def slow_open(store: Store):  # the start-up's opening of Chroma, held up
        opening.set()
        go_on.wait(60)
        return open_local(store)

    monkeypatch.setattr(Store, "_open_local", slow_open)
    try:
        window = make_window()  # the restart
        qtbot.waitUntil(opening.is_set, timeout=30_000)
        panel = window.source_panel
        panel.show_source(cited, [])  # what a click on the answer's chip does
        assert panel.open_button.text() == "Looking for it…"
        qtbot.waitUntil(panel.open_button.isEnabled, timeout=5_000)
        assert panel.passage.path == str(folder / "house-keys.txt") and "Moved or renamed" in panel.where.text()
        assert not go_on.is_set()  # answered while Chroma was still opening
    finally:
        go_on.set()


def test_a_folder_name_with_accents_or_another_script_gets_a_usable_collection_name(window: MainWindow,
                                                                                     tmp_path: Path) -> None:
    """Dropping 'Notizen für München' suggested 'notizen-für-münchen', which collections cannot be called, and
    the run failed after the user confirmed ("Indexing failed"); a typed name is now checked as it is typed."""
    long = "Meine sehr lange Projektnotizen für das Jahresabschlussprojekt 2024 ÄÖÜ"  # cut at a word's end,
    # not to "…-jahresabschlussprojekt-2", and shown whole in the box
    for name, suggested in (("Notizen für München", "notizen-fur-munchen"), ("заметки", "zametki"),
                            ("Café  Notes!", "cafe-notes"),
                            (long, "meine-sehr-lange-projektnotizen-fur-das-jahresabschlussprojekt")):
        folder = tmp_path / name
        folder.mkdir()
        drop(window, folder)
        dialog = window.findChild(CollectionDialog)
        assert dialog.name.currentText() == suggested and dialog.ok.isEnabled() and dialog.problem.isHidden()
        assert dialog.name.lineEdit().fontMetrics().horizontalAdvance(suggested) < dialog.name.lineEdit().width()
        dialog.name.setEditText("Заметки")
        assert not dialog.ok.isEnabled() and "unaccented Latin letters" in dialog.problem.text()
        dialog.name.setEditText("notes-2")
        assert dialog.ok.isEnabled() and dialog.problem.isHidden()
        dialog.reject()
        dialog.setParent(None)  # the next drop's dialog is the window's only one


def test_a_folder_dropped_next_to_other_collections_is_offered_its_own(window: MainWindow, tmp_path: Path) -> None:
    """With collections already there, the dialog offered the first of them: "Add and index" merged a new folder
    into an unrelated collection. The folder's own name comes first; an existing one is picked from the list."""
    def offered(folder: Path, collections: list[str]) -> str:
        folder.mkdir()
        dialog = CollectionDialog([folder], collections, window.assistant.collection_name_problem, window)
        try:
            return dialog.name.currentText()
        finally:
            dialog.reject()
            dialog.setParent(None)

    assert offered(tmp_path / "Recipes", ["household", "recipes"]) == "recipes"
    assert offered(tmp_path / "Taxes 2025", ["household"]) == "taxes-2025"
    assert offered(tmp_path / "заметки", ["household"]) == "zametki"  # it was "household": Enter merged into it
    assert offered(tmp_path / "📁", ["household"]) == "file_folder"  # anyascii names emoji too
    assert offered(tmp_path / "★★", ["household"]) == ""  # nothing left: "default", not an unrelated one


def test_a_subfolder_of_an_indexed_folder_is_offered_the_collection_holding_it(window: MainWindow,
                                                                               tmp_path: Path) -> None:
    """Dropping a subfolder of an indexed folder offered a new collection named after it, and "Add and index"
    made a second copy of its files without a word: every search of both found its passages twice."""
    from assistant.knowledge import CollectionInfo

    (tmp_path / "notes" / "trips").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    listed = CollectionInfo("notes", 3, 9, None, 0, "minilm", False, sources=(str(tmp_path / "notes"),))
    window.collections_model.set_items([listed])
    try:
        drop(window, tmp_path / "notes" / "trips")
        dialog = window.findChild(CollectionDialog)
        assert dialog.name.currentText() == "notes" and not dialog.overlap.isVisibleTo(dialog)  # one copy: no note
        dialog.name.setEditText("trips")  # another name: the second copy it makes is said as it is typed
        assert dialog.overlap.isVisibleTo(dialog)
        assert dialog.overlap.text() == (f"trips is already in collection “notes”, indexed from {tmp_path / 'notes'}."
                                         " Adding it to “trips” makes a second copy of its files, found twice when "
                                         "both are searched; adding it to “notes” keeps one.")
        dialog.name.setEditText("notes")
        assert not dialog.overlap.isVisibleTo(dialog)
        dialog.reject()
        dialog.setParent(None)
        drop(window, tmp_path / "work")  # a folder no collection holds: its own name, no note
        dialog = window.findChild(CollectionDialog)
        assert dialog.name.currentText() == "work" and not dialog.overlap.isVisibleTo(dialog)
        dialog.reject()
        dialog.setParent(None)
        # the parent of an indexed folder gets its own name, and the note says why not the other's: it offered
        # "trips", and "Add and index" put all of the notes into the collection of one trip, unsaid; when the
        # subfolder's collection has the folder's own name, that it grows is said
        held = f"notes holds {tmp_path / 'notes' / 'trips'}, already indexed in collection "
        for name, note in (("trips", "“trips”. Adding it to “notes” makes a second copy of those files, found twice "
                                     "when both are searched; adding it to “trips” keeps one."),
                           ("notes", "“notes”. Adding it to “notes” puts the rest of notes in that collection too.")):
            window.collections_model.set_items([CollectionInfo(name, 1, 2, None, 0, "minilm", False,
                                                               sources=(str(tmp_path / "notes" / "trips"),))])
            drop(window, tmp_path / "notes")
            dialog = window.findChild(CollectionDialog)
            assert dialog.name.currentText() == "notes" and dialog.overlap.isVisibleTo(dialog)
            assert dialog.overlap.text() == held + note
            dialog.reject()
            dialog.setParent(None)
    finally:
        window.collections_model.set_items([])


def test_a_stopped_collections_own_folder_added_again_is_not_said_to_be_a_second_copy(window: MainWindow,
                                                                                       tmp_path: Path) -> None:
    """A stopped collection's row says "add its folder or file again to finish"; the dialog for that folder said it was
    "already in collection “med12”… Adding it to “med12” keeps one copy of its files; another collection holds a
    second": there was no other collection."""
    from assistant.knowledge import CollectionInfo

    (tmp_path / "med12").mkdir()
    (tmp_path / "med12" / ".secret").mkdir()
    stopped = CollectionInfo("med12", 11, 40, None, 0, "minilm", False, sources=(str(tmp_path / "med12"),),
                             unfinished="stopped")
    window.collections_model.set_items([stopped])
    try:
        drop(window, tmp_path / "med12")
        dialog = window.findChild(CollectionDialog)
        assert dialog.name.currentText() == "med12" and not dialog.overlap.isVisibleTo(dialog)
        dialog.reject()
        dialog.setParent(None)
        drop(window, tmp_path / "med12" / ".secret")  # a hidden folder the collection's scan skips: its own name
        dialog = window.findChild(CollectionDialog)
        assert dialog.name.currentText() == "secret" and not dialog.overlap.isVisibleTo(dialog)
        dialog.reject()
        dialog.setParent(None)
    finally:
        window.collections_model.set_items([])


@pytest.mark.slow
def test_skipped_files_stay_listed_after_indexing(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "notes.txt").write_text("The boiler service is due in March.\n")
    (folder / "fake.txt").write_bytes(bytes(range(256)) * 4)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj garbage that is not a pdf at all")
    window.ctl.knowledge.index([folder], "papers")
    qtbot.waitUntil(lambda: not window.ctl.knowledge.indexing, timeout=120_000)
    view = window.sidebar.collections
    qtbot.waitUntil(lambda: view.model().rowCount() == 1 and "2 skipped" in view.model().index(0, 0).data())
    index = view.model().index(0, 0)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())
    qtbot.waitUntil(lambda: window.findChild(ErrorListDialog) is not None)
    listed = window.findChild(ErrorListDialog).text.toPlainText()
    assert f"{folder / 'fake.txt'}\n    binary file (not text)" in listed
    assert f"{folder / 'broken.pdf'}\n    cannot be read as PDF" in listed

    # An empty folder made an empty collection ("ready: 0 files indexed") and ticked it: refused, and said.
    empty = tmp_path / "empty"
    empty.mkdir()
    window.ctl.knowledge.index([empty], "empty")
    qtbot.waitUntil(lambda: not window.ctl.knowledge.indexing, timeout=60_000)
    qtbot.waitUntil(lambda: any(f"{empty} holds no files" in box.text()
                                for box in window.findChildren(QMessageBox, "ErrorDialog")))
    assert [c.name for c in window.assistant.collections()] == ["papers"]


def test_a_new_collection_is_listed_and_searchable_while_its_first_run_goes_on(qtbot: QtBot, window: MainWindow,
                                                                              tmp_path: Path) -> None:
    """The list had no row for a collection until its first run ended (minutes for a large folder): nothing said
    it was coming, and what was indexed so far could not be ticked. The run is held after its first batch."""
    folder = tmp_path / "manuals"
    folder.mkdir()
    for n in range(6):
        (folder / f"m{n}.txt").write_text(f"Manual {n}: the filter of unit {n} is cleaned every {n + 2} weeks.\n")
    real, gate, reached = window.assistant.index, threading.Event(), threading.Event()

    def held(*args, **kwargs):
        for event in real(*args, **kwargs):
            yield event
            if event.done:
                reached.set()
                gate.wait(60)

    window.assistant.index = held
    window.ctl.knowledge.index([folder], "manuals")
    view = window.sidebar.collections
    qtbot.waitUntil(lambda: view.model().rowCount() == 1, timeout=60_000)
    row = view.model().index(0, 0).data()
    assert row.startswith("manuals\n") and "being indexed now" in row and window.ctl.knowledge.indexing, row
    assert "manuals" in [c.name for c in window.assistant.collections()]
    assert reached.wait(60)  # (the row comes with the scan: searched then, nothing was written yet)
    hits = window.assistant.search("filter of unit", collections=["manuals"])
    assert hits and "is being indexed now" in hits.unfinished  # not sent to a command that would find it busy
    gate.set()
    qtbot.waitUntil(lambda: not window.ctl.knowledge.indexing, timeout=60_000)
    qtbot.waitUntil(lambda: "being indexed" not in view.model().index(0, 0).data())
    assert view.model().index(0, 0).data().startswith("manuals\n6 files")


def test_indexing_progress_cancel_and_chat_while_indexing(qtbot: QtBot, window: MainWindow, tmp_path: Path,
                                                          ask) -> None:
    """The progress card against a scripted core job: files done/total, ETA, errors, cancel."""
    from assistant.events import Progress

    started, seen = [], []

    def fake_index(paths, collection, cancel, watch=None):
        """Runs until cancelled (at most two minutes), however slowly the answer below comes."""
        started.append((paths, collection))
        for step in range(12_000):
            if cancel.is_set():  # the batch being embedded ends first (seconds for long passages), then it stops
                yield Progress("index", min(step, 998), 999, "files", rate=3.0, eta_s=70.0, message="reading",
                               item="/x/big.txt", item_done=64, item_total=403)
                yield Progress("index", min(step, 998), 999, "files", eta_s=5.0, message="cancelled")
                return
            yield Progress("index", min(step, 998), 999, "files", rate=3.0, eta_s=75.0,
                           errors=(("/x/bad.pdf", "broken"),))
            cancel.wait(0.01)

    window.assistant.index = fake_index
    window.ctl.knowledge.index([tmp_path], "notes")
    panel = window.sidebar.indexing
    qtbot.waitUntil(lambda: panel.bar.value() > 5, timeout=60_000)  # behind the start-up's torch import
    seen.append(panel.detail.text())
    assert "/ 999 files" in seen[0] and "1 min 15 s left" in seen[0] and panel.errors_button.isVisible()
    ask(window, "Hello!")  # chat keeps working while indexing runs
    assert window.chat_view.last("assistant").text
    panel.cancel_button.click()
    # said at once: for the 10-14 s a batch of long passages took to finish, only Cancel greyed said anything
    assert panel.title.text().startswith("Stopping “notes”") and not panel.cancel_button.isEnabled()
    assert "left" not in panel.detail.text()
    qtbot.waitUntil(lambda: "big.txt" in panel.detail.text() or not window.ctl.knowledge.indexing)
    assert "left" not in panel.detail.text()  # the batch's last event gives no time left back either
    qtbot.waitUntil(lambda: not window.ctl.knowledge.indexing)
    assert "Stopped" in panel.title.text() and started == [([tmp_path], "notes")]
    # the Close button stayed greyed (the panel could not be closed) beside a stale "5 s left" and a full bar
    assert panel.cancel_button.isEnabled() and panel.cancel_button.text() == "Close"
    assert "left" not in panel.detail.text() and panel.bar.value() < panel.bar.maximum()
    panel.cancel_button.click()
    assert not panel.isVisible()




class FakeMemory:
    """Stands in for the memory service: the test is about the dialog's wiring, not about recall."""

    def __init__(self) -> None:
        self.items = {"m1": SimpleNamespace(id="m1", text="Likes green tea"),
                      "m2": SimpleNamespace(id="m2", text="Lives in Lyon")}

    def list(self, include_superseded: bool = False) -> list:
        return list(self.items.values())

    def find(self, text: str, k: int = 5) -> list:
        return [m for m in self.items.values() if text.lower() in m.text.lower()]

    def add_new(self, text: str) -> tuple[SimpleNamespace, bool]:
        kept = next((m for m in self.items.values() if m.text.lower() == text.lower()), None)
        if kept is not None:
            return kept, False
        item = self.items[f"m{len(self.items) + 1}"] = SimpleNamespace(id=f"m{len(self.items) + 1}", text=text)
        return item, True

    def edit(self, memory_id: str, text: str) -> None:
        self.items[memory_id] = SimpleNamespace(id=memory_id, text=text)

    def forget(self, memory_id: str) -> None:
        from assistant.memory.errors import MemoryNotFoundError

        if self.items.pop(memory_id, None) is None:
            raise MemoryNotFoundError(f"There is no memory with id {memory_id}.")

    def clear(self) -> None:
        self.items.clear()

    def close(self) -> None:
        self.items = {}


def open_memory_manager(qtbot: QtBot, memory: FakeMemory, enabled: bool) -> tuple[MainWindow, MemoryDialog]:
    """A window over ``memory`` (memory ``enabled`` in its settings, or off), and its memory manager open."""
    settings = write_settings()
    settings.memory.enabled = enabled
    window = MainWindow(opener=lambda: Assistant(get_paths(), settings, memory=memory))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.ready, timeout=30_000):
        window.show()
    return window, window.ctl.memory.open()


def test_with_memory_switched_off_the_manager_still_lists_and_forgets_what_was_kept(qtbot: QtBot) -> None:
    """The manager said only "Memory is not enabled": what Hearth had kept could not be seen or forgotten."""
    window, dialog = open_memory_manager(qtbot, FakeMemory(), enabled=False)
    assert isinstance(dialog, MemoryDialog) and dialog.off_note.isVisible()
    assert dialog.off_note.text().startswith("Memory is off (Settings → Memory)")
    qtbot.waitUntil(lambda: [m.text for m in dialog.model.items()] == ["Likes green tea", "Lives in Lyon"])
    # Edit… and Forget act on the memory chosen in the list: with none chosen they did nothing when clicked
    assert not any(button.isEnabled() for button in dialog.for_selected)
    dialog.list.setCurrentIndex(dialog.model.index(0))
    assert all(button.isEnabled() for button in dialog.for_selected)
    qtbot.mouseClick(dialog.for_selected[1], Qt.MouseButton.LeftButton)  # Forget, asked first (it was at once)
    qtbot.waitUntil(lambda: any(b.isVisible() for b in dialog.findChildren(QMessageBox)))
    box = next(b for b in dialog.findChildren(QMessageBox) if b.isVisible())
    assert box.text() == "Hearth will forget “Likes green tea”. This cannot be undone."
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)  # Enter keeps it
    next(b for b in box.buttons() if b.text() == "Forget").click()
    qtbot.waitUntil(lambda: [m.text for m in dialog.model.items()] == ["Lives in Lyon"])
    assert not any(button.isEnabled() for button in dialog.for_selected)  # the list was read again
    dialog.close()
    window.close()


def test_the_memory_manager_follows_changes_made_elsewhere(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    """`hearth memory add/forget/clear` in a terminal never reached an open manager, and Forget on a memory
    forgotten there said "There is no memory with id …" and left it listed."""
    from app.controllers import memory as memory_controller

    monkeypatch.setattr(memory_controller, "REREAD_S", 0.2)
    memory = FakeMemory()
    window, dialog = open_memory_manager(qtbot, memory, enabled=False)
    texts = lambda: [m.text for m in dialog.model.items()]  # noqa: E731
    qtbot.waitUntil(lambda: texts() == ["Likes green tea", "Lives in Lyon"])
    dialog.list.setCurrentIndex(dialog.model.index(1))
    memory.items["m3"] = SimpleNamespace(id="m3", text="Plays the cello")  # what another process does
    qtbot.waitUntil(lambda: texts() == ["Likes green tea", "Lives in Lyon", "Plays the cello"], timeout=5_000)
    qtbot.wait(500)  # read again and again, unchanged: the row chosen stays chosen
    assert dialog.list.currentIndex().row() == 1
    stale = dialog.model.item(0)
    del memory.items["m1"]
    window.ctl.memory._reread.stop()  # Forget on the row before the list is read again
    dialog.forgetRequested.emit(stale)
    qtbot.waitUntil(lambda: texts() == ["Lives in Lyon", "Plays the cello"], timeout=5_000)
    dialog.close()
    window.close()


def test_memory_manager_lists_searches_edits_and_forgets(qtbot: QtBot, chat_model_path: Path) -> None:
    memory = FakeMemory()
    window, dialog = open_memory_manager(qtbot, memory, enabled=True)
    texts = lambda: [m.text for m in dialog.model.items()]  # noqa: E731
    qtbot.waitUntil(lambda: texts() == ["Likes green tea", "Lives in Lyon"])
    dialog.search.setText("lyon")
    qtbot.waitUntil(lambda: texts() == ["Lives in Lyon"])
    assert dialog.status.text() == "1 memory matches “lyon”"
    dialog.search.setText("xylophone")  # it said "Nothing remembered yet." with two memories kept
    qtbot.waitUntil(lambda: dialog.status.text() == "No memory matches “xylophone”.")
    dialog.search.setText("lyon")
    qtbot.waitUntil(lambda: texts() == ["Lives in Lyon"])
    # a fact kept already, added again: said (Add… closed without a word, as if a second memory had been made)
    dialog.addRequested.emit("likes green tea")
    qtbot.waitUntil(dialog.notice.isVisible)
    assert dialog.notice.text() == "Already remembered: “Likes green tea”. Nothing was added."
    assert len(memory.items) == 2
    dialog.editRequested.emit(dialog.model.item(0), "Lives in Paris")
    assert dialog.notice.isHidden()  # the next change has its own outcome
    qtbot.waitUntil(lambda: memory.items["m2"].text == "Lives in Paris")
    dialog.search.clear()
    qtbot.waitUntil(lambda: len(texts()) == 2)
    # from the keyboard, in the list: Enter or F2 edits, Delete forgets, each as its button does (they did nothing)
    dialog.list.setCurrentIndex(dialog.model.index(0))
    for key in (Qt.Key.Key_Return, Qt.Key.Key_F2):
        dialog.activateWindow()  # (offscreen, a dialog closed over it leaves it inactive)
        qtbot.waitUntil(dialog.isActiveWindow)
        dialog.list.setFocus()
        qtbot.keyClick(dialog.list, key)
        prompt = dialog.findChild(QInputDialog)
        assert prompt is not None and prompt.isVisible() and prompt.textValue() == "Likes green tea"
        prompt.reject()
        qtbot.waitUntil(lambda: dialog.findChild(QInputDialog) is None)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    dialog.list.setFocus()
    qtbot.keyClick(dialog.list, Qt.Key.Key_Delete)
    asked = dialog.findChild(QMessageBox)
    assert asked is not None and asked.text() == "Hearth will forget “Likes green tea”. This cannot be undone."
    next(b for b in asked.buttons() if b.text() == "Forget").click()
    qtbot.waitUntil(lambda: texts() == ["Lives in Paris"])
    dialog.clearRequested.emit()
    qtbot.waitUntil(lambda: texts() == [] and "Nothing remembered" in dialog.status.text())
    window.close()
