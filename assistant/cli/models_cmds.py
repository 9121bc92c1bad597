"""``hearth models list|inspect|add|remove|use|download|catalog|search|draft|drafts``: rendering over
``Assistant.models``."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.cli.context import (
    CliContext,
    JobLine,
    confirmed,
    err,
    non_negative_int,
    positive_int,
    print_json,
    problem,
    quit_signals_as_ctrl_c,
)
from assistant.errors import HearthError, InputError
from assistant.events import Progress

if TYPE_CHECKING:
    from assistant.models import LibraryEntry
    from assistant.models.downloads import DownloadProgress
    from assistant.models.drafts import DraftCandidate


_CTX_HELP = ("context length for the fit estimate (0: each model's maximum, as the settings' 0 means; default: each "
             "model's own setting, as loading it uses)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="local GGUF models: library, downloads, switching")
    ms = p.add_subparsers(dest="models_cmd", metavar="ACTION", required=True)
    m = ms.add_parser("list", help="models in the library, with a fit estimate for this machine")
    m.add_argument("--ctx", type=non_negative_int, help=_CTX_HELP)
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_list)
    m = ms.add_parser("inspect", help="show a GGUF file's metadata, fit estimate, and whether it can be loaded")
    m.add_argument("path", metavar="MODEL", help="a GGUF file's path, or a library model's name (as `use` takes)")
    m.add_argument("--ctx", type=non_negative_int, help=_CTX_HELP)
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_inspect)
    m = ms.add_parser("add", help="add a GGUF file (in place, or --copy into the models folder) or a folder")
    m.add_argument("path")
    m.add_argument("--copy", action="store_true", help="copy the file into Hearth's models folder")
    m.set_defaults(func=cmd_add)
    m = ms.add_parser("remove", help="forget a model or folder (deletes only files in Hearth's models folder)")
    m.add_argument("name", help="name (or a unique part of it), file name, stem or path of a model, or a folder")
    m.add_argument("--yes", action="store_true", help="do not ask before deleting a file in Hearth's models folder")
    m.set_defaults(func=cmd_remove)
    m = ms.add_parser("use", help="load a model and make it the chat model (the old one stays if it fails)")
    m.add_argument("path", metavar="NAME", help="name as `models list` shows it (or a unique part), file name or path")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_use)
    m = ms.add_parser("download", help="download a GGUF from Hugging Face into the library (resumable)")
    m.add_argument("repo", help="Hugging Face repository, e.g. bartowski/Qwen2.5-1.5B-Instruct-GGUF")
    m.add_argument("file", help="file in that repository")
    m.add_argument("--sha256", help="insist on this sha256 (the Hub's own is always checked)")
    m.add_argument("--revision", help="branch, tag or commit (default: main)")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_download)
    m = ms.add_parser("catalog", help="curated models to download, with a fit estimate for this machine")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_catalog)
    m = ms.add_parser("search", help="search Hugging Face for GGUF models (uses the network for this call only)")
    m.add_argument("query")
    m.add_argument("--limit", type=positive_int, default=10, help="at most this many repositories (default 10)")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_search)
    m = ms.add_parser("draft", help="make a lower-bit copy of a model to draft for it (self-speculation)")
    m.add_argument("name", metavar="NAME", help="name as `models list` shows it (or a unique part), file name or path")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_draft)
    m = ms.add_parser("drafts", help="models that can draft for a model (speculative decoding), and why others cannot")
    m.add_argument("name", metavar="NAME", nargs="?", help="the target model (default: the configured one)")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_drafts)


def _entry_text(e: LibraryEntry, in_use: bool) -> str:
    if e.info is None or e.fit is None:  # the model in use may be one: its file moved (`remove` refuses it as in use)
        return f"✗ {e.file}  ({e.source}{', in use' if in_use else ''})  {e.error}\n  {e.path}"
    i = e.info
    template = "chat template" if i.has_chat_template else "no chat template (base model)"
    return (f"{'▶' if in_use else '•'} {e.shown}  {i.architecture} {i.params_label()} {i.quantization}  "
            f"{i.file_size / 1e6:.0f} MB  ctx {i.context_length}  {template}  vocab {i.vocab_fingerprint}  "
            f"({e.source}{', in use' if in_use else ''})\n  {e.fit.said()}\n  {e.path}")


def cmd_list(args: argparse.Namespace, ctx: CliContext) -> int:
    """Every model in the library; the one answers use (the configured model, as `hearth models use` set it)
    is marked, as the window's model view marks it: the list did not say which one that was."""
    models = ctx.assistant.models
    entries = models.entries(args.ctx)
    current = ctx.assistant.model_path().resolve()
    if args.json:
        print_json([{**e.to_dict(), "in_use": e.path.resolve() == current} for e in entries])
        return 0
    for e in entries:
        print(_entry_text(e, e.path.resolve() == current))
    if not entries:
        err(f"No models found. Put .gguf files in {models.paths.models_dir} or add one with `hearth models add PATH`.")
    return 0


def cmd_inspect(args: argparse.Namespace, ctx: CliContext) -> int:
    models = ctx.assistant.models
    # a library name as `use` and `drafts` take it (only a path was read: "gemma" was "Model file not found")
    path: str | Path = args.path
    if not Path(args.path).expanduser().exists():
        with contextlib.suppress(HearthError):  # no such model either: the file's own error is said below
            path = models.find(args.path)
    entry = models.inspect(path, args.ctx)
    data = entry.to_dict()
    if args.json:
        print_json(data)
        return 0
    for key in ("name", "architecture", "params", "quantization", "file_size", "context_length", "n_layer",
                "n_embd", "n_head", "n_head_kv", "vocab_size", "chat_template", "bos_token", "eos_token",
                "vocab_fingerprint", "source", "path"):
        print(f"{key:>16}: {data[key]}")
    assert entry.fit is not None  # inspect raises for a file it cannot read
    print(f"{'fit':>16}: {entry.fit.said()}")
    return 0


def cmd_add(args: argparse.Namespace, ctx: CliContext) -> int:
    library = ctx.assistant.models.library
    known = {p for p, _source in library.scan()} | set(library.folders())  # said "Added" again for these
    with quit_signals_as_ctrl_c():  # a copy stopped leaves no half-written model
        path = ctx.assistant.models.add(args.path, copy=args.copy)
    print(f"Already in the library: {path}." if path in known and not args.copy
          else f"Added {path}{' (copied)' if args.copy else ''}.")
    if path.is_dir():  # "Added" alone, for a folder holding no model, read as if models had been found
        held = ctx.assistant.models.folder_contents(path)
        print(f"It {held.holds()}" + (f" (`hearth models list` {'says why' if held.unusable else 'lists them'})."
                                      if held.said() else "; models put there later are listed."))
    return 0


def cmd_remove(args: argparse.Namespace, ctx: CliContext) -> int:
    """A file in Hearth's own models folder is deleted: asked first, as the window asks (it was deleted without a
    word, where the window's Remove asks), with `memory clear`'s rule: --yes, or a terminal to answer on."""
    deleting = None if args.yes else ctx.assistant.removal_deletes(args.name)
    if deleting is not None:
        doomed, size = deleting[0], f"{deleting[1] / 1e6:.1f} MB"  # a split model's files together
        if not sys.stdin.isatty():
            raise InputError(f"Nothing was deleted: removing {doomed.name} ({size}) deletes it from Hearth's models "
                             "folder; with no terminal to ask in, pass --yes to delete it.")
        if not confirmed(f"Delete {doomed.name} ({size}) from Hearth's models folder ({doomed.parent})? [y/N] "):
            raise HearthError("Nothing was deleted.")
    removal = ctx.assistant.remove_model(args.name)
    kept = "still on disk" if removal.path.exists() else "the file was already gone"
    print(f"{'Deleted' if removal.deleted_file else f'Removed from the library ({kept})'}: {removal.path}")
    for draft in removal.drafts:
        print(f"Deleted a self-draft only it used: {draft}")
    if removal.was_draft:
        print("It was the draft model in the settings: speculative decoding chooses its own now (Automatic).")
    return 0


def cmd_use(args: argparse.Namespace, ctx: CliContext) -> int:
    assistant = ctx.assistant
    info = assistant.use_model(assistant.models.find(args.path))
    if info is None:  # a remote LLM answers: the choice is recorded for when it is switched off
        url = assistant.remote_llm_url
        if args.json:
            print_json({"model": None, "local_model": str(assistant.model_path()), "remote_llm": url})
        else:
            print(f"{assistant.recorded_model_note()} (answers come from the remote LLM at {url}; "
                  "settings: [remote] llm_url).")
        return 0
    if args.json:
        print_json({"model": info.to_dict(), "device": assistant.engine.device})
    else:
        print(f"Now using {info.precise_name} on {assistant.engine.device}.")
    return 0


def cmd_download(args: argparse.Namespace, ctx: CliContext) -> int:
    line = JobLine(f"Downloading {args.repo}/{args.file}…")

    def report(p: DownloadProgress) -> None:
        line(Progress("download", p.downloaded, p.total, "bytes", rate=p.speed, eta_s=p.eta_s))

    try:
        with quit_signals_as_ctrl_c():
            result = ctx.assistant.models.download(args.repo, args.file, report, revision=args.revision,
                                                   sha256=args.sha256)
    except KeyboardInterrupt:
        err("")  # the progress line ends first
        problem("download interrupted; run the same command again to resume where it stopped.")
        return 130
    finally:
        line.end()
    if args.json:
        print_json({"path": str(result.path), "size": result.size, "sha256": result.sha256,
                    "verified": result.verified, "resumed_from": result.resumed_from})
    else:
        check = "sha256 verified" if result.verified else "no sha256 to verify against"
        print(f"Downloaded {result.path} ({result.size / 1e6:.1f} MB, {check}).")
    return 0


def cmd_catalog(args: argparse.Namespace, ctx: CliContext) -> int:
    rows = ctx.assistant.models.catalog()
    if args.json:
        print_json([r.to_dict() for r in rows])
        return 0
    for r in rows:
        e = r.entry
        mark = "✓ installed" if r.installed else r.fit
        draft = f"  draft: {e.draft}" if e.draft else ""
        print(f"• {e.name}  {e.params} {e.quantization}  {e.size / 1e9:.2f} GB  [{mark}]  {e.license}{draft}\n"
              f"  {e.description}\n  hearth models download {e.repo} {e.file}")
    return 0


def cmd_search(args: argparse.Namespace, ctx: CliContext) -> int:
    repos = ctx.assistant.models.search_hub(args.query, args.limit)
    if args.json:
        print_json([r.to_dict() for r in repos])
        return 0
    if not repos:
        err(f"No GGUF models on Hugging Face match {args.query!r}.")
    for repo in repos:
        print(f"• {repo.id}  ({repo.downloads:,} downloads, {repo.likes:,} likes)")
        for f in repo.files:
            print(f"    {f.file}  {f.size / 1e9:.2f} GB  [{f.fit}]  hearth models download {repo.id} {f.file}")
    return 0


def cmd_draft(args: argparse.Namespace, ctx: CliContext) -> int:
    models = ctx.assistant.models
    target = models.find(args.name)
    before = models.self_draft_path(target)  # None: the model gets none, and make_self_draft says why
    mtime = before.stat().st_mtime_ns if before is not None and before.is_file() else None
    started = time.time()
    line = JobLine(f"Making a self-draft of {target.name}…")
    try:
        with quit_signals_as_ctrl_c():
            path = models.make_self_draft(target, progress=line)
    except KeyboardInterrupt:
        line.end()
        problem("cancelled; nothing was written.")
        return 130
    line.end()
    made = path.stat().st_mtime_ns != mtime  # an existing usable one is returned as it is
    size = path.stat().st_size
    if args.json:
        print_json({"path": str(path), "target": str(target), "size": size, "made": made})
        return 0
    name = models.inspect(target).name
    err(f"{'Made' if made else 'Already made'}: a {size / 1e6:.1f} MB self-draft of {name}"
        f"{f' in {time.time() - started:.1f} s' if made else ''}. It drafts when the speculative mode is "
        "self, and in auto mode when neither a draft model set nor a smaller model with the same vocabulary can "
        "draft (`hearth models drafts` says which drafts).")
    print(path)
    return 0


def _candidate_text(c: DraftCandidate) -> str:
    mark = "✓" if c.compatible else "✗"
    quant = f"  {c.quantization}" if c.quantization else ""
    size = f"  {c.size / 1e6:.0f} MB" if c.size else ""
    tags = ", ".join([c.kind, *(["suggested"] if c.suggested else [])])
    why = f"\n  {c.reason}" if c.reason else ""
    where = f"\n  {c.path}" if c.path and c.compatible else ""
    return f"{mark} {c.name}{quant}{size}  ({tags}){why}{where}"


_NO_DRAFT = {"auto": "no draft model: n-gram lookup only", "ngram": "no draft model (n-gram lookup)",
             "off": "speculation is off"}


def cmd_drafts(args: argparse.Namespace, ctx: CliContext) -> int:
    assistant = ctx.assistant
    models = assistant.models
    target = models.find(args.name) if args.name else None
    candidates = models.draft_candidates(target)
    target = target or Path(assistant.model_path()).resolve()
    mode = assistant.settings.model.speculative
    try:
        chosen, note = models.resolve_draft(target, mode), None
    except HearthError as exc:
        chosen, note = None, str(exc)
    if args.json:
        print_json({"target": str(target), "mode": mode, "draft": str(chosen) if chosen else None, "note": note,
                    "candidates": [c.to_dict() for c in candidates]})
        return 0
    print(f"Draft models for {models.inspect(target).name} ({target.name}):")
    for c in candidates:
        print(_candidate_text(c))
    if not candidates:
        print("  (no other models in the library)")
    # named as the lines above name it (a bare path ended the listing)
    used = f"{models.inspect(chosen).name} ({chosen})" if chosen else note or _NO_DRAFT.get(mode, "no draft model")
    print(f"With speculative = {mode}: {used}")
    return 0
