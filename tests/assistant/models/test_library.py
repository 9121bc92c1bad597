"""The library: scanning folders, importing in place or by copy, removing without touching user files."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from assistant.errors import ConfigError, ModelNotFoundError, NotGGUFError
from assistant.models import FITS, InsufficientDiskSpaceError, ModelLibrary, ModelLibraryError, Resources
from assistant.models.library import BUNDLED, FOLDER, LIBRARY, LINKED
from assistant.paths import get_paths

MakeGguf = Callable[..., Path]
PLENTY = Resources(free_ram=64 * 2**30, gpu_offload=False, free_vram=None)


@pytest.fixture
def library(tmp_path: Path) -> ModelLibrary:
    return ModelLibrary(tmp_path / "models", tmp_path / "config" / "model-library.toml",
                        bundled_dir=tmp_path / "bundled")


def test_scan_finds_bundled_library_folder_and_linked_files(
    make_gguf: MakeGguf, library: ModelLibrary, tmp_path: Path,
) -> None:
    make_gguf(_mkdir(tmp_path / "bundled") / "bundled.gguf")
    make_gguf(_mkdir(library.models_dir) / "mine.gguf")
    nested = _mkdir(tmp_path / "lmstudio" / "publisher" / "repo")
    make_gguf(nested / "nested.gguf")
    make_gguf(_mkdir(library.models_dir / ".downloads") / "partial.gguf")  # hidden: never listed
    linked = make_gguf(_mkdir(tmp_path / "elsewhere") / "linked.gguf")
    library.add(tmp_path / "lmstudio")
    library.add(linked)
    assert [(p.name, s) for p, s in library.scan()] == [
        ("bundled.gguf", BUNDLED), ("linked.gguf", LINKED), ("mine.gguf", LIBRARY), ("nested.gguf", FOLDER)]


def test_entries_show_metadata_fit_and_errors(make_gguf: MakeGguf, library: ModelLibrary, tmp_path: Path) -> None:
    good = make_gguf(_mkdir(library.models_dir) / "good.gguf")
    (library.models_dir / "broken.gguf").write_bytes(good.read_bytes()[:1000])
    entries = {e.file: e for e in library.entries(lambda _path: (128, "f16"), PLENTY)}
    ok = entries["good.gguf"]
    assert ok.info is not None and ok.info.architecture == "llama" and ok.info.vocab_fingerprint
    assert ok.fit is not None and ok.fit.label == FITS and ok.fit.n_ctx == 256  # 128 trained, in steps of 256
    data = ok.to_dict()
    assert data["chat_template"] is True and data["fit"]["label"] == FITS and data["source"] == LIBRARY
    broken = entries["broken.gguf"]
    assert broken.info is None and "truncated" in (broken.error or "") and broken.to_dict()["fit"] is None


def test_add_in_place_links_without_copying(library: ModelLibrary, tiny_gguf: Path) -> None:
    assert library.add(tiny_gguf) == tiny_gguf.resolve()
    assert library.add(tiny_gguf) == tiny_gguf.resolve()  # idempotent
    assert library.scan() == [(tiny_gguf.resolve(), LINKED)]
    assert not library.models_dir.exists() or not any(library.models_dir.iterdir())


def test_add_by_copy_puts_a_complete_file_in_the_models_folder(library: ModelLibrary, tiny_gguf: Path) -> None:
    copied = library.add(tiny_gguf, copy=True)
    assert copied == library.models_dir / tiny_gguf.name and copied.read_bytes() == tiny_gguf.read_bytes()
    assert [p.name for p in library.models_dir.iterdir()] == [tiny_gguf.name]  # no temp file left
    with pytest.raises(ModelLibraryError, match="already exists"):
        library.add(tiny_gguf, copy=True)


def test_add_rejects_files_that_are_not_models(library: ModelLibrary, tmp_path: Path) -> None:
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(NotGGUFError):
        library.add(text)
    with pytest.raises(ModelNotFoundError):
        library.add(tmp_path / "missing.gguf")
    assert library.scan() == []


def test_remove_deletes_only_hearths_own_copies(
    make_gguf: MakeGguf, library: ModelLibrary, tmp_path: Path, tiny_gguf: Path,
) -> None:
    copied = library.add(tiny_gguf, copy=True)
    removal = library.remove(copied.name)
    assert removal.deleted_file and not copied.exists()

    library.add(tiny_gguf)
    removal = library.remove("tiny-test")  # by stem
    assert not removal.deleted_file and tiny_gguf.exists() and library.scan() == []

    folder = _mkdir(tmp_path / "folder")
    in_folder = make_gguf(folder / "kept.gguf")
    library.add(folder)
    with pytest.raises(ModelLibraryError, match="does not delete your files"):
        library.remove("kept.gguf")
    removal = library.remove(str(folder))
    assert not removal.deleted_file and in_folder.exists() and library.scan() == []


def test_bundled_models_cannot_be_removed_and_unknown_names_say_so(
    make_gguf: MakeGguf, library: ModelLibrary, tmp_path: Path,
) -> None:
    make_gguf(_mkdir(tmp_path / "bundled") / "bundled.gguf")
    with pytest.raises(ModelLibraryError, match="bundled"):
        library.remove("bundled.gguf")
    with pytest.raises(ModelNotFoundError, match="models list"):
        library.find("nope")


def test_same_name_in_two_places_is_ambiguous(make_gguf: MakeGguf, library: ModelLibrary, tmp_path: Path) -> None:
    make_gguf(_mkdir(library.models_dir) / "twin.gguf")
    library.add(_mkdir(tmp_path / "other"))
    make_gguf(tmp_path / "other" / "twin.gguf")
    with pytest.raises(ModelLibraryError, match="matches 2 models"):
        library.find("twin")
    assert library.find(str(tmp_path / "other" / "twin.gguf")) == (tmp_path / "other" / "twin.gguf").resolve()


def test_default_library_uses_hearth_paths(hearth_home: Path) -> None:
    library = ModelLibrary.for_paths(get_paths())
    assert library.models_dir == hearth_home / "data" / "models"
    assert library.registry_file == hearth_home / "config" / "model-library.toml"
    assert {p.name for p, s in library.scan() if s == BUNDLED} >= {"SmolLM2-135M-Instruct.Q4_1.gguf"}


def test_a_registry_that_is_not_toml_is_read_as_empty_and_not_saved_over(library: ModelLibrary,
                                                                         tiny_gguf: Path) -> None:
    """It was moved aside, and the next save wrote a list without the user's linked models."""
    library.registry_file.parent.mkdir(parents=True)
    library.registry_file.write_text("folders = [broken")
    assert library.scan() == []
    with pytest.raises(ConfigError, match=r"did not save the list of model folders: .* is not valid TOML"):
        library.add(tiny_gguf)
    assert library.registry_file.read_text() == "folders = [broken"
    assert [p.name for p in library.registry_file.parent.iterdir()] == ["model-library.toml"]


def test_copy_checks_disk_space_first(library: ModelLibrary, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: SimpleNamespace(free=0))
    with pytest.raises(InsufficientDiskSpaceError, match="free"):
        library.add(tiny_gguf, copy=True)
    assert not any(library.models_dir.iterdir())


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_a_library_models_file_name_is_that_model_also_where_a_file_here_has_that_name(
        make_gguf: MakeGguf, library: ModelLibrary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`hearth models drafts` says to make a draft with `hearth models draft smol-q8.gguf`; run in a folder that
    also held a smol-q8.gguf, that made the other file's draft (the library's stayed "not made yet")."""
    make_gguf(_mkdir(library.models_dir) / "smol-q8.gguf")
    here = _mkdir(tmp_path / "here")
    make_gguf(here / "smol-q8.gguf")
    monkeypatch.chdir(here)
    assert library.find("smol-q8.gguf") == (library.models_dir / "smol-q8.gguf").resolve()
    assert library.find("./smol-q8.gguf") == (here / "smol-q8.gguf").resolve()  # the file here, by its path
