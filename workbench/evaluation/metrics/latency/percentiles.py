"""Latency and token statistics per question, with the percentile method stated.

Percentiles use the **nearest-rank** method: the p-th percentile of n sorted values is the value at
rank ``ceil(p/100 · n)`` (1-based; p = 0 gives the minimum). It always returns an observed value, so
a p99 of 50 requests is the slowest but one — never an interpolated time nobody waited::

    nearest_rank_percentile([10, 20, 30, 40], 50)       # 20
    latency_summary([12.0, 15.5, 30.1])["p95_ms"]       # 30.1
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

__all__ = ["PERCENTILE_METHOD", "latency_summary", "nearest_rank_percentile", "token_summary"]

#: How every percentile of the evaluation package is computed.
PERCENTILE_METHOD = "nearest-rank"


def nearest_rank_percentile(values: Sequence[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile (0 ≤ p ≤ 100) of ``values``; NaN values are ignored.

    Raises ``ValueError`` for an empty input or a ``p`` out of range.
    """
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within [0, 100], got {p}")
    clean = sorted(float(v) for v in values if not math.isnan(float(v)))
    if not clean:
        raise ValueError("no values to take a percentile of")
    rank = max(1, math.ceil(p / 100 * len(clean)))
    return clean[rank - 1]


def latency_summary(values_ms: Iterable[float], percentiles: Sequence[float] = (50, 90, 95, 99)) -> dict[str, float]:
    """``count``, ``mean_ms``, ``min_ms``, ``max_ms`` and ``pXX_ms`` (nearest rank); NaN when empty."""
    clean = [float(v) for v in values_ms if v is not None and not math.isnan(float(v))]
    out: dict[str, float] = {"count": float(len(clean))}
    if not clean:
        out.update({"mean_ms": math.nan, "min_ms": math.nan, "max_ms": math.nan})
        out.update({f"p{p:g}_ms": math.nan for p in percentiles})
        return out
    out.update({"mean_ms": sum(clean) / len(clean), "min_ms": min(clean), "max_ms": max(clean)})
    out.update({f"p{p:g}_ms": nearest_rank_percentile(clean, p) for p in percentiles})
    return out


def token_summary(tokens: Iterable[int | float]) -> dict[str, float]:
    """``total``, ``mean`` and ``max`` generated tokens per question."""
    clean = [float(t) for t in tokens if t is not None and not math.isnan(float(t))]
    if not clean:
        return {"total": 0.0, "mean": math.nan, "max": math.nan}
    return {"total": sum(clean), "mean": sum(clean) / len(clean), "max": max(clean)}
