"""A torch-free forward pass of a BERT sentence embedder (all-MiniLM-L6-v2 and kin), for queries and bulk.

Why: a question needs one vector before its answer can start (memories and passages are looked up with
it), and getting it from sentence-transformers means importing torch and transformers first: several
seconds of a cold ``hearth ask``, for a 16-token sentence. The same weights, read with ``safetensors``
and run with NumPy, give the same vector (to float32 rounding; a test holds it to 1e-5) in milliseconds
after a ~0.1 s load. The packaged app (``packaging/``) ships without torch (754 MB), so this encoder also
embeds whole indexing batches there: texts are sorted by length and padded per batch, with the padding
masked out of attention and pooling, so a batch gives the same vectors as one text at a time. A source
install with torch uses it too, for every text of a model it can run: it embeds chunks faster than
sentence-transformers on torch (see :mod:`assistant.knowledge.embedder`), and both give the same vectors,
so either can search what the other indexed.

Only what these models use is supported: ``BertModel`` with absolute positions, GELU, mean (or CLS)
pooling, then L2 normalisation. :func:`load` returns None for anything else, and the caller uses torch.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from assistant.cpu import usable_cores

#: Folders whose modules are exactly Transformer -> Pooling (-> Normalize) are supported.
_MODULES = ("sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling")


class BertEncoder:
    def __init__(self, weights: dict[str, np.ndarray], config: dict, pooling: str, tokenizer, max_len: int) -> None:
        self.w, self.pooling, self.tokenizer, self.max_len = weights, pooling, tokenizer, max_len
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text (texts are truncated to the model's window).

        Bulk input (indexing) runs on every core: slices of ``batch_size / cores`` texts go through the
        forward pass on parallel threads (NumPy releases the GIL in its kernels) with BLAS itself on one
        thread each. One pass with BLAS threaded used the cores far worse: the per-text attention products are
        too small to split, and the element-wise steps (GELU, softmax, norms) run on one core (measured:
        17.6 texts/s against 27 texts/s on 2 cores, all-MiniLM-L6-v2, ~230-token chunks).
        """
        dim = int(self.w["embeddings.word_embeddings.weight"].shape[1])
        if not texts:
            return np.zeros((0, dim), np.float32)
        ids = [self._ids(t) for t in texts]
        workers = min(usable_cores(), len(ids) // _MIN_SLICE)
        if workers <= 1:
            step = max(1, batch_size)
            return np.concatenate([self._batch(ids[i:i + step]) for i in range(0, len(ids), step)])
        step = max(1, -(-batch_size // workers))
        slices = [ids[i:i + step] for i in range(0, len(ids), step)]
        with _one_blas_thread(), ThreadPoolExecutor(workers, thread_name_prefix="hearth-embed") as pool:
            return np.concatenate(list(pool.map(self._batch, slices)))

    def _ids(self, text: str) -> list[int]:
        ids = self.tokenizer.encode(text).ids[: self.max_len]
        if len(ids) == self.max_len:  # keep the closing [SEP] a truncated input still ends with
            ids[-1] = self.tokenizer.token_to_id("[SEP]")
        return ids

    def _batch(self, batch: list[list[int]]) -> np.ndarray:
        """One forward pass over the texts' tokens laid end to end, without padding: every step but
        attention works token by token, and attention runs per text over its own slice."""
        w = self.w
        lengths = [len(ids) for ids in batch]
        bounds = np.cumsum([0, *lengths])
        segments = list(zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True))
        tokens = np.fromiter((t for ids in batch for t in ids), np.int64, int(bounds[-1]))
        positions = np.concatenate([np.arange(n) for n in lengths])
        x = (w["embeddings.word_embeddings.weight"][tokens] + w["embeddings.position_embeddings.weight"][positions]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings.LayerNorm")
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            x = self._norm(x + self._linear(self._attention(x, p, segments), p + "attention.output.dense"),
                           p + "attention.output.LayerNorm")
            x = self._norm(x + self._feed_forward(x, p), p + "output.LayerNorm")
        pooled = (x[bounds[:-1]] if self.pooling == "cls"
                  else np.stack([x[a:b].mean(axis=0) for a, b in segments]))
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return (pooled / norms).astype(np.float32)

    def _attention(self, x: np.ndarray, p: str, segments: list[tuple[int, int]]) -> np.ndarray:
        d = x.shape[1]
        h = d // self.heads
        qkv = self._linear(x, p + "attention.self.qkv")  # query, key and value weights joined by load()
        out = np.empty_like(x)
        scale = np.float32(1.0 / math.sqrt(h))
        for a, b in segments:  # one text: its (heads, n, n) scores stay in the CPU cache
            n = b - a
            q = np.ascontiguousarray(qkv[a:b, :d].reshape(n, self.heads, h).transpose(1, 0, 2))
            k = np.ascontiguousarray(qkv[a:b, d:2 * d].reshape(n, self.heads, h).transpose(1, 2, 0))
            v = np.ascontiguousarray(qkv[a:b, 2 * d:].reshape(n, self.heads, h).transpose(1, 0, 2))
            q *= scale
            scores = q @ k
            scores -= scores.max(axis=-1, keepdims=True)
            # below -80 a weight is < 2e-35 of the largest (nothing after the sum), and exp() would make
            # float32 denormals there, which cost ~100x a normal operation on x86
            np.maximum(scores, np.float32(-80.0), out=scores)
            np.exp(scores, out=scores)
            context = scores @ v
            context /= scores.sum(axis=-1, keepdims=True)  # softmax's division, on the narrower result
            out[a:b] = context.transpose(1, 0, 2).reshape(n, d)
        return out

    def _feed_forward(self, x: np.ndarray, p: str, rows: int = 256) -> np.ndarray:
        """The intermediate layer in blocks of ``rows`` tokens, so its 4x wider activations and the GELU's
        element-wise steps stay in the CPU cache instead of streaming through memory."""
        out = np.empty_like(x)
        for a in range(0, x.shape[0], rows):
            hidden = self._gelu(self._linear(x[a:a + rows], p + "intermediate.dense"))
            out[a:a + rows] = self._linear(hidden, p + "output.dense")
        return out

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[name + ".bias"]

    @staticmethod
    def _gelu(x: np.ndarray) -> np.ndarray:
        """The erf GELU BERT was trained with (the tanh approximation would move vectors by ~1e-3)."""
        y = _erf(x * np.float32(1.0 / math.sqrt(2.0)))
        y += np.float32(1.0)
        y *= x
        y *= np.float32(0.5)
        return y


#: Fewer texts than this per core are embedded on one thread (a query: a few milliseconds either way).
_MIN_SLICE = 4


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """BLAS (OpenBLAS under NumPy) on one thread while the bulk threads run, then as it was."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # without it the threads still work, BLAS just oversubscribes the cores
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to within 1.5e-7 (Abramowitz & Stegun 7.1.26), vectorised in place: float32 rounding is larger."""
    f32 = np.float32
    # erf(4) is 1 in float32; clipping keeps exp(-a*a) away from denormals (~100x slower on x86)
    a = np.minimum(np.abs(x), f32(4.0))
    t = a * f32(0.3275911)
    t += f32(1.0)
    np.reciprocal(t, out=t)
    poly = t * f32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += f32(c)
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(f32(1.0), poly, out=poly)
    poly *= np.sign(x)
    return poly


def load(folder: Path) -> BertEncoder | None:
    """The NumPy encoder for a sentence-transformers folder, or None when it is not a plain BERT one."""
    try:
        modules = [m["type"] for m in json.loads((folder / "modules.json").read_text("utf-8"))]
        config = json.loads((folder / "config.json").read_text("utf-8"))
        pooling_config = json.loads((folder / "1_Pooling" / "config.json").read_text("utf-8"))
        window = json.loads((folder / "sentence_bert_config.json").read_text("utf-8")).get("max_seq_length", 512)
        weights_file = folder / "model.safetensors"
        tokenizer_file = folder / "tokenizer.json"
    except (OSError, ValueError, KeyError, TypeError):
        return None
    pooling = ("mean" if pooling_config.get("pooling_mode_mean_tokens") else
               "cls" if pooling_config.get("pooling_mode_cls_token") else None)
    supported = (tuple(modules[:2]) == _MODULES and config.get("model_type") == "bert"
                 and config.get("position_embedding_type", "absolute") == "absolute"
                 and config.get("hidden_act") == "gelu" and pooling is not None
                 and weights_file.is_file() and tokenizer_file.is_file())
    if not supported:
        return None
    from safetensors import safe_open
    from tokenizers import Tokenizer

    # one tensor per call: ``load_file`` read all 90 MB in one call holding Python's lock, which stalled the
    # window's event loop 108 ms at start; tensor by tensor the worst hold is 30 ms, and the whole load is
    # quicker too (67-79 ms against 111 ms on the 2-core machine)
    with safe_open(str(weights_file), framework="numpy") as tensors:
        weights = {k.removeprefix("bert."): tensors.get_tensor(k).astype(np.float32, copy=False)
                   for k in tensors.keys()}  # noqa: SIM118 (safe_open is not iterable)
    for i in range(int(config["num_hidden_layers"])):  # one matrix product for query, key and value
        p = f"encoder.layer.{i}.attention.self."
        for part in ("weight", "bias"):
            weights[f"{p}qkv.{part}"] = np.concatenate([weights.pop(f"{p}{n}.{part}")
                                                        for n in ("query", "key", "value")])
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return BertEncoder(weights, config, pooling, tokenizer, int(window))
