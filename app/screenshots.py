"""Screenshots for the docs (``docs/screenshots/*.png``), taken from the real app in a throwaway home.

Run under a virtual display: ``xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python -m app.screenshots``.
``.venv/bin/python -m app.screenshots server`` makes only the API server's shots (Settings → Server and Remote,
the status bar), ``… models`` only the Models view's: they need no indexing or chat first.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from app.theme import RESOURCES

if TYPE_CHECKING:
    from app.main_window import MainWindow

OUT = RESOURCES.parent / "docs" / "screenshots"
NOTES = {
    "spare-key.md": "# House notes\n\nThe spare key is hidden under the **blue flowerpot** by the back door.\n",
    "wifi.md": "# Network\n\nThe wifi password is on a sticker on the back of the router.\n",
    "boiler.txt": "The boiler is serviced every October. Reset it by holding the red button for 5 seconds.\n",
}


def _wait(app: QApplication, until: Callable[[], bool], timeout_s: float = 120) -> None:
    """Run the event loop until ``until()`` or the timeout, looking every 20 ms. The loop sleeps between events:
    ``processEvents`` in a loop spun a core, which took a third of two cores from the answers being shot (their
    status bars showed 15-20 tok/s instead of ~60)."""
    start = time.perf_counter()
    while not until() and time.perf_counter() - start < timeout_s:
        loop = QEventLoop()
        QTimer.singleShot(20, loop.quit)
        loop.exec()


def _save(widget: QWidget, name: str, app: QApplication) -> None:
    _wait(app, lambda: False, 0.3)  # let layouts settle
    widget.grab().save(str(OUT / f"{name}.png"))
    print("saved", OUT / f"{name}.png")


def main(only: str = "") -> None:
    from assistant.config import Settings, save_settings

    OUT.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    with tempfile.TemporaryDirectory(prefix="hearth-shots-") as tmp:
        os.environ["HEARTH_HOME"] = str(Path(tmp) / "home")
        settings = Settings()
        settings.model.max_tokens = 120
        settings.appearance.theme = "light"
        save_settings(settings)
        from app import theme
        from app.main_window import MainWindow

        window = MainWindow(theme=theme.apply(app, "light", settings.appearance.font_size))
        window.resize(1400, 860)
        window.show()
        ready: list[bool] = []
        window.ready.connect(ready.append)
        _wait(app, lambda: bool(ready))
        ctl = window.ctl
        assert ctl is not None
        alone = {"server": server_shots, "models": models_shot, "memory-import": memory_import_shot}.get(only)
        if alone is not None:
            alone(window, app)
            _wait(app, lambda: not any(lane.busy for lane in window.workers.lanes), 60)  # start-up warm-ups
            window.close()
            return
        _save(window, "empty", app)

        folder = Path(tmp) / "house"
        folder.mkdir()
        for name, text in NOTES.items():
            (folder / name).write_text(text)
        many = Path(tmp) / "archive"
        many.mkdir()
        for i in range(150):
            (many / f"letter-{i:03d}.md").write_text(f"# Letter {i}\n\n" + "An old letter about the garden. " * 80)
        (many / "scan.pdf").write_bytes(b"%PDF-1.4 damaged")

        ctl.knowledge.index([folder], "house")
        _wait(app, lambda: not ctl.knowledge.indexing)
        _wait(app, lambda: "house" in window.composer.selected_collections(), 10)
        ctl.knowledge.index([many], "archive")
        _wait(app, lambda: window.sidebar.indexing.bar.value() >= 20, 120)
        _save(window, "indexing", app)
        ctl.knowledge.cancel.set() if ctl.knowledge.cancel else None
        _wait(app, lambda: not ctl.knowledge.indexing)
        window.sidebar.indexing.hide()

        window.composer.select_collections(["house"])
        window.composer.edit.setPlainText("Where is the spare key?")
        window.composer._submit()
        answer = window.chat_view.last("assistant")
        _wait(app, lambda: answer.passages and len(answer.text) > 30)
        answer.sourceRequested.emit(answer.passages[0])
        _save(window, "mid-answer-with-sources", app)
        _wait(app, lambda: not ctl.chat.generating)
        _save(window, "answer-with-sources", app)
        window.composer.edit.setPlainText("What is the capital of Peru?")  # nothing in the folder says
        window.composer._submit()
        _wait(app, lambda: not ctl.chat.generating and window.chat_view.last("assistant") is not answer)
        _save(window, "answer-unsupported", app)

        dialog = window.open_settings()
        assert dialog is not None
        dialog.resize(640, 730)
        _save(dialog, "settings", app)
        speculation_settings_shot(dialog, app)
        dialog.reject()

        models_shot(window, app)
        memory_shot(window, app)
        memory_import_shot(window, app)
        speculation_answer_shot(window, app)
        server_shots(window, app)

        window.apply_appearance(_with_theme(settings, "dark"))
        _save(window, "dark", app)
        window.close()


def _port(preferred: int = 8181) -> int:
    """``preferred`` when it is free (the shots show the default port), else any free one."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_shots(window: MainWindow, app: QApplication) -> None:
    """Settings → Server with the API server switched on there and running, the status bar's indicator, and
    Settings → Remote after a "Test connection" to a Chroma server that is not there."""
    dialog = window.open_settings("server")
    assert dialog is not None
    dialog.resize(640, 730)
    page = dialog.server_page
    page.enabled.setChecked(True)
    page.port.setValue(_port())
    _wait(app, lambda: bool(page.token.text()), 30)
    dialog.apply_button.click()
    _wait(app, lambda: page.status.property("state") == "ok" and not dialog.applying.isVisible(), 60)
    _save(dialog, "settings-server", app)
    dialog.show_page("remote")
    remote = dialog.remote_page
    remote.chroma_url.setText(f"http://127.0.0.1:{_port(8000)}")
    remote.buttons["chroma"].click()
    _wait(app, lambda: remote.buttons["chroma"].isEnabled(), 30)
    _save(dialog, "settings-remote", app)
    dialog.reject()
    _save(window.status, "server-status", app)


def speculation_settings_shot(dialog: QWidget, app: QApplication) -> None:
    """Settings → Model scrolled to speculative decoding, once the draft candidates are listed."""
    _wait(app, lambda: dialog.draft_candidates is not None, 60)  # type: ignore[attr-defined]
    page = dialog.tabs.currentWidget()  # type: ignore[attr-defined]
    page.verticalScrollBar().setValue(page.verticalScrollBar().maximum())
    _save(dialog, "settings-speculation", app)


def speculation_answer_shot(window: MainWindow, app: QApplication) -> None:
    """An answer that quotes the question, with the text from accepted n-gram drafts tinted, and the status
    bar's speculation summary."""
    import copy

    ctl = window.ctl
    assert ctl is not None
    settings = copy.deepcopy(window.assistant.settings)
    settings.model.speculative, settings.model.temperature = "ngram", 0.0
    settings.appearance.tint_drafts = True
    window.assistant.update_settings(settings)
    ctl.chat.new_chat()
    window.composer.select_collections([])
    window.composer.edit.setPlainText(
        "Fix the spelling in this paragraph and repeat it:\n\nThe lighthouse stood on a rock at the edge of the "
        "bay. Every nihgt the keeper climbed the one hundred and twelve steps to light the lamp, and every "
        "morning he wrote the wheather in a thick green book.")
    window.composer._submit()
    _wait(app, lambda: not ctl.chat.generating)
    _save(window, "speculation-tint", app)


def models_shot(window: MainWindow, app: QApplication) -> None:
    """The Models view: the library with fit pills and the current model, while a catalog model is listed."""
    assert window.ctl is not None
    dialog = window.ctl.models.open()
    dialog.resize(760, 560)
    _wait(app, lambda: len(dialog.library.rows) >= 2 and bool(dialog.catalog.rows), 60)
    _save(dialog, "models", app)
    dialog.reject()


def memory_shot(window: MainWindow, app: QApplication) -> None:
    """Memory learning from a chat with no CLI call: the status-bar indicator, the memory manager, then a new
    chat whose answer used a memory (the chip under it opens the list in the source panel)."""
    ctl = window.ctl
    assert ctl is not None
    ctl.chat.new_chat()
    window.composer.select_collections([])
    for said in ("Please remember this: my dog is called Biscuit.",
                 "Can you suggest a gift for my wife Marta? She loves gardening."):
        window.composer.edit.setPlainText(said)
        window.composer._submit()
        _wait(app, lambda: bool(window.learning.text()), 120)
        _wait(app, lambda: not ctl.chat.generating, 120)
    _save(window, "memory-learning", app)
    dialog = ctl.memory.open()
    dialog.resize(560, 420)
    _wait(app, lambda: len(dialog.model.items()) >= 2 and not window.learning.text(), 240)
    _save(dialog, "memory", app)
    dialog.reject()
    ctl.chat.new_chat()
    window.composer.edit.setPlainText("What's my dog called?")
    window.composer._submit()
    _wait(app, lambda: not ctl.chat.generating, 120)
    answer = window.chat_view.last("assistant")
    if answer is not None and answer.memories:
        answer.sourceRequested.emit(None)
    _save(window, "memory-used", app)


def memory_import_shot(window: MainWindow, app: QApplication) -> None:
    """The memory manager after importing what another computer's Hearth exported (two entries unusable)."""
    import json
    import uuid

    ctl = window.ctl
    assert ctl is not None
    export = Path(os.environ["HEARTH_HOME"]) / "from-my-old-laptop.json"
    facts = ("User lives in Bergen", "User plays the cello", "User is vegetarian", "User's sister Marta lives in Oslo",
             "User prefers short answers", "User's bike is a green Brompton")
    export.write_text(json.dumps([{"id": str(uuid.uuid4()), "text": fact, "created_at": "2026-03-01T10:00:00+00:00"}
                                  for fact in facts] + [{"text": ""}, 7]))
    dialog = ctl.memory.open()
    dialog.resize(560, 460)
    ctl.memory.import_file(export)  # what Import… does with the file chosen
    _wait(app, lambda: dialog.transfer.label.text().startswith("Imported"), 120)
    _wait(app, lambda: "memories" in dialog.status.text(), 30)
    _save(dialog, "memory-import", app)
    dialog.reject()


def _with_theme(settings: object, name: str) -> object:
    import copy

    dark = copy.deepcopy(settings)
    dark.appearance.theme = name  # type: ignore[attr-defined]
    return dark


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
