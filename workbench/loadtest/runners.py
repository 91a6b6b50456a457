"""In-process async load runners: open loop (arrivals on a schedule) and closed loop (N users, think time).

* :class:`OpenLoopRunner` sends each request at its scheduled time from a
  :class:`~workbench.loadtest.profiles.LoadProfile` (Poisson, gamma-bursty or uniform arrivals),
  whether or not earlier ones have answered: a slow system builds a queue, and latency counts from
  the scheduled start, so the queue shows (no coordinated omission).
* :class:`ClosedLoopRunner` runs ``users`` virtual users, each sending, waiting for the answer, then
  thinking (exponential or constant), started evenly over a ramp-up; it stops after a duration or
  a request count.

Both take ``warmup`` / ``cooldown`` (seconds, or a fraction of the run when < 1) left out of the measured
window, ``max_errors`` (stop sending after that many errors) and ``score`` (grade answers against the
dataset's gold: ``True`` all, an int a seeded sample of that many; see :mod:`workbench.loadtest.quality`).

Both drive a :class:`~workbench.loadtest.senders.Sender` (an in-process target is wrapped in a
:class:`~workbench.loadtest.senders.TargetSender`; ``HttpSender`` speaks HTTP) and return a
:class:`~workbench.loadtest.result.LoadResult`. The hot path only timestamps (``perf_counter_ns``) and
appends; rows are built after the run.

```python
result = await OpenLoopRunner(NoopTarget(), Workload(), LoadProfile.steady(5000, 2.0)).run()
result = ClosedLoopRunner(target, Workload(), users=8, think_s=0.5, duration_s=30).run_sync()
```
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import cycle
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.errors import ConfigError
from workbench.loadtest.profiles import ArrivalProcess, LoadProfile, RunProfile, arrival_offsets, span_seconds
from workbench.loadtest.quality import score_answers
from workbench.loadtest.result import COLUMNS, LoadResult
from workbench.loadtest.senders import Outcome, Sender, TargetSender
from workbench.loadtest.stats import SLO
from workbench.loadtest.target import Target
from workbench.loadtest.workload import WorkItem, Workload

__all__ = ["ClosedLoopRunner", "LoadRunner", "OpenLoopRunner", "ProgressCallback", "SHED_BACKOFF_S", "runner_for"]

_NS = time.perf_counter_ns
#: ``progress(done, total)`` every ~0.2 s (``total`` is None when unknown).
ProgressCallback = Callable[[int, int | None], None]
#: A standard closed-loop profile's pause after a shed request (seconds).
SHED_BACKOFF_S = 0.1
_UNFINISHED = Outcome("error", error="unfinished: still in flight when the run's drain timeout passed")


@contextmanager
def _gc_frozen(enabled: bool) -> Iterator[None]:
    """Move every object that exists before the run to the GC's permanent generation for the run.

    Without it a full collection scans the whole heap (dataset, pandas, ...) and stalls the event loop
    (measured here: ~300 ms once per few seconds at 5k req/s); objects made during the run are still
    collected as usual. No collection first: it cost ~0.5 s per run (a capacity search makes a dozen); the
    garbage frozen with the rest is collected after the run, when it is unfrozen.
    """
    if not enabled:
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class LoadRunner:
    """What both runners share: the sender, the rows, progress reporting and the result."""

    mode = "base"

    def __init__(self, target: Target | Sender, workload: Workload | Sequence[WorkItem], *, slo: SLO | None = None,
                 progress: ProgressCallback | None = None, drain_timeout_s: float = 30.0,
                 label: str | None = None, gc_freeze: bool = True, warmup: float = 0.0, cooldown: float = 0.0,
                 max_errors: int | None = None, score: bool | int = False) -> None:
        self.sender: Sender = target if hasattr(target, "send") else TargetSender(target)  # type: ignore[assignment]
        if warmup < 0 or cooldown < 0:
            raise ConfigError("warmup and cooldown must be >= 0 (seconds, or a fraction of the run when < 1)",
                              field="warmup")
        if max_errors is not None and max_errors < 1:
            raise ConfigError("max_errors must be >= 1", field="max_errors")
        if score is not True and score is not False and int(score) < 1:
            raise ConfigError("score is True, False or a sample size >= 1", field="score")
        self.warmup, self.cooldown, self.max_errors, self.score = warmup, cooldown, max_errors, score
        self._errors = 0
        self._stopped_by: str | None = None
        self.run_profile: dict[str, Any] | None = None
        """The standard profile this runner plays (set by :func:`runner_for`), kept in the manifest."""
        self.workload = workload
        self.slo = slo
        self.progress = progress
        self.drain_timeout_s = drain_timeout_s
        self.label = label
        self.gc_freeze = gc_freeze
        self._raw: list[tuple[WorkItem, int, int, int, int, Outcome]] = []
        self._done = 0
        self._t0 = 0

    def _items(self, n: int | None) -> Iterator[WorkItem]:
        wl = self.workload
        if isinstance(wl, Workload):
            return iter(wl.items(n)) if n is not None else wl.iter_items()
        if not wl:
            raise ConfigError("the workload has no items", field="workload")
        return cycle(wl)

    async def _one(self, item: WorkItem, scheduled: int, worker: int) -> Outcome:
        start = _NS()
        try:
            out = await self.sender.send(item)
        except asyncio.CancelledError:
            self._raw.append((item, worker, scheduled, start, _NS(), _UNFINISHED))
            raise
        self._raw.append((item, worker, scheduled, start, _NS(), out))
        self._done += 1
        if out.status == "error":
            self._errors += 1
            if self.max_errors is not None and self._errors >= self.max_errors and self._stopped_by is None:
                self._stopped_by = f"max_errors ({self.max_errors})"
        return out

    async def _ticker(self, total: int | None) -> None:
        if self.progress is None:
            return
        while True:
            self.progress(self._done, total)
            await asyncio.sleep(0.2)

    async def run(self) -> LoadResult:
        """Run the load test and return its result."""
        try:
            with _gc_frozen(self.gc_freeze):
                await self._run()
        finally:
            close = getattr(self.sender, "aclose", None)
            if close is not None:
                await close()
        return self._finish()

    async def _run(self) -> None:
        raise NotImplementedError

    def _finish(self) -> LoadResult:
        raise NotImplementedError

    def run_sync(self) -> LoadResult:
        """:meth:`run` from synchronous code, also inside a running event loop (a notebook): then in a thread."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.run())
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, self.run()).result()

    def _meta(self, **extra: Any) -> dict[str, Any]:
        wl = self.workload
        meta: dict[str, Any] = {
            "runner": self.mode, "label": self.label, "sender": repr(self.sender),
            "workload": wl.spec.model_dump(mode="json") if isinstance(wl, Workload) else {"items": len(wl)},
            "latency_from": "scheduled start",
        }
        if self.slo is not None:
            meta["slo"] = self.slo.to_dict()
        if self._stopped_by is not None:
            meta["stopped_by"] = self._stopped_by
        if self.run_profile is not None:
            meta["run_profile"] = self.run_profile
        meta.update(extra)
        return meta

    def _measured(self, duration_s: float) -> dict[str, float] | None:
        """The measured window in scheduled-start seconds, when a warm-up or cool-down is set."""
        if not (self.warmup or self.cooldown):
            return None
        a = span_seconds(self.warmup, duration_s)
        b = duration_s - span_seconds(self.cooldown, duration_s)
        if not b > a:
            raise ConfigError(f"warm-up ({a:g} s) and cool-down leave no measured window in a {duration_s:g} s run",
                              field="warmup")
        return {"from_s": a, "to_s": b, "warmup_s": a, "cooldown_s": duration_s - b}

    def _result(self, **meta: Any) -> LoadResult:
        """Rows from the raw timestamps, vectorized."""
        raw = self._raw
        t0 = self._t0
        items = [r[0] for r in raw]
        outs = [r[5] for r in raw]
        reqs = [it.request for it in items]
        sched = np.fromiter((r[2] for r in raw), np.int64, len(raw))
        start = np.fromiter((r[3] for r in raw), np.int64, len(raw))
        end = np.fromiter((r[4] for r in raw), np.int64, len(raw))
        first = np.fromiter((o.first_token_ns for o in outs), np.int64, len(raw))
        tokens = np.fromiter((o.tokens for o in outs), np.int64, len(raw))
        itl = np.fromiter((o.itl_max_ns for o in outs), np.int64, len(raw))
        first_eff = np.where(first > 0, first, end)
        streamed = first > 0
        tpot = np.where(streamed & (tokens > 1), (end - first_eff) / 1e6 / np.maximum(tokens - 1, 1), np.nan)
        df = pd.DataFrame({
            "index": [it.index for it in items], "intent": [it.intent for it in items],
            "kind": [it.kind for it in items], "tenant": [r.tenant for r in reqs], "user": [r.user for r in reqs],
            "session": [r.session for r in reqs], "stream": [r.stream for r in reqs],
            "worker": [r[1] for r in raw],
            "scheduled_s": (sched - t0) / 1e9, "start_s": (start - t0) / 1e9,
            "first_token_s": (first_eff - t0) / 1e9, "end_s": (end - t0) / 1e9,
            "latency_ms": (end - sched) / 1e6, "service_ms": (end - start) / 1e6, "wait_ms": (start - sched) / 1e6,
            "ttft_ms": (first_eff - sched) / 1e6, "tokens": tokens, "tpot_ms": tpot,
            "status": [o.status for o in outs], "http_status": [o.http_status for o in outs],
            "cache_layer": [o.cache_layer for o in outs], "variant": [o.variant for o in outs],
            "degradation_level": [o.degradation_level for o in outs], "simulated": [o.simulated for o in outs],
            "error": [o.error for o in outs],
            "itl_max_ms": np.where(itl > 0, itl / 1e6, np.nan), "answer": [o.answer for o in outs],
            "verdict": score_answers(items, [o.answer for o in outs], [o.status == "ok" for o in outs],
                                     sample=None if self.score is True else int(self.score),
                                     seed=getattr(self, "seed", 0)) if self.score else None,
        }, columns=list(COLUMNS))
        if self.score:
            meta["scored"] = {"sample": None if self.score is True else int(self.score),
                              "matcher": "workbench.evaluation.metrics.answer.match_answer"}
        return LoadResult.from_rows(df, self._meta(**meta))


class OpenLoopRunner(LoadRunner):
    """Requests at scheduled times from ``profile``, answered or not (see the module doc).

    The dispatcher sleeps until a request is due; a request may leave up to 0.1 ms early (it is not
    worth a wake-up) and late by the event loop's latency (``wait_ms``, about 1 ms with epoll).

    ``max_in_flight`` caps concurrent requests (late ones wait, and their wait counts in latency);
    ``max_requests`` truncates the schedule. Unfinished requests at ``drain_timeout_s`` after the
    last send are cancelled and recorded as errors.

    ```python
    OpenLoopRunner(target, Workload(), LoadProfile.morning_peak(200, 60), arrivals="gamma", cv=2).run_sync()
    ```
    """

    mode = "open-loop"

    def __init__(self, target: Target | Sender, workload: Workload | Sequence[WorkItem], profile: LoadProfile, *,
                 arrivals: ArrivalProcess = "poisson", cv: float = 1.0, seed: int = 0,
                 max_requests: int | None = None, max_in_flight: int | None = None, **kwargs: Any) -> None:
        super().__init__(target, workload, **kwargs)
        self.profile = profile
        self.arrivals, self.cv, self.seed = arrivals, cv, seed
        self.max_requests = max_requests
        if max_in_flight is not None and max_in_flight < 1:
            raise ConfigError("max_in_flight must be >= 1", field="max_in_flight")
        self.max_in_flight = max_in_flight
        self.offsets = arrival_offsets(profile, process=arrivals, cv=cv, seed=seed, max_requests=max_requests)
        self._measured(profile.duration_s)  # a warm-up and cool-down that leave nothing: refused before the run
        self._lag_ms = 0.0

    async def _one_limited(self, sem: asyncio.Semaphore, item: WorkItem, scheduled: int) -> Outcome:
        async with sem:
            return await self._one(item, scheduled, -1)

    async def _run(self) -> None:
        n = len(self.offsets)
        items = list(self._items(n)) if isinstance(self.workload, Workload) else \
            [it for it, _ in zip(self._items(None), range(n), strict=False)]
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(self.max_in_flight) if self.max_in_flight else None
        ticker = loop.create_task(self._ticker(n))
        self._raw, self._done = [], 0
        self._t0 = t0 = _NS() + 2_000_000
        due = (self.offsets * 1e9).astype(np.int64) + t0
        tasks: list[asyncio.Task[Outcome]] = []
        one, create = self._one, loop.create_task
        for i in range(n):
            if self._stopped_by is not None:
                break
            d = int(due[i])
            now = _NS()
            if d - now > 100_000:
                while d - now > 100_000:  # the loop's timers may fire early by up to its clock resolution
                    await asyncio.sleep((d - now) / 1e9)
                    now = _NS()
            elif not i & 63:
                await asyncio.sleep(0)
            tasks.append(create(one(items[i], d, -1) if sem is None else self._one_limited(sem, items[i], d)))
        sent_done = _NS()
        await asyncio.sleep(0)  # the last requests start before the bookkeeping below
        # wait only for those in flight: asyncio.wait over every task of the run (10k at 5k req/s for 2 s) adds
        # and removes a callback on each, stalling the loop ~20 ms while the last requests wait to finish
        in_flight = [t for t in tasks if not t.done()]
        _, pending = await asyncio.wait(in_flight, timeout=self.drain_timeout_s) if in_flight else (set(), set())
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        ticker.cancel()
        if self.progress is not None:
            self.progress(self._done, n)
        self._lag_ms = (sent_done - int(due[len(tasks) - 1])) / 1e6 if tasks else 0.0

    def _finish(self) -> LoadResult:
        return self._result(profile=self.profile.to_dict(), arrivals=self.arrivals, cv=self.cv, seed=self.seed,
                            target_rate_peak=self.profile.peak_rate, scheduled_requests=len(self.offsets),
                            schedule_lag_ms=self._lag_ms, measured=self._measured(self.profile.duration_s))


class ClosedLoopRunner(LoadRunner):
    """``users`` virtual users, each: send, wait for the answer, think, repeat.

    Users start evenly over ``ramp_s``. The run stops sending after ``duration_s`` or ``max_requests``
    (at least one is required); requests in flight then finish. Think time: ``think_s`` mean,
    ``exponential`` (seeded per user) or ``constant``. A user whose request was shed waits ``shed_backoff_s``
    before the next one (a shed answers at once: without a pause a closed loop against a shedding server
    spins, sending thousands of requests a second that measure nothing).

    ```python
    ClosedLoopRunner(target, Workload(), users=16, think_s=0.0, max_requests=2000).run_sync()
    ```
    """

    mode = "closed-loop"

    def __init__(self, target: Target | Sender, workload: Workload | Sequence[WorkItem], *, users: int,
                 think_s: float = 0.0, think: Literal["exponential", "constant"] = "exponential",
                 ramp_s: float = 0.0, duration_s: float | None = None, max_requests: int | None = None,
                 seed: int = 0, shed_backoff_s: float = 0.0, **kwargs: Any) -> None:
        super().__init__(target, workload, **kwargs)
        if users < 1:
            raise ConfigError("users must be >= 1", field="users")
        if duration_s is None and max_requests is None:
            raise ConfigError("give duration_s or max_requests (or both) so the run ends", field="duration_s")
        if think_s < 0 or ramp_s < 0:
            raise ConfigError("think_s and ramp_s must be >= 0", field="think_s")
        self.users, self.think_s, self.think, self.ramp_s = users, think_s, think, ramp_s
        self.duration_s, self.max_requests, self.seed = duration_s, max_requests, seed
        if shed_backoff_s < 0:
            raise ConfigError("shed_backoff_s must be >= 0", field="shed_backoff_s")
        self.shed_backoff_s = shed_backoff_s
        if duration_s is not None:
            self._measured(duration_s)
        self._issued = 0

    async def _user(self, u: int, items: Iterator[WorkItem], start_ns: int, stop_ns: int | None) -> None:
        now = _NS()
        if start_ns > now:
            await asyncio.sleep((start_ns - now) / 1e9)
        rng = np.random.default_rng([self.seed, u])
        while True:
            if stop_ns is not None and _NS() >= stop_ns:
                return
            if self.max_requests is not None and self._issued >= self.max_requests:
                return
            if self._stopped_by is not None:
                return
            self._issued += 1
            out = await self._one(next(items), _NS(), u)
            if self.shed_backoff_s and out.status == "shed":
                await asyncio.sleep(self.shed_backoff_s)
            if self.think_s:
                await asyncio.sleep(self.think_s if self.think == "constant" else float(rng.exponential(self.think_s)))
            elif not self._issued & 63:
                await asyncio.sleep(0)

    async def _run(self) -> None:
        items = self._items(self.max_requests)
        loop = asyncio.get_running_loop()
        self._raw, self._done, self._issued = [], 0, 0
        ticker = loop.create_task(self._ticker(self.max_requests))
        self._t0 = t0 = _NS() + 1_000_000
        stop = t0 + int(self.duration_s * 1e9) if self.duration_s is not None else None
        step = self.ramp_s / self.users if self.users else 0.0
        tasks = [loop.create_task(self._user(u, items, t0 + int(u * step * 1e9), stop)) for u in range(self.users)]
        try:
            done, pending = await asyncio.wait(tasks, timeout=(self.duration_s + self.drain_timeout_s)
                                               if self.duration_s is not None else None)
            for t in pending:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            ticker.cancel()
        for t in done:
            if t.exception() is not None:
                raise t.exception()  # type: ignore[misc]
        if self.progress is not None:
            self.progress(self._done, self.max_requests)

    def _finish(self) -> LoadResult:
        span = self.duration_s if self.duration_s is not None else \
            max((r[2] - self._t0) / 1e9 for r in self._raw) if self._raw else 0.0
        return self._result(users=self.users, think_s=self.think_s, think=self.think, ramp_s=self.ramp_s,
                            duration_s=self.duration_s, max_requests=self.max_requests, seed=self.seed,
                            measured=self._measured(span) if span > 0 else None)


def runner_for(profile: RunProfile, target: Target | Sender, workload: Workload | Sequence[WorkItem], *,
               seed: int = 0, think_s: float = 0.0, **kwargs: Any) -> LoadRunner:
    """The runner of one standard ``profile`` (not ``sweep``: see :func:`workbench.loadtest.capacity.sweep`).

    ``kwargs`` go to the runner (``slo``, ``warmup``, ``cooldown``, ``max_errors``, ``score``, ``progress``...);
    closed-loop streams pause :data:`SHED_BACKOFF_S` after a shed unless ``shed_backoff_s`` says otherwise.

    ```python
    result = runner_for(RunProfile(name="poisson", rate=20, duration_s=10), target, Workload(), warmup=0.1).run_sync()
    ```
    """
    if profile.name == "sweep":
        raise ConfigError("a sweep is several runs: use workbench.loadtest.capacity.sweep", field="profile")
    label = kwargs.pop("label", None) or profile.name
    backoff = kwargs.pop("shed_backoff_s", SHED_BACKOFF_S)
    runner: LoadRunner
    if profile.open_loop:
        runner = OpenLoopRunner(target, workload, profile.curve(), arrivals=profile.arrivals, cv=profile.cv,
                                seed=seed, max_requests=profile.max_requests, label=label, **kwargs)
    else:
        runner = ClosedLoopRunner(target, workload, users=profile.streams,
                                  think_s=think_s if profile.name == "concurrent" else 0.0,
                                  duration_s=profile.duration_s, max_requests=profile.max_requests, seed=seed,
                                  label=label, shed_backoff_s=backoff, **kwargs)
    runner.run_profile = profile.to_dict()
    return runner
