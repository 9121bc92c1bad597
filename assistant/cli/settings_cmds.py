"""``hearth settings``: every setting the window's Settings has, from the command line (show, set, reset).

A setting set here is checked as the settings file is (the same types, ranges and choices), applied by the
facade as the window's Apply applies it, and saved; a running window, ``hearth chat`` or ``hearth serve`` sees
the file change and applies it at once. The ``[model]`` section is the current model's own profile: another
model keeps its values (``hearth models use`` switches, with them), but for the threads and batch size, which are
for every model (``EVERY_MODEL``: marked so where shown and set). Secrets are said to be set, never printed.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

import tomli_w

from assistant.cli.context import CliContext, notice, print_json, problem
from assistant.config import (
    EVERY_MODEL,
    SAMPLING_FIELDS,
    SECRETS,
    Settings,
    find_setting,
    setting_keys,
    setting_value,
    unusable,
    with_setting,
)
from assistant.errors import ConfigError, InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("settings", help="show or change settings (context, GPU layers, threads, sampling, …)")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.set_defaults(func=cmd_show, keys=[])
    ss = p.add_subparsers(dest="settings_cmd", metavar="ACTION")

    def action(name: str, help_text: str, func: Any) -> argparse.ArgumentParser:
        q = ss.add_parser(name, help=help_text)
        # given after the action too; left out, it does not undo one given before it (`settings --json show`)
        q.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON on stdout")
        q.set_defaults(func=func)
        return q

    action("show", "every setting, or those named, with its default where it differs", cmd_show).add_argument(
        "keys", nargs="*", metavar="KEY", help="section.name, or a name only one section has (n_ctx)")
    action("set", "change settings, applied and saved now: KEY=VALUE …, or one KEY VALUE", cmd_set).add_argument(
        "pairs", nargs="+", metavar="KEY=VALUE",
        help="e.g. `n_gpu_layers=-1 n_ctx=8192` (changed together: a model loads once)")
    action("reset", "put settings back to their defaults", cmd_reset).add_argument(
        "keys", nargs="+", metavar="KEY", help="a setting, or a whole section (model, knowledge, memory, appearance, "
                                               "server, remote)")


def _named(names: list[str]) -> list[str]:
    """The settings ``names`` name: keys, or whole sections ("model"), as ``reset`` takes them (``show model``
    was "not a setting Hearth knows")."""
    sections = {key.split(".")[0] for key in setting_keys()}
    keys: list[str] = []
    for name in names:
        section = name.strip().lower()
        keys += [k for k in setting_keys() if k.startswith(f"{section}.")] if section in sections \
            else [find_setting(name)]
    return list(dict.fromkeys(keys))


def cmd_show(args: argparse.Namespace, ctx: CliContext) -> int:
    assistant = ctx.assistant
    keys = _named(args.keys) or setting_keys()
    defaults = Settings()
    shown = {key: _shown(key, setting_value(assistant.settings, key)) for key in keys}
    if args.json:
        print_json({"file": str(assistant.paths.settings_file), "model": assistant.model_path().name,
                    "settings": shown, "defaults": {k: _shown(k, setting_value(defaults, k)) for k in keys},
                    "for_every_model": [k for k in keys if _for_every_model(k)]})
        return 0
    if not args.keys:
        print(f"# {assistant.paths.settings_file}; [model] is {assistant.model_path().name}'s own "
              f"(each model keeps its values), but for the values marked \"{_EVERY}\"")
    for key, value in shown.items():
        default = _shown(key, setting_value(defaults, key))
        notes = [_EVERY] if _for_every_model(key) else []
        notes += [f"default {_toml(default)}"] if value != default and key not in SECRETS else []
        print(f"{key} = {_toml(value)}" + ("  # " + "; ".join(notes) if notes else ""))
    return 0


def cmd_set(args: argparse.Namespace, ctx: CliContext) -> int:
    pairs = args.pairs
    if len(pairs) == 2 and "=" not in pairs[0]:  # `hearth settings set n_ctx 8192`, as git config takes it
        pairs = [f"{pairs[0]}={pairs[1]}"]
    values: dict[str, str] = {}
    for pair in pairs:
        key, equals, text = pair.partition("=")
        if not equals:
            raise InputError(f"{pair!r} has no value: give KEY=VALUE pairs (n_ctx=8192 top_p=0.9), or one KEY "
                             "VALUE.")
        key = find_setting(key)
        if key in values and values[key] != text:
            raise InputError(f"{key} is given twice ({values[key]!r} and {text!r}); nothing was changed.")
        values[key] = text
    return _apply(ctx, values, args.json)


def cmd_reset(args: argparse.Namespace, ctx: CliContext) -> int:
    """Keys, or whole sections (``reset model``: all of the model's values but the model itself; ``reset server``:
    all but the token, Hearth's to make)."""
    defaults = Settings()
    sections = {name.strip().lower() for name in args.keys}
    # a section's values but the model itself and the token, Hearth's to make (named alone, they are reset)
    keys = [k for k in _named(args.keys) if not (k in ("model.path", "server.token") and k.split(".")[0] in sections)]
    return _apply(ctx, {key: str(setting_value(defaults, key)) for key in keys}, args.json)


def _apply(ctx: CliContext, values: dict[str, str], as_json: bool) -> int:
    """Check every value first (one refused changes nothing), then apply them together as Settings' Apply does."""
    assistant = ctx.assistant
    if "server.token" in values:
        raise InputError("The API token is made by Hearth: `hearth serve --show-token` prints it; for a new one, "
                         "delete the token line in settings.toml.")
    if "model.path" in values:
        raise InputError("The model is chosen with `hearth models use NAME`: it loads it and brings that model's "
                         "own settings.")
    before = assistant.settings
    new = before
    preset = values.get("model.preset", "")
    if preset.strip().lower() in {name.lower() for name in assistant.presets}:
        # a preset brings its values, and values given beside it go over them, in whatever order they were given
        new = with_setting(new, "model.preset", preset)
        for name in SAMPLING_FIELDS:
            new = with_setting(new, f"model.{name}", str(getattr(assistant.presets[new.model.preset], name)))
    for key, text in values.items():
        new = with_setting(new, key, text)
    new, notes = assistant.check_settings(new, list(values))  # refuses what cannot be used at all
    # a value named here that the file holds in a form Hearth cannot use (n_ctx = "8k", in use as 4096) is written
    # over even when it equals the value in use: "Nothing to change" was said, and the warning came at every command
    held = _file_text(assistant)
    over = [k for k in unusable(held) if k in values] if held else []
    if all(setting_value(new, k) == setting_value(before, k) for k in setting_keys()) and not over:
        said = {k: _shown(k, setting_value(new, k)) for k in values}
        if as_json:
            print_json({"changed": {}, "unchanged": said, "notes": notes})
            return 0
        if len(said) > 3:  # a section reset
            print(f"Nothing to change: the {len(said)} settings already hold those values.")
        else:
            print("Nothing to change: " + "; ".join(f"{k} is {_toml(v)}" for k, v in said.items()))
        for note in notes:  # said again: the value still does not act here
            notice(f"{note}.")
        return 0
    applied = assistant.update_settings(new, progress=None, rewrite=over)
    unsaved = [p for p in applied.problems if p.startswith("not saved: ")]
    if unsaved:  # applied in this process only, which ends now: nothing changed
        raise ConfigError(unsaved[0].removeprefix("not saved: ").rstrip(".") + ".")
    # with what they brought along: a preset's values, the preset values now match ("Custom")
    changed = {k: _shown(k, setting_value(assistant.settings, k)) for k in setting_keys()
               if setting_value(assistant.settings, k) != setting_value(before, k) or k in over}
    if whose := _whose(changed, assistant.model_path().name):
        notes.append(whose)
    if as_json:
        print_json({"changed": changed, "notes": [*notes, *applied.problems]})
    else:
        for key, value in changed.items():
            print(f"{key} = {_toml(value)}")
        for note in notes:
            notice(f"{note}.")
        for failed in applied.problems:  # what could not be applied: the exit code is 1
            problem(f"{failed}.")
    return 1 if applied.problems else 0


#: How a ``[model]`` value for every model (:data:`EVERY_MODEL`) is marked where it is shown.
_EVERY = "for every model"


def _for_every_model(key: str) -> bool:
    """Whether ``key`` is a ``[model]`` value for every model, not the current model's own."""
    section, _, name = key.partition(".")
    return section == "model" and name in EVERY_MODEL


def _whose(keys: Iterable[str], model: str) -> str | None:
    """What is said when values for every model are set (None: none is): that they are, and that the other
    ``[model]`` values are ``model``'s own. Threads set while one model answered were expected to stay with it,
    as its context does, and applied to every model without a word."""
    every = [k for k in keys if _for_every_model(k)]
    if not every:
        return None
    return (f"{' and '.join(every)} {'is' if len(every) == 1 else 'are'} {_EVERY}: the other [model] values are "
            f"{model}'s own (another model keeps its own)")


def _file_text(assistant: Any) -> str:
    """The settings file as it is now ("" when there is none or it cannot be read)."""
    try:
        return assistant.paths.settings_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _shown(key: str, value: Any) -> Any:
    if key in SECRETS:
        return "(set)" if value else ""
    return value


def _toml(value: Any) -> str:
    """A value as the settings file writes it (by the writer that writes the file)."""
    return tomli_w.dumps({"v": value}).removeprefix("v = ").rstrip("\n")
