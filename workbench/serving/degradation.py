"""Graceful degradation: ordered service levels switched by load signals, with hysteresis.

Each :class:`DegradationLevel` says what it drops, and which :class:`~workbench.pipelines.QueryPlan` a
request runs at it. Escalate one level when the admission queue is fuller than ``queue_high`` or the
recent p95 latency exceeds the SLO; de-escalate one level only when the queue is emptier than
``queue_low`` *and* p95 is back under the SLO; never change twice within ``cooldown_s``. A level the
configuration cannot serve is never entered: without a cache there is no cache-only level (the top is
``EXTRACTIVE``). Without a small generator, ``SMALL_GENERATOR`` is still a level of its own (it drops
the reranker and the main generator) but answers extractively, like ``EXTRACTIVE``::

    policy = DegradationPolicy(cfg.serving.degradation, cache=cfg.cache.enabled)
    policy.observe(latency_ms=850.0)
    level = policy.update(queue_fill=0.7)       # DegradationLevel.NO_RERANKER: the reranker is skipped now
    level.plan                                  # QueryPlan(rerank=False, ...)
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from enum import IntEnum

from workbench.config import DegradationConfig
from workbench.errors import ConfigError
from workbench.percentiles import percentile
from workbench.pipelines.plan import GeneratorChoice, QueryPlan

__all__ = ["LEVEL_NAMES", "DegradationLevel", "DegradationPolicy"]


class DegradationLevel(IntEnum):
    """Service levels, lightest last; the value is the level number reported in responses and metrics."""

    FULL = 0
    """Everything configured runs."""
    NO_RERANKER = 1
    """Drops the reranker."""
    SMALL_GENERATOR = 2
    """Drops the reranker and the main generator: the small generator answers (extractive if none is set)."""
    EXTRACTIVE = 3
    """Drops the reranker and every language model: extractive answers from the retrieved passages."""
    CACHE_ONLY = 4
    """Drops the whole pipeline: only cached answers are served, misses are shed (needs the cache)."""

    @property
    def label(self) -> str:
        """The name in responses and metrics (``"full"``, ``"no_reranker"``, ...)."""
        return self.name.lower()

    @property
    def serves_misses(self) -> bool:
        """Whether a request the cache cannot answer runs the pipeline at this level."""
        return self is not DegradationLevel.CACHE_ONLY

    @property
    def plan(self) -> QueryPlan:
        """The query plan of a request served at this level."""
        return _PLANS[self]


_PLANS = {
    DegradationLevel.FULL: QueryPlan(),
    DegradationLevel.NO_RERANKER: QueryPlan(rerank=False),
    DegradationLevel.SMALL_GENERATOR: QueryPlan(rerank=False, generator=GeneratorChoice.SMALL),
    DegradationLevel.EXTRACTIVE: QueryPlan(rerank=False, generator=GeneratorChoice.EXTRACTIVE),
    DegradationLevel.CACHE_ONLY: QueryPlan(rerank=False, generator=GeneratorChoice.EXTRACTIVE),
}

#: The name of each level, indexed by its number, as reported in responses and metrics.
LEVEL_NAMES: tuple[str, ...] = tuple(level.label for level in DegradationLevel)


class DegradationPolicy:
    """The current level from queue fill and the recent p95 latency (nearest-rank percentile).

    ``cache``: whether the service has an answer cache (only then is ``CACHE_ONLY`` a level).
    """

    def __init__(self, cfg: DegradationConfig | None = None, *, cache: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg or DegradationConfig()
        self.cache = cache
        top = DegradationLevel.CACHE_ONLY if cache else DegradationLevel.EXTRACTIVE
        self.top = DegradationLevel(min(self.cfg.max_level, top))
        """The lightest level this configuration may enter."""
        self._clock = clock
        self.level = DegradationLevel.FULL
        self._changed_at = -1e18
        self._lat: deque[tuple[float, float]] = deque(maxlen=4096)
        self.changes: list[tuple[float, DegradationLevel]] = []

    def __repr__(self) -> str:
        return f"DegradationPolicy(level={self.level.label}, top={self.top.label}, slo_p95_ms={self.cfg.slo_p95_ms:g})"

    @property
    def name(self) -> str:
        """The current level's name."""
        return self.level.label

    def observe(self, latency_ms: float) -> None:
        """Record one request's end-to-end latency (pipeline requests; cache hits say little about load)."""
        self._lat.append((self._clock(), latency_ms))

    def p95(self) -> float | None:
        """The p95 latency of the window (``None`` when the window is empty), by nearest rank."""
        now = self._clock()
        while self._lat and now - self._lat[0][0] > self.cfg.window_s:
            self._lat.popleft()
        if not self._lat:
            return None
        return percentile([v for _, v in self._lat], 95)

    def update(self, queue_fill: float) -> DegradationLevel:
        """Re-evaluate the level from the signals; returns the (possibly new) level."""
        c = self.cfg
        if not c.enabled:
            self.level = DegradationLevel.FULL
            return self.level
        now = self._clock()
        if now - self._changed_at < c.cooldown_s:
            return self.level
        p95 = self.p95()
        slow = p95 is not None and p95 > c.slo_p95_ms
        if (queue_fill > c.queue_high or slow) and self.level < self.top:
            self._set(DegradationLevel(self.level + 1), now)
        elif queue_fill < c.queue_low and not slow and self.level > DegradationLevel.FULL:
            self._set(DegradationLevel(self.level - 1), now)
        return self.level

    async def watch(self, evaluate: Callable[[], DegradationLevel], *, every_s: float = 0.1) -> None:
        """Call ``evaluate`` (which calls :meth:`update` with the current signals) every ``every_s`` seconds
        even without traffic, so the level recovers when load stops; runs until cancelled."""
        while True:
            await asyncio.sleep(every_s)
            evaluate()

    def force(self, level: int) -> None:
        """Pin the level (operators, tests); the next :meth:`update` may move it again.

        :raises ConfigError: a level this configuration cannot serve (``CACHE_ONLY`` without a cache).
        """
        try:
            chosen = DegradationLevel(level)
        except ValueError:
            known = ", ".join(f"{lv.value} ({lv.label})" for lv in DegradationLevel)
            raise ConfigError(f"level must be one of {known}; got {level!r}", field="serving.degradation") from None
        if not chosen.serves_misses and not self.cache:
            raise ConfigError("the cache-only level needs the answer cache: set cache.enabled", field="cache.enabled")
        self._set(chosen, self._clock())

    def _set(self, level: DegradationLevel, now: float) -> None:
        self.level = level
        self._changed_at = now
        self.changes.append((now, level))
        self._lat.clear()  # judge the new level by its own latencies

