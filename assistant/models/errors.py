"""Errors of the model library and downloader, each with a message written for the user.

They live here rather than in :mod:`assistant.errors` only because this package is owned separately;
they subclass :class:`HearthError` so the CLI and GUI edges already handle them.
"""

from __future__ import annotations

from assistant.errors import HearthError, InputError


class ModelLibraryError(HearthError):
    """A library action (add, remove, look up) cannot be done; nothing was changed. A model error (exit 3)."""

    exit_code = 3


class AmbiguousModelNameError(ModelLibraryError, InputError):
    """The name the user typed matches several models (exit 2: their input, to be typed more fully)."""

    exit_code = 2


class DownloadError(HearthError):
    """A download failed; a resumable partial file is kept unless the message says otherwise."""

    exit_code = 5


class DownloadCancelledError(DownloadError):
    pass


class ChecksumMismatchError(DownloadError):
    pass


class InsufficientDiskSpaceError(DownloadError):
    pass


class HubSearchError(HearthError):
    """Searching the Hugging Face Hub failed (offline, refused); nothing was changed."""

    exit_code = 5
