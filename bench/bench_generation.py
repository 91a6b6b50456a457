"""Generation speed: the workbench's LlamaCppGenerator vs raw llama_cpp, TTFT, parallel instances on 2 cores.

    .venv/bin/python bench/bench_generation.py [--quick] [--models gemma-3-270m smollm2-135m] [--max-tokens 64]

Per model (bundled GGUFs, llama-cpp-python in-process):

1. Overhead: the same prompt, greedy (temperature 0), fixed ``max_tokens``, no stop strings, through
   ``LlamaCppGenerator.run`` vs a separately loaded raw ``llama_cpp.Llama`` with the same settings
   (n_ctx 2048, n_threads 2, seed 0): streaming ``create_completion`` (the baseline: the generator
   streams internally, so this is like for like) and non-streaming.
   Calls rotate through the paths (each goes first, second and last equally often); the KV cache is reset before every call (llama-cpp-python otherwise
   reuses the cached prompt prefix of an identical prompt and skips prompt evaluation). The outputs are
   checked to be the same text, and tokens/s uses the raw call's ``completion_tokens`` for both paths.
   SmolLM2 is an instruct model; here it gets the same plain prompt (``chat=False``) so both models run
   the same code path.
2. TTFT: time to the first streamed chunk (generator: its ``ttft_ms`` meta; raw: first chunk of the
   streaming call), which is dominated by prompt evaluation.
3. Concurrent streams, 4 requests: one instance (2 threads) serving them one after another vs two
   instances (1 thread each) in two Python threads, 2 requests each; plus two instances with 2 threads
   each (oversubscribed) in the full run. Wall time, aggregate tokens/s, mean request latency.

Medians over ``--repeats`` with min-max after one warm-up call per path. Writes bench/results/generation.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import workbench  # noqa: F401  (offline switches)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "generation.json"
N_CTX = 2048


def build_prompt() -> str:
    """A fixed RAG-style prompt: two Wikipedia lead summaries as context and a question (~350 tokens)."""
    from workbench.datasets import load_wiki_summaries

    ds = load_wiki_summaries(limit=2, seed=3)
    ctx = "\n".join(f"[{i + 1}] {d.title}: {d.text}" for i, d in enumerate(ds.documents))
    q = ds.questions[0] if ds.questions else None
    question = f"Which article is about: {q.question}?" if q else "What are these articles about?"
    return f"Answer the question using the context.\n\nContext:\n{ctx}\n\nQuestion: {question}\nAnswer:"


def _ms(t0: int) -> float:
    return (time.perf_counter_ns() - t0) / 1e6


def _stats(xs: list[float]) -> dict:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def overhead(model: str, prompt: str, max_tokens: int, repeats: int) -> dict:
    import llama_cpp

    from workbench.components.generators.llama_cpp_generator import LlamaCppGenerator
    from workbench.models import resolve_gguf

    gen = LlamaCppGenerator(model, max_tokens=max_tokens, temperature=0.0, threads=2, context_window=N_CTX,
                            stop=[], chat=False, seed=0)
    t0 = time.perf_counter_ns()
    gen.warm_up()
    load_gen_ms = _ms(t0)
    t0 = time.perf_counter_ns()
    raw = llama_cpp.Llama(model_path=str(resolve_gguf(model)), n_ctx=N_CTX, n_threads=2, seed=0, verbose=False)
    load_raw_ms = _ms(t0)
    prompt_tokens = len(raw.tokenize(prompt.encode("utf-8")))
    kw = {"max_tokens": max_tokens, "temperature": 0.0, "stop": []}

    def run_gen() -> tuple[float, float, str]:
        gen.llm.reset()
        t0 = time.perf_counter_ns()
        out = gen.run(prompt=prompt)
        wall = _ms(t0)
        meta = out["meta"][0]
        return wall, meta["ttft_ms"], meta["raw"]

    def run_raw() -> tuple[float, str, int]:
        raw.reset()
        t0 = time.perf_counter_ns()
        out = raw.create_completion(prompt=prompt, **kw)
        return _ms(t0), out["choices"][0]["text"], out["usage"]["completion_tokens"]

    def run_raw_stream() -> tuple[float, float, str]:
        raw.reset()
        t0 = time.perf_counter_ns()
        first = None
        parts = []
        for chunk in raw.create_completion(prompt=prompt, stream=True, **kw):
            if first is None:
                first = _ms(t0)
            parts.append(chunk["choices"][0]["text"])
        return _ms(t0), first or 0.0, "".join(parts)

    run_gen(), run_raw(), run_raw_stream()  # warm-up
    g_ms, g_ttft, r_ms, s_ms, s_ttft, tokens = [], [], [], [], [], []
    texts = {"generator": set(), "raw": set(), "raw_stream": set()}
    for i in range(repeats):
        order = [(i + j) % 3 for j in range(3)]  # rotate which path goes first, second, last
        for k in order:
            if k == 0:
                w, ttft, text = run_gen()
                g_ms.append(w)
                g_ttft.append(ttft)
                texts["generator"].add(text)
            elif k == 1:
                w, text, n = run_raw()
                r_ms.append(w)
                tokens.append(n)
                texts["raw"].add(text)
            else:
                w, ttft, text = run_raw_stream()
                s_ms.append(w)
                s_ttft.append(ttft)
                texts["raw_stream"].add(text)
    n_tok = statistics.median(tokens)
    same = len(texts["generator"] | texts["raw"] | texts["raw_stream"]) == 1
    res = {
        "prompt_tokens": prompt_tokens, "completion_tokens": n_tok, "completion_tokens_all": sorted(set(tokens)),
        "same_output_all_paths": same, "load_ms": {"generator": load_gen_ms, "raw": load_raw_ms},
        "raw_ms": _stats(r_ms), "raw_stream_ms": _stats(s_ms), "generator_ms": _stats(g_ms),
        "ttft_ms": {"generator": _stats(g_ttft), "raw_stream": _stats(s_ttft)},
        "tok_per_s": {"raw": n_tok / (statistics.median(r_ms) / 1000),
                      "raw_stream": n_tok / (statistics.median(s_ms) / 1000),
                      "generator": n_tok / (statistics.median(g_ms) / 1000)},
        "decode_tok_per_s_after_first": {
            "generator": (n_tok - 1) / ((statistics.median(g_ms) - statistics.median(g_ttft)) / 1000),
            "raw_stream": (n_tok - 1) / ((statistics.median(s_ms) - statistics.median(s_ttft)) / 1000)},
        "sample_output": next(iter(texts["raw"]))[:160],
    }
    # paired per-repeat ratios: each repeat's generator time over the same repeat's raw times (adjacent in time);
    # best-of-N (min over repeats) is shown too: on a shared machine the minimum is the least disturbed run
    for key, base in (("raw_stream", s_ms), ("raw", r_ms)):
        pairs = [g / r for g, r in zip(g_ms, base, strict=True)]
        res[f"generator_over_{key}"] = {**_stats(pairs), "best_of_n": min(g_ms) / min(base),
                                        "median_of_medians": statistics.median(g_ms) / statistics.median(base)}
    res["overhead_pct"] = (res["generator_over_raw_stream"]["median"] - 1) * 100
    res["overhead_pct_best_of_n"] = (res["generator_over_raw_stream"]["best_of_n"] - 1) * 100
    res["overhead_pct_vs_nonstream"] = (res["generator_over_raw"]["median"] - 1) * 100
    return res


def concurrency(model: str, prompt: str, max_tokens: int, repeats: int, oversubscribed: bool) -> dict:
    from workbench.components.generators.llama_cpp_generator import LlamaCppGenerator

    def make(threads: int) -> LlamaCppGenerator:
        g = LlamaCppGenerator(model, max_tokens=max_tokens, temperature=0.0, threads=threads,
                              context_window=N_CTX, stop=[], chat=False, seed=0)
        g.warm_up()
        g.llm.reset()
        g.run(prompt=prompt)  # warm-up
        return g

    def serve(g: LlamaCppGenerator, n: int, lat: list[float], toks: list[int]) -> None:
        for _ in range(n):
            g.llm.reset()
            t0 = time.perf_counter_ns()
            out = g.run(prompt=prompt)
            lat.append(_ms(t0))
            toks.append(out["meta"][0]["completion_tokens"])

    setups = {"1 instance x 2 threads, sequential": [(2, 4)],
              "2 instances x 1 thread, parallel": [(1, 2), (1, 2)]}
    if oversubscribed:
        setups["2 instances x 2 threads, parallel"] = [(2, 2), (2, 2)]
    gens = {name: [make(t) for t, _ in spec] for name, spec in setups.items()}
    walls: dict[str, list[float]] = {k: [] for k in setups}
    lats: dict[str, list[float]] = {k: [] for k in setups}
    toks: dict[str, list[int]] = {k: [] for k in setups}
    names = list(setups)
    for i in range(repeats):
        for name in (names if i % 2 == 0 else list(reversed(names))):
            spec = setups[name]
            threads = [threading.Thread(target=serve, args=(g, n, lats[name], toks[name]))
                       for g, (_, n) in zip(gens[name], spec, strict=True)]
            t0 = time.perf_counter_ns()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            walls[name].append(_ms(t0))
    out: dict[str, dict] = {}
    base = statistics.median(walls[names[0]])
    for name in names:
        w = statistics.median(walls[name])
        per_run_tokens = sum(toks[name]) / repeats
        out[name] = {"wall_ms": _stats(walls[name]), "aggregate_tok_per_s": per_run_tokens / (w / 1000),
                     "request_latency_ms_median": statistics.median(lats[name]),
                     "tokens_per_request": sorted(set(toks[name])), "speedup_vs_sequential": base / w}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="Gemma only, 32 tokens, 2 repeats (~1 min)")
    ap.add_argument("--models", nargs="+", default=["gemma-3-270m", "smollm2-135m"],
                    choices=["gemma-3-270m", "smollm2-135m"])
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    if args.quick:
        args.models, args.max_tokens, args.repeats = args.models[:1], min(args.max_tokens, 32), 3
    started = time.perf_counter_ns()
    import llama_cpp

    prompt = build_prompt()
    results: dict[str, dict] = {}
    for model in args.models:
        print(f"\n== {model}: greedy, max_tokens {args.max_tokens}, no stop strings, n_ctx {N_CTX}", flush=True)
        ov = overhead(model, prompt, args.max_tokens, args.repeats)
        _print_overhead(ov)
        conc = concurrency(model, prompt, args.max_tokens, max(2, min(4, args.repeats - 2)), oversubscribed=not args.quick)
        _print_concurrency(conc)
        results[model] = {"overhead": ov, "concurrency": conc}
    wall = (time.perf_counter_ns() - started) / 1e9
    print(f"\nmachine: {platform.platform()}, cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}; "
          f"llama-cpp-python {llama_cpp.__version__}; wall {wall:.0f} s")
    headline = []
    for model, r in results.items():
        ov = r["overhead"]
        par = r["concurrency"]["2 instances x 1 thread, parallel"]
        headline += [
            {"metric": f"{model} tok/s via LlamaCppGenerator", "value": ov["tok_per_s"]["generator"], "unit": "tok/s"},
            {"metric": f"{model} generator overhead vs raw llama_cpp", "value": ov["overhead_pct"], "unit": "%",
             "target": "<= 10", "met": overhead_met(ov["overhead_pct"]), "baseline": "raw llama_cpp streaming, paired median"},
            {"metric": f"{model} generator overhead, best-of-N", "value": ov["overhead_pct_best_of_n"], "unit": "%",
             "target": "<= 10", "met": overhead_met(ov["overhead_pct_best_of_n"])},
            {"metric": f"{model} TTFT (generator)", "value": ov["ttft_ms"]["generator"]["median"], "unit": "ms"},
            {"metric": f"{model} 2 parallel instances vs 1 sequential (4 requests)", "value": par["speedup_vs_sequential"],
             "unit": "x"},
        ]
    result = {"benchmark": "generation", "command": "python bench/bench_generation.py " + " ".join(argv or sys.argv[1:]),
              "quick": args.quick,
              "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                          "load_average_at_end": os.getloadavg(), "llama_cpp_python": llama_cpp.__version__},
              "settings": {"temperature": 0.0, "max_tokens": args.max_tokens, "stop": [], "n_ctx": N_CTX, "seed": 0,
                           "threads_overhead_test": 2, "repeats": args.repeats, "kv_cache": "reset before every call",
                           "prompt_chars": len(prompt)},
              "models": results, "headline": headline, "total_wall_s": wall}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def overhead_met(pct: float) -> bool | None:
    """Whether an overhead meets the <= 10% target; ``None`` (inconclusive) when it is below -10%: the
    wrapper cannot be much faster than what it wraps, so such a value is noise from a loaded machine."""
    if pct < -10:
        return None
    return pct <= 10


def _print_overhead(ov: dict) -> None:
    print(f"prompt {ov['prompt_tokens']} tokens -> {ov['completion_tokens']} completion tokens "
          f"(all runs: {ov['completion_tokens_all']}); same output on all paths: {ov['same_output_all_paths']}")
    print(f"  {'path':28s} {'request ms median [min-max]':>30s} {'tok/s':>7s} {'TTFT ms':>9s} {'x raw':>6s}")
    r = ov["raw_ms"]
    rows = [("raw create_completion", ov["raw_ms"], ov["tok_per_s"]["raw"], None),
            ("raw create_completion stream", ov["raw_stream_ms"], ov["tok_per_s"]["raw_stream"],
             ov["ttft_ms"]["raw_stream"]["median"]),
            ("LlamaCppGenerator.run", ov["generator_ms"], ov["tok_per_s"]["generator"],
             ov["ttft_ms"]["generator"]["median"])]
    for name, s, tps, ttft in rows:
        span = f"{s['median']:.1f} [{s['min']:.1f}-{s['max']:.1f}]"
        print(f"  {name:28s} {span:>30s} {tps:7.1f} {ttft if ttft is None else round(ttft, 1)!s:>9s} "
              f"{s['median'] / r['median']:6.3f}")
    for key, label in (("raw_stream", "raw stream"), ("raw", "raw non-stream")):
        g = ov[f"generator_over_{key}"]
        print(f"  generator / {label}: paired per repeat median {g['median']:.3f} [{g['min']:.3f}-{g['max']:.3f}], "
              f"best-of-{g['n']} {g['best_of_n']:.3f}")
    print(f"  overhead vs raw stream (paired median) {ov['overhead_pct']:+.1f}%, best-of-N {ov['overhead_pct_best_of_n']:+.1f}%, "
          f"vs raw non-stream {ov['overhead_pct_vs_nonstream']:+.1f}% "
          f"(target <= 10%: {'met' if ov['overhead_pct'] <= 10 else 'NOT met'})")
    d = ov["decode_tok_per_s_after_first"]
    print(f"  decode tok/s after the first token: generator {d['generator']:.1f}, raw stream {d['raw_stream']:.1f}")


def _print_concurrency(conc: dict) -> None:
    print("  4 requests:")
    print(f"  {'setup':36s} {'wall ms median [min-max]':>28s} {'agg tok/s':>9s} {'req ms':>8s} {'x seq':>6s}")
    for name, c in conc.items():
        w = c["wall_ms"]
        span = f"{w['median']:.0f} [{w['min']:.0f}-{w['max']:.0f}]"
        print(f"  {name:36s} {span:>28s} {c['aggregate_tok_per_s']:9.1f} {c['request_latency_ms_median']:8.0f} "
              f"{c['speedup_vs_sequential']:6.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
