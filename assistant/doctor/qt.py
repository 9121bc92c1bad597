"""Can Qt start here? Find missing system libraries before Qt aborts with a message that names none.

On a fresh Debian/Ubuntu machine the PySide6 wheel's xcb platform plugin cannot load (libxcb-cursor0,
libxcb-icccm4 and libxcb-keysyms1 are not installed by default) and Qt aborts the process with
"Could not load the Qt platform plugin" and no hint of what to install. This module runs *before* Qt:
it never imports QtGui or QtWidgets (importing those already needs some of the libraries checked here).

What is checked, on Linux only:
- the libraries Qt Widgets links against, whatever the platform (``ldd`` on ``libQt6Widgets.so.6``);
- when Qt will use the xcb platform (X11): ``ldd`` on the xcb plugin and ``libQt6XcbQpa.so.6``, plus
  ``libxcb-cursor.so.0``, which Qt opens at run time so that ``ldd`` cannot show it;
- that there is a display at all.

Missing sonames are mapped to package names for apt, dnf and pacman, and the message ends with the one
command that installs them. ``python -m assistant.doctor.qt`` prints it and exits 1 (0 when Qt can start);
``make run`` calls it before launching, and ``hearth`` (no arguments) before it creates the window.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: Opened by the xcb plugin with dlopen at start-up (Qt >= 6.5), so ``ldd`` does not list it.
XCB_CURSOR = "libxcb-cursor.so.0"

#: soname -> (apt, dnf, pacman) package. Covers what the PySide6 wheel's Qt Widgets and xcb plugin link.
PACKAGES: dict[str, tuple[str, str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11"),
    "libXau.so.6": ("libxau6", "libXau", "libxau"),
    "libXdmcp.so.6": ("libxdmcp6", "libXdmcp", "libxdmcp"),
    "libSM.so.6": ("libsm6", "libSM", "libsm"),
    "libICE.so.6": ("libice6", "libICE", "libice"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx", "libglvnd"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd", "libglvnd"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype", "freetype2"),
    "libpng16.so.16": ("libpng16-16", "libpng", "libpng"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
}
MANAGERS = ("apt", "dnf", "pacman")
#: How each manager installs packages, and how to find the package of a soname this module does not know.
INSTALL = {"apt": "sudo apt install", "dnf": "sudo dnf install", "pacman": "sudo pacman -S --needed"}
PROVIDES = {"apt": "apt-file search {}", "dnf": "dnf provides '*/{}'", "pacman": "pacman -F {}"}

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


@dataclass(frozen=True)
class QtCheck:
    """What stands between this machine and a Qt window; empty ``missing`` and ``has_display`` = fine."""

    platform: str
    missing: tuple[str, ...] = ()
    has_display: bool = True
    manager: str | None = None

    @property
    def ok(self) -> bool:
        return not self.missing and self.has_display

    def message(self) -> str:
        """The readable explanation printed instead of Qt's abort; empty when Qt can start."""
        lines: list[str] = []
        if self.missing:
            lines.append("hearth: the desktop app cannot start: Qt needs system libraries that are not installed:")
            lines += [f"  {soname}" for soname in self.missing]
            managers = (self.manager,) if self.manager else MANAGERS
            lines.append("Install them with:" if self.manager else "Install them with one of:")
            for manager in managers:
                lines += [f"  {cmd}" for cmd in install_commands(self.missing, manager)]
            lines.append("then start Hearth again.")
        if not self.has_display:
            lines += [
                "hearth: no display to open the desktop app on (DISPLAY and WAYLAND_DISPLAY are unset).",
                "Use the command line instead (`hearth ask \"...\"`, `hearth chat`, `hearth --help`),",
                "or run the app on a virtual display: `xvfb-run -a hearth`.",
            ]
        return "\n".join(lines)


def install_commands(missing: tuple[str, ...] | list[str], manager: str) -> list[str]:
    """The command installing the packages of ``missing`` with ``manager``, then a look-up per unknown soname."""
    column = MANAGERS.index(manager)
    packages = dict.fromkeys(PACKAGES[s][column] for s in missing if s in PACKAGES)  # ordered, no duplicates
    commands = [f"{INSTALL[manager]} {' '.join(packages)}"] if packages else []
    return commands + [PROVIDES[manager].format(s) for s in missing if s not in PACKAGES]


def detect_manager() -> str | None:
    """The system's package manager among apt, dnf and pacman, or None (then all three commands are shown)."""
    for manager, binary in (("apt", "apt-get"), ("dnf", "dnf"), ("pacman", "pacman")):
        if shutil.which(binary):
            return manager
    return None


def qt_platform(env: Mapping[str, str]) -> str:
    """The platform plugin Qt will pick, following QGuiApplication's own rules (QT_QPA_PLATFORM, then the
    session type; GNOME's Wayland sessions still get xcb by default)."""
    requested = env.get("QT_QPA_PLATFORM", "")
    if requested:
        return requested.split(";")[0].split(":")[0]
    desktop = (env.get("XDG_CURRENT_DESKTOP", "") + env.get("XDG_SESSION_DESKTOP", "")).lower()
    if env.get("XDG_SESSION_TYPE") == "wayland" and env.get("WAYLAND_DISPLAY") and "gnome" not in desktop:
        return "wayland"
    return "xcb"


def qt_dir() -> Path | None:
    """``site-packages/PySide6/Qt`` without importing any Qt module (that would load the libraries)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "Qt"


def ldd_missing(library: Path) -> list[str]:
    """Sonames that ``library`` (or anything it links, transitively) needs and the loader cannot find.

    A machine without ``ldd`` (or a library that is not there) yields nothing: Qt's own error remains.
    """
    if not library.exists() or not shutil.which("ldd"):
        return []
    out = subprocess.run(["ldd", str(library)], capture_output=True, text=True, check=False).stdout
    return _NOT_FOUND.findall(out)


def can_dlopen(soname: str) -> bool:
    """Whether the dynamic loader finds ``soname`` the way Qt's run-time ``dlopen`` would."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def check(env: Mapping[str, str] | None = None) -> QtCheck:
    """Check this machine for the Qt platform that ``env`` (default: the process environment) selects."""
    env = os.environ if env is None else env
    platform = qt_platform(env)
    if not sys.platform.startswith("linux"):
        return QtCheck(platform)
    qt = qt_dir()
    libraries = [qt / "lib" / "libQt6Widgets.so.6"] if qt else []
    xcb = platform == "xcb"
    if xcb and qt:
        libraries += [qt / "plugins" / "platforms" / "libqxcb.so", qt / "lib" / "libQt6XcbQpa.so.6"]
    missing = dict.fromkeys(soname for library in libraries for soname in ldd_missing(library))
    if xcb and not can_dlopen(XCB_CURSOR):
        missing[XCB_CURSOR] = None
    has_display = not xcb or bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    return QtCheck(platform, tuple(missing), has_display, detect_manager() if missing else None)


def main() -> int:
    """``python -m assistant.doctor.qt``: print what is missing and the install command; exit 1 unless Qt can start."""
    result = check()
    if result.ok:
        print(f"Qt can start here (platform: {result.platform}).")
        return 0
    print(result.message(), file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
