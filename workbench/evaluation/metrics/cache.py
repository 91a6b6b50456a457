"""Cache quality: how often the cache answers, and how often the answer it serves is wrong.

A hit is *wrong* when the cached entry belongs to a different intent than the request (a near-miss
such as "raise my limit" served the answer of "lower my limit"), or, where intents are unknown, when
the caller marks it incorrect. Both rates are reported, because a high hit rate bought with wrong
hits is a failure, not a win::

    events = [CacheEvent(hit=True, expected_intent="limit.raise", served_intent="limit.lower"),
              CacheEvent(hit=False, expected_intent="fee.gold")]
    cache_quality(events)   # hit_rate 0.5, wrong_hit_rate 1.0 (of hits), wrong_hits_per_request 0.5
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["CacheEvent", "cache_quality"]


@dataclass(frozen=True)
class CacheEvent:
    """One request seen by the cache."""

    hit: bool
    """The cache served an answer."""
    expected_intent: str | None = None
    """The intent the request really has."""
    served_intent: str | None = None
    """The intent of the cached entry that was served (hits only)."""
    correct: bool | None = None
    """Overrides the intent comparison when given (e.g. judged by answer F1)."""
    layer: str | None = None
    """Which cache layer answered (``exact``, ``semantic``...)."""

    @property
    def wrong(self) -> bool:
        """A hit whose served answer is not the right one."""
        if not self.hit:
            return False
        if self.correct is not None:
            return not self.correct
        if self.expected_intent is None or self.served_intent is None:
            raise ValueError("a hit needs expected_intent and served_intent, or correct=True/False, to be judged")
        return self.expected_intent != self.served_intent


def cache_quality(events: Iterable[CacheEvent]) -> dict[str, float]:
    """``requests``, ``hits``, ``wrong_hits``, ``hit_rate`` (hits/requests), ``wrong_hit_rate`` (wrong/hits),
    ``wrong_hits_per_request`` and ``hit_rate_<layer>`` per layer. Rates are NaN when their denominator is 0."""
    items = list(events)
    n = len(items)
    hits = [e for e in items if e.hit]
    wrong = sum(e.wrong for e in hits)
    out = {
        "requests": float(n),
        "hits": float(len(hits)),
        "wrong_hits": float(wrong),
        "hit_rate": len(hits) / n if n else math.nan,
        "wrong_hit_rate": wrong / len(hits) if hits else math.nan,
        "wrong_hits_per_request": wrong / n if n else math.nan,
    }
    for layer in sorted({e.layer for e in hits if e.layer}):
        out[f"hit_rate_{layer}"] = sum(1 for e in hits if e.layer == layer) / n
    return out
