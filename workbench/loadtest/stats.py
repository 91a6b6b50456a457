"""The numbers of a load test, with their definitions stated.

* Percentiles: :mod:`workbench.percentiles`, nearest rank (``PERCENTILE_METHOD``), the one method of
  the workbench: always an observed latency, never an interpolated one.
* Goodput: requests that succeeded **and** met the SLO (TTFT ≤ ``ttft_ms`` and end-to-end ≤
  ``e2e_ms``), per second of the run's window.
* Latency in open loop counts from the *scheduled* start, so client-side queueing behind a slow
  system is counted (no coordinated omission).

```python
goodput(ok, ttft_ms, e2e_ms, SLO(ttft_ms=500, e2e_ms=2000), window_s=10.0)
```
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SLO", "goodput", "slo_mask"]


@dataclass(frozen=True, kw_only=True)
class SLO:
    """A service-level objective per request: time to first token and end-to-end latency, in ms."""

    ttft_ms: float | None = None
    e2e_ms: float | None = None

    def __repr__(self) -> str:
        return f"SLO(ttft_ms={self.ttft_ms}, e2e_ms={self.e2e_ms})"


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
