"""``hearth doctor`` and the window's start-up check: is the install and the data in order, and what to do.

Each check returns :class:`Finding` values (ok / warning / problem) with a sentence for the user and, where
Hearth can fix it itself, a ``repair`` action that :func:`repair` runs (the GUI's "Repair" button, ``hearth
doctor --repair``). Checks only read: nothing is changed until a repair is asked for. ``qt`` (the desktop's
system libraries) runs before any Qt import and is also what ``make run`` and ``hearth`` call first.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.chat import salvage
from assistant.events import Progress, counted
from assistant.paths import storage_problem

if TYPE_CHECKING:
    from assistant.core import Assistant
    from assistant.engine import ModelInfo

OK, WARNING, PROBLEM = "ok", "warning", "problem"
#: Below this much free space in the data folder indexing and chat will soon fail; below the first, warn.
LOW_DISK_BYTES, FULL_DISK_BYTES = 2 * 2**30, 200 * 2**20


@dataclass(frozen=True)
class Finding:
    area: str  # "settings", "model", "knowledge", "history", "memory", "remote", "disk", "desktop", "fonts"
    status: str  # OK / WARNING / PROBLEM
    message: str
    fix: str = ""  # what the user can do, in words (often a command)
    repair: str = ""  # an action repair() can run for them ("" when Hearth cannot fix it itself)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check(assistant: Assistant, desktop: bool = True) -> list[Finding]:
    """Every check, problems first. ``desktop``: include the Qt system libraries (not needed in the window,
    which is already running)."""
    findings = [*_settings(assistant), *_model(assistant), *_history(assistant), *_knowledge(assistant),
                *_memory(assistant), *_remote(assistant), *_disk(assistant)]
    if desktop:
        findings += [*_desktop(), *_fonts()]
    order = {PROBLEM: 0, WARNING: 1, OK: 2}
    return sorted(findings, key=lambda f: order[f.status])


def repair(assistant: Assistant, finding: Finding) -> Iterator[Progress]:
    """Run ``finding.repair``; yields progress (a collection re-sync reports like indexing)."""
    action, _, target = finding.repair.partition(":")
    if action == "resync":
        yield from assistant.knowledge.sync(target)
    elif action == "vectors":  # a damaged vector store: set it aside, then every collection embeds anew
        aside = assistant.knowledge.store.set_aside_vectors()
        yield Progress("knowledge", 0, message=f"the damaged vector store was moved to {aside}")
        for info in assistant.collections():
            yield from assistant.knowledge.sync(info.name)
    elif action == "index":  # a damaged index file: its readable rows copied into a new one, the old one kept
        aside = assistant.knowledge.store.rebuild_index_file()
        yield Progress("knowledge", 0, message=f"the knowledge index was rebuilt; the damaged file was moved to "
                                               f"{aside}")
    elif action == "index-anew":  # an index file that cannot be opened: set aside, its collections indexed anew
        yield from assistant.index_anew()
    elif action == "memory-queue":  # a damaged queue of turns to learn from: set it aside, start an empty one
        from assistant.memory.queue import queue_path, set_aside

        aside = set_aside(queue_path(assistant.paths))
        yield Progress("memory", 0, message=f"the damaged memory queue was moved to {aside}")
    elif action == "memory-store":  # a damaged memory store: rebuilt from its readable rows, the old one kept
        yield Progress("memory", 0, message=assistant.rebuild_memory_store().summary())
    elif action == "set-aside":  # a config file that is not TOML: set aside, so that Hearth saves a fresh one
        from assistant.config import set_aside

        yield Progress("settings", 0, message=f"{target}: {set_aside(assistant.paths.config_dir / target)}")
    elif action == "parts":  # half-written model files whose writer was stopped
        from assistant.models.partfiles import remove_leftovers

        left = [part for folder in _part_folders(assistant) for part in remove_leftovers(folder)]
        yield Progress("disk", 0, message="the half-written model files were deleted" if not left else
                       f"{counted(len(left), 'half-written model file')} could not be deleted: {left[0]}")
    elif action == "retry-memory":
        memory = assistant.memory
        if memory is not None:
            yield Progress("memory", 0, message=f"{memory.retry_failed()} turn(s) queued again")
    else:
        raise ValueError(f"no repair called {finding.repair!r}")


# ---- the checks -------------------------------------------------------------------------------------
def _settings(assistant: Assistant) -> list[Finding]:
    """The settings file as it reads now: a value Hearth cannot use (``n_ctx = "abc"``) is replaced by the one in
    use and said once at start-up, above a doctor that ticked every check. A settings or model file that is not
    TOML is left as it is (read as defaults, never saved over): the repair sets it aside."""
    import tomllib

    from assistant.config import UNREADABLE_AS, damaged_toml, parse_settings

    path = assistant.paths.settings_file
    damaged = [Finding("settings", WARNING, damaged_toml(other, exc, "read as empty"),
                       "Mend it, or let Hearth set it aside (what it held goes back to the defaults).",
                       f"set-aside:{other.name}")
               for other, exc in _damaged_toml(assistant.paths.config_dir / name for name in _MODEL_FILES)]
    if not path.exists():
        return [*damaged, Finding("settings", OK, "No settings file: the defaults are used.")]
    fix = f"Mend or delete these lines in {path}, or set them in the window's Settings."
    try:
        warning = parse_settings(path.read_bytes().decode("utf-8"), path).warning
    except OSError as exc:
        return [*damaged, Finding("settings", WARNING, f"Settings file {path} cannot be read "
                                                        f"({exc.strerror or exc}).", "Fix its permissions.")]
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return [*damaged, Finding("settings", WARNING, f"Settings file {damaged_toml(path, exc, UNREADABLE_AS)}",
                                  "Mend it, or let Hearth set it aside and start from the defaults.",
                                  f"set-aside:{path.name}")]
    if warning:
        return [*damaged, Finding("settings", WARNING, warning, fix)]
    # "of the right kind", not "usable": a remote URL can be a well-formed string no client can use (said under
    # remote, with its fix), and a ✓ here claiming otherwise contradicted that line
    return [*damaged, Finding("settings", OK, f"Settings file {path} reads well: every value is of the right kind.")]


#: the model library's own config files (``assistant.models.store``), checked with the settings
_MODEL_FILES = ("model-library.toml", "model-profiles.toml")


def _damaged_toml(paths: Iterable[Path]) -> Iterator[tuple[Path, Exception]]:
    import tomllib

    for path in paths:
        try:
            tomllib.loads(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            yield path, exc
        except OSError:  # absent, or unreadable: said where it is used
            pass


def _model(assistant: Assistant) -> list[Finding]:
    from assistant.engine import read_model_info
    from assistant.errors import ModelLoadError

    path = assistant.model_path()
    try:
        info = read_model_info(path)
    except ModelLoadError as exc:
        return [Finding("model", PROBLEM, f"The chat model cannot be used: {exc}",
                        "Pick another one: Models → Use in the window, or `hearth models list`, then `hearth models "
                        "use NAME`.")]
    return [Finding("model", OK, f"Chat model {info.name} ({info.quantization}, {info.file_size / 1e6:.0f} MB)."),
            *_context(assistant, info), *_draft(assistant)]


def _context(assistant: Assistant, info: ModelInfo) -> list[Finding]:
    """A context length set above the model's trained one is loaded as the trained one; said here, since an
    answer looks no different."""
    capped = info.context_capped(assistant.load_settings().n_ctx)
    if not capped:
        return []
    return [Finding("model", WARNING, f"{capped[0].upper()}{capped[1:]}.",
                    f"Set model.n_ctx to 0 (the model's maximum) or to {info.context_length} or less in the "
                    "settings (Settings → Model → Context length in the window).")]


def _draft(assistant: Assistant) -> list[Finding]:
    """The draft model the settings' speculative mode drafts with. A missing or incompatible one only shows in
    an answer's stats (speculation off, and why); auto mode with none named needs none."""
    from assistant.errors import HearthError

    m = assistant.settings.model
    if m.speculative in ("off", "ngram") or (m.speculative == "auto" and not m.draft_model.strip()):
        return []
    try:
        path = assistant.models.resolve_draft(strict=True)
    except HearthError as exc:
        if m.speculative == "auto":  # auto drafts with what it finds: the setting names one it cannot use
            return [Finding("model", WARNING, f"The draft model in the settings cannot be used, so auto mode "
                                              f"drafts without it: {str(exc).rstrip('.')}.",
                            "Choose another draft model, or Automatic (Settings → Model → Draft model; "
                            "`hearth models drafts` lists the models that can draft).")]
        return [Finding("model", WARNING, f"Speculative decoding ({m.speculative}) has no draft model, so answers "
                                          f"decode without one: {str(exc).rstrip('.')}.",
                        "`hearth models drafts` lists the models that can draft; `hearth models draft` makes a "
                        "self-draft; or set model.speculative to auto.")]
    name = path.name if path is not None else "none"
    return [Finding("model", OK, f"Speculative decoding ({m.speculative}) drafts with {name}.")]


def _history(assistant: Assistant) -> list[Finding]:
    db = assistant.paths.history_db
    if said := assistant.history_warning:  # opening it for this check set a damaged file aside, or found it
        # read-only: said, not "✓ passes SQLite's integrity check"
        storage = assistant.history.storage  # read-only or a full disk, else damaged
        fix = (f"{storage.fix}: until then new chats are not saved." if storage is not None else
               "Nothing more to do here: what Hearth could recover is in the new history, and the damaged file is "
               "kept where the line above says.")
        return [Finding("history", WARNING, said, fix)]
    if not db.exists():
        return [Finding("history", OK, "No chat history yet.")]
    try:
        # closing(): sqlite3's own context manager only ends the transaction; a connection left open kept the
        # history's write-ahead log from being folded back when the window closed.
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.Error as exc:
        if not salvage.is_damage(exc) and (why := storage_problem(db.parent)):  # a full disk is not damage
            return [Finding("history", PROBLEM, f"The chat history cannot be checked now: {why} ({exc}).",
                            f"{why.fix}: the history is kept as it is.")]
        result = str(exc)
    if result != "ok":
        return [Finding("history", PROBLEM, f"The chat history is damaged ({result}).",
                        "Restart Hearth: it keeps the damaged file aside and recovers what it can.")]
    return [Finding("history", OK, "Chat history passes SQLite's integrity check.")]


def _knowledge(assistant: Assistant) -> list[Finding]:
    from assistant.errors import HearthError
    from assistant.knowledge.errors import (
        IndexDamagedError,
        IndexUncheckableError,
        VectorStoreDamagedError,
        VectorStoreUnavailableError,
    )

    rebuild = "`hearth doctor --repair` copies what can be read into a new index and builds its keyword index again."
    try:
        infos = assistant.collections()
        assistant.knowledge.store.check_index_file()
    except IndexDamagedError as exc:
        return [Finding("knowledge", PROBLEM, exc.problem, rebuild, "index")]
    except IndexUncheckableError as exc:  # a read-only folder: nothing to repair, and nothing to move aside
        assert exc.storage is not None
        return [Finding("knowledge", PROBLEM, exc.problem, f"{exc.storage.fix}: the index is kept as it is, and "
                        "searching it by keyword works meanwhile.")]
    except HearthError as exc:  # the index itself cannot be opened (read-only folder, damaged file)
        if salvage.problems_in(assistant.paths.index_manifest):  # damaged: what can still be named is indexed anew
            return [Finding("knowledge", PROBLEM, exc.problem,
                            "`hearth doctor --repair` moves it aside and indexes the collections it still names "
                            "again from their folders (every passage is embedded again).", "index-anew")]
        if exc.storage is not None:  # its fix on a line of its own ("→"), not inside the sentence
            return [Finding("knowledge", PROBLEM, exc.problem, f"{exc.storage.fix}: the index is kept as it is.")]
        return [Finding("knowledge", PROBLEM, str(exc))]
    findings = [] if infos else [Finding("knowledge", OK, "No knowledge collections yet.")]
    try:
        if infos and not assistant.knowledge.store.server:
            assistant.knowledge.store.check_vectors_file()
    except VectorStoreDamagedError as exc:  # one finding for all collections, with the one repair that helps
        return [Finding("knowledge", PROBLEM, exc.problem,
                        "`hearth doctor --repair` moves it aside and embeds every passage again.", "vectors")]
    except VectorStoreUnavailableError as exc:  # a full disk: nothing to repair, and nothing to move aside
        assert exc.storage is not None
        return [Finding("knowledge", PROBLEM, exc.problem, f"{exc.storage.fix}: the vectors are kept as they are.")]
    for info in infos:
        name = info.name
        # the command with its folders (it read "hearth index … --collection NAME", which no shell runs)
        again = info.index_command()
        gone = info.missing_sources
        if info.needs_reindex:
            findings.append(Finding("knowledge", WARNING, f"Collection {name!r} was indexed with another embedder "
                                    f"({info.embedder}) and cannot be searched.", again,
                                    f"resync:{name}" if info.sources and not gone else ""))
        elif info.problem and not info.resync_repairs:  # a Chroma server away: nothing here to repair
            findings.append(Finding("knowledge", WARNING, f"Collection {name!r}: {info.problem}",
                                    "Start the Chroma server, or change Settings → Remote (remote.chroma_url)."))
        elif info.problem:
            findings.append(Finding("knowledge", PROBLEM, f"Collection {name!r}: {info.problem}", again,
                                    f"resync:{name}"))
        elif gone and len(gone) == len(info.sources):
            findings.append(Finding("knowledge", WARNING, f"Collection {name!r}: none of its folders exist any more "
                                    f"({', '.join(gone)}).", f"hearth collections remove {name}"))
        elif info.needs_rechunk:
            findings.append(Finding("knowledge", WARNING, f"Collection {name!r}: {info.needs_rechunk} file(s) were "
                                    "chunked with older settings.", again,
                                    f"resync:{name}"))
        elif info.unfinished in ("interrupted", "stopped"):  # it said "✓ … stores in step" of a run killed
            how = "was stopped" if info.unfinished == "stopped" else "did not finish"
            findings.append(Finding("knowledge", WARNING, f"Collection {name!r} is not fully indexed: its last "
                                    f"indexing run {how}, and files not reached yet are not searched.", again,
                                    f"resync:{name}" if info.sources and not gone else ""))
        else:
            findings.append(Finding("knowledge", OK, f"Collection {name!r}: {counted(info.files, 'file')}, "
                                    f"{counted(info.chunks, 'chunk')}, stores in step."))
    return findings


def _memory(assistant: Assistant) -> list[Finding]:
    from assistant.errors import HearthError, MemoryStoreUnavailableError
    from assistant.memory.errors import MemoryQueueDamagedError, MemoryStoreDamagedError

    if not assistant.settings.memory.enabled:
        return [Finding("memory", OK, "Memory is switched off.")]
    try:
        memory = assistant.memory
        assert memory is not None
        failed, pending = memory.failed_count(), memory.pending_count()
    except MemoryStoreDamagedError as exc:
        return [Finding("memory", PROBLEM, exc.problem,
                        "`hearth doctor --repair` rebuilds it from what can still be read (the damaged one is kept).",
                        "memory-store")]
    except MemoryQueueDamagedError as exc:
        return [Finding("memory", PROBLEM, exc.problem,
                        "`hearth doctor --repair` sets it aside (kept); the facts already learned stay.",
                        "memory-queue")]
    except MemoryStoreUnavailableError as exc:  # a full disk or a read-only folder: the fix on a line of its own
        assert exc.storage is not None
        return [Finding("memory", PROBLEM, exc.problem, f"{exc.storage.fix}: the memories are kept as they are, "
                        "and answers go without them meanwhile.")]
    except HearthError as exc:  # its own sentence names the store ("The memory store … The memory store …")
        said = str(exc) if str(exc).startswith("The memory") else f"The memory store cannot be opened: {exc}"
        return [Finding("memory", PROBLEM, said)]
    if failed:
        return [Finding("memory", WARNING, f"{failed} conversation turn(s) could not be learned from.",
                        "`hearth memory status`; Repair queues them again.", "retry-memory")]
    return [Finding("memory", OK, f"Memory store opens; {pending} turn(s) waiting to be learned from.")]


#: The remote parts (``assistant.remote.CHECKS``): their setting, and what answers when it is cleared.
_REMOTE_PARTS = {"chroma": ("chroma_url", "the embedded store on this computer"),
                 "llm": ("llm_url", "the local model")}


def _remote(assistant: Assistant) -> list[Finding]:
    """Each part the settings put on another machine, tested as "Test connection" does (only those set: no
    socket is opened for a part that is local)."""
    def unusable(setting: str, local: str) -> str:  # a URL no client could reach: no server to start
        return f"Correct remote.{setting} (Settings → Remote), or clear it to use {local}."

    findings = []
    if assistant.llm_url_problem:  # set aside to open Hearth for these checks (the local model stood in)
        findings.append(Finding("remote", PROBLEM, assistant.llm_url_problem, unusable(*_REMOTE_PARTS["llm"])))
    for part, (setting, local) in _REMOTE_PARTS.items():
        if not getattr(assistant.settings.remote, setting).strip():
            continue
        result = assistant.test_remote(part)
        fix = unusable(setting, local) if "is not usable" in result.message else \
            f"Start that server, or clear remote.{setting} (Settings → Remote) to use {local}."
        findings.append(Finding("remote", OK, result.message) if result.ok else Finding(
            "remote", PROBLEM, result.message, fix))
    return findings


def _disk(assistant: Assistant) -> list[Finding]:
    from assistant.engine.prompt_store import usage

    free = shutil.disk_usage(assistant.paths.data_dir).free
    where = str(assistant.paths.data_dir)
    caches = assistant.paths.prompt_cache_dir
    count, size = usage(caches)  # the one thing Hearth keeps that can go without losing anything
    free_up = f"Free some disk space{f' (deleting {caches} is safe)' if count else ''}."
    if free < FULL_DISK_BYTES:
        # (it said "will fail" at 36 MB, where chats and indexing 300 files still worked)
        findings = [Finding("disk", PROBLEM, f"Only {free / 2**20:.0f} MB free where Hearth keeps its data ({where}): "
                            "indexing, chats and memory fail once it runs out.", free_up)]
    elif free < LOW_DISK_BYTES:
        findings = [Finding("disk", WARNING, f"{free / 2**30:.1f} GB free in {where}.", free_up)]
    else:
        findings = [Finding("disk", OK, f"{free / 2**30:.0f} GB free in {where}.")]
    findings += _parts(assistant)
    if count:
        findings.append(Finding("disk", OK, f"Chats' saved caches (read back for a quick first answer after a "
                                f"restart): {count} file(s), {size / 2**20:.0f} MB in {caches}, deleted with their "
                                "chats."))
    return findings


def _part_folders(assistant: Assistant) -> tuple[Path, Path]:
    """Where a model is written half-way: a copy into the library, and a self-draft."""
    from assistant.models.drafts import DRAFTS_FOLDER

    return assistant.paths.models_dir, assistant.paths.models_dir / DRAFTS_FOLDER


def _parts(assistant: Assistant) -> list[Finding]:
    """Half-written model files left by a copy or a self-draft that was stopped (a kill, a power cut): hidden,
    GBs each, and said nowhere until the next one into the same folder removed them."""
    from assistant.models.partfiles import leftovers

    left = [part for folder in _part_folders(assistant) for part in leftovers(folder)]
    if not left:
        return []
    size = sum(_size(part) for part in left)
    shown = f"{size / 2**30:.1f} GB" if size >= 2**30 else f"{size / 2**20:.0f} MB"
    return [Finding("disk", WARNING, f"{counted(len(left), 'half-written model file')} left by a stopped copy or "
                    f"self-draft take {shown}: {', '.join(str(p) for p in left)}.",
                    "`hearth doctor --repair` deletes them (nothing will finish them).", "parts")]


def _desktop() -> list[Finding]:
    """Missing Qt system libraries are a problem where there is a display to use, a warning where there is none
    (a server used through the command line)."""
    from assistant.doctor.qt import check as qt_check
    from assistant.doctor.qt import install_commands

    qt = qt_check()
    if qt.missing:
        commands = " or ".join(cmd for m in ((qt.manager,) if qt.manager else ("apt", "dnf", "pacman"))
                               for cmd in install_commands(qt.missing, m))
        return [Finding("desktop", PROBLEM if qt.has_display else WARNING,
                        f"The desktop app needs system libraries that are not installed: {', '.join(qt.missing)}.",
                        commands)]
    if not qt.has_display:
        return [Finding("desktop", OK, "No display here: the command line works; the desktop app needs a display "
                                       "(or `xvfb-run -a hearth`).")]
    return [Finding("desktop", OK, f"The desktop app's system libraries are installed (Qt platform {qt.platform}).")]


def _fonts() -> list[Finding]:
    """No font for CJK text or emoji is a warning, not a problem: the app works, but shows boxes for them. Said
    only where fontconfig can tell (:mod:`assistant.doctor.fonts`)."""
    from assistant.doctor.fonts import check as fonts_check

    missing = fonts_check()
    if missing is None:
        return []
    return [Finding("fonts", WARNING, f"No installed font shows {' or '.join(missing.kinds)}: the desktop app "
                                      "shows boxes in their place.", " or ".join(missing.commands))]


def _size(path: Path) -> int:
    """``path``'s size, 0 once it is gone (its writer may delete it meanwhile): one stat, not two."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
