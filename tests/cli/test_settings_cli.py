"""``hearth settings``: every setting from the command line, checked as the settings file is, applied and saved."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from cli.test_cli import hearth

from assistant.config import load_settings, setting_keys
from assistant.paths import get_paths


def test_settings_are_shown_set_and_reset_and_a_mistake_changes_nothing(hearth_home: Path) -> None:
    """A power user on the command line could set the temperature for one call, but not the context, GPU
    layers, threads or passages per answer: those were only in the window's Settings or a hand edit."""
    file = get_paths().settings_file
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text('# my own notes\n[model]\nn_ctx = 2048\n\n[server]\ntoken = "s3cret-token"\n')
    shown = hearth("settings", home=hearth_home)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"# {file}; [model] is SmolLM2-135M-Instruct")
    assert "model.n_ctx = 2048  # default 4096" in lines and "model.n_gpu_layers = 0" in lines
    assert 'server.token = "(set)"' in lines and "s3cret" not in shown.stdout  # a secret is never printed
    assert len(lines) == 1 + len(setting_keys())  # every setting the file can hold

    out = hearth("settings", "set", "n_gpu_layers=-1", "n_ctx=8192", "knowledge.top_k=8", "memory.enabled=off",
                 home=hearth_home)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["model.n_ctx = 8192", "model.n_gpu_layers = -1", "knowledge.top_k = 8",
                                       "memory.enabled = false"]
    assert "note: model.n_gpu_layers does nothing here: this build of llama.cpp has no GPU support." \
        in out.stderr  # as the window greys the box with the reason
    saved = load_settings(file).settings
    assert (saved.model.n_gpu_layers, saved.model.n_ctx, saved.knowledge.top_k, saved.memory.enabled) == \
        (-1, 8192, 8, False)
    assert file.read_text().startswith("# my own notes\n")  # written into the file's own text
    assert saved.server.token == "s3cret-token"
    # the model section is also the model's own profile: it comes back with the model
    assert "n_ctx = 8192" in (file.parent / "model-profiles.toml").read_text()

    # one value refused refuses them all, with the reason, and nothing is changed
    for args, said in [
        (("n_threads=1", "top_p=2"), "model.top_p = 2.0 is outside 0.0 to 1.0; nothing was changed."),
        (("n_ctx", "lots"), "model.n_ctx takes a whole number, not 'lots'."),
        (("speculative=fast",), "model.speculative = 'fast' is not one of auto, off, ngram, draft, self"),
        (("top_k=3",), "'top_k' is a setting in 2 sections: say which (model.top_k, knowledge.top_k)."),
        (("n_gpu_layer=3",), "'n_gpu_layer' is not a setting Hearth knows; did you mean model.n_gpu_layers?"),
        (("model.path=/x.gguf",), "The model is chosen with `hearth models use NAME`"),
        (("server.token=abc",), "The API token is made by Hearth"),
        (("draft_model=gemma",), "Gemma 3 270M's vocabulary (262144 tokens) differs from SmolLM2 135M"),
        (("n_ctx",), "'n_ctx' has no value: give KEY=VALUE pairs"),
        (("n_ctx=2048", "model.n_ctx=4096"), "model.n_ctx is given twice ('2048' and '4096')"),
        (("seed=12345678901234567",), "model.seed = 12345678901234567 is outside -1 to 2147483647"),
        (("server.host=not a host!",), "server.host = 'not a host!' is not an address"),
        (("knowledge.embedder=/tmp",), "The embedder '/tmp' is not a local sentence-transformers folder"),
    ]:
        refused = hearth("settings", "set", *args, home=hearth_home)
        assert refused.returncode != 0 and said in refused.stderr and not refused.stdout, (args, refused.stderr)
    assert load_settings(file).settings == saved

    same = hearth("settings", "set", "n_ctx", "8192", home=hearth_home)  # as git config takes it
    assert same.stdout == "Nothing to change: model.n_ctx is 8192\n"
    # a preset brings its values, and a value set alone names the preset it matches, as the window's list does
    assert hearth("settings", "set", "preset=greedy", home=hearth_home).stdout.splitlines()[:2] == [
        'model.preset = "Greedy"', "model.temperature = 0.0"]
    assert hearth("settings", "set", "temperature=0.3", home=hearth_home).stdout.splitlines() == [
        'model.preset = "Custom"', "model.temperature = 0.3"]
    # a preset given with a value of its own: the preset's values, that value over them, named "Custom"
    assert hearth("settings", "set", "preset=creative", home=hearth_home).returncode == 0
    both = hearth("settings", "set", "temperature=0.5", "preset=greedy", home=hearth_home)
    assert both.stdout.splitlines()[:2] == ['model.preset = "Custom"', "model.temperature = 0.5"], both.stdout
    model = load_settings(file).settings.model
    assert (model.preset, model.temperature, model.repeat_penalty) == ("Custom", 0.5, 1.0)  # Greedy's penalty
    # what a value does otherwise than it reads is said as it is saved
    said = hearth("settings", "set", "n_ctx=1", home=hearth_home)
    assert said.stderr == ("note: the model loads with context 256 (1 rounded up: llama.cpp allocates it in steps of "
                           "256 tokens).\n")
    said = hearth("settings", "set", "n_ctx=100000", "speculative=self", "--json", home=hearth_home)
    data = json.loads(said.stdout)
    assert data["changed"] == {"model.n_ctx": 100000, "model.speculative": "self"} and len(data["notes"]) == 2
    assert data["notes"][0].startswith("a context of 100000 is more than SmolLM2 135M Instruct was trained for")
    assert data["notes"][1].startswith("speculative decoding (self) has no draft model: No self-draft for SmolLM2")
    assert json.loads(hearth("settings", "--json", "show", "n_ctx", home=hearth_home).stdout)["settings"] == \
        {"model.n_ctx": 100000}  # --json before the action counts too
    reset = hearth("settings", "reset", "n-ctx", "memory.enabled", "speculative", home=hearth_home)
    assert reset.stdout == 'model.n_ctx = 4096\nmodel.speculative = "auto"\nmemory.enabled = true\n', reset.stderr
    # a whole section: all but the model itself (and the server's token, Hearth's to make)
    section = hearth("settings", "reset", "server", home=hearth_home)
    assert section.returncode == 0 and section.stdout.startswith("Nothing to change: the 5 settings")
    data = json.loads(hearth("settings", "show", "--json", "n_ctx", "model.temperature", "token",
                             home=hearth_home).stdout)
    assert data["settings"] == {"model.n_ctx": 4096, "model.temperature": 0.5, "server.token": "(set)"}
    assert data["defaults"]["model.temperature"] == 0.7
    # a section is shown as it is reset (it was "not a setting Hearth knows")
    shown = hearth("settings", "show", "server", home=hearth_home)
    assert shown.returncode == 0 and shown.stdout.startswith("server.") and "model." not in shown.stdout, shown.stderr


def test_threads_and_batch_are_said_to_be_for_every_model_and_a_switch_bears_it_out(hearth_home: Path) -> None:
    """`hearth settings` called the whole [model] section the current model's own ("each model keeps its
    values"), yet the threads and batch size are for every model: threads set while one model answered were
    expected to stay with it, and stayed with the next. They are marked so where shown and said so where set."""
    lines = hearth("settings", home=hearth_home).stdout.splitlines()
    assert lines[0].endswith('\'s own (each model keeps its values), but for the values marked "for every model"')
    assert {"model.n_threads = 0  # for every model", "model.n_batch = 512  # for every model",
            "model.n_ctx = 4096"} <= set(lines)  # the model's own values are not marked
    out = hearth("settings", "set", "n_threads=1", "n_ctx=2048", home=hearth_home)
    assert out.returncode == 0 and out.stdout == "model.n_ctx = 2048\nmodel.n_threads = 1\n", out.stderr
    assert out.stderr == ("note: model.n_threads is for every model: the other [model] values are "
                          "SmolLM2-135M-Instruct.Q4_1.gguf's own (another model keeps its own).\n")
    assert hearth("settings", "set", "temperature=0.3", home=hearth_home).stderr == ""  # the model's own: as ever
    # what is said is what a switch does: another model answers with these threads, and keeps its own context
    assert hearth("models", "use", "gemma", home=hearth_home).returncode == 0
    assert hearth("settings", "set", "n_batch=256", "n_ctx=1024", home=hearth_home).returncode == 0
    assert hearth("models", "use", "smollm2", home=hearth_home).returncode == 0
    data = json.loads(hearth("settings", "show", "--json", "model", home=hearth_home).stdout)
    assert [data["settings"][f"model.{k}"] for k in ("n_threads", "n_batch", "n_ctx")] == [1, 256, 2048]
    assert data["for_every_model"] == ["model.n_threads", "model.n_batch"]


def test_a_setting_set_from_the_cli_and_sampling_options_change_the_next_answer(hearth_home: Path) -> None:
    """Top-k, top-p, min-p and the repeat penalty had no option on `hearth ask`; the settings set here are the
    ones the next answer uses."""
    def answer(*args: str) -> dict:
        out = hearth("ask", "--json", "--no-memory", *args, "Name three fruits.", home=hearth_home)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    greedy = answer("--temperature", "0", "--max-tokens", "16")
    # top-k 1 leaves only the likeliest token: any temperature and seed give the greedy answer
    assert answer("--temperature", "1.5", "--top-k", "1", "--seed", "3", "--max-tokens", "16")["answer"] == \
        greedy["answer"]
    out = hearth("settings", "set", "model.top_k=1", "temperature=1.5", "max_tokens=4", home=hearth_home)
    assert out.returncode == 0, out.stderr
    short = answer()
    assert short["stats"]["completion_tokens"] == 4 and greedy["answer"].startswith(short["answer"].strip())
    assert hearth("ask", "--min-p", "2", "x", home=hearth_home).stderr.startswith(
        "hearth: argument --min-p: expected a number from 0.0 to 1.0, not '2'")


def test_a_setting_that_cannot_be_saved_is_not_said_as_set(hearth_home: Path) -> None:
    """A settings file that is not TOML (a hand edit half done): `set` printed "model.n_ctx = 2048" as if it was
    saved, then "not saved: Hearth did not save…"."""
    file = get_paths().settings_file
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text("[model\n")
    out = hearth("settings", "set", "n_ctx=2048", home=hearth_home)
    assert out.returncode == 1 and out.stdout == "" and file.read_text() == "[model\n"
    assert out.stderr.splitlines()[-1].startswith("hearth: Hearth did not save the settings: ")


def test_a_set_keeps_the_hand_edits_it_cannot_use_as_written(hearth_home: Path) -> None:
    """A typo'd key, a section Hearth does not know and a value of the wrong type were said to be ignored at every
    command; an unrelated `set` then deleted the first two (with the section's comment and its user id) and wrote
    the value in use over the third, without a word. They stay as written; what the set changes is written."""
    file = get_paths().settings_file
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text('[model]\ntopk = 12\nn_ctx = "8k"\ntop_p = 0.9\n\n# my memory settings\n[memmory]\n'
                    'user_id = "alice"\n')
    out = hearth("settings", "set", "model.top_p=0.8", home=hearth_home)
    assert out.returncode == 0, out.stderr
    assert "model.topk is not a setting Hearth knows (ignored)" in out.stderr
    text = file.read_text()
    assert 'topk = 12\nn_ctx = "8k"\ntop_p = 0.8\n' in text and "# my memory settings\n" in text
    assert '[memmory]\nuser_id = "alice"\n' in text and tomllib.loads(text)["memmory"] == {"user_id": "alice"}
    out = hearth("settings", "set", "n_ctx=2048", home=hearth_home)  # changed: written over
    assert out.returncode == 0 and "n_ctx = 2048\n" in file.read_text(), out.stderr
    # named in a set, it is written over, also with the value in use (it said "Nothing to change: model.n_ctx is
    # 4096", the "8k" stayed, and its warning came at every command); so is one a section's reset names
    file.write_text(file.read_text().replace("n_ctx = 2048", 'n_ctx = "8k"'))
    out = hearth("settings", "set", "n_ctx=4096", home=hearth_home)
    assert out.returncode == 0 and out.stdout == "model.n_ctx = 4096\n" and "n_ctx = 4096\n" in file.read_text()
    file.write_text(file.read_text().replace("n_ctx = 4096", 'n_ctx = "8k"'))
    out = hearth("settings", "reset", "model", home=hearth_home)
    assert out.returncode == 0 and "n_ctx = 4096\n" in file.read_text(), out.stderr
    assert "wrong type" not in hearth("settings", "show", "n_ctx", home=hearth_home).stderr


def test_a_draft_model_is_saved_as_the_file_its_name_matched(hearth_home: Path, smollm2_q8_path: Path) -> None:
    """`set draft_model=SmolLM2` saved the part of a name typed; once a second SmolLM2 was added it matched two
    models, and drafting stopped with a warning at each answer."""
    from assistant.paths import BUNDLED_CHAT_MODEL

    for step in (("models", "add", str(smollm2_q8_path)), ("models", "use", str(smollm2_q8_path))):
        assert hearth(*step, home=hearth_home).returncode == 0
    out = hearth("settings", "set", "speculative=draft", "draft_model=Instruct.Q4_1", home=hearth_home)
    assert out.returncode == 0, out.stderr
    assert load_settings(get_paths().settings_file).settings.model.draft_model == str(BUNDLED_CHAT_MODEL.resolve())
    # by the name `models list` and the draft picker show, with its precision beside the Q8_0 in use ("there is no
    # model 'SmolLM2 135M Instruct Q4_1'"), and by the name without it, which only the other model can mean (it
    # said the Q8_0 "is the model answering")
    for name in ("SmolLM2 135M Instruct Q4_1", "SmolLM2 135M Instruct"):
        assert hearth("settings", "set", "draft_model=", home=hearth_home).returncode == 0
        out = hearth("settings", "set", f"draft_model={name}", home=hearth_home)
        assert out.returncode == 0, out.stderr
        assert load_settings(get_paths().settings_file).settings.model.draft_model == str(BUNDLED_CHAT_MODEL.resolve())
    asked = hearth("ask", "--json", "--no-memory", "--max-tokens", "4", "--speculative", "draft", "--draft-model",
                   "SmolLM2 135M Instruct Q4_1", "Hi?", home=hearth_home)
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["speculative"]["mode"] == "draft"


def test_a_change_applied_is_a_notice_and_a_refusal_an_error(hearth_home: Path) -> None:
    """What a value applied does ("the model loads with context 256 …") was said as "hearth: …", as errors are:
    neither the user nor a script reading stderr could tell it from an error. A notice is ``note: …`` now, and
    ``hearth: …`` is kept for what went wrong, with its exit code."""
    applied = hearth("settings", "set", "n_ctx=1", home=hearth_home)
    assert applied.returncode == 0 and applied.stderr.startswith("note: the model loads with context 256 "), \
        applied.stderr
    assert "hearth: " not in applied.stderr, applied.stderr
    refused = hearth("settings", "set", "n_ctx=lots", home=hearth_home)
    assert refused.returncode != 0 and refused.stderr.startswith("hearth: ") and "note: " not in refused.stderr, \
        refused.stderr
