"""llama.cpp's own ``llama-server`` (built from the llama.cpp vendored in llama-cpp-python, like the benchmark
tools) run on a free port of 127.0.0.1 with a bundled model, for the remote-LLM tests. Not a conftest: the
test modules import it.

The binary is built once into Hearth's cache folder by ``make test`` (``python -m
assistant.benchmarks.native_tools llama-server``); the tests skip, saying so, when it is missing.
``HEARTH_LLAMA_SERVER`` may name another binary.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import platformdirs

from assistant.benchmarks.native_tools import SERVER, tools_dir

#: Seconds a started server may take to load the model and answer /health.
START_TIMEOUT_S = 60.0


def server_binary() -> Path | None:
    """The llama-server binary, or None when it has not been built."""
    given = os.environ.get("HEARTH_LLAMA_SERVER")
    path = Path(given) if given else tools_dir(Path(platformdirs.user_cache_dir("hearth"))) / "build" / "bin" / SERVER
    return path if path.is_file() and os.access(path, os.X_OK) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on (free just now): connections to it are refused."""
    return free_port()


@contextmanager
def llama_server(model: Path, n_ctx: int = 2048, threads: int = 1, extra: tuple[str, ...] = ()) -> Iterator[str]:
    """Run llama-server on ``model``; yields its base URL (``http://127.0.0.1:PORT``) once /health says ok.

    ``-nr`` (``--no-repack``) is llama-server's switch for what the in-process engine does on AMX CPUs (no
    "extra" weight buffer types: llama.cpp's AMX kernels crash on multi-token batches there). One slot, so a
    request that was cancelled must have freed it before the next one can run. One thread: llama.cpp's
    threads spin at every barrier, and on a 2-core machine shared with the test process (and whatever else
    runs) two of them decoded the 135M model at 3-5 tokens/s where one does 30.
    """
    binary = server_binary()
    if binary is None:
        raise FileNotFoundError(SERVER)
    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"hearth-llama-server-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
                                 "-c", str(n_ctx), "-np", "1", "-t", str(threads), "-nr", "--no-webui", *extra],
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama-server exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx2.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama-server did not start in {START_TIMEOUT_S:.0f} s: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.unlink(missing_ok=True)
