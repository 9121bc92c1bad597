"""``hearth bench ...``: benchmarks that compare Hearth with a named baseline in the same run."""

from __future__ import annotations

import argparse

from assistant.cli import knowledge_cmds, memory_cmds
from assistant.cli.context import CliContext, err, show_bench


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks (results as JSON in bench/results/)")
    bs = p.add_subparsers(dest="bench_cmd", metavar="NAME", required=True)
    b = bs.add_parser("engine", help="decode/prompt speed vs llama-bench and the high-level API; TTFT with reuse")
    b.add_argument("--model", help="GGUF to measure (default: the bundled chat model)")
    b.add_argument("--threads", type=int, default=0, help="threads (default: physical cores)")
    b.add_argument("--reps", type=int, default=5)
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_engine)
    b = bs.add_parser("startup", help="start-up time of `hearth --version` and `hearth ask` vs `python -c pass`")
    b.add_argument("--reps", type=int, default=5)
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_startup)
    knowledge_cmds.register_bench(bs)
    memory_cmds.register_bench(bs)


def cmd_engine(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.benchmarks import engine as bench

    return show_bench(bench.run(model=args.model, threads=args.threads, reps=args.reps), bench.table, args.json)


def cmd_startup(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.benchmarks import startup as bench

    return show_bench(bench.run(reps=args.reps, log=err), bench.table, args.json)  # progress on stderr
