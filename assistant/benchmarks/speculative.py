"""``hearth bench speculative``: Hearth's speculative decoding against plain decoding and llama.cpp's own tools.

Configurations (each on the CPU; a GPU machine would be a fourth, recorded as absent when there is none):
  (a) the bundled SmolLM2-135M Q4_1 with n-gram (prompt lookup) drafting, against ``llama-lookup``;
  (b) an F16 copy of it as the target with a Q4_0 copy as the "draft" model, against ``llama-speculative``;
  (c) self-speculation: the F16 target with the Q4_0 self-draft that ``make_self_draft`` makes, against
      ``llama-speculative`` with the same draft.
The copies are made with llama.cpp's quantize API into the cache folder (never committed), once. The (b) draft
and the (c) self-draft come out byte-identical (both Q4_0 of the F16): (c) measures the self-draft path
(``make_self_draft``, mode "self"), not other weights.

Workloads, all greedy with the same ``max_tokens`` on the model's chat template: a grounded answer that quotes
its sources, rewriting a paragraph with one change, a code edit, open chat. Per configuration x workload and
per repetition, interleaved: Hearth plain (mode off), Hearth in the configuration's mode, Hearth in auto mode,
the llama.cpp tool in the same mode, and the tool with drafting off (``llama-lookup --spec-draft-n-max 0`` is plain
decoding with the tool's own loop and sampler) on the same prompt, threads, context, batch and draft length.
Every Hearth run starts from a cold cache, so no run reuses another's prompt. Auto mode runs on its own
engine, so its measurements come from auto answers only (as in use), not from the forced-mode runs. (b) and (c)
have the same target, so they share its plain runs (Hearth's and the tool's) within each repetition.
On a CPU with AMX the tools run with ``--no-repack``, as Hearth's engine loads weights there (see ``REPACK``).

Also measured, to say how memory-bound each model is here: the time of one decode step of 1, 2, 4 and 9
tokens (a verify step of 8 drafted tokens is 9): on memory-bound hardware a 9-token step costs about what a
1-token step does, and speculation pays; on a compute-bound CPU it costs several times more.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.benchmarks.native_tools import ensure_tools
from assistant.benchmarks.results import cpu_name, save_result
from assistant.cpu import default_threads
from assistant.engine import GREEDY, Engine, LoadSettings, Message, SpeculativeParams
from assistant.engine.native import cpu_has_amx
from assistant.events import Done
from assistant.paths import BUNDLED_CHAT_MODEL, get_paths

N_CTX, N_BATCH = 4096, 512
NO_GPU = "not available on this machine"
#: Whether llama.cpp repacks weights for its extra CPU kernels: Hearth does not on AMX CPUs (its AMX kernels crash on
#: multi-token batches there, see ``native.cpu_has_amx``), so the tools must not either, or they would run other
#: kernels (AMX single-token decoding is ~2x faster, and their verify batches would crash).
REPACK = not cpu_has_amx()

SOURCES = (
    "[1] The Harwick Canal was completed in 1823 to carry coal from the northern mines to the port of Eastby. "
    "It is 42 kilometres long and has 31 locks.\n"
    "[2] Traffic on the canal declined after the railway reached Eastby in 1861. The last commercial barge "
    "passed through the locks in 1954.\n"
    "[3] Since 1998 a volunteer trust has restored 19 of the locks, and the towpath is now a popular walking "
    "and cycling route."
)
PARAGRAPH = (
    "The old market hall in the centre of town was built in 1872 from red brick and local stone. For more than "
    "a century it housed a busy covered market, where farmers sold vegetables, cheese and eggs every Saturday "
    "morning. In the 1980s the market moved to a new building near the station, and the hall stood empty for "
    "almost twenty years. A group of residents raised money to repair the roof and the tall arched windows, and "
    "in 2006 the hall reopened as a library and community centre. Today it hosts a weekly craft fair, evening "
    "concerts and a small museum about the history of the town, and its clock tower is still the best place to "
    "see the whole valley."
)
CODE = '''def summarize_orders(orders, tax_rate=0.2):
    """Return the number of orders, the total and the largest order."""
    total = 0.0
    largest = None
    count = 0
    for order in orders:
        if order.get("cancelled"):
            continue
        amount = 0.0
        for item in order["items"]:
            price = item["price"] * item.get("quantity", 1)
            if item.get("discount"):
                price -= price * item["discount"]
            amount += price
        amount += amount * tax_rate
        total += amount
        count += 1
        if largest is None or amount > largest["amount"]:
            largest = {"id": order["id"], "amount": amount}
    average = total / count if count else 0.0
    return {
        "count": count,
        "total": round(total, 2),
        "average": round(average, 2),
        "largest": largest,
    }


if __name__ == "__main__":
    sample = [{"id": 1, "items": [{"price": 9.5, "quantity": 2}]}]
    print(summarize_orders(sample))
'''
WORKLOADS: dict[str, list[Message]] = {
    "grounded quote": [Message("user", (
        f"Sources:\n{SOURCES}\n\nQuestion: Answer from the sources: when did the last commercial barge pass "
        "through the Harwick Canal, and what has happened to the canal since? Quote each sentence you use exactly, "
        "in quotation marks, with its source number in brackets."))],
    "rewrite paragraph": [Message("user", (
        "Rewrite this paragraph, changing only \"library\" to \"theatre\" and keeping every other sentence the "
        f"same:\n\n{PARAGRAPH}"))],
    "code edit": [Message("user", (
        f"Rename the variable `amount` to `order_total` in this Python code and show the whole code:\n\n{CODE}"))],
    "open chat": [Message("user", "What are some good habits for staying focused when working from home? "
                                  "Explain a few of them.")],
}


@dataclass(frozen=True)
class Config:
    key: str  # "a", "b", "c"
    label: str
    target: Path
    mode: str  # Hearth's speculative mode for this configuration
    draft: Path | None  # the draft model ("draft"/"self" modes)
    tool: str  # llama.cpp's own tool for the same mode


# ---- the models ---------------------------------------------------------------------------------------
def _models(folder: Path, log) -> dict[str, Path]:
    from assistant.models.drafts import make_self_draft, quantize_copy

    folder.mkdir(parents=True, exist_ok=True)
    stem = BUNDLED_CHAT_MODEL.name.removesuffix(".Q4_1.gguf")
    log(f"models: F16 target, Q4_0 draft and Q4_0 self-draft in {folder} (quantize API, once)")
    f16 = quantize_copy(BUNDLED_CHAT_MODEL, folder / f"{stem}.F16.gguf", "F16")
    q4_0 = quantize_copy(f16, folder / f"{stem}.Q4_0.gguf", "Q4_0")
    self_draft = folder / f"{stem}.F16.self-Q4_0.gguf"
    if not self_draft.is_file():
        make_self_draft(f16, self_draft)  # the self-draft type of an F16 model is Q4_0
    return {"q4_1": BUNDLED_CHAT_MODEL, "f16": f16, "q4_0": q4_0, "self": self_draft}


def _step_costs(path: Path, threads: int, kv_cache: str, reps: int = 15) -> dict[str, float]:
    """Median seconds of a decode step of n = 1, 2, 4, 9 tokens after a ~200-token prompt (a verify step of 8
    drafted tokens is 9 tokens): how close to memory-bound decoding of this model is on this machine."""
    engine = Engine()
    engine.load(path, LoadSettings(n_ctx=N_CTX, n_threads=threads, n_batch=N_BATCH, kv_cache=kv_cache))
    try:
        _prompt, tokens = engine.render(WORKLOADS["rewrite paragraph"])
        ctx = engine._require().ctx
        engine.clear_cache()
        ctx.eval(tokens, 0)
        base = len(tokens)
        probe = tokens[:9]
        out: dict[str, float] = {}
        for n in (1, 2, 4, 9):
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                if n == 1:
                    ctx.eval_one(probe[0], base)
                else:
                    ctx.eval_all(probe[:n], base)
                times.append(time.perf_counter() - t0)
                ctx.trim(base)
            out[str(n)] = statistics.median(times)
        engine.clear_cache()
    finally:
        engine.unload()
    return out


# ---- one run each -------------------------------------------------------------------------------------
def _hearth(engine: Engine, messages: list[Message], mode: str, max_tokens: int, max_draft: int) -> dict[str, Any]:
    engine.clear_cache()  # a cold start: no run reuses another's prompt
    # nor another's n-grams: the engine keeps its n-gram pool across answers (for follow-up turns), so a repeated
    # question would find its whole earlier answer there and draft it at near 100 % acceptance
    engine._ngram = None
    prompt, tokens = engine.render(messages)
    sampling = GREEDY.with_(speculative=SpeculativeParams(mode, max_draft))
    *_tokens, done = engine.generate(tokens, sampling, max_tokens, stop=prompt.stop)  # consumed to the end
    assert isinstance(done, Done)
    s = done.stats
    # A draft model reads the prompt after the first token, inside decode_s, while the tools evaluate both
    # prompts before they start timing the decode: the speed compared with the tool's leaves it out as they
    # do ("tool_tps"); against plain decoding and end to end (prompt + answer) it counts.
    decode_s = s.decode_s - s.spec_draft_prompt_s
    e2e = s.completion_tokens / (s.ttft_s + s.decode_s) if s.ttft_s + s.decode_s > 0 else 0.0
    return {"tps": s.decode_tps, "e2e_tps": e2e, "draft_prompt_s": s.spec_draft_prompt_s,
            "tool_tps": s.decode_tps * s.decode_s / decode_s if decode_s > 0 else 0.0,
            "tokens": s.completion_tokens, "prompt_tokens": s.prompt_tokens,
            "text": done.text, "drafter": s.spec_drafter, "drafted": s.spec_drafted, "accepted": s.spec_accepted,
            "acceptance": s.spec_acceptance, "tokens_per_step": s.tokens_per_step, "speedup": s.spec_speedup,
            "decision": s.spec_decision}


_DECODED = re.compile(r"decoded\s+(\d+) tokens in\s+([\d.]+) seconds, speed:\s+([\d.]+) t/s")
_ENCODED = re.compile(r"encoded\s+(\d+) tokens in\s+([\d.]+) seconds")
_DRAFTED = re.compile(r"n_drafted\s*=\s*(\d+)")
_ACCEPT = re.compile(r"n_accept\s*=\s*(\d+)")


def _tool(binary: Path, args: list[str], prompt_text: str, plain_text: str, cwd: Path) -> dict[str, Any]:
    """Run a llama.cpp tool; its own decode speed, plus the whole process timed as a cross-check."""
    t0 = time.perf_counter()
    done = subprocess.run([str(binary), *args], capture_output=True, text=True, cwd=cwd, errors="replace")
    wall = time.perf_counter() - t0
    log_text = done.stdout + "\n" + done.stderr
    m = _DECODED.search(log_text)
    if done.returncode != 0 or m is None:
        raise RuntimeError(f"{binary.name} failed (exit {done.returncode}):\n{log_text[-2000:]}")
    drafted = int(d.group(1)) if (d := _DRAFTED.search(log_text)) else 0
    accepted = int(a.group(1)) if (a := _ACCEPT.search(log_text)) else 0
    encoded = _ENCODED.search(log_text)
    # the tool prints the prompt, then the answer token by token, on stdout
    answer = done.stdout.split(prompt_text, 1)[1] if prompt_text in done.stdout else ""
    tokens, decode_s, encode_s = int(m.group(1)), float(m.group(2)), float(encoded.group(2)) if encoded else 0.0
    return {"tps": float(m.group(3)), "tool_tps": float(m.group(3)), "e2e_tps": tokens / (encode_s + decode_s),
            "tokens": tokens,
            "decode_s": decode_s, "encode_s": encode_s, "prompt_tokens": int(encoded.group(1)) if encoded else 0,
            "wall_s": wall,
            "drafted": drafted, "accepted": accepted, "acceptance": accepted / drafted if drafted else 0.0,
            "same_text_as_hearth_plain": bool(plain_text) and answer.lstrip().startswith(plain_text.strip())}


def _tool_args(cfg: Config, prompt_file: Path, threads: int, max_tokens: int, draft_max: int,
               kv_cache: str) -> list[str]:
    # greedy: temperature 0 (llama-speculative verifies greedily only then) and top-k 1 (the chain's other
    # samplers then see one candidate); the tools stop after n_predict + 1 tokens, hence max_tokens - 1
    args = ["-m", str(cfg.target), "-f", str(prompt_file), "-n", str(max_tokens - 1), "-t", str(threads),
            "-tb", str(threads), "-c", str(N_CTX), "-b", str(N_BATCH), "-ub", str(N_BATCH), "--temp", "0",
            "--top-k", "1", "--spec-draft-n-max", str(draft_max), "--seed", "1", "-ctk", kv_cache, "-ctv", kv_cache]
    if not REPACK:  # as Hearth's engine loads weights (see native.cpu_has_amx): the same kernels on both sides
        args.append("--no-repack")
    if cfg.tool == "llama-speculative":  # the draft's context gets the same size, threads as given here
        args += ["-md", str(cfg.draft), "-td", str(threads), "-tbd", str(threads)]
    return args


# ---- the benchmark ------------------------------------------------------------------------------------
def run(reps: int = 3, max_tokens: int = 192, max_draft: int = 8, threads: int = 0, configs: str = "abc",
        tool_plain: bool = True, kv_cache: str = "f16", log=print) -> dict[str, Any]:
    """``kv_cache``: the target's KV cache precision, for Hearth and the tools alike (drafts keep F16); the result
    is saved as ``speculative.json`` for F16 and ``speculative-<type>.json`` otherwise."""
    threads = threads or default_threads()
    started = time.perf_counter()
    cache = get_paths().cache_dir
    tools = ensure_tools(cache, log=log)
    models = _models(cache / "bench-speculative", log)
    all_configs = [
        Config("a", "(a) Q4_1, n-gram", models["q4_1"], "ngram", None, "llama-lookup"),
        Config("b", "(b) F16 + Q4_0 draft", models["f16"], "draft", models["q4_0"], "llama-speculative"),
        Config("c", "(c) F16 + self-draft Q4_0", models["f16"], "self", models["self"], "llama-speculative"),
    ]
    chosen = [c for c in all_configs if c.key in configs]

    log("step cost of 1/2/4/9-token decode steps per model (how memory-bound decoding is here)")
    step_costs = {name: _step_costs(models[name], threads, kv_cache) for name in ("q4_1", "f16", "q4_0")}

    settings = LoadSettings(n_ctx=N_CTX, n_threads=threads, n_batch=N_BATCH, kv_cache=kv_cache)
    engines: dict[str, Engine] = {}
    autos: dict[str, Engine] = {}
    for cfg in chosen:
        for table in (engines, autos):
            eng = table[cfg.key] = Engine()
            eng.load(cfg.target, settings)
            if cfg.draft is not None:
                eng.set_draft_model(cfg.draft, cfg.mode)

    kinds = ("plain", "mode", "auto", "tool", "tool_plain")
    rows = {(c.key, w): {k: [] for k in kinds} for c in chosen for w in WORKLOADS}
    with tempfile.TemporaryDirectory(prefix="hearth-bench-spec-") as tmp:
        tmp_dir = Path(tmp)
        prompts: dict[str, tuple[str, Path]] = {}
        for name, messages in WORKLOADS.items():
            text = engines[chosen[0].key].format(messages).text
            file = tmp_dir / f"{name.replace(' ', '_')}.txt"
            file.write_text(text + "\n")  # the tools drop one trailing newline of -f; the template ends with one
            prompts[name] = (text, file)
        for rep in range(reps):
            # plain decoding depends only on the target: (b) and (c) share the F16's plain runs of each rep
            plain_runs: dict[tuple[Path, str], tuple[dict[str, Any], dict[str, Any] | None]] = {}
            for cfg in chosen:
                log(f"rep {rep + 1}/{reps} {cfg.label}: plain, {cfg.mode}, auto, {cfg.tool}"
                    + (", tool plain" if tool_plain else "") + f" on {len(WORKLOADS)} workloads")
                for name, messages in WORKLOADS.items():
                    runs = rows[(cfg.key, name)]
                    text, file = prompts[name]
                    shared = plain_runs.get((cfg.target, name))
                    plain = shared[0] if shared else _hearth(engines[cfg.key], messages, "off", max_tokens, max_draft)
                    runs["plain"].append(plain)
                    runs["mode"].append(_hearth(engines[cfg.key], messages, cfg.mode, max_tokens, max_draft))
                    runs["auto"].append(_hearth(autos[cfg.key], messages, "auto", max_tokens, max_draft))
                    args = _tool_args(cfg, file, threads, max_tokens, max_draft, kv_cache)
                    runs["tool"].append(_tool(tools / cfg.tool, args, text, plain["text"], tmp_dir))
                    native_plain = shared[1] if shared else None
                    if tool_plain and native_plain is None:  # llama-lookup drafting nothing: the tool's plain loop
                        plain_cfg = Config(cfg.key, cfg.label, cfg.target, "off", None, "llama-lookup")
                        args = _tool_args(plain_cfg, file, threads, max_tokens, 0, kv_cache)
                        native_plain = _tool(tools / "llama-lookup", args, text, plain["text"], tmp_dir)
                    if native_plain is not None:
                        runs["tool_plain"].append(native_plain)
                    plain_runs[(cfg.target, name)] = (plain, native_plain)
    for eng in (*engines.values(), *autos.values()):
        eng.unload()

    result_rows = [_row(cfg, name, rows[(cfg.key, name)]) for cfg in chosen for name in WORKLOADS]
    result = {
        "benchmark": "speculative",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count(), "threads": threads},
        "gpu": NO_GPU,
        "settings": {"reps": reps, "max_tokens": max_tokens, "max_draft": max_draft, "n_ctx": N_CTX,
                     "n_batch": N_BATCH, "sampling": "greedy", "weight_repacking": REPACK, "kv_cache": kv_cache},
        "models": {name: {"file": path.name, "bytes": path.stat().st_size} for name, path in models.items()},
        "step_cost_s": step_costs,
        "rows": result_rows,
        "duration_s": round(time.perf_counter() - started, 1),
    }
    result["targets"] = _targets(result_rows, step_costs)
    save_result("speculative" if kv_cache == "f16" else f"speculative-{kv_cache}", result)
    return result


def _med(runs: list[dict[str, Any]], key: str = "tps") -> float:
    return statistics.median(r[key] for r in runs) if runs else 0.0


def _paired(runs: list[dict[str, Any]], base: list[dict[str, Any]]) -> list[float]:
    """Per repetition, ``runs``' speed over ``base``'s in the same repetition (interleaved, so a slow spell of
    the machine slows both): a ratio of medians taken over different repetitions carried that spell into one
    side only, which put auto at 0.90x plain on a row where 12 paired repetitions gave 0.97-0.99x."""
    return [r["tps"] / b["tps"] for r, b in zip(runs, base, strict=True) if b["tps"]]


def _spread(runs: list[dict[str, Any]]) -> list[float]:
    return [min(r["tps"] for r in runs), max(r["tps"] for r in runs)] if runs else []


def _range(values: list[float]) -> list[float]:
    return [min(values), max(values)] if values else []


def _first_difference(a: str, b: str) -> int | None:
    """The index of the first character where ``a`` and ``b`` differ; None when they are equal."""
    if a == b:
        return None
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def _row(cfg: Config, workload: str, runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    plain, mode, auto, tool, tool_plain = (runs[k] for k in ("plain", "mode", "auto", "tool", "tool_plain"))
    med = {k: _med(v) for k, v in runs.items()}
    mode_diff = [_first_difference(p["text"], m["text"]) for p, m in zip(plain, mode, strict=True)]
    auto_diff = [_first_difference(p["text"], a["text"]) for p, a in zip(plain, auto, strict=True)]
    return {
        "config": cfg.key, "label": cfg.label, "workload": workload, "mode": cfg.mode, "tool": cfg.tool,
        "target": cfg.target.name, "draft": cfg.draft.name if cfg.draft else None,
        "prompt_tokens": plain[0]["prompt_tokens"], "tool_prompt_tokens": tool[0]["prompt_tokens"],
        "tokens": {"plain": plain[0]["tokens"], "mode": mode[0]["tokens"], "auto": auto[0]["tokens"],
                   "tool": tool[0]["tokens"]},
        "tps": med,
        "spread": {k: _spread(v) for k, v in runs.items()},
        "e2e_tps": {k: _med(v, "e2e_tps") for k, v in runs.items()},  # tokens / (prompt + answer time)
        "ratios": {  # mode and auto against plain: the median of the paired per-repetition ratios
            "mode_vs_plain": statistics.median(_paired(mode, plain)),
            "auto_vs_plain": statistics.median(_paired(auto, plain)),
            "mode_vs_tool": _med(mode, "tool_tps") / med["tool"],
            "mode_vs_tool_e2e": _med(mode, "e2e_tps") / _med(tool, "e2e_tps"),
            "plain_vs_tool_plain": med["plain"] / med["tool_plain"] if tool_plain else None,
            "tool_vs_tool_plain": med["tool"] / med["tool_plain"] if tool_plain else None,
        },
        "paired_ratio_spread": {"mode_vs_plain": _range(_paired(mode, plain)),
                                "auto_vs_plain": _range(_paired(auto, plain))},
        "acceptance": {"mode": _med(mode, "acceptance"), "auto": _med(auto, "acceptance"),
                       "tool": _med(tool, "acceptance")},
        "tokens_per_step": {"mode": _med(mode, "tokens_per_step"), "auto": _med(auto, "tokens_per_step")},
        "auto_drafted": [r["drafted"] for r in auto],
        "auto_decision": auto[-1]["decision"],
        "mode_decision": mode[-1]["decision"],
        "identical": {"mode": all(d is None for d in mode_diff), "auto": all(d is None for d in auto_diff),
                      "plain_across_reps": len({p["text"] for p in plain}) == 1,
                      "tool_plain_text_equals_hearth_plain": all(t["same_text_as_hearth_plain"] for t in tool_plain)
                      if tool_plain else None},
        "first_difference_char": {"mode": mode_diff, "auto": auto_diff},
        "tool_wall_s": {k: _med(v, "wall_s") for k, v in (("tool", tool), ("tool_plain", tool_plain)) if v},
        "samples": {k: [{x: y for x, y in r.items() if x != "text"} for r in v] for k, v in runs.items()},
        "texts": {"plain": plain[0]["text"], "mode": mode[0]["text"]},
    }


def _targets(rows: list[dict[str, Any]], step_costs: dict[str, dict[str, float]]) -> dict[str, Any]:
    # the F16 target is the closest to memory-bound here (its 9-token step costs the fewest 1-token steps)
    f16 = [(r["ratios"][f"{kind}_vs_plain"], r, kind) for r in rows if r["config"] in ("b", "c")
           for kind in ("mode", "auto")]
    gain, best, kind = max(f16, key=lambda x: x[0], default=(0.0, None, ""))
    drafter = ({s["drafter"] for s in best["samples"][kind]} if best else set()) - {""}
    cost = step_costs.get("f16", {})
    return {
        "identical_to_plain": {f"{r['config']} {r['workload']}": r["identical"]["mode"] and r["identical"]["auto"]
                               for r in rows},
        "auto_at_least_0.97x_plain": {f"{r['config']} {r['workload']}": r["ratios"]["auto_vs_plain"] >= 0.97
                                      for r in rows},
        "mode_at_least_1.0x_tool": {f"{r['config']} {r['workload']}": r["ratios"]["mode_vs_tool"] >= 1.0
                                    for r in rows},
        "speedup_over_1.2x_memory_bound": {
            "pass": gain > 1.2,
            "best": (f"{best['config']} {best['workload']}, {kind} ({'/'.join(sorted(drafter)) or 'no drafts'}): "
                     f"{gain:.2f}x plain") if best else None,
            "f16_step9_vs_step1": cost["9"] / cost["1"] if cost else None,
        },
    }


# ---- the README table ---------------------------------------------------------------------------------
def _cell(row: dict[str, Any], key: str) -> str:
    lo, hi = row["spread"][key] or (0.0, 0.0)
    return f"{row['tps'][key]:.1f} ({lo:.0f}-{hi:.0f})" if row["spread"][key] else "-"


def _ratio(row: dict[str, Any], key: str) -> str:
    lo, hi = row.get("paired_ratio_spread", {}).get(key) or (None, None)
    return f"{row['ratios'][key]:.2f}x" + (f" ({lo:.2f}-{hi:.2f})" if lo is not None else "")


def _yes(flag: bool) -> str:
    return "yes" if flag else "**no**"


def table(r: dict[str, Any]) -> str:
    s = r["settings"]
    lines = [
        f"Speculative decoding: {r['machine']['threads']} threads, greedy, {s['max_tokens']} tokens, draft <= "
        f"{s['max_draft']}, {s.get('kv_cache', 'f16')} KV cache, median of {s['reps']} (min-max) tok/s; "
        f"GPU: {r['gpu']}",
        "",
        "| config | workload | plain | mode | auto | llama.cpp tool | tool, no draft | mode/plain | auto/plain | "
        "mode/tool | mode/tool end to end | acceptance (Hearth/tool) | tok/step | identical (mode/auto) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        ratios, acc = row["ratios"], row["acceptance"]
        lines.append(
            f"| {row['label']} | {row['workload']} | {_cell(row, 'plain')} | {_cell(row, 'mode')} | "
            f"{_cell(row, 'auto')} | {_cell(row, 'tool')} | {_cell(row, 'tool_plain')} | "
            f"{_ratio(row, 'mode_vs_plain')} | {_ratio(row, 'auto_vs_plain')} | {ratios['mode_vs_tool']:.2f}x | "
            f"{ratios['mode_vs_tool_e2e']:.2f}x | "
            f"{acc['mode']:.0%} / {acc['tool']:.0%} | {row['tokens_per_step']['mode']:.2f} | "
            f"{_yes(row['identical']['mode'])} / {_yes(row['identical']['auto'])} |")
    lines.append(f"| (d) GPU | - | {r['gpu']} | | | | | | | | | | | |")
    lines += ["", "plain / mode / auto: Hearth's decode speed (tokens after the first per second after the first "
              "token); mode/plain and auto/plain: the median of the per-repetition ratios (each repetition runs "
              "them back to back), with their range; tool: llama-lookup (a) or llama-speculative (b, c), the speed it "
              "reports; tool, no draft: "
              "llama-lookup drafting nothing (the tool's plain loop). A draft model reads the prompt after Hearth's "
              "first token, inside its decode time, and before the tool starts timing: mode/tool leaves it out of "
              "Hearth's time as the tool does, mode/plain and auto/plain count it. End to end: answer tokens / "
              "(prompt + answer time), everything counted on both sides. Identical: the greedy answer "
              "equals plain decoding's in every repetition (first differing character in the JSON)."]
    steps = r["step_cost_s"]
    lines += ["", "Decode step cost (ms) by tokens per step (1 = plain; 9 = verifying 8 drafted tokens):", "",
              "| model | 1 | 2 | 4 | 9 | 9 vs 1 |", "|---|---|---|---|---|---|"]
    for name, cost in steps.items():
        ms = " | ".join(f"{cost[n] * 1e3:.1f}" for n in ("1", "2", "4", "9"))
        lines.append(f"| {r['models'][name]['file']} | {ms} | {cost['9'] / cost['1']:.2f}x |")
    t = r["targets"]
    lines += ["", "Targets:",
              f"- greedy output identical to plain: {_count(t['identical_to_plain'])}",
              f"- auto >= 0.97x plain: {_count(t['auto_at_least_0.97x_plain'])}",
              f"- each mode >= 1.0x llama.cpp's tool: {_count(t['mode_at_least_1.0x_tool'])}",
              f"- a speed-up > 1.2x where memory-bound (F16 target): "
              f"{'pass' if t['speedup_over_1.2x_memory_bound']['pass'] else 'fail'} "
              f"(best {t['speedup_over_1.2x_memory_bound']['best']})"]
    return "\n".join(lines)


def _count(flags: dict[str, bool]) -> str:
    failed = [k for k, ok in flags.items() if not ok]
    return f"{len(flags) - len(failed)}/{len(flags)} pass" + (f" (fail: {', '.join(failed)})" if failed else "")
