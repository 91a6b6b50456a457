"""Circuit breaker states, tenant policy and the append-only audit log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from workbench.tools import (
    AuditRecord,
    CircuitBreaker,
    JSONLAuditLog,
    SQLiteAuditLog,
    ToolDeniedError,
    ToolPolicy,
    hash_arguments,
    tool,
)


class Clock:
    def __init__(self) -> None:
        self.ns = 0

    def __call__(self) -> int:
        return self.ns

    def advance(self, s: float) -> None:
        self.ns += int(s * 1e9)


def test_breaker_opens_after_n_failures_and_probes_half_open() -> None:
    clock = Clock()
    b = CircuitBreaker(failures=3, reset_s=10, clock_ns=clock)
    for _ in range(2):
        assert b.allow()
        b.record_failure()
    assert b.state == "closed"
    b.record_failure()
    assert b.state == "open" and not b.allow() and b.retry_after_s() == pytest.approx(10)
    clock.advance(10)
    assert b.state == "half_open"
    assert b.allow() is True and b.allow() is False            # exactly one probe
    b.record_failure()
    assert b.state == "open" and b.opened_count == 2           # a failed probe re-opens at once
    clock.advance(10)
    assert b.allow()
    b.record_success()
    assert b.state == "closed" and b.allow()


def test_a_success_resets_the_failure_count() -> None:
    b = CircuitBreaker(failures=2, reset_s=1)
    b.record_failure()
    b.record_success()
    b.record_failure()
    assert b.state == "closed"


@tool
def get_a(user: str) -> int:
    """A."""
    return 1


@tool(tenants=("partner",))
def partner_only(user: str) -> int:
    """Partner's own tool."""
    return 2


def test_policy_patterns_ownership_and_unknown_tenants() -> None:
    p = ToolPolicy({"bank": ("get_*",), "partner": ("*",), "nobody": ()})
    assert p.allows("bank", get_a) and not p.allows("nobody", get_a) and not p.allows("ghost", get_a)
    assert p.allows("partner", partner_only)
    with pytest.raises(ToolDeniedError, match="belongs to another tenant"):
        ToolPolicy({"bank": ("*",)}).check("bank", partner_only)
    with pytest.raises(ToolDeniedError, match="no tool policy"):
        p.check("ghost", get_a)
    assert p.allowed("bank", [get_a, partner_only]) == [get_a]


def _rec(status: str = "ok") -> AuditRecord:
    return AuditRecord.of(user="u001", tenant="bank", tool="get_bill", version="1.0",
                          arguments={"month": "2026-05"}, status=status, latency_ms=1.23456)


def test_sqlite_audit_log_is_append_only(tmp_path: Path) -> None:
    log = SQLiteAuditLog(tmp_path / "audit.sqlite3")
    log.record(_rec())
    log.record(_rec("denied"))
    assert [r.status for r in log.records(tenant="bank")] == ["ok", "denied"] and log.records(tenant="x") == []
    r = log.records()[0]
    assert (r.who, r.tool, r.latency_ms) == ("u001", "get_bill", 1.235)
    assert r.args_hash == hash_arguments({"month": "2026-05"}) and "2026-05" not in r.args_hash
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        log._conn.execute("UPDATE audit SET status='ok'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        log._conn.execute("DELETE FROM audit")
    log.close()


def test_jsonl_audit_log(tmp_path: Path) -> None:
    log = JSONLAuditLog(tmp_path / "audit.jsonl")
    log.record(_rec())
    log.record(_rec("timeout"))
    assert [r.status for r in log.records()] == ["ok", "timeout"]
    assert len((tmp_path / "audit.jsonl").read_text().splitlines()) == 2
    assert hash_arguments({"b": 1, "a": 2}) == hash_arguments({"a": 2, "b": 1})
