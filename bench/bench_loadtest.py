"""Benchmark of the load tester itself, and the first load-test numbers of the default config.

Measures, in one run:
  1. runner overhead: the open-loop runner against ``NoopTarget`` at offered rates of 5k/10k/20k req/s
     (achieved rate, dispatch lateness ``wait_ms``), the closed-loop runner's ceiling, and the HTTP runner
     (``HttpSender``) against a no-op HTTP server (a bare asyncio protocol in its own process answering one fixed
     ChatResponse: the client's cost alone) at 1k/2k/5k req/s; target: 5,000 req/s offered held (achieved
     >= 99% of it, no errors) with p99 lateness <= 5 ms;
  2. agreement: the in-process HTTP runner (open loop, Poisson) vs Locust (``FastHttpUser``, subprocess,
     users paced on seeded Poisson schedules, 2 req/s each) against the same contract server (its own
     process, fixed 20 ms and 50 ms answers), at the same offered rate, one run after the other:
     throughput and median latency, and their ratios;
  3. the saturation curve of the ``default`` config (in-process target: the query pipeline in 2
     threads), closed loop, 1 → 64 users;
  4. a morning-peak open-loop run of the ``default`` config with the cache off and on (the cache starts
     empty), goodput under an SLO of end-to-end ≤ 500 ms;
  5. capacity (issue 16): moved to bench/bench_capacity.py (the sweep and the confirmed capacity search of
     ``default`` and ``default`` + cache, timed; bench/results/capacity.json);
  6. the ``serving`` preset against the same pipeline bare at the morning peak, the LLM tier as the
     simulated OpenAI-compatible service (:class:`workbench.demo.ServingPeak`, what ``workbench demo`` runs).

Percentiles: numpy "linear". Open-loop latency counts from the scheduled start. Prints tables and
ratios; writes bench/results/loadtest.json. Run (about 4 minutes on 2 shared cores):

    .venv/bin/python bench/bench_loadtest.py
    .venv/bin/python bench/bench_loadtest.py --skip default --agree-rate 150 --agree-seconds 10

Sections not run keep their previous figures in the JSON.
"""

from __future__ import annotations

import argparse
import json
import math
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


_NOOP_BODY = b'{"answer":"","tokens":0}'
_NOOP_REPLY = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
    len(_NOOP_BODY), _NOOP_BODY)


def serve_noop(port: int) -> None:
    """A no-op HTTP/1.1 server (keep-alive, one fixed ChatResponse per request): an HTTP runner's NoopTarget."""
    import asyncio

    class Noop(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport, self.buf = transport, b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while (end := self.buf.find(b"\r\n\r\n")) >= 0:
                length = 0
                for line in self.buf[:end].split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if len(self.buf) < end + 4 + length:
                    return
                self.buf = self.buf[end + 4 + length:]
                self.transport.write(_NOOP_REPLY)

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(Noop, "127.0.0.1", port)
        await server.serve_forever()

    asyncio.run(serve())


def _overhead_row(res: Any, rate: float) -> dict[str, Any]:
    s = res.summary()
    return {"offered_rps": rate, "requests": s["requests"], "errors": s["errors"],
            "achieved_rps": round(s["completed_rps"]), "achieved_ratio": round(s["completed_rps"] / rate, 4),
            "wait_p50_ms": round(s["wait_ms"]["p50"], 3), "wait_p99_ms": round(s["wait_ms"]["p99"], 3),
            "schedule_lag_ms": round(res.meta["schedule_lag_ms"], 3),
            "held": bool(s["errors"] == 0 and s["completed_rps"] >= 0.99 * rate and s["wait_ms"]["p99"] <= 5.0)}


def _print_overhead(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    print(f"{'offered':>9} {'requests':>9} {'errors':>7} {'achieved':>9} {'wait p50':>9} {'wait p99':>9} {'lag end':>8} "
          f"{'held':>5}")
    for r in rows:
        print(f"{r['offered_rps']:>9} {r['requests']:>9} {r['errors']:>7} {r['achieved_rps']:>9} {r['wait_p50_ms']:>9} "
              f"{r['wait_p99_ms']:>9} {r['schedule_lag_ms']:>8} {r['held']!s:>5}")


def runner_overhead(items: list, seconds: float) -> dict[str, Any]:
    load_before = os.getloadavg()
    rows = [_overhead_row(OpenLoopRunner(NoopTarget(), items, LoadProfile.steady(rate, seconds), seed=1).run_sync(), rate)
            for rate in (5_000, 10_000, 20_000)]
    closed = ClosedLoopRunner(NoopTarget(), items, users=64, max_requests=100_000).run_sync().summary()
    _print_overhead("1. runner overhead against NoopTarget (open loop, Poisson arrivals); held: >= 99% achieved, "
                    "no errors, p99 lateness <= 5 ms", rows)
    print(f"closed loop, 64 users, 100k requests: {closed['completed_rps']:.0f} req/s")
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve-noop", str(port)])
    try:
        wait_for_port(port, timeout_s=30)
        url = f"http://127.0.0.1:{port}"
        ClosedLoopRunner(HttpSender(url), items, users=8, max_requests=500).run_sync()  # warm up
        http_rows = [_overhead_row(OpenLoopRunner(HttpSender(url), items, LoadProfile.steady(rate, seconds), seed=1,
                                                  drain_timeout_s=10).run_sync(), rate)
                     for rate in (1_000, 2_000, 5_000)]
    finally:
        server.terminate()
        server.wait(timeout=10)
    _print_overhead("   HTTP runner (HttpSender, aiohttp) against a no-op HTTP server in its own process", http_rows)
    five, http_five = rows[0], http_rows[-1]
    print(f"at 5,000 req/s offered: in-process achieved {five['achieved_ratio']:.3f} of it, p99 lateness "
          f"{five['wait_p99_ms']} ms (held: {five['held']}); HTTP {http_five['achieved_ratio']:.3f}, p99 lateness "
          f"{http_five['wait_p99_ms']} ms (held: {http_five['held']}); load {load_before} -> {os.getloadavg()}")
    return {"open_loop": rows, "closed_loop_rps": round(closed["completed_rps"]), "http_open_loop": http_rows,
            "load_average_before": load_before, "load_average_after": os.getloadavg()}


def agreement(items: list, rate: float, seconds: float, delay_ms: float) -> dict[str, Any]:
    load_before = os.getloadavg()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "workbench.loadtest.contract_app", "--port", str(port),
                               "--delay-ms", f"{delay_ms:g}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, timeout_s=30)
        ClosedLoopRunner(HttpSender(url), items, users=4, max_requests=100).run_sync()  # warm up
        http_open = OpenLoopRunner(HttpSender(url), items, LoadProfile.steady(rate, seconds), seed=3).run_sync()
        # Poisson arrivals on both sides. Locust users at 2 req/s each (a user busy with its previous request sends
        # late, so keep each user's rate far below 1 / latency) spawned within 0.1 s (each user's first arrival is
        # itself Poisson, so a fast spawn sends no burst). The former design (rate / 10 users with
        # constant_throughput, spawned together) kept users in phase: bursts of 15 requests every 100 ms that
        # queued in the server, +5 ms on Locust's median at 20 ms (p50 ratio 0.826).
        users = max(1, math.ceil(rate / 2))
        locust = run_locust(url, items, users=users, run_time_s=seconds, rate_per_user=rate / users,
                            spawn_rate=users * 10, requests=len(items), arrivals="poisson", seed=3)
    finally:
        server.terminate()
        server.wait(timeout=10)
    a, b = http_open.summary(), locust.summary()
    out = {"offered_rps": rate, "seconds": seconds, "server_delay_ms": delay_ms, "locust_users": users,
           "arrivals": "poisson (both; Locust: per-user Poisson schedules, seed 3)",
           "load_average_before": load_before, "load_average_after": os.getloadavg(),
           "http_runner": {"throughput_rps": a["throughput_rps"], "p50_ms": a["latency_ms"]["p50"],
                           "p99_ms": a["latency_ms"]["p99"], "requests": a["requests"], "errors": a["errors"]},
           "locust": {"throughput_rps": b["throughput_rps"], "p50_ms": b["latency_ms"]["p50"],
                      "p99_ms": b["latency_ms"]["p99"], "requests": b["requests"], "errors": b["errors"],
                      "lateness_p50_ms": b["lateness_ms"]["p50"], "lateness_p99_ms": b["lateness_ms"]["p99"],
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
          f"-> within 10%: {out['agree_within_10pct']}; Locust {users} users, lateness to their Poisson schedules "
          f"p50 {out['locust']['lateness_p50_ms']:.2f} ms, p99 {out['locust']['lateness_p99_ms']:.2f} ms; "
          f"load {load_before} -> {out['load_average_after']}")
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--noop-seconds", type=float, default=2.0)
    ap.add_argument("--serve-noop", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--agree-rate", type=float, default=150.0)
    ap.add_argument("--agree-seconds", type=float, default=10.0)
    ap.add_argument("--agree-delay-ms", type=float, nargs="+", default=[20.0, 50.0],
                    help="Server answer times to compare at (one run pair each).")
    ap.add_argument("--peak-seconds", type=float, default=40.0)
    sections = ["overhead", "agreement", "default", "serving-peak"]
    ap.add_argument("--skip", nargs="*", default=[], choices=sections)
    ap.add_argument("--only", nargs="*", default=None, choices=sections)
    ap.add_argument("--peak-rate", type=float, default=4.0, help="serving-peak: requests/s at the peak.")
    a = ap.parse_args()
    if a.serve_noop:
        serve_noop(a.serve_noop)
        return
    if a.only is not None:
        a.skip = [s for s in sections if s not in a.only]
    items = Workload(WorkloadSpec(seed=7)).items(20_000)
    previous = json.loads(OUT.read_text(encoding="utf-8")) if OUT.is_file() else {}
    previous.pop("capacity", None)  # bench/bench_capacity.py measures it now (bench/results/capacity.json)
    out: dict[str, Any] = {**previous, "environment": run_environment(), "percentile_method": PERCENTILE_METHOD,
                           "latency_from": "scheduled start (open loop)", "started": time.strftime("%Y-%m-%d %H:%M"),
                           "load_average": os.getloadavg()}
    if "overhead" not in a.skip:
        out["runner_overhead"] = runner_overhead(items, a.noop_seconds)
    if "agreement" not in a.skip:
        out["agreement"] = [agreement(items[:5000], a.agree_rate, a.agree_seconds, d) for d in a.agree_delay_ms]
    if "default" not in a.skip:
        out["default_config"] = default_config(items, a.peak_seconds)
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
