"""A live load-test dashboard: throughput, latency percentiles and cache hit rates while the test runs.

The runner is the library's (:class:`~workbench.loadtest.OpenLoopRunner` or
:class:`~workbench.loadtest.ClosedLoopRunner`); the dashboard wraps its sender to record every answer as
it arrives, and every ``refresh_s`` recomputes the numbers with :meth:`LoadResult.summary` over the
requests answered so far (latency counted from each request's actual start while live; the final
numbers come from the runner's own result, from the scheduled start). *Stop* cancels the run; the
requests answered until then become the result (``meta["stopped"] = True``).

:class:`CapacityDashboard` runs a capacity search (or a sweep) and draws its curve step by step: offered
rate against throughput, goodput and correct goodput, SLO attainment, and the capacity point when found.

```python
dash = LoadTestDashboard(make_inprocess_target(cfg), rate=20, duration_s=10)
dash                      # in a notebook: press Start (or dash.start()), watch, press Stop
result = await dash.wait()
cap = await CapacityDashboard(target, SLO(e2el_ms=1500), min_correct=0.8).run()
```
"""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any, Literal

import ipywidgets as widgets

from workbench.dashboards.render import escape, stat_cards
from workbench.dashboards.scheduling import run_sync, schedule
from workbench.errors import ConfigError
from workbench.loadtest import (
    COLUMNS,
    SLO,
    ClosedLoopRunner,
    LoadProfile,
    LoadResult,
    OpenLoopRunner,
    Outcome,
    TargetSender,
    WorkItem,
    Workload,
)
from workbench.percentiles import PERCENTILE_METHOD

__all__ = ["CapacityDashboard", "LiveRecorder", "LoadTestDashboard", "curve_png"]

_NS = time.perf_counter_ns


class LiveRecorder:
    """A :class:`~workbench.loadtest.Sender` that passes each item on and records what came back, as it comes.

    ```python
    rec = LiveRecorder(TargetSender(target)); OpenLoopRunner(rec, workload, profile).run_sync(); rec.result()
    ```
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.records: list[tuple[WorkItem, int, int, Outcome]] = []
        self.t0 = _NS()

    def __repr__(self) -> str:
        return f"LiveRecorder({self.inner!r})"

    async def send(self, item: WorkItem) -> Outcome:
        """Send through the inner sender and record (item, start, end, outcome)."""
        start = _NS()
        out = await self.inner.send(item)
        self.records.append((item, start, _NS(), out))
        return out

    async def aclose(self) -> None:
        """Close the inner sender when it can be closed."""
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()

    def result(self, **meta: Any) -> LoadResult:
        """The requests answered so far as a :class:`LoadResult` (latency from the actual start)."""
        rows = []
        for item, start, end, o in list(self.records):
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

    ``target`` is an in-process target (``handle(request)``) or a sender (``send(item)``, e.g.
    ``HttpSender``). ``workload`` defaults to ``Workload()`` (the bank dataset, Zipf popularity).

    ```python
    dash = LoadTestDashboard(target, mode="closed", users=4, duration_s=5); result = dash.run_sync()
    ```
    """

    def __init__(self, target: Any, workload: Workload | None = None, *, mode: Literal["open", "closed"] = "open",
                 rate: float = 10.0, users: int = 4, duration_s: float = 10.0, slo: SLO | None = None,
                 refresh_s: float = 0.5, chart: bool = True, seed: int = 0) -> None:
        if not (callable(getattr(target, "handle", None)) or callable(getattr(target, "send", None))):
            raise ConfigError("target needs async handle(request) or send(item)", field="target")
        if refresh_s <= 0:
            raise ConfigError("refresh_s must be > 0", field="refresh_s")
        self.target = target
        self.workload = workload
        self.slo, self.refresh_s, self.chart_enabled, self.seed = slo, refresh_s, chart, seed
        self.result: LoadResult | None = None
        self.recorder: LiveRecorder | None = None
        self.stopped = False
        self.updates = 0
        self._task: asyncio.Task[Any] | None = None
        self._inner: asyncio.Task[Any] | None = None
        self.mode = widgets.ToggleButtons(options=[("open loop (rate)", "open"), ("closed loop (users)", "closed")],
                                          value=mode)
        self.rate = widgets.BoundedFloatText(value=rate, min=0.1, max=100_000, description="req/s")
        self.users = widgets.BoundedIntText(value=users, min=1, max=10_000, description="users")
        self.duration = widgets.BoundedFloatText(value=duration_s, min=0.5, max=86_400, description="seconds")
        self.start_button = widgets.Button(description="Start", button_style="success", icon="play")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.progress = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="elapsed")
        self.status = widgets.HTML("<i>ready</i>")
        self.stats = widgets.HTML(stat_cards(self._cards(None)))
        self.chart = widgets.Image(format="png")
        self.start_button.on_click(lambda _b: self.start())
        self.stop_button.on_click(lambda _b: self.stop())
        super().__init__(children=[
            self.mode, widgets.HBox([self.rate, self.users, self.duration]),
            widgets.HBox([self.start_button, self.stop_button, self.progress]), self.status, self.stats, self.chart,
        ])
        self.add_class("wb-loadtest")

    def __repr__(self) -> str:
        return f"LoadTestDashboard({self.target!r}, mode={self.mode.value})"

    # -- running ------------------------------------------------------------------------------------------
    def runner(self, recorder: LiveRecorder) -> OpenLoopRunner | ClosedLoopRunner:
        """The runner the current control values describe, sending through ``recorder``."""
        workload = self.workload if self.workload is not None else Workload()
        if self.mode.value == "open":
            profile = LoadProfile.steady(float(self.rate.value), float(self.duration.value))
            return OpenLoopRunner(recorder, workload, profile, seed=self.seed, slo=self.slo, label="dashboard")
        return ClosedLoopRunner(recorder, workload, users=int(self.users.value), duration_s=float(self.duration.value),
                                seed=self.seed, slo=self.slo, label="dashboard")

    async def run(self) -> LoadResult:
        """Run one load test with live updates; the runner's result, or the partial one after :meth:`stop`."""
        inner = self.target if callable(getattr(self.target, "send", None)) else TargetSender(self.target)
        self.recorder = rec = LiveRecorder(inner)
        runner = self.runner(rec)
        self.result, self.stopped, self.updates = None, False, 0
        self._set_running(True)
        duration = float(self.duration.value)
        self.status.value = f"<b>running</b> {escape(self.mode.value)} loop for {duration:g} s"
        loop = asyncio.get_running_loop()
        started = loop.time()
        self._inner = loop.create_task(runner.run())
        try:
            while not self._inner.done():
                await asyncio.wait({self._inner}, timeout=self.refresh_s)
                self.progress.value = min(1.0, (loop.time() - started) / duration)
                self.refresh(rec.result())
            try:
                result = self._inner.result()
                self.status.value = f"<b>done</b>: {len(result)} requests"
            except asyncio.CancelledError:
                self.stopped = True
                result = rec.result(stopped=True, label="dashboard (stopped)")
                self.status.value = f"<b>stopped</b> after {len(result)} answered requests"
        finally:
            self._set_running(False)
        self.progress.value = 1.0 if not self.stopped else self.progress.value
        self.result = result
        self.refresh(result)
        return result

    def start(self) -> asyncio.Task[LoadResult] | LoadResult:
        """Start a run: a task on the running loop (a notebook), or run to completion without one."""
        if self._task is not None and not self._task.done():
            raise ConfigError("a load test is already running; stop it first", field="start")
        task = schedule(self.run())
        if isinstance(task, asyncio.Task):
            self._task = task
        return task

    def stop(self) -> None:
        """Cancel the running test (the answered requests are kept as the result)."""
        if self._inner is not None and not self._inner.done():
            self._inner.cancel()
            self.status.value = "<i>stopping…</i>"

    async def wait(self) -> LoadResult | None:
        """The result of the run started by :meth:`start` (None if none was started)."""
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

    def refresh(self, result: LoadResult) -> dict[str, Any] | None:
        """Show ``result``'s numbers (and chart); returns its summary (None while nothing has answered)."""
        self.updates += 1
        if len(result) == 0:
            return None
        summary = result.summary(self.slo)
        self.stats.value = (stat_cards(self._cards(summary))
                            + f'<div style="font-size:11px;color:#666">latency percentiles: {PERCENTILE_METHOD}</div>')
        if self.chart_enabled:
            self.chart.value = _timeseries_png(result)
        return summary


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


class CapacityDashboard(widgets.VBox):
    """A capacity search (:func:`~workbench.loadtest.find_capacity`) or a sweep drawn live, one step at a time.

    ``target`` is an in-process target or a sender, as for :class:`LoadTestDashboard`; ``search_kwargs`` go to
    ``find_capacity`` (``step_s``, ``attainment``, ``max_rate``...). The curve is redrawn after every step;
    the headline ("N users / R req/s under SLO...") ends the run.

    ```python
    dash = CapacityDashboard(engine, SLO(e2el_ms=1500), min_correct=0.8, step_s=8); cap = await dash.run()
    ```
    """

    def __init__(self, target: Any, slo: SLO, workload: Workload | None = None, *, min_correct: float | None = None,
                 chart: bool = True, **search_kwargs: Any) -> None:
        if not (callable(getattr(target, "handle", None)) or callable(getattr(target, "send", None))):
            raise ConfigError("target needs async handle(request) or send(item)", field="target")
        self.target, self.slo, self.workload, self.min_correct = target, slo, workload, min_correct
        self.search_kwargs, self.chart_enabled = search_kwargs, chart
        self.rows: list[dict[str, Any]] = []
        self.capacity: Any = None
        self.status = widgets.HTML("<i>ready</i>")
        self.chart = widgets.Image(format="png")
        super().__init__(children=[self.status, self.chart])
        self.add_class("wb-capacity")

    def __repr__(self) -> str:
        return f"CapacityDashboard({self.target!r}, {self.slo!r}, min_correct={self.min_correct})"

    def _on_step(self, label: str, result: LoadResult) -> None:
        s = result.summary(self.slo)
        self.rows.append({"label": label, "rate": result.meta.get("target_rate_peak"),
                          "throughput_rps": s["throughput_rps"], "goodput_rps": s.get("goodput_rps"),
                          "correct_goodput_rps": s.get("correct_goodput_rps"), "slo_attainment": s.get("slo_attainment"),
                          "correct_share": s.get("correct_share")})
        att = s.get("slo_attainment")
        self.status.value = (f"<b>step {len(self.rows)}</b> {escape(label)}: {s['throughput_rps']:.1f} req/s, "
                             f"attainment {att if att is None else f'{att:.0%}'}")
        if self.chart_enabled:
            self.chart.value = curve_png(self.rows)

    async def run(self) -> Any:
        """Search and return the :class:`~workbench.loadtest.CapacityResult`, drawing each step."""
        from workbench.loadtest import find_capacity

        self.rows, self.capacity = [], None
        cap = await find_capacity(self.target, self.workload if self.workload is not None else Workload(), self.slo,
                                  min_correct=self.min_correct, on_step=self._on_step, **self.search_kwargs)
        self.capacity = cap
        self.status.value = f"<b>{escape(cap.headline())}</b>"
        if self.chart_enabled:
            self.chart.value = curve_png(self.rows, capacity_rps=cap.rate_rps)
        return cap

    def run_sync(self) -> Any:
        """:meth:`run` from synchronous code."""
        return run_sync(self.run())


def curve_png(rows: list[dict[str, Any]], *, capacity_rps: float | None = None) -> bytes:
    """The capacity curve as PNG: throughput, goodput and correct goodput against the offered rate (closed-loop
    steps at their throughput), SLO attainment on the right, the capacity point as a vertical line."""
    from matplotlib.figure import Figure

    pts = sorted(({**r, "x": r["rate"] if r.get("rate") else r["throughput_rps"]} for r in rows),
                 key=lambda r: r["x"])
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
    ax2.plot(x, [float("nan") if r.get("slo_attainment") is None else r["slo_attainment"] for r in pts], marker="o",
             color="tab:red", label="SLO attainment")
    if any(r.get("correct_share") is not None for r in pts):
        ax2.plot(x, [float("nan") if r.get("correct_share") is None else r["correct_share"] for r in pts],
                 marker="s", color="tab:orange", label="correct share")
    ax2.set_ylim(0, 1.05)
    ax2.set_title("share of requests", fontsize=9)
    ax2.legend(fontsize=7)
    if capacity_rps:
        for ax in (ax1, ax2):
            ax.axvline(capacity_rps, color="black", linestyle="--", linewidth=1)
    return _png(fig, (ax1, ax2), "offered req/s")
