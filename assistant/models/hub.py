"""Search the Hugging Face Hub for GGUF models, with each repository's GGUF files and their sizes.

Why two calls per repository: the search API (``list_models``) returns repositories without file sizes,
and a size is what a user decides on (will it fit, how long will it take). ``list_repo_tree`` gives every
file's size and LFS sha256 in one request per repository; the repositories are listed in parallel.
Like downloads, this is network use only while the call runs (:data:`hub_online`); Hearth stays offline.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import httpx2
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils import get_session

from assistant.models.downloads import hub_online, unreachable
from assistant.models.errors import HubSearchError

#: Parts of split models and vision projectors: the downloader fetches one self-contained chat model file.
_NOT_A_MODEL = re.compile(r"-\d{5}-of-\d{5}\.gguf$|mmproj", re.I)
_PARALLEL = 8
_PROBE_TIMEOUT_S = 10


@dataclass(frozen=True)
class HubFile:
    repo: str
    file: str
    size: int
    sha256: str | None  # the LFS sha256 (the download verifies against the Hub's metadata again)
    fit: str  # a rough label for this machine (FITS / TIGHT / WONT_FIT)


@dataclass(frozen=True)
class HubRepo:
    id: str
    downloads: int
    likes: int
    files: tuple[HubFile, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def search(query: str, limit: int, fit: Callable[[int], str], endpoint: str | None = None) -> list[HubRepo]:
    """GGUF repositories matching ``query`` (the Hub's order: most downloaded first), each with its files.

    Repositories without a downloadable single-file GGUF are left out.
    """
    api = HfApi(endpoint=endpoint)
    with hub_online():
        try:
            get_session().head(api.endpoint, timeout=_PROBE_TIMEOUT_S)  # fail fast: the API calls retry ~25 s
            found = list(api.list_models(search=query, filter="gguf", sort="downloads", limit=limit))
            with ThreadPoolExecutor(_PARALLEL) as pool:
                trees = list(pool.map(lambda m: list(api.list_repo_tree(m.id, recursive=True)), found))
        except HfHubHTTPError as exc:
            raise HubSearchError(f"The Hugging Face Hub refused the search for {query!r}: {exc}") from None
        except (httpx2.HTTPError, OSError) as exc:
            raise HubSearchError(f"Could not reach the Hugging Face Hub to search for {query!r}: "
                                 f"{unreachable(exc)}. Check the internet connection.") from None
    repos = []
    for model, tree in zip(found, trees, strict=True):
        files = tuple(HubFile(model.id, f.path, f.size, f.lfs.sha256 if f.lfs else None, fit(f.size))
                      for f in tree if isinstance(f, RepoFile) and f.path.lower().endswith(".gguf")
                      and not _NOT_A_MODEL.search(f.path))
        if files:
            repos.append(HubRepo(model.id, model.downloads or 0, model.likes or 0, files))
    return repos
