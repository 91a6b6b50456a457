import numpy as np
import pytest

from workbench.loadtest.stats import SLO, goodput, slo_mask


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
