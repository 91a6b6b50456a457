"""Graceful degradation: ordered service levels switched by load signals, with hysteresis.

Levels: 0 full → 1 no reranker → 2 smaller generator → 3 extractive answers → 4 cache only.
Escalate one level when the admission queue is fuller than ``queue_high`` or the recent p95 latency
exceeds the SLO; de-escalate one level only when the queue is emptier than ``queue_low`` *and* p95 is
back under the SLO; never change twice within ``cooldown_s``::

    policy = DegradationPolicy(cfg.serving.degradation)
    policy.observe(latency_ms=850.0)
    level = policy.update(queue_fill=0.7)       # 1: the reranker is skipped now
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import numpy as np

from workbench.config import DegradationConfig

__all__ = ["DegradationPolicy", "LEVEL_NAMES"]

#: The name of each level, as reported in responses and metrics.
LEVEL_NAMES = ("full", "no_reranker", "small_generator", "extractive", "cache_only")


class DegradationPolicy:
    """The current level from queue fill and recent p95 latency (linear-interpolated percentile)."""

    def __init__(self, cfg: DegradationConfig | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.cfg = cfg or DegradationConfig()
        self._clock = clock
        self.level = 0
        self._changed_at = -1e18
        self._lat: deque[tuple[float, float]] = deque(maxlen=4096)
        self.changes: list[tuple[float, int]] = []

    def __repr__(self) -> str:
        return f"DegradationPolicy(level={self.level}, slo_p95_ms={self.cfg.slo_p95_ms:g})"

    @property
    def name(self) -> str:
        """The current level's name."""
        return LEVEL_NAMES[self.level]

    def observe(self, latency_ms: float) -> None:
        """Record one request's end-to-end latency (pipeline requests; cache hits say little about load)."""
        self._lat.append((self._clock(), latency_ms))

    def p95(self) -> float | None:
        """The p95 latency of the window (``None`` when the window is empty)."""
        now = self._clock()
        while self._lat and now - self._lat[0][0] > self.cfg.window_s:
            self._lat.popleft()
        if not self._lat:
            return None
        return float(np.percentile([v for _, v in self._lat], 95))

    def update(self, queue_fill: float) -> int:
        """Re-evaluate the level from the signals; returns the (possibly new) level."""
        c = self.cfg
        if not c.enabled:
            self.level = 0
            return 0
        now = self._clock()
        if now - self._changed_at < c.cooldown_s:
            return self.level
        p95 = self.p95()
        slow = p95 is not None and p95 > c.slo_p95_ms
        if (queue_fill > c.queue_high or slow) and self.level < c.max_level:
            self._set(self.level + 1, now)
        elif queue_fill < c.queue_low and not slow and self.level > 0:
            self._set(self.level - 1, now)
        return self.level

    def force(self, level: int) -> None:
        """Pin the level (operators, tests); the next :meth:`update` may move it again."""
        if not 0 <= level < len(LEVEL_NAMES):
            raise ValueError(f"level must be in 0..{len(LEVEL_NAMES) - 1}, got {level}")
        self._set(level, self._clock())

    def _set(self, level: int, now: float) -> None:
        self.level = level
        self._changed_at = now
        self.changes.append((now, level))
        self._lat.clear()  # judge the new level by its own latencies
