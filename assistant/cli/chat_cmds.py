"""``hearth ask``, ``hearth chat`` and ``hearth history``."""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.cli import terminal
from assistant.cli.context import (
    MAX_COUNT,
    CliContext,
    err,
    in_range,
    json_error,
    one_line,
    positive_int,
    print_json,
    problem,
    seed_arg,
    stale_mark,
)
from assistant.config import EVERY_MODEL, ModelSettings
from assistant.errors import ConversationNotFoundError, HearthError, InputError
from assistant.events import (
    Done,
    Failed,
    MemoriesUsed,
    Notice,
    Progress,
    Saved,
    Sources,
    Token,
    counted,
    local_minute,
    prompt_read_text,
    short_title,
)

if TYPE_CHECKING:
    from assistant.core import Assistant


def _answer_options(p: argparse.ArgumentParser) -> None:
    """Per-call answer settings shared by ``ask`` and ``chat`` (the saved settings are not changed)."""
    p.add_argument("-m", "--model", metavar="NAME", help="model for this call: shown name, part of it, or file")
    p.add_argument("--preset", metavar="NAME", help="sampling preset: Precise, Balanced, Creative, Code, Greedy")
    p.add_argument("--temperature", type=in_range("model.temperature"), metavar="T",
                   help="sampling temperature, 0 to 2 (0 = greedy)")
    p.add_argument("--top-k", type=in_range("model.top_k", int), metavar="K",
                   help="sample from the K likeliest tokens, 0 to 1000 (0 = off)")
    p.add_argument("--top-p", type=in_range("model.top_p"), metavar="P",
                   help="sample from the likeliest tokens that make up P of the probability, 0 to 1")
    p.add_argument("--min-p", type=in_range("model.min_p"), metavar="P",
                   help="leave out tokens less likely than P times the likeliest, 0 to 1")
    p.add_argument("--repeat-penalty", type=in_range("model.repeat_penalty"), metavar="R",
                   help="make repeated tokens less likely, 0.5 to 2 (1 = off)")
    p.add_argument("--seed", type=seed_arg, help="sampling seed (0 or more), for reproducible answers")
    p.add_argument("--max-tokens", type=in_range("model.max_tokens", int), metavar="N",
                   help="longest answer, in tokens (1 to 32768)")
    p.add_argument("--speculative", metavar="MODE",
                   help="speculative decoding: auto (draft only while it is faster), off, ngram (look up the "
                        "context), draft (a smaller model), self (a lower-bit copy: `hearth models draft`)")
    p.add_argument("--draft-model", metavar="NAME", help="the draft model for --speculative draft/auto")
    p.add_argument("--system", metavar="TEXT", help="system prompt for this call")
    p.add_argument("--collection", action="append", default=[], metavar="C",
                   help="answer from this knowledge collection, with citations (repeatable)")
    p.add_argument("--no-memory", action="store_true", help="incognito: nothing is read from or written to memory")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="ask one question (streams the answer)")
    p.add_argument("text", help='the question ("-": read it from stdin, e.g. `cat notes.md | hearth ask -`)')
    p.add_argument("--conversation", "-c", metavar="ID",
                   help="go on with this chat: its id, the start of it, or `last` (the most recent)")
    _answer_options(p)
    p.add_argument("--json", action="store_true", help="print {answer, stats, conversation_id, sources} as JSON")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="interactive chat in the terminal (/new, /retry, /edit, /quit; Ctrl+C stops "
                                     "an answer)")
    p.add_argument("--conversation", "-c", metavar="ID",
                   help="go on with this chat: its id, the start of it, or `last` (the most recent)")
    _answer_options(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("history", help="saved conversations")
    hs = p.add_subparsers(dest="history_cmd", metavar="ACTION", required=True)
    h = hs.add_parser("list", help="list conversations, the last changed first")
    h.add_argument("--limit", type=positive_int, metavar="N", help="only the N last changed")
    h.add_argument("--json", action="store_true")
    h.set_defaults(func=cmd_history_list)
    h = hs.add_parser("search", help="full-text search over all messages")
    h.add_argument("query")
    h.add_argument("--limit", type=positive_int, metavar="N",
                   help="list the N best matching chats (default 50); with --json the N best matching messages "
                        "(default: every one)")
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
    h.add_argument("--forget-memories", action="store_true",
                   help="also forget what memory learned from it (without, those memories are kept)")
    h.set_defaults(func=cmd_history_delete)


#: the sampling options of ``ask``/``chat`` put over the settings for the call (``SamplingParams`` fields)
_OVERRIDES = ("temperature", "seed", "top_k", "top_p", "min_p", "repeat_penalty")
#: a model's own settings (its profile: all but the model itself and EVERY_MODEL) as a change of the file names them
_PROFILE_WORDS = tuple(f.name.replace("_", " ") for f in fields(ModelSettings)
                       if f.name not in ("path", *EVERY_MODEL))


@dataclass(frozen=True)
class _Call:
    """The per-call options of ``ask``/``chat``: the model name resolved once to a path; the sampling options
    as given (``choices``: preset and speculative mode; ``overrides``: temperature, seed, top-k …), put over the
    settings at every turn (:meth:`sampling`), so an edit of the settings file applies to the next turn of a
    running chat. Resolved once at start, it kept the old temperature and speculative mode for the whole chat."""

    model: Path | None
    choices: tuple[str | None, str | None]
    overrides: tuple[tuple[str, float | int | None], ...]
    system_prompt: str | None
    max_tokens: int | None
    collections: tuple[str, ...] | None  # None: a replaced question's own (see ``_replacing``)
    use_memory: bool  # False: --no-memory (incognito), for every answer of the chat, /retry and /edit too
    draft_model: str | None

    @classmethod
    def from_args(cls, args: argparse.Namespace, ctx: CliContext) -> _Call:
        assistant = ctx.assistant
        model = assistant.models.find(args.model) if args.model else None
        call = cls(model, (args.preset, args.speculative), tuple((name, getattr(args, name)) for name in _OVERRIDES),
                   args.system,
                   args.max_tokens, tuple(args.collection), not args.no_memory, args.draft_model)
        call.sampling(assistant)  # an unknown preset or mode is said now, before the model loads
        ctx.kept = call.kept()
        return call

    def kept(self) -> dict[str, str]:
        """The settings this call's options keep, as a change of the settings file names them ("max tokens"),
        with the option: a change of one does not reach this chat, and was said as if it did."""
        preset, speculative = self.choices
        options = [*((name, value) for name, value in self.overrides), ("max_tokens", self.max_tokens),
                   ("speculative", speculative), ("draft_model", self.draft_model)]
        kept = {name.replace("_", " "): f"--{name.replace('_', '-')} {value}" for name, value in options
                if value is not None}
        if self.system_prompt is not None:
            kept["system prompt"] = "its --system"
        if preset is not None:  # the preset's values, where no option of their own is given
            kept |= {name: f"--preset {preset}" for name in ("preset", "temperature", "top k", "top p", "min p",
                                                             "repeat penalty") if name not in kept}
        if self.model is not None:  # its model answers with that model's own settings, not the configured one's
            kept |= {name: "its -m model's own" for name in _PROFILE_WORDS if name not in kept}
        return kept

    def sampling(self, assistant: Any) -> Any:
        """The sampling for a turn now: the settings' as they are, with this call's choices over them."""
        preset, speculative = self.choices
        return assistant.sampling(preset, speculative, self.model, **dict(self.overrides))


def _stream(ctx: CliContext, text: str, conversation_id: str | None, call: _Call, echo: bool,
            cancel: threading.Event | None = None, prefix: str = "",
            on_saved: Callable[[str | None], None] | None = None, replace_from: str | None = None,
            last: bool = False, lead: str = "", save: bool = True) -> _Turn:
    """Run one turn; print tokens to stdout when ``echo`` (``prefix``: what the answer's first row already
    shows, as ``hearth> ``; ``lead``: what is written before its first word instead, in a transcript); notices
    always go to stderr, those about the answer under it. ``on_saved`` gets
    the conversation's id once the question is saved (an answer stopped with Ctrl+C carries on in it), and
    again as it is after a question stopped before its first word was taken back (None: the chat made for it
    went too). ``last``: the command ends with this turn (see :func:`_ctrl_c_stops`). ``save``: see
    ``Assistant.ask``."""
    response = ctx.assistant.ask(text, conversation_id, cancel=cancel, collections=call.collections,
                                 use_memory=call.use_memory, sampling=call.sampling(ctx.assistant),
                                 system_prompt=call.system_prompt,
                                 max_tokens=call.max_tokens, model=call.model, draft_model=call.draft_model,
                                 replace_from=replace_from, save=save)
    sources, memories = None, None
    shown: list[str] = []  # the answer text written to stdout
    later: list[Notice] = []  # notices that came while the answer was on screen: printed under its final form
    notices: list[Notice] = []
    saved_in: str | None = None
    began = False  # the answer's first word came (shown or not: `ask --json` shows none)
    reading = _Reading(prefix)
    try:
        with _ctrl_c_stops(cancel, last), reading:
            for event in response:
                began = began or isinstance(event, Token)
                if isinstance(event, Progress):
                    reading.show(event)
                    continue
                reading.end()
                if isinstance(event, Token) and echo:
                    if lead and not shown:
                        sys.stdout.write(lead)
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
                    shown.append(event.text)
                elif isinstance(event, Notice):
                    notices.append(event)
                    if shown:
                        later.append(event)
                    else:
                        _above(prefix, f"[{event.kind}] {event.message}")
                elif isinstance(event, Sources):
                    sources = event
                elif isinstance(event, MemoriesUsed):
                    memories = event
                elif isinstance(event, Saved):
                    saved_in = event.conversation_id
                    if on_saved is not None:
                        on_saved(saved_in)
        if shown:
            sys.stdout.write("\n")
            if response.done is not None:  # with the citations Hearth attributed, where the terminal allows
                terminal.rewrite(sys.stdout, prefix + "".join(shown), prefix + response.done.text)
            sys.stdout.flush()
    except (BrokenPipeError, KeyboardInterrupt) as exc:
        # The reader went away (``| head``), or Ctrl+C: stop the answer and let the turn end, saved as cancelled,
        # now, rather than whenever the abandoned generator happens to be collected (until then it holds its
        # conversation: the next question in it would wait).
        response.cancel()
        for _ in response:
            pass
        if isinstance(exc, KeyboardInterrupt) and cancel is not None and not began:
            # interrupted (a second Ctrl+C) before the first word: the turn took the question back
            if saved_in is not None and on_saved is not None:
                on_saved(saved_in if ctx.assistant.history.has_conversation(saved_in) else None)
            raise TakenBack from None
        if isinstance(exc, KeyboardInterrupt) and shown and not sys.stdout.isatty():
            sys.stdout.write("\n")  # an answer cut off in a file or pipe still ends its line ("…ofrc=130")
        raise
    for event in later:
        err(f"[{event.kind}] {event.message}")
    if cancel is not None and cancel.is_set() and response.done is not None:  # Ctrl+C: said by the caller
        if response.done.withdrawn:
            if on_saved is not None:
                on_saved(response.done.conversation_id)
            raise TakenBack
        raise Stopped
    return _Turn(response.done, response.failed, sources, memories.memories if memories else (), tuple(notices))


class _Reading:
    """How far a long prompt is read, on the terminal's line where the answer will begin (stderr, a terminal's
    only), erased when anything else comes: a long paste was a silent minute."""

    def __init__(self, prefix: str) -> None:
        self.prefix, self.shown = prefix, False

    def show(self, progress: Progress) -> None:
        if sys.stderr.isatty():
            ahead = self.prefix if sys.stdout.isatty() else ""  # the line begins with it there
            # within one row: a wrapped line is erased only on its last row (40 columns left a row per update)
            room = shutil.get_terminal_size().columns - 1
            sys.stderr.write(f"\r\x1b[K{ahead}({prompt_read_text(progress)})"[:room + 4])
            sys.stderr.flush()
            self.shown = True

    def end(self) -> None:
        if self.shown:
            self.shown = False
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            if self.prefix and sys.stdout.isatty():
                sys.stdout.write(self.prefix)
                sys.stdout.flush()

    def __enter__(self) -> _Reading:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.end()


def _above(prefix: str, line: str, again: bool = True) -> None:
    """Say ``line`` on stderr on a line of its own while ``prefix`` ("hearth> ") waits for the answer's first
    word on stdout, and show the prefix again under it (``again``): "hearth> [context] Dropped …" ran on one
    line, and the answer began on the next without it; "hearth> hearth: This message needs …" too."""
    if prefix:
        sys.stdout.write("\r\x1b[K" if sys.stdout.isatty() else "\n")
        sys.stdout.flush()
    err(line)
    if prefix and again:
        sys.stdout.write(prefix)
        sys.stdout.flush()


@contextmanager
def _ctrl_c_stops(cancel: threading.Event | None, last: bool = False) -> Iterator[None]:
    """While `hearth chat` streams an answer, Ctrl+C stops it as the window's Stop does: the turn ends itself (a
    question stopped before its first word is taken back) instead of being cut by an interrupt raised inside
    it, which left the stopped question in the chat. A second Ctrl+C interrupts. ``last``: the command ends with
    this answer (`hearth ask`): once stopped, a further Ctrl+C while it says what it kept is the same request (a
    key hit twice cut "stopped: the answer so far is kept" with "interrupted", and its JSON in half)."""
    if cancel is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    asked: list[float] = []

    def stop(signum: int, frame: object) -> None:
        # a press within REPEAT_S of the one that stopped the answer is that press again (a key hit twice): raised
        # while the stopped turn saves, it came out of SQLite's word-splitting function as "The chat history …
        # could not be used (user-defined function raised exception)", exit 1
        if cancel.is_set() and not (asked and time.monotonic() - asked[0] < REPEAT_S):
            raise KeyboardInterrupt
        asked.append(time.monotonic())
        cancel.set()

    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        if cancel.is_set() and not last:
            _absorb_repeats()
        signal.signal(signal.SIGINT, signal.SIG_IGN if last and cancel.is_set() else previous)


#: After Ctrl+C stopped an answer, a press this soon after is the same one (a key hit twice), not the prompt's.
REPEAT_S = 0.3


def _absorb_repeats() -> None:
    """The chat's prompt comes back within milliseconds of a Ctrl+C now (a prompt's batch is abandoned at once):
    a second press of the same stop, meant for the answer, reached the prompt instead. Delivered to another
    thread, it was even raised at the next line typed, which it threw away. Such a press does nothing here."""
    signal.signal(signal.SIGINT, lambda _signum, _frame: None)
    time.sleep(REPEAT_S)
    _handled()


def _handled() -> None:
    """A Python call: entering it runs the handlers of signals still pending (another thread took them), now."""


class TakenBack(KeyboardInterrupt):
    """Ctrl+C before the answer's first word: the question was taken back out of the chat (see ``Done.withdrawn``)."""


class Stopped(KeyboardInterrupt):
    """Ctrl+C once the answer began: it ended there, its line too, and is saved as stopped."""


@dataclass(frozen=True)
class _Turn:
    done: Done | None
    failed: Failed | None
    sources: Sources | None
    memories: tuple[Any, ...]  # the MemoryItems the answer's prompt carried
    notices: tuple[Notice, ...] = ()  # what the user should know about the answer (said on stderr as it came)

    @property
    def cited(self) -> list[Any]:
        """The sources the answer cites (its ``[n]``), in number order."""
        return [c for c in self.sources.citations if c.n in self.sources.cited] if self.sources else []

    def sources_json(self) -> list[dict[str, Any]]:
        """Every passage the answer was given, each marked ``cited`` or not, as the window marks its chips and
        the API its ``citations`` (only the cited ones were listed: a script could not tell what the model
        read and left out)."""
        cited = self.sources.cited if self.sources else ()
        return [{**c.to_dict(), "cited": c.n in cited} for c in (self.sources.citations if self.sources else ())]

    def print_sources(self, assistant: Assistant) -> None:
        """The cited sources (each marked when its file changed since it was indexed), then the memories the
        answer could use, on stderr (stdout stays the answer alone)."""
        for c in self.cited:
            err(f"[{c.n}] {one_line(c.place())}  {c.uri()}{stale_mark(assistant, c)}")
        for m in self.memories:
            err(f"[memory] {m.text}")


def _stats_line(done: Done) -> str:
    s = done.stats
    reuse = f", {s.reused_tokens} reused" if s.reused_tokens else ""
    spec = f", speculative {s.spec_decision}" if s.spec_decision else ""
    before = f" ({s.prepare_s * 1000:.0f} ms of it before the model)" if s.prepare_s >= 0.0005 else ""
    speed = f", {s.decode_tps:.1f} tok/s" if s.decode_tps else ""  # none with one token ("1 tokens, 0.0 tok/s")
    return (f"{counted(s.completion_tokens, 'token')}{speed}, TTFT {s.ttft_s * 1000:.0f} ms{before}, "
            f"prompt {s.prompt_tokens} ({s.evaluated_tokens} evaluated{reuse}), {s.stop_reason}, {s.device}"
            f"{spec}")


def _speculative_json(s: Any) -> dict[str, Any]:
    """What speculation did in one answer, for ``--json``."""
    return {"mode": s.spec_mode, "drafter": s.spec_drafter, "drafted": s.spec_drafted, "accepted": s.spec_accepted,
            "acceptance": round(s.spec_acceptance, 4), "tokens_per_step": round(s.tokens_per_step, 3),
            "draft_prompt_s": round(s.spec_draft_prompt_s, 4), "speedup": s.spec_speedup, "decision": s.spec_decision}


def cmd_ask(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.says_read_only = True  # below, in one line, before the answer
    if args.text == "-":  # the question was asked as "-" and saved with that title
        try:
            args.text = ctx.assistant.text_of(sys.stdin.buffer.read())
        except InputError as exc:
            raise InputError(f"The question on stdin: {exc}") from None
    if args.conversation is not None:
        args.conversation = _known_conversation(ctx, args.conversation).id
    call = _Call.from_args(args, ctx)
    cancel, saved = threading.Event(), list[str | None]()
    # a history that can only be read (a full disk) refused the question; the answer needs no saving to be read
    unsaved = ctx.assistant.history.read_only
    said_unsaved = f"this answer is not saved: the chat history can only be read: {unsaved}." if unsaved else ""
    if said_unsaved:
        problem(said_unsaved)
    try:
        turn = _stream(ctx, args.text, args.conversation, call, echo=not args.json, cancel=cancel,
                       on_saved=saved.append, last=True, save=not unsaved)
    except TakenBack:  # "hearth: interrupted" left the user to wonder whether a half-asked question was kept
        return _stopped(args, "stopped before the answer began: the question was not kept", None)
    except KeyboardInterrupt as exc:  # Ctrl+C once the answer began (Stopped), or twice (the line not ended)
        if not saved or saved[-1] is None:
            raise
        return _stopped(args, f"stopped: the answer so far is kept (`hearth chat -c {saved[-1][:8]}` goes on from "
                        "it)", saved[-1], ended=isinstance(exc, Stopped) or not sys.stdout.isatty())
    done, failed = turn.done, turn.failed
    if failed is not None:
        problem(failed.message)
        if args.json:
            print_json(json_error(failed.error_type, failed.message))
        return _exit_code(failed)
    assert done is not None
    if args.json:
        # what was said on stderr as Hearth opened is the answer's notice too: a program reading the JSON alone
        # never learned that its settings' values were replaced
        opened = [Notice(kind, text) for kind, text in (
            ("settings", ctx.assistant.settings_warning),
            ("history", said_unsaved or ctx.assistant.history_warning)) if text]
        print_json({"answer": done.text, "stats": done.stats.to_dict(), "conversation_id": done.conversation_id,
                    "sources": turn.sources_json(), "speculative": _speculative_json(done.stats),
                    "memories": [m.to_dict() for m in turn.memories],
                    "notices": [n.to_dict() for n in (*opened, *turn.notices)]})
    else:
        turn.print_sources(ctx.assistant)
        err(_stats_line(done))
    sys.stdout.flush()
    return 0  # the core learns from this turn in the background and finishes before the process exits


def _stopped(args: argparse.Namespace, said: str, conversation_id: str | None, ended: bool = True) -> int:
    """Say what an answer stopped with Ctrl+C kept (on a line of its own: ``ended``, the answer's line has
    ended), as JSON too with ``--json``, with the chat to go on from."""
    err(f"{'' if ended else chr(10)}hearth: {said}")
    if args.json:
        print_json({**json_error("Stopped", said), "conversation_id": conversation_id})
    return 130


def _known_conversation(ctx: CliContext, conversation_id: str) -> Any:
    """The conversation ``-c`` names (an id, its start, or ``last``); an unknown one is said before memory and the
    model open (2.5 s). ``-c`` is ``--collection`` to ``index`` and ``search``: an id that names a collection gets
    the option the user probably meant."""
    try:
        return ctx.assistant.history.find_conversation(conversation_id)
    except ConversationNotFoundError as exc:
        try:
            named = any(c.name == conversation_id for c in ctx.assistant.collections())
        except HearthError:  # a knowledge base that cannot be opened: the error as it was
            named = False
        if named:
            raise ConversationNotFoundError(
                f"{exc} Here -c is --conversation; to answer from the collection “{conversation_id}”, use "
                f"--collection {conversation_id}.") from None
        raise


def _exit_code(failed: Failed) -> int:
    """The exit code of the error behind a failed turn, as if it had been raised here (3 for a model error, 2
    for an empty question, 4 for an unknown conversation): a turn reports errors as events, by class name."""
    pending: list[type[HearthError]] = [HearthError]
    while pending:
        error = pending.pop()
        if error.__name__ == failed.error_type:
            return error.exit_code
        pending += error.__subclasses__()
    return HearthError.exit_code


CHAT_COMMANDS = ("/new starts over, /retry answers the last question again, /edit TEXT asks TEXT in its place, "
                 "/quit exits, //text sends text that starts with /.")
#: A line that is one word after a slash is a command, known or not (``/etc/hosts …`` is text).
_SLASH_WORD = re.compile(r"/[A-Za-z]+")


def cmd_chat(args: argparse.Namespace, ctx: CliContext) -> int:
    going_on = None
    if args.conversation is not None:  # an unknown id failed every question, after the model had loaded (exit 4)
        going_on = _known_conversation(ctx, args.conversation)
    conversation_id = going_on.id if going_on is not None else None
    for name in args.collection:  # so did an unknown collection (and the chat ended with exit 0)
        ctx.assistant.collection(name)
    call = _Call.from_args(args, ctx)  # a wrong -m or preset is said before background work starts (3.4 s)
    if call.draft_model is not None:  # and a draft model that cannot be (each turn checks it too: too late here)
        ctx.assistant.check_draft(call.model, call.sampling(ctx.assistant).speculative.mode, call.draft_model)
    ctx.long_lived()  # watched folders are watched while the chat runs
    info = ctx.assistant.ensure_model(model=call.model)
    err(f"Hearth chat with {info.precise_name} on {ctx.assistant.engine.device}. {CHAT_COMMANDS}")
    if going_on is not None:  # where the chat is (it opened on a bare prompt: which chat, and where in it?)
        _say_where(ctx, going_on)
    if sys.stdin.isatty():
        # Line editing and history, lines of any length (the terminal's own line buffer cut them at 4,095
        # bytes, silently), and a multi-line paste kept as one message (readline's bracketed paste: each
        # pasted line was sent as a question of its own).
        import readline  # noqa: F401
    interrupted = False  # the last prompt ended in Ctrl+C
    typed = sys.stdin.isatty()
    unanswered = 0  # questions of a transcript (a file, a pipe) that got no answer
    while True:
        ctx.say_heard()  # learned, or a settings change applied, while the last answer was read: said above the
        # prompt, not across it
        try:
            # questions from a file or a pipe are written out as a transcript ("you> line"): prompted for, they
            # were "you> you> hearth> …", without the questions, and a last "you> " hung at the end
            # (a file's byte-order mark, Notepad's UTF-8, was sent to the model, which wrote it back)
            line = input("you> " if typed else "").lstrip("\ufeff").strip()
            if not typed and line:  # (flushed: stderr's lines between come in their place with 2>&1)
                sys.stdout.write(f"you> {line}\n")
                sys.stdout.flush()
        except EOFError:
            err("")
            return _left(unanswered)
        except KeyboardInterrupt:
            # at the prompt it clears the line, as a shell's does, and twice in a row on an empty line leaves
            # (exit 130, as a command stopped by Ctrl+C): once, it ended the chat with exit 0 and no word, like
            # /quit; and Ctrl+C, a few words typed, Ctrl+C to clear them left the chat
            if _typed():
                interrupted = False
                err("")
                continue
            if interrupted:
                err("")
                return 130
            interrupted = True
            err("\n(Ctrl+C again, Ctrl+D or /quit leaves the chat)")
            continue
        interrupted = False
        if not line:
            continue
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:  # bytes read as lone surrogates (Latin-1 text): they crashed the chat (exit 70)
            problem("That line is not valid UTF-8 text, so it was not sent; type it again.")
            continue
        if line.split(maxsplit=1)[0] in ("/quit", "/exit"):
            return _left(unanswered)
        if line == "/new":
            conversation_id = None
            err("(new conversation)")
            continue
        replace_from, turn_call, command = None, call, line.split(maxsplit=1)[0]
        if command in ("/retry", "/edit"):
            replaced = _replacing(ctx, conversation_id, line)
            if replaced is None:
                continue
            line, replace_from = replaced
            if command == "/retry":  # which question, when it was asked in an earlier session (chat -c)
                err(f"(asking again: {line})")
            # as in the window: a retry is asked from its question's collections, an edit with this chat's; memory
            # is as this chat has it (--no-memory or not), as the window's chip says: a question asked incognito,
            # retried in a chat with memory, was not learned from, with nothing to say why
            turn_call = dc_replace(call, collections=None if command == "/retry" else call.collections)
        elif _SLASH_WORD.fullmatch(command):  # /help, or a typo such as /quti: not for the model
            err(CHAT_COMMANDS if line == "/help" else f"Unknown command {command}. {CHAT_COMMANDS}")
            continue
        else:
            line = line[1:] if line.startswith("//") else line
        ctx.say_heard()  # a change that came while the question was typed (`hearth models use`): before its answer
        cancel = threading.Event()
        # on a terminal "hearth> " waits for the answer; in a transcript (a file, a pipe) it is written with the
        # answer's first word, after what is said before it ("hearth> ", a notice, "hearth> " again)
        shown = "hearth> " if sys.stdout.isatty() else ""
        sys.stdout.write(shown)
        saved: list[str | None] = []
        try:
            turn = _stream(ctx, line, conversation_id, turn_call, echo=True, cancel=cancel, prefix=shown,
                           on_saved=saved.append, replace_from=replace_from, lead="" if shown else "hearth> ")
            done, failed = turn.done, turn.failed
            if (failed is not None and failed.error_type == ConversationNotFoundError.__name__ and not saved
                    and replace_from is None):
                # deleted by another window or command: every later message failed the same way and was lost
                _above(shown, "(this conversation was deleted elsewhere: carrying on in a new one)")
                conversation_id = None
                turn = _stream(ctx, line, None, call, echo=True, cancel=cancel, prefix=shown,
                               on_saved=saved.append, lead="" if shown else "hearth> ")
                done, failed = turn.done, turn.failed
        except TakenBack:
            _above(shown, "(stopped before the answer began: the message was not kept; the Up arrow brings it "
                   "back)", again=False)
            conversation_id = saved[-1] if saved else conversation_id  # None: the chat made for it went too
            continue
        except KeyboardInterrupt:
            cancel.set()
            err("\n(stopped)")
            conversation_id = saved[-1] if saved else conversation_id  # it started a new one: carry on in it
            continue
        except HearthError as exc:  # the history could not be written (a full disk): said, and the chat goes on
            # (it ended with exit 1, the question just typed lost)
            _above(shown, f"hearth: {exc}", again=False)
            if not shown:
                unanswered += _not_answered()
            if not saved and typed:  # (no Up arrow brings back a line of a file or a pipe)
                err("(the message was not kept; the Up arrow brings it back)")
            conversation_id = saved[-1] if saved else conversation_id
            continue
        conversation_id = saved[-1] if saved else conversation_id  # a failed answer's question was saved too
        if failed is not None:
            _above("" if failed.text else shown, f"hearth: {failed.message}", again=False)
            if not failed.text and not shown:
                unanswered += _not_answered()
        elif done is not None:
            turn.print_sources(ctx.assistant)
            err(f"({_stats_line(done)})")


def _left(unanswered: int) -> int:
    """The chat's exit status: 1 where questions went unanswered (a script reading a transcript checks $?: it was
    0 with none answered), said once more."""
    if unanswered:
        problem(f"{counted(unanswered, 'question')} of this chat went unanswered (said above).")
    return 1 if unanswered else 0


def _not_answered() -> int:
    """A transcript's line for a question that got no answer (it read as a blank answer); 1, counted."""
    sys.stdout.write("hearth> (not answered: the error is on stderr)\n")
    sys.stdout.flush()
    return 1


def _say_where(ctx: CliContext, conversation: Any) -> None:
    """The chat `hearth chat -c` goes on with: its title, length and last exchange, one line each."""
    err(f"(going on with “{conversation.title}”, {counted(conversation.message_count, 'message')})")
    last = ctx.assistant.history.messages(conversation.id)[-2:]
    for m in last:
        err(f"{'you' if m.role == 'user' else 'hearth'}> {one_line(short_title(m.content, _SHOWN_CHARS))}")


#: The most of a message `hearth chat -c` shows of the chat's last exchange.
_SHOWN_CHARS = 160


def _typed() -> str:
    """The text on the prompt's line when Ctrl+C came (readline keeps it; without readline none is known)."""
    readline = sys.modules.get("readline")
    return readline.get_line_buffer() if readline is not None else ""


def _replacing(ctx: CliContext, conversation_id: str | None, line: str) -> tuple[str, str] | None:
    """For ``/retry`` and ``/edit TEXT``, as the window's Regenerate and edit-and-resend: the question to ask and
    the id of the question it replaces (it and its answer go once the new answer has text); None, said why,
    when there is nothing to replace."""
    command, edit = [*line.split(maxsplit=1), ""][:2]
    if command == "/edit" and not edit:
        err("Give the new question: /edit TEXT.")
        return None
    try:
        messages = ctx.assistant.history.messages(conversation_id) if conversation_id is not None else []
    except ConversationNotFoundError:
        messages = []
        err("(this conversation was deleted elsewhere)")
    question = next((m for m in reversed(messages) if m.role == "user"), None)
    if question is None:
        err(f"Nothing to {command[1:]} yet: ask a question first.")
        return None
    return edit or question.content, question.id


def cmd_history_list(args: argparse.Namespace, ctx: CliContext) -> int:
    convs = ctx.assistant.history.list_conversations(args.limit)
    if args.json:
        print_json([c.__dict__ for c in convs])
    for c in [] if args.json else convs:  # when: 1,500 chats listed without a date to tell them by
        when = local_minute(c.updated_at)
        print(f"{c.id}  {when}  {c.message_count:3d} msgs  {c.title}")
    if not convs and not args.json:  # it printed nothing: no chats, or a wrong HEARTH_HOME?
        err("No chats yet.")
    return 0


#: Chats `hearth history search` lists unless --limit says otherwise.
_LISTED_CHATS = 50


def cmd_history_search(args: argparse.Namespace, ctx: CliContext) -> int:
    if not args.query.strip():  # as `hearth search ""`: it printed nothing (exit 0)
        raise InputError("The search text is empty: give some words to look for.")
    # text: each matching chat once, best first; JSON: every matching message (50 cut a busy chat's others off),
    # or the --limit asked for (it was ignored)
    limit = args.limit or (MAX_COUNT if args.json else _LISTED_CHATS)
    hits = ctx.assistant.history.search(args.query, limit=limit if args.json else limit + 1,
                                        per_conversation=not args.json)
    if args.json:
        print_json([h.__dict__ for h in hits])
        return 0
    for h in hits[:limit]:
        print(f"{h.conversation_id}  {h.title}: {' '.join(h.snippet.split())}")  # one line per hit
    if not hits:
        err(f"No chats match {args.query!r}.")
    elif len(hits) > limit:  # the list stopped at 50 without a word
        best = "this is the best one" if limit == 1 else f"these are the best {limit}"
        err(f"More than {counted(limit, 'chat')} match: {best}. Add words to narrow the search, "
            f"or show more with --limit.")
    return 0


def cmd_history_export(args: argparse.Namespace, ctx: CliContext) -> int:
    print(ctx.assistant.history.export(ctx.assistant.history.find_conversation(args.id).id, args.format), end="")
    return 0


def cmd_history_rename(args: argparse.Namespace, ctx: CliContext) -> int:
    history = ctx.assistant.history
    try:  # the title is checked first ("cannot be empty"), then the chat as typed, then as the start of an id
        renamed = history.rename(args.id, args.title)
    except ConversationNotFoundError:
        renamed = history.rename(history.find_conversation(args.id).id, args.title)
    err(f"Renamed chat {renamed.id} to {renamed.title!r}.")  # as it was saved: spaces tidied
    return 0


def cmd_history_delete(args: argparse.Namespace, ctx: CliContext) -> int:
    args.id = ctx.assistant.history.find_conversation(args.id).id
    kept = 0 if args.forget_memories else ctx.assistant.chat_memories(args.id)
    forgot = ctx.assistant.delete_chat(args.id, forget_memories=args.forget_memories)
    if forgot:
        err(f"Deleted chat {args.id} and forgot the {counted(forgot, 'memory', 'memories')} learned from it.")
    elif kept:
        err(f"Deleted chat {args.id}. Kept the {counted(kept, 'memory', 'memories')} learned from it: "
            f"`hearth memory forget --chat {args.id}` forgets them.")
    else:
        err(f"Deleted chat {args.id}.")
    return 0
