"""mem0's embedder interface over the knowledge base's embedder, so Hearth loads one model for both."""

from __future__ import annotations

from typing import Literal

from mem0.configs.embeddings.base import BaseEmbedderConfig
from mem0.embeddings.base import EmbeddingBase

from assistant.knowledge import Embedder

Action = Literal["add", "search", "update"] | None


class HearthEmbedding(EmbeddingBase):
    """Registered with mem0 as the ``hearth`` embedder; ``config.model`` carries the Hearth :class:`Embedder`.

    The vectors are L2-normalised, which the cosine conversions in :mod:`assistant.memory.backend` rely on.
    """

    def __init__(self, config: BaseEmbedderConfig | None = None) -> None:
        super().__init__(config)
        if self.config.model is None or not hasattr(self.config.model, "embed"):
            raise ValueError("the hearth embedder needs a Hearth Embedder as config.model")
        self.embedder: Embedder = self.config.model

    def embed(self, text: str, memory_action: Action = None) -> list[float]:
        return self.embedder.embed([text])[0].tolist()

    def embed_batch(self, texts: list[str], memory_action: Action = "add") -> list[list[float]]:
        return self.embedder.embed(texts).tolist() if texts else []

    def load(self) -> None:
        """Load the bulk encoder now, not inside the first batch, where a load of seconds made an import's
        first ETA several times too long."""
        load = getattr(self.embedder, "load", None)
        if load is not None:
            load()
