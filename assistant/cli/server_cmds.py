"""``hearth serve``: the OpenAI-compatible API on this computer, until Ctrl+C."""

from __future__ import annotations

import argparse
import json
from typing import Any

from assistant.cli.context import CliContext, err, in_range, problem, quit_signals_as_ctrl_c
from assistant.config import host_port
from assistant.errors import PortInUseError
from assistant.events import MemoriesLearned, SettingsReloaded


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, not {text!r}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="an OpenAI-compatible API for other programs (Ctrl+C stops it)")
    p.add_argument("--host", metavar="H", help="address to listen on (default: settings, 127.0.0.1 = this computer "
                                               "only; 0.0.0.0 = the network, still needs the token)")
    p.add_argument("--port", type=_port, metavar="P", help="port to listen on (default: settings, 8181)")
    p.add_argument("--parallel", type=in_range("server.parallel", int), metavar="N",
                   help="requests decoded together, 1 to 8 (default: settings, 4)")
    p.add_argument("--show-token", action="store_true",
                   help="print the API token (made now if there is none) and exit")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace, ctx: CliContext) -> int:
    assistant = ctx.assistant
    if args.show_token:
        print(assistant.server_token())
        return 0
    try:
        status = assistant.start_server(args.host, args.port, args.parallel)
    except PortInUseError as exc:
        problem(f"{exc}; choose another with --port")
        return 1
    try:  # a service manager's stop, a closed terminal (the SSH session dropped): answers in flight told they were cut
        with quit_signals_as_ctrl_c():
            _announce(ctx, status)
            while not assistant.server_wait(0.5):
                pass
    except KeyboardInterrupt:
        err("stopping…")
        assistant.stop_server(one_answer_at_a_time=False)
        return 0
    stopped = assistant.server_status()
    problem(f"the API server stopped{': ' + stopped.error if stopped.error else ''}")
    return 1


def _announce(ctx: CliContext, status: Any) -> None:
    """Load the model now (its errors show here, and the first answer starts at once) and say how to call."""
    assistant = ctx.assistant
    if status.network:
        problem(f"warning: the API is reachable from the network on {host_port(status.host, status.port)}; "
            "every request needs the token (`hearth serve --show-token`).")
    ctx.long_lived()  # watched folders are watched while the server runs
    # what memory learns from served chats and what a change of the settings file did, said as it comes (kept
    # for the end, a server's list only grew; the server switched models without a word in its log)
    assistant.scheduler.subscribe(lambda event: ctx.say_heard() if isinstance(event, (MemoriesLearned,
                                                                                      SettingsReloaded)) else None)
    info = assistant.ensure_model()
    example = json.dumps({"model": assistant.model_id(), "messages": [{"role": "user", "content": "Hello!"}]})
    err(f"Hearth API on {status.base_url}  (model {info.precise_name}, id {assistant.model_id()}, "
        f"{status.parallel} in parallel)")
    err("Every /v1 request needs the token: `hearth serve --show-token` prints it.")
    err(f"Try:  curl {status.base_url}/chat/completions -H \"Authorization: Bearer $(hearth serve --show-token)\" "
        f"-H 'Content-Type: application/json' -d '{example}'")
    err("Ctrl+C stops the server.")
