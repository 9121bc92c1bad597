"""The ``hearth`` command line.

The CLI only parses arguments, calls the :class:`assistant.core.Assistant` facade and renders. Each command
group lives in its own module exposing ``register(subparsers)``; handlers receive ``(args, app)`` where
``app`` is a lazily created facade. Errors from the core (:class:`HearthError`) become one readable line
on stderr and a non-zero exit code, never a traceback; anything else is reported as a bug in one line (the
traceback only with ``-v``). A reader that stops early (``hearth models list | head -1``) ends the command
quietly. ``--json`` output goes to stdout alone; progress and notices go to stderr.
"""

from __future__ import annotations

import argparse
import codecs
import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, NoReturn

from assistant import __version__
from assistant.cli import (
    bench_cmds,
    chat_cmds,
    desktop_cmds,
    doctor_cmds,
    knowledge_cmds,
    memory_cmds,
    models_cmds,
    remote_cmds,
    server_cmds,
    settings_cmds,
)
from assistant.cli.context import INTERRUPTED, CliContext, json_error, print_json, problem, speaks_unicode
from assistant.errors import HearthError

#: What a shell reports for a command killed by SIGPIPE (128 + 13): the reader of its output went away.
EXIT_BROKEN_PIPE = 141
#: ``EX_SOFTWARE`` from sysexits.h: an error that is a bug in Hearth, not something the user did.
EXIT_BUG = 70
#: ``EX_IOERR`` from sysexits.h: the output could not be written (a full disk, ``> /dev/full``).
EXIT_OUTPUT = 74

GROUPS: list[Callable[[argparse._SubParsersAction], None]] = [
    chat_cmds.register,
    knowledge_cmds.register,
    memory_cmds.register,
    models_cmds.register,
    doctor_cmds.register,
    desktop_cmds.register,
    settings_cmds.register,
    remote_cmds.register,
    bench_cmds.register,
    server_cmds.register,
]


class _Parser(argparse.ArgumentParser):
    """Usage mistakes read like every other error: one ``hearth: ...`` line and exit code 2, no usage dump.

    Sub-command parsers are made by ``add_parser``, which uses this class too.
    """

    #: the command line being read, for :meth:`error`'s hint (set by ``_run``)
    given: ClassVar[list[str]] = []

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"hearth: {message} (see `{self.prog} --help`).{_dash_hint(self.given)}\n")


def _dash_hint(argv: list[str]) -> str:
    """How to give a text that starts with "-" (read as an option: `hearth history search "-Rome"` said "the
    following arguments are required: query"), when the command line has one that no command knows (not one
    with "--": a mistyped option)."""
    given = argv[:argv.index("--")] if "--" in argv else argv
    options = set(_option_strings(build_parser()))
    dashed = next((a for a in given if a.startswith("-") and a[1:2] not in ("", "-") and a[:2] not in options
                   and not a.lstrip("-").replace(".", "", 1).isdigit()), None)
    if dashed is None:
        return ""
    rest = list(given)
    rest.remove(dashed)
    return f" A text that starts with '-' goes after '--': hearth {shlex.join([*rest, '--', dashed])}"


def _option_strings(parser: argparse.ArgumentParser) -> Iterator[str]:
    for action in parser._actions:
        yield from action.option_strings
        for sub in (action.choices or {}).values() if isinstance(action, argparse._SubParsersAction) else ():
            yield from _option_strings(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hearth", description="Hearth: a private AI assistant, fully offline.")
    parser.add_argument("--version", action="version", version=f"hearth {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in GROUPS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _interrupt) if on_main else None
    _interrupted.clear()
    _streams_open()
    _tolerate_narrow_terminals()
    stdout = sys.stdout
    sys.stdout = _Output(stdout)
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # here, not at exit: a reader that went away must surface as BrokenPipeError now
    except BrokenPipeError:
        return _reader_gone()
    except _OutputFailed as failed:  # "a bug in Hearth" for `hearth models list > /dev/full`
        problem(f"the output could not be written: {failed.reason}.")
        _reader_gone()
        return EXIT_OUTPUT
    finally:
        sys.stdout = stdout
        if on_main:
            signal.signal(signal.SIGINT, previous)


def _run(argv: Sequence[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    for arg in argv:
        if any("\udc80" <= char <= "\udcff" for char in arg):  # bytes the terminal's encoding could not read
            encoding = codecs.lookup(sys.getfilesystemencoding()).name.upper()
            text = os.fsencode(arg).decode(encoding, "replace")
            if os.path.lexists(arg):  # a file named in another encoding (an old drive's Latin-1 names): the
                # terminal was not to blame, as the message said; the index keeps names as text
                print(f"hearth: the name {text!r} is not valid {encoding} (a name from another system's "
                      f"encoding, such as Latin-1); Hearth keeps file names as {encoding} text: rename it "
                      f"(`convmv -f latin1 -t utf8 -r --notest FOLDER` renames a whole folder).", file=sys.stderr)
            else:
                print(f"hearth: the argument {text!r} is not valid {encoding} text; is the terminal set to "
                      f"{encoding}?", file=sys.stderr)
            return 2
    parser = build_parser()
    _Parser.given = argv
    args = parser.parse_args(argv)
    # a warning is a line for the user, as every other message ("WARNING assistant.knowledge.loaders: …" read
    # like a crash log); -v adds the level and where it came from, for a bug report
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s" if args.verbose else "hearth: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    ctx = CliContext()
    try:
        return int(args.func(args, ctx) or 0)
    except HearthError as exc:
        problem(str(exc))
        if getattr(args, "json", False):  # a script reading stdout got nothing to parse
            print_json(json_error(type(exc).__name__, str(exc)))
        return exc.exit_code
    except KeyboardInterrupt:
        # on a new line: a streamed answer cut off mid-line ran on into it ("The worldhearth: interrupted")
        print(f"{chr(10) if sys.stdout.isatty() else ''}hearth: interrupted", file=sys.stderr)
        return INTERRUPTED
    except (BrokenPipeError, _OutputFailed):
        raise  # not a bug: handled once, in main
    except Exception as exc:  # a bug: still one line; the traceback for a bug report only with -v
        if _interrupted.is_set():  # Ctrl+C inside a library that wrapped it (pydantic: "SchemaError")
            problem("interrupted")
            return 130
        logging.getLogger(__name__).info("the unexpected error in detail:", exc_info=True)
        hint = "" if args.verbose else " Run the command again with -v for details."
        print(f"hearth: unexpected error (a bug in Hearth): {type(exc).__name__}: {str(exc).rstrip('.')}.{hint}",
              file=sys.stderr)
        return EXIT_BUG
    finally:
        ctx.close()


def _streams_open() -> None:
    """A command started with stdout or stderr closed (``hearth settings >&-``) has None there, and its first print
    was a traceback ("'NoneType' object has no attribute 'write'"): it writes to nowhere instead, as to a reader
    that went away."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 (open for the process)


class _OutputFailed(Exception):
    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.reason = error.strerror or str(error)


class _Output:
    """Stdout, whose write errors other than a reader going away are :class:`_OutputFailed`: an OSError from
    there (a full disk) is not a bug in Hearth, and one from anywhere else may be."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _OutputFailed(exc) from exc

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _OutputFailed(exc) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _tolerate_narrow_terminals() -> None:
    """A terminal whose encoding cannot show every character (an ISO-8859-1 or C locale) gets an escape such as
    ``\\u5317`` for what it cannot show, instead of a UnicodeEncodeError that ended every command printing a
    Chinese passage, a name or an emoji as "a bug in Hearth". JSON output stays valid JSON there
    (:func:`assistant.cli.context.print_json` escapes it itself)."""
    for stream in (sys.stdout, sys.stderr):
        if not speaks_unicode(stream) and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


_interrupted = threading.Event()


def _interrupt(signum: int, frame: object) -> NoReturn:
    """Python's own Ctrl+C, remembered: a library that catches the KeyboardInterrupt and raises its own error
    instead must not make an interrupted command look like a bug."""
    _interrupted.set()
    raise KeyboardInterrupt


def _reader_gone() -> int:
    """The reader of stdout stopped early (``| head``): not an error, so exit quietly as a command killed by
    SIGPIPE would. Stdout now points at devnull so that the interpreter's last flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE
