"""Will this model fit? Weights + KV cache at the chosen context against free RAM and free VRAM.

Why from the GGUF header: layer count, KV heads and head size give the KV cache exactly
(:meth:`ModelInfo.kv_cache_bytes`), so a newcomer sees "Won't fit" before a multi-GB download or load,
and a GPU user sees *why* a model runs on the CPU instead of finding out from the speed. The cache is
counted in the type the user chose (a q8_0 cache takes about half the memory of an f16 one), as the engine
allocates it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import psutil

from assistant.engine import ModelInfo, native
from assistant.models.vram import gpu_devices

#: llama.cpp's compute buffers and one batch of logits, beyond weights + KV cache (same budget as the engine).
OVERHEAD_BYTES = 160 * 2**20
#: Needing at most this share of the free memory "Fits"; up to all of it is "Tight".
COMFORT_SHARE = 0.8
FITS, TIGHT, WONT_FIT = "Fits", "Tight", "Won't fit"


@dataclass(frozen=True)
class Resources:
    """What the machine has free right now."""

    free_ram: int
    gpu_offload: bool  # this llama.cpp build can offload layers
    free_vram: int | None  # summed over llama.cpp's GPUs; None when it sees no GPU


def probe_resources() -> Resources:
    offload = native.supports_gpu_offload()
    gpus = gpu_devices() if offload else []
    return Resources(psutil.virtual_memory().available, offload, sum(g.free for g in gpus) if gpus else None)


@dataclass(frozen=True)
class FitEstimate:
    label: str  # FITS / TIGHT / WONT_FIT
    n_ctx: int
    weights_bytes: int
    kv_cache: str  # its type: f16 or q8_0
    kv_cache_bytes: int
    ram_needed: int
    vram_needed: int
    free_ram: int
    free_vram: int | None
    n_gpu_layers: int  # suggested: as many layers as fit in free VRAM
    reason: str  # where it runs and why

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def said(self) -> str:
        """The estimate in words, as every front end gives it (at what context it was made was said only by
        the CLI: the window's Models view gave the reason alone)."""
        return (f"{self.label} at {self.n_ctx} tokens with a {self.kv_cache} KV cache: needs "
                f"{self.ram_needed / 2**30:.2f} GiB RAM of {self.free_ram / 2**30:.1f} free, GPU layers "
                f"{self.n_gpu_layers}. {self.reason}")


def label_for(needed: int, free: int) -> str:
    if needed <= free * COMFORT_SHARE:
        return FITS
    return TIGHT if needed <= free else WONT_FIT


def estimate_fit(info: ModelInfo, n_ctx: int, resources: Resources, kv_cache: str = "f16") -> FitEstimate:
    """``kv_cache``: the KV cache type (``native.KV_CACHE_TYPES``), the settings' ``model.kv_cache``; an unknown
    one (a hand-edited settings file: loading says why it is refused) is counted as f16."""
    if kv_cache not in native.KV_CACHE_TYPES:
        kv_cache = "f16"
    n_ctx = info.context_for(n_ctx)
    weights, kv = info.file_size, info.kv_cache_bytes(n_ctx, native.KV_CACHE_TYPES[kv_cache][1])
    n_layer = max(info.n_layer, 1)
    layers, reason = _gpu_layers(n_layer, weights + kv, resources)
    on_gpu = (weights + kv) * layers // n_layer
    ram_needed = weights + kv - on_gpu + OVERHEAD_BYTES
    return FitEstimate(
        label=label_for(ram_needed, resources.free_ram),
        n_ctx=n_ctx,
        weights_bytes=weights,
        kv_cache=kv_cache,
        kv_cache_bytes=kv,
        ram_needed=ram_needed,
        vram_needed=on_gpu + OVERHEAD_BYTES if layers else 0,
        free_ram=resources.free_ram,
        free_vram=resources.free_vram,
        n_gpu_layers=layers,
        reason=reason,
    )


def rough_fit(file_size: int, resources: Resources) -> str:
    """A label for a model not downloaded yet (catalog): weights + overhead against RAM and VRAM together."""
    return label_for(file_size + OVERHEAD_BYTES, resources.free_ram + (resources.free_vram or 0))


def _gpu_layers(n_layer: int, model_bytes: int, resources: Resources) -> tuple[int, str]:
    if not resources.gpu_offload:
        return 0, f"Runs on the CPU: {native.NO_GPU}."
    if resources.free_vram is None:
        return 0, "Runs on the CPU: llama.cpp found no GPU."
    per_layer = model_bytes / n_layer
    layers = max(0, min(n_layer, int((resources.free_vram - OVERHEAD_BYTES) // per_layer)))
    free = f"{resources.free_vram / 2**30:.1f} GiB"
    if layers == n_layer:
        return layers, f"Runs on the GPU: all {n_layer} layers fit in the free VRAM ({free})."
    if layers == 0:
        return 0, f"Runs on the CPU: not enough free VRAM ({free}) for even one layer."
    return layers, f"Runs on GPU + CPU: not enough free VRAM ({free}) for more than {layers} of {n_layer} layers."
