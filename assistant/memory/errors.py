"""Errors of the memory layer (all are :class:`MemoryStoreError`, so front ends handle them as one kind)."""

from __future__ import annotations

from assistant.errors import MemoryStoreError


class MemoryNotFoundError(MemoryStoreError):
    exit_code = 4


class MemoryJobCancelled(MemoryStoreError):
    """Background memory work stopped because the engine is needed for an answer; the turn stays queued."""


class MemoryQueueDamagedError(MemoryStoreError):
    """The queue of turns waiting to be learned from is a damaged file; doctor's repair sets it aside."""


class MemoryStoreDamagedError(MemoryStoreError):
    """The memories' Chroma store is a damaged file; doctor's repair rebuilds it from its readable rows."""
