"""``hearth memory list|search|add|edit|forget|clear|export|import|status|process`` and ``hearth bench memory``.

Handlers build their own :class:`MemoryService` from the settings file: reading and editing memories needs
no chat model, so the engine is only loaded for ``process`` (extraction of queued turns). ``--json`` makes
stdout one JSON document; messages go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.cli.context import CliContext, JobLine, confirmed, err, notice, positive_int, print_json, problem
from assistant.errors import (
    HearthError,
    InputError,
    MemoryStoreError,
    SecretRefusedError,
)
from assistant.events import counted

if TYPE_CHECKING:
    from assistant.memory import MemoryItem, MemoryService


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("memory", help="what Hearth remembers about you (list, search, add, edit, forget, clear)")
    ms = p.add_subparsers(dest="memory_cmd", metavar="ACTION", required=True)

    def action(name: str, help_text: str, func, json_flag: bool = True) -> argparse.ArgumentParser:
        q = ms.add_parser(name, help=help_text)
        if json_flag:
            q.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        q.set_defaults(func=func)
        return q

    q = action("list", "list memories, newest first", cmd_list)
    q.add_argument("--all", action="store_true", help="include superseded (stale) memories")
    q.add_argument("--limit", type=positive_int, metavar="N", help="only the N newest")
    q = action("search", "the memories closest to TEXT", cmd_search)
    q.add_argument("text")
    q.add_argument("-k", type=positive_int, default=5, help="number of results (default: 5)")
    q = action("add", "remember TEXT", cmd_add)
    q.add_argument("text")
    q.add_argument("--force", action="store_true", help=_FORCE_HELP)
    q = action("edit", "change the text of memory ID", cmd_edit)
    q.add_argument("id")
    q.add_argument("text")
    q.add_argument("--force", action="store_true", help=_FORCE_HELP)
    q = action("forget", "forget memory ID for good (or with --chat, what was learned from chat ID)", cmd_forget)
    q.add_argument("id")
    q.add_argument("--chat", action="store_true",
                   help="ID is a chat's (`hearth history list`): forget every memory learned from it")
    q = action("clear", "forget every memory", cmd_clear)
    q.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    q = action("export", "all memories (superseded ones too) as JSON", cmd_export, json_flag=False)
    q.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")
    q = action("import", "add the memories of a file `memory export` wrote (those not kept already)", cmd_import)
    q.add_argument("file", type=Path)
    q.add_argument("--force", action="store_true",
                   help="import entries that look like a secret too (a password, a card number, an API key)")
    action("status", "how many memories and queued turns there are", cmd_status)
    q = action("process", "extract memories from queued turns now (loads the chat model)", cmd_process)
    q.add_argument("--limit", type=positive_int, help="at most this many turns")


_FORCE_HELP = "keep TEXT even though it looks like a secret (a password, a card number, an API key)"


def _typed(ctx: CliContext, args: argparse.Namespace, editing: bool = False) -> None:
    """Refuse TEXT before the store opens (2 s): empty, or holding a secret unless --force, which the refusal
    names."""
    try:
        ctx.assistant.memory_text(args.text, editing, keep_secret=args.force)
    except SecretRefusedError as exc:
        raise SecretRefusedError(f"{exc} `--force` keeps it anyway.") from None


def _memory(ctx: CliContext) -> MemoryService:
    """The store, memory on or off: what is kept can always be seen, exported and forgotten."""
    return ctx.assistant.memory_store


def _show(items: list[MemoryItem], as_json: bool) -> None:
    if as_json:
        print_json([m.to_dict() for m in items])
        return
    if not items:
        err("No memories.")
    for m in items:
        stale = f"  (superseded by {m.superseded_by})" if m.superseded_by else ""
        said = f'  [you said: "{m.source_text}"]' if m.source_text else ""
        print(f"{m.id}  {m.text}{stale}{said}")


def _memory_id(text: str) -> str:
    """An id as typed; an empty one is refused up front (it was "There is no memory with id ." after 2 s). The
    start of an id does too, once the store is open (:meth:`MemoryService.full_id`)."""
    if not text.strip():
        raise InputError("Give a memory's id (`hearth memory list` shows them).")
    return text.strip()


def cmd_list(args: argparse.Namespace, ctx: CliContext) -> int:
    items, why = ctx.assistant.memories(include_superseded=args.all)
    if why:  # a full disk, a read-only folder: read from the store's file
        problem(f"{why}")
    _show(items[:args.limit], args.json)
    return 0


def cmd_search(args: argparse.Namespace, ctx: CliContext) -> int:
    if not args.text.strip():  # as `hearth search ""` and `hearth ask ""`: it printed "No memories." (exit 0)
        raise InputError("The search text is empty: give some words to look for.")
    items, why = ctx.assistant.memories(args.text, args.k)
    if why:
        problem(f"{why}")
    _show(items, args.json)
    return 0


def cmd_add(args: argparse.Namespace, ctx: CliContext) -> int:
    _typed(ctx, args)
    item, new = _memory(ctx).add_new(args.text, keep_secret=args.force)
    if not new:  # the same id again, exit 0 and not a word: as if a second memory had been made
        notice(f"already remembered ({item.id}); nothing was added.")
    else:
        _said_off(ctx, "this is kept")
    _show([item], args.json)
    return 0


def _said_off(ctx: CliContext, what: str) -> None:
    """With memory switched off, that what was just kept is not used yet (it was kept without a word)."""
    if not ctx.assistant.settings.memory.enabled:
        notice(f"memory is switched off: {what}, and answers use it once memory is on (Settings → Memory, "
            "or `enabled = true` under [memory] in settings.toml).")


def cmd_edit(args: argparse.Namespace, ctx: CliContext) -> int:
    memory_id = _memory_id(args.id)
    _typed(ctx, args, editing=True)
    _show([_memory(ctx).edit(_memory(ctx).full_id(memory_id), args.text, keep_secret=args.force)], args.json)
    _said_off(ctx, "the change is kept")
    return 0


def cmd_forget(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.chat:
        count = ctx.assistant.forget_chat_memories(args.id)
        if args.json:
            print_json({"forgotten": count, "chat": args.id})
        else:
            err(f"Forgot {counted(count, 'memory', 'memories')} learned from chat {args.id}." if count else
                f"Nothing was learned from chat {args.id}: nothing to forget.")
        return 0
    memory_id = _memory(ctx).full_id(_memory_id(args.id))
    _memory(ctx).forget(memory_id)
    if args.json:
        print_json({"forgotten": memory_id})
    else:
        err(f"Forgot {memory_id}.")
    return 0


def cmd_clear(args: argparse.Namespace, ctx: CliContext) -> int:
    if not args.yes and not sys.stdin.isatty():
        raise InputError("Nothing was cleared: with no terminal to ask in, pass --yes to forget everything.")
    if not args.yes and not confirmed("Forget everything Hearth remembers about you? [y/N] "):
        raise HearthError("Nothing was cleared.")
    count = _memory(ctx).clear()
    if args.json:
        print_json({"forgotten": count})
    else:
        err(f"Forgot {counted(count, 'memory', 'memories')}.")
    return 0


def cmd_export(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.output:
        err(f"Exported {counted(ctx.assistant.export_memories(args.output), 'memory', 'memories')} to {args.output}.")
    else:
        print_json(_memory(ctx).export())
    return 0


def cmd_import(args: argparse.Namespace, ctx: CliContext) -> int:
    line = JobLine(f"Importing the memories in {args.file}…")
    try:
        report = ctx.assistant.import_memories(args.file, progress=line, keep_secret=args.force)
    except KeyboardInterrupt:
        line.end()
        problem("stopped; what was imported is kept, and importing the file again adds the rest.")
        return 130
    line.end()
    for skipped in report.problems:  # each bad entry is named; the others are imported
        problem(f"skipped {skipped}")
    if args.json:
        print_json(report.to_dict())
    else:
        err(report.summary(str(args.file)) + (" See above." if report.problems else "")
            + (" `--force` imports the secrets anyway." if report.secrets else ""))
    _said_off(ctx, "what was imported is kept")
    return InputError.exit_code if report.problems else 0


def cmd_status(args: argparse.Namespace, ctx: CliContext) -> int:
    memory = _memory(ctx)
    items = memory.list(include_superseded=True)
    active = sum(m.active for m in items)
    status = {"enabled": memory.enabled, "memories": active, "superseded": len(items) - active,
              "pending_turns": memory.pending_count(), "failed_turns": memory.failed_count()}
    if args.json:
        print_json(status)
    else:
        shown = {**status, "enabled": "yes" if memory.enabled else "no (Settings → Memory)"}  # it printed "True"
        print("\n".join(f"{key}: {value}" for key, value in shown.items()))
    return 0


def cmd_process(args: argparse.Namespace, ctx: CliContext) -> int:
    memory = ctx.assistant.memory
    if memory is None:
        raise MemoryStoreError("Memory is switched off, so nothing is learned: switch it on in the window's "
                               f"Settings → Memory, or set enabled = true under [memory] in "
                               f"{ctx.assistant.paths.settings_file}.")
    ctx.assistant.ensure_model()
    done = ctx.assistant.process_memory(limit=args.limit)
    left = memory.pending_count()
    if args.json:
        print_json({"processed": done, "pending": left})
    else:
        err(f"Processed {done} queued turn(s); {left} left.")
    return 0
