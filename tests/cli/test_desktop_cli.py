"""``hearth install-desktop``: the menu entry, the icon and "Open with Hearth" for folders, for this user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def hearth(*args: str, data_home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_DATA_HOME": str(data_home)}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_install_and_remove(tmp_path: Path) -> None:
    out = hearth("install-desktop", "--json", "--exec", "/opt/Hearth Folder/hearth", data_home=tmp_path)
    assert out.returncode == 0, out.stderr
    written = json.loads(out.stdout)
    entry = Path(written["desktop_entry"])
    assert entry == tmp_path / "applications" / "hearth.desktop"
    text = entry.read_text()
    assert 'Exec="/opt/Hearth Folder/hearth" %U' in text  # quoted per the Desktop Entry spec; %U: file URLs
    assert "MimeType=inode/directory;" in text and "Icon=hearth" in text
    icon = tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "hearth.svg"
    assert icon.read_bytes() == (ROOT / "resources" / "icons" / "hearth.svg").read_bytes()
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout
    if shutil.which("update-desktop-database"):  # "Open with Hearth" for folders comes from this cache
        assert "inode/directory=hearth.desktop" in (tmp_path / "applications" / "mimeinfo.cache").read_text()
    gone = hearth("install-desktop", "--remove", data_home=tmp_path)
    assert gone.returncode == 0 and not entry.exists() and not icon.exists()


def test_default_command_is_this_hearth(tmp_path: Path) -> None:
    out = hearth("install-desktop", "--json", data_home=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["exec"] == [sys.executable, "-m", "app"]
