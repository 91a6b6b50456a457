"""Issue 13's durability measurement: ``workbench serve`` SIGKILLed mid-run, 3 runs each on SQLite and Redis.

    .venv/bin/python bench/bench_crash.py [--runs 3] [--sessions 24] [--synchronous FULL] [--quick]

Each run (``workbench.evaluation.crash_worker.run_crash_trial``): the ``fast`` preset served by
``workbench serve`` in a child process with memory on the store and the exact cache on; ``--sessions``
concurrent conversations over HTTP (a client per session, sending its next turn as soon as the last one was
answered; odd turns unique, even turns common questions answered from the cache); SIGKILL of the whole
service at a seeded random moment in 4-10 s; a restart on the same store; 6 s more of conversation; then an
audit of every session in the store. Target per run: 0 acknowledged turns lost, 0 read-your-writes
violations, 0 order inversions. ``--quick``: 1 run each with 8 sessions (the test suite runs the same).
Writes bench/results/crash.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "crash.json"
ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ("store", "run", "kill_at_s", "acknowledged", "cache_hits", "in_doubt", "stored_in_doubt", "lost",
           "read_your_writes_violations", "order_inversions", "duplicates", "restart_s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sessions", type=int, default=24)
    ap.add_argument("--synchronous", choices=["FULL", "NORMAL"], default="FULL", help="SQLite's synchronous")
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--quick", action="store_true", help="1 run per store, 8 sessions")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    runs, sessions = (1, 8) if args.quick else (args.runs, args.sessions)

    import workbench  # noqa: F401  (offline switches first)
    from workbench.evaluation.crash_worker import crash_config, run_crash_trial
    from workbench.memory import RedisSessionStore, SQLiteSessionStore
    from workbench.testing import RedisServer

    index_dir = str(ROOT / ".workbench" / "indexes")
    rows = []
    with RedisServer() as redis_server:
        for store in ("sqlite", "redis"):
            for run in range(1, runs + 1):
                tmp = Path(tempfile.mkdtemp(prefix=f"wb-crash-{store}-"))
                if store == "sqlite":
                    db = tmp / "sessions.sqlite3"
                    cfg = crash_config("sqlite", str(db), index_dir=index_dir, synchronous=args.synchronous)
                    reader = SQLiteSessionStore(db)
                else:
                    cfg = crash_config("redis", redis_server.url, index_dir=index_dir, cache_backend="redis",
                                       redis_url=redis_server.url)
                    reader = RedisSessionStore(redis_server.url)  # type: ignore[assignment]
                cfg.to_yaml(tmp / "crash.yaml")
                report = asyncio.run(run_crash_trial(tmp / "crash.yaml", reader, sessions=sessions,
                                                     seed=args.seed + run, log_path=tmp / "serve.log"))
                reader.close()
                row = {"run": run, **report.to_dict(), "store": store}
                rows.append(row)
                print("  ".join(f"{c}={row[c]}" for c in COLUMNS), flush=True)
    total = {k: sum(int(r[k]) for r in rows) for k in ("acknowledged", "lost", "read_your_writes_violations",
                                                      "order_inversions", "duplicates")}
    ok = total["lost"] == total["read_your_writes_violations"] == total["order_inversions"] == 0
    print(f"\n{len(rows)} runs, {sessions} sessions each: {total['acknowledged']} acknowledged turns, "
          f"{total['lost']} lost, {total['read_your_writes_violations']} read-your-writes violations, "
          f"{total['order_inversions']} order inversions: {'target met' if ok else 'TARGET MISSED'}")
    print(f"machine: {platform.platform()}, cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    result = {
        "benchmark": "memory durability: workbench serve SIGKILLed mid-run (issue 13)",
        "command": "python bench/bench_crash.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick, "sessions": sessions, "runs_per_store": runs, "sqlite_synchronous": args.synchronous,
        "rows": rows, "total": total, "target_met": ok,
        "headline": [f"crash: {total['lost']} lost / {total['read_your_writes_violations']} RYW / "
                     f"{total['order_inversions']} inversions over {total['acknowledged']} acked turns "
                     f"({len(rows)} SIGKILL runs)"],
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()[0]},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
