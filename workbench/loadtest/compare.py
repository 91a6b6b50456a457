"""Comparisons built from runs: a summary table, the concurrency sweep (saturation curve), sync vs async,
cache off vs on. Each returns tidy pandas data, one row per run.

```python
table = concurrency_sweep(target, Workload(), levels=(1, 2, 4, 8, 16, 32, 64), max_requests=400)
saturation_point(table)                  # the smallest concurrency reaching 95% of the best throughput
runs = cache_off_vs_on(PipelineConfig.load("fast"), Workload(), LoadProfile.morning_peak(100, 60))
compare_results(runs, slo=SLO(e2e_ms=500))
```
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from workbench.config import PipelineConfig
from workbench.loadtest.inprocess import BlockingTarget, ThreadedTarget, pipeline_answer_fn
from workbench.loadtest.profiles import LoadProfile
from workbench.loadtest.result import LoadResult
from workbench.loadtest.runners import ClosedLoopRunner, OpenLoopRunner
from workbench.loadtest.senders import Sender
from workbench.loadtest.stats import SLO
from workbench.loadtest.target import Target
from workbench.loadtest.workload import WorkItem, Workload
from workbench.serving.schema import ChatRequest, ChatResponse

__all__ = ["cache_off_vs_on", "compare_results", "concurrency_sweep", "saturation_point", "sync_vs_async"]

DEFAULT_LEVELS = (1, 2, 4, 8, 16, 32, 64)


def compare_results(results: dict[str, LoadResult], slo: SLO | None = None) -> pd.DataFrame:
    """One summary row per named run (throughput, goodput, percentiles, rates, hit rates)."""
    return pd.DataFrame([res.summary_row(slo, run=name) for name, res in results.items()]).set_index("run")


def concurrency_sweep(target: Target | Sender, workload: Workload | Sequence[WorkItem], *,
                      levels: Sequence[int] = DEFAULT_LEVELS, max_requests: int | None = None,
                      duration_s: float | None = None, think_s: float = 0.0, slo: SLO | None = None,
                      on_level: Callable[[int, LoadResult], None] | None = None) -> pd.DataFrame:
    """Closed-loop runs at each concurrency (users, no think time by default): the saturation curve.

    Each level runs ``max_requests`` requests (default 20 per user, at least 200) or for ``duration_s``.
    """
    rows = []
    for c in levels:
        n = max_requests if max_requests is not None or duration_s is not None else max(200, 20 * c)
        res = ClosedLoopRunner(target, workload, users=c, think_s=think_s, max_requests=n, duration_s=duration_s,
                               slo=slo, label=f"c={c}").run_sync()
        if on_level is not None:
            on_level(c, res)
        rows.append(res.summary_row(slo, concurrency=c))
    return pd.DataFrame(rows)


def saturation_point(table: pd.DataFrame, *, share: float = 0.95, x: str = "concurrency") -> int:
    """The smallest ``x`` whose throughput reaches ``share`` of the sweep's best: more only adds queueing."""
    best = table["throughput_rps"].max()
    return int(table.loc[table["throughput_rps"] >= share * best, x].min())


def sync_vs_async(fn: Callable[[ChatRequest], ChatResponse], workload: Workload | Sequence[WorkItem], *,
                  users: int = 8, max_requests: int = 200, workers: int = 4,
                  slo: SLO | None = None) -> dict[str, LoadResult]:
    """The same blocking answer function served synchronously (on the loop) and asynchronously (in threads)."""
    out = {}
    threaded = ThreadedTarget(fn, workers=workers, name="async")
    try:
        for name, target in (("sync", BlockingTarget(fn, name="sync")), ("async", threaded)):
            out[name] = ClosedLoopRunner(target, workload, users=users, max_requests=max_requests, slo=slo,
                                         label=name).run_sync()
    finally:
        threaded.close()
    return out


def cache_off_vs_on(cfg: PipelineConfig, workload: Workload | Sequence[WorkItem], profile: LoadProfile, *,
                    workers: int = 2, slo: SLO | None = None, **runner_kwargs: Any) -> dict[str, LoadResult]:
    """Open-loop runs of ``profile`` against ``cfg``'s in-process target with the cache off, then on.

    Both use one knowledge base and pipeline (built once); the cache starts empty.
    """
    from workbench.pipelines import build_query_pipeline

    base = cfg.with_overrides({"cache.enabled": False})
    qp = build_query_pipeline(base, progress=False)
    out: dict[str, LoadResult] = {}
    for name, enabled in (("cache off", False), ("cache on", True)):
        c = cfg.with_overrides({"cache.enabled": enabled})
        target = ThreadedTarget(pipeline_answer_fn(c, pipeline=qp), workers=workers, name=name)
        try:
            out[name] = OpenLoopRunner(target, workload, profile, slo=slo, label=name, **runner_kwargs).run_sync()
        finally:
            target.close()
    return out
