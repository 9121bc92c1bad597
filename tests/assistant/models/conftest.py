"""Fixtures for the model library: a tiny valid GGUF, and a local HTTP server that answers like the Hub.

Both live in ``hub_server`` (importable by name, so the CLI and GUI tests use the same server).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hub_server import FakeHub, serve_hub, write_tiny_gguf


@pytest.fixture
def make_gguf() -> Callable[..., Path]:
    """``make_gguf(path, name=..., rows=...)`` writes a tiny valid GGUF (test modules cannot import conftest)."""
    return write_tiny_gguf


@pytest.fixture
def tiny_gguf(tmp_path: Path) -> Path:
    return write_tiny_gguf(tmp_path / "tiny-test.gguf")


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    with serve_hub() as hub:
        yield hub
