"""Telling apart models that read the same: identical copies (the same Q8_0 in Hearth's models folder, inside an
added folder, and linked) were three rows "SmolLM2 135M Instruct Q8_0 (145 MB)" in Settings → Model's pickers.
Where two labels are alike, each says where its file is, its folder shortened to what tells them apart."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

#: How many of a folder's last names are shown ("…/lmstudio-community/SmolLM2-135M-Instruct-GGUF").
_FOLDER_PARTS = 2


def short_folder(path: Path) -> str:
    """The folder of ``path``, by its last names: "…/byom/lib", "…/data/models"."""
    parts = path.parent.parts
    tail = "/".join(parts[-_FOLDER_PARTS:])
    return f"…/{tail}" if len(parts) > _FOLDER_PARTS else str(path.parent)


def told_apart(labels: Sequence[str], paths: Sequence[Path]) -> list[str]:
    """Each label, with " — <its folder>" where another label is the same (and the file name too where the
    folders are also alike: two files of one folder with one name)."""
    counts = Counter(labels)
    places = [short_folder(p) if counts[label] > 1 else "" for label, p in zip(labels, paths, strict=True)]
    same = Counter(zip(labels, places, strict=True))
    return [label if not place else f"{label} — {place}" if same[label, place] == 1 else f"{label} — {place}/{p.name}"
            for label, place, p in zip(labels, places, paths, strict=True)]
