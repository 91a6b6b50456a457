"""The in-process runners against in-process targets (bounded runs; no timing thresholds)."""

import asyncio
import time

import numpy as np
import pytest

from workbench.errors import InputError, OverloadedError
from workbench.loadtest import (
    BlockingTarget,
    ClosedLoopRunner,
    DelayTarget,
    LoadProfile,
    NoopTarget,
    OpenLoopRunner,
    Workload,
    WorkloadSpec,
    concurrency_sweep,
    saturation_point,
)
from workbench.serving.schema import ChatRequest, ChatResponse


@pytest.fixture(scope="module")
def items() -> list:
    return Workload(WorkloadSpec(seed=2, stream_share=0.5)).items(400)


class CountingTarget:
    """Counts concurrent calls; sheds every 5th and rejects every 7th."""

    def __init__(self, delay_s: float = 0.005) -> None:
        self.delay_s, self.in_flight, self.max_in_flight, self.calls = delay_s, 0, 0, 0

    async def handle(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        n = self.calls
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
            if n % 5 == 0:
                raise OverloadedError(retry_after=2)
            if n % 7 == 0:
                raise InputError("bad")
            return ChatResponse(answer="x", tokens=3, cache_layer="exact" if n % 2 else None)
        finally:
            self.in_flight -= 1


async def test_open_loop_sends_the_whole_schedule(items: list) -> None:
    runner = OpenLoopRunner(NoopTarget(), items, LoadProfile.steady(2000, 0.5), seed=3)
    res = await runner.run()
    assert len(res) == len(runner.offsets)
    assert (res.df.status == "ok").all()
    assert np.allclose(np.sort(res.df.scheduled_s.to_numpy()) - res.df.scheduled_s.min(),
                       runner.offsets - runner.offsets[0], atol=1e-6)
    assert (res.df.wait_ms >= -0.1001).all()  # never more than 0.1 ms early
    assert res.meta["runner"] == "open-loop" and res.meta["profile"]["name"] == "steady"


async def test_open_loop_latency_counts_queueing_from_the_scheduled_start(items: list) -> None:
    # a sync server of 10 ms per request offered 200 req/s for 0.5 s: it can do ~100 req/s, so a queue builds
    target = BlockingTarget(lambda r: (time.sleep(0.01), ChatResponse(answer="x"))[1])
    res = await OpenLoopRunner(target, items, LoadProfile.steady(200, 0.5), arrivals="uniform").run()
    df = res.df.sort_values("scheduled_s")
    assert (df.latency_ms >= df.service_ms - 1e-6).all()
    late = df.tail(10)
    assert late.latency_ms.median() > 5 * late.service_ms.median()  # the queue shows in latency
    assert df.latency_ms.iloc[-1] > df.latency_ms.iloc[0]


async def test_closed_loop_bounds_concurrency_and_counts_outcomes(items: list) -> None:
    target = CountingTarget()
    res = await ClosedLoopRunner(target, items, users=4, max_requests=70).run()
    assert len(res) == 70 and target.calls == 70
    assert target.max_in_flight == 4
    s = res.summary()
    assert s["shed"] == 14 and s["errors"] == 10 - 2  # every 5th shed; every 7th rejected unless also a 5th
    assert res.df.loc[res.df.status == "shed", "error"].str.contains("retry after 2").all()
    assert res.df.loc[res.df.status == "error", "error"].str.startswith("invalid_request").all()
    assert set(res.df.worker) == {0, 1, 2, 3}
    assert s["cache_hit_rate"]["exact"] > 0


async def test_closed_loop_duration_and_think_time(items: list) -> None:
    res = await ClosedLoopRunner(DelayTarget(delay_s=0.001), items, users=3, think_s=0.05, think="constant",
                                 duration_s=0.4).run()
    per_user = res.df.groupby("worker").size()
    assert len(per_user) == 3
    assert per_user.max() <= 0.4 / 0.05 + 2  # think time paces each user


async def test_streaming_records_ttft_and_tpot(items: list) -> None:
    target = DelayTarget(delay_s=0.01, tokens=6, tpot_s=0.002)
    res = await ClosedLoopRunner(target, items, users=4, max_requests=40).run()
    st = res.df[res.df.stream]
    assert len(st) > 0 and (st.tokens == 6).all()
    assert (st.ttft_ms < st.latency_ms).all()
    assert (st.tpot_ms > 0).all()
    ns = res.df[~res.df.stream]
    assert (ns.ttft_ms == ns.latency_ms).all() and ns.tpot_ms.isna().all()


async def test_unfinished_requests_are_recorded_at_the_drain_timeout(items: list) -> None:
    class Hang:
        async def handle(self, request: ChatRequest) -> ChatResponse:
            await asyncio.sleep(3600)
            raise AssertionError

    res = await OpenLoopRunner(Hang(), items, LoadProfile.steady(50, 0.1), drain_timeout_s=0.1).run()
    assert len(res) > 0 and (res.df.status == "error").all()
    assert res.df.error.str.startswith("unfinished").all()


def test_run_sync_and_sweep(items: list) -> None:
    table = concurrency_sweep(DelayTarget(delay_s=0.005), items, levels=(1, 4), max_requests=40)
    assert table.concurrency.tolist() == [1, 4]
    assert table.requests.tolist() == [40, 40]
    assert table.throughput_rps.iloc[1] > table.throughput_rps.iloc[0]  # 4 users overlap their sleeps
    assert saturation_point(table) == 4


def test_sync_vs_async_and_compare_table(items: list) -> None:
    from workbench.loadtest import compare_results, sync_vs_async

    def answer(request: ChatRequest) -> ChatResponse:
        time.sleep(0.005)  # blocking work that releases the GIL, like a model call
        return ChatResponse(answer="x")

    runs = sync_vs_async(answer, items, users=4, max_requests=40, workers=4)
    table = compare_results(runs)
    assert list(table.index) == ["sync", "async"] and (table.requests == 40).all()
    # on the loop, requests run one at a time: the sync side's service time includes the others' work
    assert table.loc["async", "throughput_rps"] > 1.5 * table.loc["sync", "throughput_rps"]
