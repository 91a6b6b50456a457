"""Latency and token statistics per question, with the percentile method stated.

Percentiles come from :mod:`workbench.percentiles` (nearest rank, its ``PERCENTILE_METHOD``): always an
observed value, so a p99 of 50 requests is the slowest but one, never an interpolated time nobody
waited::

    latency_summary([12.0, 15.5, 30.1])["p95_ms"]       # 30.1
    token_summary([10, 20])                             # {'total': 30.0, 'mean': 15.0, 'max': 20.0}
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from workbench.percentiles import DEFAULT_PERCENTILES, percentiles

__all__ = ["latency_summary", "token_summary"]


def _finite(values: Iterable[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and not math.isnan(float(v))]


def latency_summary(values_ms: Iterable[float], ps: Sequence[float] = DEFAULT_PERCENTILES) -> dict[str, float]:
    """``count``, ``mean_ms``, ``min_ms``, ``max_ms`` and ``pXX_ms`` (nearest rank); NaN when empty.

    :param values_ms: latencies in ms (``None`` and NaN ignored).
    :param ps: the percentiles to report, 0 to 100.
    :returns: the summary; the percentile keys are :func:`~workbench.percentiles.percentile_key` + ``_ms``.
    """
    clean = _finite(values_ms)
    out: dict[str, float] = {"count": float(len(clean))}
    if clean:
        out.update({"mean_ms": sum(clean) / len(clean), "min_ms": min(clean), "max_ms": max(clean)})
    else:
        out.update({"mean_ms": math.nan, "min_ms": math.nan, "max_ms": math.nan})
    out.update({f"{key}_ms": value for key, value in percentiles(clean, ps).items()})
    return out


def token_summary(tokens: Iterable[int | float]) -> dict[str, float]:
    """``total``, ``mean`` and ``max`` generated tokens per question."""
    clean = _finite(tokens)
    if not clean:
        return {"total": 0.0, "mean": math.nan, "max": math.nan}
    return {"total": sum(clean), "mean": sum(clean) / len(clean), "max": max(clean)}
