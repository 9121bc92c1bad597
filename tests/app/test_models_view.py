"""The Models view in a real window: library with fit pills, Hub search, download with cancel/resume, switch."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from gui_helpers import write_settings
from hub_server import FakeHub, serve_hub, write_tiny_gguf
from huggingface_hub import constants
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.views.models_view import ModelRow, ModelsDialog
from assistant.models.library import LIBRARY
from assistant.paths import get_paths

CHUNK = 16 * 1024


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    import assistant.models.downloads as downloads

    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", CHUNK)
    monkeypatch.setattr(downloads, "REPORT_EVERY_S", 0.0)  # every chunk reports, so the stall shows progress
    with serve_hub() as fake:
        yield fake


def _rows(dialog: ModelsDialog, tab: str = "library") -> dict[str, ModelRow]:
    return {r.title.accessibleName(): r for r in getattr(dialog, tab).rows if isinstance(r, ModelRow)}


def _message(dialog: ModelsDialog) -> str:
    """The Hub search's message (no rows), as shown."""
    labels = dialog.results.widget().findChildren(QLabel)
    return labels[0].text() if len(labels) == 1 and labels[0].wordWrap() else ""


def _open(window: MainWindow, qtbot: QtBot) -> ModelsDialog:
    qtbot.mouseClick(window.chat_view.welcome.get_models, Qt.MouseButton.LeftButton)
    dialog = window.ctl.models.dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: "Gemma 3 270M" in _rows(dialog), timeout=20_000)
    return dialog


def test_library_shows_human_names_fit_pills_and_the_current_model(make_window, qtbot: QtBot,
                                                                   base_model_path: Path) -> None:
    write_settings()
    get_paths().config_dir.joinpath("model-profiles.toml").write_text(
        f'[models."{base_model_path.resolve()}"]\nn_ctx = 32768\n')  # Gemma's own context, as Use loads it
    window = make_window()
    dialog = _open(window, qtbot)
    smol = _rows(dialog)["SmolLM2 135M Instruct"]
    assert smol.fit is not None and smol.fit.text() in ("Fits", "Tight", "Won't fit")
    assert "at 2048 tokens" in smol.note.text() and "at 32768 tokens" in _rows(dialog)["Gemma 3 270M"].note.text()
    assert "CPU" in smol.fit.toolTip() and smol.note.text() == smol.fit.toolTip()
    use, draft, remove = smol.buttons
    assert "current" in smol.title.text() and not use.isEnabled() and not remove.isEnabled()  # bundled
    assert not draft.isEnabled() and "is already Q4_1" in draft.toolTip()  # it gets no self-draft, and why
    # a narrow window puts each row's buttons under its text: at 420 pixels the view scrolled sideways to Remove
    def laid_out(narrow: bool) -> bool:  # the rows as shown now (a library read meanwhile replaces them)
        viewport, rows = dialog.library.viewport(), _rows(dialog).values()
        return dialog.library.horizontalScrollBar().maximum() == 0 and all(
            r.buttons[-1].mapTo(viewport, QPoint(r.buttons[-1].width(), 0)).x() <= viewport.width()
            and (r.side.y() > r.note.y()) == narrow for r in rows)

    rows = _rows(dialog).values()  # 420 pixels, or as narrow as the buttons allow with a larger font
    narrow = max(420, max(r.side.sizeHint().width() for r in rows) + 120)
    assert narrow < min(r.wide_width() for r in rows)
    dialog.resize(narrow, 360)
    qtbot.waitUntil(lambda: laid_out(narrow=True), timeout=10_000)
    dialog.resize(max(760, max(r.wide_width() for r in _rows(dialog).values()) + 60), 600)
    qtbot.waitUntil(lambda: laid_out(narrow=False), timeout=10_000)  # beside the text again
    qtbot.waitUntil(lambda: bool(_rows(dialog, "catalog")), timeout=20_000)
    assert all(r.fit is not None and r.fit.text() in ("Fits", "Tight", "Won't fit")
               for r in _rows(dialog, "catalog").values())
    # a copy of its own in use: Remove was clickable, then refused ("…is the model in use")
    own = dataclasses.replace(next(e for e in window.assistant.models.library.entries()
                                   if e.name == "SmolLM2 135M Instruct"), source=LIBRARY)
    dialog.set_library([own], own.path)
    remove = _rows(dialog)["SmolLM2 135M Instruct"].buttons[-1]
    assert not remove.isEnabled() and remove.toolTip() == "It is the model in use: switch to another model first."


def test_download_from_the_hub_with_progress_cancel_and_resume(window: MainWindow, qtbot: QtBot, hub: FakeHub,
                                                                tmp_path: Path) -> None:
    data = write_tiny_gguf(tmp_path / "tiny.gguf", rows=2048).read_bytes()
    hub.add("hearth-test/Tiny-GGUF", "tiny-chat-Q8_0.gguf", data)
    window.assistant.models.endpoint = hub.url
    dialog = _open(window, qtbot)
    dialog.tabs.setCurrentIndex(2)
    dialog.query.setText("tiny")
    qtbot.keyClick(dialog.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "tiny-chat-Q8_0.gguf" in _rows(dialog, "results"), timeout=20_000)
    row = _rows(dialog, "results")["tiny-chat-Q8_0.gguf"]
    assert row.details.text() == f"{len(data) / 1e6:.0f} MB" and row.fit is not None

    panel = dialog.download
    window.assistant.models.endpoint = "http://127.0.0.1:9"  # offline: a first download that fails has nothing
    qtbot.mouseClick(row.buttons[0], Qt.MouseButton.LeftButton)  # to resume, and offered "Resume"
    qtbot.waitUntil(panel.resume.isVisible, timeout=20_000)
    assert "Could not reach the Hub" in panel.label.text() and panel.resume.text() == "Retry"
    window.assistant.models.endpoint = hub.url

    hub.stall_after = 4 * CHUNK
    qtbot.mouseClick(row.buttons[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.isVisible() and 0 < panel.bar.value() < 100, timeout=20_000)
    assert "MB/s" in panel.label.text() and panel.cancel.isVisible()
    qtbot.mouseClick(panel.cancel, Qt.MouseButton.LeftButton)
    hub.release.set()
    qtbot.waitUntil(panel.resume.isVisible, timeout=20_000)
    assert "cancelled" in panel.label.text() and not window.ctl.models.downloading
    assert panel.resume.text() == "Resume"

    with qtbot.waitSignal(window.ctl.models.downloadFinished, timeout=30_000) as finished:
        qtbot.mouseClick(panel.resume, Qt.MouseButton.LeftButton)
    # what was on disk at the cancel (the client may not have read all the server sent before it stalled)
    assert 0 < finished.args[0].resumed_from <= 4 * CHUNK and finished.args[0].verified
    assert "It is in the Library" in panel.label.text() and dialog.tabs.currentIndex() == 0
    qtbot.waitUntil(lambda: "Tiny Chat" in _rows(dialog), timeout=20_000)
    assert _rows(dialog)["Tiny Chat"].buttons[-1].isEnabled()  # Hearth's own copy: removable

    window.assistant.models.endpoint = "http://127.0.0.1:9"  # offline: a search's error is read whole (its end,
    dialog.tabs.setCurrentIndex(2)                            # what to do, was behind a horizontal scroll bar)
    qtbot.keyClick(dialog.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Could not reach" in _message(dialog), timeout=20_000)
    assert _message(dialog).endswith("the connection was refused. Check the internet connection.")
    assert not dialog.results.horizontalScrollBar().isVisible()


def test_a_self_draft_is_made_from_the_library_with_progress_and_cancel(window: MainWindow, qtbot: QtBot,
                                                                         smollm2_f16_path: Path) -> None:
    """Settings → Model's "Self" mode said "not made yet: `hearth models draft …`": the window could not make
    the self-draft it asked for. The library's row makes it (progress, Cancel, nothing left when cancelled)."""
    window.assistant.models.add(smollm2_f16_path)
    dialog = _open(window, qtbot)
    window.ctl.model.refresh_library()

    def f16() -> ModelRow | None:
        return next((r for r in dialog.library.rows if isinstance(r, ModelRow) and " F16 " in r.details.text()),
                    None)

    qtbot.waitUntil(lambda: f16() is not None, timeout=20_000)
    make = f16().buttons[1]
    assert make.text() == "Make self-draft" and make.isEnabled()
    drafts = window.assistant.paths.models_dir / "drafts"
    models = window.ctl.models
    models.draft_cancel_requested()  # a cancel before the run is not the run's: it starts with its own
    qtbot.mouseClick(make, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.draft.cancel, Qt.MouseButton.LeftButton)  # at once: before the copy is written
    qtbot.waitUntil(lambda: models.drafting is None, timeout=60_000)
    assert "cancelled; nothing was written" in dialog.draft.label.text() and not dialog.draft.resume.isVisible()
    assert not any(drafts.glob("*")) if drafts.exists() else True

    qtbot.mouseClick(f16().buttons[1], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: models.drafting is None, timeout=60_000)
    assert dialog.draft.label.text().startswith("Made a ") and "self-draft of SmolLM2 135M Instruct" in \
        dialog.draft.label.text()
    qtbot.waitUntil(lambda: f16().buttons[1].text() == "Self-draft made", timeout=20_000)
    assert not f16().buttons[1].isEnabled() and [p.name.split(".")[-2] for p in drafts.glob("*.gguf")] == [
        "self-Q4_0"]


def test_use_switches_with_load_percentage_and_a_load_can_be_cancelled(window: MainWindow, qtbot: QtBot) -> None:
    settings = window.ctl.model.open_settings()  # answers of 32 tokens, chosen before Gemma was ever used
    settings.max_tokens.setValue(32)
    window.ctl.model.lastApplied = None
    settings.accept()
    qtbot.waitUntil(lambda: window.ctl.model.lastApplied is not None, timeout=20_000)
    dialog = _open(window, qtbot)
    seen: list[tuple[str, int]] = []
    window.ctl.model.loadProgress.connect(lambda text, percent: seen.append((text, percent)))
    with qtbot.waitSignal(window.ctl.model.loadFinished, timeout=60_000):
        qtbot.mouseClick(_rows(dialog)["Gemma 3 270M"].buttons[0], Qt.MouseButton.LeftButton)
        assert window.status.load_bar.isVisible() and dialog.load.isVisible()
    assert seen and seen[-1][1] == 100 and all(text.startswith("Loading Gemma 3 270M… ") for text, _ in seen)
    assert window.assistant.engine.info.name == "Gemma 3 270M" and not window.status.load_bar.isVisible()
    assert dialog.load.label.text() == "Now using Gemma 3 270M Q4_K_M."
    # a model never used starts from the values in use (the defaults came in: 1024 tokens, unsaid)
    assert window.assistant.settings.model.max_tokens == 32
    intro = window.chat_view.welcome.intro.text()  # the welcome panel names the model that answers now
    assert "Answers come from <b>Gemma 3 270M</b>, on this computer" in intro and "fully offline" in intro
    rows = _rows(dialog)  # the current mark moved with the message (it waited for the library's next read)
    assert "current" in rows["Gemma 3 270M"].title.text()
    assert "current" not in rows["SmolLM2 135M Instruct"].title.text()

    with qtbot.waitSignal(window.ctl.model.loadFinished, timeout=60_000):
        qtbot.mouseClick(_rows(dialog)["SmolLM2 135M Instruct"].buttons[0], Qt.MouseButton.LeftButton)
        qtbot.mouseClick(window.status.cancel_load, Qt.MouseButton.LeftButton)
    assert window.assistant.engine.info.name == "Gemma 3 270M" and window.ctl.model.error is None
    assert "kept: the load was cancelled" in window.status.model.text()
    # the view said "Now using Gemma 3 270M.", as if the switch had happened
    assert dialog.load.label.text() == "Still using Gemma 3 270M Q4_K_M: the load was cancelled."

    # Use on one model and, during its load, on another: they load in turn and the last one is said (the first
    # one's end said "Still using SmolLM2 …: the new model could not load", and the second then said nothing)
    gemma = Path(window.assistant.engine.info.path)
    said: list[str] = []
    window.ctl.model.loadFinished.connect(lambda _ok: said.append(dialog.load.label.text()))
    window.ctl.models.use(gemma.parent / "SmolLM2-135M-Instruct.Q4_1.gguf")
    window.ctl.models.use(gemma)
    qtbot.waitUntil(lambda: len(said) == 2, timeout=60_000)
    assert window.assistant.engine.info.name == "Gemma 3 270M"
    assert dialog.load.label.text() == "Now using Gemma 3 270M Q4_K_M." and "Still using" not in " ".join(said)


def test_use_while_an_answer_is_written_says_the_model_waits_for_it(make_window, qtbot: QtBot) -> None:
    """Use while SmolLM2 wrote a long answer: the status bar said "Loading Gemma 3 270M… 100%" for the 25 s the
    answer ran on, while the loaded model waited for it. It says so now, and Stop lets the new model in."""
    write_settings(max_tokens=4000, n_ctx=8192)
    window = make_window()
    dialog = _open(window, qtbot)
    window.composer.edit.setPlainText("Write a very long story about a lighthouse keeper and his cat.")
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(window.chat_view.last("assistant").text) > 20, timeout=60_000)
    with qtbot.waitSignal(window.ctl.model.loadFinished, timeout=120_000):
        qtbot.mouseClick(_rows(dialog)["Gemma 3 270M"].buttons[0], Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "is loaded" in window.status.model.text(), timeout=60_000)
        assert window.status.model.text() == ("Gemma 3 270M is loaded: it answers once the answer being written "
                                              "ends (Stop, in its chat, ends it now)") and window.ctl.chat.generating
        window.ctl.chat.stop()
    assert window.assistant.engine.info.name == "Gemma 3 270M"


def test_use_while_a_remote_llm_answers_records_the_model_and_loads_nothing(window: MainWindow, qtbot: QtBot) -> None:
    """"Use" while answers come from a remote LLM only records the local model (it loads when the remote LLM
    is switched off): loading it took memory and time for a model that answered nothing, and the view said
    "Now using" it."""
    import copy

    from llama_server import closed_port

    assistant = window.assistant
    settings = copy.deepcopy(assistant.settings)
    settings.remote.llm_url = f"http://127.0.0.1:{closed_port()}"  # nothing listens: "Use" must not connect
    assistant.update_settings(settings)
    assert not assistant._local_engine.loaded  # the remote LLM took over and freed the local model
    dialog = _open(window, qtbot)
    with qtbot.waitSignal(window.ctl.model.recorded, timeout=20_000):
        qtbot.mouseClick(_rows(dialog)["Gemma 3 270M"].buttons[0], Qt.MouseButton.LeftButton)
    said = "gemma-3-270m-q4_k_m.gguf is the local model now: it loads when the remote LLM is switched off"
    assert dialog.load.label.text().startswith(said) and not window.status.load_bar.isVisible()
    assert window.status.model.text().startswith("Remote model at") and said in window.status.model.toolTip()
    assert window.status.device.text() == f"remote: {settings.remote.llm_url.removeprefix('http://')}"
    assert not assistant._local_engine.loaded and Path(assistant.settings.model.path).name == "gemma-3-270m-q4_k_m.gguf"
    intro = window.chat_view.welcome.intro.text()  # no "nothing leaves this computer" while prompts do
    assert f"remote model at {settings.remote.llm_url}</b>: what you type is sent there" in intro
    assert "<b>gemma-3-270m-q4_k_m.gguf</b>, answers once the remote model is switched off" in intro
    assert "offline" not in intro
    qtbot.waitUntil(lambda: "current" in _rows(dialog)["Gemma 3 270M"].title.text(), timeout=20_000)
    # a context applied in Settings meanwhile loads nothing either; the open view's fit follows it at once (it
    # kept the old context until the dialog was opened again: only a load read the library again)
    assert "at 1024 tokens" not in _rows(dialog)["Gemma 3 270M"].note.text()
    edited = copy.deepcopy(assistant.settings)
    edited.model.n_ctx = 1024
    with qtbot.waitSignal(window.ctl.model.applied, timeout=20_000):
        window.ctl.model.apply(edited, Path(assistant.settings.model.path))
    assert not assistant._local_engine.loaded
    qtbot.waitUntil(lambda: "at 1024 tokens" in _rows(dialog)["Gemma 3 270M"].note.text(), timeout=20_000)


def test_two_precisions_of_one_model_are_told_apart_and_remove_says_what_it_does(
        make_window, qtbot: QtBot, smollm2_q8_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A Q8_0 beside the bundled Q4_1 of SmolLM2 made two rows, two "Use SmolLM2 135M Instruct" buttons and two
    choices in Settings, all alike; Remove's question gave the rule for both kinds of file, not what it does."""
    write_settings()
    window = make_window()
    dialog = _open(window, qtbot)
    # Add model file… (only Settings → Browse… could add one in the window); a file that is no model is said
    not_a_model = tmp_path / "notes.gguf"
    not_a_model.write_text("this is not a model")
    chosen = [not_a_model, smollm2_q8_path]
    monkeypatch.setattr("app.views.models_view.QFileDialog.getOpenFileName",
                        lambda *_args: (str(chosen.pop(0)), "GGUF models (*.gguf)"))
    errors: list[str] = []
    monkeypatch.setattr("app.controllers.models.show_error", lambda _parent, _title, message: errors.append(message))
    qtbot.mouseClick(dialog.add_file, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(errors), timeout=20_000)
    assert "notes.gguf" in errors[0] and "GGUF" in errors[0], errors
    qtbot.mouseClick(dialog.add_file, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "SmolLM2 135M Instruct Q8_0" in _rows(dialog), timeout=20_000)
    assert dialog.load.label.text() == f"Added {smollm2_q8_path.name} to the library: Use loads it."
    rows = _rows(dialog)
    assert "SmolLM2 135M Instruct Q4_1" in rows and "SmolLM2 135M Instruct" not in rows
    assert rows["SmolLM2 135M Instruct Q8_0"].buttons[0].accessibleName() == "Use SmolLM2 135M Instruct Q8_0"
    assert rows["Gemma 3 270M"].title.accessibleName() == "Gemma 3 270M"  # no twin: its name alone
    settings = window.ctl.model.open_settings()
    window.ctl.model.refresh_library()
    qtbot.waitUntil(lambda: settings.model.findText("SmolLM2 135M Instruct Q8_0", Qt.MatchFlag.MatchStartsWith) >= 0,
                    timeout=20_000)
    settings.reject()
    asked: list[str] = []
    monkeypatch.setattr("app.controllers.models.confirm", lambda _parent, _title, text, *_args: asked.append(text))
    qtbot.mouseClick(rows["SmolLM2 135M Instruct Q8_0"].buttons[-1], Qt.MouseButton.LeftButton)
    assert asked == [f"Forget SmolLM2 135M Instruct Q8_0? Hearth stops listing it; the file stays where it is: "
                     f"{smollm2_q8_path.resolve()}."]


def test_the_list_follows_a_terminal_and_use_of_a_model_removed_there_is_refused(
        make_window, qtbot: QtBot, smollm2_q8_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`hearth models add` and `remove` in a terminal were not seen by the open view (nor by Settings) until it was
    opened again, and Use on the row of a model removed there loaded it and put it back in the library, unsaid."""
    import os
    import subprocess
    import sys

    def terminal(*args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "app", "models", *args], capture_output=True, text=True,
                              env={**os.environ, "HEARTH_HOME": os.environ["HEARTH_HOME"]}, timeout=120)
        assert done.returncode == 0, done.stderr

    write_settings()
    window = make_window()
    dialog = _open(window, qtbot)
    assert "SmolLM2 135M Instruct Q8_0" not in _rows(dialog)
    terminal("add", str(smollm2_q8_path))
    dialog.activated.emit()  # the user comes back to the view (as its changeEvent says on activation)
    qtbot.waitUntil(lambda: "SmolLM2 135M Instruct Q8_0" in _rows(dialog), timeout=20_000)
    use = _rows(dialog)["SmolLM2 135M Instruct Q8_0"].buttons[0]
    terminal("remove", str(smollm2_q8_path))  # while its row is still shown
    errors: list[str] = []
    monkeypatch.setattr("app.controllers.model.show_error", lambda _parent, _title, message: errors.append(message))
    qtbot.mouseClick(use, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(errors), timeout=20_000)
    assert errors == [f"{smollm2_q8_path.name} is no longer in the library: it was removed elsewhere (`hearth models "
                      "remove` in a terminal?). Add it again to use it."]
    qtbot.waitUntil(lambda: "SmolLM2 135M Instruct Q8_0" not in _rows(dialog), timeout=20_000)
    # said as a refusal, not as a load that failed ("the new model could not load": none was tried)
    assert dialog.load.label.text() == f"Still using SmolLM2 135M Instruct Q4_1: {errors[0].rstrip('.')}."
    assert window.status.model.text() == "SmolLM2 135M Instruct Q4_1 (kept: the other model was not loaded)"
    assert window.assistant.engine.info.quantization == "Q4_1"
    assert not window.assistant.models.library.lists(smollm2_q8_path)
    # Settings → Model too: its list follows the terminal when the dialog is come back to, and a model chosen
    # there and removed before Apply is refused (it loaded it and put it back in the library)
    settings = window.ctl.model.open_settings()
    terminal("add", str(smollm2_q8_path))
    settings.activated.emit()
    qtbot.waitUntil(lambda: settings.model.findText("SmolLM2 135M Instruct Q8_0", Qt.MatchFlag.MatchStartsWith) >= 0,
                    timeout=20_000)
    settings.model.setCurrentIndex(settings.model.findText("SmolLM2 135M Instruct Q8_0", Qt.MatchFlag.MatchStartsWith))
    terminal("remove", str(smollm2_q8_path))
    settings._apply_clicked()
    assert settings.apply_result.text().startswith(f"{smollm2_q8_path.name} is no longer in the library")
    assert window.assistant.engine.info.quantization == "Q4_1"
    assert not window.assistant.models.library.lists(smollm2_q8_path)
    qtbot.waitUntil(lambda: settings.model.findText("SmolLM2 135M Instruct Q8_0", Qt.MatchFlag.MatchStartsWith) < 0,
                    timeout=20_000)
    settings.reject()


def test_a_chat_model_that_cannot_be_read_is_said_in_the_welcome_panel_and_the_draft_picker(
        qtbot: QtBot, tmp_path: Path, chat_model_path: Path) -> None:
    """With the model set unreadable (a truncated download), the welcome panel said "Answers come from
    truncated.gguf" while nothing could answer, and the draft picker called the bundled model, which was there,
    "(not found)": the drafts could not be checked against a model that could not be read."""
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(chat_model_path.read_bytes()[:4096])
    write_settings(path=str(truncated), speculative="draft", draft_model=str(chat_model_path))
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.ready, timeout=30_000) as blocker:
        pass
    assert blocker.args == [False]
    intro = window.chat_view.welcome.intro.text()
    assert "The model set to answer, <b>truncated.gguf</b>, could not be loaded (" in intro, intro
    assert "Answers come from" not in intro
    dialog = window.ctl.model.open_settings()
    qtbot.waitUntil(lambda: dialog.draft_candidates is not None, timeout=20_000)
    assert dialog.draft_model.currentText() == f"{chat_model_path} (cannot be checked now)"
    assert "the draft models could not be listed" in dialog.draft_model.currentData(Qt.ItemDataRole.ToolTipRole)
    dialog.reject()
    window.close()


def test_no_self_draft_is_offered_for_a_model_that_wont_fit(window: MainWindow, qtbot: QtBot,
                                                             smollm2_f16_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A model marked "Won't fit" (Use refused it) was offered Make self-draft, and `hearth models draft` of a
    70B model began writing 7.3 GB: a draft for a model that cannot answer is of no use."""
    from assistant.models import Resources, library, service
    from assistant.models.drafts import NoDraftError

    window.assistant.models.add(smollm2_f16_path)
    for module in (library, service):  # 64 MiB free
        monkeypatch.setattr(module, "probe_resources", lambda: Resources(64 * 2**20, False, None))
    dialog = _open(window, qtbot)
    window.ctl.model.refresh_library()

    def f16() -> ModelRow | None:
        return next((r for r in dialog.library.rows if isinstance(r, ModelRow) and " F16 " in r.details.text()),
                    None)

    qtbot.waitUntil(lambda: f16() is not None and "Won't fit" in f16().note.text(), timeout=20_000)
    make = f16().buttons[1]
    assert make.text() == "Make self-draft" and not make.isEnabled()
    assert "won't fit on this computer (needs " in make.toolTip() and "of no use" in make.toolTip()
    with pytest.raises(NoDraftError, match="won't fit on this computer"):  # as `hearth models draft` is refused
        window.assistant.models.make_self_draft(smollm2_f16_path)


def test_a_folder_added_says_what_it_holds(make_window, qtbot: QtBot, chat_model_path: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Add folder… said only "Added my-models to the library", and the CLI counted an empty file and one that is
    no GGUF as models ("It holds 3 models")."""
    folder = tmp_path / "my-models"
    (folder / "nested").mkdir(parents=True)
    shutil.copyfile(chat_model_path, folder / "nested" / "smol-copy.gguf")
    (folder / "empty.gguf").touch()
    (folder / "notes.gguf").write_text("this is not a model")
    write_settings()
    window = make_window()
    dialog = _open(window, qtbot)
    monkeypatch.setattr("app.views.models_view.QFileDialog.getExistingDirectory", lambda *_args: str(folder))
    qtbot.mouseClick(dialog.add_folder, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.load.label.text().startswith("Added"), timeout=20_000)
    assert dialog.load.label.text() == \
        "Added my-models to the library: it holds 1 model and 2 files that cannot be used."


def test_a_folder_added_in_the_window_reads_each_header_once(make_window, qtbot: QtBot, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Add folder… read each model's header twice: once to say what the folder holds, once more when the
    library's list was read again."""
    import assistant.engine.gguf_info as gguf_info

    folder = tmp_path / "my-models"
    folder.mkdir()
    write_tiny_gguf(folder / "tiny.gguf")
    write_settings()
    window = make_window()
    dialog = _open(window, qtbot)
    read, read_file = [], gguf_info._read_file
    monkeypatch.setattr(gguf_info, "_read_file", lambda path: (read.append(Path(path)), read_file(path))[1])
    monkeypatch.setattr("app.views.models_view.QFileDialog.getExistingDirectory", lambda *_args: str(folder))
    qtbot.mouseClick(dialog.add_folder, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Tiny" in _rows(dialog), timeout=20_000)
    assert dialog.load.label.text() == "Added my-models to the library: it holds 1 model."
    assert [p.name for p in read if p.is_relative_to(folder)] == ["tiny.gguf"]


def test_a_folder_added_stops_being_listed_from_the_window(make_window, qtbot: QtBot, smollm2_q8_path: Path,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder added in the window could not be taken out there: every row from it had Remove greyed ("… files in
    your own folders stay where they are") and only `hearth models remove FOLDER` stopped listing it. Models →
    Folders… does now, asked first; the folder holding the model in use is refused with the reason."""
    from assistant.models import ModelLibrary

    folder = tmp_path / "my-models"
    folder.mkdir()
    copy = folder / smollm2_q8_path.name
    shutil.copyfile(smollm2_q8_path, copy)
    ModelLibrary.for_paths(get_paths().ensure()).add(folder)
    write_settings(path=str(copy))
    window = make_window()
    dialog = _open(window, qtbot)
    qtbot.waitUntil(lambda: "SmolLM2 135M Instruct Q8_0" in _rows(dialog), timeout=20_000)
    remove = _rows(dialog)["SmolLM2 135M Instruct Q8_0"].buttons[-1]
    assert not remove.isEnabled() and "Folders… stops listing that folder" in remove.toolTip()
    assert dialog.folders.focusPolicy() & Qt.FocusPolicy.TabFocus  # reachable from the keyboard

    qtbot.mouseClick(dialog.folders, Qt.MouseButton.LeftButton)
    folders = window.ctl.models.folders
    assert folders is not None and folders.isVisible()
    qtbot.waitUntil(lambda: bool(folders.rows.rows), timeout=20_000)
    [row] = folders.rows.rows
    assert isinstance(row, ModelRow) and row.title.accessibleName() == "my-models"
    assert row.details.text() == str(folder.resolve()) and row.note.text() == "It holds 1 model."
    asked: list[str] = []
    errors: list[str] = []
    monkeypatch.setattr("app.controllers.models.confirm",
                        lambda _parent, _title, text, _action, on_yes: (asked.append(text), on_yes()))
    monkeypatch.setattr("app.controllers.models.show_error", lambda _parent, _title, message: errors.append(message))
    qtbot.mouseClick(row.buttons[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(errors), timeout=20_000)
    assert asked[0].startswith(f"Stop listing the models in {folder.resolve()}? The files stay where they are")
    assert f"holds {copy.name}, the model in use. Switch to another model first" in errors[0], errors

    qtbot.mouseClick(_rows(dialog)["SmolLM2 135M Instruct Q4_1"].buttons[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ctl.models.switching == 0 and "current" in
                    _rows(dialog)["SmolLM2 135M Instruct Q4_1"].title.text(), timeout=60_000)
    qtbot.mouseClick(folders.rows.rows[0].buttons[0], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not folders.rows.rows and "SmolLM2 135M Instruct Q8_0" not in _rows(dialog)
                    and "SmolLM2 135M Instruct" in _rows(dialog), timeout=20_000)
    assert copy.exists() and len(errors) == 1


def test_identical_copies_say_where_they_are_in_the_settings_pickers(make_window, qtbot: QtBot,
                                                                      smollm2_q8_path: Path, tmp_path: Path) -> None:
    """The same Q8_0 in Hearth's models folder, in an added folder and linked was "SmolLM2 135M Instruct Q8_0
    (145 MB)" three times in Settings → Model's model picker and its draft-model picker."""
    from assistant.models import ModelLibrary

    paths = get_paths().ensure()
    folder = tmp_path / "lmstudio" / "SmolLM2-GGUF"
    folder.mkdir(parents=True)
    for where in (paths.models_dir, folder):
        where.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(smollm2_q8_path, where / smollm2_q8_path.name)
    library = ModelLibrary.for_paths(paths)
    library.add(tmp_path / "lmstudio")
    library.add(smollm2_q8_path)
    write_settings()
    window = make_window()
    settings = window.ctl.model.open_settings()
    window.ctl.model.refresh_library()
    name = "SmolLM2 135M Instruct Q8_0 — "

    def listed(box) -> list[str]:
        return [box.itemText(i) for i in range(box.count()) if box.itemText(i).startswith(name)]

    qtbot.waitUntil(lambda: len(listed(settings.model)) == 3, timeout=20_000)
    size = f"  ({smollm2_q8_path.stat().st_size / 1e6:.0f} MB)"
    assert sorted(listed(settings.model)) == sorted(
        f"{name}…/{p.parent.parent.name}/{p.parent.name}{size}"
        for p in (paths.models_dir / smollm2_q8_path.name, folder / smollm2_q8_path.name, smollm2_q8_path.resolve()))
    assert "SmolLM2 135M Instruct Q4_1  (" in settings.model.itemText(settings.model.currentIndex())  # alone: plain
    qtbot.waitUntil(lambda: settings.draft_candidates is not None, timeout=20_000)
    drafts = listed(settings.draft_model)
    assert len(drafts) == 3 and len(set(drafts)) == 3 and any("…/lmstudio/SmolLM2-GGUF" in d for d in drafts), drafts
    settings.reject()
