"""Latency (nearest-rank percentiles), token and cache-quality summaries, bootstrap deltas and the Pareto front."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from workbench.evaluation.experiment import bootstrap_delta, compare_runs, pareto_front, summarize
from workbench.evaluation.metrics import CacheEvent, cache_quality, latency_summary
from workbench.evaluation.metrics.latency import token_summary


def test_latency_and_token_summaries() -> None:
    s = latency_summary([5.0, 1.0, 3.0])
    assert s["p50_ms"] == 3.0 and s["p99_ms"] == 5.0 and s["mean_ms"] == pytest.approx(3.0)
    assert math.isnan(latency_summary([])["p50_ms"])
    assert token_summary([2, 4]) == {"total": 6.0, "mean": 3.0, "max": 4.0}


def test_cache_quality_counts_wrong_hits() -> None:
    events = [
        CacheEvent(hit=True, expected_intent="limit.raise", served_intent="limit.lower", layer="semantic"),
        CacheEvent(hit=True, expected_intent="fee.gold", served_intent="fee.gold", layer="exact"),
        CacheEvent(hit=False, expected_intent="fee.gold"),
        CacheEvent(hit=True, correct=False, layer="semantic"),
    ]
    q = cache_quality(events)
    assert q["hit_rate"] == pytest.approx(0.75)
    assert q["wrong_hit_rate"] == pytest.approx(2 / 3)
    assert q["wrong_hits_per_request"] == pytest.approx(0.5)
    assert q["hit_rate_semantic"] == pytest.approx(0.5)
    assert math.isnan(cache_quality([CacheEvent(hit=False)])["wrong_hit_rate"])
    with pytest.raises(ValueError):
        cache_quality([CacheEvent(hit=True)])


def _rows(values: list[float], lang: str = "en") -> pd.DataFrame:
    return pd.DataFrame({"question_id": [f"q{i}" for i in range(len(values))], "f1": values,
                         "lang": [lang] * len(values), "latency_total_ms": [1.0] * len(values), "error": None})


def test_bootstrap_delta_is_paired_seeded_and_brackets_the_mean() -> None:
    a = _rows([0.0, 0.5, 1.0, 0.5] * 10)
    b = _rows([0.5, 1.0, 1.0, 0.5] * 10)
    d1 = bootstrap_delta(a, b, "f1", seed=1)
    d2 = bootstrap_delta(a, b, "f1", seed=1)
    assert d1 == d2
    assert d1.delta == pytest.approx(0.25)
    assert d1.ci_low <= d1.delta <= d1.ci_high and d1.significant
    same = bootstrap_delta(a, a, "f1")
    assert same.delta == 0 and same.ci_low == 0 and same.ci_high == 0 and not same.significant
    assert set(compare_runs(a, b)["metric"]) >= {"f1", "latency_total_ms"}
    with pytest.raises(ValueError):
        bootstrap_delta(a, b, "em")


def test_pareto_front() -> None:
    frame = pd.DataFrame({"config": ["a", "b", "c", "d"], "f1": [0.5, 0.6, 0.4, 0.6],
                          "latency_p50_ms": [10.0, 20.0, 30.0, 25.0]})
    out = pareto_front(frame, {"f1": "max", "latency_p50_ms": "min"})
    assert out.set_index("config")["pareto"].to_dict() == {"a": True, "b": True, "c": False, "d": False}
    with pytest.raises(ValueError):
        pareto_front(frame, {"nope": "max"})


def test_summarize_by_language() -> None:
    rows = pd.concat([_rows([1.0, 0.0]), _rows([0.5], lang="zh").assign(question_id="z")], ignore_index=True)
    s = summarize(rows)
    assert s["overall"]["f1"] == pytest.approx(0.5)
    assert s["by_language"]["zh"]["f1"] == 0.5 and s["by_language"]["en"]["questions"] == 2
