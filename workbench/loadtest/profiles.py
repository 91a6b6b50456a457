"""Load profiles (request rate over time) and the arrival times they produce.

A :class:`LoadProfile` is a piecewise-linear rate curve: ``steady``, ``ramp`` (ramp up, then hold) and
``morning-peak`` (a quiet start, a ramp to the peak, a plateau, and back down: a bank app at 9 a.m.).
:func:`arrival_offsets` turns it into seeded arrival times, Poisson or gamma-bursty, by drawing
inter-arrival gaps of mean 1 in "operational time" and mapping them through the inverse of the
cumulative rate ``Λ(t) = ∫ rate``: exact for a time-varying rate, no thinning needed.

```python
profile = LoadProfile.morning_peak(peak_rate=200, duration_s=60)
offsets = arrival_offsets(profile, process="gamma", cv=2.0, seed=7)   # seconds from the start, sorted
```
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from workbench.errors import ConfigError

__all__ = ["ArrivalProcess", "LoadProfile", "PROFILE_NAMES", "RunProfile", "STANDARD_PROFILES", "arrival_offsets",
           "span_seconds"]

PROFILE_NAMES = ("steady", "ramp", "morning-peak")
ArrivalProcess = Literal["poisson", "gamma", "uniform"]
#: The standard load profiles by the names vLLM's ``bench serve`` and GuideLLM use, plus ours (see :class:`RunProfile`).
STANDARD_PROFILES = ("synchronous", "concurrent", "throughput", "constant", "poisson", "burstiness", "sweep", "ramp",
                     "morning-peak")
#: Streams of the ``throughput`` profile when no concurrency is given.
THROUGHPUT_STREAMS = 64


@dataclass(frozen=True, kw_only=True)
class RunProfile:
    """One standard load profile, named as the field names it (:data:`STANDARD_PROFILES`).

    * ``synchronous``: one request at a time (closed loop, 1 stream, no think time): the latency floor.
    * ``concurrent``: ``concurrency`` streams, each sending its next request when the last answered.
    * ``throughput``: as fast as it goes: ``concurrency`` (default 64) streams with no think time; the
      saturation throughput.
    * ``constant``: open loop, evenly spaced arrivals at ``rate``/s.
    * ``poisson``: open loop, Poisson arrivals at mean ``rate``/s.
    * ``burstiness``: open loop, gamma inter-arrivals at mean ``rate``/s with coefficient of variation
      ``cv`` (> 1: burstier than Poisson; vLLM's ``--burstiness`` is ``1 / cv²``).
    * ``sweep``: ``synchronous``, ``throughput``, then ``steps`` − 2 ``constant`` rates evenly between the
      two throughputs (run by :func:`workbench.loadtest.capacity.sweep`).
    * ``ramp`` / ``morning-peak``: open loop, Poisson along the rate curve to ``rate`` (final / peak).

    Open-loop profiles send on schedule whether or not the server keeps up (how late the client sent
    is ``lateness_ms`` in the summary); closed-loop ones run for ``duration_s`` or ``max_requests``.

    ```python
    RunProfile(name="poisson", rate=20, duration_s=30)
    RunProfile(name="concurrent", concurrency=8, duration_s=30)
    ```
    """

    name: str
    rate: float | None = None
    concurrency: int | None = None
    duration_s: float = 30.0
    cv: float = 2.0
    steps: int = 5
    max_requests: int | None = None

    def __post_init__(self) -> None:
        name = "morning-peak" if self.name == "morning_peak" else self.name
        object.__setattr__(self, "name", name)
        if name not in STANDARD_PROFILES:
            raise ConfigError(f"unknown profile {name!r}; choose one of {', '.join(STANDARD_PROFILES)}",
                              field="profile")
        if self.open_loop and (self.rate is None or self.rate <= 0):
            raise ConfigError(f"profile {name!r} sends at a rate: give rate > 0 requests/s", field="profile.rate")
        if name == "concurrent" and (self.concurrency is None or self.concurrency < 1):
            raise ConfigError("profile 'concurrent' needs concurrency >= 1 (streams)", field="profile.concurrency")
        if self.concurrency is not None and self.concurrency < 1:
            raise ConfigError("concurrency must be >= 1", field="profile.concurrency")
        if self.duration_s <= 0:
            raise ConfigError(f"duration_s must be > 0, got {self.duration_s}", field="profile.duration_s")
        if name == "sweep" and self.steps < 2:
            raise ConfigError("a sweep needs steps >= 2 (synchronous and throughput)", field="profile.steps")
        if self.cv <= 0:
            raise ConfigError(f"cv must be > 0, got {self.cv}", field="profile.cv")
        if self.max_requests is not None and self.max_requests < 1:
            raise ConfigError("max_requests must be >= 1", field="profile.max_requests")

    @property
    def open_loop(self) -> bool:
        """True for the profiles that send on a schedule."""
        return self.name in ("constant", "poisson", "burstiness", "ramp", "morning-peak")

    @property
    def streams(self) -> int:
        """Closed loop: the number of streams (users)."""
        if self.name == "synchronous":
            return 1
        return self.concurrency or THROUGHPUT_STREAMS

    @property
    def arrivals(self) -> ArrivalProcess:
        """The arrival process of an open-loop profile."""
        return {"constant": "uniform", "burstiness": "gamma"}.get(self.name, "poisson")  # type: ignore[return-value]

    def curve(self) -> LoadProfile:
        """The rate curve of an open-loop profile."""
        if not self.open_loop:
            raise ConfigError(f"profile {self.name!r} is closed loop: it has no rate curve", field="profile")
        assert self.rate is not None
        name = {"ramp": "ramp", "morning-peak": "morning-peak"}.get(self.name, "steady")
        return LoadProfile.named(name, self.rate, self.duration_s)

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "rate": self.rate, "concurrency": self.concurrency, "duration_s": self.duration_s,
                "cv": self.cv, "steps": self.steps, "max_requests": self.max_requests}


@dataclass(frozen=True)
class LoadProfile:
    """A rate curve: ``knots`` are ``(seconds, requests per second)`` points joined by straight lines.

    Closed-loop runners read ``ramp_s`` (users start evenly over it) and ``duration_s``; open-loop
    runners follow the whole curve.
    """

    name: str
    knots: tuple[tuple[float, float], ...]
    ramp_s: float = 0.0

    def __post_init__(self) -> None:
        if len(self.knots) < 2:
            raise ConfigError("a profile needs at least two (time, rate) knots", field="profile.knots")
        ts = [t for t, _ in self.knots]
        if ts[0] != 0 or any(b <= a for a, b in itertools.pairwise(ts)):
            raise ConfigError("knot times must start at 0 and increase", field="profile.knots")
        if any(r < 0 for _, r in self.knots):
            raise ConfigError("rates must be >= 0", field="profile.knots")

    # -- presets ---------------------------------------------------------------------------------
    @classmethod
    def steady(cls, rate: float, duration_s: float) -> LoadProfile:
        """A constant ``rate`` for ``duration_s``."""
        _check(rate, duration_s)
        return cls("steady", ((0.0, rate), (duration_s, rate)))

    @classmethod
    def ramp(cls, rate: float, duration_s: float, *, ramp_s: float | None = None) -> LoadProfile:
        """From 0 to ``rate`` over ``ramp_s`` (default: half the duration), then hold."""
        _check(rate, duration_s)
        r = duration_s / 2 if ramp_s is None else ramp_s
        if not 0 < r <= duration_s:
            raise ConfigError(f"ramp_s must be in (0, duration_s], got {r}", field="profile.ramp_s")
        knots = ((0.0, 0.0), (r, rate)) + (((duration_s, rate),) if r < duration_s else ())
        return cls("ramp", knots, ramp_s=r)

    @classmethod
    def morning_peak(cls, peak_rate: float, duration_s: float, *, base_share: float = 0.2,
                     shape: Sequence[float] = (0.15, 0.4, 0.6, 0.85)) -> LoadProfile:
        """Quiet (``base_share`` × peak) until ``shape[0]``, up to the peak by ``shape[1]``, hold to ``shape[2]``,
        back to quiet by ``shape[3]`` (fractions of ``duration_s``), quiet to the end."""
        _check(peak_rate, duration_s)
        if not 0 <= base_share <= 1:
            raise ConfigError("base_share is a fraction of the peak in [0, 1]", field="profile.base_share")
        a, b, c, d = shape
        if not 0 < a < b < c < d < 1:
            raise ConfigError("shape must be four increasing fractions in (0, 1)", field="profile.shape")
        base = base_share * peak_rate
        knots = ((0.0, base), (a * duration_s, base), (b * duration_s, peak_rate), (c * duration_s, peak_rate),
                 (d * duration_s, base), (duration_s, base))
        return cls("morning-peak", knots, ramp_s=b * duration_s)

    @classmethod
    def named(cls, name: str, rate: float, duration_s: float) -> LoadProfile:
        """One of :data:`PROFILE_NAMES`; ``rate`` is the steady, final or peak rate."""
        if name == "steady":
            return cls.steady(rate, duration_s)
        if name == "ramp":
            return cls.ramp(rate, duration_s)
        if name in ("morning-peak", "morning_peak"):
            return cls.morning_peak(rate, duration_s)
        raise ConfigError(f"unknown profile {name!r}; choose one of {', '.join(PROFILE_NAMES)}", field="profile")

    # -- the curve -------------------------------------------------------------------------------
    @property
    def duration_s(self) -> float:
        return self.knots[-1][0]

    @property
    def peak_rate(self) -> float:
        return max(r for _, r in self.knots)

    def rate_at(self, t: float | np.ndarray) -> float | np.ndarray:
        """Requests per second at ``t`` seconds (0 outside the profile)."""
        ts, rs = self._arrays()
        return np.interp(t, ts, rs, left=0.0, right=0.0)

    def cumulative(self, t: float | np.ndarray) -> float | np.ndarray:
        """``Λ(t)``: expected requests in ``[0, t]`` (exact for the piecewise-linear curve)."""
        ts, rs = self._arrays()
        seg = np.concatenate([[0.0], np.cumsum(np.diff(ts) * (rs[:-1] + rs[1:]) / 2)])
        t = np.clip(np.asarray(t, dtype=np.float64), 0, ts[-1])
        i = np.clip(np.searchsorted(ts, t, side="right") - 1, 0, len(ts) - 2)
        dt = t - ts[i]
        slope = (rs[i + 1] - rs[i]) / (ts[i + 1] - ts[i])
        out = seg[i] + rs[i] * dt + slope * dt * dt / 2
        return float(out) if out.ndim == 0 else out

    def expected_requests(self) -> float:
        """``Λ(duration)``."""
        return float(self.cumulative(self.duration_s))

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return (np.array([t for t, _ in self.knots], dtype=np.float64),
                np.array([r for _, r in self.knots], dtype=np.float64))

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "knots": [list(k) for k in self.knots], "ramp_s": self.ramp_s}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> LoadProfile:
        knots = tuple((float(t), float(r)) for t, r in d["knots"])  # type: ignore[union-attr]
        return cls(str(d["name"]), knots, float(d.get("ramp_s", 0.0)))  # type: ignore[arg-type]


def span_seconds(value: float, duration_s: float) -> float:
    """A warm-up or cool-down in seconds: ``value`` < 1 is a fraction of ``duration_s``, else seconds.

    ```python
    span_seconds(0.1, 60)    # 6.0
    span_seconds(5, 60)      # 5.0
    ```
    """
    if value < 0:
        raise ConfigError(f"a warm-up or cool-down must be >= 0, got {value}", field="warmup")
    return value * duration_s if value < 1 else float(value)


def _check(rate: float, duration_s: float) -> None:
    if rate <= 0:
        raise ConfigError(f"rate must be > 0 requests/s, got {rate}", field="profile.rate")
    if duration_s <= 0:
        raise ConfigError(f"duration_s must be > 0, got {duration_s}", field="profile.duration_s")


def arrival_offsets(profile: LoadProfile, *, process: ArrivalProcess = "poisson", cv: float = 1.0,
                    seed: int = 0, max_requests: int | None = None) -> np.ndarray:
    """Sorted arrival times (seconds from the start) following ``profile``'s rate.

    ``poisson``: exponential gaps (cv 1). ``gamma``: gamma gaps with coefficient of variation ``cv``
    (cv > 1 is burstier than Poisson; shape = 1/cv²). ``uniform``: evenly spaced in operational time
    (a deterministic pacer). ``max_requests`` truncates.
    """
    total = profile.expected_requests()
    if total <= 0:
        return np.zeros(0)
    rng = np.random.default_rng([seed, 0xA771])
    n_draw = int(total + 6 * np.sqrt(total) + 16)
    if process == "poisson":
        gaps = rng.exponential(1.0, n_draw)
    elif process == "gamma":
        if cv <= 0:
            raise ConfigError(f"cv must be > 0, got {cv}", field="arrivals.cv")
        shape = 1.0 / (cv * cv)
        gaps = rng.gamma(shape, 1.0 / shape, int(total + 6 * cv * np.sqrt(total) + 16))
    elif process == "uniform":
        gaps = np.ones(n_draw)
        gaps[0] = 0.5
    else:
        raise ConfigError(f"unknown arrival process {process!r}; use poisson, gamma or uniform", field="arrivals")
    op = np.cumsum(gaps)
    while op[-1] < total:  # rare: extend until the operational clock passes the end
        op = np.concatenate([op, op[-1] + np.cumsum(np.ones(1024) if process == "uniform"
                                                     else rng.exponential(1.0, 1024))])
    op = op[op < total]
    # invert Λ on a fine grid (Λ is increasing where the rate is > 0)
    grid = np.linspace(0.0, profile.duration_s, max(2048, int(profile.duration_s * 1000) + 1))
    lam = profile.cumulative(grid)
    keep = np.concatenate([[True], np.diff(lam) > 0])
    out = np.interp(op, lam[keep], grid[keep])
    if max_requests is not None:
        out = out[:max_requests]
    return out
