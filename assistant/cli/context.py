"""Shared state for CLI handlers: the facade, created only when a command needs it."""

from __future__ import annotations

import argparse
import codecs
import json
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from assistant.config import RANGES
from assistant.errors import HearthError
from assistant.events import MemoriesLearned, SettingsReloaded, stale_note, time_left

if TYPE_CHECKING:
    from assistant.core import Assistant
    from assistant.events import Progress


#: The exit status of a command stopped by Ctrl+C, as a shell reports one killed by SIGINT (128 + 2).
INTERRUPTED = 130


#: The signals that end a long job from outside: a logout, `timeout`, `systemctl stop` (SIGTERM), a closed
#: terminal (SIGHUP; none on Windows).
QUIT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextmanager
def quit_signals_as_ctrl_c() -> Iterator[None]:
    """Within, SIGTERM and SIGHUP end the job as Ctrl+C does (a KeyboardInterrupt), its clean-up run: their
    default ended the process at once, and `hearth models draft` stopped by `timeout` left its half-written copy
    (GBs, hidden) in data/models/drafts/; `hearth serve`'s streaming clients got no error and no ``[DONE]``. Not
    for `hearth chat`, where Ctrl+C at the prompt only clears the line."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {number: signal.signal(number, _as_ctrl_c) for number in QUIT_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _as_ctrl_c(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


class CliContext:
    def __init__(self) -> None:
        self._assistant: Assistant | None = None
        self._learned: list[str] = []  # facts memory learning stored, not said yet (see say_heard)
        self._withheld: list[str] = []  # why it left facts out (a secret), not said yet
        self._changed: list[tuple[str, ...]] = []  # what changes of the settings file did, not said yet
        #: a setting's name as a change says it ("max tokens") -> the option of this command that keeps it
        #: (``hearth chat --max-tokens 8``), said beside a change of it that does not reach this command
        self.kept: dict[str, str] = {}
        #: the command says in its own words that the chat history can only be read (`hearth ask`: "this answer
        #: is not saved: …"), so the general warning is not said as well: `hearth ask` on a full disk said it in
        #: two lines ("… Earlier conversations are shown, but new ones cannot be saved …" and "this answer is not
        #: saved: …"). A damaged history set aside is said all the same.
        self.says_read_only = False

    @property
    def assistant(self) -> Assistant:
        return self.open()

    def open(self, checking: bool = False) -> Assistant:
        """The assistant of this command, opened on first use (``checking``: for `hearth doctor`, see
        ``Assistant.open``)."""
        if self._assistant is None:
            from assistant.core import Assistant

            self._assistant = Assistant.open(checking=checking)
            self._assistant.scheduler.subscribe(self._heard)
            if self._assistant.settings_warning:
                err(self._assistant.settings_warning)
            if self._assistant.history_warning and not (self.says_read_only and self._assistant.history.read_only):
                err(self._assistant.history_warning)
        return self._assistant

    def _heard(self, event: object) -> None:
        if isinstance(event, MemoriesLearned):
            self._learned += event.facts
            self._withheld += event.withheld
        elif isinstance(event, SettingsReloaded) and event.changes:
            self._changed.append(tuple(event.changes))

    def say_heard(self) -> None:
        """Say what the core's background work did since the last time: what memory learning stored ("(remembered:
        …)"), as the window's status bar says it, and what a change of the settings file did (`hearth models use`
        in another terminal changed the model of a running `hearth chat` or `hearth serve` without a word).
        ``hearth chat`` says it above its next prompt, ``hearth serve`` as it comes, every command as it ends."""
        changed, self._changed = self._changed, []
        learned, self._learned = self._learned, []
        withheld, self._withheld = self._withheld, []
        for changes in changed:
            said = [f"{change} (this chat keeps {option})" if (option := self.kept.get(change.split(":")[0]))
                    else change for change in changes]
            notice(f"the settings file changed: {'; '.join(said)}")
        for fact in learned:
            err(f"(remembered: {fact})")
        for why in withheld:
            err(f"({why})")

    def long_lived(self) -> None:
        """This command runs until the user ends it (``hearth chat``): the core's background work starts."""
        self.assistant.start_background()

    def close(self) -> None:
        if self._assistant is not None:
            status = self._assistant.scheduler.status()
            # only learning is waited for (a re-sync is cancelled and resumes next time), and it may be from
            # earlier turns: an incognito chat that ended during a watched folder's sync was told it was learned
            learning = status.learning or (status.memory_pending and self._assistant.settings.memory.enabled)
            if self._assistant.scheduler.running and learning:
                err("(finishing background work: learning from your messages…)")
            self._assistant.close()
            self.say_heard()


def speaks_unicode(stream: object) -> bool:
    """Whether ``stream`` can write any character (UTF-8 or UTF-16), not only those of a narrow locale."""
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False


def err(message: str) -> None:
    """A line on stderr as it is: progress, a command's own report ("Deleted chat …"), a prompt's neighbours."""
    print(message, file=sys.stderr, flush=True)


def problem(message: str) -> None:
    """What went wrong or was not done (an error, with an exit code other than 0; a warning; a job stopped), after
    ``hearth: ``, as the usage errors and the log's warnings say theirs. Applied changes and other information
    are :func:`notice` lines: both began with ``hearth: `` ("hearth: the settings file changed: …"), so neither a
    user nor a script reading stderr could tell a change applied from an error."""
    err(f"hearth: {message}")


def notice(message: str) -> None:
    """Information, nothing wrong (a change applied, what a value does): ``note: `` before it, never ``hearth: ``
    (see :func:`problem`)."""
    err(f"note: {message}")


def confirmed(question: str) -> bool:
    """Ask on the terminal; end of input (Ctrl+D) is a no, not an error."""
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        err("")
        return False


def one_line(text: str) -> str:
    """``text`` (a file name) with its control characters written as escapes: a name holding a line break split
    a search hit over two lines."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def stale_mark(assistant: Assistant, hit: Any) -> str:
    """``  (changed since indexed: `hearth index …` updates it)`` after a search hit or a cited source whose file
    changed or is gone since it was indexed ("" when it is as indexed): `hearth search` cited lines 793-808 of
    a log that had grown by 50 lines at the top, a renamed PDF and a deleted note without a word."""
    if not hit.stale:
        return ""
    try:
        command = assistant.index_command(hit.collection)  # (the row alone: a collection's status costs queries)
    except HearthError:  # the collection was removed meanwhile
        command = f"hearth index FOLDER --collection {hit.collection}"
    return f"  ({stale_note(hit.stale, command)})"


def print_json(data: Any) -> None:
    """JSON on stdout: as UTF-8 text where the terminal speaks it, with ``\\uXXXX`` escapes where it does not
    (an ISO-8859-1 locale), so that the output is valid JSON either way."""
    json.dump(data, sys.stdout, ensure_ascii=not speaks_unicode(sys.stdout), indent=2, default=str)
    sys.stdout.write("\n")


def json_error(kind: str, message: str) -> dict[str, Any]:
    """What a ``--json`` command prints on stdout when it fails (the message is on stderr as well)."""
    return {"error": {"type": kind, "message": message}}


def show_bench(result: dict[str, Any], table: Callable[[dict[str, Any]], str], as_json: bool) -> int:
    """Print a benchmark result (already saved to bench/results/ by its ``run``): JSON or its markdown table."""
    if as_json:
        print_json(result)
    else:
        print(table(result))
    return 0


#: Above this a count is a typo, and SQLite's and Chroma's integers overflow ("a bug in Hearth", exit 70).
MAX_COUNT = 1_000_000


class JobLine:
    """A core job's Progress events (files, memories, bytes) on one stderr line with its ETA, started by the
    first event: a job refused before it began prints only its error."""

    def __init__(self, title: str) -> None:
        self.title, self.started = title, False

    def __call__(self, p: Progress) -> None:
        if not self.started:
            err(self.title)
            self.started = True
        done, total = (f"{p.done / 1e6:.1f}", f"{p.total / 1e6:.1f} MB") if p.unit == "bytes" else \
            (f"{p.done:,.0f}", f"{p.total or 0:,.0f} {p.unit}")
        share = f"/{total} ({p.done / p.total:.0%})" if p.total else f" {total.split()[-1]}"
        speed = f" at {p.rate / 1e6:.1f} MB/s" if p.unit == "bytes" and p.rate is not None else ""
        eta = f", {time_left(p.eta_s)}" if p.eta_s is not None else ""
        sys.stderr.write(f"\r  {done}{share}{speed}{eta}   ")
        sys.stderr.flush()

    def end(self) -> None:
        if self.started:
            err("")


def positive_int(text: str) -> int:
    """An argparse ``type`` for counts and sizes (``-k``, ``--limit``, ``--reps``, ``--ctx``): a whole number
    of at least 1, rejected at parse time with a clear message instead of failing deep in the core."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_COUNT:,}, not {text!r}")
    return value


def seed_arg(text: str) -> int:
    """An argparse ``type`` for ``--seed``: a seed given reproduces the answer, so -1 (the settings' "random")
    was a fixed seed like any other, and `--seed -1` gave the same answer every time without a word."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed given is 0 or more and reproduces the answer, not {text!r}; "
                                         "leave --seed out for the settings' seed (-1 there: a new one each answer)")
    return value


def in_range(setting: str, kind: type = float) -> Callable[[str], Any]:
    """An argparse ``type`` for an option that overrides a setting: the same numbers the settings file and the
    settings dialog allow (``config.RANGES``). ``--temperature nan`` or ``-1`` answered in gibberish before."""
    low, high = RANGES[setting]

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:  # NaN fails both comparisons
            raise argparse.ArgumentTypeError(f"expected a number from {kind(low)} to {kind(high)}, not {text!r}")
        return value

    return parse


def non_negative_int(text: str) -> int:
    """Like :func:`positive_int`, for options where 0 means "choose for me" (``--threads``)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, not {text!r}")
    return value
