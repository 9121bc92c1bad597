"""`hearth memory export`'s JSON read back into a store (`hearth memory import`).

An export is the list :meth:`MemoryService.export` writes: one object per memory, superseded ones too. Reading
it back must keep what made it the user's history (ids, dates, which fact replaced which, the message each was
learned from), must not add a memory twice when a file is imported again or into a store that has some of it,
and must not lose the rest of the file to one bad entry: each unusable entry is named with the reason.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.errors import HearthError, InputError
from assistant.events import counted
from assistant.memory.conflicts import Candidate, judge, slot_of
from assistant.memory.rebuild import TEXT
from assistant.memory.records import (
    ACTIVE,
    SLOT,
    SOURCE,
    SOURCE_TEXT,
    SOURCE_TEXT_CHARS,
    STATUS,
    SUPERSEDED,
    SUPERSEDED_BY,
    MemoryItem,
    typed_memory,
)


@dataclass
class ImportReport:
    """What an import did: ``added`` memories, ``already`` there (same id or same text), one line per entry
    that could not be read (``problems``), and how many were ``left`` when it was stopped."""

    added: int = 0
    already: int = 0
    problems: list[str] = field(default_factory=list)
    left: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"added": self.added, "already": self.already, "problems": self.problems, "left": self.left}

    def summary(self, source: str) -> str:
        """One sentence for every front end: "Imported 3 memories from memories.json; 1 already kept."."""
        added = counted(self.added, "memory", "memories")
        head = (f"Stopped: imported {added} from {source}, {self.left:,} left (importing the file again adds them)"
                if self.left else f"Imported {added} from {source}")
        skipped = f", {len(self.problems):,} skipped" if self.problems else ""
        return f"{head}; {self.already:,} already kept{skipped}."


def read_export(path: Path) -> list[Any]:
    """The entries of the export file at ``path``; one clear error when it cannot be one."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"There is no file {path}.") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder: give the file `hearth memory export -o FILE` wrote.") from None
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    # UTF-8 as Hearth writes it; UTF-16 with its mark is what a Windows shell's `>` writes
    encoding = "utf-16" if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig"
    try:
        data = json.loads(raw.decode(encoding))
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text: give the file `hearth memory export -o FILE` wrote.") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}): give the file "
                         "`hearth memory export -o FILE` wrote.") from None
    except RecursionError:
        raise InputError(f"{path} is not a memory export: its JSON is nested thousands of levels deep.") from None
    if not isinstance(data, list):
        raise InputError(f"{path} is not a memory export: that is a JSON list of memories, each with a \"text\".")
    return data


@dataclass
class Entry:
    """One memory of the file, checked, under the id it will have in the store."""

    id: str
    text: str
    created_at: str
    updated_at: str
    superseded_by: str | None
    source_conversation: str
    source_text: str

    def payload(self, user_id: str) -> dict[str, Any]:
        """The metadata mem0 keeps for a memory (as ``Memory.add`` writes it) and Hearth's own keys."""
        slot = slot_of(self.text)
        return {TEXT: self.text, "hash": hashlib.md5(self.text.encode()).hexdigest(), "role": "user",
                "text_lemmatized": self.text, "created_at": self.created_at, "updated_at": self.updated_at,
                "user_id": user_id, STATUS: SUPERSEDED if self.superseded_by else ACTIVE,
                SUPERSEDED_BY: self.superseded_by or "", SLOT: slot.name if slot else "",
                SOURCE: self.source_conversation, SOURCE_TEXT: self.source_text}


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _when(value: Any, default: str) -> str:
    """An ISO date as the export wrote it; anything else (missing, mistyped) is ``default``."""
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return default
        return value
    return default


def _text(value: Any) -> str:
    """``value`` when it is a string, else ""; a broken character in it (half of an emoji's pair, which JSON
    allows) is the replacement character: the store cannot keep such text, and the import stopped there for good."""
    if not isinstance(value, str):
        return ""
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _id(value: Any) -> str:
    """An id as Hearth writes it (a lower-case UUID), or as given when it is not one: "{1111…}" or upper case
    is the same memory (counted as imported, it was dropped by the store as one it had)."""
    given = _text(value).strip()
    try:
        return str(uuid.UUID(given))
    except ValueError:
        return given


def _at(value: str) -> datetime:
    """An ISO date; one without a zone is UTC, as Hearth writes them; none (a store's row without one) is the
    earliest."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def entries(data: list[Any], kept: list[MemoryItem], report: ImportReport) -> list[Entry]:
    """The entries of ``data`` that the store (holding ``kept``) lacks; the others are counted in ``report``:
    as already there (the same id, or a memory with the same text), or as a problem naming the entry.

    An entry stays superseded when the memory that replaced it is in the file or the store (under the id it has
    there); when that one is in neither, the entry is the latest word again, as when it is forgotten; in a loop
    of replacements (A by B, B by A) the latest of them is."""
    now = datetime.now(UTC).isoformat()
    have = {_key(m.text): m.id for m in kept}
    aliases = {m.id: m.id for m in kept}  # an id in the file -> the id of that memory in the store
    numbered: dict[str, int] = {}
    found: list[Entry] = []
    for n, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            report.problems.append(f"entry {n} is not a memory (an object with a \"text\")")
            continue
        try:
            text = typed_memory(_text(item.get("text")))
        except HearthError:
            report.problems.append(f"entry {n} has no text")
            continue
        given = _id(item.get("id"))
        if given in numbered:
            report.problems.append(f"entry {n} has the id of entry {numbered[given]}")
            continue
        if given in aliases or _key(text) in have:
            if given:
                aliases.setdefault(given, have.get(_key(text), given))
            report.already += 1
            continue
        try:
            memory_id = str(uuid.UUID(given))
        except ValueError:  # not an id Hearth gave (typed in by hand): a new one
            memory_id = str(uuid.uuid4())
        if given:
            numbered[given], aliases[given] = n, memory_id
        have[_key(text)] = memory_id
        created = _when(item.get("created_at"), now)
        found.append(Entry(memory_id, text, created, _when(item.get("updated_at"), created),
                           _id(item.get("superseded_by")) or None, _text(item.get("source_conversation")),
                           " ".join(_text(item.get("source_text")).split())[:SOURCE_TEXT_CHARS]))
    by_id = {entry.id: entry for entry in found}
    for entry in found:
        newer = aliases.get(entry.superseded_by) if entry.superseded_by else None
        entry.superseded_by = newer if newer != entry.id else None
    for entry in found:
        chain: list[str] = []
        at: Entry | None = entry
        while at is not None and at.id not in chain:
            chain.append(at.id)
            at = by_id.get(at.superseded_by or "")
        if at is not None:  # back to one already in the chain: a loop, which hid every fact in it
            loop = [by_id[i] for i in chain[chain.index(at.id):]]
            max(loop, key=lambda e: _at(e.updated_at)).superseded_by = None
    return found


def settle_slots(found: list[Entry], active: list[MemoryItem],
                 report: ImportReport) -> tuple[list[Entry], dict[str, str]]:
    """Imported facts against the kept ``active`` ones, and against each other, that set the same thing (one
    home, one name): the one set later (its last edit: a kept fact edited today is today's word) stays active
    and the other is superseded by it; one that says the same ("I live in Oslo" / "User lives in Oslo") is
    already there. Returns the entries to add and, kept id -> imported id, the kept memories an imported one
    replaces (marked once it is stored)."""
    texts = {m.id: m.text for m in active}
    when = {m.id: m.updated_at or m.created_at for m in active}
    slots = {m.id: slot.name for m in active if (slot := slot_of(m.text)) is not None}  # the active ones
    imported: dict[str, Entry] = {}
    replaced: dict[str, str] = {}
    same: dict[str, str] = {}  # an entry that is already there -> the memory that says it
    for entry in sorted(found, key=lambda e: _at(e.updated_at)):  # oldest first: a later one replaces it
        slot = slot_of(entry.text)
        if slot is not None and entry.superseded_by is None:
            olds = [Candidate(i, texts[i], 0.0) for i, name in slots.items() if name == slot.name]
            verdict = judge(None, entry.text, olds, None)
            if verdict.duplicate_of is not None:
                same[entry.id] = verdict.duplicate_of
                report.already += 1
                continue
            for old_id in verdict.supersedes:
                if old_id in imported:  # an older fact of the same file
                    imported[old_id].superseded_by = entry.id
                elif _at(when[old_id]) > _at(entry.updated_at):
                    entry.superseded_by = old_id
                    continue
                else:
                    replaced[old_id] = entry.id
                slots.pop(old_id)
            if entry.superseded_by is None:
                slots[entry.id], texts[entry.id], when[entry.id] = slot.name, entry.text, entry.updated_at
        imported[entry.id] = entry
    for entry in imported.values():  # one the file says was replaced by a fact already there: by that memory
        if entry.superseded_by in same:
            entry.superseded_by = same[entry.superseded_by]
    return list(imported.values()), replaced
