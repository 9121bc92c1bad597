"""Settings → Server and Settings → Remote with real widgets over a fast fake engine (tests/fakes.py) and the
REAL API server (the facade's ``start_server``: uvicorn on a thread, on a free port the test picks).

The window's parts are real: the dialog, the status-bar indicator, the worker lanes; only the model is fake, so
each window opens in well under a second and the server answers ``/health`` without loading anything.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from fakes import FakeEmbedder, fake_engine
from gui_helpers import fill_status_bar
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox
from pytestqt.qtbot import QtBot

from app.main_window import MainWindow
from app.views.settings_dialog import SettingsDialog
from assistant.config import Settings, load_settings
from assistant.core import Assistant
from assistant.knowledge import KnowledgeBase
from assistant.paths import get_paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health(url: str) -> int | None:
    """``GET /health``'s status code, or None when nothing answers."""
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code
    except httpx.TransportError:
        return None


@pytest.fixture
def open_fake_window(qtbot: QtBot) -> Iterator[Callable[[Settings], MainWindow]]:
    """A real window over an assistant with a fake engine and embedder, with the given settings."""
    opened: list[MainWindow] = []

    def make(settings: Settings) -> MainWindow:
        settings.memory.enabled = False
        paths = get_paths()

        def opener() -> Assistant:
            return Assistant(paths, settings, engine=fake_engine(),
                             knowledge=KnowledgeBase(paths, settings.knowledge, embedder=FakeEmbedder()))

        window = MainWindow(opener=opener)
        qtbot.addWidget(window)
        window.show()
        with qtbot.waitSignal(window.ready, timeout=30_000):
            pass
        opened.append(window)
        return window

    yield make
    for window in opened:
        window.close()  # closes the assistant, which stops its server


def open_server_page(window: MainWindow) -> SettingsDialog:
    dialog = window.open_settings("server")
    assert isinstance(dialog, SettingsDialog) and dialog.isVisible()
    assert dialog.tabs.currentWidget().widget() is dialog.server_page
    return dialog


def test_server_page_round_trips_the_settings(qtbot: QtBot, open_fake_window) -> None:
    settings = Settings()
    settings.server.host, settings.server.port, settings.server.parallel = "0.0.0.0", 9123, 3
    settings.server.cors_origins = "http://localhost:3000"
    settings.remote.chroma_url, settings.remote.llm_model = "http://chroma.lan:8000", "qwen"
    window = open_fake_window(settings)
    intro = window.chat_view.welcome.intro  # what the welcome panel says about where text goes
    assert "Chroma server at http://chroma.lan:8000</b>: the text of the files you drop in is sent" in intro.text()
    assert "offline" not in intro.text() and "remote model" not in intro.text()
    dialog = open_server_page(window)
    page = dialog.server_page
    assert (page.enabled.isChecked(), page.host.currentText(), page.port.value(), page.parallel.value(),
            page.cors.text()) == (False, "0.0.0.0", 9123, 3, "http://localhost:3000")
    assert page.host_warning.isVisible()  # not loopback: reachable from other computers, needs the token
    page.host.setCurrentText("127.0.0.1")
    assert not page.host_warning.isVisible()
    assert (dialog.remote_page.chroma_url.text(), dialog.remote_page.llm_model.text()) == ("http://chroma.lan:8000",
                                                                                          "qwen")
    qtbot.waitUntil(lambda: bool(page.token.text()))  # the core made the token on first use (off the GUI thread)
    token = window.assistant.settings.server.token
    assert page.token.text() == token and page.token.echoMode() == page.token.EchoMode.Password
    qtbot.mouseClick(page.show_token, Qt.MouseButton.LeftButton)
    assert page.token.echoMode() == page.token.EchoMode.Normal

    page.port.setValue(9124)
    page.parallel.setValue(8)
    page.cors.setText(" http://a.test ,, HTTP://B.test:3000/ ")  # as copied from an address bar: saved as sent
    llm = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: the core says so, the window goes on
    dialog.remote_page.llm_url.setText(f" {llm} ")
    dialog.accept()
    qtbot.waitUntil(lambda: window.ctl.model.lastApplied is not None)
    assert window.status.model.text() == f"Remote model at {llm}: not connected"
    assert "cannot be used yet" in window.status.model.toolTip()
    assert f"remote model at {llm}</b>: what you type is sent there" in intro.text()
    problems = window.ctl.model.lastApplied.problems  # what marks the report red: not its words
    assert len(problems) == 1 and problems[0].startswith("the remote LLM cannot be used yet")
    # the server is off: its new values wait for its start, and that is said ("Nothing to change." was)
    assert "API server address, port, parallel answers, browser origins: used when it starts" in \
        window.ctl.model.lastApplied.changes
    saved = load_settings(get_paths().settings_file).settings
    assert (saved.server.host, saved.server.port, saved.server.parallel, saved.server.cors_origins,
            saved.server.token, saved.server.enabled) == ("127.0.0.1", 9124, 8, "http://a.test, http://b.test:3000",
                                                          token, False)
    assert (saved.remote.llm_url, saved.remote.chroma_url) == (llm, "http://chroma.lan:8000")
    assert not window.status.server.isVisible()  # off: no indicator

    dialog = window.open_settings("memory")  # where memories go, now that a remote model answers
    notes = [label.text() for label in dialog.pages["memory"].findChildren(QLabel)]
    assert any("what you say is sent to it to learn from" in note for note in notes)
    dialog.reject()

    # while the remote LLM answers, a new load setting is recorded for the local model: nothing loads, and the
    # window does not wait on the GUI thread for a server that is not there (it did, then failed in a slot)
    window.ctl.model.lastApplied = None
    dialog = window.open_settings("model")
    dialog.n_ctx.setValue(dialog.n_ctx.value() + 512)
    dialog.accept()
    qtbot.waitUntil(lambda: window.ctl.model.lastApplied is not None)
    assert window.status.model.text() == f"Remote model at {llm}: not connected"
    assert not window.status.load_bar.isVisible() and window.ctl.model.loading is None
    assert load_settings(get_paths().settings_file).settings.model.n_ctx == saved.model.n_ctx + 512


def test_switching_the_server_on_and_off_in_settings(qtbot: QtBot, open_fake_window) -> None:
    port = free_port()
    window = open_fake_window(Settings())
    url = f"http://127.0.0.1:{port}"
    dialog = open_server_page(window)
    page = dialog.server_page
    page.enabled.setChecked(True)
    page.port.setValue(port)
    qtbot.waitUntil(lambda: bool(page.token.text()))
    dialog.accept()
    qtbot.waitUntil(lambda: window.status.server.text() == f"API: {url}", timeout=20_000)
    indicator = window.status.server
    assert indicator.isVisible() and indicator.property("state") == "ok"
    assert "4 parallel answer slots" in indicator.toolTip() and "network" not in indicator.toolTip()
    assert health(url) == 200  # the real server answers
    token = window.assistant.settings.server.token
    assert httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    # Clicking the indicator opens the Server page with the live status, the token and the curl example.
    qtbot.mouseClick(indicator, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    dialog = window.ctl.model.dialog
    assert dialog.isVisible() and dialog.tabs.currentWidget().widget() is dialog.server_page
    page = dialog.server_page
    assert page.status.text().startswith(f"Running at {url}") and page.status.property("state") == "ok"
    qtbot.mouseClick(page.copy_token, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == token
    qtbot.mouseClick(page.copy_curl, Qt.MouseButton.LeftButton)
    curl = QApplication.clipboard().text()
    assert curl.startswith(f"curl {url}/v1/chat/completions ") and f'"Authorization: Bearer {token}"' in curl
    assert '"content":"Hello"' in curl

    # A busy port: the restart fails; the indicator and the page say why (red), and nothing is raised.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        page.port.setValue(taken)
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
        assert dialog.applying.isVisible() and not dialog.apply_button.isEnabled()  # busy while it applies
        qtbot.waitUntil(lambda: indicator.property("state") == "error", timeout=20_000)
        assert f"port {taken} is already in use" in indicator.text() and indicator.isVisible()
        assert page.status.property("state") == "error" and "already in use" in page.status.text()
        assert window.ctl.model.error is None and not window.banner.isVisible()  # no dialog, no banner
        qtbot.waitUntil(lambda: dialog.apply_button.isEnabled())
        # Switched off now: the red error went on showing, and the model stayed loaded for 4 parallel answers.
        assert window.assistant.parallel_requests == 4
        page.enabled.setChecked(False)
        qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not indicator.isVisible(), timeout=20_000)
        assert page.status.text() == "Stopped." and window.assistant.parallel_requests == 1
        qtbot.waitUntil(lambda: dialog.apply_button.isEnabled())
    assert health(url) is None  # the old port was given up for the new one

    page.enabled.setChecked(True)
    page.port.setValue(port)  # back on a free port: running again at once
    qtbot.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: indicator.text() == f"API: {url}", timeout=20_000)
    assert health(url) == 200

    page.enabled.setChecked(False)
    dialog.accept()
    qtbot.waitUntil(lambda: not indicator.isVisible(), timeout=20_000)
    assert health(url) is None and not window.assistant.server_status().running
    assert load_settings(get_paths().settings_file).settings.server.enabled is False


def test_the_indicator_says_while_the_server_answers_other_programs(qtbot: QtBot, open_fake_window) -> None:
    """Requests from other programs were not shown: the indicator said the URL alone while three of them were
    answered, and Settings → Server gave no hint that an Apply would cut them short."""
    port = free_port()
    settings = Settings()
    settings.server.enabled, settings.server.port, settings.server.token = True, port, "t" * 32
    window = open_fake_window(settings)
    url, indicator = f"http://127.0.0.1:{port}", window.status.server
    qtbot.waitUntil(lambda: indicator.text() == f"API: {url}", timeout=20_000)
    window.assistant.engine.token_delay_s = 0.05  # an answer of a few seconds
    done = threading.Event()

    def ask() -> None:
        with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=30,
                          headers={"Authorization": f"Bearer {'t' * 32}"},
                          json={"model": "hearth", "stream": True,
                                "messages": [{"role": "user", "content": " ".join(["word"] * 60)}]}) as r:
            for _ in r.iter_lines():
                pass
        done.set()

    threading.Thread(target=ask, daemon=True).start()
    qtbot.waitUntil(lambda: indicator.text() == f"API: {url} · answering 1 request", timeout=10_000)
    assert "Now answering 1 request (stopping or restarting the server cuts them short)." in indicator.toolTip()
    dialog = open_server_page(window)
    assert "Now answering 1 request: applying a change to the server cuts them short." in \
        dialog.server_page.status.text()
    qtbot.waitUntil(done.is_set, timeout=20_000)
    qtbot.waitUntil(lambda: indicator.text() == f"API: {url}", timeout=5_000)
    assert dialog.server_page.status.text() == f"Running at {url} (4 in parallel)."
    dialog.reject()


def test_a_chat_asked_through_the_windows_own_server_is_listed_and_shown_at_once(qtbot: QtBot,
                                                                                open_fake_window) -> None:
    """A chat asked through the API server the window runs (Settings → Server) was saved through the window's own
    connection, which the check on other processes' changes does not count: it was listed, and a turn added to
    the open chat shown, only once the window was activated again."""
    port = free_port()
    settings = Settings()
    settings.server.enabled, settings.server.port, settings.server.token = True, port, "t" * 32
    window = open_fake_window(settings)
    url = f"http://127.0.0.1:{port}"
    qtbot.waitUntil(lambda: window.status.server.text() == f"API: {url}", timeout=20_000)

    def ask(text: str, chat: str) -> str:
        reply = httpx.post(f"{url}/v1/chat/completions", timeout=30, headers={"Authorization": f"Bearer {'t' * 32}"},
                           json={"model": "hearth", "conversation_id": chat,
                                 "messages": [{"role": "user", "content": text}]})
        assert reply.status_code == 200, reply.text
        return reply.json()["conversation_id"]

    chat = ask("Asked through the API.", "new")
    qtbot.waitUntil(lambda: [e.title for e in window.conversations_model.items()] == ["Asked through the API."],
                    timeout=5_000)
    window.ctl.chat.open_conversation(chat)
    qtbot.waitUntil(lambda: len(window.chat_view.messages) == 2, timeout=5_000)
    ask("And a follow-up.", chat)
    qtbot.waitUntil(lambda: window.chat_view.last("user").text == "And a follow-up.", timeout=5_000)
    assert window.chat_view.last("assistant").text == "You said: And a follow-up."


def test_a_busy_port_at_start_shows_in_the_indicator(qtbot: QtBot, open_fake_window) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        settings = Settings()
        settings.server.enabled, settings.server.port = True, busy.getsockname()[1]
        window = open_fake_window(settings)
        indicator = window.status.server
        qtbot.waitUntil(lambda: indicator.property("state") == "error", timeout=20_000)
        assert "already in use" in indicator.text() and "another port" in indicator.toolTip()
        assert not window.banner.isVisible() and window.ctl.model.error is None
        dialog = open_server_page(window)
        assert dialog.server_page.status.text().startswith("Not running: port")
        assert dialog.server_page.enabled.isChecked()


def test_remote_test_connection_to_a_closed_port_is_red(qtbot: QtBot, open_fake_window) -> None:
    window = open_fake_window(Settings())
    dialog = window.open_settings("remote")
    page = dialog.remote_page
    assert dialog.tabs.currentWidget().widget() is page and "questions" in page.privacy.text()
    closed = free_port()
    page.chroma_url.setText(f"http://127.0.0.1:{closed}")
    page.llm_url.setText(f"http://127.0.0.1:{closed}/v1")
    for part in ("chroma", "llm"):
        started = time.perf_counter()
        qtbot.mouseClick(page.buttons[part], Qt.MouseButton.LeftButton)
        assert time.perf_counter() - started < 0.5  # the test runs on the network lane, not here
        assert not page.buttons[part].isEnabled() and page.results[part].text() == "Testing…"
    for part in ("chroma", "llm"):
        result = page.results[part]
        qtbot.waitUntil(lambda result=result: result.property("state") == "error", timeout=15_000)
        assert result.text().startswith("✗ ") and result.isVisible() and page.buttons[part].isEnabled()
    assert str(closed) in page.results["chroma"].text()
    assert window.assistant.settings.remote.chroma_url == ""  # testing saves nothing


def test_an_unusable_chroma_url_is_refused_and_nothing_is_saved(qtbot: QtBot, open_fake_window) -> None:
    """It was applied in green ("knowledge vectors now live in the Chroma server at htp:/bad url") and saved;
    every knowledge and memory command then failed and the collections looked gone."""
    window = open_fake_window(Settings())
    dialog = window.open_settings("remote")
    dialog.remote_page.chroma_url.setText("htp:/bad url")
    dialog._apply_clicked()
    qtbot.waitUntil(lambda: dialog.apply_result.property("state") == "error", timeout=15_000)
    assert "is not usable: write it as http://HOST:PORT" in dialog.apply_result.text()
    assert window.assistant.settings.remote.chroma_url == ""
    assert load_settings(get_paths().settings_file).settings.remote.chroma_url == ""
    # the remote model's URL too: "not a url at all" was applied and answering switched to it
    dialog.remote_page.chroma_url.setText("")
    dialog.remote_page.llm_url.setText("not a url at all")
    dialog._apply_clicked()
    qtbot.waitUntil(lambda: "remote.llm_url" in dialog.apply_result.text(), timeout=15_000)
    assert dialog.apply_result.property("state") == "error" and "is not usable" in dialog.apply_result.text()
    assert window.assistant.settings.remote.llm_url == "" and window.assistant.engine is window.assistant._local_engine
    assert load_settings(get_paths().settings_file).settings.remote.llm_url == ""


def test_the_rerank_switch_is_greyed_with_the_reason_until_a_cross_encoder_is_installed(
        qtbot: QtBot, open_fake_window) -> None:
    """Ticking it said "Applied: re-ranking on" and changed nothing: no cross-encoder ships with Hearth."""
    window = open_fake_window(Settings())
    dialog = window.open_settings("knowledge")
    assert not dialog.rerank.isEnabled() and "no cross-encoder is installed" in dialog.rerank_note.text()
    assert str(get_paths().models_dir / "reranker") in dialog.rerank.toolTip()
    dialog.reject()
    folder = get_paths().models_dir / "reranker"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")  # what marks an installed cross-encoder (loaded on first search)
    dialog = window.open_settings("knowledge")
    assert dialog.rerank.isEnabled() and dialog.rerank.toolTip() == ""


def test_apply_before_the_token_is_shown_leaves_one_token(qtbot: QtBot, open_fake_window) -> None:
    """Settings makes the token on first opening (on the network lane); an Apply before it arrived put an
    empty token in, so the server started with a second one: Copy token gave a key that got 401, and the
    next Apply switched the server back to the first, locking out clients set up with the second."""
    port = free_port()
    window = open_fake_window(Settings())
    dialog = open_server_page(window)
    page = dialog.server_page
    page.enabled.setChecked(True)
    page.port.setValue(port)
    dialog._apply_clicked()  # at once: the token is being made on the network lane meanwhile
    url = f"http://127.0.0.1:{port}"
    qtbot.waitUntil(lambda: window.status.server.text() == f"API: {url}", timeout=20_000)
    qtbot.waitUntil(lambda: bool(page.token.text()), timeout=20_000)
    shown = page.token.text()
    assert shown == window.assistant.settings.server.token
    assert httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {shown}"}).status_code == 200
    dialog.accept()  # and a later Apply keeps it
    qtbot.waitUntil(lambda: window.ctl.model.dialog is None or not window.ctl.model.dialog.isVisible())
    qtbot.waitUntil(lambda: health(url) == 200, timeout=20_000)
    assert httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {shown}"}).status_code == 200
    assert load_settings(get_paths().settings_file).settings.server.token == shown


def test_at_font_size_16_the_window_fits_a_laptop_screen(qtbot: QtBot, open_fake_window) -> None:
    """The status bar's labels at their full width made the window at least 1,814 px wide at font size 16, and
    longer figures after an answer widened it further: they are cut with "…" instead."""
    settings = Settings()
    settings.appearance.font_size = 16
    window = open_fake_window(settings)
    window.apply_appearance(settings)
    fill_status_bar(window.status)
    window.resize(1200, 700)
    qtbot.waitUntil(lambda: window.width() == 1200)
    assert window.minimumSizeHint().width() <= 1100


def test_switching_back_from_a_remote_model_loads_the_local_one(qtbot: QtBot, open_fake_window) -> None:
    """After a remote model had answered, clearing its URL in Settings failed with "Model file not found:
    …/http:/127.0.0.1:8283/v1/models/…" (the remote model's URL taken for the local model's file), and the
    status bar said "Loading the local model again…" for good."""
    other = Settings()
    other.memory.enabled = False
    server = Assistant(get_paths(), other, engine=fake_engine())  # another Hearth's `hearth serve`
    try:
        status = server.start_server("127.0.0.1", 0, parallel=1)
        settings = Settings()
        settings.remote.llm_url, settings.remote.llm_api_key = status.url, server.server_token()
        window = open_fake_window(settings)
        window.composer.edit.setPlainText("Say hi.")
        qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not window.ctl.chat.generating, timeout=20_000)
        assert window.chat_view.last("assistant").text and window.assistant.remote_llm_answers
        local = window.assistant.local_model()
        dialog = window.open_settings("remote")
        dialog.remote_page.llm_url.setText("")
        dialog.accept()
        qtbot.waitUntil(lambda: window.ctl.model.lastApplied is not None, timeout=20_000)
        assert not [b for b in window.findChildren(QMessageBox) if b.isVisible()]
        assert not window.assistant.remote_llm_answers and window.assistant.settings.model.path in ("", str(local))
        qtbot.waitUntil(lambda: "again" not in window.status.model.text(), timeout=20_000)
        assert "remote" not in window.status.model.text().lower()
    finally:
        server.close(learning_s=0)
