"""``hearth index / search / collections`` in-process through ``assistant.cli.main``: stdout and stderr apart."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from checks import files_holding, need_unshare, wait_for

import assistant.cli as cli
from assistant import fulltext
from assistant.chat.turn import UNSUPPORTED_NOTICE
from assistant.cli import chat_cmds, knowledge_cmds
from assistant.config import KnowledgeSettings
from assistant.knowledge import KnowledgeBase, SentenceTransformerEmbedder
from assistant.knowledge.store import NAME_FUNCTION, SCHEMA, Store, name_words
from assistant.paths import get_paths
from assistant.stemming import stemmed

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shared_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder.from_settings(KnowledgeSettings())


@pytest.fixture(autouse=True)
def wired(monkeypatch: pytest.MonkeyPatch, shared_embedder: SentenceTransformerEmbedder) -> None:
    """Register the knowledge commands (if the CLI does not yet) and load the model once for the module."""
    if knowledge_cmds.register not in cli.GROUPS:
        monkeypatch.setattr(cli, "GROUPS", [*cli.GROUPS, knowledge_cmds.register])
    monkeypatch.setattr(SentenceTransformerEmbedder, "from_settings", staticmethod(lambda s: shared_embedder))


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "boat.md").write_text("# Boat\n\nThe sailing boat is moored at pier 9.\n")
    (root / "sub" / "bike.txt").write_text("line one\nThe bicycle lock code is 4312.\n")
    (root / "junk.txt").write_bytes(b"\x00\x01\x02 not text")
    return root


def test_ask_says_when_a_grounded_answer_restates_none_of_the_files(docs: Path, capsys: pytest.CaptureFixture[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli.main(["index", str(docs), "--collection", "mine"]) == 0
    capsys.readouterr()
    ask = ["ask", "--collection", "mine", "--no-memory", "--preset", "greedy", "--max-tokens", "48"]
    assert cli.main([*ask, "What is the capital of Peru?"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() and f"[unsupported] {UNSUPPORTED_NOTICE}" in err
    assert cli.main([*ask, "Where is the sailing boat moored?"]) == 0
    out, err = capsys.readouterr()
    assert "pier 9" in out and "[unsupported]" not in err
    # on a terminal both streams share the screen: a notice after the answer starts a line of its own
    monkeypatch.setattr(chat_cmds, "err", print)
    assert cli.main([*ask, "What is the capital of Peru?"]) == 0
    shown = capsys.readouterr().out
    assert f"\n[unsupported] {UNSUPPORTED_NOTICE}\n" in shown and not shown.startswith("[")


def test_ask_cites_a_one_passage_docx_by_the_section_holding_the_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A DOCX short enough to be one passage was cited by its first heading ("report.docx § Quarterly Report")
    whichever section held the fact."""
    from documents import build_docx
    from fakes import FakeEngine

    (tmp_path / "work").mkdir()
    build_docx(tmp_path / "work" / "report.docx")
    assert cli.main(["index", str(tmp_path / "work"), "--collection", "work"]) == 0
    capsys.readouterr()
    ask = ["ask", "--collection", "work", "--no-memory", "What is the main risk?"]
    for answer, place in (("The main risk is a shortage of fish for the otters [1].", "§ Quarterly Report > Risks"),
                          ("Revenue grew because the otter sanctuary sold more tickets [1].", "§ Quarterly Report")):
        monkeypatch.setattr("assistant.engine.Engine", lambda answer=answer: FakeEngine(reply=lambda _: answer))
        assert cli.main(ask) == 0
        assert f"[1] report.docx {place}  file://" in capsys.readouterr().err


def test_ask_cites_a_one_passage_markdown_file_by_the_line_and_section_holding_the_answer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A Markdown file short enough to be one passage was cited as its whole span ("report.md:1-13"), naming
    neither the line nor the section that held the fact (found by a QA pass)."""
    from fakes import FakeEngine

    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "report.md").write_text(
        "# Quarterly Report\n\nRevenue grew because the otter sanctuary sold more tickets.\n\n## Risks\n\n"
        "The main risk is a shortage of fish for the otters.\n\n## Staff\n\nTwo keepers joined in May.\n")
    assert cli.main(["index", str(tmp_path / "work"), "--collection", "work"]) == 0
    capsys.readouterr()
    ask = ["ask", "--collection", "work", "--no-memory", "What is the main risk?"]
    for answer, place in (("The main risk is a shortage of fish for the otters [1].",
                           "report.md:7 § Quarterly Report > Risks"),
                          ("Two keepers joined in May [1].", "report.md:11 § Quarterly Report > Staff")):
        monkeypatch.setattr("assistant.engine.Engine", lambda answer=answer: FakeEngine(reply=lambda _: answer))
        assert cli.main(ask) == 0
        assert f"[1] {place}  file://" in capsys.readouterr().err


def test_index_search_collections_json(docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["index", str(docs), "--collection", "mine", "--json"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)  # stdout is exactly one JSON document
    assert (result["collection"], result["status"], result["files"], result["chunks"]) == ("mine", "done", 2, 2)
    assert result["skipped"] == [{"path": str(docs / "junk.txt"), "reason": "binary file (not text)"}]
    assert "{" not in err

    assert cli.main(["search", "bicycle lock code", "-c", "mine", "-k", "1", "--json"]) == 0
    out, _ = capsys.readouterr()
    (hit,) = json.loads(out)["hits"]
    assert {k: hit[k] for k in ("path", "page", "line_start", "line_end")} == {
        "path": str(docs / "sub" / "bike.txt"), "page": None, "line_start": 1, "line_end": 2}
    assert "4312" in hit["text"] and hit["score"] > 0

    assert cli.main(["collections", "list", "--json"]) == 0
    (info,) = json.loads(capsys.readouterr().out)
    assert (info["name"], info["files"], info["chunks"], info["errors"], info["needs_reindex"]) == (
        "mine", 2, 2, 1, False)


def test_a_hit_whose_file_changed_or_went_since_indexing_is_marked(docs: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A collection that is not watched: the file edited (lines added at the top), another renamed. Search cited
    "lines 1-2" of the edited file and the renamed one by its old name, without a word."""
    assert cli.main(["index", str(docs), "--collection", "mine"]) == 0
    bike, boat = docs / "sub" / "bike.txt", docs / "boat.md"
    bike.write_text("inserted\n" * 50 + bike.read_text())
    boat.rename(docs / "boat (final).md")
    capsys.readouterr()
    assert cli.main(["search", "bicycle lock code", "-c", "mine", "-k", "1"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith(f"  (changed since indexed: `hearth index {docs} --collection mine` updates it)"), first
    assert cli.main(["search", "sailing boat moored", "-c", "mine", "-k", "1", "--json"]) == 0
    (hit,) = json.loads(capsys.readouterr().out)["hits"]
    assert (hit["path"], hit["stale"]) == (str(boat), "gone")
    assert cli.main(["search", "sailing boat moored", "-c", "mine", "-k", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("  (gone since indexed)")
    assert cli.main(["index", str(docs), "--collection", "mine"]) == 0  # the command the mark names mends it
    capsys.readouterr()
    assert cli.main(["search", "bicycle lock code", "-c", "mine", "-k", "1", "--json"]) == 0
    (hit,) = json.loads(capsys.readouterr().out)["hits"]
    assert (hit["stale"], hit["line_end"]) == ("", 52)


def test_search_many_queries_in_one_process(docs: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["index", str(docs)]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("default: 2 files, 2 chunks (done in") and "skipped" in out and "junk.txt" in out
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "q1", "text": "where is the boat moored"}\n\n{"id": 2, "text": "lock code"}\n'
                       '{"id": 3, "text": "lock code", "k": 2}\n')
    assert cli.main(["search", "--queries", str(queries), "-k", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    got = [(d["id"], Path(d["hits"][0]["path"]).name) for d in lines]
    assert got == [("q1", "boat.md"), (2, "bike.txt"), (3, "bike.txt")]
    assert [len(d["hits"]) for d in lines] == [1, 1, 2]  # a line's own "k" (it was ignored)


def test_an_unusable_query_line_is_said_and_the_other_queries_are_searched(docs: Path, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """One bad line ended the run (exit 2), and the queries after it went unsearched; a null text searched for
    the word "None". A line naming no id got its line number as id, which another line could name as its own:
    each answer now says its line, and its id only when the query named one."""
    assert cli.main(["index", str(docs)]) == 0
    capsys.readouterr()
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "a", "text": "where is the boat moored"\n{"id": "b", "text": null}\n["lock code"]\n'
                       '{"id": "c", "text": "lock code"}\n{"id": "d", "text": "lock code", "k": "2"}\n'
                       '{"id": 3, "text": "boat"}\n')
    assert cli.main(["search", "--queries", str(queries), "-k", "1"]) == 2
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(line["id"], line["line"]) for line in lines] == [(None, 1), ("b", 2), (None, 3), ("c", 4), ("d", 5),
                                                              (3, 6)]
    assert "not JSON" in lines[0]["error"] and '"text" string' in lines[1]["error"] and "error" in lines[2]
    assert Path(lines[3]["hits"][0]["path"]).name == "bike.txt"
    assert lines[4]["error"] == f'{queries}:5: "k" must be a whole number of hits, 1 or more (not "2").'  # as written
    assert f"{queries}:1: not JSON" in err and f"{queries}:2:" in err and "4 unusable line(s)" in err
    assert "Traceback" not in err


def test_human_output_and_errors(docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["index", str(docs / "boat.md"), "-c", "boats"]) == 0
    capsys.readouterr()
    assert cli.main(["search", "pier", "-c", "boats"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"[1] {docs / 'boat.md'}  lines 1-3  score") and "moored at pier 9" in out
    (docs / "odd\nname.md").write_text("The giraffe is purple.\n")  # a line break in a name: one hit, one line
    assert cli.main(["index", str(docs / "odd\nname.md"), "-c", "odd"]) == 0
    capsys.readouterr()
    assert cli.main(["search", "purple giraffe", "-c", "odd"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith(f"[1] {docs}/odd\\nname.md  line 1  ")

    assert cli.main(["collections", "remove", "nope"]) == 4
    out, err = capsys.readouterr()
    assert out == "" and err.strip() == "hearth: There is no knowledge collection named 'nope' (yours: 'boats', 'odd')."
    assert cli.main(["search", "x", "-c", "bad name!"]) == 2
    assert "not a valid collection name" in capsys.readouterr().err
    assert cli.main(["search"]) == 2
    assert "Give either a search TEXT or --queries" in capsys.readouterr().err

    assert cli.main(["collections", "remove", "boats"]) == 0
    assert "Removed collection 'boats'" in capsys.readouterr().out
    assert cli.main(["collections", "remove", "odd"]) == 0
    assert cli.main(["collections", "list"]) == 0
    assert "No collections yet" in capsys.readouterr().out
    assert cli.main(["search", "pier"]) == 4
    assert "There are no knowledge collections yet: index a folder" in capsys.readouterr().err
    assert cli.main(["search", "pier", "-c", "boats"]) == 4
    assert "named 'boats': there are none yet." in capsys.readouterr().err


def test_search_without_a_collection_searches_every_one(docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The window names a dropped folder's collection after the folder, and `hearth search` searched only the
    one named "default": "There is no knowledge collection named 'default'." to a user with two folders
    indexed. Every collection is searched now, each hit saying which it came from."""
    assert cli.main(["index", str(docs / "boat.md"), "-c", "boats"]) == 0
    assert cli.main(["index", str(docs / "sub"), "-c", "bikes"]) == 0
    capsys.readouterr()
    assert cli.main(["search", "pier lock code", "-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    hits = [line for line in lines if line.startswith("[")]
    assert sorted(h.rsplit("  ", 1)[-1] for h in hits) == ["(bikes)", "(boats)"], lines
    assert cli.main(["search", "pier lock code", "-k", "2", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["collections"] == ["boats", "bikes"] or found["collections"] == ["bikes", "boats"]
    assert {h["collection"] for h in found["hits"]} == {"boats", "bikes"}
    assert cli.main(["search", "pier", "-c", "boats", "-c", "bikes", "-c", "boats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["collections"] == ["boats", "bikes"]
    assert cli.main(["search", "pier", "-c", "boat"]) == 4
    assert capsys.readouterr().err.strip().endswith("named 'boat' (yours: 'bikes', 'boats').")
    # --folder: a folder around a collection's, or its own, finds; one no collection holds is said, not "No matches."
    assert cli.main(["search", "lock code", "--folder", str(docs)]) == 0
    assert "bike.txt" in capsys.readouterr().out
    assert cli.main(["search", "lock code", "--folder", str(docs / "sub")]) == 0
    assert "bike.txt" in capsys.readouterr().out
    # the same folders through links: a link to the indexed folder, and a link around it
    (docs.parent / "sub-link").symlink_to(docs / "sub")
    (docs.parent / "docs-link").symlink_to(docs)
    for linked in (docs.parent / "sub-link", docs.parent / "docs-link", docs.parent / "docs-link" / "sub"):
        assert cli.main(["search", "lock code", "--folder", str(linked), "-c", "bikes"]) == 0, capsys.readouterr().err
        assert "bike.txt" in capsys.readouterr().out
    (docs / "inner-link").symlink_to(docs / "sub")  # inside an indexed folder: its files are indexed under sub
    assert cli.main(["index", str(docs), "-c", "all"]) == 0
    capsys.readouterr()
    assert cli.main(["search", "lock code", "--folder", str(docs / "inner-link"), "-c", "all"]) == 0
    assert "bike.txt" in capsys.readouterr().out
    assert cli.main(["search", "lock code", "--folder", str(docs.parent / "elsewhere"), "-c", "bikes"]) == 2
    out, err = capsys.readouterr()
    assert not out and err.strip() == (f"hearth: No collection searched was indexed from {docs.parent / 'elsewhere'} "
                                       f"or from a folder in or around it ('bikes' from {docs / 'sub'}).")
    # a hidden folder inside an indexed one is passed over when it is indexed: said, not "No matches."
    (docs / ".private").mkdir()
    (docs / ".private" / "code.txt").write_text("The lock code of the shed is 9931.\n")
    assert cli.main(["search", "lock code", "--folder", str(docs / ".private"), "-c", "all"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"hearth: {docs / '.private'} is not indexed: it is inside a folder of collection 'all', but hidden folders "
        "(and those of dependencies, caches and virtual environments) are passed over when it is indexed; "
        f"`hearth index {docs / '.private'} --collection all` adds it.")
    assert cli.main(["index", str(docs / ".private"), "-c", "all"]) == 0  # what it says to do
    capsys.readouterr()
    assert cli.main(["search", "lock code", "--folder", str(docs / ".private"), "-c", "all"]) == 0
    assert "code.txt" in capsys.readouterr().out


def test_a_collection_is_renamed_with_its_vectors_and_its_chats(docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`hearth collections rename`: nothing is embedded again, a search by meaning finds the same passages under
    the new name, the old name is free again, and a chat asked from it goes on from it."""
    assert cli.main(["index", str(docs), "-c", "mine"]) == 0
    capsys.readouterr()
    assert cli.main(["ask", "--collection", "mine", "--no-memory", "--max-tokens", "8", "--json",
                     "Where is the sailing boat moored?"]) == 0
    chat = json.loads(capsys.readouterr().out)["conversation_id"]
    assert cli.main(["collections", "rename", "mine", "boats"]) == 0
    assert capsys.readouterr().out == ("Renamed collection 'mine' to 'boats' (2 files; chats asked from it go on from "
                                       "it).\n")
    assert cli.main(["search", "sailing boat", "-c", "boats", "--mode", "dense", "-k", "1"]) == 0
    assert "boat.md" in capsys.readouterr().out
    assert cli.main(["collections", "list", "--json"]) == 0
    assert [c["name"] for c in json.loads(capsys.readouterr().out)] == ["boats"]
    assert cli.main(["history", "export", chat, "--format", "json"]) == 0
    asked = json.loads(capsys.readouterr().out)["messages"][0]
    assert asked["stats"]["collections"] == ["boats"], asked
    assert cli.main(["index", str(docs), "-c", "mine"]) == 0  # the old name is free: a new collection
    capsys.readouterr()
    assert cli.main(["collections", "rename", "mine", "boats"]) == 2
    assert "There is a collection named 'boats' already: choose another name." in capsys.readouterr().err
    assert cli.main(["collections", "rename", "nope", "x"]) == 4
    capsys.readouterr()
    assert cli.main(["collections", "rename", "boats", "boats"]) == 0  # it said "Renamed … 'boats' to 'boats'"
    assert capsys.readouterr().out == "Collection 'boats' is called so already: nothing changed.\n"


def test_a_folder_moved_and_indexed_from_its_new_place_is_searched_there(docs: Path, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A folder renamed, then indexed again under its new name: search kept citing the old paths (the gone folder
    keeps its passages, as an unplugged drive's, and the copy cited was as likely the dead one), the old folder
    was listed "GONE" for good, and a file deleted from the new place was still found at the old."""
    assert cli.main(["index", str(docs), "-c", "mine"]) == 0
    moved = tmp_path / "docs-moved"
    docs.rename(moved)
    assert cli.main(["index", str(moved), "-c", "mine"]) == 0
    capsys.readouterr()
    assert cli.main(["search", "bicycle lock code", "-c", "mine", "--json"]) == 0
    paths = [h["path"] for h in json.loads(capsys.readouterr().out)["hits"]]
    assert paths and all(p.startswith(str(moved)) for p in paths), paths
    assert cli.main(["collections", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["sources"] == [str(moved)]  # the old place is not "GONE"
    (moved / "sub" / "bike.txt").unlink()
    assert cli.main(["index", str(moved), "-c", "mine"]) == 0
    capsys.readouterr()
    assert cli.main(["search", "4312", "-c", "mine", "--mode", "keyword", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"] == []


def test_collections_watch_on_and_off(docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["index", str(docs), "-c", "mine", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["watched"] is False
    assert cli.main(["collections", "watch", "mine", "on"]) == 0
    assert f"Watching 'mine' ({docs})" in capsys.readouterr().out
    assert cli.main(["collections", "list"]) == 0
    listed = capsys.readouterr().out
    assert ", watched," in listed and f"\n  from {docs}\n" in listed  # where its files are
    assert cli.main(["collections", "watch", "mine", "off", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["watched"] is False
    assert cli.main(["collections", "watch", "nope", "on"]) == 4
    assert "no knowledge collection named 'nope'" in capsys.readouterr().err
    shutil.rmtree(docs)  # deleted, or an unplugged drive: said, and nothing is dropped
    assert cli.main(["collections", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"  GONE: {docs} (deleted, or on a drive not plugged in); its passages stay searchable" in listed
    assert cli.main(["collections", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["missing_sources"] == [str(docs)]


def test_an_emptied_mount_point_keeps_its_passages_and_its_files_back_are_not_read_again(
        docs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A drive unmounted from a fixed mount point leaves that folder there, empty: a re-sync deleted every passage
    ("0 files, 0 chunks", said as nothing at all), and the drive mounted again was read and embedded again. The
    folder as an unmount leaves it (here: the files moved aside, the folder empty) is a drive not plugged in."""
    assert cli.main(["index", str(docs), "-c", "drive"]) == 0
    capsys.readouterr()
    docs.rename(tmp_path / "drive")  # the drive's files, elsewhere meanwhile (mtimes kept)
    docs.mkdir()  # the mount point, empty
    assert cli.main(["collections", "list"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("drive: 2 files, 2 chunks, 1 skipped,"), listed
    assert f"  GONE: {docs} (deleted, or on a drive not plugged in); its passages stay searchable" in listed
    assert cli.main(["index", str(docs), "-c", "drive"]) == 0
    out = capsys.readouterr().out
    assert "drive: 2 files, 2 chunks (done in " in out and f"skipped {docs}: empty, as the folder of a drive not " \
           "mounted (nothing under it was removed from the index)" in out, out
    assert cli.main(["search", "4312", "-c", "drive", "--mode", "keyword", "--json"]) == 0
    assert [h["path"] for h in json.loads(capsys.readouterr().out)["hits"]] == [str(docs / "sub" / "bike.txt")]
    docs.rmdir()
    (tmp_path / "drive").rename(docs)  # mounted again
    assert cli.main(["index", str(docs), "-c", "drive"]) == 0
    assert " s: nothing changed); 1 skipped" in capsys.readouterr().out  # (junk.txt, as at first)


def test_a_drive_unmounted_from_its_mount_point_is_not_a_deletion(docs: Path, tmp_path: Path) -> None:
    """The same with a real mount (a bind mount in a private mount namespace): unmounted, its files stay; an empty
    drive mounted there (a tmpfs: a mount point is no folder of a drive not mounted) is what the folder holds."""
    need_unshare()
    point = tmp_path / "mnt"
    point.mkdir()
    hearth = f"{sys.executable} -m app"
    script = (f'mount --bind "$0" "$1" && {hearth} index "$1" -c drive >/dev/null && umount "$1" && '
              f'{hearth} collections list && {hearth} index "$1" -c drive && mount --bind "$0" "$1" && '
              f'{hearth} index "$1" -c drive && umount "$1" && mount -t tmpfs none "$1" && '
              f'{hearth} index "$1" -c drive')
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script, str(docs), str(point)], cwd=ROOT,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    listed, unmounted, mounted, emptied = done.stdout.split("\ndrive: ")
    assert listed.startswith("drive: 2 files, 2 chunks, 1 skipped,") and f"  GONE: {point} (deleted" in listed, listed
    assert unmounted.startswith("2 files, 2 chunks (") and "1 skipped" in unmounted, unmounted
    assert mounted.startswith("2 files, 2 chunks (") and " s: nothing changed); 1 skipped" in mounted, mounted
    assert emptied.startswith("0 files, 0 chunks (") and "3 removed" in emptied, emptied


def test_a_one_off_search_of_a_watched_collection_brings_it_up_to_date_or_says_it_is_not(
        docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`hearth search` and `hearth ask` answered from an edited file's old text, under its current path, without
    a word: a command that runs once watches nothing. A watched collection that changed a little is synced
    before it is searched; one that changed a lot is said out of date; one not watched is left as it is."""
    assert cli.main(["index", str(docs), "-c", "notes", "--watch"]) == 0
    assert cli.main(["index", str(docs / "sub"), "-c", "still"]) == 0
    capsys.readouterr()
    (docs / "boat.md").write_text("# Boat\n\nThe sailing boat moved to pier 12.\n")
    (docs / "sub" / "bike.txt").write_text("The bicycle lock code is now 7788.\n")

    def search(*args: str) -> tuple[list[str], str]:
        assert cli.main(["search", *args, "--json"]) == 0
        out, err = capsys.readouterr()
        return [h["text"] for h in json.loads(out)["hits"]], err

    texts, err = search("sailing boat pier", "-c", "notes", "-k", "1")
    assert "pier 12" in texts[0] and err == ""
    texts, _ = search("bicycle lock code", "-c", "still", "-k", "1")
    assert "4312" in texts[0]  # not watched: as it was indexed
    for i in range(25):  # more than a one-off search re-syncs itself
        (docs / f"note{i}.md").write_text(f"Note {i} about the harbour.\n")
    texts, err = search("sailing boat pier", "-c", "notes", "-k", "1")
    assert (f"25 files of collection 'notes' changed since it was last synced: its passages may be out of date "
            f"until `hearth index {docs} --collection notes`") in err


@pytest.mark.slow
def test_hearth_chat_catches_up_and_watches_a_watched_collection(docs: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A real `hearth chat` process: at start it syncs what changed while nothing ran, then follows edits."""
    assert cli.main(["index", str(docs), "-c", "notes", "--watch"]) == 0
    (docs / "kayak.md").write_text("# Kayak\n\nThe kayak paddles hang in the garage.\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    chat = subprocess.Popen([sys.executable, "-m", "app", "chat", "--max-tokens", "4"], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def found(word: str) -> list[str]:  # the index as it is (`hearth search` would bring it up to date itself)
        from assistant.cli.context import CliContext

        ctx = CliContext()
        try:
            return [Path(h.path).name for h in ctx.assistant.knowledge.search(word, "notes", 5, None, "keyword")]
        finally:
            ctx.close()

    try:
        assert wait_for(lambda: found("paddles") == ["kayak.md"], 120, 0.5)
        (docs / "boat.md").write_text("# Boat\n\nThe sailing boat moved to pier 12.\n")
        assert wait_for(lambda: found("12") == ["boat.md"] and not found("9"), 60, 0.5)
    finally:
        _out, err = chat.communicate("/quit\n", timeout=120)
    assert chat.returncode == 0 and "Traceback" not in err



def test_a_search_by_keyword_only_names_every_collection_that_lost_its_vectors(
        docs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With the vector store deleted, `hearth search` over two collections said that the first could not be
    searched by meaning, and not the second."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "kettle.txt").write_text("The kettle whistles when the water boils.\n")
    assert cli.main(["index", str(docs), "-c", "mine"]) == 0 and cli.main(["index", str(other), "-c", "also"]) == 0
    shutil.rmtree(get_paths().chroma_dir)
    capsys.readouterr()
    assert cli.main(["search", "bicycle lock code"]) == 0
    err = capsys.readouterr().err
    assert "Collection 'also' cannot be searched by meaning: 1 of its 1 chunks" in err and \
        f"hearth index {other} --collection also" in err, err
    assert "Collection 'mine' cannot be searched by meaning: 2 of its 2 chunks" in err and \
        f"hearth index {docs} --collection mine" in err, err


def test_a_deleted_vector_store_is_reported_and_repaired(docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["index", str(docs), "-c", "mine"]) == 0
    shutil.rmtree(get_paths().chroma_dir)  # the manifest survives, the vectors do not
    capsys.readouterr()

    assert cli.main(["collections", "list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("mine: 2 files, 2 chunks")
    assert (f"  NEEDS REPAIR: 2 of its 2 chunks have no vector (the vector store is missing); `hearth index {docs} "
            "--collection mine` repairs it (only what is missing is embedded again)") in out
    # searched by keyword, saying why and how to mend it (the search failed, though it said keyword search works)
    for named in (["-c", "mine"], []):
        assert cli.main(["search", "bicycle lock code", *named]) == 0
        out, err = capsys.readouterr()
        assert out.startswith(f"[1] {docs / 'sub' / 'bike.txt'}") and "Traceback" not in err
        assert err.startswith("hearth: searched by keyword only: Collection 'mine' cannot be searched by meaning: "
                              "2 of its 2 chunks have no vector") and f"hearth index {docs} --collection mine" in err
    assert cli.main(["search", "bicycle lock code", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["only_by"] == "keyword" and "2 of its 2 chunks have no vector" in found["only_because"]
    # words no passage holds whole: the hits hold some of them (they were said "nearest in meaning", and
    # labelled "by meaning", though no search by meaning ran)
    assert cli.main(["search", "bicycle ZX-99-Q", "-c", "mine"]) == 0
    out, err = capsys.readouterr()
    assert "by meaning" not in out and "nearest in meaning" not in err
    assert "some words" in out and "these hold only some of them" in err
    # searching every collection leaves the damaged one out when others can be searched by meaning, and says so
    assert cli.main(["index", str(docs / "boat.md"), "-c", "boats"]) == 0
    capsys.readouterr()
    assert cli.main(["search", "bicycle lock code"]) == 0
    assert "not searched: 'mine': 2 of its 2 chunks have no vector" in capsys.readouterr().err
    assert cli.main(["search", "where is the boat moored", "-k", "1"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"[1] {docs / 'boat.md'}") and f"`hearth index {docs} --collection mine` repairs it" in err
    assert cli.main(["search", "bicycle lock code", "--mode", "keyword", "-k", "1"]) == 0  # needs no vectors
    assert capsys.readouterr().out.startswith(f"[1] {docs / 'sub' / 'bike.txt'}")

    assert cli.main(["index", str(docs), "-c", "mine"]) == 0
    assert capsys.readouterr().out.startswith("mine: 2 files, 2 chunks (done in")
    assert cli.main(["collections", "list"]) == 0
    assert "NEEDS REPAIR" not in capsys.readouterr().out
    assert cli.main(["search", "bicycle lock code", "-c", "mine", "-k", "1"]) == 0
    assert capsys.readouterr().out.startswith(f"[1] {docs / 'sub' / 'bike.txt'}")


def test_search_puts_the_one_file_with_an_exact_code_first(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "shipments"
    root.mkdir()
    for i in range(300):
        (root / f"shipment{i:03}.txt").write_text(f"Shipment {i} with tracking number T{i:05} left the "
                                                  f"warehouse on day {i % 28 + 1}.\n")
    (root / "heron.txt").write_text("The blue heron nests by the old mill; the ranger filed it under Z00042.\n")
    assert cli.main(["index", str(root), "-c", "shipments"]) == 0
    capsys.readouterr()
    assert cli.main(["search", "Which shipment has tracking number Z00042?", "-c", "shipments"]) == 0
    assert capsys.readouterr().out.startswith(f"[1] {root / 'heron.txt'}  line 1  ")


def _on_a_terminal(args: list[str], typed: str = "", rows: int = 24, columns: int = 80) -> str:
    """Run ``hearth ARGS`` with a pseudo-terminal as its stdin, stdout and stderr (what a user's terminal is),
    type ``typed``, and return everything it wrote to the screen."""
    import fcntl
    import pty
    import struct
    import termios

    main_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")} | {"HF_HUB_OFFLINE": "1",
                                                                                     "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, stdin=child_fd,
                            stdout=child_fd, stderr=child_fd, close_fds=True)
    os.close(child_fd)
    if typed:
        os.write(main_fd, typed.encode())
    screen = b""
    while True:
        try:
            chunk = os.read(main_fd, 65536)
        except OSError:  # the child closed the terminal: it has exited
            break
        if not chunk:
            break
        screen += chunk
    os.close(main_fd)
    assert proc.wait(timeout=60) == 0, screen.decode(errors="replace")
    return screen.decode(errors="replace").replace("\r\n", "\n")


def test_on_a_terminal_the_answer_is_shown_again_with_the_citations_hearth_added(docs: Path) -> None:
    """The model streams "… pier 9." without citing; Hearth attributes it to boat.md once the answer is done.
    On a terminal the streamed text is erased and written again with its [1], above the sources it numbers:
    `hearth ask`, and `hearth chat`, which listed no sources at all before."""
    assert cli.main(["index", str(docs), "--collection", "mine"]) == 0
    options = ["--collection", "mine", "--no-memory", "--preset", "greedy", "--max-tokens", "48"]
    screen = _on_a_terminal(["ask", *options, "Where is the sailing boat moored?"])
    streamed, _, again = screen.partition("\r\x1b[1A\x1b[J")  # one row up, cleared, written again
    assert "pier 9" in streamed and "[1]" not in streamed, screen
    assert "pier 9" in again and "[1]" in again.split("\n")[0], screen  # the answer's row, now cited
    assert "\n[1] boat.md" in again and "Traceback" not in screen, screen
    screen = _on_a_terminal(["chat", *options], typed="Where is the sailing boat moored?\n/quit\n")
    streamed, _, again = screen.partition("\r\x1b[1A\x1b[J")
    assert "hearth> " in streamed and "[1]" not in streamed.split("hearth> ", 1)[1], screen
    assert again.startswith("hearth> ") and "[1]" in again.split("\n")[0] and "\n[1] boat.md" in again, screen


@pytest.mark.parametrize("columns", [80, 140])
def test_the_indexing_progress_line_fits_the_terminal(tmp_path: Path, columns: int) -> None:
    """On an 80-column terminal the file being read took the progress line and cut every other column to a
    letter or two ("indexi… fi… 7.1 chunks… about 1 min 19 s l…"). The counts, rate and ETA are whole now; the
    file is named where there is room, shortened with "…"."""
    import re

    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(12):
        (folder / f"a-rather-long-file-name-about-the-harbour-number-{i}.txt").write_text(
            "".join(f"Section {i}.{j} talks about the harbour and its cranes. " for j in range(150)))
    screen = _on_a_terminal(["index", str(folder), "-c", "notes"], columns=columns)
    frames = {re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", f).rstrip() for f in re.split(r"[\r\n]", screen)}
    lines = [f for f in frames if f.startswith("i") and " about " in f]  # while files are read (with an ETA)
    assert lines and all(len(line) <= columns for line in lines), frames
    assert not [line for line in lines if "…" in line.split(" a-rather-long")[0]], lines  # only the name is cut
    assert all(re.match(r"indexing [━╸╺ ]+ *\d+/12 files [0-9.]+ chunks/s about ", line) for line in lines), lines
    assert any("a-rather-long" in line for line in lines) == (columns > 110), lines
    assert "notes: 12 files" in screen and "Traceback" not in screen


def test_small_files_embedded_together_are_named_as_a_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Small files are embedded together, and the progress named the last of them with the batch's passages:
    "doc090.txt (128 of 132 passages embedded)" for a file of 12. It says the batch now (a log file's lines,
    written at every event here)."""
    from assistant.knowledge import sync

    monkeypatch.setattr(knowledge_cmds, "_LOG_EVERY_S", 0.0)
    monkeypatch.setattr(sync, "_EVENT_INTERVAL_S", 0.0)
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(12):
        (folder / f"note{i:02}.md").write_text(f"# Note {i}\n\nThe heron number {i} fishes by the weir.\n")
    assert cli.main(["index", str(folder), "-c", "notes"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "passages embedded" in line]
    assert lines and all(line.endswith(" · note11.md and 11 more files (12 of 12 passages embedded)")
                         for line in lines), lines


def test_a_run_says_what_it_changed_and_a_rerun_that_nothing_did(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second `hearth index` of an unchanged folder printed the first run's summary word for word."""
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(3):
        (folder / f"n{i}.txt").write_text(f"Heron number {i} fishes by the weir.\n")
    assert cli.main(["index", str(folder), "-c", "notes"]) == 0
    assert "(done in " in (out := capsys.readouterr().out) and " s: 3 added); 0 skipped" in out, out
    assert cli.main(["index", str(folder), "-c", "notes"]) == 0
    assert " s: nothing changed); 0 skipped" in capsys.readouterr().out
    (folder / "n0.txt").write_text("Heron number 0 moved to the harbour.\n")
    (folder / "n1.txt").unlink()
    (folder / "n3.txt").write_text("A new heron.\n")
    os.utime(folder / "n2.txt", (1e9, 1e9))  # only its timestamp: not a change
    assert cli.main(["index", str(folder), "-c", "notes", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["added"], result["changed"], result["removed"], result["files"]) == (1, 1, 1, 3), result
    # a file that cannot be read any more changed too: its passages left the index ("nothing changed")
    (folder / "n3.txt").write_bytes(b"\x00\x01\x02 not text")
    assert cli.main(["index", str(folder), "-c", "notes"]) == 0
    assert " s: 1 changed); 1 skipped" in capsys.readouterr().out


def test_what_gitignore_names_is_left_out_said_and_taken_back_when_it_changes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A project dropped in had its build output and logs indexed and cited beside its sources: what its
    .gitignore names is left out, said, and follows the file when it changes."""
    project = tmp_path / "heron-app"
    for folder in ("build", "docs", ".git"):
        (project / folder).mkdir(parents=True)
    (project / "README.md").write_text("# Heron app\n\nThe heron app counts herons by the weir.\n")
    (project / "build" / "README.md").write_text("# Heron app\n\nThe heron app counts herons by the weir.\n")
    (project / "docs" / "setup.md").write_text("Install the heron app with make install.\n")
    (project / "docs" / "debug.log").write_text("DEBUG heron app started, weir sensor 7 online\n")
    (project / ".gitignore").write_text("build/\n*.log\n")
    assert cli.main(["index", str(project), "-c", "heron"]) == 0
    out = capsys.readouterr().out
    assert "heron: 2 files, " in out and "\n  left out: 2 files and folders that .gitignore names (build/, " \
                                        "docs/debug.log)\n" in out, out
    assert cli.main(["search", "weir sensor", "-c", "heron", "--json"]) == 0
    assert {hit["path"] for hit in json.loads(capsys.readouterr().out)["hits"]} <= {
        str(project / "README.md"), str(project / "docs" / "setup.md")}
    assert cli.main(["index", str(project / "docs"), "-c", "docs", "--json"]) == 0  # the repository's rules hold
    result = json.loads(capsys.readouterr().out)
    assert (result["files"], result["left_out"]) == (1, "1 file that .gitignore names (debug.log)"), result

    (project / ".gitignore").write_text("docs/\n")  # the build comes in, the docs go
    assert cli.main(["index", str(project), "-c", "heron", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["added"], result["removed"], result["files"]) == (1, 1, 2), result
    assert result["left_out"] == "1 folder that .gitignore names (docs/)"
    (project / ".hearthignore").write_text("!docs/\n")  # Hearth's own file takes a line of .gitignore back
    assert cli.main(["index", str(project), "-c", "heron", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["files"], result["left_out"]) == (4, None), result


def test_a_one_line_file_says_how_much_of_it_is_split_while_it_is_cut(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A 20 MB one-line file ran 18 minutes with an empty log (stderr to a file) and no end in sight. Its
    cutting is reported now (a log file's lines, written at every event here)."""
    from assistant.knowledge import chunking, sync

    monkeypatch.setattr(knowledge_cmds, "_LOG_EVERY_S", 0.0)
    monkeypatch.setattr(sync, "_EVENT_INTERVAL_S", 0.0)
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "dump.log").write_text("lorem ipsum dolor sit amet " * (chunking.LINE_PART // 8))
    assert cli.main(["index", str(folder), "-c", "dump"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "split into passages" in line]
    assert len(lines) >= 3 and lines[0].startswith("indexing: 0/1 files · dump.log (") and \
        lines[-1].endswith("dump.log (100% split into passages)"), lines


def test_an_exported_grounded_answer_lists_the_sources_its_numbers_cite(docs: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """`hearth history export` wrote "… pier 9 [1]." with nothing saying what [1] is."""
    assert cli.main(["index", str(docs), "--collection", "mine"]) == 0
    capsys.readouterr()
    assert cli.main(["ask", "--collection", "mine", "--no-memory", "--preset", "greedy", "--max-tokens", "48",
                     "--json", "Where is the sailing boat moored?"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert "[1]" in answer["answer"] and [Path(s["path"]).name for s in answer["sources"] if s["cited"]] == ["boat.md"]
    assert len(answer["sources"]) > 1 and not all(s["cited"] for s in answer["sources"])  # what it read and left
    assert cli.main(["history", "export", answer["conversation_id"]]) == 0
    markdown = capsys.readouterr().out
    assert answer["answer"].strip() in markdown
    boat = (docs / "boat.md").resolve()
    assert f"**Sources**\n\n- [1] [boat.md:3 § Boat]({boat.as_uri()})\n" in markdown  # the line its answer restates



OLD_KEYWORD_INDEX = """
DROP TRIGGER chunks_ai; DROP TRIGGER chunks_ad; DROP TABLE chunks_fts; DROP VIEW IF EXISTS chunks_words;
CREATE VIRTUAL TABLE chunks_fts USING fts5 (
    text, heading, content='chunks', content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2');
CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, text, heading) VALUES (new.rowid, new.text, new.heading); END;
CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, text, heading) VALUES ('delete', old.rowid, old.text, old.heading); END;
INSERT INTO chunks_fts (chunks_fts) VALUES ('rebuild');
"""


def _older_keyword_index(function: str) -> str:
    """The keyword index as a version before made it, its words made by ``function``, symbols not words."""
    schema = SCHEMA.replace(fulltext.FOLDED_FUNCTION, function).replace(
        fulltext.TOKENIZER.replace("'", "''"), "porter unicode61 remove_diacritics 2")
    return f"""
DROP TRIGGER chunks_ai; DROP TRIGGER chunks_ad; DROP TABLE chunks_fts; DROP VIEW IF EXISTS chunks_words;
{schema}
INSERT INTO chunks_fts (chunks_fts) VALUES ('rebuild');
"""


#: The keyword index as a version made it: letters folded and file names indexed, no stems.
UNSTEMMED_KEYWORD_INDEX = _older_keyword_index("hearth_words")
#: The keyword index as a version made it: stems, but symbols not set apart ("stadium🤔" one word).
STEMMED_KEYWORD_INDEX = _older_keyword_index("hearth_stems")
#: The keyword index as the version before made it: symbols set apart, but read as spaces ("★" no word).
SPACED_SYMBOLS_KEYWORD_INDEX = _older_keyword_index("hearth_tokens")


def _notes_under_an_older_keyword_index(tmp_path: Path, notes: dict[str, str], older: str = OLD_KEYWORD_INDEX
                                        ) -> tuple[Path, Callable[..., str]]:
    """``notes`` (file name: text) indexed as collection "notes", its keyword index then made as Hearth made it
    before (``older``; the next open makes it again); and what a search's first line is
    (``first(query, *options)``)."""
    import sqlite3

    root = tmp_path / "notes"
    root.mkdir()
    for name, text in notes.items():
        (root / name).write_text(text)
    assert cli.main(["index", str(root), "-c", "notes"]) == 0
    with sqlite3.connect(get_paths().index_manifest) as raw:
        raw.create_function("hearth_words", 1, lambda text: text and fulltext.segment(text.translate(fulltext.FOLD)))
        raw.create_function("hearth_stems", 1, lambda text: text and stemmed(text.translate(fulltext.FOLD)))
        raw.create_function("hearth_tokens", 1, fulltext.folded)
        raw.create_function(NAME_FUNCTION, 1, name_words)
        raw.executescript(older)

    def first(query: str, *mode: str) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert cli.main(["search", query, "-c", "notes", *mode]) == 0
        return out.getvalue().split("\n")[0]

    return root, first


def test_keyword_search_finds_cjk_words_inside_sentences(tmp_path: Path) -> None:
    """Chinese and Japanese are written without spaces, and FTS5 split at spaces only: keyword search found
    nothing for 北京 in 我住在北京, and hybrid search, left with an English embedder, put the Japanese note first.
    An index made before is made again at its first open."""
    root, first = _notes_under_an_older_keyword_index(tmp_path, {
        "zh.md": "# 旅行笔记\n\n我住在北京，周末喜欢去颐和园散步。去年夏天我们去了杭州。\n",
        "ja.md": "# 日記\n\n東京の神保町で古本を買いました。来週は京都に行きます。\n",
        "en.md": "# Notes\n\nThe quarterly report is due on Friday.\n"})
    for query, file in (("北京", "zh.md"), ("颐和园", "zh.md"), ("我想去杭州看看", "zh.md"), ("神保町", "ja.md"),
                        ("京都", "ja.md"), ("quarterly report", "en.md")):
        assert first(query, "--mode", "keyword").startswith(f"[1] {root / file}"), query
    assert first("北京").startswith(f"[1] {root / 'zh.md'}")  # hybrid
    assert first("北海道", "--mode", "keyword") == "No matches."


def test_keyword_search_finds_letters_as_people_type_them(tmp_path: Path) -> None:
    """"Strasse" found no "Straße", "Juergens" no "Jürgens", "oeufs" no "œufs", "Soren" no "Søren", "платеж" no
    "платёж": keyword search said "No matches.", and hybrid search put an unrelated note first. Nor did a word
    only in a file's name ("party plan"). An index made before is made again at its first open."""
    root, first = _notes_under_an_older_keyword_index(tmp_path, {
        "berlin.md": "# Umzug\n\nHerr Jürgens wohnt in der Gartenstraße, nicht mehr in Köln.\n",
        "paris.md": "# Recette\n\nBattre les œufs avec la crème.\n",
        "oslo.md": "# Besøk\n\nSøren kommer til Tromsø på fredag.\n",
        "moskva.md": "# Счета\n\nПлатёж за квартиру до пятого числа.\n",
        "en.md": "# Notes\n\nThe queen does not eat green toes; the quarterly report is due.\n",
        "Geburtstag_party-plan.md": "Balloons and cake on Saturday.\n",
        "WeddingSeatingPlan.md": "Table four sits by the window.\n"})
    for query, file in (("party plan", "Geburtstag_party-plan.md"), ("Geburtstag", "Geburtstag_party-plan.md"),
                        ("wedding seating", "WeddingSeatingPlan.md"), ("WeddingSeatingPlan", "WeddingSeatingPlan.md"),
                        ("Juergens", "berlin.md"), ("gartenstrasse", "berlin.md"), ("Koeln", "berlin.md"),
                        ("Jürgens Gartenstraße", "berlin.md"), ("oeufs", "paris.md"), ("œufs", "paris.md"),
                        ("Soren Tromso", "oslo.md"), ("платеж", "moskva.md"), ("ПЛАТЁЖ", "moskva.md"),
                        ("queen toes", "en.md")):
        assert first(query, "--mode", "keyword").startswith(f"[1] {root / file}"), query
    assert first("Strasse Juergens").startswith(f"[1] {root / 'berlin.md'}")  # hybrid


def test_keyword_search_finds_words_glued_to_an_emoji(tmp_path: Path) -> None:
    """FTS5's tokenizer takes an emoji newer than its Unicode tables for a letter: "stadium🤔", "flowers🥰" and
    "🦄unicorn" were words of their own, and keyword search for "stadium" said "No matches.". An index made
    before is made again at its first open."""
    root, first = _notes_under_an_older_keyword_index(tmp_path, {
        "chat.txt": "Dana: see you at the stadium🤔 maybe\nEli: thanks for the flowers🥰\n",
        "costume.txt": "Gus: 🦄unicorn🌈 costume, 👍🏽great idea, family👨‍👩‍👧outing\n",
        "en.md": "# Notes\n\nThe quarterly reports are due on Friday.\n"}, older=STEMMED_KEYWORD_INDEX)
    for query, file in (("stadium", "chat.txt"), ("flowers", "chat.txt"), ("unicorn", "costume.txt"),
                        ("great", "costume.txt"), ("family outing", "costume.txt"), ("stadium🤔", "chat.txt")):
        assert first(query, "--mode", "keyword").startswith(f"[1] {root / file}"), query


def test_a_search_of_emoji_or_symbols_alone_finds_the_notes_that_hold_them(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The keyword index's tokenizer read symbols as spaces and a query's words were "\\w+": `hearth search "🦄"`,
    "★★★★★" or "→" alone said "No matches." (keyword) or "no passage matched the words" (hybrid), though a note
    held it. An index made before is made again at its first open."""
    root, first = _notes_under_an_older_keyword_index(tmp_path, {
        "party.md": "# Party\n\nThe theme is 🦄 and glitter.\n",
        "bakery.txt": "The bakery on Main Street: ★★★★★\n",
        "route.txt": "Route: home → station → office, by bus.\n",
        "family.txt": "Sunday walk with the family 👨‍👩‍👧 and a 👍🏽 from grandma, 25€.\n",
        "en.md": "# Notes\n\nThe quarterly reports are due on Friday.\n"}, older=SPACED_SYMBOLS_KEYWORD_INDEX)
    for query, file in (("🦄", "party.md"), ("★★★★★", "bakery.txt"), ("→", "route.txt"), ("👨‍👩‍👧", "family.txt"),
                        ("👍🏽", "family.txt"), ("€", "family.txt"), ("🦄 glitter", "party.md")):
        assert first(query, "--mode", "keyword").startswith(f"[1] {root / file}"), query
        assert first(query).startswith(f"[1] {root / file}"), query  # hybrid
        assert "no passage matched the words" not in capsys.readouterr().err, query
    assert first("🦜", "--mode", "keyword") == "No matches."


def test_keyword_search_finds_a_russian_greek_or_arabic_word_in_its_other_forms(tmp_path: Path) -> None:
    """The index stemmed English words only: "Москва" found no "в Москву", "квартира" no "за квартиру", and
    hybrid search put an unrelated note first. An index made before is made again at its first open."""
    root, first = _notes_under_an_older_keyword_index(tmp_path, {
        "moskva.md": "# Поездка\n\nВ пятницу мы едем в Москву, платёж за квартиру уже сделан.\n",
        "kyiv.md": "# Нотатки\n\nКвиток на потяг до Києва куплено.\n",
        "athens.md": "# Ταξίδι\n\nΤα εισιτήρια της Αθήνας είναι στο συρτάρι.\n",
        "cairo.md": "# رحلة\n\nزرنا المدينة القديمة في القاهرة.\n",
        "en.md": "# Notes\n\nThe quarterly reports are due on Friday.\n"}, older=UNSTEMMED_KEYWORD_INDEX)
    for query, file in (("Москва", "moskva.md"), ("квартира", "moskva.md"), ("платежи", "moskva.md"),
                        ("потяга", "kyiv.md"), ("Αθήνα", "athens.md"), ("مدينة", "cairo.md"),
                        ("quarterly report", "en.md")):
        assert first(query, "--mode", "keyword").startswith(f"[1] {root / file}"), query
    assert first("Москва").startswith(f"[1] {root / 'moskva.md'}")  # hybrid
    assert first("Москвич", "--mode", "keyword") == "No matches."  # another word, not a form of it


def test_mail_is_read_and_minified_scripts_are_left_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Saved e-mail (.eml, .mbox) was left out as a type Hearth does not read; minified scripts and styles (one
    long line a build tool made) made half a messy project's passages and ranked above a note's exact match."""
    import mailbox
    from email.message import EmailMessage

    root = tmp_path / "home"
    root.mkdir()
    invoice = EmailMessage()
    invoice["Subject"], invoice["From"], invoice["To"] = ("=?utf-8?q?Fatura_do_escult=C3=B3r?=",
                                                          "Ana Duarte <ana@example.org>", "me@example.org")
    invoice.set_content("The invoice for the tapir sculpture is 1,240 EUR, due on 14 March.")
    invoice.add_alternative("<p>The invoice for the <b>tapir sculpture</b>.</p>", subtype="html")
    invoice.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="invoice-77.pdf")
    quote = EmailMessage()
    quote["Subject"], quote["From"] = "Boat engine repair quote", "dock@example.org"
    quote.set_content("The boat engine repair costs 990 dollars, parts included.")
    invoice.add_attachment(quote)  # forwarded: read as a message of its own
    (root / "invoice.eml").write_bytes(bytes(invoice))
    box = mailbox.mbox(root / "archive.mbox")
    for subject, body in (("Dentist", "The dentist appointment moved to Friday."),
                          ("Boat mooring", "The boat is moored at pier 9 in Cascais.\nFrom now on, pay the fee.")):
        message = EmailMessage()
        message["Subject"], message["From"] = subject, "Rui <rui@example.org>"
        message.set_content(body)
        box.add(message)
    box.flush()
    box.close()
    (root / "app.min.js").write_text("function a(){return 1};" * 200)
    (root / "bundle.js").write_text("".join(f"function f{i}(e){{var t=e+{i};return t*2;}}" for i in range(300)))
    (root / "cities.js").write_text("export const TAPIR_ZOOS = [" + ",".join(f'"zoo {i}"' for i in range(300)) + "];\n")
    (root / "app.js").write_text("function add(a, b) {\n  return a + b;\n}\n")
    assert cli.main(["index", str(root), "-c", "home", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert sorted(result["skipped"], key=lambda s: s["path"]) == [
        {"path": str(root / name), "reason": "minified (made by a build tool, on long lines): not indexed"}
        for name in ("app.min.js", "bundle.js")]
    assert result["files"] == 4 and result["left_out"] is None  # data on one long line is read
    for query, file, section, holds in (("tapir sculpture invoice", "invoice.eml", "Fatura do escultór",
                                         "Attachments: invoice-77.pdf"),
                                        ("where is the boat moored", "archive.mbox", "Boat mooring",
                                         "\nFrom now on"),  # its own section though short; unquoted
                                        ("boat engine repair cost", "invoice.eml", "Boat engine repair quote",
                                         "990 dollars")):
        assert cli.main(["search", query, "-c", "home", "-k", "1", "--json"]) == 0
        (hit,) = json.loads(capsys.readouterr().out)["hits"]
        assert (hit["path"], hit["heading"]) == (str(root / file), section) and holds in hit["text"], hit


def test_a_decomposed_query_finds_the_composed_word_and_back(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """"crème" typed decomposed (e + U+0300, as macOS and some keyboards send it) was split at its accent into
    "cre" and "me": keyword search found nothing. A note saved decomposed is found by a composed query too."""
    import unicodedata

    root = tmp_path / "notes"
    root.mkdir()
    (root / "menu.md").write_text("# Menu\n\nLe café crème est servi au garçon.\n")
    (root / "tart.md").write_text(unicodedata.normalize("NFD", "# Tarte\n\nUne tarte très acidulée.\n"))
    (root / "tea.md").write_text("# Tea\n\nTea and biscuits at four.\n")
    assert cli.main(["index", str(root), "-c", "notes"]) == 0
    capsys.readouterr()
    for query, file in ((unicodedata.normalize("NFD", "crème garçon"), "menu.md"), ("acidulée", "tart.md")):
        assert cli.main(["search", query, "-c", "notes", "--mode", "keyword"]) == 0
        assert capsys.readouterr().out.startswith(f"[1] {root / file}"), query


def test_the_same_folder_named_twice_is_one_source(docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`hearth index notes` then `hearth index notes/../notes` counted every file twice."""
    assert cli.main(["index", str(docs), "-c", "dup", "--json"]) == 0
    once = json.loads(capsys.readouterr().out)["files"]
    assert cli.main(["index", f"{docs}/../{docs.name}/.", "-c", "dup", "--json"]) == 0
    capsys.readouterr()
    assert cli.main(["collections", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)[0]
    assert listed["files"] == once and listed["sources"] == [str(docs)]


def test_a_folder_already_in_another_collection_is_said_before_it_is_indexed_again(
        docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A subfolder of an indexed folder indexed into another collection got a second copy of its files without a
    word (every search of both found its passages twice); a folder around an indexed one the same."""
    assert cli.main(["index", str(docs), "-c", "docs"]) == 0
    capsys.readouterr()
    assert cli.main(["index", str(docs / "sub"), "-c", "bikes"]) == 0
    err = capsys.readouterr().err
    assert f"note: sub is already in collection 'docs', indexed from {docs}: 'bikes' gets a second copy of its " \
           f"files, found twice when both are searched (`hearth index {docs / 'sub'} --collection docs` keeps " \
           "one copy)." in " ".join(err.split()), err
    assert cli.main(["index", str(docs / "sub"), "-c", "bikes"]) == 0  # a re-sync of what was chosen: no note
    assert cli.main(["index", str(docs / "sub"), "-c", "docs"]) == 0  # into the collection holding it: no note
    assert "note:" not in capsys.readouterr().err
    # a file Hearth does not read is in no collection: refused, without "already in collection 'docs'" first
    (docs / "tool.exe").write_bytes(b"MZ\x90\x00")
    assert cli.main(["index", str(docs / "tool.exe"), "-c", "single"]) != 0
    err = capsys.readouterr().err
    assert "note:" not in err and "no reader for 'tool.exe'" in err, err
    assert cli.main(["index", str(docs.parent), "-c", "all"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert f"note: {docs.parent.name} holds {docs}, already indexed in collection 'docs': 'all' gets a second " \
           "copy of those files" in err and f"holds {docs / 'sub'}, already indexed in collection 'bikes'" in err


def test_a_hidden_folder_is_not_said_to_be_in_its_parents_collection_and_stays_there_once_added(
        docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`hearth index notes/.secret` was said to be in the collection of `notes` already, whose scan skips hidden
    folders; indexed into it as the note advised, the next `hearth index notes` removed its files ("1 removed")."""
    for skipped in (".secret", "node_modules"):
        (docs / skipped).mkdir()
        (docs / skipped / "hidden.md").write_text(f"The {skipped} hint is zebra-crossing-42.\n")
    assert cli.main(["index", str(docs), "-c", "docs"]) == 0
    capsys.readouterr()
    for skipped in (".secret", "node_modules"):
        assert cli.main(["index", str(docs / skipped), "-c", f"own-{skipped.strip('.')}"]) == 0
        assert "note:" not in capsys.readouterr().err
        assert cli.main(["index", str(docs / skipped), "-c", "docs", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["added"] == 1
    assert cli.main(["index", str(docs), "-c", "docs", "--json"]) == 0  # an ordinary re-sync keeps them
    synced = json.loads(capsys.readouterr().out)
    assert (synced["added"], synced["changed"], synced["removed"]) == (0, 0, 0)
    assert cli.main(["collections", "list", "--json"]) == 0
    listed = next(c for c in json.loads(capsys.readouterr().out) if c["name"] == "docs")
    assert listed["sources"] == [str(docs), str(docs / ".secret"), str(docs / "node_modules")]
    assert cli.main(["search", "zebra-crossing-42", "-c", "docs", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    found = {Path(h["path"]).parent.name for h in hits if "zebra" in h["text"]}
    assert found == {".secret", "node_modules"}


def test_the_file_holding_the_word_or_code_searched_for_is_the_first_hit(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """What a QA pass found through `hearth search`: among 150 notes alike but for their codes, another note
    came first for "QZX0149" (the embedder placed the right one second, and only a passage it left out got
    BM25's vote); and a junk file of one repeated passage ("[[[[…", 400 copies) took every place of the dense
    ranking, so it tied with the only file holding "axolotl" and came first."""
    import random

    notes, rng = tmp_path / "notes", random.Random(7)
    notes.mkdir()
    words = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
             "quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()
    for i in range(150):
        filler = " ".join(rng.choices(words, k=60))
        (notes / f"doc{i:03}.md").write_text(f"# Document {i}\n\nUnique token QZX{i:04} lives here.\n\n{filler}\n")
    assert cli.main(["index", str(notes), "-c", "notes"]) == 0
    (small := tmp_path / "small").mkdir()
    (small / "weird.json").write_text("[" * 100_000)
    (small / "deep.md").write_text("Deep file mentions the axolotl.\n")
    (small / "q.md").write_text("The quokka smiles.\n")
    # a log's tail of two words, near everything in meaning, came before the one note naming a place or a
    # person searched for by its name alone
    (small / "tail.log").write_text("alpha alpha\n")
    (small / "trip.md").write_text(
        "# Lisbon trip plan\n\n## Flights\nOutbound flight TP1351 departs Dublin on 14 May 2025 at 06:40, arriving "
        "Lisbon 09:55.\nFlight booking confirmation code: KX-4471.\nReturn flight TP1356 on 21 May 2025 at 18:10.\n\n"
        "## Hotel\nHotel Alfama Patio, Rua das Escolas Gerais 3. Check-in 14 May after 15:00.\nHotel reservation "
        "number: HB-88213. Breakfast included.\n\n## Plans\n- 15 May: tram 28 and the Castelo de São Jorge.\n- 16 "
        "May: day trip to Sintra, Pena Palace tickets booked (ticket ref PP-20931).\n- 18 May: fado dinner at Clube "
        "de Fado with Tomasz, table for two at 20:30.\n")
    assert cli.main(["index", str(small), "-c", "small"]) == 0
    capsys.readouterr()
    for query, holder in (("QZX0149", "doc149.md"), ("QZX0123", "doc123.md"), ("axolotl", "deep.md"),
                          ("quokka", "q.md"), ("Sintra", "trip.md"), ("Tomasz", "trip.md")):
        assert cli.main(["search", query, "-k", "1", "--json"]) == 0
        assert [Path(h["path"]).name for h in json.loads(capsys.readouterr().out)["hits"]] == [holder], query


def test_an_unfinished_indexing_run_is_listed_with_what_finishes_it(docs: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A run stopped before its end (Ctrl+C, Cancel) listed like a finished one, its missing files unsaid."""
    from assistant.core import Assistant
    from assistant.events import Cancel

    for stop, says in ((Cancel.set, "was stopped before the end"),
                       (Cancel.quit, "was cut off (or runs now); the next Hearth window")):
        assistant = Assistant.open()
        try:
            cancel = Cancel()
            for _ in assistant.index([docs], "docs", cancel):
                stop(cancel)
        finally:
            assistant.close()
        assert cli.main(["collections", "list"]) == 0
        out = capsys.readouterr().out
        assert f"  UNFINISHED: its last indexing run {says}" in out and "--collection docs`" in out, out
        # a search of it says so too (one stopped after 1 file of 8 said nothing, as if the 7 held no match)
        assert cli.main(["search", "bicycle", "-c", "docs", "--json"]) == 0
        out, err = capsys.readouterr()
        assert err.startswith("hearth: Collection 'docs' is not fully indexed (its last indexing run "), err
        assert f"`hearth index {docs} --collection docs`" in json.loads(out)["unfinished"]
    assert cli.main(["ask", "Where is the bicycle lock?", "--collection", "docs", "--max-tokens", "4", "--json"]) == 0
    notices = json.loads(capsys.readouterr().out)["notices"]
    assert any(n["kind"] == "knowledge" and "'docs' is not fully indexed" in n["message"] for n in notices), notices
    assert cli.main(["index", str(docs), "--collection", "docs"]) == 0
    capsys.readouterr()
    assert cli.main(["collections", "list"]) == 0
    assert "UNFINISHED" not in capsys.readouterr().out
    assert cli.main(["search", "bicycle", "-c", "docs", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "unfinished" not in json.loads(out)


def test_a_search_that_matched_no_word_says_its_hits_are_only_nearest_in_meaning(
        docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`hearth search "quantum chromodynamics"` over notes about boats listed them at "score 0.9035" with
    nothing saying that no passage held a word searched for (scores are relative to the best hit)."""
    assert cli.main(["index", str(docs), "--collection", "mine"]) == 0
    capsys.readouterr()
    assert cli.main(["search", "quantum chromodynamics", "-c", "mine"]) == 0
    out, err = capsys.readouterr()
    assert "no passage matched the words searched for: these are only the nearest in meaning" in err
    hit_lines = [line for line in out.splitlines() if line.startswith("[")]
    assert hit_lines and all(line.split("score ")[1].split()[1] == "by" for line in hit_lines), out
    # a passage holding only "the" or "is" does not hold the words searched for (a question in plain words
    # passed every unrelated file off as a keyword match, and the warning went unsaid)
    for mode in ("hybrid", "keyword"):
        assert cli.main(["search", "what is the quantum chromodynamics", "-c", "mine", "--mode", mode, "--json"]) == 0
        hits = json.loads(capsys.readouterr().out)["hits"]
        assert all(h["words"] is False for h in hits), (mode, hits)
    assert cli.main(["search", "the quantum chromodynamics", "-c", "mine"]) == 0
    assert "no passage matched the words searched for" in capsys.readouterr().err
    assert cli.main(["search", "bicycle lock", "-c", "mine", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert Path(hits[0]["path"]).name == "bike.txt" and hits[0]["words"] is True
    assert all(h["words"] is (Path(h["path"]).name == "bike.txt") for h in hits), hits
    assert cli.main(["search", "bicycle lock", "-c", "mine", "--mode", "dense", "--json"]) == 0
    assert all(h["words"] is None for h in json.loads(capsys.readouterr().out)["hits"])  # not asked
    assert cli.main(["search", "bicycle lock", "-c", "mine", "--mode", "keyword", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]  # every keyword hit holds a word: no second query asks
    assert hits and all(h["words"] is True for h in hits)
    assert cli.main(["search", "bicycle", "-c", "mine"]) == 0
    out, err = capsys.readouterr()
    first = out.splitlines()[0]
    assert "nearest in meaning" not in err and "bike.txt" in first and "by meaning" not in first


def test_an_invoice_number_finds_its_invoice_first_and_one_found_nowhere_is_said(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Searching every collection for "INV-20931", held by one PDF indexed in three collections, listed first a
    note of other invoices that shares only "INV"; "INV-2099-7777", held nowhere, listed that PDF as holding
    the words; and keyword search for "FOLDERALPHA-11" marked every passage with an 11 as holding them."""
    car, invoices = tmp_path / "car", tmp_path / "invoices"
    car.mkdir()
    invoices.mkdir()
    shutil.copy(ROOT / "bench/data/personal/folder/documents/car/brennan-sons-invoice-INV-20931.pdf", car)
    (invoices / "invoices.md").write_text(
        "# Invoices 2023\n\nInvoice INV-2023-0042 was paid on 14 March 2023 for the roof repair, amount 1,250.00 GBP."
        "\nInvoice INV-2023-0043 is still outstanding, 99.99 GBP for gutter cleaning.\n")
    (invoices / "parking.md").write_text("Parking permit 11 for the car park behind the office.\n")
    for folder, name in ((car, "car"), (car, "car-again"), (car, "papers"), (invoices, "bills"), (invoices, "old")):
        assert cli.main(["index", str(folder), "--collection", name]) == 0
    capsys.readouterr()
    for query in ("INV-20931", "invoice INV-20931"):
        assert cli.main(["search", query, "-k", "2", "--json"]) == 0
        hits = json.loads(capsys.readouterr().out)["hits"]
        assert Path(hits[0]["path"]).name == "brennan-sons-invoice-INV-20931.pdf" and hits[0]["words"], hits
    assert cli.main(["search", "INV-2099-7777", "-k", "3"]) == 0
    out, err = capsys.readouterr()
    assert "no passage matched the words searched for" in err, err
    assert all("by meaning" in line for line in out.splitlines() if line.startswith("[")), out
    assert cli.main(["search", "FOLDERALPHA-11", "--mode", "keyword", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert hits and all(h["words"] is False for h in hits), hits  # the 11 alone is not the code
    assert cli.main(["search", "FOLDERALPHA-11", "--mode", "keyword"]) == 0
    out, err = capsys.readouterr()
    assert "no passage holds the words as searched for: these hold only some of them" in err, err
    assert "parking.md" in out and "some words" in out and "by meaning" not in out


def test_a_mistyped_path_beside_a_real_one_is_skipped_not_recorded_and_fails_the_command(
        docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`hearth index notes tpyo` exited 0 and kept "tpyo" as a folder of the collection, listed as GONE for
    good. A folder the collection had (a drive not plugged in) is still kept, its passages searchable."""
    typo = docs.parent / "tpyo"
    assert cli.main(["index", str(docs / "boat.md"), str(typo), "-c", "notes"]) == 2
    out = capsys.readouterr().out
    assert f"skipped {typo}: not found (nothing was indexed from it)" in out and "1 file" in out
    assert cli.main(["collections", "list", "--json"]) == 0
    (notes,) = json.loads(capsys.readouterr().out)
    assert notes["sources"] == [str(docs / "boat.md")] and notes["files"] == 1
    assert cli.main(["index", str(typo), "-c", "notes"]) == 2
    assert f"Nothing to index: {typo} does not exist." in capsys.readouterr().err

    moved = docs.parent / "moved"
    assert cli.main(["index", str(docs / "sub"), "-c", "notes"]) == 0
    (docs / "sub").rename(moved)
    assert cli.main(["index", str(docs / "boat.md"), str(docs / "sub"), "-c", "notes"]) == 2
    assert "nothing under it was removed from the index" in capsys.readouterr().out
    assert cli.main(["collections", "list", "--json"]) == 0
    assert str(docs / "sub") in json.loads(capsys.readouterr().out)[0]["sources"]


def test_a_bad_collection_name_is_refused_before_any_note_about_a_second_copy(
        docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["index", str(docs), "-c", "docs"]) == 0
    capsys.readouterr()
    assert cli.main(["index", str(docs), "-c", "My Notes"]) == 2
    err = capsys.readouterr().err
    assert "not a valid collection name" in err and "note:" not in err


def test_a_hit_is_previewed_around_the_code_searched_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The preview was the passage's first 240 characters: a code found deep in a log was cut off with "…"
    before it appeared."""
    folder = tmp_path / "logs"
    folder.mkdir()
    lines = [f"10:{n:02d} ok {n}" for n in range(40)]  # short lines: one passage holds them all
    lines[33] = "10:33 ERROR ZORBLAX_FAILURE in the pump controller, restart needed"
    (folder / "server.log").write_text("\n".join(lines) + "\n")
    assert cli.main(["index", str(folder), "-c", "logs"]) == 0
    capsys.readouterr()
    assert cli.main(["search", "ZORBLAX_FAILURE", "-c", "logs", "-k", "1"]) == 0
    preview = capsys.readouterr().out.splitlines()[1].strip()
    assert "ERROR ZORBLAX_FAILURE in the pump controller" in preview and preview.startswith("…"), preview
    assert len(preview) <= 242


@pytest.mark.slow
def test_ctrl_c_while_indexing_says_what_was_kept_and_how_to_finish(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl+C said only "hearth: interrupted": nothing of the files already indexed, nor how to go on."""
    import signal

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"note{i}.md").write_text(f"# Note {i}\n\nThe kayak number {i} hangs in the garage.\n")
    (docs / "zz-big.txt").write_text("\n".join(f"Line {i} of a long log about rivers and stones." for i in
                                               range(60_000)))
    proc = subprocess.Popen([sys.executable, "-m", "app", "index", str(docs), "-c", "docs"], cwd=ROOT,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def indexed() -> int:
        capsys.readouterr()
        cli.main(["collections", "list", "--json"])
        return next((c["files"] for c in json.loads(capsys.readouterr().out) if c["name"] == "docs"), 0)

    try:
        assert wait_for(lambda: indexed() >= 3, 120, 0.5)  # the notes are in, the log is being embedded
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert (f"hearth: stopped: 3 files of 'docs' indexed so far stay searchable; `hearth index {docs} --collection "
            "docs` finishes it.") in err and "hearth: interrupted" not in err, err
    # and `hearth doctor` says so, with the command that finishes it (it said "✓ … stores in step")
    capsys.readouterr()
    cli.main(["doctor"])
    said = capsys.readouterr().out
    assert ("Collection 'docs' is not fully indexed: its last indexing run was stopped, and files not reached yet "
            "are not searched.") in said and f"hearth index {docs} --collection docs" in said, said


def test_ctrl_c_in_one_large_file_says_its_passages_were_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped inside the only file (a 20 MB log), it said "hearth: interrupted" alone: its passages embedded so far
    were kept, and the next run went on from them, unsaid (none is searched until the file is whole)."""
    from assistant.cli import knowledge_cmds

    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "server.log").write_text("".join(f"line {i}: the pump {i % 97} reported pressure {i % 13} bar\n"
                                             for i in range(6_000)))

    def stopped_midway(events):
        for event in events:
            if event.item_done:  # a batch of the log's passages is in
                raise KeyboardInterrupt
        raise AssertionError("the file was never embedded in part")

    monkeypatch.setattr(knowledge_cmds, "render_progress", stopped_midway)
    assert cli.main(["index", str(logs), "-c", "logs"]) == 130
    err = capsys.readouterr().err
    said = re.search(r"hearth: stopped in server\.log: ([\d,]+) of the [\d,]+ passages this run had to embed are "
                     r"kept; `hearth index " + re.escape(str(logs)) + " --collection logs` goes on from them.", err)
    assert said and "hearth: interrupted" not in err, err  # one line (both were said)
    monkeypatch.undo()
    capsys.readouterr()
    assert cli.main(["index", str(logs), "-c", "logs", "--json"]) == 0  # and it does
    assert json.loads(capsys.readouterr().out)["chunks"] > int(said.group(1).replace(",", ""))


def _holding(home: Path, word: str) -> list[str]:
    """The files under ``home`` whose raw bytes hold ``word`` (its tail as well: the keyword index keeps a term
    after the shared start of the one before it)."""
    return files_holding(home, word.encode(), word[3:].encode())


@pytest.mark.parametrize("removal", ["file deleted, folder indexed again", "collection removed",
                                     "sentence removed, folder indexed again"])
def test_what_was_removed_from_the_index_leaves_no_word_in_its_files(tmp_path: Path, hearth_home: Path,
                                                                    capsys: pytest.CaptureFixture[str],
                                                                    removal: str) -> None:
    """A file deleted and its folder indexed again (or its collection removed) left its words in the index's files:
    the keyword index kept them in its segments until a merge, the deleted rows' bytes stayed as free pages, and
    while a window held the index open its -wal file kept the pages as they were: "vexquillionthorp", from a
    deleted file of passwords, was read from index-manifest.sqlite3 and index-manifest.sqlite3-wal. A password
    pasted into a note by mistake and taken out of it stayed there the same way once the note was indexed again."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "secrets.txt").write_text("Bring eggs and flour.\nThe vault password is vexquillionthorp.\n")
    (notes / "kept.txt").write_text("The heron fishes by the weir every morning.\n")
    assert cli.main(["index", str(notes), "-c", "notes"]) == 0
    assert _holding(hearth_home, "vexquillionthorp")  # the test reads what it means to
    capsys.readouterr()
    window = Store(get_paths())  # open meanwhile, as a window would be: the index's -wal file is not deleted
    window.collections()
    if removal == "collection removed":
        assert cli.main(["collections", "remove", "notes"]) == 0
    elif removal.startswith("sentence"):
        (notes / "secrets.txt").write_text("Bring eggs and flour.\n")
        assert cli.main(["index", str(notes), "-c", "notes", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["changed"] == 1
    else:
        (notes / "secrets.txt").unlink()
        assert cli.main(["index", str(notes), "-c", "notes", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["removed"] == 1
    assert _holding(hearth_home, "vexquillionthorp") == []
    window.close()
    if removal != "collection removed":  # what stays is searched as before
        assert cli.main(["search", "heron", "-c", "notes", "--json"]) == 0
        assert "weir" in json.loads(capsys.readouterr().out)["hits"][0]["text"]
    if removal.startswith("sentence"):  # and the note as it is now
        assert cli.main(["search", "flour", "-c", "notes", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["hits"][0]["text"].strip() == "Bring eggs and flour."


#: `hearth index` killed (SIGKILL) once its files were written, before its run ended: as a crash, or `kill -9`.
_KILLED_BEFORE_THE_RUN_ENDED = """
import os, signal, sys
import assistant.cli as cli
from assistant.knowledge.store import Store
Store.end_run = lambda *_: os.kill(os.getpid(), signal.SIGKILL)
cli.main(["index", sys.argv[1], "-c", "notes"])
"""


@pytest.mark.parametrize("after", ["the index opened", "a re-sync that changes nothing", "the window's next sync"])
def test_what_a_killed_sync_replaced_leaves_no_word_in_its_files(tmp_path: Path, hearth_home: Path,
                                                                 capsys: pytest.CaptureFixture[str],
                                                                 shared_embedder: SentenceTransformerEmbedder,
                                                                 after: str) -> None:
    """A password taken out of a note, and `hearth index` killed after it wrote the note again but before its run
    ended: the keyword index kept the old words ("vexquillionthorp" read from index-manifest.sqlite3) until a later
    run happened to delete passages (the merge was owed in the killed process's memory only); a window holding the
    index open meanwhile did not know of it either."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "secrets.txt").write_text("Bring eggs and flour.\nThe vault password is vexquillionthorp.\n")
    (notes / "kept.txt").write_text("The heron fishes by the weir every morning.\n")
    assert cli.main(["index", str(notes), "-c", "notes"]) == 0
    (notes / "secrets.txt").write_text("Bring eggs and flour.\n")
    window = KnowledgeBase(get_paths(), KnowledgeSettings(), embedder=shared_embedder)  # open all along
    try:
        killed = subprocess.run([sys.executable, "-c", _KILLED_BEFORE_THE_RUN_ENDED, str(notes)], cwd=ROOT,
                                env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True,
                                timeout=300)
        assert killed.returncode == -9, killed.stderr
        assert _holding(hearth_home, "vexquillionthorp")  # the run was killed where the words were still there
        capsys.readouterr()
        if after == "the index opened":
            assert cli.main(["collections", "list", "--json"]) == 0
        elif after == "a re-sync that changes nothing":
            assert cli.main(["index", str(notes), "-c", "notes", "--json"]) == 0
            assert json.loads(capsys.readouterr().out)["changed"] == 0
        else:
            assert list(window.index([notes], "notes"))[-1].changes == (0, 0, 0)
        assert _holding(hearth_home, "vexquillionthorp") == []
    finally:
        window.close()
    capsys.readouterr()
    assert cli.main(["search", "flour", "-c", "notes", "--json"]) == 0  # the note as it is now is searched
    assert json.loads(capsys.readouterr().out)["hits"][0]["text"].strip() == "Bring eggs and flour."


def test_a_large_add_says_its_passages_and_time_before_it_embeds_them(docs: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`hearth index big.csv` (1.5 MB) embedded for 185 s with no word of that cost first: once its first
    passages are embedded (their pace measured), a note says how many there are and about how long they take.
    The threshold (20 s of embedding) is lowered to keep the test short; a small add says nothing new."""
    from assistant.knowledge import sync

    table = tmp_path / "orders.csv"
    table.write_text("id,customer,item,note\n" + "".join(f"{i},Customer {i % 97},pallet {i % 13},shipped north "
                                                          f"to warehouse {i % 7} on a Tuesday\n" for i in range(900)))
    assert cli.main(["index", str(docs), "--collection", "small"]) == 0
    assert "note:" not in capsys.readouterr().err
    monkeypatch.setattr(sync, "HEADS_UP_S", 0.1)
    assert cli.main(["index", str(table), "--collection", "orders", "--json"]) == 0
    out, err = capsys.readouterr()
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and re.fullmatch(
        rf"note: {json.loads(out)['chunks']:,} passages to embed: about \d+ s at this computer's pace; Ctrl\+C "
        r"stops, keeping what is embedded for the next run\.", notes[0]), err
