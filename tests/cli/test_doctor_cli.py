"""``hearth doctor``: what is wrong, in words, with what to do; --repair fixes what Hearth can fix itself."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from checks import fake_full_disk, run_read_only

from assistant.config import Settings, save_settings
from assistant.memory.queue import TurnQueue
from assistant.paths import get_paths

ROOT = Path(__file__).resolve().parents[2]


def hearth(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HEARTH_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def doctor(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return hearth("doctor", *args, home=home)


def by_area(out: str) -> dict[str, dict]:
    return {f["area"]: f for f in json.loads(out)}


def test_a_fresh_install_is_healthy(hearth_home: Path) -> None:
    out = doctor("--json", home=hearth_home)
    assert out.returncode in (0, 1) and "Traceback" not in out.stderr
    found = by_area(out.stdout)
    assert {"settings", "model", "history", "knowledge", "memory", "disk", "desktop"} <= set(found)
    assert all(found[a]["status"] == "ok" for a in ("settings", "model", "history", "knowledge", "memory", "disk"))


def test_a_broken_model_is_a_problem_with_a_fix(hearth_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    settings = Settings()
    settings.model.path = str(bad)
    save_settings(settings, get_paths().settings_file)
    out = doctor(home=hearth_home)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "✗ model: The chat model cannot be used: broken.gguf" in out.stdout
    assert "→ Pick another one: Models → Use in the window, or `hearth models list`" in out.stdout


def test_failed_memory_turns_are_a_warning_that_repair_queues_again(hearth_home: Path) -> None:
    queue = TurnQueue(get_paths().ensure().memory_dir / "queue.sqlite3")
    turn = queue.push("c1", "I play the cello.")
    for _ in range(3):
        queue.fail(turn, "the model gave no valid JSON")
    assert queue.counts() == {"pending": 0, "failed": 1}
    queue.close()
    before = by_area(doctor("--json", home=hearth_home).stdout)["memory"]
    assert before["status"] == "warning" and before["repair"] == "retry-memory"
    repaired = doctor("--repair", "--json", home=hearth_home)
    assert "repairing:" in repaired.stderr and "Traceback" not in repaired.stderr
    assert by_area(repaired.stdout)["memory"]["status"] == "ok"


def test_a_full_disk_is_said_as_such_and_repair_moves_nothing(hearth_home: Path, tmp_path: Path,
                                                              monkeypatch, capsys) -> None:
    """On a full disk `hearth doctor` called a healthy vector store and history "damaged", and `--repair` moved
    the vector store aside to build a new one on the full disk. In-process `hearth doctor` with the disk's free
    space and Chroma's and SQLite's failures of a full disk put in place."""
    from collections import namedtuple
    from types import SimpleNamespace

    import chromadb

    from assistant import doctor as doctor_module
    from assistant import paths as paths_module
    from assistant.chat.history import History
    from assistant.cli import main

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "otters.txt").write_text("Otters hold hands while they sleep on the water.\n")
    env = {**os.environ, "HEARTH_HOME": str(hearth_home), "HF_HUB_OFFLINE": "1"}
    assert subprocess.run([sys.executable, "-m", "app", "index", str(notes), "-c", "k"], cwd=ROOT, env=env,
                          capture_output=True, timeout=300).returncode == 0
    History(get_paths().history_db).close()

    def full(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("error returned from database: (code: 13) database or disk is full")

    def history_full(*_args: object, **_kwargs: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(paths_module.shutil, "disk_usage", lambda _p: usage(2**30, 2**30 - 2**20, 2**20))
    monkeypatch.setattr(chromadb, "PersistentClient", full)
    monkeypatch.setattr(doctor_module, "sqlite3", SimpleNamespace(connect=history_full, Error=sqlite3.Error))
    main(["doctor"])
    out = capsys.readouterr().out
    assert "✗ knowledge: The vector store in" in out and "cannot be opened now: the disk holding it is full" in out
    assert "✗ history: The chat history cannot be checked now: the disk holding it is full (1 MB free)" in out
    # the fix the cause carries, on its own line (it read "Free some disk space (or make the folder writable)")
    assert "→ Free some disk space: the vectors are kept as they are." in out, out
    assert "→ Free some disk space: the history is kept as it is." in out, out
    assert "damaged" not in out and "--repair" not in out, out
    main(["doctor", "--repair"])
    assert (hearth_home / "data" / "chroma").is_dir() and not list((hearth_home / "data").glob("chroma.damaged-*"))
    # the index's own file cannot be opened either (its write-ahead log needs room): said as the full disk it
    # is, not "If the folder is read-only, make it writable; if the file is damaged, move it aside"
    from assistant.knowledge import store as store_module

    monkeypatch.setattr(store_module.sqlite3, "connect", history_full)
    main(["doctor"])
    out = capsys.readouterr().out
    assert "cannot be opened now: the disk holding it is full (1 MB free)" in out and "damaged" not in out, out


def _read_only_home(home: Path, notes: Path) -> dict[str, str]:
    """``home`` with a collection of ``notes``, a memory and a chat history: every store a read-only folder can
    keep from being written. Returns the environment that runs `hearth` on it."""
    notes.mkdir()
    (notes / "otters.txt").write_text("Otters hold hands while they sleep on the water.\n")
    env = {**os.environ, "HEARTH_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    for args in (("index", str(notes), "-c", "k"), ("memory", "add", "My dog is called Biscuit.")):
        made = subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300)
        assert made.returncode == 0, made.stderr
    from assistant.chat.history import History

    History(get_paths().history_db).close()
    return env


@pytest.mark.parametrize("held", [True, False], ids=["index-open-elsewhere", "index-closed"])
def test_doctor_on_a_read_only_data_folder_lists_what_it_cannot_check(hearth_home: Path, tmp_path: Path,
                                                                     held: bool) -> None:
    """On a read-only data folder `hearth doctor` (and --repair) ended as "a bug in Hearth: OperationalError:
    attempt to write a readonly database" (exit 70): the index opens there while its write-ahead log is on disk
    (the window has it open), and the keyword index's check is a write. Closed, it cannot be opened at all, which
    doctor said with the fix inside the sentence and no "→" line."""
    env = _read_only_home(hearth_home, tmp_path / "notes")
    holder = sqlite3.connect(get_paths().index_manifest) if held else None
    try:
        if holder is not None:
            holder.execute("SELECT COUNT(*) FROM chunks").fetchone()  # its -wal and -shm files stay meanwhile
        for args in (("doctor",), ("doctor", "--repair")):
            checked = run_read_only(hearth_home, sys.executable, "-m", "app", *args, env=env)
            assert checked.returncode == 1 and "bug" not in checked.stderr and "Traceback" not in checked.stderr, \
                checked.stderr
            said = "cannot be checked now: its folder" if held else "cannot be opened now: its folder"
            assert "✗ knowledge: The knowledge index " in checked.stdout and said in checked.stdout, checked.stdout
            assert "→ Make the data folder writable: the index is kept as it is" in checked.stdout, checked.stdout
            assert "✓ settings" in checked.stdout and "! history" in checked.stdout, checked.stdout
    finally:
        if holder is not None:
            holder.close()


def test_memories_on_a_read_only_data_folder_are_listed_and_doctor_says_what_to_do(hearth_home: Path,
                                                                                   tmp_path: Path) -> None:
    """chromadb writes as it opens, so on a read-only folder (or a full disk) `hearth memory list` and `search`
    failed ("could not be opened: … attempt to write a readonly database"), while the chat history opened
    read-only; doctor's line said "The memory store cannot be opened: The memory store … could not be opened",
    with no fix."""
    env = _read_only_home(hearth_home, tmp_path / "notes")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_read_only(hearth_home, sys.executable, "-m", "app", *args, env=env)

    said = f"hearth: The memory store in {hearth_home / 'data' / 'memory'} can only be read now: its folder cannot " \
           "be written (read-only or no permission). "
    listed = run("memory", "list")
    assert listed.returncode == 0 and "My dog is called Biscuit." in listed.stdout, listed.stderr
    assert (f"{said}Listed as read from its file. Make the data folder writable to add, change or forget "
            "memories.") in listed.stderr
    found = run("memory", "search", "biscuit")
    assert found.returncode == 0 and "My dog is called Biscuit." in found.stdout, found.stderr
    assert f"{said}Searched for the words as typed, not by meaning." in found.stderr
    assert run("memory", "search", "cello").stdout == ""
    checked = run("doctor").stdout
    assert "✗ memory: The memory store in " in checked and "cannot be opened now: its folder cannot be " in checked
    assert "→ Make the data folder writable: the memories are kept as they are" in checked, checked
    assert checked.count("The memory store") == 1, checked
    added = run("memory", "add", "I play the cello.")
    assert added.returncode == 1 and "cannot be opened now: its folder cannot be written" in added.stderr


def test_memories_on_a_full_disk_are_listed_and_doctor_says_to_free_space(hearth_home: Path, monkeypatch,
                                                                          capsys) -> None:
    """The same on a full disk: in-process `hearth`, with the disk's free space and chromadb's failure on a
    full disk put in place."""
    from assistant.cli import main

    assert main(["memory", "add", "My dog is called Biscuit."]) == 0
    fake_full_disk(monkeypatch)
    capsys.readouterr()
    assert main(["memory", "list"]) == 0
    out, err = capsys.readouterr()
    assert "My dog is called Biscuit." in out and "can only be read now: the disk holding it is full (1 MB free). " \
        "Listed as read from its file. Free some disk space to add, change or forget memories." in err, err
    main(["doctor"])
    out = capsys.readouterr().out
    assert "✗ memory: The memory store in " in out and "cannot be opened now: the disk holding it is full" in out
    assert "→ Free some disk space: the memories are kept as they are" in out and out.count("The memory store") == 1


def test_a_half_written_self_draft_of_a_stopped_process_is_listed_and_repair_deletes_it(hearth_home: Path) -> None:
    """A self-draft killed mid-way left its hidden .NAME.PID.part (GBs) in data/models/drafts/, said nowhere
    until the next self-draft removed it."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    drafts = get_paths().ensure().models_dir / "drafts"
    drafts.mkdir()
    part = drafts / f".Big.abc123.self-Q4_0.gguf.{gone.stdout.strip()}.part"
    part.write_bytes(b"\0" * 2**20)
    mine = drafts / f".Other.self-Q4_0.gguf.{os.getpid()}.part"  # its writer still runs: not touched
    mine.write_bytes(b"")
    checked = doctor(home=hearth_home)
    assert f"! disk: 1 half-written model file left by a stopped copy or self-draft take 1 MB: {part}." in \
        checked.stdout and "→ `hearth doctor --repair` deletes them" in checked.stdout, checked.stdout
    repaired = doctor("--repair", home=hearth_home)
    assert "the half-written model files were deleted" in repaired.stderr, repaired.stderr
    assert not part.exists() and mine.exists() and "half-written" not in repaired.stdout


def test_a_damaged_memory_queue_costs_no_answer_and_doctor_sets_it_aside(hearth_home: Path) -> None:
    """A damaged queue.sqlite3 made `hearth ask`, every memory command and `hearth doctor` end as "a bug in
    Hearth: DatabaseError" (exit 70)."""
    queue = get_paths().ensure().memory_dir / "queue.sqlite3"
    queue.parent.mkdir(parents=True)
    queue.write_bytes(os.urandom(64 * 1024))
    asked = hearth("ask", "--max-tokens", "4", "Say hello.", home=hearth_home)
    assert asked.returncode == 0 and asked.stdout.strip() and "bug" not in asked.stderr, asked.stderr
    assert "Answered without your memory: The memory queue" in asked.stderr and "is damaged" in asked.stderr
    listed = hearth("memory", "list", home=hearth_home)
    assert listed.returncode == 1 and listed.stderr.startswith("hearth: The memory queue"), listed.stderr
    checked = doctor(home=hearth_home)
    assert "✗ memory: The memory queue" in checked.stdout and "Traceback" not in checked.stderr, checked.stderr
    repaired = doctor("--repair", home=hearth_home)
    assert "the damaged memory queue was moved to" in repaired.stderr + repaired.stdout, repaired.stderr
    assert hearth("memory", "list", home=hearth_home).returncode == 0
    assert list(queue.parent.glob("queue.sqlite3.damaged-*"))


def test_a_damaged_memory_store_is_rebuilt_by_repair_with_what_was_superseded(hearth_home: Path) -> None:
    """A damaged data/memory/chroma made every memory command fail ("could not be opened: … malformed") and
    doctor said so with no way out; --repair now rebuilds the memories from the rows that can still be read."""
    for fact in ("User lives in Oslo", "User plays the cello", "User lives in Bergen"):  # Bergen supersedes Oslo
        assert hearth("memory", "add", fact, home=hearth_home).returncode == 0
    store = get_paths().memory_dir / "chroma" / "chroma.sqlite3"
    with sqlite3.connect(store) as conn:  # garbage over the page of a table chromadb reads as it opens
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'migrations'").fetchone()[0]
    with store.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(os.urandom(page_size))
    listed = hearth("memory", "list", home=hearth_home)
    assert listed.returncode == 1 and "is damaged" in listed.stderr and "doctor --repair" in listed.stderr
    checked = doctor(home=hearth_home)
    assert "✗ memory: The memory store in" in checked.stdout and "→ `hearth doctor --repair` rebuilds" in \
        checked.stdout, checked.stdout
    repaired = doctor("--repair", home=hearth_home)
    assert "3 memories rebuilt" in repaired.stderr + repaired.stdout, repaired.stderr
    listed = hearth("memory", "list", home=hearth_home)
    assert listed.stdout.count("User ") == 2  # cello and Bergen: Oslo stays superseded
    every = hearth("memory", "list", "--all", "--json", home=hearth_home).stdout
    assert {m["text"] for m in json.loads(every)} == {"User lives in Oslo", "User plays the cello",
                                                      "User lives in Bergen"}
    found = hearth("memory", "search", "Which city do I live in?", "-k", "1", home=hearth_home)
    assert found.stdout.count("Bergen") == 1


def test_a_store_cut_short_is_rebuilt_from_mem0s_record_of_changes(hearth_home: Path) -> None:
    """A memory store cut to half its size (a full disk, a sync tool) had no readable row left, and --repair
    rebuilt it with every memory lost ("0 memories rebuilt"), though mem0's own record of changes, another file,
    still held each memory's text: the memories come back from it, the latest word of a slot kept, an edit's text
    taken and a forgotten one left forgotten."""
    for fact in ("User lives in Oslo", "User plays the cello", "User has a cat called Miso", "User lives in Bergen"):
        assert hearth("memory", "add", fact, home=hearth_home).returncode == 0
    listed = json.loads(hearth("memory", "list", "--all", "--json", home=hearth_home).stdout)
    ids = {m["text"]: m["id"] for m in listed}
    assert hearth("memory", "edit", ids["User plays the cello"], "User plays the viola",
                  home=hearth_home).returncode == 0
    assert hearth("memory", "forget", ids["User has a cat called Miso"], home=hearth_home).returncode == 0
    store = get_paths().memory_dir / "chroma" / "chroma.sqlite3"
    with store.open("r+b") as f:
        f.truncate(store.stat().st_size // 2)
    assert hearth("memory", "list", home=hearth_home).returncode == 1
    repaired = doctor("--repair", home=hearth_home)
    said = repaired.stderr + repaired.stdout
    assert "3 memories rebuilt (3 of them from the record of changes" in said, said
    every = {m["text"]: m for m in json.loads(hearth("memory", "list", "--all", "--json", home=hearth_home).stdout)}
    assert set(every) == {"User lives in Oslo", "User plays the viola", "User lives in Bergen"}, every
    assert every["User lives in Oslo"]["superseded_by"] == every["User lives in Bergen"]["id"] == ids[
        "User lives in Bergen"]
    assert every["User plays the viola"]["id"] == ids["User plays the cello"]  # its own id: links to it hold


def test_doctor_says_what_the_chats_saved_caches_take(hearth_home: Path) -> None:
    """The chats' KV caches kept between runs are the one thing in Hearth's folders that can be deleted without
    losing anything: `hearth doctor` says how much they take and where."""
    caches = hearth_home / "cache" / "prompts"
    caches.mkdir(parents=True)
    (caches / "0123456789abcdef-0123456789abcdef.kv").write_bytes(b"\0" * 3 * 2**20)
    out = doctor("--json", home=hearth_home)
    disk = [f for f in json.loads(out.stdout) if f["area"] == "disk"]
    assert [f["status"] for f in disk] == ["ok", "ok"]
    assert f"1 file(s), 3 MB in {caches}, deleted with their chats" in disk[1]["message"]


def test_model_settings_that_cannot_be_honoured_are_warnings_with_what_to_do(hearth_home: Path) -> None:
    """A draft model that cannot draft, and a context longer than the model was trained for (loaded as the
    trained length without a word), are said with what to do."""
    settings = Settings()
    settings.model.speculative, settings.model.draft_model = "draft", "no-such-draft"
    settings.model.n_ctx = 100_000
    save_settings(settings, get_paths().settings_file)
    out = doctor(home=hearth_home)
    assert "Traceback" not in out.stderr
    assert ("! model: A context of 100000 is more than SmolLM2 135M Instruct was trained for, so answers get 8192.\n"
            "    → Set model.n_ctx to 0 (the model's maximum) or to 8192 or less") in out.stdout, out.stdout
    assert ("! model: Speculative decoding (draft) has no draft model, so answers decode without one: The draft "
            "model 'no-such-draft' cannot be used: there is no model 'no-such-draft'") in out.stdout, out.stdout
    assert "→ `hearth models drafts` lists the models that can draft" in out.stdout


def test_settings_hearth_cannot_use_are_a_warning_with_what_to_do(hearth_home: Path) -> None:
    """`n_ctx = "abc"` was said in one line at start-up, above a doctor that ticked every check and exited 0; a
    file that was not TOML was moved aside, and doctor said nothing of it."""
    path = get_paths().settings_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[model]\nn_ctx = "abc"\ntemperature = 9\n')
    out = doctor(home=hearth_home)
    assert (f"! settings: Settings file {path}: model.n_ctx = 'abc' has the wrong type (using 4096); "
            f"model.temperature = 9.0 is outside 0.0 to 2.0 (using 2.0).\n"
            f"    → Mend or delete these lines in {path}, or set them in the window's Settings.") in out.stdout, out


def test_a_settings_file_that_is_not_toml_is_left_as_it_is_until_doctor_sets_it_aside(hearth_home: Path) -> None:
    """A half-finished hand edit plus any command moved the file aside; `hearth serve --show-token` (the README's
    way to get the API token) then saved defaults with a new token, which a running server took up: every API
    client got 401, and the user's settings were gone."""
    path = get_paths().settings_file
    path.parent.mkdir(parents=True, exist_ok=True)
    edited = '[model]\ntemperature = 0.2\n[server]\ntoken = "abc123"\ntemprature = 0.3 oops\n'
    path.write_text(edited)
    listed = hearth("history", "list", home=hearth_home)
    assert listed.returncode == 0 and "is not valid TOML (" in listed.stderr, listed.stderr
    token = hearth("serve", "--show-token", home=hearth_home)
    assert token.returncode == 1 and "hearth: Hearth did not save the settings" in token.stderr, token.stderr
    assert "Traceback" not in token.stderr and token.stdout == ""
    assert path.read_text() == edited and [p.name for p in path.parent.glob("settings*")] == ["settings.toml"]
    found = by_area(doctor("--json", home=hearth_home).stdout)["settings"]
    assert found["status"] == "warning" and found["repair"] == "set-aside:settings.toml", found
    repaired = doctor("--repair", home=hearth_home)
    assert "settings.toml: it was moved to settings.toml.corrupt-" in repaired.stderr, repaired.stderr
    assert [p.read_text() for p in path.parent.glob("settings.toml.corrupt-*")] == [edited]
    token = hearth("serve", "--show-token", home=hearth_home)
    assert token.returncode == 0 and len(token.stdout.strip()) > 20, token.stderr


def test_a_history_that_doctor_finds_damaged_is_not_said_to_pass(hearth_home: Path) -> None:
    """Opening a cut-short history for the check set it aside and started an empty one; the report then said
    "✓ history: Chat history passes SQLite's integrity check"."""
    from assistant.chat.history import History

    with History(get_paths().history_db) as history:
        chat = history.create_conversation("Keys")
        for n in range(200):
            history.add_message(chat.id, "user", f"Where did I leave key number {n}? " * 20)
    db = get_paths().history_db
    db.write_bytes(db.read_bytes()[:30_000])
    found = by_area(doctor("--json", home=hearth_home).stdout)["history"]
    assert found["status"] == "warning" and "The chat history was damaged" in found["message"], found
    assert "The damaged file was kept as" in found["message"] and "passes" not in found["message"]


def test_an_unusable_remote_llm_url_is_one_finding_among_the_others(hearth_home: Path) -> None:
    """`hearth doctor` said only that the URL was unusable (exit 2) and checked nothing else: a bad context
    length beside it went unreported."""
    path = get_paths().settings_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[remote]\nllm_url = "not a url"\n[model]\nn_ctx = -5\n')
    out = doctor("--json", home=hearth_home)
    assert out.returncode == 1, out.stderr
    found = by_area(out.stdout)
    assert found["remote"]["status"] == "problem" and "'not a url' (remote.llm_url) is not usable" in \
        found["remote"]["message"] and "clear it to use the local model" in found["remote"]["fix"]
    assert "model.n_ctx = -5 is outside" in found["settings"]["message"] and found["history"]["status"] == "ok"
    # an unusable Chroma URL: no server to start (the fix said "Start that server")
    path.write_text('[remote]\nchroma_url = "htp:/bad url"\n')
    found = json.loads(doctor("--json", home=hearth_home).stdout)
    remote = [f for f in found if f["area"] == "remote"]
    assert [f["fix"] for f in remote] == ["Correct remote.chroma_url (Settings → Remote), or clear it to use the "
                                          "embedded store on this computer."]
    # and the settings line beside it does not call that value usable
    assert [f["message"] for f in found if f["area"] == "settings"] == [
        f"Settings file {path} reads well: every value is of the right kind."]


def test_an_index_file_cut_short_is_set_aside_and_its_collections_indexed_anew(hearth_home: Path,
                                                                                 tmp_path: Path) -> None:
    """A manifest that cannot be opened at all: `hearth doctor --repair` did nothing (and the window would not
    start over it). It is set aside and the collections it still names are indexed again from their folders."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(30):
        (docs / f"note{n}.txt").write_text("\n\n".join(f"Note {n} part {j}: the keeper logs ship {j * 7}."
                                                       for j in range(30)))
    assert hearth("index", str(docs), "--collection", "logs", "--watch", home=hearth_home).returncode == 0
    manifest = get_paths().index_manifest
    manifest.write_bytes(manifest.read_bytes()[: manifest.stat().st_size // 2])
    for side in ("-wal", "-shm"):
        manifest.with_name(manifest.name + side).unlink(missing_ok=True)
    found = by_area(doctor("--json", home=hearth_home).stdout)["knowledge"]
    assert found["status"] == "problem" and found["repair"] == "index-anew" and "cannot be opened" in found["message"]
    repaired = doctor("--repair", home=hearth_home)
    assert "the damaged knowledge index was moved to" in repaired.stderr and repaired.stderr.count("reading") <= 1
    assert "✓ knowledge" in repaired.stdout, repaired.stdout
    listed = json.loads(hearth("collections", "list", "--json", home=hearth_home).stdout)
    assert [(c["name"], c["files"], c["watched"]) for c in listed] == [("logs", 30, True)]
    assert list(manifest.parent.glob("index-manifest.sqlite3.damaged-*"))


def test_doctor_says_which_fonts_to_install_where_none_shows_cjk_text_or_emoji(hearth_home: Path, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """On a bare Linux box no installed font covered Chinese text or emoji: the window showed boxes for 北京 and 🦄,
    and `hearth doctor` said nothing. Said now as an advisory (the exit status stays 0), from fontconfig's answer
    (a fake ``fc-list`` here); nothing where fontconfig finds both, fails, or is not installed."""
    from assistant.doctor import fonts

    fake = tmp_path / "bin" / "fc-list"
    fake.parent.mkdir()
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    fonts_found = {"none": "", "cjk": '[ "$1" = ":lang=zh" ] && echo "Noto Sans CJK SC"', "both": "echo DejaVu Sans",
                   "failing": "exit 1"}
    for found, said in (("none", "Chinese, Japanese and Korean text or emoji"), ("cjk", "emoji"), ("both", None),
                        ("failing", None)):
        fake.write_text(f"#!/bin/sh\n{fonts_found[found]}\nexit 0\n")
        fake.chmod(0o755)
        out = doctor("--json", home=hearth_home)
        assert out.returncode == 0 and "Traceback" not in out.stderr, found
        finding = by_area(out.stdout).get("fonts")
        if said is None:
            assert finding is None, found
            continue
        assert finding["status"] == "warning", found
        assert finding["message"] == f"No installed font shows {said}: the desktop app shows boxes in their place."
        assert ("cjk" in finding["fix"]) == (found == "none") and "emoji" in finding["fix"], finding["fix"]
    monkeypatch.setattr(fonts.shutil, "which", lambda name: None)  # no fontconfig (macOS, Windows): nothing said
    assert fonts.check() is None
