"""ModelsService: what front ends use for the model library (``Assistant.models``). Filled in by issue 9."""

from __future__ import annotations

from collections.abc import Callable

from assistant.config import Settings
from assistant.paths import Paths


class ModelsService:
    def __init__(self, paths: Paths, settings: Callable[[], Settings]) -> None:
        self.paths = paths
        self._settings = settings
