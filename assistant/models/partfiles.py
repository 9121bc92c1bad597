"""Half-written model files: named after the process writing them, so that what a killed one left is removed.

A self-draft or a copied model is written to a hidden file next to its destination and renamed into place
when whole, so the library never lists half a model. A random temporary name stayed forever after a kill -9
(hundreds of MB, hidden); the writer's pid in the name tells a later run that nobody will finish it.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from assistant.processes import alive

log = logging.getLogger(__name__)

_PART = re.compile(r"\..+\.(\d+)\.part")


def part_file(dest: Path) -> Path:
    """Where this process writes ``dest`` before renaming it into place; leftovers in its folder of processes
    that no longer run are removed first."""
    remove_leftovers(dest.parent)
    return dest.with_name(f".{dest.name}.{os.getpid()}.part")


def leftovers(folder: Path) -> list[Path]:
    """The half-written files in ``folder`` whose writer no longer runs (`hearth doctor` lists them: until the
    next copy or self-draft into that folder, nothing removed one)."""
    return sorted(part for part in folder.glob(".*.part")
                  if (match := _PART.fullmatch(part.name)) and not alive(int(match.group(1))))


def remove_leftovers(folder: Path) -> list[Path]:
    """Remove :func:`leftovers`; returns those that could not be (a read-only folder)."""
    kept = []
    for part in leftovers(folder):
        log.info("removing %s, left half-written by a process that was stopped", part)
        try:
            part.unlink(missing_ok=True)
        except OSError as exc:
            log.info("%s stays: %s", part, exc)
            kept.append(part)
    return kept
