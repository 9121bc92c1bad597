"""What a memory is, as the rest of Hearth sees it (mem0's payload dicts stay inside this package)."""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from assistant.errors import InputError, SecretRefusedError
from assistant.memory.secrets import secret_kind

#: Payload keys Hearth adds to every mem0 memory (Chroma metadata cannot hold None, so "" means none).
STATUS, SUPERSEDED_BY, SOURCE, SLOT = "status", "superseded_by", "source_conversation", "slot"
#: What the user said that the fact was learned from (their message, cut to SOURCE_TEXT_CHARS).
SOURCE_TEXT, SOURCE_TEXT_CHARS = "source_text", 300
#: A fact the user corrected in part ("she is 7 not 6" of "Lúcia is 6 and loves dinosaurs") names its corrector.
CORRECTED_BY = "corrected_by"
ACTIVE, SUPERSEDED = "active", "superseded"


@dataclass(frozen=True)
class MemoryItem:
    """One remembered fact about the user. ``superseded_by`` is the id of the newer fact that replaced it;
    ``corrected_by`` that of a fact that corrects it in part (it stays active, and is shown after it)."""

    id: str
    text: str
    created_at: str
    updated_at: str
    superseded_by: str | None = None
    source_conversation: str | None = None
    source_text: str | None = None  # the user's message it was learned from (None: typed in as a memory)
    corrected_by: str | None = None

    @property
    def active(self) -> bool:
        return self.superseded_by is None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def learned_from(self, conversation_id: str | None, said: str) -> bool:
        """Whether this memory was learned from the message ``said`` of ``conversation_id``."""
        return bool(self.source_text) and self.source_conversation == conversation_id and \
            self.source_text == source_text(said)

    @classmethod
    def from_mem0(cls, row: dict[str, Any]) -> MemoryItem:
        """Build from a mem0 result row (``get``/``get_all``/``search``): custom keys sit under ``metadata``."""
        meta = row.get("metadata") or {}
        created = row.get("created_at") or ""
        return cls(
            id=str(row["id"]),
            text=row.get("memory", ""),
            created_at=created,
            updated_at=row.get("updated_at") or created,
            superseded_by=meta.get(SUPERSEDED_BY) or None,
            source_conversation=meta.get(SOURCE) or None,
            source_text=meta.get(SOURCE_TEXT) or None,
            corrected_by=meta.get(CORRECTED_BY) or None,
        )


def newest_first(items: list[MemoryItem]) -> list[MemoryItem]:
    """Newest first, the id ordering ties: after a year, what was learned last stood at the bottom of 2,000
    rows, in the window and `hearth memory list`."""
    return sorted(items, key=lambda m: (m.created_at, m.id), reverse=True)


def holding(items: list[MemoryItem], text: str) -> list[MemoryItem]:
    """The memories that hold ``text`` as typed (a name, a number), case and runs of spaces aside."""
    needle = " ".join(text.split()).casefold()
    return [m for m in items if needle and needle in " ".join(m.text.split()).casefold()]


def source_text(said: str) -> str:
    """The user's message as a memory keeps it (one line, cut to SOURCE_TEXT_CHARS)."""
    return " ".join(said.split())[:SOURCE_TEXT_CHARS]


def typed_memory(text: str, editing: bool = False, keep_secret: bool = False) -> str:
    """A memory as the user typed it, on one line (NFC); an empty one is refused, and one that holds a secret
    (see :mod:`assistant.memory.secrets`) unless ``keep_secret``. Here, not in the service, so the CLI refuses
    ``hearth memory add ""`` before opening the store (2 s)."""
    text = unicodedata.normalize("NFC", " ".join(text.split()))
    if not text:
        raise InputError("A memory cannot be empty; use forget to remove it." if editing else
                         "A memory cannot be empty.")
    if not keep_secret and (kind := secret_kind(text)) is not None:
        raise SecretRefusedError(f"This looks like {kind}: memory keeps no secrets (it is stored unencrypted and "
                                 f"put into prompts). Nothing was {'changed' if editing else 'added'}.")
    return text
