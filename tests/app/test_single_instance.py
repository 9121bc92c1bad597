"""One window per user and data folder, with two real processes: the second hands its folder to the first."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from app.__main__ import gui_paths
from app.single_instance import server_name

ROOT = Path(__file__).resolve().parents[2]


def test_arguments_that_are_paths_open_the_window(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "ask").mkdir()
    monkeypatch.chdir(tmp_path)
    assert gui_paths([]) == []
    assert gui_paths([str(tmp_path)]) == [tmp_path]
    assert gui_paths([f"file://{tmp_path}/ask"]) == [tmp_path / "ask"]  # what a file manager passes (%U)
    assert gui_paths(["ask"]) is None  # a command wins over a folder of that name
    assert gui_paths(["--version"]) is None and gui_paths([str(tmp_path / "missing")]) is None


def test_the_name_depends_on_the_data_folder(tmp_path: Path) -> None:
    a, b = server_name({"HEARTH_HOME": str(tmp_path / "a")}), server_name({"HEARTH_HOME": str(tmp_path / "b")})
    assert a != b and a == server_name({"HEARTH_HOME": str(tmp_path / "a")}) and len(a) < 40


def _stop(proc: subprocess.Popen, drain: bool = True) -> None:
    """End a window (SIGTERM, as a desktop does); one that does not go within 30 s is killed, never left running
    to slow the tests after it. ``drain=False`` when a reader thread already owns its output."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=30) if drain else proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _launch(args: list[str], home: Path, report: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "HEARTH_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    if report is not None:
        env["HEARTH_WINDOW_REPORT"] = str(report)
    return subprocess.Popen([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


class _Lines:
    """A process's stderr, read as it comes (the window logs what it received from another launch)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(iter(proc.stderr.readline, "")), daemon=True).start()

    def wait_for(self, text: str, timeout: float = 90) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(text in line for line in list(self.lines)):
                return True
            time.sleep(0.1)
        return False


def test_a_second_launch_brings_the_first_window_forward_with_its_folder(hearth_home: Path, tmp_path: Path) -> None:
    report = tmp_path / "window.json"
    first = _launch([], hearth_home, report)
    first_err = _Lines(first)
    try:
        deadline = time.time() + 120
        while not report.exists():
            assert first.poll() is None, "".join(first_err.lines)
            assert time.time() < deadline, "the first window never showed"
            time.sleep(0.05)
        assert json.loads(report.read_text())["titles"] == ["Hearth"]
        folder = tmp_path / "notes"
        folder.mkdir()
        second = _launch([str(folder)], hearth_home)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 0 and "already running" in err, err
        assert first_err.wait_for("another launch: window brought forward, 1 path(s) to index"), first_err.lines
        other = _launch([], tmp_path / "other-home", tmp_path / "other.json")  # another data folder: its own window
        try:
            deadline = time.time() + 120
            while not (tmp_path / "other.json").exists():
                assert other.poll() is None, other.communicate()[1]
                assert time.time() < deadline
                time.sleep(0.05)
        finally:
            _stop(other)
    finally:
        _stop(first, drain=False)


def test_a_socket_left_by_a_crashed_window_is_replaced(hearth_home: Path, tmp_path: Path) -> None:
    report = tmp_path / "window.json"
    crashed = _launch([], hearth_home, report)
    deadline = time.time() + 120
    while not report.exists():
        assert crashed.poll() is None and time.time() < deadline
        time.sleep(0.05)
    crashed.kill()  # SIGKILL: the socket file stays behind
    crashed.communicate(timeout=30)
    report.unlink()
    again = _launch([], hearth_home, report)
    try:
        deadline = time.time() + 120
        while not report.exists():
            assert again.poll() is None, again.communicate()[1]
            assert time.time() < deadline, "a stale socket kept the new window from starting"
            time.sleep(0.05)
    finally:
        _stop(again)
    assert again.returncode == 0  # SIGTERM, as a desktop's logout sends, closes the window properly


def test_ctrl_c_in_the_terminal_closes_the_window_as_its_close_button_does(hearth_home: Path, tmp_path: Path) -> None:
    """Before, Ctrl+C did nothing (Python's handler never ran inside Qt's event loop) and SIGTERM ended the
    process without closeEvent: the databases' write-ahead logs and the instance socket stayed behind."""
    report = tmp_path / "window.json"
    window = _launch([], hearth_home, report)
    try:
        deadline = time.time() + 120
        while not report.exists():
            assert window.poll() is None and time.time() < deadline
            time.sleep(0.05)
        socket_file = Path(tempfile.gettempdir()) / server_name({"HEARTH_HOME": str(hearth_home)})
        wal = hearth_home / "data" / "history.sqlite3-wal"
        while not wal.exists():  # the core has opened its databases
            assert window.poll() is None and time.time() < deadline
            time.sleep(0.05)
        assert socket_file.exists()
        window.send_signal(signal.SIGINT)
        _, err = window.communicate(timeout=60)
    finally:
        if window.poll() is None:  # it ignored the signal (the old code): never leave a window running
            window.kill()
            window.communicate()
    assert window.returncode == 0, err
    assert "SIGINT received: closing the window" in err and "Traceback" not in err, err
    assert not socket_file.exists()
    assert not list((hearth_home / "data").glob("*-wal")), "the core's databases were not closed"


def test_a_window_closed_while_torch_imports_exits_at_once(hearth_home: Path) -> None:
    """The indexing warm-up's torch import (10 s and more on two cores) cannot be stopped: a window closed
    during it waited for it, and when it outlasted the lanes' 10 s the process aborted ("QThread: Destroyed
    while thread is still running", exit 134). Now the window exits without waiting for it."""
    window = _launch([], hearth_home)
    lines = _Lines(window)
    try:
        assert lines.wait_for("warm-up for indexing"), "".join(lines.lines)
        window.send_signal(signal.SIGTERM)
        window.wait(timeout=60)
    finally:
        if window.poll() is None:
            window.kill()
            window.wait()
    time.sleep(0.2)  # the reader thread takes the last lines
    err = "".join(lines.lines)
    assert window.returncode == 0, err
    assert "Loading SentenceTransformer model" not in err, "the window waited for the import to end"
    assert "Destroyed while thread" not in err and "Traceback" not in err, err
