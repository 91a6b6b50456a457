"""compare_runs: the differences between two load runs and their 95% intervals (seeded)."""

import math

import numpy as np
import pandas as pd
import pytest

from workbench.loadtest.compare import (
    COMPARED_METRICS,
    bootstrap_percentile_deltas,
    bootstrap_rate_delta,
    compare_many,
    compare_runs,
    newcombe_interval,
)
from workbench.loadtest.result import LoadResult
from workbench.loadtest.stats import SLO
from workbench.percentiles import percentile


def _run(n: int, mean_ms: float, *, seed: int, rate: float = 50.0, error_every: int = 0,
         hit_share: float = 0.3) -> LoadResult:
    """``n`` requests at ``rate`` req/s, exponential latencies of ``mean_ms``, every ``error_every``-th an error,
    ``hit_share`` of the answers cache hits, every third answer scored wrong."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        sched = i / rate
        lat = float(rng.exponential(mean_ms)) + 1.0
        status = "error" if error_every and i % error_every == 0 else "ok"
        rows.append({"index": i, "intent": "a.b", "kind": "question", "stream": False, "simulated": False, "worker": -1,
                     "scheduled_s": sched, "start_s": sched, "first_token_s": sched + lat / 2e3,
                     "end_s": sched + lat / 1e3, "latency_ms": lat, "service_ms": lat, "wait_ms": 0.0,
                     "ttft_ms": lat / 2, "tokens": 3, "status": status,
                     "cache_layer": "exact" if status == "ok" and rng.random() < hit_share else None,
                     "verdict": ("wrong" if i % 3 == 0 else "correct") if status == "ok" else None})
    return LoadResult.from_rows(rows, {"runner": "test", "slo": {"e2el_ms": 60.0}})


def test_newcombe_matches_the_published_example() -> None:
    """Newcombe (1998), example (a): 56/70 − 48/80, method 10 gives 0.0524 to 0.3339."""
    lo, hi = newcombe_interval(48, 80, 56, 70)
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)
    assert all(math.isnan(x) for x in newcombe_interval(0, 0, 1, 2))


def test_bootstrap_percentiles_are_nearest_rank_and_seeded() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.exponential(40, 400), rng.exponential(40, 400) + 30
    d = bootstrap_percentile_deltas(a, b, (50, 99), resamples=500, seed=3)
    assert d[50][0] == percentile(b, 50) - percentile(a, 50)
    assert d[50][1] > 0 and d[50][1] <= d[50][0] <= d[50][2]          # shifted by 30 ms: excludes 0
    assert d == bootstrap_percentile_deltas(a, b, (50, 99), resamples=500, seed=3)
    assert d != bootstrap_percentile_deltas(a, b, (50, 99), resamples=500, seed=4)
    assert all(math.isnan(x) for x in bootstrap_percentile_deltas([], b, (50,))[50])


def test_a_clearly_slower_and_failing_run_is_named_worse() -> None:
    a, b = _run(400, 20.0, seed=1), _run(400, 80.0, seed=2, error_every=10, hit_share=0.7)
    t = compare_runs(a, b, names=("before", "after"), resamples=800).set_index("metric")
    for key in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms"):
        row = t.loc[key]
        assert row.ci_low > 0 and row.better == "before", (key, row.to_dict())
        assert row["diff"] == pytest.approx(row.value_b - row.value_a) and row.ratio == pytest.approx(
            row.value_b / row.value_a)
    assert t.loc["error_rate", "ci_low"] > 0 and t.loc["error_rate", "better"] == "before"
    assert t.loc["cache_hit_rate", "ci_low"] > 0 and t.loc["cache_hit_rate", "better"] == "after"
    assert t.loc["goodput_rps", "ci_high"] < 0 and t.loc["goodput_rps", "better"] == "before"  # SLO e2el 60 ms
    assert t.loc["slo_attainment", "better"] == "before"
    assert "Newcombe" in t.loc["error_rate", "ci_method"] and "bootstrap" in t.loc["latency_p99_ms", "ci_method"]
    # the values are the runs' own summaries
    assert t.loc["latency_p99_ms", "value_b"] == b.summary()["latency_ms"]["p99"]
    assert t.loc["goodput_rps", "value_a"] == pytest.approx(a.summary()["goodput_rps"])
    assert t.loc["correct_goodput_rps", "value_a"] == pytest.approx(a.summary()["correct_goodput_rps"])
    assert t.loc["throughput_rps", "value_b"] == pytest.approx(b.summary()["throughput_rps"])


def test_runs_of_one_distribution_show_no_clear_difference() -> None:
    """One seeded pair of runs of one distribution: every interval holds 0 (a 95% interval may miss for 1 pair
    in 20 per metric; the calibration test below checks that rate)."""
    a, b = _run(400, 40.0, seed=13), _run(400, 40.0, seed=14)
    t = compare_runs(a, b, resamples=800, seed=0)
    assert list(t.metric) == [m.key for m in COMPARED_METRICS]        # every metric: SLO set, answers scored
    for _, row in t.iterrows():
        assert row.ci_low <= 0 <= row.ci_high, row.to_dict()
        assert row.better == "no clear difference"
    pd.testing.assert_frame_equal(t, compare_runs(a, b, resamples=800, seed=0))   # seeded: the same table


def test_without_an_slo_or_scores_those_rows_are_left_out_and_many_runs_stack() -> None:
    runs = {name: _run(100, 30.0, seed=i) for i, name in enumerate(("x", "y", "z"))}
    for r in runs.values():
        r.meta.pop("slo")
        r.df["verdict"] = None
    t = compare_many(runs, resamples=200)
    assert set(t.metric) == {"throughput_rps", "error_rate", "shed_rate", "cache_hit_rate",
                             *(f"{k}_p{p}_ms" for k in ("latency", "ttft") for p in (50, 95, 99))}
    assert list(t.drop_duplicates("run_b").run_b) == ["y", "z"] and set(t.run_a) == {"x"}
    assert set(compare_runs(runs["x"], runs["y"], slo=SLO(e2el_ms=50), resamples=50).metric) >= {"goodput_rps",
                                                                                                 "slo_attainment"}
    with pytest.raises(ValueError):
        compare_many({"x": runs["x"]})


def test_the_drawn_percentiles_match_resampling_by_brute_force() -> None:
    """The Beta shortcut gives the bootstrap distribution of a resample's nearest-rank percentile: against 4,000
    real resamples of 40 values, each value's share of the draws agrees (total variation < 0.05, seeded)."""
    from workbench.loadtest.compare import _boot_order_stats

    x = np.sort(np.random.default_rng(0).exponential(40, 40))
    fast = _boot_order_stats(x, (50, 90), 4000, np.random.default_rng(1))
    rng = np.random.default_rng(2)
    brute = np.array([[percentile(x[rng.integers(0, 40, 40)], p) for p in (50, 90)] for _ in range(4000)])
    for j in range(2):
        share = [pd.Series(d[:, j]).value_counts(normalize=True) for d in (fast, brute)]
        tv = 0.5 * share[0].subtract(share[1], fill_value=0.0).abs().sum()
        assert tv < 0.05, (j, tv)
        assert set(fast[:, j]) <= set(x)                                   # always an observed value


def test_percentile_intervals_miss_zero_about_once_in_twenty_for_one_distribution() -> None:
    """Calibration: 200 seeded pairs of samples of one distribution; each percentile's 95% interval of the
    difference excludes 0 (a false 'better') in about 5% of the pairs, not more than 10%, and not never."""
    missed = {50: 0, 95: 0, 99: 0}
    for i in range(200):
        rng = np.random.default_rng(1000 + i)
        d = bootstrap_percentile_deltas(rng.exponential(40, 300), rng.exponential(40, 300), tuple(missed),
                                        resamples=500, seed=i)
        for p in missed:
            missed[p] += not d[p][1] <= 0 <= d[p][2]
    assert all(1 <= m <= 20 for m in missed.values()), missed


def test_rate_intervals_miss_zero_about_once_in_twenty_for_one_process() -> None:
    """Calibration of the bin bootstrap: 200 seeded pairs of 30 bins of Binomial(20, 0.8) counts (one process);
    the 95% interval of the rate difference excludes 0 in about 5% of the pairs, not more than 10%."""
    missed = 0
    for i in range(200):
        rng = np.random.default_rng(2000 + i)
        a, b = rng.binomial(20, 0.8, 30).astype(float), rng.binomial(20, 0.8, 30).astype(float)
        diff, lo, hi = bootstrap_rate_delta(a, 1.0, b, 1.0, resamples=500, seed=i)
        assert diff == pytest.approx(b.mean() - a.mean())
        missed += not lo <= 0 <= hi
    assert 1 <= missed <= 20, missed
