"""The torch-free query encoder gives sentence-transformers' vectors, so queries find indexed chunks."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from assistant.knowledge import bert_numpy


@pytest.mark.slow
def test_numpy_encoder_matches_sentence_transformers(knowledge_embedder) -> None:
    texts = ["What is my dog called?", "The spare key is under the blue flowerpot.", "naïve café — ünïcödé",
             "word " * 600]  # the last one is truncated to the model's window, as torch truncates it
    fast = knowledge_embedder.embed(texts)  # the NumPy path
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


def _bundled_encoder() -> bert_numpy.BertEncoder:
    from assistant.config import KnowledgeSettings
    from assistant.knowledge.embedder import embedder_path

    encoder = bert_numpy.load(embedder_path(KnowledgeSettings()))
    assert encoder is not None
    return encoder


def test_a_batch_gives_the_vectors_of_one_text_at_a_time() -> None:
    """Bulk indexing without torch: texts of different lengths laid end to end in one pass, unpadded."""
    encoder = _bundled_encoder()
    texts = ["short", "The spare key is under the blue flowerpot by the greenhouse door.", "word " * 600,
             "naïve café — ünïcödé", "x"]
    batched = encoder.embed(texts, batch_size=3)  # two batches, the second one of two texts
    single = np.concatenate([encoder.embed([t]) for t in texts])
    assert batched.shape == (5, 384) and batched.dtype == np.float32
    assert np.abs(batched - single).max() < 1e-6
    assert encoder.embed([]).shape == (0, 384)


def test_bulk_batches_need_no_torch_where_it_is_not_installed() -> None:
    """The packaged app has no torch: indexing-sized batches go through the NumPy encoder."""
    code = ("import sys; sys.modules['torch'] = sys.modules['sentence_transformers'] = None; "
            "from assistant.config import KnowledgeSettings; "
            "from assistant.knowledge import SentenceTransformerEmbedder as E; "
            "e = E.from_settings(KnowledgeSettings()); e.load(); "
            "v = e.embed([f'note {i} about the greenhouse' for i in range(40)]); "
            "print(v.shape, e.max_tokens, sorted(m for m in ('torch', 'transformers') if sys.modules.get(m)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "(40, 384) 254 []", out.stderr


def test_an_indexing_run_needs_no_torch_even_where_it_is_installed() -> None:
    """Bulk batches switched to torch after 1,000 texts, loaded on a thread of its own: it embedded no faster
    than NumPy (slower on code), doubled the process's memory, stalled the window while it imported and was
    left running at exit. Now every batch of a model NumPy can run stays on NumPy, and the warm-up
    (``load``) imports nothing heavy."""
    code = ("import sys; from assistant.config import KnowledgeSettings; "
            "from assistant.knowledge import embedder; "
            "e = embedder.SentenceTransformerEmbedder.from_settings(KnowledgeSettings()); e.load(); "
            "texts = [f'note {i} about the greenhouse and its ' + 'tomatoes ' * (i % 7) for i in range(64)]; "
            "[e.embed(texts) for _ in range(20)]; "
            "import threading; print(sorted(m for m in ('torch', 'sentence_transformers') if m in sys.modules), "
            "threading.active_count())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.stdout.split() == ["[]", "1"], out.stdout + out.stderr


@pytest.mark.slow
def test_numpy_batches_match_sentence_transformers(knowledge_embedder) -> None:
    texts = [f"Paragraph {i}: " + "the quick brown fox jumps over the lazy dog " * (i % 9 + 1) for i in range(40)]
    fast = _bundled_encoder().embed(texts)
    slow = np.asarray(knowledge_embedder.model.encode(texts, normalize_embeddings=True), dtype=np.float32)
    assert np.abs(fast - slow).max() < 1e-5
