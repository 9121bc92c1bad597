"""The torch-free query encoder gives sentence-transformers' vectors, so queries find indexed chunks."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from assistant.knowledge import bert_numpy
from assistant.knowledge.embedder import QUERY_TEXTS


@pytest.mark.slow
def test_numpy_encoder_matches_sentence_transformers(knowledge_embedder) -> None:
    texts = ["What is my dog called?", "The spare key is under the blue flowerpot.", "naïve café — ünïcödé",
             "word " * 600]  # the last one is truncated to the model's window, as torch truncates it
    fast = knowledge_embedder.embed(texts)  # a few texts: the NumPy path
    assert len(texts) <= QUERY_TEXTS
    slow = np.asarray(knowledge_embedder.model.encode(texts, normalize_embeddings=True), dtype=np.float32)
    assert fast.dtype == np.float32 and fast.shape == slow.shape == (4, 384)
    assert np.abs(fast - slow).max() < 1e-5


def test_a_query_vector_needs_no_torch() -> None:
    code = ("import sys; from assistant.config import KnowledgeSettings; "
            "from assistant.knowledge import SentenceTransformerEmbedder as E; "
            "v = E.from_settings(KnowledgeSettings()).embed(['where is the key?']); "
            "print(v.shape, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "(1, 384) False False", out.stderr


def test_unsupported_folders_fall_back_to_torch(tmp_path) -> None:
    assert bert_numpy.load(tmp_path) is None
    (tmp_path / "modules.json").write_text('[{"type": "sentence_transformers.models.Transformer"}]')
    (tmp_path / "config.json").write_text('{"model_type": "xlm-roberta"}')
    assert bert_numpy.load(tmp_path) is None
