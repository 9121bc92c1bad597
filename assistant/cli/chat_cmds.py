"""``hearth ask``, ``hearth chat`` and ``hearth history``."""

from __future__ import annotations

import argparse
import json
import sys
import threading

from assistant.cli.context import CliContext, err, print_json
from assistant.events import Done, Failed, Notice, Sources, Token


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="ask one question (streams the answer)")
    p.add_argument("text", help="the question")
    p.add_argument("--conversation", "-c", help="continue this conversation id")
    p.add_argument("--collection", action="append", default=[], metavar="C",
                   help="answer from this knowledge collection, with citations (repeatable)")
    p.add_argument("--no-memory", action="store_true", help="incognito: nothing is read from or written to memory")
    p.add_argument("--json", action="store_true", help="print {answer, stats, conversation_id, sources} as JSON")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="interactive chat in the terminal (/new, /quit; Ctrl+C stops an answer)")
    p.add_argument("--conversation", "-c", help="continue this conversation id")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("history", help="saved conversations")
    hs = p.add_subparsers(dest="history_cmd", metavar="ACTION", required=True)
    h = hs.add_parser("list", help="list conversations")
    h.add_argument("--json", action="store_true")
    h.set_defaults(func=cmd_history_list)
    h = hs.add_parser("search", help="full-text search over all messages")
    h.add_argument("query")
    h.add_argument("--json", action="store_true")
    h.set_defaults(func=cmd_history_search)
    h = hs.add_parser("export", help="print a conversation as Markdown or JSON")
    h.add_argument("id")
    h.add_argument("--format", choices=("md", "json"), default="md")
    h.set_defaults(func=cmd_history_export)
    h = hs.add_parser("rename", help="rename a conversation")
    h.add_argument("id")
    h.add_argument("title")
    h.set_defaults(func=cmd_history_rename)
    h = hs.add_parser("delete", help="delete a conversation")
    h.add_argument("id")
    h.set_defaults(func=cmd_history_delete)


def _stream(ctx: CliContext, text: str, conversation_id: str | None, echo: bool,
            cancel: threading.Event | None = None, collections: tuple[str, ...] = (),
            use_memory: bool = True) -> tuple[Done | None, Failed | None, Sources | None]:
    """Run one turn; print tokens to stdout when ``echo``; notices always go to stderr."""
    response = ctx.assistant.ask(text, conversation_id, cancel=cancel, collections=collections,
                                 use_memory=use_memory)
    sources = None
    for event in response:
        if isinstance(event, Token) and echo:
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, Notice):
            err(f"[{event.kind}] {event.message}")
        elif isinstance(event, Sources):
            sources = event
    if echo:
        sys.stdout.write("\n")
    return response.done, response.failed, sources


def _stats_line(done: Done) -> str:
    s = done.stats
    reuse = f", {s.reused_tokens} reused" if s.reused_tokens else ""
    return (f"{s.completion_tokens} tokens, {s.decode_tps:.1f} tok/s, TTFT {s.ttft_s * 1000:.0f} ms, "
            f"prompt {s.prompt_tokens} ({s.evaluated_tokens} evaluated{reuse}), {s.stop_reason}, {s.device}")


def cmd_ask(args: argparse.Namespace, ctx: CliContext) -> int:
    done, failed, sources = _stream(ctx, args.text, args.conversation, echo=not args.json,
                                    collections=tuple(args.collection), use_memory=not args.no_memory)
    if failed is not None:
        err(f"hearth: {failed.message}")
        return 1
    assert done is not None
    cited = [c for c in sources.citations if c.n in sources.cited] if sources else []
    if args.json:
        print_json({"answer": done.text, "stats": done.stats.to_dict(), "conversation_id": done.conversation_id,
                    "sources": [c.to_dict() for c in cited]})
    else:
        for c in cited:
            err(f"[{c.n}] {c.location()}  {c.uri()}")
        err(_stats_line(done))
    sys.stdout.flush()
    ctx.assistant.process_memory()  # learn from this turn now that the answer is out (queued on disk first)
    return 0


def cmd_chat(args: argparse.Namespace, ctx: CliContext) -> int:
    conversation_id = args.conversation
    info = ctx.assistant.ensure_model()
    err(f"Hearth chat with {info.name} on {ctx.assistant.engine.device}. /new starts over, /quit exits.")
    learning = _Background()
    try:
        while True:
            try:
                line = input("you> ").strip()
            except (EOFError, KeyboardInterrupt):
                err("")
                return 0
            if not line:
                continue
            if line in ("/quit", "/exit"):
                return 0
            if line == "/new":
                conversation_id = None
                err("(new conversation)")
                continue
            learning.stop()  # the user is waiting: memory extraction yields the engine (its turn stays queued)
            cancel = threading.Event()
            sys.stdout.write("hearth> ")
            try:
                done, failed, _sources = _stream(ctx, line, conversation_id, echo=True, cancel=cancel)
            except KeyboardInterrupt:
                cancel.set()
                err("\n(stopped)")
                continue
            if failed is not None:
                err(f"hearth: {failed.message}")
            elif done is not None:
                conversation_id = done.conversation_id
                err(f"({_stats_line(done)})")
                learning.start(ctx.assistant.process_memory)
    finally:
        learning.stop()
        ctx.assistant.process_memory()  # whatever is still queued is learned before exit


class _Background:
    """One cancellable background job at a time (memory extraction while the user reads and types)."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()

    def start(self, job) -> None:
        self.stop()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=job, args=(self._cancel,), name="hearth-memory", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._cancel.set()
            self._thread.join()
            self._thread = None


def cmd_history_list(args: argparse.Namespace, ctx: CliContext) -> int:
    convs = ctx.assistant.history.list_conversations()
    if args.json:
        print_json([c.__dict__ for c in convs])
    for c in [] if args.json else convs:
        print(f"{c.id}  {c.message_count:3d} msgs  {c.title}")
    return 0


def cmd_history_search(args: argparse.Namespace, ctx: CliContext) -> int:
    hits = ctx.assistant.history.search(args.query)
    if args.json:
        print_json([h.__dict__ for h in hits])
    for h in [] if args.json else hits:
        print(f"{h.conversation_id}  {h.title}: {h.snippet}")
    return 0


def cmd_history_export(args: argparse.Namespace, ctx: CliContext) -> int:
    history = ctx.assistant.history
    if args.format == "json":
        print(json.dumps(history.export_json(args.id), ensure_ascii=False, indent=2))
    else:
        print(history.export_markdown(args.id))
    return 0


def cmd_history_rename(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.assistant.history.rename(args.id, args.title)
    return 0


def cmd_history_delete(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.assistant.history.delete(args.id)
    return 0
