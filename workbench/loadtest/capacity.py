"""How much traffic a service takes while it still answers right and in time: the sweep and the capacity search.

* :func:`sweep`: GuideLLM's sweep: a ``synchronous`` run (the latency floor, one request at a time), a
  ``throughput`` run (as fast as it goes), then ``steps`` − 2 ``constant``-rate runs evenly between their
  throughputs; one summary row per run: the curve where latency and goodput break.
* :func:`find_capacity`: the largest open-loop rate at which the SLO holds (attainment ≥ ``attainment``
  over the measured window, sheds and errors counting as misses) **and** the share of correct answers
  stays ≥ ``min_correct`` (answers scored against the dataset's gold). It starts from the synchronous
  throughput, doubles the rate until a step fails, then bisects until the bracket is within
  ``tolerance``. A failing step is run once more and fails only if it fails again (``retry_failed``): on
  a shared machine one stall of the client can sink a short step, and one false failure would send the
  bisection far below the knee. The users it takes: Little's law, ``rate × (mean latency + think time)``.

Both run inside one event loop (the in-process engine lives on it), so they are coroutines; sync callers
use ``asyncio.run`` or :func:`workbench.loadtest.inprocess.run_with_engine`.

```python
cap = await find_capacity(SlotTarget(service_s=0.01, slots=4), Workload(), SLO(e2el_ms=30), step_s=2)
cap.headline()          # '12 users / 396 req/s under SLO(e2el_ms=30) ...'
cap.curve               # one row per step: rate, attainment, correct share, holds
```
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.errors import ConfigError
from workbench.loadtest.profiles import RunProfile
from workbench.loadtest.result import LoadResult
from workbench.loadtest.runners import ClosedLoopRunner, runner_for
from workbench.loadtest.senders import Sender
from workbench.loadtest.stats import SLO
from workbench.loadtest.target import Target
from workbench.loadtest.workload import WorkItem, Workload

__all__ = ["CapacityResult", "SweepResult", "find_capacity", "step_holds", "sweep", "warm_up"]

StepCallback = Callable[[str, LoadResult], None]


async def warm_up(target: Target | Sender, workload: Workload | Sequence[WorkItem], requests: int) -> None:
    """Send ``requests`` requests, two at a time, and forget them: a cold start (models loading on the first
    request, empty connection pools) is not the service's steady state and would sink the first step."""
    if requests > 0:
        await ClosedLoopRunner(target, workload, users=2, max_requests=requests, label="warm-up").run()


@dataclass
class SweepResult:
    """The runs of a sweep by label, and their summary rows (``curve``: one row per run, by offered rate)."""

    runs: dict[str, LoadResult]
    curve: pd.DataFrame


async def sweep(target: Target | Sender, workload: Workload | Sequence[WorkItem], *, steps: int = 5,
                duration_s: float = 10.0, concurrency: int | None = None, slo: SLO | None = None,
                arrivals: Literal["constant", "poisson"] = "constant", seed: int = 0, warm_requests: int = 0,
                on_step: StepCallback | None = None, **runner_kwargs: Any) -> SweepResult:
    """Synchronous, throughput, then ``steps`` − 2 constant rates evenly between their throughputs.

    :param steps: runs in all (>= 2).
    :param duration_s: each run's length.
    :param concurrency: the throughput run's streams (default :data:`~workbench.loadtest.profiles.THROUGHPUT_STREAMS`).
    :param arrivals: the in-between runs' arrivals (``constant`` as GuideLLM, or ``poisson``).
    :param warm_requests: send this many unmeasured requests first (see :func:`warm_up`).
    :param on_step: called with each run's label and result as it finishes (a dashboard's curve).
    :returns: the :class:`SweepResult`.
    :raises ConfigError: ``steps`` < 2.
    """
    RunProfile(name="sweep", steps=steps, duration_s=duration_s)  # validates
    await warm_up(target, workload, warm_requests)
    runs: dict[str, LoadResult] = {}
    rows: list[dict[str, Any]] = []

    async def one(profile: RunProfile, label: str) -> LoadResult:
        res = await runner_for(profile, target, workload, seed=seed, slo=slo, label=label, **runner_kwargs).run()
        runs[label] = res
        rows.append(res.summary_row(slo, run=label, profile=profile.name, rate=profile.rate))
        if on_step is not None:
            on_step(label, res)
        return res

    lo = (await one(RunProfile(name="synchronous", duration_s=duration_s), "synchronous")).summary()["throughput_rps"]
    hi = (await one(RunProfile(name="throughput", concurrency=concurrency, duration_s=duration_s),
                    "throughput")).summary()["throughput_rps"]
    if not (lo > 0 and hi > 0):
        raise ConfigError("the synchronous or throughput run completed nothing: is the target answering?",
                          field="target")
    for rate in np.linspace(min(lo, hi), max(lo, hi), steps)[1:-1]:
        await one(RunProfile(name="constant" if arrivals == "constant" else "poisson", rate=float(rate),
                             duration_s=duration_s), f"{arrivals}@{rate:.3g}")
    curve = pd.DataFrame(rows)
    return SweepResult(runs, curve)


def step_holds(summary: dict[str, Any], *, attainment: float, min_correct: float | None) -> tuple[bool, str]:
    """Whether one run's SLO and quality floor hold, and why not.

    :param summary: a :meth:`LoadResult.summary` made with an SLO (and scored answers when ``min_correct``).
    :param attainment: the share of requests that must meet the SLO.
    :param min_correct: the correct share the answers must keep (``None``: no quality floor).
    :returns: ``(holds, reason)``.
    """
    att = summary.get("slo_attainment", math.nan)
    if not att >= attainment:
        return False, f"SLO attainment {att:.1%} < {attainment:.0%}"
    if min_correct is not None:
        share = summary.get("correct_share", math.nan)
        if not share >= min_correct:
            return False, f"correct share {share:.1%} < {min_correct:.0%}"
    return True, "holds"


@dataclass
class CapacityResult:
    """The capacity found: ``rate_rps`` (0 when not even one request at a time holds), the users it takes,
    and the ``curve`` (one row per step, in the order run)."""

    rate_rps: float
    users: int
    slo: SLO
    min_correct: float | None
    attainment: float
    think_s: float
    curve: pd.DataFrame
    runs: dict[str, LoadResult] = field(default_factory=dict)
    broke_at_rps: float | None = None
    """The lowest rate that failed (the bracket's top), or ``None`` when no step failed."""

    def headline(self) -> str:
        """``"N users / R req/s under SLO(...)"`` with the floor and where it broke."""
        floor = f", correct >= {self.min_correct:.0%}" if self.min_correct is not None else ""
        if self.rate_rps <= 0:
            return f"no rate holds {self.slo!r}{floor} (attainment >= {self.attainment:.0%}), not even one at a time"
        broke = f"; breaks by {self.broke_at_rps:.3g} req/s" if self.broke_at_rps else ""
        think = f" with {self.think_s:g} s think time" if self.think_s else " in flight"
        return (f"{self.users} users{think} / {self.rate_rps:.3g} req/s under {self.slo!r}{floor} "
                f"(attainment >= {self.attainment:.0%}){broke}")

    def to_dict(self) -> dict[str, Any]:
        return {"rate_rps": self.rate_rps, "users": self.users, "slo": self.slo.to_dict(),
                "min_correct": self.min_correct, "attainment": self.attainment, "think_s": self.think_s,
                "broke_at_rps": self.broke_at_rps, "headline": self.headline(),
                "curve": self.curve.replace({np.nan: None}).to_dict(orient="records")}


async def find_capacity(target: Target | Sender, workload: Workload | Sequence[WorkItem], slo: SLO, *,
                        min_correct: float | None = None, attainment: float = 0.95, start_rate: float | None = None,
                        max_rate: float | None = None, step_s: float = 10.0, warmup: float = 0.2,
                        tolerance: float = 0.05, max_steps: int = 12, arrivals: Literal["constant", "poisson"] =
                        "constant", think_s: float = 0.0, score_sample: int | None = None, seed: int = 0,
                        retry_failed: bool = True, warm_requests: int = 0, on_step: StepCallback | None = None,
                        **runner_kwargs: Any) -> CapacityResult:
    """Search the largest rate at which ``slo`` and the quality floor hold (see the module doc).

    :param slo: the bounds (see :class:`~workbench.loadtest.stats.SLO`); it must set at least one.
    :param min_correct: the correct share answers must keep; answers are then scored against the gold.
    :param attainment: the share of requests (sent in the measured window) that must meet ``slo``.
    :param start_rate: the first rate tried; default: the synchronous throughput (one run first).
    :param max_rate: never try above this (then the capacity is at least it).
    :param step_s: each step's length; ``warmup`` (seconds, or a fraction when < 1) is left out of it.
    :param tolerance: stop when the bracket ``[holds, fails]`` is within this fraction of its top.
    :param max_steps: at most this many rate steps.
    :param think_s: a user's think time between answers (for the users count).
    :param score_sample: score only a seeded sample of this many answers per step (``None``: all).
    :param retry_failed: run a failing step once more; it fails only when both runs fail (both are in the curve).
    :param warm_requests: send this many unmeasured requests first (see :func:`warm_up`).
    :returns: the :class:`CapacityResult`.
    :raises ConfigError: an empty SLO, or bad bounds.
    """
    if slo.empty:
        raise ConfigError("a capacity search needs an SLO: e.g. --slo e2el_ms=1500", field="slo")
    if not 0 < attainment <= 1 or not 0 < tolerance < 1 or max_steps < 1:
        raise ConfigError("attainment in (0, 1], tolerance in (0, 1) and max_steps >= 1", field="capacity")
    if min_correct is not None and not 0 <= min_correct <= 1:
        raise ConfigError(f"min_correct is a share in [0, 1], got {min_correct}", field="min_correct")
    score: bool | int = (score_sample or True) if min_correct is not None else False
    runs: dict[str, LoadResult] = {}
    rows: list[dict[str, Any]] = []
    await warm_up(target, workload, warm_requests)

    async def run(profile: RunProfile, label: str) -> tuple[bool, dict[str, Any]]:
        res = await runner_for(profile, target, workload, seed=seed, slo=slo, label=label, warmup=warmup,
                               score=score, **runner_kwargs).run()
        s = res.summary(slo)
        ok, why = step_holds(s, attainment=attainment, min_correct=min_correct)
        runs[label] = res
        rows.append({"step": len(rows), "profile": profile.name, "rate": profile.rate,
                     "throughput_rps": s["throughput_rps"], "goodput_rps": s.get("goodput_rps"),
                     "correct_goodput_rps": s.get("correct_goodput_rps"), "slo_attainment": s.get("slo_attainment"),
                     "correct_share": s.get("correct_share"), "latency_mean_ms": s["latency_mean_ms"],
                     "latency_p50_ms": s["latency_ms"]["p50"], "latency_p99_ms": s["latency_ms"]["p99"],
                     "shed_rate": s["shed_rate"], "error_rate": s["error_rate"], "holds": ok, "why": why})
        if on_step is not None:
            on_step(label, res)
        return ok, s

    if start_rate is None:
        ok, s = await run(RunProfile(name="synchronous", duration_s=step_s), "synchronous")
        start_rate = s["throughput_rps"]
        if not ok or not start_rate > 0:
            return CapacityResult(0.0, 0, slo, min_correct, attainment, think_s, pd.DataFrame(rows), runs,
                                  broke_at_rps=None)
    rate = min(start_rate, max_rate) if max_rate else start_rate
    lo: float | None = None
    hi: float | None = None
    lo_latency_ms = math.nan
    for _ in range(max_steps):
        step = RunProfile(name="constant" if arrivals == "constant" else "poisson", rate=rate, duration_s=step_s)
        ok, s = await run(step, f"rate={rate:.4g}")
        if not ok and retry_failed:
            ok, s = await run(step, f"rate={rate:.4g} (again)")
        if ok:
            lo, lo_latency_ms = rate, s["latency_mean_ms"]
        else:
            hi = rate
        if hi is None:
            if max_rate is not None and rate >= max_rate:
                break
            rate = rate * 2 if max_rate is None else min(rate * 2, max_rate)
            continue
        if (hi - (lo or 0.0)) <= tolerance * hi:
            break
        rate = ((lo or 0.0) + hi) / 2
    found = lo or 0.0
    users = math.floor(found * ((lo_latency_ms / 1e3 if not math.isnan(lo_latency_ms) else 0.0) + think_s)) \
        if found else 0
    return CapacityResult(found, max(users, 1) if found else 0, slo, min_correct, attainment, think_s,
                          pd.DataFrame(rows), runs, broke_at_rps=hi)
