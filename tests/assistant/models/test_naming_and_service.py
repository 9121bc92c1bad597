"""Human model names, finding a model by what the user types, and the ModelsService contract."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from huggingface_hub import constants

from assistant.config import Settings
from assistant.engine import read_model_info
from assistant.engine.gguf_info import human_name
from assistant.errors import InputError, ModelNotFoundError, NotGGUFError
from assistant.models import FITS, TIGHT, WONT_FIT, ModelLibraryError
from assistant.models.library import BUNDLED, LIBRARY, OUTSIDE
from assistant.models.service import ModelsService
from assistant.paths import get_paths

MakeGguf = Callable[..., Path]


def test_bundled_models_get_the_names_people_know_them_by(chat_model_path: Path, base_model_path: Path) -> None:
    # general.name says "Smollm2 135M 8k Lc100K Mix1 Ep2" (a training-run id) and "Gemma 3 270m"
    assert read_model_info(chat_model_path).name == "SmolLM2 135M Instruct"
    assert read_model_info(base_model_path).name == "Gemma 3 270M"


def test_the_vocabulary_read_in_one_loop_is_the_one_gguf_reads_and_a_cut_in_it_is_said(
        chat_model_path: Path, tmp_path: Path) -> None:
    """The header reader reads a vocabulary's strings in one tight loop (Gemma's 262k tokens took 0.3 s one call
    each, paid by every model list): the same tokens as the ``gguf`` package's reader, and a file cut in the
    middle of them is a truncated download, not a crash."""
    import hashlib

    from gguf import GGUFReader

    from assistant.errors import TruncatedModelError

    field = GGUFReader(chat_model_path).fields["tokenizer.ggml.tokens"]
    tokens = [bytes(field.parts[i]).decode("utf-8", errors="replace") for i in field.data]
    info = read_model_info(chat_model_path)
    assert info.vocab_size == len(tokens) == 49152
    assert (info.bos_token, info.eos_token) == ("<|im_start|>", "<|im_end|>")
    assert info.vocab_fingerprint == hashlib.sha256("\n".join(tokens).encode()).hexdigest()[:16]
    cut = tmp_path / "cut.gguf"
    with chat_model_path.open("rb") as src:
        cut.write_bytes(src.read(300_000))  # inside the token list
    with pytest.raises(TruncatedModelError, match="ends in the middle of its header"):
        read_model_info(cut)


@pytest.mark.parametrize(("metadata", "stem", "name"), [
    ({"general.name": "Qwen2.5 1.5B Instruct", "general.size_label": "1.5B"}, "qwen2.5-1.5b-instruct-q4_k_m",
     "Qwen2.5 1.5B Instruct"),
    ({"general.name": "LLaMA v2"}, "llama-2-7b-chat.Q4_K_M", "LLaMA 2 7B Chat"),
    ({"general.name": "Mistral 7B Instruct v0.3"}, "ggml-model-q4_0", "Mistral 7B Instruct v0.3"),
    ({"general.name": "models/mistral", "general.basename": "Mistral", "general.size_label": "7B"},
     "ggml-model-f16", "Mistral 7B"),
    ({}, "Mixtral-8x7B-Instruct-v0.1.Q4_K_M-00001-of-00002", "Mixtral 8x7B Instruct v0.1"),
    ({}, "sha256-6a0746a1ec1aef3e7ec53868f220ff6e", "sha256-6a0746a1ec1aef3e7ec53868f220ff6e"),
])
def test_names_come_from_the_file_name_spelled_as_the_metadata_spells_them(
        metadata: dict[str, str], stem: str, name: str) -> None:
    assert human_name(metadata, stem) == name


@pytest.fixture
def service(hearth_home: Path, make_gguf: MakeGguf) -> ModelsService:
    settings = Settings()
    settings.model.n_ctx = 512
    models = ModelsService(get_paths().ensure(), lambda: settings)
    make_gguf(models.paths.models_dir / "gemma-3-1b-it-Q4_K_M.gguf", name="Gemma 3 1b It")
    return models


def test_find_by_shown_name_unique_part_file_name_and_path(service: ModelsService, base_model_path: Path) -> None:
    gemma = base_model_path.resolve()
    mine = service.paths.models_dir / "gemma-3-1b-it-Q4_K_M.gguf"
    assert service.find("Gemma 3 270M") == service.find("gemma 3 270m") == service.find("270m") == gemma
    assert service.find("gemma-3-270m-q4_k_m.gguf") == service.find(str(base_model_path)) == gemma
    assert service.find("1B it") == service.find("gemma-3-1b-it-Q4_K_M") == mine.resolve()
    assert service.find("smol") == service.find("SmolLM2 135M Instruct") != gemma
    with pytest.raises(ModelLibraryError, match=r"several models: Gemma 3 1B It \(gemma-3-1b-it-Q4_K_M.gguf\); "
                                                 r"Gemma 3 270M \(gemma-3-270m-q4_k_m.gguf\)"):
        service.find("gemma")
    with pytest.raises(ModelNotFoundError, match="models list"):
        service.find("llama")
    for nothing in ("", "  "):  # no name at all is the user's input to fix (exit 2), not a missing model (3)
        with pytest.raises(InputError, match="Name a model"):
            service.find(nothing)


def test_entries_catalog_and_inspect(service: ModelsService, tmp_path: Path, tiny_gguf: Path) -> None:
    entries = {e.file: e for e in service.entries()}
    assert entries["gemma-3-270m-q4_k_m.gguf"].source == BUNDLED
    mine = entries["gemma-3-1b-it-Q4_K_M.gguf"]
    assert mine.source == LIBRARY and mine.name == "Gemma 3 1B It" and mine.fit.n_ctx == 256  # its trained max
    assert {e.fit.n_ctx for e in service.entries(n_ctx=128)} == {256}  # llama.cpp allocates 256 for 128
    rows = service.catalog()
    assert rows and all(r.fit in (FITS, TIGHT, WONT_FIT) and not r.installed for r in rows)
    assert rows[0].to_dict()["installed"] is False and rows[0].to_dict()["repo"] == rows[0].entry.repo
    outside = service.inspect(tiny_gguf)
    assert outside.source == OUTSIDE and outside.fit.n_ctx == 256 and outside.name == "Tiny Test"
    with pytest.raises(NotGGUFError):
        service.inspect(tmp_path)


def test_search_hub_lists_gguf_repos_with_file_sizes_and_stays_offline_after(
        service: ModelsService, fake_hub, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    data = tiny_gguf.read_bytes()
    sha = fake_hub.add("hearth-test/Tiny-GGUF", "tiny-Q4_K_M.gguf", data)
    fake_hub.add("hearth-test/Tiny-GGUF", "README.md", b"# Tiny")
    fake_hub.add("hearth-test/Tiny-GGUF", "mmproj-tiny-f16.gguf", data)
    fake_hub.add("hearth-test/Split-GGUF", "big-00001-of-00002.gguf", data)
    service.endpoint = fake_hub.url
    [repo] = service.search_hub("tiny")
    assert repo.id == "hearth-test/Tiny-GGUF" and repo.downloads > 0
    [file] = repo.files
    assert (file.file, file.size, file.sha256, file.fit) == ("tiny-Q4_K_M.gguf", len(data), sha, FITS)
    assert service.search_hub("split") == [] and service.search_hub("nothing") == []
    assert constants.HF_HUB_OFFLINE is True
    result = service.download(repo.id, file.file)
    assert result.verified and result.path == service.paths.models_dir / file.file
    assert {e.file: e.name for e in service.entries()}[file.file] == "Tiny"
