"""The report's verdict on constructed saved runs: the right pick under an SLO and a quality bar, the cheaper of
two statistically tied runs, no pick when nothing qualifies, runs on other questions kept apart, overloaded
load runs flagged, and Holm-corrected paired differences."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from workbench.evaluation.experiment import ExperimentResult, holm_adjust, paired_permutation_p
from workbench.reporting.verdict import ReportConfig, recommend, split_by_questions

Maker = Callable[..., ExperimentResult]
Pattern = Callable[..., list[float]]


def test_picks_the_best_eligible_run(run: Maker, pattern: Pattern) -> None:
    fast = run("fast", pattern(150, 0.50), 10)
    default = run("default", pattern(150, 0.80), 120)
    quality = run("quality", pattern(150, 0.90), 5000)          # best quality, far over the SLO
    v = recommend([fast, default, quality], ReportConfig(slo_p95_ms=1000, min_quality=0.6))
    assert v.pick == "default" and v.headline.startswith("Pick default")
    assert {s.config: s.eligible for s in v.scores} == {"fast": False, "default": True, "quality": False}
    alt = v.alternatives.set_index("config")
    assert alt.loc["quality", "Δ correct"] == pytest.approx(0.10) and alt.loc["quality", "p_holm"] < 0.05
    assert alt.loc["fast", "Δ correct"] == pytest.approx(-0.30) and "Misses the SLO." in alt.loc["quality", "in short"]
    # the same runs with a looser SLO: quality qualifies and is significantly better
    assert recommend([fast, default, quality], ReportConfig(slo_p95_ms=10_000, min_quality=0.6)).pick == "quality"


def test_a_cheaper_run_that_is_not_significantly_worse_is_picked(run: Maker, pattern: Pattern) -> None:
    cheap = run("cheap", pattern(60, 0.70), 20)
    dear = run("dear", pattern(60, 0.72), 400)        # one more correct answer of 60: not significant
    v = recommend([dear, cheap], ReportConfig(slo_p95_ms=1000, min_quality=0.5))
    assert v.pick == "cheap"
    assert any("not significant" in r for r in v.reasons)


def test_no_pick_when_nothing_meets_both_bars(run: Maker, pattern: Pattern) -> None:
    fast = run("fast", pattern(100, 0.3), 10)
    slow = run("slow", pattern(100, 0.9), 9000)
    v = recommend([fast, slow], ReportConfig(slo_p95_ms=1000, min_quality=0.6))
    assert v.pick is None and v.headline.startswith("No configuration meets both")
    assert any("Within the SLO, the best is fast" in r for r in v.reasons)
    assert any("Above the quality bar, the fastest is slow" in r for r in v.reasons)


def test_a_run_on_other_questions_is_separated_with_the_reason(run: Maker, pattern: Pattern) -> None:
    fast = run("fast", pattern(150, 0.5), 10)
    default = run("default", pattern(150, 0.6), 50)
    quality = run("quality", [1.0] * 40, 50, ds_hash="h40")               # perfect, but on 40 other questions
    compared, separated = split_by_questions([fast, default, quality])
    assert [r.name for r in compared] == ["fast", "default"]
    assert [r.name for r, _ in separated] == ["quality"]
    assert "40 questions" in separated[0][1] and "150 questions" in separated[0][1]
    v = recommend([fast, default, quality], ReportConfig(slo_p95_ms=1000, min_quality=0.5))
    assert v.pick == "default"                          # quality's 1.000 on its own set never wins
    assert [s.config for s in v.scores] == ["fast", "default"] and "quality" not in set(v.alternatives["config"])
    # same dataset hash, different sampled ids: separated too
    other_ids = run("other", pattern(150, 0.5), 10, ids=[f"x{i}" for i in range(150)])
    assert [r.name for r, _ in split_by_questions([fast, other_ids, default])[1]] == ["other"]


def test_an_overloaded_load_run_is_flagged_and_its_load_p95_is_what_the_slo_sees(run: Maker, pattern: Pattern) -> None:
    load_ok = {"offered_rps": 20.0, "goodput_rps": 19.5, "latency_p50_ms": 8.0, "latency_p95_ms": 30.0}
    load_bad = {"offered_rps": 20.0, "goodput_rps": 2.5, "latency_p50_ms": 900.0, "latency_p95_ms": 4000.0}
    a = run("a", pattern(80, 0.7), 10, load=load_ok)
    b = run("b", pattern(80, 0.7), 10, load=load_bad)
    v = recommend([a, b], ReportConfig(slo_p95_ms=1000, min_quality=0.5))
    score = {s.config: s for s in v.scores}
    assert score["b"].flags and "overloaded" in score["b"].flags[0] and not score["a"].flags
    assert score["b"].p95_ms == 4000.0 and not score["b"].meets_slo and v.pick == "a"
    assert score["a"].latency_source == "under load (20 req/s)"
    table = v.headline_frame()
    assert table.loc[1, "goodput req/s"] == "2.5 of 20 (12%)" and "overloaded" in table.loc[1, "flags"]
    assert "later than the load run's SLO" in score["b"].flags[0]
    # requests shed or left unfinished are said, and so is what the percentiles then describe
    shed = {**load_bad, "requests": 9, "shed_rate": 7 / 9, "error_rate": 0.0, "goodput_rps": 0.0}
    unfinished = {**load_bad, "requests": 9, "shed_rate": 0.0, "error_rate": 8 / 9, "goodput_rps": 0.0}
    v = recommend([run("s", pattern(80, 0.7), 10, load=shed), run("u", pattern(80, 0.7), 10, load=unfinished)],
                  ReportConfig(slo_p95_ms=1000, min_quality=0.5))
    flags = {s.config: s.flags[0] for s in v.scores}
    assert "78% shed" in flags["s"] and "of the 2 of 9 answered requests only" in flags["s"]
    assert "89% failed or unfinished" in flags["u"] and "of the 1 of 9 answered" in flags["u"]
    overflowed = {**load_bad, "requests": 9, "shed_rate": 0.0, "error_rate": 0.0, "goodput_rps": 0.36,
                  "slo_attainment": 7 / 9, "degraded_share": 7 / 9}
    flag = recommend([run("o", pattern(80, 0.7), 10, load=overflowed)], ReportConfig()).scores[0].flags[0]
    assert "78% of the answers at a degraded level" in flag and "78% of the answers within the load run's SLO" in flag
    assert "percentiles" not in flag and "later than" not in flag


def test_holm_and_the_permutation_p_value() -> None:
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(holm_adjust([math.nan, 0.2])[0]) and holm_adjust([math.nan, 0.2])[1] == pytest.approx(0.2)
    assert paired_permutation_p([0.0] * 40 + [1.0] * 10) < 0.01
    assert paired_permutation_p([1.0, -1.0] * 20) == 1.0
    assert paired_permutation_p([0.0] * 10) == 1.0
