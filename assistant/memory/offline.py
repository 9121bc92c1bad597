"""What mem0 reads once, at import time: set it before any module of this package imports mem0.

Telemetry is forced off (not defaulted: a private app never reports usage), and mem0's own folder, where it
writes a config file on import, is put inside Hearth's data directory instead of ``~/.mem0``.

mem0 also builds a default ``MemoryConfig()`` while its package imports (the default argument of
``Memory.__init__``), whose default vector store is Qdrant: that imports qdrant-client, 0.62 s of mem0's
0.97 s import on the 2-core machine (``python -X importtime -c "from mem0 import Memory"``), paid by every
``hearth ask`` with memory on. Hearth stores memories in Chroma and never uses Qdrant, so while mem0's
package runs its ``__init__`` the name ``qdrant_client`` is a placeholder module; it is removed again at once,
so any later ``import qdrant_client`` gets the real package.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
from collections.abc import Sequence
from typing import Any

from assistant.paths import apply_privacy_defaults, get_paths


def keep_mem0_offline() -> None:
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ.setdefault("MEM0_DIR", str(get_paths().memory_dir / "mem0"))
    apply_privacy_defaults()
    if "mem0" not in sys.modules and not any(isinstance(f, _Mem0Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Mem0Finder())  # list.insert is atomic under the GIL


class _Mem0Finder(importlib.abc.MetaPathFinder):
    """Finds mem0 the usual way, once, and wraps its loader in :class:`_WithoutQdrant`.

    It stays in ``sys.meta_path`` (answering None) rather than removing itself: another thread walking the
    list while it shrank could skip the finder after it and fail to import a built-in module."""

    def __init__(self) -> None:
        self._used = False

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if name != "mem0" or self._used:  # mem0's own import lock keeps two threads from both getting here
            return None
        self._used = True  # before the search below, which asks this finder again
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _WithoutQdrant(spec.loader)
        return spec


class _WithoutQdrant(importlib.abc.Loader):
    """mem0's own loader, running the package's ``__init__`` with ``qdrant_client`` a placeholder."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        if "qdrant_client" in sys.modules:
            self._loader.exec_module(module)
            return
        placeholder = types.ModuleType("qdrant_client", "Stands in while mem0 imports: Hearth never uses Qdrant.")
        placeholder.QdrantClient = type("QdrantClient", (), {})  # the type of mem0's QdrantConfig.client field
        sys.modules["qdrant_client"] = placeholder
        try:
            self._loader.exec_module(module)
        finally:
            if sys.modules.get("qdrant_client") is placeholder:
                del sys.modules["qdrant_client"]

    def __getattr__(self, name: str) -> Any:  # resource readers and the like: the real loader's
        return getattr(self._loader, name)
