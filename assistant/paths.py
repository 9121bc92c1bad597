"""Where Hearth keeps things.

``HEARTH_HOME`` (tests, benchmarks, portable installs) overrides every path; otherwise platformdirs gives
the platform's conventional config/data/cache folders. What Hearth ships (models, icons, the catalog) is
read from :data:`RESOURCES`: the repository's ``resources/`` folder, or in the packaged app (PyInstaller,
``packaging/``) the copy inside the bundle, which is read-only (the bundled model is mmap-ed in place,
never copied). Nothing is ever written there: data always goes to the folders above.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from assistant.errors import ConfigError, StorageProblem

APP_NAME = "hearth"


def frozen() -> bool:
    """Whether this is the packaged app (a PyInstaller bundle) rather than a source install."""
    return bool(getattr(sys, "frozen", False))


def _resources() -> Path:
    if frozen():  # the bundle's folder (``_internal/`` next to the executable in a one-folder build)
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).resolve().parent)) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


#: ``resources/``: the bundled models, icons, stylesheet and model catalog (read-only in the packaged app).
RESOURCES = _resources()
BUNDLED_CHAT_MODEL = RESOURCES / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_SECOND_MODEL = RESOURCES / "models" / "gemma-3-270m-q4_k_m.gguf"


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    cache_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.toml"

    @property
    def window_file(self) -> Path:
        """The desktop window's size and place, as Qt saves them (not a setting: nothing to show or change)."""
        return self.config_dir / "window.ini"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def history_db(self) -> Path:
        return self.data_dir / "history.sqlite3"

    @property
    def responses_db(self) -> Path:
        """The Responses API's kept responses (``assistant/kept_responses.py``)."""
        return self.data_dir / "responses.sqlite3"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def memory_dir(self) -> Path:
        return self.data_dir / "memory"

    @property
    def prompt_cache_dir(self) -> Path:
        """Conversations' KV caches saved between runs (``engine/prompt_store.py``)."""
        return self.cache_dir / "prompts"

    @property
    def index_manifest(self) -> Path:
        return self.data_dir / "index-manifest.sqlite3"

    def ensure(self) -> Paths:
        """Create the folders. One that cannot be made (a link to nowhere, no permission, a file in its place)
        is a ConfigError naming it, not an unexpected error."""
        for d in (self.config_dir, self.data_dir, self.cache_dir, self.models_dir):
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                why = (f"it is a link to {os.readlink(d)}, which does not exist" if d.is_symlink() and not d.exists()
                       else "it is a file, not a folder" if d.is_file() else exc.strerror or str(exc))
                raise ConfigError(f"Hearth cannot create its folder {d}: {why}. Fix that, or set HEARTH_HOME to a "
                                  "folder Hearth can write to.") from None
        return self


#: Below this much free space a failure to open or write a store is the disk being full, not damage.
FULL_DISK_BYTES = 64 * 2**20


def real_path(path: str | Path) -> Path:
    """``path`` (``~`` expanded) with its links followed, as ``Path.resolve``; a link that leads back to itself
    (a loop of links) stays as given, for whatever reads it to say so: Python raised RuntimeError there, and a
    looping link chosen as a model was "a bug in Hearth" (and froze the settings dialog's Apply)."""
    path = Path(path).expanduser()
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return path.absolute()


def storage_problem(folder: Path) -> StorageProblem | None:
    """Why ``folder`` cannot take writes right now (a full disk, a read-only or forbidden folder), or None.

    A store that fails to open for one of these reasons is not damaged: calling it damaged (and moving it aside
    to build a new one) would hide the user's data for a reason that goes away when space is freed."""
    if full := disk_full(folder):
        return full
    if folder.exists() and not os.access(folder, os.W_OK):
        return StorageProblem("its folder cannot be written (read-only or no permission)", full=False)
    return None


def disk_full(folder: Path) -> StorageProblem | None:
    """"the disk holding it is full (3 MB free)" when ``folder``'s disk has almost no room left, else None."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    return StorageProblem(f"the disk holding it is full ({free / 2**20:.0f} MB free)", full=True) \
        if free < FULL_DISK_BYTES else None


def get_paths() -> Paths:
    home = os.environ.get("HEARTH_HOME")
    if home:
        root = Path(home).expanduser()
        return Paths(root / "config", root / "data", root / "cache")
    return Paths(
        Path(platformdirs.user_config_dir(APP_NAME)),
        Path(platformdirs.user_data_dir(APP_NAME)),
        Path(platformdirs.user_cache_dir(APP_NAME)),
    )


def apply_privacy_defaults() -> None:
    """Keep every library offline and silent unless the user explicitly downloads something."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # progress is ours to show, on stderr
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    hub = sys.modules.get("huggingface_hub.constants")
    if hub is not None and os.environ["HF_HUB_OFFLINE"] == "1":  # imported before us: it read the env already
        hub.HF_HUB_OFFLINE = True
    os.environ.setdefault("MEM0_TELEMETRY", "False")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
