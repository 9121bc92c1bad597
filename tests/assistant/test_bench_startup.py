"""``hearth bench startup``: the shape of its result and table, with a fast stand-in for ``hearth``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from assistant.benchmarks import startup
from assistant.errors import HearthError

#: Answers every command (``--version``, ``ask --help``, ``ask ... hi``) with one line, at once.
FAKE_HEARTH = [sys.executable, "-c", "print('answer')"]


@pytest.fixture
def saved(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Capture instead of overwriting bench/results/startup.json."""
    store: dict[str, Any] = {}
    monkeypatch.setattr(startup, "save_result", lambda name, result: store.update({name: result}))
    return store


def test_run_measures_every_path_interleaved_and_judges_targets(saved: dict[str, Any]) -> None:
    logged: list[str] = []
    result = startup.run(reps=2, log=logged.append, hearth=FAKE_HEARTH)
    assert saved == {"startup": result}
    assert logged[1:] == ["rep 1/2: baseline, version, ask_no_memory, ask_memory, ask_memory_stored",
                          "rep 2/2: version, ask_no_memory, ask_memory, ask_memory_stored, baseline"]
    measures = result["measures"]
    assert list(measures) == ["baseline", "version", "ask_no_memory", "ask_memory", "ask_memory_stored"]
    assert result["settings"]["max_tokens"] is None  # the stand-in has no --max-tokens
    for key, m in measures.items():
        assert len(m["samples"]) == 2
        assert 0 < m["min_s"] <= m["median_s"] <= m["max_s"]
        assert ("passed" in m) == (key != "baseline")
    assert measures["ask_memory"]["metric"] == "first_token_s"
    assert measures["version"]["margin_s"] == pytest.approx(
        measures["version"]["median_s"] - measures["baseline"]["median_s"])
    table = startup.table(result)
    assert table.count("\n| ") == 6  # header + 5 measures
    assert "| `hearth --version` |" in table and "<= +0.3 s" in table and "<= 1.5 s" in table


def test_each_measurement_gets_a_fresh_hearth_home(tmp_path: Path) -> None:
    out = tmp_path / "homes.txt"
    code = f"import os; open({str(out)!r}, 'a').write(os.environ['HEARTH_HOME'] + '\\n')"
    for _ in range(2):
        startup._time_one([sys.executable, "-c", code])
    first, second = out.read_text().split()
    assert first != second and not Path(first).exists()


def test_a_seeded_measurement_starts_from_a_copy_of_the_template(tmp_path: Path) -> None:
    template = tmp_path / "template"
    (template / "data").mkdir(parents=True)
    (template / "data" / "marker").write_text("stored")
    code = "import os; print(open(os.path.join(os.environ['HEARTH_HOME'], 'data', 'marker')).read())"
    startup._time_one([sys.executable, "-c", code], str(template))
    assert (template / "data" / "marker").read_text() == "stored"  # the template itself is left alone


def test_a_failing_command_is_one_readable_error() -> None:
    with pytest.raises(HearthError, match="exit code 2: boom"):
        startup._time_one([sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(2)"])
