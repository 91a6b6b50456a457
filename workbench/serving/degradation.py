"""Graceful degradation: ordered service levels switched by load signals, with hysteresis.

Each :class:`DegradationLevel` says what it drops, and which :class:`~workbench.pipelines.QueryPlan` a
request runs at it. A policy moves only between the levels its pipeline makes different
(:meth:`DegradationPolicy.for_pipeline`): a level the configuration cannot serve is never entered (without a
cache there is no cache-only level), and neither is one that drops nothing in it (without a reranker there
is no ``NO_RERANKER``; with an extractive generator neither ``SMALL_GENERATOR`` nor ``EXTRACTIVE`` saves
anything), since it would only mark answers degraded and stop caching them. Without a small generator,
``SMALL_GENERATOR`` would answer like ``EXTRACTIVE`` and is skipped too.

Signals: how full the admission line is (``queue_fill``, against what its wait budget admits) and the p95
latency of recent pipeline requests, counted only once the window holds ``min_samples`` of them (one slow
request at idle is no p95). Escalate to the next level when the line is fuller than ``queue_high`` or p95
exceeds the SLO; ``CACHE_ONLY`` (which sheds every miss) only on the latency signal: admission already
sheds the excess at the door, so only when the requests it admits still miss the SLO is shedding all misses
worth it. De-escalate one level only when the line is emptier than ``queue_low`` *and* p95 is not over the
SLO; never change twice within ``cooldown_s``::

    policy = DegradationPolicy.for_pipeline(cfg, cache=cfg.cache.enabled)
    policy.observe(latency_ms=850.0)
    level = policy.update(queue_fill=0.7)       # DegradationLevel.NO_RERANKER (with a reranker configured)
    level.plan                                  # QueryPlan(rerank=False, ...)
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import TYPE_CHECKING

from workbench.config import DegradationConfig
from workbench.errors import ConfigError
from workbench.percentiles import percentile
from workbench.pipelines.plan import GeneratorChoice, QueryPlan

if TYPE_CHECKING:
    from workbench.config import PipelineConfig

__all__ = ["LEVEL_NAMES", "DegradationLevel", "DegradationPolicy", "distinct_levels"]


class DegradationLevel(IntEnum):
    """Service levels, lightest last; the value is the level number reported in responses and metrics."""

    FULL = 0
    """Everything configured runs."""
    NO_RERANKER = 1
    """Drops the reranker."""
    SMALL_GENERATOR = 2
    """Drops the reranker, the main generator and the abstention gate's grounding model: the small generator
    answers (extractive if none is set)."""
    EXTRACTIVE = 3
    """Drops the reranker and every language model (the grounding model too): extractive answers from the
    retrieved passages."""
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
    # from level 2 on the abstention gate decides from retrieval signals alone: its grounding model is a language
    # model too (quality's 1.5B: ~2.5 s per English request, one at a time behind its lock)
    DegradationLevel.SMALL_GENERATOR: QueryPlan(rerank=False, generator=GeneratorChoice.SMALL, grounding=False),
    DegradationLevel.EXTRACTIVE: QueryPlan(rerank=False, generator=GeneratorChoice.EXTRACTIVE, grounding=False),
    DegradationLevel.CACHE_ONLY: QueryPlan(rerank=False, generator=GeneratorChoice.EXTRACTIVE, grounding=False),
}

#: The name of each level, indexed by its number, as reported in responses and metrics.
LEVEL_NAMES: tuple[str, ...] = tuple(level.label for level in DegradationLevel)


class DegradationPolicy:
    """The current level from queue fill and the recent p95 latency (nearest-rank percentile).

    :param cfg: thresholds, window, cooldown, ``max_level``.
    :param cache: whether the service has an answer cache (only then is ``CACHE_ONLY`` a level).
    :param levels: the levels the pipeline makes different (default: all; :meth:`for_pipeline` computes them);
        ``FULL`` is always one, and none above ``max_level`` or the cache's limit is kept.
    :param clock: seconds, monotonic (tests pass a fake one).
    """

    def __init__(self, cfg: DegradationConfig | None = None, *, cache: bool = False,
                 levels: Iterable[DegradationLevel] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg or DegradationConfig()
        self.cache = cache
        limit = min(self.cfg.max_level, DegradationLevel.CACHE_ONLY if cache else DegradationLevel.EXTRACTIVE)
        wanted = set(DegradationLevel if levels is None else levels) | {DegradationLevel.FULL}
        self.levels: tuple[DegradationLevel, ...] = tuple(sorted(lv for lv in wanted if lv <= limit))
        """The levels this policy moves between, lightest last."""
        self.top = self.levels[-1]
        """The lightest level this configuration may enter."""
        self._clock = clock
        self.level = DegradationLevel.FULL
        self._changed_at = -1e18
        self._lat: deque[tuple[float, float]] = deque(maxlen=4096)
        self.changes: list[tuple[float, DegradationLevel]] = []

    @classmethod
    def for_pipeline(cls, cfg: PipelineConfig, *, cache: bool,
                     clock: Callable[[], float] = time.monotonic) -> DegradationPolicy:
        """The policy of ``cfg.serving.degradation`` over the levels ``cfg``'s pipeline makes different (see the
        module docstring): ``DegradationPolicy.for_pipeline(cfg, cache=cfg.cache.enabled)``.

        :param cfg: the whole pipeline config (its reranker and generators decide which levels drop something).
        :param cache: whether the service has an answer cache.
        :param clock: seconds, monotonic.
        :returns: the policy.
        """
        return cls(cfg.serving.degradation, cache=cache, levels=distinct_levels(cfg, cache=cache), clock=clock)

    def __repr__(self) -> str:
        return (f"DegradationPolicy(level={self.level.label}, levels={[lv.label for lv in self.levels]}, "
                f"slo_p95_ms={self.cfg.slo_p95_ms:g})")

    @property
    def name(self) -> str:
        """The current level's name."""
        return self.level.label

    def observe(self, latency_ms: float) -> None:
        """Record one request's end-to-end latency (pipeline requests; cache hits say little about load)."""
        self._lat.append((self._clock(), latency_ms))

    def p95(self) -> float | None:
        """The p95 latency of the window by nearest rank; ``None`` while it holds fewer than ``min_samples``."""
        now = self._clock()
        while self._lat and now - self._lat[0][0] > self.cfg.window_s:
            self._lat.popleft()
        if len(self._lat) < self.cfg.min_samples:
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
        up = next((lv for lv in self.levels if lv > self.level), None)
        if up is not None and (slow or (queue_fill > c.queue_high and up.serves_misses)):
            self._set(up, now)
        elif queue_fill < c.queue_low and not slow and self.level > DegradationLevel.FULL:
            self._set(max(lv for lv in self.levels if lv < self.level), now)
        return self.level

    async def watch(self, evaluate: Callable[[], DegradationLevel], *, every_s: float = 0.1) -> None:
        """Call ``evaluate`` (which calls :meth:`update` with the current signals) every ``every_s`` seconds
        even without traffic, so the level recovers when load stops; runs until cancelled."""
        while True:
            await asyncio.sleep(every_s)
            evaluate()

    def force(self, level: int) -> None:
        """Pin the level (operators, tests), also one the pipeline makes no different; the next :meth:`update`
        may move it again.

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


def distinct_levels(cfg: PipelineConfig, *, cache: bool) -> tuple[DegradationLevel, ...]:
    """The levels at which ``cfg``'s pipeline does less than at the level before (``FULL`` first).

    :param cfg: the pipeline config.
    :param cache: whether the service has an answer cache (``CACHE_ONLY`` needs it).
    :returns: the levels, lightest last.
    """
    llm = cfg.generator.kind != "extractive"
    keep = {DegradationLevel.FULL: True,
            DegradationLevel.NO_RERANKER: cfg.reranker.kind != "none",
            DegradationLevel.SMALL_GENERATOR: llm and cfg.serving.degradation.small_generator is not None,
            DegradationLevel.EXTRACTIVE: llm,
            DegradationLevel.CACHE_ONLY: cache}
    return tuple(lv for lv, k in keep.items() if k)
