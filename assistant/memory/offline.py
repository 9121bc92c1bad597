"""Switches mem0 reads once, at import time: set them before any module of this package imports mem0.

Telemetry is forced off (not defaulted: a private app never reports usage), and mem0's own folder, where it
writes a config file on import, is put inside Hearth's data directory instead of ``~/.mem0``.
"""

from __future__ import annotations

import os

from assistant.paths import apply_privacy_defaults, get_paths


def keep_mem0_offline() -> None:
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ.setdefault("MEM0_DIR", str(get_paths().memory_dir / "mem0"))
    apply_privacy_defaults()
