"""A download killed at a random byte: nothing half-made appears in the library, and the same command
resumes from the partial file and finishes verified against the Hub's sha256."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hub_server import serve_hub, write_tiny_gguf
from kill import ROOT

REPO, FILE = "hearth-test/Tiny-GGUF", "tiny-chat-Q8_0.gguf"


def download(home: Path, endpoint: str) -> subprocess.Popen[str]:
    env = {**os.environ, "HEARTH_HOME": str(home), "HF_ENDPOINT": endpoint, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "app", "models", "download", REPO, FILE, "--json"], cwd=ROOT,
                            env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("seed", range(3))
def test_kill_mid_download_then_resume(seed: int, home: Path, tmp_path: Path) -> None:
    data = write_tiny_gguf(tmp_path / "tiny.gguf", rows=4096).read_bytes()
    with serve_hub() as hub:
        sha = hub.add(REPO, FILE, data)
        stall = hub.stall_after = random.Random(seed).randint(1, len(data) - 1)  # the byte the process dies after
        child = download(home, hub.url)
        assert hub.stalled.wait(60), child.communicate()[1]
        time.sleep(0.3)  # the client writes what it received
        child.kill()
        child.wait(timeout=30)
        hub.release.set()
        assert not (home / "data" / "models" / FILE).exists()  # never half a model in the library

        out, err = download(home, hub.url).communicate(timeout=120)
        result = json.loads(out)
        # what the killed process had written is reused (huggingface_hub writes in whole network chunks, so
        # that may be nothing for a small file); the result is the same file either way
        assert result["sha256"] == sha and result["verified"] and 0 <= result["resumed_from"] <= stall, err
        assert (home / "data" / "models" / FILE).read_bytes() == data
