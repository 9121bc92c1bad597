"""Build mem0's ``Memory`` from local parts only, with everything it writes under Hearth's data directory.

mem0 validates provider names against its built-in lists, so Hearth's two providers are registered with
mem0's factories and their configs built with ``model_construct`` (the validation is a whitelist, nothing
else). Without a remote part nothing here can reach the network: the LLM is the in-process engine, the
embedder the shared sentence-transformers model, the store a Chroma folder, and telemetry is off (see
:mod:`offline`, which the package runs before mem0 is first imported; :func:`open_memory` checks it worked).

With ``remote.chroma_url`` set the vectors (and their payloads: the memories' text and metadata) go to that
Chroma server instead. mem0's Chroma config takes ``host``/``port`` but no TLS or headers, so it is given a
ready ``chromadb.HttpClient`` (its ``client`` field) built by :class:`assistant.remote.ChromaTarget`, and the
store's collection is wrapped so a failing server is one RemoteError sentence. mem0's history table and the
learning queue stay in ``data/memory/``.
"""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant import erasure
from assistant.chroma_local import forget_local_system, panic_report_held, purge_log_at_each_write
from assistant.config import RemoteSettings
from assistant.engine import Engine
from assistant.errors import HearthError, MemoryStoreError, MemoryStoreUnavailableError, RemoteError
from assistant.knowledge import Embedder
from assistant.lazy import PYDANTIC_IMPORTS
from assistant.memory.errors import MemoryStoreDamagedError
from assistant.paths import Paths, storage_problem
from assistant.remote import ChromaGuard, ChromaTarget, chroma_prefix

if TYPE_CHECKING:
    from mem0 import Memory

#: Tokens the LLM may spend on one memory step (a JSON list of a few short facts, or a verdict).
MAX_JSON_TOKENS = 256


class _DropKeywordSearchNotice(logging.Filter):
    """mem0 warns at every start that Chroma has no BM25; Hearth knows and chose semantic search."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "does not support keyword search" not in str(record.msg)


_KEYWORD_NOTICE = _DropKeywordSearchNotice()  # one instance: addFilter ignores it when already there


def _check_and_quiet_mem0() -> None:
    from mem0.memory import telemetry

    if telemetry.MEM0_TELEMETRY:
        raise MemoryStoreError("mem0 was imported with telemetry on before Hearth could turn it off.")
    logging.getLogger("mem0.memory.main").addFilter(_KEYWORD_NOTICE)
    # spaCy is optional for mem0 (lemmas and entities for BM25 boosts); without it mem0 uses the plain text.
    logging.getLogger("mem0.utils.spacy_models").setLevel(logging.ERROR)


#: What chromadb's errors say when its SQLite file is damaged (SQLITE_CORRUPT is code 11, SQLITE_NOTADB 26).
_DAMAGE = re.compile(r"\(code: (?:11|26)\)|malformed|not a database", re.IGNORECASE)


def collection_name(embedder: Embedder) -> str:
    """One collection per embedder: vectors from two models are never compared."""
    return "hearth-memory-" + re.sub(r"[^A-Za-z0-9_-]+", "-", embedder.name).strip("-")[:40]


def open_memory(paths: Paths, engine: Engine, embedder: Embedder, remote: RemoteSettings | None = None) -> Memory:
    """mem0 on Hearth's parts; ``remote`` with a ``chroma_url``: its vectors in that Chroma server, in this
    install's own collection (``hearth-<install id>-memory-<embedder>``)."""
    paths.memory_dir.mkdir(parents=True, exist_ok=True)
    with PYDANTIC_IMPORTS:  # mem0 imports its parts, and Chroma's, as it opens
        _check_and_quiet_mem0()
        target = ChromaTarget.from_settings(remote) if remote is not None else None
        from mem0 import Memory
        from mem0.configs.base import MemoryConfig
        from mem0.embeddings.configs import EmbedderConfig
        from mem0.llms.configs import LlmConfig
        from mem0.utils.factory import EmbedderFactory, LlmFactory

        LlmFactory.register_provider("hearth", "assistant.memory.llm.HearthLLM")
        EmbedderFactory.provider_to_class["hearth"] = "assistant.memory.embedding.HearthEmbedding"
        if target is None:  # mem0 opens it with anonymized_telemetry=False
            store: dict[str, Any] = {"collection_name": collection_name(embedder),
                                     "path": str(paths.memory_dir / "chroma")}
        else:
            client = target.open_client()  # a RemoteError sentence if the server cannot be used
            store = {"collection_name": chroma_prefix(paths) + collection_name(embedder).removeprefix("hearth-"),
                     "client": client}
        config = MemoryConfig(
            vector_store={"provider": "chroma", "config": store},
            llm=LlmConfig.model_construct(provider="hearth",
                                          config={"model": engine, "temperature": 0.0, "max_tokens": MAX_JSON_TOKENS}),
            embedder=EmbedderConfig.model_construct(provider="hearth", config={"model": embedder}),
            history_db_path=str(paths.memory_dir / "history.sqlite3"),
        )
        try:
            with panic_report_held():
                memory = Memory(config)
            # what is forgotten must leave the files: mem0's history rows are overwritten as they are deleted
            # (SQLite's default leaves them in the file's free space), Chroma's log is purged at every write
            erasure.overwrite_deleted(memory.db.connection)
            if target is None:
                purge_log_at_each_write(memory.vector_store.collection)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # Chroma or SQLite refusing a corrupt or locked folder (chromadb's Rust core
            # panics on some: a BaseException), or the server failing
            if target is not None:
                with contextlib.suppress(Exception):
                    client.close()
            if isinstance(exc, HearthError):
                raise
            if target is not None and target.from_server(exc):
                raise RemoteError(target.failure(exc)) from exc
            if target is None:  # a half-started system stays cached for the folder: a later open must not get it
                forget_local_system(store["path"])
                if _DAMAGE.search(str(exc)):
                    raise MemoryStoreDamagedError(
                        f"The memory store in {paths.memory_dir} is damaged ({str(exc).strip()[:200]}).",
                        fix="`hearth doctor --repair` rebuilds it from what can still be read (the damaged one is "
                        "kept).") from None
                if why := storage_problem(paths.memory_dir):  # it read "could not be opened: … disk is full"
                    raise MemoryStoreUnavailableError(
                        f"The memory store in {paths.memory_dir} cannot be opened now: {why} "
                        f"({str(exc).strip()[:200]}).", storage=why,
                        fix=f"{why.fix}, then try again; the memories are kept as they are.") from None
            raise MemoryStoreError(f"The memory store in {paths.memory_dir} could not be opened: {exc}") from exc
    if target is not None:  # every later call: a failing server is one sentence naming it
        memory.vector_store.client = target.guard(memory.vector_store.client)
        memory.vector_store.collection = target.guard(memory.vector_store.collection)
    return memory


def local_store_file(paths: Paths) -> Path:
    return paths.memory_dir / "chroma" / "chroma.sqlite3"


def reopen_local_store(memory: Memory) -> None:
    """Give mem0's Chroma store a fresh client on its folder, which reads the vector index again (see
    :class:`assistant.chroma_local.OtherWriters`): about 10 ms."""
    import chromadb

    store = memory.vector_store
    forget_local_system(store.settings.persist_directory)
    store.client = chromadb.Client(store.settings)
    store.collection = store.client.get_collection(store.collection_name)


def close_memory(memory: Memory) -> None:
    """Close mem0's history database and, for a Chroma server, its HTTP client."""
    memory.close()
    client = getattr(memory.vector_store, "client", None)
    if isinstance(client, ChromaGuard):
        with contextlib.suppress(HearthError):
            client.close()


#: Payload keys mem0 itself writes; every other key is Hearth's metadata (status, superseded_by, ...).
_MEM0_KEYS = frozenset({"data", "hash", "created_at", "updated_at", "user_id", "agent_id", "run_id", "actor_id",
                        "role", "text_lemmatized"})


def row_of(hit: Any) -> dict[str, Any]:
    """A vector-store hit (mem0's ``OutputData``) in the shape of a ``Memory.search`` result row."""
    payload = hit.payload or {}
    return {"id": hit.id, "memory": payload.get("data", ""), "score": hit.score,
            "created_at": payload.get("created_at"), "updated_at": payload.get("updated_at"),
            "user_id": payload.get("user_id"), "metadata": {k: v for k, v in payload.items() if k not in _MEM0_KEYS}}


def cosine_of(score: float) -> float:
    """mem0's Chroma score is 1/(1+d) with d the squared L2 distance, i.e. 2-2cos for unit vectors."""
    return 1.0 - (1.0 / score - 1.0) / 2.0 if score > 0 else -1.0


def score_for(cosine: float) -> float:
    return 1.0 / (3.0 - 2.0 * cosine)
