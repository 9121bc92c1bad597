"""The packaged app on a machine that has never seen Python: install it from the archive and use it.

Skipped unless ``make package`` has built ``dist/hearth`` (CI's ``make test`` does not build it); ``make package``
runs these right after building. The archive (or, without one, the build folder) is unpacked into a fresh
directory and installed with its ``install.sh`` under a fresh ``HOME``; every command then runs with a clean
environment: ``PATH=/usr/bin:/bin`` (no venv), no ``PYTHONPATH``, ``VIRTUAL_ENV`` or ``HEARTH_HOME``.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from checks import need_unshare, unshare_works

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "dist" / "hearth"
SHOTS = ROOT / "build" / "package-checks"

pytestmark = [
    pytest.mark.package,
    pytest.mark.skipif(not (BUILD / "hearth").exists(), reason="no packaged build: run `make package`"),
]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("fresh-machine")
    home = root / "home"
    home.mkdir()
    (root / "run").mkdir(mode=0o700)
    archives = sorted(BUILD.parent.glob("hearth-*.tar.zst"))
    if archives:
        subprocess.run(["tar", "--zstd", "-xf", str(archives[-1]), "-C", str(root)], check=True)
        unpacked = next(p for p in root.iterdir() if p.name.startswith("hearth-"))
    else:  # no archive: the folder itself, as the archive would hold it
        unpacked = root / "hearth-unpacked"
        shutil.copytree(BUILD, unpacked, symlinks=True)
        shutil.copy2(ROOT / "packaging" / "install.sh", unpacked / "install.sh")
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "XDG_RUNTIME_DIR": str(root / "run")}
    out = subprocess.run([str(unpacked / "install.sh")], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    prefix = home / ".local" / "share" / "hearth-app"
    bundle_files = sorted(str(p.relative_to(prefix)) for p in prefix.rglob("*"))
    return {"root": root, "home": home, "env": env, "prefix": prefix, "hearth": home / ".local" / "bin" / "hearth",
            "install_out": out.stdout, "bundle_files": bundle_files, "archive": bool(archives)}


def run(installed: dict, *args: str, timeout: float = 300, env: dict | None = None,
        prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, str(installed["hearth"]), *args], env=env or installed["env"],
                          capture_output=True, text=True, timeout=timeout, cwd=installed["root"])


def test_version_runs_without_python(installed: dict) -> None:
    out = run(installed, "--version")
    assert out.returncode == 0 and out.stdout.strip() == "hearth 0.1.0", out.stderr
    assert installed["hearth"].is_symlink()  # ~/.local/bin/hearth -> the app folder's executable


def test_install_put_the_menu_entry_and_icon_in_place(installed: dict) -> None:
    share = installed["home"] / ".local" / "share"
    entry = (share / "applications" / "hearth.desktop").read_text()
    assert f"Exec={installed['prefix'] / 'hearth'} %U" in entry
    assert "MimeType=inode/directory;" in entry
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / "hearth.svg").is_file()
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(share / "applications" / "hearth.desktop")],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_ask_offline(installed: dict) -> None:
    """A first question on a fresh HOME, with no network at all where a network namespace can be made."""
    offline = unshare_works("-rn")
    out = run(installed, "ask", "--json", "--no-memory", "--max-tokens", "24", "Say hi",
              prefix=("unshare", "-rn") if offline else ())
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    assert reply["answer"].strip() and reply["conversation_id"]
    if not offline:
        pytest.skip("answered, but `unshare -rn` is not permitted here, so not proven offline")


def test_memory_and_knowledge_work_without_torch(installed: dict, tmp_path: Path) -> None:
    """mem0 + Chroma + the NumPy embedder in bulk (indexing), all inside the bundle; a GBK note (the CJK codecs
    are C modules the bundle must carry) and the secret check too."""
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(12):  # more chunks than a query batch: the bulk path
        (folder / f"note-{i}.md").write_text(f"# Note {i}\n\nThe spare key number {i} is under the blue pot {i}.\n")
    (folder / "meeting.txt").write_bytes("明天开会，地点在三楼。".encode("gbk"))
    assert run(installed, "index", str(folder), "--collection", "notes").returncode == 0
    found = run(installed, "search", "spare key under the pot", "--collection", "notes", "--json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)
    gbk = run(installed, "search", "开会", "--mode", "keyword", "--collection", "notes", "--json")
    assert [Path(h["path"]).name for h in json.loads(gbk.stdout)["hits"]] == ["meeting.txt"], gbk.stderr
    added = run(installed, "memory", "add", "My dog is called Biscuit.")
    assert added.returncode == 0, added.stderr
    assert run(installed, "memory", "add", "My PIN is 4821.").returncode == 2  # a secret: refused
    listed = run(installed, "memory", "list")
    assert "Biscuit" in listed.stdout and "4821" not in listed.stdout, listed.stderr


def test_data_lives_in_the_platform_folders_never_in_the_bundle(installed: dict) -> None:
    run(installed, "history", "list")
    home = installed["home"]
    assert (home / ".local" / "share" / "hearth" / "history.sqlite3").is_file()
    assert (home / ".config" / "hearth").is_dir()
    now = sorted(str(p.relative_to(installed["prefix"])) for p in installed["prefix"].rglob("*"))
    assert now == installed["bundle_files"]  # nothing written into the app folder by any command above


class _Window:
    """The installed app's window on Xvfb when it is installed, else on Qt's offscreen platform."""

    def __init__(self, installed: dict, report: Path) -> None:
        self.xvfb = None
        env = dict(installed["env"], HEARTH_WINDOW_REPORT=str(report))
        if shutil.which("Xvfb"):
            number = next(n for n in range(80, 120) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                          and not Path(f"/tmp/.X{n}-lock").exists())
            self.xvfb = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(100):
                if Path(f"/tmp/.X11-unix/X{number}").exists():
                    break
                time.sleep(0.05)
            env["DISPLAY"] = f":{number}"
        else:
            env["QT_QPA_PLATFORM"] = "offscreen"
        self.env = env
        self.proc = subprocess.Popen([str(installed["hearth"])], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, cwd=installed["root"])
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stderr.readline, "")), daemon=True).start()

    def logged(self, text: str, timeout: float = 90) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(text in line for line in list(self.lines)):
                return True
            time.sleep(0.1)
        return False

    def wait_for(self, path: Path, timeout: float = 90) -> None:
        deadline = time.time() + timeout
        while not path.exists():
            assert self.proc.poll() is None, f"the app exited {self.proc.returncode}: {''.join(self.lines)}"
            assert time.time() < deadline, "no window within the time limit"
            time.sleep(0.05)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self.xvfb:
            self.xvfb.terminate()
            self.xvfb.wait(10)


def test_window_opens_and_a_second_launch_hands_it_a_folder(installed: dict, tmp_path: Path) -> None:
    report = tmp_path / "window.json"
    window = _Window(installed, report)
    try:
        window.wait_for(report)
        shown = json.loads(report.read_text())
        assert "Hearth" in shown["titles"]
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy2(shown["screenshot"], SHOTS / f"window-{shown['platform']}.png")
        if window.xvfb and shutil.which("xdotool"):  # found by the X server's own window list too
            ids = subprocess.run(["xdotool", "search", "--name", "^Hearth$"], env=window.env, capture_output=True,
                                 text=True, timeout=30)
            assert ids.stdout.split(), "xdotool found no window named Hearth"
        folder = tmp_path / "dropped"
        folder.mkdir()
        (folder / "a.md").write_text("# A\n\nSomething to index.\n")
        second = subprocess.run([str(installed["hearth"]), str(folder)], env=window.env, capture_output=True,
                                text=True, timeout=60, cwd=installed["root"])
        assert second.returncode == 0 and "already running" in second.stderr, second.stderr
        assert window.logged("window brought forward, 1 path(s) to index"), window.lines
    finally:
        window.close()


#: What a bare Debian/Ubuntu lacks (README, "Qt's system libraries"): the build must bring its own copies.
BARE_MISSING = ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0")


@pytest.mark.skipif(not shutil.which("Xvfb"), reason="needs Xvfb")
def test_window_opens_where_the_xcb_libraries_are_missing(installed: dict, tmp_path: Path) -> None:
    """A bare system simulated in a private mount namespace: the system's copies of the libraries a fresh
    Debian/Ubuntu does not have are replaced by an empty file; the window must still open on X11 (xcb)."""
    need_unshare()
    libdir = Path("/lib/x86_64-linux-gnu")
    hidden = [libdir / name for name in BARE_MISSING if (libdir / name).exists()]
    empty = tmp_path / "empty.so"
    empty.write_bytes(b"")
    report = tmp_path / "bare.json"
    number = next(n for n in range(120, 160) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                  and not Path(f"/tmp/.X{n}-lock").exists())
    script = "\n".join([
        "set -e",
        *(f"mount --bind {empty} {lib}" for lib in hidden),
        f"Xvfb :{number} -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 & XVFB=$!",
        f"for i in $(seq 100); do [ -e /tmp/.X11-unix/X{number} ] && break; sleep 0.05; done",
        f"DISPLAY=:{number} HEARTH_WINDOW_REPORT={report} {installed['hearth']} & APP=$!",
        f"for i in $(seq 900); do [ -e {report} ] && break; kill -0 $APP || break; sleep 0.1; done",
        "kill $APP; wait $APP || true; kill $XVFB",
    ])
    out = subprocess.run(["unshare", "-rm", "sh", "-c", script], env=installed["env"], capture_output=True,
                         text=True, timeout=180)
    assert report.exists(), out.stdout + out.stderr
    shown = json.loads(report.read_text())
    assert shown["platform"] == "xcb" and "Hearth" in shown["titles"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy2(shown["screenshot"], SHOTS / "window-xcb-bare-system.png")
