"""Admission queue, micro-batcher, degradation policy, variant router, exports."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

import workbench.observability
import workbench.serving
from workbench.config import DegradationConfig, PipelineConfig, ServingConfig
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
from workbench.serving.admission import HEADROOM, ServiceTime, inprocess_parallelism
from workbench.serving.degradation import distinct_levels


def test_exports_sorted() -> None:
    for mod in (workbench.serving, workbench.observability):
        assert list(mod.__all__) == sorted(mod.__all__)
        for name in mod.__all__:
            assert hasattr(mod, name)


async def _hold(q: AdmissionQueue, release: asyncio.Event) -> None:
    """Hold one of ``q``'s slots until ``release`` is set."""
    async with q.slot():
        await release.wait()


async def test_admission_sheds_when_queue_full_and_after_deadline() -> None:
    q = AdmissionQueue(max_concurrency=1, max_queue=1, max_wait_ms=100, latency_target_ms=None)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(q, release))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(_hold(q, release))  # takes the one queue place
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


async def occupy_since(q: AdmissionQueue, since_ns: int, held: asyncio.Event) -> None:
    async with q.slot(since_ns=since_ns):
        await held.wait()


def _measured(q: AdmissionQueue, service_ms: float, n: int = 50) -> AdmissionQueue:
    for _ in range(n):
        q.service.observe(service_ms)
    return q


async def test_admission_sheds_at_the_door_what_cannot_make_the_target() -> None:
    """A newcomer waits only if its predicted wait (place x mean service / slots) fits 90 % of the target (the
    headroom) minus the p99 service time; otherwise it is shed at once, before it waits, with a Retry-After of
    the drain time."""
    q = _measured(AdmissionQueue(max_concurrency=2, max_queue=100, max_wait_ms=10_000, latency_target_ms=1000),
                  service_ms=200.0)
    assert q.service.mean == pytest.approx(200.0) and q.service.p99 == pytest.approx(200.0)
    assert HEADROOM == 0.9 and q.wait_budget_ms() == pytest.approx(700.0)
    assert q.predicted_wait_ms(3) == pytest.approx(300.0)
    assert q.capacity == 7  # 700 ms of budget at 2 slots per 200 ms
    release = asyncio.Event()

    async def hold() -> float:
        async with q.slot() as waited:
            await release.wait()
        return waited

    tasks = [asyncio.create_task(hold()) for _ in range(2 + 7)]  # two slots, seven waiting within budget
    await asyncio.sleep(0)
    assert q.in_flight == 2 and q.waiting == 7 and q.fill == 1.0
    with pytest.raises(OverloadedError, match="wait budget") as err:
        async with q.slot():
            pass
    assert q.shed_predicted == 1 and q.shed_full == 0 and q.shed_timeout == 0
    assert err.value.retry_after >= 1.0  # eight in line at 100 ms each: about 1 s to drain
    release.set()
    await asyncio.gather(*tasks)
    assert q.in_flight == 0 and q.waiting == 0 and q.shed == 1
    # time spent before asking for a slot (a cache lookup) counts against the budget
    _measured(q, service_ms=200.0, n=200)  # the window again holds only 200 ms services
    assert q.wait_budget_ms(spent_ms=600.0) == pytest.approx(100.0)
    held = asyncio.Event()

    async def occupy() -> None:
        async with q.slot():
            await held.wait()

    fresh = _measured(AdmissionQueue(max_concurrency=2, max_queue=100, max_wait_ms=10_000, latency_target_ms=1000),
                      service_ms=200.0)
    assert fresh.fill == 0.0  # never shed: the load signal is how full its line is
    holders = [asyncio.create_task(occupy()) for _ in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(OverloadedError, match="wait budget"):  # 650 ms spent: 50 ms left, 100 ms predicted
        async with q.slot(since_ns=time.perf_counter_ns() - 650_000_000):
            pass
    assert q.shed_predicted == 2
    late = time.perf_counter_ns() - 400_000_000  # 400 ms spent: 300 ms left, 100 ms predicted
    waiter = asyncio.create_task(occupy_since(q, late, held))
    await asyncio.sleep(0)
    assert q.waiting == 1  # it fits: it waits
    held.set()
    await asyncio.gather(*holders, waiter)
    # the budget follows the measured service time: slower service, shorter waits allowed
    _measured(q, service_ms=800.0, n=200)
    assert q.wait_budget_ms() == pytest.approx(100.0) and q.capacity == 0
    # service slower than the target: no waiting at all, only a free slot admits
    _measured(q, service_ms=1500.0, n=200)
    assert q.wait_budget_ms() == 0.0


async def test_admission_sheds_a_request_already_too_late_even_with_a_free_slot() -> None:
    q = _measured(AdmissionQueue(max_concurrency=4, max_queue=10, max_wait_ms=5000, latency_target_ms=1000),
                  service_ms=300.0)
    async with q.slot(since_ns=time.perf_counter_ns() - 800_000_000):  # late, but the pipeline is idle: served
        pass
    gate = asyncio.Event()

    async def busy() -> None:
        async with q.slot():
            await gate.wait()

    other = asyncio.create_task(busy())
    await asyncio.sleep(0)
    with pytest.raises(OverloadedError, match="would answer after"):  # 800 ms spent + 300 ms service > 1000
        async with q.slot(since_ns=time.perf_counter_ns() - 800_000_000):
            pass
    assert q.shed_late == 1 and q.in_flight == 1
    async with q.slot(since_ns=time.perf_counter_ns() - 500_000_000) as waited:  # 500 + 300 fits
        assert waited < 1000.0
    gate.set()
    await other
    no_target = AdmissionQueue(max_concurrency=1, max_queue=1, max_wait_ms=100, latency_target_ms=None)
    async with no_target.slot(since_ns=time.perf_counter_ns() - 5_000_000_000):  # no target: nothing is late
        pass
    assert no_target.shed == 0


async def test_admission_limit_adapts_to_the_service_time() -> None:
    """Additive increase, multiplicative decrease: services longer than half the target and more than twice
    the floor of recent services (too many at once) lower the number of slots (at most once per mean service
    time); fast ones raise it back, up to max_concurrency; slow but not inflated ones leave it alone."""
    q = AdmissionQueue(max_concurrency=8, max_queue=10, max_wait_ms=5000, latency_target_ms=100)
    assert q.slots == 8
    for _ in range(40):
        q._observe(80.0)  # slower than half the target, but every request is: nothing is inflated
    assert q.slots == 8
    q = AdmissionQueue(max_concurrency=8, max_queue=10, max_wait_ms=5000, latency_target_ms=100)
    for _ in range(40):
        q._observe(10.0)  # the floor: 10 ms
    q._observe(80.0)  # eight times the floor and over half the target
    assert q.limit == pytest.approx(6.4) and q.slots == 6
    q._observe(80.0)  # within one mean service time of the last decrease: no second cut
    assert q.limit == pytest.approx(6.4)
    await asyncio.sleep(0.1)
    q._observe(80.0)
    assert q.limit == pytest.approx(5.12)
    for _ in range(200):
        q._observe(10.0)
    assert q.limit == 8.0
    fixed = AdmissionQueue(max_concurrency=3, max_queue=10, max_wait_ms=5000, latency_target_ms=None)
    fixed._observe(10_000.0)
    assert fixed.slots == 3
    # a lower limit admits fewer at once: the rest wait in line
    q.limit = 2.0
    gate = asyncio.Event()

    async def hold() -> None:
        async with q.slot():
            await gate.wait()

    tasks = [asyncio.create_task(hold()) for _ in range(3)]
    await asyncio.sleep(0)
    assert q.in_flight == 2 and q.waiting == 1
    gate.set()
    await asyncio.gather(*tasks)
    assert q.in_flight == 0 and q.waiting == 0


def test_service_time_window_ages_out() -> None:
    now = [0.0]
    st = ServiceTime(window=5, max_age_s=10.0, clock=lambda: now[0])
    for ms in (100.0, 200.0, 300.0, 400.0, 500.0, 600.0):
        st.observe(ms)
    assert st.mean == pytest.approx(400.0) and st.p99 == 600.0  # the last five
    now[0] = 5.0
    st.observe(10.0)
    now[0] = 12.0  # the first five are older than 10 s now
    st.refresh()
    assert st.mean == 10.0 and st.p99 == 10.0
    now[0] = 30.0
    st.refresh()
    assert st.mean is None and st.p99 is None and st.samples == 7


async def test_admission_is_fifo_and_passes_on_slots_of_waiters_that_left() -> None:
    q = AdmissionQueue(max_concurrency=1, max_queue=10, max_wait_ms=5000, latency_target_ms=None)
    order: list[int] = []
    gate = asyncio.Event()

    async def one(i: int) -> None:
        async with q.slot():
            order.append(i)
            if i == 0:
                await gate.wait()

    first = asyncio.create_task(one(0))
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(one(i)) for i in range(1, 5)]
    await asyncio.sleep(0)
    assert q.fill == pytest.approx(0.4)  # four of ten places in line taken
    waiters[1].cancel()  # number 2 gives up while waiting: its place is skipped, no slot is lost
    await asyncio.sleep(0)
    gate.set()
    await asyncio.gather(first, *waiters, return_exceptions=True)
    assert order == [0, 1, 3, 4]
    assert q.in_flight == 0 and q.waiting == 0
    async with q.slot() as waited:  # the one slot is free again
        assert waited < 1000.0


def test_admission_from_config_and_bad_bounds() -> None:
    s = ServingConfig(max_concurrency=3, max_queue=7, max_wait_ms=900, latency_target_ms=600)
    q = AdmissionQueue.from_config(s)
    assert (q.max_concurrency, q.max_queue, q.max_wait_ms, q.latency_target_ms) == (3, 7, 900, 600)
    assert q.wait_budget_ms() == pytest.approx(540.0)  # no service sample yet: the target less headroom
    with pytest.raises(ConfigError):
        AdmissionQueue(max_concurrency=0, max_queue=1, max_wait_ms=1)
    with pytest.raises(ConfigError):
        AdmissionQueue(max_concurrency=1, max_queue=1, max_wait_ms=1, latency_target_ms=0)


async def test_admission_without_unmeasured_wait_sheds_at_once_until_a_service_time_is_known() -> None:
    """The engine's overflow path: with every slot busy and no service time measured, a request is shed at once
    (it has somewhere else to go) instead of waiting blind for up to its budget (900 ms of a 1 s target)."""
    q = AdmissionQueue(max_concurrency=1, max_queue=10, max_wait_ms=5000, latency_target_ms=1000)
    release = asyncio.Event()
    holder = asyncio.create_task(_hold(q, release))
    await asyncio.sleep(0)
    t = time.perf_counter()
    with pytest.raises(OverloadedError, match="no service time is measured yet"):
        async with q.slot(unmeasured_wait=False):
            pass
    assert time.perf_counter() - t < 0.5 and q.shed_predicted == 1

    async def wait_blind() -> float:
        async with q.slot() as waited:  # the default waits for the slot
            return waited

    waiter = asyncio.create_task(wait_blind())
    await asyncio.sleep(0.05)
    assert not waiter.done() and q.waiting == 1
    release.set()
    await holder
    assert 40.0 <= await waiter < 1000.0 and q.in_flight == 0


def test_admission_caps_an_inprocess_llm_at_the_cores_it_can_use() -> None:
    """A CPU generator in this process caps the slots at cores // threads unless max_concurrency was set: the
    adaptive limit cannot see requests that start together slowing down alike (the demo's quality load run:
    8 admitted at once, 7 still running at the drain timeout)."""
    cores = len(os.sched_getaffinity(0))
    quality = PipelineConfig.load("quality")
    assert quality.generator.kind == "llama-cpp" and quality.serving.max_concurrency is None
    expected = max(1, cores // (quality.generator.threads or 1))
    assert inprocess_parallelism(quality) == expected
    q = AdmissionQueue.for_pipeline(quality)
    assert q.max_concurrency == min(8, expected) and q.slots == min(8, expected)
    one_thread = quality.with_overrides({"generator.threads": 1})
    assert AdmissionQueue.for_pipeline(one_thread).max_concurrency == min(8, cores)
    explicit = quality.with_overrides({"serving.max_concurrency": 6})
    assert AdmissionQueue.for_pipeline(explicit).max_concurrency == 6  # the user's setting wins
    assert AdmissionQueue.for_pipeline(quality.with_overrides({"serving.max_concurrency": 8})).max_concurrency == 8
    fast = PipelineConfig.load("fast")  # extractive: nothing to cap
    assert inprocess_parallelism(fast) is None and AdmissionQueue.for_pipeline(fast).max_concurrency == 8
    remote = fast.with_overrides({"generator.kind": "openai", "generator.base_url": "http://127.0.0.1:9/v1"})
    assert inprocess_parallelism(remote) is None  # the server's slots bound it; the adaptive limit finds them


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


async def test_micro_batcher_grows_batches_while_one_computes() -> None:
    """Texts that arrive while a batch computes wait for it and go out together (one batch in flight),
    instead of a small batch per max_wait_ms queueing behind the embedding thread."""
    sizes: list[int] = []
    started, finish = threading.Event(), threading.Event()

    def fn(texts: Sequence[str]) -> np.ndarray:
        sizes.append(len(texts))
        started.set()
        finish.wait(5)
        return np.zeros((len(texts), 2), dtype=np.float32)

    b = MicroBatcher(fn, max_batch=32, max_wait_ms=0)
    try:
        first = asyncio.create_task(b.embed("first"))
        await asyncio.to_thread(started.wait, 5)  # the first batch (one text) computes now
        later = []
        for i in range(10):  # ten arrivals spread over several max_wait_ms periods while it computes
            later.append(asyncio.create_task(b.embed(f"q{i}")))
            await asyncio.sleep(0.005)
        assert sizes == [1]
        finish.set()
        await asyncio.gather(first, *later)
    finally:
        b.close()
    assert sizes == [1, 10] and b.mean_batch == 5.5


async def test_micro_batcher_propagates_errors() -> None:
    def boom(texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("model down")

    b = MicroBatcher(boom, max_batch=4, max_wait_ms=1)
    try:
        with pytest.raises(RuntimeError, match="model down"):
            await b.embed("q")
        with pytest.raises(RuntimeError, match="model down"):  # the batcher is not stuck after a failure
            await b.embed("again")
    finally:
        b.close()


def test_degradation_escalates_and_recovers_with_hysteresis() -> None:
    now = [0.0]
    p = DegradationPolicy(DegradationConfig(slo_p95_ms=100, queue_high=0.5, queue_low=0.1, window_s=5,
                                            cooldown_s=1, max_level=4, min_samples=20), clock=lambda: now[0])
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


def test_degradation_needs_min_samples_for_the_latency_signal() -> None:
    """Issue 13.11: one slow request at idle (a p95 over a one-sample window) moves no level."""
    now = [0.0]
    p = DegradationPolicy(DegradationConfig(slo_p95_ms=100, window_s=10, cooldown_s=0, min_samples=5),
                          clock=lambda: now[0])
    p.force(2)
    now[0] = 1.0
    p.observe(5000.0)
    assert p.p95() is None
    assert p.update(0.0) == 1  # idle and no p95 yet: it recovers instead of escalating
    for _ in range(4):
        p.observe(5000.0)
    assert p.p95() is None  # the change cleared the window: four samples are still too few
    p.observe(5000.0)
    assert p.p95() == 5000.0
    now[0] = 2.0
    assert p.update(0.0) == 2  # five slow requests: that is a signal
    now[0] = 20.0  # the window passed: the samples age out
    assert p.p95() is None
    assert DegradationConfig().min_samples >= 10


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
    # every language model goes from level 2 on, the abstention gate's grounding model included
    assert [plans[lvl].grounding for lvl in DegradationLevel] == [True, True, False, False, False]
    assert [lvl.serves_misses for lvl in DegradationLevel] == [True, True, True, True, False]
    now = [0.0]
    for cache, top in ((False, DegradationLevel.EXTRACTIVE), (True, DegradationLevel.CACHE_ONLY)):
        p = DegradationPolicy(DegradationConfig(cooldown_s=0, max_level=4, min_samples=1), cache=cache,
                              clock=lambda: now[0])
        for _ in range(10):  # a full line for long: climbs to the lightest level that still serves misses
            now[0] += 1
            p.update(1.0)
        assert p.level is DegradationLevel.EXTRACTIVE and p.top is top
        now[0] += 1
        p.observe(10_000.0)  # the admitted requests miss the SLO too: only now is shedding every miss worth it
        assert p.update(1.0) is top
    with pytest.raises(ConfigError, match=r"cache\.enabled"):
        DegradationPolicy(DegradationConfig()).force(DegradationLevel.CACHE_ONLY)
    with pytest.raises(ConfigError, match="level must be one of"):
        DegradationPolicy(DegradationConfig()).force(7)


def test_policy_moves_only_between_levels_the_pipeline_makes_different() -> None:
    default = PipelineConfig.load("default")  # hybrid retrieval, extractive answers, no reranker
    assert distinct_levels(default, cache=False) == (DegradationLevel.FULL,)
    assert distinct_levels(default, cache=True) == (DegradationLevel.FULL, DegradationLevel.CACHE_ONLY)
    llm = default.with_overrides({"generator.kind": "openai", "generator.base_url": "http://127.0.0.1:9/v1",
                                  "reranker.kind": "embedding"})
    assert distinct_levels(llm, cache=False) == (DegradationLevel.FULL, DegradationLevel.NO_RERANKER,
                                                 DegradationLevel.EXTRACTIVE)
    small = llm.with_overrides({"serving.degradation.small_generator": {"kind": "extractive"}})
    assert DegradationLevel.SMALL_GENERATOR in distinct_levels(small, cache=False)
    now = [0.0]
    p = DegradationPolicy.for_pipeline(default, cache=False, clock=lambda: now[0])
    for _ in range(10):  # overloaded, but no level would do less: full service throughout
        now[0] += 10
        p.observe(10_000.0)
        assert p.update(1.0) is DegradationLevel.FULL
    assert p.changes == [] and p.top is DegradationLevel.FULL
    p = DegradationPolicy.for_pipeline(llm.with_overrides({"serving.degradation.cooldown_s": 0}), cache=True,
                                       clock=lambda: now[0])
    seen = []
    for _ in range(4):
        now[0] += 1
        for _ in range(25 if p.level < p.top else 0):  # no pipeline requests (no samples) at cache-only
            p.observe(10_000.0)
        seen.append(p.update(1.0))
    assert seen == [1, 3, 4, 4]  # small_generator (none configured) and nothing else skipped
    for _ in range(4):
        now[0] += 1
        seen.append(p.update(0.0))
    assert seen[-4:] == [3, 1, 0, 0]  # back down the same levels


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


async def test_a_primed_embedding_is_answered_once_without_a_model_call() -> None:
    from workbench.serving.batching import PRIMED, MicroBatcher

    calls: list[list[str]] = []

    def model(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.ones((len(texts), 3), dtype=np.float32)

    b = MicroBatcher(model, max_wait_ms=0)
    try:
        b.prime("gold card fee", np.zeros(3, dtype=np.float32))
        assert not (await b.embed("gold card fee")).any() and calls == [] and b.reused == 1
        assert (await b.embed("gold card fee")).all() and calls == [["gold card fee"]]  # used once only
        for i in range(PRIMED + 1):
            b.prime(f"q{i}", np.zeros(3, dtype=np.float32))
        assert (await b.embed("q0")).all()  # the oldest primed text was dropped past the bound
    finally:
        b.close()
