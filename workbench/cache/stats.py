"""Per-layer counters: hits, misses, wrong hits (where ground truth is known), evictions, bytes, latency.

Latency percentiles come from :mod:`workbench.percentiles` (nearest rank) over the most recent ``window``
lookups::

    s = LayerStats("exact")
    s.record(hit=True, latency_ns=80_000, wrong=False)
    s.as_dict()["latency_ms"]["p50"]        # 0.08
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from workbench.percentiles import PERCENTILE_METHOD, percentiles

__all__ = ["LayerStats"]


@dataclass
class LayerStats:
    """Counters of one cache layer (thread-safe)."""

    name: str
    window: int = 10_000
    hits: int = 0
    misses: int = 0
    wrong_hits: int = 0
    """Hits whose stored intent differs from the request's (only counted when the request's intent is given)."""
    judged_hits: int = 0
    """Hits for which the request's intent was known."""
    stores: int = 0
    rejected: int = 0
    """Candidates above the threshold that the verifier refused (semantic layer)."""
    shadowed: int = 0
    """Candidates the verifier accepted but that were not clearly closer to the query than to a nearer,
    refused candidate, so were not served (semantic layer; see ``SemanticCache.refusal_margin``)."""
    expired: int = 0
    """Entries found past their TTL by the cache's clock."""
    invalidated: int = 0
    """Entries deleted because a document they cited changed or was removed."""
    judge_refused: int = 0
    """Candidates in the judge's band that the judge said ask for another answer (semantic layer)."""
    judge_failed: int = 0
    """Candidates in the judge's band refused because the judge failed or was resting after a failure."""
    _latencies_ns: deque[int] = field(default_factory=deque, repr=False)
    _total_ns: int = 0
    _lookups: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, *, hit: bool, latency_ns: int, wrong: bool | None = None) -> None:
        """Count one lookup (``wrong``: ``None`` when the request's intent is unknown)."""
        with self._lock:
            if hit:
                self.hits += 1
                if wrong is not None:
                    self.judged_hits += 1
                    self.wrong_hits += int(wrong)
            else:
                self.misses += 1
            self._lookups += 1
            self._total_ns += latency_ns
            self._latencies_ns.append(latency_ns)
            if len(self._latencies_ns) > self.window:
                self._latencies_ns.popleft()

    def add(self, counter: str, n: int = 1) -> None:
        """Increment a named counter (``stores``, ``rejected``, ``shadowed``, ``expired``, ``invalidated``,
        ``judge_refused``, ``judge_failed``)."""
        with self._lock:
            setattr(self, counter, getattr(self, counter) + n)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict: counters, hit rate, wrong-hit rate (of judged hits) and latency (mean, p50, p95 in ms)."""
        with self._lock:
            lat = percentiles([x / 1e6 for x in self._latencies_ns], (50, 95))
            lookups = self._lookups
            return {
                "hits": self.hits,
                "misses": self.misses,
                "lookups": lookups,
                "hit_rate": self.hits / lookups if lookups else 0.0,
                "wrong_hits": self.wrong_hits,
                "judged_hits": self.judged_hits,
                "wrong_hit_rate": self.wrong_hits / self.judged_hits if self.judged_hits else 0.0,
                "stores": self.stores,
                "rejected": self.rejected,
                "shadowed": self.shadowed,
                "expired": self.expired,
                "invalidated": self.invalidated,
                "judge_refused": self.judge_refused,
                "judge_failed": self.judge_failed,
                "latency_ms": {
                    "mean": self._total_ns / lookups / 1e6 if lookups else math.nan,
                    **lat,
                    "method": f"{PERCENTILE_METHOD} over the last {self.window} lookups",
                },
            }
