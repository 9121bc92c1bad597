"""Memory fixtures: the real embedder once per session, a MemoryService per test on its own HEARTH_HOME.

Feature tests use the session's real SmolLM2 engine (``engine`` in tests/conftest.py) and a real Chroma
store; unit tests pass a scripted fake LLM instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from assistant.config import KnowledgeSettings, MemorySettings
from assistant.engine import Engine
from assistant.knowledge import SentenceTransformerEmbedder
from assistant.memory import MemoryService
from assistant.paths import get_paths


class ScriptedLLM:
    """Stands in for the engine in mem0's LLM slot: returns the scripted replies in order, records prompts."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.calls: list[list[dict[str, str]]] = []

    def generate_response(self, messages, response_format=None, tools=None, tool_choice="auto", **kwargs) -> str:
        self.calls.append(messages)
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


@pytest.fixture
def scripted() -> type[ScriptedLLM]:
    """``scripted(reply, ...)`` builds a fake LLM (test modules cannot import conftest)."""
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
