"""Missing Qt system libraries are named, with the command that installs them, instead of a Qt abort."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.doctor import qt as qt_check

ROOT = Path(__file__).resolve().parents[2]
LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd5c5f2000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f1c)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f1c2a000000)
"""


def _fake_bin(tmp_path: Path, ldd_output: str, *tools: str) -> Path:
    """A PATH folder whose ``ldd`` prints ``ldd_output`` for any library, plus empty stand-ins for ``tools``.

    Only shell built-ins are used: the folder is the whole PATH of the subprocess tests.
    """
    folder = tmp_path / "bin"
    folder.mkdir(parents=True)
    (folder / "ldd.txt").write_text(ldd_output)
    ldd = f"#!/bin/sh\nwhile IFS= read -r line; do printf '%s\\n' \"$line\"; done < '{folder / 'ldd.txt'}'\n"
    for name, body in (("ldd", ldd), *((t, "#!/bin/sh\n") for t in tools)):
        (folder / name).write_text(body)
        (folder / name).chmod(0o755)
    return folder


def _simulate(monkeypatch: pytest.MonkeyPatch, manager: str | None, by_library: dict[str, list[str]]) -> None:
    monkeypatch.setattr(qt_check, "ldd_missing", lambda library: by_library.get(library.name, []))
    monkeypatch.setattr(qt_check, "can_dlopen", lambda soname: False)
    monkeypatch.setattr(qt_check, "detect_manager", lambda: manager)
    monkeypatch.setattr(qt_check, "qt_dir", lambda: Path("/venv/PySide6/Qt"))


def test_ldd_not_found_entries_are_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(_fake_bin(tmp_path, LDD_OUTPUT)))
    library = tmp_path / "libqxcb.so"
    library.write_bytes(b"")
    assert qt_check.ldd_missing(library) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]


@pytest.mark.parametrize(("manager", "command"), [
    ("apt", "sudo apt install libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0"),
    ("dnf", "sudo dnf install xcb-util-wm xcb-util-keysyms xcb-util-cursor"),
    ("pacman", "sudo pacman -S --needed xcb-util-wm xcb-util-keysyms xcb-util-cursor"),
])
def test_missing_xcb_libraries_give_one_install_command(
    monkeypatch: pytest.MonkeyPatch, manager: str, command: str
) -> None:
    _simulate(monkeypatch, manager, {"libqxcb.so": ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"],
                                     "libQt6XcbQpa.so.6": ["libxcb-icccm.so.4"]})
    result = qt_check.check({"DISPLAY": ":0"})
    assert result.platform == "xcb"
    assert result.missing == ("libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0")
    assert not result.ok
    assert f"  {command}" in result.message().splitlines()


def test_unknown_manager_and_unknown_library(monkeypatch: pytest.MonkeyPatch) -> None:
    _simulate(monkeypatch, None, {"libQt6Widgets.so.6": ["libEGL.so.1", "libexotic.so.7"]})
    message = qt_check.check({"QT_QPA_PLATFORM": "offscreen"}).message()
    assert "Install them with one of:" in message
    for line in ("sudo apt install libegl1", "sudo dnf install libglvnd-egl", "sudo pacman -S --needed libglvnd",
                 "apt-file search libexotic.so.7", "dnf provides '*/libexotic.so.7'", "pacman -F libexotic.so.7"):
        assert f"  {line}" in message.splitlines()


@pytest.mark.parametrize("platform", ["offscreen", "wayland", "minimal", "minimal:enable_fonts"])
def test_non_xcb_platforms_need_no_xcb_library_nor_display(monkeypatch: pytest.MonkeyPatch, platform: str) -> None:
    _simulate(monkeypatch, "apt", {"libqxcb.so": ["libxcb-icccm.so.4"], "libQt6XcbQpa.so.6": ["libxcb.so.1"]})
    result = qt_check.check({"QT_QPA_PLATFORM": platform})
    assert result.ok and result.message() == ""


def test_platform_follows_qt_rules() -> None:
    wayland_session = {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    assert qt_check.qt_platform({"DISPLAY": ":0"}) == "xcb"
    assert qt_check.qt_platform({"QT_QPA_PLATFORM": "xcb:nograb"}) == "xcb"
    assert qt_check.qt_platform({"QT_QPA_PLATFORM": "wayland;xcb"}) == "wayland"
    assert qt_check.qt_platform(wayland_session) == "wayland"
    assert qt_check.qt_platform({**wayland_session, "XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}) == "xcb"


def test_no_display_suggests_the_cli_or_xvfb(monkeypatch: pytest.MonkeyPatch) -> None:
    _simulate(monkeypatch, "apt", {})
    monkeypatch.setattr(qt_check, "can_dlopen", lambda soname: True)
    result = qt_check.check({})
    assert not result.ok and not result.missing
    assert "no display" in result.message() and "xvfb-run -a hearth" in result.message()


def test_this_machine_has_what_offscreen_qt_needs() -> None:
    """The real check (real ldd on the installed PySide6): the test suite itself runs Qt offscreen."""
    assert qt_check.qt_dir() is not None and (qt_check.qt_dir() / "plugins" / "platforms" / "libqxcb.so").exists()
    result = qt_check.check({"QT_QPA_PLATFORM": "offscreen"})
    assert result.missing == () and result.ok


def _hearth_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A machine with apt whose ldd reports libxcb-icccm4 missing, and an X display that does not exist."""
    fake = _fake_bin(tmp_path, LDD_OUTPUT.replace("libxcb-keysyms.so.1 => not found\n", ""), "apt-get")
    keep = ("HOME", "LANG", "HEARTH_HOME")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, "PATH": str(fake), "DISPLAY": ":97", **extra}


def test_hearth_without_qt_libraries_prints_the_fix_and_exits_1(tmp_path: Path) -> None:
    hearth = Path(sys.executable).parent / "hearth"
    for i, argv in enumerate(([str(hearth)], [sys.executable, "-m", "assistant.doctor.qt"])):
        proc = subprocess.run(argv, cwd=ROOT, env=_hearth_env(tmp_path / str(i)),
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, proc.stderr
        assert "libxcb-icccm.so.4" in proc.stderr
        assert "  sudo apt install libxcb-icccm4" in proc.stderr.splitlines()
        assert "qt.qpa" not in proc.stderr and "platform plugin" not in proc.stderr  # Qt never started


def test_qt_check_exits_0_when_qt_can_start(tmp_path: Path) -> None:
    env = {**_hearth_env(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    env["PATH"] = os.environ["PATH"]  # the real ldd
    proc = subprocess.run([sys.executable, "-m", "assistant.doctor.qt"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Qt can start here (platform: offscreen)" in proc.stdout
