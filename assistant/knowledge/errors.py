"""Knowledge-base failures, each with a message a user can act on (see :mod:`assistant.errors`)."""

from __future__ import annotations

from assistant.errors import InputError, KnowledgeError


class UnreadableFileError(KnowledgeError):
    """One file cannot be indexed; indexing goes on and reports ``str(err)`` as the skip reason."""


class NothingToIndexError(KnowledgeError, InputError):
    """Every path given is a file Hearth has no reader for, or a folder with no files in it: refused before a
    collection is made (exit 2)."""


class InvalidCollectionNameError(KnowledgeError, InputError):
    """A name the user typed that cannot name a collection: their input, refused as such (exit 2, HTTP 400)."""


class NeedsReindexError(KnowledgeError):
    """The collection's vectors come from another embedder; mixing them would make search meaningless."""


class DamagedIndexError(KnowledgeError):
    """The collection's vectors are missing or belong to another index: search by meaning would miss them."""


class IndexBusyError(KnowledgeError):
    """Another process (or thread) is indexing the same collection right now."""


class EmbedderUnavailableError(KnowledgeError):
    pass


class IndexWriteError(KnowledgeError):
    """The index could not be written (a full disk...); the journal lets the next sync finish the job."""


class VectorStoreDamagedError(KnowledgeError):
    """The embedded vector store cannot be opened (a damaged file); the manifest can rebuild it."""


class VectorStoreUnavailableError(KnowledgeError):
    """The embedded vector store cannot be opened for now (a full disk, a read-only folder): not damaged, so
    nothing is moved aside; it opens again once the cause is gone."""


class IndexDamagedError(KnowledgeError):
    """A read of the knowledge index (its SQLite manifest and keyword index) met a damaged page; `hearth doctor
    --repair` copies what can be read into a new file and builds the keyword index again."""


class IndexUncheckableError(KnowledgeError):
    """The knowledge index opens but cannot be checked now: its keyword index's check is a write, which a
    read-only folder (or a full disk) refuses. Not damage: nothing is moved aside."""


class IndexOpenError(KnowledgeError):
    """The knowledge index (its SQLite manifest) cannot be opened: a read-only folder or a damaged file."""
