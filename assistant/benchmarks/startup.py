"""``hearth bench startup``: how long a user waits for Hearth, against a bare interpreter in the same run.

Each measure runs as a subprocess of the venv's ``hearth`` entry point, in a fresh temporary
``HEARTH_HOME`` (cold: no settings, history, index or memory yet; the bundled model is found in
``resources/``). The measures are interleaved, each rep running every measure once in a rotating order, so
that a noisy moment on this machine hits all of them alike:

- baseline: ``python -c pass`` (the interpreter's own start);
- ``hearth --version``: wall time; target at most 0.3 s over the baseline;
- ``hearth ask --no-memory "hi"``: time to the first byte on stdout (the CLI flushes every token, so this is
  the first token as a user sees it), then the total; target first token <= 1.5 s;
- ``hearth ask "hi"`` with memory on: the same; target first token <= 3 s. Its total includes learning
  from the turn, which the CLI does after the answer is printed. Measured twice: with an empty memory (a
  new user) and with one stored memory (copied into the fresh folder), which makes the question go through
  the memory search and so its embedder.

Answers are capped with ``--max-tokens`` when the CLI has that option. The OS file cache is warm after the
first rep: a first start after boot is slower and cannot be reproduced, so it is not what is measured.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.benchmarks.results import cpu_name, save_result
from assistant.errors import HearthError

PROMPT = "hi"
MAX_TOKENS = 8
SEED_MEMORY = "My dog is called Biscuit."


@dataclass(frozen=True)
class Measure:
    key: str
    label: str
    #: The command after the ``hearth`` entry point; None for the interpreter baseline.
    args: tuple[str, ...] | None
    #: Judge (and report) the time to the first byte on stdout rather than the wall time.
    first_token: bool = False
    target_s: float | None = None
    #: The target bounds the margin over the baseline rather than the time itself.
    over_baseline: bool = False
    #: Start from a copy of a HEARTH_HOME holding one memory instead of an empty one.
    seeded: bool = False


MEASURES = (
    Measure("baseline", "`python -c pass` (baseline)", None),
    Measure("version", "`hearth --version`", ("--version",), target_s=0.3, over_baseline=True),
    Measure("ask_no_memory", '`hearth ask --no-memory "hi"`, first token', ("ask", "--no-memory"),
            first_token=True, target_s=1.5),
    Measure("ask_memory", '`hearth ask "hi"` (memory on, empty), first token', ("ask",), first_token=True,
            target_s=3.0),
    Measure("ask_memory_stored", '`hearth ask "hi"` (memory on, 1 stored), first token', ("ask",),
            first_token=True, target_s=3.0, seeded=True),
)


def hearth_command() -> list[str]:
    """The venv's ``hearth`` console script beside this interpreter, or ``python -m app`` without one."""
    script = Path(sys.executable).parent / "hearth"
    return [str(script)] if script.exists() else [sys.executable, "-m", "app"]


def _has_max_tokens(hearth: Sequence[str]) -> bool:
    """Whether ``hearth ask`` takes ``--max-tokens`` (it keeps the answers, and so the totals, short)."""
    out = subprocess.run([*hearth, "ask", "--help"], capture_output=True, text=True, check=False).stdout
    return "--max-tokens" in out


def _argv(measure: Measure, hearth: Sequence[str], cap: Sequence[str]) -> list[str]:
    if measure.args is None:
        return [sys.executable, "-c", "pass"]
    if measure.args[0] == "ask":
        return [*hearth, *measure.args, *cap, PROMPT]
    return [*hearth, *measure.args]


def _seed(hearth: Sequence[str], home: str) -> None:
    """Store one memory in ``home`` (the template the seeded measure copies)."""
    done = subprocess.run([*hearth, "memory", "add", SEED_MEMORY], env={**os.environ, "HEARTH_HOME": home},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["(no message)"]
        raise HearthError(f"startup benchmark: could not store a memory to start from: {tail[0]}")


def _time_one(argv: Sequence[str], template: str | None = None) -> dict[str, float]:
    """Wall time and time to the first stdout byte of ``argv``, run in a fresh HEARTH_HOME (a copy of
    ``template`` when given)."""
    with tempfile.TemporaryDirectory(prefix="hearth-startup-") as home, tempfile.TemporaryFile() as errors:
        if template is not None:
            shutil.copytree(template, home, dirs_exist_ok=True)
        env = {**os.environ, "HEARTH_HOME": home}
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, env=env,
                                bufsize=0)
        assert proc.stdout is not None
        first = proc.stdout.read(1)
        t_first = time.perf_counter()
        proc.stdout.read()
        code = proc.wait()
        wall = time.perf_counter() - t0
        if code != 0:
            errors.seek(0)
            tail = errors.read().decode(errors="replace").strip().splitlines()[-1:] or ["(no message)"]
            raise HearthError(f"startup benchmark: `{' '.join(argv)}` failed with exit code {code}: {tail[0]}")
    return {"wall_s": wall, "first_token_s": t_first - t0 if first else wall}


def _summary(measure: Measure, samples: list[dict[str, float]], baseline_s: float | None) -> dict[str, Any]:
    key = "first_token_s" if measure.first_token else "wall_s"
    values = [s[key] for s in samples]
    median = statistics.median(values)
    row: dict[str, Any] = {
        "label": measure.label, "metric": key, "median_s": median, "min_s": min(values), "max_s": max(values),
        "wall_median_s": statistics.median(s["wall_s"] for s in samples),
        "margin_s": None if baseline_s is None else median - baseline_s,
        "target_s": measure.target_s, "target_over_baseline": measure.over_baseline, "samples": samples,
    }
    if measure.target_s is not None:
        judged = row["margin_s"] if measure.over_baseline else median
        row["passed"] = judged <= measure.target_s
    return row


def run(reps: int = 5, log: Callable[[str], object] = print, hearth: Sequence[str] | None = None) -> dict[str, Any]:
    """Measure every start-up path ``reps`` times, interleaved; save and return the medians and targets."""
    hearth = list(hearth or hearth_command())
    cap = ["--max-tokens", str(MAX_TOKENS)] if _has_max_tokens(hearth) else []
    samples: dict[str, list[dict[str, float]]] = {m.key: [] for m in MEASURES}
    with tempfile.TemporaryDirectory(prefix="hearth-startup-seed-") as template:
        log(f"storing one memory to start the seeded measure from: {SEED_MEMORY!r}")
        _seed(hearth, template)
        for rep in range(reps):
            order = MEASURES[rep % len(MEASURES):] + MEASURES[:rep % len(MEASURES)]
            log(f"rep {rep + 1}/{reps}: " + ", ".join(m.key for m in order))
            for measure in order:
                argv = _argv(measure, hearth, cap)
                samples[measure.key].append(_time_one(argv, template if measure.seeded else None))
    baseline = _summary(MEASURES[0], samples["baseline"], None)
    result = {
        "benchmark": "startup",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count()},
        "settings": {"reps": reps, "prompt": PROMPT, "max_tokens": MAX_TOKENS if cap else None,
                     "command": " ".join(hearth)},
        "measures": {"baseline": baseline} | {
            m.key: _summary(m, samples[m.key], baseline["median_s"]) for m in MEASURES[1:]
        },
    }
    save_result("startup", result)
    return result


def table(r: dict[str, Any]) -> str:
    """Markdown table: median (min-max) per measure, its margin over ``python -c pass``, target, pass/fail."""
    cap = r["settings"]["max_tokens"]
    lines = [
        f"Start-up benchmark: median of {r['settings']['reps']} (min-max), each run in a fresh HEARTH_HOME, "
        f"{r['machine']['cores']} cores" + (f", answers capped at {cap} tokens" if cap else ""),
        "",
        "| measure | median (min-max) | over `python -c pass` | total (median) | target | result |",
        "|---|---|---|---|---|---|",
    ]
    for m in r["measures"].values():
        margin = "" if m["margin_s"] is None else f"{m['margin_s']:+.2f} s"
        total = f"{m['wall_median_s']:.2f} s" if m["metric"] == "first_token_s" else ""
        target = ""
        if m["target_s"] is not None:
            target = f"<= {'+' if m['target_over_baseline'] else ''}{m['target_s']:.1f} s"
        verdict = "" if "passed" not in m else ("pass" if m["passed"] else "FAIL")
        lines.append(f"| {m['label']} | {m['median_s']:.2f} s ({m['min_s']:.2f}-{m['max_s']:.2f}) | {margin} | "
                     f"{total} | {target} | {verdict} |")
    return "\n".join(lines)
