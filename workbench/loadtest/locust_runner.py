"""Run Locust headless as a subprocess against a URL, with the same :class:`Workload`, into a :class:`LoadResult`.

Locust runs in its own process (gevent), never inside the workbench or pytest process. Two readings:

* **per request** (default): the locustfile's request listener writes one row per request; the
  result has real rows (``meta["source"] == "locust-events"``). Locust is closed-loop, so scheduled
  start = actual start (Locust cannot show coordinated omission).
* **aggregate**: ``--json-file`` (exact totals; ENVIRONMENT.md: the CSV lagged) read by
  :func:`read_locust_json`; rows are *reconstructed* from Locust's response-time histogram (rounded
  to ~2 significant digits: 1 ms below 100 ms, 10 ms below 1 s) and per-second request counts, with
  ``meta["per_request"] = False``. The JSON totals are kept in ``meta["locust_json"]`` either way, as a
  cross-check of the per-request rows.

```python
result = run_locust("http://127.0.0.1:8000", Workload(), users=20, run_time_s=30, rate_per_user=5,
                    out_dir="runs/locust")
```

Distributed mode (load that outgrows one machine): start one master and N workers with the same
locustfile and environment; see ``docs/loadtest.md``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.errors import ConfigError, DatasetError, WorkbenchError
from workbench.loadtest.result import COLUMNS, LoadResult
from workbench.loadtest.workload import WorkItem, Workload

__all__ = ["LOCUSTFILE", "locust_command", "read_locust_events", "read_locust_json", "run_locust"]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def locust_command(url: str, *, users: int, spawn_rate: float, run_time_s: float, json_file: Path,
                   extra: Sequence[str] = ()) -> list[str]:
    """The ``locust`` command line of a headless run."""
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", url,
            "-u", str(users), "-r", f"{spawn_rate:g}", "-t", f"{max(1, round(run_time_s))}s",
            "--json-file", str(json_file), "--only-summary", "--stop-timeout", "5", "--loglevel", "WARNING",
            *extra]


def run_locust(url: str, workload: Workload | Sequence[WorkItem], *, users: int, run_time_s: float,
               spawn_rate: float | None = None, rate_per_user: float | None = None, think_s: float = 0.0,
               requests: int = 20_000, out_dir: str | Path | None = None, per_request: bool = True,
               timeout_s: float | None = None, extra_args: Sequence[str] = (),
               arrivals: Literal["poisson", "constant"] = "poisson", seed: int = 0) -> LoadResult:
    """Run Locust headless (``FastHttpUser``) for ``run_time_s`` with ``users`` users against ``url``.

    ``rate_per_user``: each user's requests per second (total ≈ users × rate), paced by ``arrivals``:
    ``"poisson"`` (exponential gaps on each user's own schedule seeded from ``seed``; the sum is a Poisson
    stream, as the native open-loop runner sends; rows keep how late a busy user sent) or ``"constant"``
    (Locust's ``constant_throughput``: users spawned together stay in phase and send in bursts of up to
    ``users`` requests, which queue at the server: about +5 ms median at 150 req/s in bursts of 15 against a 20 ms
    server, bench/bench_loadtest.py). Keep ``rate_per_user`` well below 1 / latency (say ≤ 2 req/s for
    50 ms answers) so few arrivals find their user busy. Otherwise ``think_s`` between requests (0: back to
    back). ``requests``: how many workload items to write (they are reused in a loop). Raises
    :class:`WorkbenchError` when Locust fails to run.
    """
    if users < 1 or run_time_s <= 0:
        raise ConfigError("users must be >= 1 and run_time_s > 0", field="locust")
    if arrivals not in ("poisson", "constant"):
        raise ConfigError(f"arrivals must be 'poisson' or 'constant', got {arrivals!r}", field="locust")
    out = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="wb-locust-"))
    out.mkdir(parents=True, exist_ok=True)
    items = workload.items(requests) if isinstance(workload, Workload) else list(workload)
    wl_file = Workload.save_items(items, out / "workload.jsonl")
    events_dir = out / "events"
    for old in events_dir.glob("events-*.csv") if events_dir.is_dir() else ():
        old.unlink()
    env = {**os.environ, "WORKBENCH_LOADTEST_WORKLOAD": str(wl_file), "PYTHONWARNINGS": "ignore"}
    if per_request:
        env["WORKBENCH_LOADTEST_EVENTS"] = str(events_dir)
    if rate_per_user:
        env["WORKBENCH_LOADTEST_RATE_PER_USER"] = f"{rate_per_user:g}"
        env["WORKBENCH_LOADTEST_ARRIVALS"], env["WORKBENCH_LOADTEST_SEED"] = arrivals, str(seed)
    else:
        env["WORKBENCH_LOADTEST_THINK_S"] = f"{think_s:g}"
    cmd = locust_command(url, users=users, spawn_rate=spawn_rate or float(users), run_time_s=run_time_s,
                         json_file=out / "locust", extra=extra_args)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s or run_time_s + 60)
    (out / "locust.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    json_path = out / "locust.json"
    if not json_path.is_file():
        raise WorkbenchError(f"locust exited with {proc.returncode} and wrote no JSON; see {out / 'locust.log'}:\n"
                             f"{proc.stderr[-2000:]}")
    meta = {"runner": "locust", "users": users, "spawn_rate": spawn_rate or users, "run_time_s": run_time_s,
            "rate_per_user": rate_per_user, "arrivals": arrivals if rate_per_user else "closed loop",
            "seed": seed, "think_s": think_s, "url": url, "user_class": "FastHttpUser",
            "command": " ".join(cmd), "exit_code": proc.returncode,
            "workload": workload.spec.model_dump(mode="json") if isinstance(workload, Workload) else
            {"items": len(items)}}
    if per_request and any(events_dir.glob("events-*.csv")):
        res = read_locust_events(events_dir, meta=meta)
        res.meta["locust_json"] = _json_totals(json.loads(json_path.read_text(encoding="utf-8")))
        return res
    return read_locust_json(json_path, meta=meta)


def _json_totals(entries: list[dict[str, Any]]) -> dict[str, Any]:
    n = sum(e["num_requests"] for e in entries)
    hist: dict[int, int] = {}
    for e in entries:
        for k, v in e["response_times"].items():
            hist[int(k)] = hist.get(int(k), 0) + int(v)
    keys = sorted(hist)
    cum = np.cumsum([hist[k] for k in keys]) if keys else np.zeros(0)
    median = float(keys[int(np.searchsorted(cum, 0.5 * n))]) if n else float("nan")
    start = min((e["start_time"] for e in entries), default=0.0)
    last = max((e["last_request_timestamp"] or 0.0 for e in entries), default=0.0)
    return {"num_requests": n, "num_failures": sum(e["num_failures"] for e in entries),
            "avg_response_time_ms": sum(e["total_response_time"] for e in entries) / n if n else float("nan"),
            "median_response_time_ms": median, "median_method": "nearest rank over Locust's rounded histogram",
            "rps": n / (last - start) if last > start else float("nan")}


def read_locust_events(directory: str | Path, *, meta: dict[str, Any] | None = None) -> LoadResult:
    """Per-request rows from the locustfile's ``events-*.csv`` files (one per Locust process)."""
    files = sorted(Path(directory).glob("events-*.csv"))
    if not files:
        raise DatasetError("no events-*.csv files: was WORKBENCH_LOADTEST_EVENTS set?", path=str(directory))
    ev = pd.concat([pd.read_csv(f) for f in files], ignore_index=True).sort_values("start_time", kind="stable")
    t0 = float(ev["start_time"].min())
    start = ev["start_time"].to_numpy(dtype=np.float64) - t0
    rt = ev["response_time_ms"].to_numpy(dtype=np.float64)
    due = ev["scheduled_time"].to_numpy(dtype=np.float64) - t0 if "scheduled_time" in ev else np.full(len(ev), np.nan)
    scheduled = np.where(np.isnan(due), start, np.minimum(due, start))  # a user sends when due or late, never early
    df = pd.DataFrame({
        "index": ev["index"], "intent": ev["intent"], "kind": ev["kind"], "stream": ev["stream"],
        "worker": -1, "scheduled_s": scheduled, "start_s": start, "first_token_s": start + rt / 1e3,
        "end_s": start + rt / 1e3, "latency_ms": rt, "service_ms": rt, "wait_ms": (start - scheduled) * 1e3,
        "ttft_ms": np.nan,
        "tokens": ev["tokens"], "tpot_ms": np.nan, "status": ev["status"], "http_status": ev["http_status"],
        "cache_layer": ev["cache_layer"], "variant": ev["variant"], "degradation_level": ev["degradation_level"],
        "simulated": ev["simulated"], "error": ev["error"],
    }).reindex(columns=list(COLUMNS))
    m = {"runner": "locust", "source": "locust-events", "per_request": True,
         "latency_from": "actual start (Locust's response time; wait_ms: how late a paced user sent)", "ttft": "not measured by Locust", **(meta or {})}
    return LoadResult.from_rows(df, m)


def read_locust_json(path: str | Path, *, meta: dict[str, Any] | None = None) -> LoadResult:
    """A :class:`LoadResult` from Locust's ``--json-file`` output: rows reconstructed from aggregates.

    Each request becomes a row whose latency is its histogram bucket (Locust's rounding) and whose
    start is spread evenly within the second Locust counted it in; failures (all statuses other than
    success) are marked ``error`` and placed last within each second. Totals are exact; per-request
    timing is not (``meta["per_request"] = False``).
    """
    p = Path(path)
    if not p.is_file():
        raise DatasetError("Locust JSON file does not exist", path=str(p))
    entries = json.loads(p.read_text(encoding="utf-8"))
    lat: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    fails_all: list[np.ndarray] = []
    for e in entries:
        buckets = np.repeat(np.array([int(k) for k in e["response_times"]], dtype=np.float64),
                            [int(v) for v in e["response_times"].values()])
        per_sec = sorted((int(k), int(v)) for k, v in e["num_reqs_per_sec"].items())
        fail_sec = {int(k): int(v) for k, v in e["num_fail_per_sec"].items()}
        st, fl = [], []
        first_ts, last_ts = float(e["start_time"]), float(e["last_request_timestamp"] or e["start_time"])
        for sec, cnt in per_sec:
            lo, hi = max(float(sec), first_ts), min(sec + 1.0, last_ts)
            hi = hi if hi > lo else lo + 1.0
            st.append(lo + (hi - lo) * (np.arange(cnt) + 0.5) / cnt)
            nf = min(fail_sec.get(sec, 0), cnt)
            fl.append(np.arange(cnt) >= cnt - nf)
        s = np.concatenate(st) if st else np.zeros(0)
        f = np.concatenate(fl) if fl else np.zeros(0, dtype=bool)
        m = min(len(s), len(buckets))  # per-second counts and the histogram hold the same requests
        rng = np.random.default_rng(0)
        lat.append(rng.permutation(buckets)[:m])
        starts.append(s[:m])
        fails_all.append(f[:m])
    latency = np.concatenate(lat) if lat else np.zeros(0)
    start_abs = np.concatenate(starts) if starts else np.zeros(0)
    failed = np.concatenate(fails_all) if fails_all else np.zeros(0, dtype=bool)
    t0 = float(start_abs.min()) if len(start_abs) else 0.0
    start = start_abs - t0
    n = len(latency)
    df = pd.DataFrame({
        "index": np.arange(n), "worker": -1, "scheduled_s": start, "start_s": start,
        "first_token_s": start + latency / 1e3, "end_s": start + latency / 1e3, "latency_ms": latency,
        "service_ms": latency, "wait_ms": 0.0, "ttft_ms": np.nan, "tokens": 0, "tpot_ms": np.nan,
        "status": np.where(failed, "error", "ok"), "stream": False, "simulated": False,
    }).reindex(columns=list(COLUMNS))
    res = LoadResult.from_rows(df, {"runner": "locust", "source": "locust-json", "per_request": False,
                                    "latency_from": "actual start (Locust is closed-loop)", **(meta or {})})
    res.meta["locust_json"] = _json_totals(entries)
    return res
