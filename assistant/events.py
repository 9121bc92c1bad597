"""Typed events: everything a front end shows comes from these.

They are frozen dataclasses (pure values, no handles) so they can be logged, serialised to JSON and sent
across a Qt ``Signal(object)`` without copying concerns.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


class Cancel(threading.Event):
    """A job's stop signal that says why: ``set()`` the user stopped it, ``quit()`` Hearth is closing. Work
    the core can finish later (an indexing run) is then resumed at the next start instead of left stopped."""

    quitting = False

    def quit(self) -> None:
        self.quitting = True
        self.set()


@dataclass(frozen=True)
class Token:
    """A piece of the answer as it streams (already valid UTF-8 text). ``drafted``: every token in it was a
    speculative draft the model accepted (the GUI can tint those)."""

    text: str
    drafted: bool = False


@dataclass(frozen=True)
class Notice:
    """Something the user should know about this answer (fallback prompt format, dropped turns...)."""

    kind: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """As the JSON of `hearth ask --json` and the API server's answers, which each built it inline."""
        return {"kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class Sources:
    """The passages given to the model for this answer (``knowledge.Citation`` values, numbered 1..n).

    Sent before the first token; after the answer, ``Done.stats`` is followed by the citations actually used
    (``cited``), checked against these.
    """

    citations: tuple[Any, ...]
    cited: tuple[int, ...] = ()


@dataclass(frozen=True)
class MemoriesUsed:
    """Memories about the user that were put in the prompt for this answer (``memory.MemoryItem`` values)."""

    memories: tuple[Any, ...]


@dataclass(frozen=True)
class Stats:
    """Measurements of one generation. ``evaluated_tokens`` < ``prompt_tokens`` means prefix reuse."""

    prompt_tokens: int = 0
    evaluated_tokens: int = 0
    reused_tokens: int = 0
    completion_tokens: int = 0
    ttft_s: float = 0.0  # from the question (after any model load) to the first token
    prepare_s: float = 0.0  # the part of ttft_s before the engine started: memory, retrieval, the prompt
    prompt_eval_s: float = 0.0
    decode_s: float = 0.0
    decode_tps: float = 0.0
    stop_reason: str = ""
    device: str = "CPU"
    model: str = ""
    #: the model's id for API clients (ModelInfo.model_id): an API answer's ``model`` names the one that wrote
    #: it, not the one loaded when it was asked for (a switch meanwhile)
    model_id: str = ""
    prompt_format: str = "gguf"
    dropped_turns: int = 0
    context_used: int = 0
    context_size: int = 0
    spec_mode: str = "off"  # the mode asked for: off, ngram, draft, self or auto ("off" after a fallback)
    spec_drafter: str = ""  # the drafter(s) that actually drafted in this answer ("ngram", "draft", "self")
    spec_drafted: int = 0  # tokens proposed by the drafter
    spec_accepted: int = 0  # drafted tokens the model agreed with
    spec_steps: int = 0  # verify steps (each also yields one token of the model's own)
    #: seconds of decode_s a draft model spent reading the prompt (it reads it after the first token is shown)
    spec_draft_prompt_s: float = 0.0
    spec_speedup: float = 0.0  # decode speed of this answer / the last measured plain speed (0: unknown)
    spec_decision: str = ""  # what speculation did and why, in words ("off: plain is faster here, 0.86x")

    @property
    def spec_acceptance(self) -> float:
        """Accepted / drafted (0 when nothing was drafted)."""
        return self.spec_accepted / self.spec_drafted if self.spec_drafted else 0.0

    @property
    def tokens_per_step(self) -> float:
        """Tokens the model chose per verify step (1.0 is plain decoding's rate)."""
        return (self.spec_accepted + self.spec_steps) / self.spec_steps if self.spec_steps else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "spec_acceptance": self.spec_acceptance, "tokens_per_step": self.tokens_per_step}


@dataclass(frozen=True)
class Saved:
    """The question is in the history, before any of the answer: its chat exists from now on (the window lists
    and selects a new chat at once, and knows which chat a delete during the first answer removes)."""

    conversation_id: str
    user_message_id: str


@dataclass(frozen=True)
class Marker:
    """Where a citation stands in an answer's saved text: ``text[start:end]`` is its ``[n]`` (the spaces before
    it included), ``numbers`` the passages it cites. Hearth writes the ``[n]`` it attributes after the answer has
    streamed, so a front end that showed the stream finds in these where they go (the API's annotations)."""

    start: int
    end: int
    numbers: tuple[int, ...]


@dataclass(frozen=True)
class Done:
    """The answer finished (also after a cancel: then ``stats.stop_reason == 'cancelled'``)."""

    text: str
    stats: Stats
    conversation_id: str | None = None
    message_id: str | None = None  # the answer's id in the history
    user_message_id: str | None = None  # the question's id (regenerate and edit-and-resend replace from it)
    #: Stopped before its first word, the question was taken back out of the history (and the chat, if it was
    #: made for it: ``conversation_id`` is then None): the front end gives its text back to send again.
    withdrawn: bool = False
    #: The citations in ``text``, in order (none when no passage was given or none is cited)
    markers: tuple[Marker, ...] = ()


@dataclass(frozen=True)
class Failed:
    """The answer failed; ``message`` is user-facing. Partial text so far is kept in ``text``. ``saved``: the
    question (and the partial answer) are in the history; False when it failed before anything was saved (a
    question too long for the context), so a front end gives the text back to be shortened."""

    message: str
    text: str = ""
    error_type: str = ""
    saved: bool = False


#: The unit of a model load's last progress when the new model is ready but waits for the answer being written
#: to end (it takes over then): the window said "Loading SmolLM2… 100%" for the 25 s the answer ran on.
LOAD_WAITING = "waiting"


@dataclass(frozen=True)
class WorkAhead:
    """What is left of a large indexing run, said once as its embedding begins: a 1.5 MB CSV added alone took
    185 s here (3,303 passages) with no word of that cost before; its progress gave an ETA only later."""

    passages: int
    seconds: float  # at the pace this run's first passages were embedded at, on this computer
    #: passages of files not read yet are estimated from those read (a folder); a file read whole is counted
    estimated: bool = False

    def text(self) -> str:
        """"3,303 passages to embed: about 3 min at this computer's pace", as every front end says it."""
        count = f"{'about ' if self.estimated else ''}{counted(self.passages, 'passage')}"
        return f"{count} to embed: {duration(self.seconds)} at this computer's pace"


def duration(seconds: float) -> str:
    """A rough length of time in words: "about 40 s", "about 3 min", "about 1.5 h"."""
    if seconds < 60:
        return f"about {max(round(seconds), 1)} s"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


@dataclass(frozen=True)
class Progress:
    """Progress of a long job (indexing, loading, downloading)."""

    job: str
    done: float
    total: float | None = None
    unit: str = ""
    rate: float | None = None
    eta_s: float | None = None
    message: str = ""
    errors: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    item: str = ""  # the file being read (a path), while the job reads files
    item_done: int = 0  # of its passages embedded, while a large one embeds (its minutes leave the file bar still)
    item_total: int = 0
    item_files: int = 1  # files embedded together with their passages (item is the last of them)
    item_cut: float | None = None  # share of it cut into passages, while a large one is cut (a 20 MB line: minutes)
    #: The share of the job's work done (an indexing run's bytes embedded, a large file's passages counted as
    #: they embed), for a bar that moves while one large file takes minutes and the files done stand still.
    share: float | None = None
    #: An indexing run's files read for the first time, read again for new content, and gone (its last event):
    #: a re-run that found nothing new printed the same summary as the first run.
    changes: tuple[int, int, int] | None = None
    #: Passages of files already indexed whose vectors were missing here, embedded again by the run (a collection
    #: moved to a Chroma server: "nothing changed" was all that run said of its minutes of embedding).
    repaired: int = 0
    #: Files of types Hearth does not read, beside those it read, in words ("5 files of types Hearth does not
    #: read (.jpg, .zip)"): not skipped files (they were "1 skipped", listed above 5 files), but left out.
    left_out: str = ""
    #: An indexing run's work left, on the one event where its embedding is found to be large (see WorkAhead).
    ahead: WorkAhead | None = None


def changes_text(progress: Progress) -> str:
    """What an indexing run changed, "nothing changed" or "2 added, 1 changed, 1 removed"; "" when not said."""
    if progress.changes is None:
        return ""
    parts = [f"{n:,} {word}" for n, word in zip(progress.changes, ("added", "changed", "removed"), strict=True) if n]
    again = f"; {counted(progress.repaired, 'passage')} of files already indexed embedded again, their vectors " \
        "missing here" if progress.repaired else ""
    return (", ".join(parts) or "nothing changed") + again


def reading(progress: Progress) -> str:
    """The file a job is reading as every front end names it: "huge.log (35% split into passages)", then
    "huge.log (448 of 3,136 passages embedded)", or "doc090.txt and 11 more files (128 of 132 passages
    embedded)" for small files embedded together (the batch's count was said as the last file's); "" when it
    reads none."""
    if not progress.item:
        return ""
    name = os.path.basename(progress.item)
    if progress.item_files > 1:
        others = progress.item_files - 1
        name += f" and {others:,} more file{'s' if others > 1 else ''}"
    if progress.item_cut is not None:
        return f"{name} ({progress.item_cut:.0%} split into passages)"
    return f"{name} ({progress.item_done:,} of {progress.item_total:,} passages embedded)" if progress.item_total \
        else name


#: ``Progress.job`` of a prompt being read before an answer's first word: a long paste or a long chat read anew
#: took a minute here with nothing but "Thinking…" on screen (and no byte to an API client).
PROMPT = "prompt"


def prompt_read(done: int, total: int, marks: list[tuple[int, float]]) -> Progress:
    """The engine's progress reading ``total`` new prompt tokens, ``done`` of them; ``marks``: (tokens read,
    ``time.perf_counter()``) at each earlier call for this prompt, this one's added. The ETA comes once a batch
    has been read. A token costs more the further into the prompt it is (it attends to all before it), so the
    time per token is followed along the prompt, not averaged: the average said "about 20 s left" where 30 were."""
    marks.append((done, time.perf_counter()))
    points = [((a + b) / 2, (tb - ta) / (b - a)) for (a, ta), (b, tb) in itertools.pairwise(marks) if b > a]
    if not points:
        return Progress(PROMPT, done, total, "tokens")
    mean_x, mean_y = (sum(p[i] for p in points) / len(points) for i in (0, 1))
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    growth = max(0.0, sum((x - mean_x) * (y - mean_y) for x, y in points) / spread) if spread else 0.0
    last_x, last_y = points[-1]
    per_token = last_y + growth * ((done + total) / 2 - last_x)  # at the middle of what is left
    elapsed = marks[-1][1] - marks[0][1]
    return Progress(PROMPT, done, total, "tokens", done / elapsed if elapsed > 0 else None, (total - done) * per_token)


def prompt_read_text(progress: Progress) -> str:
    """A prompt's reading in words, one wording for every front end: "Reading the prompt (5,600 tokens)…", then
    "Reading the prompt: 36%, about 12 s left"."""
    total = progress.total or 0
    if not progress.done or not total:
        return f"Reading the prompt ({counted(int(total), 'token')})…"
    left = time_left(progress.eta_s)
    return f"Reading the prompt: {progress.done / total:.0%}" + (f", {left}" if left else "")


def where_ctx(at_least: int) -> str:
    """Where the context length is set, for the messages that ask to raise it (they did not say where), with a
    length that holds ``at_least`` tokens: the next power of two (it named 8192 to a context of 8192)."""
    size = 1 << (max(at_least, 2) - 1).bit_length()
    return f"(Settings → Model → Context length, or `hearth settings set n_ctx={size}`)"


def context_cut(dropped: int, n_ctx: int, none_kept: bool = False) -> str:
    """What the user is told of the ``dropped`` oldest turns an answer was asked without, as it streams and under
    it when the chat is opened again (it said "This answer was interrupted." only); plainly so when none of
    the chat was left (``none_kept``)."""
    if not none_kept:
        return (f"Dropped the {dropped} oldest turn(s) of this conversation to fit the {n_ctx}-token context with "
                "room for the answer.")
    return (f"None of this conversation's {dropped} earlier turn(s) fit the {n_ctx}-token context beside this "
            f"message and room for the answer: it was answered as if in a new chat. Raise the context length "
            f"{where_ctx(2 * n_ctx)} to keep them.")


def context_full(tokens: int, n_ctx: int) -> str:
    """What the user is told of an answer the context had no more room for, as it ends and under it when the chat
    is opened again (it was the bare "context_full" in the terminal's stats line, and the answer ended mid-word)."""
    return (f"The answer stopped at {counted(tokens, 'token')}: the {n_ctx}-token context is full. Raise the "
            f"context length {where_ctx(2 * n_ctx)}, or go on in a new chat.")


def short_title(text: str, limit: int = 60) -> str:
    """A chat's title on one line of at most ``limit`` characters: a new chat's, made from its first question,
    and any title as a list shows it (a long one the user gave filled eight lines of the window's sidebar)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def local_minute(seconds: float) -> str:
    """A time (seconds since the epoch) as the front ends print it: "2026-12-07 14:05", local time."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(seconds))


def counted(n: int, noun: str, plural: str = "") -> str:
    """"1 file", "3 files", "0 chunks", "2 memories" (``plural``, where it is not the noun with an s): the noun
    in the number it counts, in every front end ("1 files" was what the CLI and `hearth doctor` printed)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


#: Line ends as the chunker, the citations and the source panel count them: LF, CRLF and a lone CR (classic Mac
#: files, whose passages were all cited at line 1; an index made before keeps those numbers until the file changes).
LINE_END = re.compile(r"\r\n?|\n")


def passage_place(path: str, page: int | None = None, line_start: int | None = None, line_end: int | None = None,
                  heading: str | None = None, focus: Sequence[int] = ()) -> str:
    """Where a passage is, short: ``notes.md:12-30``, ``paper.pdf p.3``; given its ``heading``, a passage with no
    line numbers names its section: ``rules.docx § 4. Water`` (two passages of one DOCX were the same source chip
    with the same tooltip, "[2] rules.docx" and "[5] rules.docx"). Given the lines an answer restates (``focus``,
    0 the passage's first), a passage with line numbers names those lines and their section: ``report.md:9 §
    Risks`` (a short Markdown file, one passage, was cited as ``report.md:1-13``, the whole file). One wording for
    every front end."""
    where = Path(path).name + (f" p.{page}" if page is not None else "")
    if line_start is not None and focus:
        return f"{where}:{line_span(line_start + focus[0], line_start + focus[-1])} {section(heading)}".rstrip()
    if line_start is not None:
        return f"{where}:{line_span(line_start, line_end)}"
    return f"{where} {section(heading)}".rstrip()


def file_change(path: str, size: int | None, mtime_ns: int | None) -> str:
    """Whether a cited file is still what was indexed (``size``, ``mtime_ns``): "" (it is, or that is not known),
    "changed" or "gone". One stat, no reading: a search cited `notes.txt lines 793-808` after 50 lines were added
    at the top (the fact was at 850 now), and a renamed PDF and a deleted note by their old names, without a word.
    """
    if size is None or mtime_ns is None:
        return ""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return "gone"
    except OSError:  # unreadable (permissions, a drive's error): not known to have changed
        return ""
    return "" if (st.st_size, st.st_mtime_ns) == (size, mtime_ns) else "changed"


def stale_note(stale: str, command: str) -> str:
    """A cited file's ``stale`` (see :func:`file_change`) in words, with the ``command`` that re-indexes it."""
    if stale == "gone":
        return "gone since indexed"
    return f"changed since indexed: `{command}` updates it" if stale == "changed" else ""


def line_span(start: int, end: int | None, words: bool = False) -> str:
    """A passage's lines, ``12-30``, or ``1`` for a passage within one line (a one-line JSON file's were
    "lines 1-1"); with ``words``, "lines 12-30" or "line 1" (the CLI's search hits). One function: the CLI's
    ``_lines`` and :func:`passage_place` each worked the place out."""
    if end in (None, start):
        return f"line {start}" if words else str(start)
    return f"lines {start}-{end}" if words else f"{start}-{end}"


def section(heading: str | None, chars: int = 40) -> str:
    """A passage's section in at most about ``chars`` characters ("§ 4. Water"; of a heading path "Society > 4.
    Water" too long for them, its last part), or "" when it has no heading."""
    title = " ".join((heading or "").split()).lstrip("# ")
    if len(title) > chars and " > " in title:
        title = title.rsplit(" > ", 1)[1]
    return "" if not title else f"§ {title[:chars]}…" if len(title) > chars else f"§ {title}"


def time_left(seconds: float | None) -> str:
    """A :attr:`Progress.eta_s` in words ("about 12 s left", "about 1 min 15 s left", "about 1.5 h left"), ""
    before there is one: one wording for every front end's progress."""
    if seconds is None:
        return ""
    whole = max(int(seconds), 1)
    if whole < 60:
        return f"about {whole} s left"
    if whole < 3600:
        return f"about {whole // 60} min {whole % 60:02d} s left"
    return f"about {whole / 3600:.1f} h left"


@dataclass(frozen=True)
class BackgroundStatus:
    """What the core's background work is doing (``Assistant.subscribe``): memory learning and re-syncs."""

    learning: bool = False  # extracting memories from a finished turn right now
    memory_pending: int = 0  # turns queued for learning (including failed ones waiting to be retried)
    memory_failed: int = 0  # turns given up on after every retry (kept with the reason)
    syncing: str | None = None  # the collection being re-synced
    sync_queued: tuple[str, ...] = ()  # collections waiting for a re-sync
    watching: tuple[str, ...] = ()  # collections whose folders are being watched
    #: collections watching is on for, as the core last read the index (one whose folders are gone included):
    #: what a front end's list should say about watching, once it has caught up
    watched: tuple[str, ...] = ()
    #: every collection, as the core last read the index (None before its first look): a list that shows
    #: others reads itself again, as when a terminal removed or renamed one
    collections: tuple[str, ...] | None = None
    last_error: str = ""

    @property
    def idle(self) -> bool:
        return not (self.learning or self.memory_pending or self.syncing or self.sync_queued)


@dataclass(frozen=True)
class SettingsReloaded:
    """The settings file changed on disk (edited by hand, or by another Hearth process) and was applied now."""

    changes: tuple[str, ...]  # what applying it did, in words ("temperature: 0.9", "loaded Gemma 3 270M")
    problems: tuple[str, ...] = ()  # what could not be applied, and why (a TOML error keeps the settings in use)
    #: the file had problems said of it (at start, or at an earlier change) and now applies whole, in words: a
    #: front end takes back what it showed of them
    mended: str = ""


@dataclass(frozen=True)
class CollectionSynced:
    """Progress of a background re-sync of ``collection`` (a watched folder changed, or catch-up at start)."""

    collection: str
    progress: Progress


#: What the core's background work tells its listeners (``Assistant.subscribe``).
@dataclass(frozen=True)
class MemoriesLearned:
    """Memory learning stored new facts from the user's messages: what the front ends say ("Remembered: …").
    Nothing said it: the user had to open the memory manager and compare lists. ``withheld``: why facts were left
    out ("not remembered: it looks like a password, …"): a password typed in chat became a memory."""

    facts: tuple[str, ...]
    withheld: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tally:
    """How many messages a chat has, its newest one's id and whether that one is partial: what a front end
    compares with what it shows to learn whether the chat went on elsewhere. The newest id alone missed a turn
    added elsewhere before the window's own answer (its answer was newest again, and the turn between stayed
    unseen); without ``partial``, an answer another process was still writing stayed empty and "interrupted" on
    screen once it was written (its id and the count stay)."""

    count: int
    last_id: str | None  # None: the chat has no message
    partial: bool = False  # the newest message is still being written, or was cut off
    #: the newest message's length: an answer another process writes grows with the same id, count and partial
    #: (it stayed empty on screen until it was finished)
    size: int = 0
    #: how many of its messages are being written (``Message.being_written``): a writer's end, with no write of its
    #: own (a `kill -9`), is told by this alone, the newest message's or an earlier one's
    writing: int = 0
    #: how many of its messages are partial: an answer a terminal finished after the window's own question (two
    #: front ends answering in one chat at once) was no longer the newest, and stayed "interrupted" on screen
    partials: int = 0
    #: the characters of its partial messages: that answer, still being written, grew with the count, the newest
    #: message and the partials all the same, and did not grow on screen until it was finished
    partial_size: int = 0


@dataclass(frozen=True)
class ChatsChanged:
    """Another process changed the chat history (a chat asked, renamed or deleted in a terminal, a turn added
    through `hearth serve`), or this process's own API server saved a turn: a front end reads its list and the open
    chat again. The window did so only when it
    was activated again, so a terminal on another monitor changed nothing on screen."""


BackgroundEvent = BackgroundStatus | CollectionSynced | SettingsReloaded | MemoriesLearned | ChatsChanged


Event = Token | Notice | Sources | MemoriesUsed | Saved | Done | Failed | Progress


#: How many of a folder's last names tell identical copies of a model apart (the same Q8_0 in Hearth's models
#: folder, in an added folder and linked were three rows "SmolLM2 135M Instruct Q8_0 (145 MB)" in Settings).
_FOLDER_PARTS = 2


def short_folder(path: Path) -> str:
    """The folder of ``path``, by its last names: "…/byom/lib", "…/data/models"."""
    parts = path.parent.parts
    tail = "/".join(parts[-_FOLDER_PARTS:])
    return f"…/{tail}" if len(parts) > _FOLDER_PARTS else str(path.parent)


def told_apart(labels: Sequence[str], paths: Sequence[Path]) -> list[str]:
    """Each label, with " — <its folder>" where another label is the same (and the file name too where the
    folders are also alike: two files of one folder with one name)."""
    counts = Counter(labels)
    places = [short_folder(p) if counts[label] > 1 else "" for label, p in zip(labels, paths, strict=True)]
    same = Counter(zip(labels, places, strict=True))
    return [label if not place else f"{label} — {place}" if same[label, place] == 1 else f"{label} — {place}/{p.name}"
            for label, place, p in zip(labels, places, paths, strict=True)]
