"""``hearth models`` as a user runs it: list/inspect with fit, add/remove, use by name, catalog, Hub search."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hub_server import serve_hub, write_tiny_gguf

from assistant.config import load_settings, save_settings

ROOT = Path(__file__).resolve().parents[2]


def hearth(*args: str, home: Path, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEARTH_HOME": str(home), "HF_HUB_OFFLINE": "1", **env_vars}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


@pytest.fixture
def my_models(tmp_path: Path, chat_model_path: Path) -> Path:
    """A user's own model folder holding a copy of SmolLM2."""
    folder = tmp_path / "my-models"
    folder.mkdir()
    shutil.copyfile(chat_model_path, folder / "smol-copy.gguf")
    return folder


def test_list_shows_fit_and_why_it_runs_on_the_cpu(hearth_home: Path) -> None:
    out = hearth("models", "list", "--ctx", "2048", home=hearth_home)
    assert out.returncode == 0, out.stderr
    assert "SmolLM2" in out.stdout and "this build of llama.cpp has no GPU support" in out.stdout
    assert "Fits at 2048 tokens" in out.stdout and "vocab " in out.stdout
    rows = json.loads(hearth("models", "list", "--json", home=hearth_home).stdout)
    by_file = {r["file"]: r for r in rows}
    gemma = by_file["gemma-3-270m-q4_k_m.gguf"]
    assert gemma["source"] == "bundled" and gemma["chat_template"] is False and gemma["error"] is None
    assert gemma["fit"]["label"] in ("Fits", "Tight", "Won't fit") and gemma["fit"]["n_gpu_layers"] == 0


def _split(model: Path, folder: Path) -> list[Path]:
    """``model`` split in two files as llama.cpp's gguf-split writes them (its metadata, then its tensors in
    shards of 150, each shard saying split.no and split.count), with gguf-py's writer."""
    import gguf

    reader = gguf.GGUFReader(model)
    writer = gguf.GGUFWriter(folder / "SmolSplit-Q4_1.gguf", reader.fields["general.architecture"].contents(),
                             split_max_tensors=150)
    for key, field in reader.fields.items():
        if not key.startswith("GGUF.") and key != "general.architecture":
            sub_type = {"sub_type": field.types[-1]} if field.types[0] == gguf.GGUFValueType.ARRAY else {}
            writer.add_key_value(key, field.contents(), field.types[0], **sub_type)
    for tensor in reader.tensors:
        writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return sorted(folder.glob("SmolSplit-Q4_1-0000?-of-00002.gguf"))


def test_a_split_model_is_one_model_of_all_its_files(hearth_home: Path, chat_model_path: Path,
                                                      tmp_path: Path) -> None:
    """A model split by llama.cpp's gguf-split (NAME-00001-of-00002.gguf, NAME-00002-of-00002.gguf; llama.cpp
    loads the others from the first) was listed as its first file alone, "86M · 64 MB" of a 135M, 92 MB
    model, fitted and taken as a draft for a same-sized model as such, and its second file as a broken model
    of architecture 'unknown'."""
    folder = tmp_path / "split"
    folder.mkdir()
    first, second = _split(chat_model_path, folder)
    assert hearth("models", "add", str(folder), home=hearth_home).returncode == 0
    rows = [r for r in json.loads(hearth("models", "list", "--json", home=hearth_home).stdout)
            if r["file"].startswith("SmolSplit")]
    [row] = rows
    assert row["file"] == first.name and row["error"] is None and row["params"] == "135M", rows
    assert row["file_size"] == first.stat().st_size + second.stat().st_size
    assert row["fit"]["weights_bytes"] == row["file_size"]
    # not smaller than the bundled model it was split from: no draft for it (auto took it for one)
    drafts = hearth("models", "drafts", home=hearth_home)
    assert "With speculative = auto: no draft model" in drafts.stdout, drafts.stdout
    assert hearth("ask", "--no-memory", "--max-tokens", "3", "-m", "SmolSplit", "Hi.",
                  home=hearth_home).returncode == 0
    refused = hearth("models", "use", str(second), home=hearth_home)
    assert refused.returncode != 0 and refused.stderr.startswith(
        f"hearth: {second.name} is file 2 of 2 of a split model, not a model of its own: use the first, "
        f"{first.name}"), refused.stderr
    copied = hearth("models", "add", "--copy", str(first), home=hearth_home)  # every file of it is copied
    assert copied.returncode == 0, copied.stderr
    models = hearth_home / "data" / "models"
    assert sorted(p.name for p in models.glob("*.gguf")) == [first.name, second.name]
    asked = hearth("models", "remove", str(models / first.name), home=hearth_home)  # no terminal: --yes or nothing
    whole = f"{(first.stat().st_size + second.stat().st_size) / 1e6:.1f} MB"  # the size of both files, not the first's
    assert asked.returncode == 2 and f"{first.name} ({whole})" in asked.stderr, asked.stderr
    assert hearth("models", "remove", "--yes", str(models / first.name), home=hearth_home).returncode == 0
    assert not list(models.glob("*.gguf"))  # and deleted with it
    second.unlink()
    [row] = [r for r in json.loads(hearth("models", "list", "--json", home=hearth_home).stdout)
             if r["file"].startswith("SmolSplit")]
    assert row["error"] == (f"{first.name} is the first of 2 files of a split model, and shard 2 of 2 is missing "
                            f"({second.name}): put it in the same folder (download it again).")


def test_inspect_shows_the_fit_estimate(hearth_home: Path, base_model_path: Path) -> None:
    out = hearth("models", "inspect", str(base_model_path), "--ctx", "1024", home=hearth_home)
    assert out.returncode == 0 and "architecture: gemma3" in out.stdout and "at 1024 tokens" in out.stdout
    data = json.loads(hearth("models", "inspect", "--json", str(base_model_path), home=hearth_home).stdout)
    assert data["fit"]["kv_cache_bytes"] > 0 and data["fit"]["weights_bytes"] == data["file_size"]
    # 0 is the model's maximum, as in the settings (it was refused: "expected a whole number from 1 …")
    out = hearth("models", "inspect", "--json", str(base_model_path), "--ctx", "0", home=hearth_home)
    data = json.loads(out.stdout)
    assert data["fit"]["n_ctx"] == data["context_length"] == 32768


def test_fit_counts_the_kv_cache_type_the_user_chose(hearth_home: Path, chat_model_path: Path) -> None:
    """A q8_0 cache takes 34 bytes per 32 values where f16 takes 64: the estimate follows the setting."""
    def fit() -> dict:
        out = hearth("models", "inspect", "--json", str(chat_model_path), "--ctx", "4096", home=hearth_home)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)["fit"]

    f16 = fit()
    settings = load_settings().settings  # HEARTH_HOME is hearth_home: the file the CLI reads
    settings.model.kv_cache = "q8_0"
    save_settings(settings)
    q8 = fit()
    assert (f16["kv_cache"], q8["kv_cache"]) == ("f16", "q8_0")
    assert q8["kv_cache_bytes"] == int(f16["kv_cache_bytes"] * 34 / 64)
    assert q8["ram_needed"] == f16["ram_needed"] - f16["kv_cache_bytes"] + q8["kv_cache_bytes"]
    listed = hearth("models", "list", "--ctx", "2048", home=hearth_home).stdout
    assert "at 2048 tokens with a q8_0 KV cache" in listed
    settings.model.kv_cache = "q3"  # a hand-edited file: the list still shows, counting f16
    save_settings(settings)
    assert fit()["kv_cache_bytes"] == f16["kv_cache_bytes"]


def test_each_model_is_estimated_at_the_context_it_loads_with(hearth_home: Path, base_model_path: Path) -> None:
    """The list estimated every model at the configured model's context and KV cache, while Use and `ask -m`
    load each with its own saved profile: Gemma, kept at 32768 tokens, was said to fit at 2048."""
    settings = load_settings().settings
    settings.model.n_ctx, settings.model.kv_cache = 2048, "q8_0"
    save_settings(settings)
    (hearth_home / "config" / "model-profiles.toml").write_text(
        f'[models."{base_model_path.resolve()}"]\nn_ctx = 32768\n')
    rows = {r["name"]: r["fit"] for r in json.loads(hearth("models", "list", "--json", home=hearth_home).stdout)}
    assert (rows["SmolLM2 135M Instruct"]["n_ctx"], rows["SmolLM2 135M Instruct"]["kv_cache"]) == (2048, "q8_0")
    assert (rows["Gemma 3 270M"]["n_ctx"], rows["Gemma 3 270M"]["kv_cache"]) == (32768, "f16"), rows
    listed = hearth("models", "list", "--ctx", "1024", home=hearth_home).stdout  # --ctx: the same for every one
    assert "Fits at 1024 tokens with a f16 KV cache" in listed and "Fits at 1024 tokens with a q8_0" in listed
    inspected = json.loads(hearth("models", "inspect", "--json", "gemma", home=hearth_home).stdout)["fit"]
    assert inspected["n_ctx"] == 32768


def test_a_looping_link_or_a_named_pipe_given_as_a_model_is_refused_at_once(hearth_home: Path, tmp_path: Path) -> None:
    """A link that leads back to itself was "unexpected error (a bug in Hearth): RuntimeError: Symlink loop" (and
    froze the settings dialog's Apply); a named pipe was opened and waited on for good (the window's draft list
    too, in every dialog opened after)."""
    (tmp_path / "l1.gguf").symlink_to(tmp_path / "l2.gguf")
    (tmp_path / "l2.gguf").symlink_to(tmp_path / "l1.gguf")
    os.mkfifo(tmp_path / "pipe.gguf")
    for args in (("models", "add"), ("models", "inspect")):
        loop = hearth(*args, str(tmp_path / "l1.gguf"), home=hearth_home)
        assert loop.returncode == 3 and "is a link that leads to nothing (or back to itself)" in loop.stderr, loop
        pipe = hearth(*args, str(tmp_path / "pipe.gguf"), home=hearth_home)
        assert pipe.returncode == 3 and "is not a regular file (a named pipe" in pipe.stderr, pipe


def test_add_folder_then_file_in_place_then_remove_never_deletes_user_files(hearth_home: Path, my_models: Path) -> None:
    copy = my_models / "smol-copy.gguf"
    assert hearth("models", "add", str(my_models), home=hearth_home).returncode == 0
    rows = json.loads(hearth("models", "list", "--json", home=hearth_home).stdout)
    assert {r["file"]: r["source"] for r in rows}["smol-copy.gguf"] == "folder"
    refused = hearth("models", "remove", "smol-copy", home=hearth_home)
    assert refused.returncode == 3 and "does not delete your files" in refused.stderr and copy.exists()
    # the folder holding the model in use: it was removed (and that model's self-draft deleted)
    assert hearth("models", "use", "smol-copy", home=hearth_home).returncode == 0
    refused = hearth("models", "remove", str(my_models), home=hearth_home)
    assert refused.returncode == 3 and "holds smol-copy.gguf, the model in use" in refused.stderr, refused.stderr
    assert hearth("models", "use", "SmolLM2", home=hearth_home).returncode == 0
    assert hearth("models", "remove", str(my_models), home=hearth_home).returncode == 0

    assert hearth("models", "add", str(copy), home=hearth_home).returncode == 0
    rows = json.loads(hearth("models", "list", "--json", home=hearth_home).stdout)
    assert {r["file"]: r["source"] for r in rows}["smol-copy.gguf"] == "linked"
    again = hearth("models", "add", str(copy), home=hearth_home)  # it said "Added" again
    assert again.returncode == 0 and again.stdout.strip() == f"Already in the library: {copy}.", again.stdout
    out = hearth("models", "remove", "smol-copy.gguf", home=hearth_home)
    assert out.returncode == 0 and "still on disk" in out.stdout and copy.exists()

    # a linked file the user moved away stays listed ("not found") and could not be removed by any name
    assert hearth("models", "add", str(copy), home=hearth_home).returncode == 0
    assert hearth("models", "use", "smol-copy", home=hearth_home).returncode == 0
    copy.rename(my_models / "moved.gguf")
    listed = hearth("models", "list", home=hearth_home).stdout  # in use: `remove` refuses it as such
    assert "smol-copy.gguf  (linked, in use)  Model file not found" in listed
    assert hearth("models", "use", "SmolLM2", home=hearth_home).returncode == 0
    out = hearth("models", "remove", "smol-copy", home=hearth_home)
    assert out.returncode == 0 and "the file was already gone" in out.stdout, out.stderr
    assert "smol-copy" not in hearth("models", "list", home=hearth_home).stdout


def test_add_copy_then_use_by_name_then_remove_deletes_the_copy(hearth_home: Path, my_models: Path) -> None:
    out = hearth("models", "add", "--copy", str(my_models / "smol-copy.gguf"), home=hearth_home)
    assert out.returncode == 0 and "(copied)" in out.stdout
    copied = hearth_home / "data" / "models" / "smol-copy.gguf"
    assert copied.exists()
    used = hearth("models", "use", "smol-copy", home=hearth_home)
    assert used.returncode == 0 and "Now using" in used.stdout, used.stderr
    # the list says which model answers (it did not say): the one just chosen, and only that one
    listed = hearth("models", "list", home=hearth_home).stdout.splitlines()
    assert [line.split("  ")[0] for line in listed if line.startswith("▶")] == ["▶ Smol Copy"], listed
    assert sum(line.startswith(("•", "▶")) for line in listed) == 3 and "(library, in use)" in "\n".join(listed)
    rows = json.loads(hearth("models", "list", "--json", home=hearth_home).stdout)
    assert [r["file"] for r in rows if r["in_use"]] == ["smol-copy.gguf"]
    # the model in use is not deleted: every later answer failed on the missing file
    refused = hearth("models", "remove", "smol-copy", home=hearth_home)
    assert refused.returncode == 3 and "is the model in use" in refused.stderr and copied.exists()
    assert hearth("models", "use", "SmolLM2-135M-Instruct.Q4_1", home=hearth_home).returncode == 0
    # it deleted the copy without asking, where the window asks: with no terminal to ask in, --yes says so
    refused = hearth("models", "remove", "smol-copy", home=hearth_home)
    assert refused.returncode == 2 and copied.exists() and refused.stderr == (
        "hearth: Nothing was deleted: removing smol-copy.gguf (98.4 MB) deletes it from Hearth's models folder; "
        "with no terminal to ask in, pass --yes to delete it.\n"), refused.stderr
    out = hearth("models", "remove", "--yes", "smol-copy", home=hearth_home)
    assert out.returncode == 0 and out.stdout.startswith("Deleted") and not copied.exists()
    assert (my_models / "smol-copy.gguf").exists()


def test_bad_files_and_names_give_one_clear_line(hearth_home: Path, tmp_path: Path, chat_model_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(chat_model_path.read_bytes()[: 10 * 2**20])
    for args, code, words in (
        (("models", "add", str(cut)), 3, "truncated"),
        (("models", "use", "no-such-model"), 3, "No model"),
        (("models", "remove", "SmolLM2-135M-Instruct.Q4_1"), 3, "bundled"),
    ):
        out = hearth(*args, home=hearth_home)
        assert out.returncode == code, out.stderr
        assert out.stderr.startswith("hearth: ") and words in out.stderr and "Traceback" not in out.stderr
    # one byte short said "it is 98.4 MB but its tensors need 98.4 MB"
    cut.write_bytes(chat_model_path.read_bytes()[:-1])
    out = hearth("models", "inspect", str(cut), home=hearth_home)
    assert out.returncode == 3 and "need 98.4 MB (1 byte missing). The download" in out.stderr, out.stderr


def test_catalog_lists_downloadable_models_with_fit(hearth_home: Path) -> None:
    rows = json.loads(hearth("models", "catalog", "--json", home=hearth_home).stdout)
    assert rows and all(r["fit"] in ("Fits", "Tight", "Won't fit") and r["installed"] is False for r in rows)
    assert any(r["draft"] for r in rows)
    text = hearth("models", "catalog", home=hearth_home).stdout
    assert f"hearth models download {rows[0]['repo']} {rows[0]['file']}" in text


def test_a_model_chosen_by_its_path_joins_the_library(hearth_home: Path, my_models: Path) -> None:
    """It answered, but `hearth models list` (and the window's Models view) never showed it, `models remove`
    said "No model … in the library", and once another model was chosen only its path found it again."""
    fresh = my_models / "fresh one.gguf"
    (my_models / "smol-copy.gguf").rename(fresh)
    assert hearth("models", "use", str(fresh), home=hearth_home).returncode == 0
    listed = json.loads(hearth("models", "list", "--json", home=hearth_home).stdout)
    assert [(r["source"], r["in_use"]) for r in listed if r["path"] == str(fresh)] == [("linked", True)], listed
    assert hearth("models", "use", "SmolLM2", home=hearth_home).returncode == 0
    assert hearth("models", "use", "fresh one", home=hearth_home).returncode == 0  # by its name now


def test_removing_the_draft_model_in_the_settings_sets_it_to_automatic(hearth_home: Path, my_models: Path) -> None:
    """The setting kept naming the removed file: a warning at every start, which in auto mode told the user to
    set the mode it had ("… or set model.speculative to auto"), and the Settings dialog saved it back."""
    copy = my_models / "smol-copy.gguf"
    assert hearth("models", "add", str(copy), home=hearth_home).returncode == 0
    settings = load_settings().settings
    settings.model.speculative, settings.model.draft_model = "auto", "no-such-draft"
    save_settings(settings)
    warned = hearth("doctor", home=hearth_home).stdout
    assert "! model: The draft model in the settings cannot be used, so auto mode drafts without it" in warned
    assert "set model.speculative to auto" not in warned, warned
    settings.model.draft_model = str(copy)
    save_settings(settings)
    removed = hearth("models", "remove", "smol-copy", home=hearth_home)
    assert removed.returncode == 0 and "It was the draft model in the settings" in removed.stdout, removed.stderr
    assert load_settings().settings.model.draft_model == ""
    assert "draft model in the settings" not in hearth("doctor", home=hearth_home).stdout


def test_a_chat_model_deleted_after_use_is_said_with_the_way_out(hearth_home: Path, my_models: Path) -> None:
    """`hearth ask` said only "Model file not found: …/smol-copy.gguf" (exit 3); doctor knew the fix."""
    copy = my_models / "smol-copy.gguf"
    assert hearth("models", "use", str(copy), home=hearth_home).returncode == 0
    copy.unlink()
    for args in (("ask", "Hi"), ("chat",)):
        out = hearth(*args, home=hearth_home)
        assert out.returncode == 3 and out.stderr.strip() == (
            f"hearth: Model file not found: {copy}. It is the chat model in the settings: pick another one "
            "(Models → Use, or `hearth models use NAME`)."), out.stderr


def test_use_by_shown_name_or_a_unique_part_of_it(hearth_home: Path, my_models: Path) -> None:
    listed = hearth("models", "list", home=hearth_home).stdout
    assert "▶ SmolLM2 135M Instruct " in listed and "• Gemma 3 270M " in listed and "Smollm2" not in listed
    used = hearth("models", "use", "Gemma 3 270M", "--json", home=hearth_home)
    assert used.returncode == 0, used.stderr
    assert json.loads(used.stdout)["model"]["path"].endswith("gemma-3-270m-q4_k_m.gguf")
    used = hearth("models", "use", "smollm2 135m", home=hearth_home)
    assert used.returncode == 0 and "Now using SmolLM2 135M Instruct" in used.stdout, used.stderr


def test_an_ambiguous_part_lists_the_candidates(hearth_home: Path, my_models: Path) -> None:
    assert hearth("models", "add", str(my_models / "smol-copy.gguf"), home=hearth_home).returncode == 0
    out = hearth("models", "use", "smol", home=hearth_home)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert ("'smol' matches several models: Smol Copy (smol-copy.gguf); "
            "SmolLM2 135M Instruct (SmolLM2-135M-Instruct.Q4_1.gguf)") in out.stderr


def test_search_lists_gguf_files_on_the_hub(hearth_home: Path, tmp_path: Path) -> None:
    data = write_tiny_gguf(tmp_path / "tiny.gguf").read_bytes()
    with serve_hub() as hub:
        hub.add("hearth-test/Tiny-GGUF", "tiny-Q4_K_M.gguf", data)
        hub.add("hearth-test/Tiny-GGUF", "README.md", b"# Tiny")
        out = hearth("models", "search", "tiny", home=hearth_home, HF_ENDPOINT=hub.url)
        assert out.returncode == 0, out.stderr
        assert "• hearth-test/Tiny-GGUF" in out.stdout and "README" not in out.stdout
        assert "hearth models download hearth-test/Tiny-GGUF tiny-Q4_K_M.gguf" in out.stdout
        [repo] = json.loads(hearth("models", "search", "TINY", "--json", home=hearth_home, HF_ENDPOINT=hub.url).stdout)
        assert [(f["file"], f["size"]) for f in repo["files"]] == [("tiny-Q4_K_M.gguf", len(data))]
        none = hearth("models", "search", "nothing", home=hearth_home, HF_ENDPOINT=hub.url)
        assert none.returncode == 0 and "No GGUF models" in none.stderr
    offline = hearth("models", "search", "tiny", home=hearth_home, HF_ENDPOINT=hub.url)  # the server is gone
    assert offline.returncode == 5 and offline.stderr.startswith("hearth: Could not reach")
    assert "Traceback" not in offline.stderr and "the connection was refused. Check the internet" in offline.stderr
    # no such name: said in words ("[Errno -2] Name or service not known" was shown)
    nowhere = hearth("models", "search", "tiny", home=hearth_home, HF_ENDPOINT="https://hub.invalid")
    assert nowhere.returncode == 5 and "its address could not be looked up. Check the internet connection." in \
        nowhere.stderr and "Errno" not in nowhere.stderr, nowhere.stderr


def test_a_full_disk_when_saving_the_choice_is_one_line_and_the_old_file_stays(hearth_home: Path, monkeypatch,
                                                                               capsys) -> None:
    """`hearth models use` on a full disk (or a read-only folder) ended as "a bug in Hearth: OSError" (exit 70).
    In-process `hearth`, with the settings writer failing as a full disk does."""
    import errno

    from assistant import config as config_module
    from assistant.cli import main
    from assistant.paths import get_paths

    settings_file = get_paths().settings_file
    save_settings(load_settings(settings_file).settings, settings_file)
    before = settings_file.read_text()

    def full(path: Path, text: str, expected: str | None = None) -> bool:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(config_module, "atomic_write_text", full)
    assert main(["models", "use", "Gemma 3 270M"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hearth: Hearth could not save the models' settings to ") and "No space left" in err
    assert "bug" not in err and settings_file.read_text() == before


def test_a_context_below_llamas_step_is_listed_and_answered_at_the_size_llama_cpp_allocates(
        hearth_home: Path) -> None:
    """A context of 64 was loaded as 256 (llama.cpp allocates in steps of 256) while `hearth models list` said
    "Fits at 64 tokens" and nothing else mentioned it."""
    settings = load_settings().settings  # HEARTH_HOME is hearth_home: the file the CLI reads
    settings.model.n_ctx = 64
    save_settings(settings)
    listed = hearth("models", "list", home=hearth_home)
    assert listed.returncode == 0 and "Fits at 256 tokens" in listed.stdout and "at 64 tokens" not in listed.stdout
    asked = hearth("ask", "--no-memory", "--json", "--max-tokens", "4", "Hi", home=hearth_home)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["stats"]["context_size"] == 256


def test_an_empty_folder_added_says_it_holds_no_model_and_removing_a_stranger_folder_says_so(
        hearth_home: Path, tmp_path: Path, my_models: Path) -> None:
    """`models add` of a folder with no model said only "Added …"; `models remove` of a folder the library
    never had said it was "a folder with no .gguf model file in it"."""
    empty = tmp_path / "later"
    empty.mkdir()
    added = hearth("models", "add", str(empty), home=hearth_home)
    assert added.returncode == 0 and "It holds no .gguf model yet" in added.stdout, added.stdout + added.stderr
    full = hearth("models", "add", str(my_models), home=hearth_home)
    assert full.returncode == 0 and "It holds 1 model (`hearth models list` lists them)." in full.stdout
    # an empty file and one that is no GGUF were counted as models: "It holds 3 models"
    (my_models / "empty.gguf").touch()
    (my_models / "nested").mkdir()
    (my_models / "nested" / "notes.gguf").write_text("this is not a model")
    again = hearth("models", "add", str(my_models), home=hearth_home)
    assert again.stdout.splitlines()[-1] == (
        "It holds 1 model and 2 files that cannot be used (`hearth models list` says why)."), again.stdout
    assert hearth("models", "remove", str(empty), home=hearth_home).returncode == 0
    again = hearth("models", "remove", str(empty), home=hearth_home)
    assert again.returncode == 3 and "is not a folder of the library" in again.stderr, again.stderr


def test_two_precisions_of_one_model_are_named_with_it(hearth_home: Path, smollm2_q8_path: Path) -> None:
    """The window showed "SmolLM2 135M Instruct Q8_0", which no command took ("No model file SmolLM2 135M Instruct
    Q8_0 and no model named …"), and `models list` named both "SmolLM2 135M Instruct"."""
    assert hearth("models", "add", str(smollm2_q8_path), home=hearth_home).returncode == 0
    listed = hearth("models", "list", home=hearth_home).stdout
    assert "• SmolLM2 135M Instruct Q8_0  " in listed and "▶ SmolLM2 135M Instruct Q4_1  " in listed, listed
    used = hearth("models", "use", "SmolLM2 135M Instruct Q8_0", home=hearth_home)
    assert used.returncode == 0 and "Now using SmolLM2 135M Instruct Q8_0" in used.stdout, used.stderr
    out = hearth("models", "use", "smollm2 135m instruct", home=hearth_home)  # the name both have
    assert out.returncode == 2 and ("matches several models: SmolLM2 135M Instruct Q8_0 "
                                    "(SmolLM2-135M-Instruct-Q8_0.gguf); SmolLM2 135M Instruct Q4_1") in out.stderr
    assert hearth("models", "use", "instruct q4_1", home=hearth_home).returncode == 0


def test_remove_asks_on_a_terminal_before_deleting_a_file(hearth_home: Path, my_models: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """`hearth models remove` deleted a file in Hearth's models folder without a word (the window asks); it asks
    now, naming the file and its size, and anything but yes keeps it. A linked file, only forgotten, is not asked
    about."""
    from assistant import cli

    copied = hearth_home / "data" / "models" / "smol-copy.gguf"
    assert cli.main(["models", "add", "--copy", str(my_models / "smol-copy.gguf")]) == 0
    asked: list[str] = []
    answers = iter(["", "yes"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda question: asked.append(question) or next(answers))
    capsys.readouterr()
    assert cli.main(["models", "remove", "smol-copy"]) == 1 and copied.exists()  # Return: the default, no
    assert asked == [f"Delete smol-copy.gguf (98.4 MB) from Hearth's models folder ({copied.parent})? [y/N] "]
    assert "Nothing was deleted." in capsys.readouterr().err
    assert cli.main(["models", "remove", "smol-copy"]) == 0 and not copied.exists()
    assert capsys.readouterr().out.startswith("Deleted")
    assert cli.main(["models", "add", str(my_models / "smol-copy.gguf")]) == 0
    assert cli.main(["models", "remove", "smol-copy"]) == 0 and len(asked) == 2  # linked: forgotten, not asked


def test_copies_alike_in_name_and_file_name_are_listed_with_their_paths(hearth_home: Path, my_models: Path,
                                                                         base_model_path: Path) -> None:
    """The same Gemma bundled and in an added folder: `use "Gemma 3 270M Q4_K_M"` said to "type more of the name,
    the file name, or the full path", while both names and file names were the same."""
    copy = my_models / base_model_path.name
    shutil.copyfile(base_model_path, copy)
    assert hearth("models", "add", str(my_models), home=hearth_home).returncode == 0
    out = hearth("models", "use", "Gemma 3 270M Q4_K_M", home=hearth_home)
    label = f"Gemma 3 270M Q4_K_M ({base_model_path.name})"
    assert out.returncode == 2 and out.stderr == (
        f"hearth: 'Gemma 3 270M Q4_K_M' matches 2 models, some with the same name and file name: {label} at "
        f"{base_model_path.resolve()}; {label} at {copy.resolve()}. Give the full path to pick one.\n"), out.stderr
    used = hearth("models", "use", str(copy), "--json", home=hearth_home)
    assert used.returncode == 0 and json.loads(used.stdout)["model"]["path"] == str(copy.resolve()), used.stderr
