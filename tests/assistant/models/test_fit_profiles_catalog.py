"""Fit estimates (from the GGUF's own layer/head metadata), per-model profiles, and the curated catalog."""

from __future__ import annotations

import json
import tomllib
from dataclasses import fields, replace
from pathlib import Path

import pytest

from assistant.config import EVERY_MODEL, ModelSettings
from assistant.engine import read_model_info
from assistant.models import (
    FITS,
    TIGHT,
    WONT_FIT,
    ModelLibraryError,
    ModelProfile,
    ProfileStore,
    Resources,
    estimate_fit,
    find_entry,
    load_catalog,
    probe_resources,
)
from assistant.models.fit import OVERHEAD_BYTES, rough_fit

GiB = 2**30


@pytest.fixture(scope="module")
def smol(chat_model_path: Path):
    return read_model_info(chat_model_path)


def test_kv_cache_comes_from_layer_head_and_dim_metadata(smol) -> None:
    fit = estimate_fit(smol, 2048, Resources(8 * GiB, False, None))
    # SmolLM2-135M: 30 layers, 3 KV heads of 64 dims, f16 K and V
    assert fit.kv_cache_bytes == 2 * 30 * 2048 * 3 * 64 * 2
    assert fit.ram_needed == smol.file_size + fit.kv_cache_bytes + OVERHEAD_BYTES
    assert fit.label == FITS and fit.n_gpu_layers == 0


def test_context_zero_means_trained_and_is_capped_by_it(smol) -> None:
    plenty = Resources(64 * GiB, False, None)
    assert estimate_fit(smol, 0, plenty).n_ctx == smol.context_length == 8192
    assert estimate_fit(smol, 1_000_000, plenty).n_ctx == 8192


def test_labels_follow_free_ram(smol) -> None:
    need = estimate_fit(smol, 4096, Resources(64 * GiB, False, None)).ram_needed
    assert estimate_fit(smol, 4096, Resources(need * 2, False, None)).label == FITS
    assert estimate_fit(smol, 4096, Resources(need + 1, False, None)).label == TIGHT
    assert estimate_fit(smol, 4096, Resources(need - 1, False, None)).label == WONT_FIT


def test_cpu_reasons_name_the_cause(smol) -> None:
    assert "no GPU support" in estimate_fit(smol, 4096, Resources(8 * GiB, False, 8 * GiB)).reason
    assert "found no GPU" in estimate_fit(smol, 4096, Resources(8 * GiB, True, None)).reason
    starved = estimate_fit(smol, 4096, Resources(8 * GiB, True, OVERHEAD_BYTES))
    assert starved.n_gpu_layers == 0 and "even one layer" in starved.reason


def test_gpu_layers_suggested_from_free_vram(smol) -> None:
    full = estimate_fit(smol, 4096, Resources(8 * GiB, True, 8 * GiB))
    assert full.n_gpu_layers == smol.n_layer and "all 30 layers" in full.reason
    assert full.ram_needed == OVERHEAD_BYTES and full.vram_needed > full.weights_bytes
    per_layer = (full.weights_bytes + full.kv_cache_bytes) / smol.n_layer
    partial = estimate_fit(smol, 4096, Resources(8 * GiB, True, OVERHEAD_BYTES + int(per_layer * 10.5)))
    assert partial.n_gpu_layers == 10 and "more than 10 of 30 layers" in partial.reason
    assert full.ram_needed < partial.ram_needed < estimate_fit(smol, 4096, Resources(8 * GiB, False, None)).ram_needed


def test_probe_reports_this_cpu_build() -> None:
    r = probe_resources()
    assert r.free_ram > 0 and r.gpu_offload is False and r.free_vram is None


def test_rough_fit_for_models_not_downloaded_yet() -> None:
    assert rough_fit(GiB, Resources(8 * GiB, False, None)) == FITS
    assert rough_fit(8 * GiB, Resources(4 * GiB, True, 6 * GiB)) == TIGHT
    assert rough_fit(8 * GiB, Resources(4 * GiB, False, None)) == WONT_FIT


# ---- profiles ---------------------------------------------------------------------------------------------
def test_profiles_are_kept_per_model_file_and_follow_a_moved_one(tmp_path: Path) -> None:
    """Keyed by file name, two models saved as ``model.gguf`` (from two repositories) shared one profile: tuning
    one retuned the other. A file moved to another folder still finds its own."""
    file = tmp_path / "model-profiles.toml"
    store = ProfileStore(file)
    (one := tmp_path / "repo-a" / "model.gguf").parent.mkdir()
    (two := tmp_path / "repo-b" / "model.gguf").parent.mkdir()
    one.write_bytes(b"GGUF" + b"a" * 100)
    two.write_bytes(b"GGUF" + b"b" * 200)
    tuned = ModelProfile(n_ctx=1024, n_gpu_layers=-1, temperature=0.2, system_prompt="Be terse.")
    assert not store.has_profile(one) and store.profile_for(one) == ModelProfile()
    store.save_profile(one, tuned)
    store.save_profile(two, ModelProfile(n_ctx=512))
    assert store.profile_for(one) == tuned and store.profile_for(two) == ModelProfile(n_ctx=512)
    (tmp_path / "moved").mkdir()
    moved = one.rename(tmp_path / "moved" / "model.gguf")
    assert store.has_profile(moved) and store.profile_for(moved) == tuned
    store.save_profile(moved, replace(tuned, n_ctx=2048))  # saved under its new place, once
    assert store.profile_for(moved).n_ctx == 2048 and len(tomllib.loads(file.read_text())["models"]) == 2
    # a profile saved by file name (before, or by hand) is read until the model's own is saved
    file.write_text('[models."model.gguf"]\nn_ctx = 4096\n')
    assert store.profile_for(two).n_ctx == 4096 and store.profile_for(moved).n_ctx == 4096
    store.save_profile(two, ModelProfile(n_ctx=640))
    assert list(tomllib.loads(file.read_text())["models"]) == [str(two)]


def test_a_model_never_tuned_starts_from_the_values_in_use_but_its_own_draft(tmp_path: Path) -> None:
    """A model added started from the defaults: the answer length, context and sampling the user had chosen
    went without a word (max tokens 32 became 1024). Its draft model and speculative decoding are its own."""
    store = ProfileStore(tmp_path / "model-profiles.toml")
    in_use = ModelSettings(n_ctx=2048, max_tokens=32, temperature=0.2, system_prompt="Be terse.",
                           speculative="draft", speculative_max_draft=4, draft_model="small.gguf")
    fresh = store.profile_for(tmp_path / "new.gguf", in_use)
    assert (fresh.n_ctx, fresh.max_tokens, fresh.temperature, fresh.system_prompt) == (2048, 32, 0.2, "Be terse.")
    own = ModelProfile()
    assert (fresh.speculative, fresh.speculative_max_draft, fresh.draft_model) == (
        own.speculative, own.speculative_max_draft, own.draft_model)
    store.save_profile(tmp_path / "new.gguf", ModelProfile(max_tokens=64))  # once tuned, its own values
    assert store.profile_for(tmp_path / "new.gguf", in_use).max_tokens == 64


def test_profile_defaults_are_the_settings_defaults_and_bad_values_are_ignored(tmp_path: Path) -> None:
    assert ModelProfile.from_settings(ModelSettings()) == ModelProfile()
    file = tmp_path / "model-profiles.toml"
    file.write_text('[models."x.gguf"]\nn_ctx = "big"\ntemperature = 1\nunknown = 3\n')
    profile = ProfileStore(file).profile_for("x.gguf")
    assert profile == replace(ModelProfile(), temperature=1.0)


def test_profile_applies_to_live_settings_and_load_settings() -> None:
    settings = ModelSettings(path="keep.gguf", n_threads=3)
    profile = ModelProfile(n_ctx=777, n_gpu_layers=5, top_k=7, system_prompt="Hi")
    profile.apply_to(settings)
    assert (settings.n_ctx, settings.n_gpu_layers, settings.top_k, settings.system_prompt) == (777, 5, 7, "Hi")
    assert settings.path == "keep.gguf" and settings.n_threads == 3
    load = profile.load_settings(n_threads=3, n_batch=256)
    assert (load.n_ctx, load.n_gpu_layers, load.n_threads, load.n_batch) == (777, 5, 3, 256)


# ---- catalog ----------------------------------------------------------------------------------------------
def test_bundled_catalog_is_valid_and_drafts_resolve() -> None:
    entries = load_catalog()
    assert len(entries) >= 4 and all(e.size > 0 and len(e.sha256) == 64 for e in entries)
    by_id = {e.id: e for e in entries}
    with_draft = [e for e in entries if e.draft]
    assert with_draft and all(by_id[e.draft].size < e.size for e in with_draft)  # a draft is the smaller one
    first = entries[0]
    assert find_entry(first.repo, first.file) == first and find_entry(first.repo, "other.gguf") is None


@pytest.mark.parametrize("change, problem", [
    ({"sha256": "abc"}, "sha256"),
    ({"draft": "nope"}, "not in the catalog"),
    ({"kind": "vision"}, "unknown kind"),
    ({"file": "x.bin"}, ".gguf"),
    ({"surprise": 1}, "cannot be read"),
])
def test_invalid_catalog_is_reported(tmp_path: Path, change: dict, problem: str) -> None:
    entry = load_catalog()[0].to_dict() | change
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"models": [entry]}))
    with pytest.raises(ModelLibraryError, match=problem):
        load_catalog(path)


def test_a_profile_holds_every_model_value_but_the_model_itself_and_those_for_every_model() -> None:
    """What `hearth settings` and the window say is a model's own is what its profile keeps: the [model] section
    was all called the model's own while the threads and batch size were for every model."""
    assert {f.name for f in fields(ModelProfile)} == \
        {f.name for f in fields(ModelSettings)} - {"path", *EVERY_MODEL}
