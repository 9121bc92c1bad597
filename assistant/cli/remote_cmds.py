"""``hearth remote``: the parts that can live on other machines (a Chroma server for knowledge and memory, an
OpenAI-compatible LLM endpoint for answers).

``hearth remote test chroma`` is the window's "Test connection": reachable, a Chroma server, token accepted,
one round trip. ``hearth remote test llm``: the endpoint's model list, then one 1-token completion and its
latency. ``--url`` tries a server before it is saved in the settings; ``hearth remote show`` says what is
configured (secrets masked).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace

from assistant.cli.context import CliContext, print_json
from assistant.config import SECRETS
from assistant.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("remote", help="parts on other machines: show them, test the connection")
    rs = p.add_subparsers(dest="remote_cmd", metavar="ACTION", required=True)
    t = rs.add_parser("test", help="test a remote part: reachable, version, token accepted, round trip")
    t.add_argument("part", help="which part: chroma (the vector store) or llm (the model endpoint)")
    t.add_argument("--url", help="try this URL instead of the configured one (with the configured token)")
    t.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    t.set_defaults(func=cmd_test)
    s = rs.add_parser("show", help="the configured remote parts (settings.toml [remote]; secrets masked)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_show)


def cmd_test(args: argparse.Namespace, ctx: CliContext) -> int:
    assistant = ctx.assistant
    remote = None
    if args.url is not None:
        field = f"{args.part}_url"
        if not hasattr(assistant.settings.remote, field):
            parts = [f.removesuffix("_url") for f in asdict(assistant.settings.remote) if f.endswith("_url")]
            raise InputError(f"--url does not apply to {args.part!r}; remote parts with a URL: {', '.join(parts)}.")
        remote = replace(assistant.settings.remote, **{field: args.url})
    result = assistant.test_remote(args.part, remote)
    if args.json:
        print_json({"part": args.part, **result.to_dict()})
    else:
        print(f"{'✓' if result.ok else '✗'} {args.part}: {result.message}")
    return result.exit_code


def cmd_show(args: argparse.Namespace, ctx: CliContext) -> int:
    shown = {name: (("set" if value else "not set") if f"remote.{name}" in SECRETS else value)
             for name, value in asdict(ctx.assistant.settings.remote).items()}
    if args.json:
        print_json(shown)
        return 0
    for name, value in shown.items():
        if value == "":
            value = "(empty: the part on this computer)" if name.endswith("_url") else "(empty)"
        print(f"{name} = {value}")
    return 0
