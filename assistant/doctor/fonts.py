"""Are fonts for Chinese, Japanese and Korean text and for emoji installed? Asked of fontconfig, Linux only.

On a bare Linux box (a server image, a minimal install, the packaged app on either) no installed font covered
them: the window showed boxes ("tofu") for 北京 or 🦄 in answers, notes and chat titles, and ``hearth doctor``
said nothing. Qt on Linux finds its fonts through fontconfig, so ``fc-list`` answers what the window can show
(``fc-match`` cannot: it always names a fallback font, one without the glyphs too). Where fontconfig is not
installed (macOS, Windows, a system without it) nothing is said: the system's own font fallback is used there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass

from assistant.doctor.qt import INSTALL, MANAGERS, detect_manager

#: What each kind of text needs, as an ``fc-list`` pattern: a font for Chinese (its fonts cover Japanese kana
#: and Korean Hangul too, as Noto CJK does), and one holding 🦄 (DejaVu Sans, on most systems, holds 😀 and a few
#: more emoji, but not most of them).
PATTERNS = {"Chinese, Japanese and Korean text": ":lang=zh", "emoji": ":charset=1f984"}
#: The packages that install them, per package manager, in the order of :data:`PATTERNS`.
PACKAGES = {"apt": ("fonts-noto-cjk", "fonts-noto-color-emoji"),
            "dnf": ("google-noto-sans-cjk-fonts", "google-noto-color-emoji-fonts"),
            "pacman": ("noto-fonts-cjk", "noto-fonts-emoji")}
#: ``fc-list`` builds its cache at its first run on a new system: seconds, not more.
TIMEOUT_S = 20


@dataclass(frozen=True)
class MissingFonts:
    kinds: list[str]  # the kinds of text no installed font covers
    commands: list[str]  # what installs them: the system's package manager's command, or each one's


def check() -> MissingFonts | None:
    """What no installed font covers, with the command that installs it; None where all is covered or
    fontconfig cannot say (not Linux, not installed, failed)."""
    fc_list = shutil.which("fc-list")
    if not sys.platform.startswith("linux") or fc_list is None:
        return None
    missing: list[int] = []
    for i, pattern in enumerate(PATTERNS.values()):
        try:
            found = subprocess.run([fc_list, pattern, "family"], capture_output=True, text=True, check=True,
                                   timeout=TIMEOUT_S, stdin=subprocess.DEVNULL).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        if not found.strip():
            missing.append(i)
    if not missing:
        return None
    managers = (manager,) if (manager := detect_manager()) else MANAGERS
    return MissingFonts([list(PATTERNS)[i] for i in missing],
                        [f"{INSTALL[m]} {' '.join(PACKAGES[m][i] for i in missing)}" for m in managers])
