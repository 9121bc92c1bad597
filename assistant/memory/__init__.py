"""Memory about the user across chats: mem0 wired to local parts only, robust with small local models.

Layout (one job per module): ``backend`` (the mem0 ``Memory`` on Chroma + Hearth's providers) over
``llm`` (mem0's LLM interface on the in-process engine, and yes/no answers read as p(yes)) and
``embedding`` (mem0's embedder interface on the knowledge embedder); ``statements`` (a message cut into
clauses said in the third person), ``extraction`` (the model's yes/no on each), ``conflicts``
(supersession of stale facts), ``queue`` (durable turn queue and tombstones), ``records``
(:class:`MemoryItem`); ``service.MemoryService`` ties them together for the facade, CLI and GUI.

The public names are imported on first use (PEP 562): importing mem0 and the Chroma it stores in costs about
half a second (0.2 s of mem0 with posthog and httpx, 0.35 s of chromadb, once :mod:`offline` keeps mem0 from
importing qdrant-client), so only code that really opens the memory store pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.lazy import lazy_exports
from assistant.memory.offline import keep_mem0_offline

keep_mem0_offline()  # before any submodule imports mem0 (they all run this package's code first)

if TYPE_CHECKING:
    from assistant.memory.errors import MemoryNotFoundError
    from assistant.memory.records import MemoryItem
    from assistant.memory.service import MemoryService

#: public name -> the submodule that defines it
_EXPORTS = {
    "MemoryNotFoundError": "errors",
    "MemoryItem": "records",
    "MemoryService": "service",
}

__all__ = ["MemoryItem", "MemoryNotFoundError", "MemoryService"]


__getattr__ = lazy_exports(__name__, _EXPORTS)
