"""The locustfile of ``workbench loadtest --locust``: Locust users replaying a saved :class:`Workload`.

It imports only the standard library, Locust and the workbench's SSE parser (:mod:`workbench.sse`, which
pulls in no model or server code); it runs in Locust's gevent process, never inside pytest or the workbench
process. Settings come from environment variables, which
:func:`workbench.loadtest.locust_runner.run_locust` sets:

* ``WORKBENCH_LOADTEST_WORKLOAD``: a JSON-lines file from ``Workload.save_items`` (required);
* ``WORKBENCH_LOADTEST_RATE_PER_USER``: requests per second per user (``constant_throughput``), or
* ``WORKBENCH_LOADTEST_THINK_S``: a constant think time (default 0: back-to-back requests);
* ``WORKBENCH_LOADTEST_EVENTS``: a folder; each Locust process writes ``events-<pid>.csv`` there with one
  row per request (start time, response time, status, tokens, cache layer, ...), so the result has
  per-request rows and not only Locust's rounded histogram.

Users are ``FastHttpUser``s (geventhttpclient: about twice HttpUser's rate). Each request takes the next
item of the workload (a process-wide counter; a distributed worker starts at an offset of its index).
A 429 is reported to Locust as a failure named ``shed``. Streamed requests read the whole event
stream; Locust times the whole response, so TTFT is not measured here.

Run by hand::

    WORKBENCH_LOADTEST_WORKLOAD=wl.jsonl locust -f workbench/loadtest/locustfile.py --headless \\
        -u 20 -r 20 -t 30s --host http://127.0.0.1:8000 --json-file out/locust
"""

from __future__ import annotations

import csv
import itertools
import json
import os
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, constant, constant_throughput, events, task

from workbench.sse import parse_sse_lines

__all__ = ["WorkloadUser"]

_ITEMS: list[dict[str, Any]] = []
_COUNTER = itertools.count()
_ROWS: list[tuple[Any, ...]] = []
_FIELDS = ("start_time", "response_time_ms", "status", "http_status", "index", "intent", "kind", "stream", "tokens",
           "cache_layer", "variant", "degradation_level", "simulated", "error")


def _load_items() -> list[dict[str, Any]]:
    path = os.environ.get("WORKBENCH_LOADTEST_WORKLOAD")
    if not path:
        raise RuntimeError("set WORKBENCH_LOADTEST_WORKLOAD to a workload file (Workload.save_items)")
    with open(path, encoding="utf-8") as f:
        items = [json.loads(line) for line in f if line.strip()]
    if not items:
        raise RuntimeError(f"the workload file {path} is empty")
    return items


def _wait_time() -> Any:
    rate = os.environ.get("WORKBENCH_LOADTEST_RATE_PER_USER")
    if rate:
        return constant_throughput(float(rate))
    think = float(os.environ.get("WORKBENCH_LOADTEST_THINK_S", "0") or 0)
    return constant(think) if think >= 0 else between(0, -think)


@events.test_start.add_listener
def _on_start(environment: Any, **_: Any) -> None:
    global _COUNTER
    _ITEMS[:] = _load_items()
    offset = int(getattr(environment.runner, "worker_index", 0) or 0) * 7919
    _COUNTER = itertools.count(offset)


@events.request.add_listener
def _on_request(request_type: str, name: str, response_time: float, response_length: int, response: Any = None,
                context: Any = None, exception: Any = None, start_time: float | None = None, **_: Any) -> None:
    ctx = context or {}
    code = getattr(response, "status_code", None)
    status = "ok" if exception is None else ("shed" if code == 429 else "error")
    _ROWS.append((start_time, response_time, status, code, ctx.get("index"), ctx.get("intent"), ctx.get("kind"),
                  ctx.get("stream"), ctx.get("tokens", 0), ctx.get("cache_layer"), ctx.get("variant"),
                  ctx.get("degradation_level", 0), ctx.get("simulated", False),
                  None if exception is None else str(exception)[:300]))


@events.test_stop.add_listener
def _on_stop(environment: Any, **_: Any) -> None:
    out = os.environ.get("WORKBENCH_LOADTEST_EVENTS")
    if not out or not _ROWS:
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    with open(Path(out) / f"events-{os.getpid()}.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(_FIELDS)
        w.writerows(_ROWS)
    _ROWS.clear()


class WorkloadUser(FastHttpUser):
    """Sends the workload's requests to ``POST /v1/chat``."""

    wait_time = _wait_time()

    @task
    def chat(self) -> None:
        item = _ITEMS[next(_COUNTER) % len(_ITEMS)]
        req = item["request"]
        ctx: dict[str, Any] = {"index": item["index"], "intent": item["intent"], "kind": item["kind"],
                               "stream": bool(req.get("stream"))}
        with self.client.post("/v1/chat", data=json.dumps(req), headers={"content-type": "application/json"},
                              name="/v1/chat", catch_response=True, context=ctx) as resp:
            if resp.status_code == 429:
                resp.failure("shed")
                return
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")
                return
            try:
                final = _final(resp.text or "", ctx["stream"])
            except ValueError as exc:
                resp.failure(f"bad response body: {exc}")
                return
            # the request event fires when this block exits, with this request's context
            resp.request_meta["context"].update(
                tokens=int(final.get("tokens") or 0), cache_layer=final.get("cache_layer"), variant=final.get("variant"),
                degradation_level=int(final.get("degradation_level") or 0), simulated=bool(final.get("simulated")))
            resp.success()


def _final(text: str, stream: bool) -> dict[str, Any]:
    if not stream:
        return json.loads(text)
    final: dict[str, Any] | None = None
    for ev in parse_sse_lines(text.splitlines()):
        if ev.get("error") is not None:
            raise ValueError(f"stream failed: {ev['error'].get('type')}: {ev['error'].get('message')}")
        if ev.get("response") is not None:
            final = ev["response"]
    if final is None:
        raise ValueError("stream ended without a final response event")
    return final
