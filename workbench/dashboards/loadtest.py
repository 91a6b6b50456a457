"""A live load-test dashboard: throughput, latency percentiles and cache hit rates while the test runs.

The runner is the library's (:func:`~workbench.loadtest.runner_for`: the one ``workbench loadtest``
uses, open loop ``poisson`` at a rate or closed loop ``concurrent`` with users) and it runs **off the
notebook's event loop**: on its own loop in a daemon thread (:class:`~workbench.dashboards.scheduling.
BackgroundRun`), so widget redraws never delay a request (on the notebook's loop they did: p50 212 ms
against 6.8 ms from the CLI for the same preset). The target must work from any loop: an
:class:`~workbench.loadtest.EngineThread` (what ``make_inprocess_target`` returns), an ``HttpSender``
(its connection pool is made on the runner's loop), or a loop-free fake. The dashboard wraps the sender
in a :class:`LiveRecorder` that hands each answer over under a lock; every ``refresh_s`` the notebook
side reads what has been answered and recomputes the numbers with :meth:`LoadResult.summary` (latency
from each request's actual start while live; the final numbers are the runner's own result, from the
scheduled start). Before the measured run, ``warm_requests`` unmeasured requests
(:func:`~workbench.loadtest.warm_up`, from the workload under the next seed, so they share cache entries
with the run only by chance) load the models; the first request's time is shown apart as the cold start
(``result.meta["warm_up"]``). *Stop* cancels the run across threads; the requests answered until then
become the result (``meta["stopped"] = True``). An error in the runner's thread shows in the status line
and is raised by :meth:`LoadTestDashboard.wait`.

:class:`CapacityDashboard` runs a capacity search (``mode="capacity"``) or a sweep (``mode="sweep"``) and
draws its curve step by step: offered rate against throughput, goodput and correct goodput, SLO attainment,
and the capacity point live (the highest rate that held so far, and the lowest that broke); the search runs
off the notebook's loop too, after the same unmeasured warm-up. It also draws steps run elsewhere:
:meth:`CapacityDashboard.add_step` takes one step's summary (a row of ``CapacityResult.curve`` or
``SweepResult.curve``, or :func:`step_row` of a finished run) and :meth:`CapacityDashboard.show_steps` a
whole sequence (``capacity.json``'s ``curve``).

```python
dash = LoadTestDashboard(make_inprocess_target(cfg), rate=20, duration_s=10)
dash                      # in a notebook: press Start (or dash.start()), watch, press Stop
result = await dash.wait()
cap = await CapacityDashboard(target, SLO(e2el_ms=1500), min_correct=0.8).run()
sw = await CapacityDashboard(target, SLO(e2el_ms=1500), mode="sweep", steps=5, duration_s=5).run()
CapacityDashboard(None, SLO(e2el_ms=1500)).show_steps(json.load(open("runs/cap/capacity.json"))["curve"])
```
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import Sequence
from typing import Any, Literal

import ipywidgets as widgets

from workbench.dashboards.render import escape, stat_cards
from workbench.dashboards.scheduling import BackgroundRun, run_sync, schedule
from workbench.errors import ConfigError
from workbench.loadtest import (
    COLUMNS,
    SLO,
    ClosedLoopRunner,
    LoadResult,
    OpenLoopRunner,
    Outcome,
    RunProfile,
    TargetSender,
    WorkItem,
    Workload,
    runner_for,
)
from workbench.loadtest.capacity import step_holds, warm_up
from workbench.percentiles import PERCENTILE_METHOD, percentile

__all__ = ["WARM_REQUESTS", "CapacityDashboard", "LiveRecorder", "LoadTestDashboard", "capacity_so_far", "curve_png",
           "step_row", "warm_summary"]

_NS = time.perf_counter_ns
#: Unmeasured requests a dashboard sends before it measures (as many as ``workbench loadtest`` before a sweep).
WARM_REQUESTS = 20
#: While live, the chart takes at most this share of the notebook thread's time: a redraw costs 150-350 ms
#: of matplotlib on a busy 2-core machine, holding the GIL the load's thread needs; the cards update every refresh.
_CHART_SHARE = 0.1
#: ... and the numbers at most this share: rebuilding them from every answer so far grows with the run.
_LIVE_SHARE = 0.25


class LiveRecorder:
    """A :class:`~workbench.loadtest.Sender` that passes each item on and records what came back, as it comes.

    Records are appended on the runner's thread and read from another (the notebook's) under a lock:
    :meth:`snapshot` and :meth:`result` are safe from any thread. ``close_inner=False`` leaves the inner
    sender open when a runner closes this one (a warm-up before the measured run).

    ```python
    rec = LiveRecorder(TargetSender(target)); OpenLoopRunner(rec, workload, profile).run_sync(); rec.result()
    ```
    """

    def __init__(self, inner: Any, *, close_inner: bool = True) -> None:
        self.inner = inner
        self.close_inner = close_inner
        self.records: list[tuple[WorkItem, int, int, Outcome]] = []
        self.t0 = _NS()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LiveRecorder({self.inner!r})"

    async def send(self, item: WorkItem) -> Outcome:
        """Send through the inner sender and record (item, start, end, outcome)."""
        start = _NS()
        out = await self.inner.send(item)
        end = _NS()
        with self._lock:
            self.records.append((item, start, end, out))
        return out

    async def aclose(self) -> None:
        """Close the inner sender when it can be closed (and ``close_inner``)."""
        close = getattr(self.inner, "aclose", None)
        if close is not None and self.close_inner:
            await close()

    def snapshot(self) -> list[tuple[WorkItem, int, int, Outcome]]:
        """A copy of the records so far: ``(item, start_ns, end_ns, outcome)`` in the order they answered."""
        with self._lock:
            return list(self.records)

    def result(self, **meta: Any) -> LoadResult:
        """The requests answered so far as a :class:`LoadResult` (latency from the actual start)."""
        rows = []
        for item, start, end, o in self.snapshot():
            req = item.request
            first = o.first_token_ns or end
            s, e, f = (start - self.t0) / 1e9, (end - self.t0) / 1e9, (first - self.t0) / 1e9
            tpot = (end - first) / 1e6 / (o.tokens - 1) if o.first_token_ns and o.tokens > 1 else None
            rows.append({
                "index": item.index, "intent": item.intent, "kind": item.kind, "tenant": req.tenant, "user": req.user,
                "session": req.session, "stream": req.stream, "worker": -1, "scheduled_s": s, "start_s": s,
                "first_token_s": f, "end_s": e, "latency_ms": (end - start) / 1e6, "service_ms": (end - start) / 1e6,
                "wait_ms": 0.0, "ttft_ms": (first - start) / 1e6, "tokens": o.tokens, "tpot_ms": tpot,
                "status": o.status, "http_status": o.http_status, "cache_layer": o.cache_layer, "variant": o.variant,
                "degradation_level": o.degradation_level, "simulated": o.simulated, "error": o.error,
                "itl_max_ms": o.itl_max_ns / 1e6 if o.itl_max_ns else None, "answer": o.answer,
            })
        base = {"runner": "live", "latency_from": "actual start", "environment": {}}
        if not rows:
            import pandas as pd

            return LoadResult(pd.DataFrame(columns=list(COLUMNS)), {**base, **meta})
        return LoadResult.from_rows(rows, {**base, **meta})


class LoadTestDashboard(widgets.VBox):
    """Controls (mode, rate or users, duration), Start/Stop, and live numbers; see the module docstring.

    ``target`` is an in-process target (``handle(request)``) that works from any event loop (an
    :class:`~workbench.loadtest.EngineThread`) or a sender (``send(item)``, e.g. ``HttpSender``).
    ``workload`` defaults to ``Workload()`` (the bank dataset, Zipf popularity). ``warm_requests``
    unmeasured requests go first (0: none); ``arrivals`` is the open loop's arrival process (``poisson``
    as ``workbench loadtest --rate``).

    ```python
    dash = LoadTestDashboard(target, mode="closed", users=4, duration_s=5); result = dash.run_sync()
    ```
    """

    def __init__(self, target: Any, workload: Workload | Sequence[WorkItem] | None = None, *,
                 mode: Literal["open", "closed"] = "open", rate: float = 10.0, users: int = 4,
                 duration_s: float = 10.0, slo: SLO | None = None, refresh_s: float = 0.5, chart: bool = True,
                 seed: int = 0, warm_requests: int = WARM_REQUESTS,
                 arrivals: Literal["poisson", "constant"] = "poisson") -> None:
        if not (callable(getattr(target, "handle", None)) or callable(getattr(target, "send", None))):
            raise ConfigError("target needs async handle(request) or send(item)", field="target")
        _refuse_loop_bound(target)
        if refresh_s <= 0:
            raise ConfigError("refresh_s must be > 0", field="refresh_s")
        if warm_requests < 0:
            raise ConfigError("warm_requests must be >= 0", field="warm_requests")
        self.target = target
        self.workload = workload
        self.slo, self.refresh_s, self.chart_enabled, self.seed = slo, refresh_s, chart, seed
        self.warm_requests, self.arrivals = warm_requests, arrivals
        self.result: LoadResult | None = None
        self.recorder: LiveRecorder | None = None
        self.warm_recorder: LiveRecorder | None = None
        self.error: BaseException | None = None
        self.stopped = False
        self.updates = 0
        self._task: asyncio.Task[Any] | None = None
        self._run: BackgroundRun[tuple[LoadResult, bool]] | None = None
        self._measuring = False
        self.mode = widgets.ToggleButtons(options=[("open loop (rate)", "open"), ("closed loop (users)", "closed")],
                                          value=mode)
        self.rate = widgets.BoundedFloatText(value=rate, min=0.1, max=100_000, description="req/s")
        self.users = widgets.BoundedIntText(value=users, min=1, max=10_000, description="users")
        self.duration = widgets.BoundedFloatText(value=duration_s, min=0.5, max=86_400, description="seconds")
        self.start_button = widgets.Button(description="Start", button_style="success", icon="play")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="elapsed")
        self.status = widgets.HTML("<i>ready</i>")
        self.warm_info = widgets.HTML("")
        self.stats = widgets.HTML(stat_cards(self._cards(None)))
        self.chart = widgets.Image(format="png")
        self.start_button.on_click(lambda _b: self.start())
        self.stop_button.on_click(lambda _b: self.stop())
        super().__init__(children=[
            self.mode, widgets.HBox([self.rate, self.users, self.duration]),
            widgets.HBox([self.start_button, self.stop_button, self.progress]), self.status, self.warm_info,
            self.stats, self.chart,
        ])
        self.add_class("wb-loadtest")

    def __repr__(self) -> str:
        return f"LoadTestDashboard({self.target!r}, mode={self.mode.value})"

    # -- running ------------------------------------------------------------------------------------------
    def runner(self, recorder: LiveRecorder) -> OpenLoopRunner | ClosedLoopRunner:
        """The runner the current control values describe, sending through ``recorder``: the standard profile
        ``workbench loadtest`` runs (``--rate R`` poisson, or ``--concurrency N``), built by the same
        :func:`~workbench.loadtest.runner_for`."""
        workload = self.workload if self.workload is not None else Workload()
        duration = float(self.duration.value)
        if self.mode.value == "open":
            profile = RunProfile(name=self.arrivals, rate=float(self.rate.value), duration_s=duration)
        else:
            profile = RunProfile(name="concurrent", concurrency=int(self.users.value), duration_s=duration)
        return runner_for(profile, recorder, workload, seed=self.seed, slo=self.slo,  # type: ignore[return-value]
                          label="dashboard")

    async def _generate(self, runner: OpenLoopRunner | ClosedLoopRunner,
                        rec: LiveRecorder) -> tuple[LoadResult, bool]:
        """On the runner's own loop: the warm-up, then the measured run; ``(result, stopped)``."""
        try:
            if self.warm_requests:
                self.warm_recorder = warm = LiveRecorder(rec.inner, close_inner=False)
                await warm_up(warm, _reseeded(runner.workload), self.warm_requests)
            rec.t0 = _NS()
            self._measuring = True
            return await runner.run(), False
        except asyncio.CancelledError:
            await rec.aclose()
            return rec.result(stopped=True, label="dashboard (stopped)"), True

    async def run(self) -> LoadResult:
        """Run one load test with live updates; the runner's result, or the partial one after :meth:`stop`.

        :returns: the :class:`LoadResult` (``meta["warm_up"]``: the warm-up and its cold start).
        :raises Exception: what the runner raised in its thread (also shown in the status line).
        """
        inner = self.target if callable(getattr(self.target, "send", None)) else TargetSender(self.target)
        self.recorder = rec = LiveRecorder(inner)
        runner = self.runner(rec)
        self.result, self.stopped, self.updates, self.error = None, False, 0, None
        self.warm_recorder, self._measuring = None, False
        self.warm_info.value = ""
        self.progress.value = 0.0
        self._set_running(True)
        duration = float(self.duration.value)
        running = f"<b>running</b> {escape(self.mode.value)} loop for {duration:g} s"
        self.status.value = (f"<b>warming up</b>: {self.warm_requests} unmeasured requests" if self.warm_requests
                             else running)
        self._run = bg = BackgroundRun(self._generate(runner, rec), name="wb-loadtest")
        done = asyncio.wrap_future(bg.future)
        announced, chart_due, live_due = False, 0, 0
        try:
            while not done.done():
                await asyncio.wait({done}, timeout=self.refresh_s)
                if self._measuring:
                    if not announced:
                        announced = True
                        self.status.value = running
                        self._show_warm_up()
                    self.progress.value = min(1.0, (_NS() - rec.t0) / 1e9 / duration)
                    began = _NS()
                    if began < live_due:
                        continue
                    draw = self.chart_enabled and began >= chart_due
                    self.refresh(rec.result(), chart=draw)
                    spent = _NS() - began
                    if draw:  # each budget is paid by its own cost: the numbers' without the chart
                        chart_due = began + int(spent / _CHART_SHARE)
                    else:
                        live_due = began + int(spent / _LIVE_SHARE)
            result, self.stopped = done.result()
        except asyncio.CancelledError:
            bg.cancel()  # the notebook's task was cancelled: the load stops too
            raise
        except Exception as exc:
            self.error = exc
            self.status.value = _error(f"the load test failed: {type(exc).__name__}: {exc}")
            raise
        finally:
            self._set_running(False)
        warm = self._show_warm_up()
        if warm is not None:
            result.meta["warm_up"] = warm
        result.meta["load_generator"] = "own event loop in a thread (off the notebook's loop)"
        if self.stopped:
            self.status.value = f"<b>stopped</b> after {len(result)} answered requests"
        else:
            self.progress.value = 1.0
            self.status.value = f"<b>done</b>: {len(result)} requests"
        self.result = result
        self.refresh(result)
        return result

    def _show_warm_up(self) -> dict[str, Any] | None:
        return _show_warm_up(self.warm_recorder, self.warm_info)

    def start(self) -> asyncio.Task[LoadResult] | LoadResult:
        """Start a run: a task on the running loop (a notebook), or run to completion without one."""
        if self._task is not None and not self._task.done():
            raise ConfigError("a load test is already running; stop it first", field="start")
        task = schedule(self.run())
        if isinstance(task, asyncio.Task):
            self._task = task
            # a failure is shown in the widget and raised by wait(); a button's task is never awaited
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return task

    def stop(self) -> None:
        """Cancel the running test from any thread (the answered requests are kept as the result)."""
        if self._run is not None and not self._run.done():
            self._run.cancel()
            self.status.value = "<i>stopping…</i>"

    async def wait(self) -> LoadResult | None:
        """The result of the run started by :meth:`start` (None if none was started).

        :raises Exception: what the run raised.
        """
        if self._task is None:
            return self.result
        return await self._task

    def run_sync(self) -> LoadResult:
        """:meth:`run` from synchronous code."""
        return run_sync(self.run())

    def _set_running(self, running: bool) -> None:
        self.start_button.disabled = running
        self.stop_button.disabled = not running
        for w in (self.mode, self.rate, self.users, self.duration):
            w.disabled = running

    # -- views ----------------------------------------------------------------------------------------------
    def _cards(self, summary: dict[str, Any] | None) -> list[tuple[str, Any, str]]:
        s = summary or {}
        lat = s.get("latency_ms", {})
        hits = s.get("cache_hit_rate", {})
        cards: list[tuple[str, Any, str]] = [
            ("requests", s.get("requests"), ""), ("throughput", s.get("throughput_rps"), "req/s"),
            ("p50", lat.get("p50"), "ms"), ("p95", lat.get("p95"), "ms"), ("p99", lat.get("p99"), "ms"),
            ("hit rate", hits.get("any"), "%"), ("exact hits", hits.get("exact"), "%"),
            ("semantic hits", hits.get("semantic"), "%"), ("errors", s.get("error_rate"), "%"),
            ("shed", s.get("shed_rate"), "%"),
        ]
        if "goodput_rps" in s:
            cards.append(("goodput", s["goodput_rps"], "req/s"))
        return cards

    def refresh(self, result: LoadResult, *, chart: bool | None = None) -> dict[str, Any] | None:
        """Show ``result``'s numbers (and chart: ``chart`` or by default when the dashboard has one); returns its
        summary (None while nothing has answered)."""
        self.updates += 1
        if len(result) == 0:
            return None
        summary = result.summary(self.slo)
        self.stats.value = (stat_cards(self._cards(summary))
                            + f'<div style="font-size:11px;color:#666">latency percentiles: {PERCENTILE_METHOD}</div>')
        if self.chart_enabled if chart is None else chart:
            self.chart.value = _timeseries_png(result)
        return summary


def warm_summary(recorder: LiveRecorder | None) -> dict[str, Any] | None:
    """A warm-up's numbers from its recorder (None when it sent nothing).

    :param recorder: the :class:`LiveRecorder` the warm-up sent through.
    :returns: ``requests``, ``errors``, ``seconds`` (first start to last answer), ``cold_start_ms`` (the time of
        the first request sent: models loading, pools filling), ``warm_p50_ms`` (the p50 of the second half of
        the warm-up's requests in the order sent, by ``percentile_method``).
    """
    recs = sorted(recorder.snapshot() if recorder is not None else [], key=lambda r: r[1])  # in the order sent
    if not recs:
        return None
    lat = [(end - start) / 1e6 for _, start, end, _ in recs]
    return {"requests": len(recs), "errors": sum(o.status != "ok" for *_, o in recs),
            "seconds": (max(r[2] for r in recs) - min(r[1] for r in recs)) / 1e9, "cold_start_ms": lat[0],
            "warm_p50_ms": percentile(lat[len(lat) // 2:], 50), "percentile_method": PERCENTILE_METHOD}


def _show_warm_up(recorder: LiveRecorder | None, view: widgets.HTML) -> dict[str, Any] | None:
    """Show the warm-up's cold start apart from the measured numbers; its :func:`warm_summary`."""
    warm = warm_summary(recorder)
    if warm is not None:
        view.value = (
            f'<div class="wb-warmup" style="font-size:12px;color:#555">cold start (not measured): first request '
            f"{warm['cold_start_ms']:,.1f} ms; warm-up {warm['requests']} requests in {warm['seconds']:.1f} s, "
            f"p50 of its second half {warm['warm_p50_ms']:,.1f} ms ({PERCENTILE_METHOD})</div>")
    return warm


def _reseeded(workload: Workload | Sequence[WorkItem]) -> Workload | Sequence[WorkItem]:
    """The warm-up's workload: ``workload`` under the next seed (its answers prime no cache entry for the
    measured run's own draws beyond chance); a list of items is used as it is."""
    if isinstance(workload, Workload):
        return Workload(workload.spec.model_copy(update={"seed": workload.spec.seed + 1}))
    return workload


def _refuse_loop_bound(target: Any) -> None:
    """An :class:`~workbench.serving.AsyncEngine` belongs to the loop it started on; the load runs on another."""
    from workbench.serving.engine import AsyncEngine

    if isinstance(target, AsyncEngine):
        raise ConfigError("an AsyncEngine is bound to its own event loop and the dashboard's load runs on another: "
                          "pass EngineThread(engine) or make_inprocess_target(cfg)", field="target")


def _error(text: str) -> str:
    """A visible error line for the status area."""
    return f'<span class="wb-error" style="color:#c0392b">{escape(text)}</span>'


def _timeseries_png(result: LoadResult) -> bytes:
    """Throughput and latency p50/p99 per second, as PNG (matplotlib's object API: no pyplot, no backend switch)."""
    from matplotlib.figure import Figure

    ts = result.timeseries()
    fig = Figure(figsize=(7.5, 2.4))
    ax1, ax2 = fig.subplots(1, 2)
    t = ts["t_s"] - ts["t_s"].min() if len(ts) else ts["t_s"]
    ax1.plot(t, ts["throughput_rps"], color="tab:blue")
    ax1.set_title("throughput (req/s)", fontsize=9)
    ax2.plot(t, ts["latency_p50_ms"], label="p50", color="tab:green")
    ax2.plot(t, ts["latency_p99_ms"], label="p99", color="tab:red")
    ax2.set_title(f"latency (ms, {PERCENTILE_METHOD})", fontsize=9)
    ax2.legend(fontsize=7)
    return _png(fig, (ax1, ax2), "s")


def _png(fig: Any, axes: tuple[Any, ...], xlabel: str) -> bytes:
    """Label the x axes, lay the figure out and return it as PNG bytes."""
    for ax in axes:
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def step_row(label: str, result: LoadResult, slo: SLO | None, *, attainment: float = 0.95,
             min_correct: float | None = None) -> dict[str, Any]:
    """One finished step's summary for the curve: its label, offered rate, throughput, goodput, correct goodput,
    SLO attainment, correct share and whether the SLO and the floor held (``None`` without an SLO; see
    :func:`~workbench.loadtest.capacity.step_holds`).

    :param attainment: the share of requests that must meet ``slo`` (``find_capacity``'s).
    :param min_correct: the correct share answers must keep (``None``: no floor).
    """
    s = result.summary(slo)
    profile = result.meta.get("run_profile") or {}
    holds = step_holds(s, attainment=attainment, min_correct=min_correct)[0] if slo is not None else None
    return {"label": label, "rate": profile.get("rate") or result.meta.get("target_rate_peak"),
            "throughput_rps": s["throughput_rps"], "goodput_rps": s.get("goodput_rps"),
            "correct_goodput_rps": s.get("correct_goodput_rps"), "slo_attainment": s.get("slo_attainment"),
            "correct_share": s.get("correct_share"), "holds": holds}


def _as_step(row: dict[str, Any]) -> dict[str, Any]:
    """A curve row of any source (the dashboard's, ``CapacityResult.curve``, ``SweepResult.curve``) for drawing."""
    out = {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}  # NaN → None
    out.setdefault("label", out.get("run") or f"{out.get('profile', 'step')}@{out.get('rate')}")
    return out


def capacity_so_far(rows: Sequence[dict[str, Any]]) -> tuple[float | None, float | None]:
    """``(the highest rate that held, the lowest rate above it that broke)`` among search steps (not the
    confirmation runs, labelled ``confirm ...``); a step's rate is its offered rate, else its throughput."""
    held: list[float] = []
    broke: list[float] = []
    for r in rows:
        if r.get("holds") is None or str(r.get("label", "")).startswith("confirm"):
            continue
        x = r.get("rate") or r.get("throughput_rps")
        if x:
            (held if r["holds"] else broke).append(float(x))
    lo = max(held) if held else None
    above = [b for b in broke if lo is None or b > lo]
    return lo, min(above) if above else None


class CapacityDashboard(widgets.VBox):
    """A capacity search (:func:`~workbench.loadtest.find_capacity`) or a sweep (:func:`~workbench.loadtest.
    capacity.sweep`, ``mode="sweep"``) drawn live, one step at a time, with the capacity point so far.

    ``target`` is an in-process target or a sender, as for :class:`LoadTestDashboard` (the search runs on
    its own loop in a thread; ``None``: a dashboard that only draws steps given to :meth:`add_step` /
    :meth:`show_steps`); ``search_kwargs`` go to ``find_capacity`` (``step_s``, ``attainment``,
    ``max_rate``...) or ``sweep`` (``steps``, ``duration_s``...); ``warm_requests``: the unmeasured requests
    sent first, default :data:`WARM_REQUESTS`, their cold start shown apart. The notebook side redraws the
    curve every ``refresh_s`` when a step has finished; the headline ("N users / R req/s under SLO...") ends
    a search. :meth:`stop` cancels it.

    ```python
    dash = CapacityDashboard(engine, SLO(e2el_ms=1500), min_correct=0.8, step_s=8); cap = await dash.run()
    ```
    """

    def __init__(self, target: Any, slo: SLO | None, workload: Workload | None = None, *,
                 min_correct: float | None = None, chart: bool = True, refresh_s: float = 0.5,
                 mode: Literal["capacity", "sweep"] = "capacity", **search_kwargs: Any) -> None:
        if target is not None and not (callable(getattr(target, "handle", None))
                                       or callable(getattr(target, "send", None))):
            raise ConfigError("target needs async handle(request) or send(item)", field="target")
        _refuse_loop_bound(target)
        if refresh_s <= 0:
            raise ConfigError("refresh_s must be > 0", field="refresh_s")
        if mode not in ("capacity", "sweep"):
            raise ConfigError(f"mode is 'capacity' or 'sweep', got {mode!r}", field="mode")
        if mode == "capacity" and slo is None:
            raise ConfigError("a capacity search needs an SLO", field="slo")
        self.target, self.slo, self.workload, self.min_correct, self.mode = target, slo, workload, min_correct, mode
        self.warm_requests = int(search_kwargs.pop("warm_requests", WARM_REQUESTS))
        self.attainment = float(search_kwargs.get("attainment", 0.95))
        self.search_kwargs, self.chart_enabled, self.refresh_s = search_kwargs, chart, refresh_s
        self.rows: list[dict[str, Any]] = []
        self.capacity: Any = None
        """The search's :class:`~workbench.loadtest.CapacityResult` (or the sweep's ``SweepResult``) after a run."""
        self.warm_recorder: LiveRecorder | None = None
        self.warm_up: dict[str, Any] | None = None
        """The warm-up's :func:`warm_summary` (its cold start) after a run."""
        self.error: BaseException | None = None
        self._run: BackgroundRun[Any] | None = None
        self._lock = threading.Lock()
        self.status = widgets.HTML("<i>ready</i>")
        self.warm_info = widgets.HTML("")
        self.chart = widgets.Image(format="png")
        super().__init__(children=[self.status, self.warm_info, self.chart])
        self.add_class("wb-capacity")

    def __repr__(self) -> str:
        return f"CapacityDashboard({self.target!r}, {self.slo!r}, mode={self.mode}, min_correct={self.min_correct})"

    def add_step(self, row: dict[str, Any]) -> None:
        """Add one finished step's summary (from any thread; drawn at the next refresh, or by :meth:`show_steps`):
        a :func:`step_row`, or a row of ``CapacityResult.curve`` / ``SweepResult.curve``."""
        with self._lock:
            self.rows.append(_as_step(row))

    def show_steps(self, rows: Sequence[dict[str, Any]] | Any | None = None, *,
                   capacity_rps: float | None = None) -> None:
        """Draw ``rows`` (replacing the steps so far; a sequence of step summaries or a DataFrame of them, e.g.
        ``capacity.json``'s ``curve``), or the steps so far when ``None``, with the capacity point: ``capacity_rps``
        when given, else the highest rate that held so far (:func:`capacity_so_far`)."""
        if rows is not None:
            records = rows.to_dict(orient="records") if hasattr(rows, "to_dict") else list(rows)
            with self._lock:
                self.rows = [_as_step(r) for r in records]
        self._show_steps(-1, capacity_rps=capacity_rps)

    def _on_step(self, label: str, result: LoadResult) -> None:
        """On the search's thread: one summary row per finished step (drawn by the notebook side)."""
        self.add_step(step_row(label, result, self.slo, attainment=self.attainment, min_correct=self.min_correct))

    def _show_steps(self, drawn: int, *, capacity_rps: float | None = None) -> int:
        with self._lock:
            rows = list(self.rows)
        if len(rows) == drawn or not rows:
            return drawn
        last = rows[-1]
        att = last.get("slo_attainment")
        lo, hi = capacity_so_far(rows)
        point = capacity_rps if capacity_rps is not None else lo
        so_far = ""
        if lo is not None or hi is not None:
            so_far = (f"; holds at {lo:.3g} req/s" if lo is not None else "; nothing held yet") + (
                f", broke at {hi:.3g} req/s" if hi is not None else "")
        self.status.value = (f"<b>step {len(rows)}</b> {escape(str(last['label']))}: "
                             f"{(last.get('throughput_rps') or 0.0):.1f} req/s, "
                             f"attainment {att if att is None else f'{att:.0%}'}{escape(so_far)}")
        if self.chart_enabled:
            self.chart.value = curve_png(rows, capacity_rps=point, broke_at_rps=hi if capacity_rps is None else None)
        return len(rows)

    async def _search(self, workload: Workload | Sequence[WorkItem]) -> Any:
        from workbench.loadtest import find_capacity
        from workbench.loadtest.capacity import sweep

        inner = self.target if callable(getattr(self.target, "send", None)) else TargetSender(self.target)
        if self.warm_requests:
            self.warm_recorder = LiveRecorder(inner, close_inner=False)
            await warm_up(self.warm_recorder, _reseeded(workload), self.warm_requests)
        if self.mode == "sweep":
            kwargs = {k: v for k, v in self.search_kwargs.items() if k != "attainment"}
            return await sweep(inner, workload, slo=self.slo, on_step=self._on_step, **kwargs)
        return await find_capacity(inner, workload, self.slo, min_correct=self.min_correct, on_step=self._on_step,
                                   **self.search_kwargs)

    async def run(self) -> Any:
        """Search (or sweep) and return the :class:`~workbench.loadtest.CapacityResult` (the ``SweepResult``),
        drawing each step; None after :meth:`stop`.

        :raises ConfigError: the dashboard has no target.
        :raises Exception: what the search raised in its thread (also shown in the status line).
        """
        if self.target is None:
            raise ConfigError("this dashboard only draws steps given to it: pass a target to run", field="target")
        with self._lock:
            self.rows = []
        self.capacity, self.error, self.warm_recorder, self.warm_up = None, None, None, None
        self.warm_info.value = ""
        self.status.value = (f"<b>warming up</b>: {self.warm_requests} unmeasured requests" if self.warm_requests
                             else f"<b>{'sweeping' if self.mode == 'sweep' else 'searching'}</b>")
        workload = self.workload if self.workload is not None else Workload()
        self._run = bg = BackgroundRun(self._search(workload), name="wb-capacity")
        done = asyncio.wrap_future(bg.future)
        drawn = 0
        try:
            while not done.done():
                await asyncio.wait({done}, timeout=self.refresh_s)
                drawn = self._show_steps(drawn)
                if not self.warm_info.value:
                    self._show_warm_up()
            cap = done.result()
        except asyncio.CancelledError:
            if not done.cancelled():
                bg.cancel()  # the notebook's task was cancelled: the search stops too
                raise
            self.status.value = f"<b>stopped</b> after {len(self.rows)} steps"
            return None
        except Exception as exc:
            self.error = exc
            what = "sweep" if self.mode == "sweep" else "capacity search"
            self.status.value = _error(f"the {what} failed: {type(exc).__name__}: {exc}")
            raise
        self._show_steps(drawn)
        self.warm_up = self._show_warm_up()
        self.capacity = cap
        if self.mode == "sweep":
            lo, _ = capacity_so_far(self.rows)
            held = f"; the SLO holds up to {lo:.3g} req/s" if lo is not None else (
                "; the SLO held at no step" if self.slo is not None else "")
            self.status.value = f"<b>sweep done: {len(self.rows)} steps{escape(held)}</b>"
            if self.chart_enabled:
                self.chart.value = curve_png(self.rows, capacity_rps=lo)
            return cap
        self.status.value = f"<b>{escape(cap.headline())}</b>"
        if self.chart_enabled:
            self.chart.value = curve_png(self.rows, capacity_rps=cap.rate_rps)
        return cap

    def _show_warm_up(self) -> dict[str, Any] | None:
        return _show_warm_up(self.warm_recorder, self.warm_info)

    def stop(self) -> None:
        """Cancel the search from any thread (:meth:`run` then returns None)."""
        if self._run is not None and not self._run.done():
            self._run.cancel()
            self.status.value = "<i>stopping…</i>"

    def run_sync(self) -> Any:
        """:meth:`run` from synchronous code."""
        return run_sync(self.run())


def curve_png(rows: Sequence[dict[str, Any]], *, capacity_rps: float | None = None,
              broke_at_rps: float | None = None) -> bytes:
    """The capacity curve as PNG: throughput, goodput and correct goodput against the offered rate (closed-loop
    steps at their throughput), SLO attainment on the right (steps that broke the SLO or the floor in red), the
    capacity point as a vertical line and, while a search runs, the lowest rate that broke as a dotted one."""
    from matplotlib.figure import Figure

    pts = sorted(({**r, "x": r["rate"] if r.get("rate") else r["throughput_rps"]} for r in rows
                  if r.get("rate") or r.get("throughput_rps")), key=lambda r: r["x"])
    fig = Figure(figsize=(7.5, 2.6))
    ax1, ax2 = fig.subplots(1, 2)
    x = [r["x"] for r in pts]
    for key, label, color in (("throughput_rps", "throughput", "tab:blue"), ("goodput_rps", "goodput", "tab:green"),
                              ("correct_goodput_rps", "correct goodput", "tab:purple")):
        ys = [r.get(key) for r in pts]
        if any(y is not None for y in ys):
            ax1.plot(x, [float("nan") if y is None else y for y in ys], marker="o", label=label, color=color)
    ax1.set_title("req/s by offered rate", fontsize=9)
    ax1.legend(fontsize=7)
    att = [float("nan") if r.get("slo_attainment") is None else r["slo_attainment"] for r in pts]
    ax2.plot(x, att, marker="o", color="tab:red", label="SLO attainment")
    broke = [(xi, a) for xi, a, r in zip(x, att, pts, strict=True) if r.get("holds") is False]
    if broke:
        ax2.scatter([b[0] for b in broke], [b[1] for b in broke], s=60, facecolors="none", edgecolors="black",
                    label="broke", zorder=3)
    if any(r.get("correct_share") is not None for r in pts):
        ax2.plot(x, [float("nan") if r.get("correct_share") is None else r["correct_share"] for r in pts],
                 marker="s", color="tab:orange", label="correct share")
    ax2.set_ylim(0, 1.05)
    ax2.set_title("share of requests", fontsize=9)
    ax2.legend(fontsize=7)
    for ax in (ax1, ax2):
        if capacity_rps:
            ax.axvline(capacity_rps, color="black", linestyle="--", linewidth=1)
        if broke_at_rps:
            ax.axvline(broke_at_rps, color="tab:red", linestyle=":", linewidth=1)
    return _png(fig, (ax1, ax2), "offered req/s")
