"""The model library: scan/import/remove GGUF models, fit estimates, the catalog, downloads and switching.

Downloads and Hub search (``assistant.models.downloads`` / ``.hub``) are not re-exported: they import
huggingface_hub, which commands that only read the library should not pay for.
"""

from assistant.models.catalog import CatalogEntry, find_entry, load_catalog
from assistant.models.errors import (
    ChecksumMismatchError,
    DownloadCancelledError,
    DownloadError,
    HubSearchError,
    InsufficientDiskSpaceError,
    ModelLibraryError,
)
from assistant.models.fit import FITS, TIGHT, WONT_FIT, FitEstimate, Resources, estimate_fit, probe_resources
from assistant.models.library import LibraryEntry, ModelLibrary, Removal
from assistant.models.profiles import ModelProfile, ProfileStore
from assistant.models.switching import ModelSwitcher, Switched, release_freed_memory

__all__ = [
    "FITS",
    "TIGHT",
    "WONT_FIT",
    "CatalogEntry",
    "ChecksumMismatchError",
    "DownloadCancelledError",
    "DownloadError",
    "FitEstimate",
    "HubSearchError",
    "InsufficientDiskSpaceError",
    "LibraryEntry",
    "ModelLibrary",
    "ModelLibraryError",
    "ModelProfile",
    "ModelSwitcher",
    "ProfileStore",
    "Removal",
    "Resources",
    "Switched",
    "estimate_fit",
    "find_entry",
    "load_catalog",
    "probe_resources",
    "release_freed_memory",
]
