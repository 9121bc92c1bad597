"""Download a GGUF from the Hugging Face Hub into the library: the only code in Hearth that uses the network.

Built on huggingface_hub's own primitives rather than ``hf_hub_download``: that function deletes its
partial file on any failure (its temp name is unique per call), so a 4 GB download that dies at 90% starts
over. Here ``get_hf_file_metadata`` (HEAD) gives size, commit and LFS sha256, and ``http_get`` streams into
a partial file we keep in ``<models>/.downloads``: it resumes by itself after a dropped connection (Range
request) and, because the partial survives, a cancelled or crashed download resumes on the next call too.
Order of checks: disk space before anything is written; size (by ``http_get``) and sha256 after; then the
GGUF header; only then one atomic rename into the models folder, so the library never lists half a model.

Hearth runs with ``HF_HUB_OFFLINE=1``; huggingface_hub reads that once at import into
``constants.HF_HUB_OFFLINE`` and checks the constant before every request. :func:`download_model` lifts it
only while a download runs (reference-counted, so parallel downloads do not restore it under each other).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import httpx2
from huggingface_hub import HfFileMetadata, constants, get_hf_file_metadata, hf_hub_url
from huggingface_hub.errors import (
    HfHubHTTPError,
    HFValidationError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
)
from huggingface_hub.file_download import http_get
from huggingface_hub.utils import build_hf_headers

from assistant.engine import read_model_info
from assistant.errors import InputError, ModelLoadError
from assistant.models.errors import (
    ChecksumMismatchError,
    DownloadCancelledError,
    DownloadError,
    InsufficientDiskSpaceError,
)

log = logging.getLogger(__name__)

PARTIALS_DIR = ".downloads"
#: Progress callbacks at most this often (the GUI repaints on each).
REPORT_EVERY_S = 0.2
_SHA256 = re.compile(r"[0-9a-f]{64}")


#: How a failed connection says why, in the words of the operating system's resolver and sockets.
_NO_ADDRESS = ("Name or service not known", "nodename nor servname", "getaddrinfo failed",
               "Temporary failure in name resolution", "No address associated with hostname")


def unreachable(exc: BaseException) -> str:
    """Why the Hub could not be reached, in words ("[Errno -2] Name or service not known" was shown)."""
    text = str(exc)
    if isinstance(exc, (httpx2.TimeoutException, TimeoutError)):
        return "it did not answer in time"
    if any(words in text for words in _NO_ADDRESS):
        return "its address could not be looked up"
    if isinstance(exc, ConnectionRefusedError) or "Connection refused" in text:
        return "the connection was refused"
    return text


@dataclass(frozen=True)
class DownloadProgress:
    file: str
    downloaded: int  # bytes on disk, including what a previous attempt left
    total: int | None
    speed: float  # bytes per second in this attempt
    eta_s: float | None

    @property
    def fraction(self) -> float | None:
        return self.downloaded / self.total if self.total else None


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    size: int
    sha256: str
    verified: bool  # False only when neither the caller nor the Hub gave a sha256 to compare with
    resumed_from: int  # bytes a previous attempt had already downloaded


class _HubOnline:
    """Lifts huggingface_hub's offline switch while at least one download runs, then restores it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved = constants.HF_HUB_OFFLINE

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._saved, constants.HF_HUB_OFFLINE = constants.HF_HUB_OFFLINE, False
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    constants.HF_HUB_OFFLINE = self._saved


hub_online = _HubOnline()


class _Meter:
    """Stands in for tqdm inside ``http_get``: turns its byte counts into progress, and is where cancel lands."""

    def __init__(self, file: str, on_progress: Callable[[DownloadProgress], None], cancel: threading.Event, *,
                 total: int | None = None, initial: int = 0, **_display: Any) -> None:
        self.file, self.on_progress, self.cancel = file, on_progress, cancel
        self.total, self.n, self.start = total, initial, initial
        self.t0 = self.last = time.monotonic()

    def __enter__(self) -> _Meter:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        if self.cancel.is_set():  # raised before the chunk is written: the partial file stays consistent
            raise DownloadCancelledError(f"Download of {self.file} cancelled; the {self.n / 1e6:.1f} MB already "
                                         "downloaded are kept and the same download resumes from there.")
        self.n += n
        now = time.monotonic()
        if now - self.last >= REPORT_EVERY_S or (self.total is not None and self.n >= self.total):
            self.last = now
            self.on_progress(self.progress(now))

    def progress(self, now: float) -> DownloadProgress:
        elapsed = now - self.t0
        speed = (self.n - self.start) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.n) / speed if self.total is not None and speed > 0 else None
        return DownloadProgress(self.file, self.n, self.total, speed, eta)


def disk_free(path: Path) -> int:
    """Free bytes on the volume that holds ``path`` (or its nearest existing parent)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def download_model(
    repo_id: str,
    filename: str,
    dest_dir: Path,
    *,
    sha256: str | None = None,
    pinned_sha256: str | None = None,
    revision: str | None = None,
    endpoint: str | None = None,
    on_progress: Callable[[DownloadProgress], None] | None = None,
    cancel: threading.Event | None = None,
    free_space: Callable[[Path], int] = disk_free,
) -> DownloadResult:
    """Download ``filename`` of ``repo_id`` into ``dest_dir`` (the models folder); see the module docstring.

    ``sha256`` is one the caller insists on (``--sha256``); ``pinned_sha256`` is a catalog pin, a fallback for
    when the Hub gives none (see :func:`expected_sha256`). ``endpoint`` defaults to ``HF_ENDPOINT``.
    """
    name = PurePosixPath(filename).name
    if not name.lower().endswith(".gguf"):
        raise InputError(f"{filename} is not a .gguf file; Hearth's library holds GGUF models only.")
    dest = dest_dir / name
    if dest.exists():
        raise DownloadError(f"{name} is already in the library ({dest}).")
    with hub_online():
        meta = _metadata(repo_id, filename, revision, endpoint)
        expected = expected_sha256(name, meta.etag, sha256, pinned_sha256)
        part = dest_dir / PARTIALS_DIR / f"{name}.{(meta.etag or 'unknown')[:16]}.part"
        have = part.stat().st_size if part.exists() else 0
        if meta.size is not None and have > meta.size:
            part.unlink()
            have = 0
        if meta.size is not None and meta.size - have > (free := free_space(dest_dir)):
            raise InsufficientDiskSpaceError(
                f"{name} needs {(meta.size - have) / 1e9:.2f} GB more but only {free / 1e9:.2f} GB is free in "
                f"{dest_dir}. Free some space and try again; nothing was written."
            )
        part.parent.mkdir(parents=True, exist_ok=True)
        for stale in part.parent.glob(f"{name}.*.part"):  # a partial of an older revision of the file
            if stale != part:
                stale.unlink()
        meter = functools.partial(_Meter, name, on_progress or (lambda _p: None), cancel or threading.Event())
        url = hf_hub_url(repo_id, filename, revision=meta.commit_hash, endpoint=endpoint)  # the exact commit
        try:
            with part.open("ab") as fh:
                http_get(url, fh, resume_size=have, headers=build_hf_headers(), expected_size=meta.size,
                         tqdm_class=meter)  # type: ignore[arg-type]  # duck-typed progress bar
        except (httpx2.HTTPError, OSError) as exc:
            kept = part.stat().st_size if part.exists() else 0
            raise DownloadError(f"Downloading {name} failed: {exc}. The {kept / 1e6:.1f} MB downloaded are kept; "
                                "run the same download again to resume.") from None
    digest = _file_sha256(part)
    if expected is not None and digest != expected:
        part.unlink()
        raise ChecksumMismatchError(f"{name} is corrupt: its sha256 is {digest}, expected {expected}. "
                                    "The file was deleted; download it again.")
    try:
        read_model_info(part)
    except ModelLoadError as exc:
        part.unlink()
        raise DownloadError(f"{name} downloaded but is not a usable model ({exc}); the file was deleted.") from None
    if expected is None:
        log.warning("%s: no sha256 to verify against (neither the catalog nor the Hub gave one)", name)
    os.replace(part, dest)
    return DownloadResult(dest, dest.stat().st_size, digest, expected is not None, have)


def expected_sha256(name: str, etag: str | None, required: str | None, pinned: str | None) -> str | None:
    """The sha256 the downloaded bytes must have.

    The Hub's own value (the ETag of an LFS file is its sha256) describes exactly the file being served, so it
    is the truth. A catalog pin is only a fallback for when the Hub gives none: pins were written by hand and
    go stale when a repository re-uploads a file, so a disagreement is logged and the Hub wins. A sha256 the
    caller insists on must agree with the Hub's; checked before anything is downloaded.
    """
    hub = etag.lower() if etag and _SHA256.fullmatch(etag.lower()) else None
    required, pinned = (required or "").lower() or None, (pinned or "").lower() or None
    if required and hub and required != hub:
        raise ChecksumMismatchError(f"{name} on the Hub has sha256 {hub}, not the {required} you expected; "
                                    "nothing was downloaded.")
    if pinned and hub and pinned != hub:
        log.warning("%s: the catalog's sha256 %s differs from the Hub's %s; verifying against the Hub's",
                    name, pinned, hub)
    return hub or required or pinned


def _metadata(repo_id: str, filename: str, revision: str | None, endpoint: str | None) -> HfFileMetadata:
    try:
        url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
        meta = get_hf_file_metadata(url, endpoint=endpoint)
    except HFValidationError as exc:
        raise InputError(f"{repo_id!r} is not a Hugging Face repository name ({exc}); "
                            "it looks like owner/name, e.g. bartowski/Qwen2.5-1.5B-Instruct-GGUF.") from None
    except RepositoryNotFoundError:
        raise DownloadError(f"The Hub has no repository {repo_id} (or it is private or gated).") from None
    except RemoteEntryNotFoundError:
        raise DownloadError(f"The repository {repo_id} has no file {filename}.") from None
    except HfHubHTTPError as exc:
        raise DownloadError(f"The Hub refused {repo_id}/{filename}: {exc}") from None
    except (httpx2.HTTPError, OSError) as exc:
        raise DownloadError(f"Could not reach the Hub for {repo_id}/{filename}: {unreachable(exc)}. "
                            "Check the internet connection.") from None
    if meta.commit_hash is None:
        raise DownloadError(f"{url} did not answer like the Hugging Face Hub (no commit header).")
    return meta


def _file_sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
