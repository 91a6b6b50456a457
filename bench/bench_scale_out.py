"""Cache-hit throughput of ``workbench serve --workers N`` with the cache in Redis: 1 worker vs 2 (vs more).

    .venv/bin/python bench/bench_scale_out.py [--workers 1 2] [--duration 10] [--users 32] [--rounds 3] [--quick]

One redis-server; for each worker count one ``workbench serve`` (``fast`` preset, exact cache in Redis with a
long TTL, memory and tools off) started once. The cache is warmed with the questions, so every measured
request is an exact-cache hit (checked per request). Locust (``FastHttpUser``, ``--users``
closed-loop users, no think time; ``--locust-processes`` for its local distributed mode) drives each server for ``--duration`` seconds; the servers take turns,
round after round (the order flips every round), so machine load hits them alike. Reported: the median
over rounds of the successful requests per second, and its ratio to 1 worker **measured in the same run**;
also the CPU time the workers (and redis-server) spent per request (``/proc``), which does not depend on how
busy the machine is: 1000 / (worker CPU ms per request) is what one worker does per free core; and the CPU
time Locust itself spent per request (``getrusage`` of the finished Locust child). On a 2-core machine Locust,
Redis and the workers share the cores: the most the machine can serve is about 2000 / (worker + Redis + Locust
CPU ms per request) req/s whatever the worker count (``machine_bound_rps``), so when Locust costs more per
request than a worker, a second worker has little to add: expect well under N×.
``--quick``: 1 round of 5 s. Writes bench/results/scale_out.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "scale_out.json"
ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ["What is the gold card annual fee?", "How do I report a lost card?", "How long does a transfer take?",
             "How do I reset my password?", "What is the platinum card annual fee?", "金卡年费多少",
             "信用卡丢了怎么办", "How do I activate a new debit card?"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--users", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--locust-processes", type=int, default=1, help="Locust's --processes (local distributed mode)")
    ap.add_argument("--quick", action="store_true", help="1 round of 5 s")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    duration, rounds = (5.0, 1) if args.quick else (args.duration, args.rounds)

    import httpx

    import workbench  # noqa: F401  (offline switches first)
    from workbench.config import PipelineConfig
    from workbench.loadtest import WorkItem
    from workbench.loadtest.locust_runner import run_locust
    from workbench.serving.schema import ChatRequest
    from workbench.testing import RedisServer, ServeProcess, cpu_seconds

    tmp = Path(tempfile.mkdtemp(prefix="wb-scale-"))
    items = [WorkItem(index=i, request=ChatRequest(question=QUESTIONS[i % len(QUESTIONS)]), intent="hit",
                      kind="question") for i in range(len(QUESTIONS) * 50)]
    runs: dict[int, list[dict[str, float]]] = {w: [] for w in args.workers}
    with RedisServer() as redis_server:
        cfg = PipelineConfig.load("fast").with_overrides({
            "index_dir": str(ROOT / ".workbench" / "indexes"), "cache.enabled": True, "cache.backend": "redis",
            "cache.redis_url": redis_server.url, "cache.semantic.enabled": False, "cache.exact.ttl_s": 86_400.0,
            "serving.max_queue": 1024, "serving.degradation.enabled": False})
        cfg.to_yaml(tmp / "scale.yaml")
        servers = {w: ServeProcess(tmp / "scale.yaml", workers=w, log_path=tmp / f"serve-{w}.log")
                   for w in args.workers}
        try:
            for s in servers.values():
                s.start()
            with httpx.Client(timeout=60) as client:
                for q in QUESTIONS:
                    client.post(f"{servers[args.workers[0]].url}/v1/chat", json={"question": q}).raise_for_status()
            for rnd in range(rounds):
                order = args.workers if rnd % 2 == 0 else list(reversed(args.workers))
                for w in order:
                    pids = servers[w].worker_pids()
                    cpu0, rcpu0 = cpu_seconds(pids), cpu_seconds([redis_server.pid or 0])
                    lcpu0 = _children_cpu_s()
                    res = run_locust(servers[w].url, items, users=args.users, run_time_s=duration,
                                     out_dir=tmp / f"locust-{w}-{rnd}",
                                     extra_args=["--processes", str(args.locust_processes)]
                                     if args.locust_processes > 1 else ())
                    s = res.summary()
                    n = max(1, int((res.df["status"] == "ok").sum()))
                    hits = float((res.df["cache_layer"] == "exact").mean())
                    row = {"rps": s["throughput_rps"], "p50_ms": s["latency_ms"]["p50"], "hit_share": hits,
                           "errors": int((res.df["status"] != "ok").sum()), "load_avg": os.getloadavg()[0],
                           "worker_cpu_ms_per_request": 1000 * (cpu_seconds(pids) - cpu0) / n,
                           "redis_cpu_ms_per_request": 1000 * (cpu_seconds([redis_server.pid or 0]) - rcpu0) / n,
                           "locust_cpu_ms_per_request": 1000 * (_children_cpu_s() - lcpu0) / n}
                    runs[w].append(row)
                    print(f"round {rnd + 1} workers={w}: {row['rps']:.0f} req/s, p50 {row['p50_ms']:.0f} ms, "
                          f"hits {hits:.0%}, errors {row['errors']}, worker CPU "
                          f"{row['worker_cpu_ms_per_request']:.2f} ms/request, redis CPU "
                          f"{row['redis_cpu_ms_per_request']:.3f} ms/request, Locust CPU "
                          f"{row['locust_cpu_ms_per_request']:.2f} ms/request, load {row['load_avg']:.1f}", flush=True)
        finally:
            for s in servers.values():
                s.stop()
    base = statistics.median(r["rps"] for r in runs[args.workers[0]])
    table = []
    for w in args.workers:
        med = statistics.median(r["rps"] for r in runs[w])
        cpu = statistics.median(r["worker_cpu_ms_per_request"] for r in runs[w])
        total = cpu + statistics.median(r["redis_cpu_ms_per_request"] + r["locust_cpu_ms_per_request"]
                                        for r in runs[w])
        table.append({"workers": w, "median_rps": round(med, 1), "min_rps": round(min(r["rps"] for r in runs[w]), 1),
                      "max_rps": round(max(r["rps"] for r in runs[w]), 1), "ratio": round(med / base, 2),
                      "worker_cpu_ms_per_request": round(cpu, 3),
                      "cpu_bound_rps_per_core": round(1000 / cpu, 1) if cpu > 0 else None,
                      "locust_cpu_ms_per_request": round(statistics.median(
                          r["locust_cpu_ms_per_request"] for r in runs[w]), 3),
                      "machine_bound_rps": round(1000 * (os.cpu_count() or 1) / total, 1) if total > 0 else None})
    print(f"\n{'workers':>8} {'median req/s':>13} {'min-max':>15} {'ratio':>6} {'worker CPU ms/req':>18} "
          f"{'Locust CPU ms/req':>18} {'machine bound req/s':>20}")
    for row in table:
        print(f"{row['workers']:>8} {row['median_rps']:>13.1f} {row['min_rps']:>7.1f}-{row['max_rps']:<7.1f} "
              f"{row['ratio']:>6.2f} {row['worker_cpu_ms_per_request']:>18.3f} "
              f"{row['locust_cpu_ms_per_request']:>18.3f} {row['machine_bound_rps']:>20}")
    print(f"machine: {platform.platform()}, cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    out = {"benchmark": "cache-hit throughput vs workbench serve --workers (cache in Redis)",
           "command": "python bench/bench_scale_out.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "quick": args.quick, "duration_s": duration, "rounds": rounds, "users": args.users,
           "load_generator": f"locust FastHttpUser, {args.locust_processes} process(es), closed loop", "runs": runs, "table": table,
           "headline": [f"scale-out: {t['workers']} workers {t['median_rps']:.0f} req/s ({t['ratio']:.2f}x)"
                        for t in table],
           "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()[0]}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0


def _children_cpu_s() -> float:
    """User plus system CPU seconds of this process's finished children (each Locust run, once it exited)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


if __name__ == "__main__":
    raise SystemExit(main())
