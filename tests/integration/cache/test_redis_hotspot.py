"""Hot-question counters shared through a real Redis: pre-warming in one worker sees every worker's traffic."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from workbench.cache import CacheStack, SharedHotspotDetector
from workbench.cache.testing import FakeClock, HashingEmbedder
from workbench.config import PipelineConfig
from workbench.testing import RedisServer

pytestmark = pytest.mark.redis


def _cfg(url: str, prefix: str) -> PipelineConfig:
    return PipelineConfig().with_overrides({
        "cache.enabled": True, "cache.backend": "redis", "cache.redis_url": url, "cache.key_prefix": prefix,
        "cache.hotspot.enabled": True, "cache.hotspot.top_k": 3, "cache.hotspot.window_s": 600,
        "cache.hotspot.refresh_ahead_s": 60, "cache.hotspot.max_refreshes_per_s": 10.0, "cache.exact.ttl_s": 300})


@pytest.fixture
def workers(redis_server: RedisServer) -> Iterator[tuple[CacheStack, CacheStack, FakeClock]]:
    """Two workers' stacks on one Redis server and key prefix, with one test clock."""
    clock = FakeClock()
    prefix = f"hot{uuid.uuid4().hex[:8]}"
    a, b = (CacheStack.from_config(_cfg(redis_server.url, prefix), kb_version="v1", embedder=HashingEmbedder(),
                                   clock=clock) for _ in range(2))
    yield a, b, clock
    a.close()
    b.close()


def test_two_workers_see_the_whole_traffic(workers: tuple[CacheStack, CacheStack, FakeClock]) -> None:
    a, b, clock = workers
    assert isinstance(a.hotspot, SharedHotspotDetector)
    # worker a sees "gold" 5 times, worker b sees "lost card" 4 times and "gold" 2 times: 7 "gold" in all
    for _ in range(5):
        a.lookup("acme", "Gold card fee?")
    for _ in range(4):
        b.lookup("acme", "how to report a lost card")
    for _ in range(2):
        b.lookup("acme", "gold card fee")
    a.lookup("globex", "cold question")
    expected = [(("acme", "gold card fee"), 7), (("acme", "how to report a lost card"), 4),
                (("globex", "cold question"), 1)]
    assert a.hotspot.top()[0] == (("acme", "gold card fee"), 5)  # b has not flushed yet (32 requests or 1 s)
    assert isinstance(b.hotspot, SharedHotspotDetector)
    b.hotspot.flush()
    assert a.hotspot.top() == expected and b.hotspot.top() == expected
    clock.advance(601)  # the window moved past all of it
    assert a.hotspot.top() == []


def test_a_refresher_prewarms_a_question_only_another_worker_was_asked(
        workers: tuple[CacheStack, CacheStack, FakeClock]) -> None:
    a, b, clock = workers
    b.store("acme", "How do I report a lost card?", {"answer": "old"})
    for _ in range(3):
        assert b.lookup("acme", "How do I report a lost card?") is not None
    assert isinstance(b.hotspot, SharedHotspotDetector)
    b.hotspot.flush()
    asked: list[tuple[str, str]] = []

    def answer(tenant: str, question: str) -> dict[str, str]:
        asked.append((tenant, question))
        return {"answer": "fresh"}

    ref = a.refresher(answer)  # worker a was never asked this question
    assert ref.run_once() == 0  # still 300 s to live
    clock.advance(250)
    assert ref.run_once() == 1 and asked == [("acme", "How do I report a lost card?")]
    clock.advance(100)  # past the first answer's TTL: the refreshed one serves
    assert b.lookup("acme", "how do i report a lost card").payload == {"answer": "fresh"}


def test_an_outage_falls_back_to_the_workers_own_counts() -> None:
    with RedisServer() as server:
        stack = CacheStack.from_config(_cfg(server.url, "hotdown"), kb_version="v1", embedder=HashingEmbedder(),
                                       clock=FakeClock(), redis_retry_interval_s=0.0)
        try:
            for _ in range(3):
                stack.lookup("acme", "gold card fee")
            server.stop()
            stack.lookup("acme", "lost card")
            assert stack.hotspot is not None
            assert stack.hotspot.top() == [(("acme", "gold card fee"), 3), (("acme", "lost card"), 1)]
        finally:
            stack.close()
