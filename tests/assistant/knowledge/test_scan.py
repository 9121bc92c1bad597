"""The folder walk behind indexing: any tree, however deep or looped, is scanned, with a reason for what is not."""

from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path

import pytest

from assistant.knowledge import scan as scan_module
from assistant.knowledge.scan import MAX_DEPTH, scan


def _scan(*roots: Path):
    return scan(roots, 2**20, lambda p: p.suffix == ".txt")


def nest(root: Path, levels: int) -> Path:
    """``root/d/d/.../d``, ``levels`` folders deep, one mkdir at a time (``mkdir(parents=True)`` recurses)."""
    deep = root
    for _ in range(levels):
        deep = deep / "d"
        deep.mkdir(exist_ok=True)
    return deep


def test_a_very_deep_tree_is_scanned_and_only_its_too_deep_part_skipped(tmp_path: Path) -> None:
    (tmp_path / "top.txt").write_text("top")
    (nest(tmp_path, MAX_DEPTH + 20) / "bottom.txt").write_text("bottom")
    (nest(tmp_path, 5) / "shallow.txt").write_text("shallow")
    result = _scan(tmp_path)
    assert sorted(Path(f.path).name for f in result.files) == ["shallow.txt", "top.txt"]
    assert result.skipped == [(str(tmp_path.joinpath(*["d"] * (MAX_DEPTH + 1))),
                               f"nested more than {MAX_DEPTH} folders deep (not indexed)")]


def test_the_walk_does_not_recurse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tree deeper than the recursion limit is walked. The limit is lowered rather than the tree made
    1,000+ levels deep, which ``shutil.rmtree`` (recursive too) could not clean up afterwards."""
    (nest(tmp_path, 300) / "bottom.txt").write_text("bottom")
    monkeypatch.setattr(scan_module, "MAX_DEPTH", 5000)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 100)
    try:
        result = _scan(tmp_path)
    finally:
        sys.setrecursionlimit(limit)
    assert [Path(f.path).name for f in result.files] == ["bottom.txt"] and result.skipped == []


def test_symlink_loops_end_and_each_file_is_found_once(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "note.txt").write_text("note")
    (tmp_path / "a" / "back").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "a" / "self").symlink_to(".", target_is_directory=True)
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    result = _scan(tmp_path, tmp_path / "a")
    assert [f.path for f in result.files] == [str(tmp_path / "a" / "note.txt")]
    assert result.roots == [str(tmp_path), str(tmp_path / "a")]
    # said, not passed by without a word; the folder dropped in a second time is no news
    assert result.skipped == [(str(tmp_path / "a" / "back"), f"a link to {tmp_path}, which is indexed already (not "
                                                            "followed twice)"),
                              (str(tmp_path / "a" / "self"), f"a link to {tmp_path / 'a'}, which is indexed already "
                                                            "(not followed twice)")]


def test_a_link_to_a_folder_around_the_one_indexed_is_not_followed(tmp_path: Path) -> None:
    """"travel/loop -> .." took all of notes into the travel collection, as travel/loop/…; it is said instead. A
    link to another folder elsewhere is still followed."""
    notes, elsewhere = tmp_path / "notes", tmp_path / "elsewhere"
    (notes / "travel").mkdir(parents=True)
    elsewhere.mkdir()
    (notes / "greenhouse.txt").write_text("greenhouse")
    (notes / "travel" / "rome.txt").write_text("rome")
    (elsewhere / "far.txt").write_text("far")
    (notes / "travel" / "loop").symlink_to("..", target_is_directory=True)
    (notes / "travel" / "far").symlink_to(elsewhere, target_is_directory=True)
    result = _scan(notes / "travel")
    assert sorted(Path(f.path).name for f in result.files) == ["far.txt", "rome.txt"]
    assert result.skipped == [(str(notes / "travel" / "loop"), f"a link to {notes}, which holds the folder being "
                                                               "indexed (not followed)")]


def test_a_link_to_a_file_found_under_its_own_name_is_left_out(tmp_path: Path) -> None:
    """Both names were indexed, one passage twice, and search cited it by the link's name ("crlf-link.md",
    read first) while the file itself was never shown; a link to a file elsewhere is still indexed."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "far.txt").write_text("far")
    root = tmp_path / "notes"
    root.mkdir()
    (root / "crlf.txt").write_text("line one\r\nline two\r\n")
    (root / "crlf-link.txt").symlink_to(root / "crlf.txt")
    (root / "far-link.txt").symlink_to(outside / "far.txt")
    assert [Path(f.path).name for f in _scan(root).files] == ["crlf.txt", "far-link.txt"]


def test_files_come_in_name_order_depth_first(tmp_path: Path) -> None:
    for name in ("b/2.txt", "a/x/1.txt", "a/0.txt", "c.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    assert [Path(f.path).relative_to(tmp_path).as_posix() for f in _scan(tmp_path).files] == [
        "a/0.txt", "a/x/1.txt", "b/2.txt", "c.txt"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a user that permissions apply to")
def test_an_unlistable_folder_is_skipped_with_a_reason(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    (tmp_path / "open.txt").write_text("open")
    locked.chmod(0)
    try:
        result = _scan(tmp_path)
    finally:
        locked.chmod(0o755)
    assert [Path(f.path).name for f in result.files] == ["open.txt"]
    assert result.skipped == [(str(locked), "cannot be listed: Permission denied (what was indexed from it is kept)")]
    assert result.unknown == [str(locked)]  # nothing indexed from it is taken for deleted


def test_skipped_folders_and_limits(tmp_path: Path) -> None:
    # ~$lease.docx: the lock file Word keeps beside an open document (skipped as "not a valid zip archive")
    for name in ("node_modules/x.txt", ".hidden/x.txt", "env/pyvenv.cfg", "env/x.txt", "big.txt", "ok.txt",
                 "~$lease.docx"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x" * (2**20 + 1 if name == "big.txt" else 1))
    result = _scan(tmp_path, tmp_path / "missing")
    assert [Path(f.path).name for f in result.files] == ["ok.txt"]
    assert result.skipped == [(str(tmp_path / "big.txt"), "larger than the 1 MB limit"),
                              (str(tmp_path / "missing"), "not found (nothing under it was removed from the index)")]


def test_what_ignore_files_name_is_left_out_as_git_leaves_it_out(tmp_path: Path) -> None:
    """A project dropped in had its build output and logs indexed and cited beside its sources. The nearest
    rule decides (a deeper ``.gitignore``, a ``!pattern``); ``.hearthignore`` has the last word in its folder;
    a linked folder inside a repository keeps the rules above it."""
    repo = tmp_path / "repo"
    for folder in ("build", "src", "notes/drafts", "notes/logs", ".git/info"):
        (repo / folder).mkdir(parents=True)
    files = ["build/out.txt", "src/main.txt", "debug.txt", "keep-debug.txt", "secret.txt", "notes/a.txt",
             "notes/drafts/d.txt", "notes/logs/run-debug.txt", "notes/logs/trace.txt"]
    for name in files:
        (repo / name).write_text(name)
    (repo / ".gitignore").write_text("# built\nbuild/\n*debug.txt\n!keep-debug.txt\n/src/*.bak\n")
    (repo / ".git" / "info" / "exclude").write_text("secret.txt\n")
    (repo / "notes" / ".gitignore").write_text("!run-debug.txt\ntrace.txt\n")
    (repo / "notes" / ".hearthignore").write_text("drafts/\n!trace.txt\n")

    result = _scan(repo)
    assert sorted(Path(f.path).relative_to(repo).as_posix() for f in result.files) == [
        "keep-debug.txt", "notes/a.txt", "notes/logs/run-debug.txt", "notes/logs/trace.txt", "src/main.txt"]
    assert result.ignored == ["build/", "debug.txt", "notes/drafts/", "secret.txt"]
    assert result.left_out == ("4 files and folders that .git/info/exclude, .gitignore and .hearthignore name "
                               "(build/, debug.txt, notes/drafts/, secret.txt)")

    linked = _scan(repo / "notes" / "logs")  # inside the repository: its rules above still hold
    assert sorted(Path(f.path).name for f in linked.files) == ["run-debug.txt", "trace.txt"]
    (repo / "notes" / ".hearthignore").unlink()
    assert [Path(f.path).name for f in _scan(repo / "notes" / "logs").files] == ["run-debug.txt"]
    assert _scan(repo / "build").files  # a folder the user named is read, whatever ignores it
    assert not _scan(tmp_path / "repo" / "src").ignored


def test_an_ignore_file_is_read_as_git_reads_it_and_one_it_cannot_read_is_said(tmp_path: Path) -> None:
    """What a re-check found: 3,100 lines made RE2 give up and the whole run fail; one line git passes by ("!"
    alone) dropped the whole file; Notepad's byte-order mark hid the first pattern; a named pipe waited forever;
    the rules of the repository around reached into one inside it, which git reads on its own."""
    for folder in ("big", "bad", "bom", "pipe", "outer/inner/.git", "outer/inner/out", "outer/out"):
        (tmp_path / folder).mkdir(parents=True)
    for name in ("big/generated_7.txt", "big/kept.txt", "bad/build.txt", "bad/kept.txt", "bom/bom.txt",
                 "pipe/a.txt", "outer/out/x.txt", "outer/inner/out/y.txt"):
        (tmp_path / name).write_text(name)
    (tmp_path / "big" / ".gitignore").write_text("".join(f"generated_{i}.txt\n" for i in range(3100)))
    (tmp_path / "bad" / ".gitignore").write_text("!\nbuild.txt\nfoo\\\n")
    (tmp_path / "bom" / ".gitignore").write_bytes(b"\xef\xbb\xbfbom.txt\n")
    os.mkfifo(tmp_path / "pipe" / ".gitignore")
    (tmp_path / "outer" / ".gitignore").write_text("out/\n")
    (tmp_path / "outer" / ".git").mkdir()

    for folder, kept in (("big", ["kept.txt"]), ("bad", ["kept.txt"]), ("bom", []), ("pipe", ["a.txt"]),
                         ("outer", ["y.txt"])):
        result = _scan(tmp_path / folder)
        assert sorted(Path(f.path).name for f in result.files) == kept, folder
    assert _scan(tmp_path / "pipe").skipped == [(str(tmp_path / "pipe" / ".gitignore"),
                                                  "cannot be read: not a regular file (the files it names are "
                                                  "indexed)")]


def test_lockfiles_and_large_data_exports_in_a_folder_are_skipped_with_the_reason(tmp_path: Path) -> None:
    """A project's package-lock.json made 1,501 of its 1,504 passages, a Downloads folder's 3.8 MB JSON 10,820
    (15 of 16 minutes), and both filled search results. A data file added on its own is indexed."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("The production database port is 6543.\n")
    (project / "package-lock.json").write_text('{"lockfileVersion": 3}\n')
    (project / "settings.json").write_text('{"theme": "dark"}\n')
    (project / "export.json").write_text("[" + ",".join(['{"id": 1, "v": "x"}'] * 60_000) + "]\n")  # 1.2 MB
    # a 30 MB server.log in a watched folder held its re-sync, and every note edited meanwhile, for minutes
    (project / "server.log").write_text("GET /health 200\n" * 80_000)  # 1.2 MB
    (project / "notes.log").write_text("Tuesday: called the plumber.\n")
    result = scan([project], 50 * 2**20, lambda p: p.suffix in (".md", ".json", ".log"))
    assert sorted(Path(f.path).name for f in result.files) == ["README.md", "notes.log", "settings.json"]
    assert dict((Path(p).name, why) for p, why in result.skipped) == {
        "export.json": "a 1.1 MB data file (a program's export): not indexed from a folder; to index it, drop the "
                       "file itself on the window or run `hearth index` on it",
        "server.log": "a 1.2 MB log (a program's output): not indexed from a folder; to index it, drop the file "
                      "itself on the window or run `hearth index` on it",
        "package-lock.json": "a package manager's lockfile (versions and hashes): not indexed"}
    alone = scan([project / "export.json"], 50 * 2**20, lambda p: p.suffix == ".json")
    assert [Path(f.path).name for f in alone.files] == ["export.json"] and not alone.skipped


def test_every_type_left_out_is_named_up_to_a_dozen(tmp_path: Path) -> None:
    """".pptx" and ".xlsx" were behind "…" after five types, in `hearth index --json` too."""
    kinds = [".gz", ".ics", ".jpg", ".odt", ".png", ".pptx", ".rtf", ".vcf", ".xlsx", ".zip"]
    for i, kind in enumerate(kinds):
        (tmp_path / f"f{i}{kind}").write_bytes(b"x")
    assert _scan(tmp_path).left_out == f"10 files of types Hearth does not read ({', '.join(kinds)})"
    for i in range(5):
        (tmp_path / f"g{i}.ext{i}").write_bytes(b"x")
    assert _scan(tmp_path).left_out.endswith(", .pptx, .rtf, …)")
