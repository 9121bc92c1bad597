"""Settings persist through the core's config; a bad model file shows an error and the app keeps working."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from gui_helpers import write_settings
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from app.views.settings_dialog import SettingsDialog
from assistant.config import Settings, load_settings
from assistant.paths import get_paths


def test_settings_change_persists_across_restart(qtbot: QtBot, make_window) -> None:
    write_settings()
    window = make_window()
    dialog = window.ctl.model.open_settings()
    assert isinstance(dialog, SettingsDialog) and dialog.isVisible()
    assert dialog.threads.maximum() == os.cpu_count()  # it offered 256 on a 2-core computer
    dialog.font_size.setValue(14)
    dialog.temperature.setValue(0.35)
    dialog.system_prompt.setPlainText("You are terse.")
    assert dialog.seed.text() == "random"  # the settings file's seed had no place in the window
    dialog.seed.setValue(42)
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.chunk_tokens.setValue(64)  # the chunker overlaps at most half a chunk; 1024 was shown as applied
    dialog.chunk_overlap.setValue(1024)
    assert dialog.chunk_overlap.value() == 32
    dialog.accept()
    assert window.theme.name == "dark" and window.theme.font_size == 14  # the window restyles at once
    qtbot.waitUntil(lambda: window.ctl.model.lastApplied is not None)  # the core applied and saved them
    # said in the words the controls use ("appearance" was all a theme or font change said)
    applied = set(window.ctl.model.lastApplied.changes)
    assert {"temperature: 0.35", "seed: 42", "font size: 14", "theme: dark", "system prompt: “You are terse.”"} <= \
        applied, applied  # a text in quotes as typed, not in Python's ('You are terse.')
    saved = load_settings(get_paths().settings_file).settings
    assert (saved.appearance.font_size, saved.model.temperature, saved.model.system_prompt) == (14, 0.35,
                                                                                                 "You are terse.")
    assert saved.model.seed == window.assistant.sampling().seed == 42
    window.close()
    again = make_window()
    assert again.assistant.settings.appearance.theme == "dark"
    dialog = again.ctl.model.open_settings()
    assert dialog.font_size.value() == 14
    dialog.system_prompt.setPlainText("")  # none at all: it kept the old prompt and said "Nothing to change."
    dialog.seed.setValue(dialog.seed.minimum())
    dialog.top_k.setValue(0)
    assert (dialog.seed.text(), dialog.top_k.text()) == ("random", "off")
    dialog._apply_clicked()
    qtbot.waitUntil(lambda: again.ctl.model.lastApplied is not None)
    assert load_settings(get_paths().settings_file).settings.model.system_prompt == ""
    # as the boxes say it: it read "seed: -1", "top k: 0" and "system prompt: ''"
    qtbot.waitUntil(lambda: "Applied" in dialog.apply_result.text())
    assert "top k: off; seed: random; system prompt: none (the model's own)" in dialog.apply_result.text()


def test_a_context_longer_than_the_model_was_trained_for_is_said_with_the_length_used(qtbot: QtBot,
                                                                                       make_window) -> None:
    """A context of 100000 for SmolLM2 (trained for 8192) said "loaded SmolLM2 135M Instruct with context
    100000" while answers had 8192: only the status bar's meter showed it. Then it was said in green while
    `hearth doctor` warned, and 0 (the model's maximum: 8192 again) loaded the model again."""
    write_settings()
    window = make_window()
    qtbot.waitUntil(lambda: window.assistant.engine.loaded, timeout=30_000)
    dialog = window.ctl.model.open_settings()
    dialog.n_ctx.setValue(100_000)
    with qtbot.waitSignal(window.ctl.model.loadFinished, timeout=60_000):
        dialog._apply_clicked()
    qtbot.waitUntil(lambda: "loaded" in dialog.apply_result.text(), timeout=15_000)
    assert dialog.apply_result.text() == (
        "Applied: loaded SmolLM2 135M Instruct Q4_1 with context 8192; a context of 100000 is more than SmolLM2 135M "
        "Instruct was trained for, so answers get 8192: set the context to 8192 or less, or to 0 for the model's "
        "maximum; no draft model."), dialog.apply_result.text()
    assert dialog.apply_result.property("state") == "error"  # a warning, as `hearth doctor` says it (it was green)
    assert window.assistant.engine.n_ctx == 8192
    loads = window.assistant.engine.load
    window.assistant.engine.load = lambda *a, **k: pytest.fail("8192 either way: the model was loaded again")
    dialog.n_ctx.setValue(0)
    window.ctl.model.lastApplied = None
    dialog._apply_clicked()
    assert window.ctl.model.loading is None  # no load shown ("Loading…" in the status bar) for none made
    qtbot.waitUntil(lambda: window.ctl.model.lastApplied is not None, timeout=15_000)
    assert dialog.apply_result.text() == ("Applied: context 8192 (the model's maximum), the same as before "
                                          "(no reload)."), dialog.apply_result.text()
    assert dialog.apply_result.property("state") == "ok" and window.assistant.engine.n_ctx == 8192
    window.assistant.engine.load = loads
    assert "Loading" not in window.status.model.text()
    # a context below llama.cpp's step is loaded as the step, and said why (only `hearth settings set` said it)
    dialog.n_ctx.setValue(100)
    with qtbot.waitSignal(window.ctl.model.loadFinished, timeout=60_000):
        dialog._apply_clicked()
    qtbot.waitUntil(lambda: "loaded" in dialog.apply_result.text(), timeout=15_000)
    assert "with context 256 (100 rounded up: llama.cpp allocates it in steps of 256 tokens)" in \
        dialog.apply_result.text(), dialog.apply_result.text()
    dialog.reject()


def test_bad_model_file_shows_an_error_and_the_old_model_keeps_answering(
        qtbot: QtBot, make_window, tmp_path: Path, ask) -> None:
    """Values edited with the model that failed to load stay in the dialog as edits (they snapped back to the
    settings in use, dropped without a word), and apply once another model is chosen."""
    write_settings()
    window = make_window()
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    dialog = window.ctl.model.open_settings()
    answering = dialog.model_path()
    dialog._select_model(bad)
    dialog.temperature.setValue(1.5)
    dialog.max_tokens.setValue(77)
    with qtbot.waitSignal(window.ctl.model.loadFinished, timeout=30_000):
        dialog._apply_clicked()
    box = window.ctl.model.error
    assert isinstance(box, QMessageBox) and box.isVisible() and "broken.gguf" in box.text()
    box.accept()
    assert "broken.gguf" in dialog.apply_result.text() and dialog.apply_result.property("state") == "error"
    assert (dialog.temperature.value(), dialog.max_tokens.value(), dialog.model_path()) == (1.5, 77, bad)
    assert window.assistant.settings.model.max_tokens != 77
    assert window.assistant.engine.loaded and "kept" in window.status.model.text()
    loaded = window.assistant.engine.settings
    dialog._select_model(answering)  # its own values again, but for the two edits
    qtbot.waitUntil(lambda: dialog.n_ctx.value() == window.assistant.settings.model.n_ctx)
    dialog.accept()
    qtbot.waitUntil(lambda: window.assistant.settings.model.max_tokens == 77)
    assert window.assistant.settings.model.temperature == 1.5
    assert window.assistant.engine.settings is loaded  # nothing to load again for those
    assert load_settings(get_paths().settings_file).settings.model.path == ""  # still the bundled model
    ask(window, "Say hello.")
    assert window.chat_view.last("assistant").text and not window.banner.isVisible()


def test_kv_cache_and_thread_choices_reload_the_model_with_them(qtbot: QtBot, make_window, ask) -> None:
    """Settings → Model → KV cache and Threads are read at once: Apply reloads the model with the q8_0 cache and
    one thread, saved; the status bar says how many threads run it ("automatic" chose the usable cores)."""
    write_settings()
    window = make_window()
    ask(window, "Say hello.")  # a model is loaded before the change
    automatic = window.assistant.engine.settings.n_threads
    threads = "1 thread" if automatic == 1 else f"{automatic} threads"
    assert window.status.device.text() == f"CPU, {threads} (GPU layers set to 0)"
    dialog = window.ctl.model.open_settings()
    dialog.kv_cache.setCurrentIndex(dialog.kv_cache.findData("q8_0"))
    dialog.threads.setValue(1)
    with qtbot.waitSignal(window.ctl.model.loadFinished, timeout=60_000):
        dialog.accept()
    assert (window.assistant.engine.settings.kv_cache, window.assistant.engine.settings.n_threads) == ("q8_0", 1)
    saved = load_settings(get_paths().settings_file).settings.model
    assert (saved.kv_cache, saved.n_threads) == ("q8_0", 1)
    assert window.status.device.text() == "CPU, 1 thread (GPU layers set to 0)"
    # the dialog says the choices as it shows them ("threads 0", "GPU layers -1" were said), and where it runs
    dialog = window.ctl.model.open_settings()
    dialog.threads.setValue(0)
    dialog.gpu_layers.setValue(-1)
    with qtbot.waitSignal(window.ctl.model.loadFinished, timeout=60_000):
        dialog._apply_clicked()
    qtbot.waitUntil(lambda: dialog.apply_result.text().startswith("Applied: loaded"))
    assert dialog.apply_result.text().startswith(
        "Applied: loaded SmolLM2 135M Instruct Q4_1 with threads automatic, GPU layers all; "
        f"it runs on {window.assistant.engine.device}"), dialog.apply_result.text()
    if "no GPU support" in window.assistant.engine.device:  # asked for and not given: not said in green
        assert dialog.apply_result.property("state") == "error"
        # and greyed with the reason (it took "all" and the model ran on the CPU all the same)
        assert not dialog.gpu_layers.isEnabled() and "no GPU support" in dialog.gpu_layers.toolTip()
    dialog.reject()
    ask(window, "Say hello again.")
    assert window.chat_view.last("assistant").text


def test_values_changed_with_the_model_apply_to_the_model_chosen(qtbot: QtBot, make_window, ask) -> None:
    """Another model and a new temperature, context and system prompt in one Apply: the dialog said "Applied:
    temperature: 0.2 ... loaded Gemma 3 270M", but Gemma answered with its own profile and the edits were
    saved as the outgoing model's."""
    from assistant.paths import BUNDLED_SECOND_MODEL

    write_settings()
    window = make_window()
    ask(window, "Say hello.")
    dialog = window.ctl.model.open_settings()
    dialog._select_model(BUNDLED_SECOND_MODEL)
    dialog.temperature.setValue(0.2)
    dialog.n_ctx.setValue(1024)
    dialog.system_prompt.setPlainText("Be terse.")
    assert "tok/s" in window.status.speed.text()
    with qtbot.waitSignal(window.ctl.model.loadFinished, timeout=60_000):
        dialog.accept()
    assert window.status.speed.text() == ""  # SmolLM2's speed stayed beside Gemma's name
    assert "temperature: 0.2" in window.ctl.model.lastApplied.changes
    live = window.assistant.settings.model
    assert (window.assistant.engine.info.name, live.temperature, live.system_prompt) == ("Gemma 3 270M", 0.2,
                                                                                          "Be terse.")
    assert window.assistant.engine.settings.n_ctx == 1024
    assert load_settings(get_paths().settings_file).settings.model.temperature == 0.2
    again = window.ctl.model.open_settings()
    assert again.temperature.value() == 0.2 and again.n_ctx.value() == 1024
    again.reject()
    window.assistant.use_model(window.assistant.model_path().parent / "SmolLM2-135M-Instruct.Q4_1.gguf")
    old = window.assistant.settings.model  # the outgoing model kept its own values
    assert (old.temperature, old.system_prompt, old.n_ctx) == (0.0, Settings().model.system_prompt, 2048)


def test_choosing_another_model_shows_its_own_values_and_apply_gives_what_was_shown(qtbot: QtBot,
                                                                                   make_window) -> None:
    """Settings → Model went on showing the old model's context, sampling and answer length after another model
    was chosen, and Apply then loaded that model with its own saved ones ("Applied: loaded Smol"): what was seen
    was not what was applied. Values edited in the dialog stay edits, for the model chosen."""
    from assistant.models import ModelProfile
    from assistant.paths import BUNDLED_SECOND_MODEL

    write_settings()
    window = make_window()
    qtbot.waitUntil(lambda: window.assistant.engine.loaded, timeout=60_000)
    window.assistant.switcher.profiles.save_profile(BUNDLED_SECOND_MODEL, ModelProfile(
        n_ctx=1024, temperature=1.1, max_tokens=300, system_prompt="Continue the text."))
    dialog = window.ctl.model.open_settings()
    before = (dialog.n_ctx.value(), dialog.temperature.value(), dialog.system_prompt.toPlainText())
    dialog.max_tokens.setValue(77)  # an edit: it goes with whichever model is chosen
    dialog._select_model(BUNDLED_SECOND_MODEL)
    qtbot.waitUntil(lambda: dialog.n_ctx.value() == 1024)
    assert (dialog.temperature.value(), dialog.system_prompt.toPlainText()) == (1.1, "Continue the text.")
    assert dialog.max_tokens.value() == 77 and dialog.preset.currentText() == "Custom"
    dialog._select_model(window.ctl.model.current_model())  # back: the answering model's own values again
    qtbot.waitUntil(lambda: dialog.n_ctx.value() == before[0])
    assert (dialog.n_ctx.value(), dialog.temperature.value(), dialog.system_prompt.toPlainText()) == before
    dialog._select_model(BUNDLED_SECOND_MODEL)
    qtbot.waitUntil(lambda: dialog.n_ctx.value() == 1024)
    shown = (dialog.n_ctx.value(), dialog.temperature.value(), dialog.max_tokens.value())
    with qtbot.waitSignal(window.ctl.model.loadFinished, timeout=60_000):
        dialog.accept()
    live = window.assistant.settings.model
    assert window.assistant.engine.info.name == "Gemma 3 270M"
    assert (window.assistant.engine.settings.n_ctx, live.temperature, live.max_tokens) == shown == (1024, 1.1, 77)


def test_the_model_page_says_threads_are_for_every_model_and_another_model_chosen_keeps_them(
        qtbot: QtBot, make_window) -> None:
    """Settings → Model showed Threads among the values each model keeps as its own, with no word that it is for
    every model (`hearth settings show` called them all the model's own): threads set while one model answered
    were expected to stay with it, and the next model loaded with them. The page says whose each value is, and
    choosing another model bears it out: its own context, these threads."""
    from PySide6.QtWidgets import QLabel

    from assistant.models import ModelProfile
    from assistant.paths import BUNDLED_SECOND_MODEL

    write_settings()
    window = make_window()
    qtbot.waitUntil(lambda: window.assistant.engine.loaded, timeout=60_000)
    window.assistant.switcher.profiles.save_profile(BUNDLED_SECOND_MODEL, ModelProfile(n_ctx=1024))
    dialog = window.ctl.model.open_settings()
    said = [label.text() for label in dialog.findChildren(QLabel)]
    assert "Threads (every model)" in said and dialog.threads.toolTip().startswith("For every model, not only")
    assert any(text.startswith("Each model keeps its own values on this page, and choosing it brings them back, "
                               "but for Threads, which is for every model.") for text in said), said
    dialog.threads.setValue(1)
    dialog._select_model(BUNDLED_SECOND_MODEL)
    qtbot.waitUntil(lambda: dialog.n_ctx.value() == 1024)
    assert dialog.threads.value() == 1
    with qtbot.waitSignal(window.ctl.model.loadFinished, timeout=60_000):
        dialog.accept()
    engine = window.assistant.engine
    assert (engine.info.name, engine.settings.n_ctx, engine.settings.n_threads) == ("Gemma 3 270M", 1024, 1)


def test_a_hand_edit_of_the_settings_file_applies_at_once_and_is_not_written_over(qtbot: QtBot, make_window) -> None:
    """A running window read settings.toml only at start: a hand edit (or `hearth models use` in a terminal)
    changed nothing, and the next Apply in the window wrote its own copy over it."""
    import tomllib

    import tomli_w

    from assistant.paths import BUNDLED_SECOND_MODEL

    write_settings()
    window = make_window()
    qtbot.waitUntil(lambda: window.assistant.engine.loaded, timeout=60_000)
    file = get_paths().settings_file
    data = tomllib.loads(file.read_text())
    data["model"].update(temperature=0.9, system_prompt="Answer like a pirate.", path=str(BUNDLED_SECOND_MODEL),
                         max_tokens=300)
    data.setdefault("appearance", {})["font_size"] = 15
    file.write_text(tomli_w.dumps(data))
    qtbot.waitUntil(lambda: window.assistant.engine.info.name == "Gemma 3 270M"
                    and window.status.model.text().startswith("Gemma 3 270M"), timeout=60_000)
    live = window.assistant.settings
    assert (live.model.temperature, live.model.system_prompt) == (0.9, "Answer like a pirate.")
    assert window.theme.font_size == 15 and "Settings file changed: " in window.status.currentMessage()
    # The restyle re-lays the status bar out, and Qt shows its widgets again on a later turn of the event loop,
    # drawn over the message: the bar hides them again at once (by then the message would last 15 s).
    qtbot.wait(200)
    qtbot.waitUntil(lambda: not window.status.model.isVisible(), timeout=2_000)
    dialog = window.ctl.model.open_settings()  # the dialog shows the file's values, and Apply keeps them
    assert dialog.temperature.value() == 0.9
    dialog.font_size.setValue(13)
    window.ctl.model.lastApplied = None
    dialog.accept()
    qtbot.waitUntil(lambda: window.ctl.model.lastApplied is not None and window.theme.font_size == 13)
    # the file's message goes with the window's own Apply (it stayed 15 s, naming values no longer in use)
    assert not window.status.currentMessage() and window.status.model.isVisible()
    saved = load_settings(file).settings
    assert (saved.model.temperature, saved.appearance.font_size) == (0.9, 13)
    # a value of the wrong type keeps the one in use (it switched to the default, and the file was saved so)
    in_use = window.assistant.settings.model.max_tokens
    assert in_use == 300  # not the default (1024), which an unusable value used to bring in
    data = tomllib.loads(file.read_text())
    data["model"]["max_tokens"] = "lots"
    file.write_text(tomli_w.dumps(data))
    qtbot.waitUntil(lambda: "max_tokens = 'lots'" in window.banner.label.text(), timeout=10_000)
    assert f"max_tokens = 'lots' has the wrong type (using {in_use})" in window.banner.label.text()
    assert window.assistant.settings.model.max_tokens == in_use
    # one out of range takes the nearest end (``max_tokens = 0`` got the default 1024)
    data["model"]["max_tokens"] = 40_000
    file.write_text(tomli_w.dumps(data))
    qtbot.waitUntil(lambda: "max_tokens = 40000" in window.banner.label.text(), timeout=10_000)
    assert "max_tokens = 40000 is outside 1 to 32768 (using 32768)" in window.banner.label.text()
    assert window.assistant.settings.model.max_tokens == 32_768
    file.write_text("[model\nbroken = ")  # a typo while editing: said, and the settings in use stay
    qtbot.waitUntil(lambda: "cannot be read" in window.banner.label.text(), timeout=10_000)
    assert window.banner.isVisible() and window.assistant.settings.model.temperature == 0.9


def test_a_broken_settings_file_is_in_the_banner_until_mended_and_never_saved_over(qtbot: QtBot,
                                                                                    make_window) -> None:
    """A hand edit left half done (not TOML) or with a value Hearth cannot use was a message box, gone once
    clicked away while the old settings silently stayed, and still up after the file was mended. Now the banner
    names the file, where it breaks and that the last good settings stay, until the file reads well again; and
    a setting applied in the window meanwhile does not write over the broken file."""
    write_settings()
    window = make_window()
    qtbot.waitUntil(lambda: window.assistant.engine.loaded, timeout=60_000)
    file = get_paths().settings_file
    good = file.read_text()
    broken = good.replace("[model]", "[model", 1)
    file.write_text(broken)
    qtbot.waitUntil(lambda: window.banner.isVisible() and "cannot be read" in window.banner.label.text(),
                    timeout=10_000)
    said = window.banner.label.text()
    assert str(file) in said and "line 1" in said and "last settings that read well stay in use" in said, said
    dialog = window.ctl.model.open_settings()  # a change in the window meanwhile: refused, the file kept
    dialog.temperature.setValue(0.42)
    dialog.apply_button.click()
    qtbot.waitUntil(lambda: "did not save the settings" in dialog.apply_result.text(), timeout=10_000)
    assert file.read_text() == broken and "not valid TOML" in dialog.apply_result.text()
    dialog.reject()
    file.write_text(good)  # put back as it was: the notice goes
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=10_000)
    file.write_text(good.replace("n_ctx = 2048", 'n_ctx = "lots"'))  # a value it cannot use
    qtbot.waitUntil(lambda: "n_ctx = 'lots' has the wrong type" in window.banner.label.text(), timeout=10_000)
    assert window.banner.isVisible() and str(file) in window.banner.label.text()
    file.write_text(good)
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=10_000)


def test_an_open_settings_dialog_follows_the_file_and_apply_keeps_both(qtbot: QtBot, make_window) -> None:
    """Settings left open while the file changed (a hand edit, `hearth models use` in a terminal) kept showing
    the old values, and its Apply wrote all of them back: the other model and the new values were undone
    although the user had touched none of them. Now the dialog shows the file's values, keeps what was edited in
    it, and Apply applies only those edits."""
    import tomllib

    import tomli_w

    from assistant.paths import BUNDLED_SECOND_MODEL

    write_settings()
    window = make_window()
    qtbot.waitUntil(lambda: window.assistant.engine.loaded, timeout=60_000)
    dialog = window.ctl.model.open_settings()
    dialog.temperature.setValue(0.35)  # edited here, not applied yet
    file = get_paths().settings_file
    data = tomllib.loads(file.read_text())
    data["model"].update(path=str(BUNDLED_SECOND_MODEL), top_k=7, max_tokens=300, n_batch=256)
    data.setdefault("appearance", {})["font_size"] = 15
    file.write_text(tomli_w.dumps(data))
    qtbot.waitUntil(lambda: window.assistant.engine.info.name == "Gemma 3 270M" and dialog.top_k.value() == 7,
                    timeout=60_000)
    assert dialog.model_path() == BUNDLED_SECOND_MODEL.resolve()
    assert (dialog.max_tokens.value(), dialog.font_size.value(), dialog.temperature.value()) == (300, 15, 0.35)
    assert "The settings file changed" in dialog.apply_result.text()
    window.ctl.model.lastApplied = None
    dialog.accept()
    qtbot.waitUntil(lambda: window.ctl.model.lastApplied is not None)
    saved = load_settings(file).settings
    assert Path(saved.model.path).resolve() == BUNDLED_SECOND_MODEL.resolve()
    assert (saved.model.temperature, saved.model.top_k, saved.model.max_tokens, saved.model.n_batch,
            saved.appearance.font_size) == (0.35, 7, 300, 256, 15)
    assert window.assistant.engine.info.name == "Gemma 3 270M"


def test_a_reload_beside_the_api_server_lets_the_answer_streaming_finish(qtbot: QtBot, make_window) -> None:
    """With the API server on, answers are decoded together in slots and hold no lock while they stream, so
    Apply of a new context length closed the model under the window's answer: "The answer could not be
    completed" (Models → Use did the same). The answer now finishes on the model it was asked of; the next one
    gets the new settings."""
    import socket

    from PySide6.QtCore import Qt

    from assistant.config import save_settings

    settings = write_settings(max_tokens=200)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        settings.server.enabled, settings.server.port = True, free.getsockname()[1]
    save_settings(settings, get_paths().settings_file)
    window = make_window()
    engine = window.assistant.engine
    qtbot.waitUntil(lambda: window.assistant.server_status().running and engine.loaded, timeout=30_000)
    assert engine.settings.n_parallel == 4
    window.composer.edit.setPlainText("Write a long story about a lighthouse keeper.")
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(window.chat_view.last("assistant").text) > 20, timeout=30_000)
    dialog = window.ctl.model.open_settings()
    dialog.n_ctx.setValue(1024)
    with qtbot.waitSignal(window.ctl.model.loadFinished, timeout=60_000):
        dialog.accept()
    assert engine.settings.n_ctx == 1024
    qtbot.waitUntil(lambda: not window.ctl.chat.generating, timeout=60_000)
    assert not window.banner.isVisible(), window.banner.label.text()
    stored = window.assistant.history.messages(window.ctl.chat.conversation_id)[-1]
    assert stored.role == "assistant" and not stored.partial and not (stored.stats or {}).get("error")
    assert stored.stats["completion_tokens"] == 200


def test_closed_settings_and_memory_windows_are_freed_and_an_unchanged_apply_restyles_nothing(
        qtbot: QtBot, make_window, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each Settings window opened stayed alive, and every Apply restyled the whole app over all of them: the
    window froze 0.3 s, then 0.4, 0.5 … 2 s as Settings was opened again. The memory window stayed alive too."""
    from app import theme as themes
    from app.views.memory_dialog import MemoryDialog

    write_settings()
    window = make_window()
    styled: list[tuple[str, int]] = []
    restyle = themes.apply
    monkeypatch.setattr(themes, "apply",
                        lambda app, name, size: styled.append((name, size)) or restyle(app, name, size))
    for _ in range(3):
        dialog = window.ctl.model.open_settings()
        dialog._apply_clicked()  # nothing changed
        dialog.reject()
        qtbot.waitUntil(lambda: not window.findChildren(SettingsDialog))
        window.ctl.memory.open().reject()
        qtbot.waitUntil(lambda: not window.findChildren(MemoryDialog))
    assert styled == [] and window.ctl.model.dialog is None and window.ctl.server.dialog is None
    dialog = window.ctl.model.open_settings()
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.accept()
    assert [name for name, _ in styled] == ["dark"] and window.theme.name == "dark"
    qtbot.waitUntil(lambda: not window.findChildren(SettingsDialog))
    # message boxes, the collection dialog and the skipped-files list go too
    from app.views.collection_dialog import CollectionDialog, ErrorListDialog
    from app.views.dialogs import show_error

    show_error(window, "Memory", "Something failed.").done(0)
    ErrorListDialog([("/n/a.pdf", "empty file")], window).open()
    window.ctl.knowledge.add([Path(os.getcwd())])
    for dialog in (*window.findChildren(ErrorListDialog), *window.findChildren(CollectionDialog)):
        dialog.reject()
    qtbot.waitUntil(lambda: not window.findChildren(QMessageBox) and not window.findChildren(ErrorListDialog)
                    and not window.findChildren(CollectionDialog))


def test_a_setting_set_with_hearth_settings_applies_in_the_open_window(qtbot: QtBot, make_window,
                                                                       hearth_home: Path) -> None:
    """`hearth settings set` in a terminal while the window is open: the window applies it at once, and its
    Settings shows it (a temperature set alone is the "Custom" preset, as the dialog's own list names it)."""
    from cli.test_cli import hearth

    write_settings()
    window = make_window()
    out = hearth("settings", "set", "appearance.font_size=15", "model.temperature=0.9", home=hearth_home)
    assert out.returncode == 0, out.stderr
    qtbot.waitUntil(lambda: window.theme.font_size == 15, timeout=15_000)
    assert window.assistant.settings.model.temperature == 0.9
    dialog = window.ctl.model.open_settings()
    assert (dialog.temperature.value(), dialog.preset.currentText(), dialog.font_size.value()) == (0.9, "Custom", 15)
