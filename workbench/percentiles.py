"""The one percentile function of the workbench, with its method named.

Every latency table, dashboard, load-test result, cache statistic and degradation signal computes its
percentiles here, by the **nearest-rank** method: the p-th percentile of n sorted values is the value at
1-based rank ``ceil(p/100 · n)`` (p = 0 gives the minimum). It always returns an observed value, so a
p99 of 50 requests is the slowest but one, never an interpolated time that nobody waited. NaN values
are dropped::

    percentile([10, 20, 30, 40], 50)                 # 20.0
    percentiles([12.0, 15.5, 30.1], (50, 95))        # {'p50': 15.5, 'p95': 30.1}
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["DEFAULT_PERCENTILES", "PERCENTILE_METHOD", "percentile", "percentile_key", "percentiles"]

#: How every percentile of the workbench is computed (shown beside latency tables).
PERCENTILE_METHOD = "nearest-rank"

#: The percentiles reported when none are asked for.
DEFAULT_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0)


def _clean(values: Iterable[float] | np.ndarray) -> np.ndarray:
    x = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=np.float64).ravel()
    return np.sort(x[~np.isnan(x)])


def _check(p: float) -> None:
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within [0, 100], got {p}")


def percentile(values: Iterable[float] | np.ndarray, p: float, *, empty: float | None = math.nan) -> float:
    """The nearest-rank ``p``-th percentile (0 ≤ p ≤ 100) of ``values``.

    :param values: numbers (NaN ignored).
    :param p: the percentile, 0 to 100.
    :param empty: returned when no value is left; ``None`` raises ``ValueError`` instead.
    :raises ValueError: ``p`` out of range, or no values and ``empty is None``.
    """
    _check(p)
    x = _clean(values)
    if x.size == 0:
        if empty is None:
            raise ValueError("no values to take a percentile of")
        return float(empty)
    rank = max(1, math.ceil(p / 100 * x.size))
    return float(x[rank - 1])


def percentile_key(p: float) -> str:
    """The column/key name of a percentile: ``50 → "p50"``, ``99.9 → "p99_9"``."""
    return f"p{p:g}".replace(".", "_")


def percentiles(values: Iterable[float] | np.ndarray, ps: Sequence[float] = DEFAULT_PERCENTILES) -> dict[str, float]:
    """``{"p50": ..., "p95": ...}`` of ``values`` by nearest rank (NaN for each when there are no values)."""
    for p in ps:
        _check(p)
    x = _clean(values)
    if x.size == 0:
        return {percentile_key(p): math.nan for p in ps}
    return {percentile_key(p): float(x[max(1, math.ceil(p / 100 * x.size)) - 1]) for p in ps}
