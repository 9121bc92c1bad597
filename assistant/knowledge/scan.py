"""Find the files to index under the folders a user linked, with the limits that keep indexing sane.

Hidden folders, ``.git``, ``node_modules``, caches and virtual environments are never entered; symlinked
folders are followed once (a loop is detected by device and inode); folders nested deeper than
:data:`MAX_DEPTH` and files over the size limit are reported with a reason instead of being read. The walk
keeps its own stack rather than recursing, so no folder tree, however deep, can abort the scan.

What a folder's ``.gitignore`` names (a project's ``build/``, ``dist/``, logs) is left out as git leaves it out,
and so is what a ``.hearthignore`` names (same syntax; its ``!pattern`` takes back a ``.gitignore`` line): a
project folder dropped in had its build output indexed and cited beside the sources.

Only ``stat`` is called here (and ignore files read), which is what makes the re-sync of an unchanged folder
cheap. A file whose name is not valid UTF-8 (possible on Linux) is reported, not indexed: the index, Chroma and
every front end store and show paths as UTF-8 text, and one such name used to abort the whole run.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "venv", "bower_components"})
VENV_MARKERS = ("pyvenv.cfg", "conda-meta")
#: Folders deeper than this below a linked root are skipped with a reason: real document trees are far
#: shallower, and paths this long approach the operating system's limit anyway.
MAX_DEPTH = 100
#: A package manager's lockfiles that Hearth could read (by their suffix): thousands of passages of versions and
#: hashes (a project's package-lock.json made 1,501 of its 1,504, and came second for "production database
#: port"); the others (poetry.lock, yarn.lock, Cargo.lock, go.sum) have no reader and are left out by type.
LOCKFILES = frozenset({"package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "packages.lock.json",
                       "conda-lock.yml"})
#: Data files (JSON, CSV) larger than this in a folder are a program's export, not notes: a 3.8 MB JSON made
#: 10,820 passages, 15 minutes of a folder's 16 to embed, and filled search results. Added on their own (the file
#: itself, not its folder), they are indexed.
DATA_FILE_BYTES = 2**20
#: What such a file is, by its suffix. A log is one too: a 30 MB ``server.log`` appearing in a watched notes
#: folder held its re-sync (and every note edited meanwhile) for minutes while its 100,000 passages were embedded.
DATA_SUFFIXES = {**dict.fromkeys((".json", ".jsonl", ".ndjson", ".csv", ".tsv"), "data file (a program's export)"),
                 ".log": "log (a program's output)"}
#: The files whose patterns leave files out, read in this order in each folder (a later line wins): git's own
#: list of a repository's exclusions, a folder's ``.gitignore``, and Hearth's ``.hearthignore``.
IGNORE_FILES = (".git/info/exclude", ".gitignore", ".hearthignore")
_IGNORE_TOPS = frozenset(name.partition("/")[0] for name in IGNORE_FILES)  # what a folder holds of them


@dataclass(frozen=True)
class IgnoreRules:
    """The patterns of one of a folder's ignore files, matched against paths relative to that folder."""
    folder: Path
    spec: GitIgnoreSpec
    file: str  # the ignore file they came from, as named in IGNORE_FILES, for saying what left a file out


Rules = tuple[IgnoreRules, ...]


@dataclass(frozen=True)
class FoundFile:
    path: str
    size: int
    mtime_ns: int


@dataclass
class ScanResult:
    files: list[FoundFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: Linked roots that were walked: only files under these can be considered deleted.
    roots: list[str] = field(default_factory=list)
    #: Folders under them whose content is unknown this time (one that cannot be listed; a link whose target is
    #: gone, as an unplugged drive): nothing indexed from them is considered deleted.
    unknown: list[str] = field(default_factory=list)
    #: sources that cannot be reached (see :func:`unplugged`): the scan looked, and the run need not look again
    unplugged: list[str] = field(default_factory=list)
    #: found files reached through a link (their entries said so as they were listed)
    links: set[str] = field(default_factory=set)
    #: files of types Hearth does not read, by extension: said in :attr:`left_out`
    unsupported: Counter[str] = field(default_factory=Counter)
    #: files and folders an ignore file names (folders end in "/"), relative to their root, and those ignore
    #: files by name: said in :attr:`left_out`
    ignored: list[str] = field(default_factory=list)
    ignored_by: set[str] = field(default_factory=set)

    @property
    def left_out(self) -> str:
        """What was not read and why, in words ("" when nothing): files of types Hearth does not read, and what
        ignore files name. Not skipped files, but left out ("0 files, 0 skipped" said nothing at all, and then
        they were "1 skipped")."""
        said = []
        if self.unsupported:
            count = self.unsupported.total()
            most = sorted(self.unsupported.items(), key=lambda kind_count: (-kind_count[1], kind_count[0]))
            # every type, up to a dozen: ".pptx" and ".xlsx" were behind "…" (in --json too)
            said.append(f"{count:,} file{'s' if count > 1 else ''} of types Hearth does not read "
                        f"({_some((kind for kind, _ in most), TYPES_SHOWN)})")
        if self.ignored:
            by = sorted(self.ignored_by, key=IGNORE_FILES.index)
            count, by_text = len(self.ignored), ", ".join(by[:-1]) + (" and " if len(by) > 1 else "") + by[-1]
            what = "files and folders" if count > 1 else "folder" if self.ignored[0].endswith("/") else "file"
            said.append(f"{count:,} {what} that {by_text} name{'s' if len(by) == 1 else ''} "
                        f"({_some(self.ignored)})")
        return "; ".join(said)


#: How many of the file types Hearth does not read a summary names (the commonest first).
TYPES_SHOWN = 12


def _some(names: Iterable[str], most: int = 5) -> str:
    """The first ``most`` of ``names``, and "…" for the rest."""
    names = list(names)
    return ", ".join(names[:most]) + (", …" if len(names) > most else "")


def source_path(source: str | Path) -> Path:
    """A folder or file the user named, as the index keeps it: absolute, with ``..`` and ``.`` worked out
    (``notes/../notes`` was a second source, and its files were counted twice). Links are kept as named: the
    path a user sees in a citation is the one they gave."""
    return Path(os.path.normpath(Path(source).expanduser().absolute()))


def skipped(name: str, folder: bool = True) -> bool:
    """Whether a scan passes over an entry named ``name`` below the folder it was given: hidden entries, the lock
    files Word and Excel keep beside an open document (``~$lease.docx``: listed as skipped, "not a valid zip
    archive"), and folders of dependencies, caches and virtual environments. A folder named as a source is
    scanned whatever its name: the user asked for it. (The one rule the scan, the folder watcher and the overlap
    notes all follow.)"""
    return name.startswith((".", "~$")) or (folder and name in SKIPPED_DIRS)


def reaches(root: Path, path: Path) -> bool:
    """Whether a scan of ``root`` enters ``path`` (a path in it): not when it or a folder between them is skipped.
    A hidden folder in an indexed one is not in that folder's collection, though its path is inside the folder."""
    return path.is_relative_to(root) and not any(map(skipped, path.relative_to(root).parts))


def leads_around(link: Path, root: Path) -> bool:
    """Whether ``link`` (a link to a folder, below ``root``) leads to a folder holding ``root``: followed, it took
    in all of that folder ("travel/loop -> .." indexed the whole of notes into the travel collection, as
    travel/loop/…). A link to ``root`` itself is a loop, which the scan passes by on its own."""
    try:
        target, real = link.resolve(), root.resolve()
    except (OSError, RuntimeError):
        return False
    return real != target and real.is_relative_to(target)


def unplugged(source: str | Path, indexed: Callable[[str], bool]) -> bool:
    """Whether the folder or file ``source`` a collection was indexed from cannot be reached now, as a drive not
    plugged in (what was indexed from it stays): it is not there, or it is :func:`unmounted`."""
    return not Path(source).exists() or unmounted(Path(source), indexed)


def unmounted(folder: Path, indexed: Callable[[str], bool]) -> bool:
    """Whether ``folder`` is the empty folder a drive is mounted on, with the drive not mounted: it lists as
    empty (not even a hidden entry), is no mount point now, and files were indexed from it (``indexed``, asked
    last: a query of the index). A USB drive pulled or a NAS share dropped at a fixed mount point left that
    folder there, empty, and a re-sync deleted every passage of the collection ("0 files · 0 chunks", said "up to
    date"); mounted again, every file was read and embedded again. No earlier state of the folder is needed (an
    index made before this knew nothing of it), and a device number could not serve: a drive mounted again may
    get another one. The price: a folder whose every file the user deleted keeps their passages, and is listed
    as gone, until the collection is removed."""
    if not folder.is_dir() or os.path.ismount(folder):
        return False
    try:
        with os.scandir(folder) as listing:
            if next(listing, None) is not None:
                return False
    except OSError:  # one that cannot be listed: the scan says so, and keeps what was indexed from it
        return False
    return indexed(str(folder))


def scan(sources: Iterable[Path], max_bytes: int, supported: Callable[[Path], bool],
         indexed: Callable[[str], bool] | None = None) -> ScanResult:
    """``indexed(folder)``: whether files were indexed from ``folder`` (see :func:`unmounted`); None for a
    collection not made yet."""
    result = ScanResult()
    seen_dirs: set[tuple[int, int]] = set()
    for source in sources:
        root = source_path(source)
        if not root.exists():
            result.skipped.append((shown(root), "not found (nothing under it was removed from the index)"))
            result.unplugged.append(str(root))
        elif indexed is not None and unmounted(root, indexed):
            result.skipped.append((shown(root), "empty, as the folder of a drive not mounted (nothing under it "
                                                "was removed from the index)"))
            result.unplugged.append(str(root))
        elif root.is_dir():
            result.roots.append(str(root))
            _walk(root, _rules_above(root), result, seen_dirs, max_bytes, supported)
        elif not root.is_file():  # reading a named pipe or a device would wait forever
            result.skipped.append((shown(root), "not a regular file (a pipe, socket or device)"))
        elif supported(root):
            result.roots.append(str(root))
            _add_file(root, root.stat(), result, max_bytes, supported)
        else:
            result.skipped.append((shown(root), "unsupported file type"))
    _drop_links_to_found_files(result)
    return result


def _walk(root: Path, rules: Rules, result: ScanResult, seen: set[tuple[int, int]], max_bytes: int,
          supported: Callable[[Path], bool]) -> None:
    """Depth-first, in name order, with an explicit stack of open folders (no recursion limit to hit)."""
    stack: list[_Open] = []
    _enter(root, 0, rules, stack, result, seen)
    while stack:
        folder, depth, entries, rules = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        if skipped(entry.name, folder=False):
            continue
        path = folder / entry.name
        try:
            if entry.is_dir():
                if skipped(entry.name):
                    continue
                if by := _ignored_by(path, True, rules):
                    result.ignored.append(f"{shown(path.relative_to(root))}/")
                    result.ignored_by.add(by)
                elif depth >= MAX_DEPTH:
                    result.skipped.append((shown(path), f"nested more than {MAX_DEPTH} folders deep (not indexed)"))
                elif entry.is_symlink() and leads_around(path, root):
                    result.skipped.append((shown(path), f"a link to {shown(path.resolve())}, which holds the folder "
                                                        "being indexed (not followed)"))
                else:
                    _enter(path, depth + 1, rules, stack, result, seen)
            elif entry.is_file():
                if supported(path) and (by := _ignored_by(path, False, rules)):
                    result.ignored.append(shown(path.relative_to(root)))
                    result.ignored_by.add(by)
                    continue
                if why := _machine_made(path, entry.stat()):
                    result.skipped.append((shown(path), why))
                    continue
                _add_file(path, entry.stat(), result, max_bytes, supported)
                if entry.is_symlink():
                    result.links.add(str(path))
            elif entry.is_symlink():
                result.unknown.append(str(path))
                if supported(path):
                    result.skipped.append((shown(path), "a link to something that does not exist"))
            elif supported(path):  # a named pipe, socket or device: reading it could wait forever
                result.skipped.append((shown(path), "not a regular file (a pipe, socket or device)"))
        except OSError as exc:
            result.skipped.append((shown(path), f"cannot be read: {exc.strerror or exc}"))


_Open = tuple[Path, int, Iterator[os.DirEntry[str]], Rules]  # a folder being walked: depth, entries, ignore rules


def _enter(folder: Path, depth: int, rules: Rules, stack: list[_Open], result: ScanResult,
           seen: set[tuple[int, int]]) -> None:
    """Push ``folder``'s entries, with ``rules`` and those of its own ignore files, unless it was seen already
    (a symlink loop), cannot be listed, or is a venv."""
    try:
        st = folder.stat()
        if (st.st_dev, st.st_ino) in seen:  # a symlink loop, or a folder reached twice: read once, and said
            # below the folder dropped in (one dropped twice, or inside another dropped, is no news)
            if depth and folder.is_symlink():
                result.skipped.append((shown(folder), f"a link to {shown(folder.resolve())}, which is indexed "
                                                      "already (not followed twice)"))
            elif depth:
                result.skipped.append((shown(folder), "indexed already, through a link to it (not read twice)"))
            return
        seen.add((st.st_dev, st.st_ino))
        if any((folder / marker).exists() for marker in VENV_MARKERS):
            return
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        result.unknown.append(str(folder))
        result.skipped.append((shown(folder), f"cannot be listed: {exc.strerror or exc} (what was indexed from it "
                                              "is kept)"))
        return
    stack.append((folder, depth, iter(entries), _rules_in(folder, depth, {e.name for e in entries}, rules, result)))


def _rules_in(folder: Path, depth: int, names: set[str], rules: Rules, result: ScanResult | None = None) -> Rules:
    """The rules in force inside ``folder`` (``depth`` below the folder scanned; ``names``: what it holds, or
    at least which of its ignore files it holds): ``rules`` from above, and its own ignore files'. A repository
    inside (a submodule, a clone) starts afresh: git reads it on its own."""
    return (() if depth and ".git" in names else rules) + _rules_of(folder, names, result)


def _ignore_files_in(folder: Path) -> set[str]:
    """Which of the ignore files (and ``.git``) ``folder`` holds, found by name: listing a folder on the way
    (a home folder, an ignored ``build/``) can mean thousands of entries."""
    return {name for name in _IGNORE_TOPS if (folder / name).exists()}


def _rules_of(folder: Path, names: set[str], result: ScanResult | None = None) -> Rules:
    """The rules of ``folder``'s ignore files, in the order they are read (``names``: what the folder holds). An
    ignore file that cannot be read is listed as skipped (with ``result``), and the scan goes on without it."""
    rules = []
    for name in IGNORE_FILES:
        if name.partition("/")[0] not in names:
            continue
        path = folder / name
        try:
            if not stat.S_ISREG(path.stat().st_mode):  # reading a named pipe waited forever
                raise OSError("not a regular file")
            # utf-8-sig: Notepad's byte-order mark glued to the first pattern, which then matched nothing
            text = path.read_text(encoding="utf-8-sig", errors="replace")
        except (FileNotFoundError, NotADirectoryError):
            continue  # .git is a file in a worktree or submodule: it has no info/exclude of its own
        except OSError as exc:
            if result is not None:
                result.skipped.append((shown(path), f"cannot be read: {exc.strerror or exc} (the files it names "
                                                    "are indexed)"))
            continue
        rules.append(IgnoreRules(folder, _compiled(text), name))
    return tuple(rules)


@lru_cache(maxsize=256)
def _compiled(text: str) -> GitIgnoreSpec:
    """An ignore file's ``text`` as git reads it: a line git passes by ("!" alone, one ending in a lone
    backslash) is left out, not the whole file with it (everything it named was indexed); past a few thousand
    patterns RE2 gives up ("failed to compile Set", and the whole run failed), and Python's ``re`` takes them.
    Kept by text: each re-sync, and the folder watcher at each change, read the same files again."""
    from pathspec import GitIgnoreSpec  # here: 23 ms of imports that a folder without ignore files never needs

    lines = text.splitlines()
    try:
        return GitIgnoreSpec.from_lines(lines)
    except ValueError:
        usable = [line for line in lines if _usable(line)]
        return _compiled("\n".join(usable)) if len(usable) < len(lines) else GitIgnoreSpec.from_lines([])
    except Exception:  # RE2's own error type (re2.Error), whose module may not be installed
        return GitIgnoreSpec.from_lines(lines, backend="simple")


def _usable(line: str) -> bool:
    """Whether git can use ``line`` as a pattern (a comment or a blank line is one that matches nothing)."""
    from pathspec import GitIgnoreSpec

    try:
        GitIgnoreSpec.from_lines([line], backend="simple")
    except ValueError:
        return False
    return True


def _rules_above(root: Path) -> Rules:
    """The ignore rules that reach into ``root`` from the folders above it in the same git repository (a linked
    ``project/docs`` keeps ``project/.gitignore``'s ``*.log``); none where ``root`` is in no repository, is its
    top, or is a folder they name (the user asked for it)."""
    if (root / ".git").exists():
        return ()
    above = []
    for folder in root.parents:
        above.append(folder)
        if (folder / ".git").exists():
            break
    else:
        return ()
    rules: Rules = ()
    for folder in reversed(above):
        rules += _rules_of(folder, _ignore_files_in(folder))
    return () if _ignored_by(root, True, rules) else rules  # a folder named is read, whatever ignores it


def ignored(root: Path, path: Path) -> bool:
    """Whether an ignore file on the way from ``root`` (a folder the scan walks) to ``path`` in it leaves
    ``path`` out, as the scan would: the folder watcher's test, so that a build writing into an ignored
    ``build/`` does not start a sync each time. Only the ignore files on the way are looked at, not the folders'
    listings (an ignored folder can hold thousands of files)."""
    rules = _rules_above(root)
    folder = root
    parts = path.relative_to(root).parts
    for depth, part in enumerate(parts):
        rules = _rules_in(folder, depth, _ignore_files_in(folder), rules)
        folder = folder / part
        if _ignored_by(folder, depth < len(parts) - 1 or folder.is_dir(), rules):
            return True
    return False


def _ignored_by(path: Path, folder: bool, rules: Rules) -> str:
    """The ignore file that leaves ``path`` out ("" when none does): the last rule that matches it decides, as in
    git, where a deeper ``.gitignore`` (or a later ``!pattern``) overrides the ones above it."""
    for own in reversed(rules):
        relative = path.relative_to(own.folder).as_posix() + ("/" if folder else "")
        include = own.spec.check_file(relative).include
        if include is not None:
            return own.file if include else ""
    return ""


def _add_file(path: Path, st: os.stat_result, result: ScanResult, max_bytes: int,
              supported: Callable[[Path], bool]) -> None:
    if not supported(path):
        result.unsupported[path.suffix.lower() or "no extension"] += 1
        return
    if shown(path) != str(path):
        result.skipped.append((shown(path), "its name is not valid UTF-8 (rename the file to index it)"))
        return
    if st.st_size > max_bytes:
        result.skipped.append((shown(path), f"larger than the {max_bytes // 2**20} MB limit"))
        return
    result.files.append(FoundFile(str(path), st.st_size, st.st_mtime_ns))


def _machine_made(path: Path, st: os.stat_result) -> str:
    """Why a file in a folder is a tool's output rather than something written to be read (a lockfile, a large
    data export), or "". Only in a folder: a file added on its own is indexed whatever it is."""
    if path.name.lower() in LOCKFILES:
        return "a package manager's lockfile (versions and hashes): not indexed"
    if (kind := DATA_SUFFIXES.get(path.suffix.lower())) and st.st_size > DATA_FILE_BYTES:
        return (f"a {st.st_size / 2**20:.1f} MB {kind}: not indexed from a folder; to index it, drop the file "
                "itself on the window or run `hearth index` on it")
    return ""


def _drop_links_to_found_files(result: ScanResult) -> None:
    """Leave out a link to a file that is indexed under its own name too: the two are one passage, which search
    shows once, and it was cited by the link's name ("crlf-link.md") while the file itself was never shown."""
    links = result.links
    if links:
        real = {os.path.realpath(f.path) for f in result.files if f.path not in links}
        result.files = [f for f in result.files if f.path not in links or os.path.realpath(f.path) not in real]


def shown(path: Path) -> str:
    """``path`` as text any front end can print: bytes of a name that are not UTF-8 (which Python keeps as lone
    surrogates) become U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")
