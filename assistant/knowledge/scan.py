"""Find the files to index under the folders a user linked, with the limits that keep indexing sane.

Hidden folders, ``.git``, ``node_modules``, caches and virtual environments are never entered; symlinked
folders are followed once (a loop is detected by device and inode); folders nested deeper than
:data:`MAX_DEPTH` and files over the size limit are reported with a reason instead of being read. The walk
keeps its own stack rather than recursing, so no folder tree, however deep, can abort the scan. Only
``stat`` is called here, which is what makes the re-sync of an unchanged folder cheap. A file whose name is not
valid UTF-8 (possible on Linux) is reported, not indexed: the index, Chroma and every front end store and show
paths as UTF-8 text, and one such name used to abort the whole run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "venv", "bower_components"})
VENV_MARKERS = ("pyvenv.cfg", "conda-meta")
#: Folders deeper than this below a linked root are skipped with a reason: real document trees are far
#: shallower, and paths this long approach the operating system's limit anyway.
MAX_DEPTH = 100


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
    #: found files reached through a link (their entries said so as they were listed)
    links: set[str] = field(default_factory=set)
    #: files of types Hearth does not read, by extension: said in :attr:`left_out`
    unsupported: Counter[str] = field(default_factory=Counter)

    @property
    def left_out(self) -> str:
        """The files of types Hearth does not read, in words ("" when none): not skipped files, but left out
        ("0 files, 0 skipped" said nothing at all, and then they were "1 skipped")."""
        if not self.unsupported:
            return ""
        count = self.unsupported.total()
        most = sorted(self.unsupported.items(), key=lambda kind_count: (-kind_count[1], kind_count[0]))
        kinds = ", ".join(kind for kind, _ in most[:5]) + (", …" if len(most) > 5 else "")
        return f"{count:,} file{'s' if count > 1 else ''} of types Hearth does not read ({kinds})"


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


def scan(sources: Iterable[Path], max_bytes: int, supported: Callable[[Path], bool]) -> ScanResult:
    result = ScanResult()
    seen_dirs: set[tuple[int, int]] = set()
    for source in sources:
        root = source_path(source)
        if not root.exists():
            result.skipped.append((shown(root), "not found (nothing under it was removed from the index)"))
        elif root.is_dir():
            result.roots.append(str(root))
            _walk(root, result, seen_dirs, max_bytes, supported)
        elif not root.is_file():  # reading a named pipe or a device would wait forever
            result.skipped.append((shown(root), "not a regular file (a pipe, socket or device)"))
        elif supported(root):
            result.roots.append(str(root))
            _add_file(root, root.stat(), result, max_bytes, supported)
        else:
            result.skipped.append((shown(root), "unsupported file type"))
    _drop_links_to_found_files(result)
    return result


def _walk(root: Path, result: ScanResult, seen: set[tuple[int, int]], max_bytes: int,
          supported: Callable[[Path], bool]) -> None:
    """Depth-first, in name order, with an explicit stack of open folders (no recursion limit to hit)."""
    stack: list[tuple[Path, int, Iterator[os.DirEntry[str]]]] = []
    _enter(root, 0, stack, result, seen)
    while stack:
        folder, depth, entries = stack[-1]
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
                if depth >= MAX_DEPTH:
                    result.skipped.append((shown(path), f"nested more than {MAX_DEPTH} folders deep (not indexed)"))
                elif entry.is_symlink() and leads_around(path, root):
                    result.skipped.append((shown(path), f"a link to {shown(path.resolve())}, which holds the folder "
                                                        "being indexed (not followed)"))
                else:
                    _enter(path, depth + 1, stack, result, seen)
            elif entry.is_file():
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


def _enter(folder: Path, depth: int, stack: list[tuple[Path, int, Iterator[os.DirEntry[str]]]], result: ScanResult,
           seen: set[tuple[int, int]]) -> None:
    """Push ``folder``'s entries unless it was seen already (a symlink loop), cannot be listed, or is a venv."""
    try:
        st = folder.stat()
        if (st.st_dev, st.st_ino) in seen:
            return  # a symlink loop, or a folder reached twice
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
    stack.append((folder, depth, iter(entries)))


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
