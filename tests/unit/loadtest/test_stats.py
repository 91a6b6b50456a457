import numpy as np
import pytest

from workbench.loadtest.stats import SLO, goodput, latency_percentiles, slo_mask

DATA = np.array([12.0, 3.0, 7.0, 1.0, 100.0, 5.0, 5.0, 42.0, 8.0, 9.5, 0.5])


@pytest.mark.parametrize(("method", "np_method"), [("linear", "linear"), ("nearest", "inverted_cdf")])
def test_percentiles_match_numpy(method: str, np_method: str) -> None:
    got = latency_percentiles(DATA, (50, 90, 95, 99), method=method)  # type: ignore[arg-type]
    for p in (50, 90, 95, 99):
        assert got[f"p{p}"] == pytest.approx(float(np.percentile(DATA, p, method=np_method)))


def test_percentiles_known_values() -> None:
    x = np.arange(1, 101, dtype=float)  # 1..100
    assert latency_percentiles(x, (50, 99))["p50"] == pytest.approx(50.5)      # linear interpolation
    assert latency_percentiles(x, (50, 99), method="nearest") == {"p50": 50.0, "p99": 99.0}  # nearest rank
    assert latency_percentiles(x, (99.9,))["p99_9"] == pytest.approx(99.901)


def test_percentiles_drop_nan_and_handle_empty() -> None:
    assert latency_percentiles([np.nan, 1.0, 3.0], (50,))["p50"] == 2.0
    assert np.isnan(latency_percentiles([], (50,))["p50"])
    with pytest.raises(ValueError):
        latency_percentiles([1.0], method="median")  # type: ignore[arg-type]


def test_goodput_counts_ok_requests_within_both_bounds() -> None:
    rng = np.random.default_rng(3)
    ok = rng.random(1000) < 0.9
    ttft = rng.exponential(200, 1000)
    e2e = ttft + rng.exponential(500, 1000)
    slo = SLO(ttft_ms=250, e2e_ms=800)
    expected = np.sum(ok & (ttft <= 250) & (e2e <= 800)) / 20.0
    assert goodput(ok, ttft, e2e, slo, window_s=20.0) == pytest.approx(expected)
    assert goodput(ok, ttft, e2e, SLO(), window_s=20.0) == pytest.approx(ok.sum() / 20.0)


def test_nan_ttft_fails_a_ttft_bound_only() -> None:
    ok = np.array([True, True])
    ttft = np.array([np.nan, 10.0])
    e2e = np.array([5.0, 5.0])
    assert slo_mask(ok, ttft, e2e, SLO(ttft_ms=50)).tolist() == [False, True]
    assert slo_mask(ok, ttft, e2e, SLO(e2e_ms=50)).tolist() == [True, True]
