"""MemoryService: what the facade, the CLI and the GUI memory manager use; mem0 stays behind it.

Reading (``relevant``, ``search``, ``list``) never touches the engine. Learning is split in two so it never
delays an answer: ``enqueue_turn`` only writes the finished turn to a durable queue (milliseconds), and
``process_pending`` extracts and stores facts later, when the facade sees the engine idle, stopping as soon
as ``cancel`` is set (the turn it was on stays queued). Every write goes through one lock, so a GUI thread
and the background job never interleave mem0 updates.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import logging
import threading
import time
import unicodedata
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from mem0.llms.base import LLMBase

from assistant.chroma_local import OtherWriters, scrub_deleted
from assistant.config import KnowledgeSettings, MemorySettings, RemoteSettings
from assistant.engine import Engine
from assistant.errors import ContextOverflowError, GenerationError, HearthError, InputError, MemoryStoreError
from assistant.events import MemoriesLearned, Progress
from assistant.knowledge import Embedder, SentenceTransformerEmbedder
from assistant.memory.backend import (
    close_memory,
    cosine_of,
    local_store_file,
    open_memory,
    reopen_local_store,
    row_of,
    score_for,
)
from assistant.memory.conflicts import PROFILE_SLOTS, Candidate, judge, retraction, slot_of
from assistant.memory.errors import MemoryJobCancelled, MemoryNotFoundError
from assistant.memory.extraction import extract_facts
from assistant.memory.language import speaks_of_self_in_another_language
from assistant.memory.llm import HearthLLM
from assistant.memory.queue import TurnQueue, queue_path, queue_turn
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
    holding,
    newest_first,
    source_text,
    typed_memory,
)
from assistant.memory.secrets import not_kept, secret_kind, secrets_in
from assistant.memory.statements import EVERYTHING, corrects, forget_request, speaks_of_user
from assistant.memory.transfer import ImportReport, Plan, entries, settle_slots, text_payload
from assistant.paths import Paths

log = logging.getLogger(__name__)

#: A memory must be at least this similar (cosine) to the question to be put in the prompt.
RELEVANT_COSINE = 0.2
#: A search (the memory manager, ``hearth memory search``) lists memories at least this similar: with MiniLM,
#: nonsense such as "zzzzqqq" reaches 0.23 against "User plays the cello", while real questions score 0.37
#: ("Which city do I live in?" against "User lives in Oslo") and 0.44 ("dog" against "User has a dog called Rex").
SEARCH_COSINE = 0.3
#: Always-on profile facts added to the relevant ones (name, home, diet, answer style).
PROFILE_FACTS = 3
#: Similar older facts a new fact is checked against for duplicates and contradictions.
SIMILAR_FACTS = 5
#: Said once per process when a message about the user in another language is not learned from.
FOREIGN_NOTICE = ("Memory learns from English messages only, so nothing was kept from this one. To have Hearth "
                  "remember it, add it in the memory manager (or `hearth memory add`).")
#: Memories named to a user who asks in chat to forget something (the closest to what they asked).
FORGET_SHOWN = 3
#: Prompt block limits: the prompt builder counts tokens, this keeps the block a few dozen of them.
MAX_BLOCK_ITEMS, MAX_ITEM_CHARS = 8, 160
_ALL = 10_000
#: Memories embedded and stored at a time by an import or a rebuild.
_INSERT_BATCH = 256
BLOCK_HEADER = "What you know about the user from earlier conversations (use it only when relevant):"


def _corrections_first(rows: builtins.list[dict[str, Any]]) -> builtins.list[dict[str, Any]]:
    """Move a fact that corrects another one (in part) right above it when both were found."""
    ordered = list(rows)
    for row in rows:
        corrector = (row.get("metadata") or {}).get(CORRECTED_BY)
        ids = [r["id"] for r in ordered]
        if corrector in ids and ids.index(corrector) > ids.index(row["id"]):
            ordered.insert(ids.index(row["id"]), ordered.pop(ids.index(corrector)))
    return ordered


class MemoryService:
    def __init__(self, paths: Paths, settings: MemorySettings, engine: Engine, embedder: Embedder | None = None,
                 *, llm: LLMBase | None = None, remote: RemoteSettings | None = None) -> None:
        """``embedder``: share the knowledge base's (None: the bundled all-MiniLM-L6-v2). ``llm``: replaces
        the engine for memory steps (tests use it to force malformed output). ``remote``: with a
        ``chroma_url``, the memories' vectors live in that Chroma server (see :mod:`assistant.remote`)."""
        self.settings = settings
        self._engine = engine
        embedder = embedder or SentenceTransformerEmbedder.from_settings(KnowledgeSettings())
        self._mem0 = open_memory(paths, engine, embedder, remote)
        if llm is not None:
            self._mem0.llm = llm
        try:
            self._queue = TurnQueue(queue_path(paths))
        except HearthError:
            close_memory(self._mem0)
            raise
        self._lock = threading.RLock()
        self._learned: builtins.list[str] = []  # facts learning stored since take_learned last looked
        self._withheld: builtins.list[str] = []  # ... and why it left others out (see ``not_kept``)
        self._told_language = False  # FOREIGN_NOTICE was given in this process
        #: Writes by other processes to a store on this computer (a Chroma server is shared: nothing to do)
        local = remote is None or not remote.chroma_url.strip()
        self._store_file = local_store_file(paths)
        self._others = OtherWriters(self._store_file) if local else None
        self._reopening = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._queue.close()
            close_memory(self._mem0)
            if self._others is not None:
                self._others.close()

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    # ---- plumbing -----------------------------------------------------------------------------------
    @contextmanager
    def _store_errors(self) -> Iterator[None]:
        """mem0 and Chroma raise anything; the core promises HearthError with a readable message."""
        try:
            yield
        except HearthError:
            raise
        except Exception as exc:
            raise MemoryStoreError(f"The memory store failed: {exc}") from exc

    def _scope(self, active_only: bool = True, **extra: Any) -> dict[str, Any]:
        return {"user_id": self.settings.user_id, **({STATUS: ACTIVE} if active_only else {}), **extra}

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """A write of this process's own (see ``OtherWriters``), with the store's errors as HearthError."""
        own = self._others.writing() if self._others is not None else contextlib.nullcontext()
        with self._store_errors(), own:
            yield

    def _see_other_writers(self) -> None:
        """Before a vector search: what another process stored since is searched too (see ``OtherWriters``)."""
        if self._others is not None:
            with self._reopening, self._store_errors():
                if self._others.wrote():
                    log.info("memory: another process changed the store; reopening its vector index")
                    reopen_local_store(self._mem0)

    def _rows(self, filters: dict[str, Any]) -> builtins.list[dict[str, Any]]:
        with self._store_errors():
            return self._mem0.get_all(filters=filters, top_k=_ALL)["results"]

    def _vector(self, text: str) -> list[float]:
        return self._mem0.embedding_model.embed(text, "search")

    def _similar(self, text: str, k: int, min_cosine: float) -> builtins.list[tuple[dict[str, Any], float]]:
        """The ``k`` active memories of this user closest to ``text``, at least ``min_cosine`` similar.

        Asks the vector store without a filter first, for a few times ``k``, and filters here: Chroma's
        filtered query scans every matching row (30 ms at 10k memories, against 2 ms unfiltered). Only when
        too few of those are this user's active ones does it ask again with the filter.
        """
        if not text.strip():
            return []
        self._see_other_writers()
        vector, store, user = self._vector(text), self._mem0.vector_store, self.settings.user_id
        wide = max(4 * k, 40)
        # as this process's own write: Chroma commits during a search (a client opened anew compacts its log at
        # its first query), and seen as another process's write it reopened the store at every search (190
        # reopens for 189 searches: 49 ms p50 at 10,000 memories, where it was 8.6)
        with self._changing():
            hits = store.search(text, [vector], top_k=wide)
            rows = [row_of(h) for h in hits
                    if h.payload and h.payload.get("user_id") == user and h.payload.get(STATUS) == ACTIVE]
            if len(rows) < k and len(hits) == wide:
                rows = [row_of(h) for h in store.search(text, [vector], top_k=k, filters=self._scope())]
        floor = score_for(min_cosine)
        return [(row, cosine_of(row["score"])) for row in _corrections_first(rows)[:k]
                if row["score"] is not None and row["score"] >= floor]

    # ---- reading ------------------------------------------------------------------------------------
    def get(self, memory_id: str) -> MemoryItem:
        with self._store_errors():
            row = self._mem0.get(memory_id)
        if row is None or row.get("user_id") != self.settings.user_id:
            raise MemoryNotFoundError(f"There is no memory with id {memory_id}.")
        return MemoryItem.from_mem0(row)

    def full_id(self, typed: str) -> str:
        """The id of the memory ``typed`` names: its id, or the start of one (``hearth memory list`` shows ids
        of 36 characters; "There is no memory with id 1162eb81" answered the first 8, as git takes them)."""
        found = _by_start(typed, {m.id for m in self.list(include_superseded=True)}, "memories")
        if found is None:
            short = " (name one by its id, at least its first 4 characters)" if len(typed) < 4 else ""
            raise MemoryNotFoundError(f"There is no memory with id {typed}{short}.")
        return found

    def search(self, text: str, k: int = 5, min_cosine: float = -1.0) -> builtins.list[MemoryItem]:
        """The ``k`` active memories closest to ``text``, at least ``min_cosine`` similar (superseded and
        forgotten ones never come back)."""
        return [MemoryItem.from_mem0(row) for row, _ in self._similar(text, k, min_cosine)]

    def find(self, text: str, k: int = 5) -> builtins.list[MemoryItem]:
        """What the memory manager and ``hearth memory search`` list: the memories that hold ``text`` as typed
        (a name, a number), then the ``k`` closest in meaning that are at least SEARCH_COSINE similar. The
        nearest ``k`` however far, as before, made "zzzzqqq" list every memory, as if nothing was filtered."""
        literal = holding(self.list(), text)
        seen = {m.id for m in literal}
        return literal + [m for m in self.search(text, k, SEARCH_COSINE) if m.id not in seen]

    def relevant(self, question: str, k: int = 5) -> builtins.list[MemoryItem]:
        """What to put in the prompt for ``question``: the memories close to it, then a few profile facts, when
        the question speaks of the user (see :func:`speaks_of_user`); one that does not gets only the memories as
        close as a search lists (SEARCH_COSINE). Over the memory set's 40 conversations (their facts stored, 12
        general questions asked with each: "Write a haiku about rain.", "What is the capital of France?"):
        profile facts in every prompt and one threshold put memories into 45 of 120 general prompts (3 questions
        each), this 17 of 480; the needed facts were found for 118 of the set's 126 questions about the user
        either way (2 of them name a person without "my": "how old is oskar")."""
        if not self.enabled:
            return []
        about_user = speaks_of_user(question)
        found = [MemoryItem.from_mem0(row)
                 for row, _ in self._similar(question, k, RELEVANT_COSINE if about_user else SEARCH_COSINE)]
        if not about_user:
            return found
        seen = {m.id for m in found}
        profile = sorted(self._rows(self._scope(**{SLOT: {"in": list(PROFILE_SLOTS)}})),
                         key=lambda row: row.get("updated_at") or "", reverse=True)
        extra = [MemoryItem.from_mem0(row) for row in profile if row["id"] not in seen]
        return found + extra[:PROFILE_FACTS]

    def list(self, include_superseded: bool = False) -> builtins.list[MemoryItem]:
        """All memories, newest first (superseded ones too when asked: they are the history)."""
        return newest_first([MemoryItem.from_mem0(row)
                             for row in self._rows(self._scope(active_only=not include_superseded))])

    def export(self) -> builtins.list[dict[str, Any]]:
        """Every memory, oldest first: imported again, they are learned in the order they were."""
        return [m.to_dict() for m in reversed(self.list(include_superseded=True))]

    @staticmethod
    def prompt_block(items: builtins.list[MemoryItem]) -> str:
        """A short block for the question's turn (see ``build_prompt``); empty when there is nothing to say."""
        lines = [f"- {' '.join(m.text.split())[:MAX_ITEM_CHARS]}" for m in items[:MAX_BLOCK_ITEMS]]
        return "\n".join([BLOCK_HEADER, *lines]) if lines else ""

    # ---- learning from conversations ----------------------------------------------------------------
    def enqueue_turn(self, conversation_id: str | None, user_text: str, context: str = "") -> str | None:
        """Queue a finished turn for extraction. Facts come only from what the user said (never the answer,
        never a retrieved document); ``context`` is the user's previous message, for "she" and "he". A turn
        with no statement that could be about the user (a question, thanks) is not queued.

        Returns what the user should be told: that a message about themselves in another language is not learned
        from (the rules read English; once per process), and that a request to forget in chat forgets nothing and
        how to forget, instead of nothing at all."""
        if not self.enabled:
            return None
        queued = queue_turn(self._queue, conversation_id, user_text, context,
                            functools.partial(self._known, user_text, quiet=True))
        if (asked := forget_request(user_text)) is not None:  # what else it says is learned from all the same
            return self._how_to_forget(asked)
        if queued:
            return None
        if not self._told_language and speaks_of_self_in_another_language(user_text):
            self._told_language = True
            return FOREIGN_NOTICE
        return None

    def _how_to_forget(self, asked: str) -> str:
        """What a user who asked in chat to forget ``asked`` ("User has a dog") is told: "Please forget that I have
        a dog." did nothing and said nothing, and the answer may well have said "Okay, I've forgotten it"."""
        how = "Nothing was forgotten: memory forgets what you forget in the memory manager (or with `hearth memory "
        if asked == EVERYTHING:  # "Can you forget everything you know about me?" was answered with one memory's id
            return ("Nothing was forgotten: memory forgets everything when you choose Forget all… in the memory "
                    "manager (or run `hearth memory clear`).")
        closest = self.find(asked, FORGET_SHOWN)[:FORGET_SHOWN]
        if not closest:
            return how + f"forget ID`), and it keeps nothing like “{asked}”."
        kept = "; ".join(f"“{m.text}” ({m.id[:8]})" for m in closest)
        return how + f"forget {closest[0].id[:8]}`). Kept: {kept}."

    def _known(self, text: str, quiet: bool = False) -> builtins.list[str]:
        """The stored facts close to ``text`` (the names they give someone). ``quiet``: none while the store
        fails (queueing a turn then judges it by its own words; learning from it raises and keeps it queued)."""
        try:
            return [row["memory"] for row, _ in self._similar(text, SIMILAR_FACTS, RELEVANT_COSINE)]
        except MemoryStoreError as exc:
            if not quiet:
                raise
            log.warning("memory: stored facts not read for a turn (%s)", exc)
            return []

    def pending_count(self) -> int:
        return self._queue.counts()["pending"]

    def failed_count(self) -> int:
        """Turns whose extraction failed on every attempt (kept, with the reason, not silently dropped)."""
        return self._queue.counts()["failed"]

    def retry_failed(self) -> int:
        """Give the turns whose extraction failed another chance (the scheduler learns from them when idle)."""
        return self._queue.retry_failed()

    def due_count(self) -> int:
        """Queued turns ready to be learned from now (failed ones wait out their back-off)."""
        return self._queue.due_count()

    def next_retry_in(self) -> float | None:
        return self._queue.next_retry_in()

    def process_pending(self, cancel: threading.Event | None = None, limit: int | None = None) -> int:
        """Extract and store facts from queued turns; returns how many turns were handled (stored or failed).

        Needs a loaded model (without one nothing is touched and the turns wait). A turn whose model output
        is unusable is marked failed and logged; the next turns go on. A store failure (MemoryStoreError)
        propagates and leaves the turn queued: it is not the turn's fault.
        """
        if not self.enabled or (isinstance(self._mem0.llm, HearthLLM) and not self._engine.loaded):
            return 0
        handled = 0
        with self._lock:
            for turn in self._queue.pending(limit):
                if cancel is not None and cancel.is_set():
                    break
                if not self._queue.claim(turn.id):  # another Hearth process is learning it
                    continue
                try:
                    stored: set[str] = set()  # facts of one turn are true together: none supersedes another
                    known, secrets = self._known(turn.user_text), secrets_in(turn.user_text)
                    for fact in extract_facts(self._mem0.llm, turn.user_text, turn.context, known, cancel):
                        if (kind := secret_kind(fact, secrets)) is not None:  # "User's gmail password is …"
                            self._withheld.append(not_kept(kind))
                        elif not self._queue.forgotten_after(self._vector(fact), turn.enqueued_at):
                            stored.add(self._store(fact, turn.conversation_id, self._mem0.llm, cancel, stored,
                                                   said=secrets.hidden, created=self._learned))
                    self._retract(turn.user_text, stored)
                except MemoryJobCancelled:
                    self._queue.release(turn.id)
                    break
                except (GenerationError, ContextOverflowError) as exc:
                    retried = self._queue.fail(turn.id, str(exc))
                    log.warning("memory: turn %d failed (%s): %s", turn.id, "will retry" if retried else "gave up", exc)
                except BaseException:  # a store failure (it stays queued) or an interrupt: free it for the next try
                    self._queue.release(turn.id)
                    raise
                else:
                    self._queue.done(turn.id)
                handled += 1
            self._queue.prune_tombstones()
        return handled

    def _store(self, fact: str, conversation_id: str | None, llm: LLMBase | None,
               cancel: threading.Event | None, siblings: Collection[str] = (), said: str = "",
               created: list[str] | None = None) -> str:
        """Store ``fact`` unless an active memory already says it; mark the ones it contradicts superseded.

        ``siblings``: ids stored from the same turn, which this fact may duplicate but never supersede;
        ``said``: the user's message it comes from, kept with it (where a memory came from, for the user);
        ``created``: gets the fact when it is stored as a new memory.
        """
        fact = unicodedata.normalize("NFC", fact)  # "Zoë" typed decomposed is the same fact, not a second one
        slot = slot_of(fact)
        similar = self._similar(fact, SIMILAR_FACTS, -1.0)
        olds = {row["id"]: Candidate(row["id"], row["memory"], cos) for row, cos in similar}
        if slot is not None:
            for row in self._rows(self._scope(**{SLOT: slot.name})):
                olds.setdefault(row["id"], Candidate(row["id"], row["memory"], 0.0))
        verdict = judge(llm, fact, [*olds.values()], cancel, correcting=corrects(said))
        verdict = replace(verdict, supersedes=tuple(i for i in verdict.supersedes if i not in siblings))
        if verdict.duplicate_of is not None:
            return verdict.duplicate_of
        meta = {STATUS: ACTIVE, SLOT: slot.name if slot else "", SOURCE: conversation_id or "",
                SOURCE_TEXT: source_text(said)}
        with self._changing():
            new_id = self._mem0.add([{"role": "user", "content": fact}], user_id=self.settings.user_id,
                                    metadata=meta, infer=False)["results"][0]["id"]
            for old_id in verdict.supersedes:
                self._mem0.update(old_id, metadata={STATUS: SUPERSEDED, SUPERSEDED_BY: new_id})
        if created is not None:
            created.append(fact)
        return new_id

    def take_learned(self) -> MemoriesLearned:
        """The facts learning stored as new memories since the last call, and why it left others out (a secret),
        for the front ends to say."""
        with self._lock:
            learned, self._learned = self._learned, []
            withheld, self._withheld = self._withheld, []
        return MemoriesLearned(tuple(learned), tuple(withheld))

    def _retract(self, user_text: str, stored: set[str]) -> None:
        """Supersede older facts the turn takes back ("Priya left", "10 not 9") by the turn's closest new fact."""
        if not stored:
            return
        texts = {i: self.get(i).text for i in stored}
        said = ". ".join([user_text, *texts.values()])  # what the turn says now, in the user's words and as facts
        new = {i: self._vector(text) for i, text in texts.items()}
        for row, _ in self._similar(user_text, SIMILAR_FACTS * 2, -1.0):
            how = None if row["id"] in stored else retraction(said, row["memory"])
            if how is None:
                continue
            old = self._vector(row["memory"])
            by = max(new, key=lambda i: sum(a * b for a, b in zip(new[i], old, strict=True)))
            with self._changing():
                self._mem0.update(row["id"], metadata={STATUS: SUPERSEDED, SUPERSEDED_BY: by} if how == "all"
                                  else {CORRECTED_BY: by})

    def restore(self, memories: dict[str, dict[str, Any]]) -> None:
        """Put ``memories`` (id -> metadata, text included, as :func:`rebuild.readable_memories` reads them)
        into this (fresh) store under their own ids, embedded again."""
        rows = list(memories.items())
        with self._lock:
            for start in range(0, len(rows), _INSERT_BATCH):
                self._insert(dict(rows[start:start + _INSERT_BATCH]))

    def _insert(self, memories: dict[str, dict[str, Any]]) -> None:
        if memories:
            vectors = self._mem0.embedding_model.embed_batch([meta[TEXT] for meta in memories.values()], "add")
            with self._changing():
                self._mem0.vector_store.insert(vectors=vectors, payloads=list(memories.values()), ids=list(memories))

    def import_(self, data: builtins.list[Any], progress: Callable[[Progress], None] | None = None,
                cancel: threading.Event | None = None, keep_secret: bool = False) -> ImportReport:
        """Add what an export (``data``: the list :meth:`export` gives) holds that this store lacks, under its
        own ids, dates, sources and links, and take what the file changed later in memories both keep (see
        :mod:`assistant.memory.transfer`); ``progress`` gets a Progress event (memories, with an ETA) after each
        batch; ``cancel`` stops it after the batch being stored. An entry holding a secret is skipped (a problem
        of the report) unless ``keep_secret``, as :meth:`add` refuses one.

        An imported fact that sets what a kept one sets ("lives in Oslo" / "lives in Bergen") leaves the one set
        later (by its last edit) the latest word and the other superseded by it (see ``settle_slots``).
        Memories are stored a batch at a time, each kept fact a batch replaces marked before the batch is
        stored: an import stopped anywhere (even killed) is finished by importing again, which gives the same
        ids; a kept fact marked first would stay active beside its replacement for good."""
        report = ImportReport()
        with self._lock:
            kept = self.list(include_superseded=True)
            plan = entries(data, kept, report, keep_secret)
            active = [replace(m, text=e.text, updated_at=e.updated_at) if (e := plan.retexts.get(m.id))
                      else m for m in kept if m.active and m.id not in plan.replaced]
            found, replaced = settle_slots(plan.found, active, report)
            fresh = {e.id for e in found}
            # a replacement or corrector settle_slots found already said by a kept fact is not stored: no link
            stays = fresh | {m.id for m in kept}
            replaced |= {old: new for old, new in plan.replaced.items() if new in stays}
            plan.corrections = {old: new for old, new in plan.corrections.items() if new in stays}
            self._amend(plan)
            self._supersede({old: new for old, new in replaced.items() if new not in fresh})
            if found and progress is not None:  # said at once; the embedder loads before the ETA's clock starts
                progress(Progress("memory import", 0, len(found), "memories"))
                self._mem0.embedding_model.load()
            started = time.monotonic()
            for start in range(0, len(found), _INSERT_BATCH):
                if cancel is not None and cancel.is_set():
                    report.left = len(found) - report.added
                    break
                batch = found[start:start + _INSERT_BATCH]
                ids = {e.id for e in batch}
                self._supersede({old: new for old, new in replaced.items() if new in ids})
                self._insert({e.id: e.payload(self.settings.user_id) for e in batch})
                report.added += len(batch)
                if progress is not None:
                    rate, left = report.added / (time.monotonic() - started), len(found) - report.added
                    progress(Progress("memory import", report.added, len(found), "memories", rate=rate,
                                      eta_s=left / rate if left else None))
        return report

    def _supersede(self, replaced: dict[str, str]) -> None:
        """Mark each kept memory (key) superseded by its replacement (value)."""
        if not replaced:
            return
        with self._changing():
            for old_id, new_id in replaced.items():
                self._mem0.update(old_id, metadata={STATUS: SUPERSEDED, SUPERSEDED_BY: new_id})

    def _amend(self, plan: Plan) -> None:
        """Kept memories as an import found them later: the text the file edited (embedded again, the edit's
        date and mem0's history as an edit's), and the fact that corrects each."""
        if not plan.retexts and not plan.corrections:
            return
        vectors = self._mem0.embedding_model.embed_batch([e.text for e in plan.retexts.values()], "update")
        with self._changing():
            for (memory_id, entry), vector in zip(plan.retexts.items(), vectors, strict=True):
                payload = dict(self._mem0.vector_store.get(vector_id=memory_id).payload)
                before = payload.get(TEXT)
                payload |= text_payload(entry.text) | {"updated_at": entry.updated_at}
                self._mem0.vector_store.update(vector_id=memory_id, vector=vector, payload=payload)
                self._mem0.db.add_history(memory_id, before, entry.text, "UPDATE", created_at=payload.get("created_at"),
                                          updated_at=entry.updated_at)
            for memory_id, fixer in plan.corrections.items():
                self._mem0.update(memory_id, metadata={CORRECTED_BY: fixer})

    # ---- user control -------------------------------------------------------------------------------
    def add(self, text: str, keep_secret: bool = False) -> MemoryItem:
        """Remember ``text`` as the user typed it; older facts it contradicts (by the rules) are superseded. One
        that holds a secret is refused (SecretRefusedError) unless ``keep_secret``."""
        return self.add_new(text, keep_secret)[0]

    def add_new(self, text: str, keep_secret: bool = False) -> tuple[MemoryItem, bool]:
        """:meth:`add`, and whether the memory is new: a fact kept already is that memory, and the front ends say
        "already remembered" (the window's Add… closed without a word, as if a second memory had been made)."""
        text = typed_memory(text, keep_secret=keep_secret)
        with self._lock:
            kept = {m.id for m in self.list()}
            item = self.get(self._store(text, None, None, None))
            return item, item.id not in kept

    def edit(self, memory_id: str, text: str, keep_secret: bool = False) -> MemoryItem:
        text = typed_memory(text, editing=True, keep_secret=keep_secret)
        with self._lock:
            item = self.get(memory_id)
            meta = {SLOT: slot.name if (slot := slot_of(text)) else ""}
            if item.superseded_by is not None:  # the edit "succeeded" and was never listed nor used
                try:
                    newer = self.get(item.superseded_by)
                except MemoryNotFoundError:  # its replacement was forgotten (before that brought it back)
                    meta |= {STATUS: ACTIVE, SUPERSEDED_BY: ""}
                else:
                    raise InputError(f"This memory was replaced by “{newer.text}” ({newer.id}): edit that one, or "
                                     "forget it to bring this one back.")
            with self._changing():
                self._mem0.update(memory_id, text=text, metadata=meta)
            return self.get(memory_id)

    def forget(self, memory_id: str) -> None:
        """Delete for good: from retrieval, from mem0's history, and from any turn still waiting in the queue."""
        with self._lock:
            self._forget([self.get(memory_id)])

    def learned_in(self, conversation_id: str) -> builtins.list[MemoryItem]:
        """The memories learned from what the user said in ``conversation_id``, superseded ones too."""
        return [MemoryItem.from_mem0(row) for row in self._rows(self._scope(active_only=False,
                                                                            **{SOURCE: conversation_id}))]

    def chat_named(self, typed: str) -> str:
        """The chat id among those memories were learned from that ``typed`` is or starts (at least 4 characters);
        ``typed`` itself when none is (nothing was learned from it). InputError when several start so."""
        rows = self._rows(self._scope(active_only=False))
        sources = {source for row in rows if (source := MemoryItem.from_mem0(row).source_conversation)}
        return _by_start(typed, sources, "chats") or typed

    def forget_conversation(self, conversation_id: str) -> int:
        """Forget what was learned from ``conversation_id`` and drop its turns still waiting to be learned from
        (what a deleted chat taught goes with it when the user asks); how many memories were forgotten."""
        with self._lock:
            self._queue.drop_conversation(conversation_id)
            items = self.learned_in(conversation_id)
            self._forget(items)
            return len(items)

    def _forget(self, items: builtins.list[MemoryItem]) -> None:
        self._queue.bury([self._vector(m.text) for m in items])
        for m in items:
            self._delete(m.id)
        for m in items:
            self._unlink(m.id)
        if items:  # (a chat that taught nothing: no file to rewrite)
            self._scrub()

    def _unlink(self, gone: str) -> None:
        """What ``gone`` replaced is the latest word again ("lives in Porto" after "moved to Braga" is forgotten),
        and what it corrected is no longer marked: both stayed hidden for good under an id that no longer
        exists, and an edit of such a memory was never listed."""
        with self._changing():
            for row in self._rows(self._scope(active_only=False, **{SUPERSEDED_BY: gone})):
                self._mem0.update(row["id"], metadata={STATUS: ACTIVE, SUPERSEDED_BY: ""})
            for row in self._rows(self._scope(active_only=False, **{CORRECTED_BY: gone})):
                self._mem0.update(row["id"], metadata={CORRECTED_BY: ""})

    def clear(self) -> int:
        """Forget every memory of this user and drop the turns still queued; returns how many were forgotten."""
        with self._lock:
            items = self.list(include_superseded=True)
            self._queue.clear_turns()  # nothing older is left to bring them back: no tombstones needed
            for m in items:
                self._delete(m.id)
            self._queue.prune_tombstones()
            if items:
                self._scrub()
            return len(items)

    def _delete(self, memory_id: str) -> None:
        with self._changing():
            self._mem0.delete(memory_id)
            db = self._mem0.db  # mem0 keeps old texts in its history table; forgetting removes them too
            with db.connection:
                db.connection.execute("DELETE FROM history WHERE memory_id = ?", (memory_id,))

    def _scrub(self) -> None:
        """Rewrite the local vector store's file without the rows just deleted (see ``scrub_deleted``). Busy
        for over 10 s (another process writing), the memories are forgotten all the same and their text goes
        at the next forget; the log says so."""
        if self._others is None:  # a Chroma server: its files are the server's
            return
        try:
            with self._changing():
                scrub_deleted(self._store_file)
        except HearthError as exc:
            log.warning("memory: forgotten, but the store's file could not be rewritten without it now: %s", exc)


def _by_start(typed: str, ids: Collection[str], noun: str) -> str | None:
    """The id ``typed`` is, or the one it is the start of (at least 4 characters, as git takes them); None when
    there is none. InputError naming them when several start so (``noun``: what the ids are of)."""
    if typed in ids:
        return typed
    starting = sorted(i for i in ids if len(typed) >= 4 and i.startswith(typed.lower()))
    if len(starting) > 1:
        raise InputError(f"{typed} is the start of {len(starting)} {noun}' ids ({', '.join(starting[:3])}…): "
                         "type more of it.")
    return starting[0] if starting else None
