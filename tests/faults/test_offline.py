"""Nothing leaves the machine: the commands people use every day open no network connection at all (every
attempt is recorded by an audit hook in the child process, local ones included)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kill import ROOT

HOOK = Path(__file__).parent / "offline_hook"


def run(home: Path, log: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_ENDPOINT")}
    env |= {"HEARTH_HOME": str(home), "HEARTH_SOCKET_LOG": str(log),
            "PYTHONPATH": os.pathsep.join([str(HOOK), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_ask_index_search_and_memory_open_no_socket(home: Path, tmp_path: Path) -> None:
    log = tmp_path / "sockets.log"
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "key.md").write_text("# Key\n\nThe spare key is under the blue flowerpot.\n")
    for args in (("ask", "--max-tokens", "8", "I live in Lisbon."), ("index", str(notes), "-c", "notes"),
                 ("search", "spare key", "-c", "notes"), ("ask", "--collection", "notes", "--max-tokens", "8",
                                                           "Where is the spare key?"),
                 ("memory", "add", "I prefer short answers."), ("memory", "list"), ("doctor",)):
        out = run(home, log, *args)
        assert "Traceback" not in out.stderr, (args, out.stderr)
        assert not log.exists(), f"hearth {' '.join(args)} opened a connection:\n{log.read_text()}"
