"""LoadTestDashboard: live numbers update while a run goes, Stop ends it early, results match the rows."""

from __future__ import annotations

import asyncio

import pytest

from workbench.dashboards import LiveRecorder, LoadTestDashboard
from workbench.errors import ConfigError
from workbench.loadtest import DelayTarget, LoadResult, TargetSender, Workload, WorkloadSpec
from workbench.serving.schema import ChatRequest, ChatResponse


class CachingTarget:
    """Every second request is an 'exact' cache hit."""

    def __init__(self) -> None:
        self.n = 0

    async def handle(self, request: ChatRequest) -> ChatResponse:
        self.n += 1
        hit = self.n % 2 == 0
        await asyncio.sleep(0.002)
        return ChatResponse(answer="ok", cache_layer="exact" if hit else None, tokens=1)


@pytest.fixture(scope="module")
def workload() -> Workload:
    return Workload(WorkloadSpec(seed=1))


async def test_live_updates_and_final_result(workload: Workload) -> None:
    dash = LoadTestDashboard(CachingTarget(), workload, rate=60, duration_s=2.0, refresh_s=0.2)  # 2 s: room for the
    # first refresh, which pays for the imports (on a loaded 2-core machine 1.2 s left only two live refreshes)
    snapshots: list[str] = []
    dash.stats.observe(lambda c: snapshots.append(c["new"]), names="value")
    result = await dash.run()
    assert dash.updates >= 3, "the numbers were refreshed while the run went (twice at least, then the final)"
    assert len(snapshots) >= 2
    assert dash.result is result and len(result) > 40 and not dash.stopped
    s = result.summary()
    assert s["cache_hit_rate"]["exact"] == pytest.approx(0.5, abs=0.05)
    assert "hit rate" in dash.stats.value and f">{s['requests']:,}<" in dash.stats.value    # a count, shown whole
    assert "latency percentiles: nearest-rank" in dash.stats.value and s["percentile_method"] == "nearest-rank"
    assert bytes(dash.chart.value).startswith(b"\x89PNG")
    assert "done" in dash.status.value and dash.progress.value == 1.0
    assert not dash.start_button.disabled and dash.stop_button.disabled


async def test_stop_button_ends_the_run_early_with_a_partial_result(workload: Workload) -> None:
    dash = LoadTestDashboard(DelayTarget(delay_s=0.005), workload, mode="closed", users=2, duration_s=30,
                             refresh_s=0.1, chart=False)
    task = dash.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20.0  # wait (bounded) until requests flow, however busy the machine is
    while (dash.recorder is None or len(dash.recorder.records) <= 10) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    assert dash.stop_button.disabled is False and dash.start_button.disabled is True
    t0 = asyncio.get_running_loop().time()
    dash.stop_button.click()
    result = await dash.wait()
    assert asyncio.get_running_loop().time() - t0 < 10.0  # far below the 30 s run: it stopped early
    assert task.done() and dash.stopped and result is not None
    assert result.meta["stopped"] is True and 10 < len(result) < 2000
    assert "stopped" in dash.status.value


async def test_controls_choose_the_runner(workload: Workload) -> None:
    dash = LoadTestDashboard(DelayTarget(), workload, chart=False)
    rec = LiveRecorder(TargetSender(DelayTarget()))
    dash.mode.value = "closed"
    dash.users.value = 3
    assert dash.runner(rec).users == 3  # type: ignore[union-attr]
    dash.mode.value = "open"
    dash.rate.value = 7.0
    dash.duration.value = 2.0
    assert dash.runner(rec).profile.peak_rate == pytest.approx(7.0)  # type: ignore[union-attr]


async def test_starting_twice_is_refused(workload: Workload) -> None:
    dash = LoadTestDashboard(DelayTarget(delay_s=0.01), workload, mode="closed", users=1, duration_s=5, chart=False)
    dash.start()
    await asyncio.sleep(0.05)
    with pytest.raises(ConfigError, match="already running"):
        dash.start()
    dash.stop()
    result = await dash.wait()
    assert isinstance(result, LoadResult) and result is dash.result
    assert result.meta["stopped"] is True and dash.stopped and result.summary()["errors"] == 0


def test_run_sync_without_a_loop(workload: Workload) -> None:
    result = LoadTestDashboard(DelayTarget(), workload, rate=50, duration_s=0.5, chart=False).run_sync()
    assert 5 < len(result) < 60 and result.summary()["errors"] == 0


def test_bad_arguments() -> None:
    with pytest.raises(ConfigError):
        LoadTestDashboard(object())
    with pytest.raises(ConfigError):
        LoadTestDashboard(DelayTarget(), refresh_s=0)


def test_counts_show_as_whole_numbers() -> None:
    import numpy as np

    from workbench.dashboards.render import stat_cards

    html = stat_cards([("requests", np.int64(262), ""), ("throughput", 14.25, "req/s"), ("errors", 0.5, "%")])
    assert ">262<" in html and "14.2 req/s" in html and "50.0%" in html and "262.0" not in html


async def test_capacity_dashboard_draws_each_step_and_the_point(workload: Workload) -> None:
    from workbench.dashboards.loadtest import CapacityDashboard
    from workbench.loadtest import SLO, SlotTarget

    dash = CapacityDashboard(SlotTarget(service_s=0.01, slots=2), SLO(e2el_ms=40), workload, step_s=0.6,
                             warmup=0.2, max_steps=4)
    charts: list[bytes] = []
    dash.chart.observe(lambda c: charts.append(c["new"]), names="value")
    cap = await dash.run()
    assert len(dash.rows) == len(cap.curve) >= 3
    assert [r["holds"] for r in dash.rows] == cap.curve["holds"].tolist()     # judged live as the search judged
    # redrawn by the notebook side as steps finish (a poll may see two at once), and once with the capacity point
    assert 2 <= len(charts) <= len(dash.rows) + 1 and all(bytes(c).startswith(b"\x89PNG") for c in charts)
    assert dash.warm_up is not None and dash.warm_up["requests"] == 20 and "cold start" in dash.warm_info.value
    assert "req/s under SLO(e2el_ms=40)" in dash.status.value or "no rate holds" in dash.status.value
    with pytest.raises(ConfigError):
        CapacityDashboard(object(), SLO(e2el_ms=1))


class ThreadTarget:
    """Answers after ``delay_s`` (the first answer after ``cold_s``: a model loading), noting the thread and loop."""

    def __init__(self, delay_s: float = 0.005, cold_s: float = 0.0) -> None:
        import threading

        self.delay_s, self.cold_s, self.calls = delay_s, cold_s, 0
        self.threads: set[int] = set()
        self.loops: set[int] = set()
        self._get_ident = threading.get_ident

    async def handle(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        self.threads.add(self._get_ident())
        self.loops.add(id(asyncio.get_running_loop()))
        await asyncio.sleep(self.cold_s if self.calls == 1 and self.cold_s else self.delay_s)
        return ChatResponse(answer="ok", tokens=1)


async def test_the_load_runs_off_the_notebook_loop_so_a_blocked_loop_does_not_delay_it(workload: Workload) -> None:
    """The notebook's loop blocked 200 ms at a time (a long redraw) while the load runs: the requests do not wait."""
    import threading
    import time

    target = ThreadTarget(delay_s=0.005)
    dash = LoadTestDashboard(target, workload, rate=50, duration_s=1.5, refresh_s=0.1, chart=False, warm_requests=0)
    task = dash.start()
    blocked = 0.0
    while not task.done():  # type: ignore[union-attr]
        time.sleep(0.2)     # the notebook's loop does nothing else meanwhile
        blocked += 0.2
        await asyncio.sleep(0.01)
    result = await dash.wait()
    assert result is not None and blocked >= 1.0
    assert target.threads and threading.get_ident() not in target.threads      # answered on another thread
    assert id(asyncio.get_running_loop()) not in target.loops
    assert result.summary()["latency_ms"]["p50"] < 100.0, "requests waited for the blocked notebook loop"
    assert result.meta["load_generator"].startswith("own event loop")


async def test_warm_up_is_sent_first_unmeasured_and_its_cold_start_shown_apart(workload: Workload) -> None:
    target = ThreadTarget(delay_s=0.002, cold_s=0.3)
    dash = LoadTestDashboard(target, workload, rate=40, duration_s=0.8, refresh_s=0.2, chart=False, warm_requests=6)
    result = await dash.run()
    warm = result.meta["warm_up"]
    assert warm["requests"] == 6 and warm["errors"] == 0 and warm["cold_start_ms"] >= 300.0
    assert warm["percentile_method"] == "nearest-rank" and warm["warm_p50_ms"] < warm["cold_start_ms"]
    assert target.calls == 6 + len(result) and len(result) == result.meta["scheduled_requests"]  # none measured
    assert "cold start (not measured)" in dash.warm_info.value and "nearest-rank" in dash.warm_info.value


async def test_an_error_in_the_runner_thread_shows_in_the_widget_and_is_raised(workload: Workload) -> None:
    class Broken:
        async def send(self, item: object) -> None:
            raise RuntimeError("the sender broke")

    dash = LoadTestDashboard(Broken(), workload, mode="closed", users=2, duration_s=2, chart=False, warm_requests=0)
    dash.start()
    with pytest.raises(RuntimeError, match="the sender broke"):
        await dash.wait()
    assert "wb-error" in dash.status.value and "the sender broke" in dash.status.value
    assert isinstance(dash.error, RuntimeError)
    assert not dash.start_button.disabled and dash.stop_button.disabled          # ready to run again


def test_background_run_result_error_and_cancel_before_it_starts() -> None:
    from workbench.dashboards.scheduling import BackgroundRun

    async def value() -> int:
        await asyncio.sleep(0)
        return 7

    async def boom() -> None:
        raise ValueError("boom")

    async def partial() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return "partial"
        return "full"

    assert BackgroundRun(value()).result(10) == 7
    with pytest.raises(ValueError, match="boom"):
        BackgroundRun(boom()).result(10)
    run = BackgroundRun(partial())
    run.cancel()                    # from this thread, maybe before its loop has started
    assert run.result(10) == "partial" and run.done()
    run.cancel()                    # after the end: nothing to cancel, no error


async def test_capacity_dashboard_stops_across_threads(workload: Workload) -> None:
    from workbench.dashboards.loadtest import CapacityDashboard
    from workbench.loadtest import SLO, SlotTarget

    dash = CapacityDashboard(SlotTarget(service_s=0.01, slots=2), SLO(e2el_ms=40), workload, step_s=1.0,
                             warmup=0.2, max_steps=30, chart=False, refresh_s=0.1, warm_requests=0)
    task = asyncio.get_running_loop().create_task(dash.run())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20.0
    while not dash.rows and loop.time() < deadline:
        await asyncio.sleep(0.05)
    assert dash.rows, "no step finished"
    dash.stop()
    assert await asyncio.wait_for(task, 15.0) is None
    assert "stopped" in dash.status.value and dash.capacity is None and dash.warm_up is None


async def test_sweep_mode_draws_the_sweep_curve_live(workload: Workload) -> None:
    from workbench.dashboards.loadtest import CapacityDashboard
    from workbench.loadtest import SLO, SlotTarget
    from workbench.loadtest.capacity import SweepResult

    dash = CapacityDashboard(SlotTarget(service_s=0.01, slots=2), SLO(e2el_ms=40), workload, mode="sweep", steps=3,
                             duration_s=0.5, warm_requests=0, refresh_s=0.1)
    statuses: list[str] = []
    dash.status.observe(lambda c: statuses.append(c["new"]), names="value")
    sw = await dash.run()
    assert isinstance(sw, SweepResult) and dash.capacity is sw
    assert [r["label"] for r in dash.rows] == list(sw.runs) and len(dash.rows) == 3
    assert all(isinstance(r["holds"], bool) for r in dash.rows)             # judged against the SLO as they came
    assert any(s.startswith("<b>step ") for s in statuses) and "sweep done: 3 steps" in dash.status.value
    assert bytes(dash.chart.value).startswith(b"\x89PNG")


def test_steps_from_elsewhere_are_drawn_with_the_capacity_point_so_far() -> None:
    import math

    import pandas as pd

    from workbench.dashboards.loadtest import CapacityDashboard, capacity_so_far
    from workbench.loadtest import SLO

    dash = CapacityDashboard(None, SLO(e2el_ms=100), refresh_s=0.1)
    steps = [{"label": "synchronous", "rate": None, "throughput_rps": 10.0, "slo_attainment": 1.0, "holds": True},
             {"label": "rate=10", "rate": 10.0, "throughput_rps": 10.0, "slo_attainment": 1.0, "holds": True},
             {"label": "rate=20", "rate": 20.0, "throughput_rps": 19.0, "slo_attainment": 0.99, "holds": True},
             {"label": "rate=40", "rate": 40.0, "throughput_rps": 25.0, "slo_attainment": 0.4, "holds": False},
             {"label": "rate=30", "rate": 30.0, "throughput_rps": 24.0, "slo_attainment": 0.7, "holds": False},
             {"label": "confirm 1.2x rate=24", "rate": 24.0, "throughput_rps": 23.0, "slo_attainment": 0.9,
              "holds": False}]
    assert capacity_so_far(steps[:3]) == (20.0, None)
    assert capacity_so_far(steps) == (20.0, 30.0)                         # the confirmation is not a search step
    for row in steps[:4]:
        dash.add_step(row)
    dash.show_steps()
    assert "step 4" in dash.status.value and "holds at 20 req/s, broke at 40 req/s" in dash.status.value
    first = bytes(dash.chart.value)
    assert first.startswith(b"\x89PNG")
    curve = pd.DataFrame([{**r, "goodput_rps": math.nan} for r in steps]).drop(columns=["label"])
    curve["run"] = [r["label"] for r in steps]                           # a SweepResult.curve names them 'run'
    dash.show_steps(curve, capacity_rps=20.0)
    assert len(dash.rows) == 6 and dash.rows[0]["label"] == "synchronous" and dash.rows[0]["goodput_rps"] is None
    assert "broke at 30 req/s" in dash.status.value and bytes(dash.chart.value) != first
    with pytest.raises(ConfigError, match="only draws"):
        dash.run_sync()
    with pytest.raises(ConfigError):
        CapacityDashboard(None, None)                                      # a capacity search needs an SLO
    with pytest.raises(ConfigError):
        CapacityDashboard(None, SLO(e2el_ms=1), mode="bisect")  # type: ignore[arg-type]
