from __future__ import annotations

import copy
import logging
import os
from pathlib import Path

import pytest

from assistant.config import Settings, load_settings, save_settings, set_aside
from assistant.errors import ConfigError
from assistant.paths import get_paths


def test_hearth_home_overrides_every_path(hearth_home: Path) -> None:
    paths = get_paths()
    for p in (paths.config_dir, paths.data_dir, paths.cache_dir, paths.history_db, paths.chroma_dir):
        assert hearth_home in p.parents


def test_round_trip(tmp_path: Path) -> None:
    s = Settings()
    s.model.n_ctx, s.model.temperature, s.knowledge.chunk_tokens = 8192, 0.3, 128
    path = tmp_path / "settings.toml"
    save_settings(s, path)
    loaded = load_settings(path)
    assert loaded.warning is None and loaded.settings == s
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temp file


def test_a_file_that_is_not_toml_is_left_as_it_is_defaults_used_and_never_saved_over(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """It was moved aside as settings.toml.corrupt-*: a half-finished hand edit plus any command (`hearth history
    list`) lost the user's settings, and the next save (`hearth serve --show-token`) wrote defaults with a new API
    token, which a running server then took up: every client locked out."""
    path = tmp_path / "settings.toml"
    path.write_text("[model\nn_ctx = = 3")
    with caplog.at_level(logging.DEBUG):
        loaded = load_settings(path)
    assert not caplog.records  # the warning is returned for the front end to show, not also logged
    defaults = Settings()
    defaults.memory.enabled = False  # the file may have switched memory off: it stays off until the file reads
    assert loaded.settings == defaults
    assert "is not valid TOML" in loaded.warning and "left as it is" in loaded.warning
    assert "`hearth doctor --repair` sets it aside" in loaded.warning
    with pytest.raises(ConfigError, match=r"did not save the settings: .* is not valid TOML"):
        save_settings(Settings(), path)
    assert path.read_text() == "[model\nn_ctx = = 3" and [p.name for p in tmp_path.iterdir()] == ["settings.toml"]


def test_a_damaged_file_that_cannot_be_set_aside_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a read-only folder the move failed, and with it every command ("a bug in Hearth", exit 70)."""
    path = tmp_path / "settings.toml"
    path.write_text("this is [not toml")

    def read_only(*_args: object) -> None:
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr("assistant.config.os.replace", read_only)
    assert set_aside(path) == "it stays as it is (Read-only file system)" and path.exists()


def test_more_threads_than_the_computer_has_use_every_core(tmp_path: Path) -> None:
    """256 threads on a 2-core computer were accepted without a word (and the settings dialog offered them)."""
    path = tmp_path / "settings.toml"
    cores = os.cpu_count()
    path.write_text(f"[model]\nn_threads = {cores + 1}\n")
    loaded = load_settings(path)
    assert loaded.settings.model.n_threads == cores
    assert f"model.n_threads = {cores + 1} is outside 0 to {cores} (using {cores})" in (loaded.warning or "")
    path.write_text(f"[model]\nn_threads = {cores}\n")
    assert load_settings(path).settings.model.n_threads == cores


def test_numbers_out_of_range_take_the_nearest_end_with_a_warning(tmp_path: Path) -> None:
    """A max_tokens of 0 in the file made every answer empty, blamed on the model; then ``max_tokens = 12`` (short
    answers wanted) brought the default 1024 rather than 16, then the least a setting could hold."""
    assert Settings().model.max_tokens == 1024
    path = tmp_path / "settings.toml"
    path.write_text("[model]\nmax_tokens = 0\ntemperature = -3\ntop_p = nan\nmax_tokenz = 5\n"
                    "[server]\nparallel = 100\n[knowledge]\nchunk_tokens = 10\n")
    loaded = load_settings(path)
    s, defaults = loaded.settings, Settings()
    assert (s.server.parallel, s.knowledge.chunk_tokens) == (8, 64)
    assert s.model.temperature == defaults.model.temperature  # below a least that is a choice of its own (0: greedy)
    # 0 or less where the least is 1 or more: "no limit" elsewhere, not one-token answers
    assert s.model.max_tokens == defaults.model.max_tokens
    assert s.model.top_p == defaults.model.top_p
    said = loaded.warning or ""  # shown by every front end: the CLI on stderr, the window in its banner
    assert said.startswith(f"Settings file {path}: ")
    assert "model.max_tokens = 0 is outside 1 to 32768 (using 1024)" in said
    assert "knowledge.chunk_tokens = 10 is outside 64 to 4096 (using 64)" in said
    # a port is no amount: 99999 is not "near" 65535; a whole number written as 12.0 is 12; a context of -1 is not
    # 0 (the model's maximum, the most memory)
    path.write_text("[server]\nport = 99999\n[model]\nmax_tokens = 12.0\nn_ctx = -1\n")
    loaded = load_settings(path)
    assert (loaded.settings.server.port, loaded.settings.model.max_tokens, loaded.settings.model.n_ctx) == (
        defaults.server.port, 12, defaults.model.n_ctx), loaded.warning
    assert "server.parallel = 100 is outside 1 to 8 (using 8)" in said
    assert f"model.top_p = nan is not a number (using {defaults.model.top_p})" in said
    assert "model.max_tokenz is not a setting Hearth knows" in said


def test_wrong_types_and_unknown_keys_fall_back(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[model]\nn_ctx = "big"\ntemperature = 1\nfuture_option = 3\n[unknown]\nx = 1\n')
    s = load_settings(path).settings
    assert s.model.n_ctx == Settings().model.n_ctx
    assert s.model.temperature == 1.0


def test_text_settings_outside_their_choices_fall_back_with_a_warning(tmp_path: Path) -> None:
    """`speculative = "bogus"` failed every answer and `user_id = ""` every memory command, with no word of the
    settings file; now such values are named in the warning and the defaults used."""
    path = tmp_path / "settings.toml"
    path.write_text('[model]\nspeculative = "bogus"\nkv_cache = "q4_0"\n[memory]\nuser_id = "  "\n'
                    '[appearance]\ntheme = "neon"\n')
    loaded = load_settings(path)
    assert loaded.settings == Settings()
    for said in ("model.speculative = 'bogus' is not one of auto, off, ngram, draft, self (using 'auto')",
                 "model.kv_cache = 'q4_0' is not one of f16, q8_0 (using 'f16')",
                 "memory.user_id is empty (using 'default')",
                 "appearance.theme = 'neon' is not one of system, light, dark (using 'system')"):
        assert said in loaded.warning


def test_edited_over_takes_only_what_the_editor_changed() -> None:
    """An editor's unchanged values must not undo a change made meanwhile; its own edits win."""
    from assistant.config import edited_over

    before = Settings()
    after = copy.deepcopy(before)
    after.model.temperature, after.server.port = 0.3, 9000  # edited in the editor
    current = copy.deepcopy(before)
    current.model.top_k, current.model.temperature, current.appearance.theme = 7, 0.9, "dark"  # changed meanwhile
    merged = edited_over(current, before, after)
    assert (merged.model.temperature, merged.server.port) == (0.3, 9000)
    assert (merged.model.top_k, merged.appearance.theme) == (7, "dark")
    assert current.model.temperature == 0.9 and merged is not current
