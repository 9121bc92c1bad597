"""Small TOML files under the config folder for the model library's own state.

Why separate files from ``settings.toml``: the settings dataclass tree belongs to the facade, while the list
of linked models/folders and the per-model profiles are keyed by file and grow with the library. Writes
are atomic; a damaged file is moved aside (like settings) so a user edit gone wrong never blocks startup, and one
that cannot be read (permissions) is left as it is and never saved over.
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from assistant.config import save_file, set_aside

log = logging.getLogger(__name__)


def read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:  # not damage: it is left as it is, and no save replaces it (config.save_file)
        log.warning("%s cannot be read (%s); read as empty and left as it is", path, exc.strerror or exc)
        return {}
    except UnicodeDecodeError as exc:
        return _set_aside(path, exc)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return _set_aside(path, exc)


def _set_aside(path: Path, exc: Exception) -> dict[str, Any]:
    """A file that is not TOML (or not text) is moved aside and read as empty."""
    log.warning("%s could not be read (%s); %s, starting empty", path, exc, set_aside(path))
    return {}


def write_toml(path: Path, data: dict[str, Any], what: str) -> None:
    save_file(path, tomli_w.dumps(data), what)
