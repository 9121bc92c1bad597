"""Memory about the user across chats: mem0 wired to local parts only, robust with small local models.

Layout (one job per module): ``backend`` (the mem0 ``Memory`` on Chroma + Hearth's providers) over
``llm`` (mem0's LLM interface on the in-process engine; grammar-constrained JSON with a retry) and
``embedding`` (mem0's embedder interface on the knowledge embedder); ``extraction`` (facts from a turn),
``conflicts`` (supersession of stale facts), ``queue`` (durable turn queue and tombstones), ``records``
(:class:`MemoryItem`); ``service.MemoryService`` ties them together for the facade, CLI and GUI.
"""

from assistant.memory.offline import keep_mem0_offline

keep_mem0_offline()  # before anything below imports mem0

from assistant.memory.errors import MemoryNotFoundError, ModelOutputError  # noqa: E402
from assistant.memory.records import MemoryItem  # noqa: E402
from assistant.memory.service import MemoryService  # noqa: E402

__all__ = ["MemoryItem", "MemoryNotFoundError", "MemoryService", "ModelOutputError"]
