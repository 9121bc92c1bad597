"""``hearth install-desktop``: put Hearth in the desktop's application menu, for this user only.

Writes the freedesktop.org pieces under ``$XDG_DATA_HOME`` (``~/.local/share``): ``applications/hearth.desktop``
(``Exec`` with ``%U``, so a file manager passes the folders it opens with Hearth, which the window then
indexes; ``MimeType=inode/directory`` puts "Open with Hearth" on folders without making Hearth their default
application) and the icon ``icons/hicolor/scalable/apps/hearth.svg``; then refreshes the desktop's caches
(``update-desktop-database``, ``gtk-update-icon-cache``) where those tools exist. ``--remove`` takes it all out
again. Nothing needs root. The packaged app's ``install.sh`` runs this too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from assistant.errors import InputError

#: ``resources/`` beside the ``assistant`` package: the checkout's, or the packaged app's copy in its bundle
#: (PyInstaller keeps the package layout there), as ``app/theme.py`` finds it.
ICON = Path(__file__).resolve().parents[2] / "resources" / "icons" / "hearth.svg"
DESKTOP_ID = "hearth"  # the window's QGuiApplication.desktopFileName, so docks match window and entry


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("install-desktop", help="add Hearth to the desktop's menu, with \"Open with Hearth\" on "
                                               "folders (this user only)")
    p.add_argument("--remove", action="store_true", help="remove the menu entry and icon again")
    p.add_argument("--exec", dest="program", metavar="PROGRAM",
                   help="the hearth executable the entry starts (default: this one)")
    p.add_argument("--json", action="store_true", help="print what was written as JSON on stdout")
    p.set_defaults(func=cmd_install_desktop)


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def launch_command() -> list[str]:
    """How to start this Hearth again: the AppImage, the packaged executable, the ``hearth`` script, or
    ``python -m app``."""
    if os.environ.get("APPIMAGE") and getattr(sys, "frozen", False):  # the runtime's mount point is temporary
        return [os.environ["APPIMAGE"]]
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).resolve())]
    script = Path(sys.argv[0])
    if script.name == "hearth" and script.exists():
        return [str(script.resolve())]
    return [sys.executable, "-m", "app"]


def desktop_entry(command: list[str]) -> str:
    exec_line = " ".join(_exec_quote(part) for part in command)
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.4",
        "Name=Hearth",
        "GenericName=AI Assistant",
        "Comment=A private AI assistant that works offline: chat, your folders, your memory",
        f"Exec={exec_line} %U",
        f"TryExec={command[0]}",
        f"Icon={DESKTOP_ID}",
        "Terminal=false",
        "Categories=Utility;",
        "Keywords=AI;chat;assistant;LLM;offline;private;",
        "MimeType=inode/directory;",
        f"StartupWMClass={DESKTOP_ID}",
        "StartupNotify=true",
        "",
    ])


def _exec_quote(part: str) -> str:
    """One argument of the Exec key: quoted when it holds a reserved character, with ", `, $ and \\ escaped
    inside the quotes and % doubled (the Desktop Entry specification's rules)."""
    part = part.replace("%", "%%")
    if not any(c in part for c in ' \t\n"\'\\><~|&;$*?#()`='):
        return part
    for c in ("\\", '"', "`", "$"):
        part = part.replace(c, "\\" + c)
    return f'"{part}"'


def _refresh(base: Path) -> list[str]:
    """Rebuild the caches desktops read, where their tools are installed; the commands that ran."""
    ran = []
    for tool, args in (("update-desktop-database", ["-q", str(base / "applications")]),
                       ("gtk-update-icon-cache", ["-q", "-t", "-f", str(base / "icons" / "hicolor")])):
        if shutil.which(tool):
            subprocess.run([tool, *args], check=False, capture_output=True, timeout=60)
            ran.append(tool)
    return ran


def cmd_install_desktop(args: argparse.Namespace, ctx: object) -> int:
    if not sys.platform.startswith("linux"):
        raise InputError("install-desktop is for Linux desktops (freedesktop.org menus); on macOS and Windows "
                         "the installer adds Hearth to the menu.")
    base = data_home()
    entry = base / "applications" / f"{DESKTOP_ID}.desktop"
    icon = base / "icons" / "hicolor" / "scalable" / "apps" / f"{DESKTOP_ID}.svg"
    if args.remove:
        removed = [str(p) for p in (entry, icon) if p.exists()]
        for path in (entry, icon):
            path.unlink(missing_ok=True)
        ran = _refresh(base)
        report = {"removed": removed, "refreshed": ran}
        print(json.dumps(report) if args.json else
              ("Removed " + ", ".join(removed) + "." if removed else "Nothing to remove."))
        return 0
    command = [str(Path(args.program).expanduser())] if args.program else launch_command()
    for path in (entry, icon):
        path.parent.mkdir(parents=True, exist_ok=True)
    part = entry.with_suffix(".part")
    part.write_text(desktop_entry(command), encoding="utf-8")
    part.chmod(0o755)  # some desktops only trust executable entries
    os.replace(part, entry)
    shutil.copyfile(ICON, icon)
    ran = _refresh(base)
    report = {"desktop_entry": str(entry), "icon": str(icon), "exec": command, "refreshed": ran}
    if args.json:
        print(json.dumps(report))
    else:
        print(f"Installed {entry}\n          {icon}\nHearth is in the application menu; folders offer "
              "\"Open with Hearth\" (it indexes them). Undo: hearth install-desktop --remove")
    return 0
