"""Indexing and incremental sync through the real embedder and a real Chroma store.

After every sync the two indexes must hold exactly the same chunks: SQLite rows == Chroma ids, and the
FTS5 index passes SQLite's own integrity check against those rows.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from checks import contents

from assistant.config import KnowledgeSettings
from assistant.errors import CollectionNotFoundError
from assistant.knowledge import KnowledgeBase
from assistant.knowledge.errors import IndexBusyError, IndexWriteError, NeedsReindexError
from assistant.knowledge.records import chunk_hash
from assistant.knowledge.store import Store
from assistant.paths import get_paths

REPO_ROOT = Path(__file__).resolve().parents[3]


def paths_found(kb: KnowledgeBase, text: str, **kw) -> list[str]:
    return [Path(c.path).name for c in kb.search(text, **kw)]


def test_mixed_folder_reports_bad_files_and_finds_good_ones(kb: KnowledgeBase, sync,
                                                            mixed_folder: Path) -> None:
    last = sync(mixed_folder)
    assert last.message == "done" and last.done == last.total == 16
    reasons = {Path(p).name: r for p, r in last.errors}
    assert set(reasons) == {"broken.pdf", "fake.txt", "empty.txt"}
    assert reasons["broken.pdf"].startswith("cannot be read as PDF")
    assert (reasons["fake.txt"], reasons["empty.txt"]) == ("binary file (not text)", "empty file")
    indexed = contents(kb.store)
    assert set(indexed) == {p.name for p in mixed_folder.iterdir()} - {"broken.pdf", "fake.txt", "empty.txt"}
    for words, name in [("spare key flowerpot", "notes.txt"), ("sourdough starter", "page.html"),
                        ("otter sanctuary", "report.docx"), ("lighthouse lens", "book.epub"),
                        ("Linus Helsinki", "people.csv"), ("compute_tax", "tool.py"),
                        ("café crème", "latin1.txt"), ("meteor shower", "events.jsonl")]:
        assert paths_found(kb, words, k=1, mode="keyword") == [name], words
    (glacier,) = kb.search("Which page is about glaciers and ice ages?", k=1)
    assert (Path(glacier.path).name, glacier.page, glacier.uri().endswith("paper.pdf#page=2")) == (
        "paper.pdf", 2, True)
    (key,) = kb.search("where did I hide the key to the house?", k=1, mode="dense")
    assert (Path(key.path).name, key.line_start, key.line_end) == ("notes.txt", 1, 1)
    info = kb.collections()[0]
    assert (info.files, info.errors, info.needs_reindex) == (13, 3, False)


def test_file_errors_outlive_the_job_and_clear_when_fixed(kb: KnowledgeBase, sync, tmp_path: Path,
                                                          settings: KnowledgeSettings, embedder) -> None:
    root = tmp_path / "bad"
    root.mkdir()
    (root / "good.txt").write_text("The boiler service is due in March.\n")
    (root / "fake.txt").write_bytes(bytes(range(256)) * 4)
    (root / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj garbage that is not a pdf at all")
    sync(root)
    reopened = KnowledgeBase(get_paths(), settings, embedder=embedder)
    try:
        errors = reopened.file_errors("default")
    finally:
        reopened.close()
    assert [Path(p).name for p, _ in errors] == ["broken.pdf", "fake.txt"]
    assert errors[0][1].startswith("cannot be read as PDF") and errors[1][1] == "binary file (not text)"
    (root / "fake.txt").write_text("Now it is plain text about the boiler.\n")
    sync(root)
    assert [Path(p).name for p, _ in kb.file_errors("default")] == ["broken.pdf"]
    with pytest.raises(CollectionNotFoundError):
        kb.file_errors("missing")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("Alpha notes: the wifi password is sunflower42.\n")
    (root / "b.txt").write_text("Bravo notes: the dentist appointment is on Tuesday.\n")
    (root / "c.md").write_text("# Charlie\n\nCharlie notes: the car needs new tyres before winter.\n")
    (root / "d.txt").write_text("Delta notes: grandmother's lasagne recipe uses nutmeg.\n")
    return root


def test_incremental_sync(kb: KnowledgeBase, sync, folder: Path, embedder,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    sync(folder)
    assert len(embedder.texts) == 4
    before = contents(kb.store)

    (folder / "a.txt").write_text("Alpha notes: the wifi password changed to moonflower7.\n")
    (folder / "b.txt").unlink()
    (folder / "sub").mkdir()
    (folder / "c.md").rename(folder / "sub" / "c2.md")
    (folder / "d_copy.txt").write_bytes((folder / "d.txt").read_bytes())
    read: list[str] = []
    real_read = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self.name) or real_read(self))
    embedder.texts.clear()
    last = sync(folder)

    assert last.message == "done" and (last.done, last.total) == (4, 4)
    assert sorted(read) == ["a.txt", "c2.md", "d_copy.txt"]  # d.txt unchanged: not even opened
    # the renamed and the copied file reuse stored vectors: only the edited text is embedded
    assert embedder.texts == ["Alpha notes: the wifi password changed to moonflower7."]
    assert contents(kb.store) == {"a.txt": ["Alpha notes: the wifi password changed to moonflower7."],
                            "c2.md": before["c.md"], "d.txt": before["d.txt"], "d_copy.txt": before["d.txt"]}
    assert paths_found(kb, "sunflower42", mode="keyword") == []
    assert paths_found(kb, "dentist appointment", mode="keyword") == []
    assert paths_found(kb, "lasagne nutmeg", mode="keyword") in (["d.txt"], ["d_copy.txt"])  # shown once
    (tyres,) = kb.search("tyres", k=1)
    assert Path(tyres.path) == folder / "sub" / "c2.md" and tyres.heading == "Charlie"

    read.clear()
    embedder.texts.clear()
    os.utime(folder / "a.txt")  # a new mtime, same bytes: read and re-stamped, not re-embedded
    sync(folder)
    assert (read, embedder.texts) == (["a.txt"], [])
    read.clear()
    assert sync(folder).message == "done" and read == []


def test_a_crash_between_chroma_and_sqlite_is_repaired(kb: KnowledgeBase, sync, folder: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(Store, "_delete_paths", staticmethod(crash))
    with pytest.raises(RuntimeError, match="power cut"):
        sync(folder)
    rows, vectors = kb.store.chunk_ids("default")
    assert rows == set() and len(vectors) == 4  # vectors written, rows rolled back
    monkeypatch.undo()
    sync(folder)
    assert set(contents(kb.store)) == {"a.txt", "b.txt", "c.md", "d.txt"}


def test_cancel_then_resume(kb: KnowledgeBase, sync, folder: Path) -> None:
    """A run the user stops is listed as stopped; one cut off by Hearth closing is to be finished at the next
    start (``interrupted``), watched once it has ended if it was asked to be."""
    from assistant.events import Cancel

    for stop, unfinished in ((Cancel.set, "stopped"), (Cancel.quit, "interrupted")):
        cancel = Cancel()
        events = []
        for event in kb.index([folder], cancel=cancel, watch=True):
            events.append(event)
            stop(cancel)
        assert events[-1].message == "cancelled"
        assert contents(kb.store) == {}
        (info,) = kb.collections()
        assert (info.unfinished, info.watched) == (unfinished, False)
        assert kb.interrupted() == (["default"] if unfinished == "interrupted" else [])
    assert sync(folder).message == "done"
    assert len(contents(kb.store)) == 4
    (info,) = kb.collections()
    assert (info.unfinished, info.watched, kb.interrupted()) == ("", True, [])  # the watch asked of the cut run


def test_a_re_sync_cut_before_it_changed_anything_leaves_the_collection_whole(kb: KnowledgeBase, sync,
                                                                           folder: Path) -> None:
    """A short `hearth chat` quit during its start-up catch-up of a whole watched collection: every search after it
    said "not fully indexed … files not reached yet are not searched", though every file was in it. A run cut
    after it changed something is unfinished, as before."""
    from assistant.events import Cancel

    assert sync(folder).message == "done"
    for stop in (Cancel.quit, Cancel.set):
        cancel = Cancel()
        stop(cancel)
        assert list(kb.index([folder], cancel=cancel))[-1].message == "cancelled"
        (info,) = kb.collections()
        assert info.unfinished == "" and kb.search("alpha").unfinished == ""
    for i in range(40):  # more than one embedding batch of new files
        (folder / f"new{i:02}.txt").write_text(f"New note {i} about alpha and omega.\n")
    cancel, whole = Cancel(), None
    for event in kb.index([folder], cancel=cancel):
        whole = event.done if whole is None else whole  # (the files unchanged count as done at once)
        if event.done > whole:  # its first batch is written
            cancel.quit()
    assert kb.collections()[0].unfinished == "interrupted"


def test_one_indexer_per_collection(kb: KnowledgeBase, sync, folder: Path) -> None:
    running = kb.index([folder])
    next(running)  # holds the collection's lock
    with pytest.raises(IndexBusyError):
        sync(folder)
    running.close()
    assert sync(folder).message == "done"


def test_changed_embedder_needs_reindex(kb: KnowledgeBase, sync, folder: Path, settings: KnowledgeSettings,
                                        other_embedder) -> None:
    sync(folder)
    other = other_embedder
    kb2 = KnowledgeBase(get_paths(), settings, embedder=other)
    assert [c.needs_reindex for c in kb2.collections()] == [True]
    with pytest.raises(NeedsReindexError, match="re-index"):
        kb2.search("wifi password")
    assert kb2.search("wifi password", collection=None) == []  # searching everything skips it
    assert sync(folder, base=kb2).message == "done"
    assert len(other.texts) == 4  # every chunk re-embedded by the new model, none mixed
    infos = [(c.needs_reindex, c.embedder, c.chunks) for c in kb2.collections()]
    assert infos == [(False, "another-model", 4)]
    kb2.close()


def test_limits_hidden_git_node_modules_venv_size_and_symlink_loops(kb: KnowledgeBase, sync, tmp_path: Path,
                                                                   settings: KnowledgeSettings) -> None:
    root = tmp_path / "tree"
    for sub in (".hidden", ".git", "node_modules/pkg", "env", "real/deeper"):
        (root / sub).mkdir(parents=True)
        (root / sub / "file.txt").write_text(f"text inside {sub}\n")
    (root / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    (root / ".secret.txt").write_text("hidden file\n")
    (root / "real" / "loop").symlink_to(root, target_is_directory=True)
    settings.max_file_mb = 1
    (root / "real" / "huge.txt").write_text("x" * (2**20 + 1))
    last = sync(root)
    assert last.message == "done"
    assert [(Path(p).name, r) for p, r in last.errors] == [
        ("huge.txt", "larger than the 1 MB limit"),
        ("loop", f"a link to {root}, which is indexed already (not followed twice)")]
    assert [c.path for c in kb.search("text inside", k=10, mode="keyword")] == [
        str(root / "real" / "deeper" / "file.txt")]


def test_collections_and_folder_filters(kb: KnowledgeBase, sync, folder: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "garden").mkdir(parents=True)
    (home / "garden" / "roses.txt").write_text("Prune the roses notes in March.\n")
    (home / "pets.txt").write_text("The cat's vet notes: vaccinations due in May.\n")
    sync(folder, collection="work")
    sync(home, collection="home")
    assert [c.name for c in kb.collections()] == ["home", "work"]
    assert set(paths_found(kb, "notes", collection=None, k=10, mode="keyword")) == {
        "a.txt", "b.txt", "c.md", "d.txt", "roses.txt", "pets.txt"}
    assert set(paths_found(kb, "notes", collection="home", k=10, mode="keyword")) == {"roses.txt", "pets.txt"}
    assert paths_found(kb, "notes", collection="home", k=10, folder=str(home / "garden")) == ["roses.txt"]
    kb.remove_collection("work")
    assert [c.name for c in kb.collections()] == ["home"]
    assert kb.store.chunk_ids("work") == (set(), set())


CHILD = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from assistant.config import KnowledgeSettings
    from assistant.knowledge import KnowledgeBase
    from assistant.paths import get_paths

    kb = KnowledgeBase(get_paths(), KnowledgeSettings(chunk_tokens=64, chunk_overlap=8), batch_size=4)
    for event in kb.index([Path(sys.argv[1])]):
        print(json.dumps({"done": event.done, "total": event.total, "message": event.message}), flush=True)
""")


def test_kill_mid_index_and_resume(kb: KnowledgeBase, sync, tmp_path: Path, embedder) -> None:
    root = tmp_path / "many"
    root.mkdir()
    topics = ["volcano", "glacier", "desert", "forest", "ocean", "river", "canyon", "meadow"]
    for i in range(48):
        (root / f"note{i:02}.txt").write_text(
            f"Note {i} about the {topics[i % 8]} trip number {i}: we walked {i + 3} kilometres, saw "
            f"{i * 7 % 13} birds, and wrote down the code word {topics[(i * 3) % 8]}{i * 11}.\n")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(root)], stdout=subprocess.PIPE, text=True,
                             cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    killed_at = None
    assert child.stdout is not None
    for line in child.stdout:
        event = json.loads(line)
        if event["total"] and event["done"] >= 16:
            killed_at = event["done"]
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert killed_at is not None and killed_at < 48, "the child finished before it could be killed"
    assert child.returncode == -signal.SIGKILL
    assert kb.interrupted() == ["default"]  # a long-lived Hearth finishes it at its next start

    last = sync(root)  # resume in this process
    assert last.message == "done" and last.done == 48
    assert 0 < len(embedder.texts) <= 48 - 16  # what the child committed was not redone
    resumed = contents(kb.store)
    sync(root, collection="clean")
    assert resumed == contents(kb.store, "clean")  # same chunks as an uninterrupted index: none missing, none twice
    assert sum(len(v) for v in resumed.values()) == 48


def test_files_behind_a_link_whose_target_is_gone_stay_indexed(kb: KnowledgeBase, sync, tmp_path: Path) -> None:
    """A linked folder whose target went away (an unplugged drive), or a folder that cannot be listed, is not
    a deletion: its files were dropped from the index without a word, though they still exist."""
    drive, notes = tmp_path / "drive", tmp_path / "notes"
    drive.mkdir()
    notes.mkdir()
    (drive / "tax.txt").write_text("The 2023 tax refund arrived in March.\n")
    (notes / "todo.txt").write_text("Call the plumber about the boiler.\n")
    (notes / "archive").symlink_to(drive, target_is_directory=True)
    sync(notes)
    assert [Path(h.path).name for h in kb.search("tax refund", k=1, mode="keyword")] == ["tax.txt"]
    drive.rename(tmp_path / "unplugged")
    sync(notes)
    assert [Path(h.path).name for h in kb.search("tax refund", k=1, mode="keyword")] == ["tax.txt"]
    (notes / "todo.txt").unlink()  # a real deletion still leaves the index
    sync(notes)
    assert kb.search("plumber boiler", k=1, mode="keyword") == []


def test_a_re_sync_looks_at_the_end_for_no_folder_it_looked_at_before(kb: KnowledgeBase, sync, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A watched folder's re-sync looked three times whether each of its folders could be reached (a few stats,
    its listing, and a query of the index when empty): before the run, in its scan and at its end. Now before
    the run, and a folder that can be reached once more as it is walked (see ``KnowledgeBase.sync``). An emptied
    mount point is still kept, and its files stay."""
    import assistant.knowledge.scan as scan

    home, drive = tmp_path / "home", tmp_path / "drive"
    for folder, name in ((home, "todo.txt"), (drive, "tax.txt")):
        folder.mkdir()
        (folder / name).write_text(f"A note called {name}.\n")
    sync(home, drive)
    for path in drive.iterdir():  # the drive unmounted: its mount point left there, empty
        path.rename(tmp_path / path.name)
    (home / "new.txt").write_text("A new note about the heron.\n")
    looked: list[str] = []
    unmounted = scan.unmounted
    monkeypatch.setattr(scan, "unmounted", lambda folder, indexed: (looked.append(str(folder)),
                                                                    unmounted(folder, indexed))[1])
    last = list(kb.sync("default"))[-1]
    assert last.message == "done" and last.changes == (1, 0, 0)
    assert sorted(looked) == sorted([str(home), str(home), str(drive)])
    assert {Path(p).name for p in kb.store.file_states("default")} == {"todo.txt", "new.txt", "tax.txt"}


def test_of_two_copies_of_a_passage_the_one_whose_file_exists_is_shown(kb: KnowledgeBase, sync, tmp_path: Path) -> None:
    """A folder on a drive not plugged in keeps its passages; a copy of one of its files elsewhere in the
    collection tied with it, and the dead path was as likely to be the one cited."""
    drive, home = tmp_path / "drive", tmp_path / "home"
    drive.mkdir()
    home.mkdir()
    for folder in (drive, home):
        (folder / "tax.txt").write_text("The 2023 tax refund arrived in March.\n")
    (drive / "only.txt").write_text("A note kept on the drive alone.\n")  # so the drive is not taken as moved
    sync(drive)
    sync(home)
    drive.rename(tmp_path / "unplugged")
    for mode in ("keyword", "dense", "hybrid"):
        assert [Path(h.path).parent.name for h in kb.search("tax refund", k=1, mode=mode)] == ["home"], mode


def test_a_cancel_after_the_first_embedding_batch_keeps_its_files(kb: KnowledgeBase, embedder, tmp_path: Path) -> None:
    """Files were committed four embedding batches at a time: a Ctrl+C half a minute into a first run on two
    cores kept nothing, and no ETA showed until then."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(12):
        (folder / f"note{i:02}.md").write_text(f"# Note {i}\n\nThe heron number {i} fishes by the weir.\n")
    cancel = threading.Event()
    inner = embedder.embed
    embedder.embed = lambda texts: (cancel.set(), inner(texts))[1]  # Ctrl+C during the first batch
    events = list(kb.index([folder], cancel=cancel))
    assert events[-1].message == "cancelled" and events[-1].done == len(contents(kb.store)) == 8
    assert any(e.eta_s is not None for e in events)


@pytest.mark.parametrize("stop", ["cancel", "ctrl-c"])
def test_a_run_stopped_inside_a_large_file_is_taken_up_where_it_stopped(kb: KnowledgeBase, embedder,
                                                                        tmp_path: Path, stop: str) -> None:
    """A file is written whole: a Cancel, Ctrl+C or closing Hearth inside a large file threw its minutes of
    embedding away, and the next run embedded it from the start. What was embedded is kept for the next run."""
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "log.txt").write_text("".join(f"Entry {i}: the river boat docked at the key {i}.\n\n"
                                            for i in range(400)))
    cancel = threading.Event()
    inner, rounds = embedder.embed, []

    def embed(texts):
        if len(rounds) == 3 and stop == "ctrl-c":  # Ctrl+C in the fourth round: `hearth index` ends at once
            raise KeyboardInterrupt
        rounds.append(len(texts))
        if len(rounds) == 3 and stop == "cancel":
            cancel.set()  # during the third of the file's embedding rounds
        return inner(texts)

    embedder.embed = embed
    last = None
    if stop == "cancel":
        last = list(kb.index([folder], cancel=cancel))[-1]
        assert last.message == "cancelled"
    else:
        with pytest.raises(KeyboardInterrupt):
            list(kb.index([folder]))
    assert contents(kb.store) == {}
    first = sum(rounds)
    embedder.texts.clear()
    embedder.embed = inner
    assert list(kb.index([folder]))[-1].message == "done"
    passages = len(contents(kb.store)["log.txt"])
    assert first == 3 * 8 and len(embedder.texts) == passages - first  # only what the stopped run had not reached
    if last is not None:  # the last event counts what was embedded and kept (its bar fell back to 0, 0 chunks/s)
        assert abs(last.share - first / passages) < 0.1 and last.rate > 0, (last, passages)
    assert kb.store.kept_vectors("default", embedder.name, [chunk_hash(t) for t in embedder.texts]) == {}
    # what the second run reused is searched as if embedded then
    assert [Path(h.path).name for h in kb.search("river boat key 3", k=1, mode="dense")] == ["log.txt"]


def test_one_large_file_shows_progress_and_an_eta_while_it_is_embedded(kb: KnowledgeBase, embedder,
                                                                     tmp_path: Path, monkeypatch) -> None:
    """A file is one batch: 20 MB of text embedded for half an hour with no word, no rate and no ETA (the
    terminal's bar stood at "0/1 files" throughout). Core level: the CLI and the window show these events."""
    from assistant.knowledge import sync as sync_module

    monkeypatch.setattr(sync_module, "_EVENT_INTERVAL_S", 0.0)
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "log.txt").write_text("".join(f"Entry {i}: the river boat docked at the key {i}.\n\n"
                                            for i in range(400)))
    events = list(kb.index([folder]))
    inside = [e for e in events if e.item_total]
    assert len(inside) >= 3 and all(e.done == 0 and e.eta_s is not None and e.rate for e in inside)
    assert all(e.message == "reading" and e.item == str(folder / "log.txt") for e in inside)
    assert [e.item_done for e in inside] == sorted(e.item_done for e in inside) and inside[-1].item_total > 8
    # the share of the work done moves with the passages embedded (the bars follow it; by files they stood at 0/1)
    shares = [e.share for e in inside]
    assert shares == sorted(shares) and 0 < shares[0] < shares[-1] <= 1, shares
    assert events[-1].message == "done" and events[-1].done == 1 and events[-1].share == 1.0


def test_what_another_process_indexes_is_found_by_a_search_already_running(
        hearth_home: Path, real_embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chroma's local client reads the vector index once: a file `hearth index` added while the window ran was
    never found by its vector search, and a hybrid search failed with chromadb's "Error finding id". The store
    is opened again once for it, not at every search after (its new client's own commits were taken for
    another process's: 4 reopens a search, 17 → 94 ms)."""
    from assistant.knowledge import store

    reopened: list[str] = []
    forget = store.forget_local_system
    monkeypatch.setattr(store, "forget_local_system", lambda folder: (reopened.append(folder), forget(folder)))
    base = KnowledgeBase(get_paths(), KnowledgeSettings(), embedder=real_embedder)
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "garden.md").write_text("# Garden\n\nThe tomatoes grow in the north bed next to the shed.\n")
    list(base.index([folder], "notes"))
    assert base.search("Where do the tomatoes grow?", "notes", mode="dense")[0].location().startswith("garden.md")
    (folder / "car.md").write_text("# Car\n\nThe spare car key hangs on the hook by the front door.\n")
    other = subprocess.run([sys.executable, "-m", "app", "index", str(folder), "--collection", "notes"],
                           capture_output=True, text=True, env={**os.environ, "HEARTH_HOME": str(hearth_home)},
                           timeout=300)
    assert other.returncode == 0, other.stderr
    for mode in ("dense", "hybrid", "dense", "hybrid"):
        found = base.search("Where is the spare car key?", "notes", mode=mode)
        assert found[0].location().startswith("car.md"), (mode, [c.location() for c in found])
    assert len(reopened) == 1, reopened
    base.close()


def test_a_big_file_is_named_in_the_progress_while_it_is_read(kb: KnowledgeBase, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1 MB file took minutes to chunk while the bar named the small file read before it."""
    from assistant.knowledge.chunking import Chunker

    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a-small.txt").write_text("The spare key is under the pot.\n")
    (folder / "b-big.log").write_text("The boiler started at dawn.\n" * 5000)  # 140 KB
    events = kb.index([folder], "logs")
    shown: dict[str, str] = {}
    cut = Chunker.cut

    def remembering(chunker: Chunker, doc):  # what the progress said last when each file's chunking began
        shown[str(len(shown))] = last.item
        return cut(chunker, doc)

    monkeypatch.setattr(Chunker, "cut", remembering)
    last = next(events)
    for last in events:  # noqa: B007 - read by remembering()
        pass
    assert shown["1"].endswith("b-big.log"), shown


def test_a_one_line_file_is_cut_with_progress_and_a_cancel_stops_the_cutting(
        kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 20 MB one-line file was cut in one call for 19 minutes and more: no progress, and neither the window's
    Stop nor Ctrl+C was heard. It is cut in parts, saying how far it got, and a cancel stops it between parts."""
    from dataclasses import replace

    from assistant.events import Cancel, Progress, reading
    from assistant.knowledge import chunking, sync
    from assistant.knowledge.chunking import Cutting

    monkeypatch.setattr(sync, "_EVENT_INTERVAL_S", 0.0)  # an event per part, not per 0.2 s
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.md").write_text("The spare key is under the pot.\n")
    (folder / "export.log").write_text("lorem ipsum dolor sit amet " * (chunking.LINE_PART // 8))  # 4 parts
    events = list(kb.index([folder], "one"))
    shares = [e.item_cut for e in events if e.item_cut is not None and "export" in e.item]
    assert len(shares) >= 4 and shares == sorted(shares) and 0 < shares[0] < shares[-1] <= 1.0, shares
    assert not [e for e in events if e.item_cut is not None and "a.md" in e.item]  # a small file's: just noise
    assert reading(replace(Progress("index", 0), item="/x/export.log", item_cut=0.35)) == \
        "export.log (35% split into passages)"

    pulled: list[tuple[int, int]] = []
    cut = Cutting.__iter__

    def counting(cutting: Cutting) -> Iterator[tuple[int, int]]:  # the real cutting, its steps counted
        for step in cut(cutting):
            pulled.append(step)
            yield step

    monkeypatch.setattr(Cutting, "__iter__", counting)
    cancel = Cancel()
    events = []
    for event in kb.index([folder], "two", cancel=cancel):
        events.append(event)
        if event.item_cut is not None:
            cancel.set()
    cut_parts = [step for step in pulled if step[1] > 100_000]  # export.log's
    assert events[-1].message == "cancelled" and len(cut_parts) == 1, pulled  # not one part more was cut
    assert sorted(Path(p).name for p in contents(kb.store, "two")) == ["a.md"]


def test_files_read_before_a_large_one_are_kept_when_it_is_cancelled(kb: KnowledgeBase, tmp_path: Path) -> None:
    """A large file is embedded for minutes: the small files before it are committed first, so they can be
    searched meanwhile and a cancel during the large one keeps them (they waited in its batch, and were lost)."""
    from assistant.events import Cancel

    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(3):
        (folder / f"a{i}.md").write_text(f"Note {i}: the spare key is under pot number {i}.\n")
    (folder / "m.log").write_text("".join(f"line {i}: service heartbeat ok at tick {i * 7}\n" for i in range(4000)))
    cancel = Cancel()
    for event in kb.index([folder], cancel=cancel):
        if event.item.endswith("m.log"):
            cancel.set()  # the large file is named as it is read: stop there
    assert sorted(Path(p).name for p in contents(kb.store)) == ["a0.md", "a1.md", "a2.md"]


def test_a_subfolder_indexed_again_keeps_the_rest_of_its_collection(kb: KnowledgeBase, tmp_path: Path) -> None:
    """Indexing a subfolder into its folder's collection forgot what the folder's scan had skipped elsewhere
    (a dangling link), and listed the subfolder as a second source, synced and watched twice."""
    folder = tmp_path / "messy"
    (folder / "notes").mkdir(parents=True)
    (folder / "notes" / "a.md").write_text("The gate code is 4471.\n")
    (folder / "top.md").write_text("The boiler is serviced in May.\n")
    (folder / "gone.md").symlink_to(tmp_path / "nowhere.md")
    for source in (folder, folder / "notes"):
        assert list(kb.index([source], "m"))[-1].message == "done"
        assert [Path(p).name for p, _ in kb.file_errors("m")] == ["gone.md"], source
    (info,) = kb.collections()
    assert (info.sources, info.files) == ((str(folder),), 2)
    # and a folder indexed after its subfolder takes its place
    assert list(kb.index([folder / "notes"], "n"))[-1].message == "done"
    assert list(kb.index([folder], "n"))[-1].message == "done"
    assert kb.collections()[1].sources == (str(folder),)


def test_a_file_deleted_or_renamed_after_the_scan_is_gone_not_skipped(kb: KnowledgeBase, sync, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A file deleted (or renamed away) while a run went on was "skipped …: No such file or directory", and the
    collection said "1 skipped" until its next sync; the file it held before stayed in the index meanwhile."""
    from assistant.knowledge import sync as sync_module

    folder = tmp_path / "notes"
    folder.mkdir()
    for n in range(3):
        (folder / f"n{n}.txt").write_text(f"Note {n}: the boat is moored at pier {n}.\n")
    assert sync(folder).errors == ()
    (folder / "n1.txt").write_text("Note 1 changed: the boat moved to pier 9.\n")
    (folder / "n3.txt").write_text("Note 3: a new one.\n")
    scan = sync_module.scan

    def scan_then_delete(*args, **kwargs):  # the user deletes both while the run reads the others
        found = scan(*args, **kwargs)
        (folder / "n1.txt").unlink()
        (folder / "n3.txt").unlink()
        return found

    monkeypatch.setattr(sync_module, "scan", scan_then_delete)
    done = sync(folder)
    assert done.message == "done" and done.errors == () and done.done == done.total, done
    assert sorted(Path(p).name for p in kb.store.file_states("default")) == ["n0.txt", "n2.txt"]


def test_the_eta_takes_reading_and_embedding_each_at_its_own_pace() -> None:
    """One 5 MB log took 11 s to split into passages before its first were embedded: that time counted in the
    embedding's pace, and the first estimate said "about 54 min left" where 19 were."""
    import time

    from assistant.knowledge.sync import _Tally

    tally = _Tally(total_files=2, work_bytes=2000, started=time.monotonic() - 21.0)
    tally.read_s, tally.read_bytes = 11.0, 1000  # the first file read and split in 11 s
    tally.partial_bytes = 100.0  # then a tenth of the work embedded in 10 s
    eta = tally.event("reading").eta_s
    assert eta == pytest.approx(1900 / 10 + 1000 / (1000 / 11), rel=0.01), eta  # 190 s embedding + 11 s reading
    # ten small notes (5 KB) before a 1.1 MB file: their pace, fixed costs and all, said 1,390 s where 170 were left
    tally = _Tally(total_files=11, work_bytes=1_150_000, started=time.monotonic() - 6.0)
    tally.done_bytes = 5_000
    assert tally.event("reading").eta_s is None
    tally.partial_bytes = 41_000.0  # the large file's first batch of passages embedded
    assert tally.event("reading").eta_s is not None


def test_a_re_sync_that_ends_during_a_search_is_not_said_unfinished(kb: KnowledgeBase, sync, folder: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A question asked as a watched folder's re-sync ended was told "Collection 'work' is not fully indexed (its
    last indexing run has not finished) … `hearth index …` finishes it": where the run stood was read before the
    search, whether one was going after it."""
    from assistant.knowledge.store import RUN_ENDED

    sync(folder)
    kb.store.begin_run("default", None)  # a re-sync going on as the search starts ...
    kb._count_run("default", 1)
    ranked = kb._ranked

    def ending_meanwhile(*args, **kwargs):
        hits = ranked(*args, **kwargs)
        kb.store.end_run("default", RUN_ENDED)  # ... ends while it ranks
        kb._count_run("default", -1)
        return hits

    monkeypatch.setattr(kb, "_ranked", ending_meanwhile)
    assert kb.search("alpha").unfinished == ""
    kb.store.begin_run("default", None)
    kb._count_run("default", 1)  # one still going is said as going
    monkeypatch.setattr(kb, "_ranked", ranked)
    assert "is being indexed now" in kb.search("alpha").unfinished


def test_an_index_a_newer_hearth_changed_meanwhile_says_to_restart_not_to_free_disk(
        kb: KnowledgeBase, sync, tmp_path: Path) -> None:
    """An older Hearth left running beside a newer one that converted the index said at every re-sync "Writing the
    index failed (no such function: hearth_tokens). If the disk is full, free some space…": the newer keyword
    index's trigger calls a function the older process never registered."""
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("Otters hold hands while they sleep.\n")
    sync(folder)
    newer = sqlite3.connect(get_paths().index_manifest)  # the newer Hearth, converting the index meanwhile
    newer.executescript("DROP TRIGGER chunks_ai; CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN "
                        "INSERT INTO chunks_fts (rowid, text) VALUES (new.rowid, hearth_later(new.text)); END;")
    newer.close()
    (folder / "b.txt").write_text("Walruses sleep on the ice.\n")
    with pytest.raises(IndexWriteError) as failed:
        sync(folder)
    assert str(failed.value) == (
        "Writing the index failed (no such function: hearth_later): another Hearth, newer than this one, changed "
        "the index since this one opened it. Restart Hearth: what was indexed so far is kept, and the rest is "
        "picked up where it stopped.")


def test_a_file_deleted_while_it_is_embedded_is_dropped_and_the_run_goes_on(kb: KnowledgeBase, embedder,
                                                                            tmp_path: Path) -> None:
    """A 5 MB file deleted while a watched folder's re-sync embedded it went on being embedded for minutes, and
    the notes edited meanwhile waited behind it. It is dropped before the next embedding round, the files beside
    it are kept, and the file it replaced leaves the index."""
    folder = tmp_path / "notes"
    folder.mkdir()
    big = folder / "big.txt"
    big.write_text("The first draft.\n")
    assert list(kb.index([folder]))[-1].message == "done"
    big.write_text("".join(f"Entry {i}: the river boat docked at the key {i}.\n\n" for i in range(3000)))
    (folder / "a.md").write_text("The spare key is under the pot.\n")
    inner, rounds = embedder.embed, []

    def embed(texts):
        rounds.append(len(texts))
        if len(rounds) == 3:
            big.unlink()  # during the big file's second embedding round (a.md's was the first)
        return inner(texts)

    embedder.embed = embed
    done = list(kb.index([folder]))[-1]
    assert len(rounds) == 3, rounds  # not one round more of the deleted file
    assert done.message == "done" and done.errors == () and done.done == done.total == 2, done
    assert done.changes == (1, 0, 1)  # a.md added; big.txt removed (not "changed": it is not there)
    assert sorted(Path(p).name for p in kb.store.file_states("default")) == ["a.md"]
    assert sorted(Path(p).name for p in contents(kb.store)) == ["a.md"]


def test_a_file_deleted_while_it_is_cut_is_not_embedded(kb: KnowledgeBase, embedder, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The same for a file deleted while it was still being split into passages (seconds for a large one)."""
    from assistant.knowledge import chunking, sync

    monkeypatch.setattr(sync, "_EVENT_INTERVAL_S", 0.0)
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.md").write_text("The spare key is under the pot.\n")
    export = folder / "export.txt"
    export.write_text("lorem ipsum dolor sit amet " * (chunking.LINE_PART // 8))  # cut in 4 parts
    events = []
    for event in kb.index([folder]):
        events.append(event)
        if event.item_cut is not None and export.exists():
            export.unlink()
    assert len([e for e in events if e.item_cut is not None]) == 1
    assert events[-1].message == "done" and events[-1].errors == () and events[-1].changes == (1, 0, 0)
    assert not any("lorem" in t for t in embedder.texts)
    assert sorted(Path(p).name for p in contents(kb.store)) == ["a.md"]


def test_small_files_are_read_before_large_ones(kb: KnowledgeBase, tmp_path: Path) -> None:
    """A note edited beside a large new file waited for the large file's minutes of embedding when the large
    one came first by name: the small ones are read and committed first."""
    from assistant.events import Cancel

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a-big.txt").write_text("".join(f"Entry {i}: the river boat docked at the key {i}.\n\n"
                                              for i in range(3000)))
    (folder / "z-note.md").write_text("The spare key is under the pot.\n")
    cancel = Cancel()
    for event in kb.index([folder], cancel=cancel):
        if event.item.endswith("a-big.txt"):
            cancel.set()
    assert sorted(Path(p).name for p in contents(kb.store)) == ["z-note.md"]


def test_a_large_run_says_its_passages_and_their_time_as_its_embedding_begins(kb: KnowledgeBase, embedder,
                                                                               tmp_path: Path, monkeypatch) -> None:
    """A 1.5 MB CSV added alone embedded for 185 s (3,303 passages) with no word of that cost first. Once the
    run's first round is embedded (its pace: 0.05 s a passage here), one event says the passages ahead and
    their time at that pace; in a folder, those of the files not read yet are estimated. A small run says
    nothing. The threshold is lowered from 20 s to 1 s to keep the test short."""
    import time

    from assistant.knowledge import sync as sync_module

    monkeypatch.setattr(sync_module, "HEADS_UP_S", 1.0)
    inner, rounds = embedder.embed, []

    def embed(texts):
        if not rounds:
            time.sleep(0.05 * len(texts))
        rounds.append(len(texts))
        return inner(texts)

    embedder.embed = embed
    big = tmp_path / "big"
    big.mkdir()
    (big / "log.txt").write_text("".join(f"Entry {i}: the river boat docked at the key {i}.\n\n" for i in range(400)))
    events = list(kb.index([big], "big"))
    said = [e for e in events if e.ahead is not None]
    assert len(said) == 1 and said[0].item_total == said[0].ahead.passages > 30, said
    assert not said[0].ahead.estimated and said[0].item_done == rounds[0] == 8
    assert 0.5 * 0.05 * (said[0].item_total - 8) < said[0].ahead.seconds < 2 * 0.05 * said[0].item_total, said
    assert said[0].ahead.text() == (f"{said[0].item_total:,} passages to embed: about "
                                    f"{round(said[0].ahead.seconds)} s at this computer's pace")
    rounds.clear()
    many = tmp_path / "many"
    many.mkdir()
    for i in range(40):
        (many / f"note{i:02}.md").write_text(f"# Note {i}\n\nThe heron number {i} fishes by the weir.\n")
    (ahead,) = [e.ahead for e in kb.index([many], "many") if e.ahead is not None]
    assert ahead.estimated and 30 <= ahead.passages <= 50, ahead  # 8 read, the rest by their bytes
    rounds[:] = [0]  # no sleep: a few passages at the real pace
    small = tmp_path / "small"
    small.mkdir()
    (small / "a.md").write_text("The boiler service is due in March.\n")
    assert all(e.ahead is None for e in kb.index([small], "small"))
