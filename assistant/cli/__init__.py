"""The ``hearth`` command line.

The CLI only parses arguments, calls the :class:`assistant.core.Assistant` facade and renders. Each command
group lives in its own module exposing ``register(subparsers)``; handlers receive ``(args, app)`` where
``app`` is a lazily created facade. Errors from the core (:class:`HearthError`) become one readable line
on stderr and a non-zero exit code, never a traceback. ``--json`` output goes to stdout alone; progress
and notices go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from assistant import __version__
from assistant.cli import bench_cmds, chat_cmds, knowledge_cmds, memory_cmds, models_cmds
from assistant.cli.context import CliContext
from assistant.errors import HearthError

GROUPS: list[Callable[[argparse._SubParsersAction], None]] = [
    chat_cmds.register,
    knowledge_cmds.register,
    memory_cmds.register,
    models_cmds.register,
    bench_cmds.register,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hearth", description="Hearth: a private AI assistant, fully offline.")
    parser.add_argument("--version", action="version", version=f"hearth {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in GROUPS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    ctx = CliContext()
    try:
        return int(args.func(args, ctx) or 0)
    except HearthError as exc:
        print(f"hearth: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hearth: interrupted", file=sys.stderr)
        return 130
    finally:
        ctx.close()
