"""Capacity search on targets whose capacity is known by construction (a fixed service time, a fixed number
of slots), and the sweep. The effective service time is read from the search's own synchronous step (an
``asyncio.sleep`` overshoots by a fraction of a millisecond), never asserted as an absolute time."""

import asyncio

import pytest

from workbench.errors import ConfigError
from workbench.loadtest import Workload, WorkloadSpec
from workbench.loadtest.capacity import find_capacity, step_holds, sweep
from workbench.loadtest.stats import SLO
from workbench.loadtest.target import SlotTarget
from workbench.serving.schema import ChatRequest, ChatResponse


@pytest.fixture(scope="module")
def items() -> list:
    return [it for it in Workload(WorkloadSpec(seed=4)).items(3000) if it.references]


@pytest.mark.slow
async def test_capacity_of_slots_over_service_time(items: list) -> None:
    slots = 4
    cap = await find_capacity(SlotTarget(service_s=0.01, slots=slots), items, SLO(e2el_ms=30), step_s=1.2,
                              warmup=0.25, tolerance=0.05)
    sync = cap.curve.iloc[0]
    assert sync.profile == "synchronous" and sync.holds
    true_capacity = slots * sync.throughput_rps  # slots / the effective service time
    # within a bisection step below, never above (a shared 2-core machine stalls some steps: a false failure)
    assert 0.75 * true_capacity <= cap.rate_rps <= 1.05 * true_capacity, (cap.rate_rps, true_capacity)
    assert cap.broke_at_rps is not None and cap.broke_at_rps > cap.rate_rps
    assert not cap.curve.loc[cap.curve.rate >= 1.1 * true_capacity, "holds"].any()
    assert cap.curve.loc[cap.curve.rate <= 0.8 * true_capacity, "holds"].all()
    # Little's law: about `slots` busy at capacity (each request takes one service time)
    assert 2 <= cap.users <= slots + 2
    assert "users in flight" in cap.headline() and "req/s under SLO(e2el_ms=30)" in cap.headline()
    assert cap.to_dict()["curve"][0]["profile"] == "synchronous"


class Crowded:
    """Two slots of 10 ms; a request that finds both busy is answered at once, degraded and wrong (no queue)."""

    def __init__(self, items: list) -> None:
        self.gold = {it.request.question: it.references[0] for it in items}
        self.busy = 0

    async def handle(self, request: ChatRequest) -> ChatResponse:
        if self.busy >= 2:
            return ChatResponse(answer="Please call us.", degradation_level=3)
        self.busy += 1
        try:
            await asyncio.sleep(0.01)
        finally:
            self.busy -= 1
        return ChatResponse(answer=self.gold[request.question])


@pytest.mark.slow
async def test_quality_floor_caps_capacity_where_latency_would_not(items: list) -> None:
    # fast wrong answers keep every request within the SLO: only the quality floor finds the knee.
    # Above 2 / service time, a share (rate - capacity) / rate is degraded: correct >= 0.8 holds to 1.25x.
    cap = await find_capacity(Crowded(items), items, SLO(e2el_ms=1000), min_correct=0.8, step_s=1.2,
                              warmup=0.25, tolerance=0.08, retry_failed=False)
    true_capacity = 2 * cap.curve.iloc[0].throughput_rps
    assert true_capacity * 0.85 <= cap.rate_rps <= true_capacity * 1.3, (cap.rate_rps, true_capacity)
    failed = cap.curve[~cap.curve.holds]
    assert len(failed) and failed.why.str.startswith("correct share").all()
    assert (cap.curve.slo_attainment > 0.99).all()
    without_floor = step_holds({"slo_attainment": 1.0, "correct_share": 0.1}, attainment=0.95, min_correct=None)
    assert without_floor == (True, "holds")


async def test_no_capacity_when_one_at_a_time_misses_the_slo(items: list) -> None:
    cap = await find_capacity(SlotTarget(service_s=0.02, slots=1), items, SLO(e2el_ms=5), step_s=0.3)
    assert cap.rate_rps == 0 and cap.users == 0 and len(cap.curve) == 1
    assert cap.headline().startswith("no rate holds")
    with pytest.raises(ConfigError):
        await find_capacity(SlotTarget(service_s=0.02, slots=1), items, SLO(), step_s=0.3)


async def test_sweep_runs_synchronous_throughput_and_the_rates_between(items: list) -> None:
    res = await sweep(SlotTarget(service_s=0.005, slots=3), items, steps=4, duration_s=0.5, concurrency=8,
                      slo=SLO(e2el_ms=50))
    assert res.curve.profile.tolist() == ["synchronous", "throughput", "constant", "constant"]
    sync, thr = res.curve.throughput_rps.iloc[0], res.curve.throughput_rps.iloc[1]
    assert 2 * sync < thr < 3.3 * sync  # three slots
    rates = res.curve.rate.iloc[2:].tolist()
    assert sync < rates[0] < rates[1] < thr
    assert set(res.runs) == set(res.curve.run)


class ColdStart:
    """The first request loads a model (0.6 s); then 5 ms each."""

    def __init__(self) -> None:
        self.calls = 0

    async def handle(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        await asyncio.sleep(0.6 if self.calls == 1 else 0.005)
        return ChatResponse(answer="ok")


async def test_warm_up_keeps_a_cold_start_out_of_the_first_step(items: list) -> None:
    cold = await find_capacity(ColdStart(), items, SLO(e2el_ms=50), step_s=0.4, warmup=0.25, max_steps=1)
    assert cold.rate_rps == 0 and len(cold.curve) == 1  # the synchronous step saw only the cold request
    warm_target = ColdStart()
    warm = await find_capacity(warm_target, items, SLO(e2el_ms=50), step_s=0.4, warmup=0.25, max_steps=1,
                               warm_requests=4)
    assert warm.curve.iloc[0].holds and warm.rate_rps > 0 and warm_target.calls > 4
