"""Cache-hit throughput over HTTP as a ratio of a bare FastAPI endpoint on the same server.

    .venv/bin/python bench/bench_http.py [--duration 8] [--concurrency 32] [--quick]

One uvicorn process serves the engine's app (``fast`` preset, exact cache on) and, on the same app,
``POST /bare`` that returns a fixed small JSON body. The cache is warmed with the questions first, so
every measured ``/v1/chat`` request is an exact-cache hit. The same httpx client code (N concurrent
connections, closed loop, same JSON body) drives both endpoints for the same duration, in the same run.
Target: cache-hit throughput ≥ 50% of the bare endpoint's. Writes bench/results/http.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "http.json"
QUESTIONS = ["how much is the gold card annual fee", "金卡年费多少", "what is the daily limit for cash at an atm",
             "how do i reset my login password", "信用卡丢了怎么办", "how long does an international transfer take",
             "怎么查自己的征信报告", "minimum deposit for a savings account"]


def serve(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    import workbench  # noqa: F401
    from workbench.config import PipelineConfig
    from workbench.serving.engine import AsyncEngine
    from workbench.serving.http_app import create_app

    cfg = PipelineConfig.load("fast").with_overrides({"cache.enabled": True, "cache.semantic.enabled": False,
                                                      "cache.exact.ttl_s": 3600.0})
    app: FastAPI = create_app(AsyncEngine.from_config(cfg))

    @app.post("/bare")
    async def bare() -> dict[str, str]:
        return {"answer": "RMB 600"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def drive(url: str, duration_s: float, concurrency: int) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + duration_s
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def worker(i: int) -> None:
            nonlocal errors
            n = i
            while time.perf_counter() < stop:
                body = {"question": QUESTIONS[n % len(QUESTIONS)]}
                n += 1
                t = time.perf_counter_ns()
                r = await client.post(url, json=body)
                if r.status_code == 200:
                    latencies.append((time.perf_counter_ns() - t) / 1e6)
                else:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        wall = time.perf_counter() - t0
    lat = sorted(latencies)
    return {"requests": len(lat), "errors": errors, "rps": len(lat) / wall,
            "p50_ms": statistics.median(lat) if lat else None,
            "p99_ms": lat[int(0.99 * (len(lat) - 1))] if lat else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.quick:
        args.duration, args.repeats = 3.0, 1
    from workbench.testing import free_port, wait_for_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env={**os.environ},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout_s=180)
        base = f"http://127.0.0.1:{port}"
        import httpx

        for q in QUESTIONS:  # warm: every later /v1/chat request is an exact-cache hit
            r = httpx.post(f"{base}/v1/chat", json={"question": q}, timeout=60)
            r.raise_for_status()
        hit = httpx.post(f"{base}/v1/chat", json={"question": QUESTIONS[0]}, timeout=60).json()
        assert hit["cache_layer"] == "exact", hit
        runs = []
        for _ in range(args.repeats):  # alternate, so drift on a shared machine hits both alike
            bare = asyncio.run(drive(f"{base}/bare", args.duration, args.concurrency))
            chat = asyncio.run(drive(f"{base}/v1/chat", args.duration, args.concurrency))
            runs.append({"bare": bare, "cache_hit": chat, "ratio": chat["rps"] / bare["rps"]})
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    ratios = [r["ratio"] for r in runs]
    print(f"\nHTTP throughput, {args.concurrency} concurrent connections, {args.duration:g} s per run, "
          f"client and server on the same 2 cores")
    print(f"{'run':>4s} {'bare req/s':>11s} {'bare p50':>9s} {'cache-hit req/s':>16s} {'hit p50':>8s} {'ratio':>6s}")
    for i, r in enumerate(runs, 1):
        print(f"{i:4d} {r['bare']['rps']:11.0f} {r['bare']['p50_ms']:8.1f}ms {r['cache_hit']['rps']:16.0f} "
              f"{r['cache_hit']['p50_ms']:7.1f}ms {r['ratio']:6.2f}")
    med = statistics.median(ratios)
    print(f"median ratio cache-hit / bare: {med:.2f} (target >= 0.50: {'met' if med >= 0.5 else 'NOT met'})")
    OUT.write_text(json.dumps({"benchmark": "http cache-hit vs bare FastAPI", "concurrency": args.concurrency,
                               "duration_s": args.duration, "runs": runs, "median_ratio": med,
                               "target": 0.5, "met": med >= 0.5,
                               "command": "python bench/bench_http.py"}, indent=2))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
