"""Per-model settings: each model keeps its own context, GPU layers, sampling and system prompt.

Why per model: a 270M base model and an 8B chat model want different context sizes, temperatures and
prompts, and a power user switching back and forth should not retune each time. Profiles are keyed by the
model's path, with its size kept beside: a file moved to another folder finds its profile by name and size,
and two models with one file name (``model.gguf`` from two repositories) no longer share one. A profile
saved by name (before, or by hand) is read for any file of that name until one of them is saved.
A model never tuned starts
from the values in use (but its own draft model and speculative decoding); without them, from the defaults of
:class:`assistant.config.ModelSettings`, the single source of the app's defaults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from assistant.config import ModelSettings
from assistant.config import _from_dict as settings_from_dict
from assistant.engine import LoadSettings
from assistant.models.store import read_toml, write_toml
from assistant.paths import Paths, real_path

_DEFAULTS = ModelSettings()
#: Beside a profile's values: the model file's size, which finds the profile again after a move.
_SIZE = "file_size"
#: The values of a profile that belong to its model: a model never tuned does not take them from the one in use.
_OWN = ("speculative", "speculative_max_draft", "draft_model")


@dataclass(frozen=True)
class ModelProfile:
    n_ctx: int = _DEFAULTS.n_ctx
    n_gpu_layers: int = _DEFAULTS.n_gpu_layers
    kv_cache: str = _DEFAULTS.kv_cache
    max_tokens: int = _DEFAULTS.max_tokens
    seed: int = _DEFAULTS.seed
    preset: str = _DEFAULTS.preset
    temperature: float = _DEFAULTS.temperature
    top_k: int = _DEFAULTS.top_k
    top_p: float = _DEFAULTS.top_p
    min_p: float = _DEFAULTS.min_p
    repeat_penalty: float = _DEFAULTS.repeat_penalty
    system_prompt: str = _DEFAULTS.system_prompt
    speculative: str = _DEFAULTS.speculative  # a drafter that pays off on one model may not on another
    speculative_max_draft: int = _DEFAULTS.speculative_max_draft
    draft_model: str = _DEFAULTS.draft_model

    @classmethod
    def from_settings(cls, settings: ModelSettings) -> ModelProfile:
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelProfile:
        """Stored values over the defaults, coerced exactly like settings.toml (wrong types and numbers out of
        range are ignored)."""
        return cls.from_settings(settings_from_dict(ModelSettings, data, "model."))

    def apply_to(self, settings: ModelSettings) -> None:
        """Copy this profile into the live settings (the facade's ``settings.model``)."""
        for f in fields(self):
            setattr(settings, f.name, getattr(self, f.name))

    def load_settings(self, n_threads: int = 0, n_batch: int = 512) -> LoadSettings:
        return LoadSettings(n_ctx=self.n_ctx, n_threads=n_threads, n_batch=n_batch, n_gpu_layers=self.n_gpu_layers,
                            kv_cache=self.kv_cache)


class ProfileStore:
    """``[models."<file name>"]`` tables in ``model-profiles.toml`` under the config folder."""

    def __init__(self, file: Path) -> None:
        self.file = file

    @classmethod
    def for_paths(cls, paths: Paths) -> ProfileStore:
        return cls(paths.config_dir / "model-profiles.toml")

    def _tables(self) -> dict[str, Any]:
        models = read_toml(self.file).get("models", {})
        return models if isinstance(models, dict) else {}

    @staticmethod
    def _where(model_path: str | Path) -> tuple[str, str, int | None]:
        """The model's key (its full path), file name and size (None for a file that is not there)."""
        path = real_path(model_path)
        try:
            size: int | None = path.stat().st_size
        except OSError:
            size = None
        return str(path), path.name, size

    @staticmethod
    def _keys_for(tables: dict[str, Any], key: str, name: str, size: int | None) -> list[str]:
        """The tables that hold this model's profile, best first: its path; the same file moved (another path
        to a file of this name and size); the profile saved by file name only."""
        moved = [k for k, t in tables.items() if k != key and Path(k).name == name and k != name
                 and size is not None and isinstance(t, dict) and t.get(_SIZE) == size]
        return [k for k in (key, *moved, name) if k in tables]

    def has_profile(self, model_path: str | Path) -> bool:
        return bool(self._keys_for(self._tables(), *self._where(model_path)))

    def profile_for(self, model_path: str | Path, in_use: ModelSettings | None = None) -> ModelProfile:
        """The stored profile; for a model never tuned, the values in use (``in_use``) but for those that belong
        to one model (its draft model and speculative decoding), or the defaults without them. A model added
        started from the defaults: the answer length, context and sampling the user had chosen went, unsaid."""
        tables = self._tables()
        keys = self._keys_for(tables, *self._where(model_path))
        if not keys and in_use is not None:
            return replace(ModelProfile.from_settings(in_use), **{name: getattr(_DEFAULTS, name) for name in _OWN})
        table = tables[keys[0]] if keys else {}
        table = {k: v for k, v in table.items() if k != _SIZE} if isinstance(table, dict) else {}
        return ModelProfile.from_dict(table)

    def save_profile(self, model_path: str | Path, profile: ModelProfile) -> None:
        """Saved under the model's path; the table it was read from (moved, or by name) is replaced by it."""
        tables = self._tables()
        key, name, size = self._where(model_path)
        for old in self._keys_for(tables, key, name, size):
            del tables[old]
        tables[key] = {**asdict(profile), **({_SIZE: size} if size is not None else {})}
        write_toml(self.file, {"models": tables}, "the models' settings")
