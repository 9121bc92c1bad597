"""Draft models for speculative decoding: self-drafts made with llama.cpp's quantize API, the candidates for a
model with the reason each one cannot draft, the rules that pick one per mode, and ``hearth models draft(s)``.

Real models throughout: an F16 copy of the bundled SmolLM2 (session fixture) as the target, the bundled Q4_1
as its same-vocabulary sibling, the bundled Gemma 3 270M as a model with another vocabulary.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.engine import read_model_info
from assistant.errors import InputError, ModelNotFoundError
from assistant.events import Progress
from assistant.models import drafts
from assistant.models.catalog import CatalogEntry
from assistant.models.drafts import (
    CATALOG,
    SELF,
    SIBLING,
    DraftCancelledError,
    DraftCandidate,
    DraftError,
    NoDraftError,
    resolve_draft,
    self_draft_type,
)
from assistant.models.service import ModelsService
from assistant.paths import get_paths

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def models(hearth_home: Path) -> ModelsService:
    settings = Settings()
    return ModelsService(get_paths().ensure(), lambda: settings)


def _drafts_dir(models: ModelsService) -> Path:
    return models.paths.models_dir / "drafts"


# ---- which quantization a self-draft gets ------------------------------------------------------------------
def test_self_draft_type_halves_the_model_or_refuses_with_the_reason(smollm2_f16_path: Path,
                                                                       chat_model_path: Path) -> None:
    f16 = read_model_info(smollm2_f16_path)
    assert self_draft_type(f16) == "Q4_0"
    assert self_draft_type(dataclasses.replace(f16, quantization="Q8_0")) == "Q4_0"
    wide = dataclasses.replace(f16, n_embd=2048)
    assert self_draft_type(dataclasses.replace(wide, quantization="Q6_K")) == "Q3_K_S"
    assert self_draft_type(dataclasses.replace(wide, quantization="Q5_K_M")) == "Q3_K_S"
    # SmolLM2 is 576 wide: llama.cpp's K-quants would fall back to 4-5 bits for nearly every row
    with pytest.raises(NoDraftError, match="576 wide, not a multiple of 256"):
        self_draft_type(dataclasses.replace(f16, quantization="Q6_K"))
    for small in ("Q4_K_M", "Q3_K_S", "IQ2_XS"):
        with pytest.raises(NoDraftError, match=f"already {small}, about as small as a draft would be"):
            self_draft_type(dataclasses.replace(wide, quantization=small))
    with pytest.raises(NoDraftError, match="already Q4_1") as refused:
        self_draft_type(read_model_info(chat_model_path))
    assert refused.value.exit_code == 2


# ---- making one ----------------------------------------------------------------------------------------------
def test_self_draft_of_an_f16_is_a_smaller_copy_with_the_same_vocabulary(models: ModelsService,
                                                                          smollm2_f16_path: Path) -> None:
    events: list[Progress] = []
    path = models.make_self_draft(smollm2_f16_path, progress=events.append)
    assert path == models.self_draft_path(smollm2_f16_path)
    assert path.parent == _drafts_dir(models)
    assert re.fullmatch(r"SmolLM2-135M-Instruct-F16\.[0-9a-f]{8}\.self-Q4_0\.gguf", path.name)
    # another model under the same file name gets its own (they overwrote each other's self-draft)
    namesake = smollm2_f16_path.parent / "elsewhere" / smollm2_f16_path.name
    namesake.parent.mkdir(exist_ok=True)
    namesake.write_bytes(smollm2_f16_path.read_bytes()[: 2**20])
    assert drafts.self_draft_path(models.paths.models_dir, namesake, "Q4_0") != path
    made, source = read_model_info(path), read_model_info(smollm2_f16_path)
    assert made.quantization == "Q4_0" and made.vocab_fingerprint == source.vocab_fingerprint
    assert made.file_size < source.file_size / 2.5
    assert [p.name for p in _drafts_dir(models).iterdir()] == [path.name]  # no temporary file left
    # progress: bytes toward an expected size that is within a few % of the real one, with an ETA
    assert events and {e.job for e in events} == {"self-draft"} and {e.unit for e in events} == {"bytes"}
    assert abs(events[-1].total - made.file_size) < 0.05 * made.file_size
    assert all(e.done <= e.total for e in events) and any(e.eta_s is not None for e in events)
    # a usable self-draft is kept: asking again returns it at once
    again: list[Progress] = []
    mtime = path.stat().st_mtime_ns
    assert models.make_self_draft(str(smollm2_f16_path), progress=again.append) == path
    assert again == [] and path.stat().st_mtime_ns == mtime
    # self-drafts are not chat models: the library does not list them
    assert path not in {p for p, _ in models.library.scan()}


def test_cancel_kills_the_quantizer_and_leaves_nothing(models: ModelsService, smollm2_f16_path: Path) -> None:
    cancel = threading.Event()
    with pytest.raises(DraftCancelledError, match="cancelled; nothing was written"):
        models.make_self_draft(smollm2_f16_path, progress=lambda _p: cancel.set(), cancel=cancel)
    assert list(_drafts_dir(models).iterdir()) == []


def test_a_failed_quantize_says_why_and_leaves_nothing(models: ModelsService, smollm2_f16_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.models import drafts

    # what llama.cpp prints when it fails (e.g. a full disk), from a stand-in for the quantizer child
    monkeypatch.setattr(drafts, "_QUANTIZE", "import sys; open(sys.argv[2], 'wb').write(b'GGUF' * 1000); "
                        "sys.stderr.write('llama_model_quantize: failed to quantize: basic_ios::clear: iostream "
                        "error\\n'); sys.exit(3)")
    with pytest.raises(DraftError, match=r"Could not make a Q4_0 self-draft of SmolLM2 135M Instruct: "
                                         r"basic_ios::clear: iostream error\.$"):
        models.make_self_draft(smollm2_f16_path)
    assert list(_drafts_dir(models).iterdir()) == []


def test_a_model_already_small_gets_no_self_draft(models: ModelsService, chat_model_path: Path) -> None:
    with pytest.raises(NoDraftError, match="already Q4_1, about as small as a draft would be"):
        models.make_self_draft(chat_model_path)
    with pytest.raises(ModelNotFoundError):
        models.make_self_draft("no-such-model")
    assert not _drafts_dir(models).exists() or list(_drafts_dir(models).iterdir()) == []


# ---- candidates --------------------------------------------------------------------------------------------
def test_candidates_say_which_models_can_draft_and_why_the_others_cannot(
        models: ModelsService, smollm2_f16_path: Path, chat_model_path: Path, base_model_path: Path) -> None:
    candidates = models.draft_candidates(smollm2_f16_path)
    by_path = {c.path: c for c in candidates}
    q4_1, gemma = by_path[str(chat_model_path.resolve())], by_path[str(base_model_path.resolve())]
    assert q4_1.compatible and q4_1.kind == SIBLING and q4_1.reason == "" and q4_1.quantization == "Q4_1"
    assert not gemma.compatible and "vocabulary (262144 tokens) differs" in gemma.reason
    self_draft = next(c for c in candidates if c.kind == SELF)
    assert not self_draft.compatible
    assert self_draft.reason.startswith("not made yet: make it in Models (Make self-draft) or with "
                                        "`hearth models draft ")
    assert str(smollm2_f16_path) in self_draft.reason  # not in the library: named by its path
    assert candidates[0] == q4_1  # compatible ones first
    assert json.loads(json.dumps(q4_1.to_dict()))["compatible"] is True

    models.make_self_draft(smollm2_f16_path)
    made = next(c for c in models.draft_candidates(smollm2_f16_path) if c.kind == SELF)
    assert made.compatible and made.reason == "" and made.path.endswith(".self-Q4_0.gguf")

    # the bundled Q4_1 as target: the F16 (outside the library) is not a candidate, nothing is smaller
    for_q4_1 = models.draft_candidates(chat_model_path)
    assert [c.compatible for c in for_q4_1] == [False, False]
    assert "already Q4_1" in next(c for c in for_q4_1 if c.kind == SELF).reason


def test_the_catalog_suggestion_comes_first_or_says_how_to_download_it(
        smollm2_f16_path: Path, chat_model_path: Path, base_model_path: Path) -> None:
    from assistant.models.drafts import draft_candidates
    from assistant.models.library import BUNDLED, LibraryEntry

    def entry(id_: str, file: str, draft: str | None = None) -> CatalogEntry:
        return CatalogEntry(id_, id_.title(), "chat", "org/repo", file, 123, "0" * 64, "135M", "Q4_1", 8192,
                            "MIT", "", draft)

    library = [LibraryEntry(p, BUNDLED, read_model_info(p), None, None) for p in (chat_model_path, base_model_path)]
    downloaded = [entry("f16", smollm2_f16_path.name, draft="small"), entry("small", chat_model_path.name)]
    suggested = draft_candidates(smollm2_f16_path, library, downloaded)
    assert suggested[0].suggested and suggested[0].path == str(chat_model_path) and suggested[0].compatible

    missing = [entry("f16", smollm2_f16_path.name, draft="tiny"), entry("tiny", "Tiny-Q4_0.gguf")]
    listed = draft_candidates(smollm2_f16_path, library, missing)
    tip = next(c for c in listed if c.kind == CATALOG)
    assert (tip.name, tip.path, tip.compatible, tip.suggested, tip.size) == ("Tiny", "", False, True, 123)
    assert tip.reason == "not downloaded: `hearth models download org/repo Tiny-Q4_0.gguf`"
    assert listed[0].path == str(chat_model_path)  # a compatible sibling still comes before it


# ---- choosing one ---------------------------------------------------------------------------------------
def _candidate(name: str, kind: str = SIBLING, compatible: bool = True, reason: str = "",
               suggested: bool = False, size: int = 100) -> DraftCandidate:
    path = "" if kind == CATALOG else f"/models/{name}.gguf"
    return DraftCandidate(name, path, kind, compatible, reason, suggested, size)


def test_resolve_draft_rules(smollm2_f16_path: Path) -> None:
    target = smollm2_f16_path
    small, smaller = _candidate("small", size=200), _candidate("smaller", size=100)
    suggested = _candidate("suggested", suggested=True, size=300)
    other_vocab = _candidate("gemma", compatible=False, reason="its vocabulary differs")
    made = _candidate("me self-draft", kind=SELF, size=50)
    not_made = _candidate("me self-draft", kind=SELF, compatible=False,
                          reason="not made yet: make it in Models (Make self-draft) or with "
                                 "`hearth models draft me.gguf`")
    download = _candidate("tiny", kind=CATALOG, compatible=False, suggested=True,
                          reason="not downloaded: `hearth models download org/repo tiny.gguf`")

    for mode in ("off", "ngram"):
        assert resolve_draft(target, mode, "small", [small]) is None
    with pytest.raises(InputError, match="choose one of"):
        resolve_draft(target, "turbo", "", [small])

    # draft: the configured one, else the suggested sibling, else the smallest compatible one
    assert resolve_draft(target, "draft", "SMALL", [smaller, small, suggested]) == Path("/models/small.gguf")
    assert resolve_draft(target, "draft", "/models/small.gguf", [small, smaller]) == Path("/models/small.gguf")
    assert resolve_draft(target, "draft", "", [small, suggested, smaller]) == Path("/models/suggested.gguf")
    assert resolve_draft(target, "draft", "", [small, smaller, made]) == Path("/models/smaller.gguf")
    with pytest.raises(NoDraftError, match="gemma cannot draft for SmolLM2 135M Instruct: its vocabulary differs"):
        resolve_draft(target, "draft", "gemma", [small, other_vocab])
    unreadable = _candidate("broken", compatible=False, reason="Its header cannot be read.")
    with pytest.raises(NoDraftError) as refused:
        resolve_draft(target, "draft", "broken", [small, unreadable])
    assert str(refused.value).endswith(": Its header cannot be read.")  # one full stop, not two
    with pytest.raises(NoDraftError, match="there is no model 'llama'"):
        resolve_draft(target, "draft", "llama", [small])
    with pytest.raises(NoDraftError, match="several draft candidates"):
        resolve_draft(target, "draft", "smal", [small, smaller])
    with pytest.raises(NoDraftError, match=r"No draft model for SmolLM2 135M Instruct: `hearth models download "
                                           r"org/repo tiny.gguf`, or add a smaller model with the same vocabulary, "
                                           r"or make it in Models \(Make self-draft\) or with "
                                           r"`hearth models draft me.gguf`\."):
        resolve_draft(target, "draft", "", [other_vocab, download, not_made])

    # self: the self-draft, or how to make it
    assert resolve_draft(target, "self", "", [small, made]) == Path("/models/me self-draft.gguf")
    with pytest.raises(NoDraftError, match=r"No self-draft for SmolLM2 135M Instruct: not made yet: make it in Models "
                                           r"\(Make self-draft\) or with `hearth models"):
        resolve_draft(target, "self", "", [small, not_made])

    # auto: never an error; a sibling, else the self-draft, else none (n-gram only)
    assert resolve_draft(target, "auto", "gemma", [other_vocab, small]) == Path("/models/small.gguf")
    assert resolve_draft(target, "auto", "nothing-like-it", [small]) == Path("/models/small.gguf")
    assert resolve_draft(target, "auto", "", [other_vocab, made]) == Path("/models/me self-draft.gguf")
    assert resolve_draft(target, "auto", "", [other_vocab, download, not_made]) is None


def test_service_resolves_with_the_settings_and_real_files(hearth_home: Path, smollm2_f16_path: Path,
                                                           chat_model_path: Path) -> None:
    settings = Settings()
    models = ModelsService(get_paths().ensure(), lambda: settings)
    assert models.resolve_draft(smollm2_f16_path) == chat_model_path.resolve()  # auto by default
    with pytest.raises(NoDraftError, match="Gemma 3 270M cannot draft for SmolLM2 135M Instruct"):
        models.resolve_draft(smollm2_f16_path, "draft", "gemma")
    settings.model.speculative, settings.model.draft_model = "draft", str(chat_model_path)
    assert models.resolve_draft(smollm2_f16_path) == chat_model_path.resolve()
    # the configured model (the bundled Q4_1) has nothing smaller with its vocabulary
    assert models.resolve_draft(None, "auto", "") is None
    with pytest.raises(NoDraftError, match="already Q4_1"):
        models.resolve_draft(None, "self", "")


# ---- the command line ------------------------------------------------------------------------------------
def _hearth(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEARTH_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


def test_cli_models_draft_and_drafts(hearth_home: Path, smollm2_f16_path: Path, chat_model_path: Path) -> None:
    # what a `hearth models draft` killed with kill -9 left (it stayed forever, hidden), and one still being written
    folder = get_paths().ensure().models_dir / "drafts"
    folder.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    killed, running = (folder / f".x.self-Q4_0.gguf.{pid}.part" for pid in (gone.pid, os.getpid()))
    killed.write_bytes(b"GGUF" * 1000)
    running.write_bytes(b"GGUF")
    made = _hearth("models", "draft", str(smollm2_f16_path), home=hearth_home)
    assert made.returncode == 0, made.stderr
    path = Path(made.stdout.strip())
    assert not killed.exists() and running.exists()
    running.unlink()
    assert path.is_file() and re.fullmatch(r"SmolLM2-135M-Instruct-F16\.[0-9a-f]{8}\.self-Q4_0\.gguf", path.name)
    assert "MB (" in made.stderr and "Made: a 91.7 MB self-draft of SmolLM2 135M Instruct" in made.stderr
    # when it drafts, as `hearth models drafts` says it (auto mode prefers a smaller sibling: "self or auto" read
    # as if auto always drafted with it)
    assert "when the speculative mode is self, and in auto mode when neither a draft model set nor a smaller " \
        "model" in " ".join(made.stderr.split())

    again = _hearth("models", "draft", str(smollm2_f16_path), "--json", home=hearth_home)
    assert again.returncode == 0 and json.loads(again.stdout) == {
        "path": str(path), "target": str(smollm2_f16_path), "size": path.stat().st_size, "made": False}

    listed = _hearth("models", "drafts", str(smollm2_f16_path), "--json", home=hearth_home)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert data["mode"] == "auto" and data["draft"] == str(chat_model_path.resolve()) and data["note"] is None
    assert [(c["kind"], c["compatible"]) for c in data["candidates"]] == [
        ("self", True), ("sibling", True), ("sibling", False)]
    text = _hearth("models", "drafts", str(smollm2_f16_path), home=hearth_home)
    assert text.returncode == 0
    assert "✗ Gemma 3 270M  Q4_K_M  253 MB  (sibling)\n  Gemma 3 270M's vocabulary" in text.stdout
    assert f"With speculative = auto: SmolLM2 135M Instruct ({chat_model_path.resolve()})" in text.stdout

    # not a chat model: `models list` does not show it
    assert path.name not in _hearth("models", "list", home=hearth_home).stdout

    # removing the model deletes its self-draft: it stayed in drafts/, out of reach of every command
    assert _hearth("models", "add", str(smollm2_f16_path), home=hearth_home).returncode == 0
    removed = _hearth("models", "remove", str(smollm2_f16_path), home=hearth_home)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.splitlines() == [f"Removed from the library (still on disk): {smollm2_f16_path}",
                                           f"Deleted a self-draft only it used: {path}"]
    assert not path.exists() and smollm2_f16_path.exists()

    # and so does forgetting the folder the model was found in (its self-draft stayed)
    folder = smollm2_f16_path.parent
    assert _hearth("models", "add", str(folder), home=hearth_home).returncode == 0
    assert _hearth("models", "draft", str(smollm2_f16_path), home=hearth_home).returncode == 0 and path.exists()
    removed = _hearth("models", "remove", str(folder), home=hearth_home)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.splitlines() == [f"Removed from the library (still on disk): {folder.resolve()}",
                                           f"Deleted a self-draft only it used: {path}"]
    assert not path.exists() and smollm2_f16_path.exists()


@pytest.mark.parametrize(("name", "code", "needle"), [
    ("SmolLM2-135M-Instruct.Q4_1.gguf", 2, "already Q4_1, about as small as a draft would be"),
    ("no-such-model", 3, "no-such-model"),
])
def test_cli_models_draft_refusals_are_one_line(hearth_home: Path, name: str, code: int, needle: str) -> None:
    out = _hearth("models", "draft", name, home=hearth_home)
    assert out.returncode == code and out.stdout == ""
    assert out.stderr.startswith("hearth: ") and out.stderr.count("\n") == 1 and needle in out.stderr
    drafts = get_paths().models_dir / "drafts"
    assert not drafts.exists() or list(drafts.iterdir()) == []


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_cli_ctrl_c_cancels_cleanly(hearth_home: Path, smollm2_f16_path: Path, stop: signal.Signals) -> None:
    """SIGTERM (a logout, `timeout`, `systemctl stop`) ends it as Ctrl+C does: it ended the process at once,
    and left the half-written copy (.NAME.PID.part, GBs for a large model) in data/models/drafts/."""
    env = {**os.environ, "HEARTH_HOME": str(hearth_home), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "app", "models", "draft", str(smollm2_f16_path)], cwd=ROOT,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    seen = b""
    while b" MB (" not in seen:  # the progress line has started: the quantizer is running
        chunk = proc.stderr.read(1)
        assert chunk, seen.decode()
        seen += chunk
    proc.send_signal(stop)
    stdout, stderr = proc.communicate(timeout=60)
    stderr = (seen + stderr).decode()
    assert proc.returncode == 130, stderr
    assert "hearth: cancelled; nothing was written." in stderr and "Traceback" not in stderr and stdout == b""
    assert list((get_paths().models_dir / "drafts").iterdir()) == []
