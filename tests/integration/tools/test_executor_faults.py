"""Fault tests of the executor: timeouts, exceptions, slow calls, breaker, concurrency, retries, audit, tenants."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from workbench.config import ToolsConfig
from workbench.tools import (
    CircuitOpenError,
    InMemoryAuditLog,
    InProcessSnapshotCache,
    ToolArgumentError,
    ToolBusyError,
    ToolCallingAgent,
    ToolDeniedError,
    ToolExecutor,
    ToolFailedError,
    ToolInputError,
    ToolPolicy,
    ToolRegistry,
    ToolTimeoutError,
    tool,
)
from workbench.tools.bank_fixture import build_bank_fixture

CALLS: dict[str, int] = {}
GATE = threading.Event()


def _count(name: str) -> None:
    CALLS[name] = CALLS.get(name, 0) + 1


@tool(idempotent=True)
def fast(user: str) -> dict:
    """Fast and healthy."""
    _count("fast")
    return {"user": user}


@tool(idempotent=True)
def slow(seconds: float) -> dict:
    """Sleeps."""
    _count("slow")
    time.sleep(seconds)
    return {"slept": seconds}


@tool(idempotent=False)
def broken_write(user: str) -> dict:
    """A non-idempotent tool that raises."""
    _count("broken_write")
    raise ConnectionError("back office down")


@tool(idempotent=True)
def broken_read(user: str) -> dict:
    """An idempotent tool that raises."""
    _count("broken_read")
    raise ConnectionError("back office down")


@tool
def gated() -> dict:
    """Waits for the test's gate."""
    GATE.wait(5)
    return {}


@tool
async def async_ok(n: int) -> dict:
    """An async tool."""
    await asyncio.sleep(0)
    return {"n": n}


class Clock:
    def __init__(self) -> None:
        self.ns = 0

    def __call__(self) -> int:
        return self.ns


@pytest.fixture
def setup() -> Any:
    CALLS.clear()
    reg = ToolRegistry()
    for spec in (fast, slow, broken_write, broken_read, gated, async_ok):
        reg.register(spec)
    audit = InMemoryAuditLog()
    clock = Clock()
    ex = ToolExecutor(reg, ToolPolicy({"bank": ("*",), "other": ("fast",)}), audit=audit, timeout_s=0.2,
                      breaker_failures=3, breaker_reset_s=5, max_concurrency=2, retries=1, clock_ns=clock)
    yield ex, audit, clock
    GATE.set()
    ex.close()
    GATE.clear()


async def test_timeout_is_enforced_and_audited(setup: Any) -> None:
    ex, audit, _ = setup
    with pytest.raises(ToolTimeoutError, match=r"within 0\.2 s"):
        await ex.acall("bank", "u1", "slow", {"seconds": 1.0})
    assert audit.records()[-1].status == "timeout"


async def test_breaker_opens_within_n_failures_then_fails_fast(setup: Any) -> None:
    ex, audit, clock = setup
    for _ in range(3):
        with pytest.raises(ToolFailedError, match="back office down"):
            await ex.acall("bank", "u1", "broken_write")
    assert ex.breaker("broken_write").state == "open" and CALLS["broken_write"] == 3
    with pytest.raises(CircuitOpenError):
        await ex.acall("bank", "u1", "broken_write")
    assert CALLS["broken_write"] == 3                           # refused without calling the back office
    assert [r.status for r in audit.records()][-1] == "circuit_open"
    clock.ns += int(5e9)                                        # reset time passes: one half-open probe
    with pytest.raises(ToolFailedError):
        await ex.acall("bank", "u1", "broken_write")
    assert CALLS["broken_write"] == 4 and ex.breaker("broken_write").state == "open"


async def test_half_open_probe_success_closes_the_breaker(setup: Any) -> None:
    ex, _, clock = setup
    b = ex.breaker("fast")
    for _ in range(3):
        b.record_failure()
    with pytest.raises(CircuitOpenError):
        await ex.acall("bank", "u1", "fast")
    clock.ns += int(5e9)
    assert (await ex.acall("bank", "u1", "fast")).output == {"user": "u1"}
    assert b.state == "closed"


async def test_only_idempotent_tools_are_retried(setup: Any) -> None:
    ex, _, _ = setup
    with pytest.raises(ToolFailedError):
        await ex.acall("bank", "u1", "broken_read")
    with pytest.raises(ToolFailedError):
        await ex.acall("bank", "u1", "broken_write")
    assert CALLS == {"broken_read": 2, "broken_write": 1}


async def test_concurrency_limit_per_tool(setup: Any) -> None:
    ex, audit, _ = setup
    ex.timeout_s = 3
    running = [asyncio.create_task(ex.acall("bank", "u1", "gated")) for _ in range(2)]
    await asyncio.sleep(0.05)
    with pytest.raises(ToolBusyError, match="already runs 2 calls"):
        await ex.acall("bank", "u1", "gated")
    assert (await ex.acall("bank", "u1", "fast")).output     # other tools are not affected
    GATE.set()
    await asyncio.gather(*running)
    # the refusal is audited when it happens, before the other tool's call and the two gated calls ending
    assert [(r.tool, r.status) for r in audit.records()] == [("gated", "busy"), ("fast", "ok"), ("gated", "ok"),
                                                             ("gated", "ok")]


async def test_denied_and_invalid_calls_never_reach_the_tool(setup: Any) -> None:
    ex, audit, _ = setup
    with pytest.raises(ToolDeniedError):
        await ex.acall("other", "u1", "slow", {"seconds": 0})
    with pytest.raises(ToolArgumentError):
        await ex.acall("bank", "u1", "slow", {"seconds": "0"})
    with pytest.raises(ToolArgumentError, match="unknown argument"):
        await ex.acall("bank", "u1", "fast", {"user": "someone-else"})
    assert CALLS == {} and [r.status for r in audit.records()] == ["denied", "invalid", "invalid"]
    assert all(r.who == "u1" for r in audit.records())


async def test_async_tools_and_sync_wrapper(setup: Any) -> None:
    ex, _, _ = setup
    assert (await ex.acall("bank", "u1", "async_ok", {"n": 3})).output == {"n": 3}
    assert ex.call("bank", "u1", "fast").output == {"user": "u1"}     # works inside a running loop


async def test_failing_tool_does_not_slow_down_other_calls(setup: Any) -> None:
    """While one tool hangs until its timeout, calls of a healthy tool keep their latency (measured)."""
    ex, _, _ = setup
    ex.retries = 0

    async def good_latencies(n: int) -> list[float]:
        out = []
        for _ in range(n):
            t = time.perf_counter_ns()
            await ex.acall("bank", "u1", "fast")
            out.append((time.perf_counter_ns() - t) / 1e6)
        return out

    baseline = statistics.median(await good_latencies(30))
    hanging = [asyncio.create_task(ex.acall("bank", "u1", "slow", {"seconds": 0.5})) for _ in range(2)]
    during = statistics.median(await good_latencies(30))
    results = await asyncio.gather(*hanging, return_exceptions=True)
    assert all(isinstance(r, ToolTimeoutError) for r in results)
    assert during < ex.timeout_s * 1000 / 4, (baseline, during)   # nobody waited for the hanging tool


async def test_snapshot_cache_serves_per_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WB_BANK_DB", str(build_bank_fixture(tmp_path / "bank.sqlite3")))
    cache = InProcessSnapshotCache()
    audit = InMemoryAuditLog()
    cfg = ToolsConfig(enabled=True, policy={"bank": ("get_*",), "partner": ("*",)}, audit_log=None)
    agent = ToolCallingAgent.from_config(cfg, snapshot_cache=cache, audit=audit, today="2026-06-15")
    a1 = await agent.amaybe_call("bank", "u001", "what's my credit limit")
    a2 = await agent.amaybe_call("bank", "u001", "what's my credit limit")
    b1 = await agent.amaybe_call("bank", "u002", "what's my credit limit")
    assert a1.ok and a2.cached and not a1.cached and not b1.cached and a2.output == a1.output
    assert [r.status for r in audit.records()] == ["ok", "cached", "ok"]
    # tenant isolation: a bank user cannot reach a partner customer's data, nor the partner's own tool
    with pytest.raises(ToolInputError):
        await agent.executor.acall("bank", "p001", "get_credit_limit")
    with pytest.raises(ToolDeniedError, match="another tenant"):
        await agent.executor.acall("bank", "u001", "get_partner_offer")
    assert (await agent.executor.acall("partner", "p001", "get_partner_offer")).output["offer"]


async def test_agent_turns_tool_failures_into_a_polite_outcome(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WB_FX_FAILURE_RATE", "1")
    cfg = ToolsConfig(enabled=True, policy={"bank": ("*",)}, audit_log=None, breaker_failures=2, timeout_s=1)
    agent = ToolCallingAgent.from_config(cfg, today="2026-06-15")
    outcomes = [await agent.amaybe_call("bank", "u001", "my usd exchange rate") for _ in range(4)]
    # the fx tool is idempotent and retried once, so the breaker (2 failures) opens on the first request
    assert [o.status for o in outcomes] == ["tool_failed"] + ["tool_circuit_open"] * 3
    assert all(not o.ok and "try again" in o.answer for o in outcomes)
    assert await agent.amaybe_call("bank", "u001", "what is the gold card annual fee") is None
