"""The Redis backend against a real server: outage and recovery, and the semantic layer shared by workers."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from workbench.cache import CacheStack
from workbench.cache.testing import FakeClock, HashingEmbedder
from workbench.config import PipelineConfig
from workbench.testing import RedisServer

pytestmark = pytest.mark.redis
Q = "what is the annual fee of the gold card"


def _cfg(url: str, prefix: str) -> PipelineConfig:
    return PipelineConfig().with_overrides({"cache.enabled": True, "cache.backend": "redis", "cache.redis_url": url,
                                            "cache.key_prefix": prefix, "cache.semantic.threshold": 0.8})


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A server of this test's own, so stopping it disturbs no other test."""
    with RedisServer() as server:
        yield server


def test_outage_is_a_miss_with_a_warning_and_the_cache_recovers(own_redis: RedisServer,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    stack = CacheStack.from_config(_cfg(own_redis.url, "out"), kb_version="v1", embedder=HashingEmbedder(),
                                   redis_retry_interval_s=0.0)
    stack.store("acme", Q, {"answer": "RMB 300"})
    assert stack.lookup("acme", Q).layer == "exact"
    own_redis.stop()
    with caplog.at_level(logging.WARNING, logger="workbench.cache.redis"):
        assert stack.lookup("acme", Q) is None  # no exception reaches the caller
        assert stack.lookup("acme", Q + " please") is None
        stack.store("acme", Q, {"answer": "dropped"})  # a write during the outage is dropped, not raised
        stack.store("acme", "u question", {"v": 1}, user="u1", personalized=True)
        assert stack.lookup("acme", "u question", user="u1", personalized=True) is None
    assert any("unavailable" in r.getMessage() for r in caplog.records)
    assert stack.stats()["layers"]["exact"]["backend"]["errors"] >= 1
    own_redis.start()  # same port, empty (no persistence)
    assert stack.lookup("acme", Q) is None  # the data is gone, the cache works again
    stack.store("acme", Q, {"answer": "RMB 300"})
    assert stack.lookup("acme", Q).payload == {"answer": "RMB 300"}
    assert stack.stats()["layers"]["exact"]["backend"]["available"] is True
    stack.close()


async def test_async_outage_and_recovery(own_redis: RedisServer) -> None:
    stack = CacheStack.from_config(_cfg(own_redis.url, "aout"), kb_version="v1", embedder=HashingEmbedder(),
                                   redis_retry_interval_s=0.0)
    await stack.astore("acme", Q, {"answer": "x"})
    own_redis.stop()
    assert await stack.alookup("acme", Q) is None
    await stack.astore("acme", Q, {"answer": "y"})
    own_redis.start()
    await stack.astore("acme", Q, {"answer": "z"})
    assert (await stack.alookup("acme", Q)).payload == {"answer": "z"}
    await stack.aclose()


def test_retry_interval_skips_redis_during_an_outage(own_redis: RedisServer) -> None:
    stack = CacheStack.from_config(_cfg(own_redis.url, "skip"), kb_version="v1", embedder=HashingEmbedder(),
                                   redis_retry_interval_s=60.0)
    own_redis.stop()
    for _ in range(5):
        assert stack.lookup("acme", Q) is None
    backend = stack.stats()["layers"]["exact"]["backend"]
    assert backend["errors"] == 1 and backend["skipped"] >= 5  # one failed probe, then no more attempts
    stack.close()


def test_semantic_entries_are_shared_across_workers(redis_server: RedisServer) -> None:
    prefix = f"share{uuid.uuid4().hex[:8]}"
    clock = FakeClock()
    cfg = _cfg(redis_server.url, prefix).with_overrides({"cache.exact.enabled": False})
    worker_a = CacheStack.from_config(cfg, kb_version="v1", embedder=HashingEmbedder(), clock=clock)
    worker_b = CacheStack.from_config(cfg, kb_version="v1", embedder=HashingEmbedder(), clock=clock)
    worker_a.store("acme", Q, {"answer": "RMB 300"}, intent="fee.gold")
    hit = worker_b.lookup("acme", Q + " please")
    assert hit is not None and hit.layer == "semantic" and hit.payload == {"answer": "RMB 300"}
    assert worker_b.lookup("other-tenant", Q + " please") is None
    # a worker that starts later loads the shared entries from the log
    worker_c = CacheStack.from_config(cfg, kb_version="v1", embedder=HashingEmbedder(), clock=clock)
    assert worker_c.lookup("acme", Q + " please").intent == "fee.gold"
    # a worker on a re-indexed knowledge base ignores them
    worker_d = CacheStack.from_config(cfg, kb_version="v2", embedder=HashingEmbedder(), clock=clock)
    assert worker_d.lookup("acme", Q + " please") is None
    clock.advance(301)
    assert worker_b.lookup("acme", Q + " please") is None  # expired for everyone
    for w in (worker_a, worker_b, worker_c, worker_d):
        w.close()


def test_purge_on_reindex_deletes_old_keys(redis_server: RedisServer) -> None:
    import redis

    prefix = f"purge{uuid.uuid4().hex[:8]}"
    stack = CacheStack.from_config(_cfg(redis_server.url, prefix), kb_version="v1", embedder=HashingEmbedder())
    stack.store("acme", Q, {"answer": "old"})
    client = redis.Redis.from_url(redis_server.url)
    assert len(list(client.scan_iter(match=f"{prefix}:exact:*"))) == 1
    assert stack.set_kb_version("v2") >= 2
    assert list(client.scan_iter(match=f"{prefix}:exact:*")) == []
    assert stack.lookup("acme", Q) is None
    client.close()
    stack.close()
