"""A torch-free forward pass of a BERT sentence embedder (all-MiniLM-L6-v2 and kin), for short query texts.

Why: a question needs one vector before its answer can start (memories and passages are looked up with
it), and getting it from sentence-transformers means importing torch and transformers first: several
seconds of a cold ``hearth ask``, for a 16-token sentence. The same weights, read with ``safetensors``
and run with NumPy, give the same vector (to float32 rounding; a test holds it to 1e-5) in milliseconds
after a ~0.1 s load. Indexing batches stay on sentence-transformers (torch's kernels are faster in bulk);
both produce the same vectors, so a query from here finds chunks embedded there.

Only what these models use is supported: ``BertModel`` with absolute positions, GELU, mean (or CLS)
pooling, then L2 normalisation. :func:`load` returns None for anything else, and the caller uses torch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: Folders whose modules are exactly Transformer -> Pooling (-> Normalize) are supported.
_MODULES = ("sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling")


class BertEncoder:
    def __init__(self, weights: dict[str, np.ndarray], config: dict, pooling: str, tokenizer, max_len: int) -> None:
        self.w, self.pooling, self.tokenizer, self.max_len = weights, pooling, tokenizer, max_len
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text (texts are truncated to the model's window)."""
        return np.stack([self._one(text) for text in texts]) if texts else np.zeros((0, 0), np.float32)

    def _one(self, text: str) -> np.ndarray:
        ids = self.tokenizer.encode(text).ids[: self.max_len]
        if len(ids) == self.max_len:  # keep the closing [SEP] a truncated input still ends with
            ids[-1] = self.tokenizer.token_to_id("[SEP]")
        w, n = self.w, len(ids)
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings.LayerNorm")
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            x = self._norm(x + self._linear(self._attention(x, p), p + "attention.output.dense"),
                           p + "attention.output.LayerNorm")
            hidden = self._gelu(self._linear(x, p + "intermediate.dense"))
            x = self._norm(x + self._linear(hidden, p + "output.dense"), p + "output.LayerNorm")
        pooled = x[0] if self.pooling == "cls" else x.mean(axis=0)
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)

    def _attention(self, x: np.ndarray, p: str) -> np.ndarray:
        n, d = x.shape
        h = d // self.heads
        q, k, v = (self._linear(x, p + f"attention.self.{name}").reshape(n, self.heads, h).transpose(1, 0, 2)
                   for name in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / np.float32(math.sqrt(h))
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        return (scores @ v).transpose(1, 0, 2).reshape(n, d)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[name + ".bias"]

    @staticmethod
    def _gelu(x: np.ndarray) -> np.ndarray:
        """The erf GELU BERT was trained with (the tanh approximation would move vectors by ~1e-3)."""
        return 0.5 * x * (1.0 + _erf(x / np.float32(math.sqrt(2.0))))


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to within 1.5e-7 (Abramowitz & Stegun 7.1.26), vectorised: float32 rounding is larger."""
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (np.sign(x) * (1.0 - poly * np.exp(-x * x))).astype(np.float32)


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
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    weights = {k.removeprefix("bert."): v.astype(np.float32, copy=False)
               for k, v in load_file(str(weights_file)).items()}
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return BertEncoder(weights, config, pooling, tokenizer, int(window))
