"""GPU devices and their free memory, as llama.cpp's own device registry reports them.

Why ggml's registry and not nvidia-smi/pynvml: it is the list llama.cpp will actually offload to, whatever
the backend (CUDA, ROCm, Metal, Vulkan), and it is already loaded in the process. llama-cpp-python binds
the llama API only, so the four ggml device calls are bound here with ctypes against the same library.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from functools import cache

from llama_cpp._ctypes_extensions import load_shared_library
from llama_cpp.llama_cpp import _base_path as llama_lib_dir

from assistant.engine import native

#: enum ggml_backend_dev_type in the vendored ggml-backend.h of llama-cpp-python 0.3.36: GPU and IGPU.
_GPU_TYPES = frozenset({1, 2})


@dataclass(frozen=True)
class GpuDevice:
    name: str
    free: int
    total: int


@cache
def _ggml() -> ctypes.CDLL:
    lib = load_shared_library("ggml", llama_lib_dir)
    lib.ggml_backend_dev_count.restype = ctypes.c_size_t
    lib.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    lib.ggml_backend_dev_get.restype = ctypes.c_void_p
    lib.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_dev_type.restype = ctypes.c_int
    lib.ggml_backend_dev_description.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_dev_description.restype = ctypes.c_char_p
    lib.ggml_backend_dev_memory.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
                                            ctypes.POINTER(ctypes.c_size_t)]
    lib.ggml_backend_dev_memory.restype = None
    return lib


def gpu_devices() -> list[GpuDevice]:
    """GPUs llama.cpp can offload to, with free/total memory in bytes (empty on a CPU-only build)."""
    native.ensure_backend()
    lib = _ggml()
    devices = []
    for i in range(lib.ggml_backend_dev_count()):
        dev = lib.ggml_backend_dev_get(i)
        if lib.ggml_backend_dev_type(dev) not in _GPU_TYPES:
            continue
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        lib.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        name = (lib.ggml_backend_dev_description(dev) or b"GPU").decode(errors="replace")
        devices.append(GpuDevice(name, free.value, total.value))
    return devices
