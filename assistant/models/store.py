"""Small TOML files under the config folder for the model library's own state.

Why separate files from ``settings.toml``: the settings dataclass tree belongs to the facade, while the list
of linked models/folders and the per-model profiles are keyed by file and grow with the library. Writes
are atomic; a file that is not TOML (a user edit gone wrong) or cannot be read (permissions) is read as empty, so
it never blocks start-up, and is left as it is and never saved over (like settings; ``hearth doctor --repair``
sets a damaged one aside).
"""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from assistant.config import damaged_toml, save_file

log = logging.getLogger(__name__)


def read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:  # not damage: it is left as it is, and no save replaces it (config.save_file)
        log.warning("%s cannot be read (%s); read as empty and left as it is", path, exc.strerror or exc)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        log.warning("%s", damaged_toml(path, exc, "read as empty"))
    return {}


def write_toml(path: Path, data: dict[str, Any], what: str) -> None:
    save_file(path, tomli_w.dumps(data), what)
