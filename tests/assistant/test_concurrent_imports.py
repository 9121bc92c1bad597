"""Opening Chroma, mem0 and the start-up check on three threads at once never imports pydantic's parts on two
threads at the same time (CPython then hands one of them a partially initialised module; see
``assistant.lazy.PYDANTIC_IMPORTS``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from checks import run_python

#: Runs in a fresh interpreter: records when each thread is inside an import of a pydantic-based package,
#: while the window's three start-up jobs run together, and prints the overlapping pairs.
SCRIPT = r"""
import importlib._bootstrap as bootstrap, json, sys, threading, time
PACKAGES = {"pydantic", "pydantic_core", "chromadb", "mem0", "fastapi", "starlette"}
spans, original = [], bootstrap._find_and_load

def find_and_load(name, import_):
    start = time.perf_counter()
    try:
        return original(name, import_)
    finally:
        if name.partition(".")[0] in PACKAGES:
            spans.append((threading.get_ident(), name, start, time.perf_counter()))

bootstrap._find_and_load = find_and_load
from assistant.core import Assistant

assistant = Assistant.open(background=False)
store = assistant.knowledge.store  # as in the window, whose sidebar lists the collections at start
gate = threading.Barrier(3)
failures = []

def job(call):
    gate.wait()
    try:
        call()
    except Exception as exc:
        failures.append(f"{type(exc).__name__}: {exc}")

jobs = [lambda: assistant.warm_up("answers"), lambda: store.chroma,
        lambda: assistant.doctor(desktop=False)]
threads = [threading.Thread(target=job, args=(call,)) for call in jobs]
for t in threads:
    t.start()
for t in threads:
    t.join()
overlaps = [(a[1], b[1]) for i, a in enumerate(spans) for b in spans[i + 1:]
            if a[0] != b[0] and a[2] < b[3] and b[2] < a[3]]
print(json.dumps({"failures": failures, "imports": len(spans), "overlaps": overlaps[:10]}))
sys.stdout.flush()
assistant.close()
"""


@pytest.mark.slow
def test_chroma_mem0_and_the_check_opened_together_import_one_at_a_time(hearth_home: Path) -> None:
    done = run_python(SCRIPT)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["failures"] == []
    assert report["imports"] > 50  # the packages were really imported here, not before the threads ran
    assert report["overlaps"] == []
