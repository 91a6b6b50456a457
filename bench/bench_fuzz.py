"""Schema fuzzing of the real app at scale: 10,000+ schemathesis cases, count of 5xx (target 0).

    .venv/bin/python bench/bench_fuzz.py [--cases 10000] [--seed 13] [--quick]

The app is ``create_app`` over the ``fast`` preset's engine (BM25 + extractive answers: no model load, so the
run measures the HTTP contract and the engine's input handling), with the exact/semantic cache, SQLite memory
and the bank tools on. Cases come from the served OpenAPI schema (``workbench.loadtest.fuzz.fuzz_app``),
positive and negative in alternating seeded batches, sent in process (ASGI). Every response is checked: no
5xx, a declared status, the declared content type, body schema and headers. ``--quick``: 1,000 cases. Writes
bench/results/fuzz.json; the test suite runs the same with 400 cases (tests/integration/serving/test_schemathesis.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "fuzz.json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--quick", action="store_true", help="1,000 cases")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    cases = 1_000 if args.quick else args.cases

    import schemathesis

    import workbench  # noqa: F401  (offline switches first)
    from workbench.config import PipelineConfig
    from workbench.loadtest.fuzz import fuzz_app
    from workbench.serving import AsyncEngine, create_app

    tmp = Path(tempfile.mkdtemp(prefix="wb-fuzz-"))
    cfg = PipelineConfig.load("fast").with_overrides({"cache.enabled": True, "memory.enabled": True,
                                                      "memory.store": "sqlite",
                                                      "memory.url": str(tmp / "sessions.sqlite3"),
                                                      "tools.enabled": True, "tools.hot_reload": False,
                                                      "tools.audit_log": str(tmp / "audit.sqlite3")})
    started = time.perf_counter()
    report = fuzz_app(create_app(AsyncEngine.from_config(cfg)), cases=cases, seed=args.seed)
    wall = time.perf_counter() - started
    print(report.table())
    for line in report.examples:
        print(line)
    print(f"\nmachine: {platform.platform()}, cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}; "
          f"schemathesis {schemathesis.__version__}; wall {wall:.0f} s")
    result = {
        "benchmark": "schema fuzz (schemathesis) of the fast-preset app",
        "command": "python bench/bench_fuzz.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick, "seed": args.seed, "cases": report.cases, "server_errors": report.server_errors,
        "check_failures": sum(report.failures.values()),
        "statuses": {f"{op} {status}": n for (op, status), n in sorted(report.statuses.items())},
        "failures": {f"{name} | {op} | {status}": n for (name, op, status), n in sorted(report.failures.items())},
        "examples": report.examples, "seconds": report.seconds,
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_at_end": os.getloadavg(), "schemathesis": schemathesis.__version__},
        "headline": [
            {"metric": "schemathesis cases sent", "value": report.cases, "unit": "cases"},
            {"metric": "5xx responses", "value": report.server_errors, "unit": "responses", "target": "0",
             "met": report.server_errors == 0},
            {"metric": "schema check failures", "value": sum(report.failures.values()), "unit": "cases",
             "target": "0", "met": not report.failures},
        ],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if report.server_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
