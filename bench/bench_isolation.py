"""Issue 13's isolation target: 0 cross-session, cross-user or cross-tenant leaks in a randomized 5,000-request run
with cache, memory and tools all on.

    .venv/bin/python bench/bench_isolation.py [--requests 5000] [--seed 8] [--no-semantic] [--quick]

The engine (in process) serves the ``fast`` preset for three tenants (``default``, whose knowledge base is the
bundled one, ``t2``, ``t3``) with the exact, semantic and per-user cache layers, SQLite memory and the tools
on; the marker tool answers each user's ``SECRET-<tenant>-<user>``. The workload and the checks are
``workbench.evaluation.isolation`` (its docstring defines each leak). ``--quick``: 1,000 requests (the test suite
runs 1,000 without the semantic layer; the slow test runs 5,000). Writes bench/results/isolation.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "isolation.json"
TENANTS = ("default", "t2", "t3")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=5_000)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--no-semantic", action="store_true", help="exact and per-user layers only")
    ap.add_argument("--quick", action="store_true", help="1,000 requests")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    n = 1_000 if args.quick else args.requests

    import workbench  # noqa: F401  (offline switches first)
    from workbench.config import PipelineConfig
    from workbench.evaluation.isolation import leak_workload, run_leak_audit, write_marker_plugin
    from workbench.serving import AsyncEngine

    tmp = Path(tempfile.mkdtemp(prefix="wb-isolation-"))
    write_marker_plugin(tmp / "plugins")
    cfg = PipelineConfig.load("fast").with_overrides({
        "serving.tenants": list(TENANTS), "cache.enabled": True, "cache.semantic.enabled": not args.no_semantic,
        "memory.enabled": True, "memory.store": "sqlite", "memory.url": str(tmp / "sessions.sqlite3"),
        "tools.enabled": True, "tools.plugins_dir": str(tmp / "plugins"), "tools.hot_reload": False,
        "tools.audit_log": None, "tools.policy": {t: ["*"] for t in TENANTS},
        "serving.max_queue": 4096, "serving.max_wait_ms": 60_000, "serving.degradation.enabled": False})

    async def run() -> dict:
        async with AsyncEngine.from_config(cfg) as engine:
            t0 = time.perf_counter_ns()
            report = await run_leak_audit(engine, leak_workload(n, seed=args.seed, tenants=TENANTS),
                                          concurrency=args.concurrency)
            return {**report.to_dict(), "wall_s": round((time.perf_counter_ns() - t0) / 1e9, 1)}

    result = asyncio.run(run())
    for k in ("requests", "answered", "refused_intrusions", "errors", "cache_hits", "tool_answers",
              "followups_rewritten", "marker_leaks", "shared_cache_leaks", "session_leaks", "leaks", "wall_s"):
        print(f"{k:>20}: {result[k]}")
    for line in result["examples"]:
        print("  ", line)
    print(f"machine: {platform.platform()}, cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    out = {"benchmark": "isolation audit: randomized run with cache, memory and tools on (issue 13)",
           "command": "python bench/bench_isolation.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "quick": args.quick, "seed": args.seed, "semantic_layer": not args.no_semantic, **result,
           "headline": [f"isolation: {result['leaks']} leaks in {n} requests "
                        f"({result['refused_intrusions']} intrusions refused)"],
           "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()[0]}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    return 0 if result["leaks"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
