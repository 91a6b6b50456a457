"""A burst against a preset whose LLM runs in this process (default ``quality``): how each admission setup
treats the requests one model on the CPU cannot take.

The load is the demo's graded load run (:class:`workbench.demo.DemoLoad`: seeded Poisson arrivals at
``--rate`` req/s for ``--seconds`` from the Zipf workload, answers scored by the matcher, the engine in
process), run once per setup, one after another in this process, each on a fresh engine:

* ``8 slots`` (the baseline, how the engine ran before this round): ``serving.max_concurrency=8``, no overflow;
* ``capped``: the slots the engine now derives for an in-process generator (usable cores // generator threads),
  no overflow: what the pipeline cannot take is shed with 429;
* ``capped + overflow`` (what ``quality`` ships): what the pipeline's admission would shed is answered
  extractively in slots of its own (``serving.degradation.overflow``).

The table gives, per setup: requests, answered (by the model / at a degraded level), shed, failed or unfinished
(still running when the run's drain timeout passed), the share of answers within ``--slo-ms``, latency
percentiles of the answered (nearest rank), the correct share of the scored answers and the correct goodput;
ratios divide by the baseline's figure measured in the same run. Run (about 3 minutes; ``--quick`` 1.5)::

    .venv/bin/python bench/bench_llm_burst.py
    .venv/bin/python bench/bench_llm_burst.py --rate 0.5 --seconds 20 --set generator.threads=1

Writes ``bench/results/llm_burst.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import workbench  # noqa: F401  (offline switches first)
from workbench.config import PipelineConfig
from workbench.demo import DemoLoad
from workbench.evaluation.experiment.manifest import machine_info
from workbench.serving.admission import AdmissionQueue

SETUPS: dict[str, dict[str, Any]] = {
    "8 slots": {"serving.max_concurrency": 8, "serving.degradation.overflow": False},
    "capped": {"serving.max_concurrency": None, "serving.degradation.overflow": False},
    "capped + overflow": {"serving.max_concurrency": None, "serving.degradation.overflow": True},
}


def run_setup(cfg: PipelineConfig, load: DemoLoad) -> dict[str, Any]:
    """One load run against ``cfg``: the load summary plus the counts the table shows."""
    t = time.perf_counter()
    s = load.run_for(cfg)
    n = int(s["requests"])
    shed, failed = round(n * float(s["shed_rate"])), round(n * float(s["error_rate"]))
    answered = n - shed - failed
    degraded = round(answered * float(s["degraded_share"] or 0.0))
    return {**s, "answered": answered, "full_service": answered - degraded, "degraded": degraded, "shed": shed,
            "failed": failed, "slots": AdmissionQueue.for_pipeline(cfg).max_concurrency,
            "wall_s": round(time.perf_counter() - t, 1)}


def fmt(value: Any, spec: str = ".0f") -> str:
    return "-" if value is None or value != value else format(value, spec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="quality")
    ap.add_argument("--rate", type=float, default=1.0, help="offered load, req/s (the demo's LLM rate)")
    ap.add_argument("--seconds", type=float, default=8.0, help="arrivals for this long")
    ap.add_argument("--slo-ms", type=float, default=500.0, help="the load run's end-to-end SLO")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    ap.add_argument("--quick", action="store_true", help="only the baseline and the shipped setup")
    ap.add_argument("--out", default="bench/results/llm_burst.json")
    args = ap.parse_args()

    from bench_overload import parse_sets  # this folder is on sys.path when a bench script runs

    base = PipelineConfig.load(args.preset).with_overrides(parse_sets(args.set))
    if base.generator.kind not in ("llama-cpp", "transformers"):
        raise SystemExit(f"{args.preset}: the generator ({base.generator.kind}) does not run in this process")
    load = DemoLoad(rate=args.rate, duration_s=args.seconds, slo_e2e_ms=args.slo_ms, seed=args.seed)
    setups = {k: v for k, v in SETUPS.items() if not args.quick or k != "capped"}
    results: dict[str, dict[str, Any]] = {}
    for name, overrides in setups.items():
        print(f"== {name}: {overrides}", flush=True)
        results[name] = run_setup(base.with_overrides(overrides), load)
        r = results[name]
        print(f"   {r['answered']} of {r['requests']} answered ({r['degraded']} degraded), {r['shed']} shed, "
              f"{r['failed']} failed or unfinished ({r['wall_s']} s)", flush=True)

    baseline = results["8 slots"]
    header = ("setup", "slots", "requests", "answered", "full service", "degraded", "shed", "failed/unfinished",
              f"within {args.slo_ms:g} ms", "p50 ms", "p95 ms", "correct", "correct goodput req/s",
              "answered ratio", "correct goodput ratio")
    rows = []
    for name, r in results.items():
        cg, cg0 = r.get("correct_goodput_rps"), baseline.get("correct_goodput_rps")
        rows.append((name, r["slots"], r["requests"], r["answered"], r["full_service"], r["degraded"], r["shed"],
                     r["failed"], fmt(r.get("slo_attainment"), ".0%"), fmt(r.get("latency_p50_ms")),
                     fmt(r.get("latency_p95_ms")), fmt(r.get("correct_share"), ".2f"), fmt(cg, ".2f"),
                     fmt(r["answered"] / baseline["answered"] if baseline["answered"] else float("nan"), ".1f") + "×",
                     "∞" if cg and not cg0 else fmt(cg / cg0 if cg0 else float("nan"), ".1f") + "×"))
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(x) for x in row) + " |")
    print(f"\n{args.preset}, {args.rate:g} req/s offered for {args.seconds:g} s (seed {args.seed}); percentiles of the "
          "answered requests, nearest rank; ratios against '8 slots' in this run")

    shipped = results["capped + overflow"]
    out = {"preset": args.preset, "rate": args.rate, "seconds": args.seconds, "slo_ms": args.slo_ms,
           "seed": args.seed, "overrides": args.set, "quick": args.quick, "setups": SETUPS, "results": results,
           "headline": [f"{args.preset} burst {args.rate:g} req/s: shipped answers {shipped['answered']}/"
                        f"{shipped['requests']} ({shipped['degraded']} extractive), 8 slots {baseline['answered']}/"
                        f"{baseline['requests']} ({baseline['failed']} unfinished)"],
           "machine": {**machine_info(), "load_avg": os.getloadavg()[0]},
           "generator_threads": base.generator.threads}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
