"""The circuit breaker shared through Redis (``tools.breaker_store: redis``): one circuit per tool for every
worker, on a real redis-server. The cross-process check (two ``workbench serve`` processes) is in
tests/integration/serving/test_scale_out.py."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
import redis

from workbench.config import ToolsConfig
from workbench.testing import free_port
from workbench.tools import (
    CircuitOpenError,
    InMemoryAuditLog,
    SharedCircuitBreaker,
    ToolExecutor,
    ToolFailedError,
    ToolPolicy,
    ToolRegistry,
    tool,
)
from workbench.tools.agent import shared_breakers

pytestmark = pytest.mark.redis
CALLS = {"n": 0}


@tool(idempotent=False)
def ledger(user: str) -> dict:
    """A back office that is down."""
    CALLS["n"] += 1
    raise ConnectionError("back office down")


def _pair(url: str, **kw: Any) -> tuple[SharedCircuitBreaker, SharedCircuitBreaker]:
    """Two workers' breakers of one tool (separate clients, as in separate processes)."""
    tool_name = "t-" + uuid.uuid4().hex[:8]
    return tuple(SharedCircuitBreaker(redis.Redis.from_url(url), tool_name, **kw) for _ in range(2))  # type: ignore[return-value]


def test_failures_of_all_workers_count_and_an_open_circuit_is_open_for_all(redis_server: Any) -> None:
    a, b = _pair(redis_server.url, failures=4, reset_s=0.4)
    for breaker in (a, b, a):
        assert breaker.allow()
        breaker.record_failure()
    assert a.state == b.state == "closed"
    b.record_failure()                                       # the 4th failure, counted across both workers
    assert a.state == b.state == "open" and not a.allow() and not b.allow()
    assert 0 < a.retry_after_s() <= 0.4 and a.opened_count == b.opened_count == 1
    time.sleep(0.45)
    assert a.state == b.state == "half_open"
    assert [a.allow(), b.allow(), a.allow()] == [True, False, False]   # exactly one probe, whoever asks
    a.record_failure()                                       # the probe failed: open again at once
    assert b.state == "open" and b.opened_count == 2
    time.sleep(0.45)
    assert b.allow() is True
    b.record_success()
    assert a.state == "closed" and a.allow() and b.allow()


def test_a_probe_taken_by_a_dead_worker_expires(redis_server: Any) -> None:
    a, b = _pair(redis_server.url, failures=1, reset_s=0.2, probe_lease_s=0.3)
    a.record_failure()
    time.sleep(0.25)
    assert a.allow() is True                                 # a takes the probe ... and dies
    assert b.allow() is False
    time.sleep(0.35)
    assert b.allow() is True                                 # the lease ran out: b may probe
    b.release_probe()
    assert a.allow() is True


def test_probes_are_exclusive_under_contention(redis_server: Any) -> None:
    name = "contended-" + uuid.uuid4().hex[:6]
    breakers = [SharedCircuitBreaker(redis.Redis.from_url(redis_server.url), name, failures=1, reset_s=0.1)
                for _ in range(8)]
    breakers[0].record_failure()
    time.sleep(0.15)
    granted: list[bool] = []
    threads = [threading.Thread(target=lambda b=b: granted.append(b.allow())) for b in breakers]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(granted) == [False] * 7 + [True]


def test_without_redis_each_process_keeps_a_local_breaker() -> None:
    dead = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=0.2, socket_connect_timeout=0.2)
    b = SharedCircuitBreaker(dead, "offline", failures=2, reset_s=5)
    assert b.allow()
    b.record_failure()
    b.record_failure()
    assert b.state == "open" and not b.allow() and b.local.opened_count == 1


async def test_an_executor_sees_the_circuit_another_executor_opened(redis_server: Any) -> None:
    """Two executors (two workers) with ``breaker_store: redis``: the second never calls the broken tool."""
    CALLS["n"] = 0
    cfg = ToolsConfig(enabled=True, breaker_store="redis", redis_url=redis_server.url, breaker_failures=3,
                      breaker_reset_s=30, key_prefix="wb-" + uuid.uuid4().hex[:6])
    reg = ToolRegistry()
    reg.register(ledger)
    first, second = (ToolExecutor(reg, ToolPolicy({"bank": ("*",)}), audit=InMemoryAuditLog(), timeout_s=1,
                                  breaker_failures=3, breaker_reset_s=30, breaker_factory=shared_breakers(cfg))
                     for _ in range(2))
    for _ in range(3):
        with pytest.raises(ToolFailedError):
            await first.acall("bank", "u1", "ledger")
    assert CALLS["n"] == 3
    with pytest.raises(CircuitOpenError) as err:
        await second.acall("bank", "u2", "ledger")
    assert CALLS["n"] == 3 and err.value.retry_after > 20
    assert [r.status for r in second.audit.records()] == ["circuit_open"]
    assert shared_breakers(ToolsConfig()) is None            # the default stays per process
    first.close()
    second.close()
