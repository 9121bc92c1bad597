"""``hearth settings``: every setting the window's Settings has, from the command line (show, set, reset).

A setting set here is checked as the settings file is (the same types, ranges and choices), applied by the
facade as the window's Apply applies it, and saved; a running window, ``hearth chat`` or ``hearth serve`` sees
the file change and applies it at once. The ``[model]`` section is the current model's own profile: another
model keeps its values (``hearth models use`` switches, with them). Secrets are said to be set, never printed.
"""

from __future__ import annotations

import argparse
from typing import Any

from assistant.cli.context import CliContext, err, print_json
from assistant.config import SECRETS, Settings, find_setting, setting_keys, setting_value, with_setting
from assistant.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("settings", help="show or change settings (context, GPU layers, threads, sampling, …)")
    p.add_argument("--json", action="store_true", help="print the settings as JSON on stdout")
    p.set_defaults(func=cmd_show, keys=[])
    ss = p.add_subparsers(dest="settings_cmd", metavar="ACTION")
    s = ss.add_parser("show", help="every setting, or those named, with its default where it differs")
    s.add_argument("keys", nargs="*", metavar="KEY", help="section.name, or a name only one section has (n_ctx)")
    s.add_argument("--json", action="store_true", help="print the settings as JSON on stdout")
    s.set_defaults(func=cmd_show)
    s = ss.add_parser("set", help="change settings, applied and saved now: KEY VALUE, or KEY=VALUE …")
    s.add_argument("pairs", nargs="+", metavar="KEY=VALUE",
                   help="e.g. `n_gpu_layers=-1 n_ctx=8192` (changed together: a model loads once)")
    s.set_defaults(func=cmd_set)
    s = ss.add_parser("reset", help="put settings back to their defaults")
    s.add_argument("keys", nargs="+", metavar="KEY")
    s.set_defaults(func=cmd_reset)


def cmd_show(args: argparse.Namespace, ctx: CliContext) -> int:
    assistant = ctx.assistant
    keys = [find_setting(k) for k in args.keys] or setting_keys()
    defaults = Settings()
    shown = {key: _shown(key, setting_value(assistant.settings, key)) for key in keys}
    if args.json:
        print_json({"file": str(assistant.paths.settings_file), "model": assistant.model_path().name,
                    "settings": shown, "defaults": {k: _shown(k, setting_value(defaults, k)) for k in keys}})
        return 0
    if not args.keys:
        print(f"# {assistant.paths.settings_file}; [model] is {assistant.model_path().name}'s own "
              "(each model keeps its values)")
    for key, value in shown.items():
        default = _shown(key, setting_value(defaults, key))
        note = f"  # default {_toml(default)}" if value != default and key not in SECRETS else ""
        print(f"{key} = {_toml(value)}{note}")
    return 0


def cmd_set(args: argparse.Namespace, ctx: CliContext) -> int:
    pairs = args.pairs
    if len(pairs) == 2 and "=" not in pairs[0]:  # `hearth settings set n_ctx 8192`, as git config takes it
        pairs = [f"{pairs[0]}={pairs[1]}"]
    values: dict[str, str] = {}
    for pair in pairs:
        key, equals, text = pair.partition("=")
        if not equals:
            raise InputError(f"{pair!r} has no value: write KEY=VALUE (e.g. n_ctx=8192), or one KEY VALUE.")
        values[find_setting(key)] = text
    return _apply(ctx, values)


def cmd_reset(args: argparse.Namespace, ctx: CliContext) -> int:
    defaults = Settings()
    return _apply(ctx, {key: str(setting_value(defaults, key)) for key in map(find_setting, args.keys)})


def _apply(ctx: CliContext, values: dict[str, str]) -> int:
    """Check every value first (one refused changes nothing), then apply them together as Settings' Apply does."""
    assistant = ctx.assistant
    if "server.token" in values:
        raise InputError("The API token is made by Hearth: `hearth serve --show-token` prints it; for a new one, "
                         "delete the token line in settings.toml.")
    if "model.path" in values:
        raise InputError("The model is chosen with `hearth models use NAME`: it loads it and brings that model's "
                         "own settings.")
    new = assistant.settings
    for key, text in values.items():
        new = with_setting(new, key, text)
    draft = new.model.draft_model.strip()
    if draft and draft != assistant.settings.model.draft_model.strip():
        assistant.models.resolve_draft(assistant.model_path(), "draft", draft, strict=True)  # why it cannot draft
    if all(setting_value(new, k) == setting_value(assistant.settings, k) for k in values):
        print("Nothing to change: " + "; ".join(f"{k} is {_toml(_shown(k, setting_value(new, k)))}" for k in values))
        return 0
    before = assistant.settings
    applied = assistant.update_settings(new, progress=None)
    # with what they brought along: a preset's values, the preset a value now matches ("Custom")
    changed = [k for k in setting_keys() if setting_value(assistant.settings, k) != setting_value(before, k)]
    for key in changed:
        print(f"{key} = {_toml(_shown(key, setting_value(assistant.settings, key)))}")
    # what cannot act here is said, as the window greys it with the reason
    cannot = [(key, why) for key, why in (("model.n_gpu_layers", new.model.n_gpu_layers and assistant.gpu_missing()),
                                          ("knowledge.rerank", new.knowledge.rerank and assistant.reranker_missing()))
              if key in changed and why]
    for key, why in cannot:
        err(f"hearth: {key} is saved, but does nothing here: {why}.")
    for problem in applied.problems:
        err(f"hearth: {problem}")
    return 1 if applied.problems else 0


def _shown(key: str, value: Any) -> Any:
    if key in SECRETS:
        return "(set)" if value else ""
    return value


def _toml(value: Any) -> str:
    """A value as the settings file writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return str(value)
