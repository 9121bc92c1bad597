"""The window checks the data at start-up: a collection whose vectors were lost is named in the banner, a
question about it is answered by keyword meanwhile, and its Repair button re-embeds what is missing, after
which search by meaning works again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from gui_helpers import write_settings
from pytestqt.qtbot import QtBot

from assistant.paths import get_paths


@pytest.mark.slow
def test_lost_vectors_are_named_and_repaired_from_the_banner(qtbot: QtBot, make_window, ask,
                                                             tmp_path: Path) -> None:
    folder = tmp_path / "house"
    folder.mkdir()
    (folder / "key.md").write_text("# Key\n\nThe spare key is under the blue flowerpot.\n")
    (folder / "wifi.md").write_text("# Wifi\n\nThe wifi password is on the router.\n")
    write_settings()
    window = make_window()
    list(window.assistant.index([folder], "house"))  # not watched: the repair must come from the banner
    window.close()
    shutil.rmtree(get_paths().chroma_dir)  # the vector store is lost; the manifest and keyword index remain

    again = make_window()
    doctor = again.ctl.doctor
    qtbot.waitUntil(lambda: bool(doctor.findings), timeout=60_000)
    banner = again.banner
    assert banner.isVisible() and "house" in banner.label.text() and "no vector" in banner.label.text()
    assert banner.action.isVisible() and banner.action.text() == "Repair"
    qtbot.waitUntil(lambda: [c.missing_vectors for c in again.collections_model.items()] == [2])
    # meanwhile a question about the folder is answered from the passages its words find, and says so (it
    # failed: "cannot be searched by meaning", though keyword search works)
    again.composer.select_collections(["house"])
    ask(again, "Where is the spare key?", timeout=120_000)
    answer = again.chat_view.last("assistant")
    assert answer.passages and answer.passages[0].path.endswith("key.md")
    assert banner.isVisible() and banner.action.isVisible()  # the Repair offer went with the first question
    assert answer.notices.text().startswith("Searched your files by keyword only: Collection 'house' cannot be "
                                            "searched by meaning: 2 of its 2 chunks have no vector")
    with qtbot.waitSignal(doctor.checked, timeout=120_000) as rechecked:
        banner.action.click()
    assert rechecked.args == [[]] and not banner.isVisible()
    # the row is read again: it still said "needs repair" after the repair
    qtbot.waitUntil(lambda: [c.missing_vectors for c in again.collections_model.items()] == [0])
    hits = again.assistant.search("where is the spare key", ("house",), mode="dense")
    assert hits and hits[0].path.endswith("key.md")
