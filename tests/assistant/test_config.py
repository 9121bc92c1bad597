from __future__ import annotations

import logging
from pathlib import Path

import pytest

from assistant.config import Settings, load_settings, save_settings
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


def test_corrupt_file_is_backed_up_and_defaults_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[model\nn_ctx = = 3")
    with caplog.at_level(logging.DEBUG):
        loaded = load_settings(path)
    assert not caplog.records  # the warning is returned for the front end to show, not also logged
    assert loaded.settings == Settings()
    assert "could not be read" in loaded.warning
    backups = list(tmp_path.glob("settings.toml.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_text() == "[model\nn_ctx = = 3"
    assert not path.exists()


def test_wrong_types_and_unknown_keys_fall_back(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[model]\nn_ctx = "big"\ntemperature = 1\nfuture_option = 3\n[unknown]\nx = 1\n')
    s = load_settings(path).settings
    assert s.model.n_ctx == Settings().model.n_ctx
    assert s.model.temperature == 1.0
