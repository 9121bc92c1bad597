"""`hearth index` progress on a terminal: the core's ETA, and what the count counts."""

from __future__ import annotations

import re
import time

from assistant.cli.knowledge_cmds import render_progress
from assistant.events import Progress


def test_indexing_progress_on_a_terminal_shows_the_cores_eta(monkeypatch, capsys) -> None:
    """rich's own ETA column needs samples close together: a run whose events came one embedding batch apart
    showed -:--:-- throughout, and "43/400" beside "3.2 chunks/s" did not say that it counted files."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    events = [Progress("index", 43, 400, "files", rate=3.2, eta_s=75, message="reading", item="/notes/huge.log",
                       item_done=448, item_total=3136),
              Progress("index", 400, 400, "files", rate=3.3, message="done")]
    def slowly():  # as a real run: seconds apart, so the bar is drawn between events
        for event in events:
            yield event
            time.sleep(0.3)

    assert render_progress(slowly()).message == "done"
    err = capsys.readouterr().err
    assert "43/400" in err and "files" in err and "about 1 min 15 s left" in err
    assert "huge.log (448 of 3,136 passages embedded)" in err


def one_large_file_on_a_terminal(monkeypatch, capsys, columns: int, done: int, total: int, share: float) -> str:
    """What `hearth index`'s bar draws on a terminal ``columns`` wide while huge.log has ``done`` of its
    ``total`` passages embedded (``share`` of the run's work)."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", str(columns))

    def slowly():
        yield Progress("index", 0, 1, "files", rate=3.2, eta_s=75, message="reading", item="/notes/huge.log",
                       item_done=done, item_total=total, share=share)
        time.sleep(0.3)

    render_progress(slowly())
    return capsys.readouterr().err


def test_the_terminal_bar_moves_while_one_large_file_embeds(monkeypatch, capsys) -> None:
    """The bar follows the work done (bytes embedded), the count the files: by files the bar stood empty at
    "0/1" while one large file embedded for minutes."""
    screen = one_large_file_on_a_terminal(monkeypatch, capsys, 200, 1568, 3136, 0.5)
    frame = next(f for f in screen.split("\r") if "0/1 files" in f)
    filled, empty = re.search(r"\x1b\[91m(━+)\x1b\[0m\x1b\[90m╺\x1b\[0m\x1b\[90m(━+)", frame).groups()
    assert abs(len(filled) - len(empty)) <= 1, frame


def test_an_80_column_terminal_names_the_large_file_on_a_line_of_its_own(monkeypatch, capsys) -> None:
    """Below about 110 columns the file being read was left out (it took the line and cut every column): a
    large file embedding for minutes was never named on an 80-column terminal."""
    screen = one_large_file_on_a_terminal(monkeypatch, capsys, 80, 96, 282, 0.3)
    assert "huge.log (96 of 282 passages embedded)" in screen, screen
    assert "0/1 files" in screen and "about 1 min 15 s left" in screen  # the columns stay whole


def test_indexing_progress_to_a_log_file_is_a_plain_line_now_and_then(monkeypatch, capsys) -> None:
    """Not on a terminal (stderr to a log file, a pipe) there is no bar: an hour-long run said nothing until it
    ended. A plain line is written every so often (every 30 s; here at every event)."""
    from assistant.cli import knowledge_cmds

    monkeypatch.setattr(knowledge_cmds, "_LOG_EVERY_S", 0.0)
    events = [Progress("index", 0, 400, "files", message="scanning done"),
              Progress("index", 43, 400, "files", rate=3.2, eta_s=75, message="reading", item="/notes/huge.log",
                       item_done=448, item_total=3136),
              Progress("index", 400, 400, "files", rate=3.3, message="done")]
    assert render_progress(iter(events)).message == "done"
    lines = capsys.readouterr().err.splitlines()
    assert "indexing: 43/400 files · 3.2 chunks/s · about 1 min 15 s left · huge.log (448 of 3,136 passages " \
           "embedded)" in lines and "indexing: 0/400 files" in lines and "\x1b" not in "".join(lines)


def test_the_first_plain_progress_line_comes_at_once(capsys) -> None:
    """The first of those lines came after 30 s: a 20 MB log's run was silent for the 69 s before its Ctrl+C."""
    events = [Progress("index", 0, 1, "files", message="reading", item="/logs/server.log", item_cut=0.02),
              Progress("index", 0, 1, "files", message="reading", item="/logs/server.log", item_cut=0.05)]
    render_progress(iter(events))
    assert capsys.readouterr().err.splitlines() == ["indexing: 0/1 files · server.log (2% split into passages)"]
