"""Admission control: an adaptive number of pipeline slots behind a deadline-aware line.

A request takes a slot at once if one is free. Otherwise it may wait, first in, first out, but only if it
can still finish within ``latency_target_ms``: the queue measures the service time of the requests it lets
through (how long each holds its slot) and predicts the wait of a newcomer from its place in line
(``place × mean service / slots``). A request is shed at the door with
:class:`~workbench.errors.OverloadedError` (HTTP 429 with ``Retry-After``) when

* it already took so long before asking for a slot (``slot(since_ns=...)``: the engine's cache lookup) that
  even a free slot would answer after the target, by the mean service time, while other requests are in
  flight (``shed_late``; an idle pipeline serves it, since shedding it would spare no one a wait), or
* the line already holds ``max_queue`` requests (``shed_full``), or
* its predicted wait is longer than its wait budget (``shed_predicted``): 90 % of ``latency_target_ms``
  (the rest is headroom for what the queue does not see), minus the p99 service time of recent admitted
  requests (the last 200, of the last 10 s), minus what the request spent before asking for a slot
  (``slot(since_ns=...)``: the engine's cache lookup), never more than ``max_wait_ms``;

and shed while waiting, before any work was done on it, when its budget runs out (``shed_timeout``). So
under overload the requests that are served still answer within the target, the rest learn it at once and
are told when to come back (about the time the line takes to drain), and no work is wasted on a request
that could only answer late.

The number of slots adapts to what the pipeline really runs in parallel (additive increase, multiplicative
decrease on the observed service time): a request that held its slot longer than half the target *and* more
than twice the floor of recent service times (their p5: about a request running alone) means too many run at
once on the cores they share (each one slows the others down and leaves no time to wait in line), so the
limit drops by a fifth, at most once per mean service time; a completion within 1.5 times the floor (or half
the target) raises it by ``1/limit`` (one slot per round of completions), up to ``max_concurrency``. A
service that is slow but not inflated (a remote LLM that takes its time at any concurrency) leaves the limit
alone. A target that even the mean service misses sheds nothing for lateness: no request could make it. Without a latency target the
limit stays at ``max_concurrency`` and only ``max_queue`` and ``max_wait_ms`` bound the line; without a
service-time sample yet the line takes up to ``max_queue`` requests for up to the target.
:func:`request_deadline` bounds a whole request::

    queue = AdmissionQueue(max_concurrency=8, max_queue=64, max_wait_ms=2000, latency_target_ms=1000)
    async with queue.slot(since_ns=arrived_ns) as waited_ms:
        ...  # the pipeline

Work done *before* the pipeline's admission needs its own line when it is costly: a semantic cache lookup
embeds the question (on the one embedding thread the pipeline also uses) for every request that is not an
exact hit. Unbounded, that queue grew to 5.6 s (p50) at 60 requests/s with the ``default`` preset, the
admission saw only the 10 ms that was left of each miss and shed nothing, and goodput fell to 11 requests/s;
with the embedding behind a line of its own (:meth:`AdmissionQueue.for_lookups`, half the latency target,
:meth:`AdmissionQueue.gate`) the same run served 40 requests/s within the target. A request whose lookup
is shed gets the same 429 + ``Retry-After``::

    lookups = AdmissionQueue.for_lookups(cfg.serving)
    cache.share_embedding(lookups.gate(batcher.embed))
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from workbench.errors import ConfigError, GeneratorTimeoutError, OverloadedError
from workbench.percentiles import percentile

if TYPE_CHECKING:
    from workbench.config import PipelineConfig, ServingConfig

__all__ = ["HEADROOM", "LOOKUP_SHARE", "AdmissionQueue", "ServiceTime", "inprocess_parallelism", "request_deadline"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

_NS = time.perf_counter_ns
#: A service is slow when it takes more than this share of the target ...
SLOW_SERVICE_SHARE = 0.5
#: ... and more than this many times the floor (p5) of recent services: then too many run at once.
INFLATED = 2.0
#: A service within this many times the floor (or within the slow share) raises the limit.
RELAXED = 1.5
#: The factor a slow service multiplies the limit by.
DECREASE = 0.8
#: The share of the target a wait is planned against; the rest is kept for what the queue does not see (the
#: event loop's lag, the response's way out, a service time above the recent p99).
HEADROOM = 0.9
#: How long a shed keeps the load signal (``fill``) at 1.
SHED_MEMORY_NS = 1_000_000_000
#: The pipeline slots of a config that does not set ``serving.max_concurrency`` (and runs no CPU generator in process).
DEFAULT_SLOTS = 8
#: The share of the latency target a request may spend in front of the pipeline's admission (its cache lookup's
#: embedding): the rest is the pipeline's (:meth:`AdmissionQueue.for_lookups`).
LOOKUP_SHARE = 0.5


class ServiceTime:
    """The service times of recent admitted requests (the last ``window``, none older than ``max_age_s``): their
    mean, nearest-rank p99 and p5 (the floor), in ms.

    The p99 is what a request should expect to hold its slot for: a request that waited no longer than the
    target minus it finishes within the target 99 times in 100 (while the service time holds still). Old
    samples age out, so the estimate follows the machine (a burst's slow services do not linger at low load).

    :param window: the most samples kept.
    :param max_age_s: samples older than this are dropped.
    :param clock: seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, window: int = 200, *, max_age_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if window < 1 or max_age_s <= 0:
            raise ConfigError("window must be >= 1 and max_age_s > 0", field="ServiceTime")
        self.max_age_s = max_age_s
        self._clock = clock
        self._times: deque[tuple[float, float]] = deque(maxlen=window)
        self.mean: float | None = None
        self.p99: float | None = None
        self.floor: float | None = None
        """The p5: about what a request takes when it runs alone."""
        self.samples = 0

    def __repr__(self) -> str:
        mean = "None" if self.mean is None else f"{self.mean:.1f}"
        p99 = "None" if self.p99 is None else f"{self.p99:.1f}"
        return f"ServiceTime(mean={mean}, p99={p99}, samples={self.samples})"

    def observe(self, ms: float) -> None:
        """Fold in one request's service time."""
        self.samples += 1
        self._times.append((self._clock(), ms))
        self.refresh(force=True)

    def refresh(self, *, force: bool = False) -> None:
        """Drop samples past ``max_age_s`` and recompute the mean and p99 if any went (or ``force``)."""
        horizon = self._clock() - self.max_age_s
        aged = False
        while self._times and self._times[0][0] < horizon:
            self._times.popleft()
            aged = True
        if not (aged or force):
            return
        if not self._times:
            self.mean = self.p99 = self.floor = None
            return
        values = [v for _, v in self._times]
        self.mean = sum(values) / len(values)
        self.p99, self.floor = percentile(values, 99), percentile(values, 5)


class AdmissionQueue:
    """Adaptive pipeline slots and a deadline-aware line in front of them (see the module docstring).

    :param max_concurrency: the most pipeline requests in flight at once (the adaptive limit's ceiling).
    :param max_queue: the most requests that may wait.
    :param max_wait_ms: the longest any request may wait.
    :param latency_target_ms: the latency an admitted request must be able to make (``None``: a fixed limit of
        ``max_concurrency``, only ``max_wait_ms`` bounds a wait, and no request is shed on a prediction).
    :raises ConfigError: a bound that is not positive.
    """

    def __init__(self, *, max_concurrency: int, max_queue: int, max_wait_ms: float,
                 latency_target_ms: float | None = None) -> None:
        if max_concurrency < 1 or max_queue < 0 or max_wait_ms <= 0:
            raise ConfigError("need max_concurrency >= 1, max_queue >= 0, max_wait_ms > 0", field="serving")
        if latency_target_ms is not None and latency_target_ms <= 0:
            raise ConfigError("latency_target_ms must be > 0 (or None)", field="serving.latency_target_ms")
        self.max_concurrency, self.max_queue, self.max_wait_ms = max_concurrency, max_queue, max_wait_ms
        self.latency_target_ms = latency_target_ms
        self.service = ServiceTime()
        """The measured service time (slot hold time) of admitted requests."""
        self.limit = float(max_concurrency)
        """The adaptive number of slots, 1..``max_concurrency``."""
        self._taken = 0  # slots held, or handed to a waiter that has not resumed yet
        self._decreased_ns = 0
        self._shed_ns = -SHED_MEMORY_NS
        self._line: deque[asyncio.Future[None]] = deque()
        self.in_flight = 0
        self.shed_full = 0
        self.shed_predicted = 0
        self.shed_timeout = 0
        self.shed_late = 0

    @classmethod
    def from_config(cls, serving: ServingConfig, *, max_concurrency: int | None = None) -> AdmissionQueue:
        """The queue of a ``serving`` config section: ``AdmissionQueue.from_config(cfg.serving)``;
        ``max_concurrency`` replaces the section's (which, unset, means :data:`DEFAULT_SLOTS`)."""
        return cls(max_concurrency=max_concurrency or serving.max_concurrency or DEFAULT_SLOTS,
                   max_queue=serving.max_queue, max_wait_ms=serving.max_wait_ms,
                   latency_target_ms=serving.latency_target_ms)

    @classmethod
    def for_pipeline(cls, cfg: PipelineConfig) -> AdmissionQueue:
        """The pipeline's queue: :meth:`from_config` of ``cfg.serving``, with ``max_concurrency`` capped at
        :func:`inprocess_parallelism` when the generator runs in this process on the CPU and
        ``serving.max_concurrency`` is not set: ``AdmissionQueue.for_pipeline(cfg)``.

        The adaptive limit cannot find that ceiling itself: requests that start together all slow down alike,
        so the floor of their service times rises with them and none looks inflated (9 requests at 1.5 req/s
        against ``quality``, 8 admitted at once: 2 answered, the first after 30 s, 7 still running at the
        drain timeout)."""
        ceiling = inprocess_parallelism(cfg) if cfg.serving.max_concurrency is None else None
        return cls.from_config(cfg.serving, max_concurrency=min(DEFAULT_SLOTS, ceiling) if ceiling else None)

    @classmethod
    def for_lookups(cls, serving: ServingConfig) -> AdmissionQueue:
        """The line in front of the work a request does before the pipeline's admission (a semantic cache
        lookup's embedding): as many slots as the pipeline and the same bounds, but a latency target of
        :data:`LOOKUP_SHARE` of ``serving.latency_target_ms``, so what is admitted still has time for the
        pipeline's line (see the module docstring): ``AdmissionQueue.for_lookups(cfg.serving)``."""
        target = serving.latency_target_ms
        return cls(max_concurrency=serving.max_concurrency or DEFAULT_SLOTS, max_queue=serving.max_queue,
                   max_wait_ms=serving.max_wait_ms, latency_target_ms=None if target is None else LOOKUP_SHARE * target)

    def gate(self, fn: Callable[_P, Awaitable[_T]]) -> Callable[_P, Awaitable[_T]]:
        """``fn`` (an async function) run in one of this queue's slots on every call: a call that cannot get one
        in time raises :class:`~workbench.errors.OverloadedError` (with ``retry_after``) before ``fn`` runs.

        :param fn: the work to admit (an embedding function, say).
        :returns: the gated function, with ``fn``'s signature.
        """
        async def gated(*args: _P.args, **kwargs: _P.kwargs) -> _T:
            async with self.slot():
                return await fn(*args, **kwargs)

        gated.__name__ = getattr(fn, "__name__", "gated")
        gated.__doc__ = fn.__doc__
        return gated

    def __repr__(self) -> str:
        return (f"AdmissionQueue(limit={self.limit:.1f}/{self.max_concurrency}, max_queue={self.max_queue}, "
                f"max_wait_ms={self.max_wait_ms:g}, latency_target_ms={self.latency_target_ms}, "
                f"service={self.service!r})")

    @property
    def slots(self) -> int:
        """Pipeline requests that may run at once now (the adaptive limit, rounded down)."""
        return int(self.limit)

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot."""
        return len(self._line)

    @property
    def shed(self) -> int:
        """Requests shed so far, for any reason."""
        return self.shed_full + self.shed_predicted + self.shed_timeout + self.shed_late

    def wait_budget_ms(self, spent_ms: float = 0.0) -> float:
        """How long a request arriving now may wait: the target minus the service time to expect and minus what
        it already spent before asking for a slot (``spent_ms``), at most ``max_wait_ms`` (0: no waiting, only a
        free slot admits)."""
        if self.latency_target_ms is None:
            return self.max_wait_ms
        expect = self.service.p99 or 0.0
        return max(0.0, min(self.max_wait_ms, HEADROOM * self.latency_target_ms - expect - spent_ms))

    def predicted_wait_ms(self, place: int) -> float | None:
        """The wait of the ``place``-th in line (1: next), from the measured service time (``None``: no sample yet)."""
        mean = self.service.mean
        return None if mean is None else place * mean / self.slots

    @property
    def capacity(self) -> int:
        """How many requests the line holds at most now: ``max_queue``, or fewer when the wait budget admits fewer."""
        mean = self.service.mean
        if self.latency_target_ms is None or not mean:
            return self.max_queue
        return min(self.max_queue, int(self.wait_budget_ms() * self.slots / mean))

    @property
    def fill(self) -> float:
        """The load signal for the degradation policy, 0..1: 1 within a second of shedding a request (demand
        exceeds what the slots and the line can serve in time), else how full the line is against
        :attr:`capacity` (every slot busy with no one waiting is full use, not overload: 0)."""
        if _NS() - self._shed_ns < SHED_MEMORY_NS:
            return 1.0
        cap = self.capacity
        return min(1.0, self.waiting / cap) if cap > 0 else 0.0

    def retry_after_s(self) -> float:
        """A hint for clients: about the time the line takes to drain, at least 1 s."""
        drain = self.predicted_wait_ms(self.waiting + 1)
        return max(1.0, math.ceil((drain if drain is not None else self.max_wait_ms) / 1000.0))

    def _shed(self, reason: str) -> OverloadedError:
        self._shed_ns = _NS()
        return OverloadedError(reason, retry_after=self.retry_after_s())

    @asynccontextmanager
    async def slot(self, *, since_ns: int | None = None, unmeasured_wait: bool = True) -> AsyncIterator[float]:
        """Hold a pipeline slot for the block; yields the milliseconds spent waiting for it.

        :param since_ns: when the request arrived (``time.perf_counter_ns``): what it spent before asking for a
            slot (a cache lookup, say) counts against its wait budget, and a request that would answer after the
            target even with a free slot (spent + mean service) is shed while others are in flight (``shed_late``).
        :param unmeasured_wait: whether a request may wait for a slot before any service time was measured (its
            wait then cannot be predicted, so it waits up to its budget). ``False`` when the caller has somewhere
            else to send it (the engine's overflow): it is shed at once instead (``shed_predicted``).
        :raises OverloadedError: shed at the door or while waiting (see the module docstring).
        """
        t0 = _NS()
        spent = 0.0 if since_ns is None else max(0.0, (t0 - since_ns) / 1e6)
        self.service.refresh()
        mean = self.service.mean
        late = self.latency_target_ms is not None and mean is not None and spent + mean > self.latency_target_ms > mean
        if late and self._taken:  # an idle pipeline serves it: shedding it would spare no one a wait
            self.shed_late += 1
            raise self._shed(f"the request already took {spent:.0f} ms; with a service of about {mean:.0f} ms "
                             f"it would answer after the {self.latency_target_ms:g} ms target")
        if self._taken < self.slots and not self._line:
            self._taken += 1
        else:
            await self._wait(spent, unmeasured_wait=unmeasured_wait)
        self.in_flight += 1
        start = _NS()
        try:
            yield (start - t0) / 1e6
        finally:
            self.in_flight -= 1
            self._taken -= 1
            self._observe((_NS() - start) / 1e6)
            self._grant()

    async def _wait(self, spent_ms: float, *, unmeasured_wait: bool = True) -> None:
        if len(self._line) >= self.max_queue:
            self.shed_full += 1
            raise self._shed(f"admission queue is full ({self.max_queue} waiting)")
        budget = self.wait_budget_ms(spent_ms)
        predicted = self.predicted_wait_ms(len(self._line) + 1)
        if predicted is None and not unmeasured_wait:
            self.shed_predicted += 1
            raise self._shed("every pipeline slot is busy and no service time is measured yet")
        if predicted is not None and predicted > budget:
            self.shed_predicted += 1
            raise self._shed(f"a pipeline slot would take about {predicted:.0f} ms; "
                             f"the wait budget is {budget:.0f} ms")
        if self.service.mean is None and self.latency_target_ms is not None:
            budget = max(0.0, min(self.max_wait_ms, HEADROOM * self.latency_target_ms - spent_ms))
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._line.append(fut)
        try:
            async with asyncio.timeout(budget / 1000.0):
                await fut
        except (TimeoutError, asyncio.CancelledError) as exc:
            granted = fut.done() and not fut.cancelled()  # handed a slot just as the wait ended: pass it on
            fut.cancel()
            if fut in self._line:
                self._line.remove(fut)
            if granted:
                self._taken -= 1
                self._grant()
            if isinstance(exc, TimeoutError):
                self.shed_timeout += 1
                raise self._shed(f"no pipeline slot within {budget:.0f} ms") from None
            raise

    def _observe(self, service_ms: float) -> None:
        """Fold one completion into the service time and adapt the limit (see the module docstring)."""
        self.service.observe(service_ms)
        floor = self.service.floor
        if self.latency_target_ms is None or floor is None:
            return
        if service_ms > INFLATED * floor and service_ms > SLOW_SERVICE_SHARE * self.latency_target_ms:
            now = _NS()
            if now - self._decreased_ns > (self.service.mean or 0.0) * 1e6:
                self.limit = max(1.0, self.limit * DECREASE)
                self._decreased_ns = now
        elif service_ms <= RELAXED * floor or service_ms <= SLOW_SERVICE_SHARE * self.latency_target_ms:
            self.limit = min(float(self.max_concurrency), self.limit + 1.0 / self.limit)

    def _grant(self) -> None:
        """Hand free slots to the first live waiters."""
        while self._line and self._taken < self.slots:
            fut = self._line.popleft()
            if not fut.done():
                fut.set_result(None)
                self._taken += 1


def inprocess_parallelism(cfg: PipelineConfig) -> int | None:
    """How many requests a pipeline whose generator runs in this process on the CPU (``llama-cpp``,
    ``transformers``) can run at once without slowing each other down: the cores this process may use divided
    by the generator's threads, at least 1; ``None`` for an extractive or remote generator (the LLM server's own
    slots bound those, and the adaptive limit finds them)."""
    g = cfg.generator
    if g.kind not in ("llama-cpp", "transformers"):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // (g.threads or 1))


@asynccontextmanager
async def request_deadline(seconds: float) -> AsyncIterator[None]:
    """The whole request within ``seconds`` (``serving.request_timeout_s``), else :class:`GeneratorTimeoutError`
    (a generator's own timeout passes through unchanged)."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError as exc:
        if isinstance(exc, GeneratorTimeoutError):
            raise
        raise GeneratorTimeoutError(f"the request took longer than serving.request_timeout_s={seconds:g} s") from exc
