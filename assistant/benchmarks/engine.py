"""``hearth bench engine``: Hearth's decode loop against llama.cpp itself, in one run.

Baselines, each measured in the same run on the same model, threads and batch sizes:
- ``llama-bench`` built from the llama.cpp vendored in the installed llama-cpp-python (pp512 / tg128);
- llama-cpp-python's high-level ``create_chat_completion`` (stream) on the same chat prompt.
The runs are interleaved (native, Hearth, high-level, repeat) and medians reported, because this
machine is noisy. Also: TTFT of the 5th turn of a ~2,000-token conversation, prefix reuse vs cold start.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.benchmarks.native_tools import ensure_tools
from assistant.benchmarks.results import cpu_name, save_result
from assistant.cpu import default_threads
from assistant.engine import GREEDY, Engine, LoadSettings, Message
from assistant.engine.decode_thread import decode_thread
from assistant.engine.native import cpu_has_amx
from assistant.engine.prompt_store import PromptStore
from assistant.events import Done
from assistant.paths import BUNDLED_CHAT_MODEL, get_paths

N_PROMPT, N_GEN, N_BATCH = 512, 128, 512
STORY = [Message("user", "Write a long, detailed story about a lighthouse keeper and a storm.")]


#: llama.cpp repacks weights for its extra CPU kernels unless told not to; Hearth does not on AMX CPUs (those
#: kernels crash on multi-token batches there, see ``native.cpu_has_amx``), so neither may the baselines, or they
#: would run other kernels (and llama-bench's pp512 crashes).
REPACK = not cpu_has_amx()


def _llama_bench(binary: Path, model: str, threads: int, depth: int) -> dict[str, float]:
    """pp512 and tg128, the decode measured after ``depth`` cached tokens: the length of Hearth's chat prompt,
    so both decode with the same amount of attention work (llama-bench's default, an empty cache, is ~7%
    faster on a 135M model)."""
    out = subprocess.run(
        [str(binary), "-m", model, "-t", str(threads), "-p", str(N_PROMPT), "-n", str(N_GEN), "-d", f"0,{depth}",
         "-b", str(N_BATCH), "-ub", str(N_BATCH), "-r", "1", "-o", "json", "--repack", str(int(REPACK))],
        check=True, capture_output=True, text=True,
    )
    rows = json.loads(out.stdout)
    return {
        "pp_tps": next(r["avg_ts"] for r in rows if r["n_prompt"] and not r["n_gen"] and not r["n_depth"]),
        "tg_tps": next(r["avg_ts"] for r in rows if r["n_gen"] and not r["n_prompt"] and r["n_depth"] == depth),
        "tg_tps_empty_cache": next(r["avg_ts"] for r in rows if r["n_gen"] and not r["n_prompt"] and not r["n_depth"]),
    }


def _hearth(engine: Engine) -> dict[str, float]:
    """pp: N_PROMPT random tokens in one batch from an empty cache (as llama-bench); tg: the chat loop."""
    loaded = engine._require()
    tokens = [random.randrange(loaded.model.n_vocab) for _ in range(N_PROMPT)]
    engine.clear_cache()
    t0 = time.perf_counter()
    loaded.ctx.eval(tokens, 0)
    pp_s = time.perf_counter() - t0
    engine.clear_cache()
    _prompt, prompt_tokens = engine.render(STORY)
    done = next(e for e in engine.generate(prompt_tokens, GREEDY, N_GEN) if isinstance(e, Done))
    return {"pp_tps": N_PROMPT / pp_s, "tg_tps": done.stats.decode_tps, "tg_tokens": done.stats.completion_tokens}


def _high_level_llm(model: str, threads: int) -> Any:
    """llama-cpp-python's ``Llama`` on the same settings; with weight repacking off where Hearth has it off
    (``Llama`` has no argument for it, so its default model parameters are adjusted while it loads)."""
    import llama_cpp.llama as high_level

    defaults = high_level.llama_cpp.llama_model_default_params

    def without_repacking() -> Any:
        params = defaults()
        params.use_extra_bufts = False
        return params

    if not REPACK:
        high_level.llama_cpp.llama_model_default_params = without_repacking
    try:
        return high_level.Llama(model, n_ctx=4096, n_threads=threads, n_threads_batch=threads, n_batch=N_BATCH,
                                verbose=False)
    finally:
        high_level.llama_cpp.llama_model_default_params = defaults


def _high_level(llm: Any) -> dict[str, float]:
    """A streamed chat answer through the high-level API, run on Hearth's decode thread: llama.cpp's OpenMP
    pool belongs to the thread that decodes, and a second decoding thread in one process makes both ~3x
    slower (``engine/decode_thread.py``), which would slow this baseline and Hearth's own runs alike."""
    return decode_thread().call(lambda: _high_level_answer(llm))


def _high_level_answer(llm: Any) -> dict[str, float]:
    llm.reset()
    first = last = None
    n = 0
    for chunk in llm.create_chat_completion([{"role": m.role, "content": m.content} for m in STORY],
                                            max_tokens=N_GEN, temperature=0.0, stream=True):
        if chunk["choices"][0]["delta"].get("content"):
            last = time.perf_counter()
            first = first or last
            n += 1
    return {"tg_tps": (n - 1) / (last - first) if n > 1 else 0.0, "tg_tokens": n}


def _ttft_fifth_turn(engine: Engine, model: str, settings: LoadSettings) -> dict[str, float]:
    """Four turns of ~450 tokens each, then a 5th question: TTFT with the cached prefix vs a cold start, and
    after a restart (the engine unloaded, saving the conversation's cache, and loaded again: the cache is read
    back from disk)."""
    random.seed(7)
    words = ["river", "stone", "garden", "lamp", "winter", "harbour", "letter", "music", "orchard", "bridge"]
    history: list[Message] = []
    engine.clear_cache()
    for turn in range(4):
        filler = " ".join(random.choice(words) for _ in range(440))
        question = Message("user", f"Turn {turn + 1}. Here are my notes: {filler}. Summarise them in one line.")
        _p, tokens = engine.render([*history, question])
        done = next(e for e in engine.generate(tokens, GREEDY, 24) if isinstance(e, Done))
        history += [question, Message("assistant", done.text)]
    fifth = [*history, Message("user", "Which of my notes mentioned the harbour most often?")]
    _p, tokens = engine.render(fifth)
    warm = next(e for e in engine.generate(tokens, GREEDY, 1) if isinstance(e, Done)).stats
    engine.clear_cache()
    cold = next(e for e in engine.generate(tokens, GREEDY, 1) if isinstance(e, Done)).stats
    with tempfile.TemporaryDirectory() as folder:
        engine.use_prompt_store(PromptStore(Path(folder), keeps=lambda key: True))
        _p, turns = engine.render(history)  # the conversation as the 4th answer left it
        next(e for e in engine.generate(turns, GREEDY, 1, cache_key="bench") if isinstance(e, Done))
        started = time.perf_counter()
        engine.unload()
        save_s = time.perf_counter() - started
        engine.load(model, settings)
        restart = next(e for e in engine.generate(tokens, GREEDY, 1, cache_key="bench") if isinstance(e, Done)).stats
        engine.use_prompt_store(None)
    return {"prompt_tokens": len(tokens), "warm_evaluated": warm.evaluated_tokens,
            "warm_ttft_s": warm.ttft_s, "cold_ttft_s": cold.ttft_s, "ratio": warm.ttft_s / cold.ttft_s,
            "restart_evaluated": restart.evaluated_tokens, "restart_ttft_s": restart.ttft_s,
            "restart_ratio": restart.ttft_s / cold.ttft_s, "save_at_unload_s": save_s}


#: prompt lengths at which the two KV cache precisions are compared
KV_DEPTHS = (64, 512, 1536)


def _kv_cache_speeds(model: str, threads: int, reps: int, log) -> dict[str, Any]:
    """Prompt evaluation and decode speed of the real answer loop with an F16 and a q8_0 KV cache, by prompt
    length (a chat turn, a grounded answer, a long document): q8_0 halves the cache and makes speculation
    exact (``native.KV_CACHE_TYPES``), at a cost or a gain that depends on the context. Interleaved reps."""
    engines = {}
    for kind in ("f16", "q8_0"):
        engines[kind] = Engine()
        engines[kind].load(model, LoadSettings(n_ctx=4096, n_threads=threads, n_batch=N_BATCH, kv_cache=kind))
    rng = random.Random(5)
    words = " ".join(rng.choice(["field", "signal", "copper", "meadow", "ledger", "violet", "anchor", "quarry"])
                     for _ in range(2000))
    tokens = engines["f16"].tokenize(words)  # one model: the same tokens for both engines
    samples: dict[str, dict[int, list[tuple[float, float]]]] = {k: {d: [] for d in KV_DEPTHS} for k in engines}
    for rep in range(reps):
        log(f"KV cache rep {rep + 1}/{reps}: f16 and q8_0 at {', '.join(map(str, KV_DEPTHS))} prompt tokens")
        for depth in KV_DEPTHS:
            for kind, engine in engines.items():
                engine.clear_cache()
                done = next(e for e in engine.generate(tokens[:depth], GREEDY, 64) if isinstance(e, Done))
                s = done.stats
                samples[kind][depth].append((s.evaluated_tokens / s.prompt_eval_s, s.decode_tps))
    for engine in engines.values():
        engine.unload()
    out: dict[str, Any] = {}
    for depth in KV_DEPTHS:
        row = {}
        for kind in engines:
            pp = [x for x, _ in samples[kind][depth]]
            tg = [y for _, y in samples[kind][depth]]
            row[kind] = {"pp_tps": statistics.median(pp), "tg_tps": statistics.median(tg),
                         "pp_spread": [min(pp), max(pp)], "tg_spread": [min(tg), max(tg)]}
        row["q8_0_vs_f16"] = {"pp": row["q8_0"]["pp_tps"] / row["f16"]["pp_tps"],
                              "tg": row["q8_0"]["tg_tps"] / row["f16"]["tg_tps"]}
        out[str(depth)] = row
    return out


def run(model: str | None = None, threads: int = 0, reps: int = 5, log=print) -> dict[str, Any]:
    model = str(Path(model).resolve()) if model else str(BUNDLED_CHAT_MODEL)
    threads = threads or default_threads()
    tools = ensure_tools(get_paths().cache_dir, log=log)
    engine = Engine()
    settings = LoadSettings(n_ctx=4096, n_threads=threads, n_batch=N_BATCH)
    engine.load(model, settings)
    depth = len(engine.render(STORY)[1])
    llm = _high_level_llm(model, threads)
    samples: dict[str, list[dict[str, float]]] = {"native": [], "hearth": [], "high_level": []}
    for rep in range(reps):
        log(f"rep {rep + 1}/{reps}: llama-bench, Hearth, high-level API")
        samples["native"].append(_llama_bench(tools / "llama-bench", model, threads, depth))
        samples["hearth"].append(_hearth(engine))
        samples["high_level"].append(_high_level(llm))
    del llm
    log("TTFT of the 5th turn (~2,000 tokens): prefix reuse and after a restart vs cold")
    ttft = _ttft_fifth_turn(engine, model, settings)
    engine.unload()
    kv_cache = _kv_cache_speeds(model, threads, reps, log)

    def med(name: str, key: str) -> float:
        return statistics.median(s[key] for s in samples[name])

    result = {
        "benchmark": "engine",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"cpu": cpu_name(), "threads": threads},
        "model": Path(model).name,
        "settings": {"n_prompt": N_PROMPT, "n_gen": N_GEN, "n_batch": N_BATCH, "reps": reps, "tg_depth": depth,
                     "weight_repacking": REPACK},
        "native": {"pp_tps": med("native", "pp_tps"), "tg_tps": med("native", "tg_tps"),
                   "tg_tps_empty_cache": med("native", "tg_tps_empty_cache")},
        "hearth": {"pp_tps": med("hearth", "pp_tps"), "tg_tps": med("hearth", "tg_tps")},
        "high_level": {"tg_tps": med("high_level", "tg_tps")},
        "samples": samples,
        "ttft_5th_turn": ttft,
        "kv_cache": kv_cache,
    }
    result["ratios"] = {
        "hearth_pp_vs_native": result["hearth"]["pp_tps"] / result["native"]["pp_tps"],
        "hearth_tg_vs_native": result["hearth"]["tg_tps"] / result["native"]["tg_tps"],
        "high_level_tg_vs_native": result["high_level"]["tg_tps"] / result["native"]["tg_tps"],
        "ttft_reuse_vs_cold": ttft["ratio"],
    }
    save_result("engine", result)
    return result


def table(r: dict[str, Any]) -> str:
    ratios, t = r["ratios"], r["ttft_5th_turn"]
    return "\n".join([
        f"Engine benchmark: {r['model']}, {r['machine']['threads']} threads, median of {r['settings']['reps']}",
        "",
        "| measure | llama.cpp (llama-bench) | Hearth | ratio | target |",
        "|---|---|---|---|---|",
        f"| prompt eval pp{N_PROMPT} (tok/s) | {r['native']['pp_tps']:.1f} | {r['hearth']['pp_tps']:.1f} | "
        f"{ratios['hearth_pp_vs_native']:.2f}x | >= 0.95x |",
        f"| decode tg{N_GEN} after the {r['settings']['tg_depth']}-token chat prompt (tok/s) | "
        f"{r['native']['tg_tps']:.1f} | {r['hearth']['tg_tps']:.1f} | {ratios['hearth_tg_vs_native']:.2f}x | "
        ">= 0.95x |",
        f"| (llama-bench tg{N_GEN} from an empty cache) | {r['native']['tg_tps_empty_cache']:.1f} | | | |",
        f"| decode, llama-cpp-python high-level API (tok/s) | {r['native']['tg_tps']:.1f} | "
        f"{r['high_level']['tg_tps']:.1f} (high-level) | {ratios['high_level_tg_vs_native']:.2f}x | (baseline) |",
        f"| TTFT 5th turn, {t['prompt_tokens']} tokens (s) | cold {t['cold_ttft_s']:.3f} | "
        f"reuse {t['warm_ttft_s']:.3f} ({t['warm_evaluated']} evaluated) | {ratios['ttft_reuse_vs_cold']:.2f}x | "
        "<= 0.25x |",
        f"| TTFT 5th turn after a restart (the cache read from disk; saving it at unload took "
        f"{t['save_at_unload_s']:.2f} s) | cold {t['cold_ttft_s']:.3f} | restart {t['restart_ttft_s']:.3f} "
        f"({t['restart_evaluated']} evaluated) | {t['restart_ratio']:.2f}x | <= 0.25x |",
        "",
        "KV cache precision (the answer loop, 64 answer tokens after a prompt of N tokens; median tok/s):",
        "",
        "| prompt tokens | prompt eval f16 | q8_0 | q8_0/f16 | decode f16 | q8_0 | q8_0/f16 |",
        "|---|---|---|---|---|---|---|",
        *(f"| {depth} | {row['f16']['pp_tps']:.0f} | {row['q8_0']['pp_tps']:.0f} | {row['q8_0_vs_f16']['pp']:.2f}x | "
          f"{row['f16']['tg_tps']:.1f} | {row['q8_0']['tg_tps']:.1f} | {row['q8_0_vs_f16']['tg']:.2f}x |"
          for depth, row in r.get("kv_cache", {}).items()),
    ])
