"""Benchmark of the load tester itself, and the first load-test numbers of the default config.

Measures, in one run:
  1. runner overhead: the open-loop runner against ``NoopTarget`` at offered rates of 5k/10k/20k req/s
     (achieved rate, dispatch lateness ``wait_ms``), and the closed-loop runner's ceiling;
  2. agreement: the in-process HTTP runner (open loop, Poisson) vs Locust (``FastHttpUser``, subprocess,
     ``constant_throughput`` users) against the same contract server (its own process, fixed 20 ms and
     50 ms answers), at the same offered rate: throughput and median latency, and their ratios;
  3. the saturation curve of the ``default`` config (in-process target: the query pipeline in 2
     threads), closed loop, 1 → 64 users;
  4. a morning-peak open-loop run of the ``default`` config with the cache off and on (the cache starts
     empty), goodput under an SLO of end-to-end ≤ 500 ms;
  5. capacity (issue 16): a sweep and a capacity search of ``default`` and ``default`` + cache against the
     config's async serving engine in process, each timed (target: under 3 minutes), answers scored against
     the gold; the capacity found is confirmed by constant-rate runs at that rate (SLO and quality floor
     should hold) and at 1.2x it (they should break);
  6. the ``serving`` preset against the same pipeline bare at the morning peak, the LLM tier as the
     simulated OpenAI-compatible service (:class:`workbench.demo.ServingPeak`, what ``workbench demo`` runs).

Percentiles: numpy "linear". Open-loop latency counts from the scheduled start. Prints tables and
ratios; writes bench/results/loadtest.json. Run (about 4 minutes on 2 shared cores):

    .venv/bin/python bench/bench_loadtest.py
    .venv/bin/python bench/bench_loadtest.py --skip default --agree-rate 150 --agree-seconds 10
    .venv/bin/python bench/bench_loadtest.py --only capacity --cap-slo-ms 500 --cap-min-correct 0.3

Sections not run keep their previous figures in the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import workbench  # noqa: F401  (offline switches first)
from workbench.config import PipelineConfig
from workbench.loadtest import (
    SLO,
    ClosedLoopRunner,
    HttpSender,
    LoadProfile,
    NoopTarget,
    OpenLoopRunner,
    ThreadedTarget,
    Workload,
    WorkloadSpec,
    compare_results,
    concurrency_sweep,
    pipeline_answer_fn,
    run_locust,
    saturation_point,
)
from workbench.loadtest.result import run_environment
from workbench.percentiles import PERCENTILE_METHOD
from workbench.testing import free_port, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "loadtest.json"


def runner_overhead(items: list, seconds: float) -> dict[str, Any]:
    rows = []
    for rate in (5_000, 10_000, 20_000):
        res = OpenLoopRunner(NoopTarget(), items, LoadProfile.steady(rate, seconds), seed=1).run_sync()
        s = res.summary()
        rows.append({"offered_rps": rate, "requests": s["requests"], "achieved_rps": round(s["completed_rps"]),
                     "wait_p50_ms": round(s["wait_ms"]["p50"], 3), "wait_p99_ms": round(s["wait_ms"]["p99"], 3),
                     "schedule_lag_ms": round(res.meta["schedule_lag_ms"], 3)})
    closed = ClosedLoopRunner(NoopTarget(), items, users=64, max_requests=100_000).run_sync().summary()
    print("\n1. runner overhead against NoopTarget (open loop, Poisson arrivals)")
    print(f"{'offered':>9} {'requests':>9} {'achieved':>9} {'wait p50':>9} {'wait p99':>9} {'lag end':>8}")
    for r in rows:
        print(f"{r['offered_rps']:>9} {r['requests']:>9} {r['achieved_rps']:>9} {r['wait_p50_ms']:>9} "
              f"{r['wait_p99_ms']:>9} {r['schedule_lag_ms']:>8}")
    print(f"closed loop, 64 users, 100k requests: {closed['completed_rps']:.0f} req/s")
    five = rows[0]
    print(f"ratio achieved/offered at 5k: {five['achieved_rps'] / 5000:.3f}  (target: sustains >= 5,000 req/s)")
    return {"open_loop": rows, "closed_loop_rps": round(closed["completed_rps"])}


def agreement(items: list, rate: float, seconds: float, delay_ms: float) -> dict[str, Any]:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "workbench.loadtest.contract_app", "--port", str(port),
                               "--delay-ms", f"{delay_ms:g}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, timeout_s=30)
        ClosedLoopRunner(HttpSender(url), items, users=4, max_requests=100).run_sync()  # warm up
        http_open = OpenLoopRunner(HttpSender(url), items, LoadProfile.steady(rate, seconds), seed=3).run_sync()
        users = max(1, round(rate / 10))
        locust = run_locust(url, items, users=users, run_time_s=seconds, rate_per_user=rate / users,
                            requests=len(items))
    finally:
        server.terminate()
        server.wait(timeout=10)
    a, b = http_open.summary(), locust.summary()
    out = {"offered_rps": rate, "seconds": seconds, "server_delay_ms": delay_ms, "locust_users": users,
           "http_runner": {"throughput_rps": a["throughput_rps"], "p50_ms": a["latency_ms"]["p50"],
                           "p99_ms": a["latency_ms"]["p99"], "requests": a["requests"], "errors": a["errors"]},
           "locust": {"throughput_rps": b["throughput_rps"], "p50_ms": b["latency_ms"]["p50"],
                      "p99_ms": b["latency_ms"]["p99"], "requests": b["requests"], "errors": b["errors"],
                      "json_totals": locust.meta.get("locust_json")}}
    out["throughput_ratio"] = a["throughput_rps"] / b["throughput_rps"]
    out["p50_ratio"] = a["latency_ms"]["p50"] / b["latency_ms"]["p50"]
    out["agree_within_10pct"] = abs(out["throughput_ratio"] - 1) <= 0.1 and abs(out["p50_ratio"] - 1) <= 0.1
    print(f"\n2. HTTP runner vs Locust, same contract server ({delay_ms:g} ms answers, own process), "
          f"{rate:g} req/s for {seconds:g} s")
    print(f"{'':14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7}")
    for name, s in (("http runner", out["http_runner"]), ("locust", out["locust"])):
        print(f"{name:14} {s['throughput_rps']:>8.1f} {s['p50_ms']:>8.2f} {s['p99_ms']:>8.2f} {s['requests']:>9} "
              f"{s['errors']:>7}")
    print(f"ratios http/locust: throughput {out['throughput_ratio']:.3f}, p50 {out['p50_ratio']:.3f} "
          f"-> within 10%: {out['agree_within_10pct']}")
    return out


def default_config(items: list, peak_seconds: float) -> dict[str, Any]:
    from workbench.pipelines import build_query_pipeline

    cfg = PipelineConfig.load("default")
    qp = build_query_pipeline(cfg, progress=False)
    for q in ("gold card annual fee?", "金卡年费多少", "how do I reset my password", "信用卡丢了怎么办"):
        qp.run(q)  # warm the models, jieba, and the BM25 tokenizer
    target = ThreadedTarget(pipeline_answer_fn(cfg.with_overrides({"cache.enabled": False}), pipeline=qp),
                            workers=2, name="default")
    try:
        ClosedLoopRunner(target, items, users=2, max_requests=40).run_sync()  # warm up
        table = concurrency_sweep(target, items, levels=(1, 2, 4, 8, 16, 32, 64),
                                  on_level=lambda c, r: print(f"  c={c}: {r.summary()['throughput_rps']:.1f} req/s",
                                                              flush=True))
    finally:
        target.close()
    knee = saturation_point(table)
    best = float(table.throughput_rps.max())
    print("\n3. saturation curve, default config (in-process, pipeline in 2 threads, closed loop, no think time)")
    cols = ["concurrency", "throughput_rps", "latency_p50_ms", "latency_p99_ms"]
    print(table[cols].round(1).to_string(index=False))
    print(f"saturation: {knee} users reach 95% of the best throughput ({best:.1f} req/s)")

    peak = round(1.3 * best)
    profile = LoadProfile.morning_peak(peak, peak_seconds)
    slo = SLO(e2e_ms=500)
    runs = {}
    for name, enabled in (("cache off", False), ("cache on", True)):
        c = cfg.with_overrides({"cache.enabled": enabled})
        t = ThreadedTarget(pipeline_answer_fn(c, pipeline=qp), workers=2, name=name)
        try:
            runs[name] = OpenLoopRunner(t, Workload(WorkloadSpec(seed=11)), profile, slo=slo, label=name,
                                        drain_timeout_s=120).run_sync()
        finally:
            t.close()
    cmp = compare_results(runs, slo)
    print(f"\n4. morning peak, default config: base {0.2 * peak:.0f} → peak {peak} req/s (1.3 × the saturation "
          f"throughput) over {peak_seconds:g} s, SLO e2e ≤ 500 ms")
    cols = ["requests", "throughput_rps", "goodput_rps", "slo_attainment", "latency_p50_ms", "latency_p95_ms",
            "latency_p99_ms", "hit_rate_exact", "hit_rate_semantic", "hit_rate_any"]
    print(cmp[cols].round(3).to_string())
    off, on = cmp.loc["cache off"], cmp.loc["cache on"]
    print(f"ratios on/off: goodput {on.goodput_rps / off.goodput_rps:.2f}x, p99 {on.latency_p99_ms / off.latency_p99_ms:.3f}x")
    return {"saturation": table[["concurrency", "requests", "throughput_rps", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms"]].to_dict("records"),
            "saturation_point_users": knee, "best_throughput_rps": best,
            "morning_peak": {"profile": profile.to_dict(), "slo": {"e2e_ms": 500},
                             "runs": cmp.reset_index().to_dict("records")}}


def capacity(slo_ms: float, min_correct: float | None, step_s: float, sweep_s: float,
             preset: str = "default") -> dict[str, Any]:
    import asyncio

    from workbench.loadtest import RunProfile, find_capacity, runner_for, sweep
    from workbench.loadtest.capacity import step_holds
    from workbench.pipelines import load_knowledge_base
    from workbench.serving.engine import AsyncEngine

    base = PipelineConfig.load(preset)
    kb = load_knowledge_base(base, progress=False)
    items = Workload(WorkloadSpec(seed=13, personalized_share=0.0)).items(20_000)
    slo = SLO(e2el_ms=slo_ms)
    out: dict[str, Any] = {"preset": preset, "slo": slo.to_dict(), "min_correct": min_correct, "attainment": 0.95,
                           "step_s": step_s, "sweep_step_s": sweep_s, "load_average_before": os.getloadavg(),
                           "configs": {}}
    print(f"\n5. capacity: sweep and capacity search, in-process engine, SLO {slo!r}, correct >= {min_correct}")
    for name, overrides in ((preset, {"cache.enabled": False}), (f"{preset} + cache", {"cache.enabled": True})):
        cfg = base.with_overrides(overrides)

        async def go(cfg: PipelineConfig = cfg) -> dict[str, Any]:
            row: dict[str, Any] = {}
            async with AsyncEngine.from_config(cfg, kb=kb) as engine:
                t = time.perf_counter()  # the time includes the warm-up
                sw = await sweep(engine, items, steps=5, duration_s=sweep_s, concurrency=16, slo=slo, score=True,
                                 warmup=0.2, warm_requests=30)
                row["sweep_s"] = time.perf_counter() - t
                row["sweep"] = sw.curve[["run", "profile", "rate", "throughput_rps", "goodput_rps",
                                         "correct_goodput_rps", "correct_share", "slo_attainment", "latency_p50_ms",
                                         "latency_p99_ms"]].to_dict("records")
            async with AsyncEngine.from_config(cfg, kb=kb) as engine:  # a fresh engine (and empty cache)
                t = time.perf_counter()
                cap = await find_capacity(engine, items, slo, min_correct=min_correct, step_s=step_s, warmup=0.2,
                                          warm_requests=30)
                row["search_s"] = time.perf_counter() - t
                row["capacity"] = cap.to_dict()
                for k, factor in (("confirm_at_capacity", 1.0), ("confirm_at_1.2x", 1.2)):
                    if cap.rate_rps <= 0:
                        break
                    res = await runner_for(RunProfile(name="constant", rate=cap.rate_rps * factor,
                                                      duration_s=step_s * 1.5), engine, items, slo=slo,
                                           warmup=0.2, score=min_correct is not None).run()
                    summ = res.summary(slo)
                    holds, why = step_holds(summ, attainment=0.95, min_correct=min_correct)
                    row[k] = {"rate": cap.rate_rps * factor, "holds": holds, "why": why,
                              "slo_attainment": summ.get("slo_attainment"), "correct_share": summ.get("correct_share"),
                              "latency_p99_ms": summ["latency_ms"]["p99"]}
            return row

        row = asyncio.run(go())
        row["load_average_after"] = os.getloadavg()
        out["configs"][name] = row
        print(f"  {name}: {row['capacity']['headline']}")
        print(f"    sweep {row['sweep_s']:.0f} s, search {row['search_s']:.0f} s; confirm at capacity: "
              f"{row.get('confirm_at_capacity', {}).get('why')}, at 1.2x: {row.get('confirm_at_1.2x', {}).get('why')}")
        for r in row["sweep"]:
            print(f"    sweep {r['run']:<16} {r['throughput_rps']:7.1f} req/s  p99 {r['latency_p99_ms']:7.0f} ms  "
                  f"goodput {r['goodput_rps']:6.1f}  correct goodput {r['correct_goodput_rps'] or 0:6.1f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--noop-seconds", type=float, default=2.0)
    ap.add_argument("--agree-rate", type=float, default=150.0)
    ap.add_argument("--agree-seconds", type=float, default=10.0)
    ap.add_argument("--agree-delay-ms", type=float, nargs="+", default=[20.0, 50.0],
                    help="Server answer times to compare at (one run pair each).")
    ap.add_argument("--peak-seconds", type=float, default=40.0)
    sections = ["overhead", "agreement", "default", "capacity", "serving-peak"]
    ap.add_argument("--skip", nargs="*", default=[], choices=sections)
    ap.add_argument("--only", nargs="*", default=None, choices=sections)
    ap.add_argument("--peak-rate", type=float, default=4.0, help="serving-peak: requests/s at the peak.")
    ap.add_argument("--cap-slo-ms", type=float, default=500.0)
    ap.add_argument("--cap-min-correct", type=float, default=None)
    ap.add_argument("--cap-step-s", type=float, default=6.0)
    ap.add_argument("--cap-sweep-s", type=float, default=6.0)
    ap.add_argument("--cap-preset", default="default", help="The preset of the capacity section (and + cache).")
    a = ap.parse_args()
    if a.only is not None:
        a.skip = [s for s in sections if s not in a.only]
    items = Workload(WorkloadSpec(seed=7)).items(20_000)
    previous = json.loads(OUT.read_text(encoding="utf-8")) if OUT.is_file() else {}
    out: dict[str, Any] = {**previous, "environment": run_environment(), "percentile_method": PERCENTILE_METHOD,
                           "latency_from": "scheduled start (open loop)", "started": time.strftime("%Y-%m-%d %H:%M"),
                           "load_average": os.getloadavg()}
    if "overhead" not in a.skip:
        out["runner_overhead"] = runner_overhead(items, a.noop_seconds)
    if "agreement" not in a.skip:
        out["agreement"] = [agreement(items[:5000], a.agree_rate, a.agree_seconds, d) for d in a.agree_delay_ms]
    if "default" not in a.skip:
        out["default_config"] = default_config(items, a.peak_seconds)
    if "capacity" not in a.skip:
        out["capacity"] = capacity(a.cap_slo_ms, a.cap_min_correct, a.cap_step_s, a.cap_sweep_s, a.cap_preset)
        out["capacity"]["command"] = " ".join(["python", "bench/bench_loadtest.py", *sys.argv[1:]])
    if "serving-peak" not in a.skip:
        from workbench.demo import ServingPeak, _peak_markdown

        print("\n6. serving preset vs the same pipeline bare, morning peak")
        cmp = ServingPeak(peak_rate=a.peak_rate, duration_s=a.peak_seconds).run()
        print(_peak_markdown(cmp))
        out["serving_peak"] = {**cmp, "load_average_after": os.getloadavg(),
                               "command": " ".join(["python", "bench/bench_loadtest.py", *sys.argv[1:]])}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2, default=float, ensure_ascii=False), encoding="utf-8")
    print(f"\nwrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
