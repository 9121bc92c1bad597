"""Every ``hearth`` command misused as a user would, and read by a reader that goes away early.

Real processes with a fresh HEARTH_HOME: a wrong id, a missing file, a bad number, a bad collection name or a
folder where a file belongs each end with one readable ``hearth: ...`` line on stderr and the exit code the
README promises (2 unusable input, 3 model, 4 unknown conversation/collection/memory); a closed stdout ends
the command quietly with 141, as a shell reports a command that SIGPIPE stopped. Never a traceback.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from checks import run_read_only

ROOT = Path(__file__).resolve().parents[2]
BROKEN_PIPE = 141


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "HEARTH_HOME": str(home), "HF_HUB_OFFLINE": "1"}


def hearth(*args: str, home: Path) -> Run:
    out = subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=_env(home), capture_output=True,
                         text=True, timeout=300, stdin=subprocess.DEVNULL)
    return Run(out.returncode, out.stdout, out.stderr)


def hearth_into_closed_pipe(*args: str, home: Path, read: int = 0) -> Run:
    """Run with a stdout reader that takes ``read`` bytes (0: none at all) and then closes its end."""
    proc = subprocess.Popen([sys.executable, "-m", "app", *args], cwd=ROOT, env=_env(home),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    head = proc.stdout.read(read) if read else b""
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    return Run(proc.wait(timeout=300), head.decode(errors="replace"), stderr)


def assert_one_line(run: Run, code: int, needle: str = "") -> None:
    """A refusal: the expected exit code and one ``hearth: ...`` line on stderr (nothing on stdout)."""
    assert "Traceback" not in run.stderr, run.stderr
    assert "a bug in Hearth" not in run.stderr, run.stderr
    assert run.code == code, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hearth: "), run.stderr
    assert needle in lines[0]
    assert run.stdout == ""


def with_settings(home: Path, text: str) -> Path:
    """``home`` (a HEARTH_HOME) with ``text`` as its settings file."""
    settings = home / "config" / "settings.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text(text)
    return home


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hearth-home")


@pytest.mark.parametrize("broken", ["link to nowhere", "file"])
def test_a_data_folder_that_cannot_be_made_is_named(broken: str, tmp_path: Path) -> None:
    """HEARTH_HOME/config as a link to a folder that is gone, or as a file: said in one line, not as "a bug"."""
    home = tmp_path / "home"
    home.mkdir()
    if broken == "file":
        (home / "config").write_text("")
    else:
        (home / "config").symlink_to(tmp_path / "gone")
    run = hearth("collections", "list", home=home)
    assert_one_line(run, 1, f"Hearth cannot create its folder {home / 'config'}: it is a "
                            + ("file, not a folder" if broken == "file" else f"link to {tmp_path / 'gone'}"))


def test_changing_a_collection_on_a_read_only_data_folder_is_one_line(tmp_path: Path) -> None:
    """`hearth index` (and every command that changes a collection) on a read-only data folder ended as "a bug
    in Hearth: OSError: [Errno 30] Read-only file system: '…/data/locks/notes.lock'" (exit 70)."""
    home, notes = tmp_path / "home", tmp_path / "notes"
    notes.mkdir()
    (notes / "kettle.txt").write_text("The kettle whistles when the water boils.\n")
    assert hearth("index", str(notes), "-c", "notes", home=home).code == 0
    # the index opens on a read-only folder while its write-ahead log is on disk (the window has it open)
    with closing(sqlite3.connect(home / "data" / "index-manifest.sqlite3")) as window:
        window.execute("SELECT COUNT(*) FROM chunks").fetchone()
        for args in (("index", str(notes), "-c", "notes"), ("index", str(notes), "-c", "new"),
                     ("collections", "remove", "notes"), ("collections", "rename", "notes", "kettles")):
            run = run_read_only(home, sys.executable, "-m", "app", *args, env=_env(home))
            assert run.returncode == 1 and "Traceback" not in run.stderr and "bug" not in run.stderr, run.stderr
            said = run.stderr.strip().splitlines()[-1]
            assert said.startswith(f"hearth: Collection {args[-1] if args[0] == 'index' else 'notes'!r} cannot be "
                                   "changed now: Hearth cannot write ") and ".lock: its folder cannot be written " \
                "(read-only or no permission). Make the data folder writable, then try again." in said, run.stderr
    assert "kettle.txt" in hearth("search", "kettle", "-c", "notes", home=home).stdout  # nothing was lost


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A missing file, a folder, an empty and a truncated .gguf, and a file nobody may read."""
    root = tmp_path_factory.mktemp("bad-files")
    (root / "folder.gguf").mkdir()
    (root / "empty.gguf").write_bytes(b"")
    (root / "cut.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 7)
    (root / "locked.jsonl").write_text('{"text": "x"}\n')  # see test_an_unreadable_file_gets_one_line
    return root


def refusal(*args: str, code: int, needle: str, slow: bool = False) -> Any:
    """One misuse: the arguments ({f} is the folder of bad files), its exit code and part of its message.
    ``slow``: it loads the chat model or the memory store's embedder, or starts `hearth chat`'s background work."""
    return pytest.param(args, code, needle, id=" ".join(args), marks=[pytest.mark.slow] if slow else [])


REFUSALS = [
    refusal("nosuch", code=2, needle="invalid choice"),
    # a folder with a typo: it said "invalid choice", as for a misspelt command
    refusal("{f}/no-such-folder", code=2, needle="There is no file or folder"),
    refusal("models", code=2, needle="required"),
    refusal("history", "export", "nope", code=4, needle="nope"),
    refusal("history", "export", "nope", "--format", "json", code=4, needle="nope"),
    refusal("history", "rename", "nope", "New title", code=4, needle="nope"),
    refusal("chat", "-c", "nope", code=4, needle="nope"),
    # it loaded the model, failed every question and ended with exit 0
    refusal("chat", "--collection", "nope", code=4, needle="no knowledge collection named 'nope'"),
    refusal("history", "search", " ", code=2, needle="search text is empty"),  # it printed nothing, exit 0
    # it said "there is no model 'gemma'" (a bundled model) and answered without it
    refusal("ask", "--no-memory", "--draft-model", "gemma", "hi", code=2, needle="Gemma 3 270M cannot draft for"),
    # it answered, ignoring the draft model named
    refusal("ask", "--speculative", "off", "--draft-model", "gemma", "hi", code=2,
            needle="A draft model drafts only when speculative decoding is 'draft' or 'auto'"),
    refusal("history", "delete", "nope", code=4, needle="nope"),
    refusal("ask", "--max-tokens", "many", "Hi?", code=2, needle="--max-tokens"),
    refusal("ask", "--max-tokens", "0", "Hi?", code=2, needle="--max-tokens"),
    # a million was taken, where the settings file and the window stop at 32768
    refusal("ask", "--max-tokens", "40000", "Hi?", code=2, needle="expected a number from 1 to 32768, not '40000'"),
    refusal("ask", "--preset", "spicy", "Hi?", code=2, needle="spicy"),
    refusal("ask", "--temperature", "nan", "Hi?", code=2, needle="from 0.0 to 2.0"),
    refusal("ask", "--speculative", "draft", "--draft-model", "nosuch", "Hi?", code=2,
            needle="The draft model 'nosuch' cannot be used"),
    # `hearth chat` loaded the model, then refused every message; an empty name was taken as none
    refusal("chat", "--speculative", "draft", "--draft-model", "nosuch", code=2,
            needle="The draft model 'nosuch' cannot be used"),
    refusal("ask", "--draft-model", " ", "Hi?", code=2, needle="Name the draft model"),
    # "there is no model 'SmolLM2-…'" of the model that answers, which -m accepts by that name
    refusal("ask", "--draft-model", "SmolLM2-135M-Instruct.Q4_1.gguf", "Hi?", code=2, needle="is the model answering"),
    # by its shown name: its self-draft "cannot draft for SmolLM2 135M Instruct: … already Q4_1"
    refusal("ask", "--speculative", "draft", "--draft-model", "SmolLM2 135M Instruct", "Hi?", code=2,
            needle="is the model answering"),
    refusal("ask", "--temperature", "-1", "Hi?", code=2, needle="from 0.0 to 2.0"),
    refusal("ask", "-m", "{f}/missing.gguf", "Hi?", code=3, needle="missing.gguf"),
    refusal("ask", "--collection", "../up", "Hi?", code=2, needle="../up", slow=True),
    refusal("chat", "-m", "{f}/missing.gguf", code=3, needle="missing.gguf", slow=True),
    refusal("memory", "edit", "nope", "text", code=4, needle="nope", slow=True),
    refusal("memory", "forget", "nope", code=4, needle="nope", slow=True),
    refusal("memory", "search", "dog", "-k", "0", code=2, needle="-k"),
    refusal("memory", "search", "dog", "-k", "lots", code=2, needle="-k"),
    refusal("memory", "process", "--limit", "-1", code=2, needle="--limit"),
    refusal("memory", "export", "-o", "{f}/folder.gguf", code=2, needle="folder.gguf", slow=True),
    refusal("memory", "import", "{f}/folder.gguf", code=2, needle="folder.gguf is a folder"),
    refusal("memory", "import", "{f}/cut.gguf", code=2, needle="cut.gguf is not JSON"),
    refusal("memory", "import", "{f}/missing.json", code=2, needle="There is no file"),
    refusal("memory", "add", " ", code=2, needle="cannot be empty"),  # before the store opens (it took 2 s)
    refusal("memory", "edit", "nope", " ", code=2, needle="cannot be empty; use forget"),
    refusal("memory", "forget", " ", code=2, needle="Give a memory's id"),  # "no memory with id ." after 2 s
    refusal("memory", "clear", code=2, needle="--yes"),
    refusal("models", "inspect", "{f}/missing.gguf", code=3, needle="not found"),
    refusal("models", "inspect", "{f}/folder.gguf", code=3, needle="folder"),
    refusal("models", "inspect", "{f}/empty.gguf", code=3, needle="is empty (0 bytes)"),
    refusal("models", "inspect", "{f}/cut.gguf", code=3, needle="truncated"),
    refusal("models", "add", "{f}/missing.gguf", code=3, needle="not found"),
    refusal("models", "use", "no-such-model", code=3, needle="no-such-model"),
    refusal("models", "remove", "no-such-model", code=3, needle="no-such-model"),
    refusal("models", "use", " ", code=2, needle="Name a model"),
    refusal("history", "rename", "nosuch", " ", code=2, needle="title cannot be empty"),
    refusal("models", "list", "--ctx", "-5", code=2, needle="--ctx"),
    # unusable input, not a failed download (exit 5)
    refusal("models", "download", "bad repo!", "x.gguf", code=2, needle="not a Hugging Face repository name"),
    refusal("models", "download", "owner/repo", "notes.txt", code=2, needle="is not a .gguf file"),
    refusal("models", "search", " ", code=2, needle="Give words to search for"),  # it searched for everything
    refusal("index", "{f}", "--collection", "bad/name", code=2, needle="bad/name"),
    refusal("search", "x", "--collection", "bad/name", code=2, needle="bad/name"),
    refusal("search", "x", "--collection", "nosuch", code=4, needle="nosuch"),
    refusal("search", "x", "-k", "0", code=2, needle="-k"),
    refusal("search", "x", "-k", "4294967296", code=2, needle="from 1 to 1,000,000"),
    refusal("search", " ", code=2, needle="search text is empty"),
    refusal("memory", "search", "", code=2, needle="search text is empty"),  # "No memories.", exit 0
    refusal("index", "{f}/missing-folder", "-c", "x", code=2, needle="missing-folder"),
    # a file with no reader made an empty collection and exit 0 ("0 files, 0 chunks")
    refusal("index", "{f}/cut.gguf", "-c", "x", code=2, needle="no reader for 'cut.gguf'"),
    refusal("search", "--queries", "{f}/missing.jsonl", code=2, needle="missing.jsonl"),
    refusal("search", "--queries", "{f}/folder.gguf", code=2, needle="folder.gguf"),
    refusal("collections", "remove", "nosuch", code=4, needle="nosuch"),
    refusal("collections", "watch", "bad/name", "on", code=2, needle="bad/name"),
    refusal("bench", "startup", "--reps", "0", code=2, needle="--reps"),
    refusal("serve", "--port", "99999", code=2, needle="--port"),
    refusal("serve", "--parallel", "0", code=2, needle="--parallel"),
    refusal("serve", "--parallel", "100", code=2, needle="from 1 to 8"),
    refusal("serve", "--host", "192.0.2.1", code=1, needle="cannot listen on 192.0.2.1"),
    refusal("bench", "engine", "--model", "{f}/missing.gguf", code=3, needle="missing.gguf"),
]


@pytest.mark.parametrize(("args", "code", "needle"), REFUSALS)
def test_bad_arguments_get_one_line_and_their_exit_code(args: tuple[str, ...], code: int, needle: str, home: Path,
                                                        files: Path) -> None:
    assert_one_line(hearth(*(a.replace("{f}", str(files)) for a in args), home=home), code, needle)


#: ``hearth`` in a process where opening a file whose name ends with $DENY is refused, as the system refuses a
#: user it does not allow (root, who runs CI, may read any file, so a chmod alone never made such a test run)
_DENIED = """
import os, sys
def deny(event, args):
    if event == "open" and isinstance(args[0], (str, os.PathLike)) and os.fspath(args[0]).endswith(os.environ["DENY"]):
        raise PermissionError(13, "Permission denied", os.fspath(args[0]))
sys.addaudithook(deny)
from app.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def hearth_denied(*args: str, home: Path, deny: str) -> Run:
    out = subprocess.run([sys.executable, "-c", _DENIED, *args], cwd=ROOT, env={**_env(home), "DENY": deny},
                         capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    return Run(out.returncode, out.stdout, out.stderr)


def test_an_unreadable_file_gets_one_line(home: Path, files: Path) -> None:
    queries = str(files / "locked.jsonl")
    assert_one_line(hearth_denied("search", "--queries", queries, home=home, deny="locked.jsonl"), 2,
                    "Permission denied")
    assert_one_line(hearth_denied("models", "inspect", queries, home=home, deny="locked.jsonl"), 3, "locked.jsonl")


def test_an_unreadable_settings_file_is_left_as_it_is_and_never_saved_over(tmp_path: Path) -> None:
    """It was taken for a damaged one: moved aside as settings.toml.corrupt-*, defaults used, and the next
    save (`hearth models use`, the API token at the first `hearth serve`) left the user's settings behind."""
    home = with_settings(tmp_path, "[model]\nn_ctx = 2048\n")
    settings = home / "config" / "settings.toml"
    listed = hearth_denied("history", "list", home=home, deny="settings.toml")
    assert listed.code == 0 and listed.stderr.count("cannot be read (Permission denied)") == 1, listed.stderr
    assert "left as it is" in listed.stderr and "Traceback" not in listed.stderr
    switched = hearth_denied("models", "use", "gemma", home=home, deny="settings.toml")
    assert switched.code == 1 and "Hearth did not save the settings" in switched.stderr, switched.stderr
    assert [p.name for p in settings.parent.iterdir() if p.name.startswith("settings")] == ["settings.toml"]
    assert settings.read_text() == "[model]\nn_ctx = 2048\n"



@pytest.mark.parametrize(("name", "text", "save"), [
    ("model-profiles.toml", '[models."x.gguf"]\nn_ctx = 1024\n', ("models", "use", "gemma")),
    ("model-library.toml", 'folders = []\nfiles = ["/models/mine.gguf"]\n', ("models", "add", "{tmp}")),
])
def test_an_unreadable_models_file_is_said_left_as_it_is_and_never_saved_over(
        tmp_path: Path, name: str, text: str, save: tuple[str, ...]) -> None:
    """The models' settings and the library's list were moved aside as damaged, read as empty (the user's
    models gone from the list) and the next save replaced them."""
    home = tmp_path / "home"
    kept = home / "config" / name
    kept.parent.mkdir(parents=True)
    kept.write_text(text)
    refused = hearth_denied(*(a.format(tmp=tmp_path) for a in save), home=home, deny=name)
    assert f"{name} cannot be read (Permission denied); read as empty" in refused.stderr, refused.stderr
    assert refused.code != 0 and "hearth: Hearth did not save the" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert [p.name for p in kept.parent.iterdir() if p.name.startswith(name)] == [name] and kept.read_text() == text


def test_an_empty_question_saves_nothing(home: Path) -> None:
    assert_one_line(hearth("ask", "", home=home), 2, "empty")
    assert json.loads(hearth("history", "list", "--json", home=home).stdout) == []


def test_a_broken_configured_model_is_a_model_error(tmp_path: Path, files: Path) -> None:
    with_settings(tmp_path, f'[model]\npath = "{files / "cut.gguf"}"\n')
    assert_one_line(hearth("ask", "Hello?", home=tmp_path), 3, "truncated")


def test_a_mode_asked_for_on_the_command_line_is_strict_when_the_settings_hold_it_too(tmp_path: Path) -> None:
    """With `speculative = "self"` saved, `hearth ask --speculative self` warned, answered plainly and exited 0,
    where with another mode saved the same command was refused (exit 2): scripts could not trust the exit code."""
    out = hearth("ask", "--no-memory", "--speculative", "self", "Hi?",
                 home=with_settings(tmp_path, '[model]\nspeculative = "self"\n'))
    assert_one_line(out, 2, "already Q4_1")


def test_a_corrupt_settings_file_is_reported_once(tmp_path: Path) -> None:
    out = hearth("history", "list", home=with_settings(tmp_path, "[model\nn_ctx = = 3"))
    assert out.code == 0 and out.stderr.count("is not valid TOML") == 1, out.stderr


def test_a_settings_file_that_cannot_be_read_leaves_memory_off(tmp_path: Path) -> None:
    """A typo in a file that had switched memory off read it as the defaults, memory on: the window learned from
    every chat the user meant to keep out of memory, and `settings show` said memory.enabled = true."""
    home = with_settings(tmp_path, "[memory]\nenabled = false\n[model\n")
    out = hearth("settings", "show", home=home)
    assert out.code == 0 and "memory.enabled = false" in out.stdout, out.stdout
    assert "defaults are used, with memory off until it reads" in out.stderr, out.stderr


def test_a_setting_out_of_range_or_unknown_is_named_and_the_nearest_value_used(tmp_path: Path) -> None:
    """``max_tokens = 0`` in the file made every answer empty, blamed on the model; a misspelt key was silent."""
    out = hearth("collections", "list", home=with_settings(tmp_path, "[model]\nmax_tokens = 0\nmax_tokenz = 5\n"))
    assert out.code == 0 and out.stderr.count("Settings file") == 1, out.stderr
    assert "model.max_tokens = 0 is outside 1 to 32768 (using 1024)" in out.stderr
    assert "model.max_tokenz is not a setting Hearth knows (ignored)" in out.stderr
    # and an answer's --json says it too (its notices were [] beside the warning on stderr)
    out = hearth("ask", "--no-memory", "--json", "--max-tokens", "4", "Hi?",
                 home=with_settings(tmp_path / "other", "[model]\ntemperature = 9.5\n"))
    notices = json.loads(out.stdout)["notices"]
    assert out.code == 0 and notices[0]["kind"] == "settings", out.stdout
    assert "model.temperature = 9.5 is outside 0.0 to 2.0 (using 2.0)" in notices[0]["message"]


CLOSED_PIPE = [("models", "list"), ("models", "list", "--json"), ("models", "catalog", "--json"),
               ("history", "list", "--json"), ("collections", "list"),
               pytest.param(("memory", "status"), marks=pytest.mark.slow)]


@pytest.mark.parametrize("args", CLOSED_PIPE, ids=" ".join)
def test_a_reader_that_goes_away_ends_the_command_quietly(args: tuple[str, ...], home: Path) -> None:
    out = hearth_into_closed_pipe(*args, home=home)
    assert (out.code, out.stderr) == (BROKEN_PIPE, "")


@pytest.mark.parametrize("args", [("settings",), ("models", "list"), ("--version",)], ids=" ".join)
def test_no_stdout_at_all_or_a_full_one_is_said_not_a_bug(args: tuple[str, ...], home: Path) -> None:
    """Started with stdout closed (`hearth settings >&-`), every command ended in a traceback ("'NoneType' object
    has no attribute 'flush'"); into a full one (`> /dev/full`), "a bug in Hearth", or nothing at all."""
    def shell(redirect: str) -> Run:
        command = " ".join([shlex.quote(sys.executable), "-m", "app", *map(shlex.quote, args), redirect])
        out = subprocess.run(["bash", "-c", command], cwd=ROOT, env=_env(home), capture_output=True, text=True,
                             timeout=300, stdin=subprocess.DEVNULL)
        return Run(out.returncode, out.stdout, out.stderr)

    closed = shell(">&-")
    assert (closed.code, closed.stderr) == (0, "")
    full = shell("> /dev/full")
    assert (full.code, full.stderr) == (74, "hearth: the output could not be written: No space left on device.\n")


def test_a_reader_that_takes_a_little_and_leaves(home: Path) -> None:
    out = hearth_into_closed_pipe("models", "catalog", home=home, read=10)
    assert out.stdout and out.code in (0, BROKEN_PIPE) and out.stderr == ""
    out = hearth_into_closed_pipe("--help", home=home)
    assert out.code in (0, BROKEN_PIPE) and out.stderr == ""  # argparse itself ignores a failed write


def remove_chain(top: Path) -> None:
    """Delete a ``d/d/.../d`` chain bottom-up: ``shutil.rmtree`` recurses once per level and would fail on it,
    and so would pytest's own clean-up of old temporary folders, in every later test session."""
    chain, folder = [], top
    while folder.is_dir():
        chain.append(folder)
        folder = folder / "d"
    for folder in reversed(chain):
        for entry in folder.iterdir():
            entry.unlink()  # the folder below was removed in the step before
        folder.rmdir()


@pytest.fixture(scope="module")
def indexed(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A collection of a top-level note, 60 small notes, a damaged PDF and a folder 1,100 levels deep."""
    import pypdf

    root = tmp_path_factory.mktemp("notes")
    (root / "top.txt").write_text("The greenhouse key hangs behind the blue door.\n")
    for i in range(60):
        (root / f"note{i:02d}.txt").write_text(f"Note {i} is about the greenhouse and key number {i}.\n")
    writer, pdf = pypdf.PdfWriter(), io.BytesIO()
    writer.add_blank_page(100, 100)
    writer.write(pdf)
    (root / "damaged.pdf").write_bytes(re.sub(rb"startxref\s+\d+", b"startxref\n999", pdf.getvalue()))
    try:
        deep = root
        for _ in range(1100):  # deeper than Python's recursion limit (which mkdir(parents=True) would hit too)
            deep = deep / "d"
            deep.mkdir()
        (deep / "bottom.txt").write_text("Too deep to be indexed.\n")
        out = hearth("index", str(root), "--collection", "notes", "--json", home=home)
        assert out.code == 0 and "Traceback" not in out.stderr, out.stderr
        result = json.loads(out.stdout)
        assert result["files"] == 61  # everything but the too-deep file and the PDF without text
        assert {(Path(s["path"]).name, s["reason"]) for s in result["skipped"]} == {
            ("d", "nested more than 100 folders deep (not indexed)"),
            ("damaged.pdf", "no extractable text (scanned PDF?)")}
        assert out.stderr.count("damaged.pdf is a damaged PDF") == 1  # pypdf's complaint names the file, once
        said = next(line for line in out.stderr.splitlines() if "damaged.pdf is a damaged PDF" in line)
        assert said.startswith("hearth: "), said  # it read "WARNING assistant.knowledge.loaders: …"
        yield root
    finally:
        remove_chain(root / "d")


@pytest.mark.slow
@pytest.mark.parametrize("args", [("--json",), ("-k", "50")], ids=" ".join)
def test_search_into_a_closed_pipe(args: tuple[str, ...], home: Path, indexed: Path) -> None:
    for read in (0, 20):
        out = hearth_into_closed_pipe("search", "greenhouse key", "--collection", "notes", *args, home=home,
                                      read=read)
        assert out.code in (0, BROKEN_PIPE) and out.stderr == "", out.stderr
    assert "top.txt" in hearth("search", "greenhouse key", "-c", "notes", "--json", home=home).stdout


@pytest.mark.slow
def test_ask_failures_save_nothing_and_a_closed_pipe_is_quiet(home: Path) -> None:
    too_long = "Why? " + "very " * 6000
    assert_one_line(hearth("ask", "--max-tokens", "4", too_long, home=home), 2, "context")
    assert_one_line(hearth("ask", "--max-tokens", "4", "-c", "nope", "Hi?", home=home), 4, "nope")
    assert json.loads(hearth("history", "list", "--json", home=home).stdout) == []
    out = hearth_into_closed_pipe("ask", "--max-tokens", "4", "--no-memory", "Say hello.", home=home)
    assert (out.code, "Traceback" in out.stderr) == (BROKEN_PIPE, False), out.stderr


@pytest.mark.slow
def test_ctrl_c_while_a_long_prompt_is_read_ends_quietly(tmp_path: Path) -> None:
    """The interrupt reached the main thread while the decode thread was inside llama_decode; the model was then
    closed under it and the process died of a segmentation fault (4 of 13 runs on a busy machine)."""
    question = "Summarise: " + " ".join(["river", "stone", "cloud", "field"] * 700)  # ~2,800 tokens, 1 s batches
    proc = subprocess.Popen([sys.executable, "-m", "app", "ask", "--no-memory", question], cwd=ROOT,
                            env={**_env(tmp_path), "PYTHONFAULTHANDLER": "1"}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(5)  # the model is loaded and the prompt's batches are being read
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] in (
        "hearth: interrupted", "hearth: stopped before the answer began: the question was not kept"), err


@pytest.mark.slow
def test_an_answer_stopped_by_ctrl_c_into_a_pipe_ends_its_line(tmp_path: Path) -> None:
    """`hearth ask … > file` stopped with Ctrl+C left the answer without its line end: the shell's next output
    ran on into it ("…in the land ofrc=130")."""
    import select

    proc = subprocess.Popen([sys.executable, "-m", "app", "ask", "--no-memory", "--max-tokens", "400",
                             "Tell me a very long story about a dragon."], cwd=ROOT, env=_env(tmp_path),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    shown = b""
    deadline = time.monotonic() + 120
    while len(shown) < 40 and time.monotonic() < deadline:  # the answer is streaming
        if select.select([proc.stdout], [], [], 0.2)[0]:
            shown += os.read(proc.stdout.fileno(), 4096)
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=120)
    out = (shown + rest).decode()
    assert proc.returncode == 130 and len(out) >= 40 and out.endswith("\n"), (out, err)


def test_arguments_that_are_not_utf8_are_refused_in_one_line(home: Path) -> None:
    """A terminal in another encoding passes bytes Python cannot decode: a question, a search or a memory that
    is not UTF-8 ended as "unexpected error (a bug in Hearth): UnicodeEncodeError"."""
    for args in (("search", "caf\udce9"), ("history", "search", "caf\udce9"), ("ask", "--json", "hi \udcff")):
        assert_one_line(hearth(*args, home=home), 2, "not valid UTF-8")


@pytest.mark.slow
def test_a_terminal_that_cannot_show_a_character_gets_an_escape_not_a_bug(tmp_path: Path) -> None:
    """In an ISO-8859-1 terminal every command that printed Chinese text, a Cyrillic name or an emoji ended as
    "unexpected error (a bug in Hearth): UnicodeEncodeError" (exit 70), search and ``--json`` included."""
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "北京.md").write_text("# Trip 🌱\n\nThe greenhouse key for the trip to 北京 is with Вера.\n")
    home = tmp_path / "home"
    assert hearth("index", str(folder), "-c", "notes", home=home).code == 0
    latin1 = {**_env(home), "PYTHONIOENCODING": "iso8859-1"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        out = subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=latin1, capture_output=True,
                             timeout=300, stdin=subprocess.DEVNULL, text=True, encoding="iso8859-1")
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
        return out

    text = run("search", "greenhouse key", "-c", "notes").stdout
    assert "\\u5317\\u4eac" in text and "\\u0412\\u0435\\u0440\\u0430" in text, text  # 北京, Вера
    hits = json.loads(run("search", "greenhouse key", "-c", "notes", "--json").stdout)["hits"]
    assert "北京" in hits[0]["text"] and "Вера" in hits[0]["text"]
    (tmp_path / "q.jsonl").write_text('{"id": 1, "text": "greenhouse key"}\n')
    line = json.loads(run("search", "--queries", str(tmp_path / "q.jsonl"), "-c", "notes").stdout)
    assert "Вера" in line["hits"][0]["text"]


def test_a_file_name_that_is_not_utf8_is_skipped_and_the_rest_indexed(tmp_path: Path) -> None:
    """One such name aborted the whole run (UnicodeEncodeError) and nothing was indexed; a link to nothing
    and a named pipe given as the path were not reported (the pipe hung the command)."""
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "tea.md").write_text("# Tea\n\nTea time is at four with biscuits.\n")
    (Path(os.fsdecode(bytes(folder) + b"/caf\xe9.md"))).write_text("# Cafe\n\nNot indexed.\n")
    (folder / "gone.md").symlink_to(tmp_path / "nowhere.md")
    home = tmp_path / "home"
    run = hearth("index", str(folder), "-c", "notes", home=home)
    assert run.code == 0 and "Traceback" not in run.stderr, run.stderr
    assert not run.stderr.startswith("\n")  # the progress bar, not on a terminal, left an empty line
    assert f"skipped {folder}/caf\ufffd.md: its name is not valid UTF-8" in run.stdout + run.stderr
    assert f"skipped {folder}/gone.md: a link to something that does not exist" in run.stdout + run.stderr
    assert "tea.md" in hearth("search", "tea time biscuits", "-c", "notes", home=home).stdout
    # named itself, such a file was blamed on the terminal's encoding ("is the terminal set to UTF-8?")
    named = hearth("index", os.fsdecode(bytes(folder) + b"/caf\xe9.md"), "-c", "notes", home=home)
    assert_one_line(named, 2, "is not valid UTF-8 (a name from another system's encoding, such as Latin-1)")
    # the listing counts what the run skipped ("0 skipped" after "2 skipped": only unreadable files were kept)
    assert "notes: 1 file, 1 chunk, 2 skipped" in hearth("collections", "list", home=home).stdout
    pipe = tmp_path / "pipe.md"
    os.mkfifo(pipe)
    run = hearth("index", str(pipe), "-c", "notes", home=home)
    assert run.code == 0 and f"skipped {pipe}: not a regular file" in run.stdout + run.stderr, run.stderr


def test_a_folder_with_nothing_hearth_reads_says_so(tmp_path: Path) -> None:
    """It said "0 files, 0 chunks; 0 skipped" and nothing else, and a named pipe in a folder was left out
    without a word."""
    folder = tmp_path / "binaries"
    folder.mkdir()
    for name in ("a.bin", "b.exe", "c.xyz"):
        (folder / name).write_bytes(b"\x00\x01")
    os.mkfifo(folder / "pipe.md")
    run = hearth("index", str(folder), "-c", "bins", home=tmp_path / "home")
    # nothing to index, said with what there was (an empty collection was made, said "ready" and ticked)
    assert_one_line(run, 2, f"Nothing to index: {folder} holds only files Hearth skips (pipe.md: not a regular "
                            "file (a pipe, socket or device)), and 3 files of types Hearth does not read (.bin, "
                            ".exe, .xyz).")
    assert "bins" not in hearth("collections", "list", home=tmp_path / "home").stdout
    # beside files that are read, they are said too, in one line (they were left out without a word)
    (folder / "kayak.md").write_text("The kayak is stored in the boathouse.\n")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    run = hearth("index", str(folder), "-c", "mixed", "--json", home=tmp_path / "home")
    report = json.loads(run.stdout)
    assert run.code == 0 and report["files"] == 1, run.stderr
    assert report["left_out"] == "4 files of types Hearth does not read (.bin, .exe, .jpg, .xyz)", report
    assert [s["path"] for s in report["skipped"]] == [str(folder / "pipe.md")]  # not counted as skipped files
    # only such files: nothing to index, said with them (an empty collection was made, "1 skipped")
    only = tmp_path / "photos"
    only.mkdir()
    (only / "a.png").write_bytes(b"\x89PNG")
    (only / "b.zip").write_bytes(b"PK\x03\x04")
    run = hearth("index", str(only), "-c", "photos", home=tmp_path / "home")
    assert run.code != 0 and (f"Nothing to index: {only} holds no file of a type Hearth reads (only 2 files of "
                              "types Hearth does not read (.png, .zip))." in run.stderr), run.stderr
    assert "photos" not in hearth("collections", "list", home=tmp_path / "home").stdout
