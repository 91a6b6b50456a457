"""The locustfile of ``workbench loadtest --locust``: Locust users replaying a saved :class:`Workload`.

It imports only the standard library, Locust and the workbench's SSE parser (:mod:`workbench.sse`, which
pulls in no model or server code); it runs in Locust's gevent process, never inside pytest or the workbench
process. Settings come from environment variables, which
:func:`workbench.loadtest.locust_runner.run_locust` sets:

* ``WORKBENCH_LOADTEST_WORKLOAD``: a JSON-lines file from ``Workload.save_items`` (required);
* ``WORKBENCH_LOADTEST_RATE_PER_USER``: requests per second per user, paced as
  ``WORKBENCH_LOADTEST_ARRIVALS`` says: ``poisson`` (default; exponential gaps on each user's own seeded
  schedule, the first one too, so the users' sum is a Poisson stream like the native open-loop runner's) or
  ``constant`` (Locust's ``constant_throughput``: users spawned together stay in phase and send in bursts); or
* ``WORKBENCH_LOADTEST_THINK_S``: a constant think time (default 0: back-to-back requests);
* ``WORKBENCH_LOADTEST_SEED``: the seed of the Poisson schedules (default 0);
* ``WORKBENCH_LOADTEST_EVENTS``: a folder; each Locust process writes ``events-<pid>.csv`` there with one
  row per request (start time, response time, status, tokens, cache layer, ...), so the result has
  per-request rows and not only Locust's rounded histogram.

Users are ``FastHttpUser``s (geventhttpclient: about twice HttpUser's rate). Each request takes the next
item of the workload (a process-wide counter; a distributed worker starts at an offset of its index).
A 429 is reported to Locust as a failure named ``shed``. Under Poisson pacing each row also
records when the request was due (``scheduled_time``): a user still busy with its previous request sends late
(as soon as it is free, then catches up with its schedule), and that lateness is kept, not hidden. Streamed requests read the whole event
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
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, between, constant, constant_throughput, events, task

from workbench.sse import parse_sse_lines

__all__ = ["PoissonPacing", "WorkloadUser", "poisson_throughput"]

_ITEMS: list[dict[str, Any]] = []
_COUNTER = itertools.count()
_ROWS: list[tuple[Any, ...]] = []
_USER_NUMBERS = itertools.count()
_FIELDS = ("start_time", "scheduled_time", "response_time_ms", "status", "http_status", "index", "intent", "kind", "stream", "tokens",
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


class PoissonPacing:
    """One user's Poisson schedule: exponential gaps at ``rate`` per second, laid on the schedule (not after
    each response), so a user that keeps up sends at the rate whatever the response time.

    A request due while the user still waits for the previous one goes out as soon as that one is done, and
    the schedule goes on as drawn (the user catches up, so the rate holds as in an open loop);
    :attr:`due_epoch` keeps when each request was due, so the lateness is recorded, not hidden.

    :param rate: requests per second of this user (> 0).
    :param rng: the user's own seeded random stream.
    """

    def __init__(self, rate: float, rng: random.Random) -> None:
        if rate <= 0:
            raise ValueError(f"the rate must be > 0, got {rate}")
        self.rate, self.rng = rate, rng
        self.next_s: float | None = None
        self.due_epoch: float | None = None

    def wait_s(self) -> float:
        """The seconds to wait before the next request (0 when it is already due).

        :returns: the wait, >= 0.
        """
        now = time.monotonic()
        self.next_s = (now if self.next_s is None else self.next_s) + self.rng.expovariate(self.rate)
        self.due_epoch = time.time() + (self.next_s - now)
        return max(0.0, self.next_s - now)


def poisson_throughput(rate: float, seed: int = 0) -> Callable[[Any], float]:
    """A Locust ``wait_time`` that paces each user as its own :class:`PoissonPacing` (seeded per user number).

    :param rate: requests per second per user.
    :param seed: the seed; user ``n`` of this process draws from ``Random(seed * 1_000_003 + n)``.
    :returns: the ``wait_time`` function (it takes the user).
    """
    if rate <= 0:
        raise ValueError(f"poisson_throughput() requires a positive rate, got {rate}")

    def wait_time(user: Any) -> float:
        pacing = user.__dict__.get("pacing")
        if pacing is None:
            pacing = user.pacing = PoissonPacing(rate, random.Random(seed * 1_000_003 + next(_USER_NUMBERS)))
        return pacing.wait_s()

    return wait_time


_RATE = os.environ.get("WORKBENCH_LOADTEST_RATE_PER_USER")
_POISSON = bool(_RATE) and os.environ.get("WORKBENCH_LOADTEST_ARRIVALS", "poisson") != "constant"


def _wait_time() -> Any:
    rate = _RATE
    if rate:
        if not _POISSON:
            return constant_throughput(float(rate))
        return poisson_throughput(float(rate), int(os.environ.get("WORKBENCH_LOADTEST_SEED", "0") or 0))
    think = float(os.environ.get("WORKBENCH_LOADTEST_THINK_S", "0") or 0)
    return constant(think) if think >= 0 else between(0, -think)


@events.test_start.add_listener
def _on_start(environment: Any, **_: Any) -> None:
    global _COUNTER, _USER_NUMBERS
    _ITEMS[:] = _load_items()
    offset = int(getattr(environment.runner, "worker_index", 0) or 0) * 7919
    _COUNTER = itertools.count(offset)
    _USER_NUMBERS = itertools.count(offset)


@events.request.add_listener
def _on_request(request_type: str, name: str, response_time: float, response_length: int, response: Any = None,
                context: Any = None, exception: Any = None, start_time: float | None = None, **_: Any) -> None:
    ctx = context or {}
    code = getattr(response, "status_code", None)
    status = "ok" if exception is None else ("shed" if code == 429 else "error")
    _ROWS.append((start_time, ctx.get("scheduled_time"), response_time, status, code, ctx.get("index"), ctx.get("intent"), ctx.get("kind"),
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

    def on_start(self) -> None:
        """Under Poisson pacing, wait for the first arrival too (users spawned together would send at once)."""
        if _POISSON:
            gevent.sleep(self.wait_time())

    @task
    def chat(self) -> None:
        item = _ITEMS[next(_COUNTER) % len(_ITEMS)]
        req = item["request"]
        ctx: dict[str, Any] = {"index": item["index"], "intent": item["intent"], "kind": item["kind"],
                               "stream": bool(req.get("stream"))}
        pacing = self.__dict__.get("pacing")
        if pacing is not None:
            ctx["scheduled_time"] = pacing.due_epoch
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
