"""Memory fixtures: the real embedder once per session, a MemoryService per test on its own HEARTH_HOME.

Feature tests use the session's real SmolLM2 engine (``engine`` in tests/conftest.py) and a real Chroma
store; unit tests pass a scripted fake LLM instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from assistant.config import KnowledgeSettings, MemorySettings
from assistant.engine import Engine
from assistant.errors import GenerationError
from assistant.knowledge import SentenceTransformerEmbedder
from assistant.memory import MemoryService
from assistant.paths import get_paths


class ScriptedLLM:
    """Stands in for the engine in mem0's LLM slot: every yes/no question gets p(yes) = ``yes`` (``judge``
    for "does the new fact replace the old one", default ``yes``), after ``failures`` of them raised (a
    llama.cpp failure, to test retries); the questions are recorded."""

    def __init__(self, yes: float = 1.0, failures: int = 0, judge: float | None = None) -> None:
        self.asked: list[str] = []
        self.yes, self.failures, self.judge = yes, failures, yes if judge is None else judge

    def yes_probability(self, messages, cancel=None) -> float:
        if self.failures:
            self.failures -= 1
            raise GenerationError("Evaluating the prompt failed: scripted")
        self.asked.append(messages[-1]["content"])
        return self.judge if messages[-1]["content"].startswith("Old fact:") else self.yes


@pytest.fixture
def scripted() -> type[ScriptedLLM]:
    """``scripted(yes=0.9)`` builds a fake model (test modules cannot import conftest)."""
    return ScriptedLLM


@pytest.fixture(scope="session")
def memory_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder.from_settings(KnowledgeSettings())


@pytest.fixture
def open_memory(engine: Engine, memory_embedder: SentenceTransformerEmbedder) -> Iterator[Callable[..., MemoryService]]:
    """Open a MemoryService on this test's data directory; each call is a fresh start (a restart)."""
    opened: list[MemoryService] = []

    def open_(settings: MemorySettings | None = None, llm: ScriptedLLM | None = None) -> MemoryService:
        service = MemoryService(get_paths().ensure(), settings or MemorySettings(), engine, memory_embedder, llm=llm)
        opened.append(service)
        return service

    yield open_
    for service in opened:
        service.close()
