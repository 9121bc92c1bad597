"""Shared fixtures: every test gets its own HEARTH_HOME; real models are loaded once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.import_hook import skip_feature_scan
from assistant.paths import BUNDLED_CHAT_MODEL, BUNDLED_SECOND_MODEL

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
skip_feature_scan()  # as the window does at start: the app is tested as it runs


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``make test`` runs one worker per core) each worker keeps to its own cores, as a
    process in a cpuset does: Hearth sizes llama.cpp's and the embedder's threads by the cores it may use, so two
    workers' threads do not spin against each other (on 2 cores the suite took 807 s unpinned, 527 s pinned and
    926 s on one worker). The processes a test starts inherit the worker's cores."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if worker.startswith("gw") and workers > 1 and hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        index = int(worker[2:])
        mine = [c for i, c in enumerate(cores) if i % workers == index % workers]
        os.sched_setaffinity(0, mine or cores)


@pytest.fixture(autouse=True)
def hearth_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "hearth-home"
    monkeypatch.setenv("HEARTH_HOME", str(home))
    # the header cache is per process: a fake engine "loading" the bundled model seeded it with its fake header
    # (F32), and a later test in the same run read that the real Q4_1 was "already F32"
    monkeypatch.setattr("assistant.models.drafts._INFO", {})
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


@pytest.fixture(scope="session")
def smollm2_f16_path(chat_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An F16 copy of the bundled SmolLM2 (made once per session, ~1 s): a target that is larger than the
    bundled Q4_1 and shares its vocabulary, for draft-model tests."""
    from assistant.models.drafts import quantize_copy

    return quantize_copy(chat_model_path, tmp_path_factory.mktemp("f16") / "SmolLM2-135M-Instruct-F16.gguf", "F16")


@pytest.fixture(scope="session")
def smollm2_q8_path(chat_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Q8_0 copy of the bundled SmolLM2: a speculative-decoding target whose small verify batches give
    bit-identical logits to one-token steps (an F16 copy's do not, on this CPU), so greedy answers with a
    draft must equal plain decoding exactly."""
    from assistant.models.drafts import quantize_copy

    return quantize_copy(chat_model_path, tmp_path_factory.mktemp("q8") / "SmolLM2-135M-Instruct-Q8_0.gguf", "Q8_0")
