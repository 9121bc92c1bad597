"""``hearth index``, ``hearth search``, ``hearth collections`` and ``hearth bench index|retrieval``.

Through the facade like every other command; indexing and searching never load a chat model (the facade
opens parts on first use). Progress goes to stderr (a rich progress bar), results to stdout; ``--json``
makes stdout one JSON document (``--queries``: JSON Lines).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.cli.context import (
    INTERRUPTED,
    CliContext,
    err,
    notice,
    one_line,
    positive_int,
    print_json,
    problem,
    speaks_unicode,
    stale_mark,
)
from assistant.errors import CollectionNotFoundError, InputError, KnowledgeError
from assistant.events import Progress as ProgressEvent
from assistant.events import changes_text, counted, line_span, local_minute, reading, section, time_left

if TYPE_CHECKING:
    from assistant.core import Assistant
    from assistant.knowledge import Citation, CollectionInfo
    from assistant.knowledge.records import Hits


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="index (or re-sync) folders and files into a knowledge collection")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="folders or files to index")
    p.add_argument("--collection", "-c", default="default", help="collection name (default: default)")
    p.add_argument("--watch", action=argparse.BooleanOptionalAction, default=None,
                   help="re-sync the collection when its folders change (while the app, `hearth chat` or "
                        "`hearth serve` runs)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="search your indexed files (no chat model needed)")
    p.add_argument("text", nargs="?", help="what to look for")
    p.add_argument("--queries", type=Path, metavar="FILE.jsonl",
                   help='many queries, one {"id": ..., "text": ...} per line ("-" for stdin); '
                        "prints one JSON line per query")
    p.add_argument("--collection", "-c", action="append", dest="collections", metavar="COLLECTION",
                   help="collection to search (repeatable; default: every collection)")
    p.add_argument("-k", type=positive_int, default=None, help="number of hits (default: knowledge.top_k)")
    p.add_argument("--folder", help="only hits from files under this folder")
    p.add_argument("--mode", choices=("hybrid", "dense", "keyword"), default="hybrid")
    p.add_argument("--json", action="store_true", help="print the hits as JSON on stdout")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("collections", help="list, rename, watch or remove knowledge collections")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = actions.add_parser("list", help="list collections")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_collections_list)
    q = actions.add_parser("remove", help="remove a collection from the index (your files are not touched)")
    q.add_argument("name")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_collections_remove)
    q = actions.add_parser("rename", help="call a collection by another name (nothing is indexed again)")
    q.add_argument("name")
    q.add_argument("new_name")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_collections_rename)
    q = actions.add_parser("watch", help="re-sync a collection when its folders change: on or off")
    q.add_argument("name")
    q.add_argument("state", choices=("on", "off"))
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_collections_watch)


#: Columns the progress line's words take at most: "indexing", "1,234/5,678", "chunks", "51.1 chunks/s",
#: "about 1 min 08 s left" and the spaces between.
_PROGRESS_TEXT = 66
_LOG_EVERY_S = 30.0  # how often the progress is said on a stderr that is not a terminal


def render_progress(events: Iterator[ProgressEvent]) -> ProgressEvent:
    """Drive an indexing job with a progress bar on stderr; returns its last event."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn
    from rich.table import Column
    from rich.text import Text

    last = ProgressEvent("index", 0)

    def text(field: str, **shape: Any) -> TextColumn:
        return TextColumn(field, table_column=Column(no_wrap=True, **shape))

    console = Console(stderr=True)
    # the core's ETA (by bytes left): rich's own needs samples close together and showed -:--:-- for a run
    # whose events came one embedding batch (half a minute) apart. What the counts, rate and ETA leave goes to
    # the bar and the file being read; below about 110 columns the file goes on a line of its own under them:
    # on an 80-column terminal it took the line and cut every column ("indexi… fi… 7.1 chunks… about 1 min
    # 19 s l…"), and then, left out, a large file embedding for minutes was never named
    room = console.width - _PROGRESS_TEXT
    wide = room >= 44
    bar_width = min(40, room - 30) if wide else max(10, room)
    columns = [text("{task.description}"), BarColumn(bar_width=bar_width), text("{task.fields[count]}"),
               text("{task.fields[unit]}"),
               text("{task.fields[rate]}"), text("{task.fields[eta]}")]
    if wide:
        columns.append(text("{task.fields[file]}", max_width=room - bar_width - 1, overflow="ellipsis"))

    class FileBelow(Progress):
        """The columns, and under them the file being read (narrow terminals)."""

        def get_renderables(self) -> Iterator[Any]:
            yield self.make_tasks_table(self.tasks)
            if not wide and (file := self.tasks[0].fields.get("file") if self.tasks else ""):
                yield Text(f"  {file}", no_wrap=True, overflow="ellipsis")

    # not on a terminal (a log file, a pipe): no bar, which would leave only an empty line behind, but a plain
    # line now and then (an hour-long run logged to a file said nothing until it ended), the first at once (a
    # 20 MB log's run was silent for the 69 s before its Ctrl+C)
    logged = float("-inf")
    with FileBelow(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("indexing", total=None, count="", unit="", rate="", eta="", file="")
        for last in events:
            if last.ahead is not None:  # above the bar (rich writes stderr's lines there)
                notice(f"{last.ahead.text()}; Ctrl+C stops, keeping what is embedded for the next run.")
            rate = f"{last.rate:.1f} chunks/s" if last.rate else ""
            count = f"{last.done:.0f}/{last.total:.0f}" if last.total else ""
            # the bar by the work done, the count by files: by files it stood at 0/1 while one large file embedded
            done, total = (last.share, 1.0) if last.share is not None else (last.done, last.total)
            bar.update(task, completed=done, total=total, count=count, unit=last.unit, rate=rate,
                       eta=time_left(last.eta_s), file=reading(last))
            if not console.is_terminal and last.total and time.monotonic() - logged >= _LOG_EVERY_S:
                logged = time.monotonic()
                err(" · ".join(part for part in (f"indexing: {last.done:,.0f}/{last.total:,.0f} {last.unit}", rate,
                                                 time_left(last.eta_s), reading(last)) if part))
    return last


def cmd_index(args: argparse.Namespace, ctx: CliContext) -> int:
    start = time.monotonic()
    assistant = ctx.assistant
    if bad_name := assistant.collection_name_problem(args.collection):  # before a note about a second copy in
        raise InputError(bad_name)  # a collection that would never be made
    for overlap in assistant.overlaps(args.paths, into=args.collection):
        err(f"note: {overlap.describe()}: {args.collection!r} gets a second copy of "
            f"{overlap.files}, found twice when both are searched (`hearth index "
            f"{shlex.quote(overlap.path)} --collection {shlex.quote(overlap.collection)}` keeps one copy).")
    events = assistant.index(args.paths, args.collection, watch=args.watch)
    seen: list[ProgressEvent] = []

    def watched() -> Iterator[ProgressEvent]:
        for event in events:
            seen[:] = [event]
            yield event

    try:
        last = render_progress(watched())
    except KeyboardInterrupt:  # what was kept, and how to go on ("hearth: interrupted" alone said neither)
        events.close()  # the run ends now, recording what it wrote, before that is counted
        try:
            kept: CollectionInfo | None = assistant.collection(args.collection)
        except CollectionNotFoundError:  # (stopped before it was made)
            kept = None
        if kept is not None and kept.files:
            problem(f"stopped: {counted(kept.files, 'file')} of {args.collection!r} indexed so far stay "
                f"searchable; {_index_command(kept)} finishes it.")
        elif kept is not None and seen and seen[0].item_done and seen[0].item_total:
            # inside its first file (a 20 MB log): its passages embedded so far are kept for the next run, which
            # goes on from them, though none is searched until the file is whole. The counts are this run's: a
            # second stop said "672 of its 3,381" of a file of 4,245 passages, 864 of them kept the first time
            problem(f"stopped in {os.path.basename(seen[0].item)}: {seen[0].item_done:,} of the "
                f"{seen[0].item_total:,} passages this run had to embed are kept; {_index_command(kept)} goes on "
                "from them.")
        else:
            raise
        return INTERRUPTED  # said: not "hearth: interrupted" under it too
    info = next(c for c in assistant.collections() if c.name == args.collection)
    result = {
        "collection": args.collection, "status": last.message, "files": info.files, "chunks": info.chunks,
        "seconds": round(time.monotonic() - start, 2), "watched": info.watched,
        **dict(zip(("added", "changed", "removed"), last.changes or (None, None, None), strict=True)),
        "embedded_again": last.repaired,
        "skipped": [{"path": p, "reason": r} for p, r in last.errors],
        "left_out": last.left_out or None,
    }
    if args.json:
        print_json(result)
    else:
        watched = ", watched for changes" if info.watched else ""
        changes = f": {changes_text(last)}" if last.changes else ""  # "done in 0.9 s: nothing changed"
        print(f"{args.collection}: {counted(info.files, 'file')}, {counted(info.chunks, 'chunk')} ({last.message} in "
              f"{result['seconds']} s{changes}{watched}); {len(last.errors)} skipped")
        for path, reason in last.errors:
            print(f"  skipped {one_line(path)}: {reason}")
        if last.left_out:
            print(f"  left out: {last.left_out}")
    # a path named that does not exist (a typo beside real folders) fails the command, as `ls a typo` does
    return InputError.exit_code if any(not Path(p).expanduser().exists() for p in args.paths) else 0


def _hit(c: Citation) -> dict[str, Any]:
    return {k: v for k, v in c.to_dict().items() if k != "n"}


def cmd_search(args: argparse.Namespace, ctx: CliContext) -> int:
    if (args.text is None) == (args.queries is None):
        raise InputError("Give either a search TEXT or --queries FILE.jsonl.")
    if args.text is not None and not args.text.strip():
        raise InputError("The search text is empty: give some words to look for.")
    queries = list(_read_queries(args.queries)) if args.queries is not None else []  # an unreadable file first
    assistant = ctx.assistant
    collections = tuple(dict.fromkeys(args.collections)) if args.collections else _searchable(assistant, args.mode)
    if args.queries is not None:
        unusable, said = 0, ""
        for number, qid, text, k, why in queries:
            if why:  # said on stderr and in the query's own line; the other queries go on
                unusable += 1
                problem(why)
                line: dict[str, Any] = {"id": qid, "line": number, "error": why}
            else:
                hits = assistant.search(text, collections, k or args.k, args.folder, args.mode)
                line = {"id": qid, "line": number, "hits": [_hit(h) for h in hits]}
                line |= _partial_json(hits)
                said = _say_partial(hits, said)
            print(json.dumps(line, ensure_ascii=not speaks_unicode(sys.stdout)), flush=True)
        if unusable:
            problem(f"{unusable} unusable line(s) in {args.queries}; the other queries were searched.")
        return InputError.exit_code if unusable else 0
    hits = assistant.search(args.text, collections, args.k, args.folder, args.mode)
    _say_partial(hits)
    if args.json:
        print_json({"query": args.text, "collections": list(collections), "hits": [_hit(h) for h in hits]}
                   | _partial_json(hits))
        return 0
    # searched by keyword only (the vectors could not be read): no hit is "by meaning"
    by_keyword = args.mode == "keyword" or hits.only == "keyword"
    if not hits:
        print("No matches.")
    elif all(h.words is False for h in hits) and by_keyword:  # a code's parts, not the whole code
        notice("no passage holds the words as searched for: these hold only some of them.")
    elif all(h.words is False for h in hits):
        notice("no passage matched the words searched for: these are only the nearest in meaning, which "
            "may be no match at all (scores are relative to the best hit).")
    unmatched = "  some words" if by_keyword else "  by meaning"
    for i, h in enumerate(hits, start=1):
        snippet = " ".join(h.text.split())
        place = line_span(h.line_start, h.line_end, words=True) if h.line_start else section(h.heading)
        print(f"[{i}] {one_line(h.path)}" + (f"  page {h.page}" if h.page else "") + f"  {place}".rstrip()
              + f"  score {h.score:.4f}"
              + (unmatched if h.words is False else "") + (f"  ({h.collection})" if len(collections) > 1 else "")
              + stale_mark(assistant, h))
        print(f"    {_preview(snippet, args.text)}")
    return 0


def _preview(text: str, query: str, width: int = 240) -> str:
    """``width`` characters of a passage, around the longest word of ``query`` it holds (the rarest, likely):
    its first 240 were shown, and a code found on line 9,000 of a log was cut off with "…" before it appeared."""
    if len(text) <= width:
        return text
    words = sorted(re.findall(r"[^\W_][\w\-.]*[^\W_]", query), key=len, reverse=True)
    at = next((m.start() for w in words if (m := re.search(re.escape(w), text, re.IGNORECASE))), 0)
    start = max(0, min(at - width // 3, len(text) - width))
    return f"{'…' if start else ''}{text[start:start + width]}{'…' if start + width < len(text) else ''}"


def _say_partial(hits: Hits, said: str = "") -> str:
    """Say (once per reason, over a file of queries) that a hybrid search searched by keyword (or meaning) only,
    and why, and that a collection searched is not fully indexed; returns what was said last."""
    partial = "\n".join(line for line in (f"hearth: searched {hits.partial()}" if hits.only else "",
                                          f"hearth: {hits.unfinished}" if hits.unfinished else "") if line)
    if partial and partial != said:
        err(partial)
    return partial or said


def _partial_json(hits: Hits) -> dict[str, str]:
    """``--json``'s fields for a partial search (none for a whole one)."""
    return ({"only_by": hits.only, "only_because": hits.why} if hits.only else {}) | \
        ({"unfinished": hits.unfinished} if hits.unfinished else {})


def _searchable(assistant: Assistant, mode: str) -> tuple[str, ...]:
    """Every collection a search can read, when none is named: the folders dragged into the window are
    collections named after them, and a search of the one named "default" told those users there was none.
    One indexed with another embedder is left out, and so (searching by meaning) is one whose vectors were
    lost while others can be searched, each said so with the command that mends it: one such collection failed
    the search of all the others. When only those are left, they are searched by keyword (the search says so)."""
    infos = assistant.collections()
    if not infos:
        raise CollectionNotFoundError("There are no knowledge collections yet: index a folder with "
                                      "`hearth index FOLDER` (or drop it on the window).")
    searchable, damaged = [], []
    for info in infos:
        if info.needs_reindex:
            problem(f"not searched: {info.name!r} was indexed with the embedder {info.embedder!r}; "
                f"{_index_command(info)} re-indexes it.")
        elif info.missing_vectors and mode != "keyword":
            damaged.append(info)
        else:
            searchable.append(info.name)
    if not searchable and mode == "hybrid" and damaged:
        return tuple(info.name for info in damaged)
    for info in damaged:
        problem(f"not searched: {info.name!r}: {info.problem}; {_index_command(info)} repairs it (or search "
            "it with --mode keyword).")
    if not searchable:  # an empty list would mean "all" to the facade
        raise KnowledgeError("None of the collections can be searched now: see above.")
    return tuple(searchable)


def _index_command(info: CollectionInfo) -> str:
    """The command that re-syncs a collection from its recorded folders (it repairs and re-indexes too)."""
    return f"`{info.index_command()}`"


def _read_queries(path: Path) -> Iterator[tuple[int, Any, str, int | None, str]]:
    """``(line number, id, text, k, problem)`` per non-blank line: the id is None when the line names none (it
    was the line's number, which could be another line's own id), ``k`` the line's own number of hits (None:
    --k's; it was ignored); a line that is not a query has a ``problem`` (one bad line used to end the run, and
    the queries after it went unsearched; ``"text": null`` searched for the word "None")."""
    try:
        lines = sys.stdin.readlines() if str(path) == "-" else path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is not UTF-8 text"
        raise InputError(f"Cannot read the queries file {path}: {why}.") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            query = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, "", None, f"{path}:{number}: not JSON ({exc.msg})."
            continue
        query = query if isinstance(query, dict) else {}
        qid, text, k = query.get("id"), query.get("text"), query.get("k")
        if not isinstance(text, str) or not text.strip():
            yield number, qid, "", None, f'{path}:{number}: expected a JSON object with a non-empty "text" string.'
        elif k is not None and (type(k) is not int or k < 1):
            yield number, qid, "", None, (f'{path}:{number}: "k" must be a whole number of hits, 1 or more '
                                          f"(not {json.dumps(k, ensure_ascii=False)}).")
        else:
            yield number, qid, text, k, ""


def cmd_collections_list(args: argparse.Namespace, ctx: CliContext) -> int:
    infos = ctx.assistant.collections()
    if args.json:
        print_json([c.to_dict() for c in infos])
        return 0
    if not infos:
        print("No collections yet: add some with `hearth index FOLDER`.")
    for c in infos:
        synced = local_minute(c.last_sync) if c.last_sync else "never"
        flag = "  NEEDS RE-INDEX (embedder changed)" if c.needs_reindex else ""
        watched = ", watched" if c.watched else ""
        print(f"{c.name}: {counted(c.files, 'file')}, {counted(c.chunks, 'chunk')}, {c.errors} skipped, "
              f"synced {synced}{watched}, "
              f"embedder {c.embedder}{flag}")
        if here := [s for s in c.sources if s not in c.missing_sources]:  # where its files are (not listed before)
            print(f"  from {', '.join(map(one_line, here))}")
        if c.problem and c.resync_repairs:
            print(f"  NEEDS REPAIR: {c.problem}; {_index_command(c)} repairs it (only what is missing is embedded "
                  "again)")
        elif c.problem:
            print(f"  CANNOT BE CHECKED NOW: {c.problem}")
        if c.unfinished == "stopped":
            print(f"  UNFINISHED: its last indexing run was stopped before the end; {_index_command(c)} finishes it")
        elif c.unfinished == "interrupted":
            print(f"  UNFINISHED: its last indexing run was cut off (or runs now); the next Hearth window, `hearth "
                  f"chat` or `hearth serve` finishes it, or {_index_command(c)} now")
        for gone in c.missing_sources:
            print(f"  GONE: {gone} (deleted, or on a drive not plugged in); its passages stay searchable")
    return 0


def cmd_collections_remove(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.assistant.remove_collection(args.name)
    if args.json:
        print_json({"removed": args.name})
    else:
        print(f"Removed collection {args.name!r} (your files were not touched).")
    return 0


def cmd_collections_rename(args: argparse.Namespace, ctx: CliContext) -> int:
    info = ctx.assistant.rename_collection(args.name, args.new_name)
    if args.json:
        print_json(info.to_dict())
    elif info.name == args.name:  # "Renamed collection 'notes' to 'notes'"
        print(f"Collection {info.name!r} is called so already: nothing changed.")
    else:
        print(f"Renamed collection {args.name!r} to {info.name!r} ({counted(info.files, 'file')}; chats asked from "
              "it go on from it).")
    return 0


def cmd_collections_watch(args: argparse.Namespace, ctx: CliContext) -> int:
    info = ctx.assistant.watch(args.name, args.state == "on")
    if args.json:
        print_json(info.to_dict())
    elif info.watched:
        print(f"Watching {args.name!r} ({', '.join(info.sources)}): changes are picked up while the Hearth app, "
              "`hearth chat` or `hearth serve` runs, and caught up when one starts.")
    else:
        print(f"No longer watching {args.name!r}.")
    return 0
