"""Admission control: a bounded queue in front of a fixed number of pipeline slots.

A request takes a slot at once if one is free; otherwise it waits in a queue of at most ``max_queue``
requests for at most ``max_wait_ms``. A full queue or a passed deadline sheds the request at once with
:class:`~workbench.errors.OverloadedError` (HTTP 429 with ``Retry-After``): overload fails fast instead
of timing out late; :func:`request_deadline` bounds a whole request::

    queue = AdmissionQueue(max_concurrency=8, max_queue=64, max_wait_ms=500)
    async with queue.slot() as waited_ms:
        ...  # the pipeline
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from workbench.errors import ConfigError, GeneratorTimeoutError, OverloadedError

__all__ = ["AdmissionQueue", "request_deadline"]


class AdmissionQueue:
    """``max_concurrency`` slots, a waiting line of ``max_queue``, a maximum wait of ``max_wait_ms``."""

    def __init__(self, *, max_concurrency: int, max_queue: int, max_wait_ms: float) -> None:
        if max_concurrency < 1 or max_queue < 0 or max_wait_ms <= 0:
            raise ConfigError("need max_concurrency >= 1, max_queue >= 0, max_wait_ms > 0", field="serving")
        self.max_concurrency, self.max_queue, self.max_wait_ms = max_concurrency, max_queue, max_wait_ms
        self._sem = asyncio.Semaphore(max_concurrency)
        self.waiting = 0
        self.in_flight = 0
        self.shed_full = 0
        self.shed_timeout = 0

    def __repr__(self) -> str:
        return (f"AdmissionQueue(max_concurrency={self.max_concurrency}, max_queue={self.max_queue}, "
                f"max_wait_ms={self.max_wait_ms:g})")

    @property
    def fill(self) -> float:
        """How full the waiting line is, 0..1 (a signal for the degradation policy)."""
        return self.waiting / self.max_queue if self.max_queue else float(self.in_flight >= self.max_concurrency)

    def retry_after_s(self) -> float:
        """A hint for clients: about one maximum wait."""
        return max(1.0, self.max_wait_ms / 1000.0)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[float]:
        """Hold a pipeline slot for the block; yields the milliseconds spent waiting for it."""
        t0 = time.perf_counter_ns()
        if self._sem.locked() or self.waiting:
            if self.waiting >= self.max_queue:
                self.shed_full += 1
                raise OverloadedError(f"admission queue is full ({self.max_queue} waiting)",
                                      retry_after=self.retry_after_s())
            self.waiting += 1
            try:
                await asyncio.wait_for(self._sem.acquire(), self.max_wait_ms / 1000.0)
            except TimeoutError:
                self.shed_timeout += 1
                raise OverloadedError(f"no pipeline slot within {self.max_wait_ms:g} ms",
                                      retry_after=self.retry_after_s()) from None
            finally:
                self.waiting -= 1
        else:
            await self._sem.acquire()
        self.in_flight += 1
        try:
            yield (time.perf_counter_ns() - t0) / 1e6
        finally:
            self.in_flight -= 1
            self._sem.release()


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

