"""The standard profiles (named as the field names them): arrival schedules checked statistically (seeded),
closed-loop streams, the measured window (warm-up and cool-down left out) and the stop conditions."""

import numpy as np
import pytest
from scipy import stats

from workbench.errors import ConfigError
from workbench.loadtest import DelayTarget, NoopTarget, Workload, WorkloadSpec
from workbench.loadtest.profiles import STANDARD_PROFILES, RunProfile, arrival_offsets, span_seconds
from workbench.loadtest.runners import ClosedLoopRunner, OpenLoopRunner, runner_for
from workbench.serving.schema import ChatRequest, ChatResponse


@pytest.fixture(scope="module")
def items() -> list:
    return Workload(WorkloadSpec(seed=5)).items(600)


def _gaps(name: str, rate: float, duration: float, seed: int, **kw: float) -> np.ndarray:
    p = RunProfile(name=name, rate=rate, duration_s=duration, **kw)
    return np.diff(arrival_offsets(p.curve(), process=p.arrivals, cv=p.cv, seed=seed))


def test_every_standard_name_is_a_profile() -> None:
    assert STANDARD_PROFILES == ("synchronous", "concurrent", "throughput", "constant", "poisson", "burstiness",
                                 "sweep", "ramp", "morning-peak")
    for name in STANDARD_PROFILES:
        p = RunProfile(name=name, rate=10, concurrency=3, duration_s=5)
        assert p.open_loop == (name in ("constant", "poisson", "burstiness", "ramp", "morning-peak"))
    assert RunProfile(name="synchronous").streams == 1
    assert RunProfile(name="concurrent", concurrency=7).streams == 7
    assert RunProfile(name="throughput").streams == 64


@pytest.mark.parametrize("bad", [dict(name="lunch"), dict(name="poisson"), dict(name="concurrent"),
                                 dict(name="sweep", steps=1), dict(name="constant", rate=5, duration_s=0)])
def test_bad_profiles_say_what_is_missing(bad: dict) -> None:
    with pytest.raises(ConfigError):
        RunProfile(**bad)


def test_constant_is_evenly_spaced_at_the_rate() -> None:
    g = _gaps("constant", 250, 8, seed=1)
    assert len(g) + 1 == 2000
    assert np.allclose(g, 1 / 250, rtol=1e-3)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_poisson_gaps_are_exponential_at_the_rate(seed: int) -> None:
    g = _gaps("poisson", 200, 30, seed=seed)
    n = len(g) + 1
    assert abs(n - 6000) < 4 * np.sqrt(6000)  # the count of a Poisson process: mean = variance = λT
    assert stats.kstest(g, "expon", args=(0, 1 / 200)).pvalue > 0.001
    assert np.std(g) / np.mean(g) == pytest.approx(1.0, abs=0.06)


@pytest.mark.parametrize("cv", [0.5, 2.0])
def test_burstiness_gaps_are_gamma_with_the_cv(cv: float) -> None:
    g = _gaps("burstiness", 200, 40, seed=9, cv=cv)
    assert np.mean(g) == pytest.approx(1 / 200, rel=0.15)
    shape = 1 / cv**2
    assert stats.kstest(g, "gamma", args=(shape, 0, 1 / (200 * shape))).pvalue > 0.001
    assert np.std(g) / np.mean(g) == pytest.approx(cv, rel=0.15)
    # and it is not exponential: a KS test tells them apart
    assert stats.kstest(g, "expon", args=(0, np.mean(g))).pvalue < 0.001


def test_ramp_and_morning_peak_counts_follow_the_curve() -> None:
    for name in ("ramp", "morning-peak"):
        p = RunProfile(name=name, rate=300, duration_s=20)
        t = arrival_offsets(p.curve(), seed=4)
        edges = np.arange(0, 21, 2.0)
        counts, _ = np.histogram(t, edges)
        expected = np.diff(p.curve().cumulative(edges))
        z = (counts - expected) / np.sqrt(np.maximum(expected, 1))
        assert np.all(np.abs(z) < 4.5), (name, z)
        chi2 = float(np.sum((counts - expected) ** 2 / np.maximum(expected, 1)))
        assert stats.chi2.sf(chi2, len(counts) - 1) > 0.001


def test_span_seconds_reads_fractions_and_seconds() -> None:
    assert span_seconds(0.1, 60) == pytest.approx(6.0)
    assert span_seconds(5, 60) == 5.0
    assert span_seconds(0, 60) == 0.0
    with pytest.raises(ConfigError):
        span_seconds(-1, 60)


async def test_runner_for_picks_the_loop(items: list) -> None:
    r = runner_for(RunProfile(name="burstiness", rate=100, duration_s=1, cv=2), NoopTarget(), items)
    assert isinstance(r, OpenLoopRunner) and r.arrivals == "gamma" and r.cv == 2
    c = runner_for(RunProfile(name="concurrent", concurrency=3, duration_s=0.3), DelayTarget(delay_s=0.002), items)
    assert isinstance(c, ClosedLoopRunner) and c.users == 3
    res = await c.run()
    assert set(res.df.worker) == {0, 1, 2} and res.meta["run_profile"]["name"] == "concurrent"
    s = await runner_for(RunProfile(name="synchronous", duration_s=0.2), DelayTarget(delay_s=0.002), items).run()
    assert set(s.df.worker) == {0}
    with pytest.raises(ConfigError):
        runner_for(RunProfile(name="sweep"), NoopTarget(), items)


class SlowStart:
    """50 ms per request for the first 0.5 s of the run (a cold cache), 1 ms after."""

    def __init__(self) -> None:
        self.t0: float | None = None

    async def handle(self, request: ChatRequest) -> ChatResponse:
        import asyncio
        import time

        now = time.perf_counter()
        self.t0 = self.t0 or now
        await asyncio.sleep(0.05 if now - self.t0 < 0.5 else 0.001)
        return ChatResponse(answer="x")


async def test_warmup_is_left_out_of_the_measured_window(items: list) -> None:
    profile = RunProfile(name="constant", rate=100, duration_s=2.0)
    whole = await runner_for(profile, SlowStart(), items).run()
    res = await runner_for(profile, SlowStart(), items, warmup=1, cooldown=0.125).run()  # 1 s, 1/8 of the run
    s, w = res.summary(), whole.summary()
    assert res.meta["measured"] == {"from_s": 1.0, "to_s": 1.75, "warmup_s": 1.0, "cooldown_s": 0.25}
    assert s["window_s"] == pytest.approx(0.75)
    assert s["requests"] == int(((res.df.scheduled_s >= 1.0) & (res.df.scheduled_s < 1.75)).sum())
    assert 70 <= s["requests"] <= 80 and len(res) > s["requests"]
    # the cold start (50 ms answers) shows only in the whole run (p50, not p99: a loaded machine stalls a few)
    assert s["latency_ms"]["p50"] < 20 and w["latency_ms"]["p99"] >= 50 > s["latency_ms"]["p50"]
    assert s["latency_ms"]["p99"] < w["latency_ms"]["p99"]
    # a fraction is a share of the run
    frac = await runner_for(profile, NoopTarget(), items, warmup=0.25).run()
    assert frac.meta["measured"]["from_s"] == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="no measured window"):
        runner_for(profile, NoopTarget(), items, warmup=1.5, cooldown=0.6)  # refused before it runs


async def test_max_errors_stops_the_run(items: list) -> None:
    class Broken:
        async def handle(self, request: ChatRequest) -> ChatResponse:
            raise RuntimeError("down")

    res = await runner_for(RunProfile(name="constant", rate=500, duration_s=2.0), Broken(), items,
                           max_errors=10).run()
    assert 10 <= len(res) < 100 and res.meta["stopped_by"] == "max_errors (10)"
    closed = await runner_for(RunProfile(name="concurrent", concurrency=2, duration_s=2.0), Broken(), items,
                              max_errors=5).run()
    assert 5 <= len(closed) <= 7 and "stopped_by" in closed.meta
    capped = await runner_for(RunProfile(name="poisson", rate=500, duration_s=2.0, max_requests=30), NoopTarget(),
                              items).run()
    assert len(capped) == 30


async def test_open_loop_never_slows_down_and_reports_lateness(items: list) -> None:
    # a server at 20 ms per request, 2 at a time (100 req/s) offered 200 req/s: the client keeps sending on time
    from workbench.loadtest.target import SlotTarget

    res = await runner_for(RunProfile(name="constant", rate=200, duration_s=1.0), SlotTarget(service_s=0.02, slots=2),
                           items).run()
    s = res.summary()
    assert s["requests"] == 200
    assert s["offered_rps"] == pytest.approx(200, rel=0.02)
    assert s["lateness_ms"]["max"] >= s["lateness_ms"]["p99"] >= s["lateness_ms"]["p50"]
    # the queue (about a second by the end) is in latency, not in when the client sent
    assert s["latency_ms"]["p99"] > 3 * s["lateness_ms"]["p99"]
    assert s["latency_ms"]["p99"] > 0.5 * res.df.service_ms.min() * 100


async def test_closed_loop_streams_pause_after_a_shed(items: list) -> None:
    from workbench.errors import OverloadedError

    class Shedding:
        async def handle(self, request: ChatRequest) -> ChatResponse:
            raise OverloadedError(retry_after=1)

    spin = await runner_for(RunProfile(name="concurrent", concurrency=2, duration_s=0.5), Shedding(), items,
                            shed_backoff_s=0.0).run()
    paced = await runner_for(RunProfile(name="concurrent", concurrency=2, duration_s=0.5), Shedding(), items).run()
    assert (paced.df.status == "shed").all() and len(paced) <= 2 * (0.5 / 0.1 + 1)
    assert len(spin) > 10 * len(paced)
