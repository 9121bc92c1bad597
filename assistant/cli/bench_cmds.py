"""``hearth bench ...``: benchmarks that compare Hearth with a named baseline in the same run."""

from __future__ import annotations

import argparse

from assistant.benchmarks.ir_sets import ALL as RETRIEVAL_SETS  # names only: the module loads no data
from assistant.cli.context import CliContext, err, non_negative_int, positive_int, show_bench
from assistant.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks (results as JSON in bench/results/)")
    bs = p.add_subparsers(dest="bench_cmd", metavar="NAME", required=True)
    b = bs.add_parser("engine", help="decode/prompt speed vs llama-bench and the high-level API; TTFT with reuse")
    b.add_argument("--model", help="GGUF to measure: name, part of it, file or path (default: the bundled chat model)")
    b.add_argument("--threads", type=non_negative_int, default=0, help="threads (default: physical cores)")
    b.add_argument("--reps", type=positive_int, default=5)
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_engine)
    b = bs.add_parser("speculative", help="speculative decoding (n-gram, draft model, self) vs plain and llama.cpp's "
                                          "llama-lookup / llama-speculative")
    b.add_argument("--reps", type=positive_int, default=3)
    b.add_argument("--max-tokens", type=positive_int, default=192, help="tokens per answer")
    b.add_argument("--max-draft", type=positive_int, default=8, help="drafted tokens per step at most")
    b.add_argument("--threads", type=non_negative_int, default=0, help="threads (default: physical cores)")
    b.add_argument("--configs", default="abc", help="which of (a) n-gram, (b) draft model, (c) self to run")
    b.add_argument("--no-tool-plain", action="store_true", help="skip llama-lookup with drafting off per run")
    b.add_argument("--kv-cache", choices=("f16", "q8_0"), default="f16",
                   help="KV cache precision of the model, for Hearth and the tools (q8_0: exact speculation on a CPU)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_speculative)
    b = bs.add_parser("startup", help="start-up time of `hearth --version` and `hearth ask` vs `python -c pass`")
    b.add_argument("--reps", type=positive_int, default=5)
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_startup)
    b = bs.add_parser("index", help="indexing throughput vs raw encode; re-sync of 2,000 unchanged files")
    b.add_argument("--corpus-kb", type=positive_int, default=200, help="size of the throughput corpus in KiB")
    b.add_argument("--files", type=positive_int, default=2000, help="small files for the re-sync measurement")
    b.add_argument("--reps", type=positive_int, default=2, help="interleaved pipeline/raw repetitions (best is kept)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_index)
    b = bs.add_parser("retrieval", help="nDCG@10/recall@10 of BM25, dense, RRF and Hearth's hybrid on several "
                                        "test collections; latency at 50k chunks")
    b.add_argument("--collections", nargs="+", choices=RETRIEVAL_SETS, default=list(RETRIEVAL_SETS),
                   help="test collections to score (a partial run is shown, not saved)")
    b.add_argument("--queries", type=positive_int, default=200, help="queries timed in the latency store")
    b.add_argument("--chunks", type=positive_int, default=50_000, help="chunks in the latency store")
    b.add_argument("--paragraphs", type=positive_int, default=1500,
                   help="really embedded paragraphs for the latency store")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_retrieval)
    b = bs.add_parser("memory", help="learning from chat: extraction recall/precision, supersession, recall@5, "
                                     "answers, learning cost, search latency")
    b.add_argument("--split", choices=("test", "dev", "all"), default="test",
                   help="which half of the conversation set (dev is for tuning; test is the one reported)")
    b.add_argument("--model", help="chat model that learns and answers (default: the bundled one)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_memory)
    b = bs.add_parser("answers", help="grounded answers over the personal folder set: answer has the fact, "
                                      "citations support their sentences, attribution fallback, time")
    b.add_argument("--model", help="chat model that answers (default: the bundled one)")
    b.add_argument("--limit", type=positive_int, help="only the first N questions with a known answer")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_answers)
    b = bs.add_parser("remote", help="when to move vectors to a Chroma server: query p50/p95, embedded store vs a "
                                     "local `chroma run`, at 50k and 500k vectors")
    b.add_argument("--sizes", type=positive_int, nargs="+", default=[50_000, 500_000], metavar="N",
                   help="vectors per store (default: 50000 500000; other sizes are saved as remote-partial.json)")
    b.add_argument("--queries", type=positive_int, default=200, help="timed queries per store and size")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_remote)
    b = bs.add_parser("serve", help="hearth serve under concurrent clients (official openai client): total tok/s of "
                                    "N streams at once vs one after another, 200 requests from 8 clients, hang-ups")
    b.add_argument("--parallel", type=positive_int, default=4, help="slots of the server, and streams at once")
    b.add_argument("--reps", type=positive_int, default=3)
    b.add_argument("--max-tokens", type=positive_int, default=128, help="tokens per answer in the throughput phase")
    b.add_argument("--requests", type=positive_int, default=200, help="requests in the load phase")
    b.add_argument("--clients", type=positive_int, default=8, help="concurrent clients in the load phase")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_serve)


# Each benchmark module is imported only when it runs: building the parser must stay cheap for every command.
def cmd_index(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.benchmarks import index as bench

    return show_bench(bench.run(corpus_kb=args.corpus_kb, small_files=args.files, reps=args.reps), bench.table,
                      args.json)


def cmd_retrieval(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.benchmarks import retrieval as bench

    result = bench.run(args.collections, chunks=args.chunks, queries=args.queries, paragraphs=args.paragraphs)
    return show_bench(result, bench.table, args.json)


def cmd_memory(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.benchmarks import memory as bench

    model = ctx.assistant.models.inspect(ctx.assistant.models.find(args.model)).path if args.model else None
    return show_bench(bench.run(model, args.split), bench.table, args.json)


def cmd_answers(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.benchmarks import answers as bench

    model = ctx.assistant.models.inspect(ctx.assistant.models.find(args.model)).path if args.model else None
    return show_bench(bench.run(model, args.limit, log=err), bench.table, args.json)  # progress on stderr


def cmd_remote(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.benchmarks import remote as bench

    return show_bench(bench.run(args.sizes, args.queries, log=err), bench.table, args.json)  # progress on stderr


def cmd_serve(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.benchmarks import serve as bench

    # the default sizes are the issue's: only a run with them is saved
    full = (args.parallel, args.requests, args.clients) == (4, 200, 8)
    result = bench.run(args.parallel, args.reps, args.max_tokens, args.requests, args.clients, log=err, save=full)
    return show_bench(result, bench.table, args.json)


def cmd_engine(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.benchmarks import engine as bench

    model = None
    if args.model:  # checked before the benchmark builds its tools (minutes), not after
        models = ctx.assistant.models
        model = str(models.inspect(models.find(args.model)).path)
    return show_bench(bench.run(model=model, threads=args.threads, reps=args.reps), bench.table, args.json)


def cmd_startup(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.benchmarks import startup as bench

    return show_bench(bench.run(reps=args.reps, log=err), bench.table, args.json)  # progress on stderr


def cmd_speculative(args: argparse.Namespace, ctx: CliContext) -> int:
    from assistant.benchmarks import speculative as bench

    if not args.configs or set(args.configs) - set("abc"):
        raise InputError(f"--configs takes letters among a, b, c (e.g. \"ab\"), not {args.configs!r}.")
    result = bench.run(reps=args.reps, max_tokens=args.max_tokens, max_draft=args.max_draft, threads=args.threads,
                       configs=args.configs, tool_plain=not args.no_tool_plain, kv_cache=args.kv_cache,
                       log=err)  # progress on stderr
    return show_bench(result, bench.table, args.json)
