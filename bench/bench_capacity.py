"""Capacity of a whole RAG service on this machine: a sweep and a confirmed capacity search, timed (issue 16).

For ``default`` and ``default`` + cache (``cache.enabled=true``), each against the config's async serving engine in
process (real e5-small, FAISS + BM25, the extractive answerer; every answer scored against the dataset's gold):

  0. a synchronous probe (cache off) picks the SLO and the quality floor when not given: ``e2el_ms`` = 3 × the
     probe's p95 latency (rounded up to 50 ms), ``min_correct`` = the probe's correct share − 0.15 (rounded down
     to 0.05; a step scores only a few dozen answers, so the floor leaves room for their sampling noise);
  1. a sweep (synchronous, throughput with 16 streams, 3 constant rates between), timed;
  2. a capacity search with its confirmation (:func:`workbench.loadtest.find_capacity`: constant rate at the
     capacity found must hold, at 1.2x it must break), within ``--budget`` seconds, timed.

Each gets a fresh engine (and an empty cache); the engine's start (models loading) is timed apart. Target: the
sweep, and the search with its confirmation, each under 3 minutes. Prints a table and writes
bench/results/capacity.json. Run (about 7 minutes on 2 cores):

    nice -n 5 .venv/bin/python bench/bench_capacity.py
    nice -n 5 .venv/bin/python bench/bench_capacity.py --slo-ms 1500 --min-correct 0.4 --skip-sweep

The same search from the command line:

    workbench loadtest default --set cache.enabled=true --find-capacity --slo e2el_ms=MS --min-correct X --time-budget 170
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import workbench  # noqa: F401  (offline switches first)
from workbench.config import PipelineConfig
from workbench.loadtest import SLO, RunProfile, Workload, WorkloadSpec, find_capacity, runner_for, sweep
from workbench.loadtest.capacity import warm_up
from workbench.loadtest.result import run_environment
from workbench.percentiles import PERCENTILE_METHOD

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "capacity.json"
TARGET_S = 180.0


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


async def probe(cfg: PipelineConfig, kb: Any, items: list, seconds: float, warm: int) -> dict[str, Any]:
    """One request at a time for ``seconds``: the latency floor and the correct share of ``cfg``."""
    from workbench.serving.engine import AsyncEngine

    async with AsyncEngine.from_config(cfg, kb=kb) as engine:
        await warm_up(engine, items[-200:], warm)
        res = await runner_for(RunProfile(name="synchronous", duration_s=seconds), engine, items, score=True).run()
    s = res.summary()
    return {"seconds": seconds, "requests": s["requests"], "throughput_rps": s["throughput_rps"],
            "latency_p50_ms": s["latency_ms"]["p50"], "latency_p95_ms": s["latency_ms"]["p95"],
            "correct_share": s.get("correct_share")}


async def one_config(cfg: PipelineConfig, kb: Any, items: list, slo: SLO, min_correct: float, a: argparse.Namespace
                     ) -> dict[str, Any]:
    from workbench.serving.engine import AsyncEngine

    row: dict[str, Any] = {"load_average_before": _load()}
    if not a.skip_sweep:
        t = time.perf_counter()
        async with AsyncEngine.from_config(cfg, kb=kb) as engine:
            row["sweep_engine_start_s"] = time.perf_counter() - t
            t = time.perf_counter()  # the warm-up is in the sweep's time
            sw = await sweep(engine, items, steps=5, duration_s=a.sweep_s, concurrency=16, slo=slo, score=True,
                             warmup=0.2, warm_requests=a.warm, drain_timeout_s=2 * slo.e2el_ms / 1e3 + 1)
            row["sweep_s"] = time.perf_counter() - t
        row["sweep"] = sw.curve[["run", "profile", "rate", "throughput_rps", "goodput_rps", "correct_goodput_rps",
                                 "correct_share", "slo_attainment", "latency_p50_ms", "latency_p99_ms"]].to_dict("records")
        print(f"    sweep {row['sweep_s']:.0f} s: " + ", ".join(
            f"{r['run']} {r['throughput_rps']:.1f} req/s" for r in row["sweep"]), flush=True)

    def step(label: str, res: Any) -> None:
        s = res.summary(slo)
        print(f"    {label:<28} attainment {s.get('slo_attainment', math.nan):6.1%}  p99 {s['latency_ms']['p99']:8.0f} ms"
              f"  correct {s.get('correct_share', math.nan):5.0%}", flush=True)

    t = time.perf_counter()
    async with AsyncEngine.from_config(cfg, kb=kb) as engine:  # a fresh engine (and an empty cache)
        row["search_engine_start_s"] = time.perf_counter() - t
        cap = await find_capacity(engine, items, slo, min_correct=min_correct, step_s=a.step_s, warmup=0.2,
                                  warm_requests=a.warm, time_budget_s=a.budget, seed=a.seed, on_step=step,
                                  min_requests=a.min_requests)
    row["capacity"] = cap.to_dict()
    row["search_and_confirm_s"] = cap.search_s + cap.confirm_s
    row["load_average_after"] = _load()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--slo-ms", type=float, default=None, help="e2el_ms bound (default: from the probe).")
    ap.add_argument("--min-correct", type=float, default=None, help="Quality floor (default: from the probe).")
    ap.add_argument("--probe-s", type=float, default=10.0)
    ap.add_argument("--step-s", type=float, default=6.0, help="Each capacity step's length.")
    ap.add_argument("--sweep-s", type=float, default=6.0, help="Each sweep run's length.")
    ap.add_argument("--budget", type=float, default=170.0, help="The search's time budget, confirmation included.")
    ap.add_argument("--min-requests", type=int, default=20, help="Measured requests a capacity step sends at least.")
    ap.add_argument("--warm", type=int, default=20, help="Unmeasured requests before each sweep and search.")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--skip-sweep", action="store_true")
    ap.add_argument("--only", choices=["bare", "cache"], default=None)
    a = ap.parse_args()
    from workbench.pipelines import load_knowledge_base

    base = PipelineConfig.load(a.preset)
    kb = load_knowledge_base(base, progress=False)
    items = Workload(WorkloadSpec(seed=a.seed, personalized_share=0.0)).items(20_000)
    out: dict[str, Any] = {"preset": a.preset, "environment": run_environment(), "percentile_method": PERCENTILE_METHOD,
                           "started": time.strftime("%Y-%m-%d %H:%M"), "load_average_before": _load(),
                           "command": " ".join(["python", "bench/bench_capacity.py", *sys.argv[1:]]),
                           "target_s": TARGET_S, "step_s": a.step_s, "sweep_step_s": a.sweep_s, "budget_s": a.budget,
                           "min_requests": a.min_requests}
    bare = base.with_overrides({"cache.enabled": False})
    if a.slo_ms is None or a.min_correct is None:
        p = asyncio.run(probe(bare, kb, items, a.probe_s, a.warm))
        out["probe"] = p
        print(f"probe (synchronous, {a.probe_s:g} s): {p['throughput_rps']:.2f} req/s, p50 {p['latency_p50_ms']:.0f} ms, "
              f"p95 {p['latency_p95_ms']:.0f} ms, correct {p['correct_share']:.0%}  load {_load()}", flush=True)
    slo_ms = a.slo_ms or 50 * math.ceil(3 * out["probe"]["latency_p95_ms"] / 50)
    min_correct = a.min_correct if a.min_correct is not None else \
        max(0.0, math.floor((out["probe"]["correct_share"] - 0.15) * 20) / 20)
    slo = SLO(e2el_ms=slo_ms)
    out.update(slo=slo.to_dict(), min_correct=min_correct, configs={})
    print(f"SLO {slo!r}, correct >= {min_correct:.0%}, attainment >= 95%")
    configs = [(a.preset, bare), (f"{a.preset} + cache", base.with_overrides({"cache.enabled": True}))]
    for name, cfg in configs:
        if a.only and (a.only == "cache") != name.endswith("cache"):
            continue
        print(f"  {name}", flush=True)
        out["configs"][name] = row = asyncio.run(one_config(cfg, kb, items, slo, min_correct, a))
        print(f"  {name}: {row['capacity']['headline']}\n    {row['capacity']['confirmation_line']}", flush=True)
    print(f"\ncapacity, in-process engine, SLO {slo!r}, correct >= {min_correct:.0%} (attainment >= 95%); "
          f"load before {out['load_average_before']}")
    print(f"{'config':<18} {'req/s':>7} {'users':>5} {'sweep s':>8} {'search s':>9} {'1.0x att':>9} {'1.0x corr':>9} "
          f"{'1.2x att':>9} {'1.2x corr':>9} {'confirmed':>9}")
    for name, row in out["configs"].items():
        c = row["capacity"]
        conf = {x["factor"]: x for x in c["confirmation"]}
        one, over = conf.get(1.0, {}), conf.get(1.2, {})

        def pct(x: float | None) -> str:
            return "-" if x is None else f"{x:.0%}"

        sweep_s = f"{row['sweep_s']:.0f}" if "sweep_s" in row else "-"
        print(f"{name:<18} {c['rate_rps']:>7.2f} {c['users']:>5} {sweep_s:>8} {row['search_and_confirm_s']:>9.0f} "
              f"{pct(one.get('slo_attainment')):>9} {pct(one.get('correct_share')):>9} "
              f"{pct(over.get('slo_attainment')):>9} {pct(over.get('correct_share')):>9} {c['confirmed']!s:>9}")
        within = row["search_and_confirm_s"] < TARGET_S and row.get("sweep_s", 0.0) < TARGET_S
        print(f"    under {TARGET_S:.0f} s each: {within}  (load {row['load_average_before']} -> "
              f"{row['load_average_after']}); {c['confirmation_line']}")
    out["load_average_after"] = _load()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2, default=float, ensure_ascii=False), encoding="utf-8")
    print(f"\nwrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
