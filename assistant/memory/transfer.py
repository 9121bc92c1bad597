"""`hearth memory export`'s JSON read back into a store (`hearth memory import`).

An export is the list :meth:`MemoryService.export` writes: one object per memory, superseded ones too. Reading
it back must keep what made it the user's history (ids, dates, which fact replaced or corrected which, the
message each was learned from), must not add a memory twice when a file is imported again or into a store that
has some of it, and must not lose the rest of the file to one bad entry: each unusable entry is named with the
reason. A memory both sides keep is one memory: the side that changed it last (its text, or what replaced it)
has the latest word, as on one computer.
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
    CORRECTED_BY,
    SLOT,
    SOURCE,
    SOURCE_TEXT,
    STATUS,
    SUPERSEDED,
    SUPERSEDED_BY,
    MemoryItem,
    source_text,
    typed_memory,
)
from assistant.memory.secrets import secret_kind, without_secrets


@dataclass
class ImportReport:
    """What an import did: ``added`` memories, kept ones ``updated`` (edited since on the other side),
    ``already`` there (same id or same text), one line per entry that could not be read or holds a secret
    (``problems``; ``secrets`` of them held one), and how many were ``left`` when it was stopped."""

    added: int = 0
    already: int = 0
    problems: list[str] = field(default_factory=list)
    left: int = 0
    updated: int = 0
    secrets: int = 0

    def secret(self, n: int, kind: str) -> None:
        """Entry ``n`` left out for holding ``kind`` of secret: named by its number, the secret not repeated."""
        self.problems.append(f"entry {n}: it looks like {kind}, and memory keeps no secrets")
        self.secrets += 1

    def to_dict(self) -> dict[str, Any]:
        return {"added": self.added, "updated": self.updated, "already": self.already, "problems": self.problems,
                "left": self.left}

    def summary(self, source: str) -> str:
        """One sentence for every front end: "Imported 3 memories from memories.json; 1 already kept."."""
        added = counted(self.added, "memory", "memories")
        head = (f"Stopped: imported {added} from {source}, {self.left:,} left (importing the file again adds them)"
                if self.left else f"Imported {added} from {source}")
        updated = f"{self.updated:,} updated, " if self.updated else ""
        skipped = f", {len(self.problems):,} skipped" if self.problems else ""
        return f"{head}; {updated}{self.already:,} already kept{skipped}."


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
    corrected_by: str | None = None

    def payload(self, user_id: str) -> dict[str, Any]:
        """The metadata mem0 keeps for a memory (as ``Memory.add`` writes it) and Hearth's own keys."""
        return {**text_payload(self.text), "role": "user", "created_at": self.created_at,
                "updated_at": self.updated_at, "user_id": user_id, STATUS: SUPERSEDED if self.superseded_by else ACTIVE,
                SUPERSEDED_BY: self.superseded_by or "", SOURCE: self.source_conversation,
                SOURCE_TEXT: self.source_text, CORRECTED_BY: self.corrected_by or ""}


def text_payload(text: str) -> dict[str, Any]:
    """The payload keys that follow from a memory's text (mem0's and the slot it sets)."""
    slot = slot_of(text)
    return {TEXT: text, "hash": hashlib.md5(text.encode()).hexdigest(), "text_lemmatized": text,
            SLOT: slot.name if slot else ""}


@dataclass
class Plan:
    """What an import changes: the entries to add (``found``); kept memories whose text the file edited later
    (``retexts``: id -> the file's entry); kept memories the file says were replaced later (``replaced``: kept
    id -> the id replacing it) or corrected (``corrections``: kept id -> corrector)."""

    found: list[Entry] = field(default_factory=list)
    retexts: dict[str, Entry] = field(default_factory=dict)
    replaced: dict[str, str] = field(default_factory=dict)
    corrections: dict[str, str] = field(default_factory=dict)


#: The namespace of the ids made for entries without one Hearth gave (see :func:`entries`).
_HAND_IDS = uuid.UUID("6f1c2a0e-5b7d-4c39-9e51-0d8f3b2a7c64")


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


def entries(data: list[Any], kept: list[MemoryItem], report: ImportReport, keep_secret: bool = False) -> Plan:
    """What ``data`` changes in a store holding ``kept``: the entries it lacks, and what the file knows later
    about memories both keep; the rest is counted in ``report``: as already there (the same id, or a memory
    with the same text), or as a problem naming the entry.

    An entry whose text holds a secret is a problem too, unless ``keep_secret``, as ``hearth memory add``
    refuses it: "User's bike lock code is 4312" and "My wifi password is: Sunflower42!" were imported from a
    file that add would not take them from. One kept already (forced in, exported, imported back) is already
    there. The message an entry was learned from is kept with its secrets masked, as learning keeps it.

    A memory both keep takes the file's text when the file edited it later, and the file's "replaced by" when
    what replaced it is the latest word and was set after the store's last edit of it. An entry stays superseded
    (or corrected) when the memory that replaced (or corrected) it is in the file or the store, under the id it
    has there; when that one is in neither, the entry is the latest word again, as when it is forgotten; in a
    loop of replacements (A by B, B by A) the latest of them is."""
    now = datetime.now(UTC).isoformat()
    stored = {m.id: m for m in kept}
    have = {_key(m.text): m.id for m in kept}
    aliases = {m.id: m.id for m in kept}  # an id in the file -> the id of that memory in the store
    numbered: dict[str, int] = {}
    both: list[tuple[MemoryItem, Entry]] = []  # a kept memory and the file's entry for it
    plan = Plan()
    for n, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            report.problems.append(f"entry {n} is not a memory (an object with a \"text\")")
            continue
        try:
            text = typed_memory(_text(item.get("text")), keep_secret=True)  # a secret: below, where it is new
        except HearthError:
            report.problems.append(f"entry {n} has no text")
            continue
        secret = None if keep_secret else secret_kind(text)
        given = _id(item.get("id"))
        if given in numbered:
            report.problems.append(f"entry {n} has the id of entry {numbered[given]}")
            continue
        created, said = _when(item.get("created_at"), now), _text(item.get("source_text"))
        entry = Entry(given, text, created, _when(item.get("updated_at"), created),
                      _id(item.get("superseded_by")) or None, _text(item.get("source_conversation")),
                      source_text(said if keep_secret else without_secrets(said)),
                      _id(item.get("corrected_by")) or None)
        if (mine := stored.get(given)) is not None:  # one memory: the side that edited it last has its text
            numbered[given] = n
            both.append((mine, entry))
            if (_key(text) != _key(mine.text) and _key(text) not in have
                    and _at(entry.updated_at) > _at(mine.updated_at)):
                if secret is not None:
                    report.secret(n, secret)
                    continue
                have.pop(_key(mine.text), None)
                have[_key(text)] = given
                plan.retexts[given] = entry
                report.updated += 1
            else:
                report.already += 1
            continue
        if given in aliases or _key(text) in have:
            if given:
                aliases.setdefault(given, have.get(_key(text), given))
            if (mine := stored.get(have.get(_key(text), ""))) is not None:
                both.append((mine, entry))
            report.already += 1
            continue
        if secret is not None:
            report.secret(n, secret)
            continue
        try:
            entry.id = str(uuid.UUID(given))
        except ValueError:  # not an id Hearth gave (typed in by hand): one made from it, the same at every import
            entry.id = str(uuid.uuid5(_HAND_IDS, given or _key(text)))
            if entry.id in aliases:
                entry.id = str(uuid.uuid4())
        if given:
            numbered[given], aliases[given] = n, entry.id
        have[_key(text)] = entry.id
        plan.found.append(entry)
    by_id = {entry.id: entry for entry in plan.found}
    for entry in plan.found:
        newer, fixer = aliases.get(entry.superseded_by or ""), aliases.get(entry.corrected_by or "")
        entry.superseded_by = newer if newer != entry.id else None
        entry.corrected_by = fixer if fixer != entry.id else None
    for entry in plan.found:
        chain: list[str] = []
        at: Entry | None = entry
        while at is not None and at.id not in chain:
            chain.append(at.id)
            at = by_id.get(at.superseded_by or "")
        if at is not None:  # back to one already in the chain: a loop, which hid every fact in it
            loop = [by_id[i] for i in chain[chain.index(at.id):]]
            max(loop, key=lambda e: _at(e.updated_at)).superseded_by = None
    latest = {m.id: m.updated_at for m in kept if m.active} | {i: e.updated_at for i, e in plan.retexts.items()}
    latest |= {e.id: e.updated_at for e in plan.found if e.superseded_by is None}
    for mine, entry in both:
        newer, fixer = aliases.get(entry.superseded_by or ""), aliases.get(entry.corrected_by or "")
        if mine.active and newer in latest and newer != mine.id and _at(latest[newer]) >= _at(latest[mine.id]):
            plan.replaced[mine.id] = newer
        if mine.corrected_by is None and fixer and fixer != mine.id:
            plan.corrections[mine.id] = fixer
    return plan


def settle_slots(found: list[Entry], active: list[MemoryItem],
                 report: ImportReport) -> tuple[list[Entry], dict[str, str]]:
    """Imported facts against the kept ``active`` ones, and against each other, that set the same thing (one
    home, one name): the one set later (its last edit: a kept fact edited today is today's word) stays active
    and the other is superseded by it; one that says the same ("I live in Oslo" / "User lives in Oslo") is
    already there. Returns the entries to add and, kept id -> imported id, the kept memories an imported one
    replaces (marked just before it is stored, see ``MemoryService.import_``)."""
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
