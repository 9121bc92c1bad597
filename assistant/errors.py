"""The error tree of Hearth's core.

Every failure a user can cause (a bad file, a full context, a corrupt store) raises one of these, with a
message written for that user. Front ends convert them at the edge only: the CLI prints the message and
exits non-zero, the GUI shows a dialog. Anything else escaping the core is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StorageProblem:
    """Why a folder cannot take writes now (:func:`assistant.paths.storage_problem`): ``why`` in words ("the disk
    holding it is full (3 MB free)"), and whether the disk is ``full`` (else the folder is read-only or
    forbidden). Not damage: it goes away when space is freed or the folder is writable again."""

    why: str
    full: bool

    def __str__(self) -> str:
        return self.why

    @property
    def fix(self) -> str:
        """What to do, as the start of a sentence: the one wording of a full disk's fix (the knowledge index, the
        vector store and the chat history each wrote their own, and a read-only folder was told to "free some
        disk space" first)."""
        return "Free some disk space" if self.full else "Make the data folder writable"


class HearthError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing sentence: the ``problem``, then its ``fix`` where one
    was given apart. ``storage``: the full disk or read-only folder that caused it, if that is the cause. Callers
    read these instead of the sentence: `hearth doctor` cut the fix off at "Free some" and guessed a full disk
    from "is full" in the words."""

    exit_code = 1

    def __init__(self, *args: object, fix: str = "", storage: StorageProblem | None = None) -> None:
        self.problem = str(args[0]) if args else ""
        self.fix, self.storage = fix, storage
        super().__init__(*((f"{self.problem} {fix}",) if fix else args))


# --- models / engine -------------------------------------------------------------------------------
class ModelLoadError(HearthError):
    """A model could not be loaded; the previously loaded model (if any) is still in place."""

    exit_code = 3


class ModelNotFoundError(ModelLoadError):
    pass


class NotGGUFError(ModelLoadError):
    pass


class TruncatedModelError(ModelLoadError):
    pass


class UnsupportedArchitectureError(ModelLoadError):
    pass


class InsufficientMemoryError(ModelLoadError):
    pass


class ModelLoadCancelled(ModelLoadError):
    """The user cancelled a load; the previous model is still in place."""


class IncompatibleDraftError(ModelLoadError):
    """The chosen draft model cannot draft for the loaded model (another vocabulary, not smaller...)."""


class NoModelLoadedError(HearthError):
    exit_code = 3


class InputError(HearthError):
    """The request itself is unusable (an empty question, an unknown option value)."""

    exit_code = 2


class ContextOverflowError(HearthError):
    """The request cannot fit the context window even after dropping all history: unusable input (exit 2, as
    the API's 400 context_length_exceeded)."""

    exit_code = 2


class GenerationError(HearthError):
    pass


# --- storage -------------------------------------------------------------------------------------------
class ConfigError(HearthError):
    pass


class StoppedBeforeAnswer(HearthError):
    """The user stopped an answer while it was being prepared (a remote model's template and token count), before
    anything of it was saved: the front ends give the question back, as for a stop while its prompt is read."""


class HistoryError(HearthError):
    pass


class ConversationNotFoundError(HistoryError):
    exit_code = 4


class ChatMovedOnError(HistoryError):
    """A question to regenerate or edit is no longer its chat's last: the chat went on elsewhere (a terminal,
    another window) and replacing it would delete the newer turns."""


class KnowledgeError(HearthError):
    pass


class CollectionNotFoundError(KnowledgeError):
    """No collection by that name (here, not in ``assistant.knowledge``: the CLI says so before searching)."""

    exit_code = 4


class MemoryStoreError(HearthError):
    pass


class SecretRefusedError(InputError):
    """A memory typed by the user holds a secret (a password, a card number, an API key): refused unless forced."""


class MemoryStoreUnavailableError(MemoryStoreError):
    """The memories' Chroma store cannot be opened for now (a full disk, a read-only folder: chromadb writes as
    it opens). Not damage: nothing is moved aside, and it opens again once the cause is gone; its memories can
    still be read from its file (``Assistant.memories``)."""


# --- parts on other machines ---------------------------------------------------------------------------
class RemoteError(HearthError):
    """A part configured to live on another machine (a Chroma server, an LLM endpoint) cannot be reached,
    refused the connection or the credentials, or failed; the message names its URL and what to check."""

    exit_code = 6


class RemoteLLMError(RemoteError):
    """The OpenAI-compatible LLM endpoint (``[remote] llm_url``) failed; the message names the URL. Not a
    GenerationError: memory learning keeps the turn queued (an outage is not the turn's fault)."""


class RemoteLLMUnreachableError(RemoteLLMError):
    """No connection: refused, unknown host, TLS failure."""


class RemoteLLMAuthError(RemoteLLMError):
    """The endpoint refused the API key (HTTP 401/403)."""


class RemoteLLMModelError(RemoteLLMError):
    """The endpoint does not serve the configured model (or lists none)."""


class RemoteLLMTimeoutError(RemoteLLMError):
    """The endpoint did not answer in time."""


class RemoteLLMStreamError(RemoteLLMError):
    """The endpoint closed the stream mid-answer or sent something that is not an OpenAI stream; the text
    received so far is kept."""


class RemoteLLMRequestError(RemoteLLMError, GenerationError):
    """The endpoint rejected this request (HTTP 400/422: a feature it lacks, a bad value): the request's
    fault, so memory learning marks the turn failed (retried with back-off) instead of waiting."""


# --- the API server ------------------------------------------------------------------------------------
class ServerError(HearthError):
    """The API server cannot start or run (an address that cannot be used)."""


class PortInUseError(ServerError):
    """Another program listens on the port the API server was asked to use."""
