"""A circuit breaker per tool: opens after N consecutive failures, lets one probe through after the
reset time (half-open), closes again on the probe's success, re-opens on its failure.

```python
breaker = CircuitBreaker(failures=5, reset_s=30)
if breaker.allow():
    try: ...; breaker.record_success()
    except Exception: breaker.record_failure()
```
The clock is injectable (nanoseconds, default ``time.perf_counter_ns``) so tests need no sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

__all__ = ["BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Thread-safe three-state breaker."""

    def __init__(self, *, failures: int = 5, reset_s: float = 30.0,
                 clock_ns: Callable[[], int] = time.perf_counter_ns) -> None:
        if failures < 1 or reset_s <= 0:
            raise ValueError("failures must be >= 1 and reset_s > 0")
        self.failures, self.reset_s, self._clock = failures, reset_s, clock_ns
        self._state: BreakerState = "closed"
        self._consecutive = 0
        self._opened_ns = 0
        self._probe_in_flight = False
        self._lock = threading.Lock()
        self.opened_count = 0
        """How many times the breaker opened."""

    @property
    def state(self) -> BreakerState:
        """``closed``, ``open`` or ``half_open`` (an open breaker past its reset time reads as half-open)."""
        with self._lock:
            if self._state == "open" and self._elapsed_s() >= self.reset_s:
                return "half_open"
            return self._state

    def _elapsed_s(self) -> float:
        return (self._clock() - self._opened_ns) / 1e9

    def retry_after_s(self) -> float:
        """Seconds until a probe is allowed (0 when closed)."""
        with self._lock:
            return 0.0 if self._state == "closed" else max(0.0, self.reset_s - self._elapsed_s())

    def allow(self) -> bool:
        """Whether a call may go ahead now (in half-open state: one probe at a time)."""
        with self._lock:
            if self._state == "closed":
                return True
            if self._state == "open" and self._elapsed_s() >= self.reset_s:
                self._state = "half_open"
                self._probe_in_flight = False
            if self._state == "half_open" and not self._probe_in_flight:
                self._probe_in_flight = True
                return True
            return False

    def release_probe(self) -> None:
        """A probe granted by :meth:`allow` did not run (e.g. no free slot): let the next call probe."""
        with self._lock:
            self._probe_in_flight = False

    def record_success(self) -> None:
        """A call succeeded: reset the count; a successful probe closes the breaker."""
        with self._lock:
            self._consecutive = 0
            self._state = "closed"
            self._probe_in_flight = False

    def record_failure(self) -> None:
        """A call failed: count it; open after ``failures`` in a row, or at once when the probe fails."""
        with self._lock:
            self._consecutive += 1
            if self._state == "half_open" or (self._state == "closed" and self._consecutive >= self.failures):
                self._state = "open"
                self._opened_ns = self._clock()
                self._probe_in_flight = False
                self.opened_count += 1

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state!r}, failures={self.failures}, reset_s={self.reset_s})"
