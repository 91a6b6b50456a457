"""Hot questions: streaming top-k over a sliding window, and a bounded refresh-ahead of their answers.

:class:`HotspotDetector` splits the window into ``buckets`` sub-windows, each a Space-Saving summary
(Metwally et al., 2005) of ``capacity`` counters: memory is O(buckets × capacity) whatever the
traffic, an item's count is over-estimated by at most its bucket's minimum counter, and the window
slides one bucket at a time. :class:`HotspotRefresher` re-answers hot questions whose cached answer
has less than ``refresh_ahead_s`` to live, at most ``max_refreshes_per_s`` (a token bucket)::

    hot = HotspotDetector(window_s=300, top_k=20)
    for q in stream: hot.record(key_of(q), info=q)
    hot.top()            # [("key", 412), ...] the 20 most asked keys in the last 300 s
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

__all__ = ["HotItem", "HotspotDetector", "HotspotRefresher", "SpaceSaving"]


class SpaceSaving:
    """Space-Saving top-k counters: a new item takes over the smallest counter when all are in use."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.counts: dict[Hashable, int] = {}

    def offer(self, item: Hashable, n: int = 1) -> None:
        """Count ``n`` occurrences of ``item``."""
        counts = self.counts
        if item in counts:
            counts[item] += n
        elif len(counts) < self.capacity:
            counts[item] = n
        else:
            victim = min(counts, key=counts.__getitem__)
            counts[item] = counts.pop(victim) + n


@dataclass(frozen=True, slots=True)
class HotItem:
    """What a refresher needs to re-answer a hot question."""

    tenant: str
    question: str
    intent: str | None = None


class HotspotDetector:
    """The ``top_k`` most frequent keys over the last ``window_s`` seconds (see the module docstring)."""

    def __init__(self, *, window_s: float = 300.0, top_k: int = 20, buckets: int = 6, capacity: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if window_s <= 0 or top_k < 1 or buckets < 1:
            raise ValueError("window_s must be > 0, top_k and buckets at least 1")
        self.window_s = window_s
        self.top_k = top_k
        self.buckets = buckets
        self.capacity = capacity or max(10 * top_k, 100)
        self._width = window_s / buckets
        self._clock = clock
        self._ring: deque[tuple[int, SpaceSaving]] = deque()
        self._info: dict[Hashable, Any] = {}
        self._lock = threading.Lock()
        self.recorded = 0

    def _bucket(self) -> SpaceSaving:
        bid = int(self._clock() // self._width)
        ring = self._ring
        while ring and ring[0][0] <= bid - self.buckets:
            ring.popleft()
        if not ring or ring[-1][0] != bid:
            ring.append((bid, SpaceSaving(self.capacity)))
        return ring[-1][1]

    def record(self, key: Hashable, info: Any = None) -> None:
        """Count one request for ``key``; ``info`` is kept for the refresher while the key is tracked."""
        with self._lock:
            self._bucket().offer(key)
            self.recorded += 1
            if info is not None:
                self._info[key] = info
            if len(self._info) > 4 * self.capacity * self.buckets:
                live = {k for _, ss in self._ring for k in ss.counts}
                self._info = {k: v for k, v in self._info.items() if k in live}

    def top(self, k: int | None = None) -> list[tuple[Hashable, int]]:
        """The ``k`` (default ``top_k``) most frequent keys in the window, most frequent first."""
        with self._lock:
            self._bucket()
            merged: dict[Hashable, int] = {}
            for _, ss in self._ring:
                for item, c in ss.counts.items():
                    merged[item] = merged.get(item, 0) + c
        return sorted(merged.items(), key=lambda kv: (-kv[1], str(kv[0])))[: k or self.top_k]

    def info(self, key: Hashable) -> Any:
        """The ``info`` last recorded with ``key`` (``None`` if unknown)."""
        return self._info.get(key)


class HotspotRefresher:
    """Re-answers hot questions before their cached answer expires, within a rate budget.

    ``remaining_ttl(key)`` gives the seconds a key's answer still lives (``None``: not cached);
    ``refresh(key, info)`` recomputes and re-stores it. :meth:`run_once` is one bounded pass;
    :meth:`start` runs passes in a daemon thread every ``interval_s``.
    """

    def __init__(self, detector: HotspotDetector, *, remaining_ttl: Callable[[Hashable], float | None],
                 refresh: Callable[[Hashable, Any], None], refresh_ahead_s: float = 60.0,
                 max_refreshes_per_s: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        if max_refreshes_per_s <= 0:
            raise ValueError("max_refreshes_per_s must be > 0")
        self.detector = detector
        self.remaining_ttl = remaining_ttl
        self.refresh = refresh
        self.refresh_ahead_s = refresh_ahead_s
        self.rate = max_refreshes_per_s
        self.burst = max(1.0, max_refreshes_per_s)
        self._clock = clock
        self._tokens = self.burst
        self._stamp = clock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.refreshed = 0
        self.deferred = 0
        """Hot entries that needed a refresh but found the budget spent."""
        self.failed = 0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def run_once(self) -> int:
        """One pass over the hot keys; returns how many answers were refreshed."""
        self._refill()
        done = 0
        for key, _count in self.detector.top():
            info = self.detector.info(key)
            if info is None:
                continue
            left = self.remaining_ttl(key)
            if left is None or left >= self.refresh_ahead_s:
                continue
            if self._tokens < 1:
                self.deferred += 1
                continue
            self._tokens -= 1
            try:
                self.refresh(key, info)
            except Exception:  # a failed refresh leaves the old answer to expire normally
                self.failed += 1
                continue
            done += 1
        self.refreshed += done
        return done

    def start(self, interval_s: float = 1.0) -> None:
        """Run :meth:`run_once` every ``interval_s`` seconds in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval_s):
                self.run_once()

        self._thread = threading.Thread(target=loop, name="cache-hotspot-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread (waits for the current pass)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def stats(self) -> dict[str, Any]:
        """Refreshed, deferred (budget spent) and failed refreshes."""
        return {"refreshed": self.refreshed, "deferred": self.deferred, "failed": self.failed,
                "tracked": len(self.detector.top(self.detector.capacity))}
