"""Shared fixtures: every test gets its own HEARTH_HOME; real models are loaded once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assistant.paths import BUNDLED_CHAT_MODEL, BUNDLED_SECOND_MODEL

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(autouse=True)
def hearth_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "hearth-home"
    monkeypatch.setenv("HEARTH_HOME", str(home))
    return home


def _require(path: Path) -> Path:
    assert path.exists(), f"{path} is missing: run `make test` (it puts the bundled models in place)"
    return path


@pytest.fixture(scope="session")
def chat_model_path() -> Path:
    return _require(BUNDLED_CHAT_MODEL)


@pytest.fixture(scope="session")
def base_model_path() -> Path:
    return _require(BUNDLED_SECOND_MODEL)


@pytest.fixture(scope="session")
def engine(chat_model_path: Path):
    """One real SmolLM2 engine shared by the engine tests (loading costs ~0.5 s, but memory matters)."""
    from assistant.engine import Engine, LoadSettings

    eng = Engine()
    eng.load(chat_model_path, LoadSettings(n_ctx=2048, n_batch=256))
    yield eng
    eng.unload()


@pytest.fixture(scope="session")
def knowledge_embedder():
    """The real bundled all-MiniLM-L6-v2, loaded once for every test that indexes or searches."""
    from assistant.config import KnowledgeSettings
    from assistant.knowledge import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder.from_settings(KnowledgeSettings())
