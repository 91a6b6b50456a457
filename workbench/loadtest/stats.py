"""The numbers of a load test, with their definitions stated.

* Percentiles: :mod:`workbench.percentiles`, nearest rank (``PERCENTILE_METHOD``), the one method of
  the workbench: always an observed latency, never an interpolated one.
* SLO bounds, named as vLLM's ``bench serve`` and GuideLLM name them (all in ms, per request):

  - ``ttft_ms``: time to first token, from the *scheduled* start (a non-streamed answer's first token
    is its end);
  - ``tpot_ms``: time per output token **excluding the first** (vLLM's definition):
    ``(e2el - ttft) / (tokens - 1)``; a request with fewer than two streamed tokens has none and meets it;
  - ``itl_ms``: inter-token latency, bounded per request by its **largest** gap between two successive
    streamed tokens (a stall is what a reader sees); no gap meets it;
  - ``e2el_ms``: end-to-end latency, scheduled start to the last byte (``e2e_ms`` is the old name).

* Attainment: the share of requests sent that succeeded **and** met every bound. Goodput: those
  requests per second of the measured window.
* Latency in open loop counts from the *scheduled* start, so client-side queueing behind a slow
  system is counted (no coordinated omission).

```python
slo = SLO.parse(["e2el_ms=1500", "ttft_ms=300"])
goodput(ok, ttft_ms, e2e_ms, slo, window_s=10.0)
```
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

import numpy as np

from workbench.errors import ConfigError

__all__ = ["SLO", "SLO_METRICS", "goodput", "slo_mask"]

#: The bounds an :class:`SLO` can set, by their usual names.
SLO_METRICS = ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms")


@dataclass(frozen=True, kw_only=True)
class SLO:
    """Per-request service-level bounds in ms (see the module doc for each definition); ``None``: unbounded.

    ``e2e_ms`` is accepted as the old name of ``e2el_ms``.

    ```python
    SLO(ttft_ms=300, e2el_ms=1500)
    ```
    """

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    itl_ms: float | None = None
    e2el_ms: float | None = None
    e2e_ms: float | None = None

    def __post_init__(self) -> None:
        if self.e2e_ms is not None and self.e2el_ms is None:
            object.__setattr__(self, "e2el_ms", self.e2e_ms)
        object.__setattr__(self, "e2e_ms", self.e2el_ms)
        for f in SLO_METRICS:
            v = getattr(self, f)
            if v is not None and not v > 0:
                raise ConfigError(f"SLO bound {f} must be > 0 ms, got {v}", field=f"slo.{f}")

    def __repr__(self) -> str:
        return "SLO(" + ", ".join(f"{k}={v:g}" for k, v in self.to_dict().items()) + ")"

    def to_dict(self) -> dict[str, float]:
        """The bounds that are set, by name (``e2el_ms``, not the old alias)."""
        return {f: float(v) for f in SLO_METRICS if (v := getattr(self, f)) is not None}

    @classmethod
    def from_dict(cls, d: dict[str, float | None]) -> SLO:
        """From :meth:`to_dict` (or an old manifest with ``e2e_ms``)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def parse(cls, specs: Iterable[str]) -> SLO:
        """``["e2el_ms=1500", "ttft_ms=300"]`` → ``SLO(...)``; raises :class:`ConfigError` on an unknown name.

        :param specs: ``name=ms`` strings, names from :data:`SLO_METRICS` (or ``e2e_ms``).
        :returns: the SLO.
        :raises ConfigError: a malformed pair, an unknown name or a bound <= 0.
        """
        values: dict[str, float] = {}
        for spec in specs:
            name, sep, raw = spec.partition("=")
            name = name.strip()
            if not sep or name not in (*SLO_METRICS, "e2e_ms"):
                raise ConfigError(f"SLO bound {spec!r}: write NAME=MS with NAME one of {', '.join(SLO_METRICS)}",
                                  field="slo")
            try:
                values[name] = float(raw)
            except ValueError:
                raise ConfigError(f"SLO bound {spec!r}: {raw!r} is not a number of ms", field="slo") from None
        return cls(**values)

    @property
    def empty(self) -> bool:
        """True when no bound is set (every successful request meets it)."""
        return not self.to_dict()


def _within(values: np.ndarray | None, bound: float | None, *, nan_meets: bool) -> np.ndarray | bool:
    if bound is None or values is None:
        return True
    v = np.asarray(values, dtype=np.float64)
    return np.nan_to_num(v, nan=-np.inf if nan_meets else np.inf) <= bound


def slo_mask(ok: np.ndarray, ttft_ms: np.ndarray, e2e_ms: np.ndarray, slo: SLO, *,
             tpot_ms: np.ndarray | None = None, itl_max_ms: np.ndarray | None = None) -> np.ndarray:
    """Boolean per request: succeeded and met every bound of ``slo``.

    A NaN TTFT or end-to-end latency fails its bound; a NaN TPOT or inter-token gap (fewer than two
    streamed tokens) meets its bound. ``tpot_ms`` / ``itl_max_ms`` not given: those bounds are not checked.
    """
    m = np.asarray(ok, dtype=bool).copy()
    m &= _within(ttft_ms, slo.ttft_ms, nan_meets=False)
    m &= _within(e2e_ms, slo.e2el_ms, nan_meets=False)
    m &= _within(tpot_ms, slo.tpot_ms, nan_meets=True)
    m &= _within(itl_max_ms, slo.itl_ms, nan_meets=True)
    return m


def goodput(ok: np.ndarray, ttft_ms: np.ndarray, e2e_ms: np.ndarray, slo: SLO, window_s: float) -> float:
    """Requests per second that succeeded within ``slo`` over a window of ``window_s`` seconds."""
    if window_s <= 0:
        return float("nan")
    return float(slo_mask(ok, ttft_ms, e2e_ms, slo).sum()) / window_s
