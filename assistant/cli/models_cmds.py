"""``hearth models list|inspect|use``."""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant.cli.context import CliContext, err, print_json
from assistant.engine import read_model_info
from assistant.errors import ModelLoadError
from assistant.paths import RESOURCES, get_paths


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="local GGUF models")
    ms = p.add_subparsers(dest="models_cmd", metavar="ACTION", required=True)
    m = ms.add_parser("list", help="models in the bundled and the user models folders")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_list)
    m = ms.add_parser("inspect", help="show a GGUF file's metadata (and whether it can be loaded)")
    m.add_argument("path")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_inspect)
    m = ms.add_parser("use", help="load a model and make it the chat model")
    m.add_argument("path")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_use)


def _model_files() -> list[Path]:
    folders = [RESOURCES / "models", get_paths().models_dir]
    return sorted({p.resolve() for d in folders if d.is_dir() for p in d.glob("*.gguf")})


def cmd_list(args: argparse.Namespace, ctx: CliContext) -> int:
    rows = []
    for path in _model_files():
        try:
            rows.append(read_model_info(path).to_dict() | {"error": None})
        except ModelLoadError as exc:
            rows.append({"path": str(path), "name": path.stem, "error": str(exc)})
    if args.json:
        print_json(rows)
        return 0
    for r in rows:
        if r["error"]:
            print(f"✗ {r['name']}  {r['error']}")
        else:
            template = "chat template" if r["chat_template"] else "no chat template (base model)"
            print(f"• {r['name']}  {r['architecture']} {r['params']} {r['quantization']}  "
                  f"{r['file_size'] / 1e6:.0f} MB  ctx {r['context_length']}  {template}\n  {r['path']}")
    if not rows:
        err(f"No models found. Put .gguf files in {get_paths().models_dir}.")
    return 0


def cmd_inspect(args: argparse.Namespace, ctx: CliContext) -> int:
    info = read_model_info(args.path)
    data = info.to_dict()
    if args.json:
        print_json(data)
        return 0
    for key in ("name", "architecture", "params", "quantization", "file_size", "context_length", "n_layer",
                "n_embd", "n_head", "n_head_kv", "vocab_size", "chat_template", "bos_token", "eos_token",
                "vocab_fingerprint", "path"):
        print(f"{key:>16}: {data[key]}")
    return 0


def cmd_use(args: argparse.Namespace, ctx: CliContext) -> int:
    info = ctx.assistant.use_model(args.path)
    if args.json:
        print_json({"model": info.to_dict(), "device": ctx.assistant.engine.device})
    else:
        print(f"Now using {info.name} ({info.quantization}) on {ctx.assistant.engine.device}.")
    return 0
