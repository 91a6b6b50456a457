"""Hot questions: streaming top-k over a sliding window, and a bounded refresh-ahead of their answers.

:class:`HotspotDetector` splits the window into ``buckets`` sub-windows, each a Space-Saving summary
(Metwally et al., 2005) of ``capacity`` counters: memory is O(buckets × capacity) whatever the
traffic, an item's count is over-estimated by at most its bucket's minimum counter, and the window
slides one bucket at a time. :class:`SharedHotspotDetector` keeps the counts in Redis, so every worker
sees the whole traffic. :class:`HotspotRefresher` re-answers hot questions whose cached answer
has less than ``refresh_ahead_s`` to live, at most ``max_refreshes_per_s`` (a token bucket)::

    hot = HotspotDetector(window_s=300, top_k=20)
    for q in stream: hot.record(key_of(q), info=q)
    hot.top()            # [("key", 412), ...] the 20 most asked keys in the last 300 s
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

__all__ = ["HotItem", "HotScoreStore", "HotspotDetector", "HotspotRefresher", "SharedHotspotDetector", "SpaceSaving"]


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


class HotScoreStore(Protocol):
    """Sorted sets and hashes shared by workers (the :class:`~workbench.cache.backends.RedisBackend`)."""

    def add_scores(self, items: Sequence[tuple[str, str, float]], ttl_s: float, *, keep: int,
                   fields: Sequence[tuple[str, str, str]] = ()) -> None: ...

    def top_scores(self, keys: Sequence[str], n: int) -> list[list[tuple[str, float]]] | None: ...

    def fields(self, key: str, names: Sequence[str]) -> list[str | None] | None: ...


class SharedHotspotDetector(HotspotDetector):
    """A :class:`HotspotDetector` whose counts every worker shares (Redis), so pre-warming sees the whole traffic.

    Each bucket of the window is a sorted set ``{prefix}:hot:{bucket}`` (member: the key as JSON; score: its
    count) that keeps its ``2 × capacity`` highest members and expires once it has left the window, with a hash
    ``{prefix}:hot:{bucket}:info`` of what the refresher needs to re-answer each key. A worker adds its counts in
    one pipelined round trip every ``flush_every`` requests or ``flush_interval_s`` seconds (and before
    :meth:`top`), so a lookup pays no round trip of its own. Buckets are numbered by wall-clock time (the
    default clock is ``time.time``: workers must agree on it). While Redis is unavailable, :meth:`top` answers
    from this worker's own counts::

        hot = SharedHotspotDetector(RedisBackend(url), prefix="wb", window_s=300, top_k=20)
        hot.record(("acme", "gold card fee"), HotItem("acme", "Gold card fee?"))
        hot.top()            # [(("acme", "gold card fee"), 412), ...] over every worker's requests

    Keys must be tuples of strings (JSON arrays in Redis).
    """

    def __init__(self, store: HotScoreStore, *, prefix: str = "wb", window_s: float = 300.0, top_k: int = 20,
                 buckets: int = 6, capacity: int | None = None, clock: Callable[[], float] = time.time,
                 flush_every: int = 32, flush_interval_s: float = 1.0) -> None:
        super().__init__(window_s=window_s, top_k=top_k, buckets=buckets, capacity=capacity, clock=clock)
        if flush_every < 1 or flush_interval_s < 0:
            raise ValueError("flush_every must be at least 1 and flush_interval_s >= 0")
        self.store = store
        self.prefix = prefix
        self.flush_every = flush_every
        self.flush_interval_s = flush_interval_s
        self._pending: dict[tuple[int, str], int] = {}
        self._pending_info: dict[tuple[int, str], str] = {}
        self._pending_n = 0
        self._flushed_at = clock()
        self.flushes = 0

    def _key(self, bid: int) -> str:
        return f"{self.prefix}:hot:{bid}"

    def record(self, key: Hashable, info: Any = None) -> None:
        """Count one request for ``key`` (a tuple of strings) here and, at the next flush, in the shared counts."""
        super().record(key, info)
        member = json.dumps(list(key), ensure_ascii=False)  # type: ignore[call-overload]
        now = self._clock()
        bid = int(now // self._width)
        with self._lock:
            self._pending[(bid, member)] = self._pending.get((bid, member), 0) + 1
            if isinstance(info, HotItem):
                self._pending_info[(bid, member)] = json.dumps(asdict(info), ensure_ascii=False)
            self._pending_n += 1
            due = self._pending_n >= self.flush_every or now - self._flushed_at >= self.flush_interval_s
        if due:
            self.flush()

    def flush(self) -> None:
        """Add this worker's pending counts to the shared ones (one round trip; dropped while Redis is down)."""
        with self._lock:
            counts, infos = self._pending, self._pending_info
            self._pending, self._pending_info, self._pending_n = {}, {}, 0
            self._flushed_at = self._clock()
        if not counts and not infos:
            return
        self.store.add_scores([(self._key(b), m, float(n)) for (b, m), n in counts.items()],
                              self.window_s + self._width, keep=2 * self.capacity,
                              fields=[(self._key(b) + ":info", m, v) for (b, m), v in infos.items()])
        self.flushes += 1

    def top(self, k: int | None = None) -> list[tuple[Hashable, int]]:
        """The ``k`` (default ``top_k``) most frequent keys in the window over every worker, most frequent first
        (this worker's own counts while Redis is unavailable)."""
        self.flush()
        newest = int(self._clock() // self._width)
        bids = list(range(newest - self.buckets + 1, newest + 1))
        rows = self.store.top_scores([self._key(b) for b in bids], 2 * self.capacity)
        if rows is None:
            return super().top(k)
        merged: dict[str, float] = {}
        newest_bucket: dict[str, int] = {}
        for bid, members in zip(bids, rows, strict=True):
            for member, score in members:
                merged[member] = merged.get(member, 0.0) + score
                newest_bucket[member] = bid
        best = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[: k or self.top_k]
        self._fetch_info([m for m, _ in best if self.info(tuple(json.loads(m))) is None], newest_bucket)
        return [(tuple(json.loads(m)), int(c)) for m, c in best]

    def _fetch_info(self, members: list[str], bucket_of: dict[str, int]) -> None:
        """What another worker recorded for keys this one has not seen (for the refresher)."""
        by_bucket: dict[int, list[str]] = {}
        for m in members:
            by_bucket.setdefault(bucket_of[m], []).append(m)
        for bid, names in by_bucket.items():
            values = self.store.fields(self._key(bid) + ":info", names) or []
            for m, v in zip(names, values, strict=False):
                if v is not None:
                    with self._lock:
                        self._info[tuple(json.loads(m))] = HotItem(**json.loads(v))


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
