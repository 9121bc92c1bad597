"""The plain parts of the shell: Qt list models (qtmodeltester), Markdown rendering, the composer."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

from gui_helpers import fill_status_bar, themed
from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QCheckBox, QSplitter, QToolButton, QWidget
from pytestqt.qtbot import QtBot

from app.controllers.conversations import Entry, conversation_model, entries_from_hits
from app.controllers.knowledge import collection_status
from app.markdown import PART, TABLE, render
from app.qt_models import ItemRole, ListModel
from app.sources import Passage
from app.theme import DARK, LIGHT, Theme
from app.views.sidebar import Sidebar
from assistant.chat.history import History
from assistant.events import Progress

THEME = Theme("light", LIGHT, 11)


def test_list_model_passes_the_model_tester(qtmodeltester) -> None:
    model = conversation_model()
    model.set_items([Entry("a", "First", "just now"), Entry("b", "Second", "1 h ago")])
    qtmodeltester.check(model, force_py=True)
    assert model.index(1, 0).data(ItemRole) == Entry("b", "Second", "1 h ago")
    model.set_items([])
    qtmodeltester.check(model, force_py=True)


def test_search_hits_become_one_row_per_conversation(tmp_path) -> None:
    """The search the sidebar runs (and ``hearth history search``): a chat whose title and messages all match
    is one row, its best hit (the title), without the snippet's bold markers."""
    with History(tmp_path / "history.sqlite3") as history:
        cats = history.create_conversation("Cats")
        history.add_message(cats.id, "user", "about cats")
        more = history.add_message(cats.id, "assistant", "more cats")
        hits = history.search("cats", per_conversation=True)
        assert len(history.search("cats")) == 3
        dogs = history.create_conversation("Walks")
        said = history.add_message(dogs.id, "user", "the dogs like **long** walks")
        dog_hits = history.search("dogs", per_conversation=True)
    # a hit on the title says so: the row showed the title twice ("Cats / Cats")
    # (and it opens the chat at the best message that matches too, the newer of a tie, not at its newest)
    assert entries_from_hits(hits) == [Entry(cats.id, "Cats", "The title matches.", more.id)]
    assert entries_from_hits(dog_hits) == [Entry(dogs.id, "Walks", "the dogs like long walks", said.id)]


def test_markdown_code_blocks_citations_and_escaping() -> None:
    out = render("Use `x` [2].\n\n```python\nprint('<hi>')\n```\n<script>alert(1)</script>", THEME)
    assert out.code_blocks == ("print('<hi>')",)
    assert 'href="copy:0"' in out.html and 'href="cite:2"' in out.html
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert render("```\nunclosed while streaming", THEME).code_blocks == ("unclosed while streaming",)
    lone = render("The answer is 4.\n```", THEME)  # a stray fence drew an empty block with a Copy link
    assert lone.code_blocks == () and "copy:" not in lone.html


def test_a_long_pasted_question_shows_its_start_and_copies_whole(qtbot: QtBot) -> None:
    """Laying out a 38,000-character question held the GUI thread for 0.3-1.4 s, at sending and at every opening."""
    from app.views.message import SHOWN_CHARS, MessageWidget

    pasted = "The quick brown fox jumps over the lazy dog. " * 900
    question = MessageWidget("user", THEME)
    qtbot.addWidget(question)
    copied: list[str] = []
    question.copyRequested.connect(copied.append)
    question.set_text(pasted)
    shown = question.body.text()
    assert len(shown) < SHOWN_CHARS * 2 and f"and {len(pasted) - SHOWN_CHARS:,} more characters" in shown
    question.copy_button.click()
    assert copied == [pasted] and question.text == pasted


def test_passage_from_a_stored_dict_and_from_an_object() -> None:
    stored = Passage.of({"n": 2, "path": "/d/paper.pdf", "page": 3, "text": "t", "score": 0.5})
    assert stored.uri == "file:///d/paper.pdf" and stored.location == "paper.pdf p.3"
    live = Passage.of(SimpleNamespace(path="/d/a.md", page=None, line_start=4, line_end=9, text="x", score=1.0,
                                      uri=lambda: "file:///d/a.md"), n=1)
    assert (live.n, live.location, live.uri) == (1, "a.md:4-9", "file:///d/a.md")
    # two passages of one DOCX were the same chip with the same tooltip ("[2] rules.docx", "[5] rules.docx")
    water, gates = (Passage.of({"n": n, "path": "/d/rules.docx", "heading": h, "text": "t"})
                    for n, h in ((2, "## 4. Water"), (5, "5. Gates and keys for members who joined after April")))
    assert (water.location, gates.location) == ("rules.docx § 4. Water",
                                                "rules.docx § 5. Gates and keys for members who joined…")
    assert Passage.of({"path": "/d/a.md", "line_start": 3, "line_end": 3, "heading": "Keys"}).location == "a.md:3"


def test_enter_sends_and_shift_enter_adds_a_line(qtbot: QtBot) -> None:
    from PySide6.QtCore import Qt

    from app.views.composer import Composer

    composer = Composer()
    qtbot.addWidget(composer)
    composer.set_ready(True)
    sent: list[str] = []
    composer.sendRequested.connect(sent.append)
    qtbot.keyClicks(composer.edit, "line one")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(composer.edit, "line two")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert sent == ["line one\nline two"] and composer.edit.toPlainText() == ""


def test_cited_chips_are_highlighted_and_uncited_ones_dimmed(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QPushButton

    from app.views.message import MessageWidget

    widget = MessageWidget("assistant", THEME)
    qtbot.addWidget(widget)
    stored = [{"n": 1, "path": "/n/lease.pdf", "page": 2, "text": "The term ends on 31 May.", "cited": True},
              {"n": 2, "path": "/n/trip.md", "text": "Packing list", "cited": False},
              {"n": 3, "path": "/n/old.md", "text": "saved before citations were marked"},
              {"n": 4, "path": "/n/home/todo.md", "text": "Paint the fence"},  # two folders' todo.md: the
              {"n": 5, "path": "/n/work/todo.md", "text": "File the report"},  # chips said "todo.md" twice
              {"n": 6, "path": "/n/trip.md", "text": "Passports"}]  # one file's second passage: no clash
    widget.set_sources([Passage.of(s) for s in stored], [])
    chips = widget.chips_row.findChildren(QPushButton)
    assert [c.property("cited") for c in chips] == ["true", "false", None, None, None, None]
    assert chips[0].toolTip() == "Source 1: lease.pdf p.2 in /n (cited in the answer)"
    assert chips[1].toolTip() == "Source 2: trip.md in /n (found but not used in the answer)"
    assert chips[2].toolTip() == "Source 3: old.md in /n"
    assert [c.text() for c in chips[3:]] == ["4  home/todo.md", "5  work/todo.md", "6  trip.md"]
    assert chips[4].toolTip() == "Source 5: todo.md in /n/work"


def test_source_chips_wrap_onto_rows_and_long_names_keep_their_ends(qtbot: QtBot) -> None:
    """Five chips with real file names were squeezed into one row below their text, cut on both sides."""
    from PySide6.QtWidgets import QPushButton

    from app.views.message import MessageWidget

    widget = MessageWidget("assistant", THEME)
    qtbot.addWidget(widget)
    names = ["Brava-DW450-series-user-manual.pdf", "dishwasher-e4-forum-notes.md", "2025-02.md", "questions.json",
             "a-very-long-file-name-that-someone-exported-from-their-mail-client-2024.eml", "tenancy-agreement.docx"]
    widget.set_sources([Passage.of({"n": i, "path": f"/n/{name}", "text": "t", "cited": i == 2})
                        for i, name in enumerate(names, 1)], [])
    widget.resize(520, 400)
    widget.show()
    qtbot.waitExposed(widget)
    chips = widget.chips_row.findChildren(QPushButton)
    assert all(c.width() >= c.sizeHint().width() for c in chips)  # every label whole
    assert len({c.y() for c in chips}) > 1  # on more rows than one
    assert all(c.geometry().right() < widget.chips_row.width() for c in chips)
    assert all(c.geometry().bottom() < widget.chips_row.height() for c in chips)  # the row grew to hold them
    long = chips[4].text()
    assert long.startswith("5  a-very-long-file") and long.endswith("-2024.eml") and "…" in long
    assert chips[4].toolTip() == f"Source 5: {names[4]} in /n (found but not used in the answer)"
    # narrower than a chip: the chip gives up width, not the answer (at 640 px the chat scrolled sideways and
    # the answer's text was cut at the right edge)
    widget.resize(200, 400)
    qtbot.waitUntil(lambda: widget.chips_row.width() <= 200)
    assert widget.minimumSizeHint().width() <= 200
    assert all(c.geometry().right() < widget.chips_row.width() for c in chips)
    # two passages of one DOCX were the same chip ("2  eastside-allotment-soci…es-2025.docx" and "5  …")
    docx = "/n/eastside-allotment-society-rules-2025.docx"
    widget.set_sources([Passage.of({"n": 2, "path": docx, "heading": "Eastside Allotment Society > 4. Water"}),
                        Passage.of({"n": 5, "path": docx, "heading": "Eastside Allotment Society"}),
                        Passage.of({"n": 6, "path": "/n/rules.md", "heading": "Keys", "line_start": 3})], [])
    labels = [c.text() for c in widget.chips_row.findChildren(QPushButton)][-3:]  # the old ones go later
    assert "§ 4. Water" in labels[0] and "§ Eastside Allotment S…" in labels[1] and "§" not in labels[2], labels
    # and two of one text file by their first line ("1  shiplog.txt" and "3  shiplog.txt" were alike)
    log = "/n/shiplog.txt"
    widget.set_sources([Passage.of({"n": 1, "path": log, "line_start": 197, "line_end": 212}),
                        Passage.of({"n": 3, "path": log, "line_start": 40, "line_end": 52})], [])
    labels = [c.text() for c in widget.chips_row.findChildren(QPushButton)][-2:]
    assert "shiplog.txt · line 197" in labels[0] and "shiplog.txt · line 40" in labels[1], labels


def test_check_boxes_are_visible_in_the_dark_theme(qtbot: QtBot, qapp) -> None:
    """Fusion outlined a check box with the window colour darkened: on the dark theme an unchecked box was
    nearly invisible and a checked one a bare tick. Now the box has the muted edge, a checked one the accent."""
    with themed(qapp, "dark", 11) as dark:
        boxes = {}
        for checked in (False, True):
            box = QCheckBox("Remember useful facts")
            box.setChecked(checked)
            qtbot.addWidget(box)
            box.show()
            image = box.grab().toImage()
            boxes[checked] = {image.pixelColor(x, y).name() for x in range(min(image.width(), 24))
                              for y in range(image.height())}
        assert dark["muted"] in boxes[False] and dark["accent"] in boxes[True]
        assert dark["accent"] not in boxes[False]


def test_the_sidebar_buttons_keep_their_labels_at_a_large_font(qtbot: QtBot, qapp) -> None:
    """Dragged to its narrowest, the sidebar still fits its labelled buttons (it cut them to "Se…gs" at 16)."""
    with themed(qapp, "light", 16):
        splitter = QSplitter()
        sidebar = Sidebar(ListModel(str), ListModel(str))
        splitter.addWidget(sidebar)
        splitter.addWidget(QWidget())
        qtbot.addWidget(splitter)
        splitter.setCollapsible(0, False)  # dragged as far as it goes without hiding it
        splitter.resize(900, 600)
        splitter.show()
        splitter.setSizes([0, 900])
        buttons = [b for b in sidebar.findChildren(QToolButton) if b.text() in ("Settings", "Memory", "Models")]
        assert len(buttons) == 3
        qtbot.waitUntil(lambda: all(b.width() >= b.sizeHint().width() for b in buttons))
        assert sidebar.width() >= Sidebar.MIN_WIDTH


def test_collection_counts_read_as_english() -> None:
    one = SimpleNamespace(files=1, chunks=1, errors=1, last_sync=None)
    assert collection_status(one) == "1 file · 1 chunk · first sync not finished · 1 skipped"  # was "1 files · …"
    many = SimpleNamespace(files=1200, chunks=0, errors=0, last_sync=None)
    assert collection_status(many) == "1,200 files · 0 chunks · first sync not finished"
    empty = SimpleNamespace(files=0, chunks=0, errors=0, last_sync=None)
    assert collection_status(empty) == "0 files · 0 chunks · never synced"
    half_gone = SimpleNamespace(files=2, chunks=2, errors=0, last_sync=None, sources=("/a", "/b"),
                                missing_sources=("/a",))
    assert "· 1 of its folders is gone (its passages stay searchable)" in collection_status(half_gone)
    stopped = SimpleNamespace(files=2, chunks=2, errors=0, last_sync=None, unfinished="stopped")
    assert collection_status(stopped).endswith(
        "· indexing was stopped before the end: add its folder or file again to finish")
    # a watched collection's stopped update is read again by its watcher: nothing to add again
    assert collection_status(SimpleNamespace(**{**vars(stopped), "watched": True})).endswith(
        "· watched · its last update was stopped: the rest is read when the folder changes or Hearth starts again")
    # the Chroma server down: nothing to repair, and adding the folder again would fail too (the CLI said so)
    unreachable = SimpleNamespace(files=2, chunks=2, errors=0, last_sync=None, resync_repairs=False,
                                  problem="Cannot reach the Chroma server at http://127.0.0.1:8000")
    assert collection_status(unreachable).endswith("· cannot be checked now: Cannot reach the Chroma server at "
                                                   "http://127.0.0.1:8000")
    assert "needs repair" not in collection_status(unreachable)


def test_the_skipped_files_list_counts_in_english(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QLabel

    from app.views.collection_dialog import ErrorListDialog

    for errors, said in (([("/a.bin", "binary file")], "1 file was skipped:"),
                         ([("/a.bin", "binary file"), ("/b.pdf", "cannot be read as PDF")], "2 files were skipped:")):
        dialog = ErrorListDialog(errors)
        qtbot.addWidget(dialog)
        assert [label.text() for label in dialog.findChildren(QLabel)] == [said]  # "1 file(s) were skipped:"


class _Opened(QObject):
    """Stands in for the system viewer (QDesktopServices' handler for file: URLs)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toString())


def test_open_file_says_when_the_source_file_is_gone(qtbot: QtBot, tmp_path) -> None:
    """The missing path went to the system viewer without a word."""
    from app.views.source_panel import SourcePanel

    note = tmp_path / "keys.md"
    note.write_text("The key is under the pot.\n")
    panel = SourcePanel(Theme("light", LIGHT, 11))
    qtbot.addWidget(panel)
    viewer = _Opened()
    QDesktopServices.setUrlHandler("file", viewer, "open")
    try:
        panel.show_source(Passage.of({"n": 1, "path": str(note), "text": "The key is under the pot."}), [])
        panel.open_button.click()
        assert viewer.urls == [note.as_uri()]
        note.unlink()
        panel.open_button.click()  # deleted while the panel was open
        assert viewer.urls == [note.as_uri()] and not panel.open_button.isEnabled()
        assert "no longer there" in panel.where.text()
        panel.show_source(Passage.of({"n": 1, "path": str(note), "text": "The key is under the pot."}), [])
        assert panel.open_button.text() == "File not found" and "no longer there" in panel.where.text()
    finally:
        QDesktopServices.unsetUrlHandler("file")


def test_a_gone_file_says_it_is_looked_for_until_the_index_answers(qtbot: QtBot, tmp_path) -> None:
    """After a restart the lookup of a moved file waited behind the start-up's work on its lane for 15 to 30 s,
    and its chip's panel said "File not found" all that while, though the index knew where the file was."""
    from app.views.source_panel import SourcePanel

    panel = SourcePanel(Theme("light", LIGHT, 11))
    qtbot.addWidget(panel)
    asked: list[Passage] = []
    panel.fileMissing.connect(asked.append)
    gone = Passage.of({"n": 1, "path": str(tmp_path / "keys.md"), "text": "The key is under the pot."})
    panel.show_source(gone, [])
    assert asked == [gone] and panel.open_button.text() == "Looking for it…"
    assert not panel.open_button.isEnabled()
    panel.moved_to(gone, None)  # the index holds it nowhere else
    assert panel.open_button.text() == "File not found" and not panel.open_button.isEnabled()
    panel.show_source(gone, [])
    (tmp_path / "house-keys.md").write_text("The key is under the pot.\n")
    panel.moved_to(gone, str(tmp_path / "house-keys.md"))
    assert panel.open_button.text() == "Open file" and "Moved or renamed" in panel.where.text()


def test_the_panel_says_when_the_source_file_was_edited_since_the_answer(qtbot: QtBot, tmp_path) -> None:
    """An answer reloaded from the history: its panel checked only that the file was there, and an edited one
    read as the source of the passage shown."""
    from app.views.source_panel import SourcePanel

    note = tmp_path / "keys.md"
    note.write_text("The key is under the pot.\n")
    st = note.stat()
    saved = {"n": 1, "path": str(note), "text": "The key is under the pot.", "size": st.st_size,
             "mtime_ns": st.st_mtime_ns, "stale": ""}
    panel = SourcePanel(Theme("light", LIGHT, 11))
    qtbot.addWidget(panel)
    panel.show_source(Passage.of(saved), [])
    assert "Edited" not in panel.where.text()
    note.write_text("Moved the key to the shed.\nThe key is under the pot.\n")
    panel.show_source(Passage.of(saved), [])
    assert "Edited since this answer" in panel.where.text() and panel.open_button.isEnabled()
    assert "under the pot" in panel.text.toPlainText()  # the passage as it was given
    panel.show_source(Passage.of({**saved, "stale": "changed"}), [])  # edited before the answer already
    assert "Edited since it was indexed" in panel.where.text()


def test_a_right_to_left_file_name_keeps_the_source_number_first(qtbot: QtBot, tmp_path) -> None:
    """A Hebrew file name made the source panel's title a right-to-left line: "[1]" was drawn at its right end,
    after the name, and the chip's number likewise."""
    from PySide6.QtGui import QTextLayout

    from app.views.message import chip_label
    from app.views.source_panel import SourcePanel

    def x_of_first_character(text: str) -> float:
        layout = QTextLayout(text, panel.title.font())  # Qt's default: the line's direction from its text
        layout.beginLayout()
        line = layout.createLine()
        line.setLineWidth(2000)
        layout.endLayout()
        return line.cursorToX(0)[0]

    note = tmp_path / "שלום עולם.md"
    note.write_text("# מפתח\n\nThe key is under the pot.\n")
    panel = SourcePanel(Theme("light", LIGHT, 11))
    qtbot.addWidget(panel)
    passage = Passage.of({"n": 1, "path": str(note), "text": "The key is under the pot.", "heading": "מפתח"})
    panel.show_source(passage, [])
    assert panel.title.text().endswith("\u2069") and "[1]" in panel.title.text()
    assert x_of_first_character(panel.title.text()) == 0  # "[1]" at the left, as for every other name
    assert x_of_first_character(chip_label(passage)) == 0
    assert x_of_first_character(f"[1] {passage.location}") > 0  # what was shown before


def test_an_arabic_file_name_reads_on_its_chip_as_the_file_manager_shows_it(qtbot: QtBot) -> None:
    """An Arabic "ملاحظات.txt" was drawn on its chip in the direction of its first letter, "txt.ملاحظات": its
    extension at the left, where the number is, unlike the path under the source panel's title."""
    from PySide6.QtGui import QTextLayout
    from PySide6.QtWidgets import QPushButton

    from app.views.message import MessageWidget

    widget = MessageWidget("assistant", THEME)
    qtbot.addWidget(widget)
    widget.set_sources([Passage.of({"n": 1, "path": "/n/ملاحظات.txt", "text": "t", "cited": True})], [])
    chip = widget.chips_row.findChildren(QPushButton)[0]
    layout = QTextLayout(chip.text(), chip.font())
    layout.beginLayout()
    line = layout.createLine()
    line.setLineWidth(2000)
    layout.endLayout()
    x = [line.cursorToX(i)[0] for i in range(len(chip.text()) + 1)]
    number, letters, extension = chip.text().index("1"), chip.text().index("م"), chip.text().index("txt")
    assert x[number] < min(x[letters:extension - 1]) < max(x[letters:extension - 1]) <= x[extension], chip.text()


def test_a_sampling_preset_sets_all_its_values_and_an_edit_makes_it_custom(qtbot: QtBot) -> None:
    """Answers read the values, not the preset's name: Greedy left the repeat penalty at 1.1, and an edited
    temperature kept the label "Greedy"."""
    from app.views.settings_dialog import SettingsDialog
    from assistant.config import Settings
    from assistant.engine import PRESETS
    from assistant.paths import BUNDLED_CHAT_MODEL

    dialog = SettingsDialog(Settings(), [], PRESETS, BUNDLED_CHAT_MODEL)
    qtbot.addWidget(dialog)
    assert dialog.preset.currentText() == "Balanced"  # the default values are Balanced's
    dialog.preset.setCurrentText("Greedy")
    values = dialog.values().model
    assert (values.temperature, values.repeat_penalty, values.preset) == (0.0, 1.0, "Greedy")
    dialog.temperature.setValue(0.9)
    assert dialog.preset.currentText() == "Custom" and dialog.values().model.preset == "Custom"
    dialog.temperature.setValue(0.0)
    assert dialog.preset.currentText() == "Greedy"


def test_results_that_arrive_after_the_window_closed_are_not_delivered(qtbot: QtBot) -> None:
    """A model load that ended while the window closed ran its callbacks on the closed assistant
    (NoModelLoadedError, 'NoneType' object has no attribute 'model_path')."""
    import time

    from app.workers import Job, Workers

    workers, delivered, failed = Workers(on_error=lambda m: failed.append(m)), [], []
    workers.model.submit(Job(lambda: time.sleep(0.3) or "loaded", on_done=delivered.append))
    workers.io.submit(Job(lambda: 1 / 0, on_failed=failed.append))
    qtbot.waitUntil(lambda: len(failed) == 1)  # a result delivered while the window is open
    workers.io.submit(Job(lambda: time.sleep(0.2) or 1 / 0, on_failed=failed.append))
    workers.stop()  # the window closes while both still run
    qtbot.wait(100)
    assert delivered == [] and len(failed) == 1


def test_a_worker_that_outlives_the_close_does_not_abort_the_process() -> None:
    """A job still running after the close's wait had its QThread destroyed under it: Qt aborted the process
    ("QThread: Destroyed while thread is still running", exit 134). Run in a child: the abort would end the run."""
    from checks import offscreen_python_says

    script = (
        "import gc, time\n"
        "from app.workers import Job, Workers\n"
        "app = QApplication([])\n"
        "workers = Workers(on_error=print)\n"
        "workers.io.submit(Job(lambda: time.sleep(1.0)))\n"
        "time.sleep(0.1)\n"
        "workers.stop(timeout_ms=50)\n"
        "print('outlived', workers.outlived, flush=True)\n"
        "del workers\n"
        "gc.collect()\n"
        "time.sleep(1.5)\n"
        "print('still here', flush=True)\n"
    )
    assert offscreen_python_says(script) == ["outlived", "True", "still", "here"]


def test_pydantic_is_whole_before_any_worker_imports_chroma() -> None:
    """PySide6's import hook asks each new module for ``__wrapped__``; on a pydantic module that imports
    pydantic's validators, and a worker importing Chroma while that module was half made failed the start-up
    ("cannot import name 'import_string' from partially initialized module"). The window's module makes it whole
    on the main thread first (the race itself was not reproducible on demand)."""
    from checks import offscreen_python_says

    script = (
        "import sys, threading\n"
        "assert 'pydantic' not in sys.modules\n"
        "import app.main_window\n"
        "print(threading.active_count(), hasattr(sys.modules['pydantic._internal._validators'], 'import_string'))\n"
    )
    assert offscreen_python_says(script) == ["1", "True"]


def test_an_answer_stopped_before_its_first_word_shows_no_made_up_figures() -> None:
    """It read "0 tokens · TTFT 0 ms · stopped", and the sidebar said "1 messages"."""
    from types import SimpleNamespace

    from app.controllers.chat import answer_meta
    from app.controllers.conversations import entries_from_conversations

    assert answer_meta({"completion_tokens": 0, "ttft_s": 0.0001, "stop_reason": "cancelled"}) == \
        "stopped before the answer began"
    assert answer_meta({"completion_tokens": 3, "decode_tps": 12.0, "ttft_s": 0.2, "stop_reason": "cancelled"}) == \
        "3 tokens · 12.0 tok/s · TTFT 200 ms · stopped"
    chat = SimpleNamespace(id="c", title="Hi", updated_at=0.0, message_count=1)
    assert entries_from_conversations([chat])[0].detail.endswith("· 1 message")


def test_the_settings_dialog_fits_a_small_screen_at_any_font_size(qtbot: QtBot) -> None:
    """The re-rank box's one-line label (with why it is greyed) made the dialog at least 921 px wide at the
    default font and 1,899 px at 24 pt, its Save button off a laptop's screen."""
    from PySide6.QtWidgets import QApplication, QTabWidget

    from app.theme import resolve, stylesheet
    from app.views.settings_dialog import SettingsDialog
    from assistant.config import Settings
    from assistant.engine import PRESETS
    from assistant.paths import BUNDLED_CHAT_MODEL

    app = QApplication.instance()
    before = app.styleSheet()
    try:
        for size, widest in ((11, 640), (24, 1280)):
            app.setStyleSheet(stylesheet(resolve("light", size)))
            dialog = SettingsDialog(Settings(), [], PRESETS, BUNDLED_CHAT_MODEL,
                                    rerank_missing="no cross-encoder is installed (put one in /models/reranker)")
            qtbot.addWidget(dialog)
            assert dialog.minimumSizeHint().width() <= widest, size
            # every tab whole at the dialog's narrowest: at 24 pt the tab bar scrolled, its arrows blank boxes in
            # the dark theme, "Appearance" out of sight
            tabs = dialog.findChild(QTabWidget)
            assert tabs.minimumSizeHint().width() >= tabs.tabBar().sizeHint().width(), size
    finally:
        app.setStyleSheet(before)


def test_an_icon_takes_the_colour_of_the_theme_shown(qapp) -> None:
    """Icons were drawn once in the light theme's grey (#7a726a), which stayed on the dark theme's near-black
    background; they are drawn in the shown theme's muted colour, also after a switch, and fade when disabled."""
    from PySide6.QtGui import QColor, QIcon

    from app.icons import icon

    def drawn(mode: QIcon.Mode = QIcon.Mode.Normal) -> QColor:
        image = icon("search").pixmap(24, 24, mode).toImage()
        pixels = [image.pixelColor(x, y) for x in range(24) for y in range(24)]
        return max(pixels, key=lambda c: c.alpha())  # a pixel of the stroke itself

    for name, colors in (("light", LIGHT), ("dark", DARK), ("light", LIGHT)):
        with themed(qapp, name, 11):
            color = drawn()
            assert color.name() == colors["muted"] and color.alpha() == 255, (name, color.name())
            assert drawn(QIcon.Mode.Disabled).alpha() < 160


def test_the_indexing_panel_names_the_file_being_read(qtbot: QtBot) -> None:
    """A 24 MB log took minutes to embed: the bar (whole files) stood at 0 and the panel said nothing of it,
    while the terminal named the file and its passages embedded."""
    from app.views.indexing_panel import IndexingPanel

    panel = IndexingPanel()
    qtbot.addWidget(panel)
    panel.start("notes")
    reading = Progress("index", 3, 28, "files", rate=18.9, eta_s=126, message="reading",
                       item=str(Path("/n/logs/huge.log").resolve()), item_done=448, item_total=3136)
    panel.update_progress(reading)
    assert panel.detail.text().endswith("\nReading huge.log (448 of 3,136 passages embedded)"), panel.detail.text()
    assert panel.bar.value() / panel.bar.maximum() == 3 / 28  # by files while the work done is not known
    panel.update_progress(replace(reading, share=0.4))  # by the work done: it stood at 3 / 28 while huge.log embedded
    assert panel.bar.value() / panel.bar.maximum() == 0.4 and panel.detail.text().startswith("3 / 28 files done")
    panel.update_progress(replace(reading, item_done=0, item_total=0, item_cut=0.35))  # a 20 MB line is cut first
    assert panel.detail.text().endswith("\nReading huge.log (35% split into passages)"), panel.detail.text()
    panel.update_progress(replace(reading, message="scanning done", item="", item_done=0, item_total=0))
    assert "Reading" not in panel.detail.text()
    # a stopped run keeps its bar and counts (how far it got), not the rate of a run that no longer goes on; a
    # completed one its sentence and buttons only, and the next run shows them all again
    panel.finish("Stopped", complete=False)
    assert panel.detail.text() == "3 / 28 files done" and not (panel.bar.isHidden() or panel.detail.isHidden())
    panel.finish("“notes” is ready: 28 files indexed.")
    assert panel.bar.isHidden() and panel.detail.isHidden() and not panel.cancel_button.isHidden()
    panel.start("notes")
    assert not (panel.bar.isHidden() or panel.detail.isHidden())


def test_a_long_file_name_does_not_widen_the_source_panel(qtbot: QtBot) -> None:
    """An 80-character file name made the panel 843 px wide at least (its title and path could not wrap), and the
    window folded the sidebar away for it; the title was cut mid-word all the same."""
    from app.views.source_panel import SourcePanel

    panel = SourcePanel(Theme("light", LIGHT, 11))
    qtbot.addWidget(panel)
    name = "Quarterly_financial_report_for_the_northern_europe_region_final_version_v7_REVISED.md"
    panel.show_source(Passage.of({"n": 1, "path": f"/docs/{name}", "text": "Revenue grew.", "line_start": 2,
                                  "line_end": 8}), [])
    assert panel.minimumSizeHint().width() < 400
    assert f"{name}:2-8" in panel.title.text().replace("\u200b", "")  # the whole name, broken onto lines
    assert panel.where.toolTip() == f"/docs/{name}"  # the path, whole, where the line is cut


def test_text_colours_meet_wcag_aa_contrast_in_both_themes() -> None:
    """White on the light theme's accent (Send) was 3.5:1 and its muted text on the sidebar's grey 3.9:1, below
    the 4.5:1 that WCAG AA asks of text."""
    def luminance(colour: str) -> float:
        channels = [int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    def ratio(a: str, b: str) -> float:
        high, low = sorted((luminance(a), luminance(b)), reverse=True)
        return (high + 0.05) / (low + 0.05)

    for colours in (LIGHT, DARK):
        backgrounds = [colours[k] for k in ("bg", "surface", "surface2", "input", "user_bubble", "selection", "chip")]
        pairs = [(colours[text], bg) for text in ("fg", "muted") for bg in backgrounds]
        pairs += [(colours["accent_fg"], colours["accent"])]
        # a link in an answer, and a code block's Copy (the light theme's was 4.4:1 on the code's grey)
        pairs += [(colours["link"], colours[bg]) for bg in ("bg", "code_bg", "surface", "chip", "selection")]
        low = [(a, b, round(ratio(a, b), 2)) for a, b in pairs if ratio(a, b) < 4.5]
        assert low == [], low
        # every colour of highlighted code: the light theme's comments were 2.5:1 on the code block's grey
        code = "```python\n#!/usr/bin/env python\n# a comment\n@cache\ndef f(x=None):\n    return f'{x!r}' % 3\n```"
        shown = render(code, Theme("", colours, 11)).html
        low = {c for c in re.findall(r"color: ?(#[0-9a-f]{6})", shown) if ratio(c, colours["code_bg"]) < 4.5}
        assert low == set(), low


def test_the_models_dialog_tabs_from_its_rows_to_close(qtbot: QtBot) -> None:
    """Rows filled in after the dialog was made came after Close in the Tab order: Tab went from the list to
    Close, then back up to a row's Use."""
    from PySide6.QtWidgets import QDialogButtonBox, QPushButton

    from app.views.models_view import ModelsDialog

    dialog = ModelsDialog()
    qtbot.addWidget(dialog)
    use, remove = QPushButton("Use"), QPushButton("Remove")
    dialog.library.set_rows([use, remove])
    close = dialog.buttons.button(QDialogButtonBox.StandardButton.Close)
    assert use.nextInFocusChain() is remove and remove.nextInFocusChain() is close


def test_the_welcome_panel_says_when_the_model_set_is_not_there() -> None:
    """It said "Answers come from my-model.gguf, on this computer" of a file that had been deleted: nothing
    answered, and the panel pointed nowhere."""
    from app.views.welcome import Setup, intro

    said = intro(Setup("my-model.gguf", False, missing=True))
    assert "The model set to answer, <b>my-model.gguf</b>, is not on this computer any more" in said
    assert "Answers come from" not in said and "Get models" in said
    assert "Answers come from <b>my-model.gguf</b>" in intro(Setup("my-model.gguf", False))


def test_the_status_bar_keeps_the_models_name_whole_while_the_device_and_speculation_give_way(qtbot: QtBot) -> None:
    """At 800-1,024 px the model's name was the first cut ("SmolLM2 135M Inst…"), before the device's words."""
    from PySide6.QtWidgets import QMainWindow

    from app.views.status_bar import StatusBar

    window, bar = QMainWindow(), StatusBar()
    qtbot.addWidget(window)
    window.setStatusBar(bar)
    fill_status_bar(bar, model="SmolLM2 135M Instruct Q4_1", device="CPU, 2 threads (GPU layers set to 0)")
    window.resize(800, 300)
    window.show()
    qtbot.waitUntil(lambda: bar.width() <= 800)
    metrics = bar.model.fontMetrics()
    assert bar.model.width() >= metrics.horizontalAdvance(bar.model.text())
    assert bar.device.width() < metrics.horizontalAdvance(bar.device.text())  # the device's words gave way


WIDE_TABLE = ("Here is the comparison:\n\n| Model | CPU | Memory | Storage | Screen | Battery | Weight | Price |\n"
              "|---|---|---|---|---|---|---|---|\n" + "".join(
                  f"| ThinkPad X1 Carbon Gen{i} | Intel Core Ultra 7 155H | 32 GB LPDDR5x-6400 | 1 TB NVMe PCIe "
                  "4.0 | 14-inch 2.8K OLED 120 Hz | 57 Wh, about 12 hours | 1.09 kg | 1,899 EUR |\n" for i in range(4))
              + "\nAnd a paragraph after the table, which wraps at the message's width like any other text.")


def test_a_table_streams_into_a_strip_of_its_own_between_the_text(qtbot: QtBot) -> None:
    """Text, table, text: three widgets, the table's in a strip that scrolls sideways; while the answer streams
    each keeps its widget once its kind is known; a table inside a list stays in the list's text."""
    from app.views.message import MessageWidget
    from app.views.widgets import TableStrip

    widget = MessageWidget("assistant", THEME)
    qtbot.addWidget(widget)
    strips: set[int] = set()
    for end in range(1, len(WIDE_TABLE) + 1, 7):
        widget.set_text(WIDE_TABLE[:end])
        strips |= {id(w) for w in widget.parts if isinstance(w, TableStrip)}
    widget.set_text(WIDE_TABLE)
    assert [type(w).__name__ for w in widget.parts] == ["TableStrip", "RichLabel"] and len(strips) == 1
    shown = [label.text() for label in widget.labels()]
    assert "Here is the comparison" in shown[0] and shown[1].startswith(TABLE) and "And a paragraph" in shown[2]
    assert "".join(shown) == render(WIDE_TABLE, THEME).html.replace(PART, "")
    # a table in a list item stays in the list's text, and that text scrolls sideways with it (a wide one made the
    # whole chat scroll sideways)
    widget.set_text("- a list item:\n\n  | a | b |\n  |---|---|\n  | 1 | 2 |\n\nAfter.")
    (strip,) = widget.parts
    assert not widget.body.isVisibleTo(widget) and isinstance(strip, TableStrip)
    assert TABLE in strip.widget().text() and "<li>" in strip.widget().text() and "After." in strip.widget().text()
    widget.set_text("| a | b |\n|---|---|\n| 1 | 2 |")  # a table first: no empty text above it
    assert not widget.body.isVisibleTo(widget) and len(widget.parts) == 1


def test_a_screen_reader_names_every_settings_field_by_its_label(qtbot: QtBot) -> None:
    """Qt on Linux read the chat-model and address combo boxes by their value ("SmolLM2 135M Instruct (98 MB)
    combo box", "127.0.0.1"): no form label was their buddy, and the address's text field had no name."""
    from PySide6.QtGui import QAccessible
    from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QLineEdit

    from app.views.settings_dialog import SettingsDialog
    from assistant.config import Settings
    from assistant.engine import PRESETS
    from assistant.paths import BUNDLED_CHAT_MODEL

    dialog = SettingsDialog(Settings(), [("SmolLM2 135M Instruct", BUNDLED_CHAT_MODEL)], PRESETS,
                            BUNDLED_CHAT_MODEL)
    qtbot.addWidget(dialog)
    for box in dialog.findChildren(QComboBox):
        relations = QAccessible.queryAccessibleInterface(box).relations(QAccessible.RelationFlag.Label)
        assert relations, f"no label tells a screen reader what {box.accessibleName()!r} is"
        if box.isEditable():  # the text field inside takes the focus, and is read by its own name
            assert box.lineEdit().accessibleName() == box.accessibleName()
    assert all(edit.accessibleName() or isinstance(edit.parent(), QAbstractSpinBox)
               for edit in dialog.findChildren(QLineEdit))


def test_a_focused_tab_bar_shows_where_the_focus_is(qtbot: QtBot, qapp) -> None:
    """Settings and Models open with the focus on their tab bar, and nothing showed it: a keyboard user could not
    tell that the arrow keys switch pages. The selected tab is outlined while the bar has the focus."""
    from PySide6.QtWidgets import QPushButton, QTabWidget, QVBoxLayout

    with themed(qapp, "light", 11):
        window = QWidget()
        qtbot.addWidget(window)
        other, tabs = QPushButton("x"), QTabWidget()
        tabs.addTab(QWidget(), "Model")
        tabs.addTab(QWidget(), "Knowledge")
        layout = QVBoxLayout(window)
        layout.addWidget(other)
        layout.addWidget(tabs)
        window.show()
        qtbot.waitExposed(window)
        other.setFocus()
        unfocused = tabs.tabBar().grab().toImage()
        tabs.tabBar().setFocus()
        qtbot.waitUntil(tabs.tabBar().hasFocus)
        assert tabs.tabBar().grab().toImage() != unfocused


def test_settings_opens_within_the_screen(qtbot: QtBot, monkeypatch) -> None:
    """Settings opened 730 px tall whatever the screen: on a 1080p screen at 200% (540 px of room) its Save and
    Apply were below the screen's edge."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QScreen

    from app.views.settings_dialog import SettingsDialog
    from assistant.config import Settings
    from assistant.engine import PRESETS
    from assistant.paths import BUNDLED_CHAT_MODEL

    monkeypatch.setattr(QScreen, "availableGeometry", lambda screen: QRect(0, 0, 960, 540))
    dialog = SettingsDialog(Settings(), [], PRESETS, BUNDLED_CHAT_MODEL)
    qtbot.addWidget(dialog)
    assert dialog.height() <= 540 * 0.9 and dialog.width() <= 960


def test_input_fields_stand_out_from_what_surrounds_them_in_both_themes(qtbot: QtBot, qapp) -> None:
    """WCAG 1.4.11 asks 3:1 for what identifies a field: the fields' borders were the panels' colour, 1.4:1 on
    the dark theme's background, and a spin box had Fusion's frame."""
    from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFrame, QLineEdit, QPlainTextEdit, QSpinBox, QTextEdit

    from app.theme import contrast

    composer = lambda: QFrame(objectName="Composer")  # noqa: E731  the chat's input box
    for name in ("light", "dark"):
        with themed(qapp, name, 11) as shown:
            for kind in (QLineEdit, QPlainTextEdit, QTextEdit, QComboBox, QSpinBox, QDoubleSpinBox, composer):
                field = kind()
                qtbot.addWidget(field)
                field.resize(200, 60)
                field.show()
                image = field.grab().toImage()
                edge = image.pixelColor(0, image.height() // 2).name()  # the left border, halfway down
                low = {around: round(contrast(edge, shown[around]), 2)
                       for around in ("bg", "surface", "surface2", "input") if contrast(edge, shown[around]) < 3}
                assert low == {}, (name, type(field).__name__, edge, low)


def test_a_combo_box_arrow_grows_with_the_font(qtbot: QtBot, qapp) -> None:
    """Fusion draws the arrow at most 8 px wide: at 22 pt a combo box's was a speck beside its text."""
    from PySide6.QtWidgets import QComboBox

    from app.theme import contrast

    def arrow_width(size: int) -> int:
        with themed(qapp, "dark", size) as shown:
            box = QComboBox()
            box.addItem("Balanced")
            qtbot.addWidget(box)
            box.resize(300, box.sizeHint().height())
            box.show()
            image = box.grab().toImage()
            right = range(image.width() * 3 // 4, image.width() - 2)  # the arrow's side, without the border
            ink = [x for x in right for y in range(2, image.height() - 2)
                   if contrast(image.pixelColor(x, y).name(), shown["input"]) > 3]
            return max(ink) - min(ink) + 1 if ink else 0

    normal, large = arrow_width(11), arrow_width(22)
    assert normal >= 6 and large >= 1.6 * normal, (normal, large)


def test_the_source_panel_numbers_the_passage_lines_and_shows_those_the_answer_restates(qtbot: QtBot, tmp_path) -> None:
    """The panel highlighted the whole passage as one paragraph without line numbers: a fact on line 38 of a
    30-line passage cited "lines 12-41" was below the fold, and nothing said which line it was."""
    from app.views.source_panel import SourcePanel

    lines = [f"Shelf {i}: spare fuses and tape." for i in range(12, 38)] + ["The water valve is behind panel 4B.",
                                                                          "", "Shelf 40: candles.", "Shelf 41: rope."]
    saved = {"n": 2, "path": str(tmp_path / "shed.md"), "line_start": 12, "line_end": 41, "text": "\n".join(lines),
             "focus": [26]}
    panel = SourcePanel(Theme("light", LIGHT, 11))
    qtbot.addWidget(panel)
    panel.resize(360, 420)
    panel.show_source(Passage.of(saved), [])
    shown = panel.text.toPlainText()
    assert "12\nShelf 12: spare fuses and tape." in shown and "38\nThe water valve is behind panel 4B." in shown
    assert "41\nShelf 41: rope." in shown
    assert _highlighted(panel) == ["The water valve is behind panel 4B."]
    bar = panel.text.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.value() > 0)  # scrolled to line 38, which is below the fold at the top
    panel.grab().save(str(tmp_path / "panel.png"))
    # a passage whose answer lines are not known (an answer saved before they were kept): all of it, numbered
    panel.show_source(Passage.of({**saved, "focus": None, "line_start": None}), [])
    assert len(_highlighted(panel)) == len(lines) and "\n12\n" not in panel.text.toPlainText()


def _highlighted(panel) -> list[str]:  # type: ignore[no-untyped-def]
    """The text of each line the source panel highlights."""
    found, block = [], panel.text.document().begin()
    while block.isValid():
        if block.charFormat().background().color().name() == LIGHT["highlight"]:
            found.append(block.text())
        block = block.next()
    return found


def test_the_indexing_panel_says_the_work_ahead_of_a_large_run(qtbot: QtBot) -> None:
    """A 1.5 MB CSV added alone embedded for 185 s (3,303 passages) with no word of that cost first: the core
    says it once, on one event, and the panel keeps it under the counts while the run goes on."""
    from app.views.indexing_panel import IndexingPanel
    from assistant.events import WorkAhead

    panel = IndexingPanel()
    qtbot.addWidget(panel)
    panel.start("exports")
    embedding = Progress("index", 0, 1, "files", rate=18.0, message="reading", item="/n/big.csv", item_done=32,
                         item_total=3303, share=0.01)
    panel.update_progress(replace(embedding, ahead=WorkAhead(3303, 185.0)))
    said = "\n3,303 passages to embed: about 3 min at this computer's pace.\nReading big.csv"
    assert said in panel.detail.text(), panel.detail.text()
    panel.update_progress(replace(embedding, item_done=64, share=0.02))  # the next events do not carry it
    assert said in panel.detail.text(), panel.detail.text()
    panel.stopping()  # Cancel: the time left goes, and the estimate with it
    assert "passages to embed" not in panel.detail.text()
    panel.start("notes")  # the next run, small: nothing of the last one's
    panel.update_progress(replace(embedding, item_total=40))
    assert "passages to embed" not in panel.detail.text()
