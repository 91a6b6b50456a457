"""The per-user layer behind the tool executor's snapshot protocol, with the real agent, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.cache import CacheStack, UserSnapshotStore
from workbench.cache.testing import FakeClock, HashingEmbedder
from workbench.config import PipelineConfig, ToolsConfig
from workbench.tools import InMemoryAuditLog, SnapshotCache, ToolCallingAgent
from workbench.tools.bank_fixture import build_bank_fixture


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def stack(request: pytest.FixtureRequest) -> CacheStack:
    over = {"cache.enabled": True, "cache.backend": request.param, "cache.key_prefix": f"snap-{request.node.name[-12:]}"}
    if request.param == "redis":
        over["cache.redis_url"] = request.getfixturevalue("redis_server").url
    clock = FakeClock()
    s = CacheStack.from_config(PipelineConfig().with_overrides(over), kb_version="v1", embedder=HashingEmbedder(),
                               clock=clock)
    s.test_clock = clock  # type: ignore[attr-defined]
    return s


def test_the_store_is_a_snapshot_cache_and_keeps_users_apart(stack: CacheStack) -> None:
    store = stack.snapshot_store()
    assert isinstance(store, SnapshotCache) and isinstance(store, UserSnapshotStore)
    store.set("acme", "u1", "get_credit_limit:1.0:ab", {"credit_limit": 50_000}, 60)
    store.set("acme", "u1", "get_rate:1.0:cd", 3.5, 60)  # any JSON value, not only objects
    assert store.get("acme", "u1", "get_credit_limit:1.0:ab") == {"credit_limit": 50_000}
    assert store.get("acme", "u1", "get_rate:1.0:cd") == 3.5
    assert store.get("acme", "u2", "get_credit_limit:1.0:ab") is None
    assert store.get("other", "u1", "get_credit_limit:1.0:ab") is None
    stack.test_clock.advance(61)  # type: ignore[attr-defined]
    assert store.get("acme", "u1", "get_rate:1.0:cd") is None
    stack.close()


async def test_the_real_agent_caches_tool_results_per_user(stack: CacheStack, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WB_BANK_DB", str(build_bank_fixture(tmp_path / "bank.sqlite3")))
    audit = InMemoryAuditLog()
    cfg = ToolsConfig(enabled=True, policy={"bank": ("get_*",)}, audit_log=None)
    agent = ToolCallingAgent.from_config(cfg, snapshot_cache=stack.snapshot_store(), audit=audit, today="2026-06-15")
    a1 = await agent.amaybe_call("bank", "u001", "what's my credit limit")
    a2 = await agent.amaybe_call("bank", "u001", "what's my credit limit")
    b1 = await agent.amaybe_call("bank", "u002", "what's my credit limit")
    assert a1.ok and a2.cached and not a1.cached and not b1.cached and a2.output == a1.output
    assert [r.status for r in audit.records()] == ["ok", "cached", "ok"]
    assert stack.stats()["layers"]["user"]["hits"] == 1
    await stack.aclose()


def test_a_disabled_cache_stores_nothing() -> None:
    off = CacheStack.from_config(PipelineConfig(), kb_version="v1", embedder=HashingEmbedder())
    store = off.snapshot_store()
    store.set("acme", "u1", "k", {"v": 1}, 60)
    assert store.get("acme", "u1", "k") is None
