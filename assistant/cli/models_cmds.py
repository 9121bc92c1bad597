"""``hearth models list|inspect|add|remove|use|download|catalog``."""

from __future__ import annotations

import argparse
import sys

from assistant.cli.context import CliContext, err, print_json
from assistant.config import load_settings
from assistant.engine import read_model_info
from assistant.models import (
    DownloadProgress,
    LibraryEntry,
    ModelLibrary,
    download_model,
    estimate_fit,
    find_entry,
    load_catalog,
    probe_resources,
)
from assistant.models.fit import FitEstimate, rough_fit
from assistant.paths import get_paths


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="local GGUF models: library, downloads, switching")
    ms = p.add_subparsers(dest="models_cmd", metavar="ACTION", required=True)
    m = ms.add_parser("list", help="models in the library, with a fit estimate for this machine")
    m.add_argument("--ctx", type=int, help="context length for the fit estimate (default: the settings')")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_list)
    m = ms.add_parser("inspect", help="show a GGUF file's metadata, fit estimate, and whether it can be loaded")
    m.add_argument("path")
    m.add_argument("--ctx", type=int, help="context length for the fit estimate (default: the settings')")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_inspect)
    m = ms.add_parser("add", help="add a GGUF file (in place, or --copy into the models folder) or a folder")
    m.add_argument("path")
    m.add_argument("--copy", action="store_true", help="copy the file into Hearth's models folder")
    m.set_defaults(func=cmd_add)
    m = ms.add_parser("remove", help="forget a model or folder (deletes only files in Hearth's models folder)")
    m.add_argument("name", help="file name, stem or path of a model, or a folder added with `add`")
    m.set_defaults(func=cmd_remove)
    m = ms.add_parser("use", help="load a model and make it the chat model (the old one stays if it fails)")
    m.add_argument("path", metavar="NAME", help="file name, stem or path of a model")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_use)
    m = ms.add_parser("download", help="download a GGUF from Hugging Face into the library (resumable)")
    m.add_argument("repo", help="Hugging Face repository, e.g. bartowski/Qwen2.5-1.5B-Instruct-GGUF")
    m.add_argument("file", help="file in that repository")
    m.add_argument("--sha256", help="expected sha256 (catalog models have theirs built in)")
    m.add_argument("--revision", help="branch, tag or commit (default: main)")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_download)
    m = ms.add_parser("catalog", help="curated models to download, with a fit estimate for this machine")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_catalog)


def _library() -> ModelLibrary:
    return ModelLibrary.for_paths(get_paths().ensure())


def _ctx(args: argparse.Namespace) -> int:
    return args.ctx if args.ctx is not None else load_settings(get_paths().settings_file).settings.model.n_ctx


def _fit_line(fit: FitEstimate) -> str:
    return (f"{fit.label} at {fit.n_ctx} tokens: needs {fit.ram_needed / 2**30:.2f} GiB RAM of "
            f"{fit.free_ram / 2**30:.1f} free, GPU layers {fit.n_gpu_layers}. {fit.reason}")


def _entry_text(e: LibraryEntry) -> str:
    if e.info is None or e.fit is None:
        return f"✗ {e.file}  ({e.source})  {e.error}\n  {e.path}"
    i = e.info
    template = "chat template" if i.has_chat_template else "no chat template (base model)"
    return (f"• {i.name}  {i.architecture} {i.params_label()} {i.quantization}  {i.file_size / 1e6:.0f} MB  "
            f"ctx {i.context_length}  {template}  vocab {i.vocab_fingerprint}  ({e.source})\n"
            f"  {_fit_line(e.fit)}\n  {e.path}")


def cmd_list(args: argparse.Namespace, ctx: CliContext) -> int:
    library = _library()
    entries = library.entries(_ctx(args))
    if args.json:
        print_json([e.to_dict() for e in entries])
        return 0
    for e in entries:
        print(_entry_text(e))
    if not entries:
        err(f"No models found. Put .gguf files in {library.models_dir} or add one with `hearth models add PATH`.")
    return 0


def cmd_inspect(args: argparse.Namespace, ctx: CliContext) -> int:
    info = read_model_info(args.path)
    fit = estimate_fit(info, _ctx(args), probe_resources())
    data = info.to_dict() | {"fit": fit.to_dict()}
    if args.json:
        print_json(data)
        return 0
    for key in ("name", "architecture", "params", "quantization", "file_size", "context_length", "n_layer",
                "n_embd", "n_head", "n_head_kv", "vocab_size", "chat_template", "bos_token", "eos_token",
                "vocab_fingerprint", "path"):
        print(f"{key:>16}: {data[key]}")
    print(f"{'fit':>16}: {_fit_line(fit)}")
    return 0


def cmd_add(args: argparse.Namespace, ctx: CliContext) -> int:
    path = _library().add(args.path, copy=args.copy)
    print(f"Added {path}{' (copied)' if args.copy else ''}.")
    return 0


def cmd_remove(args: argparse.Namespace, ctx: CliContext) -> int:
    removal = _library().remove(args.name)
    print(f"{'Deleted' if removal.deleted_file else 'Removed from the library (still on disk)'}: {removal.path}")
    return 0


def cmd_use(args: argparse.Namespace, ctx: CliContext) -> int:
    info = ctx.assistant.use_model(_library().find(args.path))
    if args.json:
        print_json({"model": info.to_dict(), "device": ctx.assistant.engine.device})
    else:
        print(f"Now using {info.name} ({info.quantization}) on {ctx.assistant.engine.device}.")
    return 0


def _show_progress(p: DownloadProgress) -> None:
    total = f"/{p.total / 1e6:.1f} MB ({p.fraction:.0%})" if p.total else " MB"
    eta = f", {p.eta_s:.0f} s left" if p.eta_s is not None else ""
    sys.stderr.write(f"\r  {p.downloaded / 1e6:.1f}{total} at {p.speed / 1e6:.1f} MB/s{eta}   ")
    sys.stderr.flush()


def cmd_download(args: argparse.Namespace, ctx: CliContext) -> int:
    entry = find_entry(args.repo, args.file)
    sha256 = args.sha256 or (entry.sha256 if entry else None)
    err(f"Downloading {args.repo}/{args.file}{' (catalog: ' + entry.name + ')' if entry else ''}…")
    try:
        result = download_model(args.repo, args.file, get_paths().ensure().models_dir, sha256=sha256,
                                revision=args.revision, on_progress=_show_progress)
    except KeyboardInterrupt:
        err("\nhearth: download interrupted; run the same command again to resume where it stopped.")
        return 130
    finally:
        err("")  # end the progress line
    if args.json:
        print_json({"path": str(result.path), "size": result.size, "sha256": result.sha256,
                    "verified": result.verified, "resumed_from": result.resumed_from})
    else:
        check = "sha256 verified" if result.verified else "no sha256 to verify against"
        print(f"Downloaded {result.path} ({result.size / 1e6:.1f} MB, {check}).")
    return 0


def cmd_catalog(args: argparse.Namespace, ctx: CliContext) -> int:
    resources = probe_resources()
    installed = {path.name for path, _source in _library().scan() if path.exists()}
    rows = [e.to_dict() | {"installed": e.file in installed, "fit": rough_fit(e.size, resources)}
            for e in load_catalog()]
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        mark = "✓ installed" if r["installed"] else r["fit"]
        draft = f"  draft: {r['draft']}" if r["draft"] else ""
        print(f"• {r['name']}  {r['params']} {r['quantization']}  {r['size'] / 1e9:.2f} GB  [{mark}]  {r['license']}"
              f"{draft}\n  {r['description']}\n  hearth models download {r['repo']} {r['file']}")
    return 0
