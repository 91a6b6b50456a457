"""A circuit breaker per tool: opens after N consecutive failures, lets one probe through after the
reset time (half-open), closes again on the probe's success, re-opens on its failure.

```python
breaker = CircuitBreaker(failures=5, reset_s=30)
if breaker.allow():
    try: ...; breaker.record_success()
    except Exception: breaker.record_failure()
```
The clock is injectable (nanoseconds, default ``time.perf_counter_ns``) so tests need no sleeping.

:class:`SharedCircuitBreaker` keeps the same state machine in Redis, so every worker behind the load balancer
sees one circuit per tool: the failures of all workers count together, and an open circuit is open for all
of them (``tools.breaker_store: redis``)::

    breaker = SharedCircuitBreaker(redis.Redis.from_url(url), "get_bill", failures=5, reset_s=30)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["Breaker", "BreakerState", "CircuitBreaker", "SharedCircuitBreaker"]

log = logging.getLogger(__name__)

BreakerState = Literal["closed", "open", "half_open"]


@runtime_checkable
class Breaker(Protocol):
    """What the tool executor needs of a circuit breaker (:class:`CircuitBreaker`, :class:`SharedCircuitBreaker`)."""

    failures: int
    reset_s: float

    @property
    def state(self) -> BreakerState:
        """``closed``, ``open`` or ``half_open``."""
        ...

    def retry_after_s(self) -> float:
        """Seconds until a probe is allowed (0 when closed)."""
        ...

    def allow(self) -> bool:
        """Whether a call may go ahead now."""
        ...

    def release_probe(self) -> None:
        """A granted probe did not run."""
        ...

    def record_success(self) -> None:
        """A call succeeded."""
        ...

    def record_failure(self) -> None:
        """A call failed."""
        ...


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


# Every script reads the server's clock (TIME), so the workers' clocks never have to agree.
_NOW = "local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
_ALLOW = _NOW + """
local st = redis.call('HGET', KEYS[1], 'state') or 'closed'
if st == 'closed' then return 1 end
if st == 'open' and now - tonumber(redis.call('HGET', KEYS[1], 'opened_ms') or '0') < tonumber(ARGV[1]) then
  return 0
end
if tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0') > now then return 0 end
redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe_until', now + tonumber(ARGV[2]))
return 1
"""
_FAILURE = _NOW + """
local st = redis.call('HGET', KEYS[1], 'state') or 'closed'
local n = redis.call('HINCRBY', KEYS[1], 'consecutive', 1)
if st == 'half_open' or (st == 'closed' and n >= tonumber(ARGV[1])) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_ms', now, 'probe_until', 0)
  redis.call('HINCRBY', KEYS[1], 'opened_count', 1)
end
return n
"""
_STATE = _NOW + """
local v = redis.call('HMGET', KEYS[1], 'state', 'opened_ms', 'opened_count')
return {v[1] or 'closed', now - tonumber(v[2] or '0'), tonumber(v[3] or '0')}
"""


class SharedCircuitBreaker:
    """A :class:`CircuitBreaker` whose state lives in a Redis hash (``{prefix}:breaker:{tool}``), shared by every
    process that uses the same server and prefix.

    Each transition is one Lua script on the server's clock, so two workers cannot both take the half-open
    probe: the probe is a lease of ``probe_lease_s`` (a worker killed while probing blocks nobody for longer).
    When Redis does not answer, the breaker falls back to a local :class:`CircuitBreaker` for
    ``retry_interval_s`` (logged once per outage): the tool stays protected, per process, until Redis is back.
    """

    def __init__(self, client: Any, tool: str, *, failures: int = 5, reset_s: float = 30.0, prefix: str = "wb",
                 probe_lease_s: float = 10.0, retry_interval_s: float = 1.0) -> None:
        if failures < 1 or reset_s <= 0 or probe_lease_s <= 0:
            raise ValueError("failures must be >= 1, reset_s and probe_lease_s > 0")
        import redis

        self.failures, self.reset_s, self.probe_lease_s = failures, reset_s, probe_lease_s
        self.key = f"{prefix}:breaker:{tool}"
        self.local = CircuitBreaker(failures=failures, reset_s=reset_s)
        """Used while Redis is unreachable."""
        self._client, self._errors = client, (redis.RedisError, OSError)
        self._allow = client.register_script(_ALLOW)
        self._failure = client.register_script(_FAILURE)
        self._state = client.register_script(_STATE)
        self._retry_interval_s = retry_interval_s
        self._down_until = 0.0

    def _shared(self, op: str, fn: Callable[[], Any]) -> Any:
        """``fn()`` against Redis, or ``None`` (the caller uses :attr:`local`) while it is unreachable."""
        if time.monotonic() < self._down_until:
            return None
        try:
            got = fn()
        except self._errors as exc:
            if self._down_until == 0.0:
                log.warning("circuit breaker %s: Redis unreachable (%s during %s); using a per-process breaker "
                            "until it returns", self.key, type(exc).__name__, op)
            self._down_until = time.monotonic() + self._retry_interval_s
            return None
        if self._down_until:
            log.warning("circuit breaker %s: Redis is reachable again; the circuit is shared again", self.key)
            self._down_until = 0.0
        return got

    def _read(self) -> tuple[str, float, int] | None:
        got = self._shared("read", lambda: self._state(keys=[self.key]))
        if got is None:
            return None
        state = got[0].decode() if isinstance(got[0], bytes) else str(got[0])
        return state, float(got[1]) / 1000.0, int(got[2])

    @property
    def state(self) -> BreakerState:
        """The shared state (an open circuit past its reset time reads as half-open)."""
        got = self._read()
        if got is None:
            return self.local.state
        state, elapsed_s, _ = got
        if state == "open" and elapsed_s >= self.reset_s:
            return "half_open"
        return state  # type: ignore[return-value]

    @property
    def opened_count(self) -> int:
        """How many times the shared circuit opened (all workers together)."""
        got = self._read()
        return self.local.opened_count if got is None else got[2]

    def retry_after_s(self) -> float:
        """Seconds until a probe is allowed (0 when closed)."""
        got = self._read()
        if got is None:
            return self.local.retry_after_s()
        state, elapsed_s, _ = got
        return 0.0 if state == "closed" else max(0.0, self.reset_s - elapsed_s)

    def allow(self) -> bool:
        """Whether a call may go ahead now (half-open: one probe at a time across all workers)."""
        got = self._shared("allow", lambda: self._allow(
            keys=[self.key], args=[int(self.reset_s * 1000), int(self.probe_lease_s * 1000)]))
        return self.local.allow() if got is None else bool(got)

    def release_probe(self) -> None:
        """A granted probe did not run: let the next call probe."""
        if self._shared("release", lambda: self._client.hset(self.key, "probe_until", 0)) is None:
            self.local.release_probe()

    def record_success(self) -> None:
        """A call succeeded: close the circuit for everyone."""
        if self._shared("success", lambda: self._client.hset(
                self.key, mapping={"state": "closed", "consecutive": 0, "probe_until": 0})) is None:
            self.local.record_success()

    def record_failure(self) -> None:
        """A call failed: count it with every worker's; open after ``failures`` in a row or a failed probe."""
        if self._shared("failure", lambda: self._failure(keys=[self.key], args=[self.failures])) is None:
            self.local.record_failure()

    def __repr__(self) -> str:
        return f"SharedCircuitBreaker({self.key!r}, state={self.state!r}, failures={self.failures})"
