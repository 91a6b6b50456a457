from __future__ import annotations

from workbench.cache import CacheStack, HotspotDetector, SpaceSaving
from workbench.cache.testing import FakeClock, HashingEmbedder
from workbench.config import PipelineConfig


def test_space_saving_keeps_the_heavy_hitters() -> None:
    ss = SpaceSaving(capacity=5)
    for i in range(1000):
        ss.offer("hot" if i % 3 == 0 else f"cold{i}")
    assert max(ss.counts, key=ss.counts.__getitem__) == "hot" and len(ss.counts) == 5


def test_sliding_window_forgets_old_traffic() -> None:
    clock = FakeClock()
    d = HotspotDetector(window_s=60, top_k=2, buckets=6, clock=clock)
    for _ in range(50):
        d.record("old")
    clock.advance(30)
    for _ in range(10):
        d.record("new")
    assert d.top()[0] == ("old", 50)
    clock.advance(40)  # "old" left the window
    assert d.top() == [("new", 10)]


def test_refresh_ahead_is_bounded() -> None:
    clock = FakeClock()
    cfg = PipelineConfig().with_overrides({
        "cache.enabled": True, "cache.hotspot.enabled": True, "cache.hotspot.top_k": 5,
        "cache.hotspot.refresh_ahead_s": 60, "cache.hotspot.max_refreshes_per_s": 1.0, "cache.exact.ttl_s": 300})
    stack = CacheStack.from_config(cfg, kb_version="v1", embedder=HashingEmbedder(), clock=clock)
    calls: list[str] = []

    def answer(tenant: str, question: str) -> dict:
        calls.append(question)
        return {"answer": f"fresh {question}"}

    for q in ("gold card fee", "platinum card fee", "cold question"):
        stack.store("acme", q, {"answer": "old"})
    for _ in range(5):
        stack.lookup("acme", "gold card fee")
        stack.lookup("acme", "platinum card fee")
    ref = stack.refresher(answer)
    assert ref.run_once() == 0  # nothing is near expiry yet
    clock.advance(250)  # 50 s left < 60 s refresh-ahead
    assert ref.run_once() == 1 and ref.deferred == 1  # budget: 1 per second
    clock.advance(1)
    assert ref.run_once() == 1
    assert sorted(calls) == ["gold card fee", "platinum card fee"]
    clock.advance(100)  # the refreshed entries live on past the original TTL
    assert stack.lookup("acme", "gold card fee").payload == {"answer": "fresh gold card fee"}
    assert stack.lookup("acme", "cold question") is None
    assert stack.stats()["hotspot"]["refreshed"] == 2
