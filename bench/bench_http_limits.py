"""Transport limits under hostile clients: server RSS under 100 concurrent oversized bodies, slowloris closing.

    .venv/bin/python bench/bench_http_limits.py [--connections 100] [--body-mb 8] [--slow 300] [--quick]

The server is ``python -m workbench.loadtest.contract_app`` in its own process (the one HTTP app over a
1 ms target, on the ``workbench serve`` uvicorn set-up) with the default limits: 1 MiB bodies, 30 s body
and 10 s header timeouts. Three runs, each on a fresh server process (freed memory is not returned to the
OS, so runs on one process would hide each other's cost):

* **baseline**: ``--connections`` clients at once each send a body *within* the limit (512 KiB, read in
  full and refused as bad JSON): what legitimate large bodies cost;
* **oversized**: ``--connections`` clients at once each upload a ``--body-mb`` MiB body (half with
  Content-Length, refused before reading; half chunked, refused once past 1 MiB). Target: peak RSS growth
  <= 50 MB (issue 13: eight 50 MB bodies took RSS from 461 to 1,078 MB before the limit);
* **slowloris**: ``--slow`` connections dribble request headers one byte every 0.1 s; each must be closed
  (with a 408) within the header timeout plus slack; reported as the time each stayed open.

``--quick``: 40 connections, 4 MiB bodies, 60 slow connections. Writes bench/results/http_limits.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "http_limits.json"


def _within_limit(port: int, connections: int) -> None:
    import socket

    from workbench.loadtest.hostile import CHAT_HEAD

    def one() -> None:
        body = b" " * (512 * 1024)
        with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
            s.sendall(f"{CHAT_HEAD}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            while s.recv(65536):
                pass

    threads = [threading.Thread(target=one) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--body-mb", type=int, default=8)
    ap.add_argument("--slow", type=int, default=300)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    if args.quick:
        args.connections, args.body_mb, args.slow = 40, 4, 60

    import httpx

    import workbench  # noqa: F401
    from workbench.loadtest.contract_app import ContractServerProcess
    from workbench.loadtest.hostile import dribble_headers, peak_rss_growth, rss_bytes, send_oversized_bodies
    from workbench.percentiles import percentiles
    from workbench.serving.request_guard import HttpLimits

    limits = HttpLimits()
    mb = 1024 * 1024

    def fresh_server_growth(action: Callable[[int], object]) -> tuple[int, int, int]:
        """Peak RSS growth of a fresh, warmed-up server while ``action(port)`` runs; RSS before; status after."""
        with ContractServerProcess(limits=limits, log_level="warning") as srv:
            for _ in range(5):
                httpx.post(f"{srv.url}/v1/chat", json={"question": "warm up"})
            before = rss_bytes(srv.pid)
            growth = peak_rss_growth(srv.pid, lambda: action(srv.port))
            return growth, before, httpx.post(f"{srv.url}/v1/chat", json={"question": "after"}).status_code

    over, rss0, alive = fresh_server_growth(lambda port: send_oversized_bodies(
        "127.0.0.1", port, connections=args.connections, body_bytes=args.body_mb * mb))
    base, _, _ = fresh_server_growth(lambda port: _within_limit(port, args.connections))
    with ContractServerProcess(limits=limits, log_level="warning") as srv:
        t0 = time.perf_counter()
        slow = asyncio.run(dribble_headers("127.0.0.1", srv.port, connections=args.slow,
                                           deadline_s=limits.header_timeout_s * 4))
        slow_wall = time.perf_counter() - t0
        alive_slow = httpx.post(f"{srv.url}/v1/chat", json={"question": "after"}).status_code
    closed = [s for s, _ in slow if s is not None]
    got_408 = sum(1 for _, got in slow if got.startswith(b"HTTP/1.1 408"))
    open_p = percentiles(closed, (50, 95, 100)) if closed else {}
    print(f"{'run':<44} {'peak RSS growth':>16}")
    base_name = f"baseline: {args.connections} x 512 KiB bodies within the limit"
    over_name = f"oversized: {args.connections} x {args.body_mb} MiB bodies (limit 1 MiB)"
    print(f"{base_name:<44} {base / mb:>13.1f} MB")
    print(f"{over_name:<44} "
          f"{over / mb:>13.1f} MB   target <= 50 MB   ratio to baseline {over / max(base, 1):.2f}")
    print(f"slowloris: {args.slow} connections, header timeout {limits.header_timeout_s:g} s: closed {len(closed)}, "
          f"408 sent {got_408}, open time p50/p95/max " + "/".join(f"{v:.1f}" for v in open_p.values()) +
          f" s (nearest rank), wall {slow_wall:.1f} s")
    print(f"server RSS before the oversized run {rss0 / mb:.0f} MB; still serving after it: HTTP {alive}, "
          f"after the slowloris run: HTTP {alive_slow}")
    print(f"machine: {platform.platform()}, cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    result = {
        "benchmark": "HTTP limits under hostile clients",
        "command": "python bench/bench_http_limits.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick, "limits": {"max_body_bytes": limits.max_body_bytes,
                                        "body_timeout_s": limits.body_timeout_s,
                                        "header_timeout_s": limits.header_timeout_s},
        "connections": args.connections, "body_mb": args.body_mb,
        "rss_growth_mb": {"baseline_within_limit": base / mb, "oversized": over / mb},
        "rss_mb_before_oversized": rss0 / mb,
        "slowloris": {"connections": args.slow, "closed": len(closed), "sent_408": got_408,
                      "open_s_nearest_rank": {str(k): v for k, v in open_p.items()}, "wall_s": slow_wall},
        "still_serving_status": {"after_oversized": alive, "after_slowloris": alive_slow},
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_at_end": os.getloadavg()},
        "headline": [
            {"metric": f"RSS growth, {args.connections} concurrent {args.body_mb} MiB bodies", "value": over / mb,
             "unit": "MB", "target": "<= 50", "met": over <= 50 * mb,
             "baseline": f"{base / mb:.1f} MB for {args.connections} bodies within the limit"},
            {"metric": f"slowloris connections closed of {args.slow}", "value": len(closed), "unit": "connections",
             "target": f"{args.slow}", "met": len(closed) == args.slow},
        ],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if over <= 50 * mb and len(closed) == args.slow else 1


if __name__ == "__main__":
    sys.exit(main())
