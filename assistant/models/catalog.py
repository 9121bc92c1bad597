"""The curated model catalog (``resources/catalog.json``) behind the GUI's "Get models" view.

Why curated and pinned: newcomers get a short list of chat models known to work with this llama.cpp, each
with the exact file size (shown before downloading, and for the fit estimate) and the sha256 the download
is verified against, plus the smaller same-vocabulary model to use as a speculative-decoding draft.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from assistant.models.errors import ModelLibraryError
from assistant.paths import RESOURCES

CATALOG_FILE = RESOURCES / "catalog.json"
KINDS = frozenset({"chat", "draft"})
_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    name: str
    kind: str  # "chat" (can also serve as a draft) or "draft" (only useful as one)
    repo: str
    file: str
    size: int
    sha256: str
    params: str
    quantization: str
    context_length: int
    license: str
    description: str
    draft: str | None  # catalog id of the matching draft model

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_catalog(path: Path = CATALOG_FILE) -> list[CatalogEntry]:
    """Parse and check the catalog; a broken file is a packaging bug, reported with the offending entry."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))["models"]
        entries = [CatalogEntry(**item) for item in raw]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLibraryError(f"The model catalog {path} cannot be read: {exc}") from None
    ids = {e.id for e in entries}
    for e in entries:
        problem = (
            "duplicate id" if sum(x.id == e.id for x in entries) > 1
            else f"unknown kind {e.kind!r}" if e.kind not in KINDS
            else "sha256 must be 64 lowercase hex digits" if not _SHA256.fullmatch(e.sha256)
            else "file must be a .gguf" if not e.file.endswith(".gguf")
            else f"draft {e.draft!r} is not in the catalog" if e.draft is not None and e.draft not in ids
            else None
        )
        if problem:
            raise ModelLibraryError(f"The model catalog {path} is invalid: {e.id}: {problem}.")
    return entries


def find_entry(repo: str, file: str, entries: list[CatalogEntry] | None = None) -> CatalogEntry | None:
    """The catalog entry for a Hub file, so ``hearth models download`` of a catalog model gets its sha256."""
    for entry in entries if entries is not None else load_catalog():
        if entry.repo == repo and entry.file == file:
            return entry
    return None
