"""Admission control: a deadline-aware queue in front of a fixed number of pipeline slots.

A request takes a slot at once if one is free. Otherwise it may wait, first in, first out, but only if it
can still finish within ``latency_target_ms``: the queue measures the service time of the requests it lets
through (how long each holds its slot) and predicts the wait of a newcomer from its place in line
(``place × mean service / slots``). A request is shed at the door with :class:`~workbench.errors.OverloadedError` (HTTP 429 with ``Retry-After``) when

* the line already holds ``max_queue`` requests (``shed_full``), or
* its predicted wait is longer than its wait budget (``shed_predicted``): ``latency_target_ms`` minus the
  p99 service time of the last 200 admitted requests, never more than ``max_wait_ms``;

and shed while waiting, before any work was done on it, when its budget runs out (``shed_timeout``). So
under overload the requests that are served still answer within the target, the rest learn it at once and
are told when to come back (about the time the line takes to drain), and no work is wasted on a request
that could only answer late. Without a service-time sample yet the line takes up to ``max_queue`` requests
for up to ``min(max_wait_ms, latency_target_ms)``. :func:`request_deadline` bounds a whole request::

    queue = AdmissionQueue(max_concurrency=4, max_queue=64, max_wait_ms=2000, latency_target_ms=1000)
    async with queue.slot() as waited_ms:
        ...  # the pipeline
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from workbench.errors import ConfigError, GeneratorTimeoutError, OverloadedError
from workbench.percentiles import percentile

if TYPE_CHECKING:
    from workbench.config import ServingConfig

__all__ = ["AdmissionQueue", "ServiceTime", "request_deadline"]

_NS = time.perf_counter_ns


class ServiceTime:
    """The service times of the last ``window`` admitted requests: their mean and nearest-rank p99, in ms.

    The p99 is what a request should expect to hold its slot for: a request that waited no longer than the
    target minus it finishes within the target 99 times in 100 (while the service time holds still).
    """

    def __init__(self, window: int = 200) -> None:
        if window < 1:
            raise ConfigError("window must be >= 1", field="ServiceTime.window")
        self._times: deque[float] = deque(maxlen=window)
        self.mean: float | None = None
        self.p99: float | None = None
        self.samples = 0

    def __repr__(self) -> str:
        mean = "None" if self.mean is None else f"{self.mean:.1f}"
        p99 = "None" if self.p99 is None else f"{self.p99:.1f}"
        return f"ServiceTime(mean={mean}, p99={p99}, samples={self.samples})"

    def observe(self, ms: float) -> None:
        """Fold in one request's service time."""
        self.samples += 1
        self._times.append(ms)
        self.mean = sum(self._times) / len(self._times)
        self.p99 = percentile(self._times, 99)


class AdmissionQueue:
    """``max_concurrency`` slots and a deadline-aware line in front of them (see the module docstring).

    :param max_concurrency: pipeline requests in flight at once.
    :param max_queue: the most requests that may wait.
    :param max_wait_ms: the longest any request may wait.
    :param latency_target_ms: the latency a waiting request must still be able to make (``None``: only
        ``max_wait_ms`` bounds a wait, and no request is shed on a prediction).
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
        self._free = max_concurrency
        self._line: deque[asyncio.Future[None]] = deque()
        self.in_flight = 0
        self.shed_full = 0
        self.shed_predicted = 0
        self.shed_timeout = 0

    @classmethod
    def from_config(cls, serving: ServingConfig) -> AdmissionQueue:
        """The queue of a ``serving`` config section: ``AdmissionQueue.from_config(cfg.serving)``."""
        return cls(max_concurrency=serving.max_concurrency, max_queue=serving.max_queue,
                   max_wait_ms=serving.max_wait_ms, latency_target_ms=serving.latency_target_ms)

    def __repr__(self) -> str:
        return (f"AdmissionQueue(max_concurrency={self.max_concurrency}, max_queue={self.max_queue}, "
                f"max_wait_ms={self.max_wait_ms:g}, latency_target_ms={self.latency_target_ms}, "
                f"service={self.service!r})")

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot."""
        return len(self._line)

    @property
    def shed(self) -> int:
        """Requests shed so far, for any reason."""
        return self.shed_full + self.shed_predicted + self.shed_timeout

    def wait_budget_ms(self) -> float:
        """How long a request arriving now may wait: the target minus the service time to expect, at most
        ``max_wait_ms`` (0: no waiting, only a free slot admits)."""
        if self.latency_target_ms is None:
            return self.max_wait_ms
        expect = self.service.p99 or 0.0
        return max(0.0, min(self.max_wait_ms, self.latency_target_ms - expect))

    def predicted_wait_ms(self, place: int) -> float | None:
        """The wait of the ``place``-th in line (1: next), from the measured service time (``None``: no sample yet)."""
        mean = self.service.mean
        return None if mean is None else place * mean / self.max_concurrency

    @property
    def capacity(self) -> int:
        """How many requests the line holds at most now: ``max_queue``, or fewer when the wait budget admits fewer."""
        mean = self.service.mean
        if self.latency_target_ms is None or not mean:
            return self.max_queue
        return min(self.max_queue, int(self.wait_budget_ms() * self.max_concurrency / mean))

    @property
    def fill(self) -> float:
        """How full the line is against :attr:`capacity`, 0..1 (a load signal for the degradation policy;
        with no room to wait at all: 1 while every slot is taken)."""
        cap = self.capacity
        if cap <= 0:
            return float(self._free == 0)
        return min(1.0, self.waiting / cap)

    def retry_after_s(self) -> float:
        """A hint for clients: about the time the line takes to drain, at least 1 s."""
        drain = self.predicted_wait_ms(self.waiting + 1)
        return max(1.0, math.ceil((drain if drain is not None else self.max_wait_ms) / 1000.0))

    def _shed(self, reason: str) -> OverloadedError:
        return OverloadedError(reason, retry_after=self.retry_after_s())

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[float]:
        """Hold a pipeline slot for the block; yields the milliseconds spent waiting for it.

        :raises OverloadedError: shed at the door or while waiting (see the module docstring).
        """
        t0 = _NS()
        if self._free > 0 and not self._line:
            self._free -= 1
        else:
            await self._wait()
        self.in_flight += 1
        start = _NS()
        try:
            yield (start - t0) / 1e6
        finally:
            self.in_flight -= 1
            self.service.observe((_NS() - start) / 1e6)
            self._release()

    async def _wait(self) -> None:
        if len(self._line) >= self.max_queue:
            self.shed_full += 1
            raise self._shed(f"admission queue is full ({self.max_queue} waiting)")
        budget = self.wait_budget_ms()
        predicted = self.predicted_wait_ms(len(self._line) + 1)
        if predicted is not None and predicted > budget:
            self.shed_predicted += 1
            raise self._shed(f"a pipeline slot would take about {predicted:.0f} ms; "
                             f"the wait budget is {budget:.0f} ms")
        if self.service.mean is None:
            budget = min(self.max_wait_ms, self.latency_target_ms or self.max_wait_ms)
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
                self._release()
            if isinstance(exc, TimeoutError):
                self.shed_timeout += 1
                raise self._shed(f"no pipeline slot within {budget:.0f} ms") from None
            raise

    def _release(self) -> None:
        """Hand the slot to the first live waiter, or free it."""
        while self._line:
            fut = self._line.popleft()
            if not fut.done():
                fut.set_result(None)
                return
        self._free += 1


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
