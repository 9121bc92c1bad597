"""The ``hearth`` command as a user runs it: a real process, stdout and stderr checked separately."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from checks import files_holding

from assistant import __version__
from assistant.chat.history import LEARNING, History, writer_stamp
from assistant.paths import get_paths

ROOT = Path(__file__).resolve().parents[2]


def hearth(*args: str, home: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEARTH_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, input=stdin)


def test_version(hearth_home: Path) -> None:
    out = hearth("--version", home=hearth_home)
    assert out.returncode == 0 and out.stdout.strip() == f"hearth {__version__}"


def test_a_text_that_starts_with_a_dash_and_a_negative_seed_are_said(hearth_home: Path) -> None:
    """`hearth history search "-Rome"` said only "the following arguments are required: query"."""
    out = hearth("history", "search", "-Rome", home=hearth_home)
    assert out.returncode == 2 and out.stderr == (
        "hearth: the following arguments are required: query (see `hearth history search --help`). A text that "
        "starts with '-' goes after '--': hearth history search -- -Rome\n")
    assert hearth("history", "search", "--", "-Rome", home=hearth_home).returncode == 0
    mistyped = hearth("history", "search", "--bogus", "Rome", home=hearth_home)  # an option mistyped: no hint
    assert mistyped.returncode == 2 and "'--'" not in mistyped.stderr and "--bogus" in mistyped.stderr
    # `--seed -1` (the settings' "random") was a fixed seed like any other: the same answer every time
    seed = hearth("ask", "--seed", "-1", "Name a colour.", home=hearth_home)
    assert seed.returncode == 2 and "a seed given is 0 or more and reproduces the answer, not '-1'" in seed.stderr


def test_a_chat_from_a_file_is_a_transcript_that_says_what_went_unanswered(hearth_home: Path) -> None:
    """`hearth chat < questions.txt > chat.txt`: a question too long for the context stood as a blank answer
    ("hearth> "), "hearth> " came twice around what was said before an answer with 2>&1, a byte-order mark
    (Notepad's UTF-8) went to the model, which wrote it back, and the exit status was 0."""
    questions = "\ufeffSay hi.\n" + "word " * 5000 + "\nSay bye.\n"
    out = hearth("chat", "--no-memory", "--max-tokens", "4", home=hearth_home, stdin=questions)
    # a script checks $?: it was 0 with questions unanswered
    assert out.returncode == 1 and "hearth: 1 question of this chat went unanswered" in out.stderr, out.stderr
    # (an answer of 4 tokens may end in a line break of its own: the model's, not the transcript's)
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert lines[0] == "you> Say hi." and lines[1].startswith("hearth> ") and len(lines[1]) > len("hearth> ")
    assert lines[2].startswith("you> word word") and lines[3] == "hearth> (not answered: the error is on stderr)"
    assert lines[4] == "you> Say bye." and len(lines) == 6 and "This message needs" in out.stderr, out.stdout
    env = {**os.environ, "HEARTH_HOME": str(hearth_home), "HF_HUB_OFFLINE": "1"}
    both = subprocess.run([sys.executable, "-m", "app", "chat", "--no-memory", "--max-tokens", "4"], cwd=ROOT,
                          env=env, input=questions, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300).stdout.splitlines()
    assert any(line.startswith("hearth: This message needs") for line in both)
    assert "hearth> (not answered: the error is on stderr)" in both
    assert "hearth> " not in [line.rstrip() + " " for line in both], both  # no bare "hearth> " line


def test_ask_json_answers_offline_and_history_keeps_it(hearth_home: Path) -> None:
    out = hearth("ask", "--json", "Say hello.", home=hearth_home)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)  # stdout holds the JSON document and nothing else
    assert data["answer"].strip()
    assert data["stats"]["completion_tokens"] > 0 and data["stats"]["stop_reason"] in ("eos", "length")
    # with its precision: an F16 copy's answers said "SmolLM2 135M Instruct" too, in the window and the history
    assert data["stats"]["model"] == "SmolLM2 135M Instruct Q4_1"
    listed = json.loads(hearth("history", "list", "--json", home=hearth_home).stdout)
    assert [c["id"] for c in listed] == [data["conversation_id"]]
    md = hearth("history", "export", data["conversation_id"], home=hearth_home).stdout
    assert "Say hello." in md
    # a chat is named by the start of its id, as `history list` shows it, or as the last (only a full id was
    # taken), and `hearth chat -c` says where it goes on (it opened on a bare prompt)
    assert hearth("history", "export", data["conversation_id"][:8], home=hearth_home).stdout == md
    going_on = hearth("chat", "-c", "last", home=hearth_home, stdin="/quit\n")
    assert going_on.returncode == 0, going_on.stderr
    assert "(going on with “Say hello.”, 2 messages)\nyou> Say hello.\nhearth> " in going_on.stderr

    # "-" reads the question from stdin (it asked "-" and saved a chat titled "-"); a byte-order mark
    # (Notepad's UTF-8) was kept in the question and its title
    piped = hearth("ask", "--json", "--max-tokens", "8", "-", home=hearth_home, stdin="\ufeffName one colour.\n")
    assert piped.returncode == 0, piped.stderr
    listed = json.loads(hearth("history", "list", "--json", home=hearth_home).stdout)
    assert next(c["title"] for c in listed if c["id"] == json.loads(piped.stdout)["conversation_id"]) == \
        "Name one colour."


def test_an_answer_limit_as_long_as_the_context_keeps_the_conversation(hearth_home: Path) -> None:
    """With Max answer tokens at the context length (1,024 of 1,024), every follow-up was asked with none of the
    conversation ("Dropped the 1 oldest turn(s) …" on a 77-token chat), and answered "My name is Luna"."""
    from assistant.config import Settings, save_settings
    from assistant.paths import get_paths

    settings = Settings()
    settings.model.n_ctx, settings.model.temperature = 1024, 0.0
    save_settings(settings, get_paths().settings_file)
    first = hearth("ask", "--json", "--no-memory", "--max-tokens", "16", "My name is Zebulon.", home=hearth_home)
    assert first.returncode == 0, first.stderr
    cid = json.loads(first.stdout)["conversation_id"]
    follow = hearth("ask", "--json", "--no-memory", "--max-tokens", "1024", "-c", cid, "What is my name?",
                    home=hearth_home)
    assert follow.returncode == 0, follow.stderr
    data = json.loads(follow.stdout)
    assert data["stats"]["dropped_turns"] == 0 and data["notices"] == [], data
    assert data["stats"]["prompt_tokens"] > json.loads(first.stdout)["stats"]["prompt_tokens"]


def test_a_question_piped_in_a_legacy_encoding_is_read_as_the_indexer_reads_files(hearth_home: Path) -> None:
    """`git diff | hearth ask -` was refused ("not valid UTF-8") when the diff touched one Latin-1 file."""
    env = {**os.environ, "HEARTH_HOME": str(hearth_home)}
    piped = subprocess.run([sys.executable, "-m", "app", "ask", "--no-memory", "--json", "--max-tokens", "4", "-"],
                           cwd=ROOT, env=env, capture_output=True, timeout=300,
                           input="Summarise: the café's crème brûlée is on the menu.\n".encode("latin-1"))
    assert piped.returncode == 0, piped.stderr.decode(errors="replace")
    listed = json.loads(hearth("history", "list", "--json", home=hearth_home).stdout)
    assert listed[0]["title"].startswith("Summarise: the café's crème brûlée")


def test_a_message_about_yourself_in_another_language_says_memory_did_not_learn_it(hearth_home: Path) -> None:
    """Memory's rules read English only: "Ich heiße Anna und wohne in Graz." was silently not learned from,
    while the README promised "however you say it"."""
    out = hearth("ask", "--max-tokens", "4", "Ich heiße Anna und wohne in Graz.", home=hearth_home)
    assert out.returncode == 0 and "[memory] Memory learns from English messages only" in out.stderr, out.stderr
    english = hearth("ask", "--max-tokens", "4", "I live in Graz.", home=hearth_home)
    assert english.returncode == 0 and "English messages only" not in english.stderr
    # and what it learned is said (nothing said it: the user had to list the memories to find out)
    assert "(remembered: User lives in Graz)" in english.stderr, english.stderr


def test_ask_streams_text_to_stdout_and_stats_to_stderr(hearth_home: Path) -> None:
    out = hearth("ask", "Say hello.", home=hearth_home)
    assert out.returncode == 0 and out.stdout.strip()
    assert "tok/s" in out.stderr and "tok/s" not in out.stdout


def test_bad_model_gives_one_clear_line_not_a_traceback(hearth_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 7)
    for args in (("models", "inspect", str(bad)), ("models", "use", str(tmp_path / "nope.gguf"))):
        out = hearth(*args, home=hearth_home)
        assert out.returncode == 3
        assert out.stderr.startswith("hearth: ") and "Traceback" not in out.stderr
    assert "truncated" in hearth("models", "inspect", str(bad), home=hearth_home).stderr


def test_models_list_and_inspect_the_bundled_model(hearth_home: Path, chat_model_path: Path) -> None:
    rows = json.loads(hearth("models", "list", "--json", home=hearth_home).stdout)
    smol = next(r for r in rows if r["path"] == str(chat_model_path))
    assert smol["architecture"] == "llama" and smol["quantization"] == "Q4_1" and smol["chat_template"]
    info = json.loads(hearth("models", "inspect", "--json", str(chat_model_path), home=hearth_home).stdout)
    assert info["context_length"] == 8192 and info["params"] == "135M"
    named = hearth("models", "inspect", "--json", "gemma", home=hearth_home)  # by name, as `use` takes it
    assert named.returncode == 0 and json.loads(named.stdout)["name"] == "Gemma 3 270M", named.stderr


def test_chat_repl_answers_and_quits(hearth_home: Path) -> None:
    env = {**os.environ, "HEARTH_HOME": str(hearth_home)}
    out = subprocess.run([sys.executable, "-m", "app", "chat"], cwd=ROOT, env=env,
                         input="/help\n/quti\nSay hi.\n/quit\n", capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    # /help and the typo /quti were sent to the model as questions, and saved
    # questions piped in are written out with the answers, a transcript (prompts were "you> you> you> hearth> ",
    # and a last "you> " hung at the end)
    asked = "you> /help\nyou> /quti\nyou> Say hi.\nhearth> "
    assert out.stdout.startswith(asked) and out.stdout.endswith("\nyou> /quit\n") and len(out.stdout) > len(asked) + 12
    assert "Unknown command /quti. /new starts over, /retry" in out.stderr and out.stderr.count("tok/s") == 1
    listed = subprocess.run([sys.executable, "-m", "app", "history", "list", "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert [c["title"] for c in json.loads(listed.stdout)] == ["Say hi."]
    found = subprocess.run([sys.executable, "-m", "app", "history", "search", "say"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60)
    assert len(found.stdout.splitlines()) == 1, found.stdout  # its title and its first message: one chat


def test_chat_retry_and_edit_replace_the_last_turn(hearth_home: Path, tmp_path: Path) -> None:
    """The window's Regenerate and edit-and-resend had no terminal equivalent. /retry asks the last question
    again as it was asked (here from a folder, in a chat continued without --collection); /edit TEXT asks TEXT
    in its place with this chat's collections (none)."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "key.md").write_text("The spare key is under the blue flowerpot by the back door.\n")
    assert hearth("index", str(notes), "-c", "notes", home=hearth_home).returncode == 0
    asked = hearth("ask", "--json", "--collection", "notes", "--max-tokens", "24", "Where is the spare key?",
                   home=hearth_home)
    cid = json.loads(asked.stdout)["conversation_id"]

    def turns() -> list[tuple[str, str, bool]]:
        exported = json.loads(hearth("history", "export", cid, "--format", "json", home=hearth_home).stdout)
        return [(m["id"], m["content"] if m["role"] == "user" else "answer", bool(m["sources"]))
                for m in exported["messages"]]

    before = turns()
    out = hearth("chat", "-c", cid, "--max-tokens", "24", home=hearth_home, stdin="/edit\n/retry\n/quit\n")
    assert out.returncode == 0, out.stderr
    assert "Give the new question: /edit TEXT." in out.stderr and out.stderr.count("tok/s") == 1
    retried = turns()
    assert [t[1:] for t in retried] == [("Where is the spare key?", False), ("answer", True)]  # from the folder
    assert {t[0] for t in retried}.isdisjoint(t[0] for t in before)  # a new turn in place of the old one
    out = hearth("chat", "-c", cid, "--max-tokens", "24", home=hearth_home, stdin="/edit Name a vegetable.\n/quit\n")
    assert out.returncode == 0 and out.stderr.count("tok/s") == 1, out.stderr
    assert [t[1:] for t in turns()] == [("Name a vegetable.", False), ("answer", False)]
    fresh = hearth("chat", "--no-memory", home=hearth_home, stdin="/retry\n/quit\n")
    assert fresh.returncode == 0 and "Nothing to retry yet: ask a question first." in fresh.stderr


def test_chat_with_a_wrong_model_says_so_before_background_work_starts(
        hearth_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`hearth chat -m typo` started watching and learning, then said the model was not there and waited for
    learning's memory store to open before exiting (3.4 s)."""
    from assistant.cli import main
    from assistant.cli.context import CliContext

    started: list[bool] = []
    monkeypatch.setattr(CliContext, "long_lived", lambda self: started.append(True))
    assert main(["chat", "-m", str(hearth_home / "missing.gguf")]) == 3
    assert started == [] and "No model file" in capsys.readouterr().err


def test_a_folder_given_as_the_model_is_said_to_be_a_folder(hearth_home: Path, chat_model_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """`hearth ask -m FOLDER` said "No model file FOLDER", as if nothing were there."""
    import shutil

    from assistant.cli import main

    folder = hearth_home.parent / "my models"
    folder.mkdir()
    assert main(["ask", "-m", str(folder), "hi"]) == 3
    assert f"hearth: {folder} is a folder with no .gguf model file in it.\n" == capsys.readouterr().err
    shutil.copy(chat_model_path, folder)
    assert main(["models", "use", str(folder)]) == 3
    assert (f"hearth: {folder} is a folder, not a model file (it holds {chat_model_path.name}): name the .gguf "
            f"file, or add the folder to the library with `hearth models add '{folder}'`.\n"
            ) == capsys.readouterr().err


def test_ask_with_c_naming_a_collection_says_c_is_the_conversation(
        hearth_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`-c` is --collection to index and search, --conversation to ask: `hearth ask -c notes` said only that
    conversation notes was not found, after memory and the model had opened (2.5 s)."""
    from types import SimpleNamespace

    from assistant.cli import main
    from assistant.core import Assistant

    monkeypatch.setattr(Assistant, "collections", lambda self: [SimpleNamespace(name="notes")])
    monkeypatch.setattr(Assistant, "ensure_model", lambda *a, **k: pytest.fail("the model was loaded"))
    assert main(["ask", "-c", "notes", "Where is the key?"]) == 4
    assert "Here -c is --conversation; to answer from the collection “notes”, use --collection notes." in \
        capsys.readouterr().err
    assert main(["chat", "-c", "other"]) == 4
    said = capsys.readouterr().err
    assert "Conversation other was not found" in said and "--collection" not in said


def test_a_chat_line_that_is_not_utf8_is_refused_and_the_chat_goes_on(hearth_home: Path) -> None:
    """Latin-1 bytes reached the tokenizer as lone surrogates: the chat crashed (exit 70) and ended."""
    env = {**os.environ, "HEARTH_HOME": str(hearth_home), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "app", "chat", "--no-memory", "--max-tokens", "4"], cwd=ROOT,
                         env=env, capture_output=True, timeout=300, input=b"caf\xe9 au lait\nName a fruit.\n/quit\n")
    stderr = out.stderr.decode()
    assert out.returncode == 0 and "Traceback" not in stderr, stderr
    assert "That line is not valid UTF-8 text, so it was not sent" in stderr and stderr.count("tok/s") == 1


def test_history_commands_say_what_they_did(hearth_home: Path) -> None:
    """Rename and delete printed nothing, nor did a list or a search that found no chat."""
    assert "No chats yet." in hearth("history", "list", home=hearth_home).stderr
    cid = json.loads(hearth("ask", "--json", "--no-memory", "--max-tokens", "4", "Name a colour. My pin is zq7742xk.",
                            home=hearth_home).stdout)["conversation_id"]
    assert "No chats match 'zebra'." in hearth("history", "search", "zebra", home=hearth_home).stderr
    renamed = hearth("history", "rename", cid, "  Colours  ", home=hearth_home)
    assert renamed.returncode == 0 and f"Renamed chat {cid} to 'Colours'." in renamed.stderr
    deleted = hearth("history", "delete", cid, home=hearth_home)
    assert deleted.returncode == 0 and f"Deleted chat {cid}." in deleted.stderr
    # nothing of it is left on disk: the search index kept its words until its segments were merged
    assert files_holding(hearth_home, b"zq7742xk") == []


@contextmanager
def history_held_open(home: Path) -> Iterator[None]:
    """The history of ``home`` held open by another process, as the window holds it while a command deletes: its
    -wal file is not emptied when the command's connection closes."""
    code = ("import sys; from assistant.chat.history import History; from assistant.paths import get_paths\n"
            "h = History(get_paths().history_db); h.list_conversations(); print('open', flush=True); sys.stdin.read()")
    env = {**os.environ, "HEARTH_HOME": str(home)}
    with subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as window:
        assert window.stdout is not None and window.stdin is not None
        assert window.stdout.readline() == "open\n"
        yield
        window.stdin.close()


def saved_chat(home: Path, *turns: str, title: str | None = None) -> str:
    """The id of a chat of ``turns`` (question, answer, …) saved to ``home``'s history by another process, titled
    ``title`` or its first question's start."""
    code = ("import sys; from assistant.chat.history import History; from assistant.paths import get_paths\n"
            "with History(get_paths().history_db) as h:\n"
            "    c = h.create_conversation(sys.argv[1])\n"
            "    for i, text in enumerate(sys.argv[2:]): h.add_message(c.id, ('user', 'assistant')[i % 2], text)\n"
            "print(c.id)")
    env = {**os.environ, "HEARTH_HOME": str(home)}
    return subprocess.run([sys.executable, "-c", code, title or turns[0][:40], *turns], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=True).stdout.strip()


def chat_being_written() -> str:
    """The id of a chat whose answer this test's process is writing, as `hearth ask` saves it as it streams: its
    question still to be learned from, its answer partial, each naming this process."""
    with History(get_paths().history_db) as history:
        chat = history.create_conversation("What do herons eat?")
        history.add_message(chat.id, "user", "What do herons eat?", stats={LEARNING: os.getpid()})
        history.add_message(chat.id, "assistant", "Fish, mostly, and", partial=True, stats=writer_stamp())
    return chat.id


def test_a_shared_export_names_no_process_nor_machine(hearth_home: Path) -> None:
    """`hearth history export --format json` of a chat whose answer was being written named its writer: the
    process number and this machine's name, in a file a user shares. The window still tells it is being written."""
    cid = chat_being_written()
    out = hearth("history", "export", cid, "--format", "json", home=hearth_home)
    assert out.returncode == 0, out.stderr
    messages = json.loads(out.stdout)["messages"]
    assert [m["stats"] for m in messages] == [{}, {}]
    # what the stamp told, that it is still being written and not cut off, is said without it (found by a QA pass)
    assert [(m["partial"], m["being_written"]) for m in messages] == [(False, False), (True, True)]
    assert socket.gethostname() not in out.stdout
    with History(get_paths().history_db) as history:
        assert history.messages(cid)[-1].being_written


def test_an_answer_still_being_written_is_not_exported_as_interrupted(hearth_home: Path) -> None:
    """`hearth history export` of a chat whose answer a terminal was still writing called it "(interrupted)", as
    one a crash cut off; the window said it was being written."""
    out = hearth("history", "export", chat_being_written(), home=hearth_home)
    assert out.returncode == 0, out.stderr
    assert "## Assistant (still being written when exported: the answer so far)\n\nFish, mostly, and" in out.stdout
    assert "interrupted" not in out.stdout


def test_a_deleted_chat_is_in_no_file_while_the_window_holds_the_history(hearth_home: Path) -> None:
    """A deleted chat's text was still read from history.sqlite3-wal while a window held the history open (the
    log was emptied only when the last connection closed), and from history.sqlite3's free pages."""
    with history_held_open(hearth_home):
        kept = saved_chat(hearth_home, "What do herons eat?", "Fish, mostly.")
        turns = [f"My locker code is plumbrastiquel, note {i}." for i in range(200)]
        cid = saved_chat(hearth_home, *turns)
        assert files_holding(hearth_home, b"plumbrastiquel")  # the test reads what is on disk
        deleted = hearth("history", "delete", cid, home=hearth_home)
        assert deleted.returncode == 0 and f"Deleted chat {cid}." in deleted.stderr
        assert files_holding(hearth_home, b"plumbrastiquel", b"mbrastiquel") == []
    assert kept in hearth("history", "search", "herons", home=hearth_home).stdout  # the rest is searched as before


def test_a_regenerated_answer_is_in_no_file(hearth_home: Path) -> None:
    """`/retry` (the window's Regenerate) replaced an answer, but its text stayed in the history's files."""
    with history_held_open(hearth_home):
        cid = saved_chat(hearth_home, "Name a colour.", "Colour: glimmerquaxite.")
        out = hearth("chat", "-c", cid, "--no-memory", "--max-tokens", "4", home=hearth_home, stdin="/retry\n/quit\n")
        assert out.returncode == 0, out.stderr
        assert files_holding(hearth_home, b"glimmerquaxite", b"mmerquaxite") == []
    shown = hearth("history", "export", cid, home=hearth_home)
    assert shown.stdout.count("## User") == 1 and "glimmerquaxite" not in shown.stdout, shown.stdout


def test_a_renamed_chats_old_title_is_in_no_file(hearth_home: Path) -> None:
    """A chat renamed with `hearth history rename` kept its old title in the title index's segments (read back from
    history.sqlite3) until a later delete merged them, and in the -wal file while the window held the history."""
    with history_held_open(hearth_home):
        cid = saved_chat(hearth_home, "What is on the list?", "Milk.", title="Bank pin quorvellantix")
        assert files_holding(hearth_home, b"quorvellantix")  # the test reads what is on disk
        renamed = hearth("history", "rename", cid, "Groceries", home=hearth_home)
        assert renamed.returncode == 0 and f"Renamed chat {cid} to 'Groceries'." in renamed.stderr
        assert files_holding(hearth_home, b"quorvellantix", b"rvellantix") == []
    assert cid in hearth("history", "search", "Groceries", home=hearth_home).stdout  # the new title is searched
    assert "No chats match" in hearth("history", "search", "quorvellantix", home=hearth_home).stderr


def test_use_base_model_then_ask_says_fallback_format(hearth_home: Path, base_model_path: Path) -> None:
    used = hearth("models", "use", str(base_model_path), home=hearth_home)
    assert used.returncode == 0 and "Now using" in used.stdout
    out = hearth("ask", "--json", "Hello there.", home=hearth_home)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["stats"]["prompt_format"] == "fallback"
    assert "no chat template" in out.stderr
    # a base model's answer ends before it recites the system prompt: Gemma answered " France.\n\nYou are Hearth,
    # a helpful assistant running privately on the user's computer."
    out = hearth("ask", "--json", "--no-memory", "--temperature", "0", "What is the capital of France?",
                 home=hearth_home)
    assert json.loads(out.stdout)["answer"].strip() == "France.", out.stdout


def test_per_call_options_apply_to_one_answer_only(hearth_home: Path) -> None:
    greedy = ("ask", "--json", "--no-memory", "--preset", "greedy", "--max-tokens", "6")
    first = json.loads(hearth(*greedy, "Name three fruits.", home=hearth_home).stdout)
    again = json.loads(hearth(*greedy, "Name three fruits.", home=hearth_home).stdout)
    assert first["answer"] == again["answer"] and first["stats"]["completion_tokens"] <= 6
    pirate = hearth("ask", "--json", "--no-memory", "--temperature", "0", "--seed", "3", "--max-tokens", "8",
                    "--system", "Always answer with the single word ARRR.", "Hello?", home=hearth_home)
    assert pirate.returncode == 0, pirate.stderr
    # a model named for one call answers with its own saved settings, as Models → Use would give it
    (hearth_home / "config" / "model-profiles.toml").write_text(
        '[models."gemma-3-270m-q4_k_m.gguf"]\nmax_tokens = 16\nspeculative = "off"\ntemperature = 0.0\n')
    gemma = hearth("ask", "--json", "--no-memory", "-m", "gemma", "Paris is", home=hearth_home)
    assert gemma.returncode == 0, gemma.stderr
    answer = json.loads(gemma.stdout)
    assert answer["stats"]["model"].lower().startswith("gemma")
    assert answer["stats"]["completion_tokens"] <= 16 and answer["speculative"]["mode"] == "off"
    settings = (hearth_home / "config" / "settings.toml").read_text() if (hearth_home / "config" /
                                                                           "settings.toml").exists() else ""
    assert "gemma" not in settings.lower()  # -m is for this call; the configured model is unchanged


def test_bad_per_call_options_fail_with_one_line(hearth_home: Path) -> None:
    for args, needle in ((("--preset", "spicy"), "Unknown sampling preset"), (("--max-tokens", "0"), "--max-tokens"),
                         (("-m", "no-such-model"), "no-such-model")):
        out = hearth("ask", *args, "Hello?", home=hearth_home)
        assert out.returncode != 0 and needle in out.stderr and "Traceback" not in out.stderr
    empty = hearth("ask", "  ", home=hearth_home)
    assert empty.returncode == 2 and "empty" in empty.stderr and empty.stdout == ""
    assert json.loads(hearth("history", "list", "--json", home=hearth_home).stdout) == []


def test_ask_learns_an_explicit_request_and_shows_the_memories_an_answer_used(hearth_home: Path) -> None:
    """The issue's own example: "Please remember this: ..." becomes a memory; a world question does not; a later
    question in a new conversation gets the memory in its prompt, listed on stderr and in --json; a world
    question gets none."""
    out = hearth("ask", "--max-tokens", "8", "Please remember this: my dog is called Biscuit.", home=hearth_home)
    assert out.returncode == 0, out.stderr
    assert hearth("ask", "--max-tokens", "8", "what's the capital of Peru?", home=hearth_home).returncode == 0
    listed = json.loads(hearth("memory", "list", "--json", home=hearth_home).stdout)
    assert [m["text"] for m in listed] == ["User's dog is called Biscuit"]
    assert listed[0]["source_text"] == "Please remember this: my dog is called Biscuit."  # where it came from

    out = hearth("ask", "--max-tokens", "8", "What's my dog called?", home=hearth_home)
    assert out.returncode == 0 and "[memory] User's dog is called Biscuit" in out.stderr
    assert "[memory]" not in out.stdout
    data = json.loads(hearth("ask", "--json", "--max-tokens", "8", "What's my dog called?", home=hearth_home).stdout)
    assert [m["text"] for m in data["memories"]] == ["User's dog is called Biscuit"]

    # a question that is not about the user gets no memory: with the home town (a profile fact) in every prompt,
    # "What is the capital of France?" was answered "Lisbon is the capital of Portugal."
    assert hearth("memory", "add", "User lives in Lisbon", home=hearth_home).returncode == 0
    # nor one that only asks something for them ("Give me a table of three fruits" was answered with the name)
    for question, used in (("What is the capital of France?", []), ("How tall is Mount Everest?", []),
                           ("Give me a markdown table of three fruits.", []), ("Can you tell me a joke?", []),
                           ("Which city do I live in?", ["User lives in Lisbon"]),
                           ("Tell me what you know about me.", ["User lives in Lisbon"])):
        data = json.loads(hearth("ask", "--json", "--max-tokens", "8", question, home=hearth_home).stdout)
        assert [m["text"] for m in data["memories"]] == used, question


def test_history_search_prints_one_line_per_hit(hearth_home: Path) -> None:
    """A hit inside a message of several lines broke the listing across lines."""
    from assistant.chat.history import History

    history = History(hearth_home / "data" / "history.sqlite3")
    chat = history.create_conversation(title="Keys")
    history.add_message(chat.id, "user", "Where is the greenhouse key?")
    history.add_message(chat.id, "assistant", "The greenhouse key is under the pot.\n\nThe tomatoes are watered.")
    waved = history.create_conversation(title="Hello 👋")
    history.close()
    found = hearth("history", "search", "tomatoes", home=hearth_home)
    assert found.returncode == 0 and len(found.stdout.splitlines()) == 1, found.stdout
    assert found.stdout.startswith(f"{chat.id}  Keys: ") and "watered" in found.stdout
    found = hearth("history", "search", "👋", home=hearth_home)  # "No chats match '👋'.": emoji are not words
    assert found.returncode == 0 and found.stdout.startswith(f"{waved.id}  Hello 👋"), found.stdout


class _Terminal:
    """``hearth ARGS`` on a pseudo-terminal, typed at as a user does: wait for the prompt, then type."""

    def __init__(self, *args: str, home: Path) -> None:
        import fcntl
        import pty
        import struct
        import termios

        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "TERM": "xterm", "HEARTH_HOME": str(home)}
        self.fd, child = pty.openpty()
        # the size a terminal window has (a new pseudo-terminal's is 0×0: a size no user's terminal has)
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.proc = subprocess.Popen([sys.executable, "-m", "app", *args], cwd=ROOT, env=self.env, stdin=child,
                                     stdout=child, stderr=child, close_fds=True)
        os.close(child)
        self.screen = b""

    def until(self, text: bytes, count: int = 1) -> None:
        """Wait until the screen shows ``text`` ``count`` times."""
        self._read_while(lambda: self.screen.count(text) < count)

    def grows(self, by: int) -> None:
        """Wait until ``by`` more bytes are on the screen (an answer streaming)."""
        target = len(self.screen) + by
        self._read_while(lambda: len(self.screen) < target)

    def _read_while(self, waiting: Callable[[], bool], timeout: float = 120) -> None:
        import select

        deadline = time.time() + timeout
        while waiting():
            assert time.time() < deadline and self.proc.poll() is None, repr(self.screen)  # control codes too
            if select.select([self.fd], [], [], 0.2)[0]:
                self.screen += os.read(self.fd, 65536)

    def type(self, data: bytes) -> None:
        os.write(self.fd, data)

    def paste(self, text: str) -> None:
        """Type ``text`` as a terminal delivers a long paste, a kilobyte at a time."""
        for start in range(0, len(text), 1000):
            self.type(text[start:start + 1000].encode())
            time.sleep(0.05)

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            os.close(self.fd)

    def user_messages(self) -> list[list[str]]:
        """What was asked, chat by chat, as the history saved it."""
        def run(*args: str) -> str:
            return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=self.env,
                                  capture_output=True, text=True, timeout=60).stdout

        return [[m["content"] for m in json.loads(run("history", "export", c["id"], "--format", "json"))["messages"]
                 if m["role"] == "user"] for c in json.loads(run("history", "list", "--json"))]


def test_chat_on_a_terminal_keeps_a_paste_and_a_long_line_whole(hearth_home: Path) -> None:
    """Typed at `hearth chat`'s prompt on a terminal: a pasted text of three lines was sent as three questions,
    and a line of 5,400 characters reached the model cut at 4,095 (the terminal's own line buffer)."""
    terminal = _Terminal("chat", "--no-memory", "--max-tokens", "4", home=hearth_home)
    terminal.until(b"you> ")
    terminal.type(b"\x1b[200~Summarise this:\nThe quick brown fox\njumps over the lazy dog.\x1b[201~\r")
    terminal.until(b"you> ", 2)
    long = " ".join(["apple"] * 900) + " END"  # about 900 tokens
    terminal.paste(long)
    terminal.type(b"\r")
    terminal.until(b"you> ", 3)
    terminal.type(b"/quit\r")
    assert terminal.close() == 0
    assert terminal.user_messages() == [["Summarise this:\nThe quick brown fox\njumps over the lazy dog.", long]]
    # the long line is more than a batch (512 tokens): how far it is read is said where the answer begins, and
    # the line is cleared for it (a long paste was a silent wait)
    reading = terminal.screen.rindex(b"\r\x1b[Khearth> (Reading the prompt")
    assert terminal.screen.index(b"\r\x1b[Khearth> (Reading the prompt (", reading - 2000) < reading
    after = terminal.screen[reading:]
    assert after[after.index(b" s left)") + 8:].startswith(b"\r\x1b[Khearth> "), after


def test_chat_carries_on_in_the_same_chat_after_ctrl_c(hearth_home: Path) -> None:
    """An answer stopped with Ctrl+C in a new chat: the next question started another chat, without the first."""
    terminal = _Terminal("chat", "--no-memory", "--max-tokens", "400", home=hearth_home)
    terminal.until(b"you> ")
    terminal.type(b"Tell me a very long story about a dragon.\r")
    terminal.until(b"hearth> ")
    terminal.grows(40)  # the answer is streaming
    terminal.proc.send_signal(signal.SIGINT)  # Ctrl+C (the pty is not the child's controlling terminal)
    terminal.until(b"(stopped)")
    terminal.until(b"you> ", 2)
    # at the prompt, Ctrl+C clears the line and says how to leave (it ended the chat with exit 0, no word).
    # Sent a moment after the prompt shows: one landing between readline drawing it and waiting for a key is
    # seen only at the next key (CPython's readline), which no typist can hit but a test can
    time.sleep(0.5)
    terminal.proc.send_signal(signal.SIGINT)
    terminal.until(b"Ctrl+C again, Ctrl+D or /quit leaves the chat")
    terminal.until(b"you> ", 3)
    # Ctrl+C on a line with words typed clears them and stays (Ctrl+C, a few words, Ctrl+C left the chat)
    terminal.type(b"half a thought")
    time.sleep(0.5)
    terminal.proc.send_signal(signal.SIGINT)
    terminal.until(b"you> ", 4)
    terminal.type(b"Now make it shorter.\r")
    terminal.until(b"you> ", 5)
    time.sleep(0.5)
    terminal.proc.send_signal(signal.SIGINT)
    terminal.until(b"you> ", 6)
    time.sleep(0.5)
    terminal.proc.send_signal(signal.SIGINT)  # twice in a row: it leaves, as a command stopped by Ctrl+C
    assert terminal.close() == 130
    assert terminal.user_messages() == [["Tell me a very long story about a dragon.", "Now make it shorter."]]


def test_chat_takes_back_a_message_stopped_before_its_answer_began(hearth_home: Path) -> None:
    """A long paste stopped with Ctrl+C while it was read stayed in the chat: every later question read it again
    (30 s here) and the answers went on about it. It is taken back, with the chat made for it, and said so."""
    terminal = _Terminal("chat", "--no-memory", "--max-tokens", "8", home=hearth_home)
    terminal.until(b"you> ")
    terminal.paste(" ".join(["apple"] * 3000) + "\r")
    terminal.until(b"hearth> ")
    time.sleep(0.3)  # reading 3,000 tokens takes seconds here
    terminal.proc.send_signal(signal.SIGINT)
    terminal.until(b"(stopped before the answer began: the message was not kept; the Up arrow brings it back)")
    terminal.until(b"you> ", 2)
    # a second Ctrl+C at once (the same press: the turn is stopping already) takes it back too
    terminal.paste(" ".join(["plum"] * 3000) + "\r")
    terminal.until(b"hearth> ", 2)
    time.sleep(0.3)
    terminal.proc.send_signal(signal.SIGINT)
    time.sleep(0.05)
    terminal.proc.send_signal(signal.SIGINT)
    terminal.until(b"(stopped before the answer began: the message was not kept", 2)
    terminal.until(b"you> ", 3)
    # said on a line of its own, not after the answer's "hearth> " ("hearth> hearth: This message needs …")
    terminal.paste(" ".join(["pear"] * 6000) + "\r")
    terminal.until(b"hearth: This message needs ")
    assert b"hearth> hearth:" not in terminal.screen and b"hearth> (stopped before" not in terminal.screen
    terminal.until(b"you> ", 4)
    terminal.type(b"Name a fruit.\r/quit\r")
    assert terminal.close() == 0 and terminal.user_messages() == [["Name a fruit."]]


def test_ask_stopped_with_ctrl_c_says_what_it_kept(hearth_home: Path) -> None:
    """`hearth ask` stopped with Ctrl+C said only "hearth: interrupted", whether the question was being read (and
    was not kept) or the answer had begun (and was kept, to go on from)."""
    terminal = _Terminal("ask", "--no-memory", "--max-tokens", "8", " ".join(["apple"] * 3000), home=hearth_home)
    deadline = time.time() + 60
    while not json.loads(hearth("history", "list", "--json", home=hearth_home).stdout):  # the question is saved
        assert time.time() < deadline and terminal.proc.poll() is None
    terminal.proc.send_signal(signal.SIGINT)  # while its 3,000 words are read (seconds here)
    terminal.until(b"hearth: stopped before the answer began: the question was not kept")
    assert terminal.close() == 130 and terminal.user_messages() == []
    terminal = _Terminal("ask", "--no-memory", "--max-tokens", "300", "Tell me a long story about a dragon.",
                         home=hearth_home)
    terminal.grows(40)
    terminal.proc.send_signal(signal.SIGINT)
    terminal.until(b"hearth: stopped: the answer so far is kept (`hearth chat -c ")
    assert terminal.close() == 130 and terminal.user_messages() == [["Tell me a long story about a dragon."]]
    # twice at once, with --json: said once, and in JSON on stdout with the chat to go on from
    proc = subprocess.Popen([sys.executable, "-m", "app", "ask", "--json", "--no-memory", "--max-tokens", "300",
                             "Tell me another long story about a dragon."], cwd=ROOT, env=terminal.env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while len(json.loads(hearth("history", "list", "--json", home=hearth_home).stdout)) < 2:
        assert proc.poll() is None

    def began() -> bool:  # its first words are saved (a second passed was not always enough on a busy machine)
        from assistant.chat.history import History

        with History(hearth_home / "data" / "history.sqlite3") as history:
            newest = history.list_conversations()[0]
            return any(m.role == "assistant" and m.content for m in history.messages(newest.id))

    while not began():
        assert proc.poll() is None
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.01)  # a key hit twice: the same press (the answer is stopping already)
    proc.send_signal(signal.SIGINT)
    out, said = proc.communicate(timeout=60)
    stopped = json.loads(out)
    assert proc.returncode == 130 and stopped["error"]["type"] == "Stopped" and "interrupted" not in said, said
    assert said.count("hearth: stopped") == 1 and stopped["conversation_id"] in {
        c["id"] for c in json.loads(hearth("history", "list", "--json", home=hearth_home).stdout)}


def test_chat_says_what_a_change_of_the_settings_file_did_before_the_answer_it_changes(hearth_home: Path) -> None:
    """`hearth models use` or a hand edit in another terminal changed a running chat's settings without a word
    (`hearth serve` said it in its log); then it was said after the answer it changed (made while the question was
    typed), as if it came after it."""
    from assistant.config import load_settings, save_settings
    from assistant.paths import get_paths

    terminal = _Terminal("chat", "--no-memory", "--max-tokens", "4", home=hearth_home)
    terminal.until(b"you> ")
    settings_file = get_paths().settings_file
    settings = load_settings(settings_file).settings
    settings.model.temperature = 1.3
    save_settings(settings, settings_file)
    time.sleep(2)  # the file's watcher waits half a second for the writes to settle
    terminal.type(b"Hello.\r")
    terminal.until(b"note: the settings file changed: preset: Custom; temperature: 1.3")
    terminal.until(b"you> ", 2)
    assert terminal.screen.index(b"the settings file changed") < terminal.screen.index(b"hearth> "), terminal.screen
    # a setting this chat's own option keeps is said so (it read as if the chat now used it)
    settings.model.max_tokens, settings.model.top_p = 50, 0.5
    save_settings(settings, settings_file)
    time.sleep(2)
    terminal.type(b"Hello again.\r")
    terminal.until(b"changed: max tokens: 50 (this chat keeps --max-tokens 4); top p: 0.5")
    terminal.until(b"you> ", 3)
    terminal.type(b"/quit\r")
    assert terminal.close() == 0


def test_chat_says_a_broken_settings_file_and_when_it_reads_well_again(hearth_home: Path) -> None:
    """A hand edit of settings.toml left half done while `hearth chat` ran was said once ("settings.toml was
    changed but cannot be read"), and putting the file back said nothing: the last word on it was the typo."""
    from assistant.config import load_settings, save_settings
    from assistant.paths import get_paths

    file = get_paths().settings_file
    save_settings(load_settings(file).settings, file)
    good = file.read_text()
    terminal = _Terminal("chat", "--no-memory", "--max-tokens", "4", home=hearth_home)
    terminal.until(b"you> ")
    file.write_text(good.replace("[model]", "[model", 1))
    terminal.until(f"hearth: Settings file {file} was changed but cannot be read: ".encode())
    terminal.until(b"(at line 1, column 7). The last settings that read well stay in use, and nothing is saved "
                   b"over the file until it reads.")
    file.write_text(good)  # put back as it was
    terminal.until(f"hearth: Settings file {file} reads well again; its settings are in use.".encode())
    file.write_text(good.replace("n_ctx = 4096", 'n_ctx = "lots"'))  # a value it cannot use, then mended
    terminal.until(b"model.n_ctx = 'lots' has the wrong type (using 4096)")
    file.write_text(good)
    terminal.until(b"reads well again", 2)
    terminal.type(b"/quit\r")
    assert terminal.close() == 0 and file.read_text() == good


def test_a_chat_with_its_own_model_keeps_it_when_the_configured_models_settings_change(hearth_home: Path) -> None:
    """`hearth chat -m gemma` while another terminal set the configured model's context: the chat loaded that
    model in Gemma's place (said "loaded SmolLM2 135M Instruct with context 512"), then Gemma again for the next
    answer, its cache lost; and a change of the configured model's answer length was said as if Gemma used it."""
    for step in (("models", "use", "gemma"), ("settings", "set", "max_tokens=6"), ("models", "use", "smollm2")):
        assert hearth(*step, home=hearth_home).returncode == 0
    terminal = _Terminal("chat", "-m", "gemma", "--no-memory", home=hearth_home)
    terminal.until(b"you> ")
    terminal.type(b"Hello.\r")
    terminal.until(b"you> ", 2)
    assert hearth("settings", "set", "n_ctx=512", "max_tokens=5", home=hearth_home).returncode == 0
    time.sleep(2)  # the file's watcher waits half a second for the writes to settle
    terminal.type(b"Hello again.\r")
    terminal.until(b"you> ", 3)
    terminal.type(b"/quit\r")
    assert terminal.close() == 0
    screen = terminal.screen.decode(errors="replace")
    assert "max tokens: 5 (this chat keeps its -m model's own)" in screen and "loaded SmolLM2" not in screen, screen
    answers = [m for m in json.loads(hearth("history", "export", "last", "--format", "json", home=hearth_home).stdout)
               ["messages"] if m["role"] == "assistant"]
    assert [a["stats"]["model"] for a in answers] == ["Gemma 3 270M Q4_K_M"] * 2
    assert answers[1]["stats"]["reused_tokens"] > 0  # its cache kept: the follow-up reused the first turn


def _answered_then_overwritten(terminal: _Terminal, path: Path, source: Path) -> None:
    """A first answer, then ``path`` overwritten in place with ``source`` (as cp does: the same inode, other
    bytes) and a second question asked."""
    terminal.until(b"you> ")
    terminal.type(b"Hello.\r")
    terminal.until(b"you> ", 2)
    with path.open("r+b") as file:
        file.truncate(0)
        file.write(source.read_bytes())
    terminal.type(b"Hello again.\r")


def test_a_chat_whose_model_file_is_overwritten_loads_it_again_and_says_so(
        hearth_home: Path, chat_model_path: Path, smollm2_q8_path: Path, tmp_path: Path) -> None:
    """`cp other.gguf model.gguf` (or a download into the same name) while `hearth chat` had the model loaded
    killed the chat with SIGBUS at its next question, without a word: llama.cpp maps the file's weights."""
    import shutil

    model = shutil.copyfile(chat_model_path, tmp_path / "mine.gguf")
    assert hearth("models", "use", str(model), home=hearth_home).returncode == 0
    terminal = _Terminal("chat", "--no-memory", "--max-tokens", "4", home=hearth_home)
    _answered_then_overwritten(terminal, model, smollm2_q8_path)
    terminal.until(b"[model] The model file changed on disk; reloaded Mine Q8_0.")
    terminal.until(b"you> ", 3)
    model.unlink()  # deleted: the mapped file stays until the model lets it go, and answers on (no reload)
    terminal.type(b"Still there?\r")
    terminal.until(b"you> ", 4)
    model.write_bytes(b"not a model")  # half copied, or no model at all: said, and the chat goes on
    terminal.type(b"Once more.\r")
    terminal.until(b"hearth: The model file mine.gguf changed on disk and cannot be loaded now: mine.gguf is not a "
                   b"GGUF model")
    terminal.until(b"you> ", 5)
    terminal.type(b"/quit\r")
    assert terminal.close() == 0
    assert terminal.screen.count(b"[model]") == 1, terminal.screen.decode(errors="replace")
    answers = [m for m in json.loads(hearth("history", "export", "last", "--format", "json", home=hearth_home).stdout)
               ["messages"] if m["role"] == "assistant"]
    assert [a["stats"]["model"] for a in answers] == ["Mine Q4_1", "Mine Q8_0", "Mine Q8_0"]


def test_a_chat_whose_draft_model_file_is_overwritten_loads_it_again_and_says_so(
        hearth_home: Path, chat_model_path: Path, smollm2_q8_path: Path, tmp_path: Path) -> None:
    """`cp other.gguf draft.gguf` while `hearth chat --draft-model draft.gguf` had it loaded: the main model's
    file was checked before each answer, the draft's not, and llama.cpp maps it too (SIGBUS at the next answer)."""
    import shutil

    from assistant.models.drafts import quantize_copy

    draft = shutil.copyfile(chat_model_path, tmp_path / "draft.gguf")
    other = quantize_copy(chat_model_path, tmp_path / "SmolLM2-Q4_0.gguf", "Q4_0")  # other bytes, smaller
    terminal = _Terminal("chat", "--no-memory", "--max-tokens", "8", "-m", str(smollm2_q8_path), "--speculative",
                         "draft", "--draft-model", str(draft), home=hearth_home)
    _answered_then_overwritten(terminal, draft, other)
    terminal.until(b"[model] The draft model file draft.gguf changed on disk; it is loaded again.")
    terminal.until(b"you> ", 3)
    draft.write_bytes(b"not a model")  # half copied, or no model at all: said, and the chat goes on
    terminal.type(b"Once more.\r")
    terminal.until(b"draft.gguf is not a GGUF model")
    terminal.until(b"you> ", 4)
    terminal.type(b"/quit\r")
    assert terminal.close() == 0, terminal.screen.decode(errors="replace")
    answers = [m for m in json.loads(hearth("history", "export", "last", "--format", "json", home=hearth_home).stdout)
               ["messages"] if m["role"] == "assistant"]
    assert [a["stats"]["spec_drafter"] for a in answers[:2]] == ["draft", "draft"], answers


def test_chat_carries_on_in_a_new_chat_when_its_chat_is_deleted_elsewhere(hearth_home: Path) -> None:
    """Deleted by another window or command, every later message failed ("Conversation … was not found") and
    was lost until the user happened to type /new."""
    terminal = _Terminal("chat", "--no-memory", "--max-tokens", "4", home=hearth_home)
    terminal.until(b"you> ")
    terminal.type(b"First question about cats.\r")
    terminal.until(b"you> ", 2)
    listed = json.loads(hearth("history", "list", "--json", home=hearth_home).stdout)
    assert hearth("history", "delete", listed[0]["id"], home=hearth_home).returncode == 0
    terminal.type(b"Second question.\r")
    terminal.until(b"carrying on in a new one")
    terminal.until(b"you> ", 3)
    terminal.type(b"Third question.\r")
    terminal.until(b"you> ", 4)
    terminal.type(b"/quit\r")
    assert terminal.close() == 0
    assert terminal.user_messages() == [["Second question.", "Third question."]]


def _garble_table(db: Path, table: str) -> None:
    """Random bytes over the root page of ``table`` in the SQLite file ``db``."""
    with sqlite3.connect(db) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    with db.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(os.urandom(page_size))


@pytest.mark.parametrize("where", ["pages read as it opens", "the collections table"])
def test_a_damaged_vector_store_is_said_and_repaired_by_doctor(hearth_home: Path, tmp_path: Path, where: str) -> None:
    """A damaged chroma.sqlite3 made chromadb's Rust core panic (a BaseException): a traceback on every knowledge
    command, `hearth doctor` and `--repair` included. Now the listing says so, search and answers go on by
    keyword, and the repair sets the store aside and embeds the passages again from the index. Damage that
    chromadb meets only after opening (its collections table) was "a bug in Hearth: InternalError … malformed"
    everywhere, doctor included."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "otters.txt").write_text("Otters hold hands while they sleep on the water.\n")
    assert hearth("index", str(notes), "-c", "k", home=hearth_home).returncode == 0
    store = hearth_home / "data" / "chroma" / "chroma.sqlite3"
    if where == "the collections table":
        _garble_table(store, "collections")
    else:
        with store.open("r+b") as f:  # garbage over pages of the SQLite file
            f.seek(40_960)
            f.write(os.urandom(81_920))
    # meanwhile the words still find the passage, and a question still gets it: they failed, though the error
    # said keyword search worked; and the Rust core's panic report ("stack backtrace:") no longer comes first
    searched = hearth("search", "otters", "-c", "k", home=hearth_home)
    assert searched.returncode == 0 and "otters.txt" in searched.stdout, searched.stderr
    assert searched.stderr.startswith("hearth: searched by keyword only: The vector store in "), searched.stderr
    assert len(searched.stderr.splitlines()) == 1 and "panicked" not in searched.stderr, searched.stderr
    asked = hearth("ask", "Do otters hold hands?", "--collection", "k", "--max-tokens", "8", "--json",
                   home=hearth_home)
    assert asked.returncode == 0 and "panicked" not in asked.stderr and "Traceback" not in asked.stderr, asked.stderr
    assert asked.stderr.startswith("[knowledge] Searched your files by keyword only: The vector store in ")
    answer = json.loads(asked.stdout)
    assert [Path(s["path"]).name for s in answer["sources"]] == ["otters.txt"]
    assert answer["notices"][0]["kind"] == "knowledge" and "doctor --repair" in answer["notices"][0]["message"]
    listed = hearth("collections", "list", home=hearth_home)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    assert "CANNOT BE CHECKED NOW: The vector store in" in listed.stdout and "doctor --repair" in listed.stdout
    checked = hearth("doctor", home=hearth_home)
    assert "Traceback" not in checked.stderr and "✗ knowledge: The vector store in" in checked.stdout, checked.stderr
    repaired = hearth("doctor", "--repair", home=hearth_home)
    assert repaired.returncode == 0 and "Traceback" not in repaired.stderr, repaired.stderr
    found = hearth("search", "otters sleeping", "-c", "k", "--mode", "dense", home=hearth_home)
    assert found.returncode == 0 and "otters.txt" in found.stdout, found.stderr
    assert list((hearth_home / "data").glob("chroma.damaged-*"))  # kept, not deleted


def test_a_damaged_keyword_index_is_said_and_rebuilt_by_doctor(hearth_home: Path, tmp_path: Path) -> None:
    """Damaged pages of the keyword index (FTS5) made every search and grounded answer "a bug in Hearth:
    DatabaseError", and `hearth doctor` said every collection was in step (a hybrid search and an answer now go on
    by meaning, and say why). Rebuilding the keyword index in place
    fails on the damaged pages, so the repair copies the rest into a new file and builds it there."""
    notes = tmp_path / "notes"
    notes.mkdir()
    for n in range(40):
        (notes / f"note-{n}.txt").write_text(f"Invoice INV-{20900 + n} was paid by card ending {5500 + n}.\n")
    assert hearth("index", str(notes), "-c", "k", home=hearth_home).returncode == 0
    _garble_table(hearth_home / "data" / "index-manifest.sqlite3", "chunks_fts_data")
    searched = hearth("search", "INV-20931", "-c", "k", "--mode", "keyword", home=hearth_home)
    assert searched.returncode == 1 and searched.stderr.startswith("hearth: The knowledge index "), searched.stderr
    assert "is damaged" in searched.stderr and "doctor --repair" in searched.stderr
    # by words and meaning, and a question: by meaning, saying why (they failed too)
    searched = hearth("search", "INV-20931 paid by card", "-c", "k", "--json", home=hearth_home)
    assert searched.returncode == 0 and searched.stderr.startswith("hearth: searched by meaning only: The knowledge "
                                                                   "index "), searched.stderr
    found = json.loads(searched.stdout)
    assert found["hits"] and found["only_by"] == "meaning" and "doctor --repair" in found["only_because"]
    asked = hearth("ask", "Which card paid invoice INV-20931?", "--collection", "k", "--max-tokens", "8", "--json",
                   home=hearth_home)
    assert asked.returncode == 0 and json.loads(asked.stdout)["sources"], asked.stderr
    assert asked.stderr.startswith("[knowledge] Searched your files by meaning only: The knowledge index "), \
        asked.stderr
    checked = hearth("doctor", home=hearth_home)
    assert "✗ knowledge: The knowledge index" in checked.stdout and "--repair` copies" in checked.stdout, \
        checked.stdout
    repaired = hearth("doctor", "--repair", home=hearth_home)
    assert repaired.returncode == 0 and "the knowledge index was rebuilt" in repaired.stderr, repaired.stderr
    found = hearth("search", "INV-20931", "-c", "k", "--mode", "keyword", "-k", "1", home=hearth_home)
    assert found.returncode == 0 and "note-31.txt" in found.stdout, found.stderr
    assert "40 files" in hearth("collections", "list", home=hearth_home).stdout
    assert list((hearth_home / "data").glob("index-manifest.sqlite3.damaged-*"))  # kept, not deleted


def test_a_damaged_index_manifest_is_one_sentence_and_doctor_says_it(hearth_home: Path, tmp_path: Path) -> None:
    """A damaged (or unwritable) index-manifest.sqlite3 was "unexpected error (a bug in Hearth): DatabaseError"
    (exit 70) on every knowledge command, doctor included; a settings file that could not be moved aside (a
    read-only folder) failed every command the same way."""
    (hearth_home / "data").mkdir(parents=True)
    (hearth_home / "data" / "index-manifest.sqlite3").write_bytes(os.urandom(64 * 1024))
    listed = hearth("collections", "list", home=hearth_home)
    assert listed.returncode == 1 and "bug" not in listed.stderr and "Traceback" not in listed.stderr, listed.stderr
    assert listed.stderr.startswith("hearth: The knowledge index ") and "cannot be opened" in listed.stderr
    checked = hearth("doctor", home=hearth_home)
    assert "Traceback" not in checked.stderr and "✗ knowledge: The knowledge index" in checked.stdout, checked.stderr
    assert "✓ memory" in checked.stdout  # memory took the knowledge index's embedder, and failed with it
    added = hearth("memory", "add", "I play the cello.", home=hearth_home)
    assert added.returncode == 0 and "cello" in hearth("memory", "list", home=hearth_home).stdout, added.stderr


def test_with_memory_switched_off_what_was_kept_can_still_be_listed_and_forgotten(hearth_home: Path) -> None:
    """Switching memory off made every `hearth memory` command refuse: what was kept could not be seen, exported
    or forgotten. Learning (`memory process`) is what stays off."""
    from assistant.config import load_settings, save_settings
    from assistant.paths import get_paths

    added = hearth("memory", "add", "I play the cello.", "--json", home=hearth_home)
    assert added.returncode == 0, added.stderr
    kept = json.loads(added.stdout)[0]["id"]
    settings_file = get_paths().settings_file
    settings = load_settings(settings_file).settings
    settings.memory.enabled = False
    save_settings(settings, settings_file)
    listed = hearth("memory", "list", home=hearth_home)
    assert listed.returncode == 0 and "I play the cello." in listed.stdout, listed.stderr
    forgot = hearth("memory", "forget", kept, home=hearth_home)
    assert forgot.returncode == 0 and forgot.stderr == f"Forgot {kept}.\n"
    learn = hearth("memory", "process", home=hearth_home)
    assert learn.returncode != 0 and learn.stderr.startswith("hearth: Memory is switched off, so nothing is learned")
    assert str(settings_file) in learn.stderr and "Traceback" not in learn.stderr


def test_history_search_lists_every_chat_that_matches(hearth_home: Path) -> None:
    """One chat with 55 matching messages filled all 50 rows: `hearth history search` listed it alone, and the
    other chat that matched was never shown."""
    from assistant.chat.history import History
    from assistant.paths import get_paths

    history = History(get_paths().ensure().history_db)
    quiet = history.create_conversation(title="hello")
    history.add_message(quiet.id, "user", "I like pineapple on my pizza with other toppings.")
    busy = history.create_conversation(title="fruit")
    for i in range(55):
        history.add_message(busy.id, "user", f"pineapple pineapple pineapple {i}")
    history.close()
    listed = hearth("history", "search", "pineapple", home=hearth_home).stdout.splitlines()
    assert sorted(line.split()[0] for line in listed) == sorted([quiet.id, busy.id])
    found = json.loads(hearth("history", "search", "pineapple", "--json", home=hearth_home).stdout)
    assert len(found) == 56 and {hit["conversation_id"] for hit in found} == {quiet.id, busy.id}
    limited = json.loads(hearth("history", "search", "pineapple", "--json", "--limit", "3", home=hearth_home).stdout)
    assert len(limited) == 3  # --limit was ignored with --json


def test_history_search_says_when_more_chats_match_than_it_lists(hearth_home: Path) -> None:
    """The listing stopped at 50 chats without saying that more matched."""
    from assistant.chat.history import History
    from assistant.paths import get_paths

    history = History(get_paths().ensure().history_db)
    for i in range(7):
        history.add_message(history.create_conversation(title=f"chat {i}").id, "user", f"lentil soup {i}")
    history.close()
    listed = hearth("history", "search", "lentil", "--limit", "5", home=hearth_home)
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 5
    assert "More than 5 chats match: these are the best 5" in listed.stderr and "--limit" in listed.stderr
    every = hearth("history", "search", "lentil", "--limit", "7", home=hearth_home)
    assert len(every.stdout.splitlines()) == 7 and not every.stderr


def test_a_chat_continued_by_the_next_process_reads_its_cache_from_disk_until_the_chat_is_deleted(
        hearth_home: Path) -> None:
    """Each `hearth ask -c` is a new process: the chat's prompt was evaluated in full every time (3.6k tokens,
    14.6 s before the first token on a 400-message chat). The cache now outlives the process; deleting the
    chat deletes it."""
    notes = " ".join(f"Shelf {i} holds {i * 7} jars of honey." for i in range(40))
    options = ("--json", "--no-memory", "--max-tokens", "8", "--temperature", "0")
    first = hearth("ask", *options, f"My notes: {notes} How many jars are on shelf 3?", home=hearth_home)
    assert first.returncode == 0, first.stderr
    data = json.loads(first.stdout)
    assert data["stats"]["prompt_tokens"] > 256
    cid = data["conversation_id"]
    caches = hearth_home / "cache" / "prompts"
    assert len(list(caches.glob("*.kv"))) == 1
    second = hearth("ask", "-c", cid, *options, "And on shelf 5?", home=hearth_home)
    assert second.returncode == 0, second.stderr
    stats = json.loads(second.stdout)["stats"]
    assert stats["reused_tokens"] >= data["stats"]["prompt_tokens"]
    assert stats["evaluated_tokens"] == stats["prompt_tokens"] - stats["reused_tokens"] < 64
    assert hearth("history", "delete", cid, home=hearth_home).returncode == 0
    assert not list(caches.glob("*.kv"))


def test_an_edited_question_leaves_no_copy_of_the_old_one_in_the_saved_cache(hearth_home: Path) -> None:
    """A chat's cache on disk holds its text as tokens. An edited (or regenerated) turn was deleted from the
    history at once, but the old question stayed in the cache file until the chat's cache was saved again,
    and for good if the process was killed first."""
    notes = " ".join(f"Shelf {i} holds {i * 7} jars of honey." for i in range(40))
    options = ("--no-memory", "--max-tokens", "8", "--temperature", "0")
    first = hearth("ask", "--json", *options, f"My notes: {notes} How many jars are on shelf 3?", home=hearth_home)
    cid = json.loads(first.stdout)["conversation_id"]
    caches = hearth_home / "cache" / "prompts"
    assert len(list(caches.glob("*.kv"))) == 1
    env = {**os.environ, "HEARTH_HOME": str(hearth_home), "HF_HUB_OFFLINE": "1"}
    chat = subprocess.Popen([sys.executable, "-m", "app", "chat", "-c", cid, *options], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert chat.stdin is not None and chat.stderr is not None
        chat.stdin.write("/edit How many jars are on shelf 9?\n")
        chat.stdin.flush()
        while "tok/s" not in (line := chat.stderr.readline()):  # the edited question is answered
            assert line, "hearth chat ended before answering"
        assert not list(caches.glob("*.kv"))  # the old turn's cache went with the old turn
    finally:
        chat.kill()  # killed: nothing is saved at exit
        chat.wait(timeout=30)
    exported = hearth("history", "export", cid, "--format", "json", home=hearth_home).stdout
    assert [m["content"] for m in json.loads(exported)["messages"] if m["role"] == "user"] == [
        "How many jars are on shelf 9?"]


def test_a_retried_question_is_not_given_the_memory_learned_from_it(hearth_home: Path) -> None:
    """/retry of "I work as a nurse in Porto." put "User works as a nurse in Porto", learned from that message
    meanwhile, above the same question, and the answer changed; a retry is asked as the question first was."""
    import threading

    env = {**os.environ, "HEARTH_HOME": str(hearth_home), "HF_HUB_OFFLINE": "1"}
    chat = subprocess.Popen([sys.executable, "-m", "app", "chat", "--max-tokens", "8", "--temperature", "0"],
                            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    said: list[str] = []
    threading.Thread(target=lambda: said.extend(chat.stderr), daemon=True).start()
    try:
        assert chat.stdin is not None
        chat.stdin.write("I work as a nurse in Porto.\n")
        chat.stdin.flush()
        deadline = time.monotonic() + 120
        while not json.loads(hearth("memory", "list", "--json", home=hearth_home).stdout or "[]"):
            assert time.monotonic() < deadline and chat.poll() is None, said
            time.sleep(1)
        answered = sum("tok/s" in line for line in said)
        chat.stdin.write("/retry\n")
        chat.stdin.flush()
        while sum("tok/s" in line for line in said) == answered:
            assert time.monotonic() < deadline and chat.poll() is None, said
            time.sleep(0.1)
    finally:
        chat.kill()
        chat.wait(timeout=30)
    assert not [line for line in said if line.startswith("[memory]")], said  # learned, and not given back


def test_a_forgotten_memory_is_not_learned_again_when_its_answer_is_regenerated(hearth_home: Path) -> None:
    """"My sister is called Ana.", `hearth memory forget ID`, then /retry (the window's Regenerate) printed
    "(remembered: User's sister is called Ana)" again: the regenerated turn was queued as a new one. A question
    edited into other words is said anew, and is learned from."""
    said = hearth("ask", "--max-tokens", "3", "My sister is called Ana.", home=hearth_home)
    assert "(remembered: User's sister is called Ana)" in said.stderr, said.stderr
    [ana] = json.loads(hearth("memory", "list", "--json", home=hearth_home).stdout)
    assert hearth("memory", "forget", ana["id"], home=hearth_home).returncode == 0
    retried = hearth("chat", "-c", "last", "--max-tokens", "3", home=hearth_home, stdin="/retry\n")
    assert retried.returncode == 0 and "remembered" not in retried.stderr, retried.stderr
    assert json.loads(hearth("memory", "list", "--json", home=hearth_home).stdout) == []
    edited = hearth("chat", "-c", "last", "--max-tokens", "3", home=hearth_home,
                    stdin="/edit My brother is called Rui.\n")
    assert "(remembered: User's brother is called Rui)" in edited.stderr, edited.stderr


def test_a_retried_question_is_learned_from_as_memory_is_set_for_its_new_answer(hearth_home: Path) -> None:
    """Asked with `--no-memory`, then retried in `hearth chat` with memory, "My sister is called Ana." was not
    learned from, and nothing said why; asked with memory, then retried in `hearth chat --no-memory` while its
    turn still waited to be learned from (as a window leaves it until it is idle), it was learned from all the
    same. The memory setting of a turn's latest answer is the turn's."""
    hearth("ask", "--max-tokens", "3", "--no-memory", "My sister is called Ana.", home=hearth_home)
    retried = hearth("chat", "-c", "last", "--max-tokens", "3", home=hearth_home, stdin="/retry\n")
    assert "(remembered: User's sister is called Ana)" in retried.stderr, retried.stderr

    from assistant.memory.queue import TurnQueue, queue_path
    from assistant.paths import get_paths

    said = "My brother is called Rui."
    asked = json.loads(hearth("ask", "--max-tokens", "3", "--json", said, home=hearth_home).stdout)
    rui = next(m for m in json.loads(hearth("memory", "list", "--json", home=hearth_home).stdout)
               if "Rui" in m["text"])
    assert hearth("memory", "forget", rui["id"], home=hearth_home).returncode == 0
    queue = TurnQueue(queue_path(get_paths()))  # its turn, not learned from yet
    queue.push(asked["conversation_id"], said)
    queue.close()
    retried = hearth("chat", "-c", "last", "--no-memory", "--max-tokens", "3", home=hearth_home, stdin="/retry\n")
    assert retried.returncode == 0 and "remembered" not in retried.stderr, retried.stderr
    hearth("ask", "--max-tokens", "3", "Hello.", home=hearth_home)  # learns what waits, before it exits
    status = json.loads(hearth("memory", "status", "--json", home=hearth_home).stdout)
    kept = [m["text"] for m in json.loads(hearth("memory", "list", "--json", home=hearth_home).stdout)]
    assert status["pending_turns"] == 0 and kept == ["User's sister is called Ana"], (status, kept)


def test_a_secret_is_not_remembered_and_the_user_is_told_why(hearth_home: Path) -> None:
    """"My gmail password is hunter2sailor.", a card number with its CVV, an API key and a PIN typed in chat were
    each stored as a memory (and a fact said beside one kept it in "[you said: …]"); `hearth memory add` kept
    them too."""
    said = hearth("chat", "--max-tokens", "3", home=hearth_home,
                  stdin="My gmail password is hunter2sailor.\nMy dog is called Rex and my PIN is 4821.\n")
    assert "(not remembered: it looks like a password, and memory keeps no secrets)" in said.stderr, said.stderr
    assert "(not remembered: it looks like a PIN, and memory keeps no secrets)" in said.stderr
    kept = json.loads(hearth("memory", "list", "--json", home=hearth_home).stdout)
    assert [(m["text"], m["source_text"]) for m in kept] == [
        ("User's dog is called Rex", "My dog is called Rex and my […].")], kept
    said = hearth("chat", "--max-tokens", "3", home=hearth_home, stdin="My wifi password is: Sunflower42!\n"
                  "The door code is 4821 and my cat is called Tom.\nI use sunflower42 as my password.\n")
    kept = json.loads(hearth("memory", "list", "--json", home=hearth_home).stdout)
    assert ("User's cat is called Tom", "The […] and my cat is called Tom.") in [
        (m["text"], m["source_text"]) for m in kept], kept
    assert not [m for m in kept if "unflower" in m["text"] + m["source_text"] or "4821" in m["text"]], kept
    refused = hearth("memory", "add", "My OpenAI key is sk-proj-AbC123SECRET", home=hearth_home)
    assert refused.returncode == 2 and refused.stderr == (
        "hearth: This looks like an API key: memory keeps no secrets (it is stored unencrypted and put into "
        "prompts). Nothing was added. `--force` keeps it anyway.\n")
    forced = hearth("memory", "add", "--force", "My OpenAI key is sk-proj-AbC123SECRET", home=hearth_home)
    assert forced.returncode == 0 and "sk-proj-AbC123SECRET" in forced.stdout


def test_a_request_in_chat_to_forget_says_how_to_forget(hearth_home: Path) -> None:
    """"Please forget that I have a dog." did nothing and said nothing (and "Forget that I live in Berlin." was
    learned as "User noted: Forget that User lives in Berlin"): memory forgets what the user forgets in the memory
    manager or with `hearth memory forget`, and the answer now says so, naming the memory it would be."""
    hearth("ask", "--max-tokens", "3", "I have a dog called Biscuit.", home=hearth_home)
    [dog] = json.loads(hearth("memory", "list", "--json", home=hearth_home).stdout)
    asked = hearth("ask", "--max-tokens", "3", "Please forget that I have a dog. My cat is called Tom.",
                   home=hearth_home)
    assert (f"[memory] Nothing was forgotten: memory forgets what you forget in the memory manager (or with "
            f"`hearth memory forget {dog['id'][:8]}`). Kept: “User has a dog called Biscuit” ({dog['id'][:8]})."
            in asked.stderr), asked.stderr
    kept = json.loads(hearth("memory", "list", "--json", home=hearth_home).stdout)
    assert sorted(m["text"] for m in kept) == ["User has a dog called Biscuit", "User's cat is called Tom"]


def test_every_way_of_asking_in_chat_to_forget_says_how(hearth_home: Path) -> None:
    """"Don't remember that I work at Apple." was learned as "User noted: Don't remember that User works at
    Apple", "Delete the memory about Apple." said nothing, and "Can you forget everything you know about me?" was
    told to forget one memory by its id."""
    hearth("memory", "add", "User works at Apple", home=hearth_home)
    [apple] = json.loads(hearth("memory", "list", "--json", home=hearth_home).stdout)
    said = hearth("chat", "--max-tokens", "3", home=hearth_home, stdin="Don't remember that I work at Apple.\n"
                  "Delete the memory about Apple.\nCan you forget everything you know about me?\n")
    one = f"[memory] Nothing was forgotten: memory forgets what you forget in the memory manager (or with `hearth " \
          f"memory forget {apple['id'][:8]}`). Kept: “User works at Apple” ({apple['id'][:8]})."
    assert said.stderr.count(one) == 2, said.stderr
    assert ("[memory] Nothing was forgotten: memory forgets everything when you choose Forget all… in the memory "
            "manager (or run `hearth memory clear`).") in said.stderr
    kept = json.loads(hearth("memory", "list", "--json", home=hearth_home).stdout)
    assert [m["text"] for m in kept] == ["User works at Apple"]


def test_a_running_chat_follows_the_settings_file_and_says_what_it_cannot_use(hearth_home: Path) -> None:
    """`hearth chat` kept the temperature and speculative mode it started with whatever the file said later, and
    an unusable edit (`temperature = 9.0`) was dropped without a word and written over within seconds."""
    import threading

    file = hearth_home / "config" / "settings.toml"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text('[model]\nspeculative = "ngram"\nmax_tokens = 16\ntemperature = 0.0\n[memory]\nenabled = false\n')
    chat = subprocess.Popen([sys.executable, "-m", "app", "chat"], cwd=ROOT, text=True, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "HEARTH_HOME": str(hearth_home)})
    said: list[str] = []
    threading.Thread(target=lambda: said.extend(chat.stderr), daemon=True).start()

    def wait_for(text: str, after: int = 0) -> int:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = next((i for i, line in enumerate(said[after:], after) if text in line), None)
            if found is not None:
                return found
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never said: {said}")

    try:
        chat.stdin.write("Say hi.\n")
        chat.stdin.flush()
        first = wait_for("tok/s")
        assert "speculative ngram" in said[first]
        bad = file.read_text().replace("temperature = 0.0", "temperature = 9.0")
        file.write_text(bad)
        wait_for("temperature", first + 1)
        time.sleep(2)
        assert file.read_text() == bad  # left as the user wrote it
        file.write_text(bad.replace('speculative = "ngram"', 'speculative = "off"'))
        time.sleep(2)  # the file watcher's delay
        chat.stdin.write("Say hello.\n")
        chat.stdin.flush()
        second = wait_for("tok/s", first + 1)
        assert "speculative" not in said[second], said[second]
        chat.stdin.write("/quit\n")
        chat.stdin.flush()
        assert chat.wait(timeout=60) == 0
    finally:
        chat.kill()


def test_a_configured_draft_model_that_cannot_be_had_is_what_the_stats_say(hearth_home: Path) -> None:
    """`draft_model = "does-not-exist"` with speculative "draft": the stats said "off: no draft model is set", as
    if none were configured."""
    file = hearth_home / "config" / "settings.toml"
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text('[model]\nspeculative = "draft"\ndraft_model = "does-not-exist"\n[memory]\nenabled = false\n')
    out = hearth("ask", "--json", "--max-tokens", "16", "Hi", home=hearth_home)
    assert out.returncode == 0, out.stderr
    decision = json.loads(out.stdout)["stats"]["spec_decision"]
    assert decision.startswith("off: ") and "does-not-exist" in decision, decision
    assert "draft draft" not in out.stderr


def test_ask_says_when_the_context_set_is_more_than_the_model_was_trained_for(hearth_home: Path) -> None:
    """`hearth ask` with a context of 100000 said nothing while answers had 8192 (only the window's Settings did)."""
    from assistant.config import load_settings, save_settings
    from assistant.paths import get_paths

    settings = load_settings(get_paths().settings_file).settings
    settings.model.n_ctx = 100000
    save_settings(settings, get_paths().settings_file)
    out = hearth("ask", "--no-memory", "--max-tokens", "2", "--json", "Hi", home=hearth_home)
    answer = json.loads(out.stdout)
    assert answer["stats"]["context_size"] == 8192, answer["stats"]
    said = ("a context of 100000 is more than SmolLM2 135M Instruct was trained for, so answers get 8192: set the "
            "context to 8192 or less, or to 0 for the model's maximum")
    assert {"kind": "context", "message": said} in answer["notices"]


def test_a_json_command_that_fails_says_so_in_json_too(hearth_home: Path) -> None:
    """`hearth ask --json` that failed printed its error on stderr only: a script reading stdout had nothing to
    parse ("Expecting value: line 1 column 1")."""
    for args, kind, code in ((("ask", "--json", "--speculative", "draft", "Hi"), "NoDraftError", 2),
                             (("ask", "--json", "-c", "nosuch", "Hi"), "ConversationNotFoundError", 4),
                             (("history", "search", "--json", "x", "--limit", "0"), None, 2)):
        out = hearth(*args, home=hearth_home)
        assert out.returncode == code, out.stderr
        if kind is None:  # a usage error (argparse's): said as usage, no JSON
            assert out.stdout == ""
            continue
        error = json.loads(out.stdout)["error"]
        assert error["type"] == kind and error["message"] in out.stderr


def test_a_question_too_long_for_the_context_says_the_command_that_raises_it(hearth_home: Path) -> None:
    """The message named `n_ctx` "under [model] in settings.toml" to someone at a terminal, where one command
    changes it."""
    assert hearth("settings", "set", "n_ctx=512", home=hearth_home).returncode == 0
    done = hearth("ask", "--no-memory", "Say which of these words is longest: " + "lighthouse " * 600,
                  home=hearth_home)
    assert done.returncode == 2, done.stderr
    # the command names a length that holds it (it named 8192 to a context of 8192)
    assert "the context holds 512" in done.stderr and "`hearth settings set n_ctx=1024`" in done.stderr
    assert "Traceback" not in done.stderr


def test_ask_on_a_full_disk_answers_and_says_in_one_line_it_is_not_saved(hearth_home: Path, monkeypatch,
                                                                          capsys) -> None:
    """With the history opened read-only on a full disk, `hearth ask` was refused ("The chat history … can only
    be read …", exit 1) though the answer needs no saving to be read: it answers, and says why it is not saved,
    in one line: the general warning every command opening such a history prints ("… Earlier conversations are
    shown, but new ones cannot be saved …") was said above it as well; `hearth history list` still says that one.
    In-process `hearth`, the history's open failing as on a full disk (as tests/assistant/test_history.py does)."""
    import assistant.chat.history as history_module
    from assistant.chat.history import History
    from assistant.cli import main
    from assistant.paths import StorageProblem, get_paths

    History(get_paths().history_db).close()
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL

    def no_room(self: History, *, check: bool) -> sqlite3.Connection:
        raise full

    monkeypatch.setattr(History, "_open", no_room)
    monkeypatch.setattr(history_module, "disk_full",
                        lambda _folder: StorageProblem("the disk holding it is full (0 MB free)", full=True))
    assert main(["ask", "--no-memory", "--max-tokens", "4", "--json", "Name a colour."]) == 0
    out, err = capsys.readouterr()
    answer = json.loads(out)
    assert answer["answer"].strip() and answer["conversation_id"] is None, out
    said = ("this answer is not saved: the chat history can only be read: the disk holding it is full (0 MB "
            "free). Nothing new can be saved to it until space is freed.")
    assert [line for line in err.splitlines() if "can only be read" in line] == [f"hearth: {said}"], err
    assert {"kind": "history", "message": said} in answer["notices"]  # what stderr said, not the general warning
    assert main(["history", "list"]) == 0
    assert "Earlier conversations are shown, but new ones cannot be saved" in capsys.readouterr().err
