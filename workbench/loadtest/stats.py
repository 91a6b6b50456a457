"""The numbers of a load test, with their definitions stated.

* Percentiles: numpy's ``"linear"`` method by default (Hyndman & Fan type 7, the numpy and pandas
  default: linear interpolation between the two closest ranks). ``"nearest"``-rank
  (``numpy method="inverted_cdf"``: the smallest value with at least p% of the data at or below it)
  is available and is what Locust's histogram reports approximate.
* Goodput: requests that succeeded **and** met the SLO (TTFT ≤ ``ttft_ms`` and end-to-end ≤
  ``e2e_ms``), per second of the run's window.
* Latency in open loop counts from the *scheduled* start, so client-side queueing behind a slow
  system is counted (no coordinated omission).

```python
latency_percentiles([1, 2, 3, 4], (50, 99))        # {'p50': 2.5, 'p99': 3.97}
goodput(ok, ttft_ms, e2e_ms, SLO(ttft_ms=500, e2e_ms=2000), window_s=10.0)
```
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["DEFAULT_PERCENTILES", "PercentileMethod", "SLO", "goodput", "latency_percentiles", "slo_mask"]

DEFAULT_PERCENTILES = (50.0, 90.0, 95.0, 99.0)
PercentileMethod = Literal["linear", "nearest"]
_NUMPY_METHOD = {"linear": "linear", "nearest": "inverted_cdf"}


@dataclass(frozen=True, kw_only=True)
class SLO:
    """A service-level objective per request: time to first token and end-to-end latency, in ms."""

    ttft_ms: float | None = None
    e2e_ms: float | None = None

    def __repr__(self) -> str:
        return f"SLO(ttft_ms={self.ttft_ms}, e2e_ms={self.e2e_ms})"


def latency_percentiles(values: Iterable[float], percentiles: Sequence[float] = DEFAULT_PERCENTILES, *,
                        method: PercentileMethod = "linear") -> dict[str, float]:
    """``{"p50": ..., ...}`` of ``values`` (NaNs dropped; NaN when empty), by ``method`` (see module doc)."""
    x = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if method not in _NUMPY_METHOD:
        raise ValueError(f"method must be 'linear' or 'nearest', got {method!r}")
    if x.size == 0:
        return {_key(p): float("nan") for p in percentiles}
    qs = np.percentile(x, list(percentiles), method=_NUMPY_METHOD[method])  # type: ignore[call-overload]
    return {_key(p): float(v) for p, v in zip(percentiles, np.atleast_1d(qs), strict=True)}


def _key(p: float) -> str:
    return f"p{p:g}".replace(".", "_")


def slo_mask(ok: np.ndarray, ttft_ms: np.ndarray, e2e_ms: np.ndarray, slo: SLO) -> np.ndarray:
    """Boolean per request: succeeded and met every bound of ``slo`` (a NaN TTFT fails a TTFT bound)."""
    m = np.asarray(ok, dtype=bool).copy()
    if slo.ttft_ms is not None:
        m &= np.nan_to_num(np.asarray(ttft_ms, dtype=np.float64), nan=np.inf) <= slo.ttft_ms
    if slo.e2e_ms is not None:
        m &= np.nan_to_num(np.asarray(e2e_ms, dtype=np.float64), nan=np.inf) <= slo.e2e_ms
    return m


def goodput(ok: np.ndarray, ttft_ms: np.ndarray, e2e_ms: np.ndarray, slo: SLO, window_s: float) -> float:
    """Requests per second that succeeded within ``slo`` over a window of ``window_s`` seconds."""
    if window_s <= 0:
        return float("nan")
    return float(slo_mask(ok, ttft_ms, e2e_ms, slo).sum()) / window_s
