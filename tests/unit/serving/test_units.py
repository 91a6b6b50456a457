"""Admission queue, micro-batcher, degradation policy, variant router, exports."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest

import workbench.observability
import workbench.serving
from workbench.config import DegradationConfig
from workbench.errors import ConfigError, InputError, OverloadedError
from workbench.observability import EngineMetrics
from workbench.pipelines.plan import GeneratorChoice, QueryPlan
from workbench.serving import (
    LEVEL_NAMES,
    AdmissionQueue,
    DegradationLevel,
    DegradationPolicy,
    MicroBatcher,
    VariantRouter,
)


def test_exports_sorted() -> None:
    for mod in (workbench.serving, workbench.observability):
        assert list(mod.__all__) == sorted(mod.__all__)
        for name in mod.__all__:
            assert hasattr(mod, name)


async def test_admission_sheds_when_queue_full_and_after_deadline() -> None:
    q = AdmissionQueue(max_concurrency=1, max_queue=1, max_wait_ms=100)
    release = asyncio.Event()

    async def hold() -> None:
        async with q.slot():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())  # takes the one queue place
    await asyncio.sleep(0)
    assert q.waiting == 1
    with pytest.raises(OverloadedError) as err:
        async with q.slot():
            pass
    assert err.value.retry_after >= 1
    assert q.shed_full == 1
    with pytest.raises(OverloadedError):  # the waiter passes its deadline
        await asyncio.wait_for(waiter, 2)
    assert q.shed_timeout == 1
    release.set()
    await holder
    async with q.slot() as waited:  # free again: admitted at once
        immediate = waited
    assert q.in_flight == 0 and q.waiting == 0

    async def hold_for(seconds: float) -> None:
        async with q.slot():
            await asyncio.sleep(seconds)

    held = asyncio.create_task(hold_for(0.05))
    await asyncio.sleep(0)
    async with q.slot() as waited:  # queued behind a slot held for 50 ms: waited (about) that long
        pass
    await held
    assert waited >= 45.0 > immediate  # ms; a lower bound only (timer granularity), never an absolute timing


async def test_micro_batcher_batches_concurrent_calls() -> None:
    sizes: list[int] = []

    def fn(texts: Sequence[str]) -> np.ndarray:
        sizes.append(len(texts))
        return np.array([[len(t), i] for i, t in enumerate(texts)], dtype=np.float32)

    b = MicroBatcher(fn, max_batch=8, max_wait_ms=20)
    try:
        vecs = await asyncio.gather(*[b.embed("x" * (i + 1)) for i in range(20)])
    finally:
        b.close()
    assert [int(v[0]) for v in vecs] == [i + 1 for i in range(20)]  # each caller gets its own row
    assert sum(sizes) == 20 and max(sizes) <= 8 and len(sizes) < 20
    assert b.batches == len(sizes)


async def test_micro_batcher_propagates_errors() -> None:
    def boom(texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("model down")

    b = MicroBatcher(boom, max_batch=4, max_wait_ms=1)
    try:
        with pytest.raises(RuntimeError, match="model down"):
            await b.embed("q")
    finally:
        b.close()


def test_degradation_escalates_and_recovers_with_hysteresis() -> None:
    now = [0.0]
    p = DegradationPolicy(DegradationConfig(slo_p95_ms=100, queue_high=0.5, queue_low=0.1, window_s=5,
                                            cooldown_s=1, max_level=4), clock=lambda: now[0])
    assert p.update(0.9) == 1  # queue over queue_high
    assert p.update(0.9) == 1  # cooldown holds the level
    now[0] = 1.5
    for _ in range(20):
        p.observe(500.0)
    assert p.update(0.0) == 2  # p95 over the SLO, though the queue is empty
    now[0] = 3.0
    assert p.update(0.3) == 2  # between low and high: hold
    now[0] = 4.5
    assert p.update(0.0) == 1 and p.name == "no_reranker"
    now[0] = 6.0
    assert p.update(0.0) == 0
    assert [lvl for _, lvl in p.changes] == [1, 2, 1, 0]


def test_degradation_respects_max_level_and_disabled() -> None:
    now = [0.0]
    p = DegradationPolicy(DegradationConfig(cooldown_s=0, max_level=2), clock=lambda: now[0])
    for _ in range(10):
        now[0] += 1
        p.update(1.0)
    assert p.level == 2
    off = DegradationPolicy(DegradationConfig(enabled=False))
    assert off.update(1.0) == 0


def test_levels_say_what_they_drop_and_cache_only_needs_a_cache() -> None:
    assert LEVEL_NAMES == ("full", "no_reranker", "small_generator", "extractive", "cache_only")
    assert [lvl.label for lvl in DegradationLevel] == list(LEVEL_NAMES)
    plans = {lvl: lvl.plan for lvl in DegradationLevel}
    assert plans[DegradationLevel.FULL] == QueryPlan()
    assert not plans[DegradationLevel.NO_RERANKER].rerank
    assert plans[DegradationLevel.NO_RERANKER].generator is GeneratorChoice.MAIN
    assert plans[DegradationLevel.SMALL_GENERATOR].generator is GeneratorChoice.SMALL
    assert plans[DegradationLevel.EXTRACTIVE].generator is GeneratorChoice.EXTRACTIVE
    assert [lvl.serves_misses for lvl in DegradationLevel] == [True, True, True, True, False]
    now = [0.0]
    for cache, top in ((False, DegradationLevel.EXTRACTIVE), (True, DegradationLevel.CACHE_ONLY)):
        p = DegradationPolicy(DegradationConfig(cooldown_s=0, max_level=4), cache=cache, clock=lambda: now[0])
        for _ in range(10):  # overload for long: climbs to the top level this configuration can serve
            now[0] += 1
            p.update(1.0)
        assert p.level is top and p.top is top
    with pytest.raises(ConfigError, match=r"cache\.enabled"):
        DegradationPolicy(DegradationConfig()).force(DegradationLevel.CACHE_ONLY)
    with pytest.raises(ConfigError, match="level must be one of"):
        DegradationPolicy(DegradationConfig()).force(7)


def test_router_shares_and_stickiness() -> None:
    r = VariantRouter("control", {"canary": 0.1})
    users = [f"user{i}" for i in range(5000)]
    first = [r.route(u) for u in users]
    assert first == [r.route(u) for u in users]  # sticky
    share = first.count("canary") / len(users)
    assert 0.08 < share < 0.12
    assert r.route("u1", forced="canary") == "canary"
    with pytest.raises(InputError):
        r.route("u1", forced="nope")
    r.promote("canary")
    assert {r.route(u) for u in users[:200]} == {"canary"}
    r.rollback()
    assert {r.route(u) for u in users[:200]} == {"control"}
    r.reset()
    assert [r.route(u) for u in users] == first


def test_router_rejects_bad_shares() -> None:
    with pytest.raises(ValueError):
        VariantRouter("control", {"a": 0.7, "b": 0.5})


def test_metrics_registries_are_separate() -> None:
    a, b = EngineMetrics(), EngineMetrics()
    a.observe_request(variant="control", level=0, cache_layer=None, status="ok", total_ms=5, stages={"generate": 4})
    assert b"workbench_requests_total{" in a.render()
    assert b"workbench_requests_total{" not in b.render()
