"""Fixtures of the fault-injection suite (the helpers live in ``kill.py``: test modules import it by name)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The child's HEARTH_HOME (separate from the autouse one, which this process uses after the kill)."""
    return tmp_path / "home"
