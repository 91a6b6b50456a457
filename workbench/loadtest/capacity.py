"""How much traffic a service takes while it still answers right and in time: the sweep and the capacity search.

* :func:`sweep`: GuideLLM's sweep: a ``synchronous`` run (the latency floor, one request at a time), a
  ``throughput`` run (as fast as it goes), then ``steps`` − 2 ``constant``-rate runs evenly between their
  throughputs; one summary row per run: the curve where latency and goodput break.
* :func:`find_capacity`: the largest open-loop rate at which the SLO holds (attainment ≥ ``attainment``
  over the measured window, sheds and errors counting as misses) **and** the share of correct answers
  stays ≥ ``min_correct`` (answers scored against the dataset's gold). It starts from the synchronous
  throughput, doubles the rate until a step fails, then bisects until the bracket is within ``tolerance``.
  A failing step (the synchronous one too) is run once more and fails only if it fails again
  (``retry_failed``; with a time budget, only when the second run still fits): on a shared machine one stall
  of the client can sink a short step, and one false failure would send the bisection far below the knee.
  The users it takes: Little's law, ``rate × (mean latency + think time)``.
  Then it **confirms** the rate found (``confirm``, on by default): a constant-rate run at that rate, where the
  SLO and the floor must hold (retried once like a search step), and one at ``confirm_factor`` (1.2) times it,
  where they must break; :attr:`CapacityResult.confirmed` and :meth:`CapacityResult.confirmation_line` say
  whether they did, and why not. Each rate step sends the next slice of the workload's stream (a cache sees
  new questions, not the last step's again) and lasts long enough for ``min_requests`` measured requests (a
  step of three answers says nothing about a quality floor). ``time_budget_s`` bounds the whole search: a
  step starts only when it and the confirmation still fit (each run estimated as its length plus the
  largest overrun of a run so far: its drain and bookkeeping). A step's drain is bounded (``drain_s``).

Both run inside one event loop (the in-process engine lives on it), so they are coroutines; sync callers
use ``asyncio.run`` or :func:`workbench.loadtest.inprocess.run_with_engine`.

```python
cap = await find_capacity(SlotTarget(service_s=0.01, slots=4), Workload(), SLO(e2el_ms=30), step_s=2)
cap.headline()          # '12 users / 396 req/s under SLO(e2el_ms=30) ...'
cap.curve               # one row per step: rate, attainment, correct share, holds
cap.confirmation_line() # 'confirmed: holds at 396 req/s, breaks at 1.2x (475 req/s)'
```
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
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

__all__ = ["CONFIRM_FACTOR", "CONFIRM_STEPS_DOWN", "CONFIRM_STEP_DOWN", "CapacityResult", "Confirmation", "SweepResult", "find_capacity", "step_holds", "sweep",
           "warm_up"]

StepCallback = Callable[[str, LoadResult], None]
#: The confirmation's second rate, as a multiple of the capacity found: the SLO or the floor must break there.
CONFIRM_FACTOR = 1.2
#: When the run at the rate found does not hold (a short step can hold at saturation before its queue has
#: grown), the confirmation steps down by this factor and tries again, :data:`CONFIRM_STEPS_DOWN` times at most;
#: the capacity reported is then the lower rate that held (``CapacityResult.searched_rps`` keeps the search's).
CONFIRM_STEP_DOWN = 0.9
CONFIRM_STEPS_DOWN = 2


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


@dataclass(frozen=True)
class Confirmation:
    """One confirmation run: a constant rate at ``factor`` × the capacity found, and whether it did what it
    should (``expect_holds``: hold at 1.0x, break above)."""

    factor: float
    rate_rps: float
    holds: bool
    why: str
    expect_holds: bool
    slo_attainment: float
    correct_share: float | None
    throughput_rps: float
    latency_p99_ms: float
    runs: int = 1
    """Runs made (2: the first failed and was run again; both had to fail)."""

    @property
    def as_expected(self) -> bool:
        """Held where it should hold, broke where it should break."""
        return self.holds == self.expect_holds

    def to_dict(self) -> dict[str, Any]:
        return {"factor": self.factor, "rate_rps": self.rate_rps, "holds": self.holds, "why": self.why,
                "expect_holds": self.expect_holds, "as_expected": self.as_expected,
                "slo_attainment": _num(self.slo_attainment), "correct_share": _num(self.correct_share),
                "throughput_rps": _num(self.throughput_rps), "latency_p99_ms": _num(self.latency_p99_ms),
                "runs": self.runs}


def _item_stream(workload: Workload | Sequence[WorkItem]) -> Iterator[WorkItem]:
    """The workload's items one after another, endlessly (a list is cycled)."""
    if isinstance(workload, Workload):
        return workload.iter_items()
    if not workload:
        raise ConfigError("the workload has no items", field="workload")
    return itertools.cycle(workload)


def _num(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


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
    confirmation: list[Confirmation] = field(default_factory=list)
    """The confirmation runs (at 1.0x and :data:`CONFIRM_FACTOR` x the rate found); empty when not confirmed."""
    stopped_by: str | None = None
    """Why the search stopped: ``tolerance``, ``max_steps``, ``max_rate``, ``time budget`` or ``no rate holds``."""
    search_s: float = 0.0
    """Wall time of the search (warm-up included), without the confirmation."""
    confirm_s: float = 0.0
    """Wall time of the confirmation runs."""
    searched_rps: float | None = None
    """The rate the search found, when the confirmation stepped down from it to ``rate_rps`` (else ``None``)."""
    step_down_skipped: bool = False
    """The rate found did not hold and the time budget left no room to step down from it."""

    @property
    def confirmed(self) -> bool | None:
        """Whether the confirmation held at the rate found and broke above it (``None``: not run)."""
        return all(c.as_expected for c in self.confirmation) if self.confirmation else None

    def confirmation_line(self) -> str:
        """``"confirmed: holds at R req/s, breaks at 1.2x (R' req/s)"``, or ``"not confirmed: ..."`` with why."""
        if not self.confirmation:
            return "not confirmed: " + ("no capacity found" if self.rate_rps <= 0 else "no confirmation run")
        at = {c.expect_holds: c for c in self.confirmation}
        base, over = at.get(True), at.get(False)
        if self.confirmed:
            down = (f" (stepped down from the {self.searched_rps:.3g} req/s the search found, which did not hold)"
                    if self.searched_rps else "")
            parts = [f"holds at {base.rate_rps:.3g} req/s{down}" if base else "",
                     f"breaks at {over.factor:g}x ({over.rate_rps:.3g} req/s: {over.why})" if over else ""]
            return "confirmed: " + ", ".join(p for p in parts if p)
        why = []
        if base is not None and not base.as_expected:
            why.append(f"at {base.rate_rps:.3g} req/s it does not hold ({base.why}"
                       f"{', in both runs' if base.runs > 1 else ''})")
            if self.step_down_skipped:
                why.append("the time budget left no room to step down (raise --time-budget)")
        if over is not None and not over.as_expected:
            why.append(f"at {over.factor:g}x ({over.rate_rps:.3g} req/s) it still holds (attainment "
                       f"{over.slo_attainment:.1%}): the knee is above the rate found")
        return "not confirmed: " + "; ".join(why)

    def headline(self) -> str:
        """``"N users / R req/s under SLO(...)"`` with the floor and where it broke."""
        floor = f", correct >= {self.min_correct:.0%}" if self.min_correct is not None else ""
        if self.rate_rps <= 0 and self.stopped_by == "time budget":
            return f"no rate found to hold {self.slo!r}{floor} before the time budget ran out"
        if self.rate_rps <= 0:
            return f"no rate holds {self.slo!r}{floor} (attainment >= {self.attainment:.0%}), not even one at a time"
        broke = f"; breaks by {self.broke_at_rps:.3g} req/s" if self.broke_at_rps else ""
        think = f" with {self.think_s:g} s think time" if self.think_s else " in flight"
        return (f"{self.users} users{think} / {self.rate_rps:.3g} req/s under {self.slo!r}{floor} "
                f"(attainment >= {self.attainment:.0%}){broke}")

    def to_dict(self) -> dict[str, Any]:
        return {"rate_rps": self.rate_rps, "users": self.users, "slo": self.slo.to_dict(),
                "min_correct": self.min_correct, "attainment": self.attainment, "think_s": self.think_s,
                "broke_at_rps": self.broke_at_rps, "headline": self.headline(), "stopped_by": self.stopped_by,
                "search_s": self.search_s, "confirm_s": self.confirm_s, "confirmed": self.confirmed,
                "searched_rps": self.searched_rps, "step_down_skipped": self.step_down_skipped,
                "confirmation_line": self.confirmation_line(),
                "confirmation": [c.to_dict() for c in self.confirmation],
                "curve": self.curve.replace({np.nan: None}).to_dict(orient="records")}


async def find_capacity(target: Target | Sender, workload: Workload | Sequence[WorkItem], slo: SLO, *,
                        min_correct: float | None = None, attainment: float = 0.95, start_rate: float | None = None,
                        max_rate: float | None = None, step_s: float = 10.0, warmup: float = 0.2,
                        tolerance: float = 0.05, max_steps: int = 12, arrivals: Literal["constant", "poisson"] =
                        "constant", think_s: float = 0.0, score_sample: int | None = None, seed: int = 0,
                        retry_failed: bool = True, warm_requests: int = 0, confirm: bool = True,
                        confirm_factor: float = CONFIRM_FACTOR, confirm_s: float | None = None,
                        time_budget_s: float | None = None, drain_s: float | None = None, min_requests: int = 20,
                        on_step: StepCallback | None = None, **runner_kwargs: Any) -> CapacityResult:
    """Search the largest rate at which ``slo`` and the quality floor hold, then confirm it (see the module doc).

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
    :param confirm: run the confirmation: constant rate at the capacity found (must hold) and at
        ``confirm_factor`` times it (must break); the runs are in ``curve`` and in ``confirmation``.
    :param confirm_factor: the second confirmation rate as a multiple of the capacity found (> 1).
    :param confirm_s: each confirmation run's length (default ``step_s``).
    :param time_budget_s: the whole search's wall-time budget, the confirmation included; no step starts that
        would not fit (``None``: no budget). The search then stops with ``stopped_by == "time budget"``.
    :param drain_s: how long a step waits for its last answers after its last send; later ones are cancelled
        and count as errors (they missed the SLO anyway). Default: 2 × ``e2el_ms`` + 1 s when the SLO bounds
        the end-to-end latency (an overloaded step then costs its length plus that, not its whole backlog),
        else the runner's own (30 s).
    :param min_requests: a rate step lasts at least long enough to send this many requests in its measured window.
    :param on_step: called with each run's label and result as it finishes (confirmation runs included).
    :returns: the :class:`CapacityResult`.
    :raises ConfigError: an empty SLO, or bad bounds.
    """
    if slo.empty:
        raise ConfigError("a capacity search needs an SLO: e.g. --slo e2el_ms=1500", field="slo")
    if not 0 < attainment <= 1 or not 0 < tolerance < 1 or max_steps < 1:
        raise ConfigError("attainment in (0, 1], tolerance in (0, 1) and max_steps >= 1", field="capacity")
    if min_correct is not None and not 0 <= min_correct <= 1:
        raise ConfigError(f"min_correct is a share in [0, 1], got {min_correct}", field="min_correct")
    if not confirm_factor > 1 or (confirm_s is not None and confirm_s <= 0):
        raise ConfigError("confirm_factor must be > 1 and confirm_s > 0", field="confirm")
    if min_requests < 1:
        raise ConfigError(f"min_requests must be >= 1, got {min_requests}", field="min_requests")
    if time_budget_s is not None and time_budget_s <= 0:
        raise ConfigError(f"time_budget_s must be > 0, got {time_budget_s}", field="time_budget_s")
    score: bool | int = (score_sample or True) if min_correct is not None else False
    if drain_s is None and slo.e2el_ms is not None:
        drain_s = 2 * slo.e2el_ms / 1e3 + 1.0
    if drain_s is not None:
        runner_kwargs.setdefault("drain_timeout_s", drain_s)
    runs: dict[str, LoadResult] = {}
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter_ns()
    overhead = {"s": 0.0}  # the largest wall time a run took beyond its schedule (its drain and bookkeeping)

    def elapsed() -> float:
        return (time.perf_counter_ns() - t0) / 1e9

    def fits(next_s: float, rate: float) -> bool:
        """Whether one more run of ``next_s`` s and then the confirmation (of a capacity about ``rate``: a run is
        longer at a low rate, see ``span``) still fit in the budget."""
        if time_budget_s is None:
            return True
        reserve = span(rate, confirm_s or step_s) + span(rate * confirm_factor, confirm_s or step_s) + \
            2 * overhead["s"] if confirm else 0.0
        return elapsed() + next_s + overhead["s"] + reserve <= time_budget_s

    await warm_up(target, workload, warm_requests)

    stream = _item_stream(workload)

    def span(rate: float, seconds: float) -> float:
        """A step at ``rate`` long enough for ``min_requests`` measured requests."""
        need = min_requests / rate  # seconds of measured window
        return max(seconds, warmup + need if warmup >= 1 else need / (1 - warmup))

    async def run(profile: RunProfile, label: str) -> tuple[bool, dict[str, Any]]:
        t = time.perf_counter_ns()
        # an open-loop step sends the stream's next slice; the synchronous one draws from the workload itself
        items: Workload | Sequence[WorkItem] = workload if profile.rate is None else \
            list(itertools.islice(stream, math.ceil(profile.rate * profile.duration_s * 1.2) + 10))
        res = await runner_for(profile, target, items, seed=seed, slo=slo, label=label, warmup=warmup,
                               score=score, **runner_kwargs).run()
        overhead["s"] = max(overhead["s"], (time.perf_counter_ns() - t) / 1e9 - profile.duration_s)
        s = res.summary(slo)
        ok, why = step_holds(s, attainment=attainment, min_correct=min_correct)
        runs[label] = res
        rows.append({"step": len(rows), "run": label, "profile": profile.name, "rate": profile.rate,
                     "throughput_rps": s["throughput_rps"], "goodput_rps": s.get("goodput_rps"),
                     "correct_goodput_rps": s.get("correct_goodput_rps"), "slo_attainment": s.get("slo_attainment"),
                     "correct_share": s.get("correct_share"), "latency_mean_ms": s["latency_mean_ms"],
                     "latency_p50_ms": s["latency_ms"]["p50"], "latency_p99_ms": s["latency_ms"]["p99"],
                     "shed_rate": s["shed_rate"], "error_rate": s["error_rate"], "holds": ok, "why": why,
                     "seconds": (time.perf_counter_ns() - t) / 1e9})
        if on_step is not None:
            on_step(label, res)
        return ok, s

    async def run_twice(profile: RunProfile, label: str) -> tuple[bool, dict[str, Any], int]:
        ok, s = await run(profile, label)
        if not ok and retry_failed and fits(profile.duration_s, lo or profile.rate or s["throughput_rps"] or 1.0):
            ok, s = await run(profile, f"{label} (again)")
            return ok, s, 2
        return ok, s, 1

    def result(found: float, users: int, hi: float | None, stopped: str) -> CapacityResult:
        return CapacityResult(found, users, slo, min_correct, attainment, think_s, pd.DataFrame(rows), runs,
                              broke_at_rps=hi, stopped_by=stopped, search_s=elapsed())

    lo: float | None = None
    hi: float | None = None
    if start_rate is None:
        ok, s, _ = await run_twice(RunProfile(name="synchronous", duration_s=step_s), "synchronous")
        start_rate = s["throughput_rps"]
        if not ok or not start_rate > 0:
            return result(0.0, 0, None, "no rate holds")
    rate = min(start_rate, max_rate) if max_rate else start_rate
    lo_latency_ms = math.nan
    stopped = "max_steps"
    for _ in range(max_steps):
        seconds = span(rate, step_s)
        if not fits(seconds, lo or rate):
            stopped = "time budget"
            break
        step = RunProfile(name="constant" if arrivals == "constant" else "poisson", rate=rate, duration_s=seconds)
        ok, s, _ = await run_twice(step, f"rate={rate:.4g}")
        if ok:
            lo, lo_latency_ms = rate, s["latency_mean_ms"]
        else:
            hi = rate
        if hi is None:
            if max_rate is not None and rate >= max_rate:
                stopped = "max_rate"
                break
            rate = rate * 2 if max_rate is None else min(rate * 2, max_rate)
            continue
        if (hi - (lo or 0.0)) <= tolerance * hi:
            stopped = "tolerance"
            break
        rate = ((lo or 0.0) + hi) / 2
    found = lo or 0.0
    users = math.floor(found * ((lo_latency_ms / 1e3 if not math.isnan(lo_latency_ms) else 0.0) + think_s)) \
        if found else 0
    cap = result(found, max(users, 1) if found else 0, hi, stopped if found or stopped == "time budget" else "no rate holds")
    if confirm and found > 0:
        t = time.perf_counter_ns()

        def profile_at(r: float) -> RunProfile:
            return RunProfile(name="constant" if arrivals == "constant" else "poisson", rate=r,
                              duration_s=span(r, confirm_s or step_s))

        def confirmation(r: float, factor: float, holds: bool, s: dict[str, Any], n: int) -> Confirmation:
            return Confirmation(factor, r * factor, holds, step_holds(s, attainment=attainment,
                                                                      min_correct=min_correct)[1],
                                expect_holds=factor == 1.0, slo_attainment=s.get("slo_attainment", math.nan),
                                correct_share=s.get("correct_share"), throughput_rps=s["throughput_rps"],
                                latency_p99_ms=s["latency_ms"]["p99"], runs=n)

        rate = found
        holds, s, n = await run_twice(profile_at(rate), f"confirm 1x rate={rate:.4g}")
        for _ in range(CONFIRM_STEPS_DOWN):
            lower = rate * CONFIRM_STEP_DOWN
            if holds:
                break
            if not fits(span(lower, confirm_s or step_s), lower):
                cap.step_down_skipped = True
                break
            rate = lower
            holds, s, n = await run_twice(profile_at(rate), f"confirm 1x rate={rate:.4g} (stepped down)")
        cap.confirmation.append(confirmation(rate, 1.0, holds, s, n))
        if holds and rate < found:
            cap.searched_rps, cap.rate_rps = found, rate
            cap.users = max(1, math.floor(rate * (s["latency_mean_ms"] / 1e3 + think_s)))
        over, s_over = await run(profile_at(rate * confirm_factor), f"confirm {confirm_factor:g}x "
                                 f"rate={rate * confirm_factor:.4g}")
        cap.confirmation.append(confirmation(rate, confirm_factor, over, s_over, 1))
        cap.confirm_s = (time.perf_counter_ns() - t) / 1e9
        cap.curve = pd.DataFrame(rows)
        cap.runs = runs
    return cap
