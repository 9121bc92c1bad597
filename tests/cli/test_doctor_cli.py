"""``hearth doctor``: what is wrong, in words, with what to do; --repair fixes what Hearth can fix itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from assistant.config import Settings, save_settings
from assistant.memory.queue import TurnQueue
from assistant.paths import get_paths

ROOT = Path(__file__).resolve().parents[2]


def doctor(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEARTH_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "app", "doctor", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def by_area(out: str) -> dict[str, dict]:
    return {f["area"]: f for f in json.loads(out)}


def test_a_fresh_install_is_healthy(hearth_home: Path) -> None:
    out = doctor("--json", home=hearth_home)
    assert out.returncode in (0, 1) and "Traceback" not in out.stderr
    found = by_area(out.stdout)
    assert {"model", "history", "knowledge", "memory", "disk", "desktop"} <= set(found)
    assert all(found[a]["status"] == "ok" for a in ("model", "history", "knowledge", "memory", "disk"))


def test_a_broken_model_is_a_problem_with_a_fix(hearth_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    settings = Settings()
    settings.model.path = str(bad)
    save_settings(settings, get_paths().settings_file)
    out = doctor(home=hearth_home)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "✗ model: The chat model cannot be used: broken.gguf" in out.stdout
    assert "→ Pick another one: `hearth models list`" in out.stdout


def test_failed_memory_turns_are_a_warning_that_repair_queues_again(hearth_home: Path) -> None:
    queue = TurnQueue(get_paths().ensure().memory_dir / "queue.sqlite3")
    turn = queue.push("c1", "I play the cello.")
    for _ in range(3):
        queue.fail(turn, "the model gave no valid JSON")
    assert queue.counts() == {"pending": 0, "failed": 1}
    queue.close()
    before = by_area(doctor("--json", home=hearth_home).stdout)["memory"]
    assert before["status"] == "warning" and before["repair"] == "retry-memory"
    repaired = doctor("--repair", "--json", home=hearth_home)
    assert "repairing:" in repaired.stderr and "Traceback" not in repaired.stderr
    assert by_area(repaired.stdout)["memory"]["status"] == "ok"
