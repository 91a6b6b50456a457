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


def test_slo_names_and_parse() -> None:
    from workbench.errors import ConfigError

    slo = SLO.parse(["e2el_ms=1500", "ttft_ms=300", "tpot_ms=50", "itl_ms=200"])
    assert slo.to_dict() == {"ttft_ms": 300.0, "tpot_ms": 50.0, "itl_ms": 200.0, "e2el_ms": 1500.0}
    assert SLO(e2e_ms=800).e2el_ms == 800 and SLO(e2el_ms=800).e2e_ms == 800  # the old name still reads
    assert SLO.from_dict({"ttft_ms": 1, "e2e_ms": 2}) == SLO(ttft_ms=1, e2el_ms=2)
    assert SLO().empty and not slo.empty
    for bad in (["p99=3"], ["e2el_ms"], ["e2el_ms=fast"], ["ttft_ms=0"]):
        with pytest.raises(ConfigError):
            SLO.parse(bad)


def test_tpot_and_itl_bounds_let_unstreamed_requests_through() -> None:
    ok = np.array([True, True, True, False])
    ttft = np.array([10.0, 10.0, 10.0, 10.0])
    e2e = np.array([100.0, 100.0, 100.0, 100.0])
    tpot = np.array([20.0, 60.0, np.nan, 1.0])
    itl = np.array([30.0, 30.0, np.nan, 1.0])
    m = slo_mask(ok, ttft, e2e, SLO(tpot_ms=50), tpot_ms=tpot, itl_max_ms=itl)
    assert m.tolist() == [True, False, True, False]
    m = slo_mask(ok, ttft, e2e, SLO(itl_ms=25), tpot_ms=tpot, itl_max_ms=itl)
    assert m.tolist() == [False, False, True, False]
