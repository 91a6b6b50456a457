"""Comparisons built from runs: a summary table, the differences between two runs with their 95% intervals,
the concurrency sweep (saturation curve), sync vs async, cache off vs on. Each returns tidy pandas data.

:func:`compare_runs` says how run B differs from run A, metric by metric (B − A and B / A) with a 95%
interval, and names the better run only when the interval excludes 0:

* latency and TTFT percentiles (nearest rank): a seeded bootstrap over each run's successful requests
  (resampled independently; the interval of the difference of the resampled percentiles);
* throughput, goodput, correct goodput: a seeded bootstrap over the measured window's 1-second bins (the
  requests that ended in each; at least :data:`MIN_BINS` bins, shorter in a short run), so bursts widen it;
* error, shed, cache-hit, SLO-attainment and correct shares: Newcombe's hybrid score interval (from the two
  Wilson intervals) for the difference of two independent proportions.

```python
table = concurrency_sweep(target, Workload(), levels=(1, 2, 4, 8, 16, 32, 64), max_requests=400)
saturation_point(table)                  # the smallest concurrency reaching 95% of the best throughput
runs = cache_off_vs_on(PipelineConfig.load("fast"), Workload(), LoadProfile.morning_peak(100, 60))
compare_results(runs, slo=SLO(e2e_ms=500))
compare_runs(runs["cache off"], runs["cache on"], names=("off", "on"))   # metric, diff, ci_low, ci_high, better
```
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
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
from workbench.percentiles import percentile
from workbench.serving.schema import ChatRequest, ChatResponse

__all__ = [
    "COMPARED_METRICS", "ComparedMetric", "MIN_BINS", "bootstrap_percentile_deltas", "bootstrap_rate_delta", "cache_off_vs_on",
    "compare_many", "compare_results", "compare_runs", "concurrency_sweep", "newcombe_interval", "saturation_point",
    "sync_vs_async",
]

DEFAULT_LEVELS = (1, 2, 4, 8, 16, 32, 64)


def compare_results(results: dict[str, LoadResult], slo: SLO | None = None) -> pd.DataFrame:
    """One summary row per named run (throughput, goodput, percentiles, rates, hit rates)."""
    return pd.DataFrame([res.summary_row(slo, run=name) for name, res in results.items()]).set_index("run")


@dataclass(frozen=True)
class ComparedMetric:
    """One row kind of :func:`compare_runs`: its key, what a reader calls it, its unit, which way is better
    (``+1`` higher, ``-1`` lower) and how its interval is made (``percentile``, ``rate`` or ``share``)."""

    key: str
    label: str
    unit: str
    better: int
    kind: str


#: The metrics :func:`compare_runs` reports, in order (goodput, attainment and correctness only when they apply).
COMPARED_METRICS: tuple[ComparedMetric, ...] = (
    ComparedMetric("throughput_rps", "throughput", "req/s", +1, "rate"),
    ComparedMetric("goodput_rps", "goodput (within SLO)", "req/s", +1, "rate"),
    ComparedMetric("correct_goodput_rps", "correct goodput (within SLO and correct)", "req/s", +1, "rate"),
    *(ComparedMetric(f"latency_p{p}_ms", f"e2e latency p{p}", "ms", -1, "percentile") for p in (50, 95, 99)),
    *(ComparedMetric(f"ttft_p{p}_ms", f"TTFT p{p}", "ms", -1, "percentile") for p in (50, 95, 99)),
    ComparedMetric("error_rate", "error rate", "share", -1, "share"),
    ComparedMetric("shed_rate", "shed rate", "share", -1, "share"),
    ComparedMetric("cache_hit_rate", "cache hit rate (any layer)", "share", +1, "share"),
    ComparedMetric("slo_attainment", "SLO attainment", "share", +1, "share"),
    ComparedMetric("correct_share", "correct share", "share", +1, "share"),
)
_Z95 = 1.959963984540054
#: The rate bootstrap resamples at least this many bins (shorter than ``bin_s`` in a short run): a percentile
#: bootstrap of a mean over a handful of bins makes its interval too narrow.
MIN_BINS = 30


def newcombe_interval(k1: int, n1: int, k2: int, n2: int, *, z: float = _Z95) -> tuple[float, float]:
    """Newcombe's hybrid score interval (his method 10) for ``k2/n2 − k1/n1``, two independent proportions,
    from each one's Wilson interval; ``(nan, nan)`` when either has no trials.

    ```python
    newcombe_interval(10, 100, 30, 100)      # ≈ (0.09, 0.31): 30% is more than 10%
    ```
    """
    from workbench.evaluation.cache_truth import wilson_interval

    if n1 <= 0 or n2 <= 0:
        return math.nan, math.nan
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, z)
    l2, u2 = wilson_interval(k2, n2, z)
    d = p2 - p1
    return d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2), d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)


def _boot_order_stats(x: np.ndarray, ps: Sequence[float], resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``resamples`` × ``len(ps)`` nearest-rank percentiles of bootstrap resamples of sorted ``x``, drawn exactly
    without building the resamples: a resample's draws are ``ceil(n·U)`` for n uniforms U, so its rank-r value is
    ``x[ceil(n·U_(r))]`` with ``U_(r) ~ Beta(r, n − r + 1)``, the r-th of n uniforms."""
    n = len(x)
    out = np.full((resamples, len(ps)), math.nan)
    if n == 0:
        return out
    for j, p in enumerate(ps):
        r = max(1, math.ceil(p / 100 * n))
        u = rng.beta(r, n - r + 1, size=resamples)
        out[:, j] = x[np.clip(np.ceil(n * u).astype(np.int64), 1, n) - 1]
    return out


def _interval(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    return percentile(draws, tail), percentile(draws, 100 - tail)


def bootstrap_percentile_deltas(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                                ps: Sequence[float] = (50, 95, 99), *, resamples: int = 2000,
                                confidence: float = 0.95, seed: int = 0) -> dict[float, tuple[float, float, float]]:
    """Per percentile ``p``: ``(B − A, low, high)``, the nearest-rank percentiles' difference and its
    percentile-bootstrap interval (each sample resampled independently, seeded; NaN dropped; all NaN when a
    sample is empty).

    ```python
    bootstrap_percentile_deltas(a_latencies, b_latencies)[99]     # (diff, low, high) of p99
    ```
    """
    xa = np.sort(np.asarray(a, dtype=float))
    xb = np.sort(np.asarray(b, dtype=float))
    xa, xb = xa[~np.isnan(xa)], xb[~np.isnan(xb)]
    da = _boot_order_stats(xa, ps, resamples, np.random.default_rng([seed, 0]))
    db = _boot_order_stats(xb, ps, resamples, np.random.default_rng([seed, 1]))
    out: dict[float, tuple[float, float, float]] = {}
    for j, p in enumerate(ps):
        diff = percentile(xb, p) - percentile(xa, p)
        lo, hi = _interval(db[:, j] - da[:, j], confidence) if len(xa) and len(xb) else (math.nan, math.nan)
        out[p] = (diff, lo, hi)
    return out


def bootstrap_rate_delta(bins_a: np.ndarray, width_a: float, bins_b: np.ndarray, width_b: float, *,
                         resamples: int = 2000, confidence: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """``(B − A, low, high)`` of two rates given as counts per time bin (``width`` seconds each): the rate is the
    mean count over the width; the interval resamples each run's bins (seeded)."""
    if not (len(bins_a) and len(bins_b) and width_a > 0 and width_b > 0):
        return math.nan, math.nan, math.nan
    ra = np.random.default_rng([seed, 0]).choice(bins_a, size=(resamples, len(bins_a))).mean(axis=1) / width_a
    rb = np.random.default_rng([seed, 1]).choice(bins_b, size=(resamples, len(bins_b))).mean(axis=1) / width_b
    lo, hi = _interval(rb - ra, confidence)
    return float(bins_b.mean() / width_b - bins_a.mean() / width_a), lo, hi


def _window_masks(res: LoadResult) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(scheduled in the measured window, ended in it, its start, its length), as :meth:`LoadResult.summary`."""
    df = res.df
    sched, end = df["scheduled_s"].to_numpy(), df["end_s"].to_numpy()
    if res.measured is None:
        every = np.ones(len(df), dtype=bool)
        return every, every, float(sched.min()) if len(df) else 0.0, res.window_s
    a, b = res.measured
    return (sched >= a) & (sched < b), (end >= a) & (end < b), a, b - a


def _bins(res: LoadResult, weights: np.ndarray, bin_s: float) -> tuple[np.ndarray, float]:
    """Sums of ``weights`` (per row; rows that did not end in the window weigh 0) per bin of the window."""
    _, ended, start, window = _window_masks(res)
    if not window > 0:
        return np.zeros(0), 0.0
    nb = max(MIN_BINS, round(window / bin_s))
    width = window / nb
    idx = np.clip(((res.df["end_s"].to_numpy() - start) // width).astype(int), 0, nb - 1)
    return np.bincount(idx[ended], weights=weights[ended], minlength=nb), width


def _rate_weights(res: LoadResult, key: str, slo: SLO | None) -> np.ndarray | None:
    df = res.df
    ok = (df["status"] == "ok").to_numpy()
    if key == "throughput_rps":
        return ok.astype(float)
    if slo is None:
        return None
    met = res.slo_met(slo)
    if key == "goodput_rps":
        return met.astype(float)
    verdict = df["verdict"].to_numpy()
    scored = np.array([v is not None for v in verdict], dtype=bool) & ok
    if not scored.any():
        return None
    correct = verdict == "correct"
    _, ended, _, _ = _window_masks(res)
    met_scored = met & ended & scored
    share = float(correct[met_scored].mean()) if met_scored.any() else 0.0
    return np.where(met & scored, correct.astype(float), np.where(met, share, 0.0))  # summary's correct goodput


def _share_counts(res: LoadResult, key: str, slo: SLO | None) -> tuple[int, int] | None:
    """``(k, n)`` of a share over the requests scheduled in the measured window, as the summary counts it."""
    in_win, _, _, _ = _window_masks(res)
    df = res.df[in_win]
    status = df["status"].to_numpy()
    ok = status == "ok"
    if key == "error_rate":
        return int((status == "error").sum()), len(df)
    if key == "shed_rate":
        return int((status == "shed").sum()), len(df)
    if key == "cache_hit_rate":
        return int(df["cache_layer"][ok].notna().sum()), int(ok.sum())
    if key == "slo_attainment":
        return (int(res.slo_met(slo)[in_win].sum()), len(df)) if slo is not None else None
    verdict = df["verdict"].to_numpy()
    scored = np.array([v is not None for v in verdict], dtype=bool) & ok
    return (int((verdict[scored] == "correct").sum()), int(scored.sum())) if scored.any() else None


def compare_runs(a: LoadResult, b: LoadResult, *, names: tuple[str, str] = ("A", "B"), slo: SLO | None = None,
                 resamples: int = 2000, confidence: float = 0.95, seed: int = 0, bin_s: float = 1.0) -> pd.DataFrame:
    """How run ``b`` differs from run ``a``: one row per metric of :data:`COMPARED_METRICS` that both runs have.

    :param names: what to call the two runs in the table.
    :param slo: the SLO goodput and attainment are judged by (default: ``a``'s, else ``b``'s); without one,
        goodput, correct goodput and attainment are left out. Correct goodput and the correct share need both
        runs' answers scored.
    :param resamples: bootstrap resamples (seeded by ``seed``: the same call gives the same intervals).
    :param confidence: the intervals' level.
    :param bin_s: the time bins the rate bootstrap resamples.
    :returns: columns ``metric, label, unit, run_a, run_b, value_a, value_b, diff`` (B − A), ``ratio`` (B / A),
        ``ci_low, ci_high, ci_method, better`` (the better run's name when the interval excludes 0, else
        ``"no clear difference"``).
    """
    if slo is None:
        for res in (a, b):
            if res.meta.get("slo"):
                slo = SLO.from_dict(res.meta["slo"])
                break
    sa, sb = a.summary_row(slo), b.summary_row(slo)
    sa["cache_hit_rate"], sb["cache_hit_rate"] = sa.get("hit_rate_any"), sb.get("hit_rate_any")
    rows = []
    for i, m in enumerate(COMPARED_METRICS):
        rng_seed = seed * 1000 + i
        if m.kind == "rate":
            wa, wb = _rate_weights(a, m.key, slo), _rate_weights(b, m.key, slo)
            if wa is None or wb is None:
                continue
            (ba, wda), (bb, wdb) = _bins(a, wa, bin_s), _bins(b, wb, bin_s)
            diff, lo, hi = bootstrap_rate_delta(ba, wda, bb, wdb, resamples=resamples, confidence=confidence,
                                                seed=rng_seed)
            method = f"bootstrap over {len(ba)}+{len(bb)} time bins ({resamples}, seed {rng_seed})"
        elif m.kind == "percentile":
            col = "latency_ms" if m.key.startswith("latency") else "ttft_ms"
            p = float(m.key.split("_p")[1].split("_")[0])
            va, vb = (x.df[col][(x.df["status"] == "ok").to_numpy() & _window_masks(x)[0]].to_numpy() for x in (a, b))
            diff, lo, hi = bootstrap_percentile_deltas(va, vb, (p,), resamples=resamples, confidence=confidence,
                                                       seed=rng_seed)[p]
            method = f"bootstrap over requests, nearest rank ({resamples}, seed {rng_seed})"
        else:
            ka, kb = _share_counts(a, m.key, slo), _share_counts(b, m.key, slo)
            if ka is None or kb is None:
                continue
            diff = kb[0] / kb[1] - ka[0] / ka[1] if ka[1] and kb[1] else math.nan
            lo, hi = newcombe_interval(*ka, *kb)
            method = "Newcombe hybrid score (Wilson)"
        value_a, value_b = _value(sa, m.key), _value(sb, m.key)
        rows.append({"metric": m.key, "label": m.label, "unit": m.unit, "run_a": names[0], "run_b": names[1],
                     "value_a": value_a, "value_b": value_b, "diff": diff,
                     "ratio": value_b / value_a if value_a else math.nan, "ci_low": lo, "ci_high": hi,
                     "ci_method": method, "better": _better(lo, hi, m.better, names)})
    out = pd.DataFrame(rows)
    out.attrs.update(slo=slo.to_dict() if slo is not None else None, confidence=confidence, seed=seed)
    return out


def _value(row: Mapping[str, Any], key: str) -> float:
    v = row.get(key)
    return float(v) if v is not None else math.nan


def _better(lo: float, hi: float, direction: int, names: tuple[str, str]) -> str:
    if math.isnan(lo) or math.isnan(hi):
        return "n/a"
    if lo > 0:
        return names[1] if direction > 0 else names[0]
    if hi < 0:
        return names[0] if direction > 0 else names[1]
    return "no clear difference"


def compare_many(runs: Mapping[str, LoadResult], *, baseline: str | None = None, **kwargs: Any) -> pd.DataFrame:
    """:func:`compare_runs` of every run against ``baseline`` (default: the first), stacked into one table."""
    names = list(runs)
    if len(names) < 2:
        raise ValueError("a comparison needs at least two runs")
    base = baseline if baseline is not None else names[0]
    if base not in runs:
        raise ValueError(f"no run named {base!r}")
    frames = [compare_runs(runs[base], runs[n], names=(base, n), **kwargs) for n in names if n != base]
    out = pd.concat(frames, ignore_index=True)
    out.attrs.update(frames[0].attrs)
    return out


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
