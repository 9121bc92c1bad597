"""Build llama.cpp's own tools (llama-bench, llama-lookup, llama-speculative) as benchmark baselines, and its
``llama-server`` (the remote-LLM tests run Hearth's remote engine against it).

They come from the llama.cpp source vendored in the llama-cpp-python sdist of the *installed* version, so
the baseline runs the same kernels as Hearth's engine. Built once into the cache folder (never committed);
later runs reuse the binaries. The server is built without its web UI (no npm, no download of prebuilt
assets): only its HTTP API is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

TOOLS = ("llama-bench", "llama-lookup", "llama-speculative")
#: llama.cpp's OpenAI-compatible server, built on demand (``ensure_tools(cache, tools=(SERVER,))``).
SERVER = "llama-server"


def tools_dir(cache_dir: Path) -> Path:
    return cache_dir / f"llama.cpp-{version('llama-cpp-python')}"


def ensure_tools(cache_dir: Path, log=print, tools: tuple[str, ...] = TOOLS) -> Path:
    """Return the folder holding the built ``tools``, building them first if needed (minutes, once)."""
    root = tools_dir(cache_dir)
    bin_dir = root / "build" / "bin"
    if all((bin_dir / t).exists() for t in tools):
        return bin_dir
    src = root / "src"
    if not (src / "CMakeLists.txt").exists():
        log(f"fetching the llama-cpp-python {version('llama-cpp-python')} sdist for its vendored llama.cpp...")
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                 f"llama-cpp-python=={version('llama-cpp-python')}", "-d", tmp],
                check=True,
            )
            sdist = next(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
            with tarfile.open(sdist) as tar:
                tar.extractall(tmp, filter="data")
            vendored = next(Path(tmp).glob("llama_cpp_python-*/vendor/llama.cpp"))
            shutil.rmtree(src, ignore_errors=True)
            shutil.copytree(vendored, src)
    log(f"building {', '.join(tools)} (a few minutes, once)...")
    build = root / "build"
    jobs = str(os.cpu_count() or 2)
    _quiet(["cmake", "-S", str(src), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", "-DLLAMA_CURL=OFF",
            "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_UI=OFF",
            "-DLLAMA_USE_PREBUILT_UI=OFF", "-DBUILD_SHARED_LIBS=OFF",
            *(os.environ.get("CMAKE_ARGS", "").split())])
    _quiet(["cmake", "--build", str(build), "-j", jobs, "--target", *tools])
    return bin_dir


def _quiet(cmd: list[str]) -> None:
    """Run a build step; its (very long) compiler output is shown only when it fails."""
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def main(argv: list[str]) -> None:
    """``python -m assistant.benchmarks.native_tools [CACHE_DIR] [TOOL ...]``: build ``TOOL``s (default: the
    benchmark baselines; ``llama-server`` for the remote-LLM tests) into CACHE_DIR (default: Hearth's cache
    folder) and print where they are."""
    from assistant.paths import get_paths

    args = list(argv)
    cache = Path(args.pop(0)) if args and args[0] not in (*TOOLS, SERVER) else get_paths().cache_dir
    print(ensure_tools(cache, tools=tuple(args) or TOOLS))


if __name__ == "__main__":
    main(sys.argv[1:])
